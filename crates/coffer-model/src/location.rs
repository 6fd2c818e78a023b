//! Where a vault's repository lives: a local directory or a bucket and
//! prefix on an S3 endpoint, as one typed value. Its text is what the
//! catalog records (`file:///srv/coffer/vault`,
//! `s3://bucket/prefix?endpoint=NAME`), so a location read back from the
//! catalog and shown again is the same text.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A vault's storage location.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StorageLocation {
    /// `file:///absolute/path`.
    Local(PathBuf),
    /// `s3://bucket/prefix`, served by the `[s3_endpoints]` entry
    /// `endpoint` (`?endpoint=NAME`), whose credentials are read at use.
    S3 {
        bucket: String,
        /// The key prefix, without a leading `/`; empty for the bucket's root.
        prefix: String,
        endpoint: Option<String>,
    },
}

/// A text that is not a storage location.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("storage location {text:?} must start with file:// or s3://")]
    Scheme { text: String },
    #[error("storage location {text:?} must hold an absolute path after file://")]
    RelativePath { text: String },
    #[error("storage location {text:?} names no bucket; write s3://<bucket>/<prefix>")]
    NoBucket { text: String },
    #[error("storage location {text:?} may only end with ?endpoint=NAME")]
    Query { text: String },
}

const FILE: &str = "file://";
const S3: &str = "s3://";
const ENDPOINT: &str = "endpoint=";

impl StorageLocation {
    /// Reads a location as the catalog records it.
    ///
    /// # Errors
    /// A scheme other than `file://` or `s3://`, a relative path, an
    /// `s3://` URL without a bucket, or a query other than `endpoint=NAME`.
    pub fn parse(text: &str) -> Result<StorageLocation, LocationError> {
        if let Some(path) = text.strip_prefix(FILE) {
            // A path is taken whole: it may hold `?`.
            if !path.starts_with('/') {
                return Err(LocationError::RelativePath {
                    text: text.to_string(),
                });
            }
            return Ok(StorageLocation::Local(PathBuf::from(path)));
        }
        let Some(rest) = text.strip_prefix(S3) else {
            return Err(LocationError::Scheme {
                text: text.to_string(),
            });
        };
        let (place, endpoint) = match rest.split_once('?') {
            None => (rest, None),
            Some((place, query)) => match query.strip_prefix(ENDPOINT) {
                Some(name) if !name.is_empty() && !name.contains(['&', '?']) => {
                    (place, Some(name.to_string()))
                }
                _ => {
                    return Err(LocationError::Query {
                        text: text.to_string(),
                    })
                }
            },
        };
        let (bucket, prefix) = place.split_once('/').unwrap_or((place, ""));
        if bucket.is_empty() {
            return Err(LocationError::NoBucket {
                text: text.to_string(),
            });
        }
        Ok(StorageLocation::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint,
        })
    }

    /// A location from a configured URL (`file://...` or `s3://...`) and
    /// the `[s3_endpoints]` entry serving it; the entry is kept for
    /// `s3://` URLs only.
    ///
    /// # Errors
    /// As [`StorageLocation::parse`]; a URL that already names an endpoint
    /// is refused (`Query`).
    pub fn from_url(url: &str, endpoint: Option<&str>) -> Result<StorageLocation, LocationError> {
        match StorageLocation::parse(url)? {
            StorageLocation::S3 {
                endpoint: Some(_), ..
            } => Err(LocationError::Query {
                text: url.to_string(),
            }),
            StorageLocation::S3 { bucket, prefix, .. } => Ok(StorageLocation::S3 {
                bucket,
                prefix,
                endpoint: endpoint.map(str::to_string),
            }),
            local => Ok(local),
        }
    }

    /// The `[s3_endpoints]` entry serving an `s3://` location.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            StorageLocation::Local(_) => None,
            StorageLocation::S3 { endpoint, .. } => endpoint.as_deref(),
        }
    }

    /// The location without its endpoint: `file:///path` or
    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        match self {
            StorageLocation::Local(path) => format!("{FILE}{}", path.display()),
            StorageLocation::S3 { bucket, prefix, .. } if prefix.is_empty() => {
                format!("{S3}{bucket}")
            }
            StorageLocation::S3 { bucket, prefix, .. } => format!("{S3}{bucket}/{prefix}"),
        }
    }
}

impl StorageLocation {
    /// The repository as restic names it: the path, or
    /// `s3:ENDPOINT_URL/bucket/prefix` given the endpoint's URL.
    pub fn restic_repository(&self, endpoint_url: &str) -> String {
        match self {
            StorageLocation::Local(path) => path.display().to_string(),
            StorageLocation::S3 { bucket, prefix, .. } => {
                let base = endpoint_url.trim_end_matches('/');
                if prefix.is_empty() {
                    format!("s3:{base}/{bucket}")
                } else {
                    format!("s3:{base}/{bucket}/{prefix}")
                }
            }
        }
    }
}

impl fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())?;
        match self.endpoint() {
            Some(endpoint) => write!(f, "?{ENDPOINT}{endpoint}"),
            None => Ok(()),
        }
    }
}

impl FromStr for StorageLocation {
    type Err = LocationError;
    fn from_str(text: &str) -> Result<StorageLocation, LocationError> {
        StorageLocation::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: StorageLocation) {
        let parsed = StorageLocation::parse(text).unwrap();
        assert_eq!(parsed, expect);
        assert_eq!(parsed.to_string(), text, "the catalog's text comes back");
    }

    fn s3(bucket: &str, prefix: &str, endpoint: Option<&str>) -> StorageLocation {
        StorageLocation::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: endpoint.map(Into::into),
        }
    }

    #[test]
    fn recorded_locations_read_back_to_the_same_text() {
        check(
            "file:///home/ops/.coffer/vaults/111122223333/eu-west-1/primary",
            StorageLocation::Local(
                "/home/ops/.coffer/vaults/111122223333/eu-west-1/primary".into(),
            ),
        );
        check(
            "file:///srv/odd?endpoint=x",
            StorageLocation::Local("/srv/odd?endpoint=x".into()),
        );
        check(
            "s3://coffer-vaults/prod/primary?endpoint=moto",
            s3("coffer-vaults", "prod/primary", Some("moto")),
        );
        check(
            "s3://coffer-vaults/prod/primary/",
            s3("coffer-vaults", "prod/primary/", None),
        );
        check(
            "s3://primary?endpoint=minio",
            s3("primary", "", Some("minio")),
        );
        check("s3://no-such-bucket/x", s3("no-such-bucket", "x", None));
    }

    #[test]
    fn what_is_not_a_location_is_refused_by_kind() {
        let err = |text: &str| StorageLocation::parse(text).unwrap_err();
        assert!(matches!(err("/srv/vault"), LocationError::Scheme { .. }));
        assert!(matches!(err("http://x/y"), LocationError::Scheme { .. }));
        assert!(matches!(
            err("file://relative/path"),
            LocationError::RelativePath { .. }
        ));
        assert!(matches!(
            err("s3:///prefix"),
            LocationError::NoBucket { .. }
        ));
        assert!(matches!(err("s3://"), LocationError::NoBucket { .. }));
        assert!(matches!(err("s3://b/p?x=1"), LocationError::Query { .. }));
        assert!(matches!(
            err("s3://b/p?endpoint="),
            LocationError::Query { .. }
        ));
        assert_eq!(
            err("file://relative/path").to_string(),
            "storage location \"file://relative/path\" must hold an absolute path after file://"
        );
    }

    #[test]
    fn a_configured_url_takes_its_endpoint_for_s3_only() {
        assert_eq!(
            StorageLocation::from_url("s3://b/vaults/v", Some("minio"))
                .unwrap()
                .to_string(),
            "s3://b/vaults/v?endpoint=minio"
        );
        assert_eq!(
            StorageLocation::from_url("file:///srv/v", Some("minio"))
                .unwrap()
                .to_string(),
            "file:///srv/v"
        );
        assert_eq!(
            StorageLocation::from_url("s3://b/v", None)
                .unwrap()
                .to_string(),
            "s3://b/v"
        );
        assert!(StorageLocation::from_url("s3://b/v?endpoint=a", Some("b")).is_err());
    }

    #[test]
    fn restic_names_a_path_or_an_s3_url_on_the_endpoint() {
        let local = StorageLocation::parse("file:///srv/v").unwrap();
        assert_eq!(local.restic_repository(""), "/srv/v");
        let remote = StorageLocation::parse("s3://b/prod/v?endpoint=minio").unwrap();
        assert_eq!(
            remote.restic_repository("http://127.0.0.1:9000/"),
            "s3:http://127.0.0.1:9000/b/prod/v"
        );
    }

    #[test]
    fn an_empty_prefix_after_a_slash_reads_as_the_bucket_root() {
        // The one text that does not come back as written.
        let parsed = StorageLocation::parse("s3://bucket/").unwrap();
        assert_eq!(parsed, s3("bucket", "", None));
        assert_eq!(parsed.to_string(), "s3://bucket");
    }
}
