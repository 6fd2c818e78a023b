//! `coffer org validate` and `coffer org effective-policy` on the example
//! organization and on a broken copy.

use crate::Home;

fn example() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/organizations/organization.yaml")
        .display()
        .to_string()
}

#[test]
fn the_example_organization_validates() {
    let home = Home::new();
    let run = home.run(&["org", "validate", &example()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        "Valid: 2 units, 5 accounts, 2 backup policies attached 2 times, in 3 files."
    );
}

#[test]
fn effective_policy_prints_aws_describe_effective_policy() {
    let home = Home::new();
    let run = home.run(&[
        "org",
        "effective-policy",
        "--file",
        &example(),
        "--account",
        "333333333333",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let described = &value["EffectivePolicy"];
    assert_eq!(described["TargetId"], "333333333333");
    assert_eq!(described["PolicyType"], "BACKUP_POLICY");
    assert!(described["LastUpdatedTimestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let content: serde_json::Value =
        serde_json::from_str(described["PolicyContent"].as_str().unwrap()).unwrap();
    let plan = &content["plans"]["org-daily"];
    assert_eq!(
        plan["regions"],
        serde_json::json!(["eu-west-1", "eu-central-1"])
    );
    assert_eq!(
        plan["selections"]["tags"]["by-tier"]["iam_role_arn"],
        "arn:coffer:iam::333333333333:role/backup-service"
    );
}

#[test]
fn effective_policy_of_a_broken_organization_prints_the_errors_and_no_policy() {
    let home = Home::new();
    home.write(
        "root.json",
        r#"{"plans":{"p":{"regions":{"@@remove":"eu-west-1"}}}}"#,
    );
    let org = home.write(
        "organization.yaml",
        "organization:\n  management_account: \"111111111111\"\n  root:\n    backup_policies: [root.json]\n    accounts: [{id: \"111111111111\", name: m}]\n",
    );
    for args in [
        vec!["org", "validate", org.as_str()],
        vec![
            "org",
            "effective-policy",
            "--file",
            &org,
            "--account",
            "111111111111",
        ],
    ] {
        let run = home.run(&args);
        assert_eq!(run.code, 1, "{run:?}");
        assert_eq!(run.stdout, "", "{run:?}");
        assert!(
            run.stderr.contains("root.json:1:27 plans.p.regions.@@remove: @@remove takes a list of values, found a string; write [\"eu-west-1\"]"),
            "{run:?}"
        );
    }
    let run = home.run(&[
        "org",
        "effective-policy",
        "--file",
        &org,
        "--account",
        "12345",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("12345"), "{run:?}");
}

/// The example organization's files, copied into `home` so a test can
/// change them; returns the organization file's path.
fn example_in(home: &Home, organization: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/organizations");
    for name in ["root-policy.json", "ou-production-policy.json"] {
        home.write(name, &std::fs::read_to_string(dir.join(name)).unwrap());
    }
    home.write("organization.yaml", organization)
}

const ORGANIZATION: &str = r#"organization:
  management_account: "111111111111"
  backup_delegated_administrator: "222222222222"
  root:
    backup_policies: [root-policy.json]
    accounts:
      - {id: "111111111111", name: management}
      - {id: "222222222222", name: backup-admin}
    units:
      - name: production
        backup_policies: [ou-production-policy.json]
        accounts:
          - {id: "333333333333", name: payments-prod}
          - {id: "444444444444", name: ledger-prod}
      - name: staging
        accounts:
          - {id: "555555555555", name: payments-staging}
"#;

/// `coffer --account ACCOUNT --region eu-west-1 ARGS`.
fn as_account(home: &Home, account: &str, args: &[&str]) -> crate::Run {
    let mut full = vec!["--account", account, "--region", "eu-west-1"];
    full.extend_from_slice(args);
    home.run_bare(&full)
}

#[test]
fn plan_apply_and_describe_keep_the_organization_and_its_plans() {
    let home = Home::new();
    let org = example_in(&home, ORGANIZATION);

    // Only the management account applies the organization.
    let member = as_account(&home, "333333333333", &["org", "plan", &org]);
    crate::refused(&member, "only the management account 111111111111");

    // The plan shows the organization's fields and a plan per account and
    // region (production: two regions; the rest: one), and each rule
    // whose vault is missing there.
    let plan = as_account(&home, "111111111111", &["org", "plan", &org]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for line in [
        r#"~ Accounts.333333333333: (none) -> {"Name":"payments-prod","Parent":"OU production"}"#,
        r#"+ create backup plan "orgs/org-daily" (account 333333333333, region eu-central-1)"#,
        r#"+ create backup plan "orgs/org-daily" (account 333333333333, region eu-west-1)"#,
        r#"+ create backup selection "orgs/org-daily/by-tier" (account 555555555555, region eu-west-1)"#,
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    assert!(
        !plan
            .stdout
            .contains("(account 555555555555, region eu-central-1)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains(r#"warning: account 333333333333, region eu-central-1: vault "org-vault" does not exist; rule "nightly" of plan "orgs/org-daily" fails its jobs"#),
        "{}",
        plan.stderr
    );
    assert!(plan.stdout.contains("Plan: "), "{}", plan.stdout);

    let apply = as_account(&home, "111111111111", &["org", "apply", &org]);
    crate::ok(&apply);
    assert!(
        apply.stdout.contains("Applied the organization"),
        "{}",
        apply.stdout
    );
    let again = as_account(&home, "111111111111", &["org", "plan", &org]);
    crate::ok(&again);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);

    // The plans carry what the effective policy says, `$account` replaced,
    // owned by the organization.
    let plans = home.run_bare(&["get", "plans", "-o", "json"]);
    crate::ok(&plans);
    let plans: serde_json::Value = serde_json::from_str(&plans.stdout).unwrap();
    let plans = plans.as_array().unwrap();
    assert_eq!(plans.len(), 7, "{plans:#?}");
    let prod = plans
        .iter()
        .find(|p| {
            p["BackupPlanArn"]
                == "arn:coffer:backup:eu-west-1:333333333333:backup-plan:orgs/org-daily"
        })
        .unwrap();
    assert_eq!(prod["ManagedBy"], "organization");
    assert_eq!(prod["BackupPlanName"], "orgs/org-daily");
    assert_eq!(prod["Rules"][0]["Lifecycle"]["DeleteAfterDays"], 90);
    assert_eq!(prod["Rules"][0]["StartWindowMinutes"], 60);
    assert_eq!(
        prod["Rules"][0]["CopyActions"][0]["DestinationBackupVaultArn"],
        "arn:coffer:backup:eu-central-1:333333333333:backup-vault:org-vault-dr"
    );
    assert_eq!(prod["BackupPlanTags"]["owner"], "platform");
    let table = home.run_bare(&["get", "plans"]);
    assert!(table.stdout.contains("(organization)"), "{}", table.stdout);

    // Describe, and the effective policy of the applied organization.
    let described = home.run_bare(&["org", "describe", "-o", "json"]);
    crate::ok(&described);
    let described: serde_json::Value = serde_json::from_str(&described.stdout).unwrap();
    assert_eq!(
        described["Organization"]["Accounts"]["555555555555"]["Parent"],
        "OU staging"
    );
    // Read by the management account's principal.
    principal_of(&home, "111111111111");
    let effective = home.run_bare(&[
        "org",
        "effective-policy",
        "--account",
        "555555555555",
        "-o",
        "json",
    ]);
    crate::ok(&effective);
    let content: serde_json::Value = serde_json::from_str(
        serde_json::from_str::<serde_json::Value>(&effective.stdout).unwrap()["EffectivePolicy"]
            ["PolicyContent"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        content["plans"]["org-daily"]["regions"],
        serde_json::json!(["eu-west-1"])
    );

    // Moving an account is a field of the plan, and switches its plans.
    let moved = ORGANIZATION.replace(
        "          - {id: \"444444444444\", name: ledger-prod}\n",
        "          - {id: \"444444444444\", name: ledger-prod}\n          - {id: \"555555555555\", name: payments-staging}\n",
    );
    let moved = moved.replace(
        "        accounts:\n          - {id: \"555555555555\", name: payments-staging}\n",
        "        accounts: []\n",
    );
    let org = home.write("organization.yaml", &moved);
    let plan = as_account(&home, "111111111111", &["org", "plan", &org]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for line in [
        r#"~ Accounts.555555555555.Parent: "OU staging" -> "OU production""#,
        r#"+ create backup plan "orgs/org-daily" (account 555555555555, region eu-central-1)"#,
        r#"~ change backup plan "orgs/org-daily" (account 555555555555, region eu-west-1)"#,
        "Rules[0].Lifecycle.DeleteAfterDays: 35 -> 90",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    crate::ok(&as_account(&home, "111111111111", &["org", "apply", &org]));

    // Each apply is in the ledger, with the policies' digests and who applied it.
    let log = home.run_bare(&["evidence", "log", "--kind", "organization", "-o", "json"]);
    crate::ok(&log);
    let log: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    let entries = log["Entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log:#}");
    assert!(
        entries[0]["Event"]
            .as_str()
            .unwrap()
            .starts_with("ORGANIZATION_APPLIED policies "),
        "{log:#}"
    );
    assert!(
        entries[0]["Actor"].to_string().contains("111111111111"),
        "{log:#}"
    );
}

/// Sets the account the home's CLI principal belongs to
/// (`arn:coffer:iam::<account>:user/admin`).
fn principal_of(home: &Home, account: &str) {
    std::fs::write(
        home.path().join("config.toml"),
        format!("[defaults]\naccount = \"{account}\"\nregion = \"eu-west-1\"\n"),
    )
    .unwrap();
}

/// The accounts of the points a `recovery-points list -o json` shows.
fn point_accounts(run: &crate::Run) -> Vec<String> {
    crate::ok(run);
    let points: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut accounts: Vec<String> = points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["RecoveryPointArn"]
                .as_str()
                .unwrap()
                .split(':')
                .nth(4)
                .unwrap()
                .to_string()
        })
        .collect();
    accounts.sort();
    accounts
}

/// The accounts whose frameworks an `audit evaluate -o json` evaluated.
fn evaluated_accounts(run: &crate::Run) -> Vec<String> {
    crate::ok(run);
    let docs: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut accounts: Vec<String> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["AccountId"].as_str().unwrap().to_string())
        .collect();
    accounts.sort();
    accounts
}

#[test]
fn members_see_their_own_account_and_the_delegated_administrator_sees_every_account() {
    let home = Home::new();
    principal_of(&home, "111111111111");
    let data = home.path().join("data/docs");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "alpha").unwrap();
    let stack = home.write(
        "stack.yaml",
        "Resources:\n  Primary:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: primary\n  Core:\n    Type: AWS::Backup::Framework\n    Properties:\n      FrameworkName: core\n      FrameworkControls:\n        - ControlName: BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK\n",
    );
    for account in ["333333333333", "444444444444"] {
        let inventory = home.write(
            &format!("{account}.yaml"),
            &format!(
                "defaults:\n  account: \"{account}\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
                data.display()
            ),
        );
        let resource = format!("arn:coffer:fs:eu-west-1:{account}:filesystem/docs");
        for args in [
            vec![
                "apply",
                "--stack",
                account,
                stack.as_str(),
                inventory.as_str(),
            ],
            vec![
                "backup",
                "start",
                "--resource",
                &resource,
                "--vault",
                "primary",
            ],
        ] {
            crate::ok(&as_account(&home, account, &args));
        }
    }
    let org = example_in(&home, ORGANIZATION);
    crate::ok(&home.run_bare(&["org", "apply", &org]));
    // The member 444444444444's point and job, as its own account sees them.
    let theirs = as_account(
        &home,
        "444444444444",
        &["recovery-points", "list", "-o", "json"],
    );
    crate::ok(&theirs);
    let theirs: serde_json::Value = serde_json::from_str(&theirs.stdout).unwrap();
    let point = theirs[0]["RecoveryPointArn"].as_str().unwrap().to_string();
    let job = theirs[0]["CreatedByJobId"].as_str().unwrap().to_string();

    // A member account's principal sees its own account only: `*` is its
    // own, and acting on another account is refused.
    principal_of(&home, "333333333333");
    let list = ["recovery-points", "list", "-o", "json"];
    assert_eq!(point_accounts(&home.run_bare(&list)), vec!["333333333333"]);
    let mut all = vec!["--account", "*"];
    all.extend_from_slice(&list);
    assert_eq!(point_accounts(&home.run_bare(&all)), vec!["333333333333"]);
    let other = as_account(&home, "444444444444", &list);
    crate::refused(
        &other,
        "belongs to account 333333333333, which acts only on its own account",
    );
    let jobs = as_account(&home, "444444444444", &["jobs", "list"]);
    crate::refused(
        &jobs,
        "only the management account or the backup delegated administrator",
    );
    let described = home.run_bare(&["recovery-points", "describe", &point]);
    crate::refused(&described, "belongs to account 444444444444");
    let policy = ["org", "effective-policy", "--account", "444444444444"];
    crate::refused(&home.run_bare(&policy), "acts only on its own account");
    crate::ok(&home.run_bare(&["org", "effective-policy", "--account", "333333333333"]));
    let evaluate = [
        "--account",
        "*",
        "audit",
        "evaluate",
        "--summary",
        "-o",
        "json",
    ];
    assert_eq!(
        evaluated_accounts(&home.run_bare(&evaluate)),
        vec!["333333333333"]
    );

    // The backup delegated administrator sees every member, or the one it names.
    principal_of(&home, "222222222222");
    assert_eq!(
        point_accounts(&home.run_bare(&all)),
        vec!["333333333333", "444444444444"]
    );
    assert_eq!(
        point_accounts(&as_account(&home, "444444444444", &list)),
        vec!["444444444444"]
    );
    assert_eq!(
        evaluated_accounts(&home.run_bare(&evaluate)),
        vec!["333333333333", "444444444444"]
    );
    crate::ok(&home.run_bare(&policy));
    let described = home.run_bare(&["recovery-points", "describe", &point, "-o", "json"]);
    crate::ok(&described);
    assert!(described.stdout.contains(&point), "{}", described.stdout);
    crate::ok(&home.run_bare(&["jobs", "describe", &job]));
    let jobs = home.run_bare(&["--account", "*", "jobs", "list", "-o", "json"]);
    crate::ok(&jobs);
    let jobs: serde_json::Value = serde_json::from_str(&jobs.stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs:#}");
}

#[test]
fn a_member_accounts_principal_cannot_apply_the_organization_in_the_management_accounts_name() {
    let home = Home::new();
    principal_of(&home, "333333333333");
    let org = example_in(&home, ORGANIZATION);
    let run = as_account(&home, "111111111111", &["org", "apply", &org]);
    crate::refused(&run, "belongs to account 333333333333 of the organization");
    let described = home.run_bare(&["org", "describe"]);
    crate::refused(&described, "no organization has been applied");
}
