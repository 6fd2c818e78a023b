//! The operations Coffer carries out, each a translation: input members
//! into the service's typed arguments, the service's typed result into the
//! model's output shape (members named as the model names them, times as
//! epoch seconds, nothing outside the shape). Every decision is the
//! service's.

use coffer_model::{
    BackupJob, BackupJobState, DateRange, LegalHold, Lifecycle, RecoveryPoint,
    RecoveryPointSelection, RestoreJob, RestoreJobStatus, VaultLockConfiguration,
};
use coffer_service::backup::{requested_lifecycle, StartBackup};
use coffer_service::backup_vaults::{CreateVault, ProtectedResource, VaultSummary};
use coffer_service::jobs::{BackupJobFilter, RestoreJobFilter};
use coffer_service::points::VaultPointFilter;
use coffer_service::restore::{RestoreTarget, StartRestore};
use coffer_service::{Caller, Error, PageRequest, Service};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::input::Input;

mod audit;
mod copies;
mod idempotency;
mod plans;
mod points;
mod restore_testing;
mod tags;

/// What an operation answers: its output shape's members.
type Answer = Result<Value, ApiError>;

/// The request token member of an operation that has one.
fn token_member(operation: &str) -> Option<&'static str> {
    match operation {
        "CreateBackupVault" => Some("CreatorRequestId"),
        "StartBackupJob" => Some("IdempotencyToken"),
        "CreateLegalHold" => Some("IdempotencyToken"),
        "StartRestoreJob" => Some("IdempotencyToken"),
        "CreateBackupPlan" => Some("CreatorRequestId"),
        "CreateBackupSelection" => Some("CreatorRequestId"),
        "CreateFramework" => Some("IdempotencyToken"),
        "UpdateFramework" => Some("IdempotencyToken"),
        "CreateReportPlan" => Some("IdempotencyToken"),
        "UpdateReportPlan" => Some("IdempotencyToken"),
        "StartReportJob" => Some("IdempotencyToken"),
        "StartCopyJob" => Some("IdempotencyToken"),
        "CreateRestoreTestingPlan" => Some("CreatorRequestId"),
        "CreateRestoreTestingSelection" => Some("CreatorRequestId"),
        _ => None,
    }
}

/// Carries out `operation`, or `None` when Coffer does not implement it;
/// an operation with a request token once per token
/// (`idempotency::once`).
pub(crate) async fn dispatch(
    service: &Service,
    caller: &Caller,
    operation: &str,
    input: &Input,
) -> Option<Answer> {
    let Some(member) = token_member(operation) else {
        return act(service, caller, operation, input).await;
    };
    Some(
        idempotency::once(service, caller, input, operation, member, || async {
            act(service, caller, operation, input)
                .await
                .unwrap_or_else(|| Err(ApiError::not_implemented(operation)))
        })
        .await,
    )
}

/// Carries out `operation`, or `None` when Coffer does not implement it.
async fn act(service: &Service, caller: &Caller, operation: &str, input: &Input) -> Option<Answer> {
    Some(match operation {
        "ListBackupVaults" => list_backup_vaults(service, caller, input).await,
        "DescribeBackupVault" => describe_backup_vault(service, caller, input).await,
        "CreateBackupVault" => create_backup_vault(service, caller, input).await,
        "DeleteBackupVault" => delete_backup_vault(service, caller, input).await,
        "ListRecoveryPointsByBackupVault" => list_recovery_points(service, caller, input).await,
        "DescribeRecoveryPoint" => describe_recovery_point(service, caller, input).await,
        "ListBackupJobs" => list_backup_jobs(service, caller, input).await,
        "DescribeBackupJob" => describe_backup_job(service, caller, input).await,
        "StartBackupJob" => start_backup_job(service, caller, input).await,
        "GetSupportedResourceTypes" => Ok(supported_resource_types(service)),
        "ListProtectedResources" => list_protected_resources(service, caller, input).await,
        "GetBackupVaultAccessPolicy" => get_access_policy(service, caller, input).await,
        "PutBackupVaultAccessPolicy" => put_access_policy(service, caller, input).await,
        "DeleteBackupVaultAccessPolicy" => delete_access_policy(service, caller, input).await,
        "PutBackupVaultLockConfiguration" => put_lock(service, caller, input).await,
        "DeleteBackupVaultLockConfiguration" => delete_lock(service, caller, input).await,
        "CreateLegalHold" => create_legal_hold(service, caller, input).await,
        "GetLegalHold" => get_legal_hold(service, caller, input).await,
        "ListLegalHolds" => list_legal_holds(service, caller, input).await,
        "CancelLegalHold" => cancel_legal_hold(service, caller, input).await,
        "ListRecoveryPointsByLegalHold" => points_under_hold(service, caller, input).await,
        "ListRestoreJobs" => list_restore_jobs(service, caller, input).await,
        "DescribeRestoreJob" => describe_restore_job(service, caller, input).await,
        "StartRestoreJob" => start_restore_job(service, caller, input).await,
        "CreateBackupPlan" => plans::create_backup_plan(service, caller, input).await,
        "GetBackupPlan" => plans::get_backup_plan(service, caller, input).await,
        "ListBackupPlans" => plans::list_backup_plans(service, caller, input).await,
        "UpdateBackupPlan" => plans::update_backup_plan(service, caller, input).await,
        "DeleteBackupPlan" => plans::delete_backup_plan(service, caller, input).await,
        "ListBackupPlanVersions" => plans::list_backup_plan_versions(service, caller, input).await,
        "GetBackupPlanFromJSON" => plans::backup_plan_from_json(service, caller, input).await,
        "CreateBackupSelection" => plans::create_backup_selection(service, caller, input).await,
        "GetBackupSelection" => plans::get_backup_selection(service, caller, input).await,
        "ListBackupSelections" => plans::list_backup_selections(service, caller, input).await,
        "DeleteBackupSelection" => plans::delete_backup_selection(service, caller, input).await,
        "TagResource" => tags::tag_resource(service, caller, input).await,
        "UntagResource" => tags::untag_resource(service, caller, input).await,
        "ListTags" => tags::list_tags(service, caller, input).await,
        "CreateFramework" => audit::create_framework(service, caller, input).await,
        "DescribeFramework" => audit::describe_framework(service, caller, input).await,
        "ListFrameworks" => audit::list_frameworks(service, caller, input).await,
        "UpdateFramework" => audit::update_framework(service, caller, input).await,
        "DeleteFramework" => audit::delete_framework(service, caller, input).await,
        "CreateReportPlan" => audit::create_report_plan(service, caller, input).await,
        "DescribeReportPlan" => audit::describe_report_plan(service, caller, input).await,
        "ListReportPlans" => audit::list_report_plans(service, caller, input).await,
        "UpdateReportPlan" => audit::update_report_plan(service, caller, input).await,
        "DeleteReportPlan" => audit::delete_report_plan(service, caller, input).await,
        "StartReportJob" => audit::start_report_job(service, caller, input).await,
        "DescribeReportJob" => audit::describe_report_job(service, caller, input).await,
        "ListReportJobs" => audit::list_report_jobs(service, caller, input).await,
        "StartCopyJob" => copies::start_copy_job(service, caller, input).await,
        "DescribeCopyJob" => copies::describe_copy_job(service, caller, input).await,
        "ListCopyJobs" => copies::list_copy_jobs(service, caller, input).await,
        "StopBackupJob" => points::stop_backup_job(service, caller, input).await,
        "DeleteRecoveryPoint" => points::delete_recovery_point(service, caller, input).await,
        "UpdateRecoveryPointLifecycle" => points::update_lifecycle(service, caller, input).await,
        "GetRecoveryPointRestoreMetadata" => points::restore_metadata(service, caller, input).await,
        "ListRecoveryPointsByResource" => points::points_by_resource(service, caller, input).await,
        "DescribeProtectedResource" => {
            points::describe_protected_resource(service, caller, input).await
        }
        "ListProtectedResourcesByBackupVault" => {
            points::protected_in_vault(service, caller, input).await
        }
        "ListRestoreJobsByProtectedResource" => {
            points::restores_of_resource(service, caller, input).await
        }
        "GetRestoreJobMetadata" => points::restore_job_metadata(service, caller, input).await,
        "PutBackupVaultNotifications" => points::put_notifications(service, caller, input).await,
        "GetBackupVaultNotifications" => points::get_notifications(service, caller, input).await,
        "DeleteBackupVaultNotifications" => {
            points::delete_notifications(service, caller, input).await
        }
        "ListRestoreTestingPlans" => restore_testing::list_plans(service, caller, input).await,
        "GetRestoreTestingPlan" => restore_testing::get_plan(service, caller, input).await,
        "CreateRestoreTestingPlan" => restore_testing::create_plan(service, caller, input).await,
        "UpdateRestoreTestingPlan" => restore_testing::update_plan(service, caller, input).await,
        "DeleteRestoreTestingPlan" => restore_testing::delete_plan(service, caller, input).await,
        "ListRestoreTestingSelections" => {
            restore_testing::list_selections(service, caller, input).await
        }
        "GetRestoreTestingSelection" => {
            restore_testing::get_selection(service, caller, input).await
        }
        "CreateRestoreTestingSelection" => {
            restore_testing::create_selection(service, caller, input).await
        }
        "UpdateRestoreTestingSelection" => {
            restore_testing::update_selection(service, caller, input).await
        }
        "DeleteRestoreTestingSelection" => {
            restore_testing::delete_selection(service, caller, input).await
        }
        "PutRestoreValidationResult" => {
            restore_testing::put_validation_result(service, caller, input).await
        }
        "GetRestoreTestingInferredMetadata" => {
            restore_testing::inferred_metadata(service, caller, input).await
        }
        _ => return None,
    })
}

/// Members with a value; absent ones are left out, as AWS leaves them out.
fn shape(members: Vec<(&str, Option<Value>)>) -> Value {
    let mut map = Map::new();
    for (name, value) in members {
        if let Some(value) = value {
            map.insert(name.to_string(), value);
        }
    }
    Value::Object(map)
}

fn text(value: impl Into<String>) -> Option<Value> {
    Some(Value::String(value.into()))
}

/// A time as the model's timestamps travel in JSON: epoch seconds, with
/// the milliseconds Coffer keeps.
fn time(at: jiff::Timestamp) -> Option<Value> {
    #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit in f64 exactly
    let seconds = at.as_millisecond() as f64 / 1000.0;
    serde_json::Number::from_f64(seconds).map(Value::Number)
}

fn number(n: impl Into<serde_json::Number>) -> Option<Value> {
    Some(Value::Number(n.into()))
}

/// An enum value as the model writes it (`COMPLETED`, `WARM`).
fn wire_enum(value: &impl serde::Serialize) -> Option<Value> {
    serde_json::to_value(value).ok().filter(Value::is_string)
}

fn page(input: &Input) -> Result<PageRequest, ApiError> {
    let max_results = input
        .int("MaxResults")?
        .map(|n| u32::try_from(n).unwrap_or(0));
    Ok(PageRequest {
        max_results,
        next_token: input.str("NextToken")?.map(str::to_string),
    })
}

fn lifecycle(lifecycle: &Lifecycle) -> Option<Value> {
    let value = shape(vec![
        (
            "MoveToColdStorageAfterDays",
            lifecycle.move_to_cold_storage_after_days.and_then(number),
        ),
        (
            "DeleteAfterDays",
            lifecycle.delete_after_days.and_then(number),
        ),
        (
            "OptInToArchiveForSupportedResources",
            lifecycle
                .opt_in_to_archive_for_supported_resources
                .then_some(Value::Bool(true)),
        ),
    ]);
    value
        .as_object()
        .is_some_and(|m| !m.is_empty())
        .then_some(value)
}

/// Who made a point or ran a job: the plan (its ID is its name) and rule.
fn created_by(plan: Option<&str>, rule: Option<&str>) -> Option<Value> {
    let plan = plan?;
    Some(shape(vec![
        ("BackupPlanId", text(plan)),
        ("BackupPlanName", text(plan)),
        ("BackupRuleName", rule.and_then(text)),
    ]))
}

fn vault_member(summary: &VaultSummary) -> Value {
    let vault = &summary.vault;
    let lock = vault.lock_configuration.as_ref();
    shape(vec![
        ("BackupVaultName", text(&vault.backup_vault_name)),
        ("BackupVaultArn", text(vault.backup_vault_arn.to_string())),
        ("VaultType", text("BACKUP_VAULT")),
        ("VaultState", text("AVAILABLE")),
        ("CreationDate", time(summary.creation_date)),
        (
            "EncryptionKeyArn",
            vault
                .encryption_key_arn
                .as_ref()
                .and_then(|a| text(a.to_string())),
        ),
        (
            "NumberOfRecoveryPoints",
            number(summary.number_of_recovery_points),
        ),
        ("Locked", Some(Value::Bool(lock.is_some()))),
        (
            "MinRetentionDays",
            lock.and_then(|l| l.min_retention_days).and_then(number),
        ),
        (
            "MaxRetentionDays",
            lock.and_then(|l| l.max_retention_days).and_then(number),
        ),
        ("LockDate", vault.lock_date.and_then(time)),
        (
            "CreatorRequestId",
            summary.creator_request_id.as_deref().and_then(text),
        ),
    ])
}

/// A recovery point in the members ListRecoveryPointsByBackupVault and
/// DescribeRecoveryPoint share; `describe` adds the storage class.
fn point_member(point: &RecoveryPoint, describe: bool) -> Value {
    let calculated = shape(vec![
        (
            "MoveToColdStorageAt",
            point
                .calculated_lifecycle
                .move_to_cold_storage_at
                .and_then(time),
        ),
        (
            "DeleteAt",
            point.calculated_lifecycle.delete_at.and_then(time),
        ),
    ]);
    let mut members = vec![
        ("RecoveryPointArn", text(&point.recovery_point_arn)),
        ("BackupVaultName", text(&point.backup_vault_name)),
        ("BackupVaultArn", text(&point.backup_vault_arn)),
        ("ResourceArn", text(&point.resource_arn)),
        ("ResourceType", text(point.resource_type.as_str())),
        (
            "CreatedBy",
            created_by(
                point.created_by_backup_plan_name.as_deref(),
                point.created_by_backup_rule_name.as_deref(),
            ),
        ),
        ("Status", wire_enum(&point.status)),
        (
            "StatusMessage",
            point.status_message.as_deref().and_then(text),
        ),
        ("CreationDate", time(point.creation_date)),
        ("CompletionDate", point.completion_date.and_then(time)),
        ("BackupSizeInBytes", number(point.backup_size_in_bytes)),
        (
            "CalculatedLifecycle",
            calculated
                .as_object()
                .is_some_and(|m| !m.is_empty())
                .then_some(calculated),
        ),
        ("Lifecycle", lifecycle(&point.lifecycle)),
        (
            "EncryptionKeyArn",
            point.encryption_key_arn.as_deref().and_then(text),
        ),
        ("IsEncrypted", Some(Value::Bool(point.is_encrypted))),
        (
            "ResourceName",
            point
                .resource_arn
                .split_once('/')
                .and_then(|(_, name)| text(name)),
        ),
        ("VaultType", text("BACKUP_VAULT")),
    ];
    if describe {
        members.push(("StorageClass", wire_enum(&point.storage_class)));
    }
    shape(members)
}

fn job_member(job: &BackupJob) -> Value {
    let vault_arn = coffer_model::Arn::new(
        "backup",
        &job.region,
        &job.account_id,
        &format!("backup-vault:{}", job.backup_vault_name),
    );
    shape(vec![
        ("AccountId", text(&job.account_id)),
        ("BackupJobId", text(&job.backup_job_id)),
        ("BackupVaultName", text(&job.backup_vault_name)),
        ("BackupVaultArn", text(vault_arn.to_string())),
        ("VaultType", text("BACKUP_VAULT")),
        (
            "RecoveryPointArn",
            job.recovery_point_arn.as_deref().and_then(text),
        ),
        ("RecoveryPointLifecycle", lifecycle(&job.lifecycle)),
        ("ResourceArn", text(&job.resource_arn)),
        ("CreationDate", time(job.creation_date)),
        ("CompletionDate", job.completion_date.and_then(time)),
        ("State", text(job.state.as_str())),
        (
            "StatusMessage",
            job.status_message.as_deref().and_then(text),
        ),
        ("PercentDone", text(format!("{}.0", job.percent_done))),
        ("BackupSizeInBytes", number(job.backup_size_in_bytes)),
        (
            "CreatedBy",
            created_by(
                job.backup_plan_name.as_deref(),
                job.backup_rule_name.as_deref(),
            ),
        ),
        ("StartBy", job.start_by.and_then(time)),
        ("ResourceType", text(job.resource_type.as_str())),
        ("IsParent", Some(Value::Bool(false))),
        (
            "ResourceName",
            job.resource_arn
                .split_once('/')
                .and_then(|(_, name)| text(name)),
        ),
        ("InitiationDate", job.started_at.and_then(time)),
    ])
}

/// The vault named by a request, when it names its account too: another
/// account's vault is not the caller's.
fn own_account(caller: &Caller, input: &Input, member: &str) -> Result<(), ApiError> {
    match input.str(member)? {
        Some(account) if account != caller.account.as_str() => Err(Error::access_denied(format!(
            "{} acts in account {}, not {account}",
            caller.principal, caller.account
        ))
        .into()),
        _ => Ok(()),
    }
}

async fn list_backup_vaults(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let request = page(input)?;
    // Coffer's vaults are all backup vaults of their own account.
    let other_type = input
        .str("ByVaultType")?
        .is_some_and(|t| t != "BACKUP_VAULT");
    if other_type || input.bool("ByShared")? == Some(true) {
        request.limit()?;
        return Ok(serde_json::json!({ "BackupVaultList": [] }));
    }
    let found = service.list_backup_vaults(caller, &request).await?;
    Ok(shape(vec![
        (
            "BackupVaultList",
            Some(Value::Array(found.items.iter().map(vault_member).collect())),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

async fn describe_backup_vault(service: &Service, caller: &Caller, input: &Input) -> Answer {
    own_account(caller, input, "BackupVaultAccountId")?;
    let summary = service
        .describe_backup_vault(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(vault_member(&summary))
}

async fn create_backup_vault(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let args = CreateVault {
        name: input.required("BackupVaultName")?.to_string(),
        tags: input.tags("BackupVaultTags")?,
        encryption_key_arn: input.str("EncryptionKeyArn")?.map(str::to_string),
    };
    let summary = service.create_backup_vault(caller, &args).await?;
    Ok(shape(vec![
        ("BackupVaultName", text(&summary.vault.backup_vault_name)),
        (
            "BackupVaultArn",
            text(summary.vault.backup_vault_arn.to_string()),
        ),
        ("CreationDate", time(summary.creation_date)),
    ]))
}

async fn delete_backup_vault(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .delete_backup_vault(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(serde_json::json!({}))
}

async fn list_recovery_points(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let request = page(input)?;
    let filter = VaultPointFilter {
        vault_account_id: input.str("BackupVaultAccountId")?.map(str::to_string),
        resource_arn: input.str("ByResourceArn")?.map(str::to_string),
        resource_type: input.str("ByResourceType")?.map(str::to_string),
        backup_plan_id: input.str("ByBackupPlanId")?.map(str::to_string),
        created_before: input.time("ByCreatedBefore")?,
        created_after: input.time("ByCreatedAfter")?,
        parent_recovery_point_arn: input.str("ByParentRecoveryPointArn")?.map(str::to_string),
    };
    let found = service
        .list_vault_recovery_points(
            caller,
            input.required("BackupVaultName")?,
            &filter,
            &request,
        )
        .await?;
    Ok(shape(vec![
        (
            "RecoveryPoints",
            Some(Value::Array(
                found.items.iter().map(|p| point_member(p, false)).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

async fn describe_recovery_point(service: &Service, caller: &Caller, input: &Input) -> Answer {
    own_account(caller, input, "BackupVaultAccountId")?;
    let vault = input.required("BackupVaultName")?;
    let arn = input.required("RecoveryPointArn")?;
    let point = service.describe_recovery_point(caller, arn).await?;
    if point.backup_vault_name != vault {
        return Err(Error::not_found(format!(
            "recovery point {arn} is not in vault {vault:?}; it is in vault {:?}",
            point.backup_vault_name
        ))
        .into());
    }
    Ok(point_member(&point, true))
}

async fn list_backup_jobs(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let request = page(input)?;
    let state = match input.str("ByState")? {
        None => None,
        Some(state) => Some(
            serde_json::from_value::<BackupJobState>(Value::String(state.to_string())).map_err(
                |_| {
                    ApiError::invalid(format!(
                        "ByState {state:?} is not a backup job state; use CREATED, PENDING, RUNNING, ABORTING, ABORTED, COMPLETED, FAILED, EXPIRED or PARTIAL"
                    ))
                },
            )?,
        ),
    };
    let filter = BackupJobFilter {
        resource_arn: input.str("ByResourceArn")?.map(str::to_string),
        state,
        vault_name: input.str("ByBackupVaultName")?.map(str::to_string),
        created_before: input.time("ByCreatedBefore")?,
        created_after: input.time("ByCreatedAfter")?,
        resource_type: input.str("ByResourceType")?.map(str::to_string),
        account_id: input.str("ByAccountId")?.map(str::to_string),
        completed_before: input.time("ByCompleteBefore")?,
        completed_after: input.time("ByCompleteAfter")?,
        parent_job_id: input.str("ByParentJobId")?.map(str::to_string),
        message_category: input.str("ByMessageCategory")?.map(str::to_string),
    };
    let found = service.list_backup_jobs(caller, &filter, &request).await?;
    Ok(shape(vec![
        (
            "BackupJobs",
            Some(Value::Array(found.items.iter().map(job_member).collect())),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

async fn describe_backup_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let job = service
        .describe_backup_job(caller, input.required("BackupJobId")?)
        .await?;
    Ok(job_member(&job))
}

async fn start_backup_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let lifecycle = match input.object("Lifecycle")? {
        None => Lifecycle::default(),
        Some(given) => {
            let days = |member: &str| -> Result<Option<u32>, ApiError> {
                given
                    .int_in(member, 1..=i64::from(u32::MAX))?
                    .map(|n| {
                        u32::try_from(n)
                            .map_err(|_| ApiError::invalid(format!("{member} is too large")))
                    })
                    .transpose()
            };
            requested_lifecycle(
                days("MoveToColdStorageAfterDays")?,
                days("DeleteAfterDays")?,
            )?
        }
    };
    let args = StartBackup {
        resource_arn: input.required("ResourceArn")?.to_string(),
        vault_name: input.required("BackupVaultName")?.to_string(),
        lifecycle,
        // The scheduler `coffer serve` runs takes it within its start window.
        queue: true,
    };
    let started = service.start_backup_job(caller, args).await?;
    Ok(shape(vec![
        ("BackupJobId", text(&started.job.backup_job_id)),
        ("CreationDate", time(started.job.creation_date)),
        ("IsParent", Some(Value::Bool(false))),
    ]))
}

fn supported_resource_types(service: &Service) -> Value {
    serde_json::json!({
        "ResourceTypes": service
            .supported_resource_types()
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
    })
}

fn protected_member(resource: &ProtectedResource) -> Value {
    shape(vec![
        ("ResourceArn", text(&resource.resource_arn)),
        ("ResourceType", text(resource.resource_type.as_str())),
        ("LastBackupTime", time(resource.last_backup_time)),
        (
            "ResourceName",
            resource.resource_name.as_deref().and_then(text),
        ),
        ("LastBackupVaultArn", text(&resource.last_backup_vault_arn)),
        (
            "LastRecoveryPointArn",
            text(&resource.last_recovery_point_arn),
        ),
    ])
}

async fn list_protected_resources(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .list_protected_resources(caller, &page(input)?)
        .await?;
    Ok(shape(vec![
        (
            "Results",
            Some(Value::Array(
                found.items.iter().map(protected_member).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

async fn get_access_policy(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let (vault, policy) = service
        .vault_access_policy(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(shape(vec![
        ("BackupVaultName", text(&vault.backup_vault_name)),
        ("BackupVaultArn", text(vault.backup_vault_arn.to_string())),
        ("Policy", text(policy.to_string())),
    ]))
}

async fn put_access_policy(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let policy = input
        .str("Policy")?
        .ok_or_else(|| ApiError::missing("PutBackupVaultAccessPolicy requires Policy"))?;
    service
        .put_vault_access_policy(caller, input.required("BackupVaultName")?, policy)
        .await?;
    Ok(serde_json::json!({}))
}

async fn delete_access_policy(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .delete_vault_access_policy(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(serde_json::json!({}))
}

async fn put_lock(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let days = |member: &str| -> Result<Option<u32>, ApiError> {
        input
            .int_in(member, 0..=i64::from(u32::MAX))?
            .map(|n| {
                u32::try_from(n).map_err(|_| ApiError::invalid(format!("{member} is too large")))
            })
            .transpose()
    };
    let lock = VaultLockConfiguration {
        min_retention_days: days("MinRetentionDays")?,
        max_retention_days: days("MaxRetentionDays")?,
        changeable_for_days: days("ChangeableForDays")?,
    };
    service
        .put_vault_lock(caller, input.required("BackupVaultName")?, lock)
        .await?;
    Ok(serde_json::json!({}))
}

async fn delete_lock(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .delete_vault_lock(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(serde_json::json!({}))
}

fn selection_member(selection: &RecoveryPointSelection) -> Value {
    let list = |items: &[String]| {
        (!items.is_empty())
            .then(|| Value::Array(items.iter().cloned().map(Value::String).collect()))
    };
    shape(vec![
        ("VaultNames", list(&selection.vault_names)),
        ("ResourceIdentifiers", list(&selection.resource_identifiers)),
        (
            "DateRange",
            selection.date_range.map(|r| {
                shape(vec![
                    ("FromDate", time(r.from_date)),
                    ("ToDate", time(r.to_date)),
                ])
            }),
        ),
    ])
}

/// A legal hold: as ListLegalHolds lists it, or (`full`) as GetLegalHold
/// and CreateLegalHold describe it.
fn hold_member(hold: &LegalHold, full: bool) -> Value {
    let mut members = vec![
        ("Title", text(&hold.title)),
        ("Status", wire_enum(&hold.status)),
        ("Description", text(&hold.description)),
        ("LegalHoldId", text(&hold.legal_hold_id)),
        ("LegalHoldArn", text(&hold.legal_hold_arn)),
        ("CreationDate", time(hold.creation_date)),
        ("CancellationDate", hold.cancellation_date.and_then(time)),
    ];
    if full {
        members.push((
            "CancelDescription",
            hold.cancel_description.as_deref().and_then(text),
        ));
        members.push(("RetainRecordUntil", hold.retain_record_until.and_then(time)));
        members.push((
            "RecoveryPointSelection",
            Some(selection_member(&hold.recovery_point_selection)),
        ));
    }
    shape(members)
}

async fn create_legal_hold(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let selection = match input.object("RecoveryPointSelection")? {
        None => RecoveryPointSelection::default(),
        Some(given) => RecoveryPointSelection {
            vault_names: given.strings("VaultNames")?,
            resource_identifiers: given.strings("ResourceIdentifiers")?,
            date_range: match given.object("DateRange")? {
                None => None,
                Some(range) => Some(DateRange {
                    from_date: range
                        .time("FromDate")?
                        .ok_or_else(|| ApiError::missing("DateRange requires FromDate"))?,
                    to_date: range
                        .time("ToDate")?
                        .ok_or_else(|| ApiError::missing("DateRange requires ToDate"))?,
                }),
            },
        },
    };
    let hold = service
        .create_legal_hold(
            caller,
            input.required("Title")?,
            input.required("Description")?,
            selection,
        )
        .await?;
    let mut answer = hold_member(&hold, true);
    if let Some(map) = answer.as_object_mut() {
        // CreateLegalHold's output has neither of these.
        map.remove("CancelDescription");
        map.remove("RetainRecordUntil");
        map.remove("CancellationDate");
    }
    Ok(answer)
}

async fn get_legal_hold(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let hold = service
        .legal_hold(caller, input.required("LegalHoldId")?)
        .await?;
    Ok(hold_member(&hold, true))
}

async fn list_legal_holds(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service.legal_holds_page(caller, &page(input)?).await?;
    Ok(shape(vec![
        (
            "LegalHolds",
            Some(Value::Array(
                found.items.iter().map(|h| hold_member(h, false)).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

async fn cancel_legal_hold(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let id = input.required("LegalHoldId")?;
    // Only holds of the caller's account and region are the caller's to cancel.
    service.legal_hold(caller, id).await?;
    service
        .cancel_legal_hold(caller, id, input.required("CancelDescription")?)
        .await?;
    Ok(serde_json::json!({}))
}

async fn points_under_hold(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service
        .points_under_hold(caller, input.required("LegalHoldId")?, &page(input)?)
        .await?;
    Ok(shape(vec![
        (
            "RecoveryPoints",
            Some(Value::Array(
                found
                    .items
                    .iter()
                    .map(|p| {
                        shape(vec![
                            ("RecoveryPointArn", text(&p.recovery_point_arn)),
                            ("ResourceArn", text(&p.resource_arn)),
                            ("ResourceType", text(p.resource_type.as_str())),
                            ("BackupVaultName", text(&p.backup_vault_name)),
                        ])
                    })
                    .collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

fn restore_member(job: &RestoreJob) -> Value {
    shape(vec![
        ("AccountId", text(&job.account_id)),
        ("RestoreJobId", text(&job.restore_job_id)),
        ("RecoveryPointArn", text(&job.recovery_point_arn)),
        ("CreationDate", time(job.creation_date)),
        ("CompletionDate", job.completion_date.and_then(time)),
        ("Status", wire_enum(&job.status)),
        (
            "StatusMessage",
            job.status_message.as_deref().and_then(text),
        ),
        ("PercentDone", text(format!("{}.0", job.percent_done))),
        (
            "CreatedResourceArn",
            job.created_resource_arn.as_deref().and_then(text),
        ),
        ("ResourceType", text(job.resource_type.as_str())),
        (
            "ValidationStatus",
            job.validation_status.as_ref().and_then(wire_enum),
        ),
        (
            "ValidationStatusMessage",
            job.validation_status_message.as_deref().and_then(text),
        ),
        ("IsParent", Some(Value::Bool(false))),
    ])
}

async fn list_restore_jobs(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let request = page(input)?;
    let status = match input.str("ByStatus")? {
        None => None,
        Some(status) => Some(
            serde_json::from_value::<RestoreJobStatus>(Value::String(status.to_string()))
                .map_err(|_| {
                    ApiError::invalid(format!(
                        "ByStatus {status:?} is not a restore job status; use PENDING, RUNNING, COMPLETED, ABORTED or FAILED"
                    ))
                })?,
        ),
    };
    let filter = RestoreJobFilter {
        account_id: input.str("ByAccountId")?.map(str::to_string),
        resource_type: input.str("ByResourceType")?.map(str::to_string),
        status,
        created_before: input.time("ByCreatedBefore")?,
        created_after: input.time("ByCreatedAfter")?,
        completed_before: input.time("ByCompleteBefore")?,
        completed_after: input.time("ByCompleteAfter")?,
        restore_testing_plan_arn: input.str("ByRestoreTestingPlanArn")?.map(str::to_string),
        parent_job_id: input.str("ByParentJobId")?.map(str::to_string),
    };
    let found = service.list_restore_jobs(caller, &filter, &request).await?;
    Ok(shape(vec![
        (
            "RestoreJobs",
            Some(Value::Array(
                found.items.iter().map(restore_member).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

async fn describe_restore_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let job = service
        .describe_restore_job(caller, input.required("RestoreJobId")?)
        .await?;
    Ok(restore_member(&job))
}

async fn start_restore_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let (applied, not_applied) = RestoreTarget::split_metadata(&input.tags("Metadata")?);
    let (target, force) = RestoreTarget::from_metadata(&applied)?;
    let args = StartRestore {
        recovery_point: input.required("RecoveryPointArn")?.to_string(),
        target,
        force,
        not_applied,
    };
    let job = service
        .start_restore_job_in_background(caller, args)
        .await?;
    Ok(shape(vec![("RestoreJobId", text(&job.restore_job_id))]))
}
