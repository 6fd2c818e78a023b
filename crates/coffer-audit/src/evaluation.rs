//! Evaluating a framework over the catalog and recording what changed.
//!
//! The resource, plan and vault controls run over the estate's maps in one
//! pass; the point controls run over the catalog's completed recovery
//! points a page at a time. Each result's digest is compared with that of
//! the stored current result of its (control, resource), read and checked
//! against the ledger (an edited one compares as different, so the result
//! found is recorded as a correction): only results that differ are
//! recorded (kept with history, each in the evidence ledger), the current
//! results of what is no longer evaluated are retired, and the evaluation
//! itself (when, the roll-up, how much changed) is one record. Memory
//! stays bounded by a page plus 32 bytes per current result.

use std::collections::{BTreeMap, HashMap};

use coffer_catalog::{control_key, Catalog, FrameworkKey};
use coffer_model::{ControlResult, Framework, FrameworkEvaluation, VaultCheck};

use crate::controls::{self, Estate, PointFacts, Tally};

/// Rows read or written per catalog round trip.
pub const PAGE: i64 = 20_000;

/// The first 128 bits of a hex digest or key: enough to tell keys and
/// contents apart here.
fn short_hex(hex_digest: &str) -> u128 {
    hex_digest
        .get(..32)
        .and_then(|h| u128::from_str_radix(h, 16).ok())
        .unwrap_or_default()
}

/// What an untrusted current result compares as: no result's digest.
const UNTRUSTED: u128 = 0;

/// Results compared against the current ones and recorded when changed.
struct Recorder<'a> {
    catalog: &'a Catalog,
    /// (control, resource) → digest of the current result, for those not
    /// yet seen in this evaluation.
    unseen: HashMap<u128, u128>,
    changed: Vec<ControlResult>,
    digests: Vec<String>,
    tally: Tally,
    results_changed: u64,
    now: jiff::Timestamp,
}

impl Recorder<'_> {
    async fn take(&mut self, results: Vec<ControlResult>) -> coffer_catalog::Result<()> {
        for result in results {
            self.tally.add(&result);
            let key = short_hex(&control_key(&result.control_name, &result.resource_id));
            let digest = controls::digest(&result);
            if self.unseen.remove(&key) != Some(short_hex(&digest)) {
                self.changed.push(result);
                self.digests.push(digest);
            }
        }
        if self.changed.len() >= usize::try_from(PAGE).unwrap_or(usize::MAX) {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> coffer_catalog::Result<()> {
        self.catalog
            .record_control_results(&self.changed, &self.digests, self.now)
            .await?;
        self.results_changed += u64::try_from(self.changed.len()).unwrap_or(u64::MAX);
        self.changed.clear();
        self.digests.clear();
        Ok(())
    }
}

/// The recovery points the newest check of each vault of `account` and
/// `region` found at fault (snapshot gone or changed), with what it found.
async fn point_faults(
    catalog: &Catalog,
    account: &str,
    region: &str,
) -> coffer_catalog::Result<BTreeMap<String, String>> {
    let mut newest: HashMap<String, VaultCheck> = HashMap::new();
    for stored in catalog
        .list::<VaultCheck>(&[("account_id", account), ("region", region)])
        .await?
    {
        let check = stored.record;
        match newest.get(&check.backup_vault_name) {
            Some(seen) if seen.completed_at >= check.completed_at => {}
            _ => {
                newest.insert(check.backup_vault_name.clone(), check);
            }
        }
    }
    Ok(newest
        .into_values()
        .flat_map(|check| {
            let at = check.completed_at;
            let vault = check.backup_vault_name;
            check
                .faulty_recovery_points
                .into_iter()
                .map(move |(point, why)| {
                    (point, format!("{why} (check of vault {vault:?} at {at})"))
                })
        })
        .collect())
}

/// Evaluates `framework` over `estate` and the catalog's recovery points,
/// records what changed and the evaluation, and returns the evaluation.
///
/// # Errors
/// On catalog errors; results recorded before the error stay recorded
/// (they are true), and the next evaluation completes the picture.
pub async fn evaluate_framework(
    catalog: &Catalog,
    framework: &Framework,
    estate: &Estate<'_>,
) -> coffer_catalog::Result<FrameworkEvaluation> {
    let key = FrameworkKey {
        account_id: estate.account,
        region: estate.region,
        framework_name: &framework.framework_name,
    };
    // Each current result is compared as stored (its status, reason and
    // evidence, its row checked against the ledger), never by the digest
    // cached beside it: a result edited behind Coffer's back compares as
    // different, and the result found is recorded, a correction.
    let mut unseen = HashMap::new();
    let mut after = String::new();
    loop {
        let page = catalog
            .control_current_checked_page(key, &after, PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after.clone_from(&last.key_hash);
        for current in &page {
            let digest = match &current.result {
                Some(result) => short_hex(&controls::digest(result)),
                None => UNTRUSTED,
            };
            unseen.insert(short_hex(&current.key_hash), digest);
        }
    }
    let mut recorder = Recorder {
        catalog,
        unseen,
        changed: Vec::new(),
        digests: Vec::new(),
        tally: Tally::default(),
        results_changed: 0,
        now: estate.now,
    };
    recorder.take(controls::evaluate(framework, estate)).await?;
    let wants_points = framework
        .framework_controls
        .iter()
        .any(|c| controls::is_point_control(&c.control_name));
    if wants_points {
        let faults = point_faults(catalog, estate.account, estate.region).await?;
        let mut after = String::new();
        loop {
            let page: Vec<(String, PointFacts)> = catalog
                .completed_points_page((estate.account, estate.region), &after, PAGE)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after.clone_from(last);
            let points: Vec<PointFacts> = page.into_iter().map(|(_, p)| p).collect();
            let results = controls::evaluate_points(
                framework,
                (estate.account, estate.region),
                estate.now,
                &points,
                &faults,
            );
            recorder.take(results).await?;
        }
    }
    recorder.flush().await?;
    // What was current and was not evaluated this time is retired.
    let mut retired = Vec::new();
    if !recorder.unseen.is_empty() {
        let keys: Vec<String> = recorder
            .unseen
            .keys()
            .map(|k| format!("{k:032x}"))
            .collect();
        retired = catalog.control_current_named(key, &keys).await?;
    }
    let (controls, status) = recorder.tally.summaries();
    let evaluation = FrameworkEvaluation {
        evaluation_id: uuid::Uuid::now_v7().to_string(),
        account_id: estate.account.to_string(),
        region: estate.region.to_string(),
        framework_name: framework.framework_name.clone(),
        status,
        evaluated_at: estate.now,
        controls,
        results_changed: recorder.results_changed,
        results_retired: u64::try_from(retired.len()).unwrap_or(u64::MAX),
    };
    catalog
        .finish_evaluation(&evaluation, &retired, estate.now)
        .await?;
    Ok(evaluation)
}
