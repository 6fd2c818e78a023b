//! Templates written as AWS users write them for AWS Backup: each loads with
//! no diagnostic at all, into exactly the expected model values.

use std::path::PathBuf;

use coffer_model::{
    Arn, ArnPattern, BackupPlan, BackupRule, BackupSelection, BackupVault, ConditionParameter,
    Conditions, ControlInputParameter, ControlScope, CopyAction, Framework, FrameworkControl,
    Lifecycle, ReportDeliveryChannel, ReportPlan, ReportSetting, TagCondition, Tags,
    VaultLockConfiguration, VaultNotifications,
};
use coffer_policy::{load_files, Loaded, PolicySet, Unmanaged};

use crate::{all_diagnostics, load, load_with, options, options_with, ACCOUNT, REGION};

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn vault(name: &str) -> BackupVault {
    BackupVault {
        backup_vault_name: name.into(),
        backup_vault_arn: Arn::parse(&format!(
            "arn:coffer:backup:{REGION}:{ACCOUNT}:backup-vault:{name}"
        ))
        .unwrap(),
        account_id: options().account,
        region: options().region,
        encryption_key_arn: None,
        access_policy: None,
        lock_configuration: None,
        lock_date: None,
        notifications: None,
        backup_vault_tags: Tags::new(),
    }
}

fn rule(name: &str, vault: &str, schedule: &str) -> BackupRule {
    BackupRule {
        rule_name: name.into(),
        target_backup_vault_name: vault.into(),
        schedule_expression: schedule.into(),
        schedule_expression_timezone: None,
        start_window_minutes: 480,
        completion_window_minutes: 10_080,
        lifecycle: Lifecycle::default(),
        recovery_point_tags: Tags::new(),
        copy_actions: vec![],
        enable_continuous_backup: false,
    }
}

fn delete_after(days: u32) -> Lifecycle {
    Lifecycle {
        delete_after_days: Some(days),
        ..Lifecycle::default()
    }
}

fn control(name: &str, params: &[(&str, &str)]) -> FrameworkControl {
    FrameworkControl {
        control_name: name.into(),
        control_input_parameters: params
            .iter()
            .map(|(n, v)| ControlInputParameter {
                parameter_name: n.to_string(),
                parameter_value: v.to_string(),
            })
            .collect(),
        control_scope: ControlScope::default(),
    }
}

fn report_plan(name: &str, bucket: &str, template: &str) -> ReportPlan {
    ReportPlan {
        report_plan_name: name.into(),
        report_plan_description: String::new(),
        report_delivery_channel: ReportDeliveryChannel {
            s3_bucket_name: bucket.into(),
            s3_key_prefix: None,
            formats: strings(&["CSV"]),
        },
        report_setting: ReportSetting {
            report_template: template.into(),
            framework_arns: vec![],
            number_of_frameworks: None,
            accounts: vec![],
            organization_units: vec![],
            regions: vec![],
        },
        report_plan_tags: Tags::new(),
        report_schedule: None,
    }
}

fn framework_arn(name: &str) -> String {
    format!("arn:coffer:backup:{REGION}:{ACCOUNT}:framework:{name}")
}

fn unmanaged(logical_id: &str, type_name: &str, arn: &str, file: &str) -> Unmanaged {
    Unmanaged {
        logical_id: logical_id.into(),
        type_name: type_name.into(),
        arn: arn.into(),
        file: format!("tests/fixtures/{file}"),
    }
}

/// The warning every vault with SNS `Notifications` gets (Coffer cannot
/// publish to SNS); `vault_notifications_are_warned_about` checks it.
const SNS_WARNING: &str = "Coffer cannot publish to SNS topics";

/// Loads fixtures that must produce no diagnostic at all, including those
/// of the cross-object reference check, besides the SNS warning.
fn load_clean(names: &[&str], parameters: &[(&str, &str)]) -> PolicySet {
    let options = options_with(parameters);
    let loaded = load_with(names, &options);
    let diagnostics: Vec<String> = all_diagnostics(&loaded, &options)
        .into_iter()
        .filter(|d| !d.contains(SNS_WARNING) && !ROLE_WARNINGS.iter().any(|w| d.contains(w)))
        .collect();
    assert_eq!(diagnostics, Vec::<String>::new());
    loaded.set
}

/// What backup roles of the fixtures are warned about: a trust policy
/// nothing uses here, an AWS managed policy Coffer does not have.
const ROLE_WARNINGS: &[&str] = &[
    "AssumeRolePolicyDocument: the trust policy is kept but not used",
    "is an AWS managed policy, which Coffer does not have",
];

#[test]
fn vault_notifications_are_warned_about() {
    let options = options();
    let loaded = load_with(
        &["valid/stack/vaults.yaml", "valid/stack/plans.yaml"],
        &options,
    );
    let warnings: Vec<String> = all_diagnostics(&loaded, &options)
        .into_iter()
        .filter(|d| d.contains(SNS_WARNING))
        .collect();
    assert_eq!(
        warnings,
        ["warning: tests/fixtures/valid/stack/vaults.yaml:62:9 SecondVault.Notifications: Coffer cannot publish to SNS topics such as \"arn:coffer:sns:eu-west-1:111122223333:data-backup-events\", so these vault notifications are not sent; remove Notifications, or keep them for the day this template runs on AWS"]
    );
}

fn values<T: Clone>(items: &[coffer_policy::Declared<T>]) -> Vec<T> {
    items.iter().map(|d| d.value.clone()).collect()
}

fn logical_ids<T>(items: &[coffer_policy::Declared<T>]) -> Vec<&str> {
    items.iter().map(|d| d.origin.logical_id.as_str()).collect()
}

#[test]
fn json_template_with_long_form_intrinsics() {
    let set = load_clean(&["valid/json-long-form.json"], &[]);

    let mut expected_vault = vault("prod-orders-vault");
    expected_vault.encryption_key_arn =
        Some(Arn::parse("arn:coffer:kms:eu-west-1:111122223333:key/OrdersKey").unwrap());
    expected_vault.backup_vault_tags = tags(&[("team", "orders"), ("env", "prod")]);
    assert_eq!(values(&set.vaults), vec![expected_vault]);

    let mut daily = rule("daily", "prod-orders-vault", "cron(0 5 ? * * *)");
    daily.start_window_minutes = 60;
    daily.completion_window_minutes = 120;
    daily.lifecycle = delete_after(35);
    daily.copy_actions = vec![CopyAction {
        destination_backup_vault_arn:
            "arn:coffer:backup:eu-central-1:111122223333:backup-vault:prod-orders-vault-dr".into(),
        lifecycle: delete_after(90),
    }];
    assert_eq!(
        values(&set.plans),
        vec![BackupPlan {
            backup_plan_name: "prod-orders-daily".into(),
            rules: vec![daily],
            advanced_backup_settings: vec![],
            backup_plan_tags: tags(&[("team", "orders")]),
        }]
    );

    assert_eq!(
        values(&set.selections),
        vec![BackupSelection {
            selection_name: "orders-databases".into(),
            backup_plan_name: "prod-orders-daily".into(),
            iam_role_arn: "arn:coffer:iam::111122223333:role/prod-orders-backup".into(),
            resources: vec![
                ArnPattern::parse("arn:coffer:postgres:eu-west-1:111122223333:database/orders/*")
                    .unwrap(),
                ArnPattern::parse("arn:coffer:mysql:*:111122223333:database/legacy/*").unwrap(),
            ],
            not_resources: vec![],
            list_of_tags: vec![],
            conditions: Conditions::default(),
        }]
    );

    let mut protected = control("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", &[]);
    protected.control_scope.compliance_resource_types = strings(&["RDS", "Aurora"]);
    assert_eq!(
        values(&set.frameworks),
        vec![Framework {
            framework_name: "prod_orders_controls".into(),
            framework_description: "Retention for the orders databases".into(),
            framework_controls: vec![
                control(
                    "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
                    &[("requiredRetentionDays", "35")]
                ),
                protected,
            ],
            framework_tags: tags(&[("team", "orders"), ("env", "prod")]),
        }]
    );

    let mut report = report_plan(
        "prod_orders_compliance",
        "prod-backup-reports-111122223333",
        "RESOURCE_COMPLIANCE_REPORT",
    );
    report.report_plan_description = "Daily compliance of the orders framework".into();
    report.report_delivery_channel.s3_key_prefix = Some("orders".into());
    report.report_delivery_channel.formats = strings(&["CSV", "JSON"]);
    report.report_setting.framework_arns = vec![framework_arn("prod_orders_controls")];
    // A CommaDelimitedList default, spaces trimmed, passed whole to a list.
    report.report_setting.regions = strings(&["eu-west-1", "eu-central-1"]);
    report.report_plan_tags = tags(&[("team", "orders")]);
    assert_eq!(values(&set.report_plans), vec![report]);

    let file = "valid/json-long-form.json";
    let roles: Vec<&str> = set
        .roles
        .iter()
        .map(|r| r.value.role_name.as_str())
        .collect();
    assert_eq!(roles, vec!["prod-orders-backup"]);
    assert_eq!(
        set.roles[0].value.managed_policy_arns,
        vec!["arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"]
    );
    assert_eq!(
        set.unmanaged,
        vec![unmanaged(
            "OrdersKey",
            "AWS::KMS::Key",
            "arn:coffer:kms:eu-west-1:111122223333:key/OrdersKey",
            file
        ),]
    );
}

#[test]
fn json_template_objects_remember_where_they_were_declared() {
    let set = load_clean(&["valid/json-long-form.json"], &[]);
    let origin = &set.plans[0].origin;
    assert_eq!(origin.file, "tests/fixtures/valid/json-long-form.json");
    assert_eq!(origin.logical_id, "OrdersPlan");
    assert_eq!((origin.pos.line, origin.pos.col), (66, 5));
    assert_eq!(set.files.len(), 1);
    assert_eq!(
        set.files[0].path,
        "tests/fixtures/valid/json-long-form.json"
    );
    assert_eq!(set.files[0].sha256.len(), 64);
}

#[test]
fn parameter_overrides_replace_defaults() {
    let set = load_clean(
        &["valid/json-long-form.json"],
        &[
            ("Environment", "staging"),
            ("RetentionDays", "60"),
            ("ReportRegions", "eu-west-3"),
        ],
    );
    assert_eq!(
        set.vaults[0].value.backup_vault_name,
        "staging-orders-vault"
    );
    let plan = &set.plans[0].value;
    assert_eq!(plan.backup_plan_name, "staging-orders-daily");
    assert_eq!(plan.rules[0].lifecycle, delete_after(60));
    assert_eq!(
        plan.rules[0].copy_actions[0].destination_backup_vault_arn,
        "arn:coffer:backup:eu-central-1:111122223333:backup-vault:staging-orders-vault-dr"
    );
    assert_eq!(
        set.selections[0].value.backup_plan_name,
        "staging-orders-daily"
    );
    assert_eq!(
        set.report_plans[0].value.report_setting.framework_arns,
        vec![framework_arn("staging_orders_controls")]
    );
    assert_eq!(
        set.report_plans[0].value.report_setting.regions,
        strings(&["eu-west-3"])
    );
}

#[test]
fn conditions_and_mappings_with_the_defaults() {
    // Environment=staging, LockVault=false (a YAML boolean default).
    let set = load_clean(&["valid/conditions-mappings.yaml"], &[]);

    // No lock, no notifications (AWS::NoValue), no archive vault (Condition).
    assert_eq!(values(&set.vaults), vec![vault("staging-vault")]);

    let mut regular = rule("regular", "staging-vault", "cron(0 4 ? * SUN *)");
    regular.lifecycle = delete_after(14);
    regular.recovery_point_tags = tags(&[("env", "staging")]);
    assert_eq!(
        values(&set.plans),
        vec![BackupPlan {
            backup_plan_name: "staging-plan".into(),
            rules: vec![regular],
            advanced_backup_settings: vec![],
            backup_plan_tags: Tags::new(),
        }]
    );

    let selection = &set.selections[0].value;
    assert_eq!(selection.selection_name, "staging-tagged");
    assert_eq!(selection.backup_plan_name, "staging-plan");
    assert_eq!(
        selection.iam_role_arn,
        "arn:coffer:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole"
    );
    assert_eq!(
        selection.list_of_tags,
        vec![TagCondition {
            condition_type: "STRINGEQUALS".into(),
            condition_key: "backup".into(),
            condition_value: "weekly".into(),
        }]
    );

    // The framework and report plan are named after their logical IDs.
    assert_eq!(
        values(&set.frameworks),
        vec![Framework {
            framework_name: "Framework".into(),
            framework_description: String::new(),
            framework_controls: vec![control(
                "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
                &[("requiredRetentionDays", "14")]
            )],
            framework_tags: Tags::new(),
        }]
    );
    assert_eq!(
        values(&set.report_plans),
        vec![report_plan(
            "Report",
            "staging-backup-reports",
            "BACKUP_JOB_REPORT"
        )]
    );
    // The topic's condition is false: it is not listed.
    assert_eq!(set.unmanaged, vec![]);
}

#[test]
fn conditions_and_mappings_in_production() {
    let set = load_clean(
        &["valid/conditions-mappings.yaml"],
        &[
            ("Environment", "prod"),
            ("LockVault", "true"),
            ("AlertTopicName", "backup-alerts"),
        ],
    );

    let mut locked = vault("prod-vault");
    // `!Equals [!Ref LockVault, true]`: the parameter's string "true" equals
    // the YAML boolean, as in CloudFormation.
    locked.lock_configuration = Some(VaultLockConfiguration {
        min_retention_days: Some(30),
        max_retention_days: Some(400),
        changeable_for_days: Some(3),
    });
    locked.notifications = Some(VaultNotifications {
        sns_topic_arn: "arn:coffer:sns:eu-west-1:111122223333:backup-alerts".into(),
        backup_vault_events: strings(&["BACKUP_JOB_COMPLETED", "RESTORE_JOB_COMPLETED"]),
    });
    // Objects come in logical-ID order.
    assert_eq!(logical_ids(&set.vaults), vec!["ArchiveVault", "Vault"]);
    assert_eq!(values(&set.vaults), vec![vault("prod-archive"), locked]);

    let mut regular = rule("regular", "prod-vault", "cron(0 2 * * ? *)");
    regular.lifecycle = Lifecycle {
        move_to_cold_storage_after_days: Some(30),
        delete_after_days: Some(365),
        opt_in_to_archive_for_supported_resources: false,
    };
    regular.recovery_point_tags = tags(&[("env", "prod"), ("archived", "no")]);
    let mut archive = rule("monthly-archive", "prod-archive", "cron(0 3 1 * ? *)");
    archive.lifecycle = Lifecycle {
        move_to_cold_storage_after_days: Some(30),
        delete_after_days: Some(2555),
        opt_in_to_archive_for_supported_resources: false,
    };
    assert_eq!(set.plans[0].value.backup_plan_name, "prod-plan");
    assert_eq!(set.plans[0].value.rules, vec![regular, archive]);

    assert_eq!(
        set.selections[0].value.list_of_tags[0].condition_value,
        "daily"
    );
    assert_eq!(
        set.frameworks[0].value.framework_controls,
        vec![control(
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            &[
                ("requiredRetentionDays", "365"),
                ("requiredFrequencyValue", "1")
            ]
        )]
    );
    let mut report = report_plan("Report", "prod-backup-reports", "CONTROL_COMPLIANCE_REPORT");
    report.report_setting.framework_arns = vec![framework_arn("Framework")];
    assert_eq!(values(&set.report_plans), vec![report]);
    assert_eq!(
        set.unmanaged,
        vec![unmanaged(
            "AlertTopic",
            "AWS::SNS::Topic",
            "arn:coffer:sns:eu-west-1:111122223333:backup-alerts",
            "valid/conditions-mappings.yaml"
        )]
    );
}

#[test]
fn stack_of_two_files_resolves_references_across_them() {
    let set = load_clean(&["valid/stack/vaults.yaml", "valid/stack/plans.yaml"], &[]);
    let key = Arn::parse("arn:coffer:kms:eu-west-1:111122223333:key/PlatformKey").unwrap();
    let admin_role = "arn:coffer:iam::111122223333:role/data-backup-admin";

    let mut primary = vault("data-primary");
    primary.encryption_key_arn = Some(key.clone());
    primary.lock_configuration = Some(VaultLockConfiguration {
        min_retention_days: Some(7),
        max_retention_days: Some(3650),
        changeable_for_days: None,
    });
    // A JSON string built with !Sub, the admin role of the other file inside.
    primary.access_policy = Some(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyDeleteExceptAdmin",
            "Effect": "Deny",
            "Principal": "*",
            "Action": [
                "backup:DeleteRecoveryPoint",
                "backup:UpdateRecoveryPointLifecycle",
                "backup:PutBackupVaultAccessPolicy"
            ],
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": admin_role}}
        }]
    }));
    primary.backup_vault_tags = tags(&[("team", "data"), ("cost-center", "4711")]);
    let mut second = vault("data-second");
    second.encryption_key_arn = Some(key);
    second.notifications = Some(VaultNotifications {
        sns_topic_arn: "arn:coffer:sns:eu-west-1:111122223333:data-backup-events".into(),
        backup_vault_events: strings(&["BACKUP_JOB_COMPLETED", "COPY_JOB_FAILED"]),
    });
    assert_eq!(values(&set.vaults), vec![primary, second]);

    let mut nightly = rule("nightly-paris", "data-primary", "cron(30 1 ? * MON-FRI *)");
    nightly.schedule_expression_timezone = Some("Europe/Paris".into());
    nightly.start_window_minutes = 60;
    nightly.completion_window_minutes = 360;
    nightly.lifecycle = delete_after(35);
    nightly.recovery_point_tags = tags(&[("plan", "data-daily")]);
    nightly.copy_actions = vec![
        CopyAction {
            // !Sub with a variable map: !Select [1, !Ref Sites] and a parameter.
            destination_backup_vault_arn:
                "arn:coffer:backup:eu-central-1:444455556666:backup-vault:data-dr".into(),
            lifecycle: Lifecycle {
                move_to_cold_storage_after_days: Some(30),
                delete_after_days: Some(365),
                opt_in_to_archive_for_supported_resources: false,
            },
        },
        CopyAction {
            destination_backup_vault_arn:
                "arn:coffer:backup:eu-west-1:111122223333:backup-vault:data-second".into(),
            lifecycle: Lifecycle::default(),
        },
    ];
    let mut hourly = rule("hourly", "data-primary", "cron(0 * * * ? *)");
    hourly.enable_continuous_backup = true;
    hourly.lifecycle = delete_after(7);
    assert_eq!(
        values(&set.plans),
        vec![BackupPlan {
            backup_plan_name: "data-daily".into(),
            rules: vec![nightly, hourly],
            advanced_backup_settings: vec![],
            backup_plan_tags: Tags::new(),
        }]
    );

    let condition = |key: &str, value: &str| ConditionParameter {
        condition_key: key.into(),
        condition_value: value.into(),
    };
    assert_eq!(
        values(&set.selections),
        vec![BackupSelection {
            selection_name: "prod-but-not-scratch".into(),
            backup_plan_name: "data-daily".into(),
            iam_role_arn: admin_role.into(),
            resources: vec![ArnPattern::parse("*").unwrap()],
            not_resources: vec![],
            list_of_tags: vec![],
            conditions: Conditions {
                // !Sub with a variable from !Select/!Split of a parameter.
                string_equals: vec![condition("aws:ResourceTag/team", "data")],
                string_not_equals: vec![condition("aws:ResourceTag/scratch", "true")],
                string_like: vec![condition("aws:ResourceTag/env", "prod*")],
                string_not_like: vec![],
            },
        }]
    );

    let mut by_type = control("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", &[]);
    by_type.control_scope.compliance_resource_types = strings(&["PostgreSQL", "MySQL", "S3"]);
    let mut by_tag = control(
        "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
        &[("crossRegionList", "eu-west-1,eu-central-1")],
    );
    by_tag.control_scope.tags = tags(&[("team", "data")]);
    let mut by_id = control(
        "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
        &[("principalArnList", admin_role)],
    );
    by_id.control_scope.compliance_resource_ids = strings(&["data-primary"]);
    by_id.control_scope.compliance_resource_types = strings(&["AWS::Backup::BackupVault"]);
    assert_eq!(
        values(&set.frameworks),
        vec![Framework {
            framework_name: "data_platform".into(),
            framework_description: String::new(),
            framework_controls: vec![by_type, by_tag, by_id],
            framework_tags: tags(&[("owner", "data-platform")]),
        }]
    );

    let mut controls = report_plan("data_controls", "data-audit", "CONTROL_COMPLIANCE_REPORT");
    controls.report_delivery_channel.formats = strings(&["JSON"]);
    controls.report_setting.framework_arns = vec![framework_arn("data_platform")];
    let mut copies = report_plan("data_copies", "data-audit", "COPY_JOB_REPORT");
    copies.report_delivery_channel.s3_key_prefix = Some("copies".into());
    copies.report_setting.accounts = strings(&[ACCOUNT, "444455556666"]);
    copies.report_setting.regions = strings(&["eu-west-1", "eu-central-1"]);
    copies.report_plan_tags = tags(&[("owner", "data-platform")]);
    assert_eq!(values(&set.report_plans), vec![controls, copies]);

    let roles: Vec<&str> = set
        .roles
        .iter()
        .map(|r| r.value.role_name.as_str())
        .collect();
    assert_eq!(roles, vec!["data-backup-admin"]);
    assert!(
        admin_role.ends_with(":role/data-backup-admin"),
        "{admin_role}"
    );
    assert_eq!(
        set.unmanaged,
        vec![
            unmanaged(
                "PlatformKey",
                "AWS::KMS::Key",
                "arn:coffer:kms:eu-west-1:111122223333:key/PlatformKey",
                "valid/stack/vaults.yaml"
            ),
            unmanaged(
                "PlatformKeyAlias",
                "AWS::KMS::Alias",
                "arn:coffer:kms:eu-west-1:111122223333:alias/data-backup",
                "valid/stack/vaults.yaml"
            ),
            unmanaged(
                "VaultEvents",
                "AWS::SNS::Topic",
                "arn:coffer:sns:eu-west-1:111122223333:data-backup-events",
                "valid/stack/vaults.yaml"
            ),
        ]
    );
    // Each object's origin names its own file.
    assert_eq!(
        set.vaults[0].origin.file,
        "tests/fixtures/valid/stack/vaults.yaml"
    );
    assert_eq!(
        set.plans[0].origin.file,
        "tests/fixtures/valid/stack/plans.yaml"
    );
}

#[test]
fn stack_files_load_the_same_in_either_order() {
    let forward = load_clean(&["valid/stack/vaults.yaml", "valid/stack/plans.yaml"], &[]);
    let backward = load_clean(&["valid/stack/plans.yaml", "valid/stack/vaults.yaml"], &[]);
    assert_eq!(values(&forward.vaults), values(&backward.vaults));
    assert_eq!(values(&forward.plans), values(&backward.plans));
    assert_eq!(values(&forward.selections), values(&backward.selections));
    assert_eq!(values(&forward.frameworks), values(&backward.frameworks));
    assert_eq!(
        values(&forward.report_plans),
        values(&backward.report_plans)
    );
}

#[test]
fn runtime_attributes_and_yaml_booleans_that_aws_accepts() {
    // `EnableContinuousBackup: yes` (YAML 1.1, as CloudFormation reads it)
    // and Outputs of attributes known only once the objects exist.
    let set = load_clean(&["valid/aws-accepts.yaml"], &[]);
    assert_eq!(set.vaults[0].value.backup_vault_name, "primary-dr");
    let plan = &set.plans[0].value;
    assert!(plan.rules[0].enable_continuous_backup);
    assert!(!plan.rules[1].enable_continuous_backup);
    // Fn::FindInMap's DefaultValue, itself an intrinsic.
    assert_eq!(plan.rules[0].lifecycle, delete_after(35));
}

#[test]
fn unmanaged_resource_named_from_another_stack_that_nothing_uses() {
    // AWS accepts the topic; no backup object needs its name, so its
    // !ImportValue (which Coffer cannot resolve) is no concern here. (An
    // IAM role is read by Coffer now, so its name must resolve.)
    let set = load_clean(&["valid/unreferenced-import-value.yaml"], &[]);
    assert_eq!(values(&set.vaults), vec![vault("primary")]);
    assert_eq!(
        set.unmanaged,
        vec![unmanaged(
            "ReportingTopic",
            "AWS::SNS::Topic",
            "arn:coffer:sns:eu-west-1:111122223333:ReportingTopic",
            "valid/unreferenced-import-value.yaml"
        )]
    );
}

fn shared_example() -> Loaded {
    load(&["shared-backup-stack.yaml"])
}

#[test]
fn shared_example_only_finding_is_the_hyphenated_framework_name() {
    let loaded = shared_example();
    assert_eq!(
        all_diagnostics(&loaded, &options()),
        vec![
            "error: tests/fixtures/shared-backup-stack.yaml:117:22 CoreFramework.FrameworkName: \
             FrameworkName \"payments-core\" is not allowed: use 1-256 letters, digits or '_', \
             starting with a letter (e.g. \"payments_core\")"
        ]
    );
    // Everything else is read.
    assert_eq!(loaded.set.vaults.len(), 2);
    assert_eq!(loaded.set.plans.len(), 2);
    assert_eq!(loaded.set.selections.len(), 2);
    assert_eq!(loaded.set.frameworks.len(), 1);
    assert_eq!(loaded.set.report_plans.len(), 3);
}

#[test]
fn shared_example_fixture_is_the_shared_file() {
    // The fixture is a byte-for-byte copy, so that line numbers are those
    // users see in ../shared/examples/cloudformation/backup-stack.yaml.
    let shared = PathBuf::from("../../../shared/examples/cloudformation/backup-stack.yaml");
    if let Ok(original) = std::fs::read(&shared) {
        let copy = std::fs::read("tests/fixtures/shared-backup-stack.yaml").unwrap();
        assert!(
            original == copy,
            "{} changed: copy it again",
            shared.display()
        );
    }
}

#[test]
fn repository_example_loads_with_no_diagnostics() {
    let options = options();
    let loaded = load_files(
        &[PathBuf::from("../../examples/backup-stack.yaml")],
        &options,
    );
    assert_eq!(all_diagnostics(&loaded, &options), Vec::<String>::new());
    let set = &loaded.set;

    let key = Arn::parse("arn:coffer:kms:eu-west-1:111122223333:key/VaultKey").unwrap();
    assert_eq!(
        set.vaults
            .iter()
            .map(|v| (
                v.value.backup_vault_name.as_str(),
                v.value.encryption_key_arn.clone(),
                v.value.lock_configuration
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "payments-primary",
                Some(key.clone()),
                Some(VaultLockConfiguration {
                    min_retention_days: Some(14),
                    max_retention_days: Some(2555),
                    changeable_for_days: Some(3),
                })
            ),
            (
                "payments-second-site",
                Some(key),
                Some(VaultLockConfiguration {
                    min_retention_days: Some(35),
                    max_retention_days: None,
                    changeable_for_days: None,
                })
            ),
        ]
    );
    let policy = set.vaults[0].value.access_policy.as_ref().unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalArn"],
        "arn:coffer:iam::210987654321:role/backup-operator"
    );

    let critical = &set.plans[0].value;
    assert_eq!(critical.backup_plan_name, "critical-daily-35d");
    assert_eq!(
        critical.rules[0].copy_actions,
        vec![CopyAction {
            destination_backup_vault_arn:
                "arn:coffer:backup:eu-west-1:111122223333:backup-vault:payments-second-site".into(),
            lifecycle: delete_after(35),
        }]
    );
    assert_eq!(
        critical.rules[1].lifecycle,
        Lifecycle {
            move_to_cold_storage_after_days: Some(30),
            delete_after_days: Some(400),
            opt_in_to_archive_for_supported_resources: false,
        }
    );
    assert_eq!(
        set.selections
            .iter()
            .map(|s| (
                s.value.selection_name.as_str(),
                s.value.backup_plan_name.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            ("critical-by-tag", "critical-daily-35d"),
            ("all-filesystems-but-scratch", "standard-weekly-14d"),
        ]
    );
    assert_eq!(set.frameworks[0].value.framework_name, "payments_core");
    assert_eq!(
        set.frameworks[0].value.framework_controls[4].control_input_parameters[0].parameter_value,
        "arn:coffer:iam::210987654321:role/backup-operator"
    );
    assert_eq!(
        set.report_plans
            .iter()
            .map(|r| (
                r.value.report_plan_name.as_str(),
                r.value.report_setting.framework_arns.clone()
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "payments_control_compliance",
                vec![framework_arn("payments_core")]
            ),
            ("payments_jobs_monthly", vec![]),
            (
                "payments_resource_compliance",
                vec![framework_arn("payments_core")]
            ),
        ]
    );
    assert_eq!(
        set.unmanaged,
        vec![Unmanaged {
            logical_id: "VaultKey".into(),
            type_name: "AWS::KMS::Key".into(),
            arn: "arn:coffer:kms:eu-west-1:111122223333:key/VaultKey".into(),
            file: "../../examples/backup-stack.yaml".into(),
        }]
    );
}

/// A restore testing plan and its selection read into the model as AWS
/// shapes them, with Coffer's hook.
#[test]
fn restore_testing_plan_and_selection() {
    let loaded = load(&["valid/restore-testing.yaml"]);
    assert!(
        all_diagnostics(&loaded, &options()).is_empty(),
        "{:?}",
        all_diagnostics(&loaded, &options())
    );
    let plan = &loaded.set.restore_testing_plans[0].value;
    assert_eq!(plan.restore_testing_plan_name, "weekly_drills");
    assert_eq!(
        plan.schedule_expression_timezone.as_deref(),
        Some("Europe/Paris")
    );
    assert_eq!(plan.start_window_hours, 4);
    let selection = &plan.recovery_point_selection;
    assert_eq!(selection.algorithm, "RANDOM_WITHIN_WINDOW");
    assert_eq!(selection.selection_window_days, 14);
    assert!(
        selection.vault_allowed("arn:coffer:backup:eu-west-1:111122223333:backup-vault:prod-db")
    );
    assert!(
        !selection.vault_allowed("arn:coffer:backup:eu-west-1:111122223333:backup-vault:prod-cold")
    );
    assert!(
        !selection.vault_allowed("arn:coffer:backup:eu-west-1:111122223333:backup-vault:staging")
    );
    let s = &loaded.set.restore_testing_selections[0].value;
    assert_eq!(s.restore_testing_plan_name, "weekly_drills");
    assert_eq!(s.protected_resource_arns, strings(&["*"]));
    assert_eq!(s.protected_resource_conditions_string_equals.len(), 1);
    assert_eq!(
        s.restore_metadata_overrides,
        tags(&[("TargetServer", "scratch")])
    );
    assert_eq!(s.validation_window_hours, Some(2));
    let hook = s.coffer_validation_hook.clone().unwrap();
    assert_eq!(hook.sql.as_deref(), Some("SELECT count(*) FROM accounts"));
    assert_eq!(hook.expect.as_deref(), Some("3"));
}
