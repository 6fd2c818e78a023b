//! The deployment configuration reader (`config.toml`): TOML syntax,
//! sections, placeholders in paths and URLs, vault rules, S3 endpoints,
//! report buckets, notifications and secret references.
//!
//! Input: the file's text.
//! Checked: no panic, no hang, bounded memory; every problem has a
//! message.
#![no_main]

use std::path::Path;

use coffer_policy::{Config, ConfigError, LoadConfig as _};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let home = Path::new("/home/ops/.coffer");
    match Config::from_str_at(text, home, "config.toml") {
        Ok(config) => {
            let _ = config.vault_location(
                config.default_account().as_str(),
                config.default_region().as_str(),
                "payments-primary",
            );
            for name in config.report_buckets().keys() {
                let _ = config.report_bucket(name);
            }
        }
        Err(error @ ConfigError::Invalid { .. }) => {
            assert!(!error.problems().is_empty(), "invalid without a problem");
            let _ = error.to_string();
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
