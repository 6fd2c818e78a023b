//! Plans and selections created through the service (as the AWS Backup
//! API creates them) belong to no stack, yet the scheduler plans their
//! rules as it plans a stack's: a rule of an API-created plan fires on a
//! manual clock and backs up what its selection selects. Their versions
//! are in the object history with the caller as actor.

use std::sync::Arc;

use coffer_catalog::{Catalog, ObjectKind};
use coffer_engine::clock::ManualClock;
use coffer_engine::daemon::{Daemon, DaemonOptions};
use coffer_engine::env::Env;
use coffer_engine::notify::Notifier;
use coffer_model::{
    AccountId, ArnPattern, BackupJob, BackupJobState, BackupPlan, BackupRule, BackupSelection,
    Conditions, Lifecycle, RecoveryPoint, Region,
};
use coffer_policy::LoadConfig as _;
use coffer_service::{Caller, ErrorKind, Service};
use jiff::{SignedDuration, Timestamp};

use crate::Home;

const STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  StackPlan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: stack-plan
        BackupPlanRule:
          - RuleName: nightly
            TargetBackupVault: !Ref Primary
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";

fn hourly(schedule: &str) -> BackupPlan {
    BackupPlan {
        backup_plan_name: "api-hourly".into(),
        rules: vec![BackupRule {
            rule_name: "hourly".into(),
            target_backup_vault_name: "primary".into(),
            schedule_expression: schedule.into(),
            schedule_expression_timezone: None,
            start_window_minutes: 60,
            completion_window_minutes: 180,
            lifecycle: Lifecycle {
                delete_after_days: Some(7),
                ..Lifecycle::default()
            },
            recovery_point_tags: Default::default(),
            copy_actions: Vec::new(),
            enable_continuous_backup: false,
        }],
        advanced_backup_settings: Vec::new(),
        backup_plan_tags: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_of_a_plan_created_through_the_api_is_scheduled_and_backs_up() {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let inventory = format!(
        "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
        docs.display()
    );
    let stack = home.write("stack.yaml", STACK);
    let inv = home.write("inventory.yaml", &inventory);
    crate::ok(&home.run(&["apply", "--stack", "docs", &stack, &inv]));

    // Ten days from now, five minutes past an hour.
    let later = Timestamp::now().as_second() + 10 * 24 * 3600;
    let created = Timestamp::from_second(later - later.rem_euclid(3600) + 300).unwrap();
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let clock = Arc::new(ManualClock::new(created));
    let service = Service::open(config.clone(), clock.clone()).await.unwrap();
    let caller = Caller::new(
        "arn:coffer:iam::210987654321:user/planner",
        AccountId::new("210987654321").unwrap(),
        Region::new("eu-west-1").unwrap(),
    );

    // Checked as apply checks it: a rule firing every 30 minutes is refused.
    let refused = service
        .create_backup_plan(&caller, &hourly("cron(0/30 * * * ? *)"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidParameterValue);
    assert!(
        refused
            .message()
            .contains("BackupPlan.Rules[0].ScheduleExpression"),
        "{refused}"
    );
    // The stack's plan is the stack's.
    let conflict = service
        .delete_backup_plan(&caller, "stack-plan")
        .await
        .unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::Conflict);
    assert!(conflict.message().contains("\"docs\""), "{conflict}");

    // First written with a daily rule, then updated to an hourly one: the
    // scheduler plans the version in force.
    let first = service
        .create_backup_plan(&caller, &hourly("cron(0 5 ? * * *)"))
        .await
        .unwrap();
    assert_eq!(first.stack, None);
    let second = service
        .update_backup_plan(&caller, "api-hourly", &hourly("cron(0 * * * ? *)"))
        .await
        .unwrap();
    assert_ne!(first.version_id, second.version_id);
    let old = service
        .backup_plan(&caller, "api-hourly", Some(&first.version_id))
        .await
        .unwrap();
    assert_eq!(old.plan.rules[0].schedule_expression, "cron(0 5 ? * * *)");
    let selection = BackupSelection {
        selection_name: "docs".into(),
        backup_plan_name: String::new(),
        iam_role_arn: "arn:coffer:iam::210987654321:role/backup".into(),
        resources: vec![ArnPattern::parse(DOCS).unwrap()],
        not_resources: Vec::new(),
        list_of_tags: Vec::new(),
        conditions: Conditions::default(),
    };
    service
        .create_backup_selection(&caller, "api-hourly", &selection)
        .await
        .unwrap();
    service.close().await;

    // The object history holds each version, by the caller.
    let catalog = Catalog::open(config.catalog_url(), created).await.unwrap();
    let history = catalog
        .object_history(
            ObjectKind::BackupPlan,
            "210987654321",
            "eu-west-1",
            "api-hourly",
        )
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:#?}");
    assert!(history.iter().all(|v| v.stack.is_empty()
        && v.actor.as_ref().map(|a| a.principal.as_str())
            == Some("arn:coffer:iam::210987654321:user/planner")));
    let selections = catalog
        .object_history(
            ObjectKind::BackupSelection,
            "210987654321",
            "eu-west-1",
            "api-hourly/docs",
        )
        .await
        .unwrap();
    assert_eq!(selections.len(), 1);

    // The scheduler had planned up to the plan's creation.
    catalog.set_planned_through(created).await.unwrap();
    // An hour later the scheduler has planned and run the hourly rule's
    // fire time since the plan existed, and only that one.
    let at = created.checked_add(SignedDuration::from_mins(60)).unwrap();
    let env = Env::new(
        catalog.clone(),
        config.clone(),
        Arc::new(ManualClock::new(at)),
    );
    let options = DaemonOptions::from_settings(&coffer_policy::ServeSettings::default());
    let mut daemon = Daemon::new(env, options, Notifier::new(&[]));
    daemon.settle().await.unwrap();
    let jobs: Vec<BackupJob> = catalog
        .list::<BackupJob>(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .filter(|j| j.backup_plan_name.as_deref() == Some("api-hourly"))
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    let job = &jobs[0];
    assert_eq!(job.state, BackupJobState::Completed, "{job:#?}");
    assert_eq!(job.resource_arn, DOCS);
    assert_eq!(job.backup_rule_name.as_deref(), Some("hourly"));
    let points: Vec<RecoveryPoint> = catalog
        .list::<RecoveryPoint>(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect();
    assert!(points.iter().any(
        |p| p.created_by_backup_plan_name.as_deref() == Some("api-hourly")
            && p.lifecycle.delete_after_days == Some(7)
    ));
    drop(daemon);
    catalog.close().await;
}
