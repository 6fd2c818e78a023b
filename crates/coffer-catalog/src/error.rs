//! Catalog errors.

/// What can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("catalog URL {url:?} is not supported; use sqlite://PATH (the default) or postgres://USER@HOST/DB")]
    UnsupportedUrl { url: String },
    #[error("cannot open the catalog at {url}: {source}")]
    Open {
        /// The URL with any password removed.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create the catalog's directory {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog query failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("catalog schema migration {version} ({description}) differs from the one applied to this catalog; the catalog was written by a different build of Coffer")]
    MigrationChanged { version: i64, description: String },
    #[error("the catalog has schema version {found}, newer than this Coffer knows ({known}); upgrade coffer")]
    TooNew { found: i64, known: i64 },
    #[error("stored {what} cannot be read: {source}")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("stored timestamp {value:?} in {what} cannot be read")]
    BadTimestamp { what: String, value: String },
    #[error("{what} changed while this change was being made (someone else wrote it); nothing was changed, run the command again")]
    Conflict { what: String },
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what} {id}: cannot go from {from} to {to}")]
    InvalidTransition {
        what: &'static str,
        id: String,
        from: String,
        to: String,
    },
    #[error("cannot apply stack {stack:?}:\n{}", reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    Blocked { stack: String, reasons: Vec<String> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Removes the password from a database URL so it can be shown.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_urls() {
        assert_eq!(
            redact_url("postgres://coffer:s3cret@db.example:5432/catalog"),
            "postgres://coffer:***@db.example:5432/catalog"
        );
        assert_eq!(
            redact_url("postgres://coffer@db/catalog"),
            "postgres://coffer@db/catalog"
        );
        assert_eq!(
            redact_url("sqlite:///home/x/catalog.db"),
            "sqlite:///home/x/catalog.db"
        );
    }
}
