//! Catalog integration tests, run against every backend: a SQLite file and
//! a fresh PostgreSQL database on the local server (127.0.0.1:5432, or
//! `COFFER_TEST_POSTGRES_URL`). A server that cannot be reached fails the
//! test with a message that says so; nothing is skipped.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agreement;
mod api;
mod compliance;
mod engines;
mod history;
mod ledger;
mod objects;
mod org;
mod overview;
mod records;
mod schedule;
mod stacks;
