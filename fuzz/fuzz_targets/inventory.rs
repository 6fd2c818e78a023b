//! The inventory reader: servers, databases, directories, SQLite files,
//! S3 endpoints and buckets, with defaults, tags and secret references,
//! across several inventory files of one set, loaded beside the example
//! stack whose selections pick resources by tag and ARN.
//!
//! Input: one or more inventory files, separated by NUL bytes (at most
//! three).
//! Checked: no panic, no hang, bounded memory.
#![no_main]

use coffer_fuzz::{load_options, split_files, write_files};
use coffer_policy::{check_references, load_files, External};
use libfuzzer_sys::fuzz_target;

const STACK: &[u8] = include_bytes!("../../examples/backup-stack.yaml");

fuzz_target!(|data: &[u8]| {
    let mut files = split_files(data, 3);
    files.push(STACK);
    let paths = write_files("inventory", &files);
    let options = load_options();
    let mut loaded = load_files(&paths, &options);
    check_references(
        &loaded.set,
        &options,
        &External::default(),
        false,
        &mut loaded.diagnostics,
    );
    for diagnostic in loaded.diagnostics.iter() {
        let _ = diagnostic.to_string();
    }
});
