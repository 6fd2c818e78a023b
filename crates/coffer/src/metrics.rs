//! `coffer metrics`: the Prometheus series the daemon serves on `/metrics`,
//! printed once.

use coffer_model::{BackupJob, RecoveryPoint, VaultCheck};

use crate::cli::Global;
use crate::context::Context;
use crate::Outcome;

pub async fn run(global: &Global) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let gathered = async {
        let jobs: Vec<BackupJob> = crate::lookup::records(&catalog, |j: &BackupJob| {
            j.account_id == ctx.account.as_str() && j.region == ctx.region.as_str()
        })
        .await?;
        let points: Vec<RecoveryPoint> =
            crate::lookup::records(&catalog, |_: &RecoveryPoint| true).await?;
        // A week ahead: every rule that fires at most weekly shows its next time.
        let upcoming = crate::schedule::upcoming(&ctx, &catalog, 24 * 7).await?;
        let checks: Vec<VaultCheck> = crate::lookup::records(&catalog, |c: &VaultCheck| {
            c.account_id == ctx.account.as_str() && c.region == ctx.region.as_str()
        })
        .await?;
        anyhow::Ok((jobs, points, upcoming, checks))
    }
    .await;
    catalog.close().await;
    let (jobs, points, upcoming, checks) = gathered?;
    print!(
        "{}",
        coffer_engine::metrics::render(&jobs, &points, &upcoming, &checks)?
    );
    Ok(Outcome::Success)
}
