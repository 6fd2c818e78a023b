//! Typed reading of resolved document nodes into model values, reporting
//! every type error, missing field and unknown field (with "did you mean")
//! at its position, and mapping model validation findings back to the
//! source field and position they came from.

use std::collections::HashMap;

use coffer_model::{did_you_mean, join_field, Findings, Severity, Tags};

use crate::diag::{Diagnostic, Diagnostics};
use crate::node::{Key, Node, Pos, Value};

/// Reads one object (a template resource, an inventory entry) from one file.
pub(crate) struct Reader<'d> {
    file: String,
    /// Logical ID or entry name that subjects start with.
    subject: String,
    diags: &'d mut Diagnostics,
    /// Model field path → (source field path, position).
    paths: HashMap<String, (String, Pos)>,
    /// Position of the object itself, for findings about the whole object.
    root_pos: Pos,
    n_errors: usize,
    /// Model paths whose value is missing or could not be read (a type
    /// error, or an intrinsic that did not resolve; already reported): a
    /// stand-in takes their place, and the object is incomplete.
    unreadable: Vec<String>,
    /// Model paths whose value was read but already reported as invalid: a
    /// stand-in takes their place while the object is validated.
    reported: Vec<String>,
}

/// Stands in for a value that is missing, could not be read or was already
/// reported, so that the rest of an object is still validated. Findings
/// about a stand-in, or that mention it, are never reported.
pub(crate) const STAND_IN: &str = "\u{27ea}missing\u{27eb}";

/// The fields of a mapping being read.
pub(crate) struct Fields<'n> {
    pub node: &'n Node,
    entries: &'n [(Key, Node)],
    src: String,
    model: String,
    /// Known fields that an unknown key was already reported as a likely
    /// misspelling of: not reported missing a second time.
    suggested: Vec<String>,
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, v)| k.name == name && v.value != Value::Absent)
            .map(|(_, v)| v)
    }

    pub fn src(&self, name: &str) -> String {
        join_field(&self.src, name)
    }

    pub fn model(&self, name: &str) -> String {
        join_field(&self.model, name)
    }
}

impl<'d> Reader<'d> {
    pub fn new(file: &str, subject: &str, root_pos: Pos, diags: &'d mut Diagnostics) -> Self {
        Self {
            file: file.to_string(),
            subject: subject.to_string(),
            diags,
            paths: HashMap::new(),
            root_pos,
            n_errors: 0,
            unreadable: Vec::new(),
            reported: Vec::new(),
        }
    }

    pub fn n_errors(&self) -> usize {
        self.n_errors
    }

    fn subject_for(&self, src: &str) -> String {
        join_field(&self.subject, src)
    }

    pub fn error(&mut self, pos: Pos, src: &str, message: impl Into<String>) -> &mut Diagnostic {
        self.n_errors += 1;
        let subject = self.subject_for(src);
        self.diags
            .push(Severity::Error, &self.file, Some(pos), subject, message)
    }

    pub fn warning(&mut self, pos: Pos, src: &str, message: impl Into<String>) -> &mut Diagnostic {
        let subject = self.subject_for(src);
        self.diags
            .push(Severity::Warning, &self.file, Some(pos), subject, message)
    }

    /// Whether some value of this object could not be read: the object is
    /// then incomplete, even where defaults filled the gaps.
    pub fn any_unreadable(&self) -> bool {
        !self.unreadable.is_empty()
    }

    /// Records `model` as unreadable when nothing was read there.
    fn note<T>(&mut self, model: &str, read: Option<T>) -> Option<T> {
        if read.is_none() {
            self.unreadable.push(model.to_string());
        }
        read
    }

    /// Records that the value at `model` is missing or could not be read
    /// (already reported): the object is incomplete.
    pub fn unreadable(&mut self, model: &str) {
        self.unreadable.push(model.to_string());
    }

    /// Records that the value at `model` was already reported as invalid: a
    /// stand-in replaces it while the object is validated.
    pub fn reported(&mut self, model: &str) {
        self.reported.push(model.to_string());
    }

    /// Whether a finding at `model_path` judges a stand-in for a value that
    /// could not be read or was already reported: one at that path, inside
    /// it (a lifecycle whose DeleteAfterDays was a list is not "kept
    /// forever"), or around it (nothing inside a stand-in is real).
    fn about_stand_in(&self, model_path: &str) -> bool {
        let related = |path: &String| within(path, model_path) || within(model_path, path.as_str());
        self.unreadable.iter().any(related) || self.reported.iter().any(related)
    }

    /// Where each field read so far is, by source path.
    pub fn positions(&self) -> std::collections::BTreeMap<String, Pos> {
        self.paths.values().cloned().collect()
    }

    pub fn register(&mut self, model: &str, src: &str, pos: Pos) {
        self.paths.insert(model.to_string(), (src.to_string(), pos));
    }

    /// Reads a mapping, registering its path and reporting unknown keys.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        src: &str,
        model: &str,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        self.register(model, src, node.pos);
        if node.value == Value::Unresolved {
            return self.note(model, None);
        }
        let Value::Map(entries) = &node.value else {
            self.error(
                node.pos,
                src,
                format!("must be a mapping of fields, found {}", node.kind_name()),
            );
            return self.note(model, None);
        };
        let mut suggested = Vec::new();
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let field = join_field(src, &key.name);
                let diag = self.error(key.pos, &field, format!("unknown field {:?}", key.name));
                match did_you_mean(&key.name, known.iter().copied()) {
                    Some(s) => {
                        diag.hint(format!("did you mean {s:?}?"));
                        suggested.push(s.to_string());
                    }
                    None => {
                        diag.hint(format!("allowed fields: {}", known.join(", ")));
                    }
                };
            }
        }
        Some(Fields {
            node,
            entries,
            src: src.to_string(),
            model: model.to_string(),
            suggested,
        })
    }

    /// A required field; reports it missing at the mapping's position,
    /// unless a misspelling of it was already reported. A missing field is
    /// unreadable: a stand-in takes its place, and the object is incomplete.
    pub fn required<'n>(&mut self, fields: &Fields<'n>, name: &str) -> Option<&'n Node> {
        let found = fields.get(name);
        if found.is_none() {
            self.unreadable(&fields.model(name));
            if !fields.suggested.iter().any(|s| s == name) {
                let pos = fields.node.pos;
                let src = fields.src.clone();
                self.error(pos, &src, format!("{name} is required"));
            }
        }
        found
    }

    pub fn string(&mut self, node: &Node, src: &str, model: &str) -> Option<String> {
        self.register(model, src, node.pos);
        let read = match &node.value {
            Value::String(s) | Value::Number(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Unresolved => None,
            _ => {
                self.error(
                    node.pos,
                    src,
                    format!("must be a string, found {}", node.kind_name()),
                );
                None
            }
        };
        self.note(model, read)
    }

    /// A whole number, written as a number or a numeric string (CloudFormation
    /// accepts both).
    pub fn uint(&mut self, node: &Node, src: &str, model: &str) -> Option<u64> {
        self.register(model, src, node.pos);
        let read = match &node.value {
            Value::String(s) | Value::Number(s) => match s.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.error(
                        node.pos,
                        src,
                        format!("must be a whole number, found {:?}", s.trim()),
                    );
                    None
                }
            },
            Value::Unresolved => None,
            _ => {
                self.error(
                    node.pos,
                    src,
                    format!("must be a whole number, found {}", node.kind_name()),
                );
                None
            }
        };
        self.note(model, read)
    }

    pub fn uint32(&mut self, node: &Node, src: &str, model: &str) -> Option<u32> {
        let n = self.uint(node, src, model)?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(node.pos, src, format!("{n} is too large"));
                self.note(model, None)
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, src: &str, model: &str) -> Option<bool> {
        self.register(model, src, node.pos);
        let read = match &node.value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            // CloudFormation reads YAML 1.1, where these words are booleans.
            Value::String(s)
                if matches!(s.as_str(), "yes" | "Yes" | "YES" | "on" | "On" | "ON") =>
            {
                Some(true)
            }
            Value::String(s)
                if matches!(s.as_str(), "no" | "No" | "NO" | "off" | "Off" | "OFF") =>
            {
                Some(false)
            }
            Value::Unresolved => None,
            _ => {
                self.error(
                    node.pos,
                    src,
                    format!("must be true or false, found {}", describe(node)),
                );
                None
            }
        };
        self.note(model, read)
    }

    pub fn list<'n>(&mut self, node: &'n Node, src: &str, model: &str) -> Option<Vec<&'n Node>> {
        self.register(model, src, node.pos);
        let read = match &node.value {
            Value::Seq(items) => Some(items.iter().filter(|n| n.value != Value::Absent).collect()),
            Value::Unresolved => None,
            _ => {
                self.error(
                    node.pos,
                    src,
                    format!("must be a list, found {}", node.kind_name()),
                )
                .hint("write it as a YAML list (`- item`) or [item, ...]");
                None
            }
        };
        self.note(model, read)
    }

    pub fn string_list(&mut self, node: &Node, src: &str, model: &str) -> Vec<String> {
        let Some(items) = self.list(node, src, model) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (idx, item) in items.into_iter().enumerate() {
            if let Some(s) = self.string(item, &format!("{src}[{idx}]"), &format!("{model}[{idx}]"))
            {
                out.push(s);
            }
        }
        out
    }

    /// Tags written as a mapping (`{key: value}`) or as a list of
    /// `{Key, Value}` (both forms appear in AWS templates).
    pub fn tags(&mut self, node: &Node, src: &str, model: &str) -> Tags {
        self.register(model, src, node.pos);
        let mut tags = Tags::new();
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    if value.value == Value::Absent {
                        continue;
                    }
                    let field = join_field(src, &key.name);
                    if let Some(v) = self.string(value, &field, &join_field(model, &key.name)) {
                        tags.insert(key.name.clone(), v);
                    }
                }
            }
            Value::Seq(items) => {
                for (idx, item) in items.iter().enumerate() {
                    let item_src = format!("{src}[{idx}]");
                    let item_model = format!("{model}[{idx}]");
                    let Some(f) = self.fields(item, &item_src, &item_model, &["Key", "Value"])
                    else {
                        continue;
                    };
                    let key = self
                        .required(&f, "Key")
                        .and_then(|n| self.string(n, &f.src("Key"), &f.model("Key")));
                    let value = match f.get("Value") {
                        Some(n) => self.string(n, &f.src("Value"), &f.model("Value")),
                        None => Some(String::new()),
                    };
                    if let (Some(k), Some(v)) = (key, value) {
                        tags.insert(k, v);
                    }
                }
            }
            Value::Unresolved => {
                self.note::<()>(model, None);
            }
            _ => {
                self.error(
                    node.pos,
                    src,
                    format!(
                        "tags must be a mapping or a list of {{Key, Value}}, found {}",
                        node.kind_name()
                    ),
                );
                self.note::<()>(model, None);
            }
        }
        let problems = coffer_model::check_tags(&tags);
        if !problems.is_empty() {
            // Reported here: the model's own check of them is not repeated.
            self.reported(model);
        }
        for problem in problems {
            self.error(node.pos, src, problem);
        }
        tags
    }

    /// Reports model validation findings at the source field they came from.
    /// `model_base` is the model path the validated value was read at.
    pub fn findings(&mut self, model_base: &str, findings: Findings) {
        for finding in findings {
            let model_path = join_field(model_base, &finding.field);
            let mentions_stand_in = finding.message.contains(STAND_IN)
                || finding
                    .hint
                    .as_deref()
                    .is_some_and(|h| h.contains(STAND_IN));
            if mentions_stand_in || self.about_stand_in(&model_path) {
                continue;
            }
            let (src, pos) = self.locate(&model_path);
            let diag = match finding.severity {
                Severity::Error => self.error(pos, &src, finding.message),
                Severity::Warning => self.warning(pos, &src, finding.message),
            };
            if let Some(hint) = finding.hint {
                diag.hint(hint);
            }
        }
    }

    /// The source path and position of a model path: the longest registered
    /// prefix, with the rest of the path appended.
    pub fn locate(&self, model_path: &str) -> (String, Pos) {
        let mut prefix = model_path;
        loop {
            if let Some((src, pos)) = self.paths.get(prefix) {
                let rest = &model_path[prefix.len()..];
                let rest = rest.strip_prefix('.').unwrap_or(rest);
                return (join_field(src, rest), *pos);
            }
            match prefix.rfind(['.', '[']) {
                Some(cut) => prefix = &prefix[..cut],
                None if !prefix.is_empty() => prefix = "",
                None => return (model_path.to_string(), self.root_pos),
            }
        }
    }
}

/// Whether model path `inner` is `outer` or lies inside it (`""` holds
/// every path).
fn within(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| outer.is_empty() || rest.is_empty() || rest.starts_with(['.', '[']))
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::String(s) | Value::Number(s) => format!("{s:?}"),
        _ => node.kind_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse;

    #[test]
    fn unknown_fields_get_did_you_mean_and_positions() {
        let doc = parse("BackupVaultNme: x\nEncryptionKeyArn: y\n").unwrap();
        let mut diags = Diagnostics::default();
        let mut reader = Reader::new("t.yaml", "Vault", doc.pos, &mut diags);
        reader.fields(&doc, "", "", &["BackupVaultName", "EncryptionKeyArn"]);
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(text, vec!["t.yaml:1:1 Vault.BackupVaultNme: unknown field \"BackupVaultNme\"; did you mean \"BackupVaultName\"?"]);
    }

    #[test]
    fn findings_map_back_to_source_names() {
        let doc =
            parse("BackupPlanRule:\n  - RuleName: a\n    Lifecycle:\n      DeleteAfterDays: 10\n")
                .unwrap();
        let mut diags = Diagnostics::default();
        let mut reader = Reader::new("t.yaml", "Plan", doc.pos, &mut diags);
        let rules = doc.get("BackupPlanRule").unwrap();
        let Value::Seq(items) = &rules.value else {
            panic!()
        };
        reader.register("Rules[0]", "BackupPlanRule[0]", items[0].pos);
        let lifecycle = items[0].get("Lifecycle").unwrap();
        reader.register(
            "Rules[0].Lifecycle",
            "BackupPlanRule[0].Lifecycle",
            lifecycle.pos,
        );
        assert_eq!(
            reader.locate("Rules[0].Lifecycle.DeleteAfterDays"),
            (
                "BackupPlanRule[0].Lifecycle.DeleteAfterDays".to_string(),
                lifecycle.pos
            )
        );
        assert_eq!(
            reader.locate("Rules[0].RuleName").0,
            "BackupPlanRule[0].RuleName"
        );
        assert_eq!(reader.locate("Other").0, "Other");
    }
}
