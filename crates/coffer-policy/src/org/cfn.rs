//! CloudFormation `AWS::Organizations::Policy` as another way to attach a
//! backup policy: `Type: BACKUP_POLICY`, `Content` (an object or a JSON
//! string), `TargetIds` naming account IDs, unit names or the root.
//! A template's attachments come after the organization file's own at the
//! same node, in the order of the templates and of their resources.

use coffer_model::{AccountId, PolicyAttachment};

use super::file::{Builder, NamedAt, Reader};
use super::BACKUP_POLICY;
use crate::diag::Diagnostics;
use crate::node::{self, Node, Value};

const POLICY_TYPE: &str = "AWS::Organizations::Policy";
const PROPERTIES: &[&str] = &[
    "Name",
    "Type",
    "Content",
    "TargetIds",
    "Description",
    "Tags",
];

/// Reads the `AWS::Organizations::Policy` resources of the template at
/// `rel` (relative to the organization file).
pub(crate) fn read_template(
    rel: &str,
    at: &NamedAt<'_>,
    builder: &mut Builder,
    diags: &mut Diagnostics,
) {
    let Some((label, text)) = builder.read_relative(rel, at, diags) else {
        return;
    };
    let root = match node::parse_within(&text, &mut builder.aliases) {
        Ok(root) => root,
        Err(err) => {
            diags.push(
                coffer_model::Severity::Error,
                &label,
                Some(err.pos),
                "",
                err.message,
            );
            return;
        }
    };
    let mut attachments = Vec::new();
    {
        let mut reader = Reader {
            file: &label,
            diags,
        };
        let Some(resources) = root.get("Resources").and_then(Node::as_map) else {
            reader
                .error(
                    root.pos,
                    "",
                    "not a CloudFormation template: no Resources section",
                )
                .hint("list templates holding AWS::Organizations::Policy resources here");
            return;
        };
        for (key, resource) in resources {
            let logical_id = key.name.as_str();
            let type_name = resource
                .get("Type")
                .and_then(Node::as_str)
                .unwrap_or_default();
            if type_name != POLICY_TYPE {
                reader.warning(key.pos, &format!("{logical_id}.Type"), format!("{type_name} is not read by coffer org: only {POLICY_TYPE} resources attach backup policies; it is ignored"));
                continue;
            }
            let subject = format!("{logical_id}.Properties");
            let Some(props) = resource.get("Properties") else {
                reader
                    .error(key.pos, logical_id, "Properties is required")
                    .hint("give Name, Type, Content and TargetIds");
                continue;
            };
            if reader.map(props, &subject).is_none() {
                continue;
            }
            reader.check_keys(props, &subject, PROPERTIES);
            match props.get("Type") {
                Some(node) => {
                    if let Some(kind) = reader.text(node, &format!("{subject}.Type")) {
                        if kind != BACKUP_POLICY {
                            reader.warning(node.pos, &format!("{subject}.Type"), format!("a {kind} policy is not a backup policy; Coffer reads {BACKUP_POLICY} only and ignores it"));
                            continue;
                        }
                    } else {
                        continue;
                    }
                }
                None => {
                    reader
                        .error(props.pos, &subject, "Type is required")
                        .hint(format!("write Type: {BACKUP_POLICY}"));
                    continue;
                }
            }
            if props.get("Name").is_none() {
                reader
                    .error(props.pos, &subject, "Name is required")
                    .hint("name the policy as AWS Organizations would show it");
            }
            let Some(content) = props.get("Content") else {
                reader
                    .error(props.pos, &subject, "Content is required")
                    .hint("give the backup policy document, as an object or a JSON string");
                continue;
            };
            let targets = match props.get("TargetIds") {
                Some(node) => {
                    read_targets(node, &format!("{subject}.TargetIds"), &mut reader, builder)
                }
                None => Vec::new(),
            };
            attachments.push((
                format!("{logical_id}.Properties.Content"),
                content.clone(),
                targets,
            ));
        }
    }
    for (subject, content, targets) in attachments {
        let name = match &content.value {
            Value::String(text) => {
                builder.policy_text(text, &label, subject, Some(content.pos), diags)
            }
            Value::Map(_) if content.tag.is_none() => {
                let n_chars = serde_json::to_string(&content.to_json())
                    .map(|t| t.chars().count())
                    .unwrap_or(0);
                if n_chars > super::MAX_POLICY_CHARS {
                    diags
                        .push(coffer_model::Severity::Error, &label, Some(content.pos), &subject, format!("the policy holds {n_chars} characters written as JSON; AWS Organizations takes at most {}", super::MAX_POLICY_CHARS))
                        .hint("split it into two policies attached to the same node");
                    None
                } else {
                    builder.policy_node(content, &label, subject, diags)
                }
            }
            _ => {
                diags
                    .push(coffer_model::Severity::Error, &label, Some(content.pos), &subject, format!("Content must be an object or a JSON string, found {}", content.kind_name()))
                    .hint("intrinsic functions are not resolved in organization templates: write the document itself");
                None
            }
        };
        if let Some(name) = name {
            for target in targets {
                builder.org.attachments.push(PolicyAttachment {
                    policy_name: name.clone(),
                    target_id: target,
                });
            }
        }
    }
}

fn read_targets(
    node: &Node,
    subject: &str,
    reader: &mut Reader<'_>,
    builder: &Builder,
) -> Vec<String> {
    let mut out = Vec::new();
    for (idx, item) in reader.list(node, subject).iter().enumerate() {
        let at = format!("{subject}[{idx}]");
        let Some(text) = reader.text(item, &at) else {
            continue;
        };
        let org = &builder.org;
        let target = if text == org.root_id || text.eq_ignore_ascii_case("root") {
            Some(org.root_id.clone())
        } else if org.unit_name(text).is_some() {
            Some(text.to_string())
        } else {
            AccountId::new(text)
                .ok()
                .filter(|a| org.account(a).is_some())
                .map(|account| account.to_string())
        };
        match target {
            Some(target) => out.push(target),
            None => {
                let names: Vec<&str> = org
                    .organizational_units
                    .iter()
                    .map(|u| u.name.as_str())
                    .chain(org.accounts.iter().map(|a| a.id.as_str()))
                    .chain(std::iter::once(org.root_id.as_str()))
                    .collect();
                let hint = match coffer_model::did_you_mean(text, names.iter().copied()) {
                    Some(name) => format!("did you mean {name:?}?"),
                    None => format!(
                        "name an account ID, a unit or the root: {}",
                        names.join(", ")
                    ),
                };
                reader
                    .error(
                        item.pos,
                        &at,
                        format!(
                            "{text:?} is not an account, a unit or the root of this organization"
                        ),
                    )
                    .hint(hint);
            }
        }
    }
    out
}
