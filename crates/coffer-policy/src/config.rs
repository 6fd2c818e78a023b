//! Reading `$COFFER_HOME/config.toml` into a `coffer_model::Config`: where
//! things are, separate from policy. The default account, region and
//! principal; the catalog URL; where each vault's storage lives (and its
//! cold tier); S3 endpoints with credentials by reference; report buckets;
//! the keyring and signing-key paths. The values are `coffer-model`'s
//! (re-exported here); this module owns the file, its checks and
//! [`LoadConfig`].
//!
//! On first use Coffer writes a `config.toml` holding every setting as a
//! commented default, so a user reads it and understands every knob. Loading
//! checks the whole file and reports every problem at once, each at its line
//! and column, with a hint; secrets are refused unless given by reference,
//! and no message repeats a value that could be a secret (invariant 5).
//! Settings are documented for users in `docs/configuration.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use coffer_model::{
    did_you_mean, join_field, AccountId, Arn, ConfigParts, LockMode, Region, S3Endpoint, SecretRef,
    Severity, ToolDirs, CONFIG_FILE,
};
pub use coffer_model::{
    BucketLocation, Config, NotificationTarget, ObjectLockDefault, SelfBackup, ServeSettings,
    VaultLocation, VaultRule,
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::checks::{check_bucket_name, check_endpoint_url, check_env_name, Syntax};
use crate::diag::Diagnostic;
use crate::node::Pos;

const DEFAULT_ACCOUNT: &str = "000000000000";
const DEFAULT_REGION: &str = "local";
const DEFAULT_CATALOG_URL: &str = "sqlite://{home}/catalog.db";
const DEFAULT_VAULT_URL: &str = "file://{home}/vaults/{account}/{region}/{name}";
const DEFAULT_KEYRING: &str = "{home}/keyring";
const DEFAULT_SIGNING_KEY: &str = "{home}/signing.key";
/// The signing region of an S3 endpoint that does not name one (MinIO's and
/// most S3-compatible servers' default).
const DEFAULT_SIGNING_REGION: &str = "us-east-1";
/// Longest Object Lock retention accepted (100 years).
const MAX_OBJECT_LOCK_DAYS: i64 = 36_500;

const TOP_KEYS: &[&str] = &[
    "defaults",
    "catalog",
    "vaults",
    "s3_endpoints",
    "report_buckets",
    "keys",
    "serve",
    "notifications",
    "self_backup",
    "tools",
];
const DEFAULTS_KEYS: &[&str] = &["account", "region", "principal"];
const CATALOG_KEYS: &[&str] = &["url", "password"];
const VAULTS_KEYS: &[&str] = &["url", "cold_url", "endpoint", "rules"];
const RULE_KEYS: &[&str] = &["match", "url", "cold_url", "endpoint"];
const ENDPOINT_KEYS: &[&str] = &[
    "url",
    "region",
    "access_key_id",
    "secret_access_key",
    "path_style",
];
const BUCKET_KEYS: &[&str] = &["endpoint", "bucket", "object_lock", "path"];
const OBJECT_LOCK_KEYS: &[&str] = &["mode", "days"];
const KEYS_KEYS: &[&str] = &["keyring", "signing_key"];
const SELF_BACKUP_KEYS: &[&str] = &[
    "vault",
    "account",
    "region",
    "every_hours",
    "delete_after_days",
];
const SERVE_KEYS: &[&str] = &[
    "listen",
    "workers",
    "discover_minutes",
    "sweep_minutes",
    "check_hours",
    "check_parts",
    "retry_minutes",
    "tls_certificate",
    "tls_key",
];
const TOOLS_KEYS: &[&str] = &["postgresql_bin_dir", "mysql_bin_dir"];
const NOTIFICATION_KEYS: &[&str] = &["url", "events", "sns_topic"];
/// Events a notification target gets when it names none: what needs a
/// person's attention.
pub const DEFAULT_NOTIFICATION_EVENTS: &[&str] = &[
    "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED",
    "COPY_JOB_FAILED",
    "RESTORE_JOB_FAILED",
    "RESTORE_TEST_FAILED",
    "VAULT_CHECK_FAILED",
];
/// Events Coffer sends: the vault events it produces, plus its own.
pub const NOTIFICATION_EVENTS: &[&str] = &[
    "BACKUP_JOB_STARTED",
    "BACKUP_JOB_COMPLETED",
    "BACKUP_JOB_SUCCESSFUL",
    "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED",
    "BACKUP_JOB_ABORTED",
    "COPY_JOB_STARTED",
    "COPY_JOB_SUCCESSFUL",
    "COPY_JOB_FAILED",
    "RESTORE_JOB_FAILED",
    "RESTORE_TEST_FAILED",
    "RECOVERY_POINT_MODIFIED",
    "VAULT_CHECK_FAILED",
];
const SECRET_KEYS: &[&str] = &["env", "file"];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The home directory or the file could not be created or read.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file has mistakes: every one of them, one per line when shown.
    #[error("{}", show_problems(problems))]
    Invalid { problems: Vec<Diagnostic> },
}

impl ConfigError {
    /// The located problems of an `Invalid` file (none for `Io`).
    pub fn problems(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid { problems } => problems,
            ConfigError::Io { .. } => &[],
        }
    }
}

fn show_problems(problems: &[Diagnostic]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reading `config.toml` into a [`Config`]: the checks and the file live
/// here, the values in `coffer-model`, so crates that only use the
/// configuration do not depend on the loader.
pub trait LoadConfig: Sized {
    /// Reads `<home>/config.toml`, first creating `home` (private to its
    /// owner) and a file of commented defaults when they do not exist.
    ///
    /// # Errors
    /// `Io` when the directory or file cannot be created or read; `Invalid`
    /// listing every problem in the file.
    fn load_or_create(home: &Path) -> Result<Self, ConfigError>;

    /// Reads a configuration from `text`, as if it were `<home>/config.toml`;
    /// `file_label` names the file in problems.
    ///
    /// # Errors
    /// `Invalid` listing every problem in the text.
    fn from_str_at(text: &str, home: &Path, file_label: &str) -> Result<Self, ConfigError>;
}

impl LoadConfig for Config {
    fn load_or_create(home: &Path) -> Result<Config, ConfigError> {
        let home = std::path::absolute(home).map_err(|source| ConfigError::Io {
            action: "resolve the home directory",
            path: home.to_path_buf(),
            source,
        })?;
        create_home(&home)?;
        let path = home.join(CONFIG_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => write_default(&path, &home)?,
            Err(source) => {
                return Err(ConfigError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        Self::from_str_at(&text, &home, &path.display().to_string())
    }

    fn from_str_at(text: &str, home: &Path, file_label: &str) -> Result<Config, ConfigError> {
        let mut check = Check::new(text, file_label, home);
        let mut root = match toml::from_str::<TNode>(text) {
            Ok(root) => root,
            Err(err) => {
                let message = err.message().trim().to_string();
                let pos = err.span().map(|span| check.pos_at(span.start));
                check.push(pos, "", format!("TOML syntax error: {message}"));
                return Err(ConfigError::Invalid {
                    problems: check.problems,
                });
            }
        };
        if root.span.is_none() {
            root.span = Some(0..0);
        }
        fill_spans(&mut root);
        let config = check.config(&root);
        match config {
            Some(config) if check.problems.is_empty() => Ok(config),
            _ => {
                // Top to bottom, as the user reads the file.
                let mut problems = check.problems;
                problems.sort_by_key(|problem| problem.pos);
                Err(ConfigError::Invalid { problems })
            }
        }
    }
}

/// Whether `path` is a file (or a link to one) someone may execute.
fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        metadata.is_file()
    }
}

fn create_home(home: &Path) -> Result<(), ConfigError> {
    if home.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        // The home holds the keyring: keep it private to its owner.
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(home).map_err(|source| ConfigError::Io {
        action: "create the home directory",
        path: home.to_path_buf(),
        source,
    })
}

/// Writes the commented default file unless one appeared meanwhile; returns
/// the file's text.
fn write_default(path: &Path, home: &Path) -> Result<String, ConfigError> {
    use std::io::Write;
    let text = default_file_text(home);
    let created = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let result = match created {
        Ok(mut file) => file.write_all(text.as_bytes()).map(|()| text),
        // Another process created it first: read theirs.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => fs::read_to_string(path),
        Err(err) => Err(err),
    };
    result.map_err(|source| ConfigError::Io {
        action: "create",
        path: path.to_path_buf(),
        source,
    })
}

/// The file written on first use: every setting, commented, at its default.
/// Lines of the form `# key = value` and `# [section]` are the defaults
/// themselves; examples of optional settings are indented (`#   `).
fn default_file_text(home: &Path) -> String {
    DEFAULT_FILE.replace("<HOME>", &home.display().to_string())
}

const DEFAULT_FILE: &str = r#"# Coffer deployment configuration: where things are, separate from policy.
#
# Coffer wrote this file on first use. Every setting is listed with its
# default value, commented out: to change one, uncomment it and the line
# naming its section. In paths and URLs, {home} stands for the directory of
# this file,
#     <HOME>
# and in vault locations, {account}, {region} and {name} stand for the
# vault's account, region and name.
# Secrets are never written here: give them by reference, as
# { env = "VARIABLE" } or { file = "/path/to/file" }.
# Reference: docs/configuration.md

# [defaults]
# Account that commands and policies act in when they name none (12 digits).
# account = "000000000000"
# Region (a site or storage location name) used when none is named.
# region = "local"
# Principal ARN the CLI acts as, as access policies see it.
# Default: arn:coffer:iam::<account>:user/admin
# principal = "arn:coffer:iam::000000000000:user/admin"

# [catalog]
# Where Coffer records resources, plans, jobs and recovery points:
# sqlite://<absolute path> or postgres://<user>@<host>:<port>/<database>.
# url = "sqlite://{home}/catalog.db"
# For a PostgreSQL catalog, its password (by reference, never in the url):
#   password = { env = "COFFER_CATALOG_PASSWORD" }

# [vaults]
# Where a vault's storage lives when no rule below matches its name:
# file://<absolute path> or s3://<bucket>/<prefix>; must contain {name}.
# url = "file://{home}/vaults/{account}/{region}/{name}"
# Where recovery points moved to cold storage live (default: at url):
#   cold_url = "file:///mnt/archive/coffer/{name}"
# The [s3_endpoints] entry serving s3:// locations (required with them):
#   endpoint = "minio"
#
# Rules, tried in order: the first whose match (a glob on the vault name,
# * for any characters) fits sets the vault's whole location.
#   [[vaults.rules]]
#   match = "payments-*"
#   url = "s3://coffer-vaults/payments/{name}"
#   cold_url = "s3://coffer-archive/payments/{name}"
#   endpoint = "minio"

# S3-compatible endpoints for vaults and report buckets, by name.
#   [s3_endpoints.minio]
#   url = "http://127.0.0.1:9000"
#   # Signing region (default "us-east-1").
#   region = "us-east-1"
#   access_key_id = { env = "MINIO_ACCESS_KEY_ID" }
#   secret_access_key = { file = "/etc/coffer/minio.secret" }
#   # Address buckets as <url>/<bucket> (MinIO, Ceph) rather than as
#   # <bucket>.<host> (default false).
#   path_style = true

# Report buckets: a report plan's S3BucketName is delivered to the folder
# {home}/buckets/<name> unless listed here.
#   [report_buckets.payments-audit]
#   endpoint = "minio"
#   # The bucket on the endpoint (default: the name above).
#   bucket = "payments-audit"
#   # Object Lock retention set on every delivered file (optional; the
#   # bucket must have Object Lock enabled). Without it, a bucket's default
#   # retention is set explicitly, so the signed manifest records it.
#   object_lock = { mode = "COMPLIANCE", days = 2555 }
#
#   [report_buckets.local-audit]
#   # A folder instead of an S3 bucket.
#   path = "/srv/audit"

# [keys]
# Key-encryption keys that wrap each vault's secret. Export it (encrypted)
# and keep it safe: without it no vault can be opened.
# keyring = "{home}/keyring"
# Ed25519 key that signs report manifests and ledger checkpoints.
# signing_key = "{home}/signing.key"

# [serve]
# Address of `coffer serve`'s HTTP endpoints (/metrics, /healthz).
# listen = "127.0.0.1:9797"
# Backups and copies running at once (never two backups of one resource).
# workers = 2
# Minutes between looks for new resources (databases on declared servers).
# discover_minutes = 15
# Minutes between lifecycle sweeps (cold moves, expiries, prunes).
# sweep_minutes = 60
# Hours between checks of each vault; each check reads back one part in
# check_parts of the vault's data, so the whole vault is read over that
# many checks.
# check_hours = 24
# check_parts = 10
# Minutes before a failed attempt is retried (doubling each time), while
# the rule's start window lasts.
# retry_minutes = 5
# Serve the endpoints and the AWS Backup API over TLS with this PEM
# certificate chain and PEM private key (both, or neither for plain HTTP,
# which `coffer serve` warns about on a non-loopback address).
#   tls_certificate = "{home}/tls/cert.pem"
#   tls_key = "{home}/tls/key.pem"

# The deployment's own disaster recovery: its catalog (the evidence ledger
# included, as of a checkpoint signed just before) backed up into a vault a
# stack declares, as a recovery point like any other. `coffer serve` runs it
# every every_hours; `coffer catalog backup` runs one now, and
# `coffer catalog restore` puts one back. Off until a vault is named.
#   [self_backup]
#   vault = "coffer-dr"
#   # The vault's account and region (default: [defaults]).
#   account = "000000000000"
#   region = "local"
#   # Hours between two backups of the catalog (default 24: daily).
#   every_hours = 24
#   # Days each backup is kept (default: until deleted).
#   delete_after_days = 35

# [tools]
# Where the database client tools are, when they are not on PATH (several
# PostgreSQL versions side by side, a MySQL under /opt). Each directory
# must hold its tools, executable; without it they are found on PATH.
# pg_dump and pg_restore:
#   postgresql_bin_dir = "/usr/lib/postgresql/15/bin"
# mariadb and mariadb-dump (or MySQL's mysql and mysqldump):
#   mysql_bin_dir = "/opt/mysql/bin"

# Notification targets: webhooks that receive job and vault events as JSON.
#   [[notifications]]
#   url = "https://hooks.example.com/coffer"
#   # Default: BACKUP_JOB_FAILED, BACKUP_JOB_EXPIRED, COPY_JOB_FAILED,
#   # RESTORE_JOB_FAILED, RESTORE_TEST_FAILED and VAULT_CHECK_FAILED.
#   events = ["BACKUP_JOB_FAILED", "BACKUP_JOB_EXPIRED", "VAULT_CHECK_FAILED"]
#
#   [[notifications]]
#   # Events of vaults whose Notifications name this SNS topic, chosen by
#   # their BackupVaultEvents: the topic is delivered to this webhook.
#   url = "https://hooks.example.com/backup-alerts"
#   sns_topic = "arn:aws:sns:eu-west-1:111122223333:backup-alerts"
"#;

// ---------------------------------------------------------------------------
// A TOML tree that keeps byte spans, so every problem gets a line and column.

/// `toml::Spanned`'s private protocol (serde_spanned 0.6, used by toml 0.8):
/// we implement it ourselves because `toml::Spanned` fails where the parser
/// has no span (implicit tables such as `vaults` in `[[vaults.rules]]`).
/// `spans_are_reported` fails if a toml upgrade changes it.
const SPANNED_NAME: &str = "$__serde_spanned_private_Spanned";
const SPANNED_START: &str = "$__serde_spanned_private_start";
const SPANNED_FIELDS: &[&str] = &[
    SPANNED_START,
    "$__serde_spanned_private_end",
    "$__serde_spanned_private_value",
];
const DATETIME_FIELD: &str = "$__toml_private_datetime";

#[derive(Debug)]
struct TNode {
    span: Option<Range<usize>>,
    value: TValue,
}

#[derive(Debug)]
struct TKey {
    span: Option<Range<usize>>,
    name: String,
}

#[derive(Debug)]
enum TValue {
    String(String),
    Integer(i64),
    Float,
    Boolean(bool),
    Datetime,
    Array(Vec<TNode>),
    Table(Vec<(TKey, TNode)>),
}

impl TNode {
    fn unspanned(value: TValue) -> Self {
        Self { span: None, value }
    }

    fn kind_name(&self) -> &'static str {
        match self.value {
            TValue::String(_) => "a string",
            TValue::Integer(_) => "an integer",
            TValue::Float => "a float",
            TValue::Boolean(_) => "a boolean",
            TValue::Datetime => "a date-time",
            TValue::Array(_) => "an array",
            TValue::Table(_) => "a table",
        }
    }
}

impl<'de> de::Deserialize<'de> for TNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, NodeVisitor)
    }
}

impl<'de> de::Deserialize<'de> for TKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, NodeVisitor)?;
        match node.value {
            TValue::String(name) => Ok(TKey {
                span: node.span,
                name,
            }),
            _ => Err(de::Error::custom("a key must be a string")),
        }
    }
}

/// The value inside a span wrapper: read as itself, not as another wrapper.
struct Unwrapped;

impl<'de> DeserializeSeed<'de> for Unwrapped {
    type Value = TNode;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TNode, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = TNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_str<E>(self, v: &str) -> Result<TNode, E> {
        Ok(TNode::unspanned(TValue::String(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<TNode, E> {
        Ok(TNode::unspanned(TValue::String(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<TNode, E> {
        Ok(TNode::unspanned(TValue::Integer(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TNode, E> {
        let v = i64::try_from(v).map_err(E::custom)?;
        Ok(TNode::unspanned(TValue::Integer(v)))
    }

    fn visit_f64<E>(self, _: f64) -> Result<TNode, E> {
        Ok(TNode::unspanned(TValue::Float))
    }

    fn visit_bool<E>(self, v: bool) -> Result<TNode, E> {
        Ok(TNode::unspanned(TValue::Boolean(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<TNode>()? {
            items.push(item);
        }
        Ok(TNode::unspanned(TValue::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TNode, A::Error> {
        let Some(first) = map.next_key::<TKey>()? else {
            return Ok(TNode::unspanned(TValue::Table(Vec::new())));
        };
        if first.name == SPANNED_START {
            let start: usize = map.next_value()?;
            let _ = map.next_key::<TKey>()?;
            let end: usize = map.next_value()?;
            let _ = map.next_key::<TKey>()?;
            let mut node = map.next_value_seed(Unwrapped)?;
            node.span = Some(start..end);
            return Ok(node);
        }
        if first.name == DATETIME_FIELD {
            let _: String = map.next_value()?;
            return Ok(TNode::unspanned(TValue::Datetime));
        }
        let mut entries = vec![(first, map.next_value::<TNode>()?)];
        while let Some(key) = map.next_key::<TKey>()? {
            let value = map.next_value::<TNode>()?;
            entries.push((key, value));
        }
        Ok(TNode::unspanned(TValue::Table(entries)))
    }
}

/// Gives every value without a span of its own (an implicit table) its key's.
fn fill_spans(node: &mut TNode) {
    match &mut node.value {
        TValue::Table(entries) => {
            for (key, value) in entries {
                if value.span.is_none() {
                    value.span.clone_from(&key.span);
                }
                fill_spans(value);
            }
        }
        TValue::Array(items) => {
            for item in items {
                if item.span.is_none() {
                    item.span.clone_from(&node.span);
                }
                fill_spans(item);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Checking the tree into a `Config`, collecting every problem.

/// A table being read: its entries and its field path.
struct Table<'n> {
    node: &'n TNode,
    entries: &'n [(TKey, TNode)],
    path: String,
}

impl<'n> Table<'n> {
    fn get(&self, name: &str) -> Option<&'n TNode> {
        self.entries
            .iter()
            .find(|(key, _)| key.name == name)
            .map(|(_, value)| value)
    }

    fn field(&self, name: &str) -> String {
        join_field(&self.path, name)
    }
}

/// The scheme of a storage URL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    File,
    S3,
}

struct Check<'t> {
    text: &'t str,
    file: String,
    home: PathBuf,
    home_text: String,
    problems: Vec<Diagnostic>,
}

impl<'t> Check<'t> {
    fn new(text: &'t str, file: &str, home: &Path) -> Self {
        Self {
            text,
            file: file.to_string(),
            home: home.to_path_buf(),
            home_text: home.display().to_string(),
            problems: Vec::new(),
        }
    }

    fn pos_at(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |idx| idx + 1);
        let col = before.get(line_start..).unwrap_or_default().chars().count() + 1;
        Pos { line, col }
    }

    fn pos(&self, span: &Option<Range<usize>>) -> Option<Pos> {
        span.as_ref().map(|span| self.pos_at(span.start))
    }

    fn push(
        &mut self,
        pos: Option<Pos>,
        field: &str,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let idx = self.problems.len();
        self.problems.push(Diagnostic {
            severity: Severity::Error,
            file: self.file.clone(),
            pos,
            subject: field.to_string(),
            message: message.into(),
            hint: None,
        });
        &mut self.problems[idx]
    }

    fn error(&mut self, node: &TNode, field: &str, message: impl Into<String>) -> &mut Diagnostic {
        let pos = self.pos(&node.span);
        self.push(pos, field, message)
    }

    fn wrong_type(&mut self, node: &TNode, field: &str, expected: &str) -> &mut Diagnostic {
        let message = format!("must be {expected}, found {}", node.kind_name());
        self.error(node, field, message)
    }

    /// A table, reporting keys not in `known` with a "did you mean".
    fn table<'n>(&mut self, node: &'n TNode, path: &str, known: &[&str]) -> Option<Table<'n>> {
        let TValue::Table(entries) = &node.value else {
            self.wrong_type(node, path, "a table");
            return None;
        };
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let pos = self.pos(&key.span);
                let field = join_field(path, &key.name);
                let hint = match did_you_mean(&key.name, known.iter().copied()) {
                    Some(close) => format!("did you mean {close:?}?"),
                    None => format!("allowed keys: {}", known.join(", ")),
                };
                self.push(pos, &field, format!("unknown key {:?}", key.name))
                    .hint(hint);
            }
        }
        Some(Table {
            node,
            entries,
            path: path.to_string(),
        })
    }

    /// An optional sub-table (`None` when absent or mistyped).
    fn sub_table<'n>(
        &mut self,
        parent: &Table<'n>,
        name: &str,
        known: &[&str],
    ) -> Option<Table<'n>> {
        let node = parent.get(name)?;
        self.table(node, &parent.field(name), known)
    }

    fn string(&mut self, node: &TNode, field: &str) -> Option<String> {
        match &node.value {
            TValue::String(text) => Some(text.clone()),
            _ => {
                self.wrong_type(node, field, "a string");
                None
            }
        }
    }

    fn required_string(&mut self, table: &Table<'_>, name: &str) -> Option<String> {
        match table.get(name) {
            Some(node) => self.string(node, &table.field(name)),
            None => {
                let pos = self.pos(&table.node.span);
                self.push(pos, &table.path, format!("{name} is required"));
                None
            }
        }
    }

    fn boolean(&mut self, node: &TNode, field: &str) -> Option<bool> {
        match node.value {
            TValue::Boolean(flag) => Some(flag),
            _ => {
                self.error(
                    node,
                    field,
                    format!("must be true or false, found {}", node.kind_name()),
                )
                .hint("write it without quotes: true or false");
                None
            }
        }
    }

    /// A secret by reference: `{ env = "NAME" }` or `{ file = "/path" }`.
    /// Messages never repeat what was written: it may be the secret itself.
    fn secret(&mut self, node: &TNode, field: &str, key: &str) -> Option<SecretRef> {
        let forms = format!(
            "write {key} = {{ env = \"VARIABLE\" }} (an environment variable of the coffer process) or {key} = {{ file = \"/path/to/file\" }} (a file holding only the secret)"
        );
        match &node.value {
            TValue::Table(_) => {}
            TValue::String(_) | TValue::Integer(_) | TValue::Float | TValue::Boolean(_) => {
                self.error(
                    node,
                    field,
                    "secrets are given only by reference, never written in the configuration",
                )
                .hint(forms);
                return None;
            }
            TValue::Datetime | TValue::Array(_) => {
                let message = format!("must be a secret reference, found {}", node.kind_name());
                self.error(node, field, message).hint(forms);
                return None;
            }
        }
        let table = self.table(node, field, SECRET_KEYS)?;
        match (table.get("env"), table.get("file")) {
            (Some(_), Some(_)) => {
                self.error(node, field, "give either env or file, not both")
                    .hint(forms);
                None
            }
            (None, None) => {
                self.error(node, field, "a secret reference names env or file")
                    .hint(forms);
                None
            }
            (Some(env), None) => {
                let env_field = table.field("env");
                let name = self.string(env, &env_field)?;
                if let Err(message) = check_env_name(&name) {
                    self.error(env, &env_field, message);
                    return None;
                }
                Some(SecretRef::Env(name))
            }
            (None, Some(file)) => {
                let file_field = table.field("file");
                let path = self.string(file, &file_field)?;
                let path = self.expand_home(file, &file_field, &path, false)?;
                if !Path::new(&path).is_absolute() {
                    self.error(
                        file,
                        &file_field,
                        "must be an absolute path (start with \"/\" or {home})",
                    );
                    return None;
                }
                Some(SecretRef::File(path))
            }
        }
    }

    /// Substitutes `{home}`; reports any other placeholder (`{name}` is kept
    /// where `name_allowed`).
    fn expand_home(
        &mut self,
        node: &TNode,
        field: &str,
        text: &str,
        name_allowed: bool,
    ) -> Option<String> {
        let mut rest = text;
        let mut ok = true;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            let placeholder = &after[..close];
            let allowed = placeholder == "home"
                || (name_allowed && matches!(placeholder, "name" | "account" | "region"));
            if !allowed {
                let usable = if name_allowed {
                    "{home}, {account}, {region} and {name}"
                } else {
                    "{home}"
                };
                self.error(
                    node,
                    field,
                    format!("unknown placeholder {{{placeholder}}}"),
                )
                .hint(format!("placeholders here are {usable}"));
                ok = false;
            }
            rest = &after[close + 1..];
        }
        ok.then(|| text.replace("{home}", &self.home_text))
    }

    /// A path: `{home}` substituted; relative paths are taken from home.
    fn path(&mut self, node: &TNode, field: &str) -> Option<PathBuf> {
        let text = self.string(node, field)?;
        let text = self.expand_home(node, field, &text, false)?;
        if text.is_empty() {
            self.error(node, field, "must not be empty");
            return None;
        }
        Some(self.home.join(text))
    }

    fn config(&mut self, root: &TNode) -> Option<Config> {
        let top = self.table(root, "", TOP_KEYS)?;
        let (account, region, principal) = self.defaults(&top);
        let (catalog_url, catalog_password) = self.catalog(&top);
        let s3_endpoints = self.s3_endpoints(&top);
        let (vault_default, vault_rules) = self.vaults(&top, &s3_endpoints);
        let report_buckets = self.report_buckets(&top, &s3_endpoints);
        let (keyring_path, signing_key_path) = self.keys(&top);
        let serve = self.serve(&top);
        let notifications = self.notifications(&top);
        let self_backup = self.self_backup(&top, account.as_ref(), region.as_ref());
        let tools = self.tools(&top);
        Some(Config::new(ConfigParts {
            home: self.home.clone(),
            account: account?,
            region: region?,
            principal: principal?,
            catalog_url: catalog_url?,
            catalog_password,
            vault_default: vault_default?,
            vault_rules,
            s3_endpoints,
            report_buckets,
            keyring_path: keyring_path?,
            signing_key_path: signing_key_path?,
            serve: serve?,
            notifications,
            self_backup: self_backup?,
            tools,
        }))
    }

    fn defaults(&mut self, top: &Table<'_>) -> (Option<AccountId>, Option<Region>, Option<String>) {
        let table = self.sub_table(top, "defaults", DEFAULTS_KEYS);
        let get = |name: &str| table.as_ref().and_then(|table| table.get(name));
        let field = |name: &str| join_field("defaults", name);
        let account = match get("account") {
            None => AccountId::new(DEFAULT_ACCOUNT).ok(),
            Some(node) => match &node.value {
                TValue::String(text) => match AccountId::new(text) {
                    Ok(account) => Some(account),
                    Err(message) => {
                        self.error(node, &field("account"), message.to_string());
                        None
                    }
                },
                TValue::Integer(_) => {
                    self.error(
                        node,
                        &field("account"),
                        "must be a string, found an integer",
                    )
                    .hint("quote it so leading zeros are kept: account = \"012345678901\"");
                    None
                }
                _ => {
                    self.wrong_type(node, &field("account"), "a string");
                    None
                }
            },
        };
        let region = match get("region") {
            None => Region::new(DEFAULT_REGION).ok(),
            Some(node) => {
                self.string(node, &field("region"))
                    .and_then(|text| match Region::new(&text) {
                        Ok(region) => Some(region),
                        Err(message) => {
                            self.error(node, &field("region"), message.to_string());
                            None
                        }
                    })
            }
        };
        let principal = match get("principal") {
            None => Some(format!(
                "arn:coffer:iam::{}:user/admin",
                account.as_ref().map_or(DEFAULT_ACCOUNT, AccountId::as_str)
            )),
            Some(node) => self
                .string(node, &field("principal"))
                .and_then(|text| match Arn::parse(&text) {
                    Ok(_) => Some(text),
                    Err(err) => {
                        self.error(node, &field("principal"), err.to_string());
                        None
                    }
                }),
        };
        (account, region, principal)
    }

    fn catalog(&mut self, top: &Table<'_>) -> (Option<String>, Option<SecretRef>) {
        let table = self.sub_table(top, "catalog", CATALOG_KEYS);
        let url_node = table.as_ref().and_then(|table| table.get("url"));
        let password_node = table.as_ref().and_then(|table| table.get("password"));
        let mut is_postgres = false;
        let url = match url_node {
            None => self.home_url(DEFAULT_CATALOG_URL),
            Some(node) => self.catalog_url(node, &mut is_postgres),
        };
        let password = password_node.and_then(|node| {
            let password = self.secret(node, "catalog.password", "password")?;
            if url.is_some() && !is_postgres {
                self.error(
                    node,
                    "catalog.password",
                    "password applies only to a postgres:// catalog",
                )
                .hint("remove it, or point url at PostgreSQL");
                return None;
            }
            Some(password)
        });
        (url, password)
    }

    fn home_url(&self, template: &str) -> Option<String> {
        Some(template.replace("{home}", &self.home_text))
    }

    fn catalog_url(&mut self, node: &TNode, is_postgres: &mut bool) -> Option<String> {
        let field = "catalog.url";
        let text = self.string(node, field)?;
        let url = self.expand_home(node, field, &text, false)?;
        if let Some(path) = url.strip_prefix("sqlite://") {
            if !path.starts_with('/') {
                self.error(node, field, format!("{text:?} must hold an absolute file path after sqlite://"))
                    .hint("e.g. \"sqlite://{home}/catalog.db\" or \"sqlite:///var/lib/coffer/catalog.db\"");
                return None;
            }
            return Some(url);
        }
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"));
        let Some(rest) = rest else {
            // Not repeated: an unknown URL form may hold a password.
            self.error(node, field, "must start with sqlite:// or postgres://")
                .hint("e.g. \"sqlite://{home}/catalog.db\" or \"postgres://coffer@db.internal:5432/coffer\"");
            return None;
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if let Some((user_info, _)) = authority.rsplit_once('@') {
            if user_info.contains(':') {
                // Not repeated: it holds the password.
                self.error(node, field, "must not hold a password")
                    .hint("give it by reference: [catalog] password = { env = \"COFFER_CATALOG_PASSWORD\" }");
                return None;
            }
        }
        if rest.contains("password=") {
            self.error(node, field, "must not hold a password").hint(
                "give it by reference: [catalog] password = { env = \"COFFER_CATALOG_PASSWORD\" }",
            );
            return None;
        }
        *is_postgres = true;
        Some(url)
    }

    fn s3_endpoints(&mut self, top: &Table<'_>) -> BTreeMap<String, S3Endpoint> {
        let mut endpoints = BTreeMap::new();
        let Some(node) = top.get("s3_endpoints") else {
            return endpoints;
        };
        let TValue::Table(entries) = &node.value else {
            self.wrong_type(node, "s3_endpoints", "a table of named endpoints");
            return endpoints;
        };
        for (key, value) in entries {
            let path = join_field("s3_endpoints", &key.name);
            if let Some(endpoint) = self.s3_endpoint(key, value, &path) {
                endpoints.insert(key.name.clone(), endpoint);
            }
        }
        endpoints
    }

    fn s3_endpoint(&mut self, key: &TKey, node: &TNode, path: &str) -> Option<S3Endpoint> {
        let n_problems = self.problems.len();
        check_entry_name(self, key, path);
        let table = self.table(node, path, ENDPOINT_KEYS)?;
        let url = self.required_string(&table, "url").and_then(|url| {
            let url_node = table.get("url")?;
            match check_endpoint_url(&url, Syntax::Toml) {
                Ok(()) => Some(url),
                Err((message, hint)) => {
                    self.error(url_node, &table.field("url"), message)
                        .hint(hint);
                    None
                }
            }
        });
        let signing_region = match table.get("region") {
            None => Some(DEFAULT_SIGNING_REGION.to_string()),
            Some(node) => self
                .string(node, &table.field("region"))
                .and_then(|region| {
                    if region.is_empty() {
                        self.error(node, &table.field("region"), "must not be empty")
                            .hint(format!(
                                "leave it out to sign for {DEFAULT_SIGNING_REGION:?}"
                            ));
                        None
                    } else {
                        Some(region)
                    }
                }),
        };
        let access_key_id = table
            .get("access_key_id")
            .and_then(|node| self.secret(node, &table.field("access_key_id"), "access_key_id"));
        let secret_access_key = table.get("secret_access_key").and_then(|node| {
            self.secret(node, &table.field("secret_access_key"), "secret_access_key")
        });
        if table.get("access_key_id").is_some() != table.get("secret_access_key").is_some() {
            self.error(
                node,
                path,
                "access_key_id and secret_access_key go together",
            )
            .hint("give both (by reference), or neither for anonymous access");
        }
        let path_style = match table.get("path_style") {
            None => Some(false),
            Some(node) => self.boolean(node, &table.field("path_style")),
        };
        if self.problems.len() != n_problems {
            return None;
        }
        Some(S3Endpoint {
            name: key.name.clone(),
            url: url?,
            signing_region: signing_region?,
            access_key_id,
            secret_access_key,
            path_style: path_style?,
        })
    }

    /// Checks an `endpoint = "NAME"` reference.
    fn endpoint_ref(
        &mut self,
        node: &TNode,
        field: &str,
        endpoints: &BTreeMap<String, S3Endpoint>,
        declared: &[String],
    ) -> Option<String> {
        let name = self.string(node, field)?;
        if endpoints.contains_key(&name) {
            return Some(name);
        }
        if declared.contains(&name) {
            // Declared with mistakes, already reported.
            return None;
        }
        let hint = match did_you_mean(&name, declared.iter().map(String::as_str)) {
            Some(close) => format!("did you mean {close:?}?"),
            None if declared.is_empty() => format!(
                "declare it as a table: [s3_endpoints.{name}] with url, region and credentials by reference"
            ),
            None => format!("declared endpoints: {}", declared.join(", ")),
        };
        self.error(
            node,
            field,
            format!("endpoint {name:?} is not declared in [s3_endpoints]"),
        )
        .hint(hint);
        None
    }

    /// A storage URL template: `file:///abs/path` or `s3://bucket/prefix`,
    /// with `{home}` substituted and `{name}` kept.
    fn storage_url(
        &mut self,
        node: &TNode,
        field: &str,
        needs_name: bool,
    ) -> Option<(String, Scheme)> {
        let text = self.string(node, field)?;
        let url = self.expand_home(node, field, &text, true)?;
        let scheme = if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                self.error(
                    node,
                    field,
                    format!("{text:?} must hold an absolute path after file://"),
                )
                .hint("e.g. \"file://{home}/vaults/{name}\" or \"file:///srv/coffer/{name}\"");
                return None;
            }
            Scheme::File
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let bucket = rest.split('/').next().unwrap_or_default();
            if bucket.contains('@') || bucket.contains(':') {
                // Not repeated: it may hold credentials.
                self.error(
                    node,
                    field,
                    "an s3:// url names a bucket, never credentials",
                )
                .hint("give credentials by reference in the [s3_endpoints] entry");
                return None;
            }
            if bucket.is_empty() {
                self.error(node, field, format!("{text:?} names no bucket"))
                    .hint("write s3://<bucket>/<prefix>, e.g. \"s3://coffer-vaults/prod/{name}\"");
                return None;
            }
            Scheme::S3
        } else {
            if url.contains('@') {
                self.error(node, field, "must start with file:// or s3://")
                    .hint(
                    "give credentials by reference in an [s3_endpoints] entry, never in the url",
                );
            } else {
                self.error(
                    node,
                    field,
                    format!("{text:?} must start with file:// or s3://"),
                )
                .hint("e.g. \"file://{home}/vaults/{name}\" or \"s3://coffer-vaults/prod/{name}\"");
            }
            return None;
        };
        if needs_name && !url.contains("{name}") {
            self.error(
                node,
                field,
                "must contain {name} so that each vault gets its own location",
            )
            .hint(match scheme {
                Scheme::File => "e.g. \"file://{home}/vaults/{name}\"",
                Scheme::S3 => "e.g. \"s3://coffer-vaults/prod/{name}\"",
            });
            return None;
        }
        Some((url, scheme))
    }

    /// A location (`url`, `cold_url`, `endpoint`) from `[vaults]` or a rule.
    fn location(
        &mut self,
        table: &Table<'_>,
        url: Option<(String, Scheme)>,
        needs_name: bool,
        endpoints: &BTreeMap<String, S3Endpoint>,
        declared: &[String],
    ) -> Option<VaultLocation> {
        let n_problems = self.problems.len();
        let cold = table
            .get("cold_url")
            .and_then(|node| self.storage_url(node, &table.field("cold_url"), needs_name));
        let uses_s3 = url
            .as_ref()
            .is_some_and(|(_, scheme)| *scheme == Scheme::S3)
            || cold
                .as_ref()
                .is_some_and(|(_, scheme)| *scheme == Scheme::S3);
        // Only when both URLs were read can we tell none of them is s3://.
        let urls_read = url.is_some() && (cold.is_some() || table.get("cold_url").is_none());
        let endpoint = match table.get("endpoint") {
            Some(node) => {
                let endpoint =
                    self.endpoint_ref(node, &table.field("endpoint"), endpoints, declared);
                if urls_read && !uses_s3 {
                    self.error(
                        node,
                        &table.field("endpoint"),
                        "endpoint applies only to s3:// locations",
                    )
                    .hint("remove it, or use an s3:// url");
                    return None;
                }
                endpoint
            }
            None => {
                if uses_s3 {
                    let pos = self.pos(&table.node.span);
                    self.push(pos, &table.path, "s3:// locations need an endpoint")
                        .hint(match declared.first() {
                            Some(first) => {
                                format!("add endpoint = {first:?} (an [s3_endpoints] entry)")
                            }
                            None => {
                                "declare an [s3_endpoints.NAME] table and add endpoint = \"NAME\""
                                    .into()
                            }
                        });
                }
                None
            }
        };
        if self.problems.len() != n_problems {
            return None;
        }
        Some(VaultLocation {
            url: url?.0,
            cold_url: cold.map(|(url, _)| url),
            endpoint,
        })
    }

    fn vaults(
        &mut self,
        top: &Table<'_>,
        endpoints: &BTreeMap<String, S3Endpoint>,
    ) -> (Option<VaultLocation>, Vec<VaultRule>) {
        let declared = declared_endpoints(top);
        let Some(table) = self.sub_table(top, "vaults", VAULTS_KEYS) else {
            let url = DEFAULT_VAULT_URL.replace("{home}", &self.home_text);
            let location = VaultLocation {
                url,
                cold_url: None,
                endpoint: None,
            };
            // Mistyped [vaults] was reported; no location then.
            return (top.get("vaults").is_none().then_some(location), Vec::new());
        };
        let url = match table.get("url") {
            Some(node) => self.storage_url(node, &table.field("url"), true),
            None => Some((
                DEFAULT_VAULT_URL.replace("{home}", &self.home_text),
                Scheme::File,
            )),
        };
        let default = self.location(&table, url, true, endpoints, &declared);
        let mut rules = Vec::new();
        if let Some(node) = table.get("rules") {
            let field = table.field("rules");
            match &node.value {
                TValue::Array(items) => {
                    for (idx, item) in items.iter().enumerate() {
                        let path = format!("{field}[{idx}]");
                        if let Some(rule) = self.rule(item, &path, endpoints, &declared) {
                            rules.push(rule);
                        }
                    }
                }
                _ => {
                    self.wrong_type(node, &field, "an array of tables")
                        .hint("write each rule as a [[vaults.rules]] table");
                }
            }
        }
        (default, rules)
    }

    fn rule(
        &mut self,
        node: &TNode,
        path: &str,
        endpoints: &BTreeMap<String, S3Endpoint>,
        declared: &[String],
    ) -> Option<VaultRule> {
        let n_problems = self.problems.len();
        let table = self.table(node, path, RULE_KEYS)?;
        let pattern = self.required_string(&table, "match").and_then(|pattern| {
            let pattern_node = table.get("match")?;
            let ok = !pattern.is_empty()
                && pattern
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'));
            if ok {
                Some(pattern)
            } else {
                self.error(
                    pattern_node,
                    &table.field("match"),
                    format!("pattern {pattern:?} can never match a vault name"),
                )
                .hint("vault names hold letters, digits, '-' and '_'; use * for any characters");
                None
            }
        });
        let needs_name = pattern.as_ref().is_none_or(|pattern| pattern.contains('*'));
        let url = match table.get("url") {
            Some(node) => self.storage_url(node, &table.field("url"), needs_name),
            None => {
                let pos = self.pos(&table.node.span);
                self.push(pos, path, "url is required");
                None
            }
        };
        let location = self.location(&table, url, needs_name, endpoints, declared);
        if self.problems.len() != n_problems {
            return None;
        }
        Some(VaultRule {
            pattern: pattern?,
            location: location?,
        })
    }

    fn report_buckets(
        &mut self,
        top: &Table<'_>,
        endpoints: &BTreeMap<String, S3Endpoint>,
    ) -> BTreeMap<String, BucketLocation> {
        let mut buckets = BTreeMap::new();
        let Some(node) = top.get("report_buckets") else {
            return buckets;
        };
        let TValue::Table(entries) = &node.value else {
            self.wrong_type(node, "report_buckets", "a table of named buckets");
            return buckets;
        };
        let declared = declared_endpoints(top);
        for (key, value) in entries {
            let path = join_field("report_buckets", &key.name);
            if let Some(location) = self.report_bucket(key, value, &path, endpoints, &declared) {
                buckets.insert(key.name.clone(), location);
            }
        }
        buckets
    }

    fn report_bucket(
        &mut self,
        key: &TKey,
        node: &TNode,
        path: &str,
        endpoints: &BTreeMap<String, S3Endpoint>,
        declared: &[String],
    ) -> Option<BucketLocation> {
        let n_problems = self.problems.len();
        let table = self.table(node, path, BUCKET_KEYS)?;
        let folder = table
            .get("path")
            .and_then(|node| self.path(node, &table.field("path")));
        if let Some(path_node) = table.get("path") {
            for other in ["endpoint", "bucket", "object_lock"] {
                if table.get(other).is_some() {
                    self.error(
                        path_node,
                        &table.field("path"),
                        format!(
                            "path (a folder) and {other} (for an S3 bucket) exclude each other"
                        ),
                    )
                    .hint("keep path for a folder, or endpoint and bucket for an S3 bucket");
                }
            }
            if self.problems.len() != n_problems {
                return None;
            }
            return folder.map(BucketLocation::Folder);
        }
        let endpoint = match table.get("endpoint") {
            Some(node) => self.endpoint_ref(node, &table.field("endpoint"), endpoints, declared),
            None => {
                let pos = self.pos(&table.node.span);
                self.push(pos, path, "endpoint is required")
                    .hint("name an [s3_endpoints] entry, or give path = \"/some/folder\"; without a [report_buckets] entry the bucket is the folder {home}/buckets/<name>");
                None
            }
        };
        let bucket = match table.get("bucket") {
            Some(node) => self.string(node, &table.field("bucket")),
            None => Some(key.name.clone()),
        }
        .and_then(|bucket| match check_bucket_name(&bucket) {
            Ok(()) => Some(bucket),
            Err(message) => {
                let field = table.field("bucket");
                match table.get("bucket") {
                    Some(node) => {
                        self.error(node, &field, message);
                    }
                    None => {
                        let pos = self.pos(&key.span);
                        self.push(pos, &field, message)
                            .hint("the bucket is named after the table unless bucket = \"...\" gives its real name");
                    }
                }
                None
            }
        });
        let object_lock = table
            .get("object_lock")
            .and_then(|node| self.object_lock(node, &table.field("object_lock")));
        if self.problems.len() != n_problems {
            return None;
        }
        Some(BucketLocation::S3 {
            endpoint: endpoint?,
            bucket: bucket?,
            object_lock,
        })
    }

    fn object_lock(&mut self, node: &TNode, path: &str) -> Option<ObjectLockDefault> {
        let table = self.table(node, path, OBJECT_LOCK_KEYS)?;
        let mode = self
            .required_string(&table, "mode")
            .and_then(|mode| match mode.as_str() {
                "COMPLIANCE" => Some(LockMode::Compliance),
                "GOVERNANCE" => Some(LockMode::Governance),
                _ => {
                    let mode_node = table.get("mode")?;
                    let hint = match did_you_mean(&mode, ["COMPLIANCE", "GOVERNANCE"]) {
                        Some(close) => format!("did you mean {close:?}?"),
                        None => {
                            "COMPLIANCE: nobody can shorten it; GOVERNANCE: privileged users can"
                                .into()
                        }
                    };
                    self.error(
                        mode_node,
                        &table.field("mode"),
                        format!("mode {mode:?} must be \"COMPLIANCE\" or \"GOVERNANCE\""),
                    )
                    .hint(hint);
                    None
                }
            });
        let days = match table.get("days") {
            Some(days_node) => match days_node.value {
                TValue::Integer(days) if (1..=MAX_OBJECT_LOCK_DAYS).contains(&days) => {
                    u32::try_from(days).ok()
                }
                TValue::Integer(days) => {
                    self.error(
                        days_node,
                        &table.field("days"),
                        format!("{days} days is out of range; use 1-{MAX_OBJECT_LOCK_DAYS}"),
                    );
                    None
                }
                _ => {
                    self.wrong_type(days_node, &table.field("days"), "a whole number of days");
                    None
                }
            },
            None => {
                let pos = self.pos(&table.node.span);
                self.push(pos, path, "days is required");
                None
            }
        };
        Some(ObjectLockDefault {
            mode: mode?,
            days: days?,
        })
    }

    fn keys(&mut self, top: &Table<'_>) -> (Option<PathBuf>, Option<PathBuf>) {
        let table = self.sub_table(top, "keys", KEYS_KEYS);
        let mut read = |name: &str, default: &str| -> Option<PathBuf> {
            match table.as_ref().and_then(|table| table.get(name)) {
                Some(node) => self.path(node, &join_field("keys", name)),
                None => Some(PathBuf::from(default.replace("{home}", &self.home_text))),
            }
        };
        let keyring = read("keyring", DEFAULT_KEYRING);
        let signing_key = read("signing_key", DEFAULT_SIGNING_KEY);
        (keyring, signing_key)
    }
}

impl Check<'_> {
    /// `[tools]`: each directory must exist and hold its family's tools,
    /// executable, so a wrong path is found when the configuration loads,
    /// not at the first backup.
    fn tools(&mut self, top: &Table<'_>) -> ToolDirs {
        let mut dirs = ToolDirs::default();
        let Some(table) = self.sub_table(top, "tools", TOOLS_KEYS) else {
            return dirs;
        };
        let families: [(&str, &[&[&str]], &str, &str); 2] = [
            (
                "postgresql_bin_dir",
                &ToolDirs::POSTGRESQL_TOOLS,
                "postgresql-client",
                "/usr/lib/postgresql/15/bin",
            ),
            (
                "mysql_bin_dir",
                &ToolDirs::MYSQL_TOOLS,
                "mariadb-client",
                "/usr/bin",
            ),
        ];
        for (key, tools, package, example) in families {
            let Some(node) = table.get(key) else {
                continue;
            };
            let field = table.field(key);
            let Some(dir) = self.path(node, &field) else {
                continue;
            };
            if !dir.is_dir() {
                self.error(node, &field, format!("{} is not a directory", dir.display()))
                    .hint(format!("give the directory holding the client tools (Debian's package {package} puts them in {example}), or remove the setting to find them on PATH"));
                continue;
            }
            let missing: Vec<String> = tools
                .iter()
                .filter(|names| !names.iter().any(|name| is_executable(&dir.join(name))))
                .map(|names| names.join(" or "))
                .collect();
            if missing.is_empty() {
                match key {
                    "postgresql_bin_dir" => dirs.postgresql = Some(dir),
                    _ => dirs.mysql = Some(dir),
                }
            } else {
                self.error(
                    node,
                    &field,
                    format!(
                        "{} holds no executable {}",
                        dir.display(),
                        missing.join(", nor ")
                    ),
                )
                .hint(format!("give the directory holding the client tools (Debian's package {package} puts them in {example}), or remove the setting to find them on PATH"));
            }
        }
        dirs
    }

    /// `[self_backup]`: `Some(None)` when absent, `None` when wrong.
    fn self_backup(
        &mut self,
        top: &Table<'_>,
        account: Option<&AccountId>,
        region: Option<&Region>,
    ) -> Option<Option<SelfBackup>> {
        let Some(table) = self.sub_table(top, "self_backup", SELF_BACKUP_KEYS) else {
            return top.get("self_backup").is_none().then_some(None);
        };
        let n_problems = self.problems.len();
        let vault = match table.get("vault") {
            None => {
                let pos = self.pos(&top.get("self_backup").and_then(|n| n.span.clone()));
                self.push(pos, "self_backup.vault", "is missing")
                    .hint("name the vault the catalog is backed up into (one a stack declares), e.g. vault = \"coffer-dr\"; or remove [self_backup]");
                None
            }
            Some(node) => {
                let field = table.field("vault");
                self.string(node, &field)
                    .and_then(
                        |name| match coffer_model::NameKind::BackupVault.check(&name) {
                            Ok(()) => Some(name),
                            Err(e) => {
                                self.error(node, &field, e.to_string());
                                None
                            }
                        },
                    )
            }
        };
        let account = match table.get("account") {
            None => account.cloned(),
            Some(node) => {
                let field = table.field("account");
                self.string(node, &field)
                    .and_then(|text| match AccountId::new(&text) {
                        Ok(account) => Some(account),
                        Err(e) => {
                            self.error(node, &field, e.to_string());
                            None
                        }
                    })
            }
        };
        let region = match table.get("region") {
            None => region.cloned(),
            Some(node) => {
                let field = table.field("region");
                self.string(node, &field)
                    .and_then(|text| match Region::new(&text) {
                        Ok(region) => Some(region),
                        Err(e) => {
                            self.error(node, &field, e.to_string());
                            None
                        }
                    })
            }
        };
        let mut number = |name: &str, max: i64, unit: &str| -> Option<u32> {
            let node = table.get(name)?;
            let field = table.field(name);
            match node.value {
                TValue::Integer(n) if (1..=max).contains(&n) => u32::try_from(n).ok(),
                TValue::Integer(n) => {
                    self.error(
                        node,
                        &field,
                        format!("{n} is out of range; use 1-{max} {unit}"),
                    );
                    None
                }
                _ => {
                    self.wrong_type(node, &field, &format!("a whole number of {unit}"));
                    None
                }
            }
        };
        let every_hours = number("every_hours", 8_760, "hours");
        let delete_after_days = number("delete_after_days", 36_500, "days");
        if self.problems.len() != n_problems {
            return None;
        }
        Some(Some(SelfBackup {
            vault: vault?,
            account: account?,
            region: region?,
            every_hours: every_hours.unwrap_or(SelfBackup::DEFAULT_EVERY_HOURS),
            delete_after_days,
        }))
    }

    fn serve(&mut self, top: &Table<'_>) -> Option<ServeSettings> {
        let mut settings = ServeSettings::default();
        let Some(table) = self.sub_table(top, "serve", SERVE_KEYS) else {
            return top.get("serve").is_none().then_some(settings);
        };
        let n_problems = self.problems.len();
        if let Some(node) = table.get("listen") {
            let field = table.field("listen");
            if let Some(listen) = self.string(node, &field) {
                if listen.parse::<std::net::SocketAddr>().is_err() {
                    self.error(node, &field, format!("{listen:?} is not an address and port"))
                        .hint("write it as IP:PORT, e.g. \"127.0.0.1:9797\" (or \"0.0.0.0:9797\" to listen on every interface)");
                } else {
                    settings.listen = listen;
                }
            }
        }
        let mut number = |name: &str, max: i64, unit: &str, slot: &mut u32| {
            let Some(node) = table.get(name) else {
                return;
            };
            let field = table.field(name);
            match node.value {
                TValue::Integer(n) if (1..=max).contains(&n) => {
                    *slot = u32::try_from(n).unwrap_or(1);
                }
                TValue::Integer(n) => {
                    self.error(
                        node,
                        &field,
                        format!("{n} is out of range; use 1-{max} {unit}"),
                    );
                }
                _ => {
                    self.wrong_type(node, &field, &format!("a whole number of {unit}"));
                }
            }
        };
        number("workers", 64, "workers", &mut settings.workers);
        number(
            "discover_minutes",
            10_080,
            "minutes",
            &mut settings.discover_minutes,
        );
        number(
            "sweep_minutes",
            10_080,
            "minutes",
            &mut settings.sweep_minutes,
        );
        number("check_hours", 8_760, "hours", &mut settings.check_hours);
        number("check_parts", 1_000, "parts", &mut settings.check_parts);
        number(
            "retry_minutes",
            1_440,
            "minutes",
            &mut settings.retry_minutes,
        );
        let certificate = table
            .get("tls_certificate")
            .map(|node| (node, self.path(node, &table.field("tls_certificate"))));
        let key = table
            .get("tls_key")
            .map(|node| (node, self.path(node, &table.field("tls_key"))));
        match (certificate, key) {
            (Some((_, Some(certificate))), Some((_, Some(key)))) => {
                settings.tls = Some(coffer_model::TlsFiles { certificate, key });
            }
            (Some((node, _)), None) => {
                self.error(
                    node,
                    &table.field("tls_certificate"),
                    "is given without tls_key",
                )
                .hint(
                    "give both tls_certificate and tls_key (PEM files), or neither for plain HTTP",
                );
            }
            (None, Some((node, _))) => {
                self.error(
                    node,
                    &table.field("tls_key"),
                    "is given without tls_certificate",
                )
                .hint(
                    "give both tls_certificate and tls_key (PEM files), or neither for plain HTTP",
                );
            }
            _ => {}
        }
        (self.problems.len() == n_problems).then_some(settings)
    }

    fn notifications(&mut self, top: &Table<'_>) -> Vec<NotificationTarget> {
        let mut targets = Vec::new();
        let Some(node) = top.get("notifications") else {
            return targets;
        };
        let TValue::Array(items) = &node.value else {
            self.wrong_type(node, "notifications", "an array of tables")
                .hint("write each target as a [[notifications]] table");
            return targets;
        };
        for (idx, item) in items.iter().enumerate() {
            let path = format!("notifications[{idx}]");
            let Some(table) = self.table(item, &path, NOTIFICATION_KEYS) else {
                continue;
            };
            let n_problems = self.problems.len();
            let url = self.required_string(&table, "url");
            if let (Some(url), Some(url_node)) = (&url, table.get("url")) {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    self.error(
                        url_node,
                        &table.field("url"),
                        format!("{url:?} is not an http:// or https:// URL"),
                    )
                    .hint("give the webhook's URL, e.g. \"https://hooks.example.com/coffer\"");
                } else if let Err((message, hint)) = check_endpoint_url(url, Syntax::Toml) {
                    self.error(url_node, &table.field("url"), message)
                        .hint(hint);
                }
            }
            let mut events: Vec<String> = DEFAULT_NOTIFICATION_EVENTS
                .iter()
                .map(|e| (*e).to_string())
                .collect();
            if let Some(events_node) = table.get("events") {
                let field = table.field("events");
                match &events_node.value {
                    TValue::Array(list) => {
                        events.clear();
                        for (e_idx, event_node) in list.iter().enumerate() {
                            let e_field = format!("{field}[{e_idx}]");
                            let Some(event) = self.string(event_node, &e_field) else {
                                continue;
                            };
                            if NOTIFICATION_EVENTS.contains(&event.as_str()) {
                                events.push(event);
                            } else {
                                let hint =
                                    match did_you_mean(&event, NOTIFICATION_EVENTS.iter().copied())
                                    {
                                        Some(close) => format!("did you mean {close:?}?"),
                                        None => format!(
                                            "events Coffer sends: {}",
                                            NOTIFICATION_EVENTS.join(", ")
                                        ),
                                    };
                                self.error(
                                    event_node,
                                    &e_field,
                                    format!("{event:?} is not an event Coffer sends"),
                                )
                                .hint(hint);
                            }
                        }
                    }
                    _ => {
                        self.wrong_type(events_node, &field, "an array of event names");
                    }
                }
            }
            let sns_topic = match table.get("sns_topic") {
                Some(topic_node) => {
                    let field = table.field("sns_topic");
                    self.string(topic_node, &field).and_then(|topic| {
                        if topic.starts_with("arn:") {
                            Some(topic)
                        } else {
                            self.error(
                                topic_node,
                                &field,
                                format!("{topic:?} is not an SNS topic ARN"),
                            )
                            .hint("give the SNSTopicArn a vault's Notifications names");
                            None
                        }
                    })
                }
                None => None,
            };
            if self.problems.len() == n_problems {
                if let Some(url) = url {
                    targets.push(NotificationTarget {
                        url,
                        events,
                        sns_topic,
                    });
                }
            }
        }
        targets
    }
}

/// Names of every `[s3_endpoints]` table, valid or not, for references.
fn declared_endpoints(top: &Table<'_>) -> Vec<String> {
    match top.get("s3_endpoints").map(|node| &node.value) {
        Some(TValue::Table(entries)) => entries.iter().map(|(key, _)| key.name.clone()).collect(),
        _ => Vec::new(),
    }
}

/// Names of endpoints and buckets: letters, digits, '_', '.' and '-'.
fn check_entry_name(check: &mut Check<'_>, key: &TKey, path: &str) {
    let mut chars = key.name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && key.name.len() <= 63;
    if !ok {
        let pos = check.pos(&key.span);
        check.push(
            pos,
            path,
            format!(
                "name {:?} is not allowed: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit",
                key.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "/home/ops/.coffer";

    const COMPLETE: &str = r#"
[defaults]
account = "210987654321"
region = "eu-west-1"
principal = "arn:coffer:iam::210987654321:role/backup-operator"

[catalog]
url = "postgres://coffer@catalog.db.internal:5432/coffer"
password = { env = "COFFER_CATALOG_PASSWORD" }

[vaults]
url = "file://{home}/vaults/{name}"
cold_url = "file:///mnt/archive/coffer/{name}"

[[vaults.rules]]
match = "payments-*"
url = "s3://coffer-vaults/payments/{name}"
cold_url = "s3://coffer-archive/payments/{name}"
endpoint = "minio-paris"

[[vaults.rules]]
match = "scratch"
url = "file:///srv/scratch-vault"

[s3_endpoints.minio-paris]
url = "https://minio.dc-paris.internal:9000"
access_key_id = { env = "MINIO_PARIS_ACCESS_KEY_ID" }
secret_access_key = { file = "/etc/coffer/secrets/minio-paris.secret" }
path_style = true

[report_buckets.payments-audit]
endpoint = "minio-paris"
object_lock = { mode = "COMPLIANCE", days = 2555 }

[report_buckets.local-audit]
path = "/srv/audit"

[keys]
keyring = "/etc/coffer/keyring"
signing_key = "signing.key"
"#;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str_at(text, Path::new(HOME), "config.toml")
    }

    /// The problems `text` has, as displayed.
    #[track_caller]
    fn problems(text: &str) -> Vec<String> {
        match load(text) {
            Ok(config) => panic!("expected problems, loaded {config:?}"),
            Err(err) => err.problems().iter().map(ToString::to_string).collect(),
        }
    }

    #[track_caller]
    fn check_problems(text: &str, expected: &[&str]) {
        assert_eq!(problems(text), expected);
    }

    /// A directory holding `tools` as executables (and `not_executable`
    /// as a plain file).
    fn tool_dir(tools: &[&str], not_executable: &[&str]) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in tools {
            let path = dir.path().join(name);
            fs::write(&path, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for name in not_executable {
            fs::write(dir.path().join(name), "").unwrap();
        }
        dir
    }

    #[test]
    fn tool_directories_are_read_when_they_hold_their_tools() {
        let pg = tool_dir(&["pg_dump", "pg_restore"], &[]);
        let mysql = tool_dir(&["mysql", "mysqldump"], &[]);
        let config = load(&format!(
            "[tools]\npostgresql_bin_dir = {:?}\nmysql_bin_dir = {:?}\n",
            pg.path().display().to_string(),
            mysql.path().display().to_string()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.tools().postgresql.as_deref(), Some(pg.path()));
        assert_eq!(config.tools().mysql.as_deref(), Some(mysql.path()));
        assert_eq!(load("").unwrap().tools(), &ToolDirs::default());
    }

    #[test]
    fn a_tool_directory_without_its_tools_is_refused_naming_what_is_missing() {
        let pg = tool_dir(&["pg_dump"], &["pg_restore"]);
        let mysql = tool_dir(&["mariadb-dump"], &[]);
        let pg_text = pg.path().display().to_string();
        let mysql_text = mysql.path().display().to_string();
        let hint_pg = "give the directory holding the client tools (Debian's package postgresql-client puts them in /usr/lib/postgresql/15/bin), or remove the setting to find them on PATH";
        let hint_my = "give the directory holding the client tools (Debian's package mariadb-client puts them in /usr/bin), or remove the setting to find them on PATH";
        check_problems(
            &format!("[tools]\npostgresql_bin_dir = {pg_text:?}\nmysql_bin_dir = {mysql_text:?}\n"),
            &[
                &format!("config.toml:2:22 tools.postgresql_bin_dir: {pg_text} holds no executable pg_restore; {hint_pg}"),
                &format!("config.toml:3:17 tools.mysql_bin_dir: {mysql_text} holds no executable mariadb or mysql; {hint_my}"),
            ],
        );
        check_problems(
            "[tools]\nmysql_bin_dir = \"/nonexistent/coffer/bin\"\n",
            &[&format!(
                "config.toml:2:17 tools.mysql_bin_dir: /nonexistent/coffer/bin is not a directory; {hint_my}"
            )],
        );
    }

    #[test]
    fn complete_config_reads_every_setting() {
        let config = load(COMPLETE).unwrap();
        assert_eq!(config.home(), Path::new(HOME));
        assert_eq!(config.default_account().as_str(), "210987654321");
        assert_eq!(config.default_region().as_str(), "eu-west-1");
        assert_eq!(
            config.principal(),
            "arn:coffer:iam::210987654321:role/backup-operator"
        );
        assert_eq!(
            config.catalog_url(),
            "postgres://coffer@catalog.db.internal:5432/coffer"
        );
        assert_eq!(
            config.catalog_password(),
            Some(&SecretRef::Env("COFFER_CATALOG_PASSWORD".into()))
        );
        assert_eq!(
            config.vault_location("210987654321", "eu-west-1", "payments-primary"),
            VaultLocation {
                url: "s3://coffer-vaults/payments/payments-primary".into(),
                cold_url: Some("s3://coffer-archive/payments/payments-primary".into()),
                endpoint: Some("minio-paris".into()),
            }
        );
        assert_eq!(
            config.vault_location("210987654321", "eu-west-1", "scratch"),
            VaultLocation {
                url: "file:///srv/scratch-vault".into(),
                cold_url: None,
                endpoint: None,
            }
        );
        assert_eq!(
            config.vault_location("210987654321", "eu-west-1", "hr"),
            VaultLocation {
                url: "file:///home/ops/.coffer/vaults/hr".into(),
                cold_url: Some("file:///mnt/archive/coffer/hr".into()),
                endpoint: None,
            }
        );
        assert_eq!(config.vault_rules().len(), 2);
        let endpoint = config.s3_endpoint("minio-paris").unwrap();
        assert_eq!(endpoint.signing_region, "us-east-1");
        assert!(endpoint.path_style);
        assert_eq!(
            endpoint.secret_access_key,
            Some(SecretRef::File(
                "/etc/coffer/secrets/minio-paris.secret".into()
            ))
        );
        assert_eq!(
            config.report_bucket("payments-audit"),
            BucketLocation::S3 {
                endpoint: "minio-paris".into(),
                bucket: "payments-audit".into(),
                object_lock: Some(ObjectLockDefault {
                    mode: LockMode::Compliance,
                    days: 2555
                }),
            }
        );
        assert_eq!(
            config.report_bucket("local-audit"),
            BucketLocation::Folder("/srv/audit".into())
        );
        assert_eq!(
            config.report_bucket("other"),
            BucketLocation::Folder("/home/ops/.coffer/buckets/other".into())
        );
        assert_eq!(config.keyring_path(), Path::new("/etc/coffer/keyring"));
        // Relative paths are taken from home.
        assert_eq!(
            config.signing_key_path(),
            Path::new("/home/ops/.coffer/signing.key")
        );
    }

    #[test]
    fn documented_example_loads_to_the_tested_config() {
        let path = format!("{}/../../docs/configuration.md", env!("CARGO_MANIFEST_DIR"));
        let text = fs::read_to_string(path).unwrap();
        let after = &text[text.find("## A complete example").unwrap()..];
        let start = after.find("```toml\n").unwrap() + "```toml\n".len();
        let len = after[start..].find("```").unwrap();
        let documented = load(&after[start..start + len]).unwrap();
        let tested = load(COMPLETE).unwrap();
        // The documented example also spells out two defaults.
        assert_eq!(documented, tested);
    }

    #[test]
    fn empty_file_means_every_default() {
        let config = load("").unwrap();
        assert_eq!(config.default_account().as_str(), "000000000000");
        assert_eq!(config.default_region().as_str(), "local");
        assert_eq!(
            config.principal(),
            "arn:coffer:iam::000000000000:user/admin"
        );
        assert_eq!(
            config.catalog_url(),
            "sqlite:///home/ops/.coffer/catalog.db"
        );
        assert_eq!(config.catalog_password(), None);
        assert_eq!(
            config.vault_location("210987654321", "eu-west-1", "payments-primary"),
            VaultLocation {
                url: "file:///home/ops/.coffer/vaults/210987654321/eu-west-1/payments-primary"
                    .into(),
                cold_url: None,
                endpoint: None,
            }
        );
        assert_eq!(
            config.report_bucket("payments-audit"),
            BucketLocation::Folder("/home/ops/.coffer/buckets/payments-audit".into())
        );
        assert_eq!(
            config.keyring_path(),
            Path::new("/home/ops/.coffer/keyring")
        );
        assert_eq!(
            config.signing_key_path(),
            Path::new("/home/ops/.coffer/signing.key")
        );
    }

    #[test]
    fn sqlite_catalog_needs_an_absolute_path() {
        check_problems(
            "[catalog]\nurl = \"sqlite://catalog.db\"\n",
            &["config.toml:2:7 catalog.url: \"sqlite://catalog.db\" must hold an absolute file path after sqlite://; e.g. \"sqlite://{home}/catalog.db\" or \"sqlite:///var/lib/coffer/catalog.db\""],
        );
    }

    #[test]
    fn default_principal_follows_the_account() {
        let config = load("[defaults]\naccount = \"111122223333\"\n").unwrap();
        assert_eq!(
            config.principal(),
            "arn:coffer:iam::111122223333:user/admin"
        );
    }

    #[test]
    fn first_run_creates_a_commented_file_that_loads_to_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("coffer-home");
        let first = Config::load_or_create(&home).unwrap();
        let text = fs::read_to_string(home.join("config.toml")).unwrap();
        assert!(text
            .lines()
            .all(|line| line.is_empty() || line.starts_with('#')));
        for key in [
            "account",
            "region",
            "principal",
            "url",
            "password",
            "cold_url",
            "endpoint",
            "[[vaults.rules]]",
            "match",
            "[s3_endpoints.",
            "access_key_id",
            "secret_access_key",
            "path_style",
            "[report_buckets.",
            "bucket",
            "object_lock",
            "keyring",
            "signing_key",
        ] {
            assert!(
                text.contains(key),
                "the commented file does not mention {key}"
            );
        }
        assert!(text.contains(&home.display().to_string()));
        assert_eq!(first, load_defaults_at(&home));
        // A second run reads the same file and leaves it alone.
        let second = Config::load_or_create(&home).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read_to_string(home.join("config.toml")).unwrap(), text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&home).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "home must be private to its owner");
        }
    }

    fn load_defaults_at(home: &Path) -> Config {
        Config::from_str_at("", home, "config.toml").unwrap()
    }

    #[test]
    fn uncommented_defaults_load_to_the_same_config() {
        let home = Path::new(HOME);
        let text = default_file_text(home);
        // `# key = value` and `# [section]` lines are the defaults; examples
        // of optional settings are indented and stay commented.
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(key, _)| {
                            key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        }) =>
                {
                    rest
                }
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(uncommented.contains("\n[keys]\n"), "{uncommented}");
        assert!(uncommented.contains("\nkeyring = "), "{uncommented}");
        assert_eq!(load(&uncommented).unwrap(), load_defaults_at(home));
    }

    #[test]
    fn unreadable_home_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "").unwrap();
        let err = Config::load_or_create(&file).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("cannot create the home directory {}", file.display())
        );
    }

    #[test]
    fn unknown_keys_get_did_you_mean() {
        check_problems(
            "[defaults]\nacount = \"111122223333\"\n\n[vault]\nurl = \"file:///v/{name}\"\n",
            &[
                "config.toml:2:1 defaults.acount: unknown key \"acount\"; did you mean \"account\"?",
                "config.toml:4:2 vault: unknown key \"vault\"; did you mean \"vaults\"?",
            ],
        );
        check_problems(
            "[[vaults.rules]]\nmatch = \"a*\"\nurl = \"file:///v/{name}\"\ncold = \"file:///c/{name}\"\n",
            &["config.toml:4:1 vaults.rules[0].cold: unknown key \"cold\"; did you mean \"cold_url\"?"],
        );
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        check_problems(
            "[defaults]\naccount = 111122223333\nregion = 5\n[s3_endpoints.m]\nurl = \"http://m\"\npath_style = \"yes\"\n",
            &[
                "config.toml:2:11 defaults.account: must be a string, found an integer; quote it so leading zeros are kept: account = \"012345678901\"",
                "config.toml:3:10 defaults.region: must be a string, found an integer",
                "config.toml:6:14 s3_endpoints.m.path_style: must be true or false, found a string; write it without quotes: true or false",
            ],
        );
    }

    #[test]
    fn bad_account_and_region_use_the_model_messages() {
        check_problems(
            "[defaults]\naccount = \"1234\"\nregion = \"EU_WEST\"\n",
            &[
                "config.toml:2:11 defaults.account: account ID \"1234\" must be exactly 12 digits (e.g. \"111122223333\")",
                "config.toml:3:10 defaults.region: region \"EU_WEST\" must be lowercase letters, digits and '-', starting with a letter (e.g. \"eu-west-1\", \"dc-paris\")",
            ],
        );
    }

    #[test]
    fn s3_location_without_endpoint_is_an_error() {
        check_problems(
            "[s3_endpoints.minio]\nurl = \"http://127.0.0.1:9000\"\n\n[[vaults.rules]]\nmatch = \"payments-*\"\nurl = \"s3://vaults/{name}\"\n",
            &["config.toml:4:1 vaults.rules[0]: s3:// locations need an endpoint; add endpoint = \"minio\" (an [s3_endpoints] entry)"],
        );
    }

    #[test]
    fn endpoint_must_name_a_declared_endpoint() {
        check_problems(
            "[vaults]\nurl = \"s3://vaults/{name}\"\nendpoint = \"minoi\"\n\n[s3_endpoints.minio]\nurl = \"http://127.0.0.1:9000\"\n",
            &["config.toml:3:12 vaults.endpoint: endpoint \"minoi\" is not declared in [s3_endpoints]; did you mean \"minio\"?"],
        );
        check_problems(
            "[report_buckets.audit-files]\nendpoint = \"minio\"\n",
            &["config.toml:2:12 report_buckets.audit-files.endpoint: endpoint \"minio\" is not declared in [s3_endpoints]; declare it as a table: [s3_endpoints.minio] with url, region and credentials by reference"],
        );
    }

    #[test]
    fn endpoint_without_s3_location_is_an_error() {
        check_problems(
            "[s3_endpoints.minio]\nurl = \"http://m:9000\"\n[vaults]\nendpoint = \"minio\"\n",
            &["config.toml:4:12 vaults.endpoint: endpoint applies only to s3:// locations; remove it, or use an s3:// url"],
        );
    }

    #[test]
    fn plain_string_secrets_are_refused_without_repeating_them() {
        let text = "[s3_endpoints.minio]\nurl = \"http://m:9000\"\naccess_key_id = \"AKIAhunter2\"\nsecret_access_key = { env = \"hunter2 secret\" }\n\n[catalog]\nurl = \"postgres://coffer:hunter2@db/coffer\"\n";
        let found = problems(text);
        assert_eq!(
            found[2],
            "config.toml:7:7 catalog.url: must not hold a password; give it by reference: [catalog] password = { env = \"COFFER_CATALOG_PASSWORD\" }"
        );
        assert_eq!(
            found[0],
            "config.toml:3:17 s3_endpoints.minio.access_key_id: secrets are given only by reference, never written in the configuration; write access_key_id = { env = \"VARIABLE\" } (an environment variable of the coffer process) or access_key_id = { file = \"/path/to/file\" } (a file holding only the secret)"
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        for problem in &found {
            assert!(!problem.contains("hunter2"), "{problem}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
[defaults]
region = "Paris"

[catalog]
url = "mysql://db/coffer"

[vaults]
url = "file://{home}/vaults"

[[vaults.rules]]
match = "pay*"
url = "s3://{bucket}/{name}"

[report_buckets.audit]
endpoint = "x"
path = "/srv/audit"
object_lock = { mode = "COMPLIANT", days = 0 }

[keys]
keyring = "{home}/{name}"
"#;
        check_problems(
            text,
            &[
                "config.toml:3:10 defaults.region: region \"Paris\" must be lowercase letters, digits and '-', starting with a letter (e.g. \"eu-west-1\", \"dc-paris\")",
                "config.toml:6:7 catalog.url: must start with sqlite:// or postgres://; e.g. \"sqlite://{home}/catalog.db\" or \"postgres://coffer@db.internal:5432/coffer\"",
                "config.toml:9:7 vaults.url: must contain {name} so that each vault gets its own location; e.g. \"file://{home}/vaults/{name}\"",
                "config.toml:13:7 vaults.rules[0].url: unknown placeholder {bucket}; placeholders here are {home}, {account}, {region} and {name}",
                "config.toml:17:8 report_buckets.audit.path: path (a folder) and endpoint (for an S3 bucket) exclude each other; keep path for a folder, or endpoint and bucket for an S3 bucket",
                "config.toml:17:8 report_buckets.audit.path: path (a folder) and object_lock (for an S3 bucket) exclude each other; keep path for a folder, or endpoint and bucket for an S3 bucket",
                "config.toml:21:11 keys.keyring: unknown placeholder {name}; placeholders here are {home}",
            ],
        );
    }

    #[test]
    fn object_lock_and_bucket_names_are_checked() {
        check_problems(
            "[s3_endpoints.m]\nurl = \"http://m\"\n[report_buckets.Audit_Files]\nendpoint = \"m\"\nobject_lock = { mode = \"COMPLIANT\", days = 0 }\n",
            &[
                "config.toml:3:17 report_buckets.Audit_Files.bucket: bucket name \"Audit_Files\" is not a valid S3 bucket name: use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit; the bucket is named after the table unless bucket = \"...\" gives its real name",
                "config.toml:5:24 report_buckets.Audit_Files.object_lock.mode: mode \"COMPLIANT\" must be \"COMPLIANCE\" or \"GOVERNANCE\"; did you mean \"COMPLIANCE\"?",
                "config.toml:5:44 report_buckets.Audit_Files.object_lock.days: 0 days is out of range; use 1-36500",
            ],
        );
    }

    #[test]
    fn rule_patterns_and_names() {
        check_problems(
            "[[vaults.rules]]\nmatch = \"pay/*\"\nurl = \"file:///v/{name}\"\n[[vaults.rules]]\nmatch = \"pay-*\"\nurl = \"file:///v/shared\"\n",
            &[
                "config.toml:2:9 vaults.rules[0].match: pattern \"pay/*\" can never match a vault name; vault names hold letters, digits, '-' and '_'; use * for any characters",
                "config.toml:6:7 vaults.rules[1].url: must contain {name} so that each vault gets its own location; e.g. \"file://{home}/vaults/{name}\"",
            ],
        );
        // An exact vault name may have a location of its own without {name}.
        let config =
            load("[[vaults.rules]]\nmatch = \"legacy\"\nurl = \"file:///srv/legacy-vault\"\n")
                .unwrap();
        assert_eq!(
            config
                .vault_location("210987654321", "eu-west-1", "legacy")
                .url,
            "file:///srv/legacy-vault"
        );
    }

    #[test]
    fn first_matching_rule_wins() {
        let text = "[[vaults.rules]]\nmatch = \"pay-eu-*\"\nurl = \"file:///eu/{name}\"\n[[vaults.rules]]\nmatch = \"pay-*\"\nurl = \"file:///any/{name}\"\n";
        let config = load(text).unwrap();
        assert_eq!(
            config
                .vault_location("210987654321", "eu-west-1", "pay-eu-1")
                .url,
            "file:///eu/pay-eu-1"
        );
        assert_eq!(
            config
                .vault_location("210987654321", "eu-west-1", "pay-us-1")
                .url,
            "file:///any/pay-us-1"
        );
        assert_eq!(
            config.vault_location("210987654321", "eu-west-1", "hr").url,
            "file:///home/ops/.coffer/vaults/210987654321/eu-west-1/hr"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        check_problems(
            "[defaults]\naccount = \"111122223333\n",
            &["config.toml:2:24 TOML syntax error: invalid basic string"],
        );
    }

    #[test]
    fn report_bucket_folder_stays_under_home() {
        let config = load("").unwrap();
        assert_eq!(
            config.report_bucket("../../etc"),
            BucketLocation::Folder("/home/ops/.coffer/buckets/.._.._etc".into())
        );
        assert_eq!(
            config.report_bucket(".."),
            BucketLocation::Folder("/home/ops/.coffer/buckets/_..".into())
        );
    }

    #[test]
    fn invalid_error_displays_one_problem_per_line() {
        let err = load("[defaults]\naccount = \"1\"\nregion = \"X\"\n").unwrap_err();
        let text = err.to_string();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.starts_with("config.toml:2:11 defaults.account: "),
            "{text}"
        );
    }
}

#[cfg(test)]
mod serve_tests {
    use super::*;

    const HOME: &str = "/srv/coffer";

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str_at(text, Path::new(HOME), "config.toml")
    }

    #[test]
    fn serve_settings_and_notification_targets_are_read() {
        let config = load(
            r#"
[serve]
listen = "0.0.0.0:9100"
workers = 4
retry_minutes = 2

[[notifications]]
url = "https://hooks.example.com/coffer"

[[notifications]]
url = "https://hooks.example.com/alerts"
sns_topic = "arn:aws:sns:eu-west-1:111122223333:backup-alerts"
events = ["BACKUP_JOB_SUCCESSFUL"]
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let serve = config.serve();
        assert_eq!(
            (serve.listen.as_str(), serve.workers, serve.retry_minutes),
            ("0.0.0.0:9100", 4, 2)
        );
        assert_eq!(serve.sweep_minutes, ServeSettings::default().sweep_minutes);
        let targets = config.notifications();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].events, DEFAULT_NOTIFICATION_EVENTS);
        assert_eq!(targets[0].sns_topic, None);
        assert_eq!(targets[1].events, vec!["BACKUP_JOB_SUCCESSFUL".to_string()]);
    }

    #[test]
    fn tls_needs_both_the_certificate_and_the_key() {
        let config =
            load("[serve]\ntls_certificate = \"{home}/tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.serve().tls,
            Some(coffer_model::TlsFiles {
                certificate: "/srv/coffer/tls/cert.pem".into(),
                key: "/srv/coffer/tls/key.pem".into(),
            })
        );
        assert_eq!(load("").unwrap().serve().tls, None);
        let Err(error) = load("[serve]\ntls_certificate = \"cert.pem\"\n") else {
            panic!("a certificate without its key was accepted");
        };
        let text = error.to_string();
        assert!(
            text.contains("serve.tls_certificate: is given without tls_key"),
            "{text}"
        );
    }

    #[test]
    fn bad_serve_settings_and_targets_say_what_to_write() {
        let Err(error) = load(
            r#"
[serve]
listen = "localhost"
workers = 0

[[notifications]]
url = "ftp://hooks.example.com"
events = ["BACKUP_JOB_FAILD"]
sns_topic = "backup-alerts"
"#,
        ) else {
            panic!("bad settings were accepted");
        };
        let text: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
        let all = text.join("\n");
        for needle in [
            "serve.listen: \"localhost\" is not an address and port",
            "write it as IP:PORT",
            "serve.workers: 0 is out of range; use 1-64 workers",
            "\"ftp://hooks.example.com\" is not an http:// or https:// URL",
            "\"BACKUP_JOB_FAILD\" is not an event Coffer sends",
            "did you mean \"BACKUP_JOB_FAILED\"?",
            "\"backup-alerts\" is not an SNS topic ARN",
        ] {
            assert!(all.contains(needle), "{needle:?} missing from:\n{all}");
        }
    }

    #[test]
    fn self_backup_names_its_vault_and_defaults_to_daily_in_the_default_account() {
        assert_eq!(load("").unwrap().self_backup(), None);
        let config =
            load("[defaults]\naccount = \"210987654321\"\n[self_backup]\nvault = \"coffer-dr\"\n")
                .unwrap();
        let backup = config.self_backup().unwrap();
        assert_eq!(
            (
                backup.vault.as_str(),
                backup.account.as_str(),
                backup.every_hours,
                backup.delete_after_days
            ),
            ("coffer-dr", "210987654321", 24, None)
        );
        let config = load("[self_backup]\nvault = \"dr\"\nregion = \"eu-west-1\"\nevery_hours = 6\ndelete_after_days = 35\n").unwrap();
        let backup = config.self_backup().unwrap();
        assert_eq!(
            (
                backup.region.as_str(),
                backup.every_hours,
                backup.delete_after_days
            ),
            ("eu-west-1", 6, Some(35))
        );
    }

    #[test]
    fn a_bad_self_backup_says_what_to_write() {
        let Err(error) = load("[self_backup]\nevery_hours = 0\nvaults = \"dr\"\n") else {
            panic!("bad settings were accepted");
        };
        let all: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
        let all = all.join("\n");
        for needle in [
            "self_backup.vault: is missing",
            "name the vault the catalog is backed up into",
            "self_backup.every_hours: 0 is out of range; use 1-8760 hours",
            "did you mean \"vault\"",
        ] {
            assert!(all.contains(needle), "{needle:?} missing from:\n{all}");
        }
        let Err(error) = load("[self_backup]\nvault = \"a b\"\n") else {
            panic!("a bad name was accepted");
        };
        assert!(
            error.problems()[0]
                .to_string()
                .contains("self_backup.vault"),
            "{:?}",
            error.problems()
        );
    }
}
