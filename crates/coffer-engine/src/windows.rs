//! Start and completion windows, as AWS Backup defines them.
//!
//! - A job that has not started by `start_by` (its fire time plus the
//!   rule's StartWindowMinutes) ends EXPIRED.
//! - A running job that has not finished CompletionWindowMinutes after it
//!   **started** is stopped and ends ABORTED with the reason. (AWS's
//!   BackupRule documentation counts from the start; StartBackupJob's
//!   counts from the scheduled time. Coffer follows the rule's definition,
//!   so a job that waited in its start window still gets its whole
//!   completion window.)

use coffer_model::{BackupJob, BackupJobState};
use jiff::{SignedDuration, Timestamp};

/// What a window's end does to a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowEnd {
    /// Never started in time: → EXPIRED.
    Expire { job_id: String, reason: String },
    /// Ran too long: → ABORTING, then ABORTED once stopped.
    Abort { job_id: String, reason: String },
}

/// When a running job must be stopped, if it has a completion window.
pub fn complete_by(job: &BackupJob) -> Option<Timestamp> {
    let started = job.started_at?;
    let minutes = i64::try_from(job.completion_window_minutes?).ok()?;
    started.checked_add(SignedDuration::from_mins(minutes)).ok()
}

/// The jobs whose window has ended at `now`.
pub fn ended_windows(jobs: &[BackupJob], now: Timestamp) -> Vec<WindowEnd> {
    let mut out = Vec::new();
    for job in jobs {
        match job.state {
            BackupJobState::Created | BackupJobState::Pending => {
                if let Some(start_by) = job.start_by.filter(|t| *t <= now) {
                    let attempts = match job.attempts.len() {
                        0 => String::new(),
                        n => {
                            let last = job
                                .attempts
                                .last()
                                .and_then(|a| a.error.clone())
                                .unwrap_or_default();
                            format!(" after {n} failed attempt(s); the last: {last}")
                        }
                    };
                    // A job queued behind another backup of its resource
                    // (one runs at a time) says which.
                    let behind = jobs
                        .iter()
                        .find(|other| {
                            other.resource_arn == job.resource_arn
                                && other.backup_job_id != job.backup_job_id
                                && matches!(
                                    other.state,
                                    BackupJobState::Running | BackupJobState::Aborting
                                )
                        })
                        .map(|other| {
                            format!(
                                "; it waited behind backup job {}, which was still backing up the resource",
                                other.backup_job_id
                            )
                        })
                        .unwrap_or_default();
                    out.push(WindowEnd::Expire {
                        job_id: job.backup_job_id.clone(),
                        reason: format!(
                            "the start window ended at {start_by} before the backup could start{attempts}{behind}"
                        ),
                    });
                }
            }
            BackupJobState::Running => {
                if let Some(deadline) = complete_by(job).filter(|t| *t <= now) {
                    out.push(WindowEnd::Abort {
                        job_id: job.backup_job_id.clone(),
                        reason: format!(
                            "the completion window of {} minutes ended at {deadline} and the backup had not finished; it was stopped",
                            job.completion_window_minutes.unwrap_or_default()
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_model::{JobAttempt, Lifecycle, ResourceType};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or_default()
    }

    fn job(id: &str, state: BackupJobState) -> BackupJob {
        BackupJob {
            backup_job_id: id.into(),
            account_id: "210987654321".into(),
            region: "eu-west-1".into(),
            backup_vault_name: "primary".into(),
            resource_arn: "arn:coffer:fs:eu-west-1:210987654321:filesystem/home".into(),
            resource_type: ResourceType::FileSystem,
            state,
            status_message: None,
            creation_date: at("2026-03-01T01:00:00Z"),
            start_by: Some(at("2026-03-01T02:00:00Z")),
            completion_date: None,
            backup_plan_name: Some("daily".into()),
            backup_rule_name: Some("nightly".into()),
            lifecycle: Lifecycle::default(),
            recovery_point_arn: None,
            backup_size_in_bytes: 0,
            percent_done: 0,
            started_at: None,
            completion_window_minutes: Some(120),
            attempts: Vec::new(),
            runner: None,
        }
    }

    #[test]
    fn a_job_not_started_in_its_window_expires_with_its_attempts() {
        let mut waiting = job("a", BackupJobState::Created);
        waiting.attempts.push(JobAttempt {
            started_at: at("2026-03-01T01:10:00Z"),
            ended_at: Some(at("2026-03-01T01:10:05Z")),
            error: Some("pg_dump: error: connection refused".into()),
        });
        assert!(
            ended_windows(std::slice::from_ref(&waiting), at("2026-03-01T01:59:59Z")).is_empty()
        );
        let ended = ended_windows(&[waiting], at("2026-03-01T02:00:00Z"));
        let [WindowEnd::Expire { job_id, reason }] = ended.as_slice() else {
            panic!("{ended:?}")
        };
        assert_eq!(job_id, "a");
        assert!(
            reason.contains(
                "after 1 failed attempt(s); the last: pg_dump: error: connection refused"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_job_queued_behind_another_of_its_resource_expires_saying_so() {
        let mut running = job("long", BackupJobState::Running);
        running.started_at = Some(at("2026-03-01T00:30:00Z"));
        running.completion_window_minutes = Some(600);
        let queued = job("next", BackupJobState::Created);
        let ended = ended_windows(&[running, queued], at("2026-03-01T02:00:00Z"));
        let [WindowEnd::Expire { job_id, reason }] = ended.as_slice() else {
            panic!("{ended:?}")
        };
        assert_eq!(job_id, "next");
        assert!(
            reason.ends_with(
                "it waited behind backup job long, which was still backing up the resource"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_running_job_is_stopped_a_completion_window_after_it_started() {
        let mut running = job("b", BackupJobState::Running);
        // Started late in its start window: the completion window counts from the start.
        running.started_at = Some(at("2026-03-01T01:50:00Z"));
        assert!(
            ended_windows(std::slice::from_ref(&running), at("2026-03-01T03:49:00Z")).is_empty()
        );
        let ended = ended_windows(&[running], at("2026-03-01T03:50:00Z"));
        let [WindowEnd::Abort { reason, .. }] = ended.as_slice() else {
            panic!("{ended:?}")
        };
        assert!(
            reason.contains("completion window of 120 minutes"),
            "{reason}"
        );
        let done = job("c", BackupJobState::Completed);
        assert!(ended_windows(&[done], at("2030-01-01T00:00:00Z")).is_empty());
    }
}
