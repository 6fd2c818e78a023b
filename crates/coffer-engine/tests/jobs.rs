//! Restore, validation and report jobs go through the engine's state
//! setter (checked transitions, the runner, completion times from the
//! environment's clock), and those a dead process left RUNNING end FAILED
//! with a reason naming what they may have left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_engine::clock::ManualClock;
use coffer_engine::env::Env;
use coffer_engine::jobs::{
    create_report_job, create_restore_job, report_interrupted, restore_interrupted,
    set_report_state, set_restore_state, settle_dead_jobs,
};
use coffer_model::{
    RecoveryPoint, ReportJob, ReportJobStatus, ReportPlan, RestoreJob, RestoreJobStatus,
    ValidationStatus,
};
use serde_json::json;

/// A runner on this host whose process does not exist (PIDs stop at 2^22).
fn dead() -> String {
    let this = coffer_engine::exec::this_runner();
    let host = this.split_once('@').map(|(_, h)| h).unwrap_or_default();
    format!("4194304999@{host}")
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

async fn env(dir: &std::path::Path) -> (Env, Arc<ManualClock>) {
    let now = at("2026-11-24T10:00:00Z");
    let url = format!("sqlite://{}", dir.join("catalog.db").display());
    let catalog = coffer_catalog::Catalog::open(&url, now).await.unwrap();
    let config =
        <coffer_policy::Config as coffer_policy::LoadConfig>::from_str_at("", dir, "config.toml")
            .unwrap();
    let clock = Arc::new(ManualClock::new(now));
    (Env::new(catalog, config, clock.clone()), clock)
}

fn point() -> RecoveryPoint {
    serde_json::from_value(json!({
        "RecoveryPointId": "p1",
        "RecoveryPointArn": "arn:coffer:backup:eu-west-1:111122223333:recovery-point:p1",
        "BackupVaultName": "primary",
        "BackupVaultArn": "arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary",
        "ResourceArn": "arn:coffer:fs:eu-west-1:111122223333:filesystem/home",
        "ResourceType": "FileSystem",
        "Status": "COMPLETED",
        "StorageClass": "WARM",
        "CreationDate": "2026-11-24T09:00:00Z",
        "IsEncrypted": true
    }))
    .unwrap()
}

fn report_plan() -> ReportPlan {
    serde_json::from_value(json!({
        "ReportPlanName": "jobs_daily",
        "ReportDeliveryChannel": {"S3BucketName": "reports", "Formats": ["CSV"]},
        "ReportSetting": {"ReportTemplate": "BACKUP_JOB_REPORT"}
    }))
    .unwrap()
}

/// Makes a job look as if another, now dead, process had been running it.
async fn left_by_dead_process<R: coffer_catalog::Record>(
    env: &Env,
    id: &str,
    change: impl FnOnce(&mut R),
) {
    let stored = env.catalog.get::<R>(id).await.unwrap().unwrap();
    let mut record = stored.record;
    change(&mut record);
    env.catalog
        .update(&record, stored.version, env.now())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_restore_job_runs_through_checked_states_on_the_environments_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock) = env(dir.path()).await;
    let job = create_restore_job(
        &env,
        &point(),
        false,
        Some("/srv/restored".into()),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(job.status, RestoreJobStatus::Pending);
    assert_eq!(job.account_id, "111122223333");
    assert_eq!(job.creation_date, at("2026-11-24T10:00:00Z"));
    let id = job.restore_job_id.clone();
    let running = set_restore_state(&env, &id, RestoreJobStatus::Running, |_| {})
        .await
        .unwrap();
    assert_eq!(running.runner, Some(coffer_engine::exec::this_runner()));
    clock.advance(jiff::SignedDuration::from_mins(5));
    let done = set_restore_state(&env, &id, RestoreJobStatus::Completed, |j| {
        j.percent_done = 100;
    })
    .await
    .unwrap();
    assert_eq!(done.completion_date, Some(at("2026-11-24T10:05:00Z")));
    let error = set_restore_state(&env, &id, RestoreJobStatus::Running, |_| {})
        .await
        .unwrap_err();
    assert!(error.to_string().contains("COMPLETED"), "{error}");
    let stored = env.catalog.get::<RestoreJob>(&id).await.unwrap().unwrap();
    assert_eq!(stored.record.status, RestoreJobStatus::Completed);
}

#[tokio::test]
async fn a_restore_left_running_by_a_dead_process_fails_naming_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock) = env(dir.path()).await;
    let restore = create_restore_job(
        &env,
        &point(),
        false,
        Some("/srv/restored".into()),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let validation = create_restore_job(
        &env,
        &point(),
        true,
        Some("the scratch database coffer_validate_p1".into()),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    // One this process runs, one left by a dead process of each kind.
    let mine = create_restore_job(
        &env,
        &point(),
        false,
        Some("/srv/mine".into()),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    set_restore_state(
        &env,
        &mine.restore_job_id,
        RestoreJobStatus::Running,
        |_| {},
    )
    .await
    .unwrap();
    for id in [&restore.restore_job_id, &validation.restore_job_id] {
        left_by_dead_process(&env, id, |j: &mut RestoreJob| {
            j.status = RestoreJobStatus::Running;
            j.runner = Some(dead());
        })
        .await;
    }

    let settled = settle_dead_jobs(&env).await.unwrap();
    assert_eq!(settled.len(), 2, "{settled:?}");

    let failed = env
        .catalog
        .get::<RestoreJob>(&restore.restore_job_id)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(failed.status, RestoreJobStatus::Failed);
    assert!(failed.completion_date.is_some());
    let reason = failed.status_message.unwrap();
    assert!(
        reason.contains(&dead()) && reason.contains("/srv/restored may hold a partial restore"),
        "{reason}"
    );

    let failed = env
        .catalog
        .get::<RestoreJob>(&validation.restore_job_id)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(failed.status, RestoreJobStatus::Failed);
    assert_eq!(failed.validation_status, Some(ValidationStatus::Failed));
    let reason = failed.validation_status_message.unwrap();
    assert!(
        reason.contains("coffer_validate_p1 may be left behind"),
        "{reason}"
    );

    let untouched = env
        .catalog
        .get::<RestoreJob>(&mine.restore_job_id)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(untouched.status, RestoreJobStatus::Running);
    // Settling again finds nothing more.
    assert!(settle_dead_jobs(&env).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_left_running_by_a_dead_process_fails_naming_what_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock) = env(dir.path()).await;
    let job = create_report_job(&env, &report_plan(), "111122223333", "eu-west-1")
        .await
        .unwrap();
    assert_eq!(job.status, ReportJobStatus::Running);
    assert_eq!(job.runner, Some(coffer_engine::exec::this_runner()));
    let id = job.report_job_id.clone();
    // The destination is recorded before any file is written.
    set_report_state(&env, &id, ReportJobStatus::Running, |j| {
        j.report_destination = Some("/buckets/reports/x".into());
    })
    .await
    .unwrap();
    // This process runs it: not settled.
    assert!(settle_dead_jobs(&env).await.unwrap().is_empty());
    // One a dead process was delivering (never run by this one).
    let mut left = job.clone();
    left.report_job_id = "DEAD-DELIVERY".into();
    left.runner = Some(dead());
    left.report_destination = Some("/buckets/reports/y".into());
    env.catalog.insert(&left, env.now()).await.unwrap();
    assert_eq!(settle_dead_jobs(&env).await.unwrap(), ["DEAD-DELIVERY"]);
    let failed = env
        .catalog
        .get::<ReportJob>("DEAD-DELIVERY")
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(failed.status, ReportJobStatus::Failed);
    assert!(failed.completion_time.is_some());
    let reason = failed.status_message.unwrap();
    assert!(
        reason.contains(&dead())
            && reason
                .contains("/buckets/reports/y may hold part of the delivery without manifest.json"),
        "{reason}"
    );
    set_report_state(&env, &id, ReportJobStatus::Completed, |_| {})
        .await
        .unwrap();
    let stored = env.catalog.get::<ReportJob>(&id).await.unwrap().unwrap();
    assert_eq!(stored.record.status, ReportJobStatus::Completed);
    assert!(stored.record.completion_time.is_some());
    // A finished job does not go back.
    assert!(
        set_report_state(&env, &id, ReportJobStatus::Running, |_| {})
            .await
            .is_err()
    );
}

#[test]
fn reasons_name_the_process_and_what_may_be_left() {
    let mut restore: RestoreJob = serde_json::from_value(json!({
        "RestoreJobId": "R",
        "AccountId": "111122223333",
        "Region": "eu-west-1",
        "RecoveryPointArn": "arn:coffer:backup:eu-west-1:111122223333:recovery-point:p1",
        "Status": "RUNNING",
        "CreationDate": "2026-11-24T09:00:00Z",
        "ResourceType": "PostgreSQL",
        "Runner": "12@db1",
        "RestoreTarget": "database orders_copy"
    }))
    .unwrap();
    let reason = restore_interrupted(&restore);
    assert!(reason.contains("(12@db1)"), "{reason}");
    assert!(
        reason.contains("database orders_copy may hold a partial restore"),
        "{reason}"
    );
    restore.restore_target = None;
    assert!(restore_interrupted(&restore).contains("the restore target may hold"));
    restore.validation_status = Some(ValidationStatus::Validating);
    assert!(restore_interrupted(&restore).contains("a scratch copy may be left behind"));

    let mut report: ReportJob = serde_json::from_value(json!({
        "ReportJobId": "J",
        "AccountId": "111122223333",
        "Region": "eu-west-1",
        "ReportPlanName": "jobs_daily",
        "ReportTemplate": "BACKUP_JOB_REPORT",
        "Status": "RUNNING",
        "CreationTime": "2026-11-24T09:00:00Z",
        "Runner": "12@db1"
    }))
    .unwrap();
    assert!(report_interrupted(&report).contains("no file was known to be written"));
    report.report_destination = Some("/b/r/x".into());
    let reason = report_interrupted(&report);
    assert!(
        reason.contains("/b/r/x may hold part of the delivery without manifest.json"),
        "{reason}"
    );
}
