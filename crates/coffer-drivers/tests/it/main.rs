//! Drivers against real resources: directory trees, live SQLite files and
//! the PostgreSQL server on 127.0.0.1:5432 and the MariaDB server on
//! 127.0.0.1:3306 (.ci/run starts them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod filesystem;
mod mysql;
mod postgres;
mod s3;
mod sqlite;

use std::collections::BTreeMap;
use std::path::Path;

use coffer_drivers::{BackupOutcome, Vault};
use coffer_model::{
    AccountId, Arn, CalculatedLifecycle, RecoveryPoint, RecoveryPointStatus, Region, Resource,
    ResourceType, StorageClass,
};
use coffer_vault::{Secret, VaultStorage};

pub fn vault(dir: &Path) -> Vault {
    let storage = VaultStorage::new(&format!("file://{}", dir.join("vault").display())).unwrap();
    let secret = Secret::random(32).unwrap();
    storage.init(&secret).unwrap();
    Vault { storage, secret }
}

pub fn resource(kind: ResourceType, name: &str, connection: &[(&str, &str)]) -> Resource {
    let account = AccountId::new("111122223333").unwrap();
    let region = Region::new("eu-west-1").unwrap();
    Resource {
        resource_arn: kind.arn(&region, &account, name),
        resource_type: kind,
        resource_name: name.into(),
        account_id: account,
        region,
        tags: BTreeMap::new(),
        connection: connection
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// The recovery point a backup job would record, with an ID of its own
/// (a validation's scratch database is named after it, so tests running
/// at once never share one).
pub fn point(resource: &Resource, outcome: &BackupOutcome) -> RecoveryPoint {
    let now = jiff::Timestamp::now();
    let id = format!("rp{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    RecoveryPoint {
        recovery_point_id: id.clone(),
        recovery_point_arn: Arn::recovery_point(&resource.region, &resource.account_id, &id)
            .to_string(),
        backup_vault_name: "primary".into(),
        backup_vault_arn: Arn::backup_vault(&resource.region, &resource.account_id, "primary")
            .to_string(),
        resource_arn: resource.resource_arn.to_string(),
        resource_type: resource.resource_type,
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: now,
        completion_date: Some(now),
        lifecycle: Default::default(),
        calculated_lifecycle: CalculatedLifecycle::default(),
        backup_size_in_bytes: outcome.bytes,
        is_encrypted: true,
        encryption_key_arn: None,
        created_by_job_id: None,
        created_by_backup_plan_name: None,
        created_by_backup_rule_name: None,
        source_recovery_point_arn: None,
        content_sha256: Some(outcome.content_sha256.clone()),
        tags: BTreeMap::new(),
        snapshot_id: Some(outcome.snapshot_id.clone()),
        storage_location: None,
        bytes_added: outcome.bytes_added,
        stored_bytes: outcome.stored_bytes,
        duration_ms: None,
        manifest: outcome.manifest.clone(),
    }
}
