//! Restore testing plans and selections: scheduled restore drills.

use serde::{Deserialize, Serialize};

use crate::arn::{Arn, ArnPattern};
use crate::finding::{did_you_mean, Findings};
use crate::names::{AccountId, Region};
use crate::resource::{Resource, ResourceType, TypeName};
use crate::schedule::{Schedule, ScheduleExpression};
use crate::selection::RESOURCE_TAG_PREFIX;

/// Start window default and maximum, in hours.
pub const DEFAULT_RESTORE_TEST_START_WINDOW_HOURS: u32 = 24;
pub const MAX_RESTORE_TEST_START_WINDOW_HOURS: u32 = 168;
/// Selection window default and bounds, in days.
pub const DEFAULT_SELECTION_WINDOW_DAYS: u32 = 30;
pub const MAX_SELECTION_WINDOW_DAYS: u32 = 365;
/// Validation window maximum, in hours.
pub const MAX_VALIDATION_WINDOW_HOURS: u32 = 168;
/// At most this many explicit resource ARNs per selection.
pub const MAX_PROTECTED_RESOURCE_ARNS: usize = 30;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTestingPlan {
    pub restore_testing_plan_name: String,
    pub schedule_expression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    pub start_window_hours: u32,
    pub recovery_point_selection: RestoreTestingRecoveryPointSelection,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTestingRecoveryPointSelection {
    /// `LATEST_WITHIN_WINDOW` or `RANDOM_WITHIN_WINDOW`.
    pub algorithm: String,
    /// `["*"]`, vault ARNs, or vault ARN patterns.
    pub include_vaults: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_vaults: Vec<String>,
    /// `SNAPSHOT` and/or `CONTINUOUS`.
    pub recovery_point_types: Vec<String>,
    pub selection_window_days: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTestingSelection {
    pub restore_testing_selection_name: String,
    pub restore_testing_plan_name: String,
    pub protected_resource_type: String,
    pub iam_role_arn: String,
    /// Explicit ARNs (at most 30), or `["*"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_resource_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_resource_conditions_string_equals: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_resource_conditions_string_not_equals: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub restore_metadata_overrides: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_window_hours: Option<u32>,
    /// What a test runs against the restored copy besides Coffer's own
    /// validation. A Coffer extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coffer_validation_hook: Option<ValidationHook>,
}

/// A restore test's own check of the restored copy (a Coffer extension,
/// `CofferValidationHook` in a template): a command, or an SQL query
/// whose result must be `Expect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationHook {
    /// A program and its arguments, run with the restored place in
    /// `COFFER_RESTORED` (a path, or the database's name) and
    /// `COFFER_RESTORED_ADDRESS` (a path or `postgresql://...`); it passes
    /// when it exits 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// A query run in the restored database (SQLite, PostgreSQL, MySQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// What the query must return: rows on lines, columns joined by `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// The ARN of a restore testing plan.
pub fn restore_testing_plan_arn(region: &Region, account: &AccountId, name: &str) -> Arn {
    Arn::new(
        "backup",
        region.as_str(),
        account.as_str(),
        &format!("restore-testing-plan:{name}"),
    )
}

impl RestoreTestingRecoveryPointSelection {
    /// Whether a point in the vault `vault_arn` may be tested: an
    /// `IncludeVaults` entry matches it and no `ExcludeVaults` one does.
    pub fn vault_allowed(&self, vault_arn: &str) -> bool {
        let matches = |patterns: &[String]| {
            patterns
                .iter()
                .any(|p| ArnPattern::parse(p).is_ok_and(|p| p.matches_str(vault_arn)))
        };
        matches(&self.include_vaults) && !matches(&self.exclude_vaults)
    }
}

impl RestoreTestingSelection {
    /// Whether this selection tests `resource` (its type, then its ARN or
    /// the conditions on its tags).
    pub fn selects(&self, resource: &Resource) -> bool {
        let types = match ResourceType::resolve_name(&self.protected_resource_type) {
            Ok(TypeName::Types(types)) => types,
            _ => return false,
        };
        if !types.contains(&resource.resource_type) {
            return false;
        }
        let arn = resource.resource_arn.to_string();
        let by_arn = self.protected_resource_arns.is_empty()
            || self
                .protected_resource_arns
                .iter()
                .any(|a| a == "*" || *a == arn);
        if !by_arn {
            return false;
        }
        let tag = |key: &str| {
            let key = key.strip_prefix(RESOURCE_TAG_PREFIX).unwrap_or(key);
            resource.tags.get(key).cloned()
        };
        self.protected_resource_conditions_string_equals
            .iter()
            .all(|kv| tag(&kv.key).as_deref() == Some(kv.value.as_str()))
            && self
                .protected_resource_conditions_string_not_equals
                .iter()
                .all(|kv| tag(&kv.key).as_deref() != Some(kv.value.as_str()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

fn check_name(findings: &mut Findings, field: &str, name: &str, max: usize) {
    let ok = !name.is_empty()
        && name.chars().count() <= max
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        let fixed: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(max)
            .collect();
        let finding = findings.error(
            field,
            format!("{field} {name:?} is not allowed: use 1-{max} letters, digits or '_', starting with a letter"),
        );
        if fixed != name && fixed.starts_with(|c: char| c.is_ascii_alphabetic()) {
            finding.hint(format!("e.g. {fixed:?}"));
        }
    }
}

impl RestoreTestingPlan {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        check_name(
            &mut findings,
            "RestoreTestingPlanName",
            &self.restore_testing_plan_name,
            50,
        );
        match self.schedule_expression.parse::<ScheduleExpression>() {
            Err(err) => {
                findings.error("ScheduleExpression", err.to_string());
            }
            Ok(expression) => {
                if let Err(err) = Schedule::new(
                    expression,
                    self.schedule_expression_timezone.as_deref(),
                    jiff::Timestamp::UNIX_EPOCH,
                ) {
                    findings.error("ScheduleExpressionTimezone", err.to_string());
                }
            }
        }
        if self.start_window_hours == 0
            || self.start_window_hours > MAX_RESTORE_TEST_START_WINDOW_HOURS
        {
            findings.error(
                "StartWindowHours",
                format!("StartWindowHours ({}) must be between 1 and {MAX_RESTORE_TEST_START_WINDOW_HOURS}", self.start_window_hours),
            );
        }
        let selection = &self.recovery_point_selection;
        let algorithms = ["LATEST_WITHIN_WINDOW", "RANDOM_WITHIN_WINDOW"];
        if !algorithms.contains(&selection.algorithm.as_str()) {
            let finding = findings.error(
                "RecoveryPointSelection.Algorithm",
                format!(
                    "Algorithm {:?} must be LATEST_WITHIN_WINDOW or RANDOM_WITHIN_WINDOW",
                    selection.algorithm
                ),
            );
            if let Some(s) = did_you_mean(&selection.algorithm, algorithms) {
                finding.hint(format!("did you mean {s:?}?"));
            }
        }
        if selection.include_vaults.is_empty() {
            findings
                .error(
                    "RecoveryPointSelection.IncludeVaults",
                    "IncludeVaults is required",
                )
                .hint("use [\"*\"] for every vault");
        }
        for (field, list) in [
            ("IncludeVaults", &selection.include_vaults),
            ("ExcludeVaults", &selection.exclude_vaults),
        ] {
            for (idx, vault) in list.iter().enumerate() {
                let path = format!("RecoveryPointSelection.{field}[{idx}]");
                match ArnPattern::parse(vault) {
                    Err(err) => {
                        findings
                            .error(path, format!("{field} entry {vault:?} is not a vault ARN or pattern: {}", err.reason))
                            .hint("use \"*\", a vault ARN such as arn:coffer:backup:<region>:<account>:backup-vault:<name>, or a pattern such as arn:coffer:backup:*:*:backup-vault:prod-*");
                    }
                    Ok(p)
                        if vault != "*"
                            && !p.as_str().contains(":backup-vault:")
                            && !p.as_str().ends_with('*') =>
                    {
                        findings
                            .error(path, format!("{field} entry {vault:?} does not name a backup vault"))
                            .hint("vault ARNs read arn:coffer:backup:<region>:<account>:backup-vault:<name>");
                    }
                    Ok(_) => {}
                }
            }
        }
        if selection.recovery_point_types.is_empty() {
            findings.error(
                "RecoveryPointSelection.RecoveryPointTypes",
                "RecoveryPointTypes needs SNAPSHOT and/or CONTINUOUS",
            );
        }
        for (idx, kind) in selection.recovery_point_types.iter().enumerate() {
            if kind != "SNAPSHOT" && kind != "CONTINUOUS" {
                findings.error(
                    format!("RecoveryPointSelection.RecoveryPointTypes[{idx}]"),
                    format!("{kind:?} must be SNAPSHOT or CONTINUOUS"),
                );
            }
        }
        if selection.selection_window_days == 0
            || selection.selection_window_days > MAX_SELECTION_WINDOW_DAYS
        {
            findings.error(
                "RecoveryPointSelection.SelectionWindowDays",
                format!(
                    "SelectionWindowDays ({}) must be between 1 and {MAX_SELECTION_WINDOW_DAYS}",
                    selection.selection_window_days
                ),
            );
        }
        findings
    }
}

impl RestoreTestingSelection {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        check_name(
            &mut findings,
            "RestoreTestingSelectionName",
            &self.restore_testing_selection_name,
            50,
        );
        match ResourceType::resolve_name(&self.protected_resource_type) {
            Ok(TypeName::Types(types)) if types.len() == 1 => {}
            Ok(TypeName::Types(_)) => {
                findings
                    .error(
                        "ProtectedResourceType",
                        format!("{:?} stands for several Coffer types; a restore testing selection tests one type", self.protected_resource_type),
                    )
                    .hint("use PostgreSQL or MySQL");
            }
            Ok(TypeName::NoDriver(name)) => {
                findings.warning(
                    "ProtectedResourceType",
                    format!("{name} is an AWS resource type Coffer has no driver for; this selection tests nothing"),
                );
            }
            Err(message) => {
                findings.error("ProtectedResourceType", message);
            }
        }
        let arns = &self.protected_resource_arns;
        if arns.iter().any(|a| a == "*") && arns.len() > 1 {
            findings.error(
                "ProtectedResourceArns",
                "ProtectedResourceArns is either [\"*\"] or a list of ARNs, not both",
            );
        }
        if arns.len() > MAX_PROTECTED_RESOURCE_ARNS {
            findings.error(
                "ProtectedResourceArns",
                format!(
                    "{} ARNs exceed the limit of {MAX_PROTECTED_RESOURCE_ARNS}",
                    arns.len()
                ),
            );
        }
        let has_conditions = !self.protected_resource_conditions_string_equals.is_empty()
            || !self
                .protected_resource_conditions_string_not_equals
                .is_empty();
        if has_conditions && arns.as_slice() != ["*"] {
            findings
                .error(
                    "ProtectedResourceConditions",
                    "ProtectedResourceConditions apply only with ProtectedResourceArns [\"*\"]",
                )
                .hint("set ProtectedResourceArns to [\"*\"]");
        }
        for (idx, arn) in arns.iter().enumerate() {
            if arn != "*" && Arn::parse(arn).is_err() {
                findings
                    .error(
                        format!("ProtectedResourceArns[{idx}]"),
                        format!("{arn:?} is not a resource ARN"),
                    )
                    .hint("use the resource's ARN as `coffer resources` shows it, or [\"*\"]");
            }
        }
        if let Some(hook) = &self.coffer_validation_hook {
            let database = matches!(
                ResourceType::resolve_name(&self.protected_resource_type),
                Ok(TypeName::Types(ref t)) if t.len() == 1 && matches!(t[0], ResourceType::SQLite | ResourceType::PostgreSQL | ResourceType::MySQL)
            );
            match (hook.command.is_empty(), &hook.sql) {
                (true, None) => {
                    findings
                        .error(
                            "CofferValidationHook",
                            "CofferValidationHook needs Command or Sql",
                        )
                        .hint(
                            "Command: [program, args...], or Sql: a query with Expect: its result",
                        );
                }
                (false, Some(_)) => {
                    findings.error(
                        "CofferValidationHook",
                        "CofferValidationHook has both Command and Sql: give one",
                    );
                }
                (true, Some(_)) if !database => {
                    findings
                        .error(
                            "CofferValidationHook.Sql",
                            format!(
                                "an SQL hook needs a database; {} is not one",
                                self.protected_resource_type
                            ),
                        )
                        .hint("use Command for files, directories and buckets");
                }
                (true, Some(_)) if hook.expect.is_none() => {
                    findings
                        .error(
                            "CofferValidationHook.Expect",
                            "an SQL hook needs Expect, the result the query must return",
                        )
                        .hint("rows on lines, columns joined by '|', e.g. Expect: \"42\"");
                }
                (false, None) if hook.expect.is_some() => {
                    findings.error(
                        "CofferValidationHook.Expect",
                        "Expect goes with Sql; a command passes by exiting 0",
                    );
                }
                _ => {}
            }
        }
        if let Ok(TypeName::Types(types)) =
            ResourceType::resolve_name(&self.protected_resource_type)
        {
            if let [kind] = types[..] {
                if let Err(refused) =
                    crate::restore_metadata::test_overrides(kind, &self.restore_metadata_overrides)
                {
                    for (key, why) in refused {
                        findings.error(
                            format!("RestoreMetadataOverrides.{key}"),
                            format!("RestoreMetadataOverrides key {key:?} is refused: {why}"),
                        );
                    }
                }
            }
        }
        if let Some(hours) = self.validation_window_hours {
            if hours > MAX_VALIDATION_WINDOW_HOURS {
                findings.error(
                    "ValidationWindowHours",
                    format!("ValidationWindowHours ({hours}) must be at most {MAX_VALIDATION_WINDOW_HOURS}"),
                );
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RestoreTestingPlan {
        RestoreTestingPlan {
            restore_testing_plan_name: "weekly_drill".into(),
            schedule_expression: "cron(0 5 ? * MON *)".into(),
            schedule_expression_timezone: Some("Europe/Paris".into()),
            start_window_hours: DEFAULT_RESTORE_TEST_START_WINDOW_HOURS,
            recovery_point_selection: RestoreTestingRecoveryPointSelection {
                algorithm: "LATEST_WITHIN_WINDOW".into(),
                include_vaults: vec!["*".into()],
                exclude_vaults: vec![],
                recovery_point_types: vec!["SNAPSHOT".into()],
                selection_window_days: DEFAULT_SELECTION_WINDOW_DAYS,
            },
        }
    }

    #[test]
    fn drill_plan_bounds_follow_aws() {
        assert!(plan().validate().is_empty());
        let mut p = plan();
        p.restore_testing_plan_name = "weekly-drill".into();
        p.start_window_hours = 200;
        p.recovery_point_selection.algorithm = "LATEST".into();
        let text: Vec<String> = p.validate().iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("e.g. \"weekly_drill\""), "{text:?}");
    }

    #[test]
    fn selection_arns_and_conditions_exclude_each_other() {
        let selection = RestoreTestingSelection {
            restore_testing_selection_name: "pg".into(),
            restore_testing_plan_name: "weekly_drill".into(),
            protected_resource_type: "PostgreSQL".into(),
            iam_role_arn: "arn:coffer:iam::1:role/r".into(),
            protected_resource_arns: vec!["arn:coffer:postgres:r:1:database/a/b".into()],
            protected_resource_conditions_string_equals: vec![KeyValue {
                key: "aws:ResourceTag/tier".into(),
                value: "critical".into(),
            }],
            protected_resource_conditions_string_not_equals: vec![],
            restore_metadata_overrides: Default::default(),
            validation_window_hours: Some(2),
            coffer_validation_hook: None,
        };
        assert!(selection.validate().has_errors());
        let mut ok = selection.clone();
        ok.protected_resource_arns = vec!["*".into()];
        assert!(ok.validate().is_empty());
        let mut rds = ok;
        rds.protected_resource_type = "RDS".into();
        assert!(rds.validate().has_errors());
    }
}
