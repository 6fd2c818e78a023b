//! validate, plan, apply and get on the example stack and on broken copies.

use serde_json::Value;

use crate::{repo, Home};

fn example_files() -> Vec<String> {
    vec![
        repo("examples/backup-stack.yaml"),
        repo("examples/inventory.yaml"),
    ]
}

fn args<'a>(head: &[&'a str], files: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(files.iter().map(String::as_str))
        .collect()
}

#[test]
fn first_use_creates_a_commented_config() {
    let home = Home::new();
    let run = home.run(&["get", "vaults"]);
    assert_eq!(run.code, 0, "{run:?}");
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(
        config
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.trim_start().starts_with('#')),
        "{config}"
    );
    assert!(run.stdout.contains("(none"), "{run:?}");
}

#[test]
fn the_example_validates_with_nothing_to_report() {
    let home = Home::new();
    let files = example_files();
    let run = home.run(&args(&["validate"], &files));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    assert!(
        run.stdout
            .contains("Valid: 2 vaults, 2 plans, 2 selections, 1 framework, 3 report plans"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "VaultKey (AWS::KMS::Key) -> arn:coffer:kms:eu-west-1:210987654321:key/VaultKey"
        ),
        "{run:?}"
    );
}

#[test]
fn the_shared_example_is_refused_for_the_name_aws_refuses() {
    let home = Home::new();
    let shared = repo("../shared/examples/cloudformation/backup-stack.yaml");
    let run = home.run(&["validate", &shared]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("backup-stack.yaml:117:22 CoreFramework.FrameworkName: FrameworkName \"payments-core\" is not allowed")
            && run.stderr.contains("(e.g. \"payments_core\")"),
        "{run:?}"
    );
}

#[test]
fn plan_apply_apply_again_is_idempotent() {
    let home = Home::new();
    let files = example_files();
    let plan = home.run(&args(&["plan", "--stack", "payments"], &files));
    assert_eq!(plan.code, 2, "changes pending: {plan:?}");
    assert!(
        plan.stdout
            .contains("+ create backup vault \"payments-primary\""),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("Plan: 20 to create, 0 to change, 0 to delete"),
        "{plan:?}"
    );

    let apply = home.run(&args(&["apply", "--stack", "payments"], &files));
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply
            .stdout
            .contains("Applied stack \"payments\": 20 created"),
        "{apply:?}"
    );

    let again = home.run(&args(&["apply", "--stack", "payments"], &files));
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("No changes: stack \"payments\" matches its files (20 objects unchanged)"),
        "{again:?}"
    );

    let plan = home.run(&args(&["plan", "--stack", "payments"], &files));
    assert_eq!(plan.code, 0, "no changes pending: {plan:?}");
}

#[test]
fn get_prints_aws_field_names() {
    let home = Home::new();
    let files = example_files();
    assert_eq!(
        home.run(&args(&["apply", "--stack", "payments"], &files))
            .code,
        0
    );

    let vaults = home.run(&["get", "vaults", "-o", "json"]);
    assert_eq!(vaults.code, 0, "{vaults:?}");
    let vaults: Value = serde_json::from_str(&vaults.stdout).unwrap();
    let names: Vec<&str> = vaults
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["BackupVaultName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["payments-primary", "payments-second-site"]);
    assert_eq!(vaults[0]["LockConfiguration"]["MinRetentionDays"], 14);
    assert_eq!(
        vaults[0]["EncryptionKeyArn"],
        "arn:coffer:kms:eu-west-1:210987654321:key/VaultKey"
    );

    let plans = home.run(&["get", "plans", "-o", "json"]);
    let plans: Value = serde_json::from_str(&plans.stdout).unwrap();
    let critical = &plans[0];
    assert_eq!(critical["BackupPlanName"], "critical-daily-35d");
    assert_eq!(critical["BackupPlanId"], "critical-daily-35d");
    assert_eq!(
        critical["BackupPlanArn"],
        "arn:coffer:backup:eu-west-1:210987654321:backup-plan:critical-daily-35d"
    );
    assert_eq!(
        critical["Rules"][0]["ScheduleExpressionTimezone"],
        "Europe/Paris"
    );
    assert_eq!(
        critical["Rules"][0]["CopyActions"][0]["DestinationBackupVaultArn"],
        "arn:coffer:backup:eu-west-1:210987654321:backup-vault:payments-second-site"
    );
    assert_eq!(
        critical["Rules"][1]["Lifecycle"]["MoveToColdStorageAfterDays"],
        30
    );

    let reports = home.run(&["get", "report-plans", "-o", "yaml"]);
    assert_eq!(reports.code, 0, "{reports:?}");
    assert!(
        reports
            .stdout
            .contains("ReportPlanName: payments_control_compliance"),
        "{reports:?}"
    );
    assert!(
        reports
            .stdout
            .contains("arn:coffer:backup:eu-west-1:210987654321:framework:payments_core"),
        "{reports:?}"
    );

    let resources = home.run(&["get", "resources"]);
    assert!(
        resources
            .stdout
            .contains("arn:coffer:postgres:eu-west-1:210987654321:database/pg-main/orders"),
        "{resources:?}"
    );

    let table = home.run(&["get", "plans"]);
    assert!(
        table.stdout.contains("monthly-archive") && table.stdout.contains("400d (cold after 30d)"),
        "{table:?}"
    );
}

#[test]
fn removed_objects_are_deleted_and_changes_are_shown_field_by_field() {
    let home = Home::new();
    let files = example_files();
    assert_eq!(
        home.run(&args(&["apply", "--stack", "payments"], &files))
            .code,
        0
    );
    let stack = std::fs::read_to_string(repo("examples/backup-stack.yaml")).unwrap();
    let changed = stack
        .replace(
            "            Lifecycle:\n              DeleteAfterDays: 14\n",
            "            Lifecycle:\n              DeleteAfterDays: 21\n",
        )
        .replace(
            &stack[stack.find("  JobsReport:").unwrap()
                ..stack.find("  ResourceComplianceReport:").unwrap()],
            "",
        );
    let edited = home.write("backup-stack.yaml", &changed);
    let edited_files = vec![edited, repo("examples/inventory.yaml")];
    let plan = home.run(&args(&["plan", "--stack", "payments"], &edited_files));
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(
        plan.stdout
            .contains("~ change backup plan \"standard-weekly-14d\""),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("Rules[0].Lifecycle.DeleteAfterDays: 14 -> 21"),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("- delete report plan \"payments_jobs_monthly\""),
        "{plan:?}"
    );
    assert_eq!(
        home.run(&args(&["apply", "--stack", "payments"], &edited_files))
            .code,
        0
    );
    let reports = home.run(&["get", "report-plans", "-o", "json"]);
    let reports: Value = serde_json::from_str(&reports.stdout).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 2);
    let plans = home.run(&["get", "plans", "-o", "json"]);
    let plans: Value = serde_json::from_str(&plans.stdout).unwrap();
    assert_eq!(plans[1]["Rules"][0]["Lifecycle"]["DeleteAfterDays"], 21);
    assert_eq!(plans[1]["VersionId"], "2");
}

#[test]
fn another_stack_cannot_take_over_objects() {
    let home = Home::new();
    let files = example_files();
    assert_eq!(
        home.run(&args(&["apply", "--stack", "payments"], &files))
            .code,
        0
    );
    let other = home.write(
        "other.yaml",
        "Resources:\n  Vault:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: payments-primary\n",
    );
    let run = home.run(&["apply", "--stack", "other", &other]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("other.yaml:2:3 Vault: backup vault \"payments-primary\" already exists and belongs to stack \"payments\""),
        "{run:?}"
    );
    // An empty stack of another name deletes nothing of "payments".
    let empty = home.write("empty.yaml", "Resources: {}\n");
    let run = home.run(&["apply", "--stack", "other", &empty]);
    assert_eq!(run.code, 0, "{run:?}");
    let vaults: Value =
        serde_json::from_str(&home.run(&["get", "vaults", "-o", "json"]).stdout).unwrap();
    assert_eq!(vaults.as_array().unwrap().len(), 2);
    assert_eq!(vaults[0]["LockConfiguration"]["MinRetentionDays"], 14);
}

#[test]
fn a_broken_file_changes_nothing_and_reports_every_error() {
    let home = Home::new();
    let files = example_files();
    assert_eq!(
        home.run(&args(&["apply", "--stack", "payments"], &files))
            .code,
        0
    );
    let stack = std::fs::read_to_string(repo("examples/backup-stack.yaml")).unwrap();
    let broken = stack
        .replace("MinRetentionDays: 14", "MinRetentionDays: 0")
        .replace(
            "ReportPlanName: payments_jobs_monthly",
            "ReportPlanName: payments-jobs-monthly",
        )
        .replace("StartWindowMinutes: 60", "StartWindowMinutes: 30")
        .replace(
            "BackupVaultName: payments-second-site",
            "BackupVaultNam: payments-second-site",
        );
    let broken_path = home.write("backup-stack.yaml", &broken);
    let run = home.run(&[
        "apply",
        "--stack",
        "payments",
        &broken_path,
        &repo("examples/inventory.yaml"),
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    for expected in [
        "PrimaryVault.LockConfiguration.MinRetentionDays: MinRetentionDays (0) must be at least 1",
        "JobsReport.ReportPlanName: ReportPlanName \"payments-jobs-monthly\" is not allowed",
        "(e.g. \"payments_jobs_monthly\")",
        "CriticalPlan.BackupPlanRule[0].StartWindowMinutes: StartWindowMinutes (30) must be between 60 and 52560000",
        "SecondSiteVault.BackupVaultNam: unknown field \"BackupVaultNam\"; did you mean \"BackupVaultName\"?",
        "nothing was changed",
    ] {
        assert!(run.stderr.contains(expected), "missing {expected:?} in {run:?}");
    }
    let vaults: Value =
        serde_json::from_str(&home.run(&["get", "vaults", "-o", "json"]).stdout).unwrap();
    assert_eq!(vaults[0]["LockConfiguration"]["MinRetentionDays"], 14);
}

#[test]
fn a_retention_below_the_vault_lock_is_a_warning_on_every_command() {
    let home = Home::new();
    let stack = std::fs::read_to_string(repo("examples/backup-stack.yaml")).unwrap();
    let short = stack.replace(
        "            Lifecycle:\n              DeleteAfterDays: 14\n",
        "            Lifecycle:\n              DeleteAfterDays: 7\n",
    );
    let path = home.write("backup-stack.yaml", &short);
    for command in ["validate", "plan", "apply"] {
        let run = home.run(&[command, &path]);
        assert_ne!(run.code, 1, "{command}: {run:?}");
        assert!(
            run.stderr.contains("warning:")
                && run.stderr.contains(
                    "retention of 7 days is below the vault lock's MinRetentionDays (14)"
                ),
            "{command}: {run:?}"
        );
        assert_eq!(
            run.stderr.matches("retention of 7 days").count(),
            1,
            "printed once: {run:?}"
        );
    }
}

#[test]
fn bad_global_flags_are_explained() {
    let home = Home::new();
    let run = home.run_bare(&["--account", "12", "get", "vaults"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("--account: account ID \"12\" must be exactly 12 digits"),
        "{run:?}"
    );
    let run = home.run(&["validate", "/no/such/file.yaml"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("/no/such/file.yaml: no such file or directory"),
        "{run:?}"
    );
}

#[test]
fn usage_errors_exit_1_so_2_always_means_changes_pending() {
    let home = Home::new();
    let typo = home.run(&["plan", "--stak", "x", "a.yaml"]);
    assert_eq!(typo.code, 1, "{typo:?}");
    assert!(typo.stderr.contains("--stak"), "{typo:?}");
    let format = home.run(&["get", "plans", "-o", "xml"]);
    assert_eq!(format.code, 1, "{format:?}");
    let help = home.run_bare(&["--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    assert!(
        help.stdout.contains("Example:") && help.stdout.contains("Exit codes"),
        "{help:?}"
    );
}

#[test]
fn an_empty_filtered_listing_says_what_it_filtered_on() {
    let home = Home::new();
    let run = home.run(&["get", "vaults"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("(none in account 210987654321, region eu-west-1)"),
        "{run:?}"
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    let home = Home::new();
    for command in ["validate", "plan", "apply", "get"] {
        let run = home.run(&[command, "--help"]);
        assert_eq!(run.code, 0, "{command}: {run:?}");
        assert!(run.stdout.contains("Example:"), "{command}: {run:?}");
    }
}
