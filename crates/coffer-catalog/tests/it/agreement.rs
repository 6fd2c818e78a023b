//! The catalog agrees with the ledger, or says where it does not: rows
//! edited with SQL behind Coffer's back (a job's state, a point's
//! DeleteAt, a result's status, a vault's LockDate) are named, on both
//! engines, and a vault so edited blocks every apply.

use coffer_catalog::{Catalog, ObjectKind, Problem};
use coffer_model::{BackupJob, BackupJobState, Compliance, ControlResult, RecoveryPoint};
use sqlx::Connection;

use crate::compliance::result;
use crate::engines::{engines, now};
use crate::records::{job, recovery_point};
use crate::stacks::{apply, compliance_vault, later, plan_at};

/// Runs SQL on the catalog as someone with write access to its database.
pub async fn tamper(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn all_disagreements<R: coffer_catalog::Record>(
    catalog: &Catalog,
    page: i64,
) -> (usize, Vec<coffer_catalog::Disagreement>) {
    let mut after = String::new();
    let mut rows = 0;
    let mut found = Vec::new();
    loop {
        let checked = catalog
            .record_agreement_page::<R>(&after, page)
            .await
            .unwrap();
        rows += checked.rows;
        found.extend(checked.disagreements);
        match checked.last_id {
            Some(last) => after = last,
            None => return (rows, found),
        }
    }
}

#[tokio::test]
async fn records_edited_behind_coffers_back_are_named() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let jobs: Vec<BackupJob> = (0..7).map(|i| job(&format!("job-{i}"))).collect();
        catalog.insert_all(&jobs, now()).await.unwrap();
        for id in ["job-1", "job-4"] {
            catalog
                .transition_backup_job(id, BackupJobState::Running, None, now())
                .await
                .unwrap();
            catalog
                .transition_backup_job(id, BackupJobState::Completed, None, now())
                .await
                .unwrap();
        }
        catalog
            .insert(&recovery_point("rp-1", "primary"), now())
            .await
            .unwrap();
        let (rows, found) = all_disagreements::<BackupJob>(&catalog, 3).await;
        assert_eq!((rows, found.len()), (7, 0), "{}: {found:?}", engine.name);

        // The document edited: COMPLETED becomes FAILED, column and all.
        tamper(
            &engine.url,
            "UPDATE backup_jobs SET state = 'FAILED', doc = REPLACE(doc, '\"COMPLETED\"', '\"FAILED\"') WHERE id = 'job-1'",
        )
        .await;
        // Only the column edited.
        tamper(
            &engine.url,
            "UPDATE backup_jobs SET state = 'FAILED' WHERE id = 'job-4'",
        )
        .await;
        // A point's DeleteAt moved to today, in the column and the document.
        tamper(
            &engine.url,
            "UPDATE recovery_points SET delete_at = '2026-11-24T10:00:00.000Z', doc = REPLACE(doc, '2026-12-29T10:00:00Z', '2026-11-24T10:00:00Z') WHERE id = 'rp-1'",
        )
        .await;
        let (_, found) = all_disagreements::<BackupJob>(&catalog, 3).await;
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{}: {shown:?}", engine.name);
        assert_eq!(found[0].id, "job-1");
        assert!(
            matches!(found[0].problem, Problem::DocumentDiffers { .. }),
            "{shown:?}"
        );
        assert!(
            shown[0].starts_with(
                "backup job job-1: the catalog says FAILED, the ledger's last entry (seq "
            ),
            "{shown:?}"
        );
        assert_eq!(
            shown[1],
            "backup job job-4: its state column says FAILED, its document COMPLETED"
        );
        // Given rows alone, as a report or a protection decision asks.
        let given = catalog
            .record_disagreements::<BackupJob>(&["job-0".into(), "job-4".into()])
            .await
            .unwrap();
        assert_eq!(given.len(), 1);
        assert_eq!(given[0].id, "job-4");
        let points = catalog
            .record_disagreements::<RecoveryPoint>(&["rp-1".into()])
            .await
            .unwrap();
        assert_eq!(points.len(), 1, "{}", engine.name);
        assert!(
            matches!(points[0].problem, Problem::DocumentDiffers { .. }),
            "{points:?}"
        );

        // A row inserted with SQL has no entry at all.
        tamper(
            &engine.url,
            "INSERT INTO backup_jobs (id, account_id, region, vault_name, resource_arn, resource_type, state, plan_name, rule_name, creation_date, completion_date, recovery_point_arn, doc, version, created_at, updated_at) SELECT 'job-forged', account_id, region, vault_name, resource_arn, resource_type, state, plan_name, rule_name, creation_date, completion_date, recovery_point_arn, REPLACE(doc, 'job-0', 'job-forged'), version, created_at, updated_at FROM backup_jobs WHERE id = 'job-0'",
        )
        .await;
        let forged = catalog
            .record_disagreements::<BackupJob>(&["job-forged".into()])
            .await
            .unwrap();
        assert_eq!(forged[0].problem, Problem::NoEntry, "{}", engine.name);
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_current_result_made_compliant_with_sql_is_named() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let failing: ControlResult = result("r-1", "home", Compliance::NonCompliant);
        catalog
            .record_control_results(&[failing], &["d1".into()], now())
            .await
            .unwrap();
        assert!(catalog
            .current_result_disagreements()
            .await
            .unwrap()
            .is_empty());
        tamper(
            &engine.url,
            "UPDATE control_current SET status = 'COMPLIANT'",
        )
        .await;
        let found = catalog.current_result_disagreements().await.unwrap();
        assert_eq!(found.len(), 1, "{}", engine.name);
        assert_eq!(
            found[0].to_string(),
            "current control result core/BACKUP_RECOVERY_POINT_ENCRYPTED/home: its status column says COMPLIANT, its document result r-1 says NON_COMPLIANT"
        );
        // The result itself edited too: its document no longer hashes to
        // the ledger's.
        tamper(
            &engine.url,
            "UPDATE control_results SET status = 'COMPLIANT', doc = REPLACE(doc, 'NON_COMPLIANT', 'COMPLIANT')",
        )
        .await;
        assert!(catalog
            .current_result_disagreements()
            .await
            .unwrap()
            .is_empty());
        let (_, found) = all_disagreements::<ControlResult>(&catalog, 10).await;
        assert_eq!(found.len(), 1, "{}", engine.name);
        assert!(found[0]
            .to_string()
            .starts_with("control result r-1: the catalog says core BACKUP_RECOVERY_POINT_ENCRYPTED COMPLIANT, the ledger's last entry"));
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_vault_whose_lock_date_was_edited_blocks_every_apply() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![compliance_vault("locked", 3)]).await;
        let objects = catalog
            .object_disagreements(ObjectKind::BackupVault, None)
            .await
            .unwrap();
        assert!(objects.is_empty(), "{}: {objects:?}", engine.name);

        // The LockDate moved a year on: the lock would look changeable.
        tamper(
            &engine.url,
            "UPDATE objects SET doc = REPLACE(doc, '2026-11-27T10:00:00.000Z', '2027-11-27T10:00:00.000Z') WHERE kind = 'backup-vault'",
        )
        .await;
        let objects = catalog
            .object_disagreements(ObjectKind::BackupVault, None)
            .await
            .unwrap();
        assert_eq!(objects.len(), 1, "{}", engine.name);
        let text = objects[0].to_string();
        assert!(
            text.starts_with("backup vault arn:coffer:backup:eu-west-1:111122223333:backup-vault:locked: the catalog says \"locked\" locked {"),
            "{text}"
        );
        assert!(
            text.contains("LockDate 2027-11-27T10:00:00.000Z, the ledger's last entry (seq "),
            "{text}"
        );

        // Removing the lock (or anything else) is refused, naming why.
        let mut unlocked = compliance_vault("locked", 3);
        unlocked.doc = serde_json::json!({"BackupVaultName": "locked"});
        for desired in [vec![unlocked], vec![compliance_vault("locked", 3)], vec![]] {
            let plan = plan_at(&catalog, "s", desired, later(4)).await;
            assert!(
                plan.blockers
                    .iter()
                    .any(|b| b.reason.contains("the ledger's last entry")
                        && b.reason.contains("changed outside Coffer")),
                "{}: {:?}",
                engine.name,
                plan.blockers
            );
            assert!(matches!(
                catalog.apply_stack(&plan, later(4)).await,
                Err(coffer_catalog::Error::Blocked { .. })
            ));
        }
        catalog.close().await;
    }
}

#[tokio::test]
async fn objects_written_before_the_ledger_recorded_them_are_recorded_by_the_next_apply() {
    for engine in engines().await {
        let catalog = engine.open().await;
        apply(&catalog, "s", vec![compliance_vault("locked", 3)]).await;
        // As a catalog from before: the vault's own entries are not there.
        tamper(
            &engine.url,
            "DELETE FROM ledger WHERE kind = 'backup vault'",
        )
        .await;
        let objects = catalog
            .object_disagreements(ObjectKind::BackupVault, None)
            .await
            .unwrap();
        assert_eq!(objects[0].problem, Problem::NoEntry, "{}", engine.name);
        let plan = plan_at(&catalog, "s", vec![compliance_vault("locked", 3)], now()).await;
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        catalog.apply_stack(&plan, now()).await.unwrap();
        assert!(catalog
            .object_disagreements(ObjectKind::BackupVault, None)
            .await
            .unwrap()
            .is_empty());
        catalog.close().await;
    }
}
