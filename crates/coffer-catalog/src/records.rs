//! Run-time records: recovery points, backup / copy / restore jobs and legal
//! holds. Each is stored as its model document plus the columns queries
//! filter on, with a version for optimistic concurrency.

use coffer_model::{
    Arn, BackupJob, ControlResult, CopyJob, FrameworkEvaluation, LegalHold, RecoveryPoint,
    ReportJob, RestoreJob, VaultCheck,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::time::format_ts;

/// A column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// A model value stored in its own table.
pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    const TABLE: &'static str;
    const WHAT: &'static str;
    fn id(&self) -> &str;
    fn account_region(&self) -> (String, String);
    /// Indexed columns, besides id, account, region, doc and bookkeeping.
    fn columns(&self) -> Vec<(&'static str, Param)>;
    /// The record's state, as the evidence ledger records each write.
    fn evidence(&self) -> String;
}

fn text(value: &str) -> Param {
    Param::Text(value.to_string())
}

fn opt_ts(value: Option<jiff::Timestamp>) -> Param {
    Param::OptText(value.map(format_ts))
}

fn arn_account_region(arn: &str) -> (String, String) {
    Arn::parse(arn)
        .map(|a| (a.account().to_string(), a.region().to_string()))
        .unwrap_or_default()
}

fn upper(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Record for RecoveryPoint {
    const TABLE: &'static str = "recovery_points";
    const WHAT: &'static str = "recovery point";
    fn id(&self) -> &str {
        &self.recovery_point_id
    }
    fn account_region(&self) -> (String, String) {
        arn_account_region(&self.recovery_point_arn)
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("arn", text(&self.recovery_point_arn)),
            ("vault_name", text(&self.backup_vault_name)),
            ("resource_arn", text(&self.resource_arn)),
            ("resource_type", text(self.resource_type.as_str())),
            ("status", Param::Text(upper(&self.status))),
            ("storage_class", Param::Text(upper(&self.storage_class))),
            ("creation_date", Param::Text(format_ts(self.creation_date))),
            ("delete_at", opt_ts(self.calculated_lifecycle.delete_at)),
            (
                "move_to_cold_at",
                opt_ts(self.calculated_lifecycle.move_to_cold_storage_at),
            ),
            (
                "size_bytes",
                Param::Int(i64::try_from(self.backup_size_in_bytes).unwrap_or(i64::MAX)),
            ),
        ]
    }
    fn evidence(&self) -> String {
        upper(&self.status)
    }
}

impl Record for BackupJob {
    const TABLE: &'static str = "backup_jobs";
    const WHAT: &'static str = "backup job";
    fn id(&self) -> &str {
        &self.backup_job_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("vault_name", text(&self.backup_vault_name)),
            ("resource_arn", text(&self.resource_arn)),
            ("resource_type", text(self.resource_type.as_str())),
            ("state", text(self.state.as_str())),
            ("plan_name", Param::OptText(self.backup_plan_name.clone())),
            ("rule_name", Param::OptText(self.backup_rule_name.clone())),
            ("creation_date", Param::Text(format_ts(self.creation_date))),
            ("completion_date", opt_ts(self.completion_date)),
            (
                "recovery_point_arn",
                Param::OptText(self.recovery_point_arn.clone()),
            ),
        ]
    }
    fn evidence(&self) -> String {
        self.state.as_str().to_string()
    }
}

impl Record for CopyJob {
    const TABLE: &'static str = "copy_jobs";
    const WHAT: &'static str = "copy job";
    fn id(&self) -> &str {
        &self.copy_job_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("resource_arn", text(&self.resource_arn)),
            ("state", Param::Text(upper(&self.state))),
            (
                "source_recovery_point_arn",
                text(&self.source_recovery_point_arn),
            ),
            (
                "destination_vault_arn",
                text(&self.destination_backup_vault_arn),
            ),
            ("creation_date", Param::Text(format_ts(self.creation_date))),
            ("completion_date", opt_ts(self.completion_date)),
        ]
    }
    fn evidence(&self) -> String {
        upper(&self.state)
    }
}

impl Record for RestoreJob {
    const TABLE: &'static str = "restore_jobs";
    const WHAT: &'static str = "restore job";
    fn id(&self) -> &str {
        &self.restore_job_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("recovery_point_arn", text(&self.recovery_point_arn)),
            ("status", Param::Text(upper(&self.status))),
            ("creation_date", Param::Text(format_ts(self.creation_date))),
            ("completion_date", opt_ts(self.completion_date)),
            (
                "scratch",
                Param::OptText(self.scratch_left().then(|| "LEFT".to_string())),
            ),
        ]
    }
    fn evidence(&self) -> String {
        upper(&self.status)
    }
}

impl Record for LegalHold {
    const TABLE: &'static str = "legal_holds";
    const WHAT: &'static str = "legal hold";
    fn id(&self) -> &str {
        &self.legal_hold_id
    }
    fn account_region(&self) -> (String, String) {
        arn_account_region(&self.legal_hold_arn)
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![("status", Param::Text(upper(&self.status)))]
    }
    fn evidence(&self) -> String {
        upper(&self.status)
    }
}

impl Record for VaultCheck {
    const TABLE: &'static str = "vault_checks";
    const WHAT: &'static str = "vault check";
    fn id(&self) -> &str {
        &self.vault_check_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("vault_name", text(&self.backup_vault_name)),
            ("passed", Param::Int(i64::from(self.passed))),
            ("completed_at", Param::Text(format_ts(self.completed_at))),
        ]
    }
    fn evidence(&self) -> String {
        if self.passed {
            "PASSED".into()
        } else {
            "FAILED".into()
        }
    }
}

impl Record for ControlResult {
    const TABLE: &'static str = "control_results";
    const WHAT: &'static str = "control result";
    fn id(&self) -> &str {
        &self.result_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("framework_name", text(&self.framework_name)),
            ("control_name", text(&self.control_name)),
            ("resource_id", text(&self.resource_id)),
            ("status", text(self.status.as_str())),
            ("evaluated_at", Param::Text(format_ts(self.evaluated_at))),
        ]
    }
    fn evidence(&self) -> String {
        format!(
            "{} {} {}",
            self.framework_name,
            self.control_name,
            self.status.as_str()
        )
    }
}

impl Record for FrameworkEvaluation {
    const TABLE: &'static str = "framework_evaluations";
    const WHAT: &'static str = "framework evaluation";
    fn id(&self) -> &str {
        &self.evaluation_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("framework_name", text(&self.framework_name)),
            ("status", text(self.status.as_str())),
            ("evaluated_at", Param::Text(format_ts(self.evaluated_at))),
        ]
    }
    fn evidence(&self) -> String {
        format!(
            "{} {} ({} changed, {} retired)",
            self.framework_name,
            self.status.as_str(),
            self.results_changed,
            self.results_retired
        )
    }
}

impl Record for ReportJob {
    const TABLE: &'static str = "report_jobs";
    const WHAT: &'static str = "report job";
    fn id(&self) -> &str {
        &self.report_job_id
    }
    fn account_region(&self) -> (String, String) {
        (self.account_id.clone(), self.region.clone())
    }
    fn columns(&self) -> Vec<(&'static str, Param)> {
        vec![
            ("report_plan_name", text(&self.report_plan_name)),
            ("status", text(self.status.as_str())),
            ("creation_time", Param::Text(format_ts(self.creation_time))),
        ]
    }
    fn evidence(&self) -> String {
        format!("{} {}", self.report_template, self.status.as_str())
    }
}

/// A stored record with its bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored<R> {
    pub record: R,
    pub version: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}
