//! `coffer schedule preview`: the backup jobs the applied plans will create
//! in the next hours, as the scheduler plans them (each rule in its time
//! zone; overlapping rules of one plan merged for the longest retention).

use coffer_catalog::ObjectKind;
use coffer_model::Resource;
use serde_json::json;

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::{output, Outcome};

/// The jobs the applied plans of the account and region in force create
/// in the next `hours` (the scheduler's own planning).
pub async fn upcoming(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    hours: u32,
) -> anyhow::Result<Vec<coffer_engine::planning::PlannedJob>> {
    let env = ctx.env(catalog);
    let resources: Vec<Resource> = env.objects(ObjectKind::Resource).await?;
    let now = jiff::Timestamp::now();
    let until = now
        .checked_add(jiff::SignedDuration::from_hours(i64::from(hours)))
        .unwrap_or(now);
    // A plan selects only resources of its own account and region.
    let here = |r: &Resource| r.account_id == ctx.account && r.region == ctx.region;
    let resources: Vec<Resource> = resources.into_iter().filter(here).collect();
    // Every resource known now existed before any time to come.
    let since = std::collections::BTreeMap::new();
    Ok(coffer_engine::daemon::plan_span(&env, &resources, &since, now, until).await?)
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
