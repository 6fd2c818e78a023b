//! `coffer org validate | plan | apply | describe | effective-policy`: the
//! organization as code, kept in the catalog, and each account's effective
//! backup policy, through `coffer_service::org`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::render::plural_of;
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
    /// Show what applying an organization would change: its fields, and the plans it makes in each account and region.
    #[command(
        after_help = "Example:\n  coffer --account 111111111111 org plan organization.yaml\n\nRun as the management account. Exit code 0 when nothing would change, 2 when\nchanges are pending, 1 on errors (docs/organizations.md)."
    )]
    Plan {
        /// The organization file (YAML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Apply an organization: record it, and make its plans in every account and region.
    #[command(
        after_help = "Example:\n  coffer --account 111111111111 org apply organization.yaml\n\nRun as the management account. The apply is in the evidence ledger with the\ndigests of the files and policies, and who applied it."
    )]
    Apply {
        /// The organization file (YAML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Show the organization as last applied.
    #[command(after_help = "Example:\n  coffer org describe -o json")]
    Describe {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Print an account's effective backup policy, as AWS's DescribeEffectivePolicy.
    #[command(
        after_help = "Example:\n  coffer org effective-policy --file organization.yaml --account 333333333333 -o json\n  coffer org effective-policy --account 333333333333   # the applied organization\n\nExit code 1 when the organization has errors (they are printed, no policy is),\nor when a plan of the account's effective policy is not a valid plan (the policy\nis printed, and why each such plan backs nothing up)."
    )]
    EffectivePolicy {
        /// The account (12 digits).
        #[arg(long, value_name = "ID")]
        account: String,
        /// The organization file (YAML); without it, the organization as last applied.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Output format; json and yaml use AWS's DescribeEffectivePolicy shape.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

pub async fn run(ctx: &Context, command: &OrgCommand) -> anyhow::Result<Outcome> {
    match command {
        OrgCommand::Validate { file } => validate(ctx, file),
        OrgCommand::Plan { file } => plan(ctx, file, false).await,
        OrgCommand::Apply { file } => plan(ctx, file, true).await,
        OrgCommand::Describe { output } => describe(ctx, *output).await,
        OrgCommand::EffectivePolicy {
            account,
            file: Some(file),
            output,
        } => effective_policy(ctx, file, account, *output),
        OrgCommand::EffectivePolicy {
            account,
            file: None,
            output,
        } => {
            with_service(ctx, async |service, caller| {
                let described = service.applied_effective_policy(caller, account).await?;
                print_effective(&described, output.to_owned())
            })
            .await
        }
    }
}

fn validate(ctx: &Context, file: &std::path::Path) -> anyhow::Result<Outcome> {
    // Validation reads no catalog: a service over none is not opened.
    let loaded = coffer_service::org::validate_organization(&ctx.caller(), file);
    let (n_errors, n_warnings) = crate::render::diagnostic_lines(&loaded.diagnostics);
    let org = &loaded.organization;
    if n_errors > 0 {
        eprintln!(
            "{}.",
            crate::render::problems_in(n_errors, n_warnings, loaded.sources.len())
        );
        return Ok(Outcome::Failure);
    }
    println!(
        "Valid: {}, {}, {} attached {} times, in {}{}.",
        plural_of(org.organizational_units.len(), "unit", "units"),
        plural_of(org.accounts.len(), "account", "accounts"),
        plural_of(org.policies.len(), "backup policy", "backup policies"),
        org.attachments.len(),
        plural_of(loaded.sources.len(), "file", "files"),
        match n_warnings {
            0 => String::new(),
            n => format!(" ({})", plural_of(n, "warning", "warnings")),
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
        let (n_errors, n_warnings) = crate::render::diagnostic_lines(&run.loaded.diagnostics);
        eprintln!(
            "{}; no effective policy is shown until they are fixed.",
            crate::render::problems_in(n_errors, n_warnings, run.loaded.sources.len())
        );
        return Ok(Outcome::Failure);
    };
    print_effective(&described, format)
}

fn print_effective(
    described: &coffer_service::org::DescribedEffectivePolicy,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
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

async fn plan(ctx: &Context, file: &std::path::Path, apply: bool) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| {
        let run = if apply {
            service.apply_organization(caller, file).await?
        } else {
            service.plan_organization(caller, file).await?
        };
        Ok(render_plan(&run, apply))
    })
    .await
}

/// Prints an organization plan or apply: 0 done or nothing to do, 2
/// changes pending, 1 refused or invalid.
fn render_plan(run: &coffer_service::org::OrgPlanRun, apply: bool) -> Outcome {
    let (n_errors, n_warnings) = crate::render::diagnostic_lines(&run.loaded.diagnostics);
    let Some(planned) = &run.plan else {
        eprintln!(
            "{}; nothing is planned until they are fixed.",
            crate::render::problems_in(n_errors, n_warnings, run.loaded.sources.len())
        );
        return Outcome::Failure;
    };
    for unmade in &run.unmade {
        eprintln!("error: {unmade}");
    }
    for missing in &run.missing_vaults {
        eprintln!("warning: {missing}");
    }
    if !planned.fields.is_empty() {
        println!("Organization:");
        for field in &planned.fields {
            println!(
                "  ~ {}: {} -> {}",
                field.path,
                crate::render::short(&field.before),
                crate::render::short(&field.after)
            );
        }
    }
    let objects = &planned.objects;
    if objects.has_changes() {
        println!("Organization-managed plans:");
    }
    crate::render::changes(&objects.changes, true);
    if !objects.blockers.is_empty() {
        eprintln!("Cannot apply the organization; nothing was changed:");
        for blocker in &objects.blockers {
            eprintln!("  - {blocker}");
        }
        return Outcome::Failure;
    }
    let (c, u, d) = objects.count();
    if let Some(summary) = &run.applied {
        println!(
            "Applied the organization ({}): {} plan objects created, {} changed, {} deleted, {} unchanged.",
            plural_of(planned.fields.len(), "field changed", "fields changed"),
            summary.created,
            summary.updated,
            summary.deleted,
            summary.unchanged
        );
        Outcome::Success
    } else if !planned.has_changes() {
        println!(
            "No changes: the organization matches its files ({} unchanged).",
            plural_of(objects.unchanged, "plan object", "plan objects")
        );
        Outcome::Success
    } else if apply {
        Outcome::Failure
    } else {
        println!(
            "Plan: {} of the organization; {c} to create, {u} to change, {d} to delete ({} unchanged). Run `coffer org apply` with the same file to make these changes.",
            plural_of(planned.fields.len(), "field change", "field changes"),
            objects.unchanged
        );
        Outcome::ChangesPending
    }
}

async fn describe(ctx: &Context, format: OutputFormat) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| {
        let applied = service.describe_organization(caller).await?;
        let view = coffer_service::org::organization_view(&applied.organization);
        let value = json!({
            "Organization": view,
            "AppliedAt": applied.applied_at.to_string(),
            "Version": applied.version,
            "Files": applied.files,
        });
        output::print(format, &value, || {
            let org = &applied.organization;
            let mut out = format!(
                "Organization (version {}, applied {}): management account {}, backup delegated administrator {}\n",
                applied.version,
                applied.applied_at,
                org.management_account.as_ref().map_or("(none)".to_string(), ToString::to_string),
                org.backup_delegated_administrator.as_ref().map_or("(none)".to_string(), ToString::to_string),
            );
            for account in &org.accounts {
                out.push_str(&format!(
                    "  account {} ({}) in {}\n",
                    account.id,
                    account.name,
                    coffer_policy::org::describe_node(org, &account.parent_id)
                ));
            }
            for attachment in &org.attachments {
                out.push_str(&format!(
                    "  policy {} attached to {}\n",
                    attachment.policy_name,
                    coffer_policy::org::describe_node(org, &attachment.target_id)
                ));
            }
            out.trim_end().to_string()
        })?;
        Ok(Outcome::Success)
    })
    .await
}
