//! `coffer schedule preview`: the backup jobs the applied plans will create
//! in the next hours, as the scheduler plans them (each rule in its time
//! zone; overlapping rules of one plan merged for the longest retention).

use clap::Subcommand;
use serde_json::json;

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The backup jobs the applied plans create in the next hours.
    #[command(
        after_help = "Example:\n  coffer schedule preview\n  coffer schedule preview --hours 168 -o json\n\nEach rule fires in its own time zone; where rules of one plan overlap on a\nresource, one job runs, for the longest retention (MERGED counts the others)."
    )]
    Preview {
        /// How far ahead.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

pub async fn preview(ctx: &Context, hours: u32, format: OutputFormat) -> anyhow::Result<Outcome> {
    let jobs = with_service(ctx, async |service, caller| {
        Ok(service.upcoming_jobs(caller, hours).await?)
    })
    .await?;
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
