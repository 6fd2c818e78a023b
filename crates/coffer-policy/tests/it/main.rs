//! Policy loader integration tests: CloudFormation templates written as AWS
//! users write them for AWS Backup (tests/fixtures/valid), and broken copies
//! with one kind of mistake each (tests/fixtures/broken), loaded from files
//! so that every line and column in the expected diagnostics is real.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broken;
mod inventory;
mod limits;
mod org;
mod references;
mod valid;

use std::collections::BTreeMap;
use std::path::PathBuf;

use coffer_model::{AccountId, Region};
use coffer_policy::{check_references, load_files, Diagnostics, External, LoadOptions, Loaded};

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";

pub fn options() -> LoadOptions {
    options_with(&[])
}

pub fn options_with(parameters: &[(&str, &str)]) -> LoadOptions {
    LoadOptions {
        account: AccountId::new(ACCOUNT).unwrap(),
        region: Region::new(REGION).unwrap(),
        stack_name: "backup-stack".into(),
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A fixture path as diagnostics print it (tests run in the crate directory).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from("tests/fixtures").join(name)
}

pub fn load(names: &[&str]) -> Loaded {
    load_with(names, &options())
}

pub fn load_with(names: &[&str], options: &LoadOptions) -> Loaded {
    let paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    load_files(&paths, options)
}

/// Every diagnostic as `severity: file:line:col Subject: message; hint`.
pub fn rendered(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| format!("{}: {d}", d.severity))
        .collect()
}

/// The load's diagnostics plus those of `check_references` (validate mode).
pub fn all_diagnostics(loaded: &Loaded, options: &LoadOptions) -> Vec<String> {
    let mut diagnostics = loaded.diagnostics.clone();
    check_references(
        &loaded.set,
        options,
        &External::default(),
        false,
        &mut diagnostics,
    );
    diagnostics.sort();
    rendered(&diagnostics)
}
