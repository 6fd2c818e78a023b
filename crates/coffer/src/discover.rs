//! `coffer discover`: the databases each declared server holds now, with
//! the tags they would enrol by (inventory tags, then `database_tags`,
//! then a `coffer:` line in the database's comment).

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

pub async fn run(ctx: &Context, format: OutputFormat) -> anyhow::Result<Outcome> {
    let discovered = with_service(ctx, async |service, _| {
        Ok(service.discover_servers().await?)
    })
    .await?;
    for note in &discovered.notes {
        eprintln!("note: {note}");
    }
    for error in &discovered.errors {
        eprintln!("error: {error}");
    }
    let failed = !discovered.errors.is_empty();
    let found = discovered.resources;
    output::print(format, &found, || {
        let rows = found
            .iter()
            .map(|r| {
                vec![
                    r.resource_arn.to_string(),
                    r.tags
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        output::table(&["RESOURCE", "TAGS"], rows)
    })?;
    Ok(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
