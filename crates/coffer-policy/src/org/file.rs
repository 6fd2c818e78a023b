//! The organization file: a YAML tree of the root, units and accounts,
//! the management account, the backup delegated administrator, the backup
//! policy files attached at each node in attachment order, and templates
//! whose `AWS::Organizations::Policy` resources attach more policies.
//! Loading reads every file, checks everything at once, and merges each
//! account's effective policy to report what the merge refuses, what
//! conflicts and which plans are not valid plans.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use coffer_model::{
    AccountId, Organization, OrganizationAccount, OrganizationalUnit, PolicyAttachment, Severity,
};
use sha2::{Digest, Sha256};

use super::doc::{self, json_path, MAX_POLICIES_PER_NODE, MAX_POLICY_CHARS};
use super::{cfn, EffectiveError, EffectivePolicy, OrgPolicies};
use crate::diag::Diagnostics;
use crate::node::{self, AliasAllowance, Node, Pos, Value};
use crate::set::{MAX_ALIAS_BYTES, MAX_ALIAS_VALUES, MAX_FILE_BYTES};

/// A file an organization was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSource {
    /// The file as the user named it (policy files: relative to the
    /// organization file's folder, joined to it).
    pub label: String,
    pub path: PathBuf,
    pub sha256: String,
    /// When the file was last modified, when the file system says.
    pub modified: Option<jiff::Timestamp>,
}

/// Where a policy's document sits, to locate its problems.
#[derive(Clone, Debug)]
pub(crate) struct Located {
    pub file: String,
    /// The subject of its diagnostics before the JSON path (a template's
    /// `LogicalId.Properties.Content`), or empty for a policy file.
    pub subject: String,
    pub node: Node,
}

/// An organization read from its file, with every diagnostic.
#[derive(Clone, Debug)]
pub struct LoadedOrganization {
    /// The organization file as the user named it.
    pub file: String,
    /// As far as it could be read; do not use it while `diagnostics` has errors.
    pub organization: Organization,
    pub diagnostics: Diagnostics,
    /// Every file read: the organization file, policy files, templates.
    pub sources: Vec<OrgSource>,
    pub(crate) located: BTreeMap<String, Located>,
    account_pos: BTreeMap<String, Pos>,
    /// How many of the errors are plans that are not valid plans (the
    /// organization is still read whole and merges).
    n_invalid_plans: usize,
}

impl LoadedOrganization {
    /// The effective backup policy of `account`.
    ///
    /// # Errors
    /// An account not in the organization; a policy that could not be read.
    pub fn effective(&self, account: &AccountId) -> Result<EffectivePolicy, EffectiveError> {
        OrgPolicies::new(&self.organization)?.effective(account)
    }

    /// Whether the organization was read whole: every error, if any, is a
    /// plan that is not a valid plan in some account.
    pub fn is_usable(&self) -> bool {
        self.diagnostics.errors().count() == self.n_invalid_plans
    }

    /// The newest modification time of the files read.
    pub fn last_updated(&self) -> Option<jiff::Timestamp> {
        self.sources.iter().filter_map(|s| s.modified).max()
    }
}

const TOP_KEYS: &[&str] = &["organization"];
const ORG_KEYS: &[&str] = &[
    "management_account",
    "backup_delegated_administrator",
    "root",
    "templates",
];
const ROOT_KEYS: &[&str] = &["id", "backup_policies", "accounts", "units"];
const UNIT_KEYS: &[&str] = &["name", "backup_policies", "accounts", "units"];
const ACCOUNT_KEYS: &[&str] = &["id", "name", "backup_policies"];

/// The root's ID when the file gives none.
pub const DEFAULT_ROOT_ID: &str = "root";

pub(crate) struct Reader<'a> {
    pub file: &'a str,
    pub diags: &'a mut Diagnostics,
}

impl Reader<'_> {
    pub fn error(
        &mut self,
        pos: Pos,
        subject: &str,
        message: impl Into<String>,
    ) -> &mut crate::Diagnostic {
        self.diags
            .push(Severity::Error, self.file, Some(pos), subject, message)
    }

    pub fn warning(
        &mut self,
        pos: Pos,
        subject: &str,
        message: impl Into<String>,
    ) -> &mut crate::Diagnostic {
        self.diags
            .push(Severity::Warning, self.file, Some(pos), subject, message)
    }

    /// Reports keys of `node` not in `allowed`, with a "did you mean".
    pub fn check_keys(&mut self, node: &Node, subject: &str, allowed: &[&str]) {
        for (key, _) in node.as_map().unwrap_or_default() {
            if !allowed.contains(&key.name.as_str()) {
                let hint = match coffer_model::did_you_mean(&key.name, allowed.iter().copied()) {
                    Some(name) => format!("did you mean {name:?}?"),
                    None => format!("allowed: {}", allowed.join(", ")),
                };
                self.error(key.pos, subject, format!("unknown key {:?}", key.name))
                    .hint(hint);
            }
        }
    }

    /// A mapping, or an error saying what was found.
    pub fn map<'n>(&mut self, node: &'n Node, subject: &str) -> Option<&'n Node> {
        if node.as_map().is_some() {
            Some(node)
        } else {
            self.error(
                node.pos,
                subject,
                format!("expected a mapping, found {}", node.kind_name()),
            );
            None
        }
    }

    pub fn list<'n>(&mut self, node: &'n Node, subject: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.error(
                    node.pos,
                    subject,
                    format!("expected a list, found {}", node.kind_name()),
                );
                &[]
            }
        }
    }

    pub fn text<'n>(&mut self, node: &'n Node, subject: &str) -> Option<&'n str> {
        if node.tag.is_some() {
            self.error(
                node.pos,
                subject,
                "intrinsic functions are not resolved in organization files and templates",
            )
            .hint("write the value itself");
            return None;
        }
        match node.scalar_text() {
            Some(text) => Some(text),
            None => {
                self.error(
                    node.pos,
                    subject,
                    format!("expected a string, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    pub fn account_id(&mut self, node: &Node, subject: &str) -> Option<AccountId> {
        let text = self.text(node, subject)?;
        match AccountId::new(text) {
            Ok(id) => Some(id),
            Err(err) => {
                self.error(node.pos, subject, err.to_string())
                    .hint("quote account IDs (\"012345678901\") so YAML keeps their leading zeros");
                None
            }
        }
    }
}

/// Reads a file within the size limit, recording it as a source.
///
/// # Errors
/// What went wrong, to be reported where the file was named.
fn read_file(path: &Path, label: &str, sources: &mut Vec<OrgSource>) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|err| format!("cannot read {label}: {err}"))?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{label} holds {} bytes, more than Coffer reads ({MAX_FILE_BYTES})",
            metadata.len()
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|err| format!("cannot read {label}: {err}"))?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| jiff::Timestamp::try_from(time).ok());
    sources.push(OrgSource {
        label: label.to_string(),
        path: path.to_path_buf(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        modified,
    });
    Ok(text)
}

/// Where a file was named: the organization file, a position, a subject.
pub(crate) struct NamedAt<'a> {
    pub file: &'a str,
    pub pos: Pos,
    pub subject: String,
}

impl NamedAt<'_> {
    fn report(&self, diags: &mut Diagnostics, message: String) {
        diags
            .push(
                Severity::Error,
                self.file,
                Some(self.pos),
                &self.subject,
                message,
            )
            .hint("paths are relative to the organization file's folder");
    }
}

pub(crate) struct Builder {
    pub org: Organization,
    pub located: BTreeMap<String, Located>,
    pub account_pos: BTreeMap<String, Pos>,
    pub unit_pos: BTreeMap<String, Pos>,
    pub sources: Vec<OrgSource>,
    /// Policy files already read (by path), to their policy name.
    files_read: HashMap<PathBuf, Option<String>>,
    dir: PathBuf,
    dir_label: PathBuf,
    pub aliases: AliasAllowance,
}

impl Builder {
    /// Reads a file named relative to the organization file.
    pub fn read_relative(
        &mut self,
        rel: &str,
        at: &NamedAt<'_>,
        diags: &mut Diagnostics,
    ) -> Option<(String, String)> {
        let path = self.dir.join(rel);
        let label = self.dir_label.join(rel).display().to_string();
        match read_file(&path, &label, &mut self.sources) {
            Ok(text) => Some((label, text)),
            Err(message) => {
                at.report(diags, message);
                None
            }
        }
    }

    /// Reads a policy file once and registers it; its name is its label.
    fn policy_file(
        &mut self,
        rel: &str,
        at: &NamedAt<'_>,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        let path = self.dir.join(rel);
        if let Some(known) = self.files_read.get(&path) {
            return known.clone();
        }
        let name = self
            .read_relative(rel, at, diags)
            .and_then(|(label, text)| self.policy_text(&text, &label, String::new(), None, diags));
        self.files_read.insert(path, name.clone());
        name
    }

    /// Registers a policy from its JSON text (a file, or a template's
    /// Content string), checking its size and its document.
    pub fn policy_text(
        &mut self,
        text: &str,
        file: &str,
        subject: String,
        at: Option<Pos>,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        let n_chars = text.chars().count();
        let pos = at.unwrap_or(Pos { line: 1, col: 1 });
        if n_chars > MAX_POLICY_CHARS {
            diags
                .push(Severity::Error, file, Some(pos), &subject, format!("the policy holds {n_chars} characters; AWS Organizations takes at most {MAX_POLICY_CHARS}"))
                .hint("split it into two policies attached to the same node, or remove whitespace");
            return None;
        }
        let node = match node::parse_within(text, &mut self.aliases) {
            Ok(node) => node,
            Err(err) => {
                let pos = if at.is_some() { pos } else { err.pos };
                diags.push(Severity::Error, file, Some(pos), &subject, err.message);
                return None;
            }
        };
        let node = match at {
            // A Content string: positions inside it mean nothing in the template.
            Some(pos) => relocate(node, pos),
            None => node,
        };
        self.policy_node(node, file, subject, diags)
    }

    /// Registers a policy whose document is `node`.
    pub fn policy_node(
        &mut self,
        node: Node,
        file: &str,
        subject: String,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        let document = node.to_json();
        let name = if subject.is_empty() {
            file.to_string()
        } else {
            format!("{file} {}", subject.split('.').next().unwrap_or_default())
        };
        if let Err(problems) = doc::parse_policy(&document) {
            for problem in problems {
                let pos = pos_at(&node, &problem.path);
                let at = join_subject(&subject, &json_path(&problem.path));
                let diagnostic = diags.push(Severity::Error, file, Some(pos), at, problem.message);
                if let Some(hint) = problem.hint {
                    diagnostic.hint(hint);
                }
            }
            return None;
        }
        self.located.insert(
            name.clone(),
            Located {
                file: file.to_string(),
                subject,
                node,
            },
        );
        self.org.policies.insert(name.clone(), document);
        Some(name)
    }
}

fn join_subject(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

fn relocate(mut node: Node, pos: Pos) -> Node {
    node.pos = pos;
    if let Value::Map(entries) = &mut node.value {
        for (key, child) in entries.iter_mut() {
            key.pos = pos;
            *child = relocate(std::mem::replace(child, Node::new(Value::Null, pos)), pos);
        }
    } else if let Value::Seq(items) = &mut node.value {
        for item in items.iter_mut() {
            *item = relocate(std::mem::replace(item, Node::new(Value::Null, pos)), pos);
        }
    }
    node
}

/// The position of the key at `path` in a document, or of the deepest
/// key found on the way.
pub(crate) fn pos_at(node: &Node, path: &[String]) -> Pos {
    let mut here = node;
    let mut pos = node.pos;
    for key in path {
        let Some((k, child)) = here
            .as_map()
            .and_then(|entries| entries.iter().find(|(k, _)| &k.name == key))
        else {
            break;
        };
        pos = k.pos;
        here = child;
    }
    pos
}

/// Reads the organization file at `path` and every file it names, checks
/// everything, and merges every account's effective policy to report
/// refused operators, conflicts on one node and plans that are not valid.
/// Nothing is changed anywhere; the caller decides what to do with errors.
pub fn load_organization(path: &Path) -> LoadedOrganization {
    let label = path.display().to_string();
    let mut diags = Diagnostics::default();
    let mut builder = Builder {
        org: Organization {
            root_id: DEFAULT_ROOT_ID.to_string(),
            ..Organization::default()
        },
        located: BTreeMap::new(),
        account_pos: BTreeMap::new(),
        unit_pos: BTreeMap::new(),
        sources: Vec::new(),
        files_read: HashMap::new(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        dir_label: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        aliases: AliasAllowance::new(MAX_ALIAS_VALUES, MAX_ALIAS_BYTES),
    };
    let text = match read_file(path, &label, &mut builder.sources) {
        Ok(text) => Some(text),
        Err(message) => {
            diags
                .push(Severity::Error, &label, None, "", message)
                .hint("give the path of the organization file (docs/organizations.md)");
            None
        }
    };
    if let Some(text) = text {
        match node::parse_within(&text, &mut builder.aliases) {
            Ok(root) => read_organization(&root, &label, &mut builder, &mut diags),
            Err(err) => {
                diags.push(Severity::Error, &label, Some(err.pos), "", err.message);
            }
        }
    }
    check_attachment_counts(&label, &builder, &mut diags);
    let mut loaded = LoadedOrganization {
        file: label,
        organization: builder.org,
        diagnostics: diags,
        sources: builder.sources,
        located: builder.located,
        account_pos: builder.account_pos,
        n_invalid_plans: 0,
    };
    check_effective(&mut loaded);
    loaded.diagnostics.sort();
    loaded
}

fn read_organization(root: &Node, label: &str, builder: &mut Builder, diags: &mut Diagnostics) {
    let mut reader = Reader { file: label, diags };
    if reader.map(root, "").is_none() {
        return;
    }
    reader.check_keys(root, "", TOP_KEYS);
    let Some(org) = root.get("organization") else {
        reader
            .error(root.pos, "", "no organization section")
            .hint("start the file with organization: (see docs/organizations.md)");
        return;
    };
    let subject = "organization";
    if reader.map(org, subject).is_none() {
        return;
    }
    reader.check_keys(org, subject, ORG_KEYS);
    let management = match org.get("management_account") {
        Some(node) => reader
            .account_id(node, "organization.management_account")
            .map(|id| (id, node.pos)),
        None => {
            reader
                .error(org.pos, subject, "management_account is required")
                .hint("name the account that owns the organization (12 digits)");
            None
        }
    };
    let admin = org.get("backup_delegated_administrator").and_then(|node| {
        reader
            .account_id(node, "organization.backup_delegated_administrator")
            .map(|id| (id, node.pos))
    });
    match org.get("root") {
        Some(root_node) => {
            if reader.map(root_node, "organization.root").is_some() {
                reader.check_keys(root_node, "organization.root", ROOT_KEYS);
                if let Some(id) = root_node.get("id") {
                    if let Some(text) = reader.text(id, "organization.root.id") {
                        builder.org.root_id = text.to_string();
                    }
                }
                let root_id = builder.org.root_id.clone();
                read_container(
                    root_node,
                    "organization.root",
                    &root_id,
                    &mut reader,
                    builder,
                );
            }
        }
        None => {
            reader
                .error(org.pos, subject, "root is required")
                .hint("give the root its backup_policies, accounts and units");
        }
    }
    if let Some((id, pos)) = &management {
        if builder.org.account(id).is_none() {
            reader
                .error(
                    *pos,
                    "organization.management_account",
                    format!("account {id} is not in the organization's tree"),
                )
                .hint("list it under the root or a unit");
        }
    }
    if let Some((id, pos)) = &admin {
        if builder.org.account(id).is_none() {
            reader
                .error(
                    *pos,
                    "organization.backup_delegated_administrator",
                    format!("account {id} is not in the organization's tree"),
                )
                .hint("list it under the root or a unit");
        }
        if management.as_ref().is_some_and(|(m, _)| m == id) {
            reader
                .error(*pos, "organization.backup_delegated_administrator", format!("account {id} is the management account, which cannot be its own delegated administrator"))
                .hint("name a member account, or leave the key out: the management account acts on members anyway");
        }
    }
    builder.org.management_account = management.map(|(id, _)| id);
    builder.org.backup_delegated_administrator = admin.map(|(id, _)| id);
    if let Some(templates) = org.get("templates") {
        let items = reader.list(templates, "organization.templates");
        let mut paths = Vec::new();
        for (idx, item) in items.iter().enumerate() {
            let subject = format!("organization.templates[{idx}]");
            if let Some(text) = reader.text(item, &subject) {
                paths.push((text.to_string(), item.pos, subject));
            }
        }
        for (rel, pos, subject) in paths {
            let at = NamedAt {
                file: label,
                pos,
                subject,
            };
            cfn::read_template(&rel, &at, builder, diags);
        }
    }
}

fn read_container(
    node: &Node,
    subject: &str,
    id: &str,
    reader: &mut Reader<'_>,
    builder: &mut Builder,
) {
    if let Some(policies) = node.get("backup_policies") {
        attach_files(
            policies,
            &format!("{subject}.backup_policies"),
            id,
            reader,
            builder,
        );
    }
    if let Some(accounts) = node.get("accounts") {
        for (idx, account) in reader
            .list(accounts, &format!("{subject}.accounts"))
            .iter()
            .enumerate()
        {
            let subject = format!("{subject}.accounts[{idx}]");
            if reader.map(account, &subject).is_none() {
                continue;
            }
            reader.check_keys(account, &subject, ACCOUNT_KEYS);
            let Some(id_node) = account.get("id") else {
                reader
                    .error(account.pos, &subject, "id is required")
                    .hint("give the account's 12-digit ID");
                continue;
            };
            let Some(account_id) = reader.account_id(id_node, &format!("{subject}.id")) else {
                continue;
            };
            let name = match account.get("name") {
                Some(name) => reader
                    .text(name, &format!("{subject}.name"))
                    .unwrap_or_default()
                    .to_string(),
                None => {
                    reader
                        .error(account.pos, &subject, "name is required")
                        .hint("give the account a name people know it by");
                    String::new()
                }
            };
            if builder.account_pos.contains_key(account_id.as_str()) {
                reader
                    .error(
                        id_node.pos,
                        &format!("{subject}.id"),
                        format!("account {account_id} is listed twice"),
                    )
                    .hint("an account sits in exactly one place: keep one entry");
                continue;
            }
            builder
                .account_pos
                .insert(account_id.to_string(), account.pos);
            builder.org.accounts.push(OrganizationAccount {
                id: account_id.clone(),
                name,
                parent_id: id.to_string(),
            });
            if let Some(policies) = account.get("backup_policies") {
                attach_files(
                    policies,
                    &format!("{subject}.backup_policies"),
                    account_id.as_str(),
                    reader,
                    builder,
                );
            }
        }
    }
    if let Some(units) = node.get("units") {
        for (idx, unit) in reader
            .list(units, &format!("{subject}.units"))
            .iter()
            .enumerate()
        {
            let subject = format!("{subject}.units[{idx}]");
            if reader.map(unit, &subject).is_none() {
                continue;
            }
            reader.check_keys(unit, &subject, UNIT_KEYS);
            let Some(name_node) = unit.get("name") else {
                reader
                    .error(unit.pos, &subject, "name is required")
                    .hint("templates name units by it in TargetIds");
                continue;
            };
            let Some(name) = reader
                .text(name_node, &format!("{subject}.name"))
                .map(str::to_string)
            else {
                continue;
            };
            if name.is_empty() || name == builder.org.root_id || AccountId::new(&name).is_ok() {
                reader
                    .error(name_node.pos, &format!("{subject}.name"), format!("{name:?} cannot name a unit: it is empty, the root's ID or an account ID"))
                    .hint("choose another name");
                continue;
            }
            if builder.unit_pos.contains_key(&name) {
                reader
                    .error(
                        name_node.pos,
                        &format!("{subject}.name"),
                        format!("unit {name:?} is declared twice"),
                    )
                    .hint(
                        "unit names are unique in the organization: templates name units by them",
                    );
                continue;
            }
            builder.unit_pos.insert(name.clone(), name_node.pos);
            builder.org.organizational_units.push(OrganizationalUnit {
                id: name.clone(),
                name: name.clone(),
                parent_id: id.to_string(),
            });
            read_container(unit, &subject, &name, reader, builder);
        }
    }
}

fn attach_files(
    node: &Node,
    subject: &str,
    target: &str,
    reader: &mut Reader<'_>,
    builder: &mut Builder,
) {
    for (idx, item) in reader.list(node, subject).iter().enumerate() {
        let at = NamedAt {
            file: reader.file,
            pos: item.pos,
            subject: format!("{subject}[{idx}]"),
        };
        let Some(rel) = reader.text(item, &at.subject).map(str::to_string) else {
            continue;
        };
        if let Some(name) = builder.policy_file(&rel, &at, reader.diags) {
            builder.org.attachments.push(PolicyAttachment {
                policy_name: name,
                target_id: target.to_string(),
            });
        }
    }
}

fn check_attachment_counts(label: &str, builder: &Builder, diags: &mut Diagnostics) {
    let mut counts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for attachment in &builder.org.attachments {
        counts
            .entry(attachment.target_id.as_str())
            .or_default()
            .push(attachment.policy_name.as_str());
    }
    for (target, policies) in counts {
        if policies.len() > MAX_POLICIES_PER_NODE {
            let pos = builder
                .unit_pos
                .get(target)
                .or_else(|| builder.account_pos.get(target))
                .copied();
            diags
                .push(
                    Severity::Error,
                    label,
                    pos,
                    super::node_name(&builder.org, target),
                    format!("{} backup policies are attached here ({}); AWS Organizations allows at most {MAX_POLICIES_PER_NODE} per root, unit or account", policies.len(), policies.join(", ")),
                )
                .hint("merge some of them into one policy, or attach them higher in the tree");
        }
    }
}

/// Merges every account's effective policy and reports, once each, the
/// operators a parent refuses, the conflicts on one node, and per account
/// the plans that are not valid plans.
fn check_effective(loaded: &mut LoadedOrganization) {
    let Ok(policies) = OrgPolicies::new(&loaded.organization) else {
        return;
    };
    let mut seen_refusals = BTreeSet::new();
    let mut seen_conflicts = BTreeSet::new();
    let mut found = Diagnostics::default();
    for account in &loaded.organization.accounts {
        let Ok(effective) = policies.effective(&account.id) else {
            continue;
        };
        for refusal in effective.refused {
            let key = (
                refusal.policy.clone(),
                refusal.path.clone(),
                refusal.operator,
                refusal.adds_key,
            );
            if !seen_refusals.insert(key) {
                continue;
            }
            let Some(located) = loaded.located.get(&refusal.policy) else {
                continue;
            };
            let setters: Vec<String> = refusal
                .set_by
                .iter()
                .map(|s| format!("{} (on {})", s.policy, s.node))
                .collect();
            let control_at = if refusal.control_path.is_empty() {
                "the document".to_string()
            } else {
                json_path(&refusal.control_path)
            };
            let message = if refusal.adds_key {
                format!(
                    "this policy on {} adds {:?}, but {} allows only {} at {control_at} for the policies below it (adding a key counts as @@append); the effective policy leaves it out",
                    refusal.node,
                    refusal.path.last().cloned().unwrap_or_default(),
                    setters.join(" and "),
                    refusal.allowed,
                )
            } else {
                format!(
                    "{} here is refused: {} allows only {} at {control_at} for the policies below it; the effective policy keeps the parent's value",
                    refusal.operator,
                    setters.join(" and "),
                    refusal.allowed,
                )
            };
            found
                .push(
                    Severity::Error,
                    &located.file,
                    Some(pos_at(&located.node, &refusal.path)),
                    join_subject(&located.subject, &json_path(&refusal.path)),
                    message,
                )
                .hint(format!(
                    "remove it from this policy, or widen the child control in {}",
                    refusal
                        .set_by
                        .first()
                        .map(|s| s.policy.as_str())
                        .unwrap_or("the parent policy")
                ));
        }
        for conflict in effective.conflicts {
            let key = (conflict.ignored_policy.clone(), conflict.path.clone());
            if !seen_conflicts.insert(key) {
                continue;
            }
            let Some(located) = loaded.located.get(&conflict.ignored_policy) else {
                continue;
            };
            found
                .push(
                    Severity::Warning,
                    &located.file,
                    Some(pos_at(&located.node, &conflict.path)),
                    join_subject(&located.subject, &json_path(&conflict.path)),
                    format!(
                        "assigns {}, but {}, attached before it to {}, assigns {}: the first attached wins, so this value is ignored",
                        conflict.ignored, conflict.kept_policy, conflict.node, conflict.kept
                    ),
                )
                .hint("remove one of the two assignments, or attach the policies in the order you mean");
        }
        let pos = loaded.account_pos.get(account.id.as_str()).copied();
        for invalid in effective.invalid_plans {
            loaded.n_invalid_plans += 1;
            found
                .push(
                    Severity::Error,
                    &loaded.file,
                    pos,
                    format!("account {} ({}) {}", account.id, account.name, json_path(&invalid.path)),
                    format!(
                        "{}: plan {:?} is not a valid plan in this account and backs nothing up until fixed",
                        invalid.message, invalid.plan
                    ),
                )
                .hint("set it in a policy attached to this account or above it (coffer org effective-policy --account shows the merge)");
        }
    }
    loaded.diagnostics.extend(found);
}
