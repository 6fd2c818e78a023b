//! Report deliveries to S3 over the shared signed client
//! (`coffer_vault::s3_client`): a delivery's objects put with Object Lock
//! retention, a delivery fetched back for verification, and the retention
//! a delivery gets.

use std::collections::BTreeMap;

use coffer_model::LockMode;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};

pub use coffer_vault::s3_client::{
    error_of, parse_list, parse_lock, DefaultRetention, ListPage, Listed, LockConfiguration,
    ObjectHead, S3Client, S3Error, LOCK_MODE, LOCK_UNTIL,
};

use crate::bundle::{Fetched, ObjectLock, Sealed, MANIFEST};

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

/// What a report delivery asks of its bucket's client.
#[allow(async_fn_in_trait)] // used within the workspace, never as `dyn`
pub trait Delivery {
    /// Puts `bytes` at `key`, retained as `lock` says when given.
    ///
    /// # Errors
    /// S3's refusal (e.g. `InvalidRequest` when the bucket has no Object
    /// Lock), or no answer.
    async fn put(&self, key: &str, bytes: &[u8], lock: Option<&ObjectLock>) -> Result<(), S3Error>;

    /// Puts a sealed delivery's objects under `prefix` (ending with `/`),
    /// each retained as `sealed.manifest.object_lock` says, the manifest
    /// last.
    ///
    /// # Errors
    /// The first object S3 refuses; the objects before it stay.
    async fn put_sealed(&self, prefix: &str, sealed: &Sealed) -> Result<(), S3Error>;

    /// The delivery under `prefix` (empty, or ending with `/`): every
    /// object under it, named relative to it; `None`, after one HEAD and
    /// without listing anything, when no `manifest.json` lies directly
    /// under it.
    ///
    /// # Errors
    /// A listing or a read that fails.
    async fn fetch_delivery(&self, prefix: &str) -> Result<Option<Fetched>, S3Error>;
}

impl Delivery for S3Client {
    async fn put(&self, key: &str, bytes: &[u8], lock: Option<&ObjectLock>) -> Result<(), S3Error> {
        let headers = put_headers(key, lock).map_err(|detail| S3Error {
            operation: "PutObject",
            target: format!("s3://{}/{key}", self.bucket()),
            code: None,
            detail,
        })?;
        self.put_object(key, bytes, headers).await
    }

    async fn put_sealed(&self, prefix: &str, sealed: &Sealed) -> Result<(), S3Error> {
        let lock = sealed.manifest.object_lock.as_ref();
        for (name, bytes) in &sealed.objects {
            self.put(&format!("{prefix}{name}"), bytes, lock).await?;
        }
        Ok(())
    }
    async fn fetch_delivery(&self, prefix: &str) -> Result<Option<Fetched>, S3Error> {
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

/// The headers of a delivery's PutObject besides the client's own
/// (`Content-MD5`, the signature's): `Content-Type` from the name, and the
/// Object Lock mode and date.
///
/// # Errors
/// A header value that cannot be built.
pub fn put_headers(
    key: &str,
    lock: Option<&ObjectLock>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let value = |text: &str| HeaderValue::from_str(text).map_err(|e| format!("{text:?}: {e}"));
    let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static(content_type(key)))];
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_put_carries_its_type_and_retention() {
        let lock = ObjectLock {
            mode: LockMode::Compliance,
            retain_until_date: at("2026-11-25T10:00:00Z"),
        };
        let headers = put_headers("jobs/r.csv", Some(&lock)).unwrap_or_else(|e| panic!("{e}"));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| v.to_str().unwrap_or_default().to_string())
        };
        assert_eq!(get("content-type").as_deref(), Some("text/csv"));
        assert_eq!(get("x-amz-object-lock-mode").as_deref(), Some("COMPLIANCE"));
        assert_eq!(
            get("x-amz-object-lock-retain-until-date").as_deref(),
            Some("2026-11-25T10:00:00Z")
        );
        let plain = put_headers("manifest.json", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.len(), 1);
        assert!(plain
            .iter()
            .all(|(name, _)| !name.as_str().starts_with("x-amz-object-lock")));
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
