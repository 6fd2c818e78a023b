//! The inventory: where resources live. A YAML file lists PostgreSQL and
//! MySQL/MariaDB servers, directories, SQLite files, S3-compatible endpoints
//! and buckets, each with account, region and tags; reading it yields the
//! model's `Resource`, `Server` and `S3Endpoint` values, and every problem at
//! its line and column.
//!
//! Secrets appear only as references (`{env: NAME}` or `{file: /path}`),
//! never as values (invariant 5), and no message repeats a value that could
//! be one. The format is documented for users in `docs/inventory.md`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use coffer_model::{
    did_you_mean, glob_match, AccountId, Region, Resource, ResourceType, S3Endpoint, SecretRef,
    Server, Severity, Tags,
};

use crate::checks::{check_bucket_name, check_endpoint_url, check_env_name, Syntax};
use crate::diag::Diagnostics;
use crate::node::{Node, Pos, Value};
use crate::read::{Fields, Reader};
use crate::set::{Declared, LoadOptions, Origin, PolicySet};

/// Top-level keys of an inventory file.
const SECTIONS: &[&str] = &[
    "defaults",
    "postgres",
    "mysql",
    "filesystems",
    "sqlite",
    "s3_endpoints",
    "buckets",
];
const DEFAULTS_FIELDS: &[&str] = &["account", "region", "tags"];
const SERVER_FIELDS: &[&str] = &[
    "name",
    "host",
    "port",
    "user",
    "password",
    "account",
    "region",
    "tags",
    "databases",
    "exclude_databases",
    "database_tags",
];
const FILESYSTEM_FIELDS: &[&str] = &["name", "path", "exclude", "account", "region", "tags"];
const SQLITE_FIELDS: &[&str] = &["name", "path", "account", "region", "tags"];
const ENDPOINT_FIELDS: &[&str] = &[
    "name",
    "url",
    "region",
    "access_key_id",
    "secret_access_key",
    "path_style",
];
const BUCKET_FIELDS: &[&str] = &[
    "name", "endpoint", "bucket", "prefix", "versions", "account", "region", "tags",
];
const SECRET_FIELDS: &[&str] = &["env", "file"];

/// The signing region of an S3 endpoint that does not name one (MinIO's and
/// most S3-compatible servers' default).
const DEFAULT_SIGNING_REGION: &str = "us-east-1";

/// Whether a document is an inventory rather than a CloudFormation template:
/// a mapping with at least one inventory section and no `Resources`.
pub(crate) fn looks_like_inventory(root: &Node) -> bool {
    let Some(entries) = root.as_map() else {
        return false;
    };
    entries.iter().all(|(key, _)| key.name != "Resources")
        && entries
            .iter()
            .any(|(key, _)| SECTIONS.contains(&key.name.as_str()))
}

/// What the inventory files of a set share while they are read. A bucket
/// names its endpoint, which any inventory file of the set may declare: the
/// reference is resolved once every file is read (`resolve_buckets`).
#[derive(Debug, Default)]
pub(crate) struct Inventories {
    /// Endpoints by name, from every file read so far; `None` when declared
    /// with errors (already reported, so buckets on it are skipped without
    /// a second error).
    endpoints: BTreeMap<String, Option<S3Endpoint>>,
    /// Buckets whose endpoint is yet to be looked up.
    buckets: Vec<PendingBucket>,
}

/// A bucket read, waiting for its endpoint.
#[derive(Debug)]
struct PendingBucket {
    file: String,
    /// Subject of the `endpoint` field (`buckets[0].endpoint`).
    src: String,
    endpoint: String,
    endpoint_pos: Pos,
    /// What makes the resource once the endpoint is known; `None` when the
    /// entry has other errors (reported).
    ready: Option<ReadyBucket>,
}

#[derive(Debug)]
struct ReadyBucket {
    name: String,
    scope: Scope,
    bucket: String,
    prefix: Option<String>,
    /// `versions: all`: every version and delete marker is backed up.
    all_versions: bool,
    origin: Origin,
}

/// Reads one inventory file into `set`, reporting every problem to `diags`.
/// An entry with any error adds nothing to `set`; the other entries still do.
///
/// Names must be unique per kind across the whole file set: entries already
/// in `set` or in `shared` (from files read earlier) count. Buckets wait in
/// `shared` for `resolve_buckets`.
pub(crate) fn read_inventory(
    file: &str,
    root: &Node,
    options: &LoadOptions,
    diags: &mut Diagnostics,
    set: &mut PolicySet,
    shared: &mut Inventories,
) {
    let mut reader = Reader::new(file, "", root.pos, diags);
    let Some(top) = reader.fields(root, "", "", SECTIONS) else {
        return;
    };
    let base = Scope {
        account: options.account.clone(),
        region: options.region.clone(),
        tags: Tags::new(),
    };
    let defaults = match top.get("defaults") {
        Some(node) if node.value != Value::Null => read_defaults(&mut reader, node, &base),
        _ => base,
    };
    let mut cx = Context::new(file, defaults, set, shared);
    for engine in [ResourceType::PostgreSQL, ResourceType::MySQL] {
        let kind = Kind::of_engine(engine);
        for (idx, node) in section_items(&mut reader, &top, kind)
            .into_iter()
            .enumerate()
        {
            read_server(&mut reader, &mut cx, set, node, idx, engine);
        }
    }
    for (idx, node) in section_items(&mut reader, &top, Kind::FileSystems)
        .into_iter()
        .enumerate()
    {
        read_filesystem(&mut reader, &mut cx, set, node, idx);
    }
    for (idx, node) in section_items(&mut reader, &top, Kind::Sqlite)
        .into_iter()
        .enumerate()
    {
        read_sqlite(&mut reader, &mut cx, set, node, idx);
    }
    for (idx, node) in section_items(&mut reader, &top, Kind::S3Endpoints)
        .into_iter()
        .enumerate()
    {
        read_endpoint(&mut reader, &mut cx, set, node, idx);
    }
    for (idx, node) in section_items(&mut reader, &top, Kind::Buckets)
        .into_iter()
        .enumerate()
    {
        read_bucket(&mut reader, &mut cx, node, idx);
    }
}

/// Resolves the buckets of every inventory file read to their endpoints,
/// declared in any of them, and adds them to `set`.
pub(crate) fn resolve_buckets(shared: Inventories, diags: &mut Diagnostics, set: &mut PolicySet) {
    let Inventories { endpoints, buckets } = shared;
    for pending in buckets {
        let endpoint = match endpoints.get(&pending.endpoint) {
            Some(Some(endpoint)) => endpoint,
            // Declared with errors, reported there.
            Some(None) => continue,
            None => {
                let hint = match did_you_mean(&pending.endpoint, endpoints.keys().map(String::as_str)) {
                    Some(close) => format!("did you mean {close:?}?"),
                    None if endpoints.is_empty() => {
                        "declare it under s3_endpoints, in this file or another inventory file of the set".into()
                    }
                    None => format!(
                        "declared endpoints: {}",
                        endpoints.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                diags
                    .push(
                        Severity::Error,
                        &pending.file,
                        Some(pending.endpoint_pos),
                        pending.src,
                        format!(
                            "endpoint {:?} is not declared in s3_endpoints",
                            pending.endpoint
                        ),
                    )
                    .hint(hint);
                continue;
            }
        };
        let Some(ready) = pending.ready else {
            continue;
        };
        let mut connection = BTreeMap::from([
            ("endpoint".to_string(), endpoint.name.clone()),
            ("url".to_string(), endpoint.url.clone()),
            (
                "signing_region".to_string(),
                endpoint.signing_region.clone(),
            ),
            ("path_style".to_string(), endpoint.path_style.to_string()),
            ("bucket".to_string(), ready.bucket),
        ]);
        if let Some(prefix) = ready.prefix.filter(|prefix| !prefix.is_empty()) {
            connection.insert("prefix".into(), prefix);
        }
        if ready.all_versions {
            connection.insert("versions".into(), "all".into());
        }
        if let Some(key) = &endpoint.access_key_id {
            connection.insert("access_key_id".into(), key.to_string());
        }
        if let Some(key) = &endpoint.secret_access_key {
            connection.insert("secret_access_key".into(), key.to_string());
        }
        push_resource(
            set,
            ResourceType::S3,
            ready.name,
            ready.scope,
            connection,
            ready.origin,
        );
    }
}

/// The kinds of inventory entries; names are unique within a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Postgres,
    Mysql,
    FileSystems,
    Sqlite,
    S3Endpoints,
    Buckets,
}

impl Kind {
    fn of_engine(engine: ResourceType) -> Kind {
        if engine == ResourceType::MySQL {
            Kind::Mysql
        } else {
            Kind::Postgres
        }
    }

    fn section(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::FileSystems => "filesystems",
            Kind::Sqlite => "sqlite",
            Kind::S3Endpoints => "s3_endpoints",
            Kind::Buckets => "buckets",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL servers",
            Kind::Mysql => "MySQL servers",
            Kind::FileSystems => "filesystems",
            Kind::Sqlite => "SQLite files",
            Kind::S3Endpoints => "S3 endpoints",
            Kind::Buckets => "buckets",
        }
    }
}

/// Account, region and tags an entry inherits.
#[derive(Clone, Debug)]
struct Scope {
    account: AccountId,
    region: Region,
    tags: Tags,
}

/// Where a name was first declared.
struct FirstUse {
    file: String,
    pos: Pos,
    /// The entry's subject (`postgres[0]`) when declared in the same file.
    subject: Option<String>,
}

/// State shared by the entries of one file.
struct Context<'f> {
    file: &'f str,
    defaults: Scope,
    names: HashMap<(Kind, String), FirstUse>,
    shared: &'f mut Inventories,
}

impl<'f> Context<'f> {
    /// Starts from what earlier files declared, so names stay unique across
    /// the file set.
    fn new(file: &'f str, defaults: Scope, set: &PolicySet, shared: &'f mut Inventories) -> Self {
        let mut names = HashMap::new();
        let mut remember = |kind: Kind, name: &str, origin: &Origin| {
            names.entry((kind, name.to_string())).or_insert(FirstUse {
                file: origin.file.clone(),
                pos: origin.pos,
                subject: None,
            });
        };
        for server in &set.servers {
            remember(
                Kind::of_engine(server.value.engine),
                &server.value.name,
                &server.origin,
            );
        }
        for resource in &set.resources {
            let kind = match resource.value.resource_type {
                ResourceType::FileSystem => Kind::FileSystems,
                ResourceType::SQLite => Kind::Sqlite,
                ResourceType::S3 => Kind::Buckets,
                // Databases are covered by their server's name.
                ResourceType::PostgreSQL | ResourceType::MySQL => continue,
            };
            remember(kind, &resource.value.resource_name, &resource.origin);
        }
        for endpoint in &set.endpoints {
            remember(Kind::S3Endpoints, &endpoint.value.name, &endpoint.origin);
        }
        for pending in &shared.buckets {
            if let Some(ready) = &pending.ready {
                remember(Kind::Buckets, &ready.name, &ready.origin);
            }
        }
        Self {
            file,
            defaults,
            names,
            shared,
        }
    }

    fn origin(&self, logical_id: &str, pos: Pos) -> Origin {
        Origin {
            file: self.file.to_string(),
            logical_id: logical_id.to_string(),
            pos,
            fields: BTreeMap::new(),
        }
    }
}

fn section_items<'n>(reader: &mut Reader<'_>, top: &Fields<'n>, kind: Kind) -> Vec<&'n Node> {
    let section = kind.section();
    match top.get(section) {
        // An empty section (every entry commented out) is no mistake.
        None => Vec::new(),
        Some(node) if node.value == Value::Null => Vec::new(),
        Some(node) => reader.list(node, section, section).unwrap_or_default(),
    }
}

fn read_defaults(reader: &mut Reader<'_>, node: &Node, base: &Scope) -> Scope {
    match reader.fields(node, "defaults", "defaults", DEFAULTS_FIELDS) {
        Some(fields) => read_scope(reader, &fields, base),
        None => base.clone(),
    }
}

/// Account, region and tags of an entry: its own where given, else `base`'s;
/// its tags add to (and override) `base`'s.
fn read_scope(reader: &mut Reader<'_>, fields: &Fields<'_>, base: &Scope) -> Scope {
    let mut scope = base.clone();
    if let Some(node) = fields.get("account") {
        let src = fields.src("account");
        if let Some(text) = reader.string(node, &src, &src) {
            match AccountId::new(&text) {
                Ok(account) => scope.account = account,
                Err(message) => {
                    reader.error(node.pos, &src, message.to_string());
                }
            }
        }
    }
    if let Some(node) = fields.get("region") {
        let src = fields.src("region");
        if let Some(text) = reader.string(node, &src, &src) {
            match Region::new(&text) {
                Ok(region) => scope.region = region,
                Err(message) => {
                    reader.error(node.pos, &src, message.to_string());
                }
            }
        }
    }
    if let Some(node) = fields.get("tags") {
        let src = fields.src("tags");
        let tags = reader.tags(node, &src, &src);
        scope.tags.extend(tags);
    }
    scope
}

/// Checks an entry name: it goes into ARNs, so it is kept to a safe set.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "name {name:?} is not allowed: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
        ))
    }
}

/// Reads and checks `name`, and claims it for `kind`.
fn read_name(
    reader: &mut Reader<'_>,
    cx: &mut Context<'_>,
    fields: &Fields<'_>,
    kind: Kind,
    subject: &str,
) -> Option<String> {
    let node = reader.required(fields, "name")?;
    let src = fields.src("name");
    let name = reader.string(node, &src, &src)?;
    if let Err(message) = check_name(&name) {
        reader
            .error(node.pos, &src, message)
            .hint("the name is part of the resource's ARN");
        return None;
    }
    if let Some(first) = cx.names.get(&(kind, name.clone())) {
        let place = match &first.subject {
            Some(subject) => format!("{subject} (line {})", first.pos.line),
            None => format!("{}:{}", first.file, first.pos.line),
        };
        reader
            .error(
                node.pos,
                &src,
                format!(
                    "duplicate name {name:?}: {place} already uses it; names must be unique among {}",
                    kind.plural()
                ),
            )
            .hint("rename one of them (the name is part of the ARN)");
        return None;
    }
    cx.names.insert(
        (kind, name.clone()),
        FirstUse {
            file: cx.file.to_string(),
            pos: node.pos,
            subject: Some(subject.to_string()),
        },
    );
    Some(name)
}

/// A required absolute path.
fn read_path(reader: &mut Reader<'_>, fields: &Fields<'_>, name: &str) -> Option<String> {
    let node = reader.required(fields, name)?;
    let src = fields.src(name);
    let path = reader.string(node, &src, &src)?;
    if !Path::new(&path).is_absolute() {
        reader
            .error(
                node.pos,
                &src,
                format!("{name} {path:?} must be absolute (start with \"/\")"),
            )
            .hint("Coffer may run from any directory, so relative paths would be ambiguous");
        return None;
    }
    Some(path)
}

/// An optional list of non-empty strings.
fn read_patterns(reader: &mut Reader<'_>, fields: &Fields<'_>, name: &str) -> Vec<String> {
    let Some(node) = fields.get(name) else {
        return Vec::new();
    };
    let src = fields.src(name);
    let Some(items) = reader.list(node, &src, &src) else {
        return Vec::new();
    };
    let mut patterns = Vec::new();
    for (idx, item) in items.into_iter().enumerate() {
        let item_src = format!("{src}[{idx}]");
        let Some(pattern) = reader.string(item, &item_src, &item_src) else {
            continue;
        };
        if pattern.is_empty() || pattern.contains('\n') {
            reader.error(item.pos, &item_src, "a pattern must be one non-empty line");
            continue;
        }
        patterns.push(pattern);
    }
    patterns
}

/// A secret given by reference: `{env: NAME}` or `{file: /path}`. Messages
/// never repeat what was written, since it may be the secret itself.
fn read_secret(reader: &mut Reader<'_>, node: &Node, src: &str, field: &str) -> Option<SecretRef> {
    let forms = format!(
        "write `{field}: {{env: VARIABLE}}` (an environment variable of the coffer process) or `{field}: {{file: /path/to/file}}` (a file holding only the secret)"
    );
    match &node.value {
        Value::Map(_) => {}
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            reader
                .error(
                    node.pos,
                    src,
                    "secrets are given only by reference, never written in the inventory",
                )
                .hint(forms);
            return None;
        }
        _ => {
            reader
                .error(
                    node.pos,
                    src,
                    format!("must be a secret reference, found {}", node.kind_name()),
                )
                .hint(forms);
            return None;
        }
    }
    let fields = reader.fields(node, src, src, SECRET_FIELDS)?;
    match (fields.get("env"), fields.get("file")) {
        (Some(_), Some(_)) => {
            reader
                .error(node.pos, src, "give either env or file, not both")
                .hint(forms);
            None
        }
        (None, None) => {
            reader
                .error(node.pos, src, "a secret reference names env or file")
                .hint(forms);
            None
        }
        (Some(env), None) => {
            let env_src = fields.src("env");
            let name = reader.string(env, &env_src, &env_src)?;
            if let Err(message) = check_env_name(&name) {
                reader.error(env.pos, &env_src, message);
                return None;
            }
            Some(SecretRef::Env(name))
        }
        (None, Some(file)) => {
            let file_src = fields.src("file");
            let path = reader.string(file, &file_src, &file_src)?;
            if !Path::new(&path).is_absolute() {
                reader.error(
                    file.pos,
                    &file_src,
                    "must be an absolute path (start with \"/\")",
                );
                return None;
            }
            Some(SecretRef::File(path))
        }
    }
}

fn read_host(reader: &mut Reader<'_>, node: &Node, src: &str) -> Option<String> {
    let host = reader.string(node, src, src)?;
    if host.contains("://") || host.contains('@') || host.contains('/') {
        // Not repeated: a connection URL may hold a password.
        reader
            .error(node.pos, src, "must be a host name or IP address, not a URL")
            .hint("give the user in `user`, the port in `port` and the password by reference in `password`");
        return None;
    }
    if host.is_empty() {
        reader.error(node.pos, src, "must not be empty");
        return None;
    }
    Some(host)
}

fn read_port(reader: &mut Reader<'_>, node: &Node, src: &str) -> Option<u16> {
    let port = reader.uint(node, src, src)?;
    match u16::try_from(port) {
        Ok(port) if port != 0 => Some(port),
        _ => {
            reader.error(
                node.pos,
                src,
                format!("port {port} is out of range; use 1-65535"),
            );
            None
        }
    }
}

/// Names of databases listed under `databases`, with their positions.
fn read_databases(reader: &mut Reader<'_>, fields: &Fields<'_>) -> Vec<(String, Pos)> {
    let Some(node) = fields.get("databases") else {
        return Vec::new();
    };
    let src = fields.src("databases");
    let Some(items) = reader.list(node, &src, &src) else {
        return Vec::new();
    };
    let mut databases: Vec<(String, Pos)> = Vec::new();
    // Where each name was first listed, so a server listing many databases
    // finds a repeated one without comparing it with every earlier one.
    let mut first_at: HashMap<String, Pos> = HashMap::new();
    for (idx, item) in items.into_iter().enumerate() {
        let item_src = format!("{src}[{idx}]");
        let Some(name) = reader.string(item, &item_src, &item_src) else {
            continue;
        };
        if let Err(message) = check_name(&name) {
            reader
                .error(item.pos, &item_src, message)
                .hint("the database name is part of its ARN");
            continue;
        }
        if let Some(first) = first_at.get(&name) {
            reader.error(
                item.pos,
                &item_src,
                format!(
                    "database {name:?} is listed twice (first at line {})",
                    first.line
                ),
            );
            continue;
        }
        first_at.insert(name.clone(), item.pos);
        databases.push((name, item.pos));
    }
    databases
}

fn read_database_tags(reader: &mut Reader<'_>, fields: &Fields<'_>) -> BTreeMap<String, Tags> {
    let mut out = BTreeMap::new();
    let Some(node) = fields.get("database_tags") else {
        return out;
    };
    let src = fields.src("database_tags");
    reader.register(&src, &src, node.pos);
    let Some(entries) = node.as_map() else {
        reader
            .error(
                node.pos,
                &src,
                format!(
                    "must be a mapping of database name to tags, found {}",
                    node.kind_name()
                ),
            )
            .hint("write `database_tags: {orders: {backup-tier: critical}}`");
        return out;
    };
    for (key, value) in entries {
        let tags_src = format!("{src}.{}", key.name);
        let tags = reader.tags(value, &tags_src, &tags_src);
        out.insert(key.name.clone(), tags);
    }
    out
}

fn read_server(
    reader: &mut Reader<'_>,
    cx: &mut Context<'_>,
    set: &mut PolicySet,
    node: &Node,
    idx: usize,
    engine: ResourceType,
) {
    let kind = Kind::of_engine(engine);
    let subject = format!("{}[{idx}]", kind.section());
    let n_errors_before = reader.n_errors();
    let Some(fields) = reader.fields(node, &subject, &subject, SERVER_FIELDS) else {
        return;
    };
    let name = read_name(reader, cx, &fields, kind, &subject);
    let scope = read_scope(reader, &fields, &cx.defaults);
    let host = reader
        .required(&fields, "host")
        .and_then(|host| read_host(reader, host, &fields.src("host")));
    let port = match fields.get("port") {
        Some(port) => read_port(reader, port, &fields.src("port")),
        None if engine == ResourceType::MySQL => Some(3306),
        None => Some(5432),
    };
    let user = fields.get("user").and_then(|user| {
        let src = fields.src("user");
        reader.string(user, &src, &src)
    });
    let password = fields
        .get("password")
        .and_then(|password| read_secret(reader, password, &fields.src("password"), "password"));
    let databases = read_databases(reader, &fields);
    let exclude_databases = read_patterns(reader, &fields, "exclude_databases");
    let database_tags = read_database_tags(reader, &fields);
    for (database, pos) in &databases {
        if let Some(pattern) = exclude_databases
            .iter()
            .find(|pattern| glob_match(pattern, database))
        {
            reader
                .error(
                    *pos,
                    &fields.src("databases"),
                    format!(
                        "database {database:?} is listed but also matches exclude_databases pattern {pattern:?}"
                    ),
                )
                .hint("remove it from one of the two lists");
        }
    }
    if reader.n_errors() != n_errors_before {
        return;
    }
    let (Some(name), Some(host), Some(port)) = (name, host, port) else {
        return;
    };
    for (database, pos) in &databases {
        let resource_name = format!("{name}/{database}");
        let mut tags = scope.tags.clone();
        if let Some(extra) = database_tags.get(database) {
            tags.extend(extra.clone());
        }
        let mut connection = BTreeMap::from([
            ("server".to_string(), name.clone()),
            ("host".to_string(), host.clone()),
            ("port".to_string(), port.to_string()),
            ("database".to_string(), database.clone()),
        ]);
        if let Some(user) = &user {
            connection.insert("user".into(), user.clone());
        }
        if let Some(password) = &password {
            connection.insert("password".into(), password.to_string());
        }
        set.resources.push(Declared {
            value: Resource {
                resource_arn: engine.arn(&scope.region, &scope.account, &resource_name),
                resource_type: engine,
                resource_name: resource_name.clone(),
                account_id: scope.account.clone(),
                region: scope.region.clone(),
                tags,
                connection,
            },
            origin: cx.origin(&resource_name, *pos),
        });
    }
    set.servers.push(Declared {
        value: Server {
            name: name.clone(),
            engine,
            host,
            port,
            user,
            password,
            account_id: scope.account,
            region: scope.region,
            tags: scope.tags,
            databases: databases
                .into_iter()
                .map(|(database, _)| database)
                .collect(),
            exclude_databases,
            database_tags,
        },
        origin: cx.origin(&name, node.pos),
    });
}

/// Pushes a non-database resource (filesystem, SQLite file, bucket).
fn push_resource(
    set: &mut PolicySet,
    resource_type: ResourceType,
    name: String,
    scope: Scope,
    connection: BTreeMap<String, String>,
    origin: Origin,
) {
    set.resources.push(Declared {
        value: Resource {
            resource_arn: resource_type.arn(&scope.region, &scope.account, &name),
            resource_type,
            resource_name: name,
            account_id: scope.account,
            region: scope.region,
            tags: scope.tags,
            connection,
        },
        origin,
    });
}

fn read_filesystem(
    reader: &mut Reader<'_>,
    cx: &mut Context<'_>,
    set: &mut PolicySet,
    node: &Node,
    idx: usize,
) {
    let subject = format!("{}[{idx}]", Kind::FileSystems.section());
    let n_errors_before = reader.n_errors();
    let Some(fields) = reader.fields(node, &subject, &subject, FILESYSTEM_FIELDS) else {
        return;
    };
    let name = read_name(reader, cx, &fields, Kind::FileSystems, &subject);
    let scope = read_scope(reader, &fields, &cx.defaults);
    let path = read_path(reader, &fields, "path");
    let exclude = read_patterns(reader, &fields, "exclude");
    if reader.n_errors() != n_errors_before {
        return;
    }
    let (Some(name), Some(path)) = (name, path) else {
        return;
    };
    let mut connection = BTreeMap::from([("path".to_string(), path)]);
    if !exclude.is_empty() {
        // One pattern per line: patterns may hold commas, never newlines.
        connection.insert("exclude".into(), exclude.join("\n"));
    }
    let origin = cx.origin(&name, node.pos);
    push_resource(
        set,
        ResourceType::FileSystem,
        name,
        scope,
        connection,
        origin,
    );
}

fn read_sqlite(
    reader: &mut Reader<'_>,
    cx: &mut Context<'_>,
    set: &mut PolicySet,
    node: &Node,
    idx: usize,
) {
    let subject = format!("{}[{idx}]", Kind::Sqlite.section());
    let n_errors_before = reader.n_errors();
    let Some(fields) = reader.fields(node, &subject, &subject, SQLITE_FIELDS) else {
        return;
    };
    let name = read_name(reader, cx, &fields, Kind::Sqlite, &subject);
    let scope = read_scope(reader, &fields, &cx.defaults);
    let path = read_path(reader, &fields, "path");
    if reader.n_errors() != n_errors_before {
        return;
    }
    let (Some(name), Some(path)) = (name, path) else {
        return;
    };
    let connection = BTreeMap::from([("path".to_string(), path)]);
    let origin = cx.origin(&name, node.pos);
    push_resource(set, ResourceType::SQLite, name, scope, connection, origin);
}

fn read_endpoint(
    reader: &mut Reader<'_>,
    cx: &mut Context<'_>,
    set: &mut PolicySet,
    node: &Node,
    idx: usize,
) {
    let subject = format!("{}[{idx}]", Kind::S3Endpoints.section());
    let n_errors_before = reader.n_errors();
    let Some(fields) = reader.fields(node, &subject, &subject, ENDPOINT_FIELDS) else {
        return;
    };
    let name = read_name(reader, cx, &fields, Kind::S3Endpoints, &subject);
    let url = reader.required(&fields, "url").and_then(|url| {
        let src = fields.src("url");
        let text = reader.string(url, &src, &src)?;
        check_endpoint_url(&text, Syntax::Yaml)
            .map_err(|(message, hint)| {
                reader.error(url.pos, &src, message).hint(hint);
            })
            .ok()?;
        Some(text)
    });
    let signing_region = match fields.get("region") {
        Some(region) => {
            let src = fields.src("region");
            reader.string(region, &src, &src).and_then(|text| {
                if text.is_empty() {
                    reader
                        .error(region.pos, &src, "must not be empty")
                        .hint(format!(
                            "leave it out to sign for {DEFAULT_SIGNING_REGION:?}"
                        ));
                    None
                } else {
                    Some(text)
                }
            })
        }
        None => Some(DEFAULT_SIGNING_REGION.to_string()),
    };
    let access_key_id = fields.get("access_key_id").and_then(|secret| {
        read_secret(
            reader,
            secret,
            &fields.src("access_key_id"),
            "access_key_id",
        )
    });
    let secret_access_key = fields.get("secret_access_key").and_then(|secret| {
        read_secret(
            reader,
            secret,
            &fields.src("secret_access_key"),
            "secret_access_key",
        )
    });
    if fields.get("access_key_id").is_some() != fields.get("secret_access_key").is_some() {
        reader
            .error(
                node.pos,
                &subject,
                "access_key_id and secret_access_key go together",
            )
            .hint("give both (by reference), or neither for anonymous access");
    }
    let path_style = match fields.get("path_style") {
        Some(flag) => {
            let src = fields.src("path_style");
            reader.boolean(flag, &src, &src)
        }
        None => Some(false),
    };
    let failed = reader.n_errors() != n_errors_before;
    let Some(name) = name else {
        return;
    };
    let endpoint = match (failed, url, signing_region, path_style) {
        (false, Some(url), Some(signing_region), Some(path_style)) => Some(S3Endpoint {
            name: name.clone(),
            url,
            signing_region,
            access_key_id,
            secret_access_key,
            path_style,
        }),
        _ => None,
    };
    cx.shared.endpoints.insert(name.clone(), endpoint.clone());
    if let Some(endpoint) = endpoint {
        set.endpoints.push(Declared {
            value: endpoint,
            origin: cx.origin(&name, node.pos),
        });
    }
}

fn read_bucket(reader: &mut Reader<'_>, cx: &mut Context<'_>, node: &Node, idx: usize) {
    let subject = format!("{}[{idx}]", Kind::Buckets.section());
    let n_errors_before = reader.n_errors();
    let Some(fields) = reader.fields(node, &subject, &subject, BUCKET_FIELDS) else {
        return;
    };
    let name = read_name(reader, cx, &fields, Kind::Buckets, &subject);
    let scope = read_scope(reader, &fields, &cx.defaults);
    // Looked up once every file is read: any inventory file may declare it.
    let endpoint = reader
        .required(&fields, "endpoint")
        .and_then(|endpoint_node| {
            let src = fields.src("endpoint");
            reader
                .string(endpoint_node, &src, &src)
                .map(|endpoint_name| (endpoint_name, endpoint_node.pos, src))
        });
    let bucket = match fields.get("bucket") {
        Some(bucket_node) => {
            let src = fields.src("bucket");
            reader.string(bucket_node, &src, &src).and_then(|bucket| {
                check_bucket_name(&bucket)
                    .map_err(|message| {
                        reader.error(bucket_node.pos, &src, message);
                    })
                    .ok()?;
                Some(bucket)
            })
        }
        None => name
            .as_ref()
            .and_then(|name| match check_bucket_name(name) {
                Ok(()) => Some(name.clone()),
                Err(message) => {
                    let pos = fields.get("name").map_or(node.pos, |n| n.pos);
                    reader.error(pos, &fields.src("name"), message).hint(
                        "the bucket is named after the entry unless `bucket:` gives its real name",
                    );
                    None
                }
            }),
    };
    let prefix = fields.get("prefix").and_then(|prefix_node| {
        let src = fields.src("prefix");
        let prefix = reader.string(prefix_node, &src, &src)?;
        if prefix.starts_with('/') {
            reader
                .error(
                    prefix_node.pos,
                    &src,
                    format!("prefix {prefix:?} must not start with \"/\""),
                )
                .hint("object keys have no leading slash: write e.g. \"exports/\"");
            return None;
        }
        Some(prefix)
    });
    let all_versions = match fields.get("versions") {
        None => false,
        Some(versions_node) => {
            let src = fields.src("versions");
            match reader.string(versions_node, &src, &src).as_deref() {
                Some("all") => true,
                Some("current") | None => false,
                Some(other) => {
                    reader
                        .error(
                            versions_node.pos,
                            &src,
                            format!("versions {other:?} is not current or all"),
                        )
                        .hint("`all` also backs up noncurrent versions and delete markers (the bucket needs versioning on); `current` (the default) only the current objects");
                    false
                }
            }
        }
    };
    let Some((endpoint, endpoint_pos, src)) = endpoint else {
        return;
    };
    let ready = match (reader.n_errors() == n_errors_before, name, bucket) {
        (true, Some(name), Some(bucket)) => Some(ReadyBucket {
            origin: cx.origin(&name, node.pos),
            name,
            scope,
            bucket,
            prefix,
            all_versions,
        }),
        _ => None,
    };
    cx.shared.buckets.push(PendingBucket {
        file: cx.file.to_string(),
        src,
        endpoint,
        endpoint_pos,
        ready,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse;

    fn options() -> LoadOptions {
        LoadOptions {
            account: AccountId::new("111122223333").unwrap(),
            region: Region::new("us-west-2").unwrap(),
            stack_name: "test".into(),
            parameters: BTreeMap::new(),
        }
    }

    /// Reads `text` as `inv.yaml` into `set`; returns the diagnostics as text.
    #[track_caller]
    fn read_into(text: &str, set: &mut PolicySet) -> Vec<String> {
        let root = parse(text).unwrap();
        assert!(
            looks_like_inventory(&root),
            "not recognised as an inventory"
        );
        let mut diags = Diagnostics::default();
        let mut shared = Inventories::default();
        read_inventory("inv.yaml", &root, &options(), &mut diags, set, &mut shared);
        resolve_buckets(shared, &mut diags, set);
        diags.iter().map(ToString::to_string).collect()
    }

    #[track_caller]
    fn check(text: &str) -> (PolicySet, Vec<String>) {
        let mut set = PolicySet::default();
        let diags = read_into(text, &mut set);
        (set, diags)
    }

    /// Asserts exactly these diagnostics, in order.
    #[track_caller]
    fn check_errors(text: &str, expected: &[&str]) {
        let (_, diags) = check(text);
        assert_eq!(diags, expected);
    }

    fn arns(set: &PolicySet) -> Vec<String> {
        set.resources
            .iter()
            .map(|r| r.value.resource_arn.to_string())
            .collect()
    }

    fn resource<'s>(set: &'s PolicySet, name: &str) -> &'s Resource {
        &set.resources
            .iter()
            .find(|r| r.value.resource_name == name)
            .unwrap()
            .value
    }

    const COMPLETE: &str = r#"
defaults:
  account: "210987654321"
  region: eu-west-1
  tags: {team: payments, env: staging}
postgres:
  - name: pg-main
    host: db1.internal
    user: backup
    password: {env: PG_PASSWORD}
    tags: {env: production}
    databases: [orders, ledger]
    exclude_databases: ["template*"]
    database_tags:
      orders: {backup-tier: critical}
mysql:
  - name: maria
    host: 10.0.0.5
    port: 3307
    account: "999988887777"
    region: dc-paris
    password: {file: /etc/coffer/maria.password}
filesystems:
  - name: home
    path: /home
    exclude: ["*.tmp", "*/cache/*"]
sqlite:
  - name: app
    path: /var/lib/app/app.db
s3_endpoints:
  - name: minio
    url: http://127.0.0.1:9000
    access_key_id: {env: MINIO_KEY}
    secret_access_key: {file: /etc/coffer/minio.secret}
    path_style: true
buckets:
  - name: invoices
    endpoint: minio
    prefix: pdf/
"#;

    #[test]
    fn complete_inventory_reads_every_kind() {
        let (set, diags) = check(COMPLETE);
        assert_eq!(diags, Vec::<String>::new());
        assert_eq!(
            arns(&set),
            [
                "arn:coffer:postgres:eu-west-1:210987654321:database/pg-main/orders",
                "arn:coffer:postgres:eu-west-1:210987654321:database/pg-main/ledger",
                "arn:coffer:fs:eu-west-1:210987654321:filesystem/home",
                "arn:coffer:sqlite:eu-west-1:210987654321:database/app",
                "arn:coffer:s3:eu-west-1:210987654321:bucket/invoices",
            ]
        );
        // Tags: defaults, then the server's, then the database's.
        let orders = resource(&set, "pg-main/orders");
        assert_eq!(
            orders.tags,
            Tags::from([
                ("team".into(), "payments".into()),
                ("env".into(), "production".into()),
                ("backup-tier".into(), "critical".into()),
            ])
        );
        assert!(!resource(&set, "pg-main/ledger")
            .tags
            .contains_key("backup-tier"));
        assert_eq!(
            orders.connection,
            BTreeMap::from([
                ("server".into(), "pg-main".into()),
                ("host".into(), "db1.internal".into()),
                ("port".into(), "5432".into()),
                ("database".into(), "orders".into()),
                ("user".into(), "backup".into()),
                ("password".into(), "env:PG_PASSWORD".into()),
            ])
        );
        assert_eq!(set.servers.len(), 2);
        let maria = &set.servers[1].value;
        assert_eq!(maria.engine, ResourceType::MySQL);
        assert_eq!(maria.port, 3307);
        assert_eq!(maria.account_id.as_str(), "999988887777");
        assert_eq!(maria.region.as_str(), "dc-paris");
        assert_eq!(
            maria.password,
            Some(SecretRef::File("/etc/coffer/maria.password".into()))
        );
        assert_eq!(set.servers[1].origin.logical_id, "maria");
        assert_eq!(set.servers[1].origin.pos.line, 17);
        assert_eq!(
            resource(&set, "home").connection["exclude"],
            "*.tmp\n*/cache/*"
        );
        let endpoint = &set.endpoints[0].value;
        assert_eq!(endpoint.signing_region, "us-east-1");
        assert!(endpoint.path_style);
        let invoices = resource(&set, "invoices");
        assert_eq!(invoices.connection["bucket"], "invoices");
        assert_eq!(invoices.connection["prefix"], "pdf/");
        assert_eq!(
            invoices.connection["secret_access_key"],
            "file:/etc/coffer/minio.secret"
        );
    }

    #[test]
    fn example_inventory_loads_without_errors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/inventory.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let (set, diags) = check(&text);
        assert_eq!(diags, Vec::<String>::new());
        let arns = arns(&set);
        assert!(arns
            .contains(&"arn:coffer:fs:eu-west-1:210987654321:filesystem/scratch-tmp".to_string()));
        let orders = resource(&set, "pg-main/orders");
        assert_eq!(orders.tags["backup-tier"], "critical");
        assert_eq!(set.servers.len(), 2);
        assert_eq!(set.servers[1].value.port, 3306);
        assert_eq!(set.endpoints.len(), 1);
        assert_eq!(resource(&set, "invoices").region.as_str(), "dc-paris");
    }

    /// The first fenced block of `lang` after `heading` in a docs file.
    fn doc_block(file: &str, heading: &str, lang: &str) -> String {
        let path = format!("{}/../../docs/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let after = &text[text.find(heading).unwrap()..];
        let start = after.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
        let len = after[start..].find("```").unwrap();
        after[start..start + len].to_string()
    }

    #[test]
    fn documented_example_loads_without_errors() {
        let text = doc_block("inventory.md", "## A complete example", "yaml");
        let (set, diags) = check(&text);
        assert_eq!(diags, Vec::<String>::new());
        assert_eq!(set.resources.len(), 7);
    }

    #[test]
    fn defaults_come_from_load_options() {
        let (set, diags) = check("filesystems:\n  - name: data\n    path: /data\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            arns(&set),
            ["arn:coffer:fs:us-west-2:111122223333:filesystem/data"]
        );
    }

    #[test]
    fn templates_and_other_documents_are_not_inventories() {
        let template = parse("Resources:\n  V: {Type: AWS::Backup::BackupVault}\n").unwrap();
        assert!(!looks_like_inventory(&template));
        let mixed = parse("postgres: []\nResources: {}\n").unwrap();
        assert!(!looks_like_inventory(&mixed));
        assert!(!looks_like_inventory(&parse("[1, 2]").unwrap()));
        assert!(looks_like_inventory(&parse("buckets: []\n").unwrap()));
    }

    #[test]
    fn plain_string_secret_is_refused_without_repeating_it() {
        check_errors(
            "postgres:\n  - name: pg\n    host: db\n    password: hunter2\n",
            &["inv.yaml:4:15 postgres[0].password: secrets are given only by reference, never written in the inventory; write `password: {env: VARIABLE}` (an environment variable of the coffer process) or `password: {file: /path/to/file}` (a file holding only the secret)"],
        );
    }

    #[test]
    fn no_message_repeats_a_possible_secret() {
        let text = r#"
postgres:
  - name: pg
    host: "postgres://admin:hunter2@db"
    password: {env: "hunter2!"}
mysql:
  - name: my
    host: db
    password: {file: "hunter2"}
s3_endpoints:
  - name: s3
    url: "http://AKIA:hunter2@minio:9000"
    access_key_id: hunter2
    secret_access_key: {env: K, file: /k}
"#;
        let (set, diags) = check(text);
        assert_eq!(diags.len(), 6, "{diags:#?}");
        for diag in &diags {
            assert!(!diag.contains("hunter2"), "{diag}");
        }
        assert!(set.servers.is_empty() && set.endpoints.is_empty());
    }

    #[test]
    fn unknown_fields_get_did_you_mean() {
        check_errors(
            "postgre:\n  - name: pg\nfilesystems:\n  - name: fs\n    path: /x\n    exlude: [a]\n",
            &[
                "inv.yaml:1:1 postgre: unknown field \"postgre\"; did you mean \"postgres\"?",
                "inv.yaml:6:5 filesystems[0].exlude: unknown field \"exlude\"; did you mean \"exclude\"?",
            ],
        );
    }

    #[test]
    fn duplicate_names_point_at_the_first() {
        check_errors(
            "sqlite:\n  - name: app\n    path: /a.db\n  - name: app\n    path: /b.db\n",
            &["inv.yaml:4:11 sqlite[1].name: duplicate name \"app\": sqlite[0] (line 2) already uses it; names must be unique among SQLite files; rename one of them (the name is part of the ARN)"],
        );
        // The same name in two kinds is fine: the ARNs differ.
        let (set, diags) = check(
            "sqlite:\n  - name: app\n    path: /a.db\nfilesystems:\n  - name: app\n    path: /a\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(set.resources.len(), 2);
    }

    #[test]
    fn duplicate_names_across_files_name_the_other_file() {
        let mut set = PolicySet::default();
        assert!(read_into("filesystems:\n  - name: home\n    path: /home\n", &mut set).is_empty());
        let diags = read_into(
            "filesystems:\n  - name: home\n    path: /srv/home\n",
            &mut set,
        );
        assert_eq!(diags, ["inv.yaml:2:11 filesystems[0].name: duplicate name \"home\": inv.yaml:2 already uses it; names must be unique among filesystems; rename one of them (the name is part of the ARN)"]);
        assert_eq!(set.resources.len(), 1);
    }

    #[test]
    fn values_are_checked_where_written() {
        let text = r#"
defaults:
  account: 1234
postgres:
  - name: "pg main"
    host: db
    port: 70000
    region: EU_WEST
filesystems:
  - name: data
    path: data/files
"#;
        check_errors(
            text,
            &[
                "inv.yaml:3:12 defaults.account: account ID \"1234\" must be exactly 12 digits (e.g. \"111122223333\")",
                "inv.yaml:5:11 postgres[0].name: name \"pg main\" is not allowed: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit; the name is part of the resource's ARN",
                "inv.yaml:8:13 postgres[0].region: region \"EU_WEST\" must be lowercase letters, digits and '-', starting with a letter (e.g. \"eu-west-1\", \"dc-paris\")",
                "inv.yaml:7:11 postgres[0].port: port 70000 is out of range; use 1-65535",
                "inv.yaml:11:11 filesystems[0].path: path \"data/files\" must be absolute (start with \"/\"); Coffer may run from any directory, so relative paths would be ambiguous",
            ],
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        check_errors(
            "mysql:\n  - name: m\nsqlite:\n  - path: /x.db\n",
            &[
                "inv.yaml:2:5 mysql[0]: host is required",
                "inv.yaml:4:5 sqlite[0]: name is required",
            ],
        );
    }

    #[test]
    fn bucket_on_unknown_endpoint_suggests_the_close_one() {
        let text = "s3_endpoints:\n  - name: minio\n    url: http://minio:9000\nbuckets:\n  - name: logs\n    endpoint: minoi\n";
        check_errors(
            text,
            &["inv.yaml:6:15 buckets[0].endpoint: endpoint \"minoi\" is not declared in s3_endpoints; did you mean \"minio\"?"],
        );
    }

    #[test]
    fn bucket_on_broken_endpoint_gets_no_second_error() {
        let text = "s3_endpoints:\n  - name: minio\n    url: minio:9000\nbuckets:\n  - name: logs\n    endpoint: minio\n";
        let (set, diags) = check(text);
        assert_eq!(diags, ["inv.yaml:3:10 s3_endpoints[0].url: url \"minio:9000\" must start with http:// or https://; e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com"]);
        assert!(set.resources.is_empty());
    }

    #[test]
    fn a_bucket_asks_for_every_version_with_versions_all() {
        let text = "s3_endpoints:\n  - name: s3\n    url: https://s3.example\nbuckets:\n  - name: logs\n    endpoint: s3\n    versions: all\n  - name: media\n    endpoint: s3\n    versions: current\n";
        let (set, diags) = check(text);
        assert_eq!(diags, Vec::<String>::new());
        assert_eq!(
            resource(&set, "logs")
                .connection
                .get("versions")
                .map(String::as_str),
            Some("all")
        );
        assert_eq!(resource(&set, "media").connection.get("versions"), None);
        let text = "s3_endpoints:\n  - name: s3\n    url: https://s3.example\nbuckets:\n  - name: logs\n    endpoint: s3\n    versions: noncurrent\n";
        check_errors(
            text,
            &["inv.yaml:7:15 buckets[0].versions: versions \"noncurrent\" is not current or all; `all` also backs up noncurrent versions and delete markers (the bucket needs versioning on); `current` (the default) only the current objects"],
        );
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        let text = "s3_endpoints:\n  - name: s3\n    url: https://s3.example\nbuckets:\n  - name: Logs_2024\n    endpoint: s3\n";
        check_errors(
            text,
            &["inv.yaml:5:11 buckets[0].name: bucket name \"Logs_2024\" is not a valid S3 bucket name: use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit; the bucket is named after the entry unless `bucket:` gives its real name"],
        );
    }

    #[test]
    fn listed_database_that_is_excluded_is_an_error() {
        let text = "postgres:\n  - name: pg\n    host: db\n    databases: [orders, tmp_1]\n    exclude_databases: [\"tmp_*\"]\n";
        check_errors(
            text,
            &["inv.yaml:4:25 postgres[0].databases: database \"tmp_1\" is listed but also matches exclude_databases pattern \"tmp_*\"; remove it from one of the two lists"],
        );
    }

    #[test]
    fn half_given_s3_credentials_are_an_error() {
        let text = "s3_endpoints:\n  - name: s3\n    url: https://s3.example\n    access_key_id: {env: KEY}\n";
        let (set, diags) = check(text);
        assert_eq!(diags, ["inv.yaml:2:5 s3_endpoints[0]: access_key_id and secret_access_key go together; give both (by reference), or neither for anonymous access"]);
        assert!(set.endpoints.is_empty());
    }

    #[test]
    fn entry_with_an_error_is_left_out_but_others_load() {
        let text = "filesystems:\n  - name: a\n    path: /a\n  - name: b\n    path: relative\n  - name: c\n    path: /c\n";
        let (set, diags) = check(text);
        assert_eq!(diags.len(), 1);
        let names: Vec<&str> = set
            .resources
            .iter()
            .map(|r| r.value.resource_name.as_str())
            .collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn empty_sections_are_allowed() {
        let (set, diags) = check("defaults:\npostgres:\nbuckets:\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert!(set.resources.is_empty());
    }
}
