//! PostgreSQL: each database of a server is a resource.
//!
//! Backup opens a read-only REPEATABLE READ transaction, exports its
//! snapshot, and runs `pg_dump --format=custom --snapshot=…` streaming
//! into the vault (never staged on disk) while the same transaction counts
//! and checksums every table: the manifest describes exactly the data in
//! the dump. Restore creates a new database (an existing one only with
//! `force`) and feeds the dump to `pg_restore`; one table can be restored
//! alone. Validation restores into a scratch database and compares tables.

use std::process::{Command, Stdio};
use std::time::Duration;

use coffer_model::{
    ContentManifest, RecoveryPoint, Resource, ResourceType, Server, TableManifest, Tags, ToolDirs,
};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use crate::process::{spawn, ChildReader, StderrCollector};
use crate::tools::Family;
use crate::{
    blocking, compare_manifest, connection, database_of, snapshot_of, BackupOutcome, DriverError,
    Restore, RestoreOutcome, Result, Validation, Vault,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const MAINTENANCE_DB: &str = "postgres";
const PG_DUMP: &[&str] = ToolDirs::POSTGRESQL_TOOLS[0];
const PG_RESTORE: &[&str] = ToolDirs::POSTGRESQL_TOOLS[1];

pub use crate::endpoint::Endpoint;

impl Endpoint {
    /// The user to connect as: PostgreSQL's `postgres` unless one is given.
    fn pg_user(&self) -> &str {
        self.user.as_deref().unwrap_or("postgres")
    }

    /// Connects to `database`.
    ///
    /// # Errors
    /// When the server is unreachable or refuses, in its own words.
    pub async fn connect(&self, database: &str) -> Result<PgConnection> {
        let mut options = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(self.pg_user())
            .database(database)
            .application_name("coffer")
            // Manifest queries read whole tables: not worth a warning.
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(3600));
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.error(format!(
                "cannot connect to database {database:?} at {}:{} as {}: {e}",
                self.host,
                self.port,
                self.pg_user()
            ))),
            Err(_) => Err(self.error(format!(
                "cannot connect to database {database:?} at {}:{}: no answer within {} s",
                self.host,
                self.port,
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// A client tool (in `[tools] postgresql_bin_dir` when configured,
    /// else on `PATH`) with the connection in its environment (the
    /// password never appears in its arguments).
    ///
    /// # Errors
    /// When the tool is not found, naming its package or the directory.
    fn pg_command(&self, tool: &'static [&'static str], database: &str) -> Result<Command> {
        let (_, path) = crate::tools::locate(Family::PostgreSql, tool).map_err(|source| {
            DriverError::Process {
                resource: self.label.clone(),
                source,
            }
        })?;
        let mut command = Command::new(path);
        command
            .env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", self.pg_user())
            .env("PGDATABASE", database)
            .env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT.as_secs().to_string())
            .env("PGAPPNAME", "coffer")
            .arg("--no-password");
        match &self.password {
            Some(password) => command.env("PGPASSWORD", password),
            None => command.env_remove("PGPASSWORD"),
        };
        Ok(command)
    }
}

/// `name` quoted as a PostgreSQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What the server refused while Coffer took a snapshot or a manifest.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("cannot start a snapshot transaction: {0}")]
    BeginSnapshot(#[source] sqlx::Error),
    #[error("cannot export a snapshot: {0}")]
    ExportSnapshot(#[source] sqlx::Error),
    #[error("cannot list tables: {0}")]
    ListTables(#[source] sqlx::Error),
    /// A table that could not be counted and checksummed (`schema.table`).
    #[error("table {table}: {source}")]
    Table {
        table: String,
        #[source]
        source: sqlx::Error,
    },
    /// A value of an answer that could not be read.
    #[error("{0}")]
    Column(#[source] sqlx::Error),
}

fn stream_name(database: &str) -> String {
    format!("{}.pgdump", database.replace('/', "_"))
}

/// Row counts and checksums of every ordinary table, in the connection's
/// current transaction. The checksum is the sum of `hashtextextended` of
/// each row's text: independent of row order, the same after a restore.
///
/// # Errors
/// When a table cannot be read.
pub async fn manifest(
    conn: &mut PgConnection,
) -> std::result::Result<ContentManifest, PostgresError> {
    let tables = sqlx::query(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(PostgresError::ListTables)?;
    let mut out = Vec::new();
    for row in tables {
        let schema: String = row.try_get(0).map_err(PostgresError::Column)?;
        let table: String = row.try_get(1).map_err(PostgresError::Column)?;
        let sql = format!(
            "SELECT count(*)::int8, coalesce(sum(hashtextextended(coffer_row::text, 0)::numeric), 0)::text FROM {}.{} AS coffer_row",
            ident(&schema),
            ident(&table)
        );
        let found = sqlx::query(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(|source| PostgresError::Table {
                table: format!("{schema}.{table}"),
                source,
            })?;
        let rows: i64 = found.try_get(0).map_err(PostgresError::Column)?;
        let checksum: String = found.try_get(1).map_err(PostgresError::Column)?;
        out.push(TableManifest {
            name: format!("{schema}.{table}"),
            rows: u64::try_from(rows).unwrap_or(0),
            checksum,
        });
    }
    Ok(ContentManifest { tables: out })
}

/// How often the server checks that a backup's client is still there
/// (PostgreSQL 14 and later): a backup stopped while its queries wait for
/// a lock then frees its server sessions within seconds, instead of when
/// the lock is released.
const CONNECTION_CHECK_MS: u32 = 2000;
const CONNECTION_CHECK_OPTION: &str = "-c client_connection_check_interval=2000";

/// Asks the server to notice a vanished client during long waits, where
/// the server supports it; says whether it does.
async fn watch_for_disconnect(conn: &mut PgConnection) -> bool {
    let version: i64 = match sqlx::query_scalar::<_, String>("SHOW server_version_num")
        .fetch_one(&mut *conn)
        .await
    {
        Ok(text) => text.parse().unwrap_or(0),
        Err(_) => 0,
    };
    version >= 140_000
        && sqlx::query(&format!(
            "SET client_connection_check_interval = {CONNECTION_CHECK_MS}"
        ))
        .execute(&mut *conn)
        .await
        .is_ok()
}

/// Opens a REPEATABLE READ READ ONLY transaction and exports its snapshot.
async fn export_snapshot(conn: &mut PgConnection) -> std::result::Result<String, PostgresError> {
    // `query`, not `raw_sql`: rustc cannot prove raw_sql's future Send
    // where the backup is spawned on the daemon's workers.
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *conn)
        .await
        .map_err(PostgresError::BeginSnapshot)?;
    sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *conn)
        .await
        .map_err(PostgresError::ExportSnapshot)
}

async fn commit_and_close(mut conn: PgConnection) {
    let _ = sqlx::query("COMMIT").execute(&mut conn).await;
    let _ = conn.close().await;
}

pub(crate) async fn backup(
    resource: &Resource,
    vault: &Vault,
    tags: Vec<String>,
) -> Result<BackupOutcome> {
    let endpoint = Endpoint::of_resource(resource)?;
    let database = connection(resource, "database")?.to_string();
    let mut conn = endpoint.connect(&database).await?;
    let check_client = watch_for_disconnect(&mut conn).await;
    let snapshot = export_snapshot(&mut conn)
        .await
        .map_err(|source| DriverError::Postgres {
            resource: endpoint.label.clone(),
            source,
        })?;

    let mut command = endpoint.pg_command(PG_DUMP, &database)?;
    // Uncompressed: the vault compresses (zstd) and deduplicates, and an
    // unchanged table then gives the same chunks night after night, which
    // pg_dump's own compression would prevent.
    command.args(["--format=custom", "--compress=0", "--snapshot", &snapshot]);
    if check_client {
        command.env("PGOPTIONS", CONNECTION_CHECK_OPTION);
    }
    let process_error = |source| DriverError::Process {
        resource: endpoint.label.clone(),
        source,
    };
    let child =
        spawn(&mut command, "pg_dump", Family::PostgreSql.package()).map_err(process_error)?;
    let reader = ChildReader::new("pg_dump", child).map_err(process_error)?;
    // Dropping this future (a stopped job) kills pg_dump.
    let _stopper = reader.stopper();
    let name = stream_name(&database);
    let dump = {
        let vault = vault.clone();
        tokio::task::spawn_blocking(move || {
            vault
                .storage
                .backup_stream(&vault.secret, &name, reader, &tags)
        })
    };
    // The manifest is taken in the transaction whose snapshot pg_dump uses,
    // while the dump runs.
    let manifest = manifest(&mut conn).await;
    let saved = dump.await.map_err(|e| DriverError::Task(e.to_string()))?;
    commit_and_close(conn).await;
    // A failed manifest aborts the transaction, which also stops pg_dump
    // (its snapshot vanishes): the manifest's error is then the cause.
    let manifest = match (manifest, saved) {
        (Ok(manifest), Ok(saved)) => (manifest, saved),
        (Err(message), saved) => {
            if let Ok(saved) = saved {
                let vault = vault.clone();
                let id = saved.snapshot.id;
                blocking(move || Ok(vault.storage.delete_snapshot(&vault.secret, &id)?)).await?;
            }
            return Err(endpoint.error(format!("cannot take the table manifest: {message}")));
        }
        (Ok(_), Err(coffer_vault::StorageError::StreamFailed { message, .. })) => {
            return Err(DriverError::Tool {
                tool: "pg_dump",
                resource: endpoint.label.clone(),
                message,
            })
        }
        (Ok(_), Err(other)) => return Err(DriverError::Storage(other)),
    };
    let (manifest, saved) = manifest;
    let stored = {
        let vault = vault.clone();
        let id = saved.snapshot.id.clone();
        blocking(move || Ok(vault.storage.stored_bytes(&vault.secret, &id)?)).await?
    };
    Ok(BackupOutcome::from_stream(saved, stored, manifest))
}

fn check_database_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(DriverError::Refused(format!(
            "{name:?} is not a valid database name (1-63 bytes)"
        )));
    }
    Ok(())
}

/// `schema.table` or `table` (in `public`).
fn split_table(table: &str) -> (String, String) {
    match table.split_once('.') {
        Some((schema, name)) => (schema.to_string(), name.to_string()),
        None => ("public".to_string(), table.to_string()),
    }
}

async fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .map_err(|e| DriverError::Refused(format!("cannot list databases: {e}")))
}

/// Drops a database a restore test restored (from the maintenance
/// database).
pub(crate) async fn drop_scratch(endpoint: &Endpoint, name: &str) -> Result<()> {
    let mut conn = endpoint.connect(MAINTENANCE_DB).await?;
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name));
    sqlx::query(&sql)
        .execute(&mut conn)
        .await
        .map_err(|e| endpoint.error(format!("cannot drop database {name:?}: {e}")))?;
    Ok(())
}

/// Runs `sql` in `database`; each row's columns as text joined by `|`.
pub(crate) async fn query_text(endpoint: &Endpoint, database: &str, sql: &str) -> Result<String> {
    use sqlx::Row;
    let mut conn = endpoint.connect(database).await?;
    let wrapped = format!(
        "SELECT (SELECT coalesce(string_agg(coalesce(value, ''), '|' ORDER BY n), '') \
         FROM json_each_text(row_to_json(hook)) WITH ORDINALITY AS f(key, value, n)) AS line \
         FROM ({}) AS hook",
        sql.trim().trim_end_matches(';')
    );
    let rows = sqlx::query(&wrapped)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| endpoint.error(format!("the SQL hook failed in {database:?}: {e}")))?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let line: Option<String> = row
            .try_get("line")
            .map_err(|e| endpoint.error(format!("the SQL hook's result: {e}")))?;
        lines.push(line.unwrap_or_default());
    }
    Ok(lines.join("\n"))
}

async fn drop_database(endpoint: &Endpoint, conn: &mut PgConnection, name: &str) -> Result<()> {
    sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        ident(name)
    ))
    .execute(conn)
    .await
    .map_err(|e| endpoint.error(format!("cannot drop database {name:?}: {e}")))?;
    Ok(())
}

pub(crate) async fn restore(request: &Restore<'_>) -> Result<RestoreOutcome> {
    let Restore {
        point,
        resource,
        vault,
        endpoint,
        target,
        table,
        force,
    } = *request;
    check_database_name(target)?;
    let snapshot = snapshot_of(point)?;
    let source_db = database_of(resource)?;
    let mut admin = endpoint.connect(MAINTENANCE_DB).await?;
    let exists = database_exists(&mut admin, target).await?;
    let mut clean = false;
    let mut created = false;
    match table {
        None if exists && !force => {
            return Err(DriverError::TargetExists(format!(
                "database {target:?} exists on {}:{}; choose another target database, or restore with force to drop and replace it",
                endpoint.host, endpoint.port
            )))
        }
        None => {
            if exists {
                drop_database(endpoint, &mut admin, target).await?;
            }
        }
        Some(table) if exists => {
            let (schema, name) = split_table(table);
            let mut conn = endpoint.connect(target).await?;
            let present: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(format!("{}.{}", ident(&schema), ident(&name)))
                .fetch_one(&mut conn)
                .await
                .map_err(|e| endpoint.error(e.to_string()))?;
            let _ = conn.close().await;
            if present && !force {
                return Err(DriverError::TargetExists(format!(
                    "table {schema}.{name} exists in database {target:?}; restore into another database, or restore with force to replace the table"
                )));
            }
            clean = present;
        }
        Some(_) => {}
    }
    if !exists || table.is_none() {
        sqlx::raw_sql(&format!("CREATE DATABASE {}", ident(target)))
            .execute(&mut admin)
            .await
            .map_err(|e| endpoint.error(format!("cannot create database {target:?}: {e}")))?;
        created = true;
    }

    let mut command = endpoint.pg_command(PG_RESTORE, target)?;
    command.args([
        "--dbname",
        target,
        "--exit-on-error",
        "--single-transaction",
    ]);
    if let Some(table) = table {
        let (schema, name) = split_table(table);
        command.args(["--schema", &schema, "--table", &name]);
    }
    if clean {
        command.args(["--clean", "--if-exists"]);
    }
    let result = run_restore(endpoint, command, vault, snapshot, stream_name(&source_db)).await;
    if result.is_err() && created {
        let _ = drop_database(endpoint, &mut admin, target).await;
    }
    let _ = admin.close().await;
    let bytes = result?;
    Ok(RestoreOutcome {
        created: format!(
            "postgresql://{}:{}/{target}{}",
            endpoint.host,
            endpoint.port,
            table.map(|t| format!(" (table {t})")).unwrap_or_default()
        ),
        bytes,
        notes: Vec::new(),
    })
}

/// Feeds the dump to `pg_restore`'s stdin; its failure is an error in its
/// own words.
async fn run_restore(
    endpoint: &Endpoint,
    mut command: Command,
    vault: &Vault,
    snapshot: String,
    name: String,
) -> Result<u64> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| {
        endpoint.error(if e.kind() == std::io::ErrorKind::NotFound {
            "pg_restore is not installed or not on PATH (Debian package postgresql-client)"
                .to_string()
        } else {
            format!("cannot start pg_restore: {e}")
        })
    })?;
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let label = endpoint.label.clone();
    let vault = vault.clone();
    blocking(move || {
        let mut collector = stderr.map(StderrCollector::start);
        let fed = match stdin {
            Some(mut stdin) => {
                let mut counted = CountingWriter {
                    inner: &mut stdin,
                    bytes: 0,
                };
                vault
                    .storage
                    .dump(&vault.secret, &snapshot, &name, &mut counted)
                    .map(|()| counted.bytes)
            }
            None => Ok(0),
        };
        // stdin is closed here (dropped above), so pg_restore finishes.
        let status = child.wait().map_err(|e| DriverError::Tool {
            tool: "pg_restore",
            resource: label.clone(),
            message: e.to_string(),
        })?;
        let stderr = collector
            .as_mut()
            .map(StderrCollector::finish)
            .unwrap_or_default();
        if !status.success() {
            return Err(DriverError::Tool {
                tool: "pg_restore",
                resource: label,
                message: format!("exited with {status}: {stderr}"),
            });
        }
        Ok(fed?)
    })
    .await
}

struct CountingWriter<'a, W: std::io::Write> {
    inner: &'a mut W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The scratch database a validation of `point` restores into.
pub(crate) fn scratch_database(point: &RecoveryPoint) -> String {
    format!(
        "coffer_validate_{}",
        point
            .recovery_point_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect::<String>()
            .to_lowercase()
    )
}

pub(crate) async fn validate(
    point: &RecoveryPoint,
    resource: &Resource,
    vault: &Vault,
    server: Option<&coffer_model::Server>,
    validation: &mut Validation,
) -> Result<()> {
    let scratch = scratch_database(point);
    let endpoint = crate::scratch::endpoint_of(resource, server)?;
    // A scratch database left by an interrupted validation is Coffer's own.
    let request = Restore {
        point,
        resource,
        vault,
        endpoint: &endpoint,
        target: &scratch,
        table: None,
        force: true,
    };
    match restore(&request).await {
        Ok(_) => {
            // A crash test stops here: the scratch database exists.
            #[cfg(feature = "failpoints")]
            fail::fail_point!("validate-after-scratch");
            validation.checked.push(format!(
                "pg_restore into scratch database {scratch} on {}:{} succeeded",
                endpoint.host, endpoint.port
            ));
            let found = match endpoint.connect(&scratch).await {
                Ok(mut conn) => {
                    let found = manifest(&mut conn).await;
                    let _ = conn.close().await;
                    found.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match found {
                Ok(found) => compare_manifest(point.manifest.as_ref(), &found, validation),
                Err(message) => validation.problems.push(message),
            }
        }
        Err(e) => validation.problems.push(e.to_string()),
    }
    if let Ok(mut admin) = endpoint.connect(MAINTENANCE_DB).await {
        let _ = drop_database(&endpoint, &mut admin, &scratch).await;
        let _ = admin.close().await;
    }
    Ok(())
}

/// Tags from a `coffer:` line of a database comment:
/// `coffer: backup-tier=critical, env=production`.
pub fn comment_tags(comment: &str) -> Tags {
    let mut tags = Tags::new();
    for line in comment.lines() {
        let Some(rest) = line.trim().strip_prefix("coffer:") else {
            continue;
        };
        for pair in rest.split([',', ' ', '\t']).filter(|p| !p.is_empty()) {
            if let Some((key, value)) = pair.split_once('=') {
                if !key.is_empty() {
                    tags.insert(key.to_string(), value.to_string());
                }
            }
        }
    }
    tags
}

/// The databases of a server as resources: the inventory's server tags,
/// then `database_tags`, then the database comment's `coffer:` line.
/// Templates, databases that refuse connections and those matching
/// `exclude_databases` are left out.
///
/// # Errors
/// When the server is unreachable.
pub async fn discover(server: &Server) -> Result<Vec<Resource>> {
    let endpoint = Endpoint::of_server(server)?;
    let mut conn = endpoint.connect(MAINTENANCE_DB).await?;
    let rows = sqlx::query(
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database \
         WHERE datallowconn AND NOT datistemplate ORDER BY datname",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| endpoint.error(format!("cannot list databases: {e}")))?;
    let _ = conn.close().await;
    let mut out = Vec::new();
    for row in rows {
        let database: String = row.try_get(0).map_err(|e| endpoint.error(e.to_string()))?;
        let comment: String = row.try_get(1).map_err(|e| endpoint.error(e.to_string()))?;
        out.extend(crate::server_database(
            server,
            ResourceType::PostgreSQL,
            &database,
            &comment,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_give_tags() {
        let tags = comment_tags("Orders of the shop.\ncoffer: backup-tier=critical, env=prod\n");
        assert_eq!(
            tags.get("backup-tier").map(String::as_str),
            Some("critical")
        );
        assert_eq!(tags.get("env").map(String::as_str), Some("prod"));
        assert!(comment_tags("no tags here").is_empty());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            split_table("sales.orders"),
            ("sales".into(), "orders".into())
        );
        assert_eq!(split_table("orders"), ("public".into(), "orders".into()));
    }
}
