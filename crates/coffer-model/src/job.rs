//! Backup, copy and restore jobs and their state machines, as AWS Backup
//! defines them.

use serde::{Deserialize, Serialize};

use crate::plan::Lifecycle;
use crate::resource::ResourceType;

/// `BackupJobState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupJobState {
    Created,
    Pending,
    Running,
    Aborting,
    Aborted,
    Completed,
    Failed,
    Expired,
    Partial,
}

impl BackupJobState {
    pub fn is_terminal(self) -> bool {
        use BackupJobState::*;
        matches!(self, Aborted | Completed | Failed | Expired | Partial)
    }

    /// Whether the state machine allows `self → next`.
    ///
    /// CREATED waits for its start window (→ PENDING when queued behind
    /// another job of the same resource, → RUNNING, or → EXPIRED when the
    /// window closes); a running job ends COMPLETED, FAILED or PARTIAL, and
    /// any live job can be stopped through ABORTING. A failed attempt whose
    /// retry still fits in the start window returns RUNNING → PENDING: the
    /// retry is another attempt of the same job. A stop that comes after the
    /// recovery point was written is too late: ABORTING → COMPLETED.
    pub fn can_transition_to(self, next: BackupJobState) -> bool {
        use BackupJobState::*;
        matches!(
            (self, next),
            (Created, Pending | Running | Expired | Aborting | Failed)
                | (Pending, Running | Expired | Aborting | Failed)
                | (Running, Completed | Failed | Partial | Aborting | Pending)
                | (Aborting, Aborted | Failed | Completed)
        )
    }

    pub const fn as_str(self) -> &'static str {
        use BackupJobState::*;
        match self {
            Created => "CREATED",
            Pending => "PENDING",
            Running => "RUNNING",
            Aborting => "ABORTING",
            Aborted => "ABORTED",
            Completed => "COMPLETED",
            Failed => "FAILED",
            Expired => "EXPIRED",
            Partial => "PARTIAL",
        }
    }
}

/// `CopyJobState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CopyJobState {
    Created,
    Running,
    Completed,
    Failed,
    Partial,
}

impl CopyJobState {
    /// The state as AWS spells it (and the catalog stores it).
    pub const fn as_str(self) -> &'static str {
        match self {
            CopyJobState::Created => "CREATED",
            CopyJobState::Running => "RUNNING",
            CopyJobState::Completed => "COMPLETED",
            CopyJobState::Failed => "FAILED",
            CopyJobState::Partial => "PARTIAL",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CopyJobState::Completed | CopyJobState::Failed | CopyJobState::Partial
        )
    }

    pub fn can_transition_to(self, next: CopyJobState) -> bool {
        use CopyJobState::*;
        matches!(
            (self, next),
            (Created, Running | Failed) | (Running, Completed | Failed | Partial)
        )
    }
}

/// `RestoreJobStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestoreJobStatus {
    Pending,
    Running,
    Completed,
    Aborted,
    Failed,
}

impl RestoreJobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RestoreJobStatus::Completed | RestoreJobStatus::Aborted | RestoreJobStatus::Failed
        )
    }

    pub fn can_transition_to(self, next: RestoreJobStatus) -> bool {
        use RestoreJobStatus::*;
        matches!(
            (self, next),
            (Pending, Running | Aborted | Failed) | (Running, Completed | Aborted | Failed)
        )
    }
}

/// A backup job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupJob {
    pub backup_job_id: String,
    pub account_id: String,
    pub region: String,
    pub backup_vault_name: String,
    pub resource_arn: String,
    pub resource_type: ResourceType,
    pub state: BackupJobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub creation_date: jiff::Timestamp,
    /// Latest time the job may start (scheduled time + StartWindowMinutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_by: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_date: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_plan_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_rule_name: Option<String>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point_arn: Option<String>,
    #[serde(default)]
    pub backup_size_in_bytes: u64,
    #[serde(default)]
    pub percent_done: u8,
    /// When the job started running (its first attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<jiff::Timestamp>,
    /// The rule's CompletionWindowMinutes; the job is stopped when it has
    /// not finished that long after it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_window_minutes: Option<u64>,
    /// Each attempt and how it ended (retries inside the start window are
    /// attempts of the same job).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<JobAttempt>,
    /// The process running it (`PID@HOST`), so a restarted scheduler can
    /// tell a job left by a dead process from one another process runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
}

impl BackupJob {
    /// A new CREATED job backing up `resource_arn` into `vault`, nothing run
    /// yet (no start window, plan, lifecycle or attempts: set what applies).
    pub fn created(
        id: impl Into<String>,
        account_id: &str,
        region: &str,
        vault: &str,
        resource_arn: &str,
        resource_type: ResourceType,
        now: jiff::Timestamp,
    ) -> BackupJob {
        BackupJob {
            backup_job_id: id.into(),
            account_id: account_id.to_string(),
            region: region.to_string(),
            backup_vault_name: vault.to_string(),
            resource_arn: resource_arn.to_string(),
            resource_type,
            state: BackupJobState::Created,
            status_message: None,
            creation_date: now,
            start_by: None,
            completion_date: None,
            backup_plan_name: None,
            backup_rule_name: None,
            lifecycle: Lifecycle::default(),
            recovery_point_arn: None,
            backup_size_in_bytes: 0,
            percent_done: 0,
            started_at: None,
            completion_window_minutes: None,
            attempts: Vec::new(),
            runner: None,
        }
    }
}

/// One attempt of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobAttempt {
    pub started_at: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<jiff::Timestamp>,
    /// The error that ended it, in the resource's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A check of a vault's storage, as the daemon runs them on a schedule:
/// the structure, plus a rotating subset of the data read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultCheck {
    pub vault_check_id: String,
    pub account_id: String,
    pub region: String,
    pub backup_vault_name: String,
    pub started_at: jiff::Timestamp,
    pub completed_at: jiff::Timestamp,
    /// The part of the data read back (`n/m`, `all`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_data: Option<String>,
    pub passed: bool,
    /// What the check found wrong, in the engine's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Live recovery points of the vault whose snapshot is gone or is no
    /// longer theirs: point ID → what is wrong.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub faulty_recovery_points: std::collections::BTreeMap<String, String>,
    /// Coffer snapshots in the vault that no recovery point accounts for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unaccounted_snapshots: Vec<String>,
}

/// A copy job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyJob {
    pub copy_job_id: String,
    pub account_id: String,
    pub region: String,
    pub source_backup_vault_arn: String,
    pub source_recovery_point_arn: String,
    pub destination_backup_vault_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_recovery_point_arn: Option<String>,
    pub resource_arn: String,
    pub resource_type: ResourceType,
    pub state: CopyJobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub creation_date: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_date: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_backup_job_id: Option<String>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default)]
    pub backup_size_in_bytes: u64,
    /// The process running it (`PID@HOST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
}

/// A restore job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreJob {
    pub restore_job_id: String,
    pub account_id: String,
    pub region: String,
    pub recovery_point_arn: String,
    pub status: RestoreJobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub creation_date: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_date: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_resource_arn: Option<String>,
    pub resource_type: ResourceType,
    #[serde(default)]
    pub percent_done: u8,
    /// Set when the restore was a validation (`coffer restore validate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_status: Option<ValidationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_status_message: Option<String>,
    /// Where it restores, in words (a directory, a file, a database; for a
    /// validation, its scratch place), so the reason of a restore its
    /// process left half done names what may hold a partial restore.
    /// A Coffer extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_target: Option<String>,
    /// What the restore was asked, as StartRestoreJob's `Metadata` keys
    /// (`TargetDirectory`, `Path`, `TargetFile`, `TargetDatabase`,
    /// `Table`, `TargetServer`; for a bucket `TargetBucket`,
    /// `TargetPrefix`, `Key`, `TargetEndpoint`), whichever door asked;
    /// GetRestoreJobMetadata lists them back. A Coffer extension.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub restore_metadata: std::collections::BTreeMap<String, String>,
    /// The process running it (`PID@HOST`), as for backup jobs, so a
    /// restart can tell a restore left by a dead process. A Coffer
    /// extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// The restore testing plan that started it (AWS's `CreatedBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<RestoreJobCreator>,
    /// What became of a restore test's scratch target (AWS's
    /// `DeletionStatus`), with why when it failed or was removed late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_status: Option<DeletionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_status_message: Option<String>,
    /// How long the restore itself took, in milliseconds, measured by the
    /// process that ran it (validation and clean-up not counted); what
    /// RESTORE_TIME_FOR_RESOURCES_MEET_TARGET compares. A Coffer extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_duration_millis: Option<u64>,
}

impl RestoreJob {
    /// Whether a restore test's scratch target may exist: the test started
    /// (it is past PENDING) and its deletion has not succeeded.
    pub fn scratch_left(&self) -> bool {
        self.created_by.is_some()
            && self.status != RestoreJobStatus::Pending
            && self.deletion_status != Some(DeletionStatus::Successful)
    }

    /// Whether the restore proved the point recoverable: it completed and
    /// its validation succeeded.
    pub fn restored_and_validated(&self) -> bool {
        self.status == RestoreJobStatus::Completed
            && self.validation_status == Some(ValidationStatus::Successful)
    }
}

/// `RestoreJobCreator`: which restore testing plan created a restore job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreJobCreator {
    pub restore_testing_plan_arn: String,
}

/// `RestoreDeletionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeletionStatus {
    Deleting,
    Failed,
    Successful,
}

impl DeletionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionStatus::Deleting => "DELETING",
            DeletionStatus::Failed => "FAILED",
            DeletionStatus::Successful => "SUCCESSFUL",
        }
    }
}

/// `RestoreValidationStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValidationStatus {
    Failed,
    Successful,
    TimedOut,
    Validating,
}

impl ValidationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationStatus::Failed => "FAILED",
            ValidationStatus::Successful => "SUCCESSFUL",
            ValidationStatus::TimedOut => "TIMED_OUT",
            ValidationStatus::Validating => "VALIDATING",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_have_no_way_out() {
        use BackupJobState::*;
        let all = [
            Created, Pending, Running, Aborting, Aborted, Completed, Failed, Expired, Partial,
        ];
        for from in all {
            if from.is_terminal() {
                assert!(
                    all.iter().all(|to| !from.can_transition_to(*to)),
                    "{from:?}"
                );
            }
        }
        assert!(Created.can_transition_to(Expired));
        assert!(!Running.can_transition_to(Expired));
        assert!(Running.can_transition_to(Aborting) && Aborting.can_transition_to(Aborted));
        assert!(CopyJobState::Created.can_transition_to(CopyJobState::Running));
        assert!(!RestoreJobStatus::Completed.can_transition_to(RestoreJobStatus::Running));
    }

    #[test]
    fn states_serialize_as_aws_words() {
        assert_eq!(
            serde_json::to_string(&BackupJobState::Expired).unwrap(),
            "\"EXPIRED\""
        );
        assert_eq!(BackupJobState::Partial.as_str(), "PARTIAL");
        // The catalog's state column holds as_str; it must be the serde word.
        for state in [
            CopyJobState::Created,
            CopyJobState::Running,
            CopyJobState::Completed,
            CopyJobState::Failed,
            CopyJobState::Partial,
        ] {
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
    }
}
