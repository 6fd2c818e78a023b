//! Stacks: plan and apply, idempotence, ownership, vault protection, locks
//! and concurrent readers.

use std::collections::BTreeMap;

use coffer_catalog::{Catalog, Change, DesiredObject, Error, ObjectKind, StackPlan};
use serde_json::json;

use crate::engines::{engines, now};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn vault(name: &str, min_days: u32) -> DesiredObject {
    DesiredObject {
        kind: ObjectKind::BackupVault,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: name.into(),
        arn: format!("arn:coffer:backup:{REGION}:{ACCOUNT}:backup-vault:{name}"),
        doc: json!({"BackupVaultName": name, "LockConfiguration": {"MinRetentionDays": min_days}}),
    }
}

pub fn compliance_vault(name: &str, changeable_days: u32) -> DesiredObject {
    let mut object = vault(name, 30);
    object.doc = json!({"BackupVaultName": name, "LockConfiguration": {"MinRetentionDays": 30, "ChangeableForDays": changeable_days}});
    object
}

fn plan_object(name: &str, vault: &str) -> DesiredObject {
    DesiredObject {
        kind: ObjectKind::BackupPlan,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: name.into(),
        arn: format!("arn:coffer:backup:{REGION}:{ACCOUNT}:backup-plan:{name}"),
        doc: json!({"BackupPlanName": name, "Rules": [{"RuleName": "r", "TargetBackupVaultName": vault}]}),
    }
}

fn selection_object(plan: &str, name: &str) -> DesiredObject {
    DesiredObject {
        kind: ObjectKind::BackupSelection,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: format!("{plan}/{name}"),
        arn: format!("arn:coffer:backup:{REGION}:{ACCOUNT}:backup-plan:{plan}:selection:{name}"),
        doc: json!({"SelectionName": name, "BackupPlanName": plan}),
    }
}

fn files() -> BTreeMap<String, String> {
    BTreeMap::from([("stack.yaml".to_string(), "ab".repeat(32))])
}

pub fn later(days: i64) -> jiff::Timestamp {
    now()
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap()
}

pub async fn plan_at(
    catalog: &Catalog,
    stack: &str,
    desired: Vec<DesiredObject>,
    at: jiff::Timestamp,
) -> StackPlan {
    catalog
        .plan_stack(stack, ACCOUNT, REGION, desired, files(), at)
        .await
        .unwrap()
}

async fn plan(catalog: &Catalog, stack: &str, desired: Vec<DesiredObject>) -> StackPlan {
    plan_at(catalog, stack, desired, now()).await
}

pub async fn apply(catalog: &Catalog, stack: &str, desired: Vec<DesiredObject>) {
    let plan = plan(catalog, stack, desired).await;
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    catalog.apply_stack(&plan, now()).await.unwrap();
}

#[tokio::test]
async fn apply_creates_then_second_apply_changes_nothing() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let first = plan(
            &catalog,
            "payments",
            vec![vault("primary", 14), vault("dr", 35)],
        )
        .await;
        assert_eq!(first.count(), (2, 0, 0), "{}", engine.name);
        let summary = catalog.apply_stack(&first, now()).await.unwrap();
        assert_eq!(summary.created, 2);

        let again = plan(
            &catalog,
            "payments",
            vec![vault("primary", 14), vault("dr", 35)],
        )
        .await;
        assert!(!again.has_changes(), "{}: {:?}", engine.name, again.changes);
        assert_eq!(again.unchanged, 2);

        let stored = catalog.list_objects(ObjectKind::BackupVault).await.unwrap();
        assert_eq!(stored.len(), 2);
        assert!(stored
            .iter()
            .all(|o| o.version == 1 && o.stack == "payments" && o.created_at == now()));
        let stacks = catalog.stacks().await.unwrap();
        assert_eq!(stacks[0].name, "payments");
        assert_eq!(stacks[0].files, files());
        catalog.close().await;
    }
}

#[tokio::test]
async fn update_bumps_version_and_removed_objects_are_deleted() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![vault("primary", 14), vault("old", 7)]).await;
        let plan = plan(&catalog, "s", vec![vault("primary", 30)]).await;
        assert_eq!(plan.count(), (0, 1, 1), "{}", engine.name);
        let Change::Update { fields, .. } = &plan.changes[0] else {
            panic!("expected update first")
        };
        assert_eq!(fields[0].path, "LockConfiguration.MinRetentionDays");
        catalog.apply_stack(&plan, later(1)).await.unwrap();
        let stored = catalog.list_objects(ObjectKind::BackupVault).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].version, 2);
        assert_eq!(stored[0].created_at, now());
        assert_eq!(stored[0].updated_at, later(1));
        catalog.close().await;
    }
}

#[tokio::test]
async fn another_stacks_objects_are_never_touched() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "a", vec![vault("shared", 14)]).await;

        // Stack b declares the same vault: blocked, and nothing changes.
        let blocked = plan(&catalog, "b", vec![vault("shared", 99), vault("mine", 1)]).await;
        assert_eq!(blocked.blockers.len(), 1, "{}", engine.name);
        assert!(
            blocked.blockers[0]
                .reason
                .contains("belongs to stack \"a\""),
            "{}",
            blocked.blockers[0]
        );
        assert!(matches!(
            catalog.apply_stack(&blocked, now()).await,
            Err(Error::Blocked { .. })
        ));
        assert_eq!(
            catalog
                .list_objects(ObjectKind::BackupVault)
                .await
                .unwrap()
                .len(),
            1
        );

        // Stack b with no objects deletes nothing of stack a.
        let empty = plan(&catalog, "b", vec![]).await;
        assert!(!empty.has_changes());
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_stack_lives_in_one_account_and_region() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "a", vec![vault("v", 1)]).await;
        let mut elsewhere = vault("v", 1);
        elsewhere.region = "us-east-1".into();
        let moved = catalog
            .plan_stack("a", ACCOUNT, "us-east-1", vec![elsewhere], files(), now())
            .await
            .unwrap();
        assert!(
            moved.blockers.iter().any(|b| b
                .reason
                .contains("stack \"a\" lives in account 111122223333, region eu-west-1")),
            "{}: {:?}",
            engine.name,
            moved.blockers
        );
        assert!(matches!(
            catalog.apply_stack(&moved, now()).await,
            Err(Error::Blocked { .. })
        ));
        assert_eq!(
            catalog.list_objects(ObjectKind::BackupVault).await.unwrap()[0].region,
            REGION
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn objects_another_stack_depends_on_are_kept() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(
            &catalog,
            "a",
            vec![vault("shared", 1), plan_object("plan-a", "shared")],
        )
        .await;
        apply(
            &catalog,
            "b",
            vec![
                selection_object("plan-a", "mine"),
                plan_object("plan-b", "shared"),
            ],
        )
        .await;
        let leaving = plan(&catalog, "a", vec![]).await;
        let text = leaving
            .blockers
            .iter()
            .map(|b| b.reason.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("backup plan \"plan-a\"")
                && text.contains("selection \"plan-a/mine\" of stack \"b\""),
            "{}: {text}",
            engine.name
        );
        assert!(
            text.contains("backup vault \"shared\"")
                && text.contains("plan \"plan-b\" of stack \"b\""),
            "{}: {text}",
            engine.name
        );
        assert!(matches!(
            catalog.apply_stack(&leaving, now()).await,
            Err(Error::Blocked { .. })
        ));
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_compliance_lock_is_immutable_from_its_lock_date() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![compliance_vault("locked", 3)]).await;
        let stored = catalog.list_objects(ObjectKind::BackupVault).await.unwrap();
        assert_eq!(
            stored[0].doc["LockDate"], "2026-11-27T10:00:00.000Z",
            "{}",
            engine.name
        );
        // Re-applying the same lock keeps the same LockDate: nothing changes.
        assert!(!plan_at(
            &catalog,
            "s",
            vec![compliance_vault("locked", 3)],
            later(10)
        )
        .await
        .has_changes());

        // In the grace time the lock can change (and the LockDate restarts).
        let grace = plan_at(&catalog, "s", vec![compliance_vault("locked", 5)], later(1)).await;
        assert!(grace.blockers.is_empty(), "{:?}", grace.blockers);
        assert_eq!(grace.count(), (0, 1, 0));

        // After the LockDate: no change, no removal, no deletion.
        let mut unlocked = vault("locked", 30);
        unlocked.doc = json!({"BackupVaultName": "locked"});
        for desired in [vec![compliance_vault("locked", 5)], vec![unlocked], vec![]] {
            let late = plan_at(&catalog, "s", desired, later(4)).await;
            assert!(
                late.blockers.iter().any(|b| b.reason.contains(
                    "compliance-mode lock that became immutable on 2026-11-27T10:00:00Z"
                )),
                "{}: {:?}",
                engine.name,
                late.blockers
            );
            assert!(!late.has_changes());
        }
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_vault_holding_recovery_points_is_never_deleted() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![vault("primary", 14)]).await;
        catalog
            .insert(&crate::records::recovery_point("rp-1", "primary"), now())
            .await
            .unwrap();

        let leaving = plan(&catalog, "s", vec![]).await;
        assert!(!leaving.has_changes());
        assert!(
            leaving.blockers[0]
                .reason
                .contains("holds 1 recovery point"),
            "{}",
            leaving.blockers[0]
        );
        assert!(matches!(
            catalog.apply_stack(&leaving, now()).await,
            Err(Error::Blocked { .. })
        ));
        assert_eq!(
            catalog
                .list_objects(ObjectKind::BackupVault)
                .await
                .unwrap()
                .len(),
            1
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_recovery_point_written_after_the_plan_still_keeps_its_vault() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![vault("primary", 14)]).await;
        let leaving = plan(&catalog, "s", vec![]).await;
        assert_eq!(leaving.count(), (0, 0, 1), "{}", engine.name);
        // A backup completes between plan and apply: the apply re-checks.
        catalog
            .insert(&crate::records::recovery_point("rp-1", "primary"), now())
            .await
            .unwrap();
        let result = catalog.apply_stack(&leaving, now()).await;
        assert!(
            matches!(&result, Err(Error::Blocked { reasons, .. }) if reasons[0].contains("now holds 1 recovery point")),
            "{result:?}"
        );
        assert_eq!(
            catalog
                .list_objects(ObjectKind::BackupVault)
                .await
                .unwrap()
                .len(),
            1
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_stale_plan_fails_whole_and_changes_nothing() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![vault("v1", 1)]).await;
        let stale = plan(&catalog, "s", vec![vault("v1", 2), vault("v2", 1)]).await;
        apply(&catalog, "s", vec![vault("v1", 3)]).await;
        assert!(
            matches!(
                catalog.apply_stack(&stale, now()).await,
                Err(Error::Conflict { .. })
            ),
            "{}",
            engine.name
        );
        let stored = catalog.list_objects(ObjectKind::BackupVault).await.unwrap();
        assert_eq!(stored.len(), 1, "v2 must not exist after the failed apply");
        assert_eq!(stored[0].doc["LockConfiguration"]["MinRetentionDays"], 3);
        catalog.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_all_or_nothing_while_a_writer_applies() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let desired: Vec<DesiredObject> = (0..300)
            .map(|i| vault(&format!("vault-{i:03}"), 1))
            .collect();
        let big = plan(&catalog, "big", desired).await;
        let reader = {
            let catalog = catalog.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..200 {
                    let n = catalog
                        .list_objects(ObjectKind::BackupVault)
                        .await
                        .unwrap()
                        .len();
                    seen.push(n);
                    if n == 300 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                seen
            })
        };
        catalog.apply_stack(&big, now()).await.unwrap();
        let seen = reader.await.unwrap();
        assert!(
            seen.iter().all(|n| *n == 0 || *n == 300),
            "{}: partial state seen: {seen:?}",
            engine.name
        );
        catalog.close().await;
    }
}

/// A reader is served while another connection holds a write transaction
/// open, and does not see its uncommitted rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_served_during_an_open_write_transaction() {
    use sqlx::Connection;
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![vault("committed", 1)]).await;
        sqlx::any::install_default_drivers();
        let mut writer = sqlx::AnyConnection::connect(&engine.url).await.unwrap();
        let begin = if engine.name == "sqlite" {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        };
        sqlx::raw_sql(begin).execute(&mut writer).await.unwrap();
        sqlx::raw_sql("INSERT INTO objects (kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at) VALUES ('backup-vault', '111122223333', 'eu-west-1', 'uncommitted', 'x', 'x', 's', '{}', 1, '2026-11-24T10:00:00.000Z', '2026-11-24T10:00:00.000Z')")
            .execute(&mut writer)
            .await
            .unwrap();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            catalog.list_objects(ObjectKind::BackupVault),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{}: a reader was blocked by an open write transaction",
                engine.name
            )
        })
        .unwrap();
        let names: Vec<&str> = read.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["committed"], "{}", engine.name);
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut writer)
            .await
            .unwrap();
        writer.close().await.unwrap();
        catalog.close().await;
    }
}

#[tokio::test]
async fn reopening_keeps_schema_and_data() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![vault("v", 1)]).await;
        catalog.close().await;
        let again = engine.open().await;
        assert_eq!(
            again
                .list_objects(ObjectKind::BackupVault)
                .await
                .unwrap()
                .len(),
            1,
            "{}",
            engine.name
        );
        again.close().await;
    }
}

#[tokio::test]
async fn weakening_changes_are_planned_apart_and_recorded_as_their_own_entries() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let policed = |name: &str, deny: bool| {
            let mut object = vault(name, 30);
            let statement = json!({"Sid": "no-delete", "Effect": if deny { "Deny" } else { "Allow" }, "Principal": "*", "Action": "backup:DeleteRecoveryPoint", "Resource": "*"});
            object.doc["AccessPolicy"] = json!({"Version": "2012-10-17", "Statement": [statement]});
            object
        };
        apply(
            &catalog,
            "s",
            vec![vault("a", 30), policed("b", true), vault("c", 30)],
        )
        .await;
        // Lengthening a lock weakens nothing.
        assert!(plan(
            &catalog,
            "s",
            vec![vault("a", 40), policed("b", true), vault("c", 30)]
        )
        .await
        .weakenings()
        .is_empty());

        let mut unlocked = vault("c", 30);
        unlocked.doc = json!({"BackupVaultName": "c"});
        let weakening = plan(
            &catalog,
            "s",
            vec![vault("a", 7), policed("b", false), unlocked],
        )
        .await;
        let found: Vec<String> = weakening
            .weakenings()
            .iter()
            .map(ToString::to_string)
            .collect();
        let arn = |name: &str| format!("arn:coffer:backup:{REGION}:{ACCOUNT}:backup-vault:{name}");
        assert_eq!(
            found,
            [
                format!("{}: lock MinRetentionDays 30 → 7", arn("a")),
                format!(
                    "{}: access policy: 1 Deny statement(s) removed or changed",
                    arn("b")
                ),
                format!("{}: lock removed", arn("c")),
            ],
            "{}",
            engine.name
        );
        let before = catalog.ledger_len().await.unwrap();
        catalog.apply_stack(&weakening, now()).await.unwrap();
        let entries = catalog.ledger_entries(before, before + 10).await.unwrap();
        let weakened: Vec<(String, String)> = entries
            .iter()
            .filter(|e| e.kind == "weakening")
            .map(|e| (e.subject.clone(), e.event.clone()))
            .collect();
        assert_eq!(weakened.len(), 3, "{}: {entries:?}", engine.name);
        assert_eq!(
            weakened[2],
            (arn("c"), "WEAKENED lock removed (stack s)".to_string())
        );
        catalog.close().await;
    }
}
