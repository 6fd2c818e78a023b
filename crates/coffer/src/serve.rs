//! `coffer serve`: the scheduler daemon (`coffer_engine::daemon`) on the
//! system clock, with `/metrics` and `/healthz` on `--listen`.
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

use crate::cli::Global;
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
    global: &Global,
    listen: Option<String>,
    grace_seconds: u64,
) -> anyhow::Result<Outcome> {
    let shutdown = shutdown_signal()?;
    let ctx = Context::load(global)?;
    let _lock = lock_home(&ctx)?;
    let settings = ctx.config.serve().clone();
    let addr = listen.unwrap_or_else(|| settings.listen.clone());
    let listener = http::bind(&addr).await?;
    let catalog = ctx.catalog().await?;
    let env = ctx.env(&catalog);
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
    let (stop_http, mut stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(http::serve(listener, state, async move {
        let _ = stopped.changed().await;
    }));
    eprintln!(
        "coffer serve: scheduler running; http://{addr}/metrics and /healthz (workers {}, catalog {})",
        settings.workers,
        coffer_catalog::redact_url(ctx.config.catalog_url())
    );
    // The evidence ledger gets a signed checkpoint every hour.
    let signer = {
        let key = coffer_audit::signing::KeyPair::load_or_create(ctx.config.signing_key_path())?;
        let catalog = catalog.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                match coffer_audit::ledger::checkpoint(&catalog, &key, jiff::Timestamp::now()).await
                {
                    Ok(c) => {
                        tracing::info!(entries = c.tree_size, root = %c.root_hash, "ledger checkpoint signed")
                    }
                    Err(error) => tracing::error!(%error, "cannot sign a ledger checkpoint"),
                }
            }
        })
    };
    // Controls are evaluated when what they read changed (a job ended, a
    // point expired, a policy or tag was applied: the ledger moved), checked
    // every 10 seconds, and at least every 24 hours.
    let evaluator = {
        let ctx = Context::load(global)?;
        let catalog = catalog.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            let mut evaluated: Option<(i64, std::time::Instant)> = None;
            loop {
                every.tick().await;
                let Ok(change) = catalog.ledger_last_change().await else {
                    continue;
                };
                let due = evaluated.is_none_or(|(seen, at)| {
                    seen != change || at.elapsed() > Duration::from_secs(24 * 3600)
                });
                if !due {
                    continue;
                }
                match crate::audit::evaluate_everywhere(&ctx, &catalog).await {
                    Ok(changed) => tracing::info!(changed, "controls evaluated"),
                    Err(error) => tracing::error!(%error, "controls could not be evaluated"),
                }
                evaluated = Some((change, std::time::Instant::now()));
            }
        })
    };
    // Report plans deliver daily, from 01:00 UTC (checked every 10 minutes).
    let reporter = {
        let ctx = Context::load(global)?;
        let catalog = catalog.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(error) = crate::report::run_due(&ctx, &catalog).await {
                    tracing::error!(error = %format!("{error:#}"), "report plans could not run");
                }
            }
        })
    };
    let result = daemon.run(shutdown).await;
    signer.abort();
    evaluator.abort();
    reporter.abort();
    let _ = stop_http.send(true);
    if let Ok(Err(error)) = server.await {
        tracing::error!(%error, "HTTP endpoints stopped with an error");
    }
    catalog.close().await;
    result?;
    eprintln!("coffer serve: stopped");
    Ok(Outcome::Success)
}
