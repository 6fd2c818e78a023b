//! Vaults: where recovery points live and who may touch them.
//!
//! This crate owns the rules that protect recovery points: the evaluation of
//! vault access policies (IAM JSON, explicit Deny wins) and the guard that
//! every delete, lifecycle change and expiry passes through, which enforces
//! vault locks and legal holds (DESIGN.md invariant 1). The restic-format
//! storage engine and the keyring join it here.
//!
//! ```
//! use coffer_vault::{AccessPolicy, Decision, Request};
//! let policy = AccessPolicy::from_json(&serde_json::json!({
//!     "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "backup:Delete*", "Resource": "*"}]
//! })).unwrap();
//! let request = Request {
//!     principal_arn: "arn:coffer:iam::111122223333:user/alice",
//!     action: "backup:DeleteRecoveryPoint",
//!     resource_arn: "arn:coffer:backup:eu-west-1:111122223333:recovery-point:rp-1",
//! };
//! assert!(matches!(policy.evaluate(&request), Decision::Denied { .. }));
//! ```

mod access;
mod guard;
mod keyring;
pub mod s3_client;
mod storage;

pub use access::{grant_of, AccessPolicy, Decision, Grant, PolicyError, Request};
pub use guard::{check, Caller, Operation, Refusal};
pub use keyring::{
    key_name_of, new_vault_secret, ExportWork, KeyInfo, Keyring, KeyringError, Secret,
    WrappedSecret, DEFAULT_KEY,
};
pub use storage::{
    block_on_s3, exclude_globs, parse_read_subset, restic_password, s3_operator, tree_order,
    Content, ObjectBody, ObjectsBackup, Observer, PruneSummary, ReadBack, RestoreRequest,
    RestoreSummary, S3Access, Settled, SnapshotInfo, StorageError, StoredObject, StreamBackup,
    TreeObject, VaultStorage, HISTORY_ROOT, OBJECTS_MANIFEST, OBJECTS_ROOT, SECRET_FILE,
};
