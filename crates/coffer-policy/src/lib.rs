//! Policy as code: loads CloudFormation templates (YAML or JSON) and
//! inventory files into model values, resolving intrinsics within the file
//! set, and reports every problem at once with file, line, column, logical
//! ID and field. Also loads and creates Coffer's `config.toml`, and reads
//! organizations and merges their backup policies ([`org`]).
//!
//! Input is bounded by size as well as by count: each file, the files of
//! one load together, and what YAML aliases copy ([`Limits`]).
//!
//! ```no_run
//! use coffer_policy::{load_files, LoadOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let options = LoadOptions {
//!     account: coffer_model::AccountId::new("111122223333")?,
//!     region: coffer_model::Region::new("eu-west-1")?,
//!     stack_name: "backup-stack".into(),
//!     parameters: Default::default(),
//! };
//! let loaded = load_files(&["backup-stack.yaml".into()], &options);
//! for diagnostic in loaded.diagnostics.iter() {
//!     eprintln!("{diagnostic}");
//! }
//! # Ok(()) }
//! ```

mod cfn;
mod checks;
mod config;
mod diag;
mod intrinsic;
mod inventory;
mod load;
mod node;
pub mod org;
mod read;
mod set;

pub use config::{
    BucketLocation, Config, ConfigError, LoadConfig, NotificationTarget, ObjectLockDefault,
    ServeSettings, VaultLocation, VaultRule, DEFAULT_NOTIFICATION_EVENTS, NOTIFICATION_EVENTS,
};
pub use diag::{Diagnostic, Diagnostics};
pub use load::{
    check_references, collect_files, load_files, load_files_with_limits, External, Loaded,
};
pub use node::Pos;
pub use set::{
    Declared, Limits, LoadOptions, Origin, PolicySet, SourceFile, Unmanaged, MAX_ALIAS_BYTES,
    MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE_BYTES, MAX_SET_BYTES,
};
