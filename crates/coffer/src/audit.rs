//! `coffer audit evaluate`: the frameworks' controls over the catalog's
//! state, now.

use clap::Subcommand;
use coffer_audit::controls::{Compliance, ControlResult};
use coffer_service::ErrorKind;
use serde_json::json;

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

/// Failing results the table shows per framework.
const DETAILS: usize = 50;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Evaluate the frameworks' controls now and record what changed.
    #[command(
        after_help = "Example:\n  coffer audit evaluate\n  coffer audit evaluate --framework payments_core -o json\n  coffer audit evaluate --summary -o json\n\nEach result is COMPLIANT, NON_COMPLIANT (with the reason) or INSUFFICIENT_DATA. A result is recorded (with history, in the evidence ledger) when it differs from the current one; each evaluation is recorded with its per-control roll-up."
    )]
    Evaluate {
        /// Only this framework (default: every framework of the account and region).
        #[arg(long, value_name = "NAME")]
        framework: Option<String>,
        /// Only the roll-up per control and framework, not every result.
        #[arg(long)]
        summary: bool,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

pub async fn run(ctx: &Context, command: &AuditCommand) -> anyhow::Result<Outcome> {
    let AuditCommand::Evaluate {
        framework: only,
        summary,
        output: format,
    } = command;
    let (summary, format) = (*summary, *format);
    with_service(ctx, async |service, caller| {
        let evaluated = service
            .evaluate_frameworks_in(caller, only.as_deref(), ctx.accounts.as_deref())
            .await
            .map_err(|e| match only {
                Some(_) if e.kind() == ErrorKind::ResourceNotFound => {
                    anyhow::anyhow!("{e}; `coffer get frameworks` lists them")
                }
                _ => e.into(),
            })?;
        let mut docs = Vec::new();
        let mut rows = Vec::new();
        let mut details = Vec::new();
        for (framework, evaluation) in &evaluated {
            // JSON carries every current result; the table, those that fail.
            let results = if summary {
                Vec::new()
            } else {
                service
                    .current_results_in(
                        caller,
                        &evaluation.account_id,
                        &framework.framework_name,
                        format == OutputFormat::Table,
                    )
                    .await?
            };
            // Across accounts, each framework is named with its account.
            let name = if evaluation.account_id == caller.account.as_str() {
                framework.framework_name.clone()
            } else {
                format!("{} ({})", framework.framework_name, evaluation.account_id)
            };
            for c in &evaluation.controls {
                rows.push(vec![
                    name.clone(),
                    c.control_name.clone(),
                    c.status.as_str().to_string(),
                    c.compliant.to_string(),
                    c.non_compliant.to_string(),
                ]);
            }
            let failing: Vec<&ControlResult> = results
                .iter()
                .filter(|r| r.status != Compliance::Compliant)
                .collect();
            for r in failing.iter().take(DETAILS) {
                details.push(format!(
                    "{} {} {}: {}",
                    r.status.as_str(),
                    r.control_name,
                    r.resource_id,
                    r.reason
                ));
            }
            if failing.len() > DETAILS {
                details.push(format!(
                    "... and {} more of {}: `coffer audit evaluate -o json` lists every result",
                    failing.len() - DETAILS,
                    framework.framework_name
                ));
            }
            docs.push(json!({
                "FrameworkName": framework.framework_name,
                "AccountId": evaluation.account_id,
                "FrameworkStatus": evaluation.status.as_str(),
                "EvaluatedAt": evaluation.evaluated_at.to_string(),
                "ResultsChanged": evaluation.results_changed,
                "ResultsRetired": evaluation.results_retired,
                "Controls": evaluation.controls.iter().map(|c| json!({
                    "ControlName": c.control_name, "ControlComplianceStatus": c.status.as_str(),
                    "NumResourcesCompliant": c.compliant, "NumResourcesNonCompliant": c.non_compliant,
                    "NumResourcesInsufficientData": c.insufficient_data,
                })).collect::<Vec<_>>(),
            }));
            if !summary {
                if let Some(doc) = docs.last_mut() {
                    doc["Results"] = json!(results);
                }
            }
        }
        output::print(format, &docs, || {
            let mut text = output::table(
                &[
                    "FRAMEWORK",
                    "CONTROL",
                    "STATUS",
                    "COMPLIANT",
                    "NON-COMPLIANT",
                ],
                rows,
            );
            if !details.is_empty() {
                text.push_str("\n\n");
                text.push_str(&details.join("\n"));
            }
            text
        })?;
        // An evaluation that ran is a success, whatever it found.
        Ok(Outcome::Success)
    })
    .await
}
