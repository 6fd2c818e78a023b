//! Coffer's operations: every operation a user can ask for, as a function
//! over the environment (catalog, configuration, keyring, clock) and a
//! [`Caller`], taking typed arguments and returning a typed result or a
//! typed [`Error`] in AWS Backup's vocabulary.
//!
//! Every door (the CLI, the AWS Backup API) calls these and only
//! translates: decisions, and authorization (one hook,
//! [`Service::authorize`], every operation passes through), live here and
//! below. Time comes from the environment's clock.

pub mod access_keys;
pub mod audit;
pub mod backup;
pub mod backup_vaults;
pub mod caller;
pub mod copies;
pub mod declared;
pub mod error;
pub mod estate;
pub mod evidence;
mod expected;
pub mod frameworks;
pub mod history;
pub mod holds;
pub mod jobs;
pub mod keys;
pub mod lookup;
pub mod org;
pub mod paging;
pub mod plans;
pub mod points;
pub mod protected;
pub mod quickstart;
pub mod report;
pub mod report_plans;
pub mod requests;
pub mod restore;
pub mod restore_testing;
pub mod scope;
pub mod self_backup;
pub mod service;
pub mod stack;
pub mod tags;
pub mod upkeep;
pub mod vault_notifications;
pub mod vaults;

pub use caller::{Action, Caller, Identity, IdentityPolicy, Target, UserIdentity};
pub use error::{Context, Error, ErrorKind, Result};
pub use paging::{PageRequest, Paged};
pub use service::Service;
