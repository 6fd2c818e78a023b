//! What each snapshot in a vault is, for reconciliation: the decision, as
//! a value, over what the catalog and the ledger say. (Jobs a dead process
//! left are settled by the daemon, `daemon::Daemon::recover`.)
//!
//! A snapshot is removed only when a job the catalog and the ledger agree
//! on ended without recording it (an attempt that failed, was interrupted
//! or aborted after its snapshot was saved), or when the recovery point it
//! was made for records its data elsewhere (moved to the cold tier). A
//! Coffer snapshot nothing accounts for (its point's row is gone, its job
//! unknown or completed naming it, the catalog restored from an older
//! copy) is never removed: it is reported, and can be adopted back as a
//! recovery point. Snapshots without Coffer's tags are never touched.

use std::collections::{BTreeMap, BTreeSet};

/// A vault snapshot as reconciliation sees it: its ID and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultSnapshot {
    pub id: String,
    pub tags: Vec<String>,
}

impl VaultSnapshot {
    /// The value of Coffer's tag `key` (`coffer-recovery-point:`...).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find_map(|t| t.strip_prefix(key))
    }

    /// The recovery point Coffer made this snapshot for, if Coffer made it.
    pub fn recovery_point_id(&self) -> Option<&str> {
        self.tag("coffer-recovery-point:")
    }

    /// The backup or copy job that made it.
    pub fn job_id(&self) -> Option<&str> {
        self.tag("coffer-job:")
    }
}

/// What the catalog holds of the recovery point a snapshot was made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointFacts {
    /// The snapshot the row records.
    pub snapshot_id: Option<String>,
    /// Where the row says its data is, when not in the vault (cold tier).
    pub storage_location: Option<String>,
    /// The ledger's newest entry about the point recorded this row.
    pub ledger_agrees: bool,
}

/// What the catalog holds of the job that made a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFacts {
    /// Its state, as AWS names it (`FAILED`, `PENDING`...).
    pub state: String,
    /// Every attempt it made has ended, at least one without a point
    /// (failed or interrupted), or it ended FAILED, ABORTED or EXPIRED:
    /// an ended attempt never records its point later.
    pub ended_without_a_point: bool,
    /// The recovery point it records as its result, if any.
    pub recovery_point_id: Option<String>,
    /// The ledger's newest entry about the job recorded this row.
    pub ledger_agrees: bool,
}

/// What a snapshot is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Made by hand, or by anything but Coffer: never touched.
    Foreign,
    /// Its recovery point records it.
    Recorded,
    /// Its job is writing now: its point is about to be recorded.
    Writing,
    /// Left by a job that ended without recording it: removed.
    Abandoned { job_id: String, state: String },
    /// Its recovery point records its data elsewhere (the cold tier): this
    /// copy was left by the move, and is removed.
    Superseded { recovery_point_id: String },
    /// Nothing accounts for it: kept, reported, adoptable.
    Unaccounted {
        recovery_point_id: String,
        job_id: Option<String>,
        why: String,
    },
}

impl Verdict {
    /// Whether reconciliation removes the snapshot.
    pub fn removes(&self) -> bool {
        matches!(self, Verdict::Abandoned { .. } | Verdict::Superseded { .. })
    }
}

/// Decides what `snapshot` is from what the catalog and ledger say of its
/// recovery point (`points`, by point ID) and its job (`jobs`, by job ID),
/// and which jobs are writing now (`running`).
pub fn verdict(
    snapshot: &VaultSnapshot,
    points: &BTreeMap<String, PointFacts>,
    jobs: &BTreeMap<String, JobFacts>,
    running: &BTreeSet<String>,
) -> Verdict {
    let Some(point_id) = snapshot.recovery_point_id() else {
        return Verdict::Foreign;
    };
    let job_id = snapshot.job_id();
    let unaccounted = |why: String| Verdict::Unaccounted {
        recovery_point_id: point_id.to_string(),
        job_id: job_id.map(str::to_string),
        why,
    };
    if let Some(point) = points.get(point_id) {
        if point.snapshot_id.as_deref() == Some(snapshot.id.as_str()) {
            return Verdict::Recorded;
        }
        if point.storage_location.is_some() && point.ledger_agrees {
            return Verdict::Superseded {
                recovery_point_id: point_id.to_string(),
            };
        }
        return unaccounted(format!(
            "recovery point {point_id} records another snapshot{}",
            if point.ledger_agrees {
                ""
            } else {
                ", and the ledger does not vouch for its row"
            }
        ));
    }
    let Some(job_id) = job_id else {
        return unaccounted(format!(
            "no recovery point {point_id} is recorded and the snapshot names no job"
        ));
    };
    if running.contains(job_id) {
        return Verdict::Writing;
    }
    let Some(job) = jobs.get(job_id) else {
        return unaccounted(format!(
            "no recovery point {point_id} is recorded and the catalog knows no job {job_id}"
        ));
    };
    if job.recovery_point_id.as_deref() == Some(point_id) {
        return unaccounted(format!(
            "job {job_id} completed with recovery point {point_id}, whose row is missing"
        ));
    }
    if !job.ended_without_a_point {
        return unaccounted(format!(
            "no recovery point {point_id} is recorded and job {job_id} is {} with no failed attempt",
            job.state
        ));
    }
    if !job.ledger_agrees {
        return unaccounted(format!(
            "job {job_id} is recorded {}, but the ledger does not vouch for its row",
            job.state
        ));
    }
    Verdict::Abandoned {
        job_id: job_id.to_string(),
        state: job.state.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, tags: &[&str]) -> VaultSnapshot {
        VaultSnapshot {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn job(state: &str, ended: bool, point: Option<&str>, agrees: bool) -> JobFacts {
        JobFacts {
            state: state.into(),
            ended_without_a_point: ended,
            recovery_point_id: point.map(str::to_string),
            ledger_agrees: agrees,
        }
    }

    #[track_caller]
    fn check(snapshot: VaultSnapshot, jobs: &[(&str, JobFacts)], expect: &str) {
        let points = BTreeMap::from([
            (
                "live".to_string(),
                PointFacts {
                    snapshot_id: Some("s-live".into()),
                    storage_location: None,
                    ledger_agrees: true,
                },
            ),
            (
                "cold".to_string(),
                PointFacts {
                    snapshot_id: Some("s-in-cold".into()),
                    storage_location: Some("/cold".into()),
                    ledger_agrees: true,
                },
            ),
        ]);
        let jobs: BTreeMap<String, JobFacts> = jobs
            .iter()
            .map(|(id, facts)| (id.to_string(), facts.clone()))
            .collect();
        let running = BTreeSet::from(["J-running".to_string()]);
        let got = verdict(&snapshot, &points, &jobs, &running);
        let name = match &got {
            Verdict::Foreign => "foreign",
            Verdict::Recorded => "recorded",
            Verdict::Writing => "writing",
            Verdict::Abandoned { .. } => "abandoned",
            Verdict::Superseded { .. } => "superseded",
            Verdict::Unaccounted { .. } => "unaccounted",
        };
        assert_eq!(name, expect, "{got:?}");
    }

    #[test]
    fn only_snapshots_of_jobs_that_ended_without_them_are_removed() {
        let tags = |point: &str, job: &str| {
            snap(
                "s1",
                &[
                    &format!("coffer-recovery-point:{point}"),
                    &format!("coffer-job:{job}"),
                ],
            )
        };
        check(snap("s1", &["made-by-hand"]), &[], "foreign");
        check(
            snap("s-live", &["coffer-recovery-point:live", "coffer-job:J"]),
            &[],
            "recorded",
        );
        check(tags("new", "J-running"), &[], "writing");
        check(
            tags("p", "J"),
            &[("J", job("FAILED", true, None, true))],
            "abandoned",
        );
        check(
            tags("p", "J"),
            &[("J", job("COMPLETED", true, Some("other"), true))],
            "abandoned",
        );
        check(tags("cold", "J"), &[], "superseded");
        // Nothing accounts for these: kept.
        check(tags("p", "J"), &[], "unaccounted");
        check(
            tags("p", "J"),
            &[("J", job("COMPLETED", false, Some("p"), true))],
            "unaccounted",
        );
        check(
            tags("p", "J"),
            &[("J", job("COMPLETED", true, Some("p"), true))],
            "unaccounted",
        );
        check(
            tags("p", "J"),
            &[("J", job("FAILED", true, None, false))],
            "unaccounted",
        );
        check(
            tags("p", "J"),
            &[("J", job("PENDING", false, None, true))],
            "unaccounted",
        );
        check(snap("s1", &["coffer-recovery-point:p"]), &[], "unaccounted");
        check(
            snap("s-other", &["coffer-recovery-point:live", "coffer-job:J"]),
            &[],
            "unaccounted",
        );
    }
}
