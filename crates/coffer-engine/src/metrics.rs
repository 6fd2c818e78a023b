//! Prometheus metrics from the catalog's state, every series prefixed
//! `coffer_` (the daemon serves them on `/metrics`; `coffer metrics` prints
//! them once).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use coffer_catalog::VaultTotals;
use coffer_model::{Arn, BackupJobState, RecoveryPoint, VaultCheck};
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

    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}
