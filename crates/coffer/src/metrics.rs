//! `coffer metrics`: the Prometheus series the daemon serves on `/metrics`,
//! printed once.

use crate::cli::Global;
use crate::context::Context;
use crate::Outcome;

pub async fn run(global: &Global) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let gathered = async {
        // A week ahead: every rule that fires at most weekly shows its next time.
        let upcoming = crate::schedule::upcoming(&ctx, &catalog, 24 * 7).await?;
        anyhow::Ok(coffer_engine::metrics::Snapshot::read(&catalog, upcoming).await?)
    }
    .await;
    catalog.close().await;
    print!("{}", coffer_engine::metrics::render(&gathered?)?);
    Ok(Outcome::Success)
}
