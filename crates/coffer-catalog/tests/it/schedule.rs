//! What the scheduler keeps besides jobs, on both engines: the claim that
//! lets one backup of a resource run at a time across processes, the
//! planned-through mark, first-seen marks, and inserting only new jobs.

use std::collections::BTreeSet;

use coffer_catalog::{Catalog, Claim, Stored};
use coffer_model::{BackupJob, BackupJobState};

use crate::engines::{engines, now};
use crate::records::job;

/// The job, moved to RUNNING as a worker about to claim it would write it.
async fn running(catalog: &Catalog, id: &str) -> (BackupJob, i64) {
    let Stored {
        mut record,
        version,
        ..
    } = catalog.get::<BackupJob>(id).await.unwrap().unwrap();
    record.state = BackupJobState::Running;
    (record, version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_claiming_one_resource_at_once_run_one_backup() {
    for engine in engines().await {
        // Two connections pools stand for two processes on one catalog.
        let first = engine.open().await;
        let second = engine.open().await;
        for round in 0..20 {
            let (a, b) = (format!("A{round}"), format!("B{round}"));
            first.insert(&job(&a), now()).await.unwrap();
            first.insert(&job(&b), now()).await.unwrap();
            let (job_a, version_a) = running(&first, &a).await;
            let (job_b, version_b) = running(&second, &b).await;
            let (claim_a, claim_b) = tokio::join!(
                first.claim_backup_job(&job_a, version_a, now()),
                second.claim_backup_job(&job_b, version_b, now())
            );
            let (claim_a, claim_b) = (claim_a.unwrap(), claim_b.unwrap());
            let claimed = [&claim_a, &claim_b]
                .iter()
                .filter(|c| matches!(c, Claim::Claimed(_)))
                .count();
            assert_eq!(
                claimed, 1,
                "{}: one claim of the resource wins: {claim_a:?} / {claim_b:?}",
                engine.name
            );
            // The loser names the winner, and was not written.
            let (winner, loser) = match &claim_a {
                Claim::Claimed(_) => (&a, &b),
                Claim::Busy { .. } => (&b, &a),
            };
            let busy = if matches!(claim_a, Claim::Busy { .. }) {
                &claim_a
            } else {
                &claim_b
            };
            assert_eq!(
                busy,
                &Claim::Busy {
                    job_id: winner.clone()
                }
            );
            let stored = first.get::<BackupJob>(loser).await.unwrap().unwrap();
            assert_eq!(stored.record.state, BackupJobState::Created);
            // The winner ends: the other claims the resource now.
            let mut done = first.get::<BackupJob>(winner).await.unwrap().unwrap();
            done.record.state = BackupJobState::Completed;
            first
                .update(&done.record, done.version, now())
                .await
                .unwrap();
            let (job, version) = running(&second, loser).await;
            assert!(matches!(
                second.claim_backup_job(&job, version, now()).await.unwrap(),
                Claim::Claimed(_)
            ));
            let mut done = first.get::<BackupJob>(loser).await.unwrap().unwrap();
            done.record.state = BackupJobState::Completed;
            first
                .update(&done.record, done.version, now())
                .await
                .unwrap();
        }
        first.close().await;
        second.close().await;
    }
}

#[tokio::test]
async fn planned_through_only_moves_forward() {
    for engine in engines().await {
        let catalog = engine.open().await;
        assert_eq!(catalog.planned_through().await.unwrap(), None);
        let later: jiff::Timestamp = "2026-11-24T12:00:00Z".parse().unwrap();
        catalog.set_planned_through(later).await.unwrap();
        catalog.set_planned_through(now()).await.unwrap();
        assert_eq!(
            catalog.planned_through().await.unwrap(),
            Some(later),
            "{}",
            engine.name
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn a_resource_keeps_the_time_it_was_first_seen() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let arn = "arn:coffer:postgres:eu-west-1:111122223333:database/main/orders".to_string();
        catalog
            .mark_resources_seen(std::slice::from_ref(&arn), now())
            .await
            .unwrap();
        let later: jiff::Timestamp = "2026-11-25T00:00:00Z".parse().unwrap();
        catalog
            .mark_resources_seen(std::slice::from_ref(&arn), later)
            .await
            .unwrap();
        assert_eq!(
            catalog.resources_first_seen().await.unwrap().get(&arn),
            Some(&now()),
            "{}",
            engine.name
        );
        catalog.close().await;
    }
}

#[tokio::test]
async fn insert_new_stores_each_job_once_with_one_ledger_entry() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let first: Vec<BackupJob> = (0..250).map(|i| job(&format!("J{i}"))).collect();
        let stored = catalog.insert_new(&first, now()).await.unwrap();
        assert_eq!(stored.len(), 250);
        let before = catalog.ledger_len().await.unwrap();
        // Planned again with more: only the new ones are stored.
        let again: Vec<BackupJob> = (200..450).map(|i| job(&format!("J{i}"))).collect();
        let stored: BTreeSet<String> = catalog
            .insert_new(&again, now())
            .await
            .unwrap()
            .into_iter()
            .collect();
        let expected: BTreeSet<String> = (250..450).map(|i| format!("J{i}")).collect();
        assert_eq!(stored, expected, "{}", engine.name);
        assert_eq!(catalog.ledger_len().await.unwrap(), before + 200);
        // The chain still verifies.
        let entries = catalog.ledger_entries(0, before + 200).await.unwrap();
        for pair in entries.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].entry_hash);
            assert_eq!(pair[1].entry_hash, pair[1].computed_hash());
        }
        catalog.close().await;
    }
}
