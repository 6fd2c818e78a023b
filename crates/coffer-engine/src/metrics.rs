//! Prometheus metrics from the catalog's state, every series prefixed
//! `coffer_` (the daemon serves them on `/metrics`; `coffer metrics` prints
//! them once).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use coffer_model::{BackupJob, BackupJobState, RecoveryPoint, RecoveryPointStatus, VaultCheck};
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

/// The exposition text for `jobs`, `points`, the next planned jobs and
/// the vault checks.
///
/// # Errors
/// Only if formatting fails.
pub fn render(
    jobs: &[BackupJob],
    points: &[RecoveryPoint],
    upcoming: &[PlannedJob],
    checks: &[VaultCheck],
) -> Result<String, std::fmt::Error> {
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
        let n = jobs.iter().filter(|j| j.state == state).count();
        by_state
            .get_or_create(&vec![("state".into(), state_name(state))])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    registry.register(
        "backup_jobs",
        "Backup jobs in the catalog, by state",
        by_state,
    );

    let read = Family::<Labels, FloatGauge>::default();
    let stored = Family::<Labels, FloatGauge>::default();
    let live = Family::<Labels, Gauge>::default();
    let mut per_vault: BTreeMap<String, (f64, f64, i64)> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.status == RecoveryPointStatus::Completed)
    {
        let entry = per_vault.entry(p.backup_vault_arn.clone()).or_default();
        entry.0 += p.backup_size_in_bytes as f64;
        entry.1 += p.stored_bytes as f64;
        entry.2 += 1;
    }
    for (vault, (bytes, stored_bytes, n)) in &per_vault {
        let labels = vec![("vault_arn".to_string(), vault.clone())];
        read.get_or_create(&labels).set(*bytes);
        stored.get_or_create(&labels).set(*stored_bytes);
        live.get_or_create(&labels).set(*n);
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
    let mut latest: BTreeMap<&str, &RecoveryPoint> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.status == RecoveryPointStatus::Completed)
    {
        let slot = latest.entry(p.resource_arn.as_str()).or_insert(p);
        if p.creation_date > slot.creation_date {
            *slot = p;
        }
    }
    for (resource, p) in latest {
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
    for job in upcoming {
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
    let mut newest: BTreeMap<(String, String, String), &VaultCheck> = BTreeMap::new();
    for check in checks {
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
    }
    registry.register(
        "vault_check_passed",
        "Whether the newest check of each vault (structure and a part of its data read back) passed",
        check_passed,
    );
    registry.register(
        "vault_check_timestamp_seconds",
        "When the newest check of each vault ended",
        check_time,
    );

    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}
