//! Input bounded by size: each file, the files of one load together, and
//! what YAML aliases copy. A file past a limit is not read (or, for
//! aliases, not parsed), and its error names the file and the limit.

use std::path::{Path, PathBuf};
use std::process::Command;

use coffer_policy::{
    load_files, load_files_with_limits, Limits, Loaded, MAX_ALIAS_BYTES, MAX_ALIAS_VALUES,
    MAX_DEPTH, MAX_FILE_BYTES, MAX_SET_BYTES,
};

use crate::{options, rendered};

const VAULT_TEMPLATE: &str = "AWSTemplateFormatVersion: \"2010-09-09\"
Resources:
  VaultNAME:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: NAME
";

/// A template of one vault, padded with a comment to `n_bytes`.
fn vault_template(name: &str, n_bytes: usize) -> String {
    let mut text = VAULT_TEMPLATE.replace("NAME", name);
    let padding = n_bytes.saturating_sub(text.len() + 2);
    text.push('#');
    text.push_str(&" ".repeat(padding));
    text.push('\n');
    assert_eq!(text.len(), n_bytes);
    text
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Diagnostics with the temporary directory's path left out.
fn rendered_in(loaded: &Loaded, dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    rendered(&loaded.diagnostics)
        .into_iter()
        .map(|line| line.replace(&prefix, ""))
        .collect()
}

#[test]
fn the_default_limits_are_the_documented_ones() {
    assert_eq!(
        Limits::default(),
        Limits {
            file_bytes: 64 * 1024 * 1024,
            set_bytes: 128 * 1024 * 1024,
            alias_bytes: 64 * 1024 * 1024,
            alias_values: 1_000_000,
        }
    );
    assert_eq!(
        (
            MAX_FILE_BYTES,
            MAX_SET_BYTES,
            MAX_ALIAS_BYTES,
            MAX_ALIAS_VALUES,
            MAX_DEPTH
        ),
        (64 << 20, 128 << 20, 64 << 20, 1_000_000, 128)
    );
}

/// The size comes from the file's metadata: a sparse file of 100 MiB is
/// refused without a byte of it being read.
#[test]
fn a_file_past_the_file_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    let small = write(dir.path(), "small.yaml", &vault_template("small", 200));
    let loaded = load_files(&[big, small], &options());
    assert_eq!(
        rendered_in(&loaded, dir.path()),
        ["error: big.yaml is 100 MiB, more than one policy file may hold (64 MiB); it was not read; split its resources into files of at most 64 MiB and pass them together: the files of one load make one stack"]
    );
    // The other file is read and checked; nothing of the refused one is.
    let files: Vec<&str> = loaded.set.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("small.yaml"), "{files:?}");
    assert_eq!(loaded.set.vaults.len(), 1);
}

#[test]
fn a_file_at_the_file_limit_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "exact.yaml", &vault_template("exact", 1000));
    let limits = Limits {
        file_bytes: 1000,
        ..Limits::default()
    };
    let loaded = load_files_with_limits(std::slice::from_ref(&path), &options(), &limits);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.set.vaults.len(), 1);

    let limits = Limits {
        file_bytes: 999,
        ..Limits::default()
    };
    let loaded = load_files_with_limits(&[path], &options(), &limits);
    assert_eq!(
        rendered_in(&loaded, dir.path()),
        ["error: exact.yaml is 1000 bytes, more than one policy file may hold (999 bytes); it was not read; split its resources into files of at most 999 bytes and pass them together: the files of one load make one stack"]
    );
    assert!(loaded.set.vaults.is_empty());
}

/// Files are counted in the order given: the one that would take the set
/// past its limit is refused, and a later one that still fits is read, so
/// that every file that can be checked is.
#[test]
fn files_past_the_set_limit_are_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = [
        write(dir.path(), "a.yaml", &vault_template("first", 600)),
        write(dir.path(), "b.yaml", &vault_template("second", 600)),
        write(dir.path(), "c.yaml", &vault_template("third", 600)),
        write(dir.path(), "d.yaml", &vault_template("fourth", 300)),
    ];
    let limits = Limits {
        set_bytes: 1500,
        ..Limits::default()
    };
    let loaded = load_files_with_limits(&paths, &options(), &limits);
    assert_eq!(
        rendered_in(&loaded, dir.path()),
        ["error: c.yaml is 600 bytes and the files before it hold 1.2 KiB: more than the files of one load may hold together (1.5 KiB); it was not read; split the objects into stacks whose files hold at most 1.5 KiB, and apply each as a stack of its own"]
    );
    let names: Vec<&str> = loaded
        .set
        .vaults
        .iter()
        .map(|v| v.value.backup_vault_name.as_str())
        .collect();
    assert_eq!(names, ["first", "fourth", "second"]);
}

#[test]
fn aliases_past_the_byte_limit_are_refused_at_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = VAULT_TEMPLATE.replace("NAME", "copies");
    text.push_str(&format!("Metadata:\n  Long: &long {}\n", "x".repeat(1000)));
    text.push_str("  Copies:\n");
    for _ in 0..20 {
        text.push_str("    - *long\n");
    }
    let path = write(dir.path(), "copies.yaml", &text);
    let limits = Limits {
        alias_bytes: 10_000,
        ..Limits::default()
    };
    let loaded = load_files_with_limits(&[path], &options(), &limits);
    // Ten copies of 1000 bytes fit; the eleventh is refused where it is.
    assert_eq!(
        rendered_in(&loaded, dir.path()),
        ["error: copies.yaml:20:7 expanding this alias takes what aliases copy past 9.8 KiB of text, the limit for the files loaded together; a policy file that expands this much is most likely an alias bomb (\"billion laughs\"); write the repeated parts out, or alias fewer or smaller values"]
    );
    assert!(loaded.set.vaults.is_empty());
}

/// The environment variable that makes
/// `a_long_string_aliased_many_times_is_refused_within_a_memory_limit` the
/// child: it names the file the child loads.
const ALIAS_BOMB_FILE: &str = "COFFER_POLICY_TEST_ALIAS_BOMB_FILE";

/// Address space the child may use (`ulimit -v`, KiB): the loader refuses
/// the file after copying 64 MiB; expanding it would take 100 GB.
const CHILD_ADDRESS_SPACE_KIB: u64 = 1024 * 1024;

/// A 1 MiB string behind an anchor, aliased 100,000 times in a 1.6 MB
/// file, would expand to 100 GB. The load runs in a child process (this
/// test's binary again, filtered to this test) under a memory limit, so
/// that a loader that expands it fails this test instead of exhausting the
/// machine; the child must end with the limit's error, not abort.
#[test]
fn a_long_string_aliased_many_times_is_refused_within_a_memory_limit() {
    if let Some(file) = std::env::var_os(ALIAS_BOMB_FILE) {
        let loaded = load_files(&[PathBuf::from(file)], &options());
        let diagnostics: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
        // 64 copies of 1 MiB fill the allowance; the 65th alias on line 9
        // (each `*big, ` is 6 columns from column 12) is refused.
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        assert!(
            diagnostics[0].ends_with(&format!(
                "bomb.yaml:9:{} expanding this alias takes what aliases copy past 64 MiB of text, the limit for the files loaded together; a policy file that expands this much is most likely an alias bomb (\"billion laughs\"); write the repeated parts out, or alias fewer or smaller values",
                12 + 64 * 6
            )),
            "{diagnostics:#?}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut text = VAULT_TEMPLATE.replace("NAME", "laughs");
    text.push_str(&format!("Metadata:\n  Big: &big {}\n", "x".repeat(1 << 20)));
    text.push_str("  Copies: [*big");
    text.push_str(&", *big".repeat(99_999));
    text.push_str("]\n");
    let path = write(dir.path(), "bomb.yaml", &text);

    let test_binary = std::env::current_exe().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {CHILD_ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(&test_binary)
        .args([
            "--exact",
            "limits::a_long_string_aliased_many_times_is_refused_within_a_memory_limit",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(ALIAS_BOMB_FILE, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // The child ran this test, not nothing: a filter that matched no test
    // would succeed too.
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
}
