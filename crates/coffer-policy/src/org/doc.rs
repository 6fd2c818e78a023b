//! One backup policy document read into operators: each key is a
//! container (plans, rules, selections, ...) or a value with its value
//! operators, and any of them may carry a child control.
//! Everything AWS Organizations would refuse in a single document is found
//! here, located by its JSON path: unknown keys and operators, value
//! operators on containers, `@@append`/`@@remove` on a key that holds one
//! value, operands of the wrong shape, malformed child controls.

use std::fmt;

use serde_json::Value;

use super::schema::{Children, Kind};

/// The largest backup policy AWS Organizations accepts, in characters.
pub const MAX_POLICY_CHARS: usize = 10_000;

/// The most backup policies attached to one root, unit or account.
pub const MAX_POLICIES_PER_NODE: usize = 10;

const CONTROL: &str = "@@operators_allowed_for_child_policies";
const CONTROL_HINT: &str =
    "write [\"@@all\"], [\"@@none\"], or some of [\"@@assign\", \"@@append\", \"@@remove\"]";
const OPERATORS: &[&str] = &["@@assign", "@@append", "@@remove", CONTROL];

/// A value-setting operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueOperator {
    Assign,
    Append,
    Remove,
}

impl ValueOperator {
    pub const ALL: [ValueOperator; 3] = [Self::Assign, Self::Append, Self::Remove];

    pub fn name(self) -> &'static str {
        match self {
            Self::Assign => "@@assign",
            Self::Append => "@@append",
            Self::Remove => "@@remove",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Assign => 1,
            Self::Append => 2,
            Self::Remove => 4,
        }
    }
}

impl fmt::Display for ValueOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of value operators: what a child control allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operators(u8);

impl Operators {
    /// `["@@all"]`, the default.
    pub const ALL: Operators = Operators(7);
    /// `["@@none"]`.
    pub const NONE: Operators = Operators(0);

    pub fn allows(self, op: ValueOperator) -> bool {
        self.0 & op.bit() != 0
    }

    #[must_use]
    pub fn intersect(self, other: Operators) -> Operators {
        Operators(self.0 & other.0)
    }

    /// Builds a set from operators.
    pub fn of(ops: &[ValueOperator]) -> Operators {
        Operators(ops.iter().fold(0, |bits, op| bits | op.bit()))
    }
}

impl fmt::Display for Operators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Operators::ALL => f.write_str("[\"@@all\"]"),
            Operators::NONE => f.write_str("[\"@@none\"]"),
            _ => {
                let names: Vec<String> = ValueOperator::ALL
                    .iter()
                    .filter(|op| self.allows(**op))
                    .map(|op| format!("{:?}", op.name()))
                    .collect();
                write!(f, "[{}]", names.join(", "))
            }
        }
    }
}

/// One key of a policy after reading.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PNode {
    Container {
        control: Option<Operators>,
        children: Vec<(String, PNode)>,
    },
    Value {
        control: Option<Operators>,
        assign: Option<Value>,
        append: Option<Vec<Value>>,
        remove: Option<Vec<Value>>,
    },
}

impl PNode {
    pub(crate) fn control(&self) -> Option<Operators> {
        match self {
            PNode::Container { control, .. } | PNode::Value { control, .. } => *control,
        }
    }
}

/// A problem in one policy document, at a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Keys from the document's root to the offending key.
    pub path: Vec<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// A JSON path as people write it: `plans.org-daily.rules.nightly`, with
/// keys that are not plain words quoted in brackets.
pub fn json_path(path: &[String]) -> String {
    let mut out = String::new();
    for key in path {
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '@');
        if plain {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        } else {
            out.push_str(&format!("[{key:?}]"));
        }
    }
    out
}

/// Reads a backup policy document.
///
/// # Errors
/// Every problem found, each with its JSON path; the document is not used.
pub(crate) fn parse_policy(document: &Value) -> Result<PNode, Vec<PolicyProblem>> {
    let mut problems = Vec::new();
    let mut path = Vec::new();
    let node = read(document, Kind::Document, &mut path, &mut problems);
    if problems.is_empty() {
        Ok(node)
    } else {
        Err(problems)
    }
}

fn problem(
    problems: &mut Vec<PolicyProblem>,
    path: &[String],
    message: String,
    hint: Option<String>,
) {
    problems.push(PolicyProblem {
        path: path.to_vec(),
        message,
        hint,
    });
}

fn kind_word(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn read(
    value: &Value,
    kind: Kind,
    path: &mut Vec<String>,
    problems: &mut Vec<PolicyProblem>,
) -> PNode {
    let empty = PNode::Container {
        control: None,
        children: Vec::new(),
    };
    let Value::Object(entries) = value else {
        let hint = match kind.children() {
            None => format!("write {{\"@@assign\": {value}}}"),
            Some(_) => "write an object of keys".to_string(),
        };
        problem(
            problems,
            path,
            format!("expected an object, found {}", kind_word(value)),
            Some(hint),
        );
        return empty;
    };
    let mut control = None;
    if let Some(raw) = entries.get(CONTROL) {
        path.push(CONTROL.to_string());
        control = read_control(raw, path, problems);
        path.pop();
    }
    match kind.children() {
        Some(children) => {
            let mut out = Vec::new();
            for (key, child) in entries {
                if key == CONTROL {
                    continue;
                }
                path.push(key.clone());
                if let Some(op) = key.strip_prefix("@@") {
                    if ["assign", "append", "remove"].contains(&op) {
                        problem(problems, path, format!("{key} sets a value, and {} holds keys, not a value", describe(path)), Some("put the operator on one of its keys, or use @@operators_allowed_for_child_policies here".into()));
                    } else {
                        unknown_operator(key, path, problems);
                    }
                    path.pop();
                    continue;
                }
                let child_kind = match &children {
                    Children::Named(kind) => Some(*kind),
                    Children::Fixed(fields) => {
                        let found = fields.iter().find(|(name, _)| name == key).map(|(_, k)| *k);
                        if found.is_none() {
                            let names = fields.iter().map(|(name, _)| *name);
                            let hint = match coffer_model::did_you_mean(key, names.clone()) {
                                Some(name) => format!("did you mean {name:?}?"),
                                None => format!(
                                    "allowed here: {}",
                                    names.collect::<Vec<_>>().join(", ")
                                ),
                            };
                            problem(
                                problems,
                                path,
                                format!("unknown key {key:?} in a backup policy"),
                                Some(hint),
                            );
                        }
                        found
                    }
                };
                if key.is_empty() {
                    problem(problems, path, "a name may not be empty".into(), None);
                } else if let Some(child_kind) = child_kind {
                    out.push((key.clone(), read(child, child_kind, path, problems)));
                }
                path.pop();
            }
            PNode::Container {
                control,
                children: out,
            }
        }
        None => read_value(entries, kind, control, path, problems),
    }
}

fn describe(path: &[String]) -> String {
    if path.len() <= 1 {
        "the document".to_string()
    } else {
        json_path(&path[..path.len() - 1])
    }
}

fn unknown_operator(key: &str, path: &[String], problems: &mut Vec<PolicyProblem>) {
    let hint = match coffer_model::did_you_mean(key, OPERATORS.iter().copied()) {
        Some(name) => format!("did you mean {name:?}?"),
        None => format!(
            "AWS Organizations has {} (no @@prepend)",
            OPERATORS.join(", ")
        ),
    };
    problem(
        problems,
        path,
        format!("unknown operator {key:?}"),
        Some(hint),
    );
}

fn read_value(
    entries: &serde_json::Map<String, Value>,
    kind: Kind,
    control: Option<Operators>,
    path: &mut Vec<String>,
    problems: &mut Vec<PolicyProblem>,
) -> PNode {
    let is_list = kind == Kind::List;
    let mut assign = None;
    let mut append = None;
    let mut remove = None;
    let here = json_path(path);
    for (key, operand) in entries {
        if key == CONTROL {
            continue;
        }
        path.push(key.clone());
        match key.as_str() {
            "@@assign" => {
                if is_list {
                    match list_operand(operand) {
                        Some(items) => assign = Some(Value::Array(items)),
                        None => problem(
                            problems,
                            path,
                            format!(
                                "{here} holds a list, and @@assign gives it {}",
                                kind_word(operand)
                            ),
                            Some(format!("write [{operand}]")),
                        ),
                    }
                } else if operand.is_array() || operand.is_object() || operand.is_null() {
                    problem(
                        problems,
                        path,
                        format!(
                            "{here} holds one value, and @@assign gives it {}",
                            kind_word(operand)
                        ),
                        Some("give a string, number or boolean".into()),
                    );
                } else {
                    assign = Some(operand.clone());
                }
            }
            "@@append" | "@@remove" => {
                if !is_list {
                    problem(
                        problems,
                        path,
                        format!("{key} applies to lists, and {here} holds one value"),
                        Some("use @@assign to replace it".into()),
                    );
                } else {
                    match list_operand(operand) {
                        Some(items) if key == "@@append" => append = Some(items),
                        Some(items) => remove = Some(items),
                        None => problem(
                            problems,
                            path,
                            format!("{key} takes a list of values, found {}", kind_word(operand)),
                            Some(format!("write [{operand}]")),
                        ),
                    }
                }
            }
            other if other.starts_with("@@") => unknown_operator(other, path, problems),
            other => {
                let hint = format!("{here} is a value: set it with {{\"@@assign\": ...}}");
                problem(
                    problems,
                    path,
                    format!("unknown key {other:?}: {here} holds a value, not keys"),
                    Some(hint),
                );
            }
        }
        path.pop();
    }
    PNode::Value {
        control,
        assign,
        append,
        remove,
    }
}

/// A list operand: an array of strings, numbers or booleans.
fn list_operand(operand: &Value) -> Option<Vec<Value>> {
    let items = operand.as_array()?;
    items
        .iter()
        .all(|v| v.is_string() || v.is_number() || v.is_boolean())
        .then(|| items.clone())
}

fn read_control(
    raw: &Value,
    path: &[String],
    problems: &mut Vec<PolicyProblem>,
) -> Option<Operators> {
    let hint = Some(CONTROL_HINT.to_string());
    let Some(items) = raw.as_array() else {
        problem(
            problems,
            path,
            format!("a child control is a list, found {}", kind_word(raw)),
            hint,
        );
        return None;
    };
    let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
    if names.len() != items.len() || names.is_empty() {
        problem(
            problems,
            path,
            "a child control lists operator names".into(),
            hint,
        );
        return None;
    }
    if names.contains(&"@@all") || names.contains(&"@@none") {
        if names.len() > 1 {
            problem(
                problems,
                path,
                format!(
                    "{} must be alone in a child control",
                    if names.contains(&"@@all") {
                        "@@all"
                    } else {
                        "@@none"
                    }
                ),
                hint,
            );
            return None;
        }
        return Some(if names[0] == "@@all" {
            Operators::ALL
        } else {
            Operators::NONE
        });
    }
    let mut ops = Vec::new();
    for name in names {
        match ValueOperator::ALL.iter().find(|op| op.name() == name) {
            Some(op) => ops.push(*op),
            None => {
                let candidates = ["@@all", "@@none", "@@assign", "@@append", "@@remove"];
                let hint = coffer_model::did_you_mean(name, candidates)
                    .map(|c| format!("did you mean {c:?}?"));
                problem(
                    problems,
                    path,
                    format!("{name:?} is not an operator a child control can name"),
                    hint.or(Some(CONTROL_HINT.to_string())),
                );
                return None;
            }
        }
    }
    Some(Operators::of(&ops))
}
