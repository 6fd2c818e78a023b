//! The policy loader over CloudFormation templates (YAML or JSON), as
//! `coffer validate`, `plan` and `apply` read them: parsing, parameters,
//! conditions, intrinsics, every resource type, and the checks between
//! objects.
//!
//! Input: one or more files, separated by NUL bytes (at most four).
//! Checked: no panic, no hang, bounded memory.
#![no_main]

use coffer_fuzz::{load_options, split_files, write_files};
use coffer_policy::{check_references, load_files, External};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let paths = write_files("cfn_template", &split_files(data, 4));
    let options = load_options();
    let mut loaded = load_files(&paths, &options);
    for strict in [false, true] {
        check_references(
            &loaded.set,
            &options,
            &External::default(),
            strict,
            &mut loaded.diagnostics,
        );
    }
    for diagnostic in loaded.diagnostics.iter() {
        let _ = diagnostic.to_string();
    }
});
