//! Whether each plan of an effective policy is a plan AWS Backup could
//! create: AWS creates none for a plan that lacks regions, rules, a
//! selection, a rule's vault or schedule, or a selection's role, and that
//! plan backs nothing up. Coffer names each gap, per account.

use serde_json::Value;

/// A plan of an effective policy that is not a valid plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPlan {
    pub plan: String,
    /// The JSON path of what is missing or empty.
    pub path: Vec<String>,
    pub message: String,
}

fn non_empty_map(value: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    value
        .and_then(Value::as_object)
        .filter(|map| !map.is_empty())
}

/// Checks every plan of an effective policy.
pub(crate) fn invalid_plans(effective: &Value) -> Vec<InvalidPlan> {
    let mut out = Vec::new();
    let Some(plans) = effective.get("plans").and_then(Value::as_object) else {
        return out;
    };
    for (name, plan) in plans {
        let base = vec!["plans".to_string(), name.clone()];
        let mut gap = |path: Vec<String>, message: String| {
            let mut full = base.clone();
            full.extend(path);
            out.push(InvalidPlan {
                plan: name.clone(),
                path: full,
                message,
            });
        };
        let regions = plan.get("regions").and_then(Value::as_array);
        if regions.is_none_or(Vec::is_empty) {
            gap(
                vec!["regions".into()],
                "the effective plan lists no regions".into(),
            );
        }
        match non_empty_map(plan.get("rules")) {
            None => gap(
                vec!["rules".into()],
                "the effective plan has no rules".into(),
            ),
            Some(rules) => {
                for (rule, body) in rules {
                    for field in ["target_backup_vault_name", "schedule_expression"] {
                        if body.get(field).is_none() {
                            gap(
                                vec!["rules".into(), rule.clone(), field.into()],
                                format!("rule {rule:?} has no {field}"),
                            );
                        }
                    }
                }
            }
        }
        let selections = plan.get("selections");
        let tags = non_empty_map(selections.and_then(|s| s.get("tags")));
        let resources = non_empty_map(selections.and_then(|s| s.get("resources")));
        if tags.is_none() && resources.is_none() {
            gap(
                vec!["selections".into()],
                "the effective plan has no selection (tags or resources)".into(),
            );
        }
        for (group, entries) in [("tags", tags), ("resources", resources)] {
            for (selection, body) in entries.into_iter().flatten() {
                if body.get("iam_role_arn").is_none() {
                    gap(
                        vec![
                            "selections".into(),
                            group.into(),
                            selection.clone(),
                            "iam_role_arn".into(),
                        ],
                        format!("selection {selection:?} has no iam_role_arn"),
                    );
                }
                if group == "tags" && body.get("tag_key").is_none() {
                    gap(
                        vec![
                            "selections".into(),
                            group.into(),
                            selection.clone(),
                            "tag_key".into(),
                        ],
                        format!("selection {selection:?} has no tag_key"),
                    );
                }
                if group == "resources"
                    && body
                        .get("resource_types")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty)
                {
                    gap(
                        vec![
                            "selections".into(),
                            group.into(),
                            selection.clone(),
                            "resource_types".into(),
                        ],
                        format!("selection {selection:?} lists no resource_types"),
                    );
                }
            }
        }
    }
    out
}
