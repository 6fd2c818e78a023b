//! Operations take their time from the environment's clock: a backup, a
//! restore, an evaluation and a report run through the service on a
//! manual clock carry that time in their records, not the system's.

use std::sync::Arc;

use coffer_engine::clock::ManualClock;
use coffer_model::{Lifecycle, RestoreJob, RestoreJobStatus};
use coffer_policy::LoadConfig as _;
use coffer_service::backup::StartBackup;
use coffer_service::restore::RestoreTarget;
use coffer_service::restore::{RestoreEnd, StartRestore};
use coffer_service::{Caller, Service};
use jiff::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restore_evaluation_and_report_record_the_clocks_time() {
    let home = crate::home_with_docs_backed_up(crate::report::STACK, "35");
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    // Ten days from now, to the millisecond the catalog keeps.
    let at = Timestamp::from_millisecond(Timestamp::now().as_millisecond() + 10 * 24 * 3600 * 1000)
        .unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let service = Service::open(config.clone(), clock.clone()).await.unwrap();
    let caller = Caller::new(
        config.principal(),
        coffer_model::AccountId::new("210987654321").unwrap(),
        coffer_model::Region::new("eu-west-1").unwrap(),
    );

    let started = service
        .start_backup_job(
            &caller,
            StartBackup {
                resource_arn: "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs".into(),
                vault_name: "primary".into(),
                lifecycle: Lifecycle::default(),
                queue: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(started.job.creation_date, at);
    let done = service
        .run_backup_job(&started, None, |_| {})
        .await
        .unwrap();
    let point = done.point.expect("the backup completed");
    assert_eq!(point.creation_date, at);
    assert_eq!(done.job.completion_date, Some(at));

    let target = home.path().join("restored");
    let restore = StartRestore {
        recovery_point: point.recovery_point_id.clone(),
        target: RestoreTarget::Directory {
            path: target.clone(),
            select: None,
        },
        force: false,
        not_applied: Default::default(),
    };
    let mut run = service
        .start_restore_job(&caller, &restore.recovery_point, &restore.target)
        .await
        .unwrap();
    let end = service
        .run_restore_job(&mut run, restore.force, None)
        .await
        .unwrap();
    assert!(matches!(end, RestoreEnd::Completed(_)), "{end:?}");
    let job = service
        .catalog()
        .get::<RestoreJob>(&run.job.restore_job_id)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(job.status, RestoreJobStatus::Completed);
    assert_eq!(job.creation_date, at);
    assert_eq!(job.completion_date, Some(at));
    assert_eq!(
        std::fs::read_to_string(target.join("a.txt")).unwrap(),
        "alpha"
    );

    let evaluated = service.evaluate_frameworks(&caller, None).await.unwrap();
    assert!(!evaluated.is_empty());
    for (_, evaluation) in &evaluated {
        assert_eq!(evaluation.evaluated_at, at);
    }

    // The report an hour later: its window, [later - 24 h, later), holds
    // the backup made at the clock's earlier time.
    let later = at.checked_add(jiff::SignedDuration::from_hours(1)).unwrap();
    clock.set(later);
    let delivered = service
        .start_report_job(&caller, "jobs_daily", 24)
        .await
        .unwrap();
    assert_eq!(delivered.manifest.generated_at, later);
    assert_eq!(delivered.manifest.window_end, later);
    let jobs = service
        .list_report_jobs(&caller, Some("jobs_daily"))
        .await
        .unwrap();
    let job = jobs
        .iter()
        .find(|j| j.report_job_id == delivered.job_id)
        .unwrap();
    assert_eq!(job.creation_time, later);
    assert_eq!(job.completion_time, Some(later));
    assert_eq!(delivered.rows, 1, "the backup made at the clock's time");
    service.close().await;
}
