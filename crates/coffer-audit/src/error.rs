//! Audit errors.

use std::path::PathBuf;

/// What can go wrong while signing or verifying evidence.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Catalog(#[from] coffer_catalog::Error),
    #[error("cannot use {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} holds no Ed25519 signing key (64 hex digits expected); restore it from a backup of the home", path.display())]
    BadKey { path: PathBuf },
    #[error("{} holds another signing key ({present}) than the export's ({imported}); reports signed by one verify only with its own public key: keep the present key, or import with force to replace it", path.display())]
    OtherKey {
        path: PathBuf,
        present: String,
        imported: String,
    },
    #[error("{} holds no ledger key (64 hex digits expected); restore it from a backup of the home or an export of its keys", path.display())]
    BadLedgerKey { path: PathBuf },
    #[error("{} holds another ledger key than the export's; entries MACed by one fail `evidence verify` under the other: keep the present key, or import with force to replace it", path.display())]
    OtherLedgerKey { path: PathBuf },
    #[error(
        "the export's ledger key is not 32 bytes: the export is damaged; import another export"
    )]
    BadImportedLedgerKey,
    #[error("the export's signing key is not an Ed25519 key (32 bytes expected): the export is damaged; import another export")]
    BadSeed,
    #[error("not an Ed25519 public key: give the 64 hex digits `coffer keys public` prints")]
    BadPublicKey,
    #[error("the ledger's digest holds no root of its first {size} entries (the prefix was not asked for, or the ledger holds fewer entries): read the ledger again")]
    NoPrefix { size: i64 },
    #[error("the system's random source failed: {0}")]
    Random(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
