//! The plans an account's effective backup policy makes: one per valid
//! effective plan in each region it lists, `$region` replaced, named with
//! the `orgs/` prefix AWS gives organization-managed plans (a name an
//! account's own plan cannot have, since plan names hold no `/`), with its
//! selections, rules, `backup_plan_tags` and advanced settings.

use std::collections::BTreeSet;

use coffer_model::{
    AccountId, AdvancedBackupSetting, ArnPattern, BackupPlan, BackupRule, BackupSelection,
    ConditionParameter, Conditions, CopyAction, Lifecycle, Region, Severity, TagCondition, Tags,
    DEFAULT_COMPLETION_WINDOW_MINUTES, DEFAULT_START_WINDOW_MINUTES,
};
use serde_json::{Map, Value};

use super::{json_path, substitute_region, EffectivePolicy};

/// The prefix of the names (and so IDs) of organization-managed plans.
pub const ORG_PLAN_PREFIX: &str = "orgs/";

/// The name an organization-managed plan has in an account.
pub fn managed_plan_name(policy_plan: &str) -> String {
    format!("{ORG_PLAN_PREFIX}{policy_plan}")
}

/// One plan an organization makes in one account and region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPlan {
    pub account: AccountId,
    pub region: Region,
    /// The plan's key in the policy (`plans.<name>`).
    pub policy_plan: String,
    /// Named `orgs/<policy plan>`.
    pub plan: BackupPlan,
    /// Each names the plan as `backup_plan_name`.
    pub selections: Vec<BackupSelection>,
}

/// A plan of an effective policy that makes no plan in an account (or in
/// one of its regions): what is wrong, at its JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmadePlan {
    pub account: AccountId,
    /// The region, when the problem is one region's.
    pub region: Option<String>,
    pub plan: String,
    /// The JSON path (`plans.p.rules.r.lifecycle`).
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for UnmadePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}", self.account)?;
        if let Some(region) = &self.region {
            write!(f, ", region {region}")?;
        }
        write!(
            f,
            ": {}: {}: plan {:?} is not made and backs nothing up until fixed",
            self.path, self.message, self.plan
        )
    }
}

/// The plans `effective` makes, and the plans it cannot make. Plans the
/// effective policy already reports as not valid
/// ([`EffectivePolicy::invalid_plans`]) are left out without a second
/// report.
pub fn managed_plans(effective: &EffectivePolicy) -> (Vec<ManagedPlan>, Vec<UnmadePlan>) {
    let invalid: BTreeSet<&str> = effective
        .invalid_plans
        .iter()
        .map(|p| p.plan.as_str())
        .collect();
    let mut made = Vec::new();
    let mut unmade = Vec::new();
    let Some(plans) = effective.content.get("plans").and_then(Value::as_object) else {
        return (made, unmade);
    };
    for (name, body) in plans {
        if invalid.contains(name.as_str()) {
            continue;
        }
        let regions: Vec<&str> = body
            .get("regions")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for region_text in regions {
            let mut problem = |path: String, message: String| {
                unmade.push(UnmadePlan {
                    account: effective.account.clone(),
                    region: Some(region_text.to_string()),
                    plan: name.clone(),
                    path,
                    message,
                });
            };
            let region = match Region::new(region_text) {
                Ok(region) => region,
                Err(err) => {
                    problem(format!("plans.{name}.regions"), err.to_string());
                    continue;
                }
            };
            let body = substitute_region(body, region.as_str());
            let mut reader = Reader {
                base: vec!["plans".into(), name.clone()],
                problems: Vec::new(),
            };
            let built = reader.plan(name, &body);
            if !reader.problems.is_empty() {
                for (path, message) in reader.problems {
                    problem(path, message);
                }
                continue;
            }
            let Some((mut plan, mut selections)) = built else {
                continue;
            };
            // The model checks the plan as `apply` checks a template's,
            // under its policy name (a plan name holds no `/`).
            let mut findings = plan.validate();
            for selection in &selections {
                findings.extend_under(
                    &format!("selections.{}", selection.selection_name),
                    selection.validate(),
                );
            }
            let errors: Vec<String> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(ToString::to_string)
                .collect();
            if !errors.is_empty() {
                problem(format!("plans.{name}"), errors.join("; "));
                continue;
            }
            plan.backup_plan_name = managed_plan_name(name);
            for selection in &mut selections {
                selection.backup_plan_name = plan.backup_plan_name.clone();
            }
            made.push(ManagedPlan {
                account: effective.account.clone(),
                region,
                policy_plan: name.clone(),
                plan,
                selections,
            });
        }
    }
    (made, unmade)
}

/// Reads an effective plan into model values, noting each problem at its
/// JSON path.
struct Reader {
    base: Vec<String>,
    problems: Vec<(String, String)>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn map(value: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::iter)
}

impl Reader {
    fn path(&self, rest: &[&str]) -> String {
        let mut path = self.base.clone();
        path.extend(rest.iter().map(|s| (*s).to_string()));
        json_path(&path)
    }

    fn problem(&mut self, rest: &[&str], message: String) {
        let path = self.path(rest);
        self.problems.push((path, message));
    }

    fn text(&mut self, value: Option<&Value>, rest: &[&str]) -> Option<String> {
        let value = value?;
        let found = text(value);
        if found.is_none() {
            self.problem(rest, format!("expected one value, found {value}"));
        }
        found
    }

    fn number<T: std::str::FromStr>(&mut self, value: Option<&Value>, rest: &[&str]) -> Option<T> {
        let raw = self.text(value, rest)?;
        match raw.trim().parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problem(
                    rest,
                    format!("{raw:?} is not a whole number of the allowed range"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, value: Option<&Value>, rest: &[&str]) -> Option<bool> {
        let raw = self.text(value, rest)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.problem(rest, format!("{raw:?} is neither true nor false"));
                None
            }
        }
    }

    fn list(value: Option<&Value>) -> Vec<String> {
        match value {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
            Some(one) => text(one).into_iter().collect(),
        }
    }

    fn lifecycle(&mut self, value: Option<&Value>, rest: &[&str]) -> Lifecycle {
        let field = |name: &'static str| -> Vec<&str> {
            let mut path = rest.to_vec();
            path.push(name);
            path
        };
        Lifecycle {
            move_to_cold_storage_after_days: self.number(
                value.and_then(|v| v.get("move_to_cold_storage_after_days")),
                &field("move_to_cold_storage_after_days"),
            ),
            delete_after_days: self.number(
                value.and_then(|v| v.get("delete_after_days")),
                &field("delete_after_days"),
            ),
            opt_in_to_archive_for_supported_resources: self
                .boolean(
                    value.and_then(|v| v.get("opt_in_to_archive_for_supported_resources")),
                    &field("opt_in_to_archive_for_supported_resources"),
                )
                .unwrap_or(false),
        }
    }

    fn tags(&mut self, value: Option<&Value>, rest: &[&str]) -> Tags {
        let mut tags = Tags::new();
        for (entry, body) in map(value) {
            let mut path = rest.to_vec();
            path.push(entry);
            let key = self.text(body.get("tag_key"), &[&path[..], &["tag_key"]].concat());
            let value = self.text(body.get("tag_value"), &[&path[..], &["tag_value"]].concat());
            match (key, value) {
                (Some(key), Some(value)) => {
                    tags.insert(key, value);
                }
                _ => self.problem(&path, "a tag needs tag_key and tag_value".into()),
            }
        }
        tags
    }

    fn rule(&mut self, name: &str, body: &Value) -> BackupRule {
        let at = |field: &'static str| -> Vec<&str> { vec!["rules", name, field] };
        let mut copy_actions = Vec::new();
        for (key, copy) in map(body.get("copy_actions")) {
            let arn = self
                .text(
                    copy.get("target_backup_vault_arn"),
                    &[
                        "rules",
                        name,
                        "copy_actions",
                        key,
                        "target_backup_vault_arn",
                    ],
                )
                .unwrap_or_else(|| key.clone());
            let lifecycle = self.lifecycle(
                copy.get("lifecycle"),
                &["rules", name, "copy_actions", key, "lifecycle"],
            );
            copy_actions.push(CopyAction {
                destination_backup_vault_arn: arn,
                lifecycle,
            });
        }
        BackupRule {
            rule_name: name.to_string(),
            target_backup_vault_name: self
                .text(
                    body.get("target_backup_vault_name"),
                    &at("target_backup_vault_name"),
                )
                .unwrap_or_default(),
            schedule_expression: self
                .text(body.get("schedule_expression"), &at("schedule_expression"))
                .unwrap_or_default(),
            schedule_expression_timezone: self.text(
                body.get("schedule_expression_timezone"),
                &at("schedule_expression_timezone"),
            ),
            start_window_minutes: self
                .number(
                    body.get("start_backup_window_minutes"),
                    &at("start_backup_window_minutes"),
                )
                .unwrap_or(DEFAULT_START_WINDOW_MINUTES),
            completion_window_minutes: self
                .number(
                    body.get("complete_backup_window_minutes"),
                    &at("complete_backup_window_minutes"),
                )
                .unwrap_or(DEFAULT_COMPLETION_WINDOW_MINUTES),
            lifecycle: self.lifecycle(body.get("lifecycle"), &at("lifecycle")),
            recovery_point_tags: self
                .tags(body.get("recovery_point_tags"), &at("recovery_point_tags")),
            copy_actions,
            enable_continuous_backup: self
                .boolean(
                    body.get("enable_continuous_backup"),
                    &at("enable_continuous_backup"),
                )
                .unwrap_or(false),
        }
    }

    fn conditions(&mut self, value: Option<&Value>, rest: &[&str]) -> Conditions {
        let mut out = Conditions::default();
        for (group, target) in [
            ("string_equals", &mut out.string_equals),
            ("string_not_equals", &mut out.string_not_equals),
            ("string_like", &mut out.string_like),
            ("string_not_like", &mut out.string_not_like),
        ] {
            for (entry, body) in map(value.and_then(|v| v.get(group))) {
                let path: Vec<&str> = [rest, &[group, entry.as_str()]].concat();
                let key = self.text(body.get("condition_key"), &path);
                let value = self.text(body.get("condition_value"), &path);
                match (key, value) {
                    (Some(condition_key), Some(condition_value)) => {
                        target.push(ConditionParameter {
                            condition_key,
                            condition_value,
                        })
                    }
                    _ => self.problem(
                        &path,
                        "a condition needs condition_key and condition_value".into(),
                    ),
                }
            }
        }
        out
    }

    fn patterns(&mut self, values: Vec<String>, rest: &[&str]) -> Vec<ArnPattern> {
        let mut out = Vec::new();
        for value in values {
            match ArnPattern::parse(&value) {
                Ok(pattern) => out.push(pattern),
                Err(err) => self.problem(rest, err.to_string()),
            }
        }
        out
    }

    fn selections(&mut self, plan: &str, body: &Value) -> Vec<BackupSelection> {
        let mut out = Vec::new();
        let selections = body.get("selections");
        for (name, s) in map(selections.and_then(|v| v.get("tags"))) {
            let at = |field: &'static str| -> Vec<&str> { vec!["selections", "tags", name, field] };
            let key = self
                .text(s.get("tag_key"), &at("tag_key"))
                .unwrap_or_default();
            let values = Self::list(s.get("tag_value"));
            out.push(BackupSelection {
                selection_name: name.clone(),
                backup_plan_name: plan.to_string(),
                iam_role_arn: self
                    .text(s.get("iam_role_arn"), &at("iam_role_arn"))
                    .unwrap_or_default(),
                resources: Vec::new(),
                not_resources: Vec::new(),
                list_of_tags: values
                    .into_iter()
                    .map(|value| TagCondition {
                        condition_type: "STRINGEQUALS".into(),
                        condition_key: key.clone(),
                        condition_value: value,
                    })
                    .collect(),
                conditions: self.conditions(s.get("conditions"), &at("conditions")),
            });
        }
        for (name, s) in map(selections.and_then(|v| v.get("resources"))) {
            let at =
                |field: &'static str| -> Vec<&str> { vec!["selections", "resources", name, field] };
            let resources = Self::list(s.get("resource_types"));
            let not_resources = Self::list(s.get("not_resource_types"));
            out.push(BackupSelection {
                selection_name: name.clone(),
                backup_plan_name: plan.to_string(),
                iam_role_arn: self
                    .text(s.get("iam_role_arn"), &at("iam_role_arn"))
                    .unwrap_or_default(),
                resources: self.patterns(resources, &at("resource_types")),
                not_resources: self.patterns(not_resources, &at("not_resource_types")),
                list_of_tags: Vec::new(),
                conditions: self.conditions(s.get("conditions"), &at("conditions")),
            });
        }
        out
    }

    fn advanced(&mut self, body: &Value) -> Vec<AdvancedBackupSetting> {
        let mut out = Vec::new();
        let settings = body.get("advanced_backup_settings");
        for (group, resource_type, options) in [
            ("ec2", "EC2", &[("windows_vss", "WindowsVSS")][..]),
            (
                "s3",
                "S3",
                &[
                    ("backup_acls", "BackupACLs"),
                    ("backup_object_tags", "BackupObjectTags"),
                ][..],
            ),
        ] {
            let Some(entry) = settings.and_then(|s| s.get(group)) else {
                continue;
            };
            let mut backup_options = std::collections::BTreeMap::new();
            for (key, aws) in options {
                if let Some(value) =
                    self.text(entry.get(*key), &["advanced_backup_settings", group, key])
                {
                    backup_options.insert((*aws).to_string(), value);
                }
            }
            if !backup_options.is_empty() {
                out.push(AdvancedBackupSetting {
                    resource_type: resource_type.to_string(),
                    backup_options,
                });
            }
        }
        out
    }

    fn plan(&mut self, name: &str, body: &Value) -> Option<(BackupPlan, Vec<BackupSelection>)> {
        let rules = map(body.get("rules"))
            .map(|(rule, rule_body)| self.rule(rule, rule_body))
            .collect::<Vec<_>>();
        let plan = BackupPlan {
            backup_plan_name: name.to_string(),
            rules,
            advanced_backup_settings: self.advanced(body),
            backup_plan_tags: self.tags(body.get("backup_plan_tags"), &["backup_plan_tags"]),
        };
        let selections = self.selections(name, body);
        Some((plan, selections))
    }
}
