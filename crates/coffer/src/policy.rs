//! `coffer validate`, `coffer plan` and `coffer apply`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use coffer_service::stack::PolicyInput;

use crate::context::{with_service, Context};
use crate::{render, Outcome};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Policy and inventory files, or directories of them.
    #[arg(required = true, value_name = "FILES|DIRS")]
    pub paths: Vec<PathBuf>,
    /// Template parameter value, NAME=VALUE (repeatable).
    #[arg(long = "parameter", short = 'p', value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StackArgs {
    /// Stack that owns the objects (default: the first file's name without extension).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Confirm changes that weaken protection (a vault lock removed or loosened, an access policy removed or a Deny dropped); `apply` refuses them without it.
    #[arg(long)]
    pub allow_weakening: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

fn parse_parameters(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            bail!("--parameter {item:?} must be NAME=VALUE");
        };
        out.insert(name.trim().to_string(), value.to_string());
    }
    Ok(out)
}

/// The stack name when none is given: the first path's name without extension.
fn default_stack(paths: &[PathBuf]) -> String {
    paths
        .first()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "default".to_string())
}

fn input(args: &PolicyArgs, stack: String) -> anyhow::Result<PolicyInput> {
    Ok(PolicyInput {
        paths: args.paths.clone(),
        parameters: parse_parameters(&args.parameters)?,
        stack,
        allow_weakening: false,
    })
}

pub async fn validate(ctx: &Context, args: &PolicyArgs) -> anyhow::Result<Outcome> {
    let input = input(args, default_stack(&args.paths))?;
    // Validation reads no catalog: a service over none is not opened.
    let loaded = coffer_service::stack::validate_files(&ctx.caller(), &input)?;
    if render::diagnostics(&loaded) {
        return Ok(Outcome::Failure);
    }
    render::unmanaged(&loaded);
    let n_warnings = loaded.diagnostics.warnings().count();
    let files = loaded.set.files.len();
    println!(
        "Valid: {} in {files} file{}{}.",
        render::counts(&loaded),
        if files == 1 { "" } else { "s" },
        match n_warnings {
            0 => String::new(),
            1 => " (1 warning)".to_string(),
            n => format!(" ({n} warnings)"),
        }
    );
    Ok(Outcome::Success)
}

pub async fn plan(ctx: &Context, args: &StackArgs, apply: bool) -> anyhow::Result<Outcome> {
    let stack = args
        .stack
        .clone()
        .unwrap_or_else(|| default_stack(&args.policy.paths));
    if let Err(error) = coffer_service::stack::check_stack_name(&stack) {
        bail!("{error}; pass --stack NAME");
    }
    let input = PolicyInput {
        allow_weakening: args.allow_weakening,
        ..input(&args.policy, stack.clone())?
    };
    with_service(ctx, async |service, caller| {
        let run = service.plan_stack(caller, &input, apply).await?;
        Ok(render::stack_run(&run, &stack, apply))
    })
    .await
}
