//! `coffer restore start` and `coffer restore validate`: restore jobs.

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_drivers::RestoreTarget;
use coffer_model::{RecoveryPointStatus, RestoreJob, RestoreJobStatus, ValidationStatus};

use crate::cli::{Global, RestoreStart, RestoreValidate};
use crate::context::Context;
use crate::{lookup, progress, Outcome};

fn target(args: &RestoreStart) -> anyhow::Result<RestoreTarget> {
    match (&args.target_dir, &args.target_file, &args.target_database) {
        (Some(dir), None, None) => {
            if args.table.is_some() {
                bail!("--table goes with --target-database; for a directory, choose a path with --path");
            }
            Ok(RestoreTarget::Directory {
                path: absolute(dir)?,
                select: args.path.clone(),
            })
        }
        (None, Some(file), None) => Ok(RestoreTarget::File { path: absolute(file)? }),
        (None, None, Some(name)) => {
            if args.path.is_some() {
                bail!("--path goes with --target-dir; for a database, choose a table with --table");
            }
            Ok(RestoreTarget::Database {
                name: name.clone(),
                table: args.table.clone(),
            })
        }
        _ => bail!("give exactly one of --target-dir DIR (file systems), --target-file FILE (SQLite) or --target-database NAME (PostgreSQL)"),
    }
}

fn absolute(path: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// A restore job, recorded through the engine's state setter.
struct Job {
    env: coffer_engine::env::Env,
    id: String,
}

impl Job {
    async fn create(
        env: coffer_engine::env::Env,
        point: &coffer_model::RecoveryPoint,
        validating: bool,
        target: Option<String>,
    ) -> anyhow::Result<Job> {
        let job = coffer_engine::jobs::create_restore_job(&env, point, validating, target).await?;
        Ok(Job {
            env,
            id: job.restore_job_id,
        })
    }

    async fn set(
        &self,
        to: RestoreJobStatus,
        change: impl FnOnce(&mut RestoreJob),
    ) -> anyhow::Result<()> {
        coffer_engine::jobs::set_restore_state(&self.env, &self.id, to, change).await?;
        Ok(())
    }

    async fn fail(&self, message: String) -> anyhow::Result<Outcome> {
        self.set(RestoreJobStatus::Failed, |job| {
            job.status_message = Some(message.clone());
            if job.validation_status.is_some() {
                job.validation_status = Some(ValidationStatus::Failed);
                job.validation_status_message = Some(message.clone());
            }
        })
        .await?;
        bail!("restore job {} FAILED: {message}", self.id)
    }
}

pub async fn start(global: &Global, args: &RestoreStart) -> anyhow::Result<Outcome> {
    let target = target(args)?;
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run_start(&ctx, &catalog, args, target).await;
    catalog.close().await;
    result
}

async fn run_start(
    ctx: &Context,
    catalog: &Catalog,
    args: &RestoreStart,
    target: RestoreTarget,
) -> anyhow::Result<Outcome> {
    let point = lookup::recovery_point(catalog, &args.recovery_point)
        .await?
        .record;
    if point.status != RecoveryPointStatus::Completed {
        bail!(
            "recovery point {} is {:?}; only a completed recovery point can be restored",
            point.recovery_point_id,
            point.status
        );
    }
    let job = Job::create(ctx.env(catalog), &point, false, Some(describe(&target))).await?;
    println!(
        "Restore job {}: {} to {}",
        job.id,
        point.recovery_point_arn,
        describe(&target)
    );
    let prepared = prepare(ctx, catalog, &point).await;
    let (resource, mut opened) = match prepared {
        Ok(found) => found,
        Err(e) => return job.fail(format!("{e:#}")).await,
    };
    job.set(RestoreJobStatus::Running, |_| {}).await?;
    let bar = progress::Bar::new("restore");
    opened.storage = opened.storage.with_observer(bar.clone());
    let outcome = coffer_drivers::restore(&point, &resource, &opened, &target, args.force).await;
    coffer_vault::Observer::done(&*bar);
    match outcome {
        Ok(outcome) => {
            job.set(RestoreJobStatus::Completed, |j| {
                j.percent_done = 100;
                j.created_resource_arn = Some(outcome.created.clone());
            })
            .await?;
            println!(
                "Restore job {} COMPLETED: {} ({} bytes)",
                job.id, outcome.created, outcome.bytes
            );
            for note in &outcome.notes {
                println!("  note: {note}");
            }
            Ok(Outcome::Success)
        }
        Err(e) => job.fail(e.to_string()).await,
    }
}

/// The point's resource and its vault, opened.
async fn prepare(
    ctx: &Context,
    catalog: &Catalog,
    point: &coffer_model::RecoveryPoint,
) -> anyhow::Result<(coffer_model::Resource, coffer_drivers::Vault)> {
    let resource = lookup::resource(ctx, catalog, &point.resource_arn).await?;
    let vault = lookup::vault_of_point(catalog, point).await?;
    let opened = ctx.env(catalog).open_point(&vault, point).await?;
    Ok((resource, opened))
}

fn describe(target: &RestoreTarget) -> String {
    match target {
        RestoreTarget::Directory { path, select } => match select {
            Some(select) => format!("{} (only {select})", path.display()),
            None => path.display().to_string(),
        },
        RestoreTarget::File { path } => path.display().to_string(),
        RestoreTarget::Database { name, table } => match table {
            Some(table) => format!("database {name} (only table {table})"),
            None => format!("database {name}"),
        },
    }
}

pub async fn validate(global: &Global, args: &RestoreValidate) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run_validate(&ctx, &catalog, args).await;
    catalog.close().await;
    result
}

async fn run_validate(
    ctx: &Context,
    catalog: &Catalog,
    args: &RestoreValidate,
) -> anyhow::Result<Outcome> {
    let point = lookup::recovery_point(catalog, &args.recovery_point)
        .await?
        .record;
    let scratch = ctx.config.home().join("tmp");
    // Where it restores to, when the resource is known now (named by the
    // reason if the validation is interrupted).
    let place = match lookup::resource(ctx, catalog, &point.resource_arn).await {
        Ok(resource) => coffer_drivers::validation_scratch(&point, &resource, &scratch),
        Err(_) => None,
    };
    let job = Job::create(ctx.env(catalog), &point, true, place).await?;
    println!("Validation job {} of {}", job.id, point.recovery_point_arn);
    let prepared = prepare(ctx, catalog, &point).await;
    let (resource, opened) = match prepared {
        Ok(found) => found,
        Err(e) => return job.fail(format!("{e:#}")).await,
    };
    job.set(RestoreJobStatus::Running, |_| {}).await?;
    let validation = match coffer_drivers::validate(&point, &resource, &opened, &scratch).await {
        Ok(validation) => validation,
        Err(e) => return job.fail(e.to_string()).await,
    };
    for line in &validation.checked {
        println!("  ok       {line}");
    }
    for line in &validation.problems {
        println!("  PROBLEM  {line}");
    }
    let passed = validation.passed();
    let message = if passed {
        validation.checked.join("; ")
    } else {
        validation.problems.join("; ")
    };
    job.set(RestoreJobStatus::Completed, |j| {
        j.percent_done = 100;
        j.validation_status = Some(if passed {
            ValidationStatus::Successful
        } else {
            ValidationStatus::Failed
        });
        j.validation_status_message = Some(message.clone());
    })
    .await?;
    if passed {
        println!("Validation SUCCESSFUL");
        Ok(Outcome::Success)
    } else {
        eprintln!(
            "Validation FAILED: {} problem(s)",
            validation.problems.len()
        );
        Ok(Outcome::Failure)
    }
}
