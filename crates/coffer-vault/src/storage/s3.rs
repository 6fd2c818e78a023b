//! Vault storage on an S3-compatible endpoint: a `rustic_core` backend
//! over OpenDAL's S3 service, laid out as restic lays out an `s3:`
//! repository (`config`, `keys/`, `snapshots/`, `index/`, `data/xx/`
//! under the prefix), so `restic -r s3:URL/bucket/prefix` opens it.
//!
//! `rustic_core` calls backends synchronously from its own threads; each
//! call runs on a small runtime owned by this module and waits for it.

use std::future::Future;
use std::sync::OnceLock;

use bytes::Bytes;
use rustic_core::{
    BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend,
};

/// How to reach an endpoint: its URL, signing region, credentials, style.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Access {
    /// e.g. `http://127.0.0.1:9000` or `https://s3.eu-west-1.amazonaws.com`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Virtual-host style (`bucket.host`) instead of path style (`host/bucket`).
    pub virtual_host_style: bool,
}

impl std::fmt::Debug for S3Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Access")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("virtual_host_style", &self.virtual_host_style)
            .finish()
    }
}

fn runtime() -> RusticResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            // TLS through rustls with ring; installed once per process.
            let _ = rustls::crypto::ring::default_provider().install_default();
            opendal_http_transport_reqwest::install_default();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("coffer-s3")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            RusticError::new(
                ErrorKind::Backend,
                "cannot start the S3 client runtime: {error}",
            )
            .attach_context("error", e.clone())
        })
}

/// Runs `future` on the S3 runtime (where every S3 request of the process
/// runs, so connections are pooled there) from any thread, inside or
/// outside another runtime, and waits for its result.
///
/// # Errors
/// When the runtime cannot start, or the future was dropped unfinished.
pub fn block_on<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let rt = runtime().map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv()
        .map_err(|_| "the S3 request was dropped".to_string())
}

/// An OpenDAL operator for `bucket` with `root` (a key prefix, `/` for
/// the whole bucket) at the endpoint `access` describes.
///
/// # Errors
/// When the settings cannot make a client.
pub fn operator(bucket: &str, root: &str, access: &S3Access) -> Result<opendal::Operator, String> {
    runtime().map_err(|e| e.to_string())?;
    let mut builder = opendal::services::S3::default()
        .bucket(bucket)
        .root(root)
        .endpoint(&access.endpoint)
        .region(&access.region)
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(key) = &access.access_key_id {
        builder = builder.access_key_id(key);
    }
    if let Some(secret) = &access.secret_access_key {
        builder = builder.secret_access_key(secret);
    }
    if access.virtual_host_style {
        builder = builder.enable_virtual_host_style();
    }
    opendal::Operator::new(builder).map_err(|e| format!("invalid S3 settings for {bucket}: {e}"))
}

/// Runs an OpenDAL request on the S3 runtime and waits for it.
fn run<T: Send + 'static>(
    future: impl Future<Output = opendal::Result<T>> + Send + 'static,
) -> RusticResult<T> {
    block_on(future)
        .map_err(|e| {
            RusticError::new(ErrorKind::Backend, "S3: {message}").attach_context("message", e)
        })?
        .map_err(|e| {
            RusticError::with_source(ErrorKind::Backend, "S3 request failed: {message}", e)
                .attach_context("message", "see the cause")
        })
}

#[derive(Debug, Clone)]
pub struct S3Backend {
    operator: opendal::Operator,
    location: String,
}

impl S3Backend {
    /// A backend for `bucket` under `prefix`.
    ///
    /// # Errors
    /// When the settings cannot make a client.
    pub fn new(bucket: &str, prefix: &str, access: &S3Access) -> RusticResult<S3Backend> {
        let root = format!("/{}", prefix.trim_matches('/'));
        let operator = operator(bucket, &root, access).map_err(|e| {
            RusticError::new(ErrorKind::Backend, "{message}").attach_context("message", e)
        })?;
        Ok(S3Backend {
            operator,
            location: format!(
                "s3:{}/{bucket}/{}",
                access.endpoint,
                prefix.trim_matches('/')
            ),
        })
    }

    fn path(tpe: FileType, id: &Id) -> String {
        let hex = (*id).to_hex();
        match tpe {
            FileType::Config => "config".to_string(),
            FileType::Pack => format!("data/{}/{}", &hex[..2], &*hex),
            other => format!("{}/{}", other.dirname(), &*hex),
        }
    }

    /// Whether the repository's `config` object exists.
    ///
    /// # Errors
    /// When the endpoint cannot be asked.
    pub fn has_config(&self) -> RusticResult<bool> {
        let op = self.operator.clone();
        run(async move { op.exists("config").await })
    }

    /// Writes the object `name` under the prefix, beside the repository's
    /// own objects (restic reads only those, so it ignores it), in one PUT.
    ///
    /// # Errors
    /// When the endpoint refuses the write.
    pub fn put_object(&self, name: &str, bytes: Vec<u8>) -> RusticResult<()> {
        let op = self.operator.clone();
        let name = name.to_string();
        run(async move { op.write(&name, bytes).await.map(|_| ()) })
    }

    /// The object `name` under the prefix, if it exists.
    ///
    /// # Errors
    /// When the endpoint cannot be read.
    pub fn get_object(&self, name: &str) -> RusticResult<Option<Vec<u8>>> {
        let op = self.operator.clone();
        let name = name.to_string();
        run(async move {
            match op.read(&name).await {
                Ok(buffer) => Ok(Some(buffer.to_vec())),
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

impl ReadBackend for S3Backend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        let op = self.operator.clone();
        if tpe == FileType::Config {
            return run(async move {
                match op.stat("config").await {
                    Ok(meta) => Ok(vec![(
                        Id::default(),
                        u32::try_from(meta.content_length()).unwrap_or(u32::MAX),
                    )]),
                    Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            });
        }
        let dir = format!("{}/", tpe.dirname());
        let entries = run(async move { op.list_with(&dir).recursive(true).await })?;
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .filter_map(|e| {
                let name = e.name().to_string();
                let id = Id::parse_some(&name, tpe)?;
                let size = u32::try_from(e.metadata().content_length()).ok()?;
                Some((id, size))
            })
            .collect())
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        let op = self.operator.clone();
        let path = Self::path(tpe, id);
        run(async move { op.read(&path).await.map(|b| b.to_bytes()) })
    }

    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<Bytes> {
        let op = self.operator.clone();
        let path = Self::path(tpe, id);
        let range = u64::from(offset)..u64::from(offset) + u64::from(length);
        run(async move { op.read_with(&path).range(range).await.map(|b| b.to_bytes()) })
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        Self::path(tpe, id)
    }
}

impl WriteBackend for S3Backend {
    fn write_bytes(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        content: BytesList,
    ) -> RusticResult<()> {
        let op = self.operator.clone();
        let path = Self::path(tpe, id);
        // One PUT: the object appears whole or not at all.
        let parts: Vec<Bytes> = content.into_vec();
        run(async move { op.write(&path, parts).await.map(|_| ()) })
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        let op = self.operator.clone();
        let path = Self::path(tpe, id);
        run(async move { op.delete(&path).await })
    }
}
