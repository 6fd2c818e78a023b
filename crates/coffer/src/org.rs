//! `coffer org validate | effective-policy`: the organization as code and
//! each account's effective backup policy, through `coffer_service::org`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::context::Context;
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Check an organization file, the policy files and templates it names, and every account's effective policy.
    #[command(
        after_help = "Example:\n  coffer org validate organization.yaml\n\nExit code 0 when valid (warnings allowed), 1 when any error is found\n(docs/organizations.md)."
    )]
    Validate {
        /// The organization file (YAML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print an account's effective backup policy, as AWS's DescribeEffectivePolicy.
    #[command(
        after_help = "Example:\n  coffer org effective-policy --file organization.yaml --account 333333333333 -o json\n\nExit code 1 when the organization has errors (they are printed, no policy is),\nor when a plan of the account's effective policy is not a valid plan (the policy\nis printed, and why each such plan backs nothing up)."
    )]
    EffectivePolicy {
        /// The account (12 digits).
        #[arg(long, value_name = "ID")]
        account: String,
        /// The organization file (YAML).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Output format; json and yaml use AWS's DescribeEffectivePolicy shape.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

pub async fn run(ctx: &Context, command: &OrgCommand) -> anyhow::Result<Outcome> {
    match command {
        OrgCommand::Validate { file } => validate(ctx, file),
        OrgCommand::EffectivePolicy {
            account,
            file,
            output,
        } => effective_policy(ctx, file, account, *output),
    }
}

fn print_diagnostics(loaded: &coffer_policy::org::LoadedOrganization) -> (usize, usize) {
    for d in loaded.diagnostics.iter() {
        let label = if d.is_error() { "error" } else { "warning" };
        eprintln!("{label}: {d}");
    }
    (
        loaded.diagnostics.errors().count(),
        loaded.diagnostics.warnings().count(),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn validate(ctx: &Context, file: &std::path::Path) -> anyhow::Result<Outcome> {
    // Validation reads no catalog: a service over none is not opened.
    let loaded = coffer_service::org::validate_organization(&ctx.caller(), file);
    let (n_errors, n_warnings) = print_diagnostics(&loaded);
    let org = &loaded.organization;
    if n_errors > 0 {
        eprintln!(
            "{} and {} in {}.",
            plural(n_errors, "error", "errors"),
            plural(n_warnings, "warning", "warnings"),
            plural(loaded.sources.len(), "file", "files")
        );
        return Ok(Outcome::Failure);
    }
    println!(
        "Valid: {}, {}, {} attached {} times, in {}{}.",
        plural(org.organizational_units.len(), "unit", "units"),
        plural(org.accounts.len(), "account", "accounts"),
        plural(org.policies.len(), "backup policy", "backup policies"),
        org.attachments.len(),
        plural(loaded.sources.len(), "file", "files"),
        match n_warnings {
            0 => String::new(),
            n => format!(" ({})", plural(n, "warning", "warnings")),
        }
    );
    Ok(Outcome::Success)
}

fn effective_policy(
    ctx: &Context,
    file: &std::path::Path,
    account: &str,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let run = coffer_service::org::describe_effective_policy(&ctx.caller(), file, account)?;
    let Some(described) = run.described else {
        let (n_errors, n_warnings) = print_diagnostics(&run.loaded);
        eprintln!(
            "{} and {} in {}; no effective policy is shown until they are fixed.",
            plural(n_errors, "error", "errors"),
            plural(n_warnings, "warning", "warnings"),
            plural(run.loaded.sources.len(), "file", "files")
        );
        return Ok(Outcome::Failure);
    };
    let value = json!({"EffectivePolicy": {
        "PolicyContent": described.policy_content,
        "LastUpdatedTimestamp": described.last_updated.to_string(),
        "TargetId": described.target_id,
        "PolicyType": described.policy_type,
    }});
    output::print(format, &value, || {
        let pretty = serde_json::to_string_pretty(&described.effective.content)
            .unwrap_or_else(|_| described.policy_content.clone());
        format!(
            "TargetId: {}\nPolicyType: {}\nLastUpdatedTimestamp: {}\nPolicyContent:\n{pretty}",
            described.target_id, described.policy_type, described.last_updated
        )
    })?;
    let invalid = &described.effective.invalid_plans;
    for plan in invalid {
        eprintln!(
            "error: account {} {}: {}: plan {:?} is not a valid plan and backs nothing up until fixed",
            described.target_id,
            coffer_policy::org::json_path(&plan.path),
            plan.message,
            plan.plan
        );
    }
    Ok(if invalid.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
