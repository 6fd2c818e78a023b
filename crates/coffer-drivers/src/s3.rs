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
//! file that vanished, and named in the outcome's warnings.
//!
//! With `versions: all` in the inventory (connection `versions=all`), the
//! bucket is listed with ListObjectVersions instead, and every version,
//! the current one too, is stored at `history/<key>/<version ID>`, read by
//! its version ID (a delete marker is an empty file); its record says
//! whether it is the latest, a delete marker, and how many of the key's
//! versions are newer. A version's path never changes, so the next backup
//! reads only new versions. Restore writes the current versions, every
//! version of each key oldest first ([`RestoreVersions::All`]), or one.
//!
//! Restore writes each object (content type, user metadata, then its tags)
//! into a bucket, created when missing, under a prefix, on the source's
//! endpoint or another; an existing bucket holding objects under the
//! target prefix is refused without force. One key, or a key prefix, may
//! be restored alone. Validation reads every object back from the vault
//! and compares its size and SHA-256 with the manifest, and the manifest
//! with the point's digest.
//!
//! Keys under [`SCRATCH_KEY_PREFIX`] at a bucket's root are restore tests'
//! scratch prefixes: a backup never lists them, and
//! [`remove_scratch_prefix`] deletes one with every version and delete
//! marker under it.

use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::sync::Arc;

use coffer_model::{RecoveryPoint, Resource};
use coffer_vault::s3_client::{
    Listed, ListedVersion, ObjectVersion, OpenObject, S3Client, S3Error, VersionMarker,
};
use coffer_vault::{
    block_on_s3, tree_order, ObjectBody, S3Access, Settled, StorageError, TreeObject, HISTORY_ROOT,
    OBJECTS_MANIFEST, OBJECTS_ROOT,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    blocking, connection, parse_secret_ref, resolve_secret, snapshot_of, BackupOutcome,
    DriverError, RestoreOutcome, Result, Validation, Vault,
};

/// How the scratch prefixes restore tests restore into begin, at the root
/// of a bucket (`coffer-restore-test-<id>/`). A backup never lists a key
/// that starts with it, so a backup running while a test restores into the
/// bucket it backs up captures none of the test's objects.
pub const SCRATCH_KEY_PREFIX: &str = "coffer-restore-test-";

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
    /// Whether this is the key's newest version; recorded when the point
    /// holds versions (the resource's `versions: all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_latest: Option<bool>,
    /// A delete marker (no bytes), not a version of the object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// For a version of a point that holds versions (each stored at
    /// `history/<key>/<version ID>`, the current one too): how many
    /// versions of the key were newer when it was backed up (0: the
    /// newest, maybe a delete marker). Restore writes a key's versions
    /// from the greatest down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_versions: Option<u64>,
}

impl ObjectRecord {
    /// Whether the record is of the history (a point holding versions)
    /// rather than a current object of a point that does not.
    pub fn in_history(&self) -> bool {
        self.newer_versions.is_some()
    }

    /// Its path in the point's tree (`objects/<key>` or
    /// `history/<key>/<version ID>`), by which the manifest is ordered.
    fn tree_path(&self) -> String {
        if self.in_history() {
            format!(
                "{HISTORY_ROOT}/{}/{}",
                self.key,
                self.version_id.as_deref().unwrap_or("null")
            )
        } else {
            format!("{OBJECTS_ROOT}/{}", self.key)
        }
    }
}

/// Where a bucket resource lives: its endpoint, bucket and key prefix.
#[derive(Clone, Debug)]
pub struct BucketPlace {
    /// The endpoint's name in the inventory.
    pub endpoint: String,
    pub access: S3Access,
    pub bucket: String,
    pub prefix: String,
    /// Back up every version and delete marker (the inventory entry's
    /// `versions: all`), not only the current objects.
    pub versions: bool,
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
        versions: resource
            .connection
            .get("versions")
            .is_some_and(|versions| versions == "all"),
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
    /// Which versions of each key are written.
    pub versions: RestoreVersions,
}

/// Which versions of each key a bucket restore writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RestoreVersions {
    /// The version that was current at the backup (none for a key whose
    /// newest entry was a delete marker).
    #[default]
    Current,
    /// Every version the point holds, each key's oldest first, its delete
    /// markers included, so the target's version history has the same
    /// order; the target bucket must have versioning on (a new one gets it).
    All,
    /// This version of the key `select` names, written as the key's
    /// current object.
    One(String),
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
    /// Listed by ListObjectVersions: the version to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_latest: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    delete_marker: bool,
    /// Versions of the key listed before it (newer); `Some` for history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newer_versions: Option<u64>,
}

impl ListedObject {
    fn from_listed(listed: Listed) -> ListedObject {
        ListedObject {
            key: listed.key,
            size: listed.size,
            etag: listed.etag.unwrap_or_default(),
            last_modified: listed.last_modified.unwrap_or_default(),
            version_id: None,
            is_latest: None,
            delete_marker: false,
            newer_versions: None,
        }
    }

    /// A listed version, `newer` versions of its key listed before it.
    /// Every version is history, the current one included: its path in
    /// the tree never changes, so the next backup finds it unchanged.
    fn from_version(listed: ListedVersion, newer: u64) -> ListedObject {
        ListedObject {
            key: listed.key,
            size: listed.size,
            etag: listed.etag.unwrap_or_default(),
            last_modified: listed.last_modified.unwrap_or_default(),
            version_id: Some(listed.version_id),
            is_latest: Some(listed.is_latest),
            delete_marker: listed.delete_marker,
            newer_versions: Some(newer),
        }
    }

    /// Its path in the point's tree.
    fn tree_path(&self) -> String {
        match self.newer_versions {
            Some(_) => format!(
                "{HISTORY_ROOT}/{}/{}",
                self.key,
                self.version_id.as_deref().unwrap_or("null")
            ),
            None => format!("{OBJECTS_ROOT}/{}", self.key),
        }
    }
}

/// Pages of ListObjectVersions as listed objects, each version knowing
/// how many of its key's versions are newer. A key's entries are put in
/// order once all are listed (a key may go on in the next page): newest
/// first by the IsLatest flag and LastModified, listing order among
/// equals. S3 lists them so already; some servers (moto) list a page's
/// delete markers after its versions.
#[derive(Default)]
struct VersionCounter {
    /// Entries of the keys not yet complete, with their listing order.
    waiting: BTreeMap<String, Vec<(u64, ListedVersion)>>,
    listed: u64,
}

impl VersionCounter {
    /// The entries of the keys complete after this page (all of them
    /// after the `last` page).
    fn count(&mut self, versions: Vec<ListedVersion>, last: bool) -> Vec<ListedObject> {
        for version in versions {
            self.listed += 1;
            self.waiting
                .entry(version.key.clone())
                .or_default()
                .push((self.listed, version));
        }
        let going_on = if last {
            BTreeMap::new()
        } else {
            // The greatest key may go on in the next page.
            match self.waiting.pop_last() {
                Some((key, entries)) => BTreeMap::from([(key, entries)]),
                None => BTreeMap::new(),
            }
        };
        let complete = std::mem::replace(&mut self.waiting, going_on);
        let mut objects = Vec::new();
        for (_, mut entries) in complete {
            // Dates compared as instants: moto writes a delete marker's
            // without its milliseconds.
            let instant = |version: &ListedVersion| {
                version
                    .last_modified
                    .as_deref()
                    .and_then(|text| text.parse::<jiff::Timestamp>().ok())
            };
            entries.sort_by(|(a_order, a), (b_order, b)| {
                b.is_latest
                    .cmp(&a.is_latest)
                    .then_with(|| instant(b).cmp(&instant(a)))
                    .then(a_order.cmp(b_order))
            });
            for (newer, (_, version)) in (0u64..).zip(entries) {
                objects.push(ListedObject::from_version(version, newer));
            }
        }
        objects
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
    /// The object's tree path, by which runs merge.
    path: String,
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
        tree_order(&other.path, &self.path).then(other.run.cmp(&self.run))
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
                path: object.tree_path(),
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

/// Sorts listed objects by their tree paths.
fn sort_in_tree_order(batch: &mut [ListedObject]) {
    batch.sort_by_cached_key(|object| TreeKey(object.tree_path()));
}

/// A tree path ordered as trees order entries.
#[derive(PartialEq, Eq)]
struct TreeKey(String);

impl PartialOrd for TreeKey {
    fn partial_cmp(&self, other: &TreeKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TreeKey {
    fn cmp(&self, other: &TreeKey) -> std::cmp::Ordering {
        tree_order(&self.0, &other.0)
    }
}

/// Every object `page` lists (given the continuation of the page before,
/// `None` for the first; it answers a page and the next continuation), in
/// tree order of their tree paths, with at most `run_objects` listed
/// objects held in memory (more are sorted in runs spilled to `scratch`
/// and merged).
fn listing_in_tree_order<T>(
    mut page: impl FnMut(Option<T>) -> Result<(Vec<ListedObject>, Option<T>), String>,
    scratch: &std::path::Path,
    run_objects: usize,
) -> Result<Listing, String> {
    let mut batch: Vec<ListedObject> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut token: Option<T> = None;
    let spill = |batch: &mut Vec<ListedObject>| -> Result<Run, String> {
        sort_in_tree_order(batch);
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
        let (objects, next) = page(token.take())?;
        batch.extend(objects);
        if batch.len() >= run_objects {
            runs.push(spill(&mut batch)?);
        }
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    if runs.is_empty() {
        sort_in_tree_order(&mut batch);
        return Ok(Box::new(batch.into_iter().map(Ok)));
    }
    if !batch.is_empty() {
        runs.push(spill(&mut batch)?);
    }
    let mut heap = BinaryHeap::new();
    for (run, reader) in runs.iter_mut().enumerate() {
        if let Some(object) = reader.next()? {
            heap.push(Head {
                path: object.tree_path(),
                object,
                run,
            });
        }
    }
    Ok(Box::new(Merge {
        runs,
        heap,
        failed: false,
    }))
}

/// Which records of a manifest a reader yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Every,
    /// The current objects (the tree's `objects/`).
    Objects,
    /// Noncurrent versions and delete markers (the tree's `history/`).
    History,
}

/// A manifest read line by line, in tree order.
struct ManifestLines {
    lines: std::io::Lines<BufReader<std::fs::File>>,
    current: Option<ObjectRecord>,
    part: Part,
}

impl ManifestLines {
    fn open(file: std::fs::File) -> ManifestLines {
        ManifestLines::open_part(file, Part::Every)
    }

    fn open_part(file: std::fs::File, part: Part) -> ManifestLines {
        ManifestLines {
            lines: BufReader::new(file).lines(),
            current: None,
            part,
        }
    }

    fn next(&mut self) -> Result<Option<ObjectRecord>, String> {
        if let Some(record) = self.current.take() {
            return Ok(Some(record));
        }
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            let line = line.map_err(|e| format!("reading the manifest: {e}"))?;
            let record: ObjectRecord = serde_json::from_str(&line)
                .map_err(|e| format!("the manifest has a line that is no object record: {e}"))?;
            let wanted = match self.part {
                Part::Every => true,
                Part::Objects => !record.in_history(),
                Part::History => record.in_history(),
            };
            if wanted {
                return Ok(Some(record));
            }
        }
    }

    /// The record at the tree path `path`, skipping records before it in
    /// tree order.
    fn find(&mut self, path: &str) -> Result<Option<ObjectRecord>, String> {
        while let Some(record) = self.next()? {
            match tree_order(&record.tree_path(), path) {
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
    /// Keys listed but gone when read, for the backup's warnings.
    vanished: Arc<std::sync::Mutex<Vec<String>>>,
    before_read: Option<BeforeRead>,
}

/// Called with an object's key just before its body is read, after the
/// listing: what changes the bucket meanwhile, in tests of objects that
/// change during a backup.
pub type BeforeRead = Arc<dyn Fn(&str) + Send + Sync>;

impl ObjectBody for Body {
    fn open(&mut self) -> std::io::Result<Box<dyn Read + Send>> {
        if self.listed.delete_marker {
            // A delete marker has no bytes: an empty file records it.
            return Ok(Box::new(std::io::empty()));
        }
        if let Some(before_read) = &self.before_read {
            before_read(&self.listed.key);
        }
        #[cfg(feature = "failpoints")]
        fail::fail_point!("s3-before-read");
        let client = Arc::clone(&self.client);
        let key = self.listed.key.clone();
        let version_id = self.listed.version_id.clone();
        // A listed version is read by its ID: its bytes are the version
        // listed, whatever happened to the key since.
        let opened = block_on_s3(async move {
            match version_id {
                Some(version_id) => client.open_version(&key, &version_id).await,
                None => client.open(&key).await,
            }
        })
        .map_err(std::io::Error::other)?;
        match opened {
            Ok(object) => {
                self.read = Some(object.described.clone());
                Ok(Box::new(BodyStream {
                    object: Some(object),
                    chunk: bytes::Bytes::new(),
                }))
            }
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some("NoSuchKey" | "NotFound" | "NoSuchVersion")
                ) =>
            {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    e.to_string(),
                ))
            }
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    }

    fn settle(&mut self, how: Settled) -> Result<Option<String>, String> {
        let record = match how {
            Settled::Vanished => {
                // As restic skips a file deleted while it ran: the point
                // holds what was there, and says what it left out.
                tracing::warn!(key = %self.listed.key, version = ?self.listed.version_id, "object listed but gone when read: left out of the point");
                self.vanished
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(self.listed.key.clone());
                return Ok(None);
            }
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
                // A version's bytes never change, but its place in the
                // key's history does.
                ObjectRecord {
                    is_latest: self.listed.is_latest,
                    newer_versions: self.listed.newer_versions,
                    ..previous
                }
            }
            Settled::Read { bytes, sha256 } if self.listed.delete_marker => ObjectRecord {
                key: self.listed.key.clone(),
                size: bytes,
                etag: String::new(),
                last_modified: self.listed.last_modified.clone(),
                content_type: None,
                metadata: BTreeMap::new(),
                tags: BTreeMap::new(),
                version_id: self.listed.version_id.clone(),
                sha256,
                is_latest: self.listed.is_latest,
                delete_marker: true,
                newer_versions: self.listed.newer_versions,
            },
            Settled::Read { bytes, sha256 } => {
                // Every field from the GetObject answer whose bytes were
                // read, never from the listing: the object may have
                // changed in between.
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
                    version_id: read.version_id.or_else(|| self.listed.version_id.clone()),
                    sha256,
                    is_latest: self.listed.is_latest,
                    delete_marker: false,
                    newer_versions: self.listed.newer_versions,
                }
            }
        };
        if record.delete_marker {
            return serde_json::to_string(&record)
                .map(Some)
                .map_err(|e| e.to_string());
        }
        let client = Arc::clone(&self.client);
        let key = record.key.clone();
        let version_id = self.listed.version_id.clone();
        let tags = match block_on_s3(async move {
            match version_id {
                Some(version_id) => client.object_version_tags(&key, &version_id).await,
                None => client.object_tags(&key).await,
            }
        })? {
            Ok(tags) => tags,
            // Deleted since it was read: the point keeps what was read.
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some("NoSuchKey" | "NotFound" | "NoSuchVersion")
                ) =>
            {
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
    backup_with(resource, vault, tags, scratch, None).await
}

/// Backs up a bucket as [`crate::backup`] does, calling `before_read`
/// before each object's body is read.
///
/// # Errors
/// As [`crate::backup`].
pub async fn backup_with(
    resource: &Resource,
    vault: &Vault,
    tags: Vec<String>,
    scratch: &std::path::Path,
    before_read: Option<BeforeRead>,
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
        let listing = if place.versions {
            let mut counter = VersionCounter::default();
            listing_in_tree_order(
                |marker: Option<VersionMarker>| {
                    let client = Arc::clone(&client);
                    let prefix = place.prefix.clone();
                    let page = wait(async move {
                        client.list_versions_page(&prefix, marker.as_ref()).await
                    })?;
                    let last = page.next.is_none();
                    let mut versions = counter.count(page.versions, last);
                    versions.retain(|listed| !is_scratch_key(&listed.key));
                    Ok((versions, page.next))
                },
                &scratch,
                RUN_OBJECTS,
            )
        } else {
            listing_in_tree_order(
                |token: Option<String>| {
                    let client = Arc::clone(&client);
                    let prefix = place.prefix.clone();
                    let page =
                        wait(async move { client.list_page(&prefix, token.as_deref()).await })?;
                    let objects = page
                        .objects
                        .into_iter()
                        .filter(|listed| !is_scratch_key(&listed.key))
                        .map(ListedObject::from_listed);
                    Ok((objects.collect(), page.next))
                },
                &scratch,
                RUN_OBJECTS,
            )
        }
        .map_err(failed)?;
        let vanished = Arc::new(std::sync::Mutex::new(Vec::new()));
        let vanished_keys = Arc::clone(&vanished);
        let objects = listing.map(move |listed| {
            let listed = listed?;
            let previous_record = match previous.as_mut() {
                Some(lines) => lines.find(&listed.tree_path())?,
                None => None,
            };
            let mtime: jiff::Timestamp = listed.last_modified.parse().map_err(|e| {
                format!(
                    "{}: LastModified {:?}: {e}",
                    listed.key, listed.last_modified
                )
            })?;
            let history = listed.newer_versions.is_some();
            let path = if history {
                format!(
                    "{}/{}",
                    listed.key,
                    listed.version_id.as_deref().unwrap_or("null")
                )
            } else {
                listed.key.clone()
            };
            Ok(TreeObject {
                path,
                history,
                size: listed.size,
                mtime,
                change_id: change_id(&listed.etag),
                body: Box::new(Body {
                    client: Arc::clone(&client),
                    listed,
                    previous: previous_record,
                    read: None,
                    vanished: Arc::clone(&vanished_keys),
                    before_read: before_read.clone(),
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
        let vanished = std::mem::take(
            &mut *vanished
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        Ok(BackupOutcome {
            snapshot_id: saved.snapshot.id,
            bytes: saved.snapshot.bytes,
            bytes_added: saved.snapshot.bytes_added,
            stored_bytes: content.stored_bytes,
            content_sha256: saved.manifest_sha256,
            manifest: None,
            warnings: vanished_warning(&vanished).into_iter().collect(),
        })
    })
    .await
}

/// Whether `key` lies in a restore test's scratch prefix.
fn is_scratch_key(key: &str) -> bool {
    key.starts_with(SCRATCH_KEY_PREFIX)
}

/// Removes a restore test's scratch prefix from `bucket` (reached with
/// `access`): every object under it and, in a bucket that has or had
/// versioning, every version and delete marker under it, so the bucket's
/// history keeps nothing of the test, and every multipart upload begun
/// under it and not completed (an object a killed test was writing) is
/// aborted. A bucket or prefix already gone is removed. Returns how many
/// objects, versions, delete markers and uploads were deleted.
///
/// # Errors
/// A prefix that is not a scratch prefix (`coffer-restore-test-<id>/`),
/// refused before anything is deleted; what S3 refuses (Object Lock
/// retention, access), or something still listed after the deletion.
pub async fn remove_scratch_prefix(access: &S3Access, bucket: &str, prefix: &str) -> Result<u64> {
    if !is_scratch_key(prefix)
        || !prefix.ends_with('/')
        || prefix.len() <= SCRATCH_KEY_PREFIX.len() + 1
    {
        return Err(DriverError::Refused(format!(
            "{prefix:?} is not a restore test's scratch prefix ({SCRATCH_KEY_PREFIX}<id>/); nothing was deleted"
        )));
    }
    let address = format!("s3://{bucket}/{prefix}");
    let client = Arc::new(S3Client::new(access, bucket).map_err(s3_error(&address))?);
    let prefix = prefix.to_string();
    blocking(move || {
        let failed = |message: String| DriverError::Resource {
            resource: address.clone(),
            message,
        };
        let exists = {
            let client = Arc::clone(&client);
            wait(async move { client.bucket_exists().await }).map_err(failed)?
        };
        if !exists {
            return Ok(0);
        }
        let versioned = {
            let client = Arc::clone(&client);
            wait(async move { client.versioning().await }).map_err(failed)?
        }
        .is_some();
        let mut deleted = 0u64;
        // Each page is listed from the start again after its deletions
        // (never from a marker just deleted, which servers treat
        // differently); a first entry seen twice was not deleted.
        if versioned {
            let mut first_seen: Option<(String, String)> = None;
            loop {
                let page = {
                    let (client, prefix) = (Arc::clone(&client), prefix.clone());
                    wait(async move { client.list_versions_page(&prefix, None).await })
                        .map_err(failed)?
                };
                let Some(first) = page.versions.first() else {
                    break;
                };
                let first = (first.key.clone(), first.version_id.clone());
                if first_seen.as_ref() == Some(&first) {
                    return Err(failed(format!(
                        "version {} of {} is still there after the deletion",
                        first.1, first.0
                    )));
                }
                first_seen = Some(first);
                for version in page.versions {
                    let client = Arc::clone(&client);
                    wait(async move {
                        client
                            .delete_object_version(&version.key, &version.version_id)
                            .await
                    })
                    .map_err(failed)?;
                    deleted += 1;
                }
            }
        } else {
            let mut first_seen: Option<String> = None;
            loop {
                let page = {
                    let (client, prefix) = (Arc::clone(&client), prefix.clone());
                    wait(async move { client.list_page(&prefix, None).await }).map_err(failed)?
                };
                let Some(first) = page.objects.first() else {
                    break;
                };
                if first_seen.as_deref() == Some(first.key.as_str()) {
                    return Err(failed(format!(
                        "{} is still there after the deletion",
                        first.key
                    )));
                }
                first_seen = Some(first.key.clone());
                for object in page.objects {
                    let client = Arc::clone(&client);
                    wait(async move { client.delete_object(&object.key).await }).map_err(failed)?;
                    deleted += 1;
                }
            }
        }
        // An object a killed test was writing in parts leaves an upload
        // no listing shows, its parts still stored: aborted too.
        let mut first_seen: Option<String> = None;
        loop {
            let pending = {
                let (client, prefix) = (Arc::clone(&client), prefix.clone());
                wait(async move { client.pending_uploads(&prefix).await }).map_err(failed)?
            };
            let Some(first) = pending.first() else {
                break;
            };
            if first_seen.as_deref() == Some(first.upload_id.as_str()) {
                return Err(failed(format!(
                    "the upload {} of {} is still there after it was aborted",
                    first.upload_id, first.key
                )));
            }
            first_seen = Some(first.upload_id.clone());
            for upload in pending {
                let client = Arc::clone(&client);
                wait(async move { client.abort_upload(&upload.key, &upload.upload_id).await })
                    .map_err(failed)?;
                deleted += 1;
            }
        }
        Ok(deleted)
    })
    .await
}

/// Keys shown by name in the warning about objects left out.
const VANISHED_NAMED: usize = 10;

/// The warning about objects listed but gone when read, if any.
fn vanished_warning(keys: &[String]) -> Option<String> {
    let (first, rest) = keys.split_at_checked(VANISHED_NAMED).unwrap_or((keys, &[]));
    let named = first.join(", ");
    match (keys.len(), rest.len()) {
        (0, _) => None,
        (n, 0) => Some(format!(
            "{n} object(s) deleted between the listing and the read, left out of the point: {named}"
        )),
        (n, more) => Some(format!(
            "{n} object(s) deleted between the listing and the read, left out of the point: {named} and {more} more"
        )),
    }
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
    if matches!(target.versions, RestoreVersions::One(_)) && target.select.is_none() {
        return Err(DriverError::Refused(
            "a version is restored for one key: name the key as well as its version ID".into(),
        ));
    }
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
    // A restore test's scratch objects are deleted when it ends: a bucket
    // that retains every new object could not let them go.
    if exists && is_scratch_key(&target.prefix) {
        let client = Arc::clone(&client);
        let lock = wait(async move { client.object_lock().await }).map_err(&failed)?;
        if let Some(retention) = lock.and_then(|l| l.default_retention) {
            let span = if retention.years > 0 {
                format!("{} year(s)", retention.years)
            } else {
                format!("{} day(s)", retention.days)
            };
            return Err(DriverError::Refused(format!(
                "bucket {} on endpoint {endpoint} gives every new object a default Object Lock retention ({} for {span}), so a restore test's scratch objects could not be deleted; name a scratch bucket without one (TargetBucket, and TargetEndpoint if it is elsewhere) in the selection's RestoreMetadataOverrides",
                target.bucket,
                retention.mode.as_str()
            )));
        }
    }
    if !exists {
        let client = Arc::clone(&client);
        wait(async move { client.create_bucket().await }).map_err(&failed)?;
    }
    if target.versions == RestoreVersions::All {
        // A version history needs versioning: a new bucket gets it; an
        // existing one must have it already (turning it on for another
        // owner's bucket is not a restore's decision).
        let status = if exists {
            let client = Arc::clone(&client);
            wait(async move { client.versioning().await }).map_err(&failed)?
        } else {
            None
        };
        if status.as_deref() != Some("Enabled") {
            if exists {
                return Err(DriverError::Refused(format!(
                    "bucket {} on endpoint {endpoint} has no versioning ({}), so it cannot hold the versions of the point; turn versioning on, restore into a new bucket, or restore the current versions only",
                    target.bucket,
                    status.as_deref().unwrap_or("never enabled")
                )));
            }
            let client = Arc::clone(&client);
            wait(async move { client.enable_versioning().await }).map_err(&failed)?;
        }
    }
    let operator = coffer_vault::s3_operator(&target.bucket, "/", &access).map_err(&failed)?;
    let vault = vault.clone();
    let scratch = scratch.to_path_buf();
    let writer = RecordWriter {
        operator,
        client,
        prefix: target.prefix.clone(),
        address: address.clone(),
    };
    let (select, versions) = (target.select.clone(), target.versions.clone());
    let (objects, bytes) = blocking(move || {
        let problem = |message: String| StorageError::Engine {
            location: address.clone(),
            message,
        };
        let selected = |record: &ObjectRecord| {
            select
                .as_deref()
                .is_none_or(|select| record.key.starts_with(select))
        };
        let mut objects = 0u64;
        let mut bytes = 0u64;
        // The version `One` names: in the history, or the current object
        // of a point without versions.
        let wanted = |record: &ObjectRecord| match &versions {
            RestoreVersions::One(version_id) => {
                select.as_deref() == Some(record.key.as_str())
                    && record.version_id.as_deref() == Some(version_id.as_str())
                    && !record.delete_marker
            }
            RestoreVersions::Current => {
                selected(record)
                    && !record.delete_marker
                    && record.newer_versions.is_none_or(|newer| newer == 0)
            }
            RestoreVersions::All => selected(record),
        };
        // Each key's versions oldest first: a key's versions are one run of
        // the history tree (its folder), so a key is written once the visit
        // leaves it; its versions wait in scratch files until then.
        let mut waiting: BTreeMap<String, Vec<(ObjectRecord, std::fs::File)>> = BTreeMap::new();
        let flush = |versions: Vec<(ObjectRecord, std::fs::File)>,
                     objects: &mut u64,
                     bytes: &mut u64|
         -> Result<(), StorageError> {
            let mut versions = versions;
            versions.sort_by_key(|(record, _)| {
                std::cmp::Reverse(record.newer_versions.unwrap_or_default())
            });
            for (record, mut file) in versions {
                file.rewind()
                    .map_err(|e| problem(format!("{}: {e}", record.key)))?;
                *bytes += writer.put(&record, &mut |out| {
                    std::io::copy(&mut file, out).map_err(|source| StorageError::Io {
                        path: "a scratch copy of a version".into(),
                        source,
                    })
                })?;
                *objects += 1;
            }
            Ok(())
        };
        let mut manifest =
            ManifestLines::open_part(manifest_of(&vault, &snapshot, &scratch)?, Part::History);
        visit_part(
            &vault,
            &snapshot,
            Part::History,
            &mut |record, object| {
                if versions != RestoreVersions::All {
                    if wanted(&record) {
                        bytes += writer.put(&record, &mut |out| object.read_into(out))?;
                        objects += 1;
                    }
                    return Ok(());
                }
                let done: Vec<String> = waiting
                    .keys()
                    .filter(|key| !object.path.starts_with(&format!("{key}/")))
                    .cloned()
                    .collect();
                for key in done {
                    if let Some(versions) = waiting.remove(&key) {
                        flush(versions, &mut objects, &mut bytes)?;
                    }
                }
                if wanted(&record) {
                    let io = |source| StorageError::Io {
                        path: format!("a scratch file in {}", scratch.display()),
                        source,
                    };
                    let mut file = tempfile::tempfile_in(&scratch).map_err(io)?;
                    object.read_into(&mut file)?;
                    waiting
                        .entry(record.key.clone())
                        .or_default()
                        .push((record, file));
                }
                Ok(())
            },
            &mut manifest,
            &problem,
        )?;
        for (_, versions) in std::mem::take(&mut waiting) {
            flush(versions, &mut objects, &mut bytes)?;
        }
        let mut manifest =
            ManifestLines::open_part(manifest_of(&vault, &snapshot, &scratch)?, Part::Objects);
        visit_part(
            &vault,
            &snapshot,
            Part::Objects,
            &mut |record, object| {
                if wanted(&record) {
                    bytes += writer.put(&record, &mut |out| object.read_into(out))?;
                    objects += 1;
                }
                Ok(())
            },
            &mut manifest,
            &problem,
        )?;
        Ok((objects, bytes))
    })
    .await?;
    if objects == 0 {
        if let RestoreVersions::One(version_id) = &target.versions {
            return Err(DriverError::Refused(format!(
                "recovery point {} of {arn} holds no version {version_id:?} of the key {:?}",
                point.recovery_point_id,
                target.select.as_deref().unwrap_or_default()
            )));
        }
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

/// Visits every object of one part of a point's tree with its manifest
/// record, which must be at the same place.
fn visit_part(
    vault: &Vault,
    snapshot: &str,
    part: Part,
    visit: &mut dyn FnMut(
        ObjectRecord,
        &mut coffer_vault::StoredObject<'_>,
    ) -> Result<(), StorageError>,
    manifest: &mut ManifestLines,
    problem: &dyn Fn(String) -> StorageError,
) -> Result<(), StorageError> {
    let mut each = |mut object: coffer_vault::StoredObject<'_>| {
        let record = manifest
            .next()
            .map_err(problem)?
            .filter(|record| record_path(record) == object.path)
            .ok_or_else(|| {
                problem(format!(
                    "the manifest of snapshot {snapshot} does not list {} where the tree has it",
                    object.path
                ))
            })?;
        visit(record, &mut object)
    };
    match part {
        Part::History => vault
            .storage
            .visit_history(&vault.secret, snapshot, &mut each),
        _ => vault
            .storage
            .visit_objects(&vault.secret, snapshot, &mut each),
    }
}

/// A record's path below its part's root (`<key>` or `<key>/<version ID>`).
fn record_path(record: &ObjectRecord) -> String {
    if record.in_history() {
        format!(
            "{}/{}",
            record.key,
            record.version_id.as_deref().unwrap_or("null")
        )
    } else {
        record.key.clone()
    }
}

/// Writes restored objects into the target bucket under a prefix.
struct RecordWriter {
    operator: opendal::Operator,
    client: Arc<S3Client>,
    prefix: String,
    address: String,
}

impl RecordWriter {
    /// Writes `record` at its key (its bytes from `fill`, its content
    /// type, metadata and tags), or deletes the key for a delete marker;
    /// returns the bytes written.
    fn put(
        &self,
        record: &ObjectRecord,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<u64, StorageError>,
    ) -> Result<u64, StorageError> {
        let problem = |message: String| StorageError::Engine {
            location: self.address.clone(),
            message,
        };
        let key = format!("{}{}", self.prefix, record.key);
        if record.delete_marker {
            let client = Arc::clone(&self.client);
            let delete_key = key.clone();
            wait(async move { client.delete_object(&delete_key).await })
                .map_err(|e| problem(format!("{key}: {e}")))?;
            return Ok(0);
        }
        let mut options = opendal::options::WriteOptions {
            chunk: Some(WRITE_CHUNK),
            ..Default::default()
        };
        options.content_type.clone_from(&record.content_type);
        if !record.metadata.is_empty() {
            options.user_metadata = Some(record.metadata.clone().into_iter().collect());
        }
        let op = self.operator.clone();
        let writer_key = key.clone();
        let writer = block_on_s3(async move { op.writer_options(&writer_key, options).await })
            .map_err(&problem)?
            .map_err(|e| problem(format!("{key}: {e}")))?;
        let mut out = ObjectWriter {
            writer: Some(writer),
            buffer: Vec::new(),
        };
        let bytes = fill(&mut out)?;
        out.close().map_err(|e| problem(format!("{key}: {e}")))?;
        if !record.tags.is_empty() {
            let client = Arc::clone(&self.client);
            let tags = record.tags.clone();
            let tag_key = key.clone();
            wait(async move { client.put_object_tags(&tag_key, &tags).await }).map_err(&problem)?;
        }
        Ok(bytes)
    }
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
        drop(file);
        let mut problems = Vec::new();
        let mut checked = 0u64;
        for part in [Part::History, Part::Objects] {
            let mut manifest =
                ManifestLines::open_part(manifest_of(&vault, &snapshot, &scratch)?, part);
            let mut check = |mut object: coffer_vault::StoredObject<'_>| {
                let record = match manifest.next() {
                    Ok(Some(record)) if record_path(&record) == object.path => record,
                    Ok(Some(record)) => {
                        problems.push(format!(
                            "{}: in the tree, but the manifest lists {} there",
                            object.path,
                            record_path(&record)
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
                        object.path, record.size
                    ));
                } else if sha256 != record.sha256 {
                    problems.push(format!(
                        "{}: SHA-256 {sha256} read back, the manifest records {}",
                        object.path, record.sha256
                    ));
                } else {
                    checked += 1;
                }
                Ok(())
            };
            match part {
                Part::History => {
                    vault
                        .storage
                        .visit_history(&vault.secret, &snapshot, &mut check)?
                }
                _ => vault
                    .storage
                    .visit_objects(&vault.secret, &snapshot, &mut check)?,
            }
            loop {
                match manifest.next() {
                    Ok(Some(record)) => {
                        problems.push(format!(
                            "{}: in the manifest, not in the tree",
                            record_path(&record)
                        ));
                    }
                    Ok(None) => break,
                    Err(message) => {
                        problems.push(message);
                        break;
                    }
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

    #[tokio::test]
    async fn only_a_scratch_prefix_is_removed() {
        let access = S3Access {
            endpoint: "http://127.0.0.1:1".into(),
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            virtual_host_style: false,
        };
        for prefix in [
            "",
            "photos/",
            "coffer-restore-test-",
            "coffer-restore-test-/",
            "coffer-restore-test-abc",
        ] {
            let refused = remove_scratch_prefix(&access, "media", prefix)
                .await
                .unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains("is not a restore test's scratch prefix"),
                "{prefix:?}: {refused}"
            );
        }
    }

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
            let page =
                |token: Option<String>| -> Result<(Vec<ListedObject>, Option<String>), String> {
                    let index: usize = token.map_or(0, |t| t.parse().unwrap());
                    Ok((
                        pages[index]
                            .iter()
                            .map(|k| ListedObject::from_listed(listed(k)))
                            .collect(),
                        (index + 1 < pages.len()).then(|| (index + 1).to_string()),
                    ))
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
    fn versions_count_their_newer_versions_across_pages_and_sort_as_history() {
        let version = |key: &str, id: &str, is_latest: bool| ListedVersion {
            key: key.into(),
            version_id: id.into(),
            is_latest,
            delete_marker: id == "d",
            size: 1,
            etag: None,
            last_modified: Some(format!(
                "2026-11-24T10:00:0{}.000Z",
                if id == "d" { "9" } else { id }
            )),
        };
        let mut counter = VersionCounter::default();
        // "a" goes on in the second page, where its delete marker comes
        // after the versions (as moto lists them).
        let mut listed = counter.count(vec![version("a", "2", false)], false);
        assert!(listed.is_empty(), "{listed:?}");
        listed.extend(counter.count(
            vec![
                version("a", "1", false),
                version("b", "9", true),
                version("a", "d", true),
            ],
            true,
        ));
        let newer: Vec<_> = listed
            .iter()
            .map(|o| (o.key.as_str(), o.newer_versions))
            .collect();
        assert_eq!(
            newer,
            [
                ("a", Some(0)),
                ("a", Some(1)),
                ("a", Some(2)),
                ("b", Some(0))
            ]
        );
        listed.push(ListedObject::from_listed(Listed {
            key: "a".into(),
            size: 1,
            etag: None,
            last_modified: None,
        }));
        sort_in_tree_order(&mut listed);
        let paths: Vec<String> = listed.iter().map(ListedObject::tree_path).collect();
        assert_eq!(
            paths,
            [
                "history/a/1",
                "history/a/2",
                "history/a/d",
                "history/b/9",
                "objects/a"
            ]
        );
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
            is_latest: None,
            delete_marker: false,
            newer_versions: None,
        };
        let mut file = tempfile::tempfile().unwrap();
        for key in ["a/x", "a.txt", "b", "d"] {
            writeln!(file, "{}", serde_json::to_string(&record(key)).unwrap()).unwrap();
        }
        file.rewind().unwrap();
        let mut lines = ManifestLines::open(file);
        assert_eq!(
            lines.find("objects/a/x").unwrap().map(|r| r.key).as_deref(),
            Some("a/x")
        );
        // "a.txt" is passed over; "c" is absent and "d" stays for later.
        assert_eq!(
            lines.find("objects/b").unwrap().map(|r| r.key).as_deref(),
            Some("b")
        );
        assert_eq!(lines.find("objects/c").unwrap(), None);
        assert_eq!(
            lines.find("objects/d").unwrap().map(|r| r.key).as_deref(),
            Some("d")
        );
        assert_eq!(lines.find("objects/e").unwrap(), None);
    }
}
