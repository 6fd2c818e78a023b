//! Broken copies of AWS Backup templates, one kind of mistake per fixture:
//! the exact diagnostics (`severity: file:line:col Subject: message; hint`),
//! every one of them at once, and none that merely repeats another.

use coffer_policy::Diagnostic;

use crate::{all_diagnostics, load, load_with, options, options_with, rendered};

/// Loads `files` and compares every diagnostic, those of the reference
/// check included (as `coffer validate` runs it).
#[track_caller]
fn check(files: &[&str], expected: &[&str]) {
    let loaded = load(files);
    assert_eq!(all_diagnostics(&loaded, &options()), expected);
}

#[test]
fn framework_name_with_a_hyphen() {
    // The shared example, loaded as is: see valid::shared_example_*.
    let loaded = load(&["shared-backup-stack.yaml"]);
    let errors: Vec<&Diagnostic> = loaded.diagnostics.errors().collect();
    assert_eq!(errors.len(), 1);
    let error = errors[0];
    assert_eq!(error.subject, "CoreFramework.FrameworkName");
    assert_eq!(error.pos.map(|p| (p.line, p.col)), Some((117, 22)));
    assert!(error.message.contains("\"payments-core\""), "{error}");
    assert!(
        error.message.contains("(e.g. \"payments_core\")"),
        "{error}"
    );
}

/// The same rule holds for ReportPlanName.
#[test]
fn report_plan_name_with_a_hyphen() {
    check(
        &["broken/report-plan-name-hyphen.yaml"],
        &[
            "error: tests/fixtures/broken/report-plan-name-hyphen.yaml:5:23 JobsReport.ReportPlanName: ReportPlanName \"payments-jobs-monthly\" is not allowed: use 1-256 letters, digits or '_', starting with a letter (e.g. \"payments_jobs_monthly\")",
        ],
    );
}

/// Each kind of name has its own pattern; an invalid target vault name is not also reported missing.
#[test]
fn names_outside_their_patterns() {
    check(
        &["broken/name-patterns.yaml"],
        &[
            "error: tests/fixtures/broken/name-patterns.yaml:5:24 Vault.BackupVaultName: BackupVaultName \"payments.primary\" is not allowed: use 2-50 letters, digits, '-' or '_' (e.g. \"payments_primary\")",
            "error: tests/fixtures/broken/name-patterns.yaml:10:25 Plan.BackupPlanName: BackupPlanName \"critical daily\" is not allowed: use 1-200 letters, digits, '-', '_' or '.' (e.g. \"critical_daily\")",
            "error: tests/fixtures/broken/name-patterns.yaml:12:23 Plan.BackupPlanRule[0].RuleName: RuleName \"nightly/utc\" is not allowed: use 1-50 letters, digits, '-', '_' or '.' (e.g. \"nightly_utc\")",
            "error: tests/fixtures/broken/name-patterns.yaml:13:32 Plan.BackupPlanRule[0].TargetBackupVault: backup vault name \"x\" is not allowed: use 2-50 letters, digits, '-' or '_'",
            "error: tests/fixtures/broken/name-patterns.yaml:19:24 Selection.BackupSelection.SelectionName: SelectionName \"tier: critical\" is not allowed: use 1-50 letters, digits, '-', '_' or '.' (e.g. \"tier__critical\")",
        ],
    );
}

/// StartWindowMinutes is at least 60, CompletionWindowMinutes at least 1.
#[test]
fn start_and_completion_windows() {
    check(
        &["broken/start-window.yaml"],
        &[
            "error: tests/fixtures/broken/start-window.yaml:14:33 NightlyPlan.BackupPlanRule[0].StartWindowMinutes: StartWindowMinutes (30) must be between 60 and 52560000; use 60 or more (the default is 480)",
            "error: tests/fixtures/broken/start-window.yaml:15:38 NightlyPlan.BackupPlanRule[0].CompletionWindowMinutes: CompletionWindowMinutes (0) must be between 1 and 52560000",
        ],
    );
}

/// The message of the issue, word for word, at the rule's Lifecycle.
#[test]
fn cold_storage_needs_ninety_days_before_deletion() {
    check(
        &["broken/cold-storage.yaml"],
        &[
            "error: tests/fixtures/broken/cold-storage.yaml:21:15 CriticalPlan.BackupPlanRule[1].Lifecycle: DeleteAfterDays (100) must be at least 90 days after MoveToColdStorageAfterDays (30); use 120 or more",
        ],
    );
}

#[test]
fn continuous_backups_are_kept_35_days_at_most() {
    check(
        &["broken/continuous-retention.yaml"],
        &[
            "error: tests/fixtures/broken/continuous-retention.yaml:16:15 Plan.BackupPlanRule[0].Lifecycle: continuous backups are kept at most 35 days, but the rule has DeleteAfterDays (90); set DeleteAfterDays to 35 or less, or turn off EnableContinuousBackup",
        ],
    );
}

#[test]
fn vault_lock_bounds() {
    check(
        &["broken/lock-bounds.yaml"],
        &[
            "error: tests/fixtures/broken/lock-bounds.yaml:7:27 ZeroLock.LockConfiguration.MinRetentionDays: MinRetentionDays (0) must be at least 1",
            "error: tests/fixtures/broken/lock-bounds.yaml:8:28 ZeroLock.LockConfiguration.ChangeableForDays: ChangeableForDays (2) must be between 3 and 36500: it is the cooling-off time before a compliance-mode lock becomes immutable; use 3 or more, or omit it for a governance-mode lock",
            "error: tests/fixtures/broken/lock-bounds.yaml:15:27 InvertedLock.LockConfiguration.MaxRetentionDays: MaxRetentionDays (40000) must be at most 36500",
            "error: tests/fixtures/broken/lock-bounds.yaml:22:27 SwappedLock.LockConfiguration.MaxRetentionDays: MaxRetentionDays (100) must be at least MinRetentionDays (400); use 400 or more, or lower MinRetentionDays",
        ],
    );
}

#[test]
fn bad_cron_expressions() {
    check(
        &["broken/bad-cron.yaml"],
        &[
            "error: tests/fixtures/broken/bad-cron.yaml:14:33 Plan.BackupPlanRule[0].ScheduleExpression: `cron(0 25 * * ? *)`: hours field: 25 is out of range 0-23",
            "error: tests/fixtures/broken/bad-cron.yaml:17:33 Plan.BackupPlanRule[1].ScheduleExpression: `cron(0 5 * * *)`: expected 6 fields (minutes hours day-of-month month day-of-week year), found 5; AWS cron needs a year field, e.g. `cron(0 5 * * ? *)`",
        ],
    );
}

#[test]
fn unknown_time_zone() {
    check(
        &["broken/unknown-time-zone.yaml"],
        &[
            "error: tests/fixtures/broken/unknown-time-zone.yaml:15:41 Plan.BackupPlanRule[0].ScheduleExpressionTimezone: unknown time zone `Europe/Pari`; expected an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC`; did you mean `Europe/Paris`?",
        ],
    );
}

/// A misspelt required field is not also reported missing.
#[test]
fn unknown_fields_get_did_you_mean_and_no_second_error() {
    check(
        &["broken/unknown-fields.yaml"],
        &[
            "error: tests/fixtures/broken/unknown-fields.yaml:5:7 Vault.BackupVaultNme: unknown field \"BackupVaultNme\"; did you mean \"BackupVaultName\"?",
            "error: tests/fixtures/broken/unknown-fields.yaml:8:5 Plan.Propertes: unknown field \"Propertes\"; did you mean \"Properties\"?",
            "error: tests/fixtures/broken/unknown-fields.yaml:19:13 Other.BackupPlanRule[0].ScheduleExpresion: unknown field \"ScheduleExpresion\"; did you mean \"ScheduleExpression\"?",
        ],
    );
}

#[test]
fn missing_required_fields() {
    check(
        &["broken/missing-required.yaml"],
        &[
            "error: tests/fixtures/broken/missing-required.yaml:5:7 Vault: BackupVaultName is required",
            "error: tests/fixtures/broken/missing-required.yaml:10:9 Plan: BackupPlanRule is required",
            "error: tests/fixtures/broken/missing-required.yaml:16:9 Selection.BackupSelection: IamRoleArn is required",
            "error: tests/fixtures/broken/missing-required.yaml:20:7 Report: ReportDeliveryChannel is required",
            "error: tests/fixtures/broken/missing-required.yaml:23:5 NoType: Type is required",
        ],
    );
}

#[test]
fn ref_to_a_missing_logical_id() {
    check(
        &["broken/ref-missing.yaml"],
        &[
            "error: tests/fixtures/broken/ref-missing.yaml:13:32 Plan.BackupPlanRule[0].TargetBackupVault.Ref: \"PrimaryVolt\" is not a parameter or a logical ID in these files; did you mean \"PrimaryVault\"?",
        ],
    );
}

#[test]
fn sub_of_a_misspelt_parameter() {
    check(
        &["broken/sub-unknown-variable.yaml"],
        &[
            "error: tests/fixtures/broken/sub-unknown-variable.yaml:9:24 Vault.BackupVaultName.Fn::Sub: \"Enviroment\" is not a parameter or a logical ID in these files; did you mean \"Environment\"?",
        ],
    );
}

#[test]
fn getatt_of_an_unknown_resource() {
    check(
        &["broken/getatt-unknown-resource.yaml"],
        &[
            "error: tests/fixtures/broken/getatt-unknown-resource.yaml:8:25 Vault.EncryptionKeyArn.Fn::GetAtt: \"VaultKy\" is not a logical ID in these files; did you mean \"VaultKey\"?",
        ],
    );
}

/// `!GetAtt Vault.Arn` is a common slip: the message lists the attributes.
#[test]
fn getatt_of_an_unknown_attribute() {
    check(
        &["broken/getatt-unknown-attribute.yaml"],
        &[
            "error: tests/fixtures/broken/getatt-unknown-attribute.yaml:15:44 Plan.BackupPlanRule[0].CopyActions[0].DestinationBackupVaultArn.Fn::GetAtt: AWS::Backup::BackupVault has no attribute \"Arn\"; its attributes are BackupVaultArn, BackupVaultName",
        ],
    );
}

/// Reported once, at the parameter, not again at each `!Ref`/`!Sub` of it.
#[test]
fn parameter_without_default_nor_value() {
    check(
        &["broken/parameter-without-value.yaml"],
        &[
            "error: tests/fixtures/broken/parameter-without-value.yaml:2:3 Parameters.VaultName: parameter VaultName has no value; give it a Default, or pass a value for parameter VaultName",
        ],
    );
}

/// A parameter whose definition is wrong is reported once; its uses stay quiet.
#[test]
fn bad_parameter_definitions() {
    check(
        &["broken/parameter-definitions.yaml"],
        &[
            "error: tests/fixtures/broken/parameter-definitions.yaml:8:14 Parameters.RetentionDays: value \"thirty-five\" is not a Number",
            "error: tests/fixtures/broken/parameter-definitions.yaml:10:11 Parameters.Suffix.Type: \"Strin\" is not a parameter type; did you mean \"String\"?",
            "error: tests/fixtures/broken/parameter-definitions.yaml:14:14 Parameters.Team.Default: must be a string, a number or a list, found a mapping",
        ],
    );
}

/// A value that cannot be read is reported once: its stand-in default is not judged (no "kept forever" for an unreadable DeleteAfterDays).
#[test]
fn wrong_value_types() {
    check(
        &["broken/wrong-types.yaml"],
        &[
            "error: tests/fixtures/broken/wrong-types.yaml:5:24 Vault.BackupVaultName: must be a string, found a list",
            "error: tests/fixtures/broken/wrong-types.yaml:7:27 Vault.LockConfiguration.MinRetentionDays: must be a whole number, found \"seven\"",
            "error: tests/fixtures/broken/wrong-types.yaml:17:32 Plan.BackupPlanRule[0].Lifecycle.DeleteAfterDays: must be a whole number, found a list",
            "error: tests/fixtures/broken/wrong-types.yaml:19:32 Plan.BackupPlanRule[0].RecoveryPointTags: tags must be a mapping or a list of {Key, Value}, found a string",
        ],
    );
}

#[test]
fn duplicate_keys() {
    check(
        &["broken/duplicate-keys.yaml"],
        &[
            "error: tests/fixtures/broken/duplicate-keys.yaml:6:7 duplicate key \"BackupVaultName\" (first defined at line 5); each key may appear once",
        ],
    );
}

#[test]
fn json_syntax_error() {
    check(
        &["broken/json-syntax.json"],
        &[
            "error: tests/fixtures/broken/json-syntax.json:7:9 syntax error: while parsing a flow mapping, did not find expected ',' or '}'",
        ],
    );
}

#[test]
fn yaml_syntax_error() {
    check(
        &["broken/yaml-syntax.yaml"],
        &[
            "error: tests/fixtures/broken/yaml-syntax.yaml:6:7 syntax error: illegal placement of ':' indicator",
        ],
    );
}

#[test]
fn two_documents_in_one_file() {
    check(
        &["broken/multi-document.yaml"],
        &[
            "error: tests/fixtures/broken/multi-document.yaml:6:1 a policy file holds one document; split the `---` documents into separate files",
        ],
    );
}

#[test]
fn duplicate_logical_ids_across_files() {
    check(
        &["broken/duplicate-ids/a.yaml", "broken/duplicate-ids/b.yaml"],
        &[
            "error: tests/fixtures/broken/duplicate-ids/b.yaml:7:3 Vault: logical ID \"Vault\" is already declared at tests/fixtures/broken/duplicate-ids/a.yaml:2:3; logical IDs must be unique across the files of one stack",
        ],
    );
}

#[test]
fn unknown_intrinsics() {
    check(
        &["broken/unknown-intrinsic.yaml"],
        &[
            "error: tests/fixtures/broken/unknown-intrinsic.yaml:5:24 Vault.BackupVaultName: unknown tag !Reff; did you mean !Ref?",
            "error: tests/fixtures/broken/unknown-intrinsic.yaml:10:9 Other.BackupVaultName.Fn::Joinn: unknown intrinsic function \"Fn::Joinn\"; did you mean \"Fn::Join\"?",
        ],
    );
}

#[test]
fn circular_names() {
    check(
        &["broken/circular.yaml"],
        &[
            "error: tests/fixtures/broken/circular.yaml:6:3 VaultB: its name depends on itself (circular reference: VaultB → VaultA → VaultB); write one of these names literally",
        ],
    );
}

#[test]
fn circular_conditions() {
    check(
        &["broken/circular-condition.yaml"],
        &[
            "error: tests/fixtures/broken/circular-condition.yaml:3:12 Conditions.B: condition \"A\" depends on itself (A → B → A); a condition cannot refer back to itself through Condition",
        ],
    );
}

#[test]
fn import_value() {
    check(
        &["broken/import-value.yaml"],
        &[
            "error: tests/fixtures/broken/import-value.yaml:6:25 Vault.EncryptionKeyArn.Fn::ImportValue: Fn::ImportValue reads another stack's exports, which Coffer does not resolve; pass the value as a template parameter instead",
        ],
    );
}

#[test]
fn unknown_conditions() {
    check(
        &["broken/if-unknown-condition.yaml"],
        &[
            "error: tests/fixtures/broken/if-unknown-condition.yaml:10:16 Vault.Condition: \"IsProduction\" is not a condition in the Conditions section; did you mean \"IsProd\"?",
            "error: tests/fixtures/broken/if-unknown-condition.yaml:16:29 Other.BackupVaultName.Fn::If: \"IsProdd\" is not a condition in the Conditions section; did you mean \"IsProd\"?",
        ],
    );
}

#[test]
fn missing_mapping_entries() {
    check(
        &["broken/find-in-map-missing.yaml"],
        &[
            "error: tests/fixtures/broken/find-in-map-missing.yaml:19:32 Plan.BackupPlanRule[0].Lifecycle.DeleteAfterDays.Fn::FindInMap: Mappings has no RetentionByEnv.prod.Days; did you mean \"RetentionByEnvironment\"?",
            "error: tests/fixtures/broken/find-in-map-missing.yaml:23:32 Plan.BackupPlanRule[1].Lifecycle.DeleteAfterDays.Fn::FindInMap: Mappings has no RetentionByEnvironment.prod.Weeks",
        ],
    );
}

#[test]
fn list_of_tags_with_another_condition_type() {
    check(
        &["broken/list-of-tags-condition-type.yaml"],
        &[
            "warning: tests/fixtures/broken/list-of-tags-condition-type.yaml:5:21 Selection.BackupPlanId: backup plan \"daily\" does not exist: it is not declared in these files; apply will need it in the catalog; use !Ref to the AWS::Backup::BackupPlan resource",
            "error: tests/fixtures/broken/list-of-tags-condition-type.yaml:10:28 Selection.BackupSelection.ListOfTags[0].ConditionType: ConditionType \"STRINGLIKE\" is not supported: ListOfTags allows only STRINGEQUALS; use Conditions (StringLike, StringNotEquals, ...) for other comparisons",
        ],
    );
}

#[test]
fn selection_condition_keys() {
    check(
        &["broken/selection-condition-keys.yaml"],
        &[
            "warning: tests/fixtures/broken/selection-condition-keys.yaml:5:21 Selection.BackupPlanId: backup plan \"daily\" does not exist: it is not declared in these files; apply will need it in the catalog; use !Ref to the AWS::Backup::BackupPlan resource",
            "error: tests/fixtures/broken/selection-condition-keys.yaml:11:27 Selection.BackupSelection.ListOfTags[0].ConditionKey: ListOfTags takes the bare tag key, not \"aws:ResourceTag/tier\"; use \"tier\"",
            "error: tests/fixtures/broken/selection-condition-keys.yaml:15:29 Selection.BackupSelection.Conditions.StringEquals[0].ConditionKey: condition key \"env\" must name a resource tag; use \"aws:ResourceTag/env\"",
            "error: tests/fixtures/broken/selection-condition-keys.yaml:17:11 Selection.BackupSelection.Conditions.StringMatches: unknown field \"StringMatches\"; did you mean \"StringNotEquals\"?",
        ],
    );
}

#[test]
fn bad_arn_patterns_in_resources() {
    check(
        &["broken/bad-arn-patterns.yaml"],
        &[
            "warning: tests/fixtures/broken/bad-arn-patterns.yaml:5:21 Selection.BackupPlanId: backup plan \"daily\" does not exist: it is not declared in these files; apply will need it in the catalog; use !Ref to the AWS::Backup::BackupPlan resource",
            "error: tests/fixtures/broken/bad-arn-patterns.yaml:11:13 Selection.BackupSelection.Resources[1]: \"postgres:database/*\" is not an ARN: it does not start with \"arn:\" (use \"*\" to match every resource); expected arn:<partition>:<service>:<region>:<account>:<resource>, e.g. arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary",
            "error: tests/fixtures/broken/bad-arn-patterns.yaml:12:13 Selection.BackupSelection.Resources[2]: \"arn:coffer:fs\" is not an ARN: it has fewer than six ':'-separated parts and does not end with '*'; expected arn:<partition>:<service>:<region>:<account>:<resource>, e.g. arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary",
            "error: tests/fixtures/broken/bad-arn-patterns.yaml:14:13 Selection.BackupSelection.NotResources[0]: \"arn:coffer:fs:*:*:filesystem/scratch *\" is not an ARN: it contains whitespace; expected arn:<partition>:<service>:<region>:<account>:<resource>, e.g. arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary",
        ],
    );
}

#[test]
fn encryption_key_given_as_an_alias() {
    check(
        &["broken/encryption-key-alias.yaml"],
        &[
            "error: tests/fixtures/broken/encryption-key-alias.yaml:6:25 Vault.EncryptionKeyArn: \"alias/aws/backup\" is not an ARN: it does not start with \"arn:\"; expected arn:<partition>:<service>:<region>:<account>:<resource>, e.g. arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary; reference a key with !GetAtt MyKey.Arn, where MyKey is an AWS::KMS::Key of this template",
        ],
    );
}

#[test]
fn unknown_control() {
    check(
        &["broken/unknown-control.yaml"],
        &[
            "error: tests/fixtures/broken/unknown-control.yaml:7:24 Framework.FrameworkControls[0].ControlName: \"BACKUP_RECOVERY_POINT_ENCRYPTD\" is not a control of AWS Backup Audit Manager; did you mean \"BACKUP_RECOVERY_POINT_ENCRYPTED\"?",
        ],
    );
}

#[test]
fn control_parameter_values_and_scope_types() {
    check(
        &["broken/control-parameter-values.yaml"],
        &[
            "error: tests/fixtures/broken/control-parameter-values.yaml:10:31 Framework.FrameworkControls[0].ControlInputParameters[0].ParameterValue: requiredFrequencyUnit must be one of hours, days, found \"weeks\"",
            "error: tests/fixtures/broken/control-parameter-values.yaml:12:31 Framework.FrameworkControls[0].ControlInputParameters[1].ParameterValue: requiredRetentionDays (0) must be between 1 and 36500",
            "error: tests/fixtures/broken/control-parameter-values.yaml:15:39 Framework.FrameworkControls[1].ControlScope.ComplianceResourceTypes[0]: \"Postgres\" is not a resource type; Coffer's types are PostgreSQL, MySQL, FileSystem, SQLite and S3 (AWS aliases RDS, Aurora, EFS, FSx are accepted); did you mean \"PostgreSQL\"?",
        ],
    );
}

#[test]
fn control_scope_with_two_tags() {
    check(
        &["broken/control-scope-two-tags.yaml"],
        &[
            "error: tests/fixtures/broken/control-scope-two-tags.yaml:10:15 Framework.FrameworkControls[0].ControlScope.Tags: a control scope takes at most one tag, found 2; split the control into one framework control per tag",
        ],
    );
}

#[test]
fn report_template_typo() {
    check(
        &["broken/report-template-typo.yaml"],
        &[
            "error: tests/fixtures/broken/report-template-typo.yaml:9:25 JobsReport.ReportSetting.ReportTemplate: \"BACKUP_JOBS_REPORT\" is not a report template; use one of BACKUP_JOB_REPORT, COPY_JOB_REPORT, RESTORE_JOB_REPORT, CONTROL_COMPLIANCE_REPORT, RESOURCE_COMPLIANCE_REPORT, BACKUP_EXPECTATION_REPORT; did you mean \"BACKUP_JOB_REPORT\"?",
        ],
    );
}

#[test]
fn bad_report_formats() {
    check(
        &["broken/bad-format.yaml"],
        &[
            "error: tests/fixtures/broken/bad-format.yaml:8:24 JobsReport.ReportDeliveryChannel.Formats[1]: format \"Json\" is not one of CSV, JSON, PDF; did you mean \"JSON\"?",
            "error: tests/fixtures/broken/bad-format.yaml:8:30 JobsReport.ReportDeliveryChannel.Formats[2]: format \"XML\" is not one of CSV, JSON, PDF",
        ],
    );
}

/// Unknown AWS::Backup types are errors, those Coffer does not manage yet warnings. A type not shaped as AWS, custom or registry types are is an error; custom resources and registry extensions, which AWS runs and Coffer does not, are warnings; other AWS types are listed quietly.
#[test]
fn resource_types() {
    let loaded = load(&["broken/resource-types.yaml"]);
    assert_eq!(
        all_diagnostics(&loaded, &options()),
        [
            "error: tests/fixtures/broken/resource-types.yaml:2:3 Vault.Type: AWS::Backup::BackupVualt is not an AWS Backup resource type; did you mean \"AWS::Backup::BackupVault\"?",
            "warning: tests/fixtures/broken/resource-types.yaml:6:3 AirGapped.Type: AWS::Backup::LogicallyAirGappedBackupVault is not managed by Coffer yet; it is listed but nothing is created",
            "error: tests/fixtures/broken/resource-types.yaml:10:3 Thing.Type: \"Custom\" is not a resource type (expected AWS::Service::Kind)",
            "error: tests/fixtures/broken/resource-types.yaml:12:3 TooShort.Type: \"AWS::S3\" is not a resource type (expected AWS::Service::Kind)",
            "error: tests/fixtures/broken/resource-types.yaml:14:3 TooLong.Type: \"AWS::S3::Bucket::Policy\" is not a resource type (expected AWS::Service::Kind)",
            "warning: tests/fixtures/broken/resource-types.yaml:16:3 Hook.Type: Custom::Notifier is a custom resource: Coffer does not run the code behind it; it is listed but nothing is created",
            "warning: tests/fixtures/broken/resource-types.yaml:20:3 Legacy.Type: AWS::CloudFormation::CustomResource is a custom resource: Coffer does not run the code behind it; it is listed but nothing is created",
            "warning: tests/fixtures/broken/resource-types.yaml:22:3 Extension.Type: MyOrg::Backup::Thing is a CloudFormation registry extension, which Coffer does not run; it is listed but nothing is created",
        ]
    );
    let listed: Vec<&str> = loaded
        .set
        .unmanaged
        .iter()
        .map(|u| u.logical_id.as_str())
        .collect();
    assert_eq!(
        listed,
        ["AirGapped", "Extension", "Hook", "Instance", "Legacy"]
    );
}

#[test]
fn transforms_and_format_versions() {
    check(
        &["broken/transform.yaml"],
        &[
            "error: tests/fixtures/broken/transform.yaml:1:27 AWSTemplateFormatVersion: 2010-09-10 is not a template format version; use '2010-09-09', the only version",
            "error: tests/fixtures/broken/transform.yaml:2:12 Transform: template macros and transforms (AWS::Serverless, AWS::Include, ...) are not supported; expand the template first (e.g. with `aws cloudformation package`) and pass the result",
        ],
    );
}

#[test]
fn neither_template_nor_inventory() {
    check(
        &["broken/not-a-template.yaml"],
        &[
            "error: tests/fixtures/broken/not-a-template.yaml:1:1 not a CloudFormation template (no Resources section) nor a Coffer inventory (no postgres, mysql, filesystems, sqlite, s3_endpoints or buckets section); see docs/inventory.md for the inventory format",
        ],
    );
}

/// The later declaration (in file order) is the one reported, naming the first.
#[test]
fn duplicate_names_across_logical_ids() {
    check(
        &["broken/duplicate-names.yaml"],
        &[
            "error: tests/fixtures/broken/duplicate-names.yaml:6:3 SameVault: backup vault \"primary\" is already declared by Vault (tests/fixtures/broken/duplicate-names.yaml:2:3); names must be unique within an account and region",
        ],
    );
}

/// A condition is evaluated once: its error is kept even when that happens inside a name resolved for a reference (here APlan's, read before Vault). Before, nothing was reported and both objects vanished.
#[test]
fn condition_errors_found_while_resolving_a_name() {
    check(
        &["broken/condition-error-in-a-name.yaml"],
        &[
            "error: tests/fixtures/broken/condition-error-in-a-name.yaml:2:20 Conditions.IsProd[0].Ref: \"Enviroment\" is not a parameter or a logical ID in these files; add the resource or parameter, or pass the file that declares it",
        ],
    );
}

/// An error in an IAM role's RoleName is reported; before, the selection using the role's ARN vanished without a word.
#[test]
fn name_of_an_unmanaged_resource() {
    check(
        &["broken/unmanaged-name-error.yaml"],
        &[
            "error: tests/fixtures/broken/unmanaged-name-error.yaml:5:17 BackupRole.RoleName.Fn::Sub: \"Prefix\" is not a parameter or a logical ID in these files; add the resource or parameter, or pass the file that declares it",
        ],
    );
}

#[test]
fn a_file_with_many_mistakes_reports_them_all_at_once() {
    let loaded = load(&["broken/many-mistakes.yaml"]);
    let lines = all_diagnostics(&loaded, &options());
    // One error per mistake, each at its own line, none a consequence of
    // another (the plan's errors do not make its selection dangle, the
    // unknown Ref does not hide the rest of its rule).
    assert_eq!(lines.len(), 16, "{lines:#?}");
    assert!(lines.iter().all(|l| l.starts_with("error: ")), "{lines:#?}");
    let mut at: Vec<(usize, usize)> = loaded
        .diagnostics
        .iter()
        .filter_map(|d| d.pos.map(|p| (p.line, p.col)))
        .collect();
    at.dedup();
    assert_eq!(at.len(), 16, "{lines:#?}");
    insta::assert_snapshot!("many_mistakes", lines.join("\n"));
}

#[test]
fn every_file_of_a_set_is_reported_at_once() {
    let files = [
        "broken/cold-storage.yaml",
        "broken/unknown-time-zone.yaml",
        "broken/yaml-syntax.yaml",
        "broken/report-template-typo.yaml",
    ];
    let mut one_by_one = Vec::new();
    for file in files {
        one_by_one.extend(rendered(&load(&[file]).diagnostics));
    }
    one_by_one.sort();
    let mut together = rendered(&load(&files).diagnostics);
    together.sort();
    assert_eq!(together, one_by_one);
    assert_eq!(together.len(), 4);
}

#[test]
fn parameter_overrides_are_checked_against_the_definitions() {
    let options = options_with(&[
        ("Environment", "production"),
        ("RetentionDays", "0"),
        ("Enviroment", "prod"),
    ]);
    let loaded = load_with(&["valid/json-long-form.json"], &options);
    // The parameters with a rejected value are quiet wherever they are used.
    assert_eq!(
        all_diagnostics(&loaded, &options),
        [
            "error: command line --parameter Enviroment: no template in these files declares a parameter \"Enviroment\"; did you mean \"Environment\"?",
            "error: tests/fixtures/valid/json-long-form.json:5:5 Parameters.Environment: value \"production\" is not one of the AllowedValues (prod, staging)",
            "error: tests/fixtures/valid/json-long-form.json:11:5 Parameters.RetentionDays: value \"0\" is below MinValue (1)",
            "warning: tests/fixtures/valid/json-long-form.json:38:37 BackupRole.AssumeRolePolicyDocument: the trust policy is kept but not used: Coffer has no STS, so nothing assumes a role; access keys act as IAM users; declare an AWS::IAM::User and create its key with `access-keys create`",
        ]
    );
}

#[test]
fn parameter_length_and_value_limits() {
    let options = options_with(&[("Days", "36")]);
    let loaded = load_with(&["valid/aws-accepts.yaml"], &options);
    assert_eq!(
        all_diagnostics(&loaded, &options),
        ["error: tests/fixtures/valid/aws-accepts.yaml:5:3 Parameters.Days: value \"36\" is above MaxValue (35)"]
    );
}

#[test]
fn parameter_length_limits() {
    for (value, expected) in [
        (
            "toolongsuffix",
            "error: tests/fixtures/valid/aws-accepts.yaml:10:3 Parameters.VaultSuffix: value \"toolongsuffix\" (13 characters) is above MaxLength (8)",
        ),
        (
            "d",
            "error: tests/fixtures/valid/aws-accepts.yaml:10:3 Parameters.VaultSuffix: value \"d\" (1 character) is below MinLength (2)",
        ),
    ] {
        let options = options_with(&[("VaultSuffix", value)]);
        let loaded = load_with(&["valid/aws-accepts.yaml"], &options);
        assert_eq!(all_diagnostics(&loaded, &options), [expected]);
    }
}

#[test]
fn a_file_that_does_not_parse_does_not_make_overrides_unknown() {
    // The broken file may be the one declaring the parameter: only its
    // syntax error is reported.
    let options = options_with(&[("Environment", "prod"), ("Unrelated", "x")]);
    let loaded = load_with(
        &["valid/json-long-form.json", "broken/yaml-syntax.yaml"],
        &options,
    );
    assert_eq!(
        all_diagnostics(&loaded, &options),
        [
            "error: tests/fixtures/broken/yaml-syntax.yaml:6:7 syntax error: illegal placement of ':' indicator",
            "warning: tests/fixtures/valid/json-long-form.json:38:37 BackupRole.AssumeRolePolicyDocument: the trust policy is kept but not used: Coffer has no STS, so nothing assumes a role; access keys act as IAM users; declare an AWS::IAM::User and create its key with `access-keys create`",
            "warning: tests/fixtures/valid/json-long-form.json:49:11 BackupRole.ManagedPolicyArns[0]: \"arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup\" is an AWS managed policy, which Coffer does not have; it grants nothing here; write the permissions as an AWS::IAM::ManagedPolicy of this template",
        ]
    );
}

#[test]
fn a_missing_file_is_reported_with_the_others() {
    let loaded = load(&["broken/no-such-file.yaml", "broken/ref-missing.yaml"]);
    let lines = rendered(&loaded.diagnostics);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("error: tests/fixtures/broken/no-such-file.yaml cannot read file: "),
        "{lines:#?}"
    );
    assert!(lines[1].contains("\"PrimaryVolt\""), "{lines:#?}");
}

/// A resource whose Condition is false is not created: AWS rejects
/// references to it, and so does Coffer. Runtime-only attributes such as a
/// plan's VersionId cannot be used in properties.
#[test]
fn references_to_resources_that_are_not_created() {
    check(
        &["broken/conditional-reference.yaml"],
        &[
            "error: tests/fixtures/broken/conditional-reference.yaml:26:32 Plan.BackupPlanRule[0].TargetBackupVault.Ref: LockedVault is not created (its Condition \"IsProduction\" is false), so it cannot be referenced here; wrap the reference in !If [IsProduction, ..., !Ref AWS::NoValue]",
            "error: tests/fixtures/broken/conditional-reference.yaml:28:24 Plan.BackupPlanRule[0].RecoveryPointTags.version.Fn::GetAtt: AWS::Backup::BackupPlan.VersionId is known only after the object is created, so it cannot be used in a policy file",
        ],
    );
}

/// A missing or unreadable part of an object does not hide the object's
/// other mistakes: stand-ins take its place while the object is validated,
/// and nothing is said about them. Objects with a stand-in are left out of
/// the set, but references to them do not dangle.
#[test]
fn one_error_in_an_object_does_not_hide_the_others() {
    let loaded = load(&["broken/errors-behind-errors.yaml"]);
    assert_eq!(
        all_diagnostics(&loaded, &options()),
        [
            "error: tests/fixtures/broken/errors-behind-errors.yaml:5:7 Report: ReportSetting is required",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:5:23 Report.ReportPlanName: ReportPlanName \"my-report\" is not allowed: use 1-256 letters, digits or '_', starting with a letter (e.g. \"my_report\")",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:8:19 Report.ReportDeliveryChannel.Formats[0]: format \"XML\" is not one of CSV, JSON, PDF",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:12:24 Vault.BackupVaultName.Ref: \"Missing\" is not a parameter or a logical ID in these files; add the resource or parameter, or pass the file that declares it",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:14:27 Vault.LockConfiguration.MinRetentionDays: MinRetentionDays (0) must be at least 1",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:18:21 Selection.BackupPlanId.Ref: \"Nope\" is not a parameter or a logical ID in these files; add the resource or parameter, or pass the file that declares it",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:20:24 Selection.BackupSelection.SelectionName: SelectionName \"bad name!\" is not allowed: use 1-50 letters, digits, '-', '_' or '.' (e.g. \"bad_name_\")",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:23:13 Selection.BackupSelection.ListOfTags[0]: ConditionValue is required",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:25:28 Selection.BackupSelection.ListOfTags[1].ConditionType: ConditionType \"STRINGLIKE\" is not supported: ListOfTags allows only STRINGEQUALS; use Conditions (StringLike, StringNotEquals, ...) for other comparisons",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:26:27 Selection.BackupSelection.ListOfTags[1].ConditionKey: ListOfTags takes the bare tag key, not \"aws:ResourceTag/tier\"; use \"tier\"",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:32:25 Plan.BackupPlanName: BackupPlanName \"bad plan name\" is not allowed: use 1-200 letters, digits, '-', '_' or '.' (e.g. \"bad_plan_name\")",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:34:13 Plan.BackupPlanRule[0]: RuleName is required",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:35:33 Plan.BackupPlanRule[0].StartWindowMinutes: StartWindowMinutes (30) must be between 60 and 52560000; use 60 or more (the default is 480)",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:39:17 Plan.BackupPlanRule[1].CopyActions[0]: DestinationBackupVaultArn is required",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:40:36 Plan.BackupPlanRule[1].CopyActions[0].Lifecycle.DeleteAfterDays: DeleteAfterDays (0) must be between 1 and 36500",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:46:11 Framework.FrameworkControls[0]: ControlName is required",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:65:9 Report3.ReportSetting: ReportTemplate is required",
            "error: tests/fixtures/broken/errors-behind-errors.yaml:71:9 HalfVault.LockConfiguration: MinRetentionDays is required",
        ]
    );
    let set = &loaded.set;
    let names = |items: Vec<&String>| items.into_iter().cloned().collect::<Vec<_>>();
    assert!(set.vaults.is_empty() && set.selections.is_empty() && set.frameworks.is_empty());
    assert_eq!(
        names(
            set.plans
                .iter()
                .map(|p| &p.value.backup_plan_name)
                .collect()
        ),
        ["good"]
    );
    assert_eq!(
        names(
            set.report_plans
                .iter()
                .map(|r| &r.value.report_plan_name)
                .collect()
        ),
        ["compliance"]
    );
    assert_eq!(set.incomplete_vaults, ["half-vault"]);
    assert_eq!(set.incomplete_plans, ["bad plan name"]);
    assert_eq!(set.incomplete_frameworks, ["core"]);
}

/// The reader checks tags where it reads them; the model's check of the same
/// tags is not reported a second time.
#[test]
fn a_reserved_tag_key_is_reported_once() {
    check(
        &["broken/reserved-tag-key.yaml"],
        &[
            "error: tests/fixtures/broken/reserved-tag-key.yaml:6:24 Vault.BackupVaultTags: tag key \"aws:x\" uses the reserved prefix \"aws:\"; choose another key",
        ],
    );
}

/// AllowedPattern must match the whole value (or each item of a list), as
/// in CloudFormation; a pattern that is not a regular expression is an error,
/// one that only Java's engine reads a warning. A value that breaks it names
/// the pattern, and ConstraintDescription when there is one.
#[test]
fn parameter_allowed_patterns() {
    check(
        &["broken/parameter-patterns.yaml"],
        &[
            "error: tests/fixtures/broken/parameter-patterns.yaml:4:14 Parameters.Env: value \"Prod!\" does not match the AllowedPattern \"[a-z]+\"; lowercase letters only",
            "error: tests/fixtures/broken/parameter-patterns.yaml:9:14 Parameters.Stage: value \"prodx\" does not match the AllowedPattern \"prod|staging\"",
            "error: tests/fixtures/broken/parameter-patterns.yaml:13:14 Parameters.Suffix: value \"ab12\" does not match the AllowedPattern \"[a-z]+\"",
            "error: tests/fixtures/broken/parameter-patterns.yaml:18:21 Parameters.Code.AllowedPattern: \"[a-z\" is not a regular expression: non-empty character class has no closing bracket",
            "error: tests/fixtures/broken/parameter-patterns.yaml:21:14 Parameters.Teams: item \"Data\" of value \"ops, Data\" does not match the AllowedPattern \"[a-z]+\"",
            "warning: tests/fixtures/broken/parameter-patterns.yaml:34:21 Parameters.Initials.AllowedPattern: \"(?!x)[a-z]+\" cannot be checked by Coffer: look-around is not supported; values are not checked against it; write the pattern without look-around, backreferences, Unicode classes or nested classes",
        ],
    );
    // A value from the command line is checked too, and reported at the
    // parameter's name.
    let options = options_with(&[("Stage", "staging"), ("Env", "Dev")]);
    let loaded = load_with(&["broken/parameter-patterns.yaml"], &options);
    let lines = all_diagnostics(&loaded, &options);
    assert!(
        !lines.iter().any(|l| l.contains("Parameters.Stage")),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"error: tests/fixtures/broken/parameter-patterns.yaml:2:3 Parameters.Env: value \"Dev\" does not match the AllowedPattern \"[a-z]+\"; lowercase letters only".to_string()),
        "{lines:#?}"
    );
}

/// The value of a NoEcho parameter is a secret: no message repeats it,
/// whichever constraint it breaks, from a Default or the command line.
#[test]
fn no_echo_values_are_never_printed() {
    check(
        &["broken/no-echo.yaml"],
        &[
            "error: tests/fixtures/broken/no-echo.yaml:5:14 Parameters.Password: the value given is not one of the AllowedValues (alpha, beta)",
            "error: tests/fixtures/broken/no-echo.yaml:10:14 Parameters.Token: the value given does not match the AllowedPattern \"[0-9]+\"; digits only",
            "error: tests/fixtures/broken/no-echo.yaml:16:14 Parameters.Pin: the value given is not a Number",
            "error: tests/fixtures/broken/no-echo.yaml:20:14 Parameters.Key: the value given (7 characters) is above MaxLength (4)",
            "error: tests/fixtures/broken/no-echo.yaml:25:14 Parameters.Keys: an item of the value given does not match the AllowedPattern \"[0-9]+\"",
            "error: tests/fixtures/broken/no-echo.yaml:30:14 Parameters.Visible: value \"hunter2\" (7 characters) is above MaxLength (4)",
        ],
    );
    let options = options_with(&[("Password", "s3cret"), ("Token", "s3cret")]);
    let loaded = load_with(&["broken/no-echo.yaml"], &options);
    let lines = all_diagnostics(&loaded, &options);
    assert!(!lines.iter().any(|l| l.contains("s3cret")), "{lines:#?}");
    assert!(
        lines.contains(&"error: tests/fixtures/broken/no-echo.yaml:2:3 Parameters.Password: the value given is not one of the AllowedValues (alpha, beta)".to_string()),
        "{lines:#?}"
    );
}

/// A "billion laughs" file fails at once, at the alias that takes it past
/// the limit, instead of expanding to billions of values.
#[test]
fn alias_bomb() {
    check(
        &["broken/alias-bomb.yaml"],
        &[
            "error: tests/fixtures/broken/alias-bomb.yaml:14:12 expanding this alias takes what aliases copy past 1000000 values, the limit for the files loaded together; a policy file that expands this much is most likely an alias bomb (\"billion laughs\"); write the repeated parts out, or alias fewer or smaller values",
        ],
    );
}

/// IAM principals as code: a bad Effect, an unknown action prefix, a
/// Principal in an identity policy, a managed policy naming a user that
/// does not exist and a user naming a policy that does not exist are each
/// reported at the document or field they are in, with what to write
/// instead (references are warnings without a catalog, errors at apply).
#[test]
fn iam_principals_and_their_policies_teach_what_is_wrong() {
    check(
        &["broken/iam.yaml"],
        &[
            "warning: tests/fixtures/broken/iam.yaml:7:11 Auditor.ManagedPolicyArns[0]: managed policy \"arn:coffer:iam::111122223333:policy/read-onyl\" does not exist: it is not declared in these files; apply will need it in the catalog; did you mean \"arn:coffer:iam::111122223333:policy/read-only\"?",
            "error: tests/fixtures/broken/iam.yaml:11:13 Auditor.Policies[0].PolicyDocument.Statement[0].Action[0]: action \"bakup:ListBackupVaults\" has the prefix \"bakup\", which names no service Coffer authorizes (backup, coffer, iam, cloudformation); did you mean \"backup:ListBackupVaults\"?",
            "error: tests/fixtures/broken/iam.yaml:11:13 Auditor.Policies[0].PolicyDocument.Statement[0].Effect: Effect \"Permit\" must be \"Allow\" or \"Deny\"",
            "error: tests/fixtures/broken/iam.yaml:20:9 ReadOnly.PolicyDocument.Statement[0].Principal: an identity policy names no Principal: it applies to the users it is attached to; remove it; to restrict who may act on a vault, write the vault's AccessPolicy",
            "warning: tests/fixtures/broken/iam.yaml:26:11 ReadOnly.Users[0]: IAM user \"auditer\" does not exist: it is not declared in these files; apply will need it in the catalog; did you mean \"auditor\"?",
        ],
    );
}

#[test]
fn report_schedule_that_cannot_run() {
    check(
        &["broken/report-schedule.yaml"],
        &[
            "error: tests/fixtures/broken/report-schedule.yaml:12:37 Monthly.ReportSchedule.ScheduleExpressionTimezone: unknown time zone `Europe/Pariss`; expected an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC`; did you mean `Europe/Paris`?",
            "error: tests/fixtures/broken/report-schedule.yaml:22:9 Weekly.ReportSchedule.Schedule: unknown field \"Schedule\"; did you mean \"ScheduleExpression\"?",
        ],
    );
}

/// Restore testing plans and selections: every field AWS would refuse,
/// each at its place, with what is allowed; an override naming the test's
/// target (which a test deletes) beside one it applies and an AWS key it
/// records as not applied.
#[test]
fn restore_testing() {
    check(
        &["broken/restore-testing.yaml"],
        &[
            "error: tests/fixtures/broken/restore-testing.yaml:5:31 Drills.RestoreTestingPlanName: RestoreTestingPlanName \"weekly-drills\" is not allowed: use 1-50 letters, digits or '_', starting with a letter; e.g. \"weekly_drills\"",
            "error: tests/fixtures/broken/restore-testing.yaml:7:35 Drills.ScheduleExpressionTimezone: unknown time zone `Europe/Pariss`; expected an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC`; did you mean `Europe/Paris`?",
            "error: tests/fixtures/broken/restore-testing.yaml:8:25 Drills.StartWindowHours: StartWindowHours (200) must be between 1 and 168",
            "error: tests/fixtures/broken/restore-testing.yaml:10:20 Drills.RecoveryPointSelection.Algorithm: Algorithm \"LATEST_WITHIN_WINDOWS\" must be LATEST_WITHIN_WINDOW or RANDOM_WITHIN_WINDOW; did you mean \"LATEST_WITHIN_WINDOW\"?",
            "error: tests/fixtures/broken/restore-testing.yaml:11:25 Drills.RecoveryPointSelection.IncludeVaults[0]: IncludeVaults entry \"prod-*\" is not a vault ARN or pattern: it does not start with \"arn:\" (use \"*\" to match every resource); use \"*\", a vault ARN such as arn:coffer:backup:<region>:<account>:backup-vault:<name>, or a pattern such as arn:coffer:backup:*:*:backup-vault:prod-*",
            "error: tests/fixtures/broken/restore-testing.yaml:12:30 Drills.RecoveryPointSelection.RecoveryPointTypes[0]: \"SNAPSHOTS\" must be SNAPSHOT or CONTINUOUS",
            "error: tests/fixtures/broken/restore-testing.yaml:13:30 Drills.RecoveryPointSelection.SelectionWindowDays: SelectionWindowDays (400) must be between 1 and 365",
            "error: tests/fixtures/broken/restore-testing.yaml:17:31 Files.RestoreTestingPlanName: restore testing plan \"monthly_drills\" is not declared in these files; declare the AWS::Backup::RestoreTestingPlan in the same stack and use !Ref to it",
            "error: tests/fixtures/broken/restore-testing.yaml:23:9 Files.ProtectedResourceConditions: ProtectedResourceConditions apply only with ProtectedResourceArns [\"*\"]; set ProtectedResourceArns to [\"*\"]",
            "error: tests/fixtures/broken/restore-testing.yaml:26:30 Files.ValidationWindowHours: ValidationWindowHours (200) must be at most 168",
            "error: tests/fixtures/broken/restore-testing.yaml:28:14 Files.CofferValidationHook.Sql: an SQL hook needs a database; FileSystem is not one; use Command for files, directories and buckets",
            "error: tests/fixtures/broken/restore-testing.yaml:39:25 Databases.RestoreMetadataOverrides.TargetDatabase: RestoreMetadataOverrides key \"TargetDatabase\" is refused: TargetDatabase would name the restore test's target, and a test deletes its target afterwards; the test makes a scratch target of its own; a PostgreSQL test takes TargetServer (and AWS keys that do not apply here, recorded as NotApplied.<key>)",
        ],
    );
}
