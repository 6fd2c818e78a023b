//! Control results: one control's verdict on one resource, kept with
//! history (evaluated by `coffer-audit`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A result's compliance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    NonCompliant,
    InsufficientData,
}

impl Compliance {
    pub fn as_str(self) -> &'static str {
        match self {
            Compliance::Compliant => "COMPLIANT",
            Compliance::NonCompliant => "NON_COMPLIANT",
            Compliance::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// One control's verdict on one resource (or plan, vault, point).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ControlResult {
    /// The result's own ID (results are kept with history).
    pub result_id: String,
    pub account_id: String,
    pub region: String,
    pub framework_name: String,
    pub control_name: String,
    /// What was evaluated: a resource, plan, vault or recovery point ARN.
    pub resource_id: String,
    /// `PostgreSQL`, `AWS::Backup::BackupPlan`, ...
    pub resource_type: String,
    pub status: Compliance,
    /// Why, in plain words (always for NON_COMPLIANT and INSUFFICIENT_DATA).
    pub reason: String,
    pub evaluated_at: Timestamp,
    /// IDs of the records the verdict rests on (plans, selections, points,
    /// jobs, vaults).
    pub evidence: Vec<String>,
}

/// One control's standing in a framework evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ControlSummary {
    pub control_name: String,
    /// COMPLIANT only when every result is; NON_COMPLIANT when one is.
    pub status: Compliance,
    pub compliant: u64,
    pub non_compliant: u64,
    pub insufficient_data: u64,
}

/// One evaluation of a framework: when it ran, what it found per control
/// and overall, and how many results changed. Results themselves are
/// recorded only when they change, so an evaluation of an unchanged
/// estate leaves this record and nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FrameworkEvaluation {
    pub evaluation_id: String,
    pub account_id: String,
    pub region: String,
    pub framework_name: String,
    pub status: Compliance,
    pub evaluated_at: Timestamp,
    pub controls: Vec<ControlSummary>,
    /// Results that differ from the current ones and were recorded.
    pub results_changed: u64,
    /// Current results of what is no longer evaluated (an expired point, a
    /// resource gone), removed.
    pub results_retired: u64,
}
