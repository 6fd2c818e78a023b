//! `coffer serve`: the scheduler daemon (`coffer_engine::daemon`) on the
//! system clock, with `/metrics`, `/healthz` and the AWS Backup API
//! (`coffer_api`) on `--listen`.
//!
//! One scheduler runs per home: it holds an exclusive lock on
//! `<home>/serve.lock` while it runs (the lock dies with the process, so a
//! killed daemon never leaves a stale one). Over a shared PostgreSQL
//! catalog, schedulers on other machines are safe too: a job's ID is
//! derived from its fire time, so a fire time runs once.

use std::fs::{File, OpenOptions};
use std::time::Duration;

use coffer_engine::daemon::{Daemon, DaemonOptions};
use coffer_engine::http::{self, HttpState};
use coffer_engine::notify::Notifier;

use coffer_service::upkeep;
use tokio::sync::watch;

use crate::context::Context;
use crate::Outcome;

/// Holds the home's scheduler lock.
fn lock_home(ctx: &Context) -> anyhow::Result<File> {
    let path = ctx.config.home().join("serve.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| coffer_engine::Error::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(coffer_engine::Error::AlreadyServing { path }.into())
        }
        Err(std::fs::TryLockError::Error(source)) => {
            Err(coffer_engine::Error::Io { path, source }.into())
        }
    }
}

/// Completes at SIGTERM or SIGINT. The handlers are installed now, before
/// the scheduler starts, so a signal during start-up is not fatal.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

pub async fn run(
    ctx: &Context,
    listen: Option<String>,
    grace_seconds: u64,
) -> anyhow::Result<Outcome> {
    let shutdown = shutdown_signal()?;
    let _lock = lock_home(ctx)?;
    let settings = ctx.config.serve().clone();
    let addr = listen.unwrap_or_else(|| settings.listen.clone());
    let listener = http::bind(&addr).await?;
    let service = ctx.service().await?;
    let env = service.scheduler_env();
    let mut options = DaemonOptions::from_settings(&settings);
    options.grace = Duration::from_secs(grace_seconds);
    let daemon = Daemon::new(
        env.clone(),
        options,
        Notifier::new(ctx.config.notifications()),
    );
    let state = HttpState {
        env,
        health: daemon.health(),
        resources: daemon.shared_resources(),
    };
    let (stop_http, mut stopped) = watch::channel(false);
    // The AWS Backup API answers beside /metrics and /healthz; each
    // request acts as its access key's principal.
    let api = coffer_api::router(service.clone());
    let stop = async move {
        let _ = stopped.changed().await;
    };
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match &settings.tls {
        Some(files) => tokio::spawn(http::serve(
            http::TlsListener::new(listener, files)?,
            state,
            api,
            stop,
        )),
        None => tokio::spawn(http::serve(listener, state, api, stop)),
    };
    eprintln!(
        "coffer serve: scheduler running; AWS Backup API at {scheme}://{addr}/, {scheme}://{addr}/metrics and /healthz (workers {}, catalog {})",
        settings.workers,
        coffer_catalog::redact_url(ctx.config.catalog_url())
    );
    let loopback = addr
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
        || addr.starts_with("localhost:");
    if !loopback && settings.tls.is_none() {
        tracing::warn!(%addr, "the AWS Backup API is served over plain HTTP on a non-loopback address");
        eprintln!(
            "coffer serve: warning: {addr} is not a loopback address and the API is plain HTTP: request bodies and answers cross the network unencrypted (signatures still authenticate each request); set [serve] tls_certificate and tls_key in config.toml"
        );
    }
    // Beside the scheduler: checkpoints, evaluations, reports and the
    // catalog's own backup, each stopped between units of work, never in
    // the middle of one.
    let (stop_work, stop) = watch::channel(false);
    let key = coffer_audit::signing::KeyPair::load_or_create(ctx.config.signing_key_path())?;
    let beside = [
        (
            "checkpoint",
            tokio::spawn(upkeep::sign_hourly(service.clone(), key, stop.clone())),
        ),
        (
            "evaluation",
            tokio::spawn(upkeep::evaluate_when_due(service.clone(), stop.clone())),
        ),
        (
            "report",
            tokio::spawn(upkeep::report_daily(
                service.clone(),
                ctx.config.principal().to_string(),
                stop.clone(),
            )),
        ),
        (
            "catalog backup",
            tokio::spawn(upkeep::back_up_catalog_when_due(
                service.clone(),
                ctx.config.principal().to_string(),
                daemon.jobs_beside(),
                stop,
            )),
        ),
    ];
    let result = daemon.run(shutdown).await;
    let _ = stop_work.send(true);
    // A unit under way gets the grace period to finish; past it, it is
    // stopped, and a delivery it leaves RUNNING is settled FAILED, naming
    // what it left, at the next start.
    for (work, mut task) in beside {
        match tokio::time::timeout(Duration::from_secs(grace_seconds), &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(work, %error, "ended abnormally"),
            Err(_) => {
                tracing::warn!(work, "stopped after the grace period");
                task.abort();
            }
        }
    }
    let _ = stop_http.send(true);
    if let Ok(Err(error)) = server.await {
        tracing::error!(%error, "HTTP endpoints stopped with an error");
    }
    service.close().await;
    result?;
    eprintln!("coffer serve: stopped");
    Ok(Outcome::Success)
}
