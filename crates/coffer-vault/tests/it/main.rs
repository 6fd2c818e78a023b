//! Vault storage against real repositories on disk, read back by Debian's
//! `restic` (which `.ci/run` installs; a missing `restic` fails the test).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod s3;
mod storage;
