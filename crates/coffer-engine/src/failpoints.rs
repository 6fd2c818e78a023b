//! Named failpoints, so a crash test stops a process at the step it means
//! to kill it at (mid-restore, mid-validation, mid-delivery).
//!
//! They exist only in builds with the `failpoints` feature, which the CLI's
//! tests turn on through a dev-dependency (`cargo test` builds the binary
//! with them; `cargo build --release` does not). In such a build,
//! `COFFER_FAILPOINTS=name[,name...]` arms the named points: a process
//! reaching one prints `coffer: failpoint NAME reached` on stderr, then
//! sleeps until it is killed. `name@PATH` pauses instead: the process
//! prints the same line and waits until the file PATH exists, then goes on
//! (a test changes the world meanwhile, then creates the file). Without the
//! feature, [`install_from_env`] does nothing and the points compile to
//! nothing.
//!
//! The points:
//! - [`RESTORE_AFTER_FILE`] (coffer-vault): a tree restore has written a
//!   file of its target;
//! - [`VALIDATE_AFTER_SCRATCH`] (coffer-drivers): a validation has
//!   restored into its scratch place (SQLite file, PostgreSQL database);
//! - [`RESTORE_TEST_RESTORING`] (coffer-engine): a restore test has made
//!   its scratch place and is restoring into it (inside the span its
//!   recorded duration measures);
//! - [`RESTORE_TEST_AFTER_RESTORE`] (coffer-engine): a restore test has
//!   restored into its scratch target, not yet validated or removed it;
//! - [`REPORT_BEFORE_MANIFEST`] (coffer-report): a delivery has written
//!   its files, key and signature, not yet `manifest.json`;
//! - [`S3_BEFORE_READ`] (coffer-drivers): a bucket backup has listed the
//!   bucket and is about to read an object's body.

/// A tree restore has written a file of its target.
pub const RESTORE_AFTER_FILE: &str = "restore-after-file";
/// A validation has restored into its scratch place.
pub const VALIDATE_AFTER_SCRATCH: &str = "validate-after-scratch";
/// A restore test is restoring into its scratch target.
pub const RESTORE_TEST_RESTORING: &str = "restore-test-restoring";
/// A restore test has restored into its scratch target.
pub const RESTORE_TEST_AFTER_RESTORE: &str = "restore-test-after-restore";
/// A report delivery has written all but `manifest.json`.
pub const REPORT_BEFORE_MANIFEST: &str = "report-before-manifest";
/// A bucket backup is about to read an object listed before.
pub const S3_BEFORE_READ: &str = "s3-before-read";

/// The environment variable naming the failpoints to arm.
pub const VARIABLE: &str = "COFFER_FAILPOINTS";

/// Arms the failpoints `COFFER_FAILPOINTS` names (a build with the
/// `failpoints` feature only; otherwise nothing). Returns the names armed.
pub fn install_from_env() -> Vec<String> {
    #[cfg(feature = "failpoints")]
    {
        let names: Vec<String> = std::env::var(VARIABLE)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        for armed_as in &names {
            let (name, resume) = match armed_as.split_once('@') {
                Some((name, path)) => (name.to_string(), Some(std::path::PathBuf::from(path))),
                None => (armed_as.clone(), None),
            };
            let reached = name.clone();
            let armed = fail::cfg_callback(name.clone(), move || match &resume {
                Some(path) => {
                    if !path.exists() {
                        eprintln!("coffer: failpoint {reached} reached");
                    }
                    while !path.exists() {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                }
                None => {
                    eprintln!("coffer: failpoint {reached} reached");
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(3600));
                    }
                }
            });
            if let Err(error) = armed {
                eprintln!("coffer: failpoint {name} cannot be armed: {error}");
            }
        }
        names
    }
    #[cfg(not(feature = "failpoints"))]
    {
        Vec::new()
    }
}
