//! `coffer metrics`: the Prometheus series the daemon serves on `/metrics`,
//! printed once.

use crate::context::{with_service, Context};
use crate::Outcome;

pub async fn run(ctx: &Context) -> anyhow::Result<Outcome> {
    let text = with_service(ctx, async |service, caller| {
        Ok(service.metrics(caller).await?)
    })
    .await?;
    print!("{text}");
    Ok(Outcome::Success)
}
