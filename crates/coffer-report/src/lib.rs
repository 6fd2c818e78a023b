//! Reports: the templates of AWS Backup Audit Manager (BACKUP_JOB_REPORT,
//! COPY_JOB_REPORT, RESTORE_JOB_REPORT, CONTROL_COMPLIANCE_REPORT,
//! RESOURCE_COMPLIANCE_REPORT) with AWS's columns plus Coffer's evidence
//! columns, and Coffer's BACKUP_EXPECTATION_REPORT (was each expected
//! backup taken, on time, with the declared retention?), in CSV and JSON (`{"reportItems": [...]}`) and PDF, delivered
//! with a signed manifest that an auditor verifies offline.
//!
//! - [`templates`]: rows of each template from the catalog's records.
//! - [`expected`]: the expected-backup template and its verdicts.
//! - [`pdf`]: the auditor's document summarising them.
//! - [`bundle`]: writing a delivery (files, `manifest.json`, its raw
//!   Ed25519 signature `manifest.json.sig`, the public key as PEM) and
//!   verifying one, from a folder or from objects fetched from a bucket.
//! - [`s3`]: delivering to and reading from S3-compatible buckets, with
//!   Object Lock retention.

pub mod bundle;
pub mod expected;
pub mod pdf;
pub mod s3;
pub mod templates;

use std::path::PathBuf;

/// What can go wrong writing or reading a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the CSV file: {0}")]
    Csv(#[from] csv::Error),
    #[error("{}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("cannot write the manifest: {0}")]
    Manifest(#[source] serde_json::Error),
    #[error("report template {0:?} is not produced here; use BACKUP_JOB_REPORT, COPY_JOB_REPORT, RESTORE_JOB_REPORT, CONTROL_COMPLIANCE_REPORT, RESOURCE_COMPLIANCE_REPORT or BACKUP_EXPECTATION_REPORT")]
    Template(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
