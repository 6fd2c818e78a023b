//! Stacks: plan and apply, idempotence, ownership, vault protection and
//! concurrent readers.

use std::collections::BTreeMap;

use coffer_catalog::{Change, DesiredObject, Error, ObjectKind};
use serde_json::json;

use crate::engines::{engines, now};

fn vault(name: &str, min_days: u32) -> DesiredObject {
    DesiredObject {
        kind: ObjectKind::BackupVault,
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        name: name.into(),
        arn: format!("arn:coffer:backup:eu-west-1:111122223333:backup-vault:{name}"),
        doc: json!({"BackupVaultName": name, "LockConfiguration": {"MinRetentionDays": min_days}}),
    }
}

fn files() -> BTreeMap<String, String> {
    BTreeMap::from([("stack.yaml".to_string(), "ab".repeat(32))])
}

#[tokio::test]
async fn apply_creates_then_second_apply_changes_nothing() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let plan = catalog
            .plan_stack(
                "payments",
                "111122223333",
                "eu-west-1",
                vec![vault("primary", 14), vault("dr", 35)],
                files(),
            )
            .await
            .unwrap();
        assert_eq!(plan.count(), (2, 0, 0), "{}", engine.name);
        let summary = catalog.apply_stack(&plan, now()).await.unwrap();
        assert_eq!(summary.created, 2);

        let again = catalog
            .plan_stack(
                "payments",
                "111122223333",
                "eu-west-1",
                vec![vault("primary", 14), vault("dr", 35)],
                files(),
            )
            .await
            .unwrap();
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
        let plan = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("primary", 14), vault("old", 7)],
                files(),
            )
            .await
            .unwrap();
        catalog.apply_stack(&plan, now()).await.unwrap();
        let later = now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap();
        let plan = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("primary", 30)],
                files(),
            )
            .await
            .unwrap();
        assert_eq!(plan.count(), (0, 1, 1), "{}", engine.name);
        let Change::Update { fields, .. } = &plan.changes[0] else {
            panic!("expected update first")
        };
        assert_eq!(fields[0].path, "LockConfiguration.MinRetentionDays");
        catalog.apply_stack(&plan, later).await.unwrap();
        let stored = catalog.list_objects(ObjectKind::BackupVault).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].version, 2);
        assert_eq!(stored[0].created_at, now());
        assert_eq!(stored[0].updated_at, later);
        catalog.close().await;
    }
}

#[tokio::test]
async fn another_stacks_objects_are_never_touched() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let plan = catalog
            .plan_stack(
                "a",
                "111122223333",
                "eu-west-1",
                vec![vault("shared", 14)],
                files(),
            )
            .await
            .unwrap();
        catalog.apply_stack(&plan, now()).await.unwrap();

        // Stack b declares the same vault: blocked, and nothing changes.
        let plan = catalog
            .plan_stack(
                "b",
                "111122223333",
                "eu-west-1",
                vec![vault("shared", 99), vault("mine", 1)],
                files(),
            )
            .await
            .unwrap();
        assert_eq!(plan.blockers.len(), 1, "{}", engine.name);
        assert!(
            plan.blockers[0].contains("belongs to stack \"a\""),
            "{}",
            plan.blockers[0]
        );
        assert!(matches!(
            catalog.apply_stack(&plan, now()).await,
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
        let plan = catalog
            .plan_stack("b", "111122223333", "eu-west-1", vec![], files())
            .await
            .unwrap();
        assert!(!plan.has_changes());
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_vault_holding_recovery_points_is_never_deleted() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let plan = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("primary", 14)],
                files(),
            )
            .await
            .unwrap();
        catalog.apply_stack(&plan, now()).await.unwrap();
        catalog
            .insert(&crate::records::recovery_point("rp-1", "primary"), now())
            .await
            .unwrap();

        let plan = catalog
            .plan_stack("s", "111122223333", "eu-west-1", vec![], files())
            .await
            .unwrap();
        assert!(!plan.has_changes());
        assert!(
            plan.blockers[0].contains("holds 1 recovery point"),
            "{}",
            plan.blockers[0]
        );
        assert!(matches!(
            catalog.apply_stack(&plan, now()).await,
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
async fn a_stale_plan_fails_whole_and_changes_nothing() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let plan = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("v1", 1)],
                files(),
            )
            .await
            .unwrap();
        catalog.apply_stack(&plan, now()).await.unwrap();
        let stale = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("v1", 2), vault("v2", 1)],
                files(),
            )
            .await
            .unwrap();
        let fresh = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("v1", 3)],
                files(),
            )
            .await
            .unwrap();
        catalog.apply_stack(&fresh, now()).await.unwrap();
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
        let plan = catalog
            .plan_stack("big", "111122223333", "eu-west-1", desired, files())
            .await
            .unwrap();
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
        catalog.apply_stack(&plan, now()).await.unwrap();
        let seen = reader.await.unwrap();
        assert!(
            seen.iter().all(|n| *n == 0 || *n == 300),
            "{}: partial state seen: {seen:?}",
            engine.name
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn reopening_keeps_schema_and_data() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let plan = catalog
            .plan_stack(
                "s",
                "111122223333",
                "eu-west-1",
                vec![vault("v", 1)],
                files(),
            )
            .await
            .unwrap();
        catalog.apply_stack(&plan, now()).await.unwrap();
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
