//! What objects say about each other (`check_references`): rules and copy
//! actions against vault locks, selections against plans, report plans
//! against frameworks; warnings while validating files alone, errors when
//! the catalog is known (plan/apply).

use coffer_model::VaultLockConfiguration;
use coffer_policy::{check_references, External, Loaded};

use crate::{all_diagnostics, load, options, rendered};

fn strict(loaded: &Loaded, external: &External) -> Vec<String> {
    let mut diagnostics = loaded.diagnostics.clone();
    check_references(&loaded.set, &options(), external, true, &mut diagnostics);
    diagnostics.sort();
    rendered(&diagnostics)
}

#[test]
fn what_aws_accepts_but_cannot_work_here_is_a_warning() {
    let loaded = load(&["warnings.yaml"]);
    assert_eq!(
        all_diagnostics(&loaded, &options()),
        [
            "warning: tests/fixtures/warnings.yaml:30:15 ShortPlan.BackupPlanRule[0].Lifecycle: every job of this rule will fail: retention of 14 days is below the vault lock's MinRetentionDays (35) of vault \"locked\"; align DeleteAfterDays with the vault lock",
            "warning: tests/fixtures/warnings.yaml:34:19 ShortPlan.BackupPlanRule[0].CopyActions[0].Lifecycle: every copy of this action will fail: retention of 3000 days is above the vault lock's MaxRetentionDays (365) of vault \"archive\"; align the copy's DeleteAfterDays with the destination vault lock",
            "warning: tests/fixtures/warnings.yaml:43:39 MixedFramework.FrameworkControls[0].ControlScope.ComplianceResourceTypes[0]: EBS is an AWS resource type Coffer has no driver for; it selects nothing here",
            "warning: tests/fixtures/warnings.yaml:43:44 MixedFramework.FrameworkControls[0].ControlScope.ComplianceResourceTypes[1]: DynamoDB is an AWS resource type Coffer has no driver for; it selects nothing here",
            "warning: tests/fixtures/warnings.yaml:46:30 MixedFramework.FrameworkControls[1].ControlInputParameters[0].ParameterName: BACKUP_RECOVERY_POINT_ENCRYPTED does not use a parameter \"requiredRetentionDays\"; it is ignored; this control takes no parameters",
        ]
    );
    // Warnings do not keep anything out of the set.
    let set = &loaded.set;
    assert_eq!(set.vaults.len(), 2);
    assert_eq!(set.plans.len(), 1);
    assert_eq!(set.frameworks.len(), 1);
    // The lock warning holds in strict mode too, as a warning.
    let lines = strict(&loaded, &External::default());
    assert_eq!(lines.len(), 5);
    assert!(
        lines.iter().all(|l| l.starts_with("warning: ")),
        "{lines:#?}"
    );
}

#[test]
fn dangling_references_are_warnings_while_validating_files() {
    let loaded = load(&["broken/dangling-references.yaml"]);
    assert_eq!(
        all_diagnostics(&loaded, &options()),
        [
            "warning: tests/fixtures/broken/dangling-references.yaml:9:32 Plan.BackupPlanRule[0].TargetBackupVault: backup vault \"payments-primry\" does not exist: it is not declared in these files; apply will need it in the catalog",
            "warning: tests/fixtures/broken/dangling-references.yaml:13:21 Selection.BackupPlanId: backup plan \"dayly\" does not exist: it is not declared in these files; apply will need it in the catalog; did you mean \"daily\"?",
            "warning: tests/fixtures/broken/dangling-references.yaml:25:13 Report.ReportSetting.FrameworkArns[0]: framework \"arn:coffer:backup:eu-west-1:111122223333:framework:core\" does not exist: it is not declared in these files; apply will need it in the catalog; use !GetAtt MyFramework.FrameworkArn",
        ]
    );
}

#[test]
fn dangling_references_are_errors_when_the_catalog_is_known() {
    let loaded = load(&["broken/dangling-references.yaml"]);
    let external = External {
        vaults: [("payments-primary".to_string(), None)].into(),
        ..External::default()
    };
    assert_eq!(
        strict(&loaded, &external),
        [
            "error: tests/fixtures/broken/dangling-references.yaml:9:32 Plan.BackupPlanRule[0].TargetBackupVault: backup vault \"payments-primry\" does not exist: it is not declared in these files nor in the catalog; did you mean \"payments-primary\"?",
            "error: tests/fixtures/broken/dangling-references.yaml:13:21 Selection.BackupPlanId: backup plan \"dayly\" does not exist: it is not declared in these files nor in the catalog; did you mean \"daily\"?",
            "error: tests/fixtures/broken/dangling-references.yaml:25:13 Report.ReportSetting.FrameworkArns[0]: framework \"arn:coffer:backup:eu-west-1:111122223333:framework:core\" does not exist: it is not declared in these files nor in the catalog; use !GetAtt MyFramework.FrameworkArn",
        ]
    );
}

#[test]
fn objects_of_other_stacks_satisfy_references_and_their_locks_apply() {
    let loaded = load(&["references-to-catalog.yaml"]);
    assert_eq!(loaded.diagnostics.len(), 0, "{:#?}", loaded.diagnostics);
    let lock = VaultLockConfiguration {
        min_retention_days: Some(90),
        max_retention_days: None,
        changeable_for_days: None,
    };
    let external = External {
        vaults: [("shared-vault".to_string(), Some(lock))].into(),
        plans: vec!["platform-daily".into()],
        framework_arns: vec![
            "arn:coffer:backup:eu-west-1:111122223333:framework:platform_core".into(),
        ],
        ..External::default()
    };
    assert_eq!(
        strict(&loaded, &external),
        ["warning: tests/fixtures/references-to-catalog.yaml:12:15 Plan.BackupPlanRule[0].Lifecycle: every job of this rule will fail: retention of 30 days is below the vault lock's MinRetentionDays (90) of vault \"shared-vault\"; align DeleteAfterDays with the vault lock"]
    );
}

#[test]
fn a_plan_with_errors_does_not_leave_its_selection_dangling() {
    // The plan is declared (its name resolves), but one of its rules cannot
    // be read: the selection naming it is not reported as well.
    let loaded = load(&["broken/many-mistakes.yaml"]);
    assert!(loaded.set.plans.is_empty());
    assert_eq!(loaded.set.incomplete_plans, ["critical-daily-35d"]);
    let lines = strict(&loaded, &External::default());
    assert!(
        !lines.iter().any(|l| l.contains("BackupPlanId")),
        "{lines:#?}"
    );
}

/// AWS takes a vault name as a rule's TargetBackupVault and rejects an ARN.
/// A copy action's destination is matched by its whole ARN: another
/// account's or region's vault of the same name does not lend it its lock,
/// and a vault of partition "aws" is not one Coffer can copy to.
#[test]
fn vault_arns_in_rules_and_copy_actions() {
    let loaded = load(&["broken/vault-arns.yaml"]);
    let expected = [
        "error: tests/fixtures/broken/vault-arns.yaml:15:32 Plan.BackupPlanRule[0].TargetBackupVault: TargetBackupVault takes a backup vault name, not an ARN (\"arn:coffer:backup:eu-west-1:111122223333:backup-vault:locked\"); use the vault's name, \"locked\", or !Ref MyVault (a vault's Ref is its name)",
        "error: tests/fixtures/broken/vault-arns.yaml:18:32 Plan.BackupPlanRule[1].TargetBackupVault: TargetBackupVault takes a backup vault name, not an ARN (\"arn:coffer:backup:eu-west-1:111122223333:backup-vault:locked\"); use the vault's name, \"locked\", or !Ref MyVault (a vault's Ref is its name)",
        "warning: tests/fixtures/broken/vault-arns.yaml:31:44 Plan.BackupPlanRule[2].CopyActions[2].DestinationBackupVaultArn: every copy of this action will fail: \"arn:aws:backup:eu-west-1:111122223333:backup-vault:locked\" is a vault of partition \"aws\", and Coffer's vaults are in partition \"coffer\"; copy to a Coffer vault: !GetAtt MyVault.BackupVaultArn, or arn:coffer:backup:<region>:<account>:backup-vault:<name>",
        "warning: tests/fixtures/broken/vault-arns.yaml:35:28 Plan.BackupPlanRule[2].CopyActions[3].Lifecycle: every copy of this action will fail: retention of 7 days is below the vault lock's MinRetentionDays (35) of vault \"locked\"; align the copy's DeleteAfterDays with the destination vault lock",
    ];
    assert_eq!(all_diagnostics(&loaded, &options()), expected);
    // The same with the locked vault in the catalog (another stack's).
    let mut without_vault = loaded.clone();
    without_vault.set.vaults.clear();
    let lock = VaultLockConfiguration {
        min_retention_days: Some(35),
        max_retention_days: None,
        changeable_for_days: None,
    };
    let external = External {
        vaults: [("locked".to_string(), Some(lock))].into(),
        ..External::default()
    };
    assert_eq!(strict(&without_vault, &external), expected);
}
