//! Organizations: the organization file, CloudFormation attachments, and
//! the effective backup policy, against the examples, hand-written
//! expectations, and (by property) a plain reimplementation of the merge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use coffer_model::{
    AccountId, Organization, OrganizationAccount, OrganizationalUnit, PolicyAttachment,
};
use coffer_policy::org::{effective_policy, load_organization, LoadedOrganization};
use proptest::prelude::*;
use serde_json::{json, Value};

fn account(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

/// Writes files into a fresh folder and loads `organization.yaml` from it.
fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, LoadedOrganization) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let loaded = load_organization(&dir.path().join("organization.yaml"));
    (dir, loaded)
}

/// Diagnostics as printed, with the temporary folder taken out.
fn lines(loaded: &LoadedOrganization, dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    loaded
        .diagnostics
        .iter()
        .map(|d| d.to_string().replace(&prefix, ""))
        .collect()
}

fn effective(loaded: &LoadedOrganization, id: &str) -> Value {
    loaded.effective(&account(id)).unwrap().content
}

const TWO_LEVELS: &str = r#"
organization:
  management_account: "111111111111"
  root:
    backup_policies: [root.json]
    accounts:
      - {id: "111111111111", name: management}
    units:
      - name: prod
        backup_policies: [ou.json]
        accounts:
          - {id: "111122223333", name: app}
"#;

#[test]
fn shared_organization_examples_are_copied_unchanged() {
    let shared = PathBuf::from("../../../shared/examples/organizations");
    for name in [
        "organization.yaml",
        "root-policy.json",
        "ou-production-policy.json",
        "README.md",
    ] {
        if let Ok(original) = std::fs::read(shared.join(name)) {
            let copy = std::fs::read(Path::new("../../examples/organizations").join(name)).unwrap();
            assert!(original == copy, "{name} changed: copy it again");
        }
    }
}

#[test]
fn example_organization_gives_the_effective_policies_its_readme_describes() {
    let loaded = load_organization(Path::new("../../examples/organizations/organization.yaml"));
    let all: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(all, Vec::<String>::new());
    let org = &loaded.organization;
    assert_eq!(org.management_account, Some(account("111111111111")));
    assert_eq!(
        org.backup_delegated_administrator,
        Some(account("222222222222"))
    );
    assert_eq!(org.accounts.len(), 5);
    let production = |id: &str| {
        json!({"plans": {"org-daily": {
            "regions": ["eu-west-1", "eu-central-1"],
            "rules": {"nightly": {
                "schedule_expression": "cron(0 1 * * ? *)",
                "start_backup_window_minutes": "60",
                "complete_backup_window_minutes": "480",
                "lifecycle": {"delete_after_days": "90"},
                "target_backup_vault_name": "org-vault",
                "copy_actions": {format!("arn:coffer:backup:eu-central-1:{id}:backup-vault:org-vault-dr"): {
                    "target_backup_vault_arn": format!("arn:coffer:backup:eu-central-1:{id}:backup-vault:org-vault-dr"),
                    "lifecycle": {"delete_after_days": "35"}
                }}
            }},
            "selections": {"tags": {"by-tier": {
                "iam_role_arn": format!("arn:coffer:iam::{id}:role/backup-service"),
                "tag_key": "backup-tier",
                "tag_value": ["critical", "standard", "regulated"]
            }}},
            "backup_plan_tags": {"owner": {"tag_key": "owner", "tag_value": "platform"}}
        }}})
    };
    let under_root = |id: &str| {
        let mut policy = production(id);
        let plan = &mut policy["plans"]["org-daily"];
        plan["regions"] = json!(["eu-west-1"]);
        plan["rules"]["nightly"]["lifecycle"]["delete_after_days"] = json!("35");
        plan["selections"]["tags"]["by-tier"]["tag_value"] = json!(["critical", "standard"]);
        policy
    };
    for id in ["333333333333", "444444444444"] {
        assert_eq!(effective(&loaded, id), production(id), "{id}");
    }
    for id in ["111111111111", "222222222222", "555555555555"] {
        assert_eq!(effective(&loaded, id), under_root(id), "{id}");
    }
    // The order of the merged document follows the policies.
    let text = serde_json::to_string(&effective(&loaded, "333333333333")).unwrap();
    assert!(
        text.starts_with(
            r#"{"plans":{"org-daily":{"regions":["eu-west-1","eu-central-1"],"rules""#
        ),
        "{text}"
    );
    assert_eq!(loaded.sources.len(), 3);
}

#[test]
fn the_documented_two_level_example_merges_as_aws_documents_it() {
    let root = r#"{"plans":{"Daily":{
      "regions":{"@@operators_allowed_for_child_policies":["@@append"],"@@assign":["us-east-1","eu-west-1"]},
      "rules":{"DailyRule":{
        "schedule_expression":{"@@assign":"cron(0 5 ? * * *)"},
        "target_backup_vault_name":{"@@assign":"Default"},
        "lifecycle":{"delete_after_days":{"@@operators_allowed_for_child_policies":["@@none"],"@@assign":"35"}}}},
      "selections":{"tags":{"prod":{"iam_role_arn":{"@@assign":"arn:aws:iam::$account:role/BackupRole"},
        "tag_key":{"@@assign":"env"},"tag_value":{"@@assign":["prod"]}}}}}}}"#;
    let ou = r#"{"plans":{
      "Daily":{"regions":{"@@assign":["ap-southeast-2"]},
               "rules":{"DailyRule":{"schedule_expression":{"@@assign":"cron(0 3 ? * * *)"},
                                     "lifecycle":{"delete_after_days":{"@@assign":"7"}}}},
               "selections":{"tags":{"prod":{"tag_value":{"@@append":["production"]}}}}},
      "Weekly":{"regions":{"@@assign":["us-east-1"]},
                "rules":{"WeeklyRule":{"schedule_expression":{"@@assign":"cron(0 5 ? * 1 *)"},
                                       "target_backup_vault_name":{"@@assign":"Default"}}},
                "selections":{"tags":{"all":{"iam_role_arn":{"@@assign":"arn:aws:iam::$account:role/BackupRole"},
                                             "tag_key":{"@@assign":"backup"},"tag_value":{"@@assign":["weekly"]}}}}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", root),
        ("ou.json", ou),
    ]);
    assert_eq!(
        effective(&loaded, "111122223333"),
        json!({"plans":{
          "Daily":{"regions":["us-east-1","eu-west-1"],
            "rules":{"DailyRule":{"schedule_expression":"cron(0 3 ? * * *)","target_backup_vault_name":"Default",
                     "lifecycle":{"delete_after_days":"35"}}},
            "selections":{"tags":{"prod":{"iam_role_arn":"arn:aws:iam::111122223333:role/BackupRole",
                     "tag_key":"env","tag_value":["prod","production"]}}}},
          "Weekly":{"regions":["us-east-1"],
            "rules":{"WeeklyRule":{"schedule_expression":"cron(0 5 ? * 1 *)","target_backup_vault_name":"Default"}},
            "selections":{"tags":{"all":{"iam_role_arn":"arn:aws:iam::111122223333:role/BackupRole",
                     "tag_key":"backup","tag_value":["weekly"]}}}}}})
    );
    // AWS ignores the two refused operators; Coffer also names them.
    let found = lines(&loaded, dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("ou.json:2:16 plans.Daily.regions: @@assign here is refused: root.json (on the root) allows only [\"@@append\"] at plans.Daily.regions"), "{found:#?}");
    assert!(found[1].starts_with("ou.json:4:51 plans.Daily.rules.DailyRule.lifecycle.delete_after_days: @@assign here is refused: root.json (on the root) allows only [\"@@none\"]"), "{found:#?}");
    assert!(found[1].contains("the effective policy keeps the parent's value; remove it from this policy, or widen the child control in root.json"), "{found:#?}");
}

const PLAN_OK: &str = r#"{"plans":{"p":{
  "regions":{"@@assign":["eu-west-1"]},
  "rules":{"r":{"schedule_expression":{"@@assign":"cron(0 1 * * ? *)"},"target_backup_vault_name":{"@@assign":"v"}}},
  "selections":{"tags":{"s":{"iam_role_arn":{"@@assign":"arn:coffer:iam::$account:role/b"},"tag_key":{"@@assign":"k"},"tag_value":{"@@assign":["x"]}}}}}}}"#;

#[test]
fn a_remove_on_a_scalar_is_an_error_naming_file_line_and_path() {
    let ou = r#"{"plans":{"p":{"rules":{"r":{
  "target_backup_vault_name":{"@@remove":["v"]}}}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", PLAN_OK),
        ("ou.json", ou),
    ]);
    assert_eq!(
        lines(&loaded, dir.path()),
        vec!["ou.json:2:31 plans.p.rules.r.target_backup_vault_name.@@remove: @@remove applies to lists, and plans.p.rules.r.target_backup_vault_name holds one value; use @@assign to replace it"]
    );
}

#[test]
fn unknown_keys_and_operators_get_a_did_you_mean() {
    let ou = r#"{"plans":{"p":{"rules":{"r":{
  "schedule_expresion":{"@@assign":"cron(0 2 * * ? *)"},
  "target_backup_vault_name":{"@@asign":"w"}}},
  "regions":{"@@prepend":["eu-west-2"]}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", PLAN_OK),
        ("ou.json", ou),
    ]);
    assert_eq!(
        lines(&loaded, dir.path()),
        vec![
            "ou.json:2:3 plans.p.rules.r.schedule_expresion: unknown key \"schedule_expresion\" in a backup policy; did you mean \"schedule_expression\"?",
            "ou.json:3:31 plans.p.rules.r.target_backup_vault_name.@@asign: unknown operator \"@@asign\"; did you mean \"@@assign\"?",
            "ou.json:4:14 plans.p.regions.@@prepend: unknown operator \"@@prepend\"; did you mean \"@@append\"?",
        ]
    );
    // A policy with errors is not attached: nothing of it is merged.
    assert_eq!(loaded.organization.attached_to("prod").count(), 0);
}

#[test]
fn duplicate_json_keys_are_refused() {
    let ou = r#"{"plans":{"p":{"regions":{"@@append":["a"]},"regions":{"@@append":["b"]}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", PLAN_OK),
        ("ou.json", ou),
    ]);
    let found = lines(&loaded, dir.path());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("ou.json:1:") && found[0].contains("regions"),
        "{found:#?}"
    );
}

#[test]
fn a_policy_over_ten_thousand_characters_is_refused() {
    let padding = " ".repeat(10_001 - PLAN_OK.chars().count());
    let big = format!("{PLAN_OK}{padding}");
    assert_eq!(big.chars().count(), 10_001);
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", &big),
        ("ou.json", "{}"),
    ]);
    let found = lines(&loaded, dir.path());
    assert_eq!(
        found[0],
        "root.json:1:1 the policy holds 10001 characters; AWS Organizations takes at most 10000; split it into two policies attached to the same node, or remove whitespace"
    );
    // At the limit it is taken.
    let exact = format!("{PLAN_OK}{}", " ".repeat(10_000 - PLAN_OK.chars().count()));
    let (_dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", &exact),
        ("ou.json", "{}"),
    ]);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
}

#[test]
fn more_than_ten_policies_on_one_node_is_an_error() {
    let mut files: Vec<(String, String)> = (0..11)
        .map(|idx| (format!("p{idx}.json"), PLAN_OK.to_string()))
        .collect();
    let list: Vec<String> = (0..11).map(|idx| format!("p{idx}.json")).collect();
    files.push((
        "organization.yaml".into(),
        format!(
            "organization:\n  management_account: \"111111111111\"\n  root:\n    accounts: [{{id: \"111111111111\", name: m}}]\n    units:\n      - name: prod\n        backup_policies: [{}]\n",
            list.join(", ")
        ),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (dir, loaded) = load(&refs);
    let found = lines(&loaded, dir.path());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with(
            "organization.yaml:6:15 OU prod: 11 backup policies are attached here (p0.json, "
        ),
        "{found:#?}"
    );
    assert!(found[0].ends_with("AWS Organizations allows at most 10 per root, unit or account; merge some of them into one policy, or attach them higher in the tree"), "{found:#?}");
}

#[test]
fn an_effective_plan_that_is_not_a_valid_plan_is_reported_per_account() {
    // The root gives a plan without a selection; the unit adds one, so only
    // the account under the root is left with a plan that backs nothing up.
    let root = r#"{"plans":{"p":{
  "regions":{"@@assign":["eu-west-1"]},
  "rules":{"r":{"schedule_expression":{"@@assign":"cron(0 1 * * ? *)"}}}}}}"#;
    let ou = r#"{"plans":{"p":{
  "rules":{"r":{"target_backup_vault_name":{"@@assign":"v"}}},
  "selections":{"tags":{"s":{"iam_role_arn":{"@@assign":"arn:coffer:iam::$account:role/b"},"tag_key":{"@@assign":"k"},"tag_value":{"@@assign":["x"]}}}}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", root),
        ("ou.json", ou),
    ]);
    assert_eq!(
        lines(&loaded, dir.path()),
        vec![
            "organization.yaml:7:9 account 111111111111 (management) plans.p.rules.r.target_backup_vault_name: rule \"r\" has no target_backup_vault_name: plan \"p\" is not a valid plan in this account and backs nothing up until fixed; set it in a policy attached to this account or above it (coffer org effective-policy --account shows the merge)",
            "organization.yaml:7:9 account 111111111111 (management) plans.p.selections: the effective plan has no selection (tags or resources): plan \"p\" is not a valid plan in this account and backs nothing up until fixed; set it in a policy attached to this account or above it (coffer org effective-policy --account shows the merge)",
        ]
    );
    let app = loaded.effective(&account("111122223333")).unwrap();
    assert!(app.invalid_plans.is_empty());
    let management = loaded.effective(&account("111111111111")).unwrap();
    assert_eq!(management.invalid_plans.len(), 2);
}

#[test]
fn none_on_plans_forbids_new_plans_and_append_allows_new_ones_but_no_changes() {
    let root_none = r#"{"plans":{"@@operators_allowed_for_child_policies":["@@none"],"p":{"regions":{"@@assign":["a"]}}}}"#;
    let root_append = r#"{"plans":{"@@operators_allowed_for_child_policies":["@@append"],"p":{"regions":{"@@assign":["a"]}}}}"#;
    let ou = r#"{"plans":{"p":{"regions":{"@@assign":["b"]}},"q":{"regions":{"@@assign":["c"]}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", root_none),
        ("ou.json", ou),
    ]);
    assert_eq!(
        effective(&loaded, "111122223333"),
        json!({"plans":{"p":{"regions":["a"]}}})
    );
    let found = lines(&loaded, dir.path());
    assert!(found.iter().any(|l| l.starts_with("ou.json:1:46 plans.q: this policy on OU prod adds \"q\", but root.json (on the root) allows only [\"@@none\"] at plans for the policies below it (adding a key counts as @@append)")), "{found:#?}");
    let (_dir, loaded) = load(&[
        ("organization.yaml", TWO_LEVELS),
        ("root.json", root_append),
        ("ou.json", ou),
    ]);
    assert_eq!(
        effective(&loaded, "111122223333"),
        json!({"plans":{"p":{"regions":["a"]},"q":{"regions":["c"]}}})
    );
}

#[test]
fn on_one_node_the_first_attached_wins_and_controls_intersect() {
    let org = r#"
organization:
  management_account: "111111111111"
  root:
    backup_policies: [a.json, b.json]
    accounts:
      - {id: "111111111111", name: management}
      - {id: "111122223333", name: app, backup_policies: [child.json]}
"#;
    let a = r#"{"plans":{"p":{"regions":{"@@operators_allowed_for_child_policies":["@@assign","@@append"],"@@assign":["a"]}}}}"#;
    let b = r#"{"plans":{"p":{"regions":{"@@operators_allowed_for_child_policies":["@@append","@@remove"],"@@assign":["b"],"@@append":["c"]}}}}"#;
    let child =
        r#"{"plans":{"p":{"regions":{"@@assign":["x"],"@@append":["y"],"@@remove":["a"]}}}}"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", org),
        ("a.json", a),
        ("b.json", b),
        ("child.json", child),
    ]);
    // Root: a's assign wins over b's, b's append still applies.
    assert_eq!(
        effective(&loaded, "111111111111"),
        json!({"plans":{"p":{"regions":["a","c"]}}})
    );
    // Account: only @@append is in both controls.
    assert_eq!(
        effective(&loaded, "111122223333"),
        json!({"plans":{"p":{"regions":["a","c","y"]}}})
    );
    let found = lines(&loaded, dir.path());
    assert!(found.iter().any(|l| l.starts_with("b.json:1:") && l.contains("warning") || l.contains("assigns [\"b\"], but a.json, attached before it to the root, assigns [\"a\"]: the first attached wins")), "{found:#?}");
    assert!(found.iter().any(|l| l.contains("child.json") && l.contains("@@assign here is refused: a.json (on the root) and b.json (on the root) allows only [\"@@append\"]")), "{found:#?}");
    assert!(
        found
            .iter()
            .any(|l| l.contains("child.json") && l.contains("@@remove here is refused")),
        "{found:#?}"
    );
}

#[test]
fn cloudformation_policies_attach_after_the_files_and_name_their_targets() {
    let org = r#"
organization:
  management_account: "111111111111"
  templates: [policies.yaml]
  root:
    backup_policies: [root.json]
    accounts:
      - {id: "111111111111", name: management}
    units:
      - name: prod
        accounts:
          - {id: "111122223333", name: app}
"#;
    let template = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  ProdRetention:
    Type: AWS::Organizations::Policy
    Properties:
      Name: prod-retention
      Type: BACKUP_POLICY
      TargetIds: [prod]
      Content:
        plans:
          p:
            regions: {"@@append": ["eu-central-1"]}
  RootOverride:
    Type: AWS::Organizations::Policy
    Properties:
      Name: root-override
      Type: BACKUP_POLICY
      TargetIds: [root]
      Content: '{"plans":{"p":{"regions":{"@@assign":["us-east-1"]}}}}'
  Guardrails:
    Type: AWS::Organizations::Policy
    Properties:
      Name: scp
      Type: SERVICE_CONTROL_POLICY
      TargetIds: [root]
      Content: {}
  Typo:
    Type: AWS::Organizations::Policy
    Properties:
      Name: typo
      Type: BACKUP_POLICY
      TargetIds: [prd, "999999999999"]
      Content: {"plans": {}}
"#;
    let (dir, loaded) = load(&[
        ("organization.yaml", org),
        ("root.json", PLAN_OK),
        ("policies.yaml", template),
    ]);
    let found = lines(&loaded, dir.path());
    assert_eq!(
        found,
        vec![
            "policies.yaml:20:16 RootOverride.Properties.Content.plans.p.regions: assigns [\"us-east-1\"], but root.json, attached before it to the root, assigns [\"eu-west-1\"]: the first attached wins, so this value is ignored; remove one of the two assignments, or attach the policies in the order you mean",
            "policies.yaml:25:13 Guardrails.Properties.Type: a SERVICE_CONTROL_POLICY policy is not a backup policy; Coffer reads BACKUP_POLICY only and ignores it",
            "policies.yaml:33:19 Typo.Properties.TargetIds[0]: \"prd\" is not an account, a unit or the root of this organization; did you mean \"prod\"?",
            "policies.yaml:33:24 Typo.Properties.TargetIds[1]: \"999999999999\" is not an account, a unit or the root of this organization; name an account ID, a unit or the root: prod, 111111111111, 111122223333, root",
        ]
    );
    assert_eq!(
        effective(&loaded, "111122223333")["plans"]["p"]["regions"],
        json!(["eu-west-1", "eu-central-1"])
    );
    assert_eq!(
        effective(&loaded, "111111111111")["plans"]["p"]["regions"],
        json!(["eu-west-1"])
    );
    // The template's attachment to the root comes after the file's.
    let root_policies: Vec<&str> = loaded.organization.attached_to("root").collect();
    assert_eq!(
        root_policies,
        vec![
            format!("{}/root.json", dir.path().display()).as_str(),
            &format!("{}/policies.yaml RootOverride", dir.path().display())
        ]
    );
}

#[test]
fn organization_file_mistakes_are_named_with_their_fix() {
    let org = r#"
organization:
  management_acount: "111111111111"
  backup_delegated_administrator: "222222222222"
  root:
    backup_policies: [missing.json]
    accounts:
      - {id: "111111111111", name: management}
      - {id: 11112222333, name: short}
    units:
      - name: prod
        accounts:
          - {id: "111111111111", name: again}
      - name: prod
"#;
    let (dir, loaded) = load(&[("organization.yaml", org)]);
    let found = lines(&loaded, dir.path());
    insta::assert_snapshot!("organization_file_mistakes", found.join("\n"));
}

// ---------------------------------------------------------------------------
// The merge against a plain reimplementation, over random organizations.
// The reference below walks flat paths where the library walks trees, finds
// each account's chain by parent links, and keeps values in a sorted map.

const LEAVES: &[(&[&str], bool)] = &[
    (&["plans", "a", "regions"], true),
    (&["plans", "b", "regions"], true),
    (&["plans", "a", "rules", "r1", "schedule_expression"], false),
    (&["plans", "a", "rules", "r2", "schedule_expression"], false),
    (&["plans", "b", "rules", "r1", "schedule_expression"], false),
    (
        &[
            "plans",
            "a",
            "rules",
            "r1",
            "lifecycle",
            "delete_after_days",
        ],
        false,
    ),
    (
        &["plans", "a", "selections", "tags", "s", "tag_value"],
        true,
    ),
];

const ASSIGN: u8 = 1;
const APPEND: u8 = 2;
const REMOVE: u8 = 4;

type KeyPath = Vec<String>;

/// Every path a control may sit at: each prefix of each leaf.
fn control_paths() -> Vec<KeyPath> {
    let mut out = BTreeSet::new();
    for (leaf, _) in LEAVES {
        for len in 0..=leaf.len() {
            out.insert(
                leaf[..len]
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<KeyPath>(),
            );
        }
    }
    out.into_iter().collect()
}

#[derive(Clone, Debug)]
struct LeafOps {
    assign: Option<Value>,
    append: Option<Vec<Value>>,
    remove: Option<Vec<Value>>,
}

fn list_values() -> impl Strategy<Value = Vec<Value>> {
    prop::sample::subsequence(vec!["1", "2", "3", "4"], 0..=3)
        .prop_map(|items| items.into_iter().map(Value::from).collect())
}

fn leaf_ops(is_list: bool) -> BoxedStrategy<LeafOps> {
    if is_list {
        (
            prop::option::of(list_values()),
            prop::option::of(list_values()),
            prop::option::of(list_values()),
        )
            .prop_filter("at least one operator", |(a, b, c)| {
                a.is_some() || b.is_some() || c.is_some()
            })
            .prop_map(|(assign, append, remove)| LeafOps {
                assign: assign.map(Value::Array),
                append,
                remove,
            })
            .boxed()
    } else {
        prop::sample::select(vec!["x", "y", "z"])
            .prop_map(|v| LeafOps {
                assign: Some(Value::from(v)),
                append: None,
                remove: None,
            })
            .boxed()
    }
}

fn control_value(bits: u8) -> Value {
    match bits {
        7 => json!(["@@all"]),
        0 => json!(["@@none"]),
        _ => Value::Array(
            [
                (ASSIGN, "@@assign"),
                (APPEND, "@@append"),
                (REMOVE, "@@remove"),
            ]
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, name)| Value::from(*name))
            .collect(),
        ),
    }
}

/// One random policy document.
fn policy() -> impl Strategy<Value = Value> {
    let n_controls = control_paths().len();
    let leaf = (0..LEAVES.len())
        .prop_flat_map(|idx| leaf_ops(LEAVES[idx].1).prop_map(move |ops| (idx, ops)));
    (
        prop::collection::vec(leaf, 0..5),
        prop::collection::vec((0..n_controls, 0u8..8), 0..3),
    )
        .prop_map(|(leaves, controls)| {
            let mut doc = json!({});
            for (idx, ops) in leaves {
                let target = descend(&mut doc, LEAVES[idx].0);
                if let Some(v) = ops.assign {
                    target["@@assign"] = v;
                }
                if let Some(v) = ops.append {
                    target["@@append"] = Value::Array(v);
                }
                if let Some(v) = ops.remove {
                    target["@@remove"] = Value::Array(v);
                }
            }
            let paths = control_paths();
            for (idx, bits) in controls {
                let path: Vec<&str> = paths[idx].iter().map(String::as_str).collect();
                descend(&mut doc, &path)["@@operators_allowed_for_child_policies"] =
                    control_value(bits);
            }
            doc
        })
}

fn descend<'v>(doc: &'v mut Value, path: &[&str]) -> &'v mut Value {
    let mut here = doc;
    for key in path {
        if here.get(*key).is_none() {
            here[*key] = json!({});
        }
        here = &mut here[*key];
    }
    here
}

/// A random organization: units under the root or earlier units, accounts
/// anywhere, policies attached anywhere in random order.
fn organization() -> impl Strategy<Value = Organization> {
    (0usize..4, 1usize..5).prop_flat_map(|(n_units, n_accounts)| {
        let n_containers = n_units + 1;
        (
            prop::collection::vec(0usize..100, n_units),
            prop::collection::vec(0..n_containers, n_accounts),
            prop::collection::vec(policy(), 1..5),
            prop::collection::vec((0usize..100, 0..n_containers + n_accounts), 0..10),
        )
            .prop_map(
                move |(unit_parents, account_parents, policies, attachments)| {
                    let container = |idx: usize| {
                        if idx == 0 {
                            "r".to_string()
                        } else {
                            format!("ou{idx}")
                        }
                    };
                    let units = unit_parents
                        .iter()
                        .enumerate()
                        .map(|(idx, parent)| OrganizationalUnit {
                            id: container(idx + 1),
                            name: container(idx + 1),
                            parent_id: container(parent % (idx + 1)),
                        })
                        .collect();
                    let accounts: Vec<OrganizationAccount> = account_parents
                        .iter()
                        .enumerate()
                        .map(|(idx, parent)| OrganizationAccount {
                            id: account(&format!("{:012}", 100_000_000_000u64 + idx as u64)),
                            name: format!("a{idx}"),
                            parent_id: container(*parent),
                        })
                        .collect();
                    let targets: Vec<String> = (0..n_containers)
                        .map(container)
                        .chain(accounts.iter().map(|a| a.id.to_string()))
                        .collect();
                    Organization {
                        root_id: "r".into(),
                        organizational_units: units,
                        policies: policies
                            .iter()
                            .enumerate()
                            .map(|(idx, p)| (format!("p{idx}"), p.clone()))
                            .collect(),
                        attachments: attachments
                            .iter()
                            .map(|(policy, target)| PolicyAttachment {
                                policy_name: format!("p{}", policy % policies.len()),
                                target_id: targets[*target].clone(),
                            })
                            .collect(),
                        accounts,
                        ..Organization::default()
                    }
                },
            )
    })
}

/// The leaves of a policy in document order with their operators, and its
/// controls: the reference's own reading of the document.
/// A policy's leaves with their operators, and its controls.
type Flat = (Vec<(KeyPath, LeafOps)>, Vec<(KeyPath, u8)>);

fn flatten_policy(doc: &Value) -> Flat {
    fn walk(
        value: &Value,
        path: &mut KeyPath,
        leaves: &mut Vec<(KeyPath, LeafOps)>,
        controls: &mut Vec<(KeyPath, u8)>,
    ) {
        let Some(map) = value.as_object() else { return };
        if let Some(control) = map.get("@@operators_allowed_for_child_policies") {
            let mut bits = 0;
            for name in control.as_array().unwrap() {
                bits |= match name.as_str().unwrap() {
                    "@@all" => 7,
                    "@@none" => 0,
                    "@@assign" => ASSIGN,
                    "@@append" => APPEND,
                    _ => REMOVE,
                };
            }
            controls.push((path.clone(), bits));
        }
        let is_leaf = LEAVES.iter().any(|(leaf, _)| {
            leaf.len() == path.len() && leaf.iter().zip(path.iter()).all(|(a, b)| a == b)
        });
        if is_leaf {
            let ops = LeafOps {
                assign: map.get("@@assign").cloned(),
                append: map.get("@@append").map(|v| v.as_array().unwrap().clone()),
                remove: map.get("@@remove").map(|v| v.as_array().unwrap().clone()),
            };
            if ops.assign.is_some() || ops.append.is_some() || ops.remove.is_some() {
                leaves.push((path.clone(), ops));
            }
            return;
        }
        for (key, child) in map {
            if key.starts_with("@@") {
                continue;
            }
            path.push(key.clone());
            walk(child, path, leaves, controls);
            path.pop();
        }
    }
    let (mut leaves, mut controls) = (Vec::new(), Vec::new());
    walk(doc, &mut Vec::new(), &mut leaves, &mut controls);
    (leaves, controls)
}

fn reference_effective(org: &Organization, account: &AccountId) -> BTreeMap<KeyPath, Value> {
    // The chain, root first, by following parent links upwards.
    let parent_of: BTreeMap<String, String> = org
        .organizational_units
        .iter()
        .map(|u| (u.id.clone(), u.parent_id.clone()))
        .chain(
            org.accounts
                .iter()
                .map(|a| (a.id.to_string(), a.parent_id.clone())),
        )
        .collect();
    let mut chain = vec![account.to_string()];
    while let Some(parent) = parent_of.get(chain.last().unwrap()) {
        chain.push(parent.clone());
    }
    chain.reverse();

    let mut values: BTreeMap<KeyPath, Value> = BTreeMap::new();
    let mut controls: BTreeMap<KeyPath, u8> = BTreeMap::new();
    for node in &chain {
        let docs: Vec<&Value> = org
            .attachments
            .iter()
            .filter(|a| &a.target_id == node)
            .map(|a| &org.policies[&a.policy_name])
            .collect();
        let mut added: BTreeSet<KeyPath> = BTreeSet::new();
        let mut set_here: BTreeSet<KeyPath> = BTreeSet::new();
        for doc in &docs {
            let (leaves, _) = flatten_policy(doc);
            for (path, ops) in leaves {
                let allows =
                    |controls: &BTreeMap<KeyPath, u8>, from: usize, upto: &[String], op: u8| {
                        (from..=upto.len()).all(|len| {
                            controls
                                .get(&upto[..len].to_vec())
                                .is_none_or(|bits| bits & op != 0)
                        })
                    };
                let exists = |values: &BTreeMap<KeyPath, Value>, prefix: &[String]| {
                    values.keys().any(|k| k.starts_with(prefix))
                };
                let from =
                    if let Some(len) = (1..=path.len()).find(|len| added.contains(&path[..*len])) {
                        len
                    } else if values.contains_key(&path) {
                        0
                    } else {
                        let len = (1..=path.len())
                            .find(|len| !exists(&values, &path[..*len]))
                            .unwrap();
                        if !allows(&controls, 0, &path[..len - 1], APPEND) {
                            continue;
                        }
                        added.insert(path[..len].to_vec());
                        len
                    };
                let mut value = values.get(&path).cloned();
                let mut changed = false;
                if let Some(new) = ops.assign {
                    if allows(&controls, from, &path, ASSIGN) && !set_here.contains(&path) {
                        value = Some(new);
                        changed = true;
                    }
                }
                if let Some(items) = ops.append {
                    if allows(&controls, from, &path, APPEND) {
                        let mut list = value
                            .and_then(|v| v.as_array().cloned())
                            .unwrap_or_default();
                        for item in items {
                            if !list.contains(&item) {
                                list.push(item);
                            }
                        }
                        value = Some(Value::Array(list));
                        changed = true;
                    }
                }
                if let Some(items) = ops.remove {
                    if allows(&controls, from, &path, REMOVE) {
                        if let Some(Value::Array(list)) = &mut value {
                            list.retain(|v| !items.contains(v));
                            changed = true;
                        }
                    }
                }
                if changed {
                    values.insert(path.clone(), value.unwrap());
                    set_here.insert(path);
                }
            }
        }
        for doc in &docs {
            for (path, bits) in flatten_policy(doc).1 {
                *controls.entry(path).or_insert(7) &= bits;
            }
        }
    }
    values
}

fn flatten_effective(value: &Value, path: &mut KeyPath, out: &mut BTreeMap<KeyPath, Value>) {
    match value.as_object() {
        Some(map) => {
            for (key, child) in map {
                path.push(key.clone());
                flatten_effective(child, path, out);
                path.pop();
            }
        }
        None => {
            out.insert(path.clone(), value.clone());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_merge_agrees_with_a_plain_reimplementation(org in organization()) {
        for entry in &org.accounts {
            let computed = effective_policy(&org, &entry.id).unwrap();
            let mut flat = BTreeMap::new();
            flatten_effective(&computed.content, &mut Vec::new(), &mut flat);
            prop_assert_eq!(&flat, &reference_effective(&org, &entry.id), "account {}", entry.id);
        }
    }
}

#[test]
fn a_backup_policy_given_as_a_stack_file_points_to_coffer_org() {
    let options = crate::options();
    let loaded = coffer_policy::load_files(
        &[PathBuf::from(
            "../../examples/organizations/root-policy.json",
        )],
        &options,
    );
    let found: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec!["../../examples/organizations/root-policy.json:1:1 this is an AWS Organizations backup policy: it is merged into each account's effective policy through an organization, not applied as a stack; attach it in an organization file and check that with `coffer org validate` (docs/organizations.md); pass CloudFormation templates and inventory files here"]
    );
}
