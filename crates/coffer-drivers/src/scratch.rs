//! What a restore test does with the copy it restored: query it (the SQL
//! hook of a restore testing selection) and remove it afterwards.

use std::path::Path;

use coffer_model::{Resource, ResourceType, Server};

use crate::endpoint::Endpoint;
use crate::{blocking, DriverError, Result};

/// How the databases restore tests restore into are named; discovery
/// leaves them out.
pub const RESTORE_TEST_DATABASE_PREFIX: &str = "coffer_restore_test_";

/// The server a restore test restored a database of `resource` on (and
/// validates it on): `server` (a declared one) or, when none, the
/// resource's own.
pub(crate) fn endpoint_of(resource: &Resource, server: Option<&Server>) -> Result<Endpoint> {
    match server {
        Some(server) => Endpoint::of_server(server),
        None => Endpoint::of_resource(resource),
    }
}

/// A restored database dropped from the server a restore test restored it
/// on (`server`, or the resource's own). Dropping one that is gone
/// succeeds.
///
/// # Errors
/// When the server cannot be reached or refuses, in its words.
pub async fn drop_restored_database(
    resource: &Resource,
    server: Option<&Server>,
    name: &str,
) -> Result<()> {
    let endpoint = endpoint_of(resource, server)?;
    match resource.resource_type {
        ResourceType::PostgreSQL => crate::postgres::drop_scratch(&endpoint, name).await,
        ResourceType::MySQL => crate::mysql::drop_scratch(&endpoint, name).await,
        other => Err(DriverError::Unsupported(format!(
            "dropping a {} database",
            other.as_str()
        ))),
    }
}

/// Runs `sql` in a restored copy of `resource` (a database of `server` or,
/// when none, of its own server; or a SQLite file) and returns its result as text: rows on lines, the
/// columns of a row joined by `|`, NULL as an empty field.
///
/// # Errors
/// When the copy cannot be opened or the query fails, in the engine's words.
pub async fn query_restored(
    resource: &Resource,
    server: Option<&Server>,
    place: &str,
    sql: &str,
) -> Result<String> {
    match resource.resource_type {
        ResourceType::SQLite => {
            let (path, sql) = (Path::new(place).to_path_buf(), sql.to_string());
            blocking(move || {
                let refused = |e: rusqlite::Error| {
                    DriverError::Refused(format!("SQL hook on {}: {e}", path.display()))
                };
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(refused)?;
                let mut statement = conn.prepare(&sql).map_err(refused)?;
                let columns = statement.column_count();
                let mut rows = statement.query([]).map_err(refused)?;
                let mut lines = Vec::new();
                while let Some(row) = rows.next().map_err(refused)? {
                    let mut fields = Vec::with_capacity(columns);
                    for idx in 0..columns {
                        let value: rusqlite::types::Value = row.get(idx).map_err(refused)?;
                        fields.push(match value {
                            rusqlite::types::Value::Null => String::new(),
                            rusqlite::types::Value::Integer(n) => n.to_string(),
                            rusqlite::types::Value::Real(x) => x.to_string(),
                            rusqlite::types::Value::Text(t) => t,
                            rusqlite::types::Value::Blob(b) => hex::encode(b),
                        });
                    }
                    lines.push(fields.join("|"));
                }
                Ok(lines.join("\n"))
            })
            .await
        }
        ResourceType::PostgreSQL => {
            let endpoint = endpoint_of(resource, server)?;
            crate::postgres::query_text(&endpoint, place, sql).await
        }
        ResourceType::MySQL => {
            let endpoint = endpoint_of(resource, server)?;
            crate::mysql::query_text(&endpoint, place, sql).await
        }
        other => Err(DriverError::Unsupported(format!(
            "an SQL hook on a {} resource",
            other.as_str()
        ))),
    }
}
