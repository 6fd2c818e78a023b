//! Backup plans and selections: the plan input shapes read into the
//! model's plan and selection (AWS's defaults filled in, each wrong member
//! named by its path), and the service's plan versions and selections
//! written as the output shapes. Rule and selection IDs are their names,
//! as plan IDs are.

use coffer_model::{
    AdvancedBackupSetting, ArnPattern, BackupPlan, BackupRule, BackupSelection, ConditionParameter,
    Conditions, CopyAction, Lifecycle, TagCondition, DEFAULT_COMPLETION_WINDOW_MINUTES,
    DEFAULT_SCHEDULE, DEFAULT_START_WINDOW_MINUTES,
};
use coffer_service::plans::{PlanVersion, SelectionSummary};
use coffer_service::{Caller, Service};
use serde_json::{Map, Value};

use super::{number, page, shape, text, time, Answer};
use crate::error::ApiError;
use crate::input::Input;

/// A JSON object of the input, read member by member, each error naming
/// the member's path (`BackupPlan.Rules[0].StartWindowMinutes`).
struct Members<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Members<'a> {
    fn of(path: &str, value: &'a Value, known: &[&str]) -> Result<Members<'a>, ApiError> {
        let Value::Object(map) = value else {
            return Err(ApiError::invalid(format!("{path} must be a structure")));
        };
        if let Some(other) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::invalid(format!(
                "{path} has no member {other:?}; its members are: {}",
                known.join(", ")
            )));
        }
        Ok(Members {
            path: path.to_string(),
            map,
        })
    }

    fn at(&self, member: &str) -> String {
        format!("{}.{member}", self.path)
    }

    fn get(&self, member: &str) -> Option<&'a Value> {
        self.map.get(member).filter(|v| !v.is_null())
    }

    fn string(&self, member: &str) -> Result<Option<String>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(format!(
                "{} must be a string",
                self.at(member)
            ))),
        }
    }

    fn required(&self, member: &str) -> Result<String, ApiError> {
        self.string(member)?
            .ok_or_else(|| ApiError::missing(format!("{} is required", self.at(member))))
    }

    fn whole(&self, member: &str) -> Result<Option<u64>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{} must be a whole number of at least 0",
                    self.at(member)
                ))
            }),
        }
    }

    fn days(&self, member: &str) -> Result<Option<u32>, ApiError> {
        self.whole(member)?
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| ApiError::invalid(format!("{} is too large", self.at(member))))
            })
            .transpose()
    }

    fn boolean(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(format!(
                "{} must be true or false",
                self.at(member)
            ))),
        }
    }

    fn list(&self, member: &str) -> Result<Vec<(String, &'a Value)>, ApiError> {
        match self.get(member) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}[{i}]", self.at(member)), v))
                .collect()),
            Some(_) => Err(ApiError::invalid(format!(
                "{} must be a list",
                self.at(member)
            ))),
        }
    }

    fn strings(&self, member: &str) -> Result<Vec<String>, ApiError> {
        self.list(member)?
            .into_iter()
            .map(|(path, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ApiError::invalid(format!("{path} must be a string"))),
            })
            .collect()
    }

    fn map(&self, member: &str) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
        match self.get(member) {
            None => Ok(Default::default()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ApiError::invalid(format!(
                        "{}.{k} must be a string",
                        self.at(member)
                    ))),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(format!(
                "{} must be a map of strings",
                self.at(member)
            ))),
        }
    }
}

fn read_lifecycle(path: &str, value: &Value) -> Result<Lifecycle, ApiError> {
    let m = Members::of(
        path,
        value,
        &[
            "MoveToColdStorageAfterDays",
            "DeleteAfterDays",
            "OptInToArchiveForSupportedResources",
        ],
    )?;
    Ok(Lifecycle {
        move_to_cold_storage_after_days: m.days("MoveToColdStorageAfterDays")?,
        delete_after_days: m.days("DeleteAfterDays")?,
        opt_in_to_archive_for_supported_resources: m
            .boolean("OptInToArchiveForSupportedResources")?
            .unwrap_or(false),
    })
}

fn read_rule(path: &str, value: &Value) -> Result<BackupRule, ApiError> {
    let m = Members::of(
        path,
        value,
        &[
            "RuleName",
            "TargetBackupVaultName",
            "ScheduleExpression",
            "StartWindowMinutes",
            "CompletionWindowMinutes",
            "Lifecycle",
            "RecoveryPointTags",
            "CopyActions",
            "EnableContinuousBackup",
            "ScheduleExpressionTimezone",
            // Read back from GetBackupPlan and given again: its name.
            "RuleId",
        ],
    )?;
    let mut copy_actions = Vec::new();
    for (item_path, item) in m.list("CopyActions")? {
        let c = Members::of(
            &item_path,
            item,
            &["DestinationBackupVaultArn", "Lifecycle"],
        )?;
        copy_actions.push(CopyAction {
            destination_backup_vault_arn: c.required("DestinationBackupVaultArn")?,
            lifecycle: match c.get("Lifecycle") {
                Some(v) => read_lifecycle(&c.at("Lifecycle"), v)?,
                None => Lifecycle::default(),
            },
        });
    }
    Ok(BackupRule {
        rule_name: m.required("RuleName")?,
        target_backup_vault_name: m.required("TargetBackupVaultName")?,
        schedule_expression: m
            .string("ScheduleExpression")?
            .unwrap_or_else(|| DEFAULT_SCHEDULE.to_string()),
        schedule_expression_timezone: m.string("ScheduleExpressionTimezone")?,
        start_window_minutes: m
            .whole("StartWindowMinutes")?
            .unwrap_or(DEFAULT_START_WINDOW_MINUTES),
        completion_window_minutes: m
            .whole("CompletionWindowMinutes")?
            .unwrap_or(DEFAULT_COMPLETION_WINDOW_MINUTES),
        lifecycle: match m.get("Lifecycle") {
            Some(v) => read_lifecycle(&m.at("Lifecycle"), v)?,
            None => Lifecycle::default(),
        },
        recovery_point_tags: m.map("RecoveryPointTags")?,
        copy_actions,
        enable_continuous_backup: m.boolean("EnableContinuousBackup")?.unwrap_or(false),
    })
}

/// A `BackupPlanInput` (or a plan document) at `path`, with AWS's defaults
/// for what a rule leaves out.
fn read_plan(path: &str, value: &Value) -> Result<BackupPlan, ApiError> {
    let m = Members::of(
        path,
        value,
        &["BackupPlanName", "Rules", "AdvancedBackupSettings"],
    )?;
    let mut rules = Vec::new();
    if m.get("Rules").is_none() {
        return Err(ApiError::missing(format!("{} is required", m.at("Rules"))));
    }
    for (rule_path, rule) in m.list("Rules")? {
        rules.push(read_rule(&rule_path, rule)?);
    }
    let mut advanced = Vec::new();
    for (item_path, item) in m.list("AdvancedBackupSettings")? {
        let a = Members::of(&item_path, item, &["ResourceType", "BackupOptions"])?;
        advanced.push(AdvancedBackupSetting {
            resource_type: a.required("ResourceType")?,
            backup_options: a.map("BackupOptions")?,
        });
    }
    Ok(BackupPlan {
        backup_plan_name: m.required("BackupPlanName")?,
        rules,
        advanced_backup_settings: advanced,
        backup_plan_tags: Default::default(),
    })
}

fn plan_input(input: &Input) -> Result<BackupPlan, ApiError> {
    let value = input
        .value("BackupPlan")
        .ok_or_else(|| ApiError::missing("BackupPlan is required"))?;
    read_plan("BackupPlan", value)
}

fn read_selection(value: &Value) -> Result<BackupSelection, ApiError> {
    let m = Members::of(
        "BackupSelection",
        value,
        &[
            "SelectionName",
            "IamRoleArn",
            "Resources",
            "NotResources",
            "ListOfTags",
            "Conditions",
        ],
    )?;
    let patterns = |member: &str| -> Result<Vec<ArnPattern>, ApiError> {
        m.strings(member)?
            .iter()
            .enumerate()
            .map(|(i, text)| {
                ArnPattern::parse(text)
                    .map_err(|e| ApiError::invalid(format!("{}[{i}] {text:?}: {e}", m.at(member))))
            })
            .collect()
    };
    let mut list_of_tags = Vec::new();
    for (path, item) in m.list("ListOfTags")? {
        let t = Members::of(
            &path,
            item,
            &["ConditionType", "ConditionKey", "ConditionValue"],
        )?;
        list_of_tags.push(TagCondition {
            condition_type: t.required("ConditionType")?,
            condition_key: t.required("ConditionKey")?,
            condition_value: t.required("ConditionValue")?,
        });
    }
    let mut conditions = Conditions::default();
    if let Some(value) = m.get("Conditions") {
        let operators = [
            "StringEquals",
            "StringNotEquals",
            "StringLike",
            "StringNotLike",
        ];
        let c = Members::of(&m.at("Conditions"), value, &operators)?;
        for operator in operators {
            let mut parameters = Vec::new();
            for (path, item) in c.list(operator)? {
                let p = Members::of(&path, item, &["ConditionKey", "ConditionValue"])?;
                parameters.push(ConditionParameter {
                    condition_key: p.required("ConditionKey")?,
                    condition_value: p.required("ConditionValue")?,
                });
            }
            match operator {
                "StringEquals" => conditions.string_equals = parameters,
                "StringNotEquals" => conditions.string_not_equals = parameters,
                "StringLike" => conditions.string_like = parameters,
                _ => conditions.string_not_like = parameters,
            }
        }
    }
    Ok(BackupSelection {
        selection_name: m.required("SelectionName")?,
        backup_plan_name: String::new(),
        iam_role_arn: m.required("IamRoleArn")?,
        resources: patterns("Resources")?,
        not_resources: patterns("NotResources")?,
        list_of_tags,
        conditions,
    })
}

fn lifecycle_member(lifecycle: &Lifecycle) -> Option<Value> {
    super::lifecycle(lifecycle)
}

fn tags_member(tags: &std::collections::BTreeMap<String, String>) -> Option<Value> {
    (!tags.is_empty()).then(|| {
        Value::Object(
            tags.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    })
}

fn advanced_member(plan: &BackupPlan) -> Option<Value> {
    (!plan.advanced_backup_settings.is_empty()).then(|| {
        Value::Array(
            plan.advanced_backup_settings
                .iter()
                .map(|a| {
                    shape(vec![
                        ("ResourceType", text(&a.resource_type)),
                        ("BackupOptions", tags_member(&a.backup_options)),
                    ])
                })
                .collect(),
        )
    })
}

/// The model's `BackupPlan` output shape.
fn plan_member(plan: &BackupPlan) -> Value {
    let rules = plan
        .rules
        .iter()
        .map(|rule| {
            let copies = (!rule.copy_actions.is_empty()).then(|| {
                Value::Array(
                    rule.copy_actions
                        .iter()
                        .map(|c| {
                            shape(vec![
                                ("Lifecycle", lifecycle_member(&c.lifecycle)),
                                (
                                    "DestinationBackupVaultArn",
                                    text(&c.destination_backup_vault_arn),
                                ),
                            ])
                        })
                        .collect(),
                )
            });
            shape(vec![
                ("RuleName", text(&rule.rule_name)),
                (
                    "TargetBackupVaultName",
                    text(&rule.target_backup_vault_name),
                ),
                ("ScheduleExpression", text(&rule.schedule_expression)),
                ("StartWindowMinutes", number(rule.start_window_minutes)),
                (
                    "CompletionWindowMinutes",
                    number(rule.completion_window_minutes),
                ),
                ("Lifecycle", lifecycle_member(&rule.lifecycle)),
                ("RecoveryPointTags", tags_member(&rule.recovery_point_tags)),
                ("RuleId", text(&rule.rule_name)),
                ("CopyActions", copies),
                (
                    "EnableContinuousBackup",
                    Some(Value::Bool(rule.enable_continuous_backup)),
                ),
                (
                    "ScheduleExpressionTimezone",
                    Some(Value::String(
                        rule.schedule_expression_timezone
                            .clone()
                            .unwrap_or_else(|| "Etc/UTC".to_string()),
                    )),
                ),
            ])
        })
        .collect();
    shape(vec![
        ("BackupPlanName", text(&plan.backup_plan_name)),
        ("Rules", Some(Value::Array(rules))),
        ("AdvancedBackupSettings", advanced_member(plan)),
    ])
}

pub(super) async fn create_backup_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let mut plan = plan_input(input)?;
    plan.backup_plan_tags = input.tags("BackupPlanTags")?;
    let created = service.create_backup_plan(caller, &plan).await?;
    Ok(shape(vec![
        ("BackupPlanId", text(&created.plan_id)),
        ("BackupPlanArn", text(&created.arn)),
        ("CreationDate", time(created.creation_date)),
        ("VersionId", text(&created.version_id)),
        ("AdvancedBackupSettings", advanced_member(&created.plan)),
    ]))
}

pub(super) async fn get_backup_plan(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .backup_plan(
            caller,
            input.required("BackupPlanId")?,
            input.str("VersionId")?,
        )
        .await?;
    Ok(shape(vec![
        ("BackupPlan", Some(plan_member(&found.plan))),
        ("BackupPlanId", text(&found.plan_id)),
        ("BackupPlanArn", text(&found.arn)),
        ("VersionId", text(&found.version_id)),
        ("CreationDate", time(found.creation_date)),
        ("DeletionDate", found.deletion_date.and_then(time)),
        (
            "LastExecutionDate",
            found.last_execution_date.and_then(time),
        ),
        ("AdvancedBackupSettings", advanced_member(&found.plan)),
        (
            "CreatorRequestId",
            found.creator_request_id.as_deref().and_then(text),
        ),
    ]))
}

fn plan_list_member(plan: &PlanVersion) -> Value {
    shape(vec![
        ("BackupPlanArn", text(&plan.arn)),
        ("BackupPlanId", text(&plan.plan_id)),
        ("CreationDate", time(plan.creation_date)),
        ("DeletionDate", plan.deletion_date.and_then(time)),
        ("VersionId", text(&plan.version_id)),
        ("BackupPlanName", text(&plan.plan.backup_plan_name)),
        ("LastExecutionDate", plan.last_execution_date.and_then(time)),
        ("AdvancedBackupSettings", advanced_member(&plan.plan)),
        (
            "CreatorRequestId",
            plan.creator_request_id.as_deref().and_then(text),
        ),
    ])
}

pub(super) async fn list_backup_plans(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .list_backup_plans(
            caller,
            &page(input)?,
            input.bool("IncludeDeleted")?.unwrap_or(false),
        )
        .await?;
    Ok(shape(vec![
        (
            "BackupPlansList",
            Some(Value::Array(
                found.items.iter().map(plan_list_member).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn list_backup_plan_versions(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .backup_plan_versions(caller, input.required("BackupPlanId")?, &page(input)?)
        .await?;
    // Each version was created when it was written.
    let versions = found
        .items
        .iter()
        .map(|v| {
            let mut member = plan_list_member(v);
            if let Some(map) = member.as_object_mut() {
                if let Some(at) = time(v.version_date) {
                    map.insert("CreationDate".into(), at);
                }
            }
            member
        })
        .collect();
    Ok(shape(vec![
        ("BackupPlanVersionsList", Some(Value::Array(versions))),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn update_backup_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let plan = plan_input(input)?;
    let updated = service
        .update_backup_plan(caller, input.required("BackupPlanId")?, &plan)
        .await?;
    Ok(shape(vec![
        ("BackupPlanId", text(&updated.plan_id)),
        ("BackupPlanArn", text(&updated.arn)),
        ("CreationDate", time(updated.version_date)),
        ("VersionId", text(&updated.version_id)),
        ("AdvancedBackupSettings", advanced_member(&updated.plan)),
    ]))
}

pub(super) async fn delete_backup_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let deleted = service
        .delete_backup_plan(caller, input.required("BackupPlanId")?)
        .await?;
    Ok(shape(vec![
        ("BackupPlanId", text(&deleted.plan_id)),
        ("BackupPlanArn", text(&deleted.arn)),
        ("DeletionDate", deleted.deletion_date.and_then(time)),
        ("VersionId", text(&deleted.version_id)),
    ]))
}

/// GetBackupPlanFromJSON: the document is a `BackupPlanInput` (or
/// `{"BackupPlan": ...}` holding one), checked as CreateBackupPlan checks
/// it but for the vaults, and echoed as the `BackupPlan` output shape.
pub(super) async fn backup_plan_from_json(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let document = input.required("BackupPlanTemplateJson")?;
    let value: Value = serde_json::from_str(document)
        .map_err(|e| ApiError::invalid(format!("BackupPlanTemplateJson is not JSON: {e}")))?;
    let inner = match value.get("BackupPlan") {
        Some(inner) if value.as_object().is_some_and(|m| m.len() == 1) => inner,
        _ => &value,
    };
    let plan = read_plan("BackupPlan", inner)?;
    service.check_backup_plan_document(caller, &plan)?;
    Ok(shape(vec![("BackupPlan", Some(plan_member(&plan)))]))
}

fn selection_member(selection: &BackupSelection) -> Value {
    let patterns = |items: &[ArnPattern]| {
        (!items.is_empty())
            .then(|| Value::Array(items.iter().map(|p| Value::String(p.to_string())).collect()))
    };
    let parameters = |items: &[ConditionParameter]| {
        Value::Array(
            items
                .iter()
                .map(|c| {
                    shape(vec![
                        ("ConditionKey", text(&c.condition_key)),
                        ("ConditionValue", text(&c.condition_value)),
                    ])
                })
                .collect(),
        )
    };
    let c = &selection.conditions;
    shape(vec![
        ("SelectionName", text(&selection.selection_name)),
        ("IamRoleArn", text(&selection.iam_role_arn)),
        ("Resources", patterns(&selection.resources)),
        (
            "ListOfTags",
            (!selection.list_of_tags.is_empty()).then(|| {
                Value::Array(
                    selection
                        .list_of_tags
                        .iter()
                        .map(|t| {
                            shape(vec![
                                ("ConditionType", text(&t.condition_type)),
                                ("ConditionKey", text(&t.condition_key)),
                                ("ConditionValue", text(&t.condition_value)),
                            ])
                        })
                        .collect(),
                )
            }),
        ),
        ("NotResources", patterns(&selection.not_resources)),
        (
            "Conditions",
            (!c.is_empty()).then(|| {
                shape(vec![
                    ("StringEquals", Some(parameters(&c.string_equals))),
                    ("StringNotEquals", Some(parameters(&c.string_not_equals))),
                    ("StringLike", Some(parameters(&c.string_like))),
                    ("StringNotLike", Some(parameters(&c.string_not_like))),
                ])
            }),
        ),
    ])
}

pub(super) async fn create_backup_selection(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let value = input
        .value("BackupSelection")
        .ok_or_else(|| ApiError::missing("BackupSelection is required"))?;
    let selection = read_selection(value)?;
    let created = service
        .create_backup_selection(caller, input.required("BackupPlanId")?, &selection)
        .await?;
    Ok(shape(vec![
        ("SelectionId", text(&created.selection_id)),
        ("BackupPlanId", text(&created.plan_id)),
        ("CreationDate", time(created.creation_date)),
    ]))
}

pub(super) async fn get_backup_selection(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .backup_selection(
            caller,
            input.required("BackupPlanId")?,
            input.required("SelectionId")?,
        )
        .await?;
    Ok(shape(vec![
        ("BackupSelection", Some(selection_member(&found.selection))),
        ("SelectionId", text(&found.selection_id)),
        ("BackupPlanId", text(&found.plan_id)),
        ("CreationDate", time(found.creation_date)),
        (
            "CreatorRequestId",
            found.creator_request_id.as_deref().and_then(text),
        ),
    ]))
}

fn selection_list_member(summary: &SelectionSummary) -> Value {
    shape(vec![
        ("SelectionId", text(&summary.selection_id)),
        ("SelectionName", text(&summary.selection.selection_name)),
        ("BackupPlanId", text(&summary.plan_id)),
        ("CreationDate", time(summary.creation_date)),
        ("IamRoleArn", text(&summary.selection.iam_role_arn)),
        (
            "CreatorRequestId",
            summary.creator_request_id.as_deref().and_then(text),
        ),
    ])
}

pub(super) async fn list_backup_selections(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .list_backup_selections(caller, input.required("BackupPlanId")?, &page(input)?)
        .await?;
    Ok(shape(vec![
        (
            "BackupSelectionsList",
            Some(Value::Array(
                found.items.iter().map(selection_list_member).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn delete_backup_selection(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    service
        .delete_backup_selection(
            caller,
            input.required("BackupPlanId")?,
            input.required("SelectionId")?,
        )
        .await?;
    Ok(serde_json::json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_input_gets_aws_defaults_and_wrong_members_are_named_by_path() {
        let value = serde_json::json!({
            "BackupPlanName": "daily",
            "Rules": [{"RuleName": "r", "TargetBackupVaultName": "v"}]
        });
        let plan = read_plan("BackupPlan", &value).unwrap();
        assert_eq!(plan.rules[0].schedule_expression, DEFAULT_SCHEDULE);
        assert_eq!(
            plan.rules[0].start_window_minutes,
            DEFAULT_START_WINDOW_MINUTES
        );
        let back = plan_member(&plan);
        assert_eq!(back["Rules"][0]["RuleId"], "r");
        let bad = serde_json::json!({
            "BackupPlanName": "daily",
            "Rules": [{"RuleName": "r", "TargetBackupVaultName": "v", "StartWindowMinutes": "soon"}]
        });
        let refused = read_plan("BackupPlan", &bad).unwrap_err();
        assert!(
            refused
                .message
                .contains("BackupPlan.Rules[0].StartWindowMinutes"),
            "{}",
            refused.message
        );
        let unknown = serde_json::json!({"BackupPlanName": "daily", "Rules": [], "Nope": 1});
        assert!(read_plan("BackupPlan", &unknown)
            .unwrap_err()
            .message
            .contains("Nope"));
    }
}
