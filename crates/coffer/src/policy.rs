//! `coffer validate`, `coffer plan` and `coffer apply`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;
use coffer_catalog::{Change, StackPlan};
use coffer_policy::{
    check_references, collect_files, load_files, Diagnostics, LoadOptions, Loaded,
};

use crate::cli::{Global, PolicyArgs, StackArgs};
use crate::context::Context;
use crate::Outcome;

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

fn load(ctx: &Context, args: &PolicyArgs, stack: &str) -> anyhow::Result<(Loaded, LoadOptions)> {
    let files = collect_files(&args.paths).map_err(anyhow::Error::msg)?;
    let options = LoadOptions {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        stack_name: stack.to_string(),
        parameters: parse_parameters(&args.parameters)?,
    };
    Ok((load_files(&files, &options), options))
}

fn print_diagnostics(diagnostics: &Diagnostics) {
    for d in diagnostics.iter() {
        let label = if d.is_error() { "error" } else { "warning" };
        eprintln!("{label}: {d}");
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn counts(loaded: &Loaded) -> String {
    let set = &loaded.set;
    let mut parts = Vec::new();
    for (n, word) in [
        (set.vaults.len(), "vault"),
        (set.plans.len(), "plan"),
        (set.selections.len(), "selection"),
        (set.frameworks.len(), "framework"),
        (set.report_plans.len(), "report plan"),
        (set.servers.len(), "server"),
        (set.endpoints.len(), "S3 endpoint"),
        (set.resources.len(), "resource"),
    ] {
        if n > 0 {
            parts.push(plural(n, word));
        }
    }
    if parts.is_empty() {
        "nothing declared".to_string()
    } else {
        parts.join(", ")
    }
}

fn print_unmanaged(loaded: &Loaded) {
    if loaded.set.unmanaged.is_empty() {
        return;
    }
    println!("Not managed by Coffer (listed, nothing created):");
    for u in &loaded.set.unmanaged {
        println!("  {} ({}) -> {}", u.logical_id, u.type_name, u.arn);
    }
}

/// Prints diagnostics and says whether loading found errors.
fn report(loaded: &Loaded) -> bool {
    print_diagnostics(&loaded.diagnostics);
    let n_errors = loaded.diagnostics.errors().count();
    let n_warnings = loaded.diagnostics.warnings().count();
    if n_errors > 0 {
        eprintln!(
            "{} and {} in {}; nothing was changed.",
            plural(n_errors, "error"),
            plural(n_warnings, "warning"),
            plural(loaded.set.files.len(), "file")
        );
        return true;
    }
    false
}

pub fn validate(global: &Global, args: &PolicyArgs) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let stack = default_stack(&args.paths);
    let (mut loaded, options) = load(&ctx, args, &stack)?;
    check_references(
        &loaded.set,
        &options,
        &Default::default(),
        false,
        &mut loaded.diagnostics,
    );
    loaded.diagnostics.sort();
    if report(&loaded) {
        return Ok(Outcome::Failure);
    }
    print_unmanaged(&loaded);
    let n_warnings = loaded.diagnostics.warnings().count();
    println!(
        "Valid: {} in {}{}.",
        counts(&loaded),
        plural(loaded.set.files.len(), "file"),
        if n_warnings > 0 {
            format!(" ({})", plural(n_warnings, "warning"))
        } else {
            String::new()
        }
    );
    Ok(Outcome::Success)
}

pub async fn plan(global: &Global, args: &StackArgs, apply: bool) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let stack = args
        .stack
        .clone()
        .unwrap_or_else(|| default_stack(&args.policy.paths));
    if stack.is_empty()
        || stack.len() > 128
        || !stack
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        bail!("stack name {stack:?} must be 1-128 letters, digits, '-', '_' or '.'; pass --stack NAME");
    }
    let (mut loaded, options) = load(&ctx, &args.policy, &stack)?;
    if loaded.diagnostics.has_errors() {
        report(&loaded);
        return Ok(Outcome::Failure);
    }
    let catalog = ctx.catalog().await?;
    let external = crate::stack::external(&catalog, &stack, &options).await?;
    check_references(
        &loaded.set,
        &options,
        &external,
        true,
        &mut loaded.diagnostics,
    );
    loaded.diagnostics.sort();
    if report(&loaded) {
        catalog.close().await;
        return Ok(Outcome::Failure);
    }
    let desired = crate::stack::desired_objects(&loaded.set, &options)?;
    let files: BTreeMap<String, String> = loaded
        .set
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let plan = catalog
        .plan_stack(
            &stack,
            options.account.as_str(),
            options.region.as_str(),
            desired,
            files,
            jiff::Timestamp::now(),
        )
        .await?;
    print_plan(&plan);
    if apply {
        let conflicts = crate::vaults::storage_conflicts(&ctx, &catalog, &loaded.set).await?;
        if !conflicts.is_empty() {
            eprintln!("Cannot apply stack {stack:?}; nothing was changed:");
            for conflict in &conflicts {
                eprintln!("  - {conflict}");
            }
            catalog.close().await;
            return Ok(Outcome::Failure);
        }
    }
    if !plan.blockers.is_empty() {
        eprintln!("Cannot apply stack {stack:?}; nothing was changed:");
        for blocker in &plan.blockers {
            match blocker
                .object
                .as_ref()
                .and_then(|(kind, name)| crate::stack::origin_of(&loaded.set, *kind, name))
            {
                Some(origin) => eprintln!(
                    "  - {}:{} {}: {blocker}",
                    origin.file, origin.pos, origin.logical_id
                ),
                None => eprintln!("  - {blocker}"),
            }
        }
        catalog.close().await;
        return Ok(Outcome::Failure);
    }
    let outcome = if !plan.has_changes() {
        if apply {
            // Heals storage a crash kept from being created after its secret was recorded.
            crate::vaults::provision(&ctx, &catalog, &loaded.set).await?;
        }
        println!(
            "No changes: stack {stack:?} matches its files ({} unchanged).",
            plural(plan.unchanged, "object")
        );
        Outcome::Success
    } else if apply {
        let summary = catalog.apply_stack(&plan, jiff::Timestamp::now()).await?;
        crate::vaults::provision(&ctx, &catalog, &loaded.set).await?;
        println!(
            "Applied stack {stack:?}: {} created, {} changed, {} deleted, {} unchanged.",
            summary.created, summary.updated, summary.deleted, summary.unchanged
        );
        Outcome::Success
    } else {
        let (c, u, d) = plan.count();
        println!(
            "Plan: {c} to create, {u} to change, {d} to delete ({} unchanged). Run `coffer apply` with the same arguments to make these changes.",
            plan.unchanged
        );
        Outcome::ChangesPending
    };
    catalog.close().await;
    Ok(outcome)
}

fn short(value: &Option<serde_json::Value>) -> String {
    match value {
        None => "(none)".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                format!("{}...", text.chars().take(77).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn print_plan(plan: &StackPlan) {
    if !plan.has_changes() {
        return;
    }
    println!(
        "Stack {:?} (account {}, region {}):",
        plan.stack, plan.account_id, plan.region
    );
    for change in &plan.changes {
        match change {
            Change::Create(d) => println!("  + create {} {:?}", d.kind.label(), d.name),
            Change::Update {
                desired, fields, ..
            } => {
                println!("  ~ change {} {:?}", desired.kind.label(), desired.name);
                for field in fields {
                    println!(
                        "      {}: {} -> {}",
                        field.path,
                        short(&field.before),
                        short(&field.after)
                    );
                }
            }
            Change::Delete(s) => println!("  - delete {} {:?}", s.kind.label(), s.name),
        }
    }
}
