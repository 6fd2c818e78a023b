//! Object history: a plan applied, changed twice and deleted reads as it
//! was at each moment, with who changed it and the entry that commits to
//! each version; a version edited, or removed, with SQL is named; objects
//! written before the history get their version at their next apply. Both
//! engines.

use coffer_catalog::{Actor, Catalog, DesiredObject, ObjectKind, Problem, VersionChange};
use serde_json::json;

use crate::agreement::tamper;
use crate::engines::{engines, now};
use crate::stacks::{later, plan_at};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn plan(days: u32) -> DesiredObject {
    DesiredObject {
        kind: ObjectKind::BackupPlan,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: "daily".into(),
        arn: format!("arn:coffer:backup:{REGION}:{ACCOUNT}:backup-plan:daily"),
        doc: json!({"BackupPlanName": "daily", "Rules": [{"RuleName": "r", "TargetBackupVaultName": "v", "Lifecycle": {"DeleteAfterDays": days}}]}),
    }
}

fn person(name: &str) -> Actor {
    Actor::new(
        format!("arn:coffer:iam::{ACCOUNT}:user/{name}"),
        Some(ACCOUNT.into()),
        Some(name.into()),
    )
}

/// Applies `desired` as the stack "s" at `at`, written by `who`.
async fn apply_as(catalog: &Catalog, who: &str, desired: Vec<DesiredObject>, at: jiff::Timestamp) {
    let catalog = catalog.as_actor(person(who));
    let plan = plan_at(&catalog, "s", desired, at).await;
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    catalog.apply_stack(&plan, at).await.unwrap();
}

fn hours(n: i64) -> jiff::Timestamp {
    now()
        .checked_add(jiff::SignedDuration::from_hours(n))
        .unwrap()
}

async fn version_disagreements(catalog: &Catalog) -> Vec<coffer_catalog::Disagreement> {
    let mut after = -1;
    let mut found = Vec::new();
    loop {
        let page = catalog.version_agreement_page(after, 2).await.unwrap();
        found.extend(page.disagreements);
        match page.last_seq {
            Some(last) => after = last,
            None => break,
        }
    }
    found.extend(catalog.versions_missing().await.unwrap());
    found
}

#[tokio::test]
async fn a_plan_changed_twice_and_deleted_reads_as_it_was_at_each_moment() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply_as(&catalog, "alice", vec![plan(35)], hours(0)).await;
        apply_as(&catalog, "bob", vec![plan(90)], hours(2)).await;
        apply_as(&catalog, "carol", vec![plan(120)], hours(4)).await;
        apply_as(&catalog, "dave", vec![], hours(6)).await;

        let at = |t| catalog.object_version_at(ObjectKind::BackupPlan, ACCOUNT, REGION, "daily", t);
        assert_eq!(at(hours(-1)).await.unwrap(), None, "{}", engine.name);
        for (time, days, who, version) in [
            (hours(0), 35, "alice", 1),
            (hours(1), 35, "alice", 1),
            (hours(2), 90, "bob", 2),
            (hours(3), 90, "bob", 2),
            (hours(5), 120, "carol", 3),
        ] {
            let found = at(time).await.unwrap().unwrap();
            assert_eq!(found.doc, Some(plan(days).doc), "{} at {time}", engine.name);
            assert_eq!(found.actor, Some(person(who)), "{} at {time}", engine.name);
            assert_eq!(found.version, version);
            assert_eq!(found.stack, "s");
        }
        let deleted = at(hours(7)).await.unwrap().unwrap();
        assert!(deleted.is_tombstone(), "{}: {deleted:?}", engine.name);
        assert_eq!(deleted.actor, Some(person("dave")));
        assert_eq!(deleted.doc, None);
        assert_eq!(
            catalog
                .object_in_force_at(ObjectKind::BackupPlan, ACCOUNT, REGION, "daily", hours(7))
                .await
                .unwrap(),
            None
        );

        let history = catalog
            .object_history(ObjectKind::BackupPlan, ACCOUNT, REGION, "daily")
            .await
            .unwrap();
        let changes: Vec<VersionChange> = history.iter().map(|v| v.change).collect();
        assert_eq!(
            changes,
            [
                VersionChange::Created,
                VersionChange::Updated,
                VersionChange::Updated,
                VersionChange::Deleted
            ],
            "{}",
            engine.name
        );
        // Each version's entry commits to its document as stored.
        for version in &history {
            let entry = &catalog
                .ledger_entries(version.ledger_seq, version.ledger_seq + 1)
                .await
                .unwrap()[0];
            let bytes = version
                .doc
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert_eq!(
                entry.doc_sha256,
                coffer_catalog::ledger::sha256_hex(bytes.as_bytes())
            );
            assert_eq!(entry.subject, version.arn);
            assert_eq!(entry.event, version.change.as_str());
            assert_eq!(entry.time, version.time);
            assert_eq!(entry.actor, version.actor);
        }
        assert!(version_disagreements(&catalog).await.is_empty());

        // Created again: the name's versions go on from 5.
        apply_as(&catalog, "erin", vec![plan(7)], hours(8)).await;
        let again = at(hours(8)).await.unwrap().unwrap();
        assert_eq!((again.version, again.change), (5, VersionChange::Created));
        assert_eq!(
            catalog.list_objects(ObjectKind::BackupPlan).await.unwrap()[0].version,
            1
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_version_edited_or_removed_with_sql_is_named() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply_as(&catalog, "alice", vec![plan(35)], hours(0)).await;
        apply_as(&catalog, "bob", vec![plan(90)], hours(2)).await;
        apply_as(&catalog, "carol", vec![plan(120)], hours(4)).await;
        assert!(version_disagreements(&catalog).await.is_empty());

        // Version 1 said to have kept points for a year; version 2 said to
        // be mallory's doing.
        tamper(
            &engine.url,
            "UPDATE object_versions SET doc = REPLACE(doc, '35', '365') WHERE version = 1",
        )
        .await;
        tamper(
            &engine.url,
            "UPDATE object_versions SET actor_principal = 'arn:coffer:iam::111122223333:user/mallory' WHERE version = 2",
        )
        .await;
        let found = version_disagreements(&catalog).await;
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{}: {shown:?}", engine.name);
        assert!(
            matches!(&found[0].problem, Problem::VersionDiffers { field, .. } if field == "document"),
            "{shown:?}"
        );
        assert!(
            shown[0].starts_with("backup plan arn:coffer:backup:eu-west-1:111122223333:backup-plan:daily: its stored version 1 (CREATED at 2026-11-24T10:00:00.000Z) is not what ledger entry "),
            "{shown:?}"
        );
        assert!(
            shown[0].ends_with("committed to: its document differs"),
            "{shown:?}"
        );
        assert!(shown[1].contains("version 2 (UPDATED"), "{shown:?}");
        assert!(shown[1].ends_with("its actor differs"), "{shown:?}");

        // A version removed: its entry is named.
        tamper(&engine.url, "DELETE FROM object_versions WHERE version = 3").await;
        let found = version_disagreements(&catalog).await;
        let missing: Vec<String> = found
            .iter()
            .filter(|d| matches!(d.problem, Problem::VersionMissing { .. }))
            .map(ToString::to_string)
            .collect();
        assert_eq!(missing.len(), 1, "{}: {found:?}", engine.name);
        assert!(
            missing[0].contains("records a change (UPDATED at 2026-11-24T14:00:00.000Z), and the catalog's history holds no version for it"),
            "{missing:?}"
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn objects_written_before_the_history_get_their_version_at_the_next_apply() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply_as(&catalog, "alice", vec![plan(35)], hours(0)).await;
        // As a catalog from before migration 0012: no versions, and the
        // history begins after the ledger's end.
        tamper(
            &engine.url,
            "DELETE FROM object_versions; UPDATE object_history_start SET first_seq = (SELECT MAX(seq) + 1 FROM ledger)",
        )
        .await;
        assert!(catalog
            .object_history(ObjectKind::BackupPlan, ACCOUNT, REGION, "daily")
            .await
            .unwrap()
            .is_empty());
        apply_as(&catalog, "bob", vec![plan(90)], hours(2)).await;
        let history = catalog
            .object_history(ObjectKind::BackupPlan, ACCOUNT, REGION, "daily")
            .await
            .unwrap();
        // The version as it stood is the one its own entry recorded, by
        // alice at its time; then bob's change.
        assert_eq!(history.len(), 2, "{}: {history:?}", engine.name);
        assert_eq!(history[0].change, VersionChange::Created);
        assert_eq!(history[0].actor, Some(person("alice")));
        assert_eq!(history[0].time, hours(0));
        assert_eq!(history[0].doc, Some(plan(35).doc));
        assert_eq!(history[1].actor, Some(person("bob")));
        assert!(version_disagreements(&catalog).await.is_empty());

        // Written before the ledger recorded objects at all: recorded now,
        // by the apply's actor, in its own entry.
        tamper(
            &engine.url,
            "DELETE FROM object_versions; DELETE FROM ledger WHERE kind = 'backup plan'",
        )
        .await;
        apply_as(&catalog, "carol", vec![plan(90)], later(1)).await;
        let history = catalog
            .object_history(ObjectKind::BackupPlan, ACCOUNT, REGION, "daily")
            .await
            .unwrap();
        assert_eq!(history.len(), 1, "{}: {history:?}", engine.name);
        assert_eq!(history[0].change, VersionChange::Recorded);
        assert_eq!(history[0].actor, Some(person("carol")));
        assert_eq!(history[0].doc, Some(plan(90).doc));
        assert!(catalog
            .object_disagreements(ObjectKind::BackupPlan, None)
            .await
            .unwrap()
            .is_empty());
        catalog.close().await;
    }
}
