//! The engine: what the scheduler does, as values that tests can drive.
//!
//! - [`clock`]: the time the engine runs on; the daemon uses the system
//!   clock, tests a [`clock::ManualClock`] that they move by hand, so a
//!   month of schedules runs in milliseconds.
//! - [`metrics`]: Prometheus series (`coffer_*`) from the catalog's state.
//! - [`planning`]: which backup jobs the policy asks for in a span of time:
//!   one per (rule, selected resource, fire time), with overlapping rules of
//!   one plan merged as AWS merges them.
//! - [`recovery`]: after a crash, the jobs left interrupted and the orphan
//!   snapshots a vault's reconciliation removes.
//! - [`scheduling`]: the job record of a planned job, with an ID derived
//!   from (plan, rule, resource, fire time) so no fire time runs twice.
//! - [`sweeper`]: which recovery points move to cold storage or expire at
//!   a given time, every expiry decided by the vault guard.
//! - [`windows`]: jobs whose start window (→ EXPIRED) or completion window
//!   (→ ABORTED) has ended.

pub mod clock;
pub mod metrics;
pub mod planning;
pub mod recovery;
pub mod scheduling;
pub mod sweeper;
pub mod windows;
