//! `coffer schedule preview`: the backup jobs the applied plans will create
//! in the next hours, as the scheduler plans them (each rule in its time
//! zone; overlapping rules of one plan merged for the longest retention).

use coffer_catalog::ObjectKind;
use coffer_engine::planning::{planned_jobs, PlanInScope};
use coffer_model::{BackupPlan, BackupSelection, Resource};
use serde_json::json;

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::{output, Outcome};

/// The jobs the applied plans of the account and region in force create
/// in the next `hours`.
pub async fn upcoming(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    hours: u32,
) -> anyhow::Result<Vec<coffer_engine::planning::PlannedJob>> {
    let (account, region) = (ctx.account.as_str(), ctx.region.as_str());
    let in_scope = |o: &coffer_catalog::StoredObject| o.account_id == account && o.region == region;
    let plans = catalog.list_objects(ObjectKind::BackupPlan).await?;
    let selections = catalog.list_objects(ObjectKind::BackupSelection).await?;
    let resources = catalog.list_objects(ObjectKind::Resource).await?;
    let mut plan_values: Vec<(BackupPlan, jiff::Timestamp)> = Vec::new();
    for object in plans.iter().filter(|o| in_scope(o)) {
        plan_values.push((
            serde_json::from_value(object.doc.clone())?,
            object.created_at,
        ));
    }
    let selections: Vec<BackupSelection> = selections
        .iter()
        .filter(|o| in_scope(o))
        .map(|o| serde_json::from_value(o.doc.clone()))
        .collect::<Result<_, _>>()?;
    let resources: Vec<Resource> = resources
        .iter()
        .map(|o| serde_json::from_value(o.doc.clone()))
        .collect::<Result<_, _>>()?;
    let scopes: Vec<PlanInScope<'_>> = plan_values
        .iter()
        .map(|(plan, created_at)| PlanInScope {
            account: &ctx.account,
            region: &ctx.region,
            plan,
            selections: &selections,
            created_at: *created_at,
        })
        .collect();
    let now = jiff::Timestamp::now();
    let until = now
        .checked_add(jiff::SignedDuration::from_hours(i64::from(hours)))
        .unwrap_or(now);
    Ok(planned_jobs(&scopes, &resources, now, until)?)
}

pub async fn preview(global: &Global, hours: u32, format: OutputFormat) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let jobs = upcoming(&ctx, &catalog, hours).await;
    catalog.close().await;
    let jobs = jobs?;
    let docs: Vec<_> = jobs
        .iter()
        .map(|j| {
            json!({
                "ScheduledAt": j.fire_at.to_string(),
                "StartBy": j.start_by.to_string(),
                "BackupPlanName": j.plan_name,
                "BackupRuleName": j.rule_name,
                "ResourceArn": j.resource_arn,
                "BackupVaultName": j.vault_name,
                "Lifecycle": j.lifecycle,
                "Merged": j.merged.iter().map(|(rule, at)| json!({"BackupRuleName": rule, "ScheduledAt": at.to_string()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    output::print(format, &docs, || {
        let rows = jobs
            .iter()
            .map(|j| {
                vec![
                    j.fire_at.strftime("%Y-%m-%d %H:%M").to_string(),
                    j.plan_name.clone(),
                    j.rule_name.clone(),
                    j.resource_arn.clone(),
                    j.vault_name.clone(),
                    j.merged.len().to_string(),
                ]
            })
            .collect();
        output::table(
            &[
                "SCHEDULED (UTC)",
                "PLAN",
                "RULE",
                "RESOURCE",
                "VAULT",
                "MERGED",
            ],
            rows,
        )
    })?;
    Ok(Outcome::Success)
}
