//! The work `coffer serve` does beside the scheduler: a signed ledger
//! checkpoint every hour, the controls evaluated when what they read
//! changed, the report plans delivered daily or on their schedules, and the catalog's own backup
//! when due. Each loop stops between
//! units of work when told to: a checkpoint, an evaluation or a delivery
//! finishes or does not start.

use std::time::Duration;

use tokio::sync::watch;

use crate::Service;

/// The last evaluation of the controls: the ledger position it saw and
/// how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Evaluated {
    pub change: i64,
    pub took: Duration,
}

/// At least this long between the starts of two evaluations.
const EVALUATION_FLOOR: Duration = Duration::from_secs(10);
/// Every day, whether anything changed or not.
const EVALUATION_CEILING: Duration = Duration::from_secs(24 * 3600);

/// Whether the controls are evaluated now, given the last evaluation and
/// the time since it started, and the ledger's last change a control
/// reads. Due at once the first time; then when the ledger moved, but
/// never sooner than five times the last evaluation's length after its
/// start (a rest four times as long as the work), nor than 10 seconds;
/// and daily in any case.
pub fn evaluation_due(last: Option<(&Evaluated, Duration)>, change: i64) -> bool {
    let Some((last, since)) = last else {
        return true;
    };
    if since >= EVALUATION_CEILING {
        return true;
    }
    let rest = EVALUATION_FLOOR.max(last.took.saturating_mul(5));
    last.change != change && since >= rest
}

/// Waits for the next tick of `every`, or for the stop: `false` once
/// stopping. Work between two waits is never interrupted, so a unit of
/// work (a checkpoint, an evaluation, a report delivery) finishes or does
/// not start.
async fn next_tick(
    every: &mut tokio::time::Interval,
    stop: &mut watch::Receiver<bool>,
) -> Option<tokio::time::Instant> {
    if *stop.borrow() {
        return None;
    }
    tokio::select! {
        at = every.tick() => Some(at),
        _ = stop.changed() => None,
    }
}

/// Signs a ledger checkpoint every hour.
pub async fn sign_hourly(
    service: Service,
    key: coffer_audit::signing::KeyPair,
    mut stop: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    while next_tick(&mut every, &mut stop).await.is_some() {
        match service
            .checkpoint_with(service.catalog(), &key, service.now())
            .await
        {
            Ok(c) => {
                tracing::info!(entries = c.tree_size, root = %c.root_hash, "ledger checkpoint signed")
            }
            Err(error) => tracing::error!(%error, "cannot sign a ledger checkpoint"),
        }
    }
}

/// Controls are evaluated when what they read changed (a job ended, a
/// point expired, a policy or tag was applied: the ledger moved), checked
/// every 10 seconds, and at least every 24 hours; between two, a rest of
/// four times the last one's length, so that on a large, busy estate
/// evaluation takes about a fifth of a core (see `evaluation_due`).
pub async fn evaluate_when_due(service: Service, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    // After a long evaluation, one probe, not the ticks it missed.
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<(Evaluated, tokio::time::Instant)> = None;
    // The ledger is read from the last position probed on.
    let mut probed = -1;
    // Times from the tick: a 10 s tick is never taken for less.
    while let Some(started) = next_tick(&mut every, &mut stop).await {
        let Ok(change) = service.catalog().ledger_last_change(probed).await else {
            continue;
        };
        probed = change;
        let due = evaluation_due(
            last.as_ref()
                .map(|(e, at)| (e, started.duration_since(*at))),
            change,
        );
        if !due {
            continue;
        }
        match service.evaluate_everywhere().await {
            Ok(changed) => tracing::info!(
                changed,
                seconds = started.elapsed().as_secs_f64(),
                "controls evaluated"
            ),
            Err(error) => tracing::error!(%error, "controls could not be evaluated"),
        }
        last = Some((
            Evaluated {
                change,
                took: started.elapsed(),
            },
            started,
        ));
    }
}

/// Report plans deliver daily from 01:00 UTC, or at their schedule's fire
/// times over whole periods (checked every 10 minutes).
pub async fn report_daily(service: Service, principal: String, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    while next_tick(&mut every, &mut stop).await.is_some() {
        if let Err(error) = service.run_due_reports(&principal).await {
            tracing::error!(%error, "report plans could not run");
        }
    }
}

/// The catalog backs itself up into the `[self_backup]` vault when due
/// (`every_hours` after its newest backup; checked at start and every 10
/// minutes), as `principal`, each job registered in `beside` while it runs
/// (the daemon's, so it never settles the job as a dead process's).
/// Without `[self_backup]` it does nothing.
pub async fn back_up_catalog_when_due(
    service: Service,
    principal: String,
    beside: coffer_engine::daemon::JobsBeside,
    mut stop: watch::Receiver<bool>,
) {
    let Some(settings) = service.config().self_backup().cloned() else {
        return;
    };
    let mut every = tokio::time::interval(Duration::from_secs(600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while next_tick(&mut every, &mut stop).await.is_some() {
        match service.catalog_backup_due().await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::error!(%error, "cannot tell whether the catalog's backup is due");
                continue;
            }
        }
        let caller = crate::Caller::new(
            principal.clone(),
            settings.account.clone(),
            settings.region.clone(),
        );
        match service.backup_catalog_beside(&caller, Some(&beside)).await {
            Ok(done) => tracing::info!(
                job = %done.job.backup_job_id,
                state = ?done.job.state,
                vault = %settings.vault,
                "catalog backup ended"
            ),
            Err(error) => {
                tracing::error!(%error, vault = %settings.vault, "the catalog could not be backed up")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn evaluation_follows_the_ledger_and_rests_in_proportion_to_its_cost() {
        assert!(evaluation_due(None, 7), "the first evaluation runs at once");
        let quick = Evaluated {
            change: 7,
            took: Duration::from_millis(40),
        };
        assert!(
            !evaluation_due(Some((&quick, secs(11))), 7),
            "nothing changed"
        );
        assert!(
            evaluation_due(Some((&quick, secs(11))), 8),
            "the ledger moved"
        );
        assert!(!evaluation_due(Some((&quick, secs(5))), 8), "10 s at least");
        // 70 s of work (100k resources): the next starts 350 s after it.
        let slow = Evaluated {
            change: 7,
            took: secs(70),
        };
        assert!(!evaluation_due(Some((&slow, secs(349))), 8));
        assert!(evaluation_due(Some((&slow, secs(350))), 8));
        // Daily, changed or not.
        assert!(!evaluation_due(Some((&slow, secs(86_399))), 7));
        assert!(evaluation_due(Some((&slow, secs(86_400))), 7));
    }
}
