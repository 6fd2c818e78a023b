//! Copy jobs: StartCopyJob, DescribeCopyJob, ListCopyJobs, each a
//! translation over the service's (`backup.rs`, `copies.rs`).

use coffer_model::{CopyJob, CopyJobState};
use coffer_service::backup::StartCopy;
use coffer_service::copies::CopyJobFilter;
use coffer_service::{Caller, Error, Service};
use serde_json::Value;

use super::{lifecycle, number, page, shape, text, time, Answer};
use crate::error::ApiError;
use crate::input::Input;

/// A `Lifecycle` member as the service takes it (AWS's rules checked).
pub(super) fn lifecycle_input(
    input: &Input,
    member: &str,
) -> Result<Option<coffer_model::Lifecycle>, ApiError> {
    let Some(given) = input.object(member)? else {
        return Ok(None);
    };
    let days = |name: &str| -> Result<Option<u32>, ApiError> {
        given
            .int_in(name, 1..=i64::from(u32::MAX))?
            .map(|n| {
                u32::try_from(n).map_err(|_| ApiError::invalid(format!("{name} is too large")))
            })
            .transpose()
    };
    Ok(Some(coffer_service::backup::requested_lifecycle(
        days("MoveToColdStorageAfterDays")?,
        days("DeleteAfterDays")?,
    )?))
}

fn copy_member(job: &CopyJob) -> Value {
    shape(vec![
        ("AccountId", text(&job.account_id)),
        ("CopyJobId", text(&job.copy_job_id)),
        ("SourceBackupVaultArn", text(&job.source_backup_vault_arn)),
        (
            "SourceRecoveryPointArn",
            text(&job.source_recovery_point_arn),
        ),
        (
            "DestinationBackupVaultArn",
            text(&job.destination_backup_vault_arn),
        ),
        ("DestinationVaultType", text("BACKUP_VAULT")),
        (
            "DestinationRecoveryPointArn",
            job.destination_recovery_point_arn.as_deref().and_then(text),
        ),
        (
            "DestinationRecoveryPointLifecycle",
            lifecycle(&job.lifecycle),
        ),
        ("ResourceArn", text(&job.resource_arn)),
        ("CreationDate", time(job.creation_date)),
        ("CompletionDate", job.completion_date.and_then(time)),
        ("State", text(job.state.as_str())),
        (
            "StatusMessage",
            job.status_message.as_deref().and_then(text),
        ),
        ("BackupSizeInBytes", number(job.backup_size_in_bytes)),
        (
            "CreatedByBackupJobId",
            job.created_by_backup_job_id.as_deref().and_then(text),
        ),
        ("ResourceType", text(job.resource_type.as_str())),
        ("IsParent", Some(Value::Bool(false))),
        (
            "ResourceName",
            job.resource_arn
                .split_once('/')
                .and_then(|(_, name)| text(name)),
        ),
    ])
}

pub(super) async fn start_copy_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let point_arn = input.required("RecoveryPointArn")?;
    let source_vault = input.required("SourceBackupVaultName")?;
    // The point must be in the vault the request names.
    let point = service.describe_recovery_point(caller, point_arn).await?;
    if point.backup_vault_name != source_vault {
        return Err(Error::not_found(format!(
            "recovery point {point_arn} is not in vault {source_vault:?}; it is in vault {:?}",
            point.backup_vault_name
        ))
        .into());
    }
    let args = StartCopy {
        recovery_point: point.recovery_point_arn,
        destination_vault: input.required("DestinationBackupVaultArn")?.to_string(),
        lifecycle: lifecycle_input(input, "Lifecycle")?.unwrap_or_default(),
        // The scheduler `coffer serve` runs takes it.
        queue: true,
    };
    let started = service.start_copy_job(caller, args).await?;
    Ok(shape(vec![
        ("CopyJobId", text(&started.job.copy_job_id)),
        ("CreationDate", time(started.job.creation_date)),
        ("IsParent", Some(Value::Bool(false))),
    ]))
}

pub(super) async fn describe_copy_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let job = service
        .describe_copy_job(caller, input.required("CopyJobId")?)
        .await?;
    Ok(shape(vec![("CopyJob", Some(copy_member(&job)))]))
}

pub(super) async fn list_copy_jobs(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let request = page(input)?;
    let state = match input.str("ByState")? {
        None => None,
        Some(state) => Some(
            serde_json::from_value::<CopyJobState>(Value::String(state.to_string())).map_err(
                |_| {
                    ApiError::invalid(format!(
                        "ByState {state:?} is not a copy job state; use CREATED, RUNNING, COMPLETED, FAILED or PARTIAL"
                    ))
                },
            )?,
        ),
    };
    let filter = CopyJobFilter {
        resource_arn: input.str("ByResourceArn")?.map(str::to_string),
        state,
        created_before: input.time("ByCreatedBefore")?,
        created_after: input.time("ByCreatedAfter")?,
        resource_type: input.str("ByResourceType")?.map(str::to_string),
        destination_vault_arn: input.str("ByDestinationVaultArn")?.map(str::to_string),
        source_recovery_point_arn: input.str("BySourceRecoveryPointArn")?.map(str::to_string),
        account_id: input.str("ByAccountId")?.map(str::to_string),
        completed_before: input.time("ByCompleteBefore")?,
        completed_after: input.time("ByCompleteAfter")?,
        parent_job_id: input.str("ByParentJobId")?.map(str::to_string),
        message_category: input.str("ByMessageCategory")?.map(str::to_string),
    };
    let found = service.list_copy_jobs(caller, &filter, &request).await?;
    Ok(shape(vec![
        (
            "CopyJobs",
            Some(Value::Array(found.items.iter().map(copy_member).collect())),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}
