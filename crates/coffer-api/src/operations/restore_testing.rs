//! Restore testing plans and selections, each a translation over the
//! service's (`coffer_service::restore_testing`).

use coffer_model::{
    KeyValue, RestoreTestingPlan, RestoreTestingRecoveryPointSelection, RestoreTestingSelection,
    ValidationStatus, DEFAULT_RESTORE_TEST_START_WINDOW_HOURS, DEFAULT_SELECTION_WINDOW_DAYS,
};
use coffer_service::declared::Declared;
use coffer_service::restore_testing::{Conditions, PlanChange, SelectionChange};
use coffer_service::{Caller, Service};
use serde_json::Value;

use super::{number, page, shape, text, time, Answer};
use crate::error::ApiError;
use crate::input::Input;

fn strings(items: &[String]) -> Option<Value> {
    (!items.is_empty()).then(|| Value::Array(items.iter().cloned().map(Value::String).collect()))
}

/// A whole number of hours or days member in `1..=u32::MAX`.
fn count(input: &Input, member: &str) -> Result<Option<u32>, ApiError> {
    input
        .int_in(member, 1..=i64::from(u32::MAX))?
        .map(|n| u32::try_from(n).map_err(|_| ApiError::invalid(format!("{member} is too large"))))
        .transpose()
}

fn point_selection(given: &Input) -> Result<RestoreTestingRecoveryPointSelection, ApiError> {
    Ok(RestoreTestingRecoveryPointSelection {
        algorithm: given.str("Algorithm")?.unwrap_or_default().to_string(),
        include_vaults: given.strings("IncludeVaults")?,
        exclude_vaults: given.strings("ExcludeVaults")?,
        recovery_point_types: given.strings("RecoveryPointTypes")?,
        selection_window_days: count(given, "SelectionWindowDays")?
            .unwrap_or(DEFAULT_SELECTION_WINDOW_DAYS),
    })
}

fn point_selection_member(selection: &RestoreTestingRecoveryPointSelection) -> Value {
    shape(vec![
        ("Algorithm", text(&selection.algorithm)),
        ("IncludeVaults", strings(&selection.include_vaults)),
        ("ExcludeVaults", strings(&selection.exclude_vaults)),
        (
            "RecoveryPointTypes",
            strings(&selection.recovery_point_types),
        ),
        (
            "SelectionWindowDays",
            number(selection.selection_window_days),
        ),
    ])
}

/// A plan as ListRestoreTestingPlans lists it, or (`full`) as
/// GetRestoreTestingPlan describes it.
fn plan_member(found: &Declared<RestoreTestingPlan>, full: bool) -> Value {
    let plan = &found.object;
    let mut members = vec![
        ("CreationTime", time(found.creation_time)),
        (
            "LastUpdateTime",
            (found.update_time != found.creation_time)
                .then_some(found.update_time)
                .and_then(time),
        ),
        ("RestoreTestingPlanArn", text(&found.arn)),
        (
            "RestoreTestingPlanName",
            text(&plan.restore_testing_plan_name),
        ),
        ("ScheduleExpression", text(&plan.schedule_expression)),
        (
            "ScheduleExpressionTimezone",
            plan.schedule_expression_timezone.as_deref().and_then(text),
        ),
        ("StartWindowHours", number(plan.start_window_hours)),
    ];
    if full {
        members.push((
            "RecoveryPointSelection",
            Some(point_selection_member(&plan.recovery_point_selection)),
        ));
        members.push((
            "CreatorRequestId",
            found.creator_request_id.as_deref().and_then(text),
        ));
    }
    shape(members)
}

fn key_values(items: &[KeyValue]) -> Option<Value> {
    (!items.is_empty()).then(|| {
        Value::Array(
            items
                .iter()
                .map(|kv| shape(vec![("Key", text(&kv.key)), ("Value", text(&kv.value))]))
                .collect(),
        )
    })
}

/// A selection as ListRestoreTestingSelections lists it, or (`full`) as
/// GetRestoreTestingSelection describes it.
fn selection_member(found: &Declared<RestoreTestingSelection>, full: bool) -> Value {
    let selection = &found.object;
    let mut members = vec![
        ("CreationTime", time(found.creation_time)),
        ("IamRoleArn", text(&selection.iam_role_arn)),
        (
            "ProtectedResourceType",
            text(&selection.protected_resource_type),
        ),
        (
            "RestoreTestingPlanName",
            text(&selection.restore_testing_plan_name),
        ),
        (
            "RestoreTestingSelectionName",
            text(&selection.restore_testing_selection_name),
        ),
        (
            "ValidationWindowHours",
            selection.validation_window_hours.and_then(number),
        ),
    ];
    if full {
        let conditions = shape(vec![
            (
                "StringEquals",
                key_values(&selection.protected_resource_conditions_string_equals),
            ),
            (
                "StringNotEquals",
                key_values(&selection.protected_resource_conditions_string_not_equals),
            ),
        ]);
        members.push((
            "ProtectedResourceArns",
            strings(&selection.protected_resource_arns),
        ));
        members.push((
            "ProtectedResourceConditions",
            conditions
                .as_object()
                .is_some_and(|m| !m.is_empty())
                .then_some(conditions),
        ));
        members.push((
            "CreatorRequestId",
            found.creator_request_id.as_deref().and_then(text),
        ));
        members.push((
            "RestoreMetadataOverrides",
            (!selection.restore_metadata_overrides.is_empty()).then(|| {
                Value::Object(
                    selection
                        .restore_metadata_overrides
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                )
            }),
        ));
    }
    shape(members)
}

pub(super) async fn list_plans(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .list_restore_testing_plans(caller, &page(input)?)
        .await?;
    Ok(shape(vec![
        (
            "RestoreTestingPlans",
            Some(Value::Array(
                found.items.iter().map(|p| plan_member(p, false)).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn get_plan(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .restore_testing_plan(caller, input.required("RestoreTestingPlanName")?)
        .await?;
    Ok(shape(vec![(
        "RestoreTestingPlan",
        Some(plan_member(&found, true)),
    )]))
}

pub(super) async fn list_selections(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .list_restore_testing_selections(
            caller,
            input.required("RestoreTestingPlanName")?,
            &page(input)?,
        )
        .await?;
    Ok(shape(vec![
        (
            "RestoreTestingSelections",
            Some(Value::Array(
                found
                    .items
                    .iter()
                    .map(|s| selection_member(s, false))
                    .collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn get_selection(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .restore_testing_selection(
            caller,
            input.required("RestoreTestingPlanName")?,
            input.required("RestoreTestingSelectionName")?,
        )
        .await?;
    Ok(shape(vec![(
        "RestoreTestingSelection",
        Some(selection_member(&found, true)),
    )]))
}

fn required_object(input: &Input, member: &str) -> Result<Input, ApiError> {
    input
        .object(member)?
        .ok_or_else(|| ApiError::missing(format!("{member} is required")))
}

pub(super) async fn create_plan(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let given = required_object(input, "RestoreTestingPlan")?;
    let plan = RestoreTestingPlan {
        restore_testing_plan_name: given.required("RestoreTestingPlanName")?.to_string(),
        schedule_expression: given.required("ScheduleExpression")?.to_string(),
        schedule_expression_timezone: given.str("ScheduleExpressionTimezone")?.map(str::to_string),
        start_window_hours: count(&given, "StartWindowHours")?
            .unwrap_or(DEFAULT_RESTORE_TEST_START_WINDOW_HOURS),
        recovery_point_selection: point_selection(&required_object(
            &given,
            "RecoveryPointSelection",
        )?)?,
    };
    let created = service.create_restore_testing_plan(caller, &plan).await?;
    Ok(shape(vec![
        ("CreationTime", time(created.creation_time)),
        ("RestoreTestingPlanArn", text(&created.arn)),
        (
            "RestoreTestingPlanName",
            text(&created.object.restore_testing_plan_name),
        ),
    ]))
}

pub(super) async fn update_plan(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let given = required_object(input, "RestoreTestingPlan")?;
    let change = PlanChange {
        schedule_expression: given.str("ScheduleExpression")?.map(str::to_string),
        schedule_expression_timezone: given.str("ScheduleExpressionTimezone")?.map(str::to_string),
        start_window_hours: count(&given, "StartWindowHours")?,
        recovery_point_selection: given
            .object("RecoveryPointSelection")?
            .as_ref()
            .map(point_selection)
            .transpose()?,
    };
    let updated = service
        .update_restore_testing_plan(caller, input.required("RestoreTestingPlanName")?, change)
        .await?;
    Ok(shape(vec![
        ("CreationTime", time(updated.creation_time)),
        ("RestoreTestingPlanArn", text(&updated.arn)),
        (
            "RestoreTestingPlanName",
            text(&updated.object.restore_testing_plan_name),
        ),
        ("UpdateTime", time(updated.update_time)),
    ]))
}

pub(super) async fn delete_plan(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .delete_restore_testing_plan(caller, input.required("RestoreTestingPlanName")?)
        .await?;
    Ok(serde_json::json!({}))
}

/// `ProtectedResourceConditions`' two lists, when given.
fn conditions(given: &Input) -> Result<Option<Conditions>, ApiError> {
    let Some(conditions) = given.object("ProtectedResourceConditions")? else {
        return Ok(None);
    };
    Ok(Some((
        conditions
            .decoded::<Vec<KeyValue>>("StringEquals")?
            .unwrap_or_default(),
        conditions
            .decoded::<Vec<KeyValue>>("StringNotEquals")?
            .unwrap_or_default(),
    )))
}

fn overrides(
    given: &Input,
) -> Result<Option<std::collections::BTreeMap<String, String>>, ApiError> {
    Ok(given
        .value("RestoreMetadataOverrides")
        .is_some()
        .then(|| given.tags("RestoreMetadataOverrides"))
        .transpose()?
        .map(|tags| tags.into_iter().collect()))
}

fn selection_answer(found: &Declared<RestoreTestingSelection>, updated: bool) -> Value {
    let plan_arn = found
        .arn
        .rsplit_once(":selection:")
        .map_or(found.arn.as_str(), |(plan, _)| plan);
    shape(vec![
        ("CreationTime", time(found.creation_time)),
        ("RestoreTestingPlanArn", text(plan_arn)),
        (
            "RestoreTestingPlanName",
            text(&found.object.restore_testing_plan_name),
        ),
        (
            "RestoreTestingSelectionName",
            text(&found.object.restore_testing_selection_name),
        ),
        (
            "UpdateTime",
            updated.then_some(found.update_time).and_then(time),
        ),
    ])
}

pub(super) async fn create_selection(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let plan = input.required("RestoreTestingPlanName")?;
    let given = required_object(input, "RestoreTestingSelection")?;
    let (equals, not_equals) = conditions(&given)?.unwrap_or_default();
    let selection = RestoreTestingSelection {
        restore_testing_selection_name: given.required("RestoreTestingSelectionName")?.to_string(),
        restore_testing_plan_name: plan.to_string(),
        protected_resource_type: given.required("ProtectedResourceType")?.to_string(),
        iam_role_arn: given.required("IamRoleArn")?.to_string(),
        protected_resource_arns: given.strings("ProtectedResourceArns")?,
        protected_resource_conditions_string_equals: equals,
        protected_resource_conditions_string_not_equals: not_equals,
        restore_metadata_overrides: overrides(&given)?.unwrap_or_default(),
        validation_window_hours: count(&given, "ValidationWindowHours")?,
        coffer_validation_hook: None,
    };
    let created = service
        .create_restore_testing_selection(caller, plan, &selection)
        .await?;
    Ok(selection_answer(&created, false))
}

pub(super) async fn update_selection(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let given = required_object(input, "RestoreTestingSelection")?;
    let change = SelectionChange {
        iam_role_arn: given.str("IamRoleArn")?.map(str::to_string),
        protected_resource_arns: given
            .value("ProtectedResourceArns")
            .is_some()
            .then(|| given.strings("ProtectedResourceArns"))
            .transpose()?,
        conditions: conditions(&given)?,
        restore_metadata_overrides: overrides(&given)?,
        validation_window_hours: count(&given, "ValidationWindowHours")?,
    };
    let updated = service
        .update_restore_testing_selection(
            caller,
            input.required("RestoreTestingPlanName")?,
            input.required("RestoreTestingSelectionName")?,
            change,
        )
        .await?;
    Ok(selection_answer(&updated, true))
}

pub(super) async fn delete_selection(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .delete_restore_testing_selection(
            caller,
            input.required("RestoreTestingPlanName")?,
            input.required("RestoreTestingSelectionName")?,
        )
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn put_validation_result(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let given = input.required("ValidationStatus")?;
    let status = serde_json::from_value::<ValidationStatus>(Value::String(given.to_string()))
        .map_err(|_| {
            ApiError::invalid(format!(
                "ValidationStatus {given:?} is not a validation status; use SUCCESSFUL, FAILED or TIMED_OUT"
            ))
        })?;
    service
        .put_restore_validation_result(
            caller,
            input.required("RestoreJobId")?,
            status,
            input.str("ValidationStatusMessage")?,
        )
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn inferred_metadata(service: &Service, caller: &Caller, input: &Input) -> Answer {
    super::own_account(caller, input, "BackupVaultAccountId")?;
    let metadata = service
        .restore_testing_inferred_metadata(
            caller,
            input.required("BackupVaultName")?,
            input.required("RecoveryPointArn")?,
        )
        .await?;
    Ok(shape(vec![(
        "InferredMetadata",
        Some(Value::Object(
            metadata
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )),
    )]))
}
