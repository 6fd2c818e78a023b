//! `coffer jobs list|describe|abort`: backup, copy and restore jobs with
//! their states and reasons, as the catalog records them; stopping one.

use anyhow::bail;
use coffer_model::{BackupJob, CopyJob, RestoreJob};
use serde_json::{json, Value as Json};

use crate::cli::{Global, JobKind, JobsCommand};
use crate::context::Context;
use crate::{output, Outcome};

fn state(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub async fn run(global: &Global, command: &JobsCommand) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    if let JobsCommand::Abort { id } = command {
        let result = abort(&ctx, &catalog, id).await;
        catalog.close().await;
        return result;
    }
    let in_scope = |account: &str, region: &str| {
        account == ctx.account.as_str() && region == ctx.region.as_str()
    };
    let backups: Vec<BackupJob> =
        crate::lookup::records(&catalog, |j: &BackupJob| in_scope(&j.account_id, &j.region))
            .await?;
    let restores: Vec<RestoreJob> = crate::lookup::records(&catalog, |j: &RestoreJob| {
        in_scope(&j.account_id, &j.region)
    })
    .await?;
    let copies: Vec<CopyJob> =
        crate::lookup::records(&catalog, |j: &CopyJob| in_scope(&j.account_id, &j.region)).await?;
    catalog.close().await;
    match command {
        JobsCommand::List {
            kind,
            state: wanted,
            output: format,
        } => {
            let mut rows: Vec<(jiff::Timestamp, Json, Vec<String>)> = Vec::new();
            if matches!(kind, JobKind::All | JobKind::Backup) {
                for j in &backups {
                    rows.push((
                        j.creation_date,
                        json!({"Type": "BACKUP", "Job": j}),
                        vec![
                            j.backup_job_id.clone(),
                            "backup".into(),
                            state(&j.state),
                            j.resource_arn.clone(),
                            j.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                            j.status_message.clone().unwrap_or_default(),
                        ],
                    ));
                }
            }
            if matches!(kind, JobKind::All | JobKind::Copy) {
                for j in &copies {
                    rows.push((
                        j.creation_date,
                        json!({"Type": "COPY", "Job": j}),
                        vec![
                            j.copy_job_id.clone(),
                            "copy".into(),
                            state(&j.state),
                            j.source_recovery_point_arn.clone(),
                            j.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                            j.status_message.clone().unwrap_or_else(|| {
                                format!("to {}", j.destination_backup_vault_arn)
                            }),
                        ],
                    ));
                }
            }
            if matches!(kind, JobKind::All | JobKind::Restore) {
                for j in &restores {
                    let what = if j.validation_status.is_some() {
                        "validate"
                    } else {
                        "restore"
                    };
                    let status = match &j.validation_status {
                        Some(v) => format!("{} ({})", state(&j.status), state(v)),
                        None => state(&j.status),
                    };
                    rows.push((
                        j.creation_date,
                        json!({"Type": what.to_uppercase(), "Job": j}),
                        vec![
                            j.restore_job_id.clone(),
                            what.into(),
                            status,
                            j.recovery_point_arn.clone(),
                            j.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                            j.status_message
                                .clone()
                                .or_else(|| j.validation_status_message.clone())
                                .unwrap_or_default(),
                        ],
                    ));
                }
            }
            if let Some(wanted) = wanted {
                let wanted = wanted.to_uppercase();
                rows.retain(|(_, _, cells)| cells[2].starts_with(&wanted));
            }
            rows.sort_by_key(|row| row.0);
            let docs: Vec<&Json> = rows.iter().map(|(_, doc, _)| doc).collect();
            output::print(*format, &docs, || {
                let cells = rows.iter().map(|(_, _, c)| c.clone()).collect();
                output::table(
                    &[
                        "ID",
                        "KIND",
                        "STATE",
                        "RESOURCE / RECOVERY POINT",
                        "CREATED",
                        "MESSAGE",
                    ],
                    cells,
                )
            })?;
            Ok(Outcome::Success)
        }
        JobsCommand::Abort { id } => bail!("job {id}: abort is handled before the listing"),
        JobsCommand::Describe { id, output: format } => {
            let doc = if let Some(j) = backups
                .iter()
                .find(|j| j.backup_job_id.eq_ignore_ascii_case(id))
            {
                serde_json::to_value(j)?
            } else if let Some(j) = copies
                .iter()
                .find(|j| j.copy_job_id.eq_ignore_ascii_case(id))
            {
                serde_json::to_value(j)?
            } else if let Some(j) = restores
                .iter()
                .find(|j| j.restore_job_id.eq_ignore_ascii_case(id))
            {
                serde_json::to_value(j)?
            } else {
                bail!(
                    "there is no job {id} in account {}, region {}; `coffer jobs list` shows them",
                    ctx.account,
                    ctx.region
                );
            };
            match format {
                crate::cli::OutputFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&doc)?)
                }
                _ => print!("{}", output::yaml(&doc)?),
            }
            Ok(Outcome::Success)
        }
    }
}

/// `coffer jobs abort ID` (StopBackupJob): a job that waits ends ABORTED
/// now; a running one goes ABORTING, and the scheduler running it stops
/// it and records ABORTED; one whose process is gone ends ABORTED now.
async fn abort(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    id: &str,
) -> anyhow::Result<Outcome> {
    use coffer_engine::exec;
    use coffer_model::BackupJobState::*;
    let env = ctx.env(catalog);
    let Some(stored) = catalog.get::<BackupJob>(id).await? else {
        if catalog.get::<CopyJob>(id).await?.is_some() {
            bail!("{id} is a copy job; copy jobs cannot be stopped (as in AWS Backup), they end by themselves");
        }
        bail!("there is no backup job {id}; `coffer jobs list --kind backup` shows them");
    };
    let job = stored.record;
    let reason = format!("aborted on request by {}", ctx.config.principal());
    // Nothing runs it (it waits, or its process is gone): through ABORTING
    // to ABORTED now, as the state machine goes.
    let nobody_runs = matches!(job.state, Created | Pending)
        || (matches!(job.state, Running | Aborting) && exec::runner_is_gone(job.runner.as_deref()));
    if !nobody_runs && job.start_by.is_none() {
        bail!(
            "backup job {id} runs in a `coffer backup start` command (process {}), not in the scheduler; stop that command (Ctrl-C) instead",
            job.runner.as_deref().unwrap_or("unknown")
        );
    }
    // Each write requires the state this decision was made on: a job that
    // moved meanwhile (the scheduler started it) is not aborted blindly.
    let seen = job.state;
    let next = match seen {
        _ if nobody_runs => {
            if seen != Aborting {
                exec::transition(
                    &env,
                    id,
                    Aborting,
                    |s| s == seen,
                    |j: &mut BackupJob| {
                        j.status_message = Some(reason.clone());
                    },
                )
                .await
                .map_err(|e| moved(id, e))?;
            }
            Aborted
        }
        Running => Aborting,
        Aborting => {
            println!("Backup job {id} is already being stopped.");
            return Ok(Outcome::Success);
        }
        done => bail!(
            "backup job {id} is {} already; only a job that waits or runs can be stopped",
            done.as_str()
        ),
    };
    let from = if nobody_runs { Aborting } else { seen };
    let stopped = exec::transition(
        &env,
        id,
        next,
        |s| s == from,
        |j: &mut BackupJob| {
            j.status_message = Some(reason.clone());
        },
    )
    .await
    .map_err(|e| moved(id, e))?;
    match stopped.state {
        Aborted => println!("Backup job {id} ABORTED."),
        _ => println!(
            "Backup job {id} is ABORTING: the scheduler running it ({}) stops it and records ABORTED.",
            stopped.runner.as_deref().unwrap_or("unknown")
        ),
    }
    Ok(Outcome::Success)
}

fn moved(id: &str, error: coffer_engine::Error) -> anyhow::Error {
    anyhow::anyhow!("backup job {id} changed while it was being stopped ({error}); run `coffer jobs abort {id}` again")
}
