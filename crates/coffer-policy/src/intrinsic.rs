//! CloudFormation intrinsic functions and references, resolved within the
//! file set: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`,
//! `Fn::Split`, `Fn::If` with `Conditions`, `Fn::FindInMap`, the condition
//! functions, and the pseudo parameters, in both the `!Short` and the long
//! form.
//!
//! References to resource types Coffer does not manage resolve to stable
//! ARNs (a KMS key becomes the keyring key named by its logical ID).

use std::collections::{BTreeMap, HashMap};

use coffer_model::{did_you_mean, join_field, Severity, PARTITION};

use crate::diag::{Diagnostics, Suggestions};
use crate::node::{Node, Pos, Value};
use crate::set::LoadOptions;

/// A template parameter's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParamValue {
    Str(String),
    List(Vec<String>),
    /// Declared, but without a usable value (already reported): references
    /// to it resolve to nothing, silently.
    Missing,
}

/// A logical resource of some template in the set.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub file: String,
    pub type_name: String,
    pub node: Node,
    pub key_pos: Pos,
}

impl Entry {
    pub fn properties(&self) -> Option<&Node> {
        self.node.get("Properties")
    }
}

/// Everything references can point at, over all templates of the set.
#[derive(Debug, Default)]
pub(crate) struct TemplateIndex {
    pub resources: BTreeMap<String, Entry>,
    pub parameters: BTreeMap<String, ParamValue>,
    pub mappings: BTreeMap<String, Node>,
    pub conditions: BTreeMap<String, (String, Node)>,
}

const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::Region",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::NotificationARNs",
];

const SHORT_TAGS: &[&str] = &[
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "And",
    "Or",
    "Not",
    "FindInMap",
    "Base64",
    "ImportValue",
    "GetAZs",
    "Condition",
    "Cidr",
    "Length",
    "ToJsonString",
];

/// Resolves intrinsics in one template's nodes, collecting diagnostics.
pub(crate) struct Resolver<'i> {
    index: &'i TemplateIndex,
    options: &'i LoadOptions,
    file: String,
    subject: String,
    pub diags: Diagnostics,
    names: HashMap<String, Option<String>>,
    conditions: HashMap<String, Option<bool>>,
    in_progress: Vec<String>,
    /// What is wrong with the names of unmanaged resources, reported where a
    /// reference first needs one.
    name_errors: HashMap<String, Vec<crate::diag::Diagnostic>>,
    /// Resolving `Outputs`, where attributes known only once the object
    /// exists are fine: their values are never used.
    pub in_outputs: bool,
    /// "Did you mean" over the set's names, within its budget.
    suggestions: Suggestions,
}

impl<'i> Resolver<'i> {
    pub fn new(index: &'i TemplateIndex, options: &'i LoadOptions) -> Self {
        Self {
            index,
            options,
            file: String::new(),
            subject: String::new(),
            diags: Diagnostics::default(),
            names: HashMap::new(),
            conditions: HashMap::new(),
            in_progress: Vec::new(),
            name_errors: HashMap::new(),
            in_outputs: false,
            suggestions: Suggestions::default(),
        }
    }

    /// Sets where the following resolutions happen (for diagnostics).
    pub fn at(&mut self, file: &str, subject: &str) {
        self.file = file.to_string();
        self.subject = subject.to_string();
    }

    fn error(
        &mut self,
        pos: Pos,
        path: &str,
        message: impl Into<String>,
    ) -> &mut crate::diag::Diagnostic {
        let subject = join_field(&self.subject, path);
        self.diags
            .push(Severity::Error, &self.file, Some(pos), subject, message)
    }

    fn unresolved(pos: Pos) -> Node {
        Node::new(Value::Unresolved, pos)
    }

    /// Resolves every intrinsic under `node`; `path` names it for messages.
    pub fn resolve(&mut self, node: &Node, path: &str) -> Node {
        if let Some(tag) = &node.tag {
            if !SHORT_TAGS.contains(&tag.as_str()) {
                let diag = self.error(node.pos, path, format!("unknown tag !{tag}"));
                match did_you_mean(tag, SHORT_TAGS.iter().copied()) {
                    Some(s) => diag.hint(format!("did you mean !{s}?")),
                    None => diag.hint("CloudFormation's short forms are !Ref, !GetAtt, !Sub, !Join, !Select, !Split, !If, !FindInMap, ..."),
                };
                return Self::unresolved(node.pos);
            }
            let name = if tag == "Ref" || tag == "Condition" {
                tag.clone()
            } else {
                format!("Fn::{tag}")
            };
            let mut arg = node.clone();
            arg.tag = None;
            return self.intrinsic(&name, &arg, node.pos, path);
        }
        match &node.value {
            Value::Map(entries) => {
                if let [(key, arg)] = entries.as_slice() {
                    if key.name == "Ref" || key.name.starts_with("Fn::") {
                        return self.intrinsic(&key.name, arg, node.pos, path);
                    }
                }
                let mut out = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let resolved = self.resolve(value, &join_field(path, &key.name));
                    out.push((key.clone(), resolved));
                }
                Node::new(Value::Map(out), node.pos)
            }
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (idx, item) in items.iter().enumerate() {
                    let resolved = self.resolve(item, &format!("{path}[{idx}]"));
                    if resolved.value != Value::Absent {
                        out.push(resolved);
                    }
                }
                Node::new(Value::Seq(out), node.pos)
            }
            _ => node.clone(),
        }
    }

    fn intrinsic(&mut self, name: &str, arg: &Node, pos: Pos, path: &str) -> Node {
        let here = join_field(path, name);
        match name {
            "Ref" => {
                let Some(target) = arg.as_str() else {
                    self.error(
                        pos,
                        &here,
                        format!(
                            "Ref takes a logical ID or parameter name, found {}",
                            arg.kind_name()
                        ),
                    );
                    return Self::unresolved(pos);
                };
                self.reference(target, pos, &here)
            }
            "Fn::GetAtt" => self.get_att(arg, pos, &here),
            "Fn::Sub" => self.sub(arg, pos, &here),
            "Fn::Join" => {
                let arg = self.resolve(arg, &here);
                let Some([delimiter, list]) = two(&arg) else {
                    self.error(pos, &here, "Fn::Join takes [delimiter, [values...]]");
                    return Self::unresolved(pos);
                };
                let (Some(delimiter), Value::Seq(items)) = (delimiter.as_str(), &list.value) else {
                    if list.value == Value::Unresolved {
                        return Self::unresolved(pos);
                    }
                    self.error(
                        pos,
                        &here,
                        "Fn::Join takes a string delimiter and a list of strings",
                    );
                    return Self::unresolved(pos);
                };
                let mut parts = Vec::new();
                for item in items {
                    match &item.value {
                        Value::String(s) | Value::Number(s) => parts.push(s.clone()),
                        Value::Unresolved => return Self::unresolved(pos),
                        _ => {
                            self.error(
                                item.pos,
                                &here,
                                format!(
                                    "Fn::Join can only join strings, found {}",
                                    item.kind_name()
                                ),
                            );
                            return Self::unresolved(pos);
                        }
                    }
                }
                Node::new(Value::String(parts.join(delimiter)), pos)
            }
            "Fn::Select" => {
                let arg = self.resolve(arg, &here);
                let Some([index, list]) = two(&arg) else {
                    self.error(pos, &here, "Fn::Select takes [index, [values...]]");
                    return Self::unresolved(pos);
                };
                let (Some(index), Value::Seq(items)) = (
                    index.as_str().and_then(|s| s.parse::<usize>().ok()),
                    &list.value,
                ) else {
                    if list.value == Value::Unresolved {
                        return Self::unresolved(pos);
                    }
                    self.error(
                        pos,
                        &here,
                        "Fn::Select takes a whole-number index and a list",
                    );
                    return Self::unresolved(pos);
                };
                match items.get(index) {
                    Some(item) => item.clone(),
                    None => {
                        self.error(
                            pos,
                            &here,
                            format!(
                                "index {index} is out of range: the list has {} items",
                                items.len()
                            ),
                        );
                        Self::unresolved(pos)
                    }
                }
            }
            "Fn::Split" => {
                let arg = self.resolve(arg, &here);
                let Some([delimiter, text]) = two(&arg) else {
                    self.error(pos, &here, "Fn::Split takes [delimiter, string]");
                    return Self::unresolved(pos);
                };
                match (delimiter.as_str(), text.as_str()) {
                    (Some(d), Some(t)) if !d.is_empty() => Node::new(
                        Value::Seq(
                            t.split(d)
                                .map(|p| Node::new(Value::String(p.to_string()), pos))
                                .collect(),
                        ),
                        pos,
                    ),
                    _ if text.value == Value::Unresolved => Self::unresolved(pos),
                    _ => {
                        self.error(
                            pos,
                            &here,
                            "Fn::Split takes a non-empty string delimiter and a string",
                        );
                        Self::unresolved(pos)
                    }
                }
            }
            "Fn::If" => {
                let Value::Seq(items) = &arg.value else {
                    self.error(
                        pos,
                        &here,
                        "Fn::If takes [condition name, value if true, value if false]",
                    );
                    return Self::unresolved(pos);
                };
                let [condition, if_true, if_false] = items.as_slice() else {
                    self.error(
                        pos,
                        &here,
                        format!("Fn::If takes 3 items, found {}", items.len()),
                    );
                    return Self::unresolved(pos);
                };
                let Some(condition_name) = condition.as_str() else {
                    self.error(
                        condition.pos,
                        &here,
                        "Fn::If's first item must name a condition",
                    );
                    return Self::unresolved(pos);
                };
                match self.condition(condition_name, condition.pos, &here) {
                    Some(true) => self.resolve(if_true, &here),
                    Some(false) => self.resolve(if_false, &here),
                    None => Self::unresolved(pos),
                }
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" | "Condition" => {
                match self.condition_function(name, arg, pos, &here) {
                    Some(b) => Node::new(Value::Bool(b), pos),
                    None => Self::unresolved(pos),
                }
            }
            "Fn::FindInMap" => {
                let arg = self.resolve(arg, &here);
                let Value::Seq(items) = &arg.value else {
                    self.error(
                        pos,
                        &here,
                        "Fn::FindInMap takes [map name, top-level key, second-level key]",
                    );
                    return Self::unresolved(pos);
                };
                let keys: Vec<Option<&str>> = items.iter().take(3).map(Node::as_str).collect();
                let [Some(map_name), Some(top), Some(second)] = keys.as_slice() else {
                    if items.iter().any(|n| n.value == Value::Unresolved) {
                        return Self::unresolved(pos);
                    }
                    self.error(pos, &here, "Fn::FindInMap takes three strings: [map name, top-level key, second-level key]");
                    return Self::unresolved(pos);
                };
                let found = self
                    .index
                    .mappings
                    .get(*map_name)
                    .and_then(|m| m.get(top))
                    .and_then(|m| m.get(second));
                match found {
                    Some(value) => {
                        let value = value.clone();
                        self.resolve(&value, &here)
                    }
                    None => {
                        // A fourth item `{DefaultValue: x}` is allowed by newer CloudFormation.
                        if let Some(default) = items.get(3).and_then(|d| d.get("DefaultValue")) {
                            return default.clone();
                        }
                        let index = self.index;
                        let suggestion = if index.mappings.contains_key(*map_name) {
                            None
                        } else {
                            self.suggestions
                                .did_you_mean(map_name, index.mappings.keys().map(String::as_str))
                        };
                        let diag = self.error(
                            pos,
                            &here,
                            format!("Mappings has no {map_name}.{top}.{second}"),
                        );
                        if let Some(s) = suggestion {
                            diag.hint(format!("did you mean {s:?}?"));
                        }
                        Self::unresolved(pos)
                    }
                }
            }
            "Fn::Length" => {
                let arg = self.resolve(arg, &here);
                match &arg.value {
                    Value::Seq(items) => Node::new(Value::Number(items.len().to_string()), pos),
                    Value::Unresolved => Self::unresolved(pos),
                    _ => {
                        self.error(pos, &here, "Fn::Length takes a list");
                        Self::unresolved(pos)
                    }
                }
            }
            "Fn::ToJsonString" => {
                let arg = self.resolve(arg, &here);
                Node::new(Value::String(arg.to_json().to_string()), pos)
            }
            "Fn::ImportValue" => {
                self.error(
                    pos,
                    &here,
                    "Fn::ImportValue reads another stack's exports, which Coffer does not resolve",
                )
                .hint("pass the value as a template parameter instead");
                Self::unresolved(pos)
            }
            "Fn::GetAZs" | "Fn::Cidr" | "Fn::Base64" => {
                self.error(
                    pos,
                    &here,
                    format!("{name} has no meaning for backup policies and is not supported"),
                )
                .hint("write the value literally or pass it as a parameter");
                Self::unresolved(pos)
            }
            other => {
                let known = [
                    "Ref",
                    "Fn::GetAtt",
                    "Fn::Sub",
                    "Fn::Join",
                    "Fn::Select",
                    "Fn::Split",
                    "Fn::If",
                    "Fn::FindInMap",
                    "Fn::Equals",
                    "Fn::And",
                    "Fn::Or",
                    "Fn::Not",
                    "Fn::Length",
                    "Fn::ToJsonString",
                ];
                let diag = self.error(pos, &here, format!("unknown intrinsic function {other:?}"));
                if let Some(s) = did_you_mean(other, known) {
                    diag.hint(format!("did you mean {s:?}?"));
                }
                Self::unresolved(pos)
            }
        }
    }

    /// The value of `Ref target`.
    fn reference(&mut self, target: &str, pos: Pos, path: &str) -> Node {
        let text = |s: String| Node::new(Value::String(s), pos);
        let account = self.options.account.to_string();
        let region = self.options.region.to_string();
        match target {
            "AWS::AccountId" => return text(account),
            "AWS::Region" => return text(region),
            "AWS::StackName" => return text(self.options.stack_name.clone()),
            "AWS::StackId" => {
                return text(format!(
                    "arn:{PARTITION}:cloudformation:{region}:{account}:stack/{}",
                    self.options.stack_name
                ))
            }
            "AWS::Partition" => return text(PARTITION.to_string()),
            "AWS::URLSuffix" => return text("coffer.local".to_string()),
            "AWS::NoValue" => return Node::new(Value::Absent, pos),
            "AWS::NotificationARNs" => return Node::new(Value::Seq(Vec::new()), pos),
            _ => {}
        }
        if let Some(value) = self.index.parameters.get(target) {
            return match value {
                ParamValue::Str(s) => text(s.clone()),
                ParamValue::List(items) => Node::new(
                    Value::Seq(
                        items
                            .iter()
                            .map(|s| Node::new(Value::String(s.clone()), pos))
                            .collect(),
                    ),
                    pos,
                ),
                ParamValue::Missing => Self::unresolved(pos),
            };
        }
        if let Some(entry) = self.index.resources.get(target) {
            let type_name = entry.type_name.clone();
            return match type_name.as_str() {
                "AWS::Backup::Framework" => self.attribute(target, "FrameworkArn", pos, path),
                "AWS::Backup::ReportPlan" => self.attribute(target, "ReportPlanArn", pos, path),
                "AWS::SNS::Topic" => self.attribute(target, "TopicArn", pos, path),
                // CloudFormation's Ref of a managed policy is its ARN.
                "AWS::IAM::ManagedPolicy" => self.attribute(target, "PolicyArn", pos, path),
                _ if !self.is_created(target, pos, path) => Self::unresolved(pos),
                _ => match self.referenced_name(target) {
                    Some(name) => text(name),
                    None => Self::unresolved(pos),
                },
            };
        }
        let index = self.index;
        let candidates = index
            .parameters
            .keys()
            .chain(index.resources.keys())
            .map(String::as_str)
            .chain(PSEUDO_PARAMETERS.iter().copied());
        let suggestion = self.suggestions.did_you_mean(target, candidates);
        let diag = self.error(
            pos,
            path,
            format!("{target:?} is not a parameter or a logical ID in these files"),
        );
        match suggestion {
            Some(s) => diag.hint(format!("did you mean {s:?}?")),
            None => diag.hint("add the resource or parameter, or pass the file that declares it"),
        };
        Self::unresolved(pos)
    }

    fn get_att(&mut self, arg: &Node, pos: Pos, path: &str) -> Node {
        let (logical_id, attribute) = match &arg.value {
            Value::String(s) => match s.split_once('.') {
                Some((l, a)) => (l.to_string(), a.to_string()),
                None => {
                    self.error(
                        pos,
                        path,
                        format!("Fn::GetAtt takes \"LogicalId.Attribute\", found {s:?}"),
                    );
                    return Self::unresolved(pos);
                }
            },
            Value::Seq(_) => {
                let resolved = self.resolve(arg, path);
                match two(&resolved).map(|[l, a]| (l.as_str(), a.as_str())) {
                    Some((Some(l), Some(a))) => (l.to_string(), a.to_string()),
                    _ => {
                        self.error(pos, path, "Fn::GetAtt takes [LogicalId, Attribute]");
                        return Self::unresolved(pos);
                    }
                }
            }
            _ => {
                self.error(
                    pos,
                    path,
                    "Fn::GetAtt takes [LogicalId, Attribute] or \"LogicalId.Attribute\"",
                );
                return Self::unresolved(pos);
            }
        };
        if !self.index.resources.contains_key(&logical_id) {
            let index = self.index;
            let suggestion = self
                .suggestions
                .did_you_mean(&logical_id, index.resources.keys().map(String::as_str));
            let diag = self.error(
                pos,
                path,
                format!("{logical_id:?} is not a logical ID in these files"),
            );
            if let Some(s) = suggestion {
                diag.hint(format!("did you mean {s:?}?"));
            }
            return Self::unresolved(pos);
        }
        self.attribute(&logical_id, &attribute, pos, path)
    }

    /// `Fn::GetAtt logical_id.attribute`.
    /// Whether a referenced resource exists: one whose `Condition` is false
    /// is not created, and AWS rejects references to it.
    fn is_created(&mut self, logical_id: &str, pos: Pos, path: &str) -> bool {
        let Some(condition) = self
            .index
            .resources
            .get(logical_id)
            .and_then(|e| e.node.get("Condition"))
            .and_then(Node::as_str)
            .map(str::to_string)
        else {
            return true;
        };
        match self.condition(&condition, pos, path) {
            Some(false) => {
                self.error(
                    pos,
                    path,
                    format!("{logical_id} is not created (its Condition {condition:?} is false), so it cannot be referenced here"),
                )
                .hint(format!("wrap the reference in !If [{condition}, ..., !Ref AWS::NoValue]"));
                false
            }
            Some(true) => true,
            // The condition's own error is reported where it is evaluated.
            None => false,
        }
    }

    fn attribute(&mut self, logical_id: &str, attribute: &str, pos: Pos, path: &str) -> Node {
        let Some(entry) = self.index.resources.get(logical_id) else {
            return Self::unresolved(pos);
        };
        if !self.is_created(logical_id, pos, path) {
            return Self::unresolved(pos);
        }
        let type_name = entry.type_name.clone();
        let account = self.options.account.to_string();
        let region = self.options.region.to_string();
        let backup_arn = |kind: &str, name: &str| {
            format!("arn:{PARTITION}:backup:{region}:{account}:{kind}:{name}")
        };
        let allowed: &[&str] = match type_name.as_str() {
            "AWS::Backup::BackupVault" => &["BackupVaultArn", "BackupVaultName"],
            "AWS::Backup::BackupPlan" => &["BackupPlanArn", "BackupPlanId", "VersionId"],
            "AWS::Backup::BackupSelection" => &["BackupPlanId", "SelectionId"],
            "AWS::Backup::Framework" => &[
                "FrameworkArn",
                "CreationTime",
                "DeploymentStatus",
                "FrameworkStatus",
            ],
            "AWS::Backup::ReportPlan" => &["ReportPlanArn"],
            "AWS::Backup::RestoreTestingPlan" => &["RestoreTestingPlanArn"],
            "AWS::IAM::User" => &["Arn"],
            "AWS::IAM::ManagedPolicy" => &["PolicyArn"],
            "AWS::IAM::Role" => &["Arn", "RoleId"],
            _ => &[],
        };
        if !allowed.is_empty() && !allowed.contains(&attribute) {
            let diag = self.error(
                pos,
                path,
                format!(
                    "{type_name} has no attribute {attribute:?}; its attributes are {}",
                    allowed.join(", ")
                ),
            );
            if let Some(s) = did_you_mean(attribute, allowed.iter().copied()) {
                diag.hint(format!("did you mean {s:?}?"));
            }
            return Self::unresolved(pos);
        }
        let Some(name) = self.referenced_name(logical_id) else {
            return Self::unresolved(pos);
        };
        let value = match (type_name.as_str(), attribute) {
            ("AWS::Backup::BackupVault", "BackupVaultArn") => backup_arn("backup-vault", &name),
            ("AWS::Backup::BackupPlan", "BackupPlanArn") => backup_arn("backup-plan", &name),
            ("AWS::Backup::BackupSelection", "BackupPlanId") => {
                let plan = self
                    .index
                    .resources
                    .get(logical_id)
                    .and_then(Entry::properties)
                    .and_then(|p| p.get("BackupPlanId"))
                    .cloned();
                return match plan {
                    Some(plan) => self.resolve(&plan, path),
                    None => Self::unresolved(pos),
                };
            }
            ("AWS::Backup::Framework", "FrameworkArn") => backup_arn("framework", &name),
            ("AWS::Backup::ReportPlan", "ReportPlanArn") => backup_arn("report-plan", &name),
            ("AWS::Backup::RestoreTestingPlan", "RestoreTestingPlanArn") => {
                backup_arn("restore-testing-plan", &name)
            }
            (t, a)
                if t.starts_with("AWS::Backup::")
                    && (a == "VersionId"
                        || (!a.ends_with("Arn") && !a.ends_with("Name") && !a.ends_with("Id"))) =>
            {
                if !self.in_outputs {
                    self.error(pos, path, format!("{t}.{a} is known only after the object is created, so it cannot be used in a policy file"));
                }
                return Self::unresolved(pos);
            }
            (t, _) if t.starts_with("AWS::Backup::") => name,
            (_, a) if a == "Arn" || a.ends_with("Arn") => {
                unmanaged_arn(&type_name, logical_id, &name, &account, &region)
            }
            _ => name,
        };
        Node::new(Value::String(value), pos)
    }

    fn sub(&mut self, arg: &Node, pos: Pos, path: &str) -> Node {
        let (template, variables) = match &arg.value {
            Value::String(s) => (s.clone(), None),
            Value::Seq(items) => match items.as_slice() {
                [template, vars]
                    if template.as_str().is_some() && matches!(vars.value, Value::Map(_)) =>
                {
                    (
                        template.as_str().unwrap_or_default().to_string(),
                        Some(self.resolve(vars, path)),
                    )
                }
                _ => {
                    self.error(
                        pos,
                        path,
                        "Fn::Sub takes a string, or [string, {Name: value, ...}]",
                    );
                    return Self::unresolved(pos);
                }
            },
            _ => {
                self.error(
                    pos,
                    path,
                    format!("Fn::Sub takes a string, found {}", arg.kind_name()),
                );
                return Self::unresolved(pos);
            }
        };
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.error(pos, path, format!("unclosed \"${{\" in {template:?}"))
                    .hint("close it with '}', or write \"${!\" for a literal \"${\"");
                return Self::unresolved(pos);
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let name = name.trim();
            let from_vars = variables.as_ref().and_then(|v| v.get(name)).cloned();
            let value = match from_vars {
                Some(v) => v,
                None => match name.split_once('.') {
                    Some((logical_id, attribute))
                        if self.index.resources.contains_key(logical_id) =>
                    {
                        self.attribute(logical_id, attribute, pos, path)
                    }
                    _ => self.reference(name, pos, path),
                },
            };
            match &value.value {
                Value::String(s) | Value::Number(s) => out.push_str(s),
                Value::Unresolved => return Self::unresolved(pos),
                _ => {
                    self.error(
                        pos,
                        path,
                        format!("${{{name}}} is {}, not a string", value.kind_name()),
                    );
                    return Self::unresolved(pos);
                }
            }
        }
        out.push_str(rest);
        Node::new(Value::String(out), pos)
    }

    /// The value of a named condition (memoized; cycles are errors).
    pub fn condition(&mut self, name: &str, pos: Pos, path: &str) -> Option<bool> {
        if let Some(value) = self.conditions.get(name) {
            return *value;
        }
        let Some((file, node)) = self.index.conditions.get(name).cloned() else {
            let index = self.index;
            let suggestion = self
                .suggestions
                .did_you_mean(name, index.conditions.keys().map(String::as_str));
            let diag = self.error(
                pos,
                path,
                format!("{name:?} is not a condition in the Conditions section"),
            );
            if let Some(s) = suggestion {
                diag.hint(format!("did you mean {s:?}?"));
            }
            return None;
        };
        let cycle_key = format!("condition:{name}");
        if self.in_progress.contains(&cycle_key) {
            let chain = self.cycle(&cycle_key, "condition:");
            self.error(
                pos,
                path,
                format!("condition {name:?} depends on itself ({chain})"),
            )
            .hint("a condition cannot refer back to itself through Condition");
            return None;
        }
        self.in_progress.push(cycle_key);
        let saved = (
            std::mem::replace(&mut self.file, file),
            std::mem::replace(&mut self.subject, format!("Conditions.{name}")),
        );
        let value = match &node.value {
            Value::Map(entries) if entries.len() == 1 => {
                let (key, arg) = &entries[0];
                self.condition_function(&key.name, arg, node.pos, "")
            }
            _ if node.tag.is_some() => {
                let mut arg = node.clone();
                let tag = arg.tag.take().unwrap_or_default();
                let fn_name = if tag == "Condition" {
                    tag
                } else {
                    format!("Fn::{tag}")
                };
                self.condition_function(&fn_name, &arg, node.pos, "")
            }
            _ => {
                self.error(
                    node.pos,
                    "",
                    "a condition must be one of Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition",
                );
                None
            }
        };
        (self.file, self.subject) = saved;
        self.in_progress.pop();
        self.conditions.insert(name.to_string(), value);
        value
    }

    fn condition_function(&mut self, name: &str, arg: &Node, pos: Pos, path: &str) -> Option<bool> {
        match name {
            "Condition" => {
                let Some(target) = arg.as_str() else {
                    self.error(pos, path, "Condition takes a condition name");
                    return None;
                };
                let target = target.to_string();
                self.condition(&target, pos, path)
            }
            "Fn::Equals" => {
                let resolved = self.resolve(arg, path);
                let Some([a, b]) = two(&resolved) else {
                    self.error(pos, path, "Fn::Equals takes [value, value]");
                    return None;
                };
                if a.value == Value::Unresolved || b.value == Value::Unresolved {
                    return None;
                }
                // CloudFormation compares scalars as strings: `true` equals "true".
                Some(match (a.scalar_text(), b.scalar_text()) {
                    (Some(a), Some(b)) => a == b,
                    _ => a.to_json() == b.to_json(),
                })
            }
            "Fn::And" | "Fn::Or" | "Fn::Not" => {
                let Value::Seq(items) = &arg.value else {
                    self.error(pos, path, format!("{name} takes a list of conditions"));
                    return None;
                };
                let mut values = Vec::new();
                for item in items {
                    let value = self.condition_operand(item, path)?;
                    values.push(value);
                }
                match name {
                    "Fn::And" => Some(values.iter().all(|v| *v)),
                    "Fn::Or" => Some(values.iter().any(|v| *v)),
                    _ => match values.as_slice() {
                        [single] => Some(!single),
                        _ => {
                            self.error(pos, path, "Fn::Not takes a list of exactly one condition");
                            None
                        }
                    },
                }
            }
            other => {
                self.error(pos, path, format!("{other} cannot be used as a condition"));
                None
            }
        }
    }

    fn condition_operand(&mut self, item: &Node, path: &str) -> Option<bool> {
        if let Some(tag) = &item.tag {
            let mut arg = item.clone();
            arg.tag = None;
            let fn_name = if tag == "Condition" {
                tag.clone()
            } else {
                format!("Fn::{tag}")
            };
            return self.condition_function(&fn_name, &arg, item.pos, path);
        }
        match &item.value {
            Value::Map(entries) if entries.len() == 1 => {
                let (key, arg) = &entries[0];
                self.condition_function(&key.name, arg, item.pos, path)
            }
            Value::Bool(b) => Some(*b),
            _ => {
                self.error(
                    item.pos,
                    path,
                    "expected a condition function or {Condition: name}",
                );
                None
            }
        }
    }

    /// The name a logical resource will have (what `Ref` of a vault, plan or
    /// selection returns), resolving its name property. Errors inside the
    /// name are reported when that resource itself is read, not here.
    pub fn name_of(&mut self, logical_id: &str) -> Option<String> {
        if let Some(name) = self.names.get(logical_id) {
            return name.clone();
        }
        let entry = self.index.resources.get(logical_id)?;
        if self.in_progress.iter().any(|l| l == logical_id) {
            let pos = entry.key_pos;
            let file = entry.file.clone();
            let chain = self.cycle(logical_id, "");
            self.diags
                .push(
                    Severity::Error,
                    &file,
                    Some(pos),
                    logical_id,
                    format!("its name depends on itself (circular reference: {chain})"),
                )
                .hint("write one of these names literally");
            return None;
        }
        let name_node = name_property(entry).map(|(field, node)| (field, node.clone()));
        let file = entry.file.clone();
        let unmanaged = !crate::cfn::MANAGED_TYPES.contains(&entry.type_name.as_str());
        let default_name = match entry.type_name.as_str() {
            "AWS::S3::Bucket" => Some(logical_id.to_ascii_lowercase()),
            "AWS::KMS::Alias" => Some(format!("alias/{logical_id}")),
            "AWS::Backup::BackupVault"
            | "AWS::Backup::BackupPlan"
            | "AWS::Backup::BackupSelection" => None,
            _ => Some(logical_id.to_string()),
        };
        let name = match name_node {
            None => default_name,
            Some((field, node)) => {
                self.in_progress.push(logical_id.to_string());
                let quiet = std::mem::take(&mut self.diags);
                // Resolved where it is written, so errors point at the name.
                let saved = (
                    std::mem::replace(&mut self.file, file),
                    std::mem::replace(&mut self.subject, logical_id.to_string()),
                );
                let resolved = self.resolve(&node, field);
                (self.file, self.subject) = saved;
                // Cycles, and errors in a condition's definition (conditions
                // are evaluated once: this may be the only time), stay.
                let (kept, others): (Vec<_>, Vec<_>) = std::mem::replace(&mut self.diags, quiet)
                    .into_iter()
                    .partition(|d| {
                        d.message.contains("circular") || d.subject.starts_with("Conditions.")
                    });
                for diag in kept {
                    self.keep(diag);
                }
                // A managed resource reports these when it is read; nothing
                // reads an unmanaged one, so they wait for a reference.
                if unmanaged && !others.is_empty() {
                    self.name_errors.insert(logical_id.to_string(), others);
                }
                self.in_progress.pop();
                resolved.as_str().map(str::to_string)
            }
        };
        self.names.insert(logical_id.to_string(), name.clone());
        name
    }
}

impl Resolver<'_> {
    /// The name of `logical_id` for a reference to it. When an unmanaged
    /// resource's name cannot be resolved, what is wrong with it is reported
    /// here, once: the reference would otherwise resolve to nothing without
    /// a word.
    fn referenced_name(&mut self, logical_id: &str) -> Option<String> {
        let name = self.name_of(logical_id);
        if name.is_none() {
            for diag in self.name_errors.remove(logical_id).unwrap_or_default() {
                self.keep(diag);
            }
        }
        name
    }

    fn keep(&mut self, diag: crate::diag::Diagnostic) {
        let kept = self.diags.push(
            diag.severity,
            &diag.file,
            diag.pos,
            diag.subject,
            diag.message,
        );
        if let Some(hint) = diag.hint {
            kept.hint(hint);
        }
    }

    /// The chain of references from `start` back to itself, for cycle
    /// messages: `A → B → A`. Only entries starting with `prefix` count
    /// (names and conditions share the in-progress stack).
    fn cycle(&self, start: &str, prefix: &str) -> String {
        let mut chain: Vec<&str> = self
            .in_progress
            .iter()
            .skip_while(|entry| entry.as_str() != start)
            .filter(|entry| {
                if prefix.is_empty() {
                    !entry.starts_with("condition:")
                } else {
                    entry.starts_with(prefix)
                }
            })
            .map(|entry| &entry[prefix.len()..])
            .collect();
        chain.push(&start[prefix.len()..]);
        chain.join(" → ")
    }
}

/// The property that names a resource (`BackupVaultName`, `RoleName`, ...),
/// with its path under `Properties` as diagnostics name it.
pub(crate) fn name_property(entry: &Entry) -> Option<(&'static str, &Node)> {
    let props = entry.properties()?;
    match entry.type_name.as_str() {
        "AWS::Backup::BackupVault" => props.get("BackupVaultName").map(|n| ("BackupVaultName", n)),
        "AWS::Backup::BackupPlan" => props
            .get("BackupPlan")
            .and_then(|p| p.get("BackupPlanName"))
            .map(|n| ("BackupPlanName", n)),
        "AWS::Backup::BackupSelection" => props
            .get("BackupSelection")
            .and_then(|p| p.get("SelectionName"))
            .map(|n| ("BackupSelection.SelectionName", n)),
        "AWS::Backup::Framework" => props.get("FrameworkName").map(|n| ("FrameworkName", n)),
        "AWS::Backup::ReportPlan" => props.get("ReportPlanName").map(|n| ("ReportPlanName", n)),
        "AWS::Backup::RestoreTestingPlan" => props
            .get("RestoreTestingPlanName")
            .map(|n| ("RestoreTestingPlanName", n)),
        "AWS::Backup::RestoreTestingSelection" => props
            .get("RestoreTestingSelectionName")
            .map(|n| ("RestoreTestingSelectionName", n)),
        "AWS::IAM::Role" => props.get("RoleName").map(|n| ("RoleName", n)),
        "AWS::IAM::User" => props.get("UserName").map(|n| ("UserName", n)),
        "AWS::IAM::ManagedPolicy" => props
            .get("ManagedPolicyName")
            .map(|n| ("ManagedPolicyName", n)),
        "AWS::S3::Bucket" => props.get("BucketName").map(|n| ("BucketName", n)),
        "AWS::SNS::Topic" => props.get("TopicName").map(|n| ("TopicName", n)),
        "AWS::KMS::Alias" => props.get("AliasName").map(|n| ("AliasName", n)),
        _ => None,
    }
}

/// The ARN a resource of an unmanaged type stands for.
pub(crate) fn unmanaged_arn(
    type_name: &str,
    logical_id: &str,
    name: &str,
    account: &str,
    region: &str,
) -> String {
    match type_name {
        "AWS::KMS::Key" => format!("arn:{PARTITION}:kms:{region}:{account}:key/{logical_id}"),
        "AWS::KMS::Alias" => format!("arn:{PARTITION}:kms:{region}:{account}:{name}"),
        "AWS::IAM::Role" => format!("arn:{PARTITION}:iam::{account}:role/{name}"),
        "AWS::IAM::User" => format!("arn:{PARTITION}:iam::{account}:user/{name}"),
        "AWS::IAM::ManagedPolicy" => format!("arn:{PARTITION}:iam::{account}:policy/{name}"),
        "AWS::S3::Bucket" => format!("arn:{PARTITION}:s3:{region}:{account}:bucket/{name}"),
        "AWS::SNS::Topic" => format!("arn:{PARTITION}:sns:{region}:{account}:{name}"),
        _ => {
            let mut parts = type_name.split("::").skip(1);
            let service = parts.next().unwrap_or("unknown").to_ascii_lowercase();
            let kind = parts.next().unwrap_or("resource").to_ascii_lowercase();
            format!("arn:{PARTITION}:{service}:{region}:{account}:{kind}/{logical_id}")
        }
    }
}

fn two(node: &Node) -> Option<[&Node; 2]> {
    match &node.value {
        Value::Seq(items) => match items.as_slice() {
            [a, b] => Some([a, b]),
            _ => None,
        },
        _ => None,
    }
}
