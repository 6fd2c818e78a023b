//! The effective backup policy of one account, merged top-down from the
//! policies attached to the root, each unit on the way and the account,
//! as AWS Organizations merges them.
//!
//! The rules (docs/organizations.md says them with examples):
//! - Levels are processed root first. On one level, the policies merge in
//!   attachment order: the first to set a key wins, so a later `@@assign`
//!   of a key an earlier policy on the same node set is ignored (a
//!   conflict, reported as a warning when the values differ); `@@append`
//!   and `@@remove` of later policies still apply.
//! - A child control written at a path by a policy on one node applies to
//!   the policies of the nodes below it, at that path and everywhere under
//!   it; controls met on the way intersect, so a child never relaxes them.
//! - Changing a value needs its operator allowed by every control on the
//!   path to it. Adding a key that does not exist yet is an `@@append` of
//!   that key to its container: it needs `@@append` allowed there, and the
//!   operators inside the added key answer only to controls below it.
//! - A refused operator is left out (the parent's value stays, as in AWS)
//!   and reported, so Coffer never drops a change silently.
//! - The result holds plain values: operators are stripped, containers that
//!   hold no value are left out.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::doc::{Operators, PNode, ValueOperator};

/// One node on an account's path and the policies attached to it, in
/// attachment order.
pub(crate) struct Level<'a> {
    /// How people name the node: `root`, `OU production`, `account 3333...`.
    pub node: String,
    pub policies: Vec<(&'a str, &'a PNode)>,
}

/// A value in the effective policy.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ENode {
    Value(Value),
    Map(Vec<(String, ENode)>),
}

/// Who narrowed a child control at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlSetter {
    pub node: String,
    pub policy: String,
}

#[derive(Clone, Debug)]
struct Control {
    allowed: Operators,
    set_by: Vec<ControlSetter>,
}

/// An operator a parent's child control kept out of the effective policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The node the refused policy is attached to.
    pub node: String,
    pub policy: String,
    /// The key the operator was written at.
    pub path: Vec<String>,
    /// The operator refused; adding a key counts as `@@append` to its container.
    pub operator: ValueOperator,
    /// Whether the refused change was adding a key that did not exist.
    pub adds_key: bool,
    /// The path whose child control forbids it, what that control allows and who set it.
    pub control_path: Vec<String>,
    pub allowed: Operators,
    pub set_by: Vec<ControlSetter>,
}

/// Two policies on one node setting one key differently: the first wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub node: String,
    pub path: Vec<String>,
    pub kept_policy: String,
    pub kept: Value,
    pub ignored_policy: String,
    pub ignored: Value,
}

/// The merge of one account's levels.
#[derive(Clone, Debug, Default)]
pub(crate) struct Merged {
    pub root: Vec<(String, ENode)>,
    pub refused: Vec<Refusal>,
    pub conflicts: Vec<Conflict>,
}

struct Merger {
    controls: HashMap<Vec<String>, Control>,
    /// Keys added on the current level (their contents are the addition).
    added: HashSet<Vec<String>>,
    /// Values set on the current level, and by which policy first.
    set_here: HashMap<Vec<String>, String>,
    node: String,
    policy: String,
    out: Merged,
}

/// Merges the levels of one account, root first.
pub(crate) fn merge(levels: &[Level<'_>]) -> Merged {
    let mut merger = Merger {
        controls: HashMap::new(),
        added: HashSet::new(),
        set_here: HashMap::new(),
        node: String::new(),
        policy: String::new(),
        out: Merged::default(),
    };
    let mut root = Vec::new();
    for level in levels {
        merger.added.clear();
        merger.set_here.clear();
        merger.node.clone_from(&level.node);
        for (policy, document) in &level.policies {
            merger.policy = (*policy).to_string();
            if let PNode::Container { children, .. } = document {
                merger.apply_map(&mut root, children, &mut Vec::new(), None);
            }
        }
        // Controls written on this level bind the levels below, not this one.
        let mut written = BTreeMap::new();
        for (policy, document) in &level.policies {
            collect_controls(document, &mut Vec::new(), policy, &mut written);
        }
        for (path, (allowed, policies)) in written {
            let entry = merger.controls.entry(path).or_insert(Control {
                allowed: Operators::ALL,
                set_by: Vec::new(),
            });
            entry.allowed = entry.allowed.intersect(allowed);
            entry
                .set_by
                .extend(policies.into_iter().map(|policy| ControlSetter {
                    node: level.node.clone(),
                    policy,
                }));
        }
    }
    merger.out.root = root;
    merger.out
}

type Written = BTreeMap<Vec<String>, (Operators, Vec<String>)>;

fn collect_controls(node: &PNode, path: &mut Vec<String>, policy: &str, written: &mut Written) {
    if let Some(allowed) = node.control() {
        let entry = written
            .entry(path.clone())
            .or_insert((Operators::ALL, Vec::new()));
        entry.0 = entry.0.intersect(allowed);
        entry.1.push(policy.to_string());
    }
    if let PNode::Container { children, .. } = node {
        for (key, child) in children {
            path.push(key.clone());
            collect_controls(child, path, policy, written);
            path.pop();
        }
    }
}

impl Merger {
    /// What the controls on `path[..=from]` through `path` allow.
    fn allowed_between(&self, path: &[String], from: usize) -> Operators {
        (from..=path.len())
            .filter_map(|len| self.controls.get(&path[..len]))
            .fold(Operators::ALL, |acc, c| acc.intersect(c.allowed))
    }

    fn refuse(
        &mut self,
        path: &[String],
        from: usize,
        operator: ValueOperator,
        adds_key: bool,
        checked: &[String],
    ) {
        let blame = (from..=checked.len()).find_map(|len| {
            let control = self.controls.get(&checked[..len])?;
            (!control.allowed.allows(operator)).then(|| (checked[..len].to_vec(), control.clone()))
        });
        let Some((control_path, control)) = blame else {
            return;
        };
        self.out.refused.push(Refusal {
            node: self.node.clone(),
            policy: self.policy.clone(),
            path: path.to_vec(),
            operator,
            adds_key,
            control_path,
            allowed: control.allowed,
            set_by: control.set_by,
        });
    }

    /// Applies one policy's keys under a container of the effective policy.
    /// `inside` is the depth where the addition this container belongs to
    /// starts, when it is part of a key added on this level.
    fn apply_map(
        &mut self,
        map: &mut Vec<(String, ENode)>,
        children: &[(String, PNode)],
        path: &mut Vec<String>,
        inside: Option<usize>,
    ) {
        for (key, child) in children {
            path.push(key.clone());
            let exists = map.iter().any(|(k, _)| k == key);
            let from = if let Some(depth) = inside {
                Some(depth)
            } else if self.added.contains(path.as_slice()) {
                Some(path.len())
            } else if !exists {
                let container = &path[..path.len() - 1];
                if !self
                    .allowed_between(container, 0)
                    .allows(ValueOperator::Append)
                {
                    let container = container.to_vec();
                    self.refuse(&path.clone(), 0, ValueOperator::Append, true, &container);
                    path.pop();
                    continue;
                }
                self.added.insert(path.clone());
                Some(path.len())
            } else {
                None
            };
            match child {
                PNode::Container { children, .. } => {
                    let idx = match map.iter().position(|(k, _)| k == key) {
                        Some(idx) => idx,
                        None => {
                            map.push((key.clone(), ENode::Map(Vec::new())));
                            map.len() - 1
                        }
                    };
                    if let ENode::Map(inner) = &mut map[idx].1 {
                        self.apply_map(inner, children, path, from);
                    }
                    if matches!(&map[idx].1, ENode::Map(inner) if inner.is_empty()) {
                        map.remove(idx);
                    }
                }
                PNode::Value {
                    assign,
                    append,
                    remove,
                    ..
                } => {
                    let from = from.unwrap_or(0);
                    let allowed = self.allowed_between(path, from);
                    let idx = map.iter().position(|(k, _)| k == key);
                    let mut value = idx.and_then(|idx| match &map[idx].1 {
                        ENode::Value(v) => Some(v.clone()),
                        ENode::Map(_) => None,
                    });
                    let mut changed = false;
                    if let Some(new) = assign {
                        if !allowed.allows(ValueOperator::Assign) {
                            self.refuse(
                                &path.clone(),
                                from,
                                ValueOperator::Assign,
                                false,
                                &path.clone(),
                            );
                        } else if let Some(first) = self.set_here.get(path.as_slice()) {
                            if value.as_ref() != Some(new) {
                                self.out.conflicts.push(Conflict {
                                    node: self.node.clone(),
                                    path: path.clone(),
                                    kept_policy: first.clone(),
                                    kept: value.clone().unwrap_or(Value::Null),
                                    ignored_policy: self.policy.clone(),
                                    ignored: new.clone(),
                                });
                            }
                        } else {
                            value = Some(new.clone());
                            changed = true;
                        }
                    }
                    if let Some(items) = append {
                        if !allowed.allows(ValueOperator::Append) {
                            self.refuse(
                                &path.clone(),
                                from,
                                ValueOperator::Append,
                                false,
                                &path.clone(),
                            );
                        } else {
                            let mut list = match value.take() {
                                Some(Value::Array(list)) => list,
                                _ => Vec::new(),
                            };
                            for item in items {
                                if !list.contains(item) {
                                    list.push(item.clone());
                                }
                            }
                            value = Some(Value::Array(list));
                            changed = true;
                        }
                    }
                    if let Some(items) = remove {
                        if !allowed.allows(ValueOperator::Remove) {
                            self.refuse(
                                &path.clone(),
                                from,
                                ValueOperator::Remove,
                                false,
                                &path.clone(),
                            );
                        } else if let Some(Value::Array(list)) = &mut value {
                            list.retain(|v| !items.contains(v));
                            changed = true;
                        }
                    }
                    if let (true, Some(value)) = (changed, value) {
                        self.set_here
                            .entry(path.clone())
                            .or_insert_with(|| self.policy.clone());
                        match idx {
                            Some(idx) => map[idx].1 = ENode::Value(value),
                            None => map.push((key.clone(), ENode::Value(value))),
                        }
                    }
                }
            }
            path.pop();
        }
    }
}

/// The effective policy as plain JSON: `$account` replaced in keys and
/// values (`$region` stays: it is replaced per region, when plans are made).
pub(crate) fn to_json(map: &[(String, ENode)], account: &str) -> Value {
    let mut out = serde_json::Map::new();
    for (key, node) in map {
        let value = match node {
            ENode::Map(inner) => to_json(inner, account),
            ENode::Value(value) => substitute(value, account),
        };
        out.insert(key.replace("$account", account), value);
    }
    Value::Object(out)
}

fn substitute(value: &Value, account: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("$account", account)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, account)).collect()),
        other => other.clone(),
    }
}

/// Replaces `$region` in every key and string of `value`.
pub fn substitute_region(value: &Value, region: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("$region", region)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_region(v, region)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace("$region", region), substitute_region(v, region)))
                .collect(),
        ),
        other => other.clone(),
    }
}
