//! Restore metadata: the keys StartRestoreJob's `Metadata` takes, the AWS
//! keys that cannot apply to Coffer's resources, and which keys a restore
//! testing selection's `RestoreMetadataOverrides` may set.
//!
//! One reading of these keys serves StartRestoreJob (coffer-service's
//! `RestoreTarget::from_metadata`), template and API checks of a selection
//! ([`crate::RestoreTestingSelection::validate`]) and the restore tests
//! the engine runs.

use std::collections::BTreeMap;

use crate::finding::did_you_mean;
use crate::resource::ResourceType;

/// StartRestoreJob's keys of a file system restore.
pub const DIRECTORY_KEYS: [&str; 2] = ["TargetDirectory", "Path"];
/// StartRestoreJob's keys of a SQLite restore.
pub const FILE_KEYS: [&str; 1] = ["TargetFile"];
/// StartRestoreJob's keys of a PostgreSQL or MySQL restore.
pub const DATABASE_KEYS: [&str; 3] = ["TargetDatabase", "Table", "TargetServer"];
/// StartRestoreJob's keys of an S3 restore.
pub const BUCKET_KEYS: [&str; 6] = [
    "TargetBucket",
    "TargetPrefix",
    "TargetEndpoint",
    "Key",
    "AllVersions",
    "VersionId",
];
/// StartRestoreJob's key asking to replace an existing target.
pub const FORCE: &str = "Force";

/// AWS Backup restore metadata keys that have no meaning for Coffer's
/// resources (RDS and Aurora instance settings, EFS, EC2 and S3 options):
/// accepted by StartRestoreJob and recorded in the job as not applied.
pub const AWS_KEYS_NOT_APPLIED: &[&str] = &[
    "AutoMinorVersionUpgrade",
    "AvailabilityZone",
    "BackupRetentionPeriod",
    "CopyTagsToSnapshot",
    "CreationToken",
    "DBClusterParameterGroupName",
    "DBInstanceClass",
    "DBName",
    "DBParameterGroupName",
    "DBSubnetGroupName",
    "DeletionProtection",
    "DestinationBucketName",
    "EnableCloudwatchLogsExports",
    "EnableIAMDatabaseAuthentication",
    "Encrypted",
    "EncryptionType",
    "Engine",
    "EngineVersion",
    "IamInstanceProfileName",
    "InstanceType",
    "Iops",
    "ItemsToRestore",
    "KMSKey",
    "KmsKeyId",
    "LicenseModel",
    "MultiAZ",
    "NewBucket",
    "OptionGroupName",
    "PerformanceMode",
    "Port",
    "PubliclyAccessible",
    "RequireIMDSv2",
    "SecurityGroupIds",
    "StorageType",
    "SubnetId",
    "VpcSecurityGroupIds",
    "file-system-id",
    "newFileSystem",
];

/// AWS keys that name the target database (StartRestoreJob reads them as
/// `TargetDatabase` when that is not given).
pub const AWS_DATABASE_NAME_KEYS: [&str; 2] = ["DBInstanceIdentifier", "DBClusterIdentifier"];

/// Restore metadata split into what Coffer applies and the AWS keys that
/// cannot apply here (an instance class, a subnet, a KMS key...), which a
/// restore job records as `NotApplied.<key>` and lists back, never
/// dropping them silently. `DBInstanceIdentifier` and `DBClusterIdentifier`
/// name the target database (`TargetDatabase`) when it is not given. Any
/// other key is left in the first map, for the caller to refuse by name.
pub fn split_metadata(
    metadata: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut applied = BTreeMap::new();
    let mut not_applied = BTreeMap::new();
    for (key, value) in metadata {
        let names_database = AWS_DATABASE_NAME_KEYS.contains(&key.as_str());
        if names_database
            && !metadata.contains_key("TargetDatabase")
            && !applied.contains_key("TargetDatabase")
        {
            applied.insert("TargetDatabase".to_string(), value.clone());
        } else if AWS_KEYS_NOT_APPLIED.contains(&key.as_str()) || names_database {
            not_applied.insert(format!("NotApplied.{key}"), value.clone());
        } else {
            applied.insert(key.clone(), value.clone());
        }
    }
    (applied, not_applied)
}

/// The `RestoreMetadataOverrides` keys a restore test of `kind` applies:
/// the ones that choose where its scratch target is made, never the
/// target itself (a test deletes its target afterwards).
/// - PostgreSQL, MySQL: `TargetServer`, a declared server of the engine
///   the scratch database is created on (instead of the source's);
/// - S3: `TargetBucket`, the bucket the scratch prefix is made in (instead
///   of the source bucket), and `TargetEndpoint`, a declared S3 endpoint
///   (instead of the source's);
/// - file systems, SQLite: none (the scratch target is under the home).
pub fn test_override_keys(kind: ResourceType) -> &'static [&'static str] {
    match kind {
        ResourceType::PostgreSQL | ResourceType::MySQL => &["TargetServer"],
        ResourceType::S3 => &["TargetBucket", "TargetEndpoint"],
        _ => &[],
    }
}

/// A selection's `RestoreMetadataOverrides` as a restore test applies
/// them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestOverrides {
    /// The applied keys ([`test_override_keys`]) and their values.
    pub applied: BTreeMap<String, String>,
    /// AWS keys that cannot apply here, as `NotApplied.<key>`.
    pub not_applied: BTreeMap<String, String>,
}

impl TestOverrides {
    /// An applied key's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.applied.get(key).map(String::as_str)
    }
}

/// `key` as Coffer and AWS spell it when it is a restore metadata key
/// in another case (`targetserver`, `dbInstanceClass`); else as given.
fn canonical_key(key: &str) -> String {
    AWS_DATABASE_NAME_KEYS
        .iter()
        .chain(AWS_KEYS_NOT_APPLIED)
        .chain(&DIRECTORY_KEYS)
        .chain(&FILE_KEYS)
        .chain(&DATABASE_KEYS)
        .chain(&BUCKET_KEYS)
        .chain(std::iter::once(&FORCE))
        .find(|known| known.eq_ignore_ascii_case(key))
        .map_or_else(|| key.to_string(), |known| (*known).to_string())
}

/// Reads `overrides` for a restore test of `kind`: the keys
/// [`test_override_keys`] allows are applied, AWS keys that cannot apply
/// here are kept as not applied (as StartRestoreJob keeps them).
///
/// # Errors
/// Each key refused, with why and what is allowed: one naming the target
/// itself (a directory, a file, a database, a prefix: the test would
/// delete it afterwards), one restricting the restore, one unknown, or an
/// empty value.
pub fn test_overrides(
    kind: ResourceType,
    overrides: &BTreeMap<String, String>,
) -> Result<TestOverrides, Vec<(String, String)>> {
    let allowed = test_override_keys(kind);
    let allowed_words = if allowed.is_empty() {
        format!(
            "a {} test's scratch target is always under the home's tmp/restore-tests, so only AWS keys that do not apply here (recorded as NotApplied.<key>) are taken",
            kind.as_str()
        )
    } else {
        format!(
            "a {} test takes {} (and AWS keys that do not apply here, recorded as NotApplied.<key>)",
            kind.as_str(),
            allowed.join(", ")
        )
    };
    let mut out = TestOverrides::default();
    let mut refused = Vec::new();
    for (given, value) in overrides {
        // AWS reads override keys whatever their case; so does Coffer,
        // keeping each under its own spelling.
        let key = &canonical_key(given);
        let why = if AWS_DATABASE_NAME_KEYS.contains(&key.as_str()) {
            Some(format!(
                "{key} names the database to restore into (StartRestoreJob reads it as TargetDatabase), and a restore test restores into a new scratch database with a generated name that it drops afterwards"
            ))
        } else if AWS_KEYS_NOT_APPLIED.contains(&key.as_str()) {
            out.not_applied
                .insert(format!("NotApplied.{key}"), value.clone());
            None
        } else if allowed.contains(&key.as_str()) {
            if value.trim().is_empty() {
                Some(format!("{key} is empty; give a name, or leave the key out"))
            } else {
                out.applied.insert(key.clone(), value.clone());
                None
            }
        } else {
            Some(match key.as_str() {
                "TargetDirectory" | "TargetFile" | "TargetDatabase" | "TargetPrefix" => format!(
                    "{key} would name the restore test's target, and a test deletes its target afterwards; the test makes a scratch target of its own"
                ),
                "Path" | "Table" | "Key" | "AllVersions" | "VersionId" => format!(
                    "{key} restores part of a recovery point, and a restore test restores and validates the whole point"
                ),
                FORCE => format!(
                    "{key} replaces an existing target, and a restore test always restores into a new scratch target"
                ),
                "TargetServer" | "TargetBucket" | "TargetEndpoint" => format!(
                    "{key} does not apply to a {} test",
                    kind.as_str()
                ),
                _ => {
                    let mut known: Vec<&str> = allowed.to_vec();
                    known.extend_from_slice(AWS_KEYS_NOT_APPLIED);
                    known.extend_from_slice(&DIRECTORY_KEYS);
                    known.extend_from_slice(&FILE_KEYS);
                    known.extend_from_slice(&DATABASE_KEYS);
                    known.extend_from_slice(&BUCKET_KEYS);
                    match did_you_mean(key, known) {
                        Some(guess) => format!(
                            "{key} is not a restore metadata key (did you mean {guess:?}?)"
                        ),
                        None => format!("{key} is not a restore metadata key"),
                    }
                }
            })
        };
        if let Some(why) = why {
            // Named as the selection spells it, so a template's field is found.
            refused.push((given.clone(), format!("{why}; {allowed_words}")));
        }
    }
    if refused.is_empty() {
        Ok(out)
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_database_test_takes_a_server_and_keeps_aws_keys_apart() {
        let got = test_overrides(
            ResourceType::PostgreSQL,
            &map(&[("TargetServer", "test"), ("DBInstanceClass", "db.t3.micro")]),
        )
        .unwrap();
        assert_eq!(got.applied, map(&[("TargetServer", "test")]));
        assert_eq!(
            got.not_applied,
            map(&[("NotApplied.DBInstanceClass", "db.t3.micro")])
        );
    }

    #[test]
    fn override_keys_are_read_whatever_their_case_as_aws_reads_them() {
        let got = test_overrides(
            ResourceType::MySQL,
            &map(&[("targetserver", "test"), ("dbInstanceClass", "db.t3.micro")]),
        )
        .unwrap();
        assert_eq!(got.applied, map(&[("TargetServer", "test")]));
        assert_eq!(
            got.not_applied,
            map(&[("NotApplied.DBInstanceClass", "db.t3.micro")])
        );
        let refused =
            test_overrides(ResourceType::MySQL, &map(&[("targetDATABASE", "prod")])).unwrap_err();
        assert_eq!(refused[0].0, "targetDATABASE");
        assert!(refused[0].1.contains("deletes its target"), "{refused:?}");
    }

    #[test]
    fn keys_naming_the_target_are_refused_with_what_is_allowed() {
        let refused = test_overrides(
            ResourceType::PostgreSQL,
            &map(&[
                ("TargetDatabase", "prod"),
                ("DBInstanceIdentifier", "prod"),
                ("Tabel", "t"),
            ]),
        )
        .unwrap_err();
        let keys: Vec<&str> = refused.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["DBInstanceIdentifier", "Tabel", "TargetDatabase"]);
        for (_, why) in &refused {
            assert!(
                why.contains("a PostgreSQL test takes TargetServer"),
                "{why}"
            );
        }
        assert!(
            refused[1].1.contains("did you mean \"Table\"?"),
            "{refused:?}"
        );
        assert!(refused[2].1.contains("deletes its target"), "{refused:?}");
        let files = test_overrides(
            ResourceType::FileSystem,
            &map(&[("TargetDirectory", "/srv")]),
        )
        .unwrap_err();
        assert!(files[0].1.contains("always under the home"), "{files:?}");
        let bucket =
            test_overrides(ResourceType::S3, &map(&[("TargetPrefix", "live/")])).unwrap_err();
        assert!(
            bucket[0].1.contains("TargetBucket, TargetEndpoint"),
            "{bucket:?}"
        );
    }
}
