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
