//! After a crash: what the previous process left half-done, and what to do.
//!
//! - A job the catalog shows RUNNING (or ABORTING) when the daemon starts
//!   was interrupted: nothing is running it any more. It ends FAILED (or
//!   ABORTED) with the reason; its recovery point was never recorded,
//!   because the row is written only after the snapshot is complete.
//! - A snapshot in a vault whose recovery point the catalog does not know,
//!   made by a job that is no longer running, is an orphan of such a crash:
//!   no reader counts it as a recovery point; the vault's reconciliation
//!   deletes it so that restic's listing matches the catalog.

use std::collections::BTreeSet;

use coffer_model::{BackupJob, BackupJobState};

/// What an interrupted job becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interrupted {
    pub job_id: String,
    pub next: BackupJobState,
    pub reason: String,
}

/// The jobs a restart finds interrupted.
pub fn interrupted(jobs: &[BackupJob]) -> Vec<Interrupted> {
    jobs.iter()
        .filter_map(|job| {
            let (next, reason) = match job.state {
                BackupJobState::Running => (
                    BackupJobState::Failed,
                    "interrupted: Coffer stopped while the backup ran; no recovery point was recorded, and any partial data is removed by the vault's reconciliation",
                ),
                BackupJobState::Aborting => (
                    BackupJobState::Aborted,
                    "interrupted while it was being stopped",
                ),
                _ => return None,
            };
            Some(Interrupted {
                job_id: job.backup_job_id.clone(),
                next,
                reason: reason.to_string(),
            })
        })
        .collect()
}

/// A vault snapshot as reconciliation sees it: its ID and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultSnapshot {
    pub id: String,
    pub tags: Vec<String>,
}

fn tag<'a>(snapshot: &'a VaultSnapshot, key: &str) -> Option<&'a str> {
    snapshot.tags.iter().find_map(|t| t.strip_prefix(key))
}

/// Snapshots to delete: made by Coffer (tagged with a recovery point),
/// whose recovery point the catalog does not hold as a snapshot, and whose
/// job is not running (a running job's snapshot is about to be recorded).
/// Snapshots without Coffer's tags are never touched.
pub fn orphans(
    snapshots: &[VaultSnapshot],
    recorded_snapshot_ids: &BTreeSet<String>,
    running_job_ids: &BTreeSet<String>,
) -> Vec<String> {
    snapshots
        .iter()
        .filter(|s| tag(s, "coffer-recovery-point:").is_some())
        .filter(|s| !recorded_snapshot_ids.contains(&s.id))
        .filter(|s| tag(s, "coffer-job:").is_none_or(|job| !running_job_ids.contains(job)))
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_jobs_found_at_start_were_interrupted() {
        let job = |id: &str, state| {
            let mut j: BackupJob = serde_json::from_value(serde_json::json!({
                "BackupJobId": id, "AccountId": "210987654321", "Region": "eu-west-1",
                "BackupVaultName": "primary", "ResourceArn": "arn:coffer:fs:eu-west-1:210987654321:filesystem/home",
                "ResourceType": "FileSystem", "State": "CREATED", "CreationDate": "2026-03-01T00:00:00Z"
            }))
            .unwrap_or_else(|e| panic!("{e}"));
            j.state = state;
            j
        };
        let found = interrupted(&[
            job("r", BackupJobState::Running),
            job("s", BackupJobState::Aborting),
            job("c", BackupJobState::Completed),
            job("n", BackupJobState::Created),
        ]);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].job_id.as_str(), found[0].next),
            ("r", BackupJobState::Failed)
        );
        assert!(found[0].reason.starts_with("interrupted"));
        assert_eq!(found[1].next, BackupJobState::Aborted);
    }

    #[test]
    fn orphans_are_coffer_snapshots_nobody_records_or_is_writing() {
        let snap = |id: &str, tags: &[&str]| VaultSnapshot {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        let snapshots = vec![
            snap("a", &["coffer-recovery-point:1", "coffer-job:J1"]),
            snap("b", &["coffer-recovery-point:2", "coffer-job:J2"]),
            snap("c", &["coffer-recovery-point:3", "coffer-job:J3"]),
            snap("d", &["made-by-hand"]),
        ];
        let recorded = BTreeSet::from(["a".to_string()]);
        let running = BTreeSet::from(["J3".to_string()]);
        assert_eq!(
            orphans(&snapshots, &recorded, &running),
            vec!["b".to_string()]
        );
    }
}
