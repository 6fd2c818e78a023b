//! Prometheus metrics from the catalog's state, every series prefixed
//! `coffer_` (the daemon serves them on `/metrics`; `coffer metrics` prints
//! them once).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use coffer_catalog::VaultTotals;
use coffer_model::{Arn, BackupJobState, RecoveryPoint, RestoreJob, RestoreJobStatus, VaultCheck};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::planning::PlannedJob;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn state_name(state: BackupJobState) -> String {
    state.as_str().to_string()
}

fn seconds(t: jiff::Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

/// What the exposition shows, as the catalog aggregates it.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Backup jobs per state (`BackupJobState::as_str`).
    pub jobs_by_state: Vec<(String, i64)>,
    /// Completed points and their bytes per vault.
    pub vaults: Vec<VaultTotals>,
    /// Each resource's newest completed recovery point.
    pub newest: Vec<RecoveryPoint>,
    /// The next planned jobs.
    pub upcoming: Vec<PlannedJob>,
    /// Vault checks (the newest of each vault is shown).
    pub checks: Vec<VaultCheck>,
    /// The latest ended restore test of each resource.
    pub restore_tests: Vec<(String, RestoreJob)>,
}

impl Snapshot {
    /// Reads what the series show from the catalog: aggregates the
    /// database computes, one newest point per resource, and vault checks.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn read(
        catalog: &coffer_catalog::Catalog,
        upcoming: Vec<PlannedJob>,
    ) -> coffer_catalog::Result<Self> {
        Ok(Self {
            jobs_by_state: catalog.backup_job_counts().await?,
            vaults: catalog.vault_totals().await?,
            newest: catalog.newest_point_records().await?,
            upcoming,
            checks: catalog
                .list::<VaultCheck>(&[])
                .await?
                .into_iter()
                .map(|s| s.record)
                .collect(),
            restore_tests: catalog.latest_restore_tests().await?,
        })
    }
}

/// The exposition text of a snapshot.
///
/// # Errors
/// Only if formatting fails.
pub fn render(snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("coffer");

    let by_state = Family::<Labels, Gauge>::default();
    for state in [
        BackupJobState::Created,
        BackupJobState::Pending,
        BackupJobState::Running,
        BackupJobState::Completed,
        BackupJobState::Failed,
        BackupJobState::Expired,
        BackupJobState::Aborted,
        BackupJobState::Partial,
    ] {
        let name = state_name(state);
        let n = snapshot
            .jobs_by_state
            .iter()
            .find(|(s, _)| *s == name)
            .map_or(0, |(_, n)| *n);
        by_state.get_or_create(&vec![("state".into(), name)]).set(n);
    }
    registry.register(
        "backup_jobs",
        "Backup jobs in the catalog, by state",
        by_state,
    );

    let read = Family::<Labels, FloatGauge>::default();
    let stored = Family::<Labels, FloatGauge>::default();
    let live = Family::<Labels, Gauge>::default();
    for vault in &snapshot.vaults {
        let arn = Arn::new(
            "backup",
            &vault.region,
            &vault.account_id,
            &format!("backup-vault:{}", vault.vault_name),
        );
        let labels = vec![("vault_arn".to_string(), arn.to_string())];
        read.get_or_create(&labels).set(vault.logical_bytes as f64);
        stored.get_or_create(&labels).set(vault.stored_bytes as f64);
        live.get_or_create(&labels).set(vault.points);
    }
    registry.register(
        "recovery_points",
        "Completed recovery points, by vault",
        live,
    );
    registry.register(
        "recovery_point_logical_bytes",
        "Bytes backed up in the completed recovery points, by vault",
        read,
    );
    registry.register(
        "recovery_point_stored_bytes",
        "Bytes the completed recovery points occupy in their vault (shared chunks counted per point)",
        stored,
    );

    let last_success = Family::<Labels, FloatGauge>::default();
    let duration = Family::<Labels, FloatGauge>::default();
    for p in &snapshot.newest {
        let resource = &p.resource_arn;
        let labels = vec![("resource_arn".to_string(), resource.to_string())];
        last_success
            .get_or_create(&labels)
            .set(seconds(p.completion_date.unwrap_or(p.creation_date)));
        if let Some(ms) = p.duration_ms {
            duration.get_or_create(&labels).set(ms as f64 / 1000.0);
        }
    }
    registry.register(
        "last_successful_backup_timestamp_seconds",
        "When the newest completed recovery point of each resource completed",
        last_success,
    );
    registry.register(
        "last_backup_duration_seconds",
        "How long the newest completed backup of each resource took",
        duration,
    );

    let next = Family::<Labels, FloatGauge>::default();
    let mut first: BTreeMap<(String, String), jiff::Timestamp> = BTreeMap::new();
    for job in &snapshot.upcoming {
        let key = (job.plan_name.clone(), job.rule_name.clone());
        let at = first.entry(key).or_insert(job.fire_at);
        if job.fire_at < *at {
            *at = job.fire_at;
        }
    }
    for ((plan, rule), at) in first {
        next.get_or_create(&vec![("plan".into(), plan), ("rule".into(), rule)])
            .set(seconds(at));
    }
    registry.register(
        "next_scheduled_backup_timestamp_seconds",
        "The next fire time of each rule that selects resources",
        next,
    );

    let check_passed = Family::<Labels, Gauge>::default();
    let check_time = Family::<Labels, FloatGauge>::default();
    let check_faulty = Family::<Labels, Gauge>::default();
    let check_unaccounted = Family::<Labels, Gauge>::default();
    let mut newest: BTreeMap<(String, String, String), &VaultCheck> = BTreeMap::new();
    for check in &snapshot.checks {
        let key = (
            check.account_id.clone(),
            check.region.clone(),
            check.backup_vault_name.clone(),
        );
        let slot = newest.entry(key).or_insert(check);
        if check.completed_at > slot.completed_at {
            *slot = check;
        }
    }
    for ((account, region, vault), check) in newest {
        let labels = vec![
            ("account".to_string(), account),
            ("region".to_string(), region),
            ("vault".to_string(), vault),
        ];
        check_passed
            .get_or_create(&labels)
            .set(i64::from(check.passed));
        check_time
            .get_or_create(&labels)
            .set(seconds(check.completed_at));
        check_faulty
            .get_or_create(&labels)
            .set(i64::try_from(check.faulty_recovery_points.len()).unwrap_or(i64::MAX));
        check_unaccounted
            .get_or_create(&labels)
            .set(i64::try_from(check.unaccounted_snapshots.len()).unwrap_or(i64::MAX));
    }
    registry.register(
        "vault_check_passed",
        "Whether the newest check of each vault (structure and a part of its data read back) passed",
        check_passed,
    );
    registry.register(
        "vault_check_faulty_recovery_points",
        "Live recovery points whose snapshot the newest check of each vault found gone or changed",
        check_faulty,
    );
    registry.register(
        "vault_check_unaccounted_snapshots",
        "Coffer snapshots the newest check of each vault found that no recovery point accounts for",
        check_unaccounted,
    );
    registry.register(
        "vault_check_timestamp_seconds",
        "When the newest check of each vault ended",
        check_time,
    );

    let passed = Family::<Labels, Gauge>::default();
    let restore_seconds = Family::<Labels, FloatGauge>::default();
    let tested_at = Family::<Labels, FloatGauge>::default();
    for (resource, job) in &snapshot.restore_tests {
        let result = match (job.status, job.validation_status) {
            (RestoreJobStatus::Completed, Some(v)) => v.as_str(),
            (RestoreJobStatus::Completed, None) => "NONE",
            _ => "RESTORE_FAILED",
        };
        let labels = vec![
            ("resource_arn".to_string(), resource.clone()),
            ("result".to_string(), result.to_string()),
        ];
        passed
            .get_or_create(&labels)
            .set(i64::from(result == "SUCCESSFUL"));
        let by_resource = vec![("resource_arn".to_string(), resource.clone())];
        if let Some(ms) = job.restore_duration_millis {
            restore_seconds
                .get_or_create(&by_resource)
                .set(ms as f64 / 1000.0);
        }
        tested_at
            .get_or_create(&by_resource)
            .set(seconds(job.completion_date.unwrap_or(job.creation_date)));
    }
    registry.register(
        "last_restore_test_passed",
        "Whether the latest restore test of each resource passed (1) or not (0), labelled with its result",
        passed,
    );
    registry.register(
        "last_restore_test_duration_seconds",
        "How long the restore of the latest restore test of each resource took",
        restore_seconds,
    );
    registry.register(
        "last_restore_test_timestamp_seconds",
        "When the latest restore test of each resource ended its restore",
        tested_at,
    );

    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_latest_restore_test_of_each_resource_is_shown() {
        let job: RestoreJob = serde_json::from_value(serde_json::json!({
            "RestoreJobId": "T1",
            "AccountId": "210987654321",
            "Region": "eu-west-1",
            "RecoveryPointArn": "arn:coffer:backup:eu-west-1:210987654321:recovery-point:P1",
            "Status": "COMPLETED",
            "CreationDate": "2026-03-02T06:00:00Z",
            "CompletionDate": "2026-03-02T06:00:02Z",
            "ResourceType": "FileSystem",
            "ValidationStatus": "TIMED_OUT",
            "CreatedBy": {"RestoreTestingPlanArn": "arn:coffer:backup:eu-west-1:210987654321:restore-testing-plan:weekly"},
            "RestoreDurationMillis": 1500
        }))
        .unwrap();
        let arn = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs".to_string();
        let snapshot = Snapshot {
            restore_tests: vec![(arn.clone(), job)],
            ..Snapshot::default()
        };
        let text = render(&snapshot).unwrap();
        assert!(
            text.contains(&format!(
                "coffer_last_restore_test_passed{{resource_arn=\"{arn}\",result=\"TIMED_OUT\"}} 0"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "coffer_last_restore_test_duration_seconds{{resource_arn=\"{arn}\"}} 1.5"
            )),
            "{text}"
        );
    }
}
