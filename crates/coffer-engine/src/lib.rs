//! The engine: the scheduler, its workers and the job state machines, with
//! every decision a value that tests can drive.
//!
//! Decisions (pure, no IO):
//! - [`clock`]: the time the engine runs on; the daemon uses the system
//!   clock, tests a [`clock::ManualClock`] that they move by hand, so a
//!   month of schedules runs in seconds.
//! - [`planning`]: which backup jobs the policy asks for in a span of time:
//!   one per (rule, selected resource, fire time), with overlapping rules of
//!   one plan merged as AWS merges them.
//! - [`scheduling`]: the job record of a planned job, with an ID derived
//!   from (plan, rule, resource, fire time) so no fire time runs twice.
//! - [`windows`]: jobs whose start window (→ EXPIRED) or completion window
//!   (→ ABORTED) has ended.
//! - [`sweeper`]: which recovery points move to cold storage or expire at
//!   a given time, every expiry decided by the vault guard.
//! - [`recovery`]: after a crash, the orphan snapshots a vault's
//!   reconciliation removes.
//! - [`metrics`]: Prometheus series (`coffer_*`) from the catalog's state.
//!
//! Carrying them out:
//! - [`env`]: the catalog, the configuration and the clock; vaults opened
//!   through the keyring; resources declared or discovered.
//! - [`exec`]: a backup attempt, a copy, a recovery point's removal.
//! - [`jobs`]: restore, validation and report jobs through the same state
//!   setter, settled when their process is gone.
//! - [`failpoints`]: named points a crash test stops a process at (only in
//!   builds with the `failpoints` feature).
//! - [`restore_testing`]: restore testing plans fired like rules: a point
//!   chosen, restored to a scratch target, validated (and hooked), the
//!   target removed, leftovers of a crash removed at the next start.
//! - [`maintenance`]: the sweep, prunes, vault checks, reconciliation.
//! - [`daemon`]: the loop of `coffer serve`, with bounded workers.
//! - [`notify`]: events to webhooks; [`http`]: `/metrics` and `/healthz`.

pub mod agreement;
pub mod clock;
pub mod daemon;
pub mod env;
mod error;
pub mod exec;
pub mod failpoints;
pub mod http;
pub mod jobs;
pub mod maintenance;
pub mod metrics;
pub mod notify;
pub mod planning;
pub mod recovery;
pub mod restore_testing;
pub mod scheduling;
pub mod sweeper;
pub mod windows;

pub use error::{Error, Result};
