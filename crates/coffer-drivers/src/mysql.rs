//! MySQL and MariaDB: each database (schema) of a server is a resource.
//!
//! Backup runs `mariadb-dump --single-transaction` (or MySQL's
//! `mysqldump`), whose one consistent InnoDB snapshot is the whole dump,
//! and streams it into the vault (never staged on disk). MariaDB cannot
//! share that snapshot with another session, so the manifest (row counts
//! and order-independent row checksums per table) is read from the dump
//! itself as it passes ([`dump::DumpScanner`]): it describes exactly what
//! the dump holds. Restore creates a new database (an existing one only
//! with `force`) and feeds the dump to the `mariadb` client; one table can
//! be restored alone, into an existing database. Validation restores into
//! a scratch database, dumps it again with the same options, compares the
//! manifests and drops the scratch.
//!
//! Every server conversation goes through the client tools, with the
//! password in their environment (`MYSQL_PWD`), never in their arguments:
//! Coffer links no MySQL protocol library.

mod dump;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use coffer_model::{ContentManifest, RecoveryPoint, Resource, ResourceType, Server, ToolDirs};

use crate::process::{spawn, ChildReader, StderrCollector, ToolError};
use crate::tools::Family;
use crate::{
    blocking, compare_manifest, connection, database_of, snapshot_of, BackupOutcome, DriverError,
    Restore, RestoreOutcome, Result, Validation, Vault,
};

pub(crate) use dump::DumpScanner;

/// Seconds a tool waits for the server to answer a connection.
const CONNECT_TIMEOUT_SECS: u32 = 15;
/// Schemas of the server itself, never resources.
const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// A client tool, by its MariaDB name and then its MySQL name.
#[derive(Clone, Copy, Debug)]
struct Tool {
    names: &'static [&'static str],
    /// Whether it takes `--connect-timeout` (the dump tools do not).
    connect_timeout: bool,
}

const CLIENT: Tool = Tool {
    names: ToolDirs::MYSQL_TOOLS[0],
    connect_timeout: true,
};
const DUMP: Tool = Tool {
    names: ToolDirs::MYSQL_TOOLS[1],
    connect_timeout: false,
};

/// The dump's options, the same for a backup and for a validation's second
/// dump, so their manifests compare exactly: one consistent snapshot,
/// routines, triggers and events, one row per line (what the manifest
/// reads), binary values in hex (a text-safe stream), no date (an unchanged
/// database dumps to the same bytes, which the vault deduplicates).
const DUMP_OPTIONS: [&str; 7] = [
    "--single-transaction",
    "--routines",
    "--triggers",
    "--events",
    "--skip-extended-insert",
    "--hex-blob",
    "--skip-dump-date",
];

impl Tool {
    /// The first of the tool's names found (in `[tools] mysql_bin_dir`
    /// when configured, else on `PATH`).
    fn locate(self) -> std::result::Result<(&'static str, PathBuf), ToolError> {
        crate::tools::locate(Family::MySql, self.names)
    }
}

pub use crate::endpoint::Endpoint;

impl Endpoint {
    fn process_error(&self, source: ToolError) -> DriverError {
        DriverError::Process {
            resource: self.label.clone(),
            source,
        }
    }

    /// A client tool with the connection in its arguments and the password
    /// in its environment. Option files are not read (`--no-defaults`), so
    /// a `~/.my.cnf` never changes whom Coffer connects as.
    fn mysql_command(&self, tool: Tool) -> Result<(&'static str, Command)> {
        let (name, path) = tool.locate().map_err(|e| self.process_error(e))?;
        let mut command = Command::new(path);
        command
            .arg("--no-defaults")
            .arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg("--default-character-set=utf8mb4");
        if tool.connect_timeout {
            command.arg(format!("--connect-timeout={CONNECT_TIMEOUT_SECS}"));
        }
        if let Some(user) = &self.user {
            command.arg(format!("--user={user}"));
        }
        match &self.password {
            Some(password) => command.env("MYSQL_PWD", password),
            None => command.env_remove("MYSQL_PWD"),
        };
        Ok((name, command))
    }

    /// Runs `sql` with the `mariadb` client and returns the answer's rows.
    ///
    /// # Errors
    /// When the client is missing, or the server refuses, in its words.
    async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        let (name, mut command) = self.mysql_command(CLIENT)?;
        command
            .args(["--batch", "--skip-column-names", "--execute", sql])
            .stdin(Stdio::null());
        let label = self.label.clone();
        let output = blocking(move || {
            command.output().map_err(|source| DriverError::Process {
                resource: label,
                source: ToolError::Start {
                    tool: name.to_string(),
                    source,
                },
            })
        })
        .await?;
        if !output.status.success() {
            return Err(DriverError::Tool {
                tool: name,
                resource: self.label.clone(),
                message: format!(
                    "exited with {}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| line.split('\t').map(unescape).collect())
            .collect())
    }

    /// Runs `sql` (statements separated by `;`) with the `mariadb` client,
    /// after checking that the dump tool is there too (a server Coffer can
    /// back up): what a caller preparing a database uses.
    ///
    /// # Errors
    /// When a tool is missing (naming its package or directory), the
    /// server cannot be reached, or it refuses, in its words.
    pub async fn execute(&self, sql: &str) -> Result<()> {
        DUMP.locate().map_err(|e| self.process_error(e))?;
        self.query(sql).await.map(|_| ())
    }

    async fn database_exists(&self, name: &str) -> Result<bool> {
        let rows = self
            .query(&format!(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                literal(name)
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    async fn table_exists(&self, database: &str, table: &str) -> Result<bool> {
        let rows = self
            .query(&format!(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                literal(database),
                literal(table)
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    async fn drop_database(&self, name: &str) -> Result<()> {
        self.query(&format!("DROP DATABASE IF EXISTS {}", ident(name)))
            .await
            .map(|_| ())
    }

    /// `mysql://host:port/database`, for messages and restore outcomes.
    fn address(&self, database: &str) -> String {
        format!("mysql://{}:{}/{database}", self.host, self.port)
    }
}

/// Drops a database a restore test restored.
pub(crate) async fn drop_scratch(endpoint: &Endpoint, name: &str) -> Result<()> {
    endpoint.drop_database(name).await
}

/// Runs `sql` in `database`; each row's columns joined by `|`.
pub(crate) async fn query_text(endpoint: &Endpoint, database: &str, sql: &str) -> Result<String> {
    let rows = endpoint
        .query(&format!("USE {}; {sql}", ident(database)))
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.join("|"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Undoes the `mariadb` client's batch-mode escaping of a value.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `name` quoted as a MySQL identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `text` as a string literal that no SQL mode can misread (hex digits).
fn literal(text: &str) -> String {
    if text.is_empty() {
        return "''".to_string();
    }
    format!("CONVERT(X'{}' USING utf8mb4)", hex::encode(text))
}

fn stream_name(database: &str) -> String {
    format!("{}.sql", database.replace('/', "_"))
}

/// A database name a restore may create: 1-64 characters, no NUL, not
/// starting with `-` (a tool would read it as an option), no trailing space.
fn check_database_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > 64
        || name.contains('\0')
        || name.starts_with('-')
        || name.ends_with(' ')
    {
        return Err(DriverError::Refused(format!(
            "{name:?} is not a valid MySQL database name (1-64 characters, not starting with '-' or ending with a space)"
        )));
    }
    Ok(())
}

/// A dump's bytes read through a [`DumpScanner`], which the caller keeps
/// to read the manifest once the stream ends.
struct ScanningReader<R> {
    inner: R,
    scanner: Arc<Mutex<DumpScanner>>,
}

impl<R: Read> Read for ScanningReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut scanner = self.scanner.lock().unwrap_or_else(PoisonError::into_inner);
        if n == 0 {
            scanner.finish(&mut std::io::sink())?;
        } else {
            scanner.feed(&buf[..n], &mut std::io::sink())?;
        }
        Ok(n)
    }
}

/// Starts the dump of `database` as a reader that scans it as it passes.
fn start_dump(
    endpoint: &Endpoint,
    database: &str,
) -> Result<(&'static str, ChildReader, Arc<Mutex<DumpScanner>>)> {
    let (name, mut command) = endpoint.mysql_command(DUMP)?;
    command.args(DUMP_OPTIONS).arg(database);
    let child = spawn(&mut command, name, Family::MySql.package())
        .map_err(|e| endpoint.process_error(e))?;
    let reader = ChildReader::new(name, child).map_err(|e| endpoint.process_error(e))?;
    Ok((name, reader, Arc::new(Mutex::new(DumpScanner::new()))))
}

fn manifest_of(scanner: &Mutex<DumpScanner>) -> ContentManifest {
    scanner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .manifest()
}

pub(crate) async fn backup(
    resource: &Resource,
    vault: &Vault,
    tags: Vec<String>,
) -> Result<BackupOutcome> {
    let endpoint = Endpoint::of_resource(resource)?;
    let database = connection(resource, "database")?.to_string();
    check_database_name(&database)?;
    let (tool, reader, scanner) = start_dump(&endpoint, &database)?;
    // Dropping this future (a stopped job) kills the dump; the server
    // ends its session when it next reads or writes, or within a second
    // when it waits for a lock.
    let _stopper = reader.stopper();
    let name = stream_name(&database);
    let scanning = ScanningReader {
        inner: reader,
        scanner: Arc::clone(&scanner),
    };
    let saved = {
        let vault = vault.clone();
        tokio::task::spawn_blocking(move || {
            vault
                .storage
                .backup_stream(&vault.secret, &name, scanning, &tags)
        })
        .await
        .map_err(|e| DriverError::Task(e.to_string()))?
    };
    let saved = match saved {
        Ok(saved) => saved,
        Err(coffer_vault::StorageError::StreamFailed { message, .. }) => {
            return Err(DriverError::Tool {
                tool,
                resource: endpoint.label.clone(),
                message,
            })
        }
        Err(other) => return Err(DriverError::Storage(other)),
    };
    let manifest = manifest_of(&scanner);
    let stored = {
        let vault = vault.clone();
        let id = saved.snapshot.id.clone();
        blocking(move || Ok(vault.storage.stored_bytes(&vault.secret, &id)?)).await?
    };
    Ok(BackupOutcome::from_stream(saved, stored, manifest))
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
    if let (Some(table), Some(manifest)) = (table, &point.manifest) {
        if !manifest.tables.iter().any(|t| t.name == table) {
            return Err(DriverError::Refused(format!(
                "the recovery point holds no table {table:?}; its tables are {}",
                manifest
                    .tables
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let exists = endpoint.database_exists(target).await?;
    if exists && table.is_none() {
        if !force {
            return Err(DriverError::TargetExists(format!(
                "database {target:?} exists on {}:{}; choose another target database, or restore with force to drop and replace it",
                endpoint.host, endpoint.port
            )));
        }
        endpoint.drop_database(target).await?;
    }
    if let Some(table) = table.filter(|_| exists && !force) {
        if endpoint.table_exists(target, table).await? {
            return Err(DriverError::TargetExists(format!(
                "table {table} exists in database {target:?}; restore into another database, or restore with force to replace the table"
            )));
        }
    }
    let created = !exists || table.is_none();
    if created {
        endpoint
            .query(&format!("CREATE DATABASE {}", ident(target)))
            .await
            .map_err(|e| endpoint.error(format!("cannot create database {target:?}: {e}")))?;
    }
    let result = feed_client(
        endpoint,
        target,
        vault,
        snapshot,
        stream_name(&source_db),
        table,
    )
    .await;
    if result.is_err() && created {
        let _ = endpoint.drop_database(target).await;
    }
    let bytes = result?;
    Ok(RestoreOutcome {
        created: format!(
            "{}{}",
            endpoint.address(target),
            table.map(|t| format!(" (table {t})")).unwrap_or_default()
        ),
        bytes,
        notes: Vec::new(),
    })
}

/// Feeds the dump (only `table`'s statements, when given) to the client
/// connected to `database`; its failure is an error in its own words.
async fn feed_client(
    endpoint: &Endpoint,
    database: &str,
    vault: &Vault,
    snapshot: String,
    name: String,
    table: Option<&str>,
) -> Result<u64> {
    let (tool, mut command) = endpoint.mysql_command(CLIENT)?;
    command
        .arg("--batch")
        .arg(format!("--database={database}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| {
        endpoint.process_error(ToolError::Start {
            tool: tool.to_string(),
            source,
        })
    })?;
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let label = endpoint.label.clone();
    let vault = vault.clone();
    let table = table.map(str::to_string);
    blocking(move || {
        let mut collector = stderr.map(StderrCollector::start);
        let mut scanner = table.as_deref().map(DumpScanner::keeping);
        let fed = match stdin {
            Some(stdin) => {
                let mut batched = Batching::new(stdin);
                let mut writer = ClientWriter {
                    inner: &mut batched,
                    scanner: scanner.as_mut(),
                    bytes: 0,
                };
                let fed = writer
                    .begin()
                    .map_err(|e| tool_error(tool, &label, e))
                    .and_then(|()| {
                        vault
                            .storage
                            .dump(&vault.secret, &snapshot, &name, &mut writer)
                            .map_err(DriverError::from)
                    })
                    .and_then(|()| writer.finish().map_err(|e| tool_error(tool, &label, e)))
                    .map(|()| writer.bytes);
                fed.and_then(|bytes| {
                    batched
                        .end()
                        .map(|()| bytes)
                        .map_err(|e| tool_error(tool, &label, e))
                })
            }
            None => Ok(0),
        };
        // stdin is closed here (dropped above), so the client finishes.
        let status = child.wait().map_err(|e| tool_error(tool, &label, e))?;
        let stderr = collector
            .as_mut()
            .map(StderrCollector::finish)
            .unwrap_or_default();
        if !status.success() {
            return Err(DriverError::Tool {
                tool,
                resource: label,
                message: format!("exited with {status}: {stderr}"),
            });
        }
        let bytes = fed?;
        if let (Some(scanner), Some(table)) = (&scanner, &table) {
            if !scanner.kept_seen() {
                return Err(DriverError::Refused(format!(
                    "the recovery point's dump holds no table {table:?}"
                )));
            }
        }
        Ok(bytes)
    })
    .await
}

fn tool_error(tool: &'static str, label: &str, error: std::io::Error) -> DriverError {
    DriverError::Tool {
        tool,
        resource: label.to_string(),
        message: error.to_string(),
    }
}

/// Writes the dump to the client, through a one-table filter when given,
/// counting the bytes read from the vault.
struct ClientWriter<'a, W: Write> {
    inner: &'a mut W,
    scanner: Option<&'a mut DumpScanner>,
    bytes: u64,
}

impl<W: Write> ClientWriter<'_, W> {
    /// Turns autocommit off for the session: the dump has one `INSERT` per
    /// row (joined into batches on the way, [`Batching`]), which would
    /// otherwise each be a transaction of its own (a log flush per row,
    /// hours for a gigabyte). The `LOCK TABLES` and
    /// `UNLOCK TABLES` around each table's rows commit, so each table's
    /// rows are one transaction; a restore cut short leaves its last
    /// table's rows uncommitted.
    fn begin(&mut self) -> std::io::Result<()> {
        self.inner.write_all(b"SET autocommit=0;\n")
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(scanner) = self.scanner.as_mut() {
            scanner.finish(&mut *self.inner)?;
        }
        self.inner.write_all(b"\nCOMMIT;\n")?;
        self.inner.flush()
    }
}

impl<W: Write> Write for ClientWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.scanner.as_mut() {
            Some(scanner) => scanner.feed(buf, &mut *self.inner)?,
            None => self.inner.write_all(buf)?,
        }
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Rows of one table sent to the client as one `INSERT` at most, and the
/// bytes of one such statement (well under MariaDB's 16 MiB
/// `max_allowed_packet`).
const BATCH_ROWS: usize = 1000;
const BATCH_BYTES: usize = 1 << 20;

/// Joins the dump's consecutive one-row `INSERT INTO `t` VALUES (...);`
/// lines of one table into multi-row statements on their way to the
/// client. The dump keeps one row per line (what the manifest reads, and
/// what deduplicates between backups); sent as it is, each row is a
/// statement and a round trip of its own, many times slower to restore
/// than mariadb-dump's extended inserts. Any other line ends the batch
/// and passes unchanged, so statements keep their order.
struct Batching<W: Write> {
    inner: W,
    /// The line being read, up to its newline.
    line: Vec<u8>,
    /// The `INSERT INTO `t` VALUES ` the pending rows share.
    prefix: Vec<u8>,
    /// The pending statement: the prefix and its rows so far.
    pending: Vec<u8>,
    rows: usize,
}

impl<W: Write> Batching<W> {
    fn new(inner: W) -> Batching<W> {
        Batching {
            inner,
            line: Vec::new(),
            prefix: Vec::new(),
            pending: Vec::new(),
            rows: 0,
        }
    }

    fn take_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let Some((prefix, row)) = single_row_insert(line) else {
            self.send_batch()?;
            return self.inner.write_all(line);
        };
        if self.rows > 0
            && prefix == self.prefix.as_slice()
            && self.rows < BATCH_ROWS
            && self.pending.len() + row.len() < BATCH_BYTES
        {
            self.pending.push(b',');
            self.pending.extend_from_slice(row);
            self.rows += 1;
            return Ok(());
        }
        self.send_batch()?;
        self.prefix.clear();
        self.prefix.extend_from_slice(prefix);
        self.pending.extend_from_slice(prefix);
        self.pending.extend_from_slice(row);
        self.rows = 1;
        Ok(())
    }

    fn send_batch(&mut self) -> std::io::Result<()> {
        if self.rows > 0 {
            self.pending.extend_from_slice(b";\n");
            self.inner.write_all(&self.pending)?;
            self.pending.clear();
            self.rows = 0;
        }
        Ok(())
    }

    /// Sends what is pending, a last line without its newline included.
    fn end(&mut self) -> std::io::Result<()> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.send_batch()?;
        } else {
            self.take_line(&line)?;
            self.send_batch()?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Write for Batching<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(at + 1);
            if self.line.is_empty() {
                self.take_line(head)?;
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                self.take_line(&line)?;
            }
            rest = tail;
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A dump line holding one `INSERT INTO `table` VALUES (...);`, as its
/// statement's prefix (through `VALUES `) and its row (`(...)`, without
/// the `;` and newline).
fn single_row_insert(line: &[u8]) -> Option<(&[u8], &[u8])> {
    const START: &[u8] = b"INSERT INTO `";
    const VALUES: &[u8] = b" VALUES (";
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let body = body.strip_suffix(b";")?;
    let name = body.strip_prefix(START)?;
    // The table's name ends at a backquote not doubled (`` is one inside).
    let mut i = 0;
    let end = loop {
        match name.get(i)? {
            b'`' if name.get(i + 1) == Some(&b'`') => i += 2,
            b'`' => break i,
            _ => i += 1,
        }
    };
    let after = &name[end + 1..];
    if !after.starts_with(VALUES) || !body.ends_with(b")") {
        return None;
    }
    let prefix_len = START.len() + end + 1 + VALUES.len() - 1;
    Some((&body[..prefix_len], &body[prefix_len..]))
}

/// The scratch database a validation of `point` restores into.
pub(crate) fn scratch_database(point: &RecoveryPoint) -> String {
    crate::postgres::scratch_database(point)
}

/// The manifest of a database as a dump with the backup's options reads
/// it now (the dump's bytes go nowhere).
async fn manifest_of_database(endpoint: &Endpoint, database: &str) -> Result<ContentManifest> {
    let (tool, reader, scanner) = start_dump(endpoint, database)?;
    let mut scanning = ScanningReader {
        inner: reader,
        scanner: Arc::clone(&scanner),
    };
    let label = endpoint.label.clone();
    blocking(move || {
        std::io::copy(&mut scanning, &mut std::io::sink())
            .map_err(|e| tool_error(tool, &label, e))?;
        Ok(())
    })
    .await?;
    Ok(manifest_of(&scanner))
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
                "restore into scratch database {scratch} on {}:{} succeeded",
                endpoint.host, endpoint.port
            ));
            match manifest_of_database(&endpoint, &scratch).await {
                Ok(found) => compare_manifest(point.manifest.as_ref(), &found, validation),
                Err(e) => validation.problems.push(e.to_string()),
            }
        }
        Err(e) => validation.problems.push(e.to_string()),
    }
    let _ = endpoint.drop_database(&scratch).await;
    Ok(())
}

/// The databases of a server as resources: the inventory's server tags,
/// then `database_tags`, then the schema comment's `coffer:` line
/// (MariaDB's `CREATE DATABASE ... COMMENT`; MySQL has none). The
/// server's own schemas and those matching `exclude_databases` are left
/// out.
///
/// # Errors
/// When the server is unreachable or the client tool missing.
pub async fn discover(server: &Server) -> Result<Vec<Resource>> {
    let endpoint = Endpoint::of_server(server)?;
    let system = SYSTEM_SCHEMAS
        .iter()
        .map(|s| literal(s))
        .collect::<Vec<_>>()
        .join(", ");
    let with_comments = endpoint
        .query(&format!(
            "SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME NOT IN ({system}) ORDER BY SCHEMA_NAME"
        ))
        .await;
    let rows = match with_comments {
        Ok(rows) => rows,
        // MySQL's SCHEMATA has no comment column.
        Err(DriverError::Tool { message, .. }) if message.contains("SCHEMA_COMMENT") => {
            endpoint
                .query(&format!(
                    "SELECT SCHEMA_NAME, '' FROM information_schema.SCHEMATA \
                     WHERE SCHEMA_NAME NOT IN ({system}) ORDER BY SCHEMA_NAME"
                ))
                .await?
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for row in rows {
        let database = row.first().cloned().unwrap_or_default();
        let comment = row.get(1).cloned().unwrap_or_default();
        out.extend(crate::server_database(
            server,
            ResourceType::MySQL,
            &database,
            &comment,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dump` through [`Batching`], written `chunk` bytes at a time.
    fn batched(dump: &str, chunk: usize) -> String {
        let mut out = Vec::new();
        let mut batching = Batching::new(&mut out);
        for part in dump.as_bytes().chunks(chunk) {
            batching.write_all(part).unwrap_or_else(|e| panic!("{e}"));
        }
        batching.end().unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn consecutive_rows_of_a_table_go_to_the_client_as_one_statement() {
        let dump = "LOCK TABLES `a` WRITE;\n\
                    INSERT INTO `a` VALUES (1,'x;y');\n\
                    INSERT INTO `a` VALUES (2,'),(');\n\
                    INSERT INTO `b``c` VALUES (3);\n\
                    UNLOCK TABLES;\n\
                    INSERT INTO `a` VALUES (4);\n\
                    COMMIT;";
        let expected = "LOCK TABLES `a` WRITE;\n\
                        INSERT INTO `a` VALUES (1,'x;y'),(2,'),(');\n\
                        INSERT INTO `b``c` VALUES (3);\n\
                        UNLOCK TABLES;\n\
                        INSERT INTO `a` VALUES (4);\n\
                        COMMIT;";
        for chunk in [1, 3, 7, 64, 4096] {
            assert_eq!(
                batched(dump, chunk),
                expected,
                "written {chunk} bytes at a time"
            );
        }
    }

    #[test]
    fn a_batch_holds_at_most_its_rows() {
        let dump: String = (0..BATCH_ROWS + 1)
            .map(|i| format!("INSERT INTO `t` VALUES ({i});\n"))
            .collect();
        let out = batched(&dump, 4096);
        let statements: Vec<&str> = out.lines().collect();
        assert_eq!(statements.len(), 2, "{}", &out[..200]);
        assert!(statements[1] == format!("INSERT INTO `t` VALUES ({BATCH_ROWS});"));
        assert_eq!(statements[0].matches("),(").count(), BATCH_ROWS - 1);
    }

    #[test]
    fn lines_that_are_no_single_row_insert_pass_unchanged() {
        for line in [
            "INSERT INTO `t` VALUES (1)",
            "INSERT INTO t VALUES (1);",
            "INSERT INTO `t` (a) VALUES (1);",
            "/*!40000 ALTER TABLE `t` ENABLE KEYS */;",
        ] {
            assert_eq!(single_row_insert(line.as_bytes()), None, "{line}");
            assert_eq!(batched(&format!("{line}\n"), 5), format!("{line}\n"));
        }
    }

    #[test]
    fn batch_output_is_unescaped() {
        assert_eq!(unescape(r"a\nb\tc\\d\0"), "a\nb\tc\\d\0");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn names_and_literals_are_quoted() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(literal("a'b"), "CONVERT(X'612762' USING utf8mb4)");
        assert_eq!(literal(""), "''");
        assert!(check_database_name("orders_2").is_ok());
        assert!(check_database_name("-e").is_err());
        assert!(check_database_name(&"x".repeat(65)).is_err());
    }
}
