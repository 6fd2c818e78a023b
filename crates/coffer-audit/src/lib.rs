//! Audit: the evidence ledger's checkpoints, signatures and proofs.
//!
//! - [`merkle`]: the RFC 6962 Merkle tree over ledger entries, with
//!   inclusion proofs.
//! - [`signing`]: the deployment's Ed25519 key (created on first use beside
//!   the keyring), public keys and fingerprints for auditors.
//! - [`controls`]: the Audit Manager controls evaluated over the catalog,
//!   with reasons and evidence, and the per-control and framework roll-up.
//! - [`evaluation`]: a framework evaluated over the catalog set at a time
//!   (points a page at a time), recording only the results that changed.
//! - [`ledger`]: signed checkpoints and the verification that names every
//!   edited, removed, reordered or cut-back entry, and (with the ledger
//!   key) every forged one.
//! - [`cut`]: declared cuts of the ledger (a catalog restored from an
//!   older copy or recreated), and the checkpoint kept outside the catalog
//!   that shows an undeclared one.
//! - [`ledger_key`]: the deployment's ledger key, which MACs each entry.
//!
//! The ledger itself is appended by `coffer-catalog`, in the transaction
//! of each change it records.

pub mod controls;
pub mod cut;
mod error;
pub mod evaluation;
mod key_file;
pub mod ledger;
pub mod ledger_key;
pub mod merkle;
pub mod signing;

pub use error::{Error, Result};
