//! A small S3 client signed with SigV4 by `reqsign` and sent by `reqwest`
//! (rustls with ring), for what OpenDAL does not do: object puts with the
//! caller's headers (Object Lock), a bucket's Object Lock configuration,
//! object and bucket tagging, bucket creation; and get, head and
//! ListObjectsV2. S3's errors surface with their `Code` and `Message`.
//!
//! Report deliveries (`coffer-report`) and S3 bucket resources
//! (`coffer-drivers`) share it. Every request carries the payload's
//! SHA-256 in `x-amz-content-sha256`, which the signature covers; a put
//! carries `Content-MD5` (S3 requires an integrity header with Object Lock
//! parameters, and with a bucket default retention).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use coffer_model::LockMode;
use http::header::{HeaderName, HeaderValue};
use md5::{Digest as _, Md5};
use percent_encoding::utf8_percent_encode;
use reqsign_aws_v4::constants::{AWS_QUERY_ENCODE_SET, AWS_URI_ENCODE_SET};
use reqsign_aws_v4::{Credential, RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};
use serde::Deserialize;

use crate::S3Access;

const CONTENT_MD5: HeaderName = HeaderName::from_static("content-md5");
const CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
/// `x-amz-object-lock-mode`.
pub const LOCK_MODE: HeaderName = HeaderName::from_static("x-amz-object-lock-mode");
/// `x-amz-object-lock-retain-until-date`.
pub const LOCK_UNTIL: HeaderName = HeaderName::from_static("x-amz-object-lock-retain-until-date");
/// Longest a request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Listing pages followed before giving up on a server that never ends one.
const MAX_LIST_PAGES: usize = 10_000;

/// A failed S3 request: what was asked of which object, and S3's answer
/// (its `Code` and `Message`) or why no answer came.
#[derive(Debug, thiserror::Error)]
#[error("S3 {operation} of {target}: {detail}")]
pub struct S3Error {
    /// `PutObject`, `GetObject`, `ListObjectsV2`, ...
    pub operation: &'static str,
    /// `s3://bucket/key`.
    pub target: String,
    /// S3's error code (`AccessDenied`, `NoSuchKey`, ...), when it answered one.
    pub code: Option<String>,
    /// The whole answer in words.
    pub detail: String,
}

impl S3Error {
    /// A failure on this side (no S3 code): a request that cannot be
    /// built, an answer that cannot be read.
    fn local(operation: &'static str, target: &str, detail: String) -> S3Error {
        S3Error {
            operation,
            target: target.to_string(),
            code: None,
            detail,
        }
    }
}

/// An object found by a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// The ETag as listed, quotes included.
    pub etag: Option<String>,
    /// LastModified as listed (`2026-11-24T10:00:00.000Z`).
    pub last_modified: Option<String>,
}

/// What `HeadObject` says of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: Option<u64>,
    pub version_id: Option<String>,
    /// `x-amz-object-lock-mode`.
    pub lock_mode: Option<String>,
    /// `x-amz-object-lock-retain-until-date`, as S3 wrote it.
    pub retain_until: Option<String>,
}

/// What a GetObject answer says of the version it sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    pub size: Option<u64>,
    /// Quotes included, as S3 sends it.
    pub etag: Option<String>,
    /// As S3 sends it (`Tue, 24 Nov 2026 10:00:00 GMT`).
    pub last_modified: Option<String>,
    pub content_type: Option<String>,
    pub version_id: Option<String>,
    /// User metadata (`x-amz-meta-*`), by name without the prefix.
    pub metadata: BTreeMap<String, String>,
}

/// An object being read: its description and the rest of its body.
#[derive(Debug)]
pub struct OpenObject {
    target: String,
    pub described: ObjectVersion,
    response: Option<reqwest::Response>,
}

impl OpenObject {
    /// The next piece of the body; `None` at its end.
    ///
    /// # Errors
    /// When the answer breaks off.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, S3Error> {
        let Some(response) = self.response.as_mut() else {
            return Ok(None);
        };
        match response.chunk().await {
            Ok(Some(bytes)) => Ok(Some(bytes)),
            Ok(None) => {
                self.response = None;
                Ok(None)
            }
            Err(e) => Err(S3Error::local(
                "GetObject",
                &self.target,
                format!("the answer broke off: {}", chain(&e)),
            )),
        }
    }
}

/// A bucket's Object Lock configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockConfiguration {
    /// `ObjectLockEnabled` is `Enabled`.
    pub enabled: bool,
    /// The retention the bucket gives every new object, if any.
    pub default_retention: Option<DefaultRetention>,
}

/// A bucket's default retention: `days` or `years` (S3 allows one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub days: u32,
    pub years: u32,
}

impl DefaultRetention {
    /// Until when an object written at `at` is retained (years are
    /// calendar years in UTC).
    pub fn until(&self, at: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let years = at
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .checked_add(jiff::Span::new().try_years(i64::from(self.years)).ok()?)
            .ok()?
            .timestamp();
        years
            .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(self.days)))
            .ok()
    }
}

/// A client for one bucket.
pub struct S3Client {
    http: reqwest::Client,
    signer: Option<Signer<Credential>>,
    scheme: String,
    /// `host[:port]`.
    authority: String,
    /// The endpoint URL's path, without a trailing `/`.
    base_path: String,
    bucket: String,
    /// The signing region, where a created bucket goes.
    region: String,
    virtual_host: bool,
    /// `max-keys` of each listing page (S3's default, 1000, when `None`).
    page_size: Option<u32>,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &format!("{}://{}", self.scheme, self.authority))
            .field("bucket", &self.bucket)
            .field("virtual_host", &self.virtual_host)
            .field("signed", &self.signer.is_some())
            .finish()
    }
}

impl S3Client {
    /// A client for `bucket` at the endpoint `access` describes; requests
    /// are signed when it holds both keys, anonymous otherwise.
    ///
    /// # Errors
    /// An endpoint that is not an `http(s)://host` URL; a TLS setup failure.
    pub fn new(access: &S3Access, bucket: &str) -> Result<S3Client, S3Error> {
        let target = format!("s3://{bucket}");
        let failed = |detail: String| S3Error::local("setup", &target, detail);
        let url = url::Url::parse(&access.endpoint).map_err(|e| {
            failed(format!(
                "the endpoint {:?} is not a URL ({e}); give url = \"http(s)://host[:port]\" in its [s3_endpoints] entry",
                access.endpoint
            ))
        })?;
        let host = match (url.scheme(), url.host_str()) {
            ("http" | "https", Some(host)) => host,
            _ => {
                return Err(failed(format!(
                    "the endpoint {:?} is not an http:// or https:// URL with a host",
                    access.endpoint
                )))
            }
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        // TLS through rustls with ring, as the vault storage and webhooks use.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| failed(format!("cannot build the HTTP client: {}", chain(&e))))?;
        let signer = match (&access.access_key_id, &access.secret_access_key) {
            (Some(key), Some(secret)) => Some(Signer::new(
                Context::new(),
                StaticCredentialProvider::new(key, secret),
                RequestSigner::new("s3", &access.region),
            )),
            _ => None,
        };
        Ok(S3Client {
            http,
            signer,
            scheme: url.scheme().to_string(),
            authority,
            base_path: url.path().trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            region: access.region.clone(),
            virtual_host: access.virtual_host_style,
            page_size: None,
        })
    }

    /// Lists at most `keys` objects per page (S3's default is 1000).
    #[must_use]
    pub fn with_page_size(mut self, keys: u32) -> S3Client {
        self.page_size = Some(keys);
        self
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The request URL of `key` (`None`: the bucket itself) with `query`
    /// (a pair with an empty value is a bare sub-resource like `object-lock`).
    fn url(&self, key: Option<&str>, query: &[(&str, &str)]) -> String {
        let mut url = if self.virtual_host {
            format!(
                "{}://{}.{}{}/",
                self.scheme, self.bucket, self.authority, self.base_path
            )
        } else {
            format!(
                "{}://{}{}/{}",
                self.scheme, self.authority, self.base_path, self.bucket
            )
        };
        if let Some(key) = key {
            if !self.virtual_host {
                url.push('/');
            }
            url.push_str(&encode_key(key));
        }
        let pairs: Vec<String> = query
            .iter()
            .map(|(name, value)| {
                let name = utf8_percent_encode(name, &AWS_QUERY_ENCODE_SET);
                if value.is_empty() {
                    name.to_string()
                } else {
                    format!(
                        "{name}={}",
                        utf8_percent_encode(value, &AWS_QUERY_ENCODE_SET)
                    )
                }
            })
            .collect();
        if !pairs.is_empty() {
            url.push('?');
            url.push_str(&pairs.join("&"));
        }
        url
    }

    fn target(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Signs and sends one request; an answer other than 2xx is an error
    /// with S3's code and message.
    /// A request without headers or body (GET, HEAD).
    async fn ask(
        &self,
        operation: &'static str,
        target: &str,
        method: http::Method,
        url: &str,
    ) -> Result<reqwest::Response, S3Error> {
        self.send(operation, target, method, url, Vec::new(), Vec::new())
            .await
    }

    async fn send(
        &self,
        operation: &'static str,
        target: &str,
        method: http::Method,
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, S3Error> {
        let failed = |code: Option<String>, detail: String| S3Error {
            operation,
            target: target.to_string(),
            code,
            detail,
        };
        let (mut parts, ()) = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .body(())
            .map_err(|e| failed(None, format!("cannot build the request: {e}")))?
            .into_parts();
        for (name, value) in headers {
            parts.headers.insert(name, value);
        }
        let payload = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        parts.headers.insert(
            CONTENT_SHA256,
            HeaderValue::from_str(&payload)
                .map_err(|e| failed(None, format!("cannot build the request: {e}")))?,
        );
        if let Some(signer) = &self.signer {
            signer
                .sign(&mut parts, None)
                .await
                .map_err(|e| failed(None, format!("cannot sign the request: {e}")))?;
        }
        let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
            .map_err(|e| failed(None, format!("cannot build the request: {}", chain(&e))))?;
        let response = self.http.execute(request).await.map_err(|e| {
            failed(
                None,
                format!(
                    "no answer from {}://{}: {}",
                    self.scheme,
                    self.authority,
                    chain(&e)
                ),
            )
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = if method == http::Method::HEAD {
            String::new()
        } else {
            response.text().await.unwrap_or_default()
        };
        let (code, detail) = error_of(status.as_u16(), &text);
        Err(failed(code, detail))
    }

    /// Puts `bytes` at `key` with `headers` (content type, user metadata,
    /// Object Lock) besides `Content-MD5` and the signature's.
    ///
    /// # Errors
    /// S3's refusal (e.g. `InvalidRequest` for Object Lock headers on a
    /// bucket without it), or no answer.
    pub async fn put_object(
        &self,
        key: &str,
        bytes: &[u8],
        mut headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<(), S3Error> {
        let target = self.target(key);
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes));
        let md5 = HeaderValue::from_str(&md5)
            .map_err(|e| S3Error::local("PutObject", &target, format!("{md5:?}: {e}")))?;
        headers.push((CONTENT_MD5, md5));
        self.send(
            "PutObject",
            &target,
            http::Method::PUT,
            &self.url(Some(key), &[]),
            headers,
            bytes.to_vec(),
        )
        .await?;
        Ok(())
    }

    /// The bytes of `key` (its newest version).
    ///
    /// # Errors
    /// `NoSuchKey`, access refused, no answer.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let target = self.target(key);
        let response = self
            .ask(
                "GetObject",
                &target,
                http::Method::GET,
                &self.url(Some(key), &[]),
            )
            .await?;
        let bytes = response.bytes().await.map_err(|e| {
            S3Error::local(
                "GetObject",
                &target,
                format!("the answer broke off: {}", chain(&e)),
            )
        })?;
        Ok(bytes.to_vec())
    }

    /// What S3 says of `key`: size, version, Object Lock mode and date.
    ///
    /// # Errors
    /// `NotFound`, access refused, no answer.
    pub async fn head(&self, key: &str) -> Result<ObjectHead, S3Error> {
        let target = self.target(key);
        let response = self
            .ask(
                "HeadObject",
                &target,
                http::Method::HEAD,
                &self.url(Some(key), &[]),
            )
            .await?;
        let headers = response.headers();
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(ObjectHead {
            size: text("content-length").and_then(|s| s.parse().ok()),
            version_id: text("x-amz-version-id"),
            lock_mode: text(LOCK_MODE.as_str()),
            retain_until: text(LOCK_UNTIL.as_str()),
        })
    }

    /// Every object whose key starts with `prefix`, following continuation
    /// tokens to the end.
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an answer that is not a
    /// listing.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, S3Error> {
        let target = self.target(prefix);
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let page = self.list_page(prefix, token.as_deref()).await?;
            found.extend(page.objects);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(found),
            }
        }
        Err(S3Error::local(
            "ListObjectsV2",
            &target,
            format!("the listing did not end after {MAX_LIST_PAGES} pages"),
        ))
    }

    /// One page of the objects whose key starts with `prefix`, in key
    /// order, from the continuation `token` of the page before (`None`:
    /// the first page).
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an answer that is not a
    /// listing.
    pub async fn list_page(&self, prefix: &str, token: Option<&str>) -> Result<ListPage, S3Error> {
        let target = self.target(prefix);
        let page_size = self.page_size.map(|n| n.to_string());
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(keys) = &page_size {
            query.push(("max-keys", keys));
        }
        if let Some(token) = token {
            query.push(("continuation-token", token));
        }
        let response = self
            .ask(
                "ListObjectsV2",
                &target,
                http::Method::GET,
                &self.url(None, &query),
            )
            .await?;
        let text = answer_text("ListObjectsV2", &target, response).await?;
        parse_list(&text).map_err(|detail| S3Error::local("ListObjectsV2", &target, detail))
    }

    /// Opens `key` for reading (GetObject): what S3 says of the version it
    /// sends, and its body to read chunk by chunk, so the object read and
    /// its description are one and the same version.
    ///
    /// # Errors
    /// `NoSuchKey`, access refused, no answer.
    pub async fn open(&self, key: &str) -> Result<OpenObject, S3Error> {
        let target = self.target(key);
        let response = self
            .ask(
                "GetObject",
                &target,
                http::Method::GET,
                &self.url(Some(key), &[]),
            )
            .await?;
        Ok(open_object(target, response))
    }

    /// Opens the version `version_id` of `key` for reading, as [`open`]
    /// (`S3Client::open`) opens the newest.
    ///
    /// # Errors
    /// `NoSuchVersion`, `NoSuchKey`, access refused, no answer.
    pub async fn open_version(&self, key: &str, version_id: &str) -> Result<OpenObject, S3Error> {
        let target = format!("{}?versionId={version_id}", self.target(key));
        let response = self
            .ask(
                "GetObject",
                &target,
                http::Method::GET,
                &self.url(Some(key), &[("versionId", version_id)]),
            )
            .await?;
        Ok(open_object(target, response))
    }

    /// One page of the versions and delete markers of the keys that start
    /// with `prefix` (ListObjectVersions), in key order and, per key,
    /// newest first, from the markers of the page before (`None`: the
    /// first page).
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an answer that is not a
    /// version listing.
    pub async fn list_versions_page(
        &self,
        prefix: &str,
        from: Option<&VersionMarker>,
    ) -> Result<VersionPage, S3Error> {
        let target = self.target(prefix);
        let page_size = self.page_size.map(|n| n.to_string());
        let mut query = vec![("versions", ""), ("prefix", prefix)];
        if let Some(keys) = &page_size {
            query.push(("max-keys", keys));
        }
        if let Some(marker) = from {
            query.push(("key-marker", &marker.key));
            query.push(("version-id-marker", &marker.version_id));
        }
        let response = self
            .ask(
                "ListObjectVersions",
                &target,
                http::Method::GET,
                &self.url(None, &query),
            )
            .await?;
        let text = answer_text("ListObjectVersions", &target, response).await?;
        parse_versions(&text)
            .map_err(|detail| S3Error::local("ListObjectVersions", &target, detail))
    }

    /// The bucket's versioning status (`Enabled`, `Suspended`), `None`
    /// when versioning was never enabled (GetBucketVersioning).
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an unreadable answer.
    pub async fn versioning(&self) -> Result<Option<String>, S3Error> {
        let target = format!("s3://{}", self.bucket);
        let response = self
            .ask(
                "GetBucketVersioning",
                &target,
                http::Method::GET,
                &self.url(None, &[("versioning", "")]),
            )
            .await?;
        let text = answer_text("GetBucketVersioning", &target, response).await?;
        let parsed: VersioningXml = quick_xml::de::from_str(&text).map_err(|e| {
            S3Error::local(
                "GetBucketVersioning",
                &target,
                format!("the answer is not a versioning configuration: {e}"),
            )
        })?;
        Ok(parsed
            .status
            .map(|status| status.trim().to_string())
            .filter(|status| !status.is_empty()))
    }

    /// Turns versioning on (PutBucketVersioning, `Enabled`).
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer.
    pub async fn enable_versioning(&self) -> Result<(), S3Error> {
        let target = format!("s3://{}", self.bucket);
        let body = b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>".to_vec();
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
        let md5 = HeaderValue::from_str(&md5)
            .map_err(|e| S3Error::local("PutBucketVersioning", &target, e.to_string()))?;
        self.send(
            "PutBucketVersioning",
            &target,
            http::Method::PUT,
            &self.url(None, &[("versioning", "")]),
            vec![(CONTENT_MD5, md5)],
            body,
        )
        .await?;
        Ok(())
    }

    /// Deletes `key` (DeleteObject): in a versioned bucket, a delete
    /// marker becomes its newest version.
    ///
    /// # Errors
    /// Access refused, no answer.
    pub async fn delete_object(&self, key: &str) -> Result<(), S3Error> {
        let target = self.target(key);
        self.ask(
            "DeleteObject",
            &target,
            http::Method::DELETE,
            &self.url(Some(key), &[]),
        )
        .await?;
        Ok(())
    }

    /// Deletes one version of `key`, or one delete marker, for good
    /// (DeleteObject with `versionId`; `null` is the version written while
    /// versioning was off).
    ///
    /// # Errors
    /// Access refused (Object Lock retention, say), no answer.
    pub async fn delete_object_version(&self, key: &str, version_id: &str) -> Result<(), S3Error> {
        let target = format!("{}?versionId={version_id}", self.target(key));
        self.ask(
            "DeleteObject",
            &target,
            http::Method::DELETE,
            &self.url(Some(key), &[("versionId", version_id)]),
        )
        .await?;
        Ok(())
    }

    /// The multipart uploads begun under `prefix` and neither completed
    /// nor aborted (ListMultipartUploads, its first page: up to 1,000).
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an unreadable answer.
    pub async fn pending_uploads(&self, prefix: &str) -> Result<Vec<PendingUpload>, S3Error> {
        let target = self.target(prefix);
        let response = self
            .ask(
                "ListMultipartUploads",
                &target,
                http::Method::GET,
                &self.url(None, &[("uploads", ""), ("prefix", prefix)]),
            )
            .await?;
        let text = answer_text("ListMultipartUploads", &target, response).await?;
        parse_uploads(&text)
            .map_err(|detail| S3Error::local("ListMultipartUploads", &target, detail))
    }

    /// Aborts the multipart upload `upload_id` of `key`, freeing its parts
    /// (AbortMultipartUpload).
    ///
    /// # Errors
    /// `NoSuchUpload`, access refused, no answer.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let target = format!("{}?uploadId={upload_id}", self.target(key));
        self.ask(
            "AbortMultipartUpload",
            &target,
            http::Method::DELETE,
            &self.url(Some(key), &[("uploadId", upload_id)]),
        )
        .await?;
        Ok(())
    }

    /// The bucket's Object Lock configuration; `None` when the bucket has
    /// none (`ObjectLockConfigurationNotFoundError`: Object Lock is not
    /// enabled).
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an unreadable answer.
    pub async fn object_lock(&self) -> Result<Option<LockConfiguration>, S3Error> {
        let target = format!("s3://{}", self.bucket);
        let result = self
            .ask(
                "GetObjectLockConfiguration",
                &target,
                http::Method::GET,
                &self.url(None, &[("object-lock", "")]),
            )
            .await;
        let response = match result {
            Ok(response) => response,
            Err(e) if e.code.as_deref() == Some("ObjectLockConfigurationNotFoundError") => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let text = answer_text("GetObjectLockConfiguration", &target, response).await?;
        parse_lock(&text)
            .map(Some)
            .map_err(|detail| S3Error::local("GetObjectLockConfiguration", &target, detail))
    }

    /// The tags of `key` (GetObjectTagging).
    ///
    /// # Errors
    /// `NoSuchKey`, access refused, no answer, an unreadable answer.
    pub async fn object_tags(&self, key: &str) -> Result<BTreeMap<String, String>, S3Error> {
        self.tags("GetObjectTagging", Some(key), None).await
    }

    /// The tags of the version `version_id` of `key` (GetObjectTagging).
    ///
    /// # Errors
    /// `NoSuchKey`, `NoSuchVersion`, access refused, no answer, an
    /// unreadable answer.
    pub async fn object_version_tags(
        &self,
        key: &str,
        version_id: &str,
    ) -> Result<BTreeMap<String, String>, S3Error> {
        self.tags("GetObjectTagging", Some(key), Some(version_id))
            .await
    }

    /// The tags of `key` (of one of its versions), or of the bucket (`None`).
    async fn tags(
        &self,
        operation: &'static str,
        key: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<BTreeMap<String, String>, S3Error> {
        let target = match key {
            Some(key) => self.target(key),
            None => format!("s3://{}", self.bucket),
        };
        let mut query = vec![("tagging", "")];
        if let Some(version_id) = version_id {
            query.push(("versionId", version_id));
        }
        let response = self
            .ask(
                operation,
                &target,
                http::Method::GET,
                &self.url(key, &query),
            )
            .await?;
        let text = answer_text(operation, &target, response).await?;
        parse_tagging(&text).map_err(|detail| S3Error::local(operation, &target, detail))
    }

    /// Replaces the tags of `key` (PutObjectTagging).
    ///
    /// # Errors
    /// `NoSuchKey`, access refused, a tag S3 refuses, no answer.
    pub async fn put_object_tags(
        &self,
        key: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), S3Error> {
        let target = self.target(key);
        let body = tagging_xml(tags).into_bytes();
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
        let md5 = HeaderValue::from_str(&md5)
            .map_err(|e| S3Error::local("PutObjectTagging", &target, e.to_string()))?;
        self.send(
            "PutObjectTagging",
            &target,
            http::Method::PUT,
            &self.url(Some(key), &[("tagging", "")]),
            vec![(CONTENT_MD5, md5)],
            body,
        )
        .await?;
        Ok(())
    }

    /// The bucket's tags (GetBucketTagging); none when it has no tag set.
    ///
    /// # Errors
    /// `NoSuchBucket`, access refused, no answer, an unreadable answer.
    pub async fn bucket_tags(&self) -> Result<BTreeMap<String, String>, S3Error> {
        match self.tags("GetBucketTagging", None, None).await {
            Err(e) if e.code.as_deref() == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
            other => other,
        }
    }

    /// Whether the bucket exists (HeadBucket); a bucket another account
    /// owns counts as existing.
    ///
    /// # Errors
    /// No answer, or an answer other than found, not found and forbidden.
    pub async fn bucket_exists(&self) -> Result<bool, S3Error> {
        let target = format!("s3://{}", self.bucket);
        match self
            .ask(
                "HeadBucket",
                &target,
                http::Method::HEAD,
                &self.url(None, &[]),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.code.as_deref(), Some("NotFound" | "NoSuchBucket")) => Ok(false),
            Err(e) if e.code.as_deref() == Some("AccessDenied") => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Creates the bucket in the endpoint's region (CreateBucket).
    ///
    /// # Errors
    /// `BucketAlreadyExists`, an invalid name, access refused, no answer.
    pub async fn create_bucket(&self) -> Result<(), S3Error> {
        let target = format!("s3://{}", self.bucket);
        // us-east-1 is S3's default and takes no location constraint.
        let body = if self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                quick_xml::escape::escape(self.region.as_str())
            )
            .into_bytes()
        };
        self.send(
            "CreateBucket",
            &target,
            http::Method::PUT,
            &self.url(None, &[]),
            Vec::new(),
            body,
        )
        .await?;
        Ok(())
    }
}

/// A tag set as S3's `Tagging` document.
pub fn tagging_xml(tags: &BTreeMap<String, String>) -> String {
    let mut xml =
        String::from("<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>");
    for (key, value) in tags {
        xml.push_str("<Tag><Key>");
        xml.push_str(&quick_xml::escape::escape(key.as_str()));
        xml.push_str("</Key><Value>");
        xml.push_str(&quick_xml::escape::escape(value.as_str()));
        xml.push_str("</Value></Tag>");
    }
    xml.push_str("</TagSet></Tagging>");
    xml
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaggingXml {
    #[serde(default)]
    tag_set: Option<TagSetXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagSetXml {
    #[serde(default)]
    tag: Vec<TagXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagXml {
    key: String,
    #[serde(default)]
    value: String,
}

/// Reads a GetObjectTagging or GetBucketTagging answer.
///
/// # Errors
/// XML that is not a tag set.
pub fn parse_tagging(xml: &str) -> Result<BTreeMap<String, String>, String> {
    let parsed: TaggingXml =
        quick_xml::de::from_str(xml).map_err(|e| format!("the answer is not a tag set: {e}"))?;
    Ok(parsed
        .tag_set
        .map(|set| set.tag.into_iter().map(|t| (t.key, t.value)).collect())
        .unwrap_or_default())
}

/// A key's path, each segment percent-encoded once as S3 expects (`/` kept).
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| utf8_percent_encode(segment, &AWS_URI_ENCODE_SET).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// An answer's body as text; one that breaks off is an error, not an
/// empty document.
async fn answer_text(
    operation: &'static str,
    target: &str,
    response: reqwest::Response,
) -> Result<String, S3Error> {
    response.text().await.map_err(|e| {
        S3Error::local(
            operation,
            target,
            format!("the answer broke off: {}", chain(&e)),
        )
    })
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<Listed>,
    /// The continuation token of the next page, when the listing is truncated.
    pub next: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    is_truncated: Option<String>,
    #[serde(default)]
    next_continuation_token: Option<String>,
    #[serde(default)]
    contents: Vec<ListContents>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListContents {
    key: String,
    #[serde(default)]
    size: Option<String>,
    #[serde(default, rename = "ETag")]
    etag: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
}

/// Reads a ListObjectsV2 answer.
///
/// # Errors
/// XML that is not a listing, or a truncated listing without a token.
pub fn parse_list(xml: &str) -> Result<ListPage, String> {
    let result: ListBucketResult = quick_xml::de::from_str(xml)
        .map_err(|e| format!("the answer is not a ListObjectsV2 listing: {e}"))?;
    let truncated = result
        .is_truncated
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
    let next = match (truncated, result.next_continuation_token) {
        (false, _) => None,
        (true, Some(token)) if !token.is_empty() => Some(token),
        (true, _) => {
            return Err(
                "the listing is truncated but gives no NextContinuationToken to go on".into(),
            )
        }
    };
    let objects = result
        .contents
        .into_iter()
        .map(|c| Listed {
            key: c.key,
            size: c
                .size
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_default(),
            etag: c.etag,
            last_modified: c.last_modified,
        })
        .collect();
    Ok(ListPage { objects, next })
}

/// A GetObject answer as an open object: what its headers say of the
/// version sent, and its body.
fn open_object(target: String, response: reqwest::Response) -> OpenObject {
    let headers = response.headers();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut metadata = BTreeMap::new();
    for (name, value) in headers {
        if let Some(field) = name.as_str().strip_prefix("x-amz-meta-") {
            if let Ok(value) = value.to_str() {
                metadata.insert(field.to_string(), value.to_string());
            }
        }
    }
    let described = ObjectVersion {
        size: text("content-length").and_then(|s| s.parse().ok()),
        etag: text("etag"),
        last_modified: text("last-modified"),
        content_type: text("content-type"),
        version_id: text("x-amz-version-id"),
        metadata,
    };
    OpenObject {
        target,
        described,
        response: Some(response),
    }
}

/// One entry of a version listing: a version of an object, or a delete
/// marker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedVersion {
    pub key: String,
    /// `null` for a version written while versioning was off.
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
    /// 0 for a delete marker.
    pub size: u64,
    /// Quotes included; none for a delete marker.
    pub etag: Option<String>,
    /// As listed (`2026-11-24T10:00:00.000Z`).
    pub last_modified: Option<String>,
}

/// Where a version listing goes on: the next page starts after this key
/// and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMarker {
    pub key: String,
    pub version_id: String,
}

/// One page of a ListObjectVersions answer.
#[derive(Debug, PartialEq, Eq)]
pub struct VersionPage {
    /// In key order, each key's entries newest first.
    pub versions: Vec<ListedVersion>,
    pub next: Option<VersionMarker>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersioningXml {
    #[serde(default)]
    status: Option<String>,
}

// One sequence of every element, in S3's order: versions and delete
// markers interleave, and quick-xml takes a sequence only when whole.
#[derive(Deserialize)]
struct ListVersionsResult {
    #[serde(default, rename = "$value")]
    elements: Vec<VersionsElement>,
}

#[derive(Deserialize)]
enum VersionsElement {
    IsTruncated(String),
    NextKeyMarker(String),
    NextVersionIdMarker(String),
    Version(VersionXml),
    DeleteMarker(VersionXml),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionXml {
    key: String,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    is_latest: Option<String>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default, rename = "ETag")]
    etag: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
}

/// A multipart upload begun and not completed or aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUploadsResult {
    #[serde(default)]
    upload: Vec<UploadXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadXml {
    key: String,
    upload_id: String,
}

/// Reads a ListMultipartUploads answer.
///
/// # Errors
/// XML that is not an upload listing.
pub fn parse_uploads(xml: &str) -> Result<Vec<PendingUpload>, String> {
    let result: ListUploadsResult = quick_xml::de::from_str(xml)
        .map_err(|e| format!("the answer is not a ListMultipartUploads listing: {e}"))?;
    Ok(result
        .upload
        .into_iter()
        .map(|u| PendingUpload {
            key: u.key,
            upload_id: u.upload_id,
        })
        .collect())
}

/// Reads a ListObjectVersions answer.
///
/// # Errors
/// XML that is not a version listing, or a truncated listing without
/// markers to go on.
pub fn parse_versions(xml: &str) -> Result<VersionPage, String> {
    let result: ListVersionsResult = quick_xml::de::from_str(xml)
        .map_err(|e| format!("the answer is not a ListObjectVersions listing: {e}"))?;
    let mut truncated = false;
    let mut next_key = None;
    let mut next_version = None;
    let mut versions = Vec::new();
    for element in result.elements {
        let (found, delete_marker) = match element {
            VersionsElement::IsTruncated(text) => {
                truncated = text.trim().eq_ignore_ascii_case("true");
                continue;
            }
            VersionsElement::NextKeyMarker(key) => {
                next_key = Some(key);
                continue;
            }
            VersionsElement::NextVersionIdMarker(version) => {
                next_version = Some(version);
                continue;
            }
            VersionsElement::Other => continue,
            VersionsElement::Version(found) => (found, false),
            VersionsElement::DeleteMarker(found) => (found, true),
        };
        versions.push(ListedVersion {
            key: found.key,
            version_id: found
                .version_id
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "null".into()),
            is_latest: found
                .is_latest
                .is_some_and(|l| l.trim().eq_ignore_ascii_case("true")),
            delete_marker,
            size: found
                .size
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_default(),
            etag: found.etag,
            last_modified: found.last_modified,
        });
    }
    let next = match (truncated, next_key) {
        (false, _) => None,
        (true, Some(key)) if !key.is_empty() => Some(VersionMarker {
            key,
            version_id: next_version.unwrap_or_default(),
        }),
        (true, _) => {
            return Err(
                "the version listing is truncated but gives no NextKeyMarker to go on".into(),
            )
        }
    };
    Ok(VersionPage { versions, next })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LockXml {
    #[serde(default)]
    object_lock_enabled: Option<String>,
    #[serde(default)]
    rule: Option<RuleXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleXml {
    #[serde(default)]
    default_retention: Option<RetentionXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetentionXml {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    days: Option<String>,
    #[serde(default)]
    years: Option<String>,
}

/// Reads a GetObjectLockConfiguration answer.
///
/// # Errors
/// XML that is not an Object Lock configuration, an unknown mode, a
/// default retention without days or years.
pub fn parse_lock(xml: &str) -> Result<LockConfiguration, String> {
    let parsed: LockXml = quick_xml::de::from_str(xml)
        .map_err(|e| format!("the answer is not an Object Lock configuration: {e}"))?;
    let enabled = parsed
        .object_lock_enabled
        .is_some_and(|e| e.trim() == "Enabled");
    let default_retention = match parsed.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(retention) => {
            let named = retention.mode.as_deref().map(str::trim);
            let Some(mode) = named.and_then(LockMode::from_name) else {
                return Err(format!(
                    "the bucket's default retention has mode {named:?}, not COMPLIANCE or GOVERNANCE"
                ));
            };
            let number = |field: &Option<String>, name: &str| -> Result<u32, String> {
                match field.as_deref().map(str::trim) {
                    None | Some("") => Ok(0),
                    Some(text) => text.parse().map_err(|e| {
                        format!("the bucket's default retention {name} {text:?}: {e}")
                    }),
                }
            };
            let days = number(&retention.days, "Days")?;
            let years = number(&retention.years, "Years")?;
            if days == 0 && years == 0 {
                return Err("the bucket's default retention gives neither Days nor Years".into());
            }
            Some(DefaultRetention { mode, days, years })
        }
    };
    Ok(LockConfiguration {
        enabled,
        default_retention,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorXml {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// S3's error code and the answer in words (`HTTP 403 AccessDenied: Access
/// Denied`) from an error status and body; a body that is not S3's error
/// XML is quoted (shortened).
pub fn error_of(status: u16, body: &str) -> (Option<String>, String) {
    let parsed = quick_xml::de::from_str::<ErrorXml>(body)
        .ok()
        .filter(|e| e.code.is_some());
    match parsed {
        Some(ErrorXml { code, message }) => {
            let code = code.unwrap_or_default();
            let detail = match message.filter(|m| !m.trim().is_empty()) {
                Some(message) => format!("HTTP {status} {code}: {}", message.trim()),
                None => format!("HTTP {status} {code}"),
            };
            (Some(code), detail)
        }
        None => {
            let code = match status {
                404 => Some("NotFound".to_string()),
                403 => Some("AccessDenied".to_string()),
                _ => None,
            };
            let body = body.trim();
            let detail = if body.is_empty() {
                format!("HTTP {status}")
            } else {
                let short: String = body.chars().take(300).collect();
                format!("HTTP {status}: {short}")
            };
            (code, detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_listing_keeps_versions_and_delete_markers_in_order() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>photos</Name><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <DeleteMarker><Key>a &amp; b</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-24T10:00:02.000Z</LastModified><Owner><ID>x</ID></Owner></DeleteMarker>
  <Version><Key>a &amp; b</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest><LastModified>2026-11-24T10:00:01.000Z</LastModified><ETag>"e2"</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass><Owner><ID>x</ID></Owner></Version>
  <NextKeyMarker>a &amp; b</NextKeyMarker><NextVersionIdMarker>v2</NextVersionIdMarker>
</ListVersionsResult>"#;
        let page = parse_versions(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            page.versions,
            vec![
                ListedVersion {
                    key: "a & b".into(),
                    version_id: "v3".into(),
                    is_latest: true,
                    delete_marker: true,
                    size: 0,
                    etag: None,
                    last_modified: Some("2026-11-24T10:00:02.000Z".into()),
                },
                ListedVersion {
                    key: "a & b".into(),
                    version_id: "v2".into(),
                    is_latest: false,
                    delete_marker: false,
                    size: 5,
                    etag: Some("\"e2\"".into()),
                    last_modified: Some("2026-11-24T10:00:01.000Z".into()),
                },
            ]
        );
        assert_eq!(
            page.next,
            Some(VersionMarker {
                key: "a & b".into(),
                version_id: "v2".into()
            })
        );
        let last = parse_versions(
            "<ListVersionsResult><IsTruncated>false</IsTruncated></ListVersionsResult>",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            last,
            VersionPage {
                versions: vec![],
                next: None
            }
        );
        assert!(parse_versions(
            "<ListVersionsResult><IsTruncated>true</IsTruncated></ListVersionsResult>"
        )
        .is_err());
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_listing_is_read_with_its_continuation() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>audit</Name><Prefix>jobs/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>jobs/a.csv</Key><LastModified>2026-11-24T10:00:00.000Z</LastModified><ETag>"x"</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>jobs/year=2026/b &amp; c.json</Key><Size>3</Size></Contents>
  <NextContinuationToken>tok/en==</NextContinuationToken>
</ListBucketResult>"#;
        let page = parse_list(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            page.objects,
            vec![
                Listed {
                    key: "jobs/a.csv".into(),
                    size: 12,
                    etag: Some("\"x\"".into()),
                    last_modified: Some("2026-11-24T10:00:00.000Z".into()),
                },
                Listed {
                    key: "jobs/year=2026/b & c.json".into(),
                    size: 3,
                    etag: None,
                    last_modified: None,
                }
            ]
        );
        assert_eq!(page.next.as_deref(), Some("tok/en=="));

        let last = parse_list(
            "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(last.objects.is_empty() && last.next.is_none());
        let broken =
            parse_list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>");
        assert!(broken.is_err_and(|e| e.contains("NextContinuationToken")));
        assert!(parse_list("not xml <").is_err());
    }

    #[test]
    fn pending_uploads_are_read_from_a_listing() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>media</Bucket><Prefix>coffer-restore-test-ab/</Prefix><IsTruncated>false</IsTruncated><Upload><Key>coffer-restore-test-ab/big.bin</Key><UploadId>u-1</UploadId><Initiated>2026-12-07T10:00:00.000Z</Initiated></Upload><Upload><Key>coffer-restore-test-ab/other.bin</Key><UploadId>u-2</UploadId></Upload></ListMultipartUploadsResult>"#;
        let found = parse_uploads(xml).unwrap_or_default();
        assert_eq!(
            found,
            vec![
                PendingUpload {
                    key: "coffer-restore-test-ab/big.bin".into(),
                    upload_id: "u-1".into()
                },
                PendingUpload {
                    key: "coffer-restore-test-ab/other.bin".into(),
                    upload_id: "u-2".into()
                },
            ]
        );
        let none = "<ListMultipartUploadsResult><Bucket>media</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
        assert_eq!(parse_uploads(none), Ok(Vec::new()));
    }

    #[test]
    fn an_object_lock_configuration_is_read_with_its_default_retention() {
        let none = parse_lock(
            r#"<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            none,
            LockConfiguration {
                enabled: true,
                default_retention: None
            }
        );
        let days = parse_lock(
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>3</Days><Years></Years></DefaultRetention></Rule></ObjectLockConfiguration>",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            days.default_retention,
            Some(DefaultRetention {
                mode: LockMode::Governance,
                days: 3,
                years: 0
            })
        );
        let years = parse_lock(
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .default_retention
        .unwrap_or_else(|| panic!("no default retention"));
        // A calendar year in UTC: 2028 is a leap year.
        assert_eq!(
            years.until(at("2027-03-01T00:00:00Z")),
            Some(at("2028-03-01T00:00:00Z"))
        );
        let bad = parse_lock(
            "<ObjectLockConfiguration><Rule><DefaultRetention><Mode>STRICT</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
        );
        assert!(bad.is_err_and(|e| e.contains("STRICT")));
    }

    #[test]
    fn tag_sets_are_written_escaped_and_read_back() {
        let tags = BTreeMap::from([
            ("owner".to_string(), "a&b <team>".to_string()),
            ("empty".to_string(), String::new()),
        ]);
        let xml = tagging_xml(&tags);
        assert!(xml.contains("<Value>a&amp;b &lt;team&gt;</Value>"), "{xml}");
        assert_eq!(parse_tagging(&xml).unwrap_or_else(|e| panic!("{e}")), tags);
        assert_eq!(
            parse_tagging("<Tagging><TagSet></TagSet></Tagging>").unwrap_or_else(|e| panic!("{e}")),
            BTreeMap::new()
        );
        assert!(parse_tagging("<nope").is_err());
    }

    #[test]
    fn s3_errors_surface_their_code_and_message() {
        let (code, detail) = error_of(
            403,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied because object protected by object lock.</Message><RequestId>1</RequestId></Error>",
        );
        assert_eq!(code.as_deref(), Some("AccessDenied"));
        assert_eq!(
            detail,
            "HTTP 403 AccessDenied: Access Denied because object protected by object lock."
        );
        let (code, detail) = error_of(404, "");
        assert_eq!(
            (code.as_deref(), detail.as_str()),
            (Some("NotFound"), "HTTP 404")
        );
        let (code, detail) = error_of(502, "<html>bad gateway</html>");
        assert_eq!(code, None);
        assert_eq!(detail, "HTTP 502: <html>bad gateway</html>");
    }

    fn client(style_virtual: bool, endpoint: &str) -> S3Client {
        S3Client::new(
            &S3Access {
                endpoint: endpoint.into(),
                region: "us-east-1".into(),
                access_key_id: None,
                secret_access_key: None,
                virtual_host_style: style_virtual,
            },
            "audit",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn urls_follow_the_endpoint_style_and_encode_keys_once() {
        let path = client(false, "http://127.0.0.1:9000/");
        assert_eq!(
            path.url(Some("jobs/BACKUP_JOB_REPORT/year=2026/a b.csv"), &[]),
            "http://127.0.0.1:9000/audit/jobs/BACKUP_JOB_REPORT/year%3D2026/a%20b.csv"
        );
        assert_eq!(
            path.url(None, &[("list-type", "2"), ("prefix", "jobs/year=2026/")]),
            "http://127.0.0.1:9000/audit?list-type=2&prefix=jobs%2Fyear%3D2026%2F"
        );
        assert_eq!(
            path.url(None, &[("object-lock", "")]),
            "http://127.0.0.1:9000/audit?object-lock"
        );
        let host = client(true, "https://s3.eu-west-1.amazonaws.com");
        assert_eq!(
            host.url(Some("r.csv"), &[]),
            "https://audit.s3.eu-west-1.amazonaws.com/r.csv"
        );
        assert_eq!(
            host.url(None, &[("object-lock", "")]),
            "https://audit.s3.eu-west-1.amazonaws.com/?object-lock"
        );
        assert!(S3Client::new(
            &S3Access {
                endpoint: "ftp://host".into(),
                region: "us-east-1".into(),
                access_key_id: None,
                secret_access_key: None,
                virtual_host_style: false,
            },
            "audit"
        )
        .is_err_and(|e| e.detail.contains("http://")));
    }
}
