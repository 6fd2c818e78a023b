//! Backup plans, rules, lifecycles and copy actions.

use serde::{Deserialize, Serialize};

use crate::finding::Findings;
use crate::names::NameKind;
use crate::resource::{check_tags, Tags};
use crate::schedule::{Schedule, ScheduleExpression};

/// Schedule used when a rule gives none (AWS's default).
pub const DEFAULT_SCHEDULE: &str = "cron(0 5 ? * * *)";
/// StartWindowMinutes default: 8 hours.
pub const DEFAULT_START_WINDOW_MINUTES: u64 = 480;
/// StartWindowMinutes, when given, must be at least one hour.
pub const MIN_START_WINDOW_MINUTES: u64 = 60;
/// Window maximum: 100 years.
pub const MAX_WINDOW_MINUTES: u64 = 52_560_000;
/// CompletionWindowMinutes default: 7 days.
pub const DEFAULT_COMPLETION_WINDOW_MINUTES: u64 = 10_080;
/// Recovery points spend at least 90 days in cold storage.
pub const MIN_COLD_STORAGE_DAYS: u32 = 90;
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Continuous (point-in-time) recovery points are kept 35 days at most.
pub const MAX_CONTINUOUS_RETENTION_DAYS: u32 = 35;

/// A backup plan: a named set of rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupPlan {
    pub backup_plan_name: String,
    pub rules: Vec<BackupRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advanced_backup_settings: Vec<AdvancedBackupSetting>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub backup_plan_tags: Tags,
}

/// One rule of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupRule {
    pub rule_name: String,
    pub target_backup_vault_name: String,
    pub schedule_expression: String,
    /// IANA time zone of the schedule; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    pub start_window_minutes: u64,
    pub completion_window_minutes: u64,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub recovery_point_tags: Tags,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_actions: Vec<CopyAction>,
    #[serde(default)]
    pub enable_continuous_backup: bool,
}

/// When a recovery point moves to cold storage and when it is deleted, in
/// days after creation. No `DeleteAfterDays` means kept forever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to_cold_storage_after_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_days: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opt_in_to_archive_for_supported_resources: bool,
}

/// A copy of each recovery point to another vault, with its own lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyAction {
    pub destination_backup_vault_arn: String,
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// Per-resource-type backup options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdvancedBackupSetting {
    pub resource_type: String,
    pub backup_options: std::collections::BTreeMap<String, String>,
}

impl Lifecycle {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Some(delete) = self.delete_after_days {
            if delete == 0 || delete > MAX_RETENTION_DAYS {
                findings.error(
                    "DeleteAfterDays",
                    format!(
                        "DeleteAfterDays ({delete}) must be between 1 and {MAX_RETENTION_DAYS}"
                    ),
                );
            }
        }
        if let Some(cold) = self.move_to_cold_storage_after_days {
            if cold > MAX_RETENTION_DAYS {
                findings.error(
                    "MoveToColdStorageAfterDays",
                    format!(
                        "MoveToColdStorageAfterDays ({cold}) must be at most {MAX_RETENTION_DAYS}"
                    ),
                );
            }
        }
        if let (Some(cold), Some(delete)) =
            (self.move_to_cold_storage_after_days, self.delete_after_days)
        {
            let needed = cold.saturating_add(MIN_COLD_STORAGE_DAYS);
            if delete < needed {
                findings
                    .error(
                        "",
                        format!(
                            "DeleteAfterDays ({delete}) must be at least {MIN_COLD_STORAGE_DAYS} days after MoveToColdStorageAfterDays ({cold})"
                        ),
                    )
                    .hint(format!("use {needed} or more"));
            }
        }
        findings
    }

    /// Retention in days (None: kept forever).
    pub fn retention_days(&self) -> Option<u32> {
        self.delete_after_days
    }
}

/// What AWS refuses in a schedule: fire times less than an hour apart
/// ("The interval between backup jobs shouldn't be less than 60 minutes";
/// every fire time is a backup job of its own); and what it accepts but
/// cannot work: a schedule that never fires.
fn schedule_warnings(expression: &ScheduleExpression, findings: &mut Findings) {
    let Ok(schedule) = Schedule::new(expression.clone(), None, jiff::Timestamp::UNIX_EPOCH) else {
        return;
    };
    let start: jiff::Timestamp = jiff::Timestamp::UNIX_EPOCH;
    let fires: Vec<jiff::Timestamp> = schedule.fire_times_after(start).take(64).collect();
    if fires.is_empty() {
        findings
            .warning(
                "ScheduleExpression",
                format!(
                    "{expression} never fires (no date matches it), so this rule never backs up"
                ),
            )
            .hint("check the day-of-month, month and year fields");
        return;
    }
    let shortest = fires
        .windows(2)
        .filter_map(|w| w[1].duration_since(w[0]).as_secs().checked_div(60))
        .min();
    if let Some(minutes) = shortest.filter(|m| *m < 60) {
        findings
            .error(
                "ScheduleExpression",
                format!("{expression} fires every {minutes} minutes, but the interval between backup jobs must be at least 60 minutes (each fire time is a backup job)"),
            )
            .hint("use an hourly or less frequent schedule, e.g. cron(0 * * * ? *)");
    }
}

/// Checks an IANA time zone name.
///
/// # Errors
/// The schedule error naming the zone, with a suggestion when one is close.
pub fn check_timezone(zone: &str) -> Result<(), crate::ScheduleError> {
    let expression: ScheduleExpression = DEFAULT_SCHEDULE.parse()?;
    Schedule::new(expression, Some(zone), jiff::Timestamp::UNIX_EPOCH).map(|_| ())
}

impl BackupRule {
    /// The rule's schedule, ready to iterate fire times.
    ///
    /// # Errors
    /// When the expression or time zone is invalid.
    pub fn schedule(&self, created_at: jiff::Timestamp) -> Result<Schedule, crate::ScheduleError> {
        let expression: ScheduleExpression = self.schedule_expression.parse()?;
        Schedule::new(
            expression,
            self.schedule_expression_timezone.as_deref(),
            created_at,
        )
    }

    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Err(err) = NameKind::BackupRule.check(&self.rule_name) {
            findings.error("RuleName", err.to_string());
        }
        if let Err(mut err) = NameKind::BackupVault.check(&self.target_backup_vault_name) {
            err.label = "backup vault name";
            findings.error("TargetBackupVaultName", err.to_string());
        }
        // The expression and the zone are checked separately, so a bad
        // expression does not hide a bad zone.
        match self.schedule_expression.parse::<ScheduleExpression>() {
            Err(err) => {
                findings.error("ScheduleExpression", err.to_string());
            }
            Ok(expression) => schedule_warnings(&expression, &mut findings),
        }
        if let Some(zone) = &self.schedule_expression_timezone {
            if let Err(err) = check_timezone(zone) {
                findings.error("ScheduleExpressionTimezone", err.to_string());
            }
        }
        if self.start_window_minutes < MIN_START_WINDOW_MINUTES
            || self.start_window_minutes > MAX_WINDOW_MINUTES
        {
            findings
                .error(
                    "StartWindowMinutes",
                    format!(
                        "StartWindowMinutes ({}) must be between {MIN_START_WINDOW_MINUTES} and {MAX_WINDOW_MINUTES}",
                        self.start_window_minutes
                    ),
                )
                .hint(format!("use 60 or more (the default is {DEFAULT_START_WINDOW_MINUTES})"));
        }
        if self.completion_window_minutes == 0
            || self.completion_window_minutes > MAX_WINDOW_MINUTES
        {
            findings.error(
                "CompletionWindowMinutes",
                format!(
                    "CompletionWindowMinutes ({}) must be between 1 and {MAX_WINDOW_MINUTES}",
                    self.completion_window_minutes
                ),
            );
        }
        findings.extend_under("Lifecycle", self.lifecycle.validate());
        if self.enable_continuous_backup {
            match self.lifecycle.delete_after_days {
                Some(days) if days <= MAX_CONTINUOUS_RETENTION_DAYS => {}
                other => {
                    let found = other
                        .map_or("no DeleteAfterDays (kept forever)".to_string(), |d| {
                            format!("DeleteAfterDays ({d})")
                        });
                    findings
                        .error(
                            "Lifecycle",
                            format!("continuous backups are kept at most {MAX_CONTINUOUS_RETENTION_DAYS} days, but the rule has {found}"),
                        )
                        .hint("set DeleteAfterDays to 35 or less, or turn off EnableContinuousBackup");
                }
            }
        }
        for (idx, action) in self.copy_actions.iter().enumerate() {
            let field = format!("CopyActions[{idx}]");
            match crate::Arn::parse(&action.destination_backup_vault_arn) {
                Ok(arn) if arn.backup_vault_name().is_some() => {}
                Ok(_) => {
                    findings
                        .error(
                            format!("{field}.DestinationBackupVaultArn"),
                            format!(
                                "{:?} is not a backup vault ARN",
                                action.destination_backup_vault_arn
                            ),
                        )
                        .hint("use arn:coffer:backup:<region>:<account>:backup-vault:<name>");
                }
                Err(err) => {
                    findings.error(
                        format!("{field}.DestinationBackupVaultArn"),
                        err.to_string(),
                    );
                }
            }
            findings.extend_under(&format!("{field}.Lifecycle"), action.lifecycle.validate());
        }
        for problem in check_tags(&self.recovery_point_tags) {
            findings.error("RecoveryPointTags", problem);
        }
        findings
    }
}

impl BackupPlan {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Err(err) = NameKind::BackupPlan.check(&self.backup_plan_name) {
            findings.error("BackupPlanName", err.to_string());
        }
        if self.rules.is_empty() {
            findings.error("Rules", "a backup plan needs at least one rule");
        }
        for (idx, rule) in self.rules.iter().enumerate() {
            findings.extend_under(&format!("Rules[{idx}]"), rule.validate());
            if self.rules[..idx]
                .iter()
                .any(|r| r.rule_name == rule.rule_name)
            {
                findings.error(
                    format!("Rules[{idx}].RuleName"),
                    format!(
                        "rule name {:?} is used twice in this plan; rule names must be unique",
                        rule.rule_name
                    ),
                );
            }
        }
        for problem in check_tags(&self.backup_plan_tags) {
            findings.error("BackupPlanTags", problem);
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> BackupRule {
        BackupRule {
            rule_name: "nightly".into(),
            target_backup_vault_name: "primary".into(),
            schedule_expression: "cron(30 1 * * ? *)".into(),
            schedule_expression_timezone: Some("Europe/Paris".into()),
            start_window_minutes: 60,
            completion_window_minutes: 240,
            lifecycle: Lifecycle {
                delete_after_days: Some(35),
                ..Lifecycle::default()
            },
            recovery_point_tags: Tags::new(),
            copy_actions: vec![],
            enable_continuous_backup: false,
        }
    }

    fn messages(findings: &Findings) -> Vec<String> {
        findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_rule_has_no_findings() {
        assert!(
            rule().validate().is_empty(),
            "{:?}",
            messages(&rule().validate())
        );
    }

    #[test]
    fn cold_storage_needs_ninety_days_before_delete() {
        let mut r = rule();
        r.lifecycle = Lifecycle {
            move_to_cold_storage_after_days: Some(30),
            delete_after_days: Some(100),
            ..Lifecycle::default()
        };
        let text = messages(&r.validate());
        assert_eq!(
            text,
            vec!["Lifecycle: DeleteAfterDays (100) must be at least 90 days after MoveToColdStorageAfterDays (30); use 120 or more"]
        );
    }

    #[test]
    fn short_start_window_and_bad_schedule_are_both_reported() {
        let mut r = rule();
        r.start_window_minutes = 30;
        r.schedule_expression = "cron(0 25 * * ? *)".into();
        let findings = r.validate();
        assert_eq!(findings.len(), 2, "{:?}", messages(&findings));
        assert!(messages(&findings)
            .iter()
            .any(|m| m.starts_with("StartWindowMinutes: StartWindowMinutes (30)")));
        assert!(messages(&findings)
            .iter()
            .any(|m| m.starts_with("ScheduleExpression:")));
    }

    #[test]
    fn schedules_faster_than_hourly_are_refused() {
        for (expression, expected) in [
            ("cron(0/15 * ? * * *)", "fires every 15 minutes"),
            ("rate(5 minutes)", "fires every 5 minutes"),
            ("cron(0,30 5 * * ? *)", "fires every 30 minutes"),
        ] {
            let mut r = rule();
            r.schedule_expression = expression.into();
            let findings = r.validate();
            assert!(findings.has_errors(), "{expression}");
            let text = messages(&findings);
            assert!(
                text.len() == 1
                    && text[0].contains(expected)
                    && text[0].contains("at least 60 minutes"),
                "{expression}: {text:?}"
            );
        }
    }

    #[test]
    fn schedules_never_firing_are_warned() {
        let mut r = rule();
        r.schedule_expression = "cron(0 5 31 2 ? *)".into();
        let findings = r.validate();
        assert!(!findings.has_errors());
        let text = messages(&findings);
        assert!(
            text.len() == 1 && text[0].contains("never fires"),
            "{text:?}"
        );
        let mut hourly = rule();
        hourly.schedule_expression = "cron(0 * * * ? *)".into();
        assert!(hourly.validate().is_empty());
    }

    #[test]
    fn a_bad_expression_does_not_hide_a_bad_zone() {
        let mut r = rule();
        r.schedule_expression = "cron(0 5 * * *)".into();
        r.schedule_expression_timezone = Some("Mars/Base".into());
        let text = messages(&r.validate());
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[1].starts_with("ScheduleExpressionTimezone:"),
            "{text:?}"
        );
    }

    #[test]
    fn continuous_backup_retention_is_capped() {
        let mut r = rule();
        r.enable_continuous_backup = true;
        r.lifecycle.delete_after_days = Some(90);
        assert!(r.validate().has_errors());
    }

    #[test]
    fn duplicate_rule_names_are_errors() {
        let plan = BackupPlan {
            backup_plan_name: "p".into(),
            rules: vec![rule(), rule()],
            advanced_backup_settings: vec![],
            backup_plan_tags: Tags::new(),
        };
        assert!(messages(&plan.validate())[0].starts_with("Rules[1].RuleName"));
    }
}
