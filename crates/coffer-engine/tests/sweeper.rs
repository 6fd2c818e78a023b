//! The sweeper over 400 simulated days on a manual clock: cold moves and
//! expiries happen at the first sweep at or after their time, a legal hold
//! keeps a point until it is cancelled, a vault lock does not stop the
//! lifecycle, and nothing ever expires early.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_engine::clock::{Clock, ManualClock};
use coffer_engine::sweeper::{decide, Decision};
use coffer_model::{
    BackupVault, CalculatedLifecycle, LegalHold, LegalHoldStatus, Lifecycle, RecoveryPoint,
    RecoveryPointSelection, RecoveryPointStatus, ResourceType, StorageClass,
    VaultLockConfiguration,
};
use jiff::{SignedDuration, Timestamp};

fn start() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn vault(name: &str, lock: Option<VaultLockConfiguration>) -> BackupVault {
    serde_json::from_value(serde_json::json!({
        "BackupVaultName": name,
        "BackupVaultArn": format!("arn:coffer:backup:eu-west-1:210987654321:backup-vault:{name}"),
        "AccountId": "210987654321",
        "Region": "eu-west-1",
        "LockConfiguration": lock,
    }))
    .unwrap()
}

fn point(id: &str, vault: &str, cold: Option<u32>, delete: Option<u32>) -> RecoveryPoint {
    let lifecycle = Lifecycle {
        move_to_cold_storage_after_days: cold,
        delete_after_days: delete,
        ..Lifecycle::default()
    };
    RecoveryPoint {
        recovery_point_id: id.into(),
        recovery_point_arn: format!("arn:coffer:backup:eu-west-1:210987654321:recovery-point:{id}"),
        backup_vault_name: vault.into(),
        backup_vault_arn: format!("arn:coffer:backup:eu-west-1:210987654321:backup-vault:{vault}"),
        resource_arn: "arn:coffer:fs:eu-west-1:210987654321:filesystem/home".into(),
        resource_type: ResourceType::FileSystem,
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: start(),
        completion_date: Some(start()),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(start(), &lifecycle),
        lifecycle,
        backup_size_in_bytes: 1,
        is_encrypted: true,
        encryption_key_arn: None,
        created_by_job_id: None,
        created_by_backup_plan_name: None,
        created_by_backup_rule_name: None,
        source_recovery_point_arn: None,
        content_sha256: None,
        tags: Default::default(),
        snapshot_id: Some("abc".into()),
        storage_location: None,
        bytes_added: 0,
        stored_bytes: 0,
        duration_ms: None,
        manifest: None,
    }
}

fn day(t: Timestamp) -> i64 {
    t.duration_since(start()).as_hours() / 24
}

#[test]
fn four_hundred_days_of_sweeps() {
    let vaults = [
        vault("plain", None),
        vault(
            "locked",
            Some(VaultLockConfiguration {
                min_retention_days: Some(7),
                max_retention_days: Some(400),
                changeable_for_days: Some(3),
            }),
        ),
        vault("held", None),
    ];
    let mut points = vec![
        point("p1", "plain", Some(30), Some(130)),
        point("p2", "locked", None, Some(35)),
        point("p3", "held", None, Some(35)),
        point("p4", "plain", Some(10), None),
    ];
    let mut hold = LegalHold {
        legal_hold_id: "hold-1".into(),
        legal_hold_arn: "arn:coffer:backup:eu-west-1:210987654321:legal-hold:hold-1".into(),
        title: "case 17".into(),
        description: "litigation".into(),
        status: LegalHoldStatus::Active,
        recovery_point_selection: RecoveryPointSelection {
            vault_names: vec!["held".into()],
            ..Default::default()
        },
        creation_date: start(),
        cancellation_date: None,
        cancel_description: None,
        retain_record_until: None,
    };

    let clock = ManualClock::new(start());
    let mut events: Vec<(String, &'static str, i64)> = Vec::new();
    let mut kept_days = Vec::new();
    for _ in 0..(400 * 4) {
        clock.advance(SignedDuration::from_hours(6));
        let now = clock.now();
        if day(now) == 100 && hold.status == LegalHoldStatus::Active {
            hold.status = LegalHoldStatus::Canceled;
        }
        let decisions = decide(
            &points,
            |p| {
                vaults
                    .iter()
                    .find(|v| v.backup_vault_name == p.backup_vault_name)
            },
            std::slice::from_ref(&hold),
            now,
        );
        for (id, decision) in decisions {
            let p = points
                .iter_mut()
                .find(|p| p.recovery_point_id == id)
                .unwrap();
            match decision {
                Decision::MoveToCold => {
                    assert!(p.calculated_lifecycle.move_to_cold_storage_at.unwrap() <= now);
                    p.storage_class = StorageClass::Cold;
                    events.push((id, "cold", day(now)));
                }
                Decision::Expire => {
                    assert!(
                        p.calculated_lifecycle.delete_at.unwrap() <= now,
                        "expired early"
                    );
                    p.status = RecoveryPointStatus::Deleted;
                    events.push((id, "expire", day(now)));
                }
                Decision::Kept(reason) => {
                    assert!(reason.contains("legal hold"), "{reason}");
                    kept_days.push(day(now));
                }
            }
        }
    }
    let when = |id: &str, what: &str| {
        events
            .iter()
            .filter(|(i, w, _)| i == id && *w == what)
            .map(|(_, _, d)| *d)
            .collect::<Vec<_>>()
    };
    assert_eq!(when("p1", "cold"), vec![30]);
    assert_eq!(when("p1", "expire"), vec![130]);
    assert_eq!(
        when("p2", "expire"),
        vec![35],
        "a vault lock does not stop the lifecycle"
    );
    assert_eq!(
        when("p3", "expire"),
        vec![100],
        "kept while held, expired when the hold ended"
    );
    assert_eq!(kept_days.first(), Some(&35));
    assert_eq!(when("p4", "cold"), vec![10]);
    assert!(
        when("p4", "expire").is_empty(),
        "no DeleteAfterDays: kept forever"
    );
}
