//! Coffer's BACKUP_EXPECTATION_REPORT, an extension beside AWS's five
//! templates: was each expected backup taken, on time, with the declared
//! retention? One row per resource, rule and expected fire time in the
//! period (the expectations come from the plans and selections as they
//! were in force at each time; the service computes them), matched to the
//! scheduled job of that fire time, if any, and its recovery point.
//!
//! The verdict of a row, the first that applies:
//! - `MISSED`: no job ran (the job EXPIRED without an attempt, or there
//!   is no job at all);
//! - `FAILED`: the job failed, was aborted, ended partial, or expired
//!   after attempts that failed;
//! - `IN_PROGRESS`: the job has not ended yet;
//! - `RETENTION_SHORT`: the point's recorded lifecycle deletes it before
//!   the rule's declared retention (or at all, when the rule keeps it
//!   forever);
//! - `LATE`: completed, but started after its start window ended or
//!   completed after its completion window (counted from its start);
//! - `ON_TIME`: completed inside both windows with the declared retention.

use std::collections::HashMap;

use coffer_model::{BackupJob, BackupJobState, Lifecycle, RecoveryPoint, ReportSetting};
use jiff::{SignedDuration, Timestamp};

use crate::templates::{in_setting, opt, resource_name, ts, Sources, Table, EVIDENCE};

/// The template's name.
pub const TEMPLATE: &str = "BACKUP_EXPECTATION_REPORT";

/// One backup the policy expected: a rule's fire time for a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedBackup {
    pub account_id: String,
    pub region: String,
    pub plan_name: String,
    pub rule_name: String,
    pub resource_arn: String,
    /// The rule's fire time.
    pub fire_at: Timestamp,
    /// The end of the start window.
    pub start_by: Timestamp,
    pub completion_window_minutes: u64,
    /// The retention the rule declared.
    pub lifecycle: Lifecycle,
    /// The ID the scheduler gives the job of this fire time.
    pub job_id: String,
}

/// What became of an expected backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    OnTime,
    Late,
    Failed,
    Missed,
    RetentionShort,
    InProgress,
}

impl Verdict {
    /// In the order the summary shows them.
    pub const ALL: [Verdict; 6] = [
        Verdict::OnTime,
        Verdict::Late,
        Verdict::Failed,
        Verdict::Missed,
        Verdict::RetentionShort,
        Verdict::InProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::OnTime => "ON_TIME",
            Verdict::Late => "LATE",
            Verdict::Failed => "FAILED",
            Verdict::Missed => "MISSED",
            Verdict::RetentionShort => "RETENTION_SHORT",
            Verdict::InProgress => "IN_PROGRESS",
        }
    }
}

/// How an expected backup's job went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub verdict: Verdict,
    /// Whether the job started by the end of its start window (None: it
    /// did not start).
    pub started_in_window: Option<bool>,
    /// Whether it completed within its completion window of its start
    /// (None: it did not complete).
    pub completed_in_window: Option<bool>,
    /// Whether the point's recorded lifecycle is shorter than declared
    /// (None: no point to compare).
    pub retention_short: Option<bool>,
}

/// Whether `recorded` deletes a point before `declared` would.
fn shorter(declared: &Lifecycle, recorded: &Lifecycle) -> bool {
    match (declared.delete_after_days, recorded.delete_after_days) {
        (None, Some(_)) => true,
        (Some(declared), Some(recorded)) => recorded < declared,
        (_, None) => false,
    }
}

/// The verdict on `expected` given its job and the job's point.
pub fn judge(
    expected: &ExpectedBackup,
    job: Option<&BackupJob>,
    point: Option<&RecoveryPoint>,
) -> Judged {
    let Some(job) = job else {
        return Judged {
            verdict: Verdict::Missed,
            started_in_window: None,
            completed_in_window: None,
            retention_short: None,
        };
    };
    let started_in_window = job.started_at.map(|at| at <= expected.start_by);
    let completed_in_window = match (job.state, job.started_at, job.completion_date) {
        (BackupJobState::Completed, Some(started), Some(done)) => {
            let minutes = i64::try_from(expected.completion_window_minutes).unwrap_or(i64::MAX);
            let deadline = started
                .checked_add(SignedDuration::from_mins(minutes.min(i64::MAX / 60)))
                .unwrap_or(Timestamp::MAX);
            Some(expected.completion_window_minutes == 0 || done <= deadline)
        }
        _ => None,
    };
    let retention_short = point.map(|p| shorter(&expected.lifecycle, &p.lifecycle));
    let verdict = match job.state {
        // Expired without an attempt: it never ran. Expired after attempts
        // that failed (no retry fitted in the window): it ran and failed.
        BackupJobState::Expired if job.attempts.is_empty() => Verdict::Missed,
        BackupJobState::Expired => Verdict::Failed,
        BackupJobState::Failed | BackupJobState::Aborted | BackupJobState::Partial => {
            Verdict::Failed
        }
        BackupJobState::Completed => {
            if retention_short == Some(true) {
                Verdict::RetentionShort
            } else if started_in_window == Some(true) && completed_in_window == Some(true) {
                Verdict::OnTime
            } else {
                Verdict::Late
            }
        }
        BackupJobState::Created
        | BackupJobState::Pending
        | BackupJobState::Running
        | BackupJobState::Aborting => Verdict::InProgress,
    };
    Judged {
        verdict,
        started_in_window,
        completed_in_window,
        retention_short,
    }
}

/// Why an expected backup got its verdict, in words.
pub fn reason(
    expected: &ExpectedBackup,
    job: Option<&BackupJob>,
    judged: &Judged,
    point: Option<&RecoveryPoint>,
) -> String {
    let days = |d: Option<u32>| d.map_or("forever".to_string(), |d| format!("{d} day(s)"));
    let Some(job) = job else {
        return "no job ran: no backup job was created for this fire time".to_string();
    };
    match judged.verdict {
        Verdict::Missed => "no job ran: the job EXPIRED before it started".to_string(),
        Verdict::Failed => format!("the job ended {}", job.state.as_str()),
        Verdict::InProgress => format!("the job is {}", job.state.as_str()),
        Verdict::RetentionShort => format!(
            "the recovery point is kept {}; the rule declares {}",
            days(point.and_then(|p| p.lifecycle.delete_after_days)),
            days(expected.lifecycle.delete_after_days)
        ),
        Verdict::Late if judged.started_in_window != Some(true) => format!(
            "started at {}, after its start window ended at {}",
            opt(job.started_at),
            expected.start_by
        ),
        Verdict::Late => format!(
            "completed at {}, after its completion window of {} minute(s) from its start at {}",
            opt(job.completion_date),
            expected.completion_window_minutes,
            opt(job.started_at)
        ),
        Verdict::OnTime => String::new(),
    }
}

/// The template's columns.
const COLUMNS: [&str; 27] = [
    "reportTimePeriodStart",
    "reportTimePeriodEnd",
    "accountId",
    "region",
    "resourceArn",
    "resourceName",
    "backupPlanName",
    "backupRuleName",
    "expectedTime",
    "startWindowEnd",
    "completionWindowMinutes",
    "backupJobId",
    "jobStatus",
    "startedAt",
    "completionDate",
    "startedInStartWindow",
    "completedInCompletionWindow",
    "declaredDeleteAfterDays",
    "declaredMoveToColdAfterDays",
    "recoveryPointArn",
    "recordedDeleteAfterDays",
    "recordedMoveToColdAfterDays",
    "verdict",
    "reason",
    "statusMessage",
    EVIDENCE[0],
    EVIDENCE[1],
];

/// The table: the expected backups of `sources` in `[start, end)` that
/// `setting` covers, in the order given, each with its job (from
/// `sources.backups`, by ID) and the job's point.
pub fn build(
    setting: &ReportSetting,
    sources: &Sources<'_>,
    start: Timestamp,
    end: Timestamp,
) -> Table {
    let jobs: HashMap<&str, &BackupJob> = sources
        .backups
        .iter()
        .map(|j| (j.backup_job_id.as_str(), j))
        .collect();
    let points: HashMap<&str, &RecoveryPoint> = sources
        .points
        .iter()
        .map(|p| (p.recovery_point_arn.as_str(), p))
        .collect();
    let (period_start, period_end) = (ts(Some(start)), ts(Some(end)));
    let flag = |b: Option<bool>| opt(b);
    let rows = sources
        .expected
        .iter()
        .filter(|e| e.fire_at >= start && e.fire_at < end)
        .filter(|e| in_setting(setting, &e.account_id, &e.region))
        .map(|e| {
            let job = jobs.get(e.job_id.as_str()).copied();
            let point = job
                .and_then(|j| j.recovery_point_arn.as_deref())
                .and_then(|arn| points.get(arn).copied());
            let judged = judge(e, job, point);
            let why = reason(e, job, &judged, point);
            let message = opt(job.and_then(|j| j.status_message.clone()));
            vec![
                period_start.clone(),
                period_end.clone(),
                e.account_id.clone(),
                e.region.clone(),
                e.resource_arn.clone(),
                resource_name(&e.resource_arn),
                e.plan_name.clone(),
                e.rule_name.clone(),
                ts(Some(e.fire_at)),
                ts(Some(e.start_by)),
                e.completion_window_minutes.to_string(),
                opt(job.map(|j| j.backup_job_id.clone())),
                opt(job.map(|j| j.state.as_str().to_string())),
                ts(job.and_then(|j| j.started_at)),
                ts(job.and_then(|j| j.completion_date)),
                flag(judged.started_in_window),
                flag(judged.completed_in_window),
                opt(e.lifecycle.delete_after_days),
                opt(e.lifecycle.move_to_cold_storage_after_days),
                opt(job.and_then(|j| j.recovery_point_arn.clone())),
                opt(point.and_then(|p| p.lifecycle.delete_after_days)),
                opt(point.and_then(|p| p.lifecycle.move_to_cold_storage_after_days)),
                judged.verdict.as_str().to_string(),
                why,
                message,
                opt(job.and_then(|j| sources.ledger.get(&j.backup_job_id))),
                opt(point.and_then(|p| p.content_sha256.clone())),
            ]
        })
        .collect();
    Table {
        columns: COLUMNS.to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use coffer_model::ResourceType;

    const RESOURCE: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn expected(delete: Option<u32>) -> ExpectedBackup {
        ExpectedBackup {
            account_id: "210987654321".into(),
            region: "eu-west-1".into(),
            plan_name: "nightly".into(),
            rule_name: "nightly".into(),
            resource_arn: RESOURCE.into(),
            fire_at: at("2026-03-05T03:00:00Z"),
            start_by: at("2026-03-05T04:00:00Z"),
            completion_window_minutes: 120,
            lifecycle: Lifecycle {
                delete_after_days: delete,
                ..Lifecycle::default()
            },
            job_id: "JOB".into(),
        }
    }

    fn job(state: BackupJobState, started: Option<&str>, done: Option<&str>) -> BackupJob {
        BackupJob {
            state,
            started_at: started.map(at),
            completion_date: done.map(at),
            recovery_point_arn: Some("POINT".into()),
            ..BackupJob::created(
                "JOB",
                "210987654321",
                "eu-west-1",
                "primary",
                RESOURCE,
                ResourceType::FileSystem,
                at("2026-03-05T03:00:00Z"),
            )
        }
    }

    fn point(delete: Option<u32>) -> RecoveryPoint {
        let mut point: RecoveryPoint = serde_json::from_value(serde_json::json!({
            "RecoveryPointArn": "POINT",
            "RecoveryPointId": "p",
            "BackupVaultName": "primary",
            "BackupVaultArn": "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary",
            "AccountId": "210987654321",
            "Region": "eu-west-1",
            "ResourceArn": RESOURCE,
            "ResourceType": "FileSystem",
            "Status": "COMPLETED",
            "StorageClass": "WARM",
            "CalculatedLifecycle": {},
            "BackupSizeInBytes": 10,
            "IsEncrypted": true,
            "CreationDate": "2026-03-05T03:10:00Z",
        }))
        .unwrap_or_else(|e| panic!("a recovery point: {e}"));
        point.lifecycle.delete_after_days = delete;
        point
    }

    #[test]
    fn each_verdict_follows_from_the_job_its_windows_and_the_points_lifecycle() {
        use BackupJobState::*;
        let e = expected(Some(35));
        let done = |s: &str, d: &str| job(Completed, Some(s), Some(d));
        let p35 = point(Some(35));
        let mut tried = job(Expired, None, None);
        tried.attempts.push(coffer_model::JobAttempt {
            started_at: at("2026-03-05T03:01:00Z"),
            ended_at: Some(at("2026-03-05T03:02:00Z")),
            error: Some("the source is gone".into()),
        });
        assert_eq!(judge(&e, Some(&tried), None).verdict, Verdict::Failed);
        let cases: [(Option<BackupJob>, Option<&RecoveryPoint>, Verdict); 9] = [
            (None, None, Verdict::Missed),
            (Some(job(Expired, None, None)), None, Verdict::Missed),
            (
                Some(job(Failed, Some("2026-03-05T03:01:00Z"), None)),
                None,
                Verdict::Failed,
            ),
            (
                Some(job(Aborted, Some("2026-03-05T03:01:00Z"), None)),
                None,
                Verdict::Failed,
            ),
            (
                Some(job(Running, Some("2026-03-05T03:01:00Z"), None)),
                None,
                Verdict::InProgress,
            ),
            (
                Some(done("2026-03-05T03:01:00Z", "2026-03-05T03:30:00Z")),
                Some(&p35),
                Verdict::OnTime,
            ),
            // Started after the start window.
            (
                Some(done("2026-03-05T04:30:00Z", "2026-03-05T04:40:00Z")),
                Some(&p35),
                Verdict::Late,
            ),
            // Completed after two hours from its start.
            (
                Some(done("2026-03-05T03:01:00Z", "2026-03-05T05:02:00Z")),
                Some(&p35),
                Verdict::Late,
            ),
            (
                Some(done("2026-03-05T03:01:00Z", "2026-03-05T03:30:00Z")),
                Some(&point(Some(7))),
                Verdict::RetentionShort,
            ),
        ];
        for (job, point, verdict) in cases {
            assert_eq!(
                judge(&e, job.as_ref(), point).verdict,
                verdict,
                "{job:?} {point:?}"
            );
        }
        // A rule keeping points forever: any deletion is short.
        let forever = expected(None);
        let completed = done("2026-03-05T03:01:00Z", "2026-03-05T03:30:00Z");
        assert_eq!(
            judge(&forever, Some(&completed), Some(&point(Some(3650)))).verdict,
            Verdict::RetentionShort
        );
        assert_eq!(
            judge(&forever, Some(&completed), Some(&point(None))).verdict,
            Verdict::OnTime
        );
        // Longer than declared is not short.
        assert_eq!(
            judge(&e, Some(&completed), Some(&point(Some(90)))).verdict,
            Verdict::OnTime
        );
    }
}
