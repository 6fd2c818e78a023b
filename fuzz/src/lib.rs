//! What the fuzz targets share: a scratch folder for the readers that take
//! paths, the load options of a stack, and a fixed signing key.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use coffer_audit::signing::KeyPair;
use coffer_model::{AccountId, Region};
use coffer_policy::LoadOptions;

/// Files of one input: the input split at NUL bytes, at most `max` parts
/// (the last one keeps any further NULs). Policy files hold no NUL, so a
/// seed that is one real file stays one file.
pub fn split_files(data: &[u8], max: usize) -> Vec<&[u8]> {
    data.splitn(max, |b| *b == 0).collect()
}

/// A folder private to this process, under `TMPDIR` (`fuzz/run` points it
/// at memory when it can): the fuzz targets write their inputs there for
/// readers that take paths.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("coffer-fuzz-")
            .tempdir()
            .expect("a scratch folder")
    })
    .path()
}

/// Writes `files` into a fresh subfolder `name` of the scratch folder as
/// `f0.yaml`, `f1.yaml`, ... and returns their paths in that order.
pub fn write_files(name: &str, files: &[&[u8]]) -> Vec<PathBuf> {
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch subfolder");
    files
        .iter()
        .enumerate()
        .map(|(idx, bytes)| {
            let path = dir.join(format!("f{idx}.yaml"));
            std::fs::write(&path, bytes).expect("a scratch file");
            path
        })
        .collect()
}

/// The options `coffer validate` would load a stack with.
pub fn load_options() -> LoadOptions {
    LoadOptions {
        account: AccountId::new("111122223333").expect("an account"),
        region: Region::new("eu-west-1").expect("a region"),
        stack_name: "fuzz-stack".into(),
        parameters: Default::default(),
    }
}

/// The seed of the fixed signing key (the committed corpus's manifests
/// name its fingerprint).
pub const KEY_SEED: [u8; 32] = [7; 32];

/// The fixed signing key, installed once in the scratch folder.
pub fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        KeyPair::install(&scratch().join("signing.key"), &KEY_SEED, true).expect("the fixed key")
    })
}
