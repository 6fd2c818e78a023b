//! A delivered report: its files, `manifest.json` (every file's path, size
//! and SHA-256, the plan, the window, the latest signed ledger checkpoint),
//! `manifest.json.sig` (the raw 64-byte Ed25519 signature of the manifest's
//! bytes) and `signing-key.pem` (the public key, for convenience: an
//! auditor should check it against the fingerprint they were given).
//!
//! Without Coffer: `sha256sum` each file against the manifest, and
//! `openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin -in manifest.json
//! -sigfile manifest.json.sig` for the signature.

use std::path::{Path, PathBuf};

use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::ledger::sha256_hex;
use coffer_catalog::StoredCheckpoint;
use coffer_model::LockMode;
use serde::{Deserialize, Serialize};

use crate::{io, Error, Result};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.json.sig";
pub const PUBLIC_KEY: &str = "signing-key.pem";

/// One delivered file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The manifest of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format_version: u32,
    pub report_plan: String,
    pub report_template: String,
    pub report_job_id: String,
    pub window_start: jiff::Timestamp,
    pub window_end: jiff::Timestamp,
    pub generated_at: jiff::Timestamp,
    pub files: Vec<ManifestFile>,
    /// The newest signed checkpoint of the evidence ledger when delivered.
    pub ledger_checkpoint: Option<StoredCheckpoint>,
    pub signing_key_fingerprint: String,
    /// The Object Lock retention every object was given, when delivered
    /// to a bucket with Object Lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLock>,
}

/// The Object Lock retention every object of a delivery was given, as the
/// signed manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectLock {
    /// `COMPLIANCE` or `GOVERNANCE`.
    pub mode: LockMode,
    /// Until when no object of the delivery can be deleted or overwritten.
    pub retain_until_date: jiff::Timestamp,
}

/// What a report job delivers, before its manifest.
#[derive(Debug)]
pub struct Contents {
    pub report_plan: String,
    pub report_template: String,
    pub report_job_id: String,
    pub window_start: jiff::Timestamp,
    pub window_end: jiff::Timestamp,
    pub generated_at: jiff::Timestamp,
    pub files: Vec<(String, Vec<u8>)>,
    pub ledger_checkpoint: Option<StoredCheckpoint>,
    /// The retention the objects are given (S3 buckets with Object Lock).
    pub object_lock: Option<ObjectLock>,
}

/// A delivery sealed in memory: the manifest, its signature and the public
/// key made, every object named, ready to be written to a folder or put
/// into a bucket.
#[derive(Debug)]
pub struct Sealed {
    pub manifest: Manifest,
    /// The SHA-256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// Every object's name and bytes in delivery order: the files, the
    /// public key, the signature, and the manifest last (a delivery whose
    /// manifest is present is complete).
    pub objects: Vec<(String, Vec<u8>)>,
}

/// Seals a delivery: the manifest of `contents` (every file's size and
/// SHA-256), its signature by `key`, and the public key.
///
/// # Errors
/// When the manifest cannot be serialised.
pub fn seal(contents: Contents, key: &KeyPair) -> Result<Sealed> {
    let files = contents
        .files
        .iter()
        .map(|(name, bytes)| ManifestFile {
            path: name.clone(),
            size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            sha256: sha256_hex(bytes),
        })
        .collect();
    let manifest = Manifest {
        format_version: 1,
        report_plan: contents.report_plan,
        report_template: contents.report_template,
        report_job_id: contents.report_job_id,
        window_start: contents.window_start,
        window_end: contents.window_end,
        generated_at: contents.generated_at,
        files,
        ledger_checkpoint: contents.ledger_checkpoint,
        signing_key_fingerprint: key.fingerprint(),
        object_lock: contents.object_lock,
    };
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(Error::Manifest)?;
    text.push(b'\n');
    let manifest_sha256 = sha256_hex(&text);
    let mut objects = contents.files;
    objects.push((PUBLIC_KEY.to_string(), key.public().to_pem().into_bytes()));
    objects.push((SIGNATURE.to_string(), key.sign_raw(&text).to_vec()));
    objects.push((MANIFEST.to_string(), text));
    Ok(Sealed {
        manifest,
        manifest_sha256,
        objects,
    })
}

impl Sealed {
    /// Writes every object into `dir` (created), the manifest last.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for (name, bytes) in &self.objects {
            // A crash test stops here: every file but the manifest written.
            #[cfg(feature = "failpoints")]
            if name == MANIFEST {
                fail::fail_point!("report-before-manifest");
            }
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(io(&path))?;
        }
        Ok(())
    }
}

/// The key a verification trusts.
#[derive(Clone, Debug)]
pub enum Trust {
    /// The key the auditor was given.
    Key(PublicKey),
    /// The bundled key, if its fingerprint is this one.
    Fingerprint(String),
    /// Only the key shipped inside the bundle (proves integrity, not origin).
    Bundled,
}

/// What a verification found.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    /// The manifest, when it could be read.
    pub manifest: Option<Manifest>,
    /// Which key the signature was checked against, in words.
    pub key_used: String,
    /// Files whose digest matched.
    pub checked: Vec<String>,
    /// Each problem, naming the file.
    pub problems: Vec<String>,
}

/// The objects of a delivery, wherever they are: a folder, or a set
/// fetched from a bucket.
pub trait Objects {
    /// The bytes of the object `name`, or why they cannot be had, naming it.
    ///
    /// # Errors
    /// A sentence starting with `name`.
    fn read(&self, name: &str) -> std::result::Result<Vec<u8>, String>;
    /// The name of every object the delivery holds, listed in its
    /// manifest or not.
    fn names(&self) -> Vec<String>;
}

/// A delivery in a folder.
#[derive(Clone, Copy, Debug)]
pub struct Folder<'a>(pub &'a Path);

impl Objects for Folder<'_> {
    fn read(&self, name: &str) -> std::result::Result<Vec<u8>, String> {
        std::fs::read(self.0.join(name)).map_err(|e| format!("{name}: cannot be read: {e}"))
    }

    fn names(&self) -> Vec<String> {
        std::fs::read_dir(self.0)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A delivery fetched into memory (from a bucket): every object under its
/// prefix, named relative to it.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    pub objects: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Objects for Fetched {
    fn read(&self, name: &str) -> std::result::Result<Vec<u8>, String> {
        self.objects
            .get(name)
            .cloned()
            .ok_or_else(|| format!("{name}: missing from the delivery"))
    }

    fn names(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }
}

/// Verifies the delivery in `dir` offline.
pub fn verify(dir: &Path, trust: &Trust) -> Verification {
    verify_objects(&Folder(dir), trust)
}

/// Verifies a delivery's objects: the manifest's signature with the
/// trusted key, every listed file's size and SHA-256, paths, and objects
/// the manifest does not list.
pub fn verify_objects(objects: &dyn Objects, trust: &Trust) -> Verification {
    let mut found = Verification::default();
    let read = |name: &str| objects.read(name);
    let manifest_bytes = match read(MANIFEST) {
        Ok(bytes) => bytes,
        Err(problem) => {
            found.problems.push(problem);
            return found;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            found
                .problems
                .push(format!("{MANIFEST}: not a Coffer manifest: {e}"));
            return found;
        }
    };
    let bundled = read(PUBLIC_KEY)
        .ok()
        .and_then(|pem| PublicKey::from_pem(&String::from_utf8_lossy(&pem)).ok());
    let key = match trust {
        Trust::Key(key) => {
            found.key_used = format!("the key you gave ({})", key.fingerprint());
            Some(key.clone())
        }
        Trust::Fingerprint(fingerprint) => match &bundled {
            Some(key) if key.fingerprint() == *fingerprint => {
                found.key_used =
                    format!("the bundled key, whose fingerprint matches {fingerprint}");
                Some(key.clone())
            }
            Some(key) => {
                found.problems.push(format!(
                    "{PUBLIC_KEY}: its fingerprint is {}, not {fingerprint}: the report was not signed by the key you trust",
                    key.fingerprint()
                ));
                None
            }
            None => {
                found
                    .problems
                    .push(format!("{PUBLIC_KEY}: missing or unreadable"));
                None
            }
        },
        Trust::Bundled => {
            found.key_used = "ONLY the key shipped inside the bundle: this shows the files are intact, not who signed them; check it against the public key or fingerprint you were given".into();
            bundled.clone()
        }
    };
    match (key, read(SIGNATURE)) {
        (Some(key), Ok(signature)) => {
            if !key.verifies_raw(&manifest_bytes, &signature) {
                found.problems.push(format!(
                    "{MANIFEST}: its signature ({SIGNATURE}) does not verify with {}",
                    key.fingerprint()
                ));
            }
        }
        (None, _) if matches!(trust, Trust::Bundled) => {
            found
                .problems
                .push(format!("{PUBLIC_KEY}: missing or unreadable"));
        }
        (None, _) => {}
        (Some(_), Err(problem)) => found.problems.push(problem),
    }
    let listed: std::collections::BTreeSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for file in &manifest.files {
        if file.path.contains("..") || file.path.starts_with('/') {
            found
                .problems
                .push(format!("{}: a path outside the delivery", file.path));
            continue;
        }
        match read(&file.path) {
            Ok(bytes) => {
                let digest = sha256_hex(&bytes);
                if digest != file.sha256 || u64::try_from(bytes.len()).ok() != Some(file.size) {
                    found.problems.push(format!(
                        "{}: SHA-256 {digest} ({} bytes) does not match the manifest's {} ({} bytes): the file was changed",
                        file.path,
                        bytes.len(),
                        file.sha256,
                        file.size
                    ));
                } else {
                    found.checked.push(file.path.clone());
                }
            }
            Err(problem) => found.problems.push(problem),
        }
    }
    for name in objects.names() {
        if ![MANIFEST, SIGNATURE, PUBLIC_KEY].contains(&name.as_str())
            && !listed.contains(name.as_str())
        {
            found
                .problems
                .push(format!("{name}: not listed in the manifest"));
        }
    }
    found.manifest = Some(manifest);
    found
}

/// `<prefix>/<template>/year=YYYY/month=MM/<report-job-id>/` under `root`,
/// the year and month of `at` (the first day of the period reported).
pub fn delivery_dir(
    root: &Path,
    prefix: Option<&str>,
    template: &str,
    at: jiff::civil::Date,
    job_id: &str,
) -> PathBuf {
    let mut dir = root.to_path_buf();
    for part in delivery_parts(prefix, template, at, job_id) {
        dir = dir.join(part);
    }
    dir
}

/// The key prefix of a delivery in a bucket, the same layout as
/// [`delivery_dir`]: `<prefix>/<template>/year=YYYY/month=MM/<report-job-id>/`.
pub fn delivery_key(
    prefix: Option<&str>,
    template: &str,
    at: jiff::civil::Date,
    job_id: &str,
) -> String {
    let mut key = delivery_parts(prefix, template, at, job_id).join("/");
    key.push('/');
    key
}

fn delivery_parts(
    prefix: Option<&str>,
    template: &str,
    day: jiff::civil::Date,
    job_id: &str,
) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(prefix) = prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        parts.push(prefix.to_string());
    }
    parts.push(template.to_string());
    parts.push(format!("year={:04}", day.year()));
    parts.push(format!("month={:02}", day.month()));
    parts.push(job_id.to_string());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(at: jiff::Timestamp, object_lock: Option<ObjectLock>) -> Contents {
        Contents {
            report_plan: "daily".into(),
            report_template: "BACKUP_JOB_REPORT".into(),
            report_job_id: "JOB1".into(),
            window_start: at,
            window_end: at,
            generated_at: at,
            files: vec![("report.csv".into(), b"a,b\n1,2\n".to_vec())],
            ledger_checkpoint: None,
            object_lock,
        }
    }

    fn delivered() -> (tempfile::TempDir, KeyPair, PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = KeyPair::load_or_create(&dir.path().join("k")).unwrap_or_else(|e| panic!("{e}"));
        let at = jiff::Timestamp::from_second(1_790_000_000).unwrap_or_default();
        let out = delivery_dir(
            dir.path(),
            Some("audit/"),
            "BACKUP_JOB_REPORT",
            jiff::tz::TimeZone::UTC.to_datetime(at).date(),
            "JOB1",
        );
        seal(contents(at, None), &key)
            .and_then(|sealed| sealed.write(&out))
            .unwrap_or_else(|e| panic!("{e}"));
        (dir, key, out)
    }

    #[test]
    fn a_delivery_verifies_and_one_changed_byte_is_named() {
        let (_dir, key, out) = delivered();
        assert!(
            out.ends_with("audit/BACKUP_JOB_REPORT/year=2026/month=09/JOB1"),
            "{}",
            out.display()
        );
        let ok = verify(&out, &Trust::Key(key.public()));
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!(ok.checked, vec!["report.csv".to_string()]);
        let bundled = verify(&out, &Trust::Bundled);
        assert!(bundled.problems.is_empty() && bundled.key_used.starts_with("ONLY"));

        std::fs::write(out.join("report.csv"), b"a,b\n1,3\n").unwrap_or_else(|e| panic!("{e}"));
        let bad = verify(&out, &Trust::Key(key.public()));
        assert!(
            bad.problems
                .iter()
                .any(|p| p.starts_with("report.csv: SHA-256")),
            "{:?}",
            bad.problems
        );
    }

    #[test]
    fn an_edited_manifest_or_another_key_fails_the_signature() {
        let (dir, key, out) = delivered();
        let other =
            KeyPair::load_or_create(&dir.path().join("other")).unwrap_or_else(|e| panic!("{e}"));
        let wrong = verify(&out, &Trust::Fingerprint(other.fingerprint()));
        assert!(wrong
            .problems
            .iter()
            .any(|p| p.contains("not signed by the key you trust")));
        let text = std::fs::read_to_string(out.join(MANIFEST)).unwrap_or_default();
        std::fs::write(out.join(MANIFEST), text.replace("daily", "dai1y"))
            .unwrap_or_else(|e| panic!("{e}"));
        let edited = verify(&out, &Trust::Key(key.public()));
        assert!(
            edited
                .problems
                .iter()
                .any(|p| p.contains("does not verify")),
            "{:?}",
            edited.problems
        );
    }

    #[test]
    fn a_sealed_delivery_verifies_from_fetched_objects_with_its_retention_signed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = KeyPair::load_or_create(&dir.path().join("k")).unwrap_or_else(|e| panic!("{e}"));
        let at = jiff::Timestamp::from_second(1_790_000_000).unwrap_or_default();
        let lock = ObjectLock {
            mode: LockMode::Compliance,
            retain_until_date: at,
        };
        let sealed = seal(contents(at, Some(lock.clone())), &key).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = sealed.objects.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["report.csv", PUBLIC_KEY, SIGNATURE, MANIFEST]);
        assert_eq!(
            delivery_key(
                Some("/audit/"),
                "BACKUP_JOB_REPORT",
                jiff::tz::TimeZone::UTC.to_datetime(at).date(),
                "JOB1"
            ),
            "audit/BACKUP_JOB_REPORT/year=2026/month=09/JOB1/"
        );

        let mut fetched = Fetched {
            objects: sealed.objects.iter().cloned().collect(),
        };
        let ok = verify_objects(&fetched, &Trust::Key(key.public()));
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        let manifest = ok.manifest.unwrap_or_else(|| panic!("no manifest"));
        assert_eq!(manifest.object_lock, Some(lock));
        let text = String::from_utf8_lossy(&sealed.objects[3].1).to_string();
        assert!(text.contains("\"objectLock\"") && text.contains("\"retainUntilDate\""));

        fetched.objects.insert("extra.csv".into(), b"x".to_vec());
        fetched.objects.remove("report.csv");
        let bad = verify_objects(&fetched, &Trust::Key(key.public()));
        assert!(
            bad.problems
                .contains(&"extra.csv: not listed in the manifest".to_string())
                && bad
                    .problems
                    .contains(&"report.csv: missing from the delivery".to_string()),
            "{:?}",
            bad.problems
        );
    }

    #[test]
    fn a_manifest_without_object_lock_has_no_such_field() {
        let (_dir, _key, out) = delivered();
        let text = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        assert!(text.contains("\"files\""), "{text}");
        assert!(!text.contains("objectLock"), "{text}");
    }
}
