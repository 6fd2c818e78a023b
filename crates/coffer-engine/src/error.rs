//! What can go wrong while the engine carries out work.

use coffer_drivers::DriverError;
use coffer_vault::{KeyringError, StorageError};

/// An engine failure. Messages say what is wrong and how to fix it; they
/// never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Catalog(#[from] coffer_catalog::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error(transparent)]
    Location(#[from] coffer_model::LocationError),
    #[error("the catalog's record of {what} cannot be read: {source}")]
    Unreadable {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} {name:?} is not in the catalog{hint}")]
    Missing {
        what: &'static str,
        name: String,
        /// How to find or create it.
        hint: String,
    },
    #[error(
        "vault {vault:?} has no storage yet; run `coffer apply` for its stack, which creates it"
    )]
    NoStorage { vault: String },
    #[error("the storage of vault {vault:?} is missing at {location}; if it moved, restore it there (or run `coffer apply` to create an empty one)")]
    StorageMissing { vault: String, location: String },
    #[error("vault storage at {location} names no S3 endpoint; add endpoint = \"NAME\" to its [[vaults.rules]] entry")]
    NoEndpoint { location: String },
    #[error("vault storage at {location} uses S3 endpoint {endpoint:?}, which config.toml no longer declares; add [s3_endpoints.{endpoint}] back")]
    UnknownEndpoint { location: String, endpoint: String },
    #[error("[s3_endpoints.{endpoint}] {field}: {source}")]
    EndpointSecret {
        endpoint: String,
        field: &'static str,
        #[source]
        source: coffer_drivers::SecretError,
    },
    #[error("recovery point ARN {arn:?} cannot be read: {message}")]
    PointArn { arn: String, message: String },
    #[error("vault {vault:?} is locked: {reason}")]
    Locked { vault: String, reason: String },
    #[error("recovery point {id} is {status}; only a completed recovery point can be copied")]
    NotCopyable { id: String, status: String },
    #[error("recovery point {id} has no stored snapshot, so its data cannot be read; restore or copy another recovery point of the resource")]
    NoSnapshot { id: String },
    #[error("the destination is the recovery point's own vault {vault:?}; name another vault")]
    SameVault { vault: String },
    #[error("recovery point {id} stays DELETING: {message}; fix the vault's storage and delete it again")]
    StaysDeleting { id: String, message: String },
    #[error("backup job {job_id} waits: backup job {behind} is backing up the same resource, and a resource is backed up by one job at a time; it starts when that job ends (`coffer jobs describe {behind}` follows it, `coffer jobs abort {job_id}` gives up)")]
    WaitsBehind { job_id: String, behind: String },
    #[error("snapshot {snapshot} cannot be adopted as a recovery point: {reason}; restore it with restic and back the data up again")]
    Unadoptable { snapshot: String, reason: String },
    #[error("a background task stopped before it finished ({0}); nothing was recorded for it: run the command again")]
    Task(String),
    #[error("cannot bind {addr}: {source}; listen on another address, or stop what uses it")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve TLS with certificate {} and key {}: {reason}; give a PEM certificate chain and its PEM private key ([serve] tls_certificate, tls_key)", certificate.display(), key.display())]
    Tls {
        certificate: std::path::PathBuf,
        key: std::path::PathBuf,
        reason: String,
    },
    #[error("another `coffer serve` holds {}: only one scheduler runs per home; stop it first", path.display())]
    AlreadyServing { path: std::path::PathBuf },
    #[error("cannot use {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
