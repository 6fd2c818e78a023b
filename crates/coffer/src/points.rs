//! `coffer recovery-points list|describe|delete|update-lifecycle`.

use clap::Subcommand;
use coffer_model::{Lifecycle, RecoveryPoint};
use coffer_service::points::PointFilter;
use coffer_service::ErrorKind;

use crate::context::{with_service, Context};
use crate::output::{self, upper, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum PointsCommand {
    /// List recovery points (of the account and region in force).
    #[command(
        after_help = "Example:\n  coffer recovery-points list\n  coffer recovery-points list --vault payments-primary -o json"
    )]
    List {
        /// Only this vault.
        #[arg(long, value_name = "NAME")]
        vault: Option<String>,
        /// Only this resource.
        #[arg(long, value_name = "ARN")]
        resource: Option<String>,
        /// Include deleted recovery points.
        #[arg(long)]
        all: bool,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Show one recovery point in full.
    #[command(after_help = "Example:\n  coffer recovery-points describe RP -o json")]
    Describe {
        /// Recovery point ARN or ID.
        recovery_point: String,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
    /// Delete a recovery point (legal holds, vault lock and access policy permitting).
    #[command(
        after_help = "Example:\n  coffer recovery-points delete RP\n\nCoffer acts as config.toml's [defaults] principal; the vault's access policy is evaluated for it."
    )]
    Delete {
        /// Recovery point ARN or ID.
        recovery_point: String,
    },
    /// Change a recovery point's lifecycle (a locked vault allows only lengthening within its bounds).
    #[command(
        name = "update-lifecycle",
        after_help = "Example:\n  coffer recovery-points update-lifecycle RP --delete-after-days 90"
    )]
    UpdateLifecycle {
        /// Recovery point ARN or ID.
        recovery_point: String,
        /// Delete after this many days from creation (omit: keep forever).
        #[arg(long, value_name = "DAYS")]
        delete_after_days: Option<u32>,
        /// Move to cold storage after this many days.
        #[arg(long, value_name = "DAYS")]
        cold_after_days: Option<u32>,
    },
}

/// Points the listing shows the way to.
fn listed(e: coffer_service::Error) -> anyhow::Error {
    crate::hint(e, ErrorKind::ResourceNotFound, |m| {
        format!("{m}; `coffer recovery-points list` shows them")
    })
}

pub async fn run(ctx: &Context, command: &PointsCommand) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| {
        match command {
            PointsCommand::List {
                vault,
                resource,
                all,
                output,
            } => {
                let filter = PointFilter {
                    accounts: ctx.accounts.clone(),
                    vault_name: vault.clone(),
                    resource_arn: resource.clone(),
                    include_deleted: *all,
                };
                let points = service.list_recovery_points(caller, &filter).await?;
                print_list(*output, &points)?;
            }
            PointsCommand::Describe {
                recovery_point,
                output,
            } => {
                let point = service
                    .describe_recovery_point(caller, recovery_point)
                    .await
                    .map_err(listed)?;
                output::document(*output, &point)?;
            }
            PointsCommand::Delete { recovery_point } => {
                let point = service
                    .delete_recovery_point(caller, recovery_point)
                    .await
                    .map_err(listed)?;
                println!(
                    "Deleted recovery point {} (its data is freed when vault {:?} is next pruned).",
                    point.recovery_point_arn, point.backup_vault_name
                );
            }
            PointsCommand::UpdateLifecycle {
                recovery_point,
                delete_after_days,
                cold_after_days,
            } => {
                let lifecycle = Lifecycle {
                    move_to_cold_storage_after_days: *cold_after_days,
                    delete_after_days: *delete_after_days,
                    ..Lifecycle::default()
                };
                let point = service
                    .update_recovery_point_lifecycle(caller, recovery_point, lifecycle)
                    .await
                    .map_err(listed)?;
                println!(
                    "Recovery point {}: delete at {}",
                    point.recovery_point_id,
                    point
                        .calculated_lifecycle
                        .delete_at
                        .map_or("never".to_string(), |t| t.to_string())
                );
            }
        }
        Ok(Outcome::Success)
    })
    .await
}

fn print_list(format: OutputFormat, points: &[RecoveryPoint]) -> anyhow::Result<()> {
    output::print(format, &points, || {
        let rows = points
            .iter()
            .map(|p| {
                vec![
                    p.recovery_point_id.clone(),
                    p.backup_vault_name.clone(),
                    p.resource_arn.clone(),
                    upper(&p.status),
                    p.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    p.backup_size_in_bytes.to_string(),
                    p.calculated_lifecycle
                        .delete_at
                        .map_or("never".into(), |t| t.strftime("%Y-%m-%d").to_string()),
                ]
            })
            .collect();
        let header = [
            "ID",
            "VAULT",
            "RESOURCE",
            "STATUS",
            "CREATED",
            "BYTES",
            "DELETE AT",
        ];
        output::table(&header, rows)
    })
}
