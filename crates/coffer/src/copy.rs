//! `coffer copy start`: copy a recovery point to another vault, as a copy
//! action does after a backup. The copy is a recovery point of its own in
//! the destination (its own lifecycle, restorable without the source), and
//! the copy job records source and destination.

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_model::{
    Arn, CalculatedLifecycle, CopyJob, CopyJobState, RecoveryPoint, RecoveryPointStatus,
    StorageClass,
};

use crate::backup::{lock_refusal, new_job_id, requested_lifecycle};
use crate::cli::{CopyStart, Global};
use crate::context::Context;
use crate::{lookup, Outcome};

pub async fn start(global: &Global, args: &CopyStart) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run(&ctx, &catalog, args).await;
    catalog.close().await;
    result
}

async fn set_state(
    catalog: &Catalog,
    id: &str,
    next: CopyJobState,
    change: impl FnOnce(&mut CopyJob),
) -> anyhow::Result<()> {
    let stored = catalog
        .get::<CopyJob>(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("copy job {id} vanished from the catalog"))?;
    let mut job = stored.record;
    if job.state != next && !job.state.can_transition_to(next) {
        bail!("copy job {id} cannot go from {:?} to {next:?}", job.state);
    }
    job.state = next;
    if next.is_terminal() {
        job.completion_date = Some(jiff::Timestamp::now());
    }
    change(&mut job);
    catalog
        .update(&job, stored.version, jiff::Timestamp::now())
        .await?;
    Ok(())
}

async fn run(ctx: &Context, catalog: &Catalog, args: &CopyStart) -> anyhow::Result<Outcome> {
    let source_point = lookup::recovery_point(catalog, &args.recovery_point)
        .await?
        .record;
    if source_point.status != RecoveryPointStatus::Completed {
        bail!(
            "recovery point {} is {:?}; only a completed recovery point can be copied",
            source_point.recovery_point_id,
            source_point.status
        );
    }
    let source_vault = lookup::vault_of_point(catalog, &source_point).await?;
    // The destination: a vault name (the account and region in force) or ARN.
    let (account, region, name) = match Arn::parse(&args.destination_vault) {
        Ok(arn) => match arn.backup_vault_name() {
            Some(name) => (
                arn.account().to_string(),
                arn.region().to_string(),
                name.to_string(),
            ),
            None => bail!(
                "--destination-vault {} is not a backup vault ARN; give a vault name, or arn:coffer:backup:REGION:ACCOUNT:backup-vault:NAME",
                args.destination_vault
            ),
        },
        Err(_) => (
            ctx.account.to_string(),
            ctx.region.to_string(),
            args.destination_vault.clone(),
        ),
    };
    let dest_vault = lookup::vault_object(catalog, &account, &region, &name).await?;
    if dest_vault.backup_vault_arn == source_vault.backup_vault_arn {
        bail!("the destination is the recovery point's own vault; name another vault");
    }
    let lifecycle = requested_lifecycle(args.cold_after_days, args.delete_after_days)?;
    let now = jiff::Timestamp::now();
    let job = CopyJob {
        copy_job_id: new_job_id(),
        account_id: account.clone(),
        region: region.clone(),
        source_backup_vault_arn: source_vault.backup_vault_arn.to_string(),
        source_recovery_point_arn: source_point.recovery_point_arn.clone(),
        destination_backup_vault_arn: dest_vault.backup_vault_arn.to_string(),
        destination_recovery_point_arn: None,
        resource_arn: source_point.resource_arn.clone(),
        resource_type: source_point.resource_type,
        state: CopyJobState::Created,
        status_message: None,
        creation_date: now,
        completion_date: None,
        created_by_backup_job_id: source_point.created_by_job_id.clone(),
        lifecycle,
        backup_size_in_bytes: 0,
    };
    catalog.insert(&job, now).await?;
    let id = job.copy_job_id.clone();
    println!(
        "Copy job {id}: {} from vault {:?} to vault {:?}",
        source_point.recovery_point_arn,
        source_vault.backup_vault_name,
        dest_vault.backup_vault_name
    );
    let fail = |message: String| async move {
        set_state(catalog, &id, CopyJobState::Failed, |j| {
            j.status_message = Some(message.clone())
        })
        .await?;
        bail!("copy job {id} FAILED: {message}")
    };
    if let Some(message) = lock_refusal(&dest_vault, &lifecycle) {
        return fail(message).await;
    }
    let opened = async {
        anyhow::Ok((
            lookup::open_vault(ctx, catalog, &source_vault).await?,
            lookup::open_vault(ctx, catalog, &dest_vault).await?,
        ))
    }
    .await;
    let (from, to) = match opened {
        Ok(pair) => pair,
        Err(e) => return fail(format!("{e:#}")).await,
    };
    set_state(catalog, &job.copy_job_id, CopyJobState::Running, |_| {}).await?;
    let point_id = uuid::Uuid::new_v4().to_string();
    let Some(snapshot) = source_point.snapshot_id.clone() else {
        return fail("the recovery point has no stored snapshot".into()).await;
    };
    let mut tags = coffer_drivers::snapshot_tags(
        &source_point.resource_arn,
        &point_id,
        &job.copy_job_id,
        None,
    );
    tags.push(format!(
        "coffer-copied-from:{}",
        source_point.recovery_point_id
    ));
    let copied = tokio::task::spawn_blocking(move || {
        from.storage
            .copy_snapshot(&from.secret, &snapshot, &to.storage, &to.secret, &tags)
            .map(|info| (info, to))
    })
    .await?;
    let (info, to) = match copied {
        Ok(done) => done,
        Err(e) => return fail(e.to_string()).await,
    };
    let stored_bytes = {
        let id = info.id.clone();
        tokio::task::spawn_blocking(move || to.storage.stored_bytes(&to.secret, &id)).await??
    };
    let finished = jiff::Timestamp::now();
    let point = RecoveryPoint {
        recovery_point_id: point_id.clone(),
        recovery_point_arn: Arn::recovery_point(
            &dest_vault.region,
            &dest_vault.account_id,
            &point_id,
        )
        .to_string(),
        backup_vault_name: dest_vault.backup_vault_name.clone(),
        backup_vault_arn: dest_vault.backup_vault_arn.to_string(),
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: now,
        completion_date: Some(finished),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(now, &lifecycle),
        lifecycle,
        encryption_key_arn: dest_vault
            .encryption_key_arn
            .as_ref()
            .map(ToString::to_string),
        created_by_job_id: Some(job.copy_job_id.clone()),
        source_recovery_point_arn: Some(source_point.recovery_point_arn.clone()),
        snapshot_id: Some(info.id.clone()),
        bytes_added: info.bytes_added,
        stored_bytes,
        duration_ms: Some(u64::try_from(finished.duration_since(now).as_millis()).unwrap_or(0)),
        ..source_point.clone()
    };
    catalog.insert(&point, finished).await?;
    set_state(catalog, &job.copy_job_id, CopyJobState::Completed, |j| {
        j.destination_recovery_point_arn = Some(point.recovery_point_arn.clone());
        j.backup_size_in_bytes = point.backup_size_in_bytes;
    })
    .await?;
    println!("Copy job {} COMPLETED", job.copy_job_id);
    println!("  recovery point  {}", point.recovery_point_arn);
    Ok(Outcome::Success)
}
