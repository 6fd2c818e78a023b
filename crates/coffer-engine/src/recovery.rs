//! After a crash: the snapshots the previous process left half-done. (Its
//! jobs are settled by the daemon, `daemon::Daemon::recover`.)
//!
//! - A snapshot in a vault whose recovery point the catalog does not know,
//!   made by a job that is no longer running, is an orphan of such a crash:
//!   no reader counts it as a recovery point; the vault's reconciliation
//!   deletes it so that restic's listing matches the catalog.

use std::collections::BTreeSet;

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
