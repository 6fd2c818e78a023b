//! An organization of 3 units, 6 accounts and 2 regions, simulated over
//! March in process on a manual clock, with no scheduler running from the
//! 20th to the 22nd: each account's own stacks declare its vaults
//! and resources, the organization's backup policies make its plans, and
//! the scheduler runs exactly the jobs each account's effective policy asks
//! for; an account moved between units mid-period switches plans at the
//! apply; a rule whose vault is missing in an account and region is
//! reported at plan time and its jobs fail naming the vault. On the 1st
//! of the next month the backup delegated administrator's monthly report
//! plans cover every account, and a member's covers its own account alone;
//! the expected-backup report has one row per fire time the policies ask
//! for, and only the outage's are MISSED.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use coffer_engine::clock::ManualClock;
use coffer_engine::daemon::{Daemon, DaemonOptions};
use coffer_engine::notify::Notifier;
use coffer_model::{AccountId, BackupJob, BackupJobState, Region};
use coffer_policy::LoadConfig as _;
use coffer_service::stack::PolicyInput;
use coffer_service::{Caller, Service};
use jiff::{SignedDuration, Timestamp};

use crate::Home;

const REGIONS: [&str; 2] = ["eu-west-1", "eu-central-1"];
const MANAGEMENT: &str = "111111111111";
/// Accounts and their unit in the first organization.
const ACCOUNTS: [(&str, &str); 6] = [
    ("111111111111", "root"),
    ("222222222222", "root"),
    ("333333333333", "production"),
    ("444444444444", "production"),
    ("555555555555", "staging"),
    ("666666666666", "development"),
];
/// The one account and region without the vault the policies name.
const NO_VAULT: (&str, &str) = ("444444444444", "eu-central-1");

const ROOT_POLICY: &str = r#"{"plans": {"org-daily": {
  "regions": {"@@assign": ["eu-west-1"]},
  "rules": {"nightly": {
    "schedule_expression": {"@@assign": "cron(0 1 * * ? *)"},
    "start_backup_window_minutes": {"@@assign": "60"},
    "complete_backup_window_minutes": {"@@assign": "180"},
    "target_backup_vault_name": {"@@assign": "org-vault"},
    "lifecycle": {"delete_after_days": {"@@assign": "35"}}}},
  "selections": {"tags": {"backed-up": {
    "iam_role_arn": {"@@assign": "arn:coffer:iam::$account:role/backup"},
    "tag_key": {"@@assign": "backup"},
    "tag_value": {"@@assign": ["yes"]}}}}}}}"#;

const PRODUCTION_POLICY: &str = r#"{"plans": {"org-daily": {
  "regions": {"@@append": ["eu-central-1"]},
  "rules": {"nightly": {"lifecycle": {"delete_after_days": {"@@assign": "90"}}}}}}}"#;

const DEVELOPMENT_POLICY: &str = r#"{"plans": {"org-daily": {
  "rules": {"nightly": {"schedule_expression": {"@@assign": "cron(0 4 * * ? *)"}}}}}}"#;

fn organization(accounts: &[(&str, &str)]) -> String {
    let listed = |unit: &str, indent: &str| -> String {
        let mut out = format!("{indent}accounts:\n");
        for (id, _) in accounts.iter().filter(|(_, u)| *u == unit) {
            out.push_str(&format!("{indent}  - {{id: \"{id}\", name: a{id}}}\n"));
        }
        if !accounts.iter().any(|(_, u)| *u == unit) {
            out = format!("{indent}accounts: []\n");
        }
        out
    };
    format!(
        "organization:\n  management_account: \"{MANAGEMENT}\"\n  backup_delegated_administrator: \"222222222222\"\n  root:\n    backup_policies: [root.json]\n{}    units:\n      - name: production\n        backup_policies: [production.json]\n{}      - name: staging\n{}      - name: development\n        backup_policies: [development.json]\n{}",
        listed("root", "    "),
        listed("production", "        "),
        listed("staging", "        "),
        listed("development", "        "),
    )
}

fn caller(config: &coffer_policy::Config, account: &str, region: &str) -> Caller {
    Caller::new(
        config.principal(),
        AccountId::new(account).unwrap(),
        Region::new(region).unwrap(),
    )
}

/// Each account's own stack in each region: the vault the policies name
/// (but in [`NO_VAULT`]) and a directory tagged for backup.
async fn apply_account_stacks(home: &Home, service: &Service, config: &coffer_policy::Config) {
    let data = home.path().join("data/docs");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "alpha").unwrap();
    for (account, _) in ACCOUNTS {
        for region in REGIONS {
            let vault = if (account, region) == NO_VAULT {
                "  Other:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: other\n"
            } else {
                "  OrgVault:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: org-vault\n"
            };
            let stack = home.write(
                &format!("{account}-{region}/stack.yaml"),
                &format!("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n{vault}"),
            );
            let inventory = home.write(
                &format!("{account}-{region}/inventory.yaml"),
                &format!(
                    "defaults:\n  account: \"{account}\"\n  region: {region}\nfilesystems:\n  - name: docs\n    path: {}\n    tags: {{backup: \"yes\"}}\n",
                    data.display()
                ),
            );
            let input = PolicyInput {
                paths: vec![PathBuf::from(stack), PathBuf::from(inventory)],
                parameters: Default::default(),
                stack: format!("own-{account}-{region}"),
                allow_weakening: false,
            };
            let run = service
                .plan_stack(&caller(config, account, region), &input, true)
                .await
                .unwrap();
            assert!(
                run.applied.is_some(),
                "{account} {region}: {:?} {:?}",
                run.loaded.diagnostics,
                run.refused
            );
        }
    }
}

/// The fire times each account's effective policy asks for in `(from, to]`:
/// written from the policies above, not from the engine.
fn expected(
    accounts: &[(&str, &str)],
    from: Timestamp,
    to: Timestamp,
) -> BTreeSet<(String, String, Timestamp)> {
    let mut out = BTreeSet::new();
    for (account, unit) in accounts {
        let regions: &[&str] = if *unit == "production" {
            &REGIONS
        } else {
            &REGIONS[..1]
        };
        let hour = if *unit == "development" { 4 } else { 1 };
        // `from` is a midnight (UTC).
        let mut day = from.checked_add(SignedDuration::from_hours(hour)).unwrap();
        while day <= to {
            if day > from {
                for region in regions {
                    out.insert((account.to_string(), region.to_string(), day));
                }
            }
            day = day.checked_add(SignedDuration::from_hours(24)).unwrap();
        }
    }
    out
}

async fn run_until(daemon: &mut Daemon, clock: &ManualClock, from: Timestamp, to: Timestamp) {
    let mut now = from;
    while now < to {
        now = now.checked_add(SignedDuration::from_mins(30)).unwrap();
        clock.set(now);
        daemon.settle().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_account_runs_the_jobs_its_effective_policy_asks_for() {
    let home = Home::new();
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let setup: Timestamp = "2026-02-28T00:00:00Z".parse().unwrap();
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let moved_at: Timestamp = "2026-03-10T00:00:00Z".parse().unwrap();
    // No scheduler runs for three days.
    let outage_from: Timestamp = "2026-03-20T00:00:00Z".parse().unwrap();
    let outage_to: Timestamp = "2026-03-23T00:00:00Z".parse().unwrap();
    let end: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
    let in_outage = |t: Timestamp| t >= outage_from && t < outage_to;
    let clock = Arc::new(ManualClock::new(setup));
    let service = Service::open(config.clone(), clock.clone()).await.unwrap();
    apply_account_stacks(&home, &service, &config).await;

    home.write("org/root.json", ROOT_POLICY);
    home.write("org/production.json", PRODUCTION_POLICY);
    home.write("org/development.json", DEVELOPMENT_POLICY);
    let org = home.write("org/organization.yaml", &organization(&ACCOUNTS));
    let management = caller(&config, MANAGEMENT, "eu-west-1");
    let run = service
        .apply_organization(&management, std::path::Path::new(&org))
        .await
        .unwrap();
    assert!(run.applied.is_some(), "{:?}", run.loaded.diagnostics);
    assert!(run.unmade.is_empty(), "{:?}", run.unmade);
    let missing: Vec<String> = run.missing_vaults.iter().map(ToString::to_string).collect();
    assert_eq!(
        missing,
        vec![
            r#"account 444444444444, region eu-central-1: vault "org-vault" does not exist; rule "nightly" of plan "orgs/org-daily" fails its jobs until the vault is created there"#
        ]
    );

    // The scheduler, from the start of the period.
    service.catalog().set_planned_through(start).await.unwrap();
    clock.set(start);
    let mut options = DaemonOptions::from_settings(&coffer_policy::ServeSettings::default());
    options.lookback = SignedDuration::ZERO;
    let mut daemon = Daemon::new(service.scheduler_env(), options, Notifier::new(&[]));
    run_until(&mut daemon, &clock, start, moved_at).await;

    // Account 555555555555 moves from staging to production.
    let mut moved = ACCOUNTS;
    moved[4].1 = "production";
    home.write("org/organization.yaml", &organization(&moved));
    let run = service
        .apply_organization(&management, std::path::Path::new(&org))
        .await
        .unwrap();
    let fields: Vec<&str> = run
        .plan
        .as_ref()
        .unwrap()
        .fields
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(fields, vec!["Accounts.555555555555.Parent"]);
    let summary = run.applied.unwrap();
    // A plan and its selection created in eu-central-1, the plan in
    // eu-west-1 changed (90 days).
    assert_eq!(
        (summary.created, summary.updated, summary.deleted),
        (2, 1, 0)
    );
    run_until(&mut daemon, &clock, moved_at, outage_from).await;
    run_until(&mut daemon, &clock, outage_to, end).await;

    let jobs: Vec<BackupJob> = service
        .catalog()
        .list::<BackupJob>(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect();
    let window = SignedDuration::from_mins(60);
    let got: BTreeSet<(String, String, Timestamp)> = jobs
        .iter()
        .map(|j| {
            assert_eq!(j.backup_plan_name.as_deref(), Some("orgs/org-daily"));
            (
                j.account_id.clone(),
                j.region.clone(),
                j.start_by.unwrap().checked_sub(window).unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), jobs.len(), "a fire time ran twice");
    let mut want = expected(&ACCOUNTS, start, moved_at);
    want.extend(expected(&moved, moved_at, end));
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    // 555555555555 ran in eu-central-1 only after the move.
    assert!(jobs
        .iter()
        .any(|j| j.account_id == "555555555555" && j.region == "eu-central-1"));
    for job in &jobs {
        let retention = job.lifecycle.delete_after_days;
        let fire_time = job.start_by.unwrap().checked_sub(window).unwrap();
        if in_outage(fire_time) {
            assert_eq!(job.state, BackupJobState::Expired, "{job:?}");
        } else if (job.account_id.as_str(), job.region.as_str()) == NO_VAULT {
            assert_eq!(job.state, BackupJobState::Failed, "{job:?}");
            let message = job.status_message.clone().unwrap_or_default();
            assert!(
                message.contains("org-vault") && message.contains("444444444444"),
                "{message}"
            );
        } else {
            assert_eq!(job.state, BackupJobState::Completed, "{job:?}");
        }
        let production = matches!(job.account_id.as_str(), "333333333333" | "444444444444")
            || (job.account_id == "555555555555" && job.creation_date >= moved_at);
        assert_eq!(retention, Some(if production { 90 } else { 35 }), "{job:?}");
    }
    // The account cannot delete the organization's plan through the API.
    let refused = service
        .delete_backup_plan(
            &caller(&config, "333333333333", "eu-west-1"),
            "orgs/org-daily",
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), coffer_service::ErrorKind::Conflict);
    assert!(
        refused.message().contains("belongs to the organization")
            && refused.message().contains("coffer org apply"),
        "{refused:?}"
    );

    // Monthly reports: the delegated administrator's over every account,
    // a member's over its own account whatever it names.
    apply_report_plans(&home, &service, &config).await;
    clock.set("2026-04-01T09:30:00Z".parse().unwrap());
    let delivered = service.run_due_reports(config.principal()).await.unwrap();
    assert_eq!(delivered, 4, "one run of each monthly plan");
    let every: BTreeSet<String> = ACCOUNTS.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(
        report_accounts(&service, &config, "222222222222", "org_jobs").await,
        every
    );
    // The expected-backup report: the outage's fire times, in every
    // account and region, are MISSED, and nothing else is.
    let rows = report_rows(&service, &config, "222222222222", "org_expected").await;
    assert_eq!(accounts_of(&rows), every);
    let fire = |row: &serde_json::Value| {
        (
            row["accountId"].as_str().unwrap_or_default().to_string(),
            row["region"].as_str().unwrap_or_default().to_string(),
            row["expectedTime"]
                .as_str()
                .unwrap_or_default()
                .parse::<Timestamp>()
                .unwrap(),
        )
    };
    let missed: BTreeSet<(String, String, Timestamp)> = rows
        .iter()
        .filter(|r| r["verdict"] == "MISSED")
        .map(fire)
        .collect();
    let outage: BTreeSet<(String, String, Timestamp)> = want
        .iter()
        .filter(|(_, _, t)| in_outage(*t))
        .cloned()
        .collect();
    assert!(!outage.is_empty());
    assert_eq!(missed, outage);
    let reported: BTreeSet<(String, String, Timestamp)> = rows.iter().map(fire).collect();
    assert_eq!(reported, want, "one row per fire time the policies ask for");
    // Compliance across the members, each evaluated with the framework
    // its own stack deploys.
    assert_eq!(
        report_accounts(&service, &config, "222222222222", "org_compliance").await,
        every
    );
    assert_eq!(
        report_accounts(&service, &config, "333333333333", "member_jobs").await,
        BTreeSet::from(["333333333333".to_string()])
    );
    service.close().await;
}

/// The accounts of the rows of `plan`'s one run.
async fn report_accounts(
    service: &Service,
    config: &coffer_policy::Config,
    account: &str,
    plan: &str,
) -> BTreeSet<String> {
    accounts_of(&report_rows(service, config, account, plan).await)
}

fn accounts_of(rows: &[serde_json::Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|row| row["accountId"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The rows of `plan`'s one run (its JSON file).
async fn report_rows(
    service: &Service,
    config: &coffer_policy::Config,
    account: &str,
    plan: &str,
) -> Vec<serde_json::Value> {
    let runs: Vec<_> = service
        .list_report_jobs(&caller(config, account, "eu-west-1"), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.report_plan_name == plan)
        .collect();
    assert_eq!(runs.len(), 1, "{plan}: {runs:?}");
    assert_eq!(
        runs[0].status,
        coffer_model::ReportJobStatus::Completed,
        "{runs:?}"
    );
    let dir = PathBuf::from(runs[0].report_destination.clone().unwrap());
    assert!(
        dir.to_string_lossy().contains("/year=2026/month=0"),
        "{}",
        dir.display()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(crate::report::file_with(&dir, "json")).unwrap())
            .unwrap();
    json["reportItems"].as_array().unwrap().clone()
}

/// Monthly report plans: the backup delegated administrator's jobs,
/// expected-backup and resource compliance reports over the whole
/// organization (every account deploys the framework in a stack of its
/// own, as StackSets would), and a member's jobs report naming every
/// account.
async fn apply_report_plans(home: &Home, service: &Service, config: &coffer_policy::Config) {
    let monthly = "      ReportSchedule:\n        ScheduleExpression: cron(0 9 1 * ? *)\n";
    let plan = |name: &str, template: &str, scope: &str| {
        format!(
            "  {}:\n    Type: AWS::Backup::ReportPlan\n    Properties:\n      ReportPlanName: {name}\n      ReportDeliveryChannel:\n        S3BucketName: audit\n        Formats: [CSV, JSON]\n      ReportSetting:\n        ReportTemplate: {template}\n{scope}        Regions: ['*']\n{monthly}",
            name.replace('_', "")
        )
    };
    // Every account deploys the same framework in its own stack.
    let framework = "  Controls:\n    Type: AWS::Backup::Framework\n    Properties:\n      FrameworkName: orgcontrols\n      FrameworkControls:\n        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN\n";
    let mut stacks: Vec<(&str, String)> = ACCOUNTS
        .iter()
        .filter(|(account, _)| *account != "222222222222")
        .map(|(account, _)| (*account, framework.to_string()))
        .collect();
    stacks.push((
        "222222222222",
        framework.to_string()
            + &plan(
            "org_jobs",
            "BACKUP_JOB_REPORT",
            "        OrganizationUnits: [ROOT]\n",
        ) + &plan(
            "org_expected",
            "BACKUP_EXPECTATION_REPORT",
            "        Accounts: ['*']\n",
        ) + &plan(
            "org_compliance",
            "RESOURCE_COMPLIANCE_REPORT",
            "        OrganizationUnits: [ROOT]\n        FrameworkArns: [!GetAtt Controls.FrameworkArn]\n",
        ),
    ));
    stacks.push((
        "333333333333",
        plan(
            "member_jobs",
            "BACKUP_JOB_REPORT",
            "        Accounts: ['*']\n",
        ),
    ));
    for (n, (account, plans)) in stacks.into_iter().enumerate() {
        let stack = home.write(
            &format!("{account}-reports-{n}.yaml"),
            &format!("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n{plans}"),
        );
        let input = PolicyInput {
            paths: vec![PathBuf::from(stack)],
            parameters: Default::default(),
            stack: format!("reports-{n}"),
            allow_weakening: false,
        };
        let run = service
            .plan_stack(&caller(config, account, "eu-west-1"), &input, true)
            .await
            .unwrap();
        assert!(
            run.applied.is_some(),
            "{account}: {:?} {:?}",
            run.loaded.diagnostics,
            run.refused
        );
    }
}
