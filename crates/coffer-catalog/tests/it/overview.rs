//! What `/metrics` reads, as aggregates on both engines: jobs by state,
//! completed points and bytes per vault (the stored size read out of each
//! point's document), and each resource's newest completed point whole.

use coffer_catalog::VaultTotals;
use coffer_model::{BackupJobState, RecoveryPointStatus};

use crate::engines::{engines, now};
use crate::records::{job, recovery_point};

#[tokio::test]
async fn jobs_by_state_bytes_per_vault_and_the_newest_point_of_each_resource() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let empty = catalog.vault_totals().await.unwrap();
        assert!(empty.is_empty(), "{}", engine.name);

        let mut jobs = Vec::new();
        for (i, state) in [
            BackupJobState::Completed,
            BackupJobState::Completed,
            BackupJobState::Failed,
            BackupJobState::Running,
        ]
        .into_iter()
        .enumerate()
        {
            let mut j = job(&format!("job-{i}"));
            j.state = state;
            jobs.push(j);
        }
        catalog.insert_all(&jobs, now()).await.unwrap();
        let counts = catalog.backup_job_counts().await.unwrap();
        assert_eq!(
            counts,
            vec![
                ("COMPLETED".to_string(), 2),
                ("FAILED".to_string(), 1),
                ("RUNNING".to_string(), 1)
            ],
            "{}",
            engine.name
        );

        let hour = jiff::SignedDuration::from_hours(1);
        let mut points = Vec::new();
        for (i, (id, vault, resource)) in [
            ("a1", "primary", "home"),
            ("a2", "primary", "home"),
            ("b1", "dr", "home"),
            ("c1", "primary", "srv"),
            ("c2", "primary", "srv"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut p = recovery_point(id, vault);
            p.resource_arn = format!("arn:coffer:fs:eu-west-1:111122223333:filesystem/{resource}");
            p.creation_date = now() + hour * i32::try_from(i).unwrap();
            p.backup_size_in_bytes = 1000 * (i as u64 + 1);
            p.stored_bytes = 10_000_000_000 + i as u64;
            if id == "c2" {
                // Newer, but not completed: neither counted nor newest.
                p.status = RecoveryPointStatus::Partial;
            }
            points.push(p);
        }
        catalog.insert_all(&points, now()).await.unwrap();

        let totals = catalog.vault_totals().await.unwrap();
        let vault = |name: &str, points: i64, logical_bytes: i64, stored_bytes: i64| VaultTotals {
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            vault_name: name.into(),
            points,
            logical_bytes,
            stored_bytes,
        };
        assert_eq!(
            totals,
            vec![
                vault("dr", 1, 3000, 10_000_000_002),
                // a1, a2 and c1; stored sizes above 2^32 add up exactly.
                vault("primary", 3, 1000 + 2000 + 4000, 30_000_000_004),
            ],
            "{}",
            engine.name
        );

        let newest = catalog.newest_point_records().await.unwrap();
        let ids: Vec<&str> = newest
            .iter()
            .map(|p| p.recovery_point_id.as_str())
            .collect();
        assert_eq!(ids, ["b1", "c1"], "{}", engine.name);
        assert_eq!(newest[0].stored_bytes, 10_000_000_002, "{}", engine.name);
    }
}
