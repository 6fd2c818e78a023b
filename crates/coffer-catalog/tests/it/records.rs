//! Run-time records: recovery points and jobs with versions and state
//! machines.

use coffer_catalog::Error;
use coffer_model::{
    BackupJob, BackupJobState, CalculatedLifecycle, Lifecycle, RecoveryPoint, RecoveryPointStatus,
    ResourceType, StorageClass,
};

use crate::engines::{engines, now};

pub fn recovery_point(id: &str, vault: &str) -> RecoveryPoint {
    let lifecycle = Lifecycle {
        delete_after_days: Some(35),
        ..Lifecycle::default()
    };
    RecoveryPoint {
        recovery_point_id: id.into(),
        recovery_point_arn: format!("arn:coffer:backup:eu-west-1:111122223333:recovery-point:{id}"),
        backup_vault_name: vault.into(),
        backup_vault_arn: format!("arn:coffer:backup:eu-west-1:111122223333:backup-vault:{vault}"),
        resource_arn: "arn:coffer:fs:eu-west-1:111122223333:filesystem/home".into(),
        resource_type: ResourceType::FileSystem,
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: now(),
        completion_date: Some(now()),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(now(), &lifecycle),
        lifecycle,
        backup_size_in_bytes: 1234,
        is_encrypted: true,
        encryption_key_arn: None,
        created_by_job_id: None,
        created_by_backup_plan_name: None,
        created_by_backup_rule_name: None,
        source_recovery_point_arn: None,
        content_sha256: None,
        tags: Default::default(),
        snapshot_id: None,
        storage_location: None,
        bytes_added: 0,
        stored_bytes: 0,
        duration_ms: None,
        manifest: None,
    }
}

pub fn job(id: &str) -> BackupJob {
    BackupJob {
        backup_plan_name: Some("critical".into()),
        backup_rule_name: Some("nightly".into()),
        ..BackupJob::created(
            id,
            "111122223333",
            "eu-west-1",
            "primary",
            "arn:coffer:fs:eu-west-1:111122223333:filesystem/home",
            ResourceType::FileSystem,
            now(),
        )
    }
}

#[tokio::test]
async fn recovery_points_round_trip_and_filter_by_vault() {
    for engine in engines().await {
        let catalog = engine.open().await;
        catalog
            .insert(&recovery_point("rp-1", "primary"), now())
            .await
            .unwrap();
        catalog
            .insert(&recovery_point("rp-2", "dr"), now())
            .await
            .unwrap();
        assert!(matches!(
            catalog
                .insert(&recovery_point("rp-1", "primary"), now())
                .await,
            Err(Error::Conflict { .. })
        ));
        let got = catalog.get::<RecoveryPoint>("rp-1").await.unwrap().unwrap();
        assert_eq!(
            got.record,
            recovery_point("rp-1", "primary"),
            "{}",
            engine.name
        );
        assert_eq!(got.version, 1);
        let in_primary = catalog
            .list::<RecoveryPoint>(&[("vault_name", "primary")])
            .await
            .unwrap();
        assert_eq!(in_primary.len(), 1);
        let per_vault = catalog.recovery_points_per_vault().await.unwrap();
        assert_eq!(per_vault.len(), 2);
        catalog.close().await;
    }
}

#[tokio::test]
async fn backup_jobs_follow_the_state_machine() {
    for engine in engines().await {
        let catalog = engine.open().await;
        catalog.insert(&job("j1"), now()).await.unwrap();
        catalog
            .transition_backup_job("j1", BackupJobState::Running, None, now())
            .await
            .unwrap();
        let done = catalog
            .transition_backup_job("j1", BackupJobState::Completed, Some("ok".into()), now())
            .await
            .unwrap();
        assert_eq!(done.completion_date, Some(now()));
        let err = catalog
            .transition_backup_job("j1", BackupJobState::Running, None, now())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot go from COMPLETED to RUNNING"),
            "{err}"
        );
        let stored = catalog.get::<BackupJob>("j1").await.unwrap().unwrap();
        assert_eq!(stored.version, 3, "{}", engine.name);
        assert_eq!(
            catalog
                .list::<BackupJob>(&[("state", "COMPLETED")])
                .await
                .unwrap()
                .len(),
            1
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_stale_update_is_refused() {
    for engine in engines().await {
        let catalog = engine.open().await;
        catalog.insert(&job("j2"), now()).await.unwrap();
        let mut changed = job("j2");
        changed.percent_done = 50;
        catalog.update(&changed, 1, now()).await.unwrap();
        assert!(
            matches!(
                catalog.update(&changed, 1, now()).await,
                Err(Error::Conflict { .. })
            ),
            "{}",
            engine.name
        );
        assert!(matches!(
            catalog.update(&job("nope"), 1, now()).await,
            Err(Error::NotFound { .. })
        ));
        catalog.close().await;
    }
}
