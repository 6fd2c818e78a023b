//! A fire time planned twice (a restart, or a second scheduler) becomes one
//! job: the second insert of the same derived ID is refused by the catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_engine::planning::PlannedJob;
use coffer_engine::scheduling::{scheduled_job, scheduled_job_id};
use coffer_model::{BackupJob, Lifecycle, ResourceType};

fn planned(fire: &str) -> PlannedJob {
    let fire_at: jiff::Timestamp = fire.parse().unwrap();
    PlannedJob {
        plan_name: "daily".into(),
        rule_name: "nightly".into(),
        resource_arn: "arn:coffer:fs:eu-west-1:210987654321:filesystem/home".into(),
        vault_name: "primary".into(),
        fire_at,
        start_by: fire_at
            .checked_add(jiff::SignedDuration::from_hours(8))
            .unwrap(),
        completion_window_minutes: 600,
        lifecycle: Lifecycle::default(),
        merged: vec![("hourly".into(), fire_at)],
    }
}

#[tokio::test]
async fn the_same_fire_time_is_one_job_however_often_it_is_planned() {
    let a = planned("2026-03-01T01:30:00Z");
    let b = planned("2026-03-02T01:30:00Z");
    let id =
        |p: &PlannedJob| scheduled_job_id(&p.plan_name, &p.rule_name, &p.resource_arn, p.fire_at);
    assert_eq!(id(&a), id(&a.clone()));
    assert_ne!(id(&a), id(&b));
    assert_eq!(id(&a).len(), 36);

    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    let catalog = coffer_catalog::Catalog::open(&url, now).await.unwrap();
    let job = scheduled_job(
        &a,
        "210987654321",
        "eu-west-1",
        ResourceType::FileSystem,
        now,
    );
    assert!(job.status_message.as_deref().unwrap().contains("hourly"));
    catalog.insert(&job, now).await.unwrap();
    // A restarted scheduler plans it again.
    let again = scheduled_job(
        &a,
        "210987654321",
        "eu-west-1",
        ResourceType::FileSystem,
        now,
    );
    let error = catalog.insert(&again, now).await.unwrap_err();
    assert!(
        matches!(error, coffer_catalog::Error::Conflict { .. }),
        "{error}"
    );
    assert_eq!(catalog.list::<BackupJob>(&[]).await.unwrap().len(), 1);
    catalog
        .insert(
            &scheduled_job(
                &b,
                "210987654321",
                "eu-west-1",
                ResourceType::FileSystem,
                now,
            ),
            now,
        )
        .await
        .unwrap();
    assert_eq!(catalog.list::<BackupJob>(&[]).await.unwrap().len(), 2);
    catalog.close().await;
}
