//! A small S3 client for report deliveries: put an object (with Object
//! Lock retention), get one, list a prefix (ListObjectsV2), read a
//! bucket's Object Lock configuration, and head an object. Requests are
//! signed with SigV4 by `reqsign` and sent by `reqwest` (rustls with ring);
//! S3's errors surface with their `Code` and `Message`.
//!
//! Every PUT carries `Content-MD5` (S3 requires an integrity header with
//! Object Lock parameters, and with a bucket default retention) and the
//! payload's SHA-256 in `x-amz-content-sha256`, which the signature covers.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use coffer_model::LockMode;
use coffer_vault::S3Access;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use md5::{Digest, Md5};
use percent_encoding::utf8_percent_encode;
use reqsign_aws_v4::constants::{AWS_QUERY_ENCODE_SET, AWS_URI_ENCODE_SET};
use reqsign_aws_v4::{Credential, RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};
use serde::Deserialize;

use crate::bundle::{Fetched, ObjectLock, Sealed, MANIFEST};

const CONTENT_MD5: HeaderName = HeaderName::from_static("content-md5");
const CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
const LOCK_MODE: HeaderName = HeaderName::from_static("x-amz-object-lock-mode");
const LOCK_UNTIL: HeaderName = HeaderName::from_static("x-amz-object-lock-retain-until-date");
/// Longest a request may take (report objects are small).
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

/// Object Lock was asked of a bucket that does not have it enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockNotEnabled;

/// The retention a delivery generated at `at` gets: the configured one
/// (`mode`, `days`) when there is one, which the bucket must allow; else
/// the bucket's default retention, made explicit so the manifest records
/// it; else none. Retain-until dates are whole seconds, rounded up.
///
/// # Errors
/// `LockNotEnabled` when a retention is configured and the bucket does not
/// have Object Lock enabled (or `bucket` is `None`: it has no configuration).
pub fn retention(
    configured: Option<(LockMode, u32)>,
    bucket: Option<&LockConfiguration>,
    at: jiff::Timestamp,
) -> Result<Option<ObjectLock>, LockNotEnabled> {
    let enabled = bucket.is_some_and(|b| b.enabled);
    let (mode, until) = match (configured, bucket) {
        (Some(_), _) if !enabled => return Err(LockNotEnabled),
        (Some((mode, days)), _) => (
            mode,
            at.checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))
                .ok(),
        ),
        (
            None,
            Some(LockConfiguration {
                enabled: true,
                default_retention: Some(default),
            }),
        ) => (default.mode, default.until(at)),
        (None, _) => return Ok(None),
    };
    // An unrepresentable date (beyond year 9999) keeps the latest one.
    let until = until.unwrap_or(jiff::Timestamp::MAX);
    let whole = until.as_second() + i64::from(until.subsec_nanosecond() > 0);
    Ok(Some(ObjectLock {
        mode,
        retain_until_date: jiff::Timestamp::from_second(whole).unwrap_or(until),
    }))
}

/// `s3://bucket/prefix` split into the bucket and the key prefix (without
/// a leading `/`); `None` when it is not an `s3://` URL with a bucket.
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((
        bucket.to_string(),
        prefix.trim_start_matches('/').to_string(),
    ))
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
        let payload = coffer_catalog::ledger::sha256_hex(&body);
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

    /// Puts `bytes` at `key`, retained as `lock` says when given.
    ///
    /// # Errors
    /// S3's refusal (e.g. `InvalidRequest` when the bucket has no Object
    /// Lock), or no answer.
    pub async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        lock: Option<&ObjectLock>,
    ) -> Result<(), S3Error> {
        let target = self.target(key);
        let headers = put_headers(key, bytes, lock)
            .map_err(|detail| S3Error::local("PutObject", &target, detail))?;
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
        let page_size = self.page_size.map(|n| n.to_string());
        for _ in 0..MAX_LIST_PAGES {
            let mut query = vec![("list-type", "2"), ("prefix", prefix)];
            if let Some(keys) = &page_size {
                query.push(("max-keys", keys));
            }
            if let Some(token) = &token {
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
            let page = parse_list(&text)
                .map_err(|detail| S3Error::local("ListObjectsV2", &target, detail))?;
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

    /// Puts a sealed delivery's objects under `prefix` (ending with `/`),
    /// each retained as `sealed.manifest.object_lock` says, the manifest
    /// last.
    ///
    /// # Errors
    /// The first object S3 refuses; the objects before it stay.
    pub async fn put_sealed(&self, prefix: &str, sealed: &Sealed) -> Result<(), S3Error> {
        let lock = sealed.manifest.object_lock.as_ref();
        for (name, bytes) in &sealed.objects {
            self.put(&format!("{prefix}{name}"), bytes, lock).await?;
        }
        Ok(())
    }

    /// The delivery under `prefix` (empty, or ending with `/`): every
    /// object under it, named relative to it; `None`, after one HEAD and
    /// without listing anything, when no `manifest.json` lies directly
    /// under it.
    ///
    /// # Errors
    /// A listing or a read that fails.
    pub async fn fetch_delivery(&self, prefix: &str) -> Result<Option<Fetched>, S3Error> {
        // One HEAD before any listing: a prefix above a delivery (a whole
        // bucket, say) is never listed for nothing.
        let manifest = format!("{prefix}{MANIFEST}");
        match self.head(&manifest).await {
            Ok(_) => {}
            Err(error) if matches!(error.code.as_deref(), Some("NotFound" | "NoSuchKey")) => {
                return Ok(None)
            }
            Err(error) => return Err(error),
        }
        let listed = self.list(prefix).await?;
        let mut objects = BTreeMap::new();
        for object in listed {
            let Some(name) = object.key.strip_prefix(prefix) else {
                continue;
            };
            let bytes = self.get(&object.key).await?;
            objects.insert(name.to_string(), bytes);
        }
        Ok(Some(Fetched { objects }))
    }
}

/// The headers of a PutObject besides the signature's: `Content-MD5`,
/// `Content-Type` from the name, and the Object Lock mode and date.
///
/// # Errors
/// A header value that cannot be built.
pub fn put_headers(
    key: &str,
    bytes: &[u8],
    lock: Option<&ObjectLock>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let value = |text: &str| HeaderValue::from_str(text).map_err(|e| format!("{text:?}: {e}"));
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes));
    let mut headers = vec![
        (CONTENT_MD5, value(&md5)?),
        (CONTENT_TYPE, HeaderValue::from_static(content_type(key))),
    ];
    if let Some(lock) = lock {
        headers.push((LOCK_MODE, HeaderValue::from_static(lock.mode.as_str())));
        headers.push((
            LOCK_UNTIL,
            value(&retain_until_text(lock.retain_until_date))?,
        ));
    }
    Ok(headers)
}

/// S3's form of a retain-until date: `2026-11-25T10:00:00Z`.
pub fn retain_until_text(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("pdf") => "application/pdf",
        Some("pem") => "application/x-pem-file",
        _ => "application/octet-stream",
    }
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
        })
        .collect();
    Ok(ListPage { objects, next })
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
                    size: 12
                },
                Listed {
                    key: "jobs/year=2026/b & c.json".into(),
                    size: 3
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

    #[test]
    fn a_put_carries_its_md5_type_and_retention() {
        let lock = ObjectLock {
            mode: LockMode::Compliance,
            retain_until_date: at("2026-11-25T10:00:00Z"),
        };
        let headers =
            put_headers("jobs/r.csv", b"hello", Some(&lock)).unwrap_or_else(|e| panic!("{e}"));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| v.to_str().unwrap_or_default().to_string())
        };
        // MD5("hello"), base64.
        assert_eq!(
            get("content-md5").as_deref(),
            Some("XUFAKrxLKna5cZ2REBfFkg==")
        );
        assert_eq!(get("content-type").as_deref(), Some("text/csv"));
        assert_eq!(get("x-amz-object-lock-mode").as_deref(), Some("COMPLIANCE"));
        assert_eq!(
            get("x-amz-object-lock-retain-until-date").as_deref(),
            Some("2026-11-25T10:00:00Z")
        );
        let plain = put_headers("manifest.json", b"", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.len(), 2);
        assert!(plain
            .iter()
            .all(|(name, _)| !name.as_str().starts_with("x-amz-object-lock")));
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

    #[test]
    fn the_configured_retention_wins_and_a_bucket_default_is_made_explicit() {
        let generated = at("2026-11-24T10:00:00.250Z");
        let enabled = LockConfiguration {
            enabled: true,
            default_retention: None,
        };
        let configured = retention(Some((LockMode::Compliance, 1)), Some(&enabled), generated)
            .unwrap_or_else(|_| panic!("refused"))
            .unwrap_or_else(|| panic!("no retention"));
        assert_eq!(configured.mode, LockMode::Compliance);
        // Rounded up to whole seconds, never shorter than asked.
        assert_eq!(configured.retain_until_date, at("2026-11-25T10:00:01Z"));

        let with_default = LockConfiguration {
            enabled: true,
            default_retention: Some(DefaultRetention {
                mode: LockMode::Governance,
                days: 7,
                years: 0,
            }),
        };
        let default = retention(None, Some(&with_default), generated)
            .unwrap_or_else(|_| panic!("refused"))
            .unwrap_or_else(|| panic!("no retention"));
        assert_eq!(default.mode, LockMode::Governance);
        assert_eq!(default.retain_until_date, at("2026-12-01T10:00:01Z"));
        let explicit = retention(
            Some((LockMode::Compliance, 2)),
            Some(&with_default),
            generated,
        )
        .unwrap_or_else(|_| panic!("refused"))
        .unwrap_or_else(|| panic!("no retention"));
        assert_eq!(explicit.mode, LockMode::Compliance);

        assert_eq!(retention(None, Some(&enabled), generated), Ok(None));
        assert_eq!(retention(None, None, generated), Ok(None));
        assert_eq!(
            retention(Some((LockMode::Compliance, 1)), None, generated),
            Err(LockNotEnabled)
        );
        let disabled = LockConfiguration {
            enabled: false,
            default_retention: None,
        };
        assert_eq!(
            retention(Some((LockMode::Governance, 1)), Some(&disabled), generated),
            Err(LockNotEnabled)
        );
    }

    #[test]
    fn s3_urls_split_into_bucket_and_prefix() {
        assert_eq!(
            parse_url("s3://audit/jobs/x/"),
            Some(("audit".into(), "jobs/x/".into()))
        );
        assert_eq!(
            parse_url("s3://audit"),
            Some(("audit".into(), String::new()))
        );
        assert_eq!(parse_url("s3:///x"), None);
        assert_eq!(parse_url("/tmp/x"), None);
    }
}
