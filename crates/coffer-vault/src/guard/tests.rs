//! The guard's rules, and invariant 1 tried on every path: every operation,
//! every caller, locks of both modes, holds in every status, access
//! policies, and times before and after expiry.

use coffer_model::{
    AccountId, Arn, BackupVault, CalculatedLifecycle, DateRange, LegalHold, LegalHoldStatus,
    Lifecycle, RecoveryPoint, RecoveryPointSelection, RecoveryPointStatus, Region, ResourceType,
    StorageClass, VaultLockConfiguration,
};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const OPERATOR: &str = "arn:coffer:iam::210987654321:role/backup-operator";
const ALICE: &str = "arn:coffer:iam::210987654321:user/alice";

fn created() -> jiff::Timestamp {
    "2026-01-01T01:30:00Z".parse().unwrap()
}

fn days(n: i64) -> jiff::Timestamp {
    created()
        .checked_add(jiff::SignedDuration::from_hours(24 * n))
        .unwrap()
}

fn vault(lock: Option<VaultLockConfiguration>, policy: Option<serde_json::Value>) -> BackupVault {
    let region = Region::new("eu-west-1").unwrap();
    let account = AccountId::new("210987654321").unwrap();
    BackupVault {
        backup_vault_arn: Arn::backup_vault(&region, &account, "primary"),
        backup_vault_name: "primary".into(),
        account_id: account,
        region,
        encryption_key_arn: None,
        access_policy: policy,
        lock_configuration: lock,
        lock_date: None,
        notifications: None,
        backup_vault_tags: Default::default(),
    }
}

fn point(delete_after_days: Option<u32>) -> RecoveryPoint {
    let lifecycle = Lifecycle {
        delete_after_days,
        ..Lifecycle::default()
    };
    RecoveryPoint {
        recovery_point_id: "rp-1".into(),
        recovery_point_arn: "arn:coffer:backup:eu-west-1:210987654321:recovery-point:rp-1".into(),
        backup_vault_name: "primary".into(),
        backup_vault_arn: "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary".into(),
        resource_arn: "arn:coffer:fs:eu-west-1:210987654321:filesystem/home".into(),
        resource_type: ResourceType::FileSystem,
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: created(),
        completion_date: Some(created()),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(created(), &lifecycle),
        lifecycle,
        backup_size_in_bytes: 10,
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

fn hold(status: LegalHoldStatus, vaults: &[&str]) -> LegalHold {
    LegalHold {
        legal_hold_id: "hold-1".into(),
        legal_hold_arn: "arn:coffer:backup:eu-west-1:210987654321:legal-hold:hold-1".into(),
        title: "litigation 2026-17".into(),
        description: "keep everything".into(),
        status,
        recovery_point_selection: RecoveryPointSelection {
            vault_names: vaults.iter().map(|v| v.to_string()).collect(),
            resource_identifiers: vec![],
            date_range: Some(DateRange {
                from_date: days(-1),
                to_date: days(1),
            }),
        },
        creation_date: created(),
        cancellation_date: None,
        cancel_description: None,
        retain_record_until: None,
    }
}

fn compliance() -> Option<VaultLockConfiguration> {
    Some(VaultLockConfiguration {
        min_retention_days: Some(14),
        max_retention_days: None,
        changeable_for_days: Some(3),
    })
}

fn operators_only() -> serde_json::Value {
    json!({"Statement": [{"Sid": "only-operators-delete", "Effect": "Deny", "Principal": "*",
        "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"], "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": OPERATOR}}}]})
}

#[test]
fn a_point_in_an_unprotected_vault_can_be_deleted() {
    let result = check(
        &Operation::Delete,
        Caller::Principal(ALICE),
        &point(Some(35)),
        &vault(None, None),
        &[],
        days(1),
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn a_locked_vault_refuses_deletion_and_names_the_mode() {
    let refusal = check(
        &Operation::Delete,
        Caller::Principal(OPERATOR),
        &point(Some(35)),
        &vault(compliance(), None),
        &[],
        days(1),
    )
    .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "recovery point rp-1 is in vault \"primary\", locked in compliance mode: it cannot be deleted; nobody can delete it before its lifecycle expires it"
    );
}

#[test]
fn a_locked_vault_allows_lengthening_within_bounds_only() {
    let bounded = |changeable: Option<u32>| VaultLockConfiguration {
        min_retention_days: Some(14),
        max_retention_days: Some(365),
        changeable_for_days: changeable,
    };
    for lock in [bounded(Some(3)), bounded(None)] {
        let locked = vault(Some(lock), None);
        let update = |d: Option<u32>| {
            check(
                &Operation::UpdateLifecycle(Lifecycle {
                    delete_after_days: d,
                    ..Lifecycle::default()
                }),
                Caller::Principal(OPERATOR),
                &point(Some(35)),
                &locked,
                &[],
                days(1),
            )
        };
        assert!(update(Some(60)).is_ok(), "lengthening within bounds");
        assert!(update(Some(35)).is_ok(), "unchanged");
        let shorter = update(Some(20)).unwrap_err().to_string();
        assert!(
            shorter.contains("cannot be shortened (DeleteAfterDays 35 -> 20)"),
            "{shorter}"
        );
        let max = lock.max_retention_days.unwrap();
        let beyond = update(Some(max + 1)).unwrap_err().to_string();
        assert!(
            beyond.contains(&format!(
                "retention of {} days is above the vault lock's MaxRetentionDays ({max})",
                max + 1
            )),
            "{beyond}"
        );
    }
}

#[test]
fn the_lifecycle_still_expires_points_of_a_locked_vault_at_their_time() {
    let locked = vault(compliance(), None);
    assert!(check(
        &Operation::Expire,
        Caller::LifecycleSweeper,
        &point(Some(35)),
        &locked,
        &[],
        days(34)
    )
    .is_err());
    assert_eq!(
        check(
            &Operation::Expire,
            Caller::LifecycleSweeper,
            &point(Some(35)),
            &locked,
            &[],
            days(35)
        ),
        Ok(())
    );
    assert!(check(
        &Operation::Expire,
        Caller::LifecycleSweeper,
        &point(None),
        &locked,
        &[],
        days(9000)
    )
    .is_err());
}

#[test]
fn an_active_hold_pins_the_point_against_everything() {
    let holds = [hold(LegalHoldStatus::Active, &["primary"])];
    for operation in [
        Operation::Delete,
        Operation::Expire,
        Operation::UpdateLifecycle(Lifecycle {
            delete_after_days: Some(99),
            ..Lifecycle::default()
        }),
    ] {
        let refusal = check(
            &operation,
            Caller::Principal(OPERATOR),
            &point(Some(35)),
            &vault(None, None),
            &holds,
            days(400),
        )
        .unwrap_err();
        assert!(
            refusal
                .reason
                .contains("under legal hold \"litigation 2026-17\" (hold-1)"),
            "{refusal}"
        );
    }
    let released = [hold(LegalHoldStatus::Canceled, &["primary"])];
    assert_eq!(
        check(
            &Operation::Expire,
            Caller::LifecycleSweeper,
            &point(Some(35)),
            &vault(None, None),
            &released,
            days(400)
        ),
        Ok(())
    );
    let elsewhere = [hold(LegalHoldStatus::Active, &["other"])];
    assert_eq!(
        check(
            &Operation::Delete,
            Caller::Principal(ALICE),
            &point(Some(35)),
            &vault(None, None),
            &elsewhere,
            days(2)
        ),
        Ok(())
    );
}

#[test]
fn the_access_policy_denies_by_principal_and_names_the_statement() {
    let guarded = vault(None, Some(operators_only()));
    let refusal = check(
        &Operation::Delete,
        Caller::Principal(ALICE),
        &point(Some(35)),
        &guarded,
        &[],
        days(1),
    )
    .unwrap_err();
    assert!(
        refusal
            .reason
            .contains("statement \"only-operators-delete\""),
        "{refusal}"
    );
    assert_eq!(
        check(
            &Operation::Delete,
            Caller::Principal(OPERATOR),
            &point(Some(35)),
            &guarded,
            &[],
            days(1)
        ),
        Ok(())
    );
    let unreadable = vault(None, Some(json!({"Statement": "nope"})));
    assert!(check(
        &Operation::Delete,
        Caller::Principal(OPERATOR),
        &point(Some(35)),
        &unreadable,
        &[],
        days(1)
    )
    .is_err());
}

#[test]
fn the_sweeper_never_deletes_by_hand_and_lifecycle_updates_are_validated() {
    assert!(check(
        &Operation::Delete,
        Caller::LifecycleSweeper,
        &point(Some(35)),
        &vault(None, None),
        &[],
        days(400)
    )
    .is_err());
    let bad = Lifecycle {
        move_to_cold_storage_after_days: Some(30),
        delete_after_days: Some(60),
        ..Lifecycle::default()
    };
    let refusal = check(
        &Operation::UpdateLifecycle(bad),
        Caller::Principal(OPERATOR),
        &point(Some(35)),
        &vault(None, None),
        &[],
        days(1),
    )
    .unwrap_err();
    assert!(
        refusal.reason.contains("at least 90 days after"),
        "{refusal}"
    );
    let mut cold = point(Some(400));
    cold.storage_class = StorageClass::Cold;
    cold.lifecycle.move_to_cold_storage_after_days = Some(30);
    let moved = Lifecycle {
        move_to_cold_storage_after_days: Some(60),
        delete_after_days: Some(400),
        ..Lifecycle::default()
    };
    assert!(check(
        &Operation::UpdateLifecycle(moved),
        Caller::Principal(OPERATOR),
        &cold,
        &vault(None, None),
        &[],
        days(40)
    )
    .is_err());
}

fn lock_strategy() -> impl Strategy<Value = Option<VaultLockConfiguration>> {
    prop_oneof![
        Just(None),
        (1u32..60).prop_map(|min| Some(VaultLockConfiguration {
            min_retention_days: Some(min),
            max_retention_days: None,
            changeable_for_days: None
        })),
        (1u32..60, 3u32..30).prop_map(|(min, c)| Some(VaultLockConfiguration {
            min_retention_days: Some(min),
            max_retention_days: None,
            changeable_for_days: Some(c)
        })),
    ]
}

fn status_strategy() -> impl Strategy<Value = LegalHoldStatus> {
    prop_oneof![
        Just(LegalHoldStatus::Creating),
        Just(LegalHoldStatus::Active),
        Just(LegalHoldStatus::Canceling),
        Just(LegalHoldStatus::Canceled),
    ]
}

fn operation_strategy() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Delete),
        Just(Operation::Expire),
        (proptest::option::of(1u32..800)).prop_map(|d| Operation::UpdateLifecycle(Lifecycle {
            delete_after_days: d,
            ..Lifecycle::default()
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Invariant 1 on every path: no caller, by no operation, deletes,
    /// expires early or changes the lifecycle of a point that is locked or
    /// held; and an unprotected point stays deletable (the property is not
    /// vacuous).
    #[test]
    fn locked_or_held_points_survive_every_path(
        lock in lock_strategy(),
        with_policy in any::<bool>(),
        hold_status in proptest::option::of(status_strategy()),
        hold_covers in any::<bool>(),
        delete_after in proptest::option::of(1u32..400),
        now_day in -5i64..900,
        operation in operation_strategy(),
        caller_idx in 0usize..3,
    ) {
        let caller = [Caller::Principal(OPERATOR), Caller::Principal(ALICE), Caller::LifecycleSweeper][caller_idx];
        let the_vault = vault(lock, with_policy.then(operators_only));
        let the_point = point(delete_after);
        let holds: Vec<LegalHold> = hold_status
            .map(|s| hold(s, if hold_covers { &["primary"] } else { &["other"] }))
            .into_iter()
            .collect();
        let now = days(now_day);
        let result = check(&operation, caller, &the_point, &the_vault, &holds, now);

        let held = holds.iter().any(|h| h.status.pins() && hold_covers);
        let due = delete_after.is_some_and(|d| now >= days(i64::from(d)));
        if result.is_ok() {
            prop_assert!(!held, "a held point was changed: {operation:?} by {caller:?}");
            match operation {
                Operation::Expire => {
                    prop_assert!(due, "expired before its time");
                    prop_assert!(caller == Caller::LifecycleSweeper, "a principal expired a point, bypassing the policy");
                }
                Operation::UpdateLifecycle(ref lifecycle) if the_vault.lock_configuration.is_some() => {
                    // Only a lengthening inside the lock's bounds goes through.
                    let lock = the_vault.lock_configuration.unwrap();
                    let longer = match (delete_after, lifecycle.delete_after_days) {
                        (_, None) => true,
                        (None, Some(_)) => false,
                        (Some(old), Some(new)) => new >= old,
                    };
                    prop_assert!(longer, "a locked point's retention was shortened: {operation:?}");
                    prop_assert!(lock.check_retention(lifecycle.delete_after_days).is_ok(), "outside the lock's bounds: {operation:?}");
                    prop_assert!(caller != Caller::LifecycleSweeper);
                    prop_assert!(!(with_policy && caller == Caller::Principal(ALICE)), "the policy's Deny was ignored");
                }
                _ => {
                    prop_assert!(the_vault.lock_configuration.is_none(), "a locked point was changed: {operation:?}");
                    prop_assert!(caller != Caller::LifecycleSweeper);
                    prop_assert!(!(with_policy && caller == Caller::Principal(ALICE)), "the policy's Deny was ignored");
                }
            }
        } else if !held {
            // Liveness: what nothing protects goes through.
            let unprotected = the_vault.lock_configuration.is_none() && !with_policy && caller != Caller::LifecycleSweeper;
            if unprotected && operation == Operation::Delete {
                prop_assert!(false, "an unprotected point could not be deleted: {result:?}");
            }
            if operation == Operation::Expire && due && caller == Caller::LifecycleSweeper {
                prop_assert!(false, "a due point could not expire: {result:?}");
            }
        }
    }
}
