//! S3: a bucket, or a prefix of one, on an endpoint the inventory declares.
//!
//! A backup is one tree snapshot (`coffer_vault::VaultStorage::backup_objects`):
//! each object's bytes at `objects/<key>`, so `restic ls` lists the keys,
//! and `objects.jsonl`, the manifest: one [`ObjectRecord`] per object (key,
//! size, ETag, LastModified, content type, user metadata, tags, version ID
//! and the SHA-256 of the bytes read). The point's content digest is the
//! manifest's SHA-256.
//!
//! Objects are listed a page at a time (ListObjectsV2) and put in tree
//! order (keys compared component by component) by an external sort:
//! runs of at most [`RUN_OBJECTS`] listed objects are sorted in memory and
//! spilled to the scratch directory, then merged, so memory is bounded
//! whatever the bucket size. An object unchanged since the previous point
//! (same size, LastModified and ETag) is never read: its record is carried
//! over from the previous manifest, read alongside in the same order, and
//! only its tags are asked again (tags change without changing the
//! object). A changed object is read with one GetObject, whose answer
//! describes exactly the version read, so each record is consistent with
//! the bytes stored even while the bucket changes; an object deleted
//! between the listing and the read is left out, as restic leaves out a
//! file that vanished.
//!
//! Restore writes each object (content type, user metadata, then its tags)
//! into a bucket, created when missing, under a prefix, on the source's
//! endpoint or another; an existing bucket holding objects under the
//! target prefix is refused without force. One key, or a key prefix, may
//! be restored alone. Validation reads every object back from the vault
//! and compares its size and SHA-256 with the manifest, and the manifest
//! with the point's digest.

use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::sync::Arc;

use coffer_model::{RecoveryPoint, Resource};
use coffer_vault::s3_client::{Listed, ObjectVersion, OpenObject, S3Client, S3Error};
use coffer_vault::{
    block_on_s3, tree_order, ObjectBody, S3Access, Settled, StorageError, TreeObject,
    OBJECTS_MANIFEST,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    blocking, connection, parse_secret_ref, resolve_secret, snapshot_of, BackupOutcome,
    DriverError, RestoreOutcome, Result, Validation, Vault,
};

/// Listed objects sorted in memory before a run is spilled to disk.
pub const RUN_OBJECTS: usize = 50_000;
/// Bytes sent to the target in one part when restoring.
const WRITE_CHUNK: usize = 8 * 1024 * 1024;

/// One object as a point records it: a line of its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub key: String,
    pub size: u64,
    /// Quotes included, as S3 gives it.
    pub etag: String,
    /// RFC 3339.
    pub last_modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// SHA-256 of the bytes stored, hex.
    pub sha256: String,
}

/// Where a bucket resource lives: its endpoint, bucket and key prefix.
#[derive(Clone, Debug)]
pub struct BucketPlace {
    /// The endpoint's name in the inventory.
    pub endpoint: String,
    pub access: S3Access,
    pub bucket: String,
    pub prefix: String,
}

/// The place of a bucket resource, its credentials read from their
/// references.
///
/// # Errors
/// A connection detail missing, or a credential that cannot be read.
pub fn place(resource: &Resource) -> Result<BucketPlace> {
    let secret = |field: &str| -> Result<Option<String>> {
        let Some(text) = resource.connection.get(field) else {
            return Ok(None);
        };
        let reference = parse_secret_ref(text).ok_or_else(|| DriverError::Resource {
            resource: resource.resource_arn.to_string(),
            message: format!("{field} is not a reference (env:NAME or file:PATH)"),
        })?;
        resolve_secret(&reference)
            .map(Some)
            .map_err(|source| DriverError::Password {
                resource: resource.resource_arn.to_string(),
                source,
            })
    };
    Ok(BucketPlace {
        endpoint: connection(resource, "endpoint")?.to_string(),
        access: S3Access {
            endpoint: connection(resource, "url")?.to_string(),
            region: connection(resource, "signing_region")?.to_string(),
            access_key_id: secret("access_key_id")?,
            secret_access_key: secret("secret_access_key")?,
            virtual_host_style: resource
                .connection
                .get("path_style")
                .is_none_or(|style| style != "true"),
        },
        bucket: connection(resource, "bucket")?.to_string(),
        prefix: resource
            .connection
            .get("prefix")
            .cloned()
            .unwrap_or_default(),
    })
}

/// Where a bucket recovery point is restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketTarget {
    /// The endpoint's name, when not the source's.
    pub endpoint: Option<String>,
    /// How to reach that endpoint, its credentials read (the caller
    /// resolves the name it declares).
    pub access: Option<S3Access>,
    pub bucket: String,
    /// Put before every key restored (empty: the keys as they were).
    pub prefix: String,
    /// Restore only the keys that start with this (one key, or a prefix).
    pub select: Option<String>,
}

impl BucketTarget {
    /// The restored bucket (and prefix) as an ARN, as AWS names buckets:
    /// `arn:coffer:s3:::bucket` or `arn:coffer:s3:::bucket/prefix`.
    pub fn arn(&self) -> String {
        if self.prefix.is_empty() {
            format!("arn:coffer:s3:::{}", self.bucket)
        } else {
            format!("arn:coffer:s3:::{}/{}", self.bucket, self.prefix)
        }
    }
}

fn s3_error(resource: &str) -> impl Fn(S3Error) -> DriverError + '_ {
    move |e| DriverError::Resource {
        resource: resource.to_string(),
        message: e.to_string(),
    }
}

/// Runs an S3 request from a blocking thread.
fn wait<T: Send + 'static>(
    future: impl std::future::Future<Output = Result<T, S3Error>> + Send + 'static,
) -> Result<T, String> {
    block_on_s3(future)?.map_err(|e| e.to_string())
}

/// The bucket's tags (GetBucketTagging), for discovery.
///
/// # Errors
/// When the bucket cannot be asked.
pub async fn bucket_tags(resource: &Resource) -> Result<BTreeMap<String, String>> {
    let place = place(resource)?;
    let arn = resource.resource_arn.to_string();
    let client = S3Client::new(&place.access, &place.bucket).map_err(s3_error(&arn))?;
    blocking(move || {
        wait(async move { client.bucket_tags().await }).map_err(|message| DriverError::Resource {
            resource: arn,
            message,
        })
    })
    .await
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ListedObject {
    key: String,
    size: u64,
    etag: String,
    last_modified: String,
}

impl ListedObject {
    fn from_listed(listed: Listed) -> ListedObject {
        ListedObject {
            key: listed.key,
            size: listed.size,
            etag: listed.etag.unwrap_or_default(),
            last_modified: listed.last_modified.unwrap_or_default(),
        }
    }
}

type Listing = Box<dyn Iterator<Item = Result<ListedObject, String>> + Send>;

/// One spilled run, read back in order.
struct Run {
    lines: std::io::Lines<BufReader<std::fs::File>>,
}

impl Run {
    fn next(&mut self) -> Result<Option<ListedObject>, String> {
        match self.lines.next() {
            None => Ok(None),
            Some(line) => {
                let line = line.map_err(|e| format!("reading a sorted run: {e}"))?;
                serde_json::from_str(&line)
                    .map(Some)
                    .map_err(|e| format!("reading a sorted run: {e}"))
            }
        }
    }
}

struct Head {
    object: ListedObject,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    /// Reversed: `BinaryHeap` pops the greatest, the merge wants the least.
    fn cmp(&self, other: &Head) -> std::cmp::Ordering {
        tree_order(&other.object.key, &self.object.key).then(other.run.cmp(&self.run))
    }
}

struct Merge {
    runs: Vec<Run>,
    heap: BinaryHeap<Head>,
    failed: bool,
}

impl Iterator for Merge {
    type Item = Result<ListedObject, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let head = self.heap.pop()?;
        match self.runs[head.run].next() {
            Ok(Some(object)) => self.heap.push(Head {
                object,
                run: head.run,
            }),
            Ok(None) => {}
            Err(message) => {
                self.failed = true;
                return Some(Err(message));
            }
        }
        Some(Ok(head.object))
    }
}

/// Every object `page` lists (given the continuation token of the page
/// before, `None` for the first), in tree order, with at most
/// `run_objects` listed objects held in memory (more are sorted in runs
/// spilled to `scratch` and merged).
fn listing_in_tree_order(
    mut page: impl FnMut(Option<String>) -> Result<coffer_vault::s3_client::ListPage, String>,
    scratch: &std::path::Path,
    run_objects: usize,
) -> Result<Listing, String> {
    let mut batch: Vec<ListedObject> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut token: Option<String> = None;
    let spill = |batch: &mut Vec<ListedObject>| -> Result<Run, String> {
        batch.sort_by(|a, b| tree_order(&a.key, &b.key));
        std::fs::create_dir_all(scratch)
            .map_err(|e| format!("a sorted run in {}: {e}", scratch.display()))?;
        let file = tempfile::tempfile_in(scratch)
            .map_err(|e| format!("a sorted run in {}: {e}", scratch.display()))?;
        let mut out = BufWriter::new(file);
        for object in batch.drain(..) {
            let line = serde_json::to_string(&object).map_err(|e| e.to_string())?;
            writeln!(out, "{line}").map_err(|e| format!("writing a sorted run: {e}"))?;
        }
        let mut file = out
            .into_inner()
            .map_err(|e| format!("writing a sorted run: {e}"))?;
        file.rewind()
            .map_err(|e| format!("reading a sorted run: {e}"))?;
        Ok(Run {
            lines: BufReader::new(file).lines(),
        })
    };
    loop {
        let listed = page(token.take())?;
        batch.extend(listed.objects.into_iter().map(ListedObject::from_listed));
        if batch.len() >= run_objects {
            runs.push(spill(&mut batch)?);
        }
        match listed.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    if runs.is_empty() {
        batch.sort_by(|a, b| tree_order(&a.key, &b.key));
        return Ok(Box::new(batch.into_iter().map(Ok)));
    }
    if !batch.is_empty() {
        runs.push(spill(&mut batch)?);
    }
    let mut heap = BinaryHeap::new();
    for (run, reader) in runs.iter_mut().enumerate() {
        if let Some(object) = reader.next()? {
            heap.push(Head { object, run });
        }
    }
    Ok(Box::new(Merge {
        runs,
        heap,
        failed: false,
    }))
}

/// A manifest read line by line, in tree order.
struct ManifestLines {
    lines: std::io::Lines<BufReader<std::fs::File>>,
    current: Option<ObjectRecord>,
}

impl ManifestLines {
    fn open(file: std::fs::File) -> ManifestLines {
        ManifestLines {
            lines: BufReader::new(file).lines(),
            current: None,
        }
    }

    fn next(&mut self) -> Result<Option<ObjectRecord>, String> {
        if let Some(record) = self.current.take() {
            return Ok(Some(record));
        }
        match self.lines.next() {
            None => Ok(None),
            Some(line) => {
                let line = line.map_err(|e| format!("reading the manifest: {e}"))?;
                serde_json::from_str(&line)
                    .map(Some)
                    .map_err(|e| format!("the manifest has a line that is no object record: {e}"))
            }
        }
    }

    /// The record of `key`, skipping records before it in tree order.
    fn find(&mut self, key: &str) -> Result<Option<ObjectRecord>, String> {
        while let Some(record) = self.next()? {
            match tree_order(&record.key, key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(Some(record)),
                std::cmp::Ordering::Greater => {
                    self.current = Some(record);
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }
}

/// A point's manifest, copied from the vault into a scratch file.
fn manifest_of(
    vault: &Vault,
    snapshot: &str,
    scratch: &std::path::Path,
) -> Result<std::fs::File, DriverError> {
    let io = |source| StorageError::Io {
        path: format!("a scratch file in {}", scratch.display()),
        source,
    };
    std::fs::create_dir_all(scratch).map_err(io)?;
    let mut file = tempfile::tempfile_in(scratch).map_err(io)?;
    {
        let mut out = BufWriter::new(&mut file);
        vault
            .storage
            .dump(&vault.secret, snapshot, OBJECTS_MANIFEST, &mut out)?;
        out.flush().map_err(io)?;
    }
    file.rewind().map_err(io)?;
    Ok(file)
}

/// A number that differs whenever the ETag does (never zero).
fn change_id(etag: &str) -> u64 {
    let digest = Sha256::digest(etag.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first) | 1
}

/// An HTTP date (`Tue, 24 Nov 2026 10:00:00 GMT`) as RFC 3339.
fn rfc3339_of_http_date(text: &str) -> Option<String> {
    jiff::fmt::rfc2822::parse(text)
        .ok()
        .map(|zoned| zoned.timestamp().to_string())
}

/// One listed object's body and record.
struct Body {
    client: Arc<S3Client>,
    listed: ListedObject,
    /// Its record in the previous point, if it had one.
    previous: Option<ObjectRecord>,
    /// What the GetObject answer described, once opened.
    read: Option<ObjectVersion>,
}

impl ObjectBody for Body {
    fn open(&mut self) -> std::io::Result<Box<dyn Read + Send>> {
        let client = Arc::clone(&self.client);
        let key = self.listed.key.clone();
        let opened =
            block_on_s3(async move { client.open(&key).await }).map_err(std::io::Error::other)?;
        match opened {
            Ok(object) => {
                self.read = Some(object.described.clone());
                Ok(Box::new(BodyStream {
                    object: Some(object),
                    chunk: bytes::Bytes::new(),
                }))
            }
            Err(e) if matches!(e.code.as_deref(), Some("NoSuchKey" | "NotFound")) => Err(
                std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()),
            ),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    }

    fn settle(&mut self, how: Settled) -> Result<Option<String>, String> {
        let record = match how {
            Settled::Vanished => return Ok(None),
            Settled::Unchanged => {
                let Some(previous) = self.previous.take() else {
                    return Err(
                        "unchanged since the previous point, whose manifest does not list it"
                            .into(),
                    );
                };
                if previous.etag != self.listed.etag || previous.size != self.listed.size {
                    return Err(format!(
                        "unchanged since the previous point by size and date, but its ETag is {} where the previous manifest has {}",
                        self.listed.etag, previous.etag
                    ));
                }
                previous
            }
            Settled::Read { bytes, sha256 } => {
                let read = self.read.take().unwrap_or_default();
                ObjectRecord {
                    key: self.listed.key.clone(),
                    size: bytes,
                    etag: read.etag.unwrap_or_else(|| self.listed.etag.clone()),
                    last_modified: read
                        .last_modified
                        .as_deref()
                        .and_then(rfc3339_of_http_date)
                        .unwrap_or_else(|| self.listed.last_modified.clone()),
                    content_type: read.content_type,
                    metadata: read.metadata,
                    tags: BTreeMap::new(),
                    version_id: read.version_id,
                    sha256,
                }
            }
        };
        let client = Arc::clone(&self.client);
        let key = record.key.clone();
        let tags = match block_on_s3(async move { client.object_tags(&key).await })? {
            Ok(tags) => tags,
            // Deleted since it was read: the point keeps what was read.
            Err(e) if matches!(e.code.as_deref(), Some("NoSuchKey" | "NotFound")) => {
                BTreeMap::new()
            }
            Err(e) => return Err(e.to_string()),
        };
        let record = ObjectRecord { tags, ..record };
        serde_json::to_string(&record)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// A GetObject body as a reader.
struct BodyStream {
    object: Option<OpenObject>,
    chunk: bytes::Bytes,
}

impl Read for BodyStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            let Some(mut object) = self.object.take() else {
                return Ok(0);
            };
            let (object, next) = block_on_s3(async move {
                let next = object.chunk().await;
                (object, next)
            })
            .map_err(std::io::Error::other)?;
            match next.map_err(|e| std::io::Error::other(e.to_string()))? {
                Some(chunk) => {
                    self.chunk = chunk;
                    self.object = Some(object);
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

pub(crate) async fn backup(
    resource: &Resource,
    vault: &Vault,
    tags: Vec<String>,
    scratch: &std::path::Path,
) -> Result<BackupOutcome> {
    let place = place(resource)?;
    let arn = resource.resource_arn.to_string();
    let client = Arc::new(S3Client::new(&place.access, &place.bucket).map_err(s3_error(&arn))?);
    let vault = vault.clone();
    let scratch = scratch.to_path_buf();
    let resource_tag = tags.first().cloned().unwrap_or_default();
    blocking(move || {
        let failed = |message: String| DriverError::Resource {
            resource: arn.clone(),
            message,
        };
        let parent = vault
            .storage
            .latest_objects_snapshot(&vault.secret, &resource_tag)?;
        let mut previous = match &parent {
            Some(parent) => Some(ManifestLines::open(manifest_of(
                &vault, &parent.id, &scratch,
            )?)),
            None => None,
        };
        let listing = listing_in_tree_order(
            |token| {
                let client = Arc::clone(&client);
                let prefix = place.prefix.clone();
                wait(async move { client.list_page(&prefix, token.as_deref()).await })
            },
            &scratch,
            RUN_OBJECTS,
        )
        .map_err(failed)?;
        let objects = listing.map(move |listed| {
            let listed = listed?;
            let previous_record = match previous.as_mut() {
                Some(lines) => lines.find(&listed.key)?,
                None => None,
            };
            let mtime: jiff::Timestamp = listed.last_modified.parse().map_err(|e| {
                format!(
                    "{}: LastModified {:?}: {e}",
                    listed.key, listed.last_modified
                )
            })?;
            Ok(TreeObject {
                path: listed.key.clone(),
                size: listed.size,
                mtime,
                change_id: change_id(&listed.etag),
                body: Box::new(Body {
                    client: Arc::clone(&client),
                    listed,
                    previous: previous_record,
                    read: None,
                }),
            })
        });
        let saved = vault.storage.backup_objects(
            &vault.secret,
            Box::new(objects),
            parent.as_ref().map(|p| p.id.as_str()),
            &tags,
        )?;
        tracing::info!(
            resource = %arn,
            objects = saved.objects,
            objects_read = saved.objects_read,
            bytes_read = saved.bytes_read,
            vanished = saved.vanished,
            "bucket backed up"
        );
        let content = vault.storage.content(&vault.secret, &saved.snapshot.id)?;
        Ok(BackupOutcome {
            snapshot_id: saved.snapshot.id,
            bytes: saved.snapshot.bytes,
            bytes_added: saved.snapshot.bytes_added,
            stored_bytes: content.stored_bytes,
            content_sha256: saved.manifest_sha256,
            manifest: None,
        })
    })
    .await
}

/// Sends what is written to an S3 object, a part at a time.
struct ObjectWriter {
    writer: Option<opendal::Writer>,
    buffer: Vec<u8>,
}

impl ObjectWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let Some(mut writer) = self.writer.take() else {
            return Err(std::io::Error::other("the object was closed"));
        };
        let part = std::mem::take(&mut self.buffer);
        let (writer, result) = block_on_s3(async move {
            let result = writer.write(part).await;
            (writer, result)
        })
        .map_err(std::io::Error::other)?;
        result.map_err(|e| std::io::Error::other(e.to_string()))?;
        self.writer = Some(writer);
        Ok(())
    }

    fn close(mut self) -> std::io::Result<()> {
        self.send()?;
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        block_on_s3(async move { writer.close().await })
            .map_err(std::io::Error::other)?
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= WRITE_CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) async fn restore(
    point: &RecoveryPoint,
    resource: &Resource,
    vault: &Vault,
    target: &BucketTarget,
    force: bool,
    scratch: &std::path::Path,
) -> Result<RestoreOutcome> {
    let snapshot = snapshot_of(point)?;
    let source = place(resource)?;
    let (endpoint, access) = match (&target.endpoint, &target.access) {
        (Some(name), Some(access)) => (name.clone(), access.clone()),
        (Some(name), None) if *name != source.endpoint => {
            return Err(DriverError::Refused(format!(
                "the S3 endpoint {name} is not declared; declare it, or restore on the source's endpoint {}",
                source.endpoint
            )))
        }
        _ => (source.endpoint.clone(), source.access.clone()),
    };
    let address = format!("s3://{}/{}", target.bucket, target.prefix);
    let arn = resource.resource_arn.to_string();
    let client = Arc::new(S3Client::new(&access, &target.bucket).map_err(s3_error(&address))?);
    let failed = {
        let address = address.clone();
        move |message: String| DriverError::Resource {
            resource: address.clone(),
            message,
        }
    };
    // The bucket is created when missing; an existing one must hold
    // nothing under the target prefix, unless forced.
    let exists = {
        let client = Arc::clone(&client);
        wait(async move { client.bucket_exists().await }).map_err(&failed)?
    };
    if exists && !force {
        let client = Arc::clone(&client);
        let under = format!(
            "{}{}",
            target.prefix,
            target.select.as_deref().unwrap_or("")
        );
        let page = wait(async move { client.list_page(&under, None).await }).map_err(&failed)?;
        if let Some(first) = page.objects.first() {
            return Err(DriverError::TargetExists(format!(
                "bucket {} on endpoint {endpoint} already holds objects under {:?} ({} first); restore into a new bucket or an empty prefix, or force it to overwrite",
                target.bucket, target.prefix, first.key
            )));
        }
    }
    if !exists {
        let client = Arc::clone(&client);
        wait(async move { client.create_bucket().await }).map_err(&failed)?;
    }
    let operator = coffer_vault::s3_operator(&target.bucket, "/", &access).map_err(&failed)?;
    let vault = vault.clone();
    let scratch = scratch.to_path_buf();
    let (prefix, select) = (target.prefix.clone(), target.select.clone());
    let (objects, bytes) = blocking(move || {
        let mut manifest = ManifestLines::open(manifest_of(&vault, &snapshot, &scratch)?);
        let mut objects = 0u64;
        let mut bytes = 0u64;
        vault.storage.visit_objects(&vault.secret, &snapshot, &mut |mut object| {
            let problem = |message: String| StorageError::Engine {
                location: address.clone(),
                message,
            };
            let record = manifest
                .next()
                .map_err(&problem)?
                .filter(|record| record.key == object.path)
                .ok_or_else(|| {
                    problem(format!(
                        "the manifest of snapshot {snapshot} does not list {} where the tree has it",
                        object.path
                    ))
                })?;
            if select
                .as_deref()
                .is_some_and(|select| !record.key.starts_with(select))
            {
                return Ok(());
            }
            let key = format!("{prefix}{}", record.key);
            let mut options = opendal::options::WriteOptions {
                chunk: Some(WRITE_CHUNK),
                ..Default::default()
            };
            options.content_type.clone_from(&record.content_type);
            if !record.metadata.is_empty() {
                options.user_metadata = Some(record.metadata.clone().into_iter().collect());
            }
            let op = operator.clone();
            let writer_key = key.clone();
            let writer = block_on_s3(async move { op.writer_options(&writer_key, options).await })
                .map_err(&problem)?
                .map_err(|e| problem(format!("{key}: {e}")))?;
            let mut out = ObjectWriter {
                writer: Some(writer),
                buffer: Vec::new(),
            };
            bytes += object.read_into(&mut out)?;
            out.close()
                .map_err(|e| problem(format!("{key}: {e}")))?;
            if !record.tags.is_empty() {
                let client = Arc::clone(&client);
                let tags = record.tags.clone();
                let tag_key = key.clone();
                wait(async move { client.put_object_tags(&tag_key, &tags).await })
                    .map_err(&problem)?;
            }
            objects += 1;
            Ok(())
        })?;
        Ok((objects, bytes))
    })
    .await?;
    if objects == 0 {
        if let Some(select) = &target.select {
            return Err(DriverError::Refused(format!(
                "recovery point {} of {arn} holds no key starting with {select:?}",
                point.recovery_point_id
            )));
        }
    }
    Ok(RestoreOutcome {
        created: format!(
            "{objects} object(s) in s3://{}/{} on endpoint {endpoint}",
            target.bucket, target.prefix
        ),
        bytes,
        notes: Vec::new(),
    })
}

pub(crate) async fn validate(
    point: &RecoveryPoint,
    vault: &Vault,
    scratch: &std::path::Path,
    validation: &mut Validation,
) -> Result<()> {
    let snapshot = snapshot_of(point)?;
    let vault = vault.clone();
    let scratch = scratch.to_path_buf();
    let (checked, problems, manifest_sha256) = blocking(move || {
        let mut file = manifest_of(&vault, &snapshot, &scratch)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut HashingWriter(&mut hasher)).map_err(|source| {
            StorageError::Io {
                path: "the manifest's scratch copy".into(),
                source,
            }
        })?;
        file.rewind().map_err(|source| StorageError::Io {
            path: "the manifest's scratch copy".into(),
            source,
        })?;
        let mut manifest = ManifestLines::open(file);
        let mut problems = Vec::new();
        let mut checked = 0u64;
        vault
            .storage
            .visit_objects(&vault.secret, &snapshot, &mut |mut object| {
                let record = match manifest.next() {
                    Ok(Some(record)) if record.key == object.path => record,
                    Ok(Some(record)) => {
                        problems.push(format!(
                            "{}: in the tree, but the manifest lists {} there",
                            object.path, record.key
                        ));
                        return Ok(());
                    }
                    Ok(None) => {
                        problems.push(format!("{}: in the tree, not in the manifest", object.path));
                        return Ok(());
                    }
                    Err(message) => {
                        problems.push(message);
                        return Ok(());
                    }
                };
                let mut object_hasher = Sha256::new();
                let read = object.read_into(&mut HashingWriter(&mut object_hasher))?;
                let sha256 = hex::encode(object_hasher.finalize());
                if read != record.size {
                    problems.push(format!(
                        "{}: {read} bytes read back, the manifest records {}",
                        record.key, record.size
                    ));
                } else if sha256 != record.sha256 {
                    problems.push(format!(
                        "{}: SHA-256 {sha256} read back, the manifest records {}",
                        record.key, record.sha256
                    ));
                } else {
                    checked += 1;
                }
                Ok(())
            })?;
        loop {
            match manifest.next() {
                Ok(Some(record)) => {
                    problems.push(format!("{}: in the manifest, not in the tree", record.key));
                }
                Ok(None) => break,
                Err(message) => {
                    problems.push(message);
                    break;
                }
            }
        }
        Ok((checked, problems, hex::encode(hasher.finalize())))
    })
    .await?;
    match &point.content_sha256 {
        Some(recorded) if *recorded == manifest_sha256 => validation
            .checked
            .push(format!("manifest SHA-256 {manifest_sha256} as recorded")),
        Some(recorded) => validation.problems.push(format!(
            "manifest SHA-256 is {manifest_sha256}, the recovery point recorded {recorded}"
        )),
        None => validation
            .problems
            .push("the recovery point recorded no content digest".into()),
    }
    validation.checked.push(format!(
        "{checked} object(s) read back, each size and SHA-256 as the manifest records"
    ));
    validation.problems.extend(problems);
    Ok(())
}

struct HashingWriter<'a>(&'a mut Sha256);

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_become_rfc3339() {
        assert_eq!(
            rfc3339_of_http_date("Tue, 24 Nov 2026 10:00:00 GMT").as_deref(),
            Some("2026-11-24T10:00:00Z")
        );
        assert_eq!(rfc3339_of_http_date("yesterday"), None);
    }

    #[test]
    fn a_changed_etag_changes_the_change_id() {
        assert_ne!(change_id("\"a\""), change_id("\"b\""));
        assert_ne!(change_id(""), 0);
    }

    #[test]
    fn a_listing_larger_than_a_run_is_merged_in_tree_order() {
        use coffer_vault::s3_client::ListPage;
        // Keys in S3's order (bytes), three pages of three.
        let keys = [
            "a-b/c",
            "a.txt",
            "a/x",
            "a/y/z",
            "b",
            "b0",
            "b/0",
            "c",
            "logs-old/1",
        ];
        let mut sorted_keys = keys.to_vec();
        sorted_keys.sort_unstable();
        let pages: Vec<Vec<&str>> = sorted_keys.chunks(3).map(<[&str]>::to_vec).collect();
        let listed = |key: &str| Listed {
            key: key.into(),
            size: 1,
            etag: Some(format!("\"{key}\"")),
            last_modified: Some("2026-11-24T10:00:00.000Z".into()),
        };
        let scratch = tempfile::tempdir().unwrap();
        for run_objects in [2, 4, 100] {
            let page = |token: Option<String>| -> Result<ListPage, String> {
                let index: usize = token.map_or(0, |t| t.parse().unwrap());
                Ok(ListPage {
                    objects: pages[index].iter().map(|k| listed(k)).collect(),
                    next: (index + 1 < pages.len()).then(|| (index + 1).to_string()),
                })
            };
            let merged: Vec<String> = listing_in_tree_order(page, scratch.path(), run_objects)
                .unwrap()
                .map(|o| o.unwrap().key)
                .collect();
            let mut expected = keys.to_vec();
            expected.sort_by(|a, b| tree_order(a, b));
            assert_eq!(merged, expected, "runs of {run_objects}");
        }
    }

    #[test]
    fn manifest_lines_are_found_in_tree_order_and_skipped_past() {
        let record = |key: &str| ObjectRecord {
            key: key.into(),
            size: 1,
            etag: "\"e\"".into(),
            last_modified: "2026-11-24T10:00:00Z".into(),
            content_type: None,
            metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
            version_id: None,
            sha256: String::new(),
        };
        let mut file = tempfile::tempfile().unwrap();
        for key in ["a/x", "a.txt", "b", "d"] {
            writeln!(file, "{}", serde_json::to_string(&record(key)).unwrap()).unwrap();
        }
        file.rewind().unwrap();
        let mut lines = ManifestLines::open(file);
        assert_eq!(
            lines.find("a/x").unwrap().map(|r| r.key).as_deref(),
            Some("a/x")
        );
        // "a.txt" is passed over; "c" is absent and "d" stays for later.
        assert_eq!(
            lines.find("b").unwrap().map(|r| r.key).as_deref(),
            Some("b")
        );
        assert_eq!(lines.find("c").unwrap(), None);
        assert_eq!(
            lines.find("d").unwrap().map(|r| r.key).as_deref(),
            Some("d")
        );
        assert_eq!(lines.find("e").unwrap(), None);
    }
}
