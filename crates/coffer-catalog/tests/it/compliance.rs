//! What controls read and write, on both engines: the newest point and
//! latest restore per resource as set queries, points a page at a time,
//! results recorded on change with their current row, retirement, and
//! the newest evaluation per framework.

use coffer_catalog::FrameworkKey;
use coffer_model::{
    Compliance, ControlResult, ControlSummary, FrameworkEvaluation, RecoveryPointStatus,
    RestoreJob, RestoreJobStatus,
};

use crate::engines::{engines, now};
use crate::records::recovery_point;

pub fn result(id: &str, resource: &str, status: Compliance) -> ControlResult {
    ControlResult {
        result_id: id.into(),
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        framework_name: "core".into(),
        control_name: "BACKUP_RECOVERY_POINT_ENCRYPTED".into(),
        resource_id: resource.into(),
        resource_type: "FileSystem".into(),
        status,
        reason: "r".into(),
        evaluated_at: now(),
        evidence: Vec::new(),
    }
}

fn evaluation(id: &str, at: jiff::Timestamp) -> FrameworkEvaluation {
    FrameworkEvaluation {
        evaluation_id: id.into(),
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        framework_name: "core".into(),
        status: Compliance::Compliant,
        evaluated_at: at,
        controls: vec![ControlSummary {
            control_name: "BACKUP_RECOVERY_POINT_ENCRYPTED".into(),
            status: Compliance::Compliant,
            compliant: 1,
            non_compliant: 0,
            insufficient_data: 0,
        }],
        results_changed: 1,
        results_retired: 0,
    }
}

const KEY: FrameworkKey<'static> = FrameworkKey {
    account_id: "111122223333",
    region: "eu-west-1",
    framework_name: "core",
};

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Slim {
    recovery_point_arn: String,
}

#[tokio::test]
async fn aggregates_pages_and_results_recorded_on_change() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let hour = jiff::SignedDuration::from_hours(1);
        // Three points of one resource (the newest wins), one partial newer.
        let mut points = Vec::new();
        for (i, id) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
            let mut p = recovery_point(id, "primary");
            p.creation_date = now() + hour * i32::try_from(i).unwrap();
            if *id == "p4" {
                p.status = RecoveryPointStatus::Partial;
            }
            points.push(p);
        }
        catalog.insert_all(&points, now()).await.unwrap();
        let newest = catalog.newest_points().await.unwrap();
        assert_eq!(newest.len(), 1, "{}", engine.name);
        assert_eq!(newest[0].recovery_point_id, "p3", "{}", engine.name);

        let restore = RestoreJob {
            restore_job_id: "R1".into(),
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            recovery_point_arn: points[0].recovery_point_arn.clone(),
            status: RestoreJobStatus::Completed,
            status_message: None,
            creation_date: now(),
            completion_date: Some(now() + hour),
            created_resource_arn: None,
            resource_type: points[0].resource_type,
            percent_done: 100,
            validation_status: None,
            validation_status_message: None,
            restore_target: None,
            restore_metadata: Default::default(),
            runner: None,
            created_by: None,
            deletion_status: None,
            deletion_status_message: None,
            restore_duration_millis: None,
        };
        catalog.insert(&restore, now()).await.unwrap();
        let restores = catalog.completed_restores().await.unwrap();
        assert_eq!(restores.len(), 1, "{}", engine.name);
        assert_eq!(restores[0].resource_arn, points[0].resource_arn);

        // Completed points, two per page, in ID order.
        let place = ("111122223333", "eu-west-1");
        let first: Vec<(String, Slim)> = catalog.completed_points_page(place, "", 2).await.unwrap();
        let second: Vec<(String, Slim)> = catalog
            .completed_points_page(place, &first[1].0, 2)
            .await
            .unwrap();
        let ids: Vec<&str> = first
            .iter()
            .chain(&second)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["p1", "p2", "p3"], "{}", engine.name);
        assert!(second[0].1.recovery_point_arn.ends_with(":p3"));

        // Recorded, then changed: history keeps both, current the newest.
        let a = result("r-a", "point-a", Compliance::NonCompliant);
        let b = result("r-b", "point-b", Compliance::Compliant);
        catalog
            .record_control_results(&[a, b], &["da".into(), "db".into()], now())
            .await
            .unwrap();
        let a2 = result("r-a2", "point-a", Compliance::Compliant);
        catalog
            .record_control_results(&[a2], &["da2".into()], now() + hour)
            .await
            .unwrap();
        let control = "BACKUP_RECOVERY_POINT_ENCRYPTED";
        let (ka, kb) = (
            coffer_catalog::control_key(control, "point-a"),
            coffer_catalog::control_key(control, "point-b"),
        );
        let current = catalog.control_current_page(KEY, "", 10).await.unwrap();
        let mut digests: Vec<(&str, &str)> = current
            .iter()
            .map(|c| (c.key_hash.as_str(), c.digest.as_str()))
            .collect();
        digests.sort_unstable();
        let mut wanted = [(ka.as_str(), "da2"), (kb.as_str(), "db")];
        wanted.sort_unstable();
        assert_eq!(digests, wanted, "{}", engine.name);
        let paged = catalog
            .control_current_page(KEY, &current[0].key_hash, 10)
            .await
            .unwrap();
        assert_eq!(paged.len(), 1);
        let named = catalog
            .control_current_named(KEY, &[kb.clone(), "0".repeat(32)])
            .await
            .unwrap();
        assert_eq!(named, [(control.to_string(), "point-b".to_string())]);
        let failing = catalog
            .current_control_results(Some(KEY), true)
            .await
            .unwrap();
        assert!(failing.is_empty(), "{}: {failing:?}", engine.name);
        let all = catalog.current_control_results(None, false).await.unwrap();
        assert_eq!(all.len(), 2);

        // Retiring point-b and recording evaluations.
        let before = catalog.ledger_len().await.unwrap();
        let change = catalog.ledger_last_change(-1).await.unwrap();
        catalog
            .finish_evaluation(
                &evaluation("e1", now()),
                &[("BACKUP_RECOVERY_POINT_ENCRYPTED".into(), "point-b".into())],
                now(),
            )
            .await
            .unwrap();
        catalog
            .finish_evaluation(&evaluation("e2", now() + hour), &[], now() + hour)
            .await
            .unwrap();
        assert_eq!(catalog.ledger_len().await.unwrap(), before + 3);
        // Evaluations and results are not changes controls read.
        assert_eq!(catalog.ledger_last_change(-1).await.unwrap(), change);
        // Read from the last probe on, the same: only evaluations since.
        assert_eq!(catalog.ledger_last_change(change).await.unwrap(), change);
        let current = catalog.control_current_page(KEY, "", 10).await.unwrap();
        assert_eq!(current.len(), 1, "{}", engine.name);
        let latest = catalog.latest_evaluations().await.unwrap();
        assert_eq!(latest.len(), 1, "{}", engine.name);
        assert_eq!(latest[0].evaluation_id, "e2");
        // A point recorded since is a change, found from the last probe on.
        catalog
            .insert(&recovery_point("p9", "primary"), now())
            .await
            .unwrap();
        assert!(catalog.ledger_last_change(change).await.unwrap() > change);
        catalog.close().await;
    }
}

#[tokio::test]
async fn reports_read_jobs_of_their_window_the_points_they_name_and_ledger_positions() {
    use coffer_model::{BackupJob, BackupJobState};
    for engine in engines().await {
        let catalog = engine.open().await;
        let hour = jiff::SignedDuration::from_hours(1);
        let job = |id: &str, state: BackupJobState, ended: Option<jiff::Timestamp>| BackupJob {
            state,
            completion_date: ended,
            recovery_point_arn: Some(format!(
                "arn:coffer:backup:eu-west-1:111122223333:recovery-point:{id}"
            )),
            ..crate::records::job(id)
        };
        let jobs = [
            job("old", BackupJobState::Completed, Some(now() - hour * 30)),
            job("inside", BackupJobState::Completed, Some(now() - hour)),
            job("running", BackupJobState::Running, None),
            job("later", BackupJobState::Failed, Some(now() + hour)),
        ];
        catalog.insert_all(&jobs, now()).await.unwrap();
        let read: Vec<BackupJob> = catalog
            .jobs_for_report(now() - hour * 24, now())
            .await
            .unwrap();
        let mut ids: Vec<&str> = read.iter().map(|j| j.backup_job_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["inside", "running"], "{}", engine.name);

        catalog
            .insert(&recovery_point("inside", "primary"), now())
            .await
            .unwrap();
        let named = catalog
            .recovery_points_by_arn(&[
                "arn:coffer:backup:eu-west-1:111122223333:recovery-point:inside".into(),
                "arn:coffer:backup:eu-west-1:111122223333:recovery-point:gone".into(),
            ])
            .await
            .unwrap();
        assert_eq!(named.len(), 1, "{}", engine.name);

        // A later write of "inside" moves its newest entry.
        let before = catalog.ledger_last_seqs(&["inside".into()]).await.unwrap()["inside"];
        catalog.update(&jobs[1], 1, now()).await.unwrap();
        let seqs = catalog
            .ledger_last_seqs(&["inside".into(), "running".into(), "nothing".into()])
            .await
            .unwrap();
        assert!(seqs["inside"] > before, "{}", engine.name);
        assert!(seqs.contains_key("running") && !seqs.contains_key("nothing"));
        catalog.close().await;
    }
}

#[tokio::test]
async fn hundreds_of_results_recorded_and_retired_across_batches_keep_the_chain() {
    for engine in engines().await {
        let catalog = engine.open().await;
        // More than a multi-row insert (200) and an IN list (500) hold.
        let n = 650;
        let results: Vec<ControlResult> = (0..n)
            .map(|i| {
                result(
                    &format!("r-{i}"),
                    &format!("point-{i}"),
                    Compliance::Compliant,
                )
            })
            .collect();
        let digests: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
        let start = catalog.ledger_len().await.unwrap();
        catalog
            .record_control_results(&results, &digests, now())
            .await
            .unwrap();
        let control = "BACKUP_RECOVERY_POINT_ENCRYPTED";
        let keys: Vec<String> = (0..n)
            .map(|i| coffer_catalog::control_key(control, &format!("point-{i}")))
            .collect();
        let named = catalog.control_current_named(KEY, &keys).await.unwrap();
        assert_eq!(named.len(), n, "{}", engine.name);

        let retired: Vec<(String, String)> = (0..600)
            .map(|i| (control.to_string(), format!("point-{i}")))
            .collect();
        catalog
            .finish_evaluation(&evaluation("e1", now()), &retired, now())
            .await
            .unwrap();
        let current = catalog.control_current_page(KEY, "", 1000).await.unwrap();
        assert_eq!(current.len(), n - 600, "{}", engine.name);

        // Every entry links to the one before and hashes to itself.
        let end = catalog.ledger_len().await.unwrap();
        assert_eq!(end - start, 650 + 600 + 1, "{}", engine.name);
        let entries = catalog.ledger_entries(start, end).await.unwrap();
        let retirements = entries
            .iter()
            .filter(|e| e.event == "RETIRED: no longer evaluated")
            .count();
        assert_eq!(retirements, 600, "{}", engine.name);
        for pair in entries.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "{}", engine.name);
            assert_eq!(pair[1].prev_hash, pair[0].entry_hash, "{}", engine.name);
        }
        for entry in &entries {
            assert_eq!(entry.entry_hash, entry.computed_hash(), "{}", engine.name);
        }
        catalog.close().await;
    }
}
