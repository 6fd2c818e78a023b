//! How operations' results are shown to people, shared by the commands
//! and the quickstart that runs them in a row.

use anyhow::bail;
use coffer_service::backup::{BackupDone, StartedBackup, StartedCopy};
use coffer_service::report::{Delivered, DeliveryCheck};
use coffer_service::restore::{describe_target, RestoreEnd, RestoreRun, ValidationEnd};
use coffer_service::stack::StackRun;
use coffer_service::vaults::Provisioned;

use crate::Outcome;

pub fn backup_started(started: &StartedBackup) {
    println!(
        "Backup job {}: {} into vault {:?}",
        started.job.backup_job_id, started.resource.resource_arn, started.vault.backup_vault_name
    );
}

pub fn waits_behind(behind: &str) {
    println!("  PENDING: waits behind backup job {behind}, which is backing up the same resource (`coffer jobs describe {behind}`)");
}

/// Prints a backup's end; an end other than COMPLETED is an error.
pub fn backup_done(done: &BackupDone) -> anyhow::Result<()> {
    let job = &done.job;
    let id = &job.backup_job_id;
    let Some(point) = &done.point else {
        bail!(
            "backup job {id} {}: {}",
            job.state.as_str(),
            job.status_message.clone().unwrap_or_default()
        );
    };
    let seconds = point.duration_ms.unwrap_or_default() as f64 / 1000.0;
    println!("Backup job {id} COMPLETED in {seconds:.1} s");
    println!("  recovery point  {}", point.recovery_point_arn);
    if let Some(warning) = &job.status_message {
        println!("  warning         {warning}");
    }
    println!(
        "  size            {} bytes read; {} bytes stored in the vault, {} of them new",
        point.backup_size_in_bytes, point.stored_bytes, point.bytes_added
    );
    if let Some(sha) = &point.content_sha256 {
        println!("  content SHA-256 {sha}");
    }
    if let Some(manifest) = &point.manifest {
        let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
        println!(
            "  manifest        {} table(s), {rows} row(s)",
            manifest.tables.len()
        );
    }
    if let Some(delete_at) = point.calculated_lifecycle.delete_at {
        println!("  delete at       {delete_at}");
    }
    Ok(())
}

pub fn copy_started(started: &StartedCopy) {
    println!(
        "Copy job {}: {} from vault {:?} to vault {:?}",
        started.job.copy_job_id,
        started.source_point.recovery_point_arn,
        started.source_vault.backup_vault_name,
        started.destination_vault.backup_vault_name
    );
}

/// Prints a copy's end; an end other than COMPLETED is an error.
pub fn copy_done(done: &coffer_model::CopyJob) -> anyhow::Result<()> {
    let id = &done.copy_job_id;
    if done.state != coffer_model::CopyJobState::Completed {
        bail!(
            "copy job {id} FAILED: {}",
            done.status_message.clone().unwrap_or_default()
        );
    }
    println!("Copy job {id} COMPLETED");
    if let Some(arn) = &done.destination_recovery_point_arn {
        println!("  recovery point  {arn}");
    }
    Ok(())
}

pub fn restore_started(run: &RestoreRun<'_>) {
    println!(
        "Restore job {}: {} to {}",
        run.job.restore_job_id,
        run.point.recovery_point_arn,
        run.target.as_ref().map(describe_target).unwrap_or_default()
    );
}

/// Prints a restore's end; a FAILED one is an error.
pub fn restore_done(run: &RestoreRun<'_>, end: &RestoreEnd) -> anyhow::Result<()> {
    let id = &run.job.restore_job_id;
    match end {
        RestoreEnd::Completed(outcome) => {
            println!(
                "Restore job {id} COMPLETED: {} ({} bytes)",
                outcome.created, outcome.bytes
            );
            if let Some(arn) = &run.job.created_resource_arn {
                println!("  created resource  {arn}");
            }
            for note in &outcome.notes {
                println!("  note: {note}");
            }
            Ok(())
        }
        RestoreEnd::Failed {
            message,
            target_exists: true,
        } => bail!("restore job {id} FAILED: {message} (--force replaces it)"),
        RestoreEnd::Failed { message, .. } => bail!("restore job {id} FAILED: {message}"),
    }
}

pub fn validation_started(run: &RestoreRun<'_>) {
    println!(
        "Validation job {} of {}",
        run.job.restore_job_id, run.point.recovery_point_arn
    );
}

/// Prints a validation's end: SUCCESSFUL is a success, problems found a
/// failure, a job that could not compare an error.
pub fn validation_done(run: &RestoreRun<'_>, end: &ValidationEnd) -> anyhow::Result<Outcome> {
    match end {
        ValidationEnd::Failed(message) => {
            bail!("restore job {} FAILED: {message}", run.job.restore_job_id)
        }
        ValidationEnd::Checked(validation) => {
            for line in &validation.checked {
                println!("  ok       {line}");
            }
            for line in &validation.problems {
                println!("  PROBLEM  {line}");
            }
            if validation.passed() {
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
    }
}

pub fn delivered(done: &Delivered) {
    println!(
        "Report job {} COMPLETED: {} ({} rows)",
        done.job_id, done.template, done.rows
    );
    println!("  delivered to   {}", done.destination);
    for file in &done.manifest.files {
        println!("  {}  {}", file.sha256, file.path);
    }
    if let Some(lock) = &done.manifest.object_lock {
        println!(
            "  retained until {} (Object Lock, {} mode)",
            coffer_report::s3::retain_until_text(lock.retain_until_date),
            lock.mode.as_str()
        );
    }
    println!("  signed by      {}", done.manifest.signing_key_fingerprint);
}

/// Prints a verification's outcome.
pub fn verified(check: &DeliveryCheck) -> Outcome {
    let found = &check.found;
    println!("Signature checked against {}.", found.key_used);
    if found.problems.is_empty() {
        for file in &found.checked {
            println!("  OK  {file}");
        }
        println!(
            "Report verified: {} file(s) match the signed manifest; {}.",
            found.checked.len(),
            check.ledger_note
        );
        Outcome::Success
    } else {
        for problem in &found.problems {
            eprintln!("error: {problem}");
        }
        eprintln!(
            "Report FAILED verification: {} problem(s).",
            found.problems.len()
        );
        Outcome::Failure
    }
}

pub fn provisioned(done: &[Provisioned]) {
    for p in done {
        match p {
            Provisioned::KeyCreated { key, vault } => println!("Created keyring key {key:?} for vault {vault:?}; export the keyring again (`coffer keys export`): earlier exports do not hold this key."),
            Provisioned::StorageCreated { vault, location } => println!("Created storage of vault {vault:?} at {location}."),
            Provisioned::SecretRecovered { vault, location } => println!("Vault {vault:?}: its storage at {location} opens with the secret kept beside it; recorded again (`coffer catalog recover` records its recovery points)."),
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    plural_of(n, word, &format!("{word}s"))
}

/// `n` with the word for one or for many.
pub(crate) fn plural_of(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Prints each diagnostic on stderr; returns the errors and warnings counted.
pub(crate) fn diagnostic_lines(diagnostics: &coffer_policy::Diagnostics) -> (usize, usize) {
    for d in diagnostics.iter() {
        let label = if d.is_error() { "error" } else { "warning" };
        eprintln!("{label}: {d}");
    }
    (diagnostics.errors().count(), diagnostics.warnings().count())
}

/// `N errors and M warnings in K files`, as a refusal's summary opens.
pub(crate) fn problems_in(n_errors: usize, n_warnings: usize, n_files: usize) -> String {
    format!(
        "{} and {} in {}",
        plural(n_errors, "error"),
        plural(n_warnings, "warning"),
        plural(n_files, "file")
    )
}

/// Prints diagnostics; with errors, says so and that nothing changed.
/// Returns whether there were errors.
pub fn diagnostics(loaded: &coffer_policy::Loaded) -> bool {
    let (n_errors, n_warnings) = diagnostic_lines(&loaded.diagnostics);
    if n_errors > 0 {
        eprintln!(
            "{}; nothing was changed.",
            problems_in(n_errors, n_warnings, loaded.set.files.len())
        );
        return true;
    }
    false
}

/// What the files declare, counted.
pub fn counts(loaded: &coffer_policy::Loaded) -> String {
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

pub fn unmanaged(loaded: &coffer_policy::Loaded) {
    if loaded.set.unmanaged.is_empty() {
        return;
    }
    println!("Not managed by Coffer (listed, nothing created):");
    for u in &loaded.set.unmanaged {
        println!("  {} ({}) -> {}", u.logical_id, u.type_name, u.arn);
    }
}

pub(crate) fn short(value: &Option<serde_json::Value>) -> String {
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

fn plan(plan: &coffer_catalog::StackPlan) {
    if !plan.has_changes() {
        return;
    }
    println!(
        "Stack {:?} (account {}, region {}):",
        plan.stack, plan.account_id, plan.region
    );
    changes(&plan.changes, false);
}

/// Prints planned object changes with their field diffs; `located` adds
/// each object's account and region (an organization's plans span many).
pub(crate) fn changes(changes: &[coffer_catalog::Change], located: bool) {
    use coffer_catalog::Change;
    let place = |account: &str, region: &str| {
        if located {
            format!(" (account {account}, region {region})")
        } else {
            String::new()
        }
    };
    for change in changes {
        match change {
            Change::Create(d) => println!(
                "  + create {} {:?}{}",
                d.kind.label(),
                d.name,
                place(&d.account_id, &d.region)
            ),
            Change::Update {
                desired, fields, ..
            } => {
                println!(
                    "  ~ change {} {:?}{}",
                    desired.kind.label(),
                    desired.name,
                    place(&desired.account_id, &desired.region)
                );
                for field in fields {
                    println!(
                        "      {}: {} -> {}",
                        field.path,
                        short(&field.before),
                        short(&field.after)
                    );
                }
            }
            Change::Delete(s) => println!(
                "  - delete {} {:?}{}",
                s.kind.label(),
                s.name,
                place(&s.account_id, &s.region)
            ),
        }
    }
}

/// Prints a plan or apply: 0 done or nothing to do, 2 changes pending,
/// 1 refused or invalid.
pub fn stack_run(run: &StackRun, stack: &str, apply: bool) -> Outcome {
    if diagnostics(&run.loaded) {
        return Outcome::Failure;
    }
    let Some(planned) = &run.plan else {
        return Outcome::Failure;
    };
    plan(planned);
    let weakenings = planned.weakenings();
    if !weakenings.is_empty() {
        println!("Weakens protection:");
        for weakening in &weakenings {
            println!("  ! {weakening}");
        }
    }
    if !run.refused.is_empty() {
        eprintln!("Cannot apply stack {stack:?}; nothing was changed:");
        for reason in &run.refused {
            eprintln!("  - {reason}");
        }
        if run.weakening_refused {
            eprintln!("Apply again with --allow-weakening to confirm these changes; each is recorded in the ledger as a weakening.");
        }
        return Outcome::Failure;
    }
    provisioned(&run.provisioned);
    if let Some(summary) = &run.applied {
        println!(
            "Applied stack {stack:?}: {} created, {} changed, {} deleted, {} unchanged.",
            summary.created, summary.updated, summary.deleted, summary.unchanged
        );
        Outcome::Success
    } else if !planned.has_changes() {
        println!(
            "No changes: stack {stack:?} matches its files ({} unchanged).",
            plural(planned.unchanged, "object")
        );
        Outcome::Success
    } else if apply {
        // An apply with changes always has a summary.
        Outcome::Failure
    } else {
        let (c, u, d) = planned.count();
        println!(
            "Plan: {c} to create, {u} to change, {d} to delete ({} unchanged). Run `coffer apply` with the same arguments to make these changes.",
            planned.unchanged
        );
        Outcome::ChangesPending
    }
}
