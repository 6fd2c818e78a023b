//! Recovery points, protected resources, a backup job's stop, and vault
//! notifications: each a translation over the service's (`points.rs`,
//! `protected.rs`, `jobs.rs`, `vault_notifications.rs`).

use std::collections::BTreeMap;

use coffer_model::{RecoveryPoint, RestoreJobStatus, VaultNotifications};
use coffer_service::protected::ResourceRestoreFilter;
use coffer_service::{Caller, Error, Service};
use serde_json::Value;

use super::copies::lifecycle_input;
use super::{
    lifecycle, number, own_account, page, protected_member, restore_member, shape, text, time,
    wire_enum, Answer,
};
use crate::error::ApiError;
use crate::input::Input;

fn map(values: &BTreeMap<String, String>) -> Option<Value> {
    Some(Value::Object(
        values
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    ))
}

/// The point the request names, when it is in the vault it names.
async fn point_in_vault(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Result<RecoveryPoint, ApiError> {
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
    Ok(point)
}

pub(super) async fn stop_backup_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .stop_backup_job(caller, input.required("BackupJobId")?)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn delete_recovery_point(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let point = point_in_vault(service, caller, input).await?;
    service
        .delete_recovery_point(caller, &point.recovery_point_arn)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn update_lifecycle(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let point = point_in_vault(service, caller, input).await?;
    let wanted = lifecycle_input(input, "Lifecycle")?.ok_or_else(|| {
        ApiError::missing("UpdateRecoveryPointLifecycle requires Lifecycle (DeleteAfterDays, MoveToColdStorageAfterDays)")
    })?;
    let updated = service
        .update_recovery_point_lifecycle(caller, &point.recovery_point_arn, wanted)
        .await?;
    let calculated = shape(vec![
        (
            "MoveToColdStorageAt",
            updated
                .calculated_lifecycle
                .move_to_cold_storage_at
                .and_then(time),
        ),
        (
            "DeleteAt",
            updated.calculated_lifecycle.delete_at.and_then(time),
        ),
    ]);
    Ok(shape(vec![
        ("BackupVaultArn", text(&updated.backup_vault_arn)),
        ("RecoveryPointArn", text(&updated.recovery_point_arn)),
        ("Lifecycle", lifecycle(&updated.lifecycle)),
        ("CalculatedLifecycle", Some(calculated)),
    ]))
}

pub(super) async fn restore_metadata(service: &Service, caller: &Caller, input: &Input) -> Answer {
    own_account(caller, input, "BackupVaultAccountId")?;
    let (point, metadata) = service
        .recovery_point_restore_metadata(
            caller,
            input.required("BackupVaultName")?,
            input.required("RecoveryPointArn")?,
        )
        .await?;
    Ok(shape(vec![
        ("BackupVaultArn", text(&point.backup_vault_arn)),
        ("RecoveryPointArn", text(&point.recovery_point_arn)),
        ("RestoreMetadata", map(&metadata)),
        ("ResourceType", text(point.resource_type.as_str())),
    ]))
}

pub(super) async fn points_by_resource(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .list_recovery_points_by_resource(caller, input.required("ResourceArn")?, &page(input)?)
        .await?;
    let members = found
        .items
        .iter()
        .map(|p| {
            shape(vec![
                ("RecoveryPointArn", text(&p.recovery_point_arn)),
                ("CreationDate", time(p.creation_date)),
                ("Status", wire_enum(&p.status)),
                ("StatusMessage", p.status_message.as_deref().and_then(text)),
                (
                    "EncryptionKeyArn",
                    p.encryption_key_arn.as_deref().and_then(text),
                ),
                ("BackupSizeBytes", number(p.backup_size_in_bytes)),
                ("BackupVaultName", text(&p.backup_vault_name)),
                ("IsParent", Some(Value::Bool(false))),
                (
                    "ResourceName",
                    p.resource_arn
                        .split_once('/')
                        .and_then(|(_, name)| text(name)),
                ),
                ("VaultType", text("BACKUP_VAULT")),
            ])
        })
        .collect();
    Ok(shape(vec![
        ("RecoveryPoints", Some(Value::Array(members))),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn describe_protected_resource(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .describe_protected_resource(caller, input.required("ResourceArn")?)
        .await?;
    let mut answer = protected_member(&found.resource);
    if let (Some(map), Some((job, point_created))) = (answer.as_object_mut(), &found.latest_restore)
    {
        if let Some(at) = time(job.creation_date) {
            map.insert("LatestRestoreJobCreationDate".into(), at);
        }
        if let Some(at) = time(*point_created) {
            map.insert("LatestRestoreRecoveryPointCreationDate".into(), at);
        }
        if let Some(done) = job.completion_date {
            let minutes = (done.as_second() - job.creation_date.as_second()) / 60;
            map.insert(
                "LatestRestoreExecutionTimeMinutes".into(),
                Value::from(minutes.max(0)),
            );
        }
    }
    Ok(answer)
}

pub(super) async fn protected_in_vault(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    own_account(caller, input, "BackupVaultAccountId")?;
    let found = service
        .list_protected_resources_in_vault(
            caller,
            input.required("BackupVaultName")?,
            &page(input)?,
        )
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

pub(super) async fn restores_of_resource(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
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
    let filter = ResourceRestoreFilter {
        status,
        point_created_after: input.time("ByRecoveryPointCreationDateAfter")?,
        point_created_before: input.time("ByRecoveryPointCreationDateBefore")?,
    };
    let found = service
        .list_restore_jobs_of_resource(
            caller,
            input.required("ResourceArn")?,
            &filter,
            &page(input)?,
        )
        .await?;
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

pub(super) async fn restore_job_metadata(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let (job, metadata) = service
        .restore_job_metadata(caller, input.required("RestoreJobId")?)
        .await?;
    Ok(shape(vec![
        ("RestoreJobId", text(&job.restore_job_id)),
        ("Metadata", map(&metadata)),
    ]))
}

pub(super) async fn put_notifications(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let notifications = VaultNotifications {
        sns_topic_arn: input.required("SNSTopicArn")?.to_string(),
        backup_vault_events: input.strings("BackupVaultEvents")?,
    };
    service
        .put_vault_notifications(caller, input.required("BackupVaultName")?, notifications)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn get_notifications(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let (vault, notifications) = service
        .vault_notifications(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(shape(vec![
        ("BackupVaultName", text(&vault.backup_vault_name)),
        ("BackupVaultArn", text(vault.backup_vault_arn.to_string())),
        ("SNSTopicArn", text(&notifications.sns_topic_arn)),
        (
            "BackupVaultEvents",
            Some(Value::Array(
                notifications
                    .backup_vault_events
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            )),
        ),
    ]))
}

pub(super) async fn delete_notifications(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    service
        .delete_vault_notifications(caller, input.required("BackupVaultName")?)
        .await?;
    Ok(serde_json::json!({}))
}
