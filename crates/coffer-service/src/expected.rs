//! The backups the policy expected over a period, for the expected-backup
//! report (BACKUP_EXPECTATION_REPORT): every rule's fire times for every
//! resource its plan's selections chose, from the plans and selections as
//! they were in force at each time (the object history), planned exactly
//! as the scheduler plans (`coffer_engine::planning`, overlapping rules
//! merged), each with the ID the scheduler gives its job.

use std::collections::{BTreeMap, BTreeSet};

use coffer_catalog::{Catalog, ObjectKind, ObjectVersion};
use coffer_engine::planning::{planned_jobs, PlanInScope};
use coffer_engine::scheduling::scheduled_job_id;
use coffer_model::{AccountId, BackupPlan, BackupSelection, Region, Resource};
use coffer_report::expected::ExpectedBackup;
use jiff::{SignedDuration, Timestamp};

use crate::error::Result;

/// An object as in force at a time, with when its incarnation began (its
/// first version after its last deletion) and every version of that
/// incarnation up to the time.
struct InForce<'v> {
    newest: &'v ObjectVersion,
    incarnation: &'v [ObjectVersion],
}

/// The objects of `versions` (by account, region and name, then oldest
/// first) in force at `at`, by `(account, region)`.
fn in_force_at(
    versions: &[ObjectVersion],
    at: Timestamp,
) -> BTreeMap<(String, String), Vec<InForce<'_>>> {
    let mut out: BTreeMap<(String, String), Vec<InForce<'_>>> = BTreeMap::new();
    for group in versions
        .chunk_by(|a, b| (&a.account_id, &a.region, &a.name) == (&b.account_id, &b.region, &b.name))
    {
        let written = group.partition_point(|v| v.time <= at);
        let so_far = &group[..written];
        let Some(newest) = so_far.last().filter(|v| !v.is_tombstone()) else {
            continue;
        };
        let began = so_far
            .iter()
            .rposition(ObjectVersion::is_tombstone)
            .map_or(0, |i| i + 1);
        out.entry((newest.account_id.clone(), newest.region.clone()))
            .or_default()
            .push(InForce {
                newest,
                incarnation: &so_far[began..],
            });
    }
    out
}

fn doc_of<T: serde::de::DeserializeOwned>(version: &ObjectVersion) -> Option<T> {
    let doc = version.doc.clone()?;
    match serde_json::from_value(doc) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::error!(name = %version.name, version = version.version, %error, "unreadable version in the object history");
            None
        }
    }
}

/// The backups expected with fire times in `[start, end)`: the period is
/// cut where a plan or selection changed, and each part planned with what
/// was in force at its start. `resources` are the estate's, with when each
/// was first seen.
///
/// # Errors
/// Catalog errors.
pub(crate) async fn expected_backups(
    catalog: &Catalog,
    resources: &[Resource],
    resources_since: &BTreeMap<String, Timestamp>,
    start: Timestamp,
    end: Timestamp,
) -> Result<Vec<ExpectedBackup>> {
    let plans = catalog
        .object_versions_until(ObjectKind::BackupPlan, end)
        .await?;
    let selections = catalog
        .object_versions_until(ObjectKind::BackupSelection, end)
        .await?;
    let mut cuts: BTreeSet<Timestamp> = plans
        .iter()
        .chain(&selections)
        .map(|v| v.time)
        .filter(|t| *t > start && *t < end)
        .collect();
    cuts.insert(start);
    cuts.insert(end);
    let cuts: Vec<Timestamp> = cuts.into_iter().collect();
    let just_before = |t: Timestamp| t.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(t);
    let mut out = Vec::new();
    for part in cuts.windows(2) {
        let (from, to) = (part[0], part[1]);
        let plans_then = in_force_at(&plans, from);
        let selections_then = in_force_at(&selections, from);
        for ((account, region), in_force) in &plans_then {
            let (Ok(account_id), Ok(region_id)) = (AccountId::new(account), Region::new(region))
            else {
                continue;
            };
            let (mine, mine_since): (Vec<BackupSelection>, Vec<Timestamp>) = selections_then
                .get(&(account.clone(), region.clone()))
                .map(|found| {
                    found
                        .iter()
                        .filter_map(|s| {
                            doc_of::<BackupSelection>(s.newest)
                                .map(|doc| (doc, s.incarnation[0].time))
                        })
                        .unzip()
                })
                .unwrap_or_default();
            for plan_version in in_force {
                let Some(plan) = doc_of::<BackupPlan>(plan_version.newest) else {
                    continue;
                };
                let created_at = plan_version.incarnation[0].time;
                // A rule exists from the first version of this incarnation
                // that has it.
                let rules_since: Vec<Timestamp> = plan
                    .rules
                    .iter()
                    .map(|rule| {
                        plan_version
                            .incarnation
                            .iter()
                            .find(|v| {
                                doc_of::<BackupPlan>(v).is_some_and(|p| {
                                    p.rules.iter().any(|r| r.rule_name == rule.rule_name)
                                })
                            })
                            .map_or(created_at, |v| v.time)
                    })
                    .collect();
                let scope = [PlanInScope {
                    account: &account_id,
                    region: &region_id,
                    plan: &plan,
                    selections: &mine,
                    created_at,
                    rules_since: &rules_since,
                    selections_since: &mine_since,
                }];
                let planned = match planned_jobs(
                    &scope,
                    resources,
                    resources_since,
                    just_before(from),
                    just_before(to),
                ) {
                    Ok(planned) => planned,
                    Err(error) => {
                        tracing::error!(%error, "the expected backups of a rule cannot be computed");
                        continue;
                    }
                };
                out.extend(planned.into_iter().map(|job| ExpectedBackup {
                    account_id: account.clone(),
                    region: region.clone(),
                    job_id: scheduled_job_id(
                        &job.plan_name,
                        &job.rule_name,
                        &job.resource_arn,
                        job.fire_at,
                    ),
                    plan_name: job.plan_name,
                    rule_name: job.rule_name,
                    resource_arn: job.resource_arn,
                    fire_at: job.fire_at,
                    start_by: job.start_by,
                    completion_window_minutes: job.completion_window_minutes,
                    lifecycle: job.lifecycle,
                }));
            }
        }
    }
    out.sort_by(|a, b| {
        (
            &a.account_id,
            &a.region,
            a.fire_at,
            &a.resource_arn,
            &a.rule_name,
        )
            .cmp(&(
                &b.account_id,
                &b.region,
                b.fire_at,
                &b.resource_arn,
                &b.rule_name,
            ))
    });
    Ok(out)
}
