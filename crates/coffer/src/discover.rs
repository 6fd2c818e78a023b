//! `coffer discover`: the databases each declared server holds now, with
//! the tags they would enrol by (inventory tags, then `database_tags`,
//! then a `coffer:` line in the database's comment).

use coffer_catalog::ObjectKind;
use coffer_model::{ResourceType, Server};

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::{output, Outcome};

pub async fn run(global: &Global, format: OutputFormat) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let servers = catalog.list_objects(ObjectKind::Server).await;
    catalog.close().await;
    let mut found = Vec::new();
    let mut failed = false;
    for object in servers? {
        let server: Server = serde_json::from_value(object.doc.clone())?;
        if server.engine != ResourceType::PostgreSQL {
            eprintln!(
                "note: server {:?} is {}; Coffer has no {} driver yet, so its databases are not discovered",
                server.name,
                server.engine.as_str(),
                server.engine.as_str()
            );
            continue;
        }
        match coffer_drivers::postgres::discover(&server).await {
            Ok(resources) => found.extend(resources),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
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
