//! What an operation's failure is, in AWS Backup's vocabulary, so every
//! door answers with the same kind: the CLI prints the message and exits
//! 1, the API answers with the exception's name and status code.

use std::fmt;

/// The kind of a failure, as AWS Backup names its exceptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// What the request names does not exist.
    ResourceNotFound,
    /// A parameter's value is out of range or malformed.
    InvalidParameterValue,
    /// The request is well formed but cannot be carried out in this state
    /// (a lock, a legal hold, a job that already ended).
    InvalidRequest,
    /// A required parameter is missing.
    MissingParameterValue,
    /// What the request creates exists already.
    AlreadyExists,
    /// Another change got there first, or the resource is busy.
    Conflict,
    /// Something Coffer depends on (storage, a database server, a tool, the
    /// keyring) failed.
    DependencyFailure,
    /// A limit (active legal holds, ...) is reached.
    LimitExceeded,
    /// Coffer cannot serve the request now (the catalog is unreachable).
    ServiceUnavailable,
    /// The caller may not do this.
    AccessDenied,
}

impl ErrorKind {
    /// The exception's name on the wire (`x-amzn-ErrorType`, `__type`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::InvalidParameterValue => "InvalidParameterValueException",
            ErrorKind::InvalidRequest => "InvalidRequestException",
            ErrorKind::MissingParameterValue => "MissingParameterValueException",
            ErrorKind::AlreadyExists => "AlreadyExistsException",
            ErrorKind::Conflict => "ConflictException",
            ErrorKind::DependencyFailure => "DependencyFailureException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            ErrorKind::AccessDenied => "AccessDeniedException",
        }
    }

    /// The HTTP status AWS answers the exception with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::ResourceNotFound => 404,
            ErrorKind::InvalidParameterValue
            | ErrorKind::InvalidRequest
            | ErrorKind::MissingParameterValue
            | ErrorKind::AlreadyExists
            | ErrorKind::LimitExceeded => 400,
            ErrorKind::Conflict => 409,
            ErrorKind::AccessDenied => 403,
            ErrorKind::DependencyFailure => 500,
            ErrorKind::ServiceUnavailable => 503,
        }
    }
}

/// An operation's failure: its kind, whether trying again can help, and
/// the message a person reads (what is wrong and how to fix it; never a
/// secret, never a command-line flag).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    retryable: bool,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let retryable = matches!(kind, ErrorKind::ServiceUnavailable | ErrorKind::Conflict);
        Error {
            kind,
            retryable,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::ResourceNotFound, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidParameterValue, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidRequest, message)
    }

    pub fn missing_parameter(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::MissingParameterValue, message)
    }

    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }

    pub fn dependency(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::DependencyFailure, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::AccessDenied, message)
    }

    pub fn limit(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::LimitExceeded, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the same request may succeed later unchanged.
    pub fn retryable(&self) -> bool {
        self.retryable
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure, its message preceded by what was being done.
    pub fn context(mut self, what: impl fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Adds what was being done to a failure of any kind.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
}

impl From<coffer_catalog::Error> for Error {
    fn from(error: coffer_catalog::Error) -> Error {
        use coffer_catalog::Error as E;
        let kind = match &error {
            E::NotFound { .. } => ErrorKind::ResourceNotFound,
            E::Conflict { .. } | E::InvalidTransition { .. } => ErrorKind::Conflict,
            E::Blocked { .. } => ErrorKind::InvalidRequest,
            E::UnsupportedUrl { .. } => ErrorKind::InvalidParameterValue,
            E::Open { .. } | E::Database(_) => ErrorKind::ServiceUnavailable,
            _ => ErrorKind::DependencyFailure,
        };
        Error::new(kind, error.to_string())
    }
}

impl From<coffer_engine::Error> for Error {
    fn from(error: coffer_engine::Error) -> Error {
        use coffer_engine::Error as E;
        let kind = match error {
            E::Catalog(e) => return e.into(),
            E::Missing { .. } => ErrorKind::ResourceNotFound,
            E::Locked { .. }
            | E::NotCopyable { .. }
            | E::NoSnapshot { .. }
            | E::SameVault { .. }
            | E::Unadoptable { .. }
            | E::NoStorage { .. } => ErrorKind::InvalidRequest,
            E::WaitsBehind { .. } => ErrorKind::Conflict,
            E::AlreadyServing { .. } => ErrorKind::Conflict,
            E::Task(_) => ErrorKind::ServiceUnavailable,
            _ => ErrorKind::DependencyFailure,
        };
        Error::new(kind, error.to_string())
    }
}

impl From<coffer_audit::Error> for Error {
    fn from(error: coffer_audit::Error) -> Error {
        match error {
            coffer_audit::Error::Catalog(e) => e.into(),
            other => Error::dependency(other.to_string()),
        }
    }
}

macro_rules! dependency_errors {
    ($($ty:ty),* $(,)?) => {
        $(impl From<$ty> for Error {
            fn from(error: $ty) -> Error {
                Error::dependency(error.to_string())
            }
        })*
    };
}

dependency_errors!(
    coffer_vault::StorageError,
    coffer_vault::KeyringError,
    coffer_drivers::DriverError,
    coffer_report::Error,
    coffer_report::s3::S3Error,
    coffer_policy::ConfigError,
    std::io::Error,
);

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Error {
        Error::dependency(format!(
            "a catalog document cannot be read or written: {error}"
        ))
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(error: tokio::task::JoinError) -> Error {
        Error::new(
            ErrorKind::ServiceUnavailable,
            format!("a background task stopped before it finished ({error}); nothing was recorded for it: try again"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_answer_with_aws_names_and_statuses() {
        let e = Error::not_found("there is no recovery point X");
        assert_eq!(e.kind().code(), "ResourceNotFoundException");
        assert_eq!(e.kind().http_status(), 404);
        assert!(!e.retryable());
        let busy = Error::conflict("moved meanwhile");
        assert!(busy.retryable());
        assert_eq!(busy.kind().http_status(), 409);
        assert_eq!(
            Error::access_denied("no").kind().code(),
            "AccessDeniedException"
        );
    }

    #[test]
    fn a_missing_catalog_record_is_not_found_and_a_stale_write_a_conflict() {
        let missing: Error = coffer_catalog::Error::NotFound {
            what: "recovery point",
            id: "X".into(),
        }
        .into();
        assert_eq!(missing.kind(), ErrorKind::ResourceNotFound);
        let stale: Error = coffer_catalog::Error::Conflict {
            what: "backup job J".into(),
        }
        .into();
        assert_eq!(stale.kind(), ErrorKind::Conflict);
        assert!(stale.retryable());
    }
}
