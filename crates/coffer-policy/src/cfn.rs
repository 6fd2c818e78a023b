//! Reading the AWS::Backup and AWS::IAM resource types of a CloudFormation template into
//! model values. Intrinsics are already resolved; every field is checked for
//! type, presence and spelling, and model validation findings are reported
//! at the template field they came from.
//!
//! A value that is missing or cannot be read does not stop the reading: a
//! stand-in takes its place, the object is validated as a whole (findings
//! about stand-ins are dropped), and an object with a stand-in is not
//! returned.

use coffer_model::{
    AdvancedBackupSetting, Arn, ArnPattern, BackupPlan, BackupRule, BackupSelection, BackupVault,
    ConditionParameter, Conditions, ControlInputParameter, ControlScope, CopyAction, Framework,
    FrameworkControl, IamRole, IamUser, InlinePolicy, KeyValue, Lifecycle, ManagedPolicy,
    ReportDeliveryChannel, ReportPlan, ReportSchedule, ReportSetting, RestoreTestingPlan,
    RestoreTestingRecoveryPointSelection, RestoreTestingSelection, TagCondition, ValidationHook,
    VaultLockConfiguration, VaultNotifications, DEFAULT_COMPLETION_WINDOW_MINUTES,
    DEFAULT_RESTORE_TEST_START_WINDOW_HOURS, DEFAULT_SCHEDULE, DEFAULT_SELECTION_WINDOW_DAYS,
    DEFAULT_START_WINDOW_MINUTES, PARTITION,
};

use crate::node::{Node, Value};
use crate::read::{Fields, Reader, STAND_IN};
use crate::set::LoadOptions;

/// The template resource types Coffer manages.
pub(crate) const MANAGED_TYPES: &[&str] = &[
    "AWS::Backup::BackupVault",
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection",
    "AWS::Backup::Framework",
    "AWS::Backup::ReportPlan",
    "AWS::Backup::RestoreTestingPlan",
    "AWS::Backup::RestoreTestingSelection",
    "AWS::IAM::User",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Role",
];

/// AWS Backup types that Coffer does not manage yet: AWS would create them,
/// so leaving them out is worth a warning.
pub(crate) const BACKUP_TYPES_NOT_MANAGED: &[&str] = &[
    "AWS::Backup::LogicallyAirGappedBackupVault",
    "AWS::Backup::BackupVaultNotification",
];

fn opt_string(reader: &mut Reader<'_>, f: &Fields<'_>, name: &str, model: &str) -> Option<String> {
    f.get(name)
        .and_then(|n| reader.string(n, &f.src(name), &f.model(model)))
}

fn opt_u32(reader: &mut Reader<'_>, f: &Fields<'_>, name: &str) -> Option<u32> {
    f.get(name)
        .and_then(|n| reader.uint32(n, &f.src(name), &f.model(name)))
}

/// A required string; when it is missing, `model` (which may differ from
/// the template's name for it) is what its stand-in replaces.
fn req_string(reader: &mut Reader<'_>, f: &Fields<'_>, name: &str, model: &str) -> Option<String> {
    match reader.required(f, name) {
        Some(n) => reader.string(n, &f.src(name), &f.model(model)),
        None => {
            reader.unreadable(&f.model(model));
            None
        }
    }
}

fn string_list(reader: &mut Reader<'_>, f: &Fields<'_>, name: &str) -> Vec<String> {
    match f.get(name) {
        Some(n) => reader.string_list(n, &f.src(name), &f.model(name)),
        None => Vec::new(),
    }
}

fn or_stand_in(value: Option<String>) -> String {
    value.unwrap_or_else(|| STAND_IN.to_string())
}

/// The object, when nothing of it was missing or unreadable.
fn complete<T>(reader: &Reader<'_>, value: T) -> Option<T> {
    (!reader.any_unreadable()).then_some(value)
}

pub(crate) fn read_vault(
    reader: &mut Reader<'_>,
    props: &Node,
    options: &LoadOptions,
) -> Option<BackupVault> {
    let known = [
        "BackupVaultName",
        "BackupVaultTags",
        "EncryptionKeyArn",
        "AccessPolicy",
        "LockConfiguration",
        "Notifications",
    ];
    let f = reader.fields(props, "", "", &known)?;
    let name = or_stand_in(req_string(reader, &f, "BackupVaultName", "BackupVaultName"));
    let tags = f
        .get("BackupVaultTags")
        .map(|n| reader.tags(n, "BackupVaultTags", "BackupVaultTags"))
        .unwrap_or_default();
    let encryption_key_arn = match f.get("EncryptionKeyArn") {
        Some(node) => match reader.string(node, "EncryptionKeyArn", "EncryptionKeyArn") {
            Some(text) => match Arn::parse(&text) {
                Ok(arn) => Some(arn),
                Err(err) => {
                    reader
                        .error(node.pos, "EncryptionKeyArn", err.to_string())
                        .hint("reference a key with !GetAtt MyKey.Arn, where MyKey is an AWS::KMS::Key of this template");
                    None
                }
            },
            None => None,
        },
        None => None,
    };
    let access_policy = f.get("AccessPolicy").and_then(|node| {
        reader.register("AccessPolicy", "AccessPolicy", node.pos);
        match &node.value {
            Value::Map(_) => Some(node.to_json()),
            Value::String(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(doc) => Some(doc),
                Err(err) => {
                    reader.error(
                        node.pos,
                        "AccessPolicy",
                        format!("is not valid JSON: {err}"),
                    );
                    None
                }
            },
            Value::Unresolved => {
                reader.unreadable("AccessPolicy");
                None
            }
            _ => {
                reader.error(
                    node.pos,
                    "AccessPolicy",
                    format!(
                        "must be a policy document (mapping or JSON string), found {}",
                        node.kind_name()
                    ),
                );
                None
            }
        }
    });
    let lock = f.get("LockConfiguration").and_then(|node| {
        let lf = reader.fields(
            node,
            "LockConfiguration",
            "LockConfiguration",
            &["MinRetentionDays", "MaxRetentionDays", "ChangeableForDays"],
        )?;
        let min = reader.required(&lf, "MinRetentionDays").and_then(|n| {
            reader.uint32(
                n,
                &lf.src("MinRetentionDays"),
                &lf.model("MinRetentionDays"),
            )
        });
        Some(VaultLockConfiguration {
            min_retention_days: min,
            max_retention_days: opt_u32(reader, &lf, "MaxRetentionDays"),
            changeable_for_days: opt_u32(reader, &lf, "ChangeableForDays"),
        })
    });
    let notifications = f.get("Notifications").and_then(|node| {
        let nf = reader.fields(
            node,
            "Notifications",
            "Notifications",
            &["BackupVaultEvents", "SNSTopicArn"],
        )?;
        let topic = req_string(reader, &nf, "SNSTopicArn", "SNSTopicArn");
        let events = match reader.required(&nf, "BackupVaultEvents") {
            Some(n) => reader.string_list(
                n,
                &nf.src("BackupVaultEvents"),
                &nf.model("BackupVaultEvents"),
            ),
            None => Vec::new(),
        };
        Some(VaultNotifications {
            sns_topic_arn: or_stand_in(topic),
            backup_vault_events: events,
        })
    });
    let vault = BackupVault {
        backup_vault_arn: Arn::backup_vault(&options.region, &options.account, &name),
        backup_vault_name: name,
        account_id: options.account.clone(),
        region: options.region.clone(),
        encryption_key_arn,
        access_policy,
        lock_configuration: lock,
        lock_date: None,
        notifications,
        backup_vault_tags: tags,
    };
    reader.findings("", vault.validate());
    complete(reader, vault)
}

fn read_lifecycle(reader: &mut Reader<'_>, node: &Node, src: &str, model: &str) -> Lifecycle {
    let known = [
        "DeleteAfterDays",
        "MoveToColdStorageAfterDays",
        "OptInToArchiveForSupportedResources",
    ];
    let Some(f) = reader.fields(node, src, model, &known) else {
        return Lifecycle::default();
    };
    Lifecycle {
        delete_after_days: opt_u32(reader, &f, "DeleteAfterDays"),
        move_to_cold_storage_after_days: opt_u32(reader, &f, "MoveToColdStorageAfterDays"),
        opt_in_to_archive_for_supported_resources: f
            .get("OptInToArchiveForSupportedResources")
            .and_then(|n| {
                reader.boolean(
                    n,
                    &f.src("OptInToArchiveForSupportedResources"),
                    &f.model("OptInToArchiveForSupportedResources"),
                )
            })
            .unwrap_or(false),
    }
}

/// A rule whose every part is a stand-in (its item is not a mapping).
fn stand_in_rule() -> BackupRule {
    BackupRule {
        rule_name: STAND_IN.into(),
        target_backup_vault_name: STAND_IN.into(),
        schedule_expression: DEFAULT_SCHEDULE.into(),
        schedule_expression_timezone: None,
        start_window_minutes: DEFAULT_START_WINDOW_MINUTES,
        completion_window_minutes: DEFAULT_COMPLETION_WINDOW_MINUTES,
        lifecycle: Lifecycle::default(),
        recovery_point_tags: Default::default(),
        copy_actions: Vec::new(),
        enable_continuous_backup: false,
    }
}

/// Reads a rule, with stand-ins for what is missing or unreadable; the
/// plan validates it.
fn read_rule(reader: &mut Reader<'_>, node: &Node, src: &str, model: &str) -> BackupRule {
    let known = [
        "RuleName",
        "TargetBackupVault",
        "ScheduleExpression",
        "ScheduleExpressionTimezone",
        "StartWindowMinutes",
        "CompletionWindowMinutes",
        "Lifecycle",
        "RecoveryPointTags",
        "CopyActions",
        "EnableContinuousBackup",
        "IndexActions",
        "ScanActions",
    ];
    let Some(f) = reader.fields(node, src, model, &known) else {
        return stand_in_rule();
    };
    let name = req_string(reader, &f, "RuleName", "RuleName");
    let target = req_string(reader, &f, "TargetBackupVault", "TargetBackupVaultName");
    if let (Some(target), Some(node)) = (&target, f.get("TargetBackupVault")) {
        // AWS takes a name here (^[a-zA-Z0-9\-\_]{2,50}$), and rejects an ARN.
        if let Ok(arn) = Arn::parse(target) {
            let hint = match arn.backup_vault_name() {
                Some(name) => format!(
                    "use the vault's name, {name:?}, or !Ref MyVault (a vault's Ref is its name)"
                ),
                None => "use the vault's name, or !Ref MyVault (a vault's Ref is its name)".into(),
            };
            reader
                .error(
                    node.pos,
                    &f.src("TargetBackupVault"),
                    format!("TargetBackupVault takes a backup vault name, not an ARN ({target:?})"),
                )
                .hint(hint);
            reader.reported(&f.model("TargetBackupVaultName"));
        }
    }
    for unsupported in ["IndexActions", "ScanActions"] {
        if let Some(n) = f.get(unsupported) {
            reader.warning(
                n.pos,
                &f.src(unsupported),
                format!("{unsupported} (AWS recovery-point indexing and malware scanning) are not available in Coffer; ignored"),
            );
        }
    }
    let lifecycle = f
        .get("Lifecycle")
        .map(|n| read_lifecycle(reader, n, &f.src("Lifecycle"), &f.model("Lifecycle")))
        .unwrap_or_default();
    let mut copy_actions = Vec::new();
    if let Some(list) = f.get("CopyActions") {
        for (idx, item) in reader
            .list(list, &f.src("CopyActions"), &f.model("CopyActions"))
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let item_src = format!("{}[{idx}]", f.src("CopyActions"));
            let item_model = format!("{}[{idx}]", f.model("CopyActions"));
            let Some(cf) = reader.fields(
                item,
                &item_src,
                &item_model,
                &["DestinationBackupVaultArn", "Lifecycle"],
            ) else {
                copy_actions.push(CopyAction {
                    destination_backup_vault_arn: STAND_IN.into(),
                    lifecycle: Lifecycle::default(),
                });
                continue;
            };
            let destination = req_string(
                reader,
                &cf,
                "DestinationBackupVaultArn",
                "DestinationBackupVaultArn",
            );
            if let (Some(destination), Some(node)) =
                (&destination, cf.get("DestinationBackupVaultArn"))
            {
                warn_foreign_partition(
                    reader,
                    node,
                    &cf.src("DestinationBackupVaultArn"),
                    destination,
                );
            }
            let lifecycle = cf
                .get("Lifecycle")
                .map(|n| read_lifecycle(reader, n, &cf.src("Lifecycle"), &cf.model("Lifecycle")))
                .unwrap_or_default();
            copy_actions.push(CopyAction {
                destination_backup_vault_arn: or_stand_in(destination),
                lifecycle,
            });
        }
    }
    BackupRule {
        rule_name: or_stand_in(name),
        target_backup_vault_name: or_stand_in(target),
        schedule_expression: opt_string(reader, &f, "ScheduleExpression", "ScheduleExpression")
            .unwrap_or_else(|| DEFAULT_SCHEDULE.to_string()),
        schedule_expression_timezone: opt_string(
            reader,
            &f,
            "ScheduleExpressionTimezone",
            "ScheduleExpressionTimezone",
        ),
        start_window_minutes: f
            .get("StartWindowMinutes")
            .and_then(|n| {
                reader.uint(
                    n,
                    &f.src("StartWindowMinutes"),
                    &f.model("StartWindowMinutes"),
                )
            })
            .unwrap_or(DEFAULT_START_WINDOW_MINUTES),
        completion_window_minutes: f
            .get("CompletionWindowMinutes")
            .and_then(|n| {
                reader.uint(
                    n,
                    &f.src("CompletionWindowMinutes"),
                    &f.model("CompletionWindowMinutes"),
                )
            })
            .unwrap_or(DEFAULT_COMPLETION_WINDOW_MINUTES),
        lifecycle,
        recovery_point_tags: f
            .get("RecoveryPointTags")
            .map(|n| {
                reader.tags(
                    n,
                    &f.src("RecoveryPointTags"),
                    &f.model("RecoveryPointTags"),
                )
            })
            .unwrap_or_default(),
        copy_actions,
        enable_continuous_backup: f
            .get("EnableContinuousBackup")
            .and_then(|n| {
                reader.boolean(
                    n,
                    &f.src("EnableContinuousBackup"),
                    &f.model("EnableContinuousBackup"),
                )
            })
            .unwrap_or(false),
    }
}

/// A copy to a vault of another partition (`arn:aws:backup:...`) is what AWS
/// accepts, but no Coffer vault is there: every copy would fail.
fn warn_foreign_partition(reader: &mut Reader<'_>, node: &Node, src: &str, destination: &str) {
    let Ok(arn) = Arn::parse(destination) else {
        return;
    };
    if arn.partition() != PARTITION && arn.backup_vault_name().is_some() {
        reader
            .warning(
                node.pos,
                src,
                format!(
                    "every copy of this action will fail: {destination:?} is a vault of partition {:?}, and Coffer's vaults are in partition {PARTITION:?}",
                    arn.partition()
                ),
            )
            .hint("copy to a Coffer vault: !GetAtt MyVault.BackupVaultArn, or arn:coffer:backup:<region>:<account>:backup-vault:<name>");
    }
}

pub(crate) fn read_plan(reader: &mut Reader<'_>, props: &Node) -> Option<BackupPlan> {
    let outer = reader.fields(props, "", "", &["BackupPlan", "BackupPlanTags"])?;
    let tags = outer
        .get("BackupPlanTags")
        .map(|n| reader.tags(n, "BackupPlanTags", "BackupPlanTags"))
        .unwrap_or_default();
    let inner = reader.required(&outer, "BackupPlan")?;
    // Field paths start inside `BackupPlan`, as the plan's own fields.
    let f = reader.fields(
        inner,
        "",
        "",
        &["BackupPlanName", "BackupPlanRule", "AdvancedBackupSettings"],
    )?;
    let name = req_string(reader, &f, "BackupPlanName", "BackupPlanName");
    let mut rules = Vec::new();
    if let Some(list) = reader.required(&f, "BackupPlanRule") {
        reader.register("Rules", "BackupPlanRule", list.pos);
        for (idx, item) in reader
            .list(list, "BackupPlanRule", "Rules")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            rules.push(read_rule(
                reader,
                item,
                &format!("BackupPlanRule[{idx}]"),
                &format!("Rules[{idx}]"),
            ));
        }
    } else {
        // Already reported missing; an empty plan would be reported again.
        reader.unreadable("Rules");
    }
    let mut advanced = Vec::new();
    if let Some(list) = f.get("AdvancedBackupSettings") {
        for (idx, item) in reader
            .list(list, "AdvancedBackupSettings", "AdvancedBackupSettings")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let src = format!("AdvancedBackupSettings[{idx}]");
            let Some(af) = reader.fields(item, &src, &src, &["ResourceType", "BackupOptions"])
            else {
                continue;
            };
            let resource_type = req_string(reader, &af, "ResourceType", "ResourceType");
            let options = reader
                .required(&af, "BackupOptions")
                .map(|n| reader.tags(n, &af.src("BackupOptions"), &af.model("BackupOptions")))
                .unwrap_or_default();
            if let Some(resource_type) = resource_type {
                if let Some(n) = af.get("ResourceType") {
                    reader.warning(
                        n.pos,
                        &af.src("ResourceType"),
                        format!("advanced backup settings for {resource_type} (Windows VSS, S3 ACLs) have no effect on Coffer's drivers"),
                    );
                }
                advanced.push(AdvancedBackupSetting {
                    resource_type,
                    backup_options: options,
                });
            }
        }
    }
    let plan = BackupPlan {
        backup_plan_name: or_stand_in(name),
        rules,
        advanced_backup_settings: advanced,
        backup_plan_tags: tags,
    };
    reader.findings("", plan.validate());
    // A plan with a part that could not be read is not what the file says:
    // leave it out rather than judge its defaults.
    complete(reader, plan)
}

/// ARN patterns of `Resources` or `NotResources`; `None` for one already
/// reported as not an ARN.
fn read_patterns(reader: &mut Reader<'_>, f: &Fields<'_>, field: &str) -> Vec<Option<ArnPattern>> {
    let mut out = Vec::new();
    let Some(list) = f.get(field) else { return out };
    for (idx, item) in reader
        .list(list, &f.src(field), field)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let src = format!("{}[{idx}]", f.src(field));
        let model = format!("{field}[{idx}]");
        match reader.string(item, &src, &model) {
            Some(text) => match ArnPattern::parse(&text) {
                Ok(p) => out.push(Some(p)),
                Err(err) => {
                    reader.error(item.pos, &src, err.to_string());
                    reader.reported(&model);
                    out.push(None);
                }
            },
            None => out.push(None),
        }
    }
    out
}

/// Patterns as validated: a stand-in (that matches everything, and that no
/// finding is reported about) keeps each pattern at its index.
fn with_stand_ins(patterns: &[Option<ArnPattern>]) -> Vec<ArnPattern> {
    let any = ArnPattern::parse("*").ok();
    patterns
        .iter()
        .filter_map(|p| p.clone().or_else(|| any.clone()))
        .collect()
}

pub(crate) fn read_selection(reader: &mut Reader<'_>, props: &Node) -> Option<BackupSelection> {
    let outer = reader.fields(props, "", "", &["BackupPlanId", "BackupSelection"])?;
    let plan = req_string(reader, &outer, "BackupPlanId", "BackupPlanName");
    let inner = reader.required(&outer, "BackupSelection")?;
    let known = [
        "SelectionName",
        "IamRoleArn",
        "ListOfTags",
        "Resources",
        "NotResources",
        "Conditions",
    ];
    let f = reader.fields(inner, "BackupSelection", "", &known)?;
    let name = req_string(reader, &f, "SelectionName", "SelectionName");
    let role = req_string(reader, &f, "IamRoleArn", "IamRoleArn");
    let resources = read_patterns(reader, &f, "Resources");
    let not_resources = read_patterns(reader, &f, "NotResources");
    let mut list_of_tags = Vec::new();
    if let Some(list) = f.get("ListOfTags") {
        for (idx, item) in reader
            .list(list, &f.src("ListOfTags"), "ListOfTags")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let src = format!("{}[{idx}]", f.src("ListOfTags"));
            let model = format!("ListOfTags[{idx}]");
            let condition = match reader.fields(
                item,
                &src,
                &model,
                &["ConditionType", "ConditionKey", "ConditionValue"],
            ) {
                Some(tf) => TagCondition {
                    condition_type: or_stand_in(req_string(
                        reader,
                        &tf,
                        "ConditionType",
                        "ConditionType",
                    )),
                    condition_key: or_stand_in(req_string(
                        reader,
                        &tf,
                        "ConditionKey",
                        "ConditionKey",
                    )),
                    condition_value: or_stand_in(req_string(
                        reader,
                        &tf,
                        "ConditionValue",
                        "ConditionValue",
                    )),
                },
                None => TagCondition {
                    condition_type: STAND_IN.into(),
                    condition_key: STAND_IN.into(),
                    condition_value: STAND_IN.into(),
                },
            };
            list_of_tags.push(condition);
        }
    }
    let mut conditions = Conditions::default();
    if let Some(node) = f.get("Conditions") {
        let operators = [
            "StringEquals",
            "StringNotEquals",
            "StringLike",
            "StringNotLike",
        ];
        if let Some(cf) = reader.fields(node, &f.src("Conditions"), "Conditions", &operators) {
            for operator in operators {
                let Some(list) = cf.get(operator) else {
                    continue;
                };
                let op_src = cf.src(operator);
                let op_model = cf.model(operator);
                let mut params = Vec::new();
                for (idx, item) in reader
                    .list(list, &op_src, &op_model)
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                {
                    let src = format!("{op_src}[{idx}]");
                    let model = format!("{op_model}[{idx}]");
                    let param = match reader.fields(
                        item,
                        &src,
                        &model,
                        &["ConditionKey", "ConditionValue"],
                    ) {
                        Some(pf) => ConditionParameter {
                            condition_key: or_stand_in(req_string(
                                reader,
                                &pf,
                                "ConditionKey",
                                "ConditionKey",
                            )),
                            condition_value: or_stand_in(req_string(
                                reader,
                                &pf,
                                "ConditionValue",
                                "ConditionValue",
                            )),
                        },
                        None => ConditionParameter {
                            condition_key: STAND_IN.into(),
                            condition_value: STAND_IN.into(),
                        },
                    };
                    params.push(param);
                }
                match operator {
                    "StringEquals" => conditions.string_equals = params,
                    "StringNotEquals" => conditions.string_not_equals = params,
                    "StringLike" => conditions.string_like = params,
                    _ => conditions.string_not_like = params,
                }
            }
        }
    }
    let mut selection = BackupSelection {
        selection_name: or_stand_in(name),
        backup_plan_name: or_stand_in(plan),
        iam_role_arn: or_stand_in(role),
        resources: with_stand_ins(&resources),
        not_resources: with_stand_ins(&not_resources),
        list_of_tags,
        conditions,
    };
    reader.findings("", selection.validate());
    if reader.any_unreadable() {
        return None;
    }
    // What is declared: the patterns that are ARNs (the others are errors).
    selection.resources = resources.into_iter().flatten().collect();
    selection.not_resources = not_resources.into_iter().flatten().collect();
    Some(selection)
}

pub(crate) fn read_framework(
    reader: &mut Reader<'_>,
    props: &Node,
    logical_id: &str,
) -> Option<Framework> {
    let known = [
        "FrameworkName",
        "FrameworkDescription",
        "FrameworkControls",
        "FrameworkTags",
    ];
    let f = reader.fields(props, "", "", &known)?;
    // CloudFormation names a framework after its logical ID when no name is given.
    let name = match f.get("FrameworkName") {
        Some(_) => or_stand_in(opt_string(reader, &f, "FrameworkName", "FrameworkName")),
        None => logical_id.to_string(),
    };
    let description =
        opt_string(reader, &f, "FrameworkDescription", "FrameworkDescription").unwrap_or_default();
    let tags = f
        .get("FrameworkTags")
        .map(|n| reader.tags(n, "FrameworkTags", "FrameworkTags"))
        .unwrap_or_default();
    let mut controls = Vec::new();
    if let Some(list) = reader.required(&f, "FrameworkControls") {
        for (idx, item) in reader
            .list(list, "FrameworkControls", "FrameworkControls")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            controls.push(read_control(
                reader,
                item,
                &format!("FrameworkControls[{idx}]"),
            ));
        }
    }
    let framework = Framework {
        framework_name: name,
        framework_description: description,
        framework_controls: controls,
        framework_tags: tags,
    };
    reader.findings("", framework.validate());
    complete(reader, framework)
}

fn read_control(reader: &mut Reader<'_>, node: &Node, path: &str) -> FrameworkControl {
    let Some(f) = reader.fields(
        node,
        path,
        path,
        &["ControlName", "ControlInputParameters", "ControlScope"],
    ) else {
        return FrameworkControl {
            control_name: STAND_IN.into(),
            control_input_parameters: Vec::new(),
            control_scope: ControlScope::default(),
        };
    };
    let name = req_string(reader, &f, "ControlName", "ControlName");
    let mut params = Vec::new();
    if let Some(list) = f.get("ControlInputParameters") {
        let list_path = f.src("ControlInputParameters");
        for (idx, item) in reader
            .list(list, &list_path, &list_path)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let item_path = format!("{list_path}[{idx}]");
            let param = match reader.fields(
                item,
                &item_path,
                &item_path,
                &["ParameterName", "ParameterValue"],
            ) {
                Some(pf) => ControlInputParameter {
                    parameter_name: or_stand_in(req_string(
                        reader,
                        &pf,
                        "ParameterName",
                        "ParameterName",
                    )),
                    parameter_value: or_stand_in(req_string(
                        reader,
                        &pf,
                        "ParameterValue",
                        "ParameterValue",
                    )),
                },
                None => ControlInputParameter {
                    parameter_name: STAND_IN.into(),
                    parameter_value: STAND_IN.into(),
                },
            };
            params.push(param);
        }
    }
    let mut scope = ControlScope::default();
    if let Some(node) = f.get("ControlScope") {
        let scope_path = f.src("ControlScope");
        if let Some(sf) = reader.fields(
            node,
            &scope_path,
            &scope_path,
            &["ComplianceResourceIds", "ComplianceResourceTypes", "Tags"],
        ) {
            scope.compliance_resource_ids = string_list(reader, &sf, "ComplianceResourceIds");
            scope.compliance_resource_types = string_list(reader, &sf, "ComplianceResourceTypes");
            if let Some(tags) = sf.get("Tags") {
                scope.tags = reader.tags(tags, &sf.src("Tags"), &sf.model("Tags"));
            }
        }
    }
    FrameworkControl {
        control_name: or_stand_in(name),
        control_input_parameters: params,
        control_scope: scope,
    }
}

pub(crate) fn read_report_plan(
    reader: &mut Reader<'_>,
    props: &Node,
    logical_id: &str,
) -> Option<ReportPlan> {
    let known = [
        "ReportPlanName",
        "ReportPlanDescription",
        "ReportDeliveryChannel",
        "ReportSetting",
        "ReportPlanTags",
        // Coffer's extension: when the plan runs.
        "ReportSchedule",
    ];
    let f = reader.fields(props, "", "", &known)?;
    let name = match f.get("ReportPlanName") {
        Some(_) => or_stand_in(opt_string(reader, &f, "ReportPlanName", "ReportPlanName")),
        None => logical_id.to_string(),
    };
    let description = opt_string(reader, &f, "ReportPlanDescription", "ReportPlanDescription")
        .unwrap_or_default();
    let tags = f
        .get("ReportPlanTags")
        .map(|n| reader.tags(n, "ReportPlanTags", "ReportPlanTags"))
        .unwrap_or_default();
    let channel = reader
        .required(&f, "ReportDeliveryChannel")
        .and_then(|node| {
            reader.fields(
                node,
                "ReportDeliveryChannel",
                "ReportDeliveryChannel",
                &["S3BucketName", "S3KeyPrefix", "Formats"],
            )
        })
        .map_or_else(
            || ReportDeliveryChannel {
                s3_bucket_name: STAND_IN.into(),
                s3_key_prefix: None,
                formats: Vec::new(),
            },
            |cf| ReportDeliveryChannel {
                s3_bucket_name: or_stand_in(req_string(
                    reader,
                    &cf,
                    "S3BucketName",
                    "S3BucketName",
                )),
                s3_key_prefix: opt_string(reader, &cf, "S3KeyPrefix", "S3KeyPrefix"),
                formats: match cf.get("Formats") {
                    Some(n) => reader.string_list(n, &cf.src("Formats"), &cf.model("Formats")),
                    None => vec!["CSV".to_string()],
                },
            },
        );
    let setting = reader
        .required(&f, "ReportSetting")
        .and_then(|node| {
            reader.fields(
                node,
                "ReportSetting",
                "ReportSetting",
                &[
                    "ReportTemplate",
                    "FrameworkArns",
                    "Accounts",
                    "OrganizationUnits",
                    "Regions",
                ],
            )
        })
        .map_or_else(
            || ReportSetting {
                report_template: STAND_IN.into(),
                framework_arns: Vec::new(),
                number_of_frameworks: None,
                accounts: Vec::new(),
                organization_units: Vec::new(),
                regions: Vec::new(),
            },
            |sf| ReportSetting {
                report_template: or_stand_in(req_string(
                    reader,
                    &sf,
                    "ReportTemplate",
                    "ReportTemplate",
                )),
                framework_arns: string_list(reader, &sf, "FrameworkArns"),
                number_of_frameworks: None,
                accounts: string_list(reader, &sf, "Accounts"),
                organization_units: string_list(reader, &sf, "OrganizationUnits"),
                regions: string_list(reader, &sf, "Regions"),
            },
        );
    let schedule = f
        .get("ReportSchedule")
        .and_then(|node| {
            reader.fields(
                node,
                "ReportSchedule",
                "ReportSchedule",
                &["ScheduleExpression", "ScheduleExpressionTimezone"],
            )
        })
        .map(|sf| ReportSchedule {
            schedule_expression: or_stand_in(req_string(
                reader,
                &sf,
                "ScheduleExpression",
                "ScheduleExpression",
            )),
            schedule_expression_timezone: opt_string(
                reader,
                &sf,
                "ScheduleExpressionTimezone",
                "ScheduleExpressionTimezone",
            ),
        });
    let plan = ReportPlan {
        report_plan_name: name,
        report_plan_description: description,
        report_delivery_channel: channel,
        report_setting: setting,
        report_plan_tags: tags,
        report_schedule: schedule,
    };
    reader.findings("", plan.validate());
    complete(reader, plan)
}

/// A policy document: a mapping, or a JSON string (as CloudFormation
/// accepts both).
fn read_document(reader: &mut Reader<'_>, node: &Node, src: &str) -> Option<serde_json::Value> {
    reader.register(src, src, node.pos);
    match &node.value {
        Value::Map(_) => Some(node.to_json()),
        Value::String(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(doc) => Some(doc),
            Err(err) => {
                reader.error(node.pos, src, format!("is not valid JSON: {err}"));
                None
            }
        },
        Value::Unresolved => {
            reader.unreadable(src);
            None
        }
        _ => {
            reader.error(
                node.pos,
                src,
                format!(
                    "must be a policy document (mapping or JSON string), found {}",
                    node.kind_name()
                ),
            );
            None
        }
    }
}

/// `Policies` of a user or role: inline policies, each a name and a
/// document.
fn read_inline_policies(reader: &mut Reader<'_>, f: &Fields<'_>) -> Vec<InlinePolicy> {
    let Some(list) = f.get("Policies") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (idx, item) in reader
        .list(list, "Policies", "Policies")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let path = format!("Policies[{idx}]");
        let Some(pf) = reader.fields(item, &path, &path, &["PolicyName", "PolicyDocument"]) else {
            continue;
        };
        let name = or_stand_in(req_string(reader, &pf, "PolicyName", "PolicyName"));
        let document = match reader.required(&pf, "PolicyDocument") {
            Some(node) => read_document(reader, node, &pf.src("PolicyDocument")),
            None => None,
        };
        out.push(InlinePolicy {
            policy_name: name,
            policy_document: document.unwrap_or(serde_json::Value::Null),
        });
    }
    out
}

/// The name of an IAM object: its name property, else (as CloudFormation
/// does with a generated name, here stable) its logical ID.
fn iam_name(reader: &mut Reader<'_>, f: &Fields<'_>, field: &str, logical_id: &str) -> String {
    match f.get(field) {
        Some(_) => or_stand_in(opt_string(reader, f, field, field)),
        None => logical_id.to_string(),
    }
}

pub(crate) fn read_user(
    reader: &mut Reader<'_>,
    props: &Node,
    logical_id: &str,
) -> Option<IamUser> {
    let known = ["UserName", "Policies", "ManagedPolicyArns", "Path", "Tags"];
    let f = reader.fields(props, "", "", &known)?;
    let user = IamUser {
        user_name: iam_name(reader, &f, "UserName", logical_id),
        policies: read_inline_policies(reader, &f),
        managed_policy_arns: string_list(reader, &f, "ManagedPolicyArns"),
    };
    for (name, what) in [("Path", "a path"), ("Tags", "tags")] {
        if let Some(node) = f.get(name) {
            reader.warning(
                node.pos,
                name,
                format!("Coffer keeps no {what} for IAM users; it is ignored"),
            );
        }
    }
    reader.findings("", user.validate());
    complete(reader, user)
}

pub(crate) fn read_managed_policy(
    reader: &mut Reader<'_>,
    props: &Node,
    logical_id: &str,
) -> Option<ManagedPolicy> {
    let known = [
        "ManagedPolicyName",
        "Description",
        "PolicyDocument",
        "Users",
        "Roles",
        "Groups",
        "Path",
    ];
    let f = reader.fields(props, "", "", &known)?;
    let name = iam_name(reader, &f, "ManagedPolicyName", logical_id);
    let description = opt_string(reader, &f, "Description", "Description").unwrap_or_default();
    let document = match reader.required(&f, "PolicyDocument") {
        Some(node) => read_document(reader, node, "PolicyDocument"),
        None => None,
    };
    for (name, what) in [
        ("Groups", "IAM groups, so attaching a policy to groups"),
        ("Path", "IAM paths, so a policy's path"),
    ] {
        if let Some(node) = f.get(name) {
            reader.error(
                node.pos,
                name,
                format!("Coffer has no {what} has no meaning here"),
            ).hint("attach the policy to users with Users, or name it in each user's ManagedPolicyArns");
        }
    }
    if let Some(node) = f.get("Roles") {
        reader.warning(
            node.pos,
            "Roles",
            "nothing acts as a role in Coffer (it has no STS), so attaching a policy to roles grants nothing",
        );
    }
    let policy = ManagedPolicy {
        managed_policy_name: name,
        description,
        policy_document: document.unwrap_or(serde_json::Value::Null),
        users: string_list(reader, &f, "Users"),
    };
    reader.findings("", policy.validate());
    complete(reader, policy)
}

pub(crate) fn read_role(
    reader: &mut Reader<'_>,
    props: &Node,
    logical_id: &str,
) -> Option<IamRole> {
    let known = [
        "RoleName",
        "AssumeRolePolicyDocument",
        "Policies",
        "ManagedPolicyArns",
        "Description",
        "MaxSessionDuration",
        "Path",
        "PermissionsBoundary",
        "Tags",
    ];
    let f = reader.fields(props, "", "", &known)?;
    let role = IamRole {
        role_name: iam_name(reader, &f, "RoleName", logical_id),
        assume_role_policy_document: f
            .get("AssumeRolePolicyDocument")
            .and_then(|node| read_document(reader, node, "AssumeRolePolicyDocument")),
        policies: read_inline_policies(reader, &f),
        managed_policy_arns: string_list(reader, &f, "ManagedPolicyArns"),
    };
    reader.findings("", role.validate());
    complete(reader, role)
}

pub(crate) fn read_restore_testing_plan(
    reader: &mut Reader<'_>,
    props: &Node,
) -> Option<RestoreTestingPlan> {
    let known = [
        "RestoreTestingPlanName",
        "ScheduleExpression",
        "ScheduleExpressionTimezone",
        "StartWindowHours",
        "RecoveryPointSelection",
        "Tags",
    ];
    let f = reader.fields(props, "", "", &known)?;
    let name = req_string(
        reader,
        &f,
        "RestoreTestingPlanName",
        "RestoreTestingPlanName",
    );
    let schedule = req_string(reader, &f, "ScheduleExpression", "ScheduleExpression");
    let zone = opt_string(
        reader,
        &f,
        "ScheduleExpressionTimezone",
        "ScheduleExpressionTimezone",
    );
    let start_window =
        opt_u32(reader, &f, "StartWindowHours").unwrap_or(DEFAULT_RESTORE_TEST_START_WINDOW_HOURS);
    if let Some(n) = f.get("Tags") {
        reader.tags(n, "Tags", "Tags");
    }
    let mut selection = RestoreTestingRecoveryPointSelection {
        algorithm: STAND_IN.into(),
        include_vaults: vec!["*".into()],
        exclude_vaults: Vec::new(),
        recovery_point_types: vec!["SNAPSHOT".into()],
        selection_window_days: DEFAULT_SELECTION_WINDOW_DAYS,
    };
    if let Some(node) = reader.required(&f, "RecoveryPointSelection") {
        let known = [
            "Algorithm",
            "IncludeVaults",
            "ExcludeVaults",
            "RecoveryPointTypes",
            "SelectionWindowDays",
        ];
        if let Some(sf) = reader.fields(
            node,
            "RecoveryPointSelection",
            "RecoveryPointSelection",
            &known,
        ) {
            selection.algorithm = or_stand_in(req_string(reader, &sf, "Algorithm", "Algorithm"));
            if reader.required(&sf, "IncludeVaults").is_some() {
                selection.include_vaults = string_list(reader, &sf, "IncludeVaults");
            }
            selection.exclude_vaults = string_list(reader, &sf, "ExcludeVaults");
            if reader.required(&sf, "RecoveryPointTypes").is_some() {
                selection.recovery_point_types = string_list(reader, &sf, "RecoveryPointTypes");
            }
            selection.selection_window_days = opt_u32(reader, &sf, "SelectionWindowDays")
                .unwrap_or(DEFAULT_SELECTION_WINDOW_DAYS);
        }
    }
    let plan = RestoreTestingPlan {
        restore_testing_plan_name: or_stand_in(name),
        schedule_expression: or_stand_in(schedule),
        schedule_expression_timezone: zone,
        start_window_hours: start_window,
        recovery_point_selection: selection,
    };
    reader.findings("", plan.validate());
    complete(reader, plan)
}

fn read_key_values(reader: &mut Reader<'_>, f: &Fields<'_>, name: &str) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let Some(list) = f.get(name) else { return out };
    for (idx, item) in reader
        .list(list, &f.src(name), &f.model(name))
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let src = format!("{}[{idx}]", f.src(name));
        let Some(kf) = reader.fields(item, &src, &src, &["Key", "Value"]) else {
            continue;
        };
        out.push(KeyValue {
            key: or_stand_in(req_string(reader, &kf, "Key", "Key")),
            value: or_stand_in(req_string(reader, &kf, "Value", "Value")),
        });
    }
    out
}

pub(crate) fn read_restore_testing_selection(
    reader: &mut Reader<'_>,
    props: &Node,
) -> Option<RestoreTestingSelection> {
    let known = [
        "RestoreTestingPlanName",
        "RestoreTestingSelectionName",
        "ProtectedResourceType",
        "IamRoleArn",
        "ProtectedResourceArns",
        "ProtectedResourceConditions",
        "RestoreMetadataOverrides",
        "ValidationWindowHours",
        "CofferValidationHook",
    ];
    let f = reader.fields(props, "", "", &known)?;
    let plan = req_string(
        reader,
        &f,
        "RestoreTestingPlanName",
        "RestoreTestingPlanName",
    );
    let name = req_string(
        reader,
        &f,
        "RestoreTestingSelectionName",
        "RestoreTestingSelectionName",
    );
    let resource_type = req_string(reader, &f, "ProtectedResourceType", "ProtectedResourceType");
    let role = req_string(reader, &f, "IamRoleArn", "IamRoleArn");
    let arns = string_list(reader, &f, "ProtectedResourceArns");
    let (mut equals, mut not_equals) = (Vec::new(), Vec::new());
    if let Some(node) = f.get("ProtectedResourceConditions") {
        if let Some(cf) = reader.fields(
            node,
            "ProtectedResourceConditions",
            "ProtectedResourceConditions",
            &["StringEquals", "StringNotEquals"],
        ) {
            equals = read_key_values(reader, &cf, "StringEquals");
            not_equals = read_key_values(reader, &cf, "StringNotEquals");
        }
    }
    let overrides = f
        .get("RestoreMetadataOverrides")
        .map(|n| reader.tags(n, "RestoreMetadataOverrides", "RestoreMetadataOverrides"))
        .unwrap_or_default();
    let window = opt_u32(reader, &f, "ValidationWindowHours");
    let hook = f.get("CofferValidationHook").and_then(|node| {
        let hf = reader.fields(
            node,
            "CofferValidationHook",
            "CofferValidationHook",
            &["Command", "Sql", "Expect"],
        )?;
        Some(ValidationHook {
            command: string_list(reader, &hf, "Command"),
            sql: opt_string(reader, &hf, "Sql", "Sql"),
            expect: opt_string(reader, &hf, "Expect", "Expect"),
        })
    });
    if arns.is_empty() && f.get("ProtectedResourceArns").is_none() {
        reader.error(
            f.node.pos,
            "",
            "ProtectedResourceArns is required: a list of up to 30 resource ARNs, or [\"*\"] (with ProtectedResourceConditions to narrow it)",
        );
    }
    let selection = RestoreTestingSelection {
        restore_testing_selection_name: or_stand_in(name),
        restore_testing_plan_name: or_stand_in(plan),
        protected_resource_type: or_stand_in(resource_type),
        iam_role_arn: or_stand_in(role),
        protected_resource_arns: arns,
        protected_resource_conditions_string_equals: equals,
        protected_resource_conditions_string_not_equals: not_equals,
        restore_metadata_overrides: overrides,
        validation_window_hours: window,
        coffer_validation_hook: hook,
    };
    reader.findings("", selection.validate());
    complete(reader, selection)
}
