//! `coffer legal-holds create|list|cancel`: holds pin recovery points
//! against deletion, expiry and lifecycle changes while they are active.

use anyhow::bail;
use clap::Subcommand;
use coffer_model::{DateRange, LegalHold, RecoveryPointSelection};
use coffer_service::ErrorKind;

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum HoldsCommand {
    /// Create an active legal hold over the recovery points it selects.
    #[command(
        after_help = "Example:\n  coffer legal-holds create --title \"case 2026-17\" --description \"litigation hold\" --vault payments-primary\n  coffer legal-holds create --title t --description d --resource ARN --from 2026-01-01 --to 2026-06-30"
    )]
    Create {
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: String,
        /// Only points in this vault (repeatable; none = every vault).
        #[arg(long = "vault", value_name = "NAME")]
        vaults: Vec<String>,
        /// Only points of this resource (repeatable; none = every resource).
        #[arg(long = "resource", value_name = "ARN")]
        resources: Vec<String>,
        /// Only points created from this date or time.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Only points created up to this date or time.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
    },
    /// List legal holds.
    #[command(after_help = "Example:\n  coffer legal-holds list -o json")]
    List {
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Cancel a legal hold (the record is kept).
    #[command(
        after_help = "Example:\n  coffer legal-holds cancel HOLD-ID --reason \"case closed\""
    )]
    Cancel {
        /// Legal hold ID.
        id: String,
        /// Why the hold ends.
        #[arg(long)]
        reason: String,
    },
}

fn parse_time(text: &str, flag: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| format!("{d}T00:00:00Z").parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| anyhow::anyhow!("{flag} {text:?}: give a date (2026-11-24) or an RFC 3339 time (2026-11-24T10:00:00Z)"))
}

pub async fn run(ctx: &Context, command: &HoldsCommand) -> anyhow::Result<Outcome> {
    let selection = match command {
        HoldsCommand::Create {
            vaults,
            resources,
            from,
            to,
            ..
        } => {
            let date_range = match (from, to) {
                (Some(from), Some(to)) => Some(DateRange {
                    from_date: parse_time(from, "--from")?,
                    to_date: parse_time(to, "--to")?,
                }),
                (None, None) => None,
                _ => bail!("give both --from and --to, or neither"),
            };
            Some(RecoveryPointSelection {
                vault_names: vaults.clone(),
                resource_identifiers: resources.clone(),
                date_range,
            })
        }
        _ => None,
    };
    with_service(ctx, async |service, caller| {
        match command {
            HoldsCommand::Create {
                title, description, ..
            } => {
                let selection = selection.unwrap_or_default();
                let hold = service
                    .create_legal_hold(caller, title, description, selection)
                    .await?;
                println!(
                    "Legal hold {} ACTIVE: {}",
                    hold.legal_hold_id, hold.legal_hold_arn
                );
            }
            HoldsCommand::List { output } => {
                let holds = service.list_legal_holds(caller).await?;
                print_list(*output, &holds)?;
            }
            HoldsCommand::Cancel { id, reason } => {
                service
                    .cancel_legal_hold(caller, id, reason)
                    .await
                    .map_err(|e| match e.kind() {
                        ErrorKind::ResourceNotFound => {
                            anyhow::anyhow!("{e}; `coffer legal-holds list` shows them")
                        }
                        ErrorKind::MissingParameterValue => anyhow::anyhow!("--reason: {e}"),
                        _ => e.into(),
                    })?;
                println!("Legal hold {id} CANCELED.");
            }
        }
        Ok(Outcome::Success)
    })
    .await
}

fn print_list(format: OutputFormat, holds: &[LegalHold]) -> anyhow::Result<()> {
    output::print(format, &holds, || {
        let rows = holds
            .iter()
            .map(|h| {
                let s = &h.recovery_point_selection;
                let all_or = |list: &[String]| {
                    if list.is_empty() {
                        "*".to_string()
                    } else {
                        list.join(",")
                    }
                };
                vec![
                    h.legal_hold_id.clone(),
                    format!("{:?}", h.status).to_uppercase(),
                    h.title.clone(),
                    all_or(&s.vault_names),
                    all_or(&s.resource_identifiers),
                ]
            })
            .collect();
        output::table(&["ID", "STATUS", "TITLE", "VAULTS", "RESOURCES"], rows)
    })
}
