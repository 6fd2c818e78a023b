//! Resource types, their ARN shapes and AWS aliases, tags, and the resource
//! record itself.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::arn::Arn;
use crate::finding::did_you_mean;
use crate::names::{AccountId, Region};

/// Tags: key → value, ordered for stable output.
pub type Tags = BTreeMap<String, String>;

/// Checks a tag map against AWS limits (key 1–128 characters, value 0–256,
/// no `aws:` prefix on keys).
pub fn check_tags(tags: &Tags) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in tags {
        let n_key = key.chars().count();
        if n_key == 0 || n_key > 128 {
            problems.push(format!("tag key {key:?} must be 1-128 characters"));
        }
        if key.starts_with("aws:") {
            problems.push(format!(
                "tag key {key:?} uses the reserved prefix \"aws:\"; choose another key"
            ));
        }
        if value.chars().count() > 256 {
            problems.push(format!(
                "tag {key:?} has a value longer than 256 characters"
            ));
        }
    }
    problems
}

/// The resource types Coffer has drivers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceType {
    PostgreSQL,
    MySQL,
    FileSystem,
    SQLite,
    S3,
}

/// AWS Backup resource-type names that Coffer accepts but has no driver for:
/// they select nothing here, with a warning.
pub const AWS_TYPES_WITHOUT_DRIVER: &[&str] = &[
    "EBS",
    "EC2",
    "DynamoDB",
    "DocumentDB",
    "Neptune",
    "Storage Gateway",
    "VirtualMachine",
    "Redshift",
    "Redshift Serverless",
    "SAP HANA on Amazon EC2",
    "CloudFormation",
    "Timestream",
    "EKS",
];

/// What a resource-type name in a policy means here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeName {
    /// One or more Coffer types (an AWS alias may stand for several).
    Types(Vec<ResourceType>),
    /// A real AWS Backup type that Coffer has no driver for.
    NoDriver(String),
}

impl ResourceType {
    pub const ALL: [ResourceType; 5] = [
        ResourceType::PostgreSQL,
        ResourceType::MySQL,
        ResourceType::FileSystem,
        ResourceType::SQLite,
        ResourceType::S3,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::PostgreSQL => "PostgreSQL",
            ResourceType::MySQL => "MySQL",
            ResourceType::FileSystem => "FileSystem",
            ResourceType::SQLite => "SQLite",
            ResourceType::S3 => "S3",
        }
    }

    /// The ARN service of this type.
    pub fn service(self) -> &'static str {
        match self {
            ResourceType::PostgreSQL => "postgres",
            ResourceType::MySQL => "mysql",
            ResourceType::FileSystem => "fs",
            ResourceType::SQLite => "sqlite",
            ResourceType::S3 => "s3",
        }
    }

    /// The resource kind in the ARN (`database/...`, `filesystem/...`).
    pub fn arn_kind(self) -> &'static str {
        match self {
            ResourceType::PostgreSQL | ResourceType::MySQL | ResourceType::SQLite => "database",
            ResourceType::FileSystem => "filesystem",
            ResourceType::S3 => "bucket",
        }
    }

    /// Whether the ARN name has the `<server>/<database>` form.
    pub fn is_server_database(self) -> bool {
        matches!(self, ResourceType::PostgreSQL | ResourceType::MySQL)
    }

    /// The resource's ARN. `name` is `<server>/<database>` for server
    /// databases, the plain name otherwise.
    pub fn arn(self, region: &Region, account: &AccountId, name: &str) -> Arn {
        Arn::new(
            self.service(),
            region.as_str(),
            account.as_str(),
            &format!("{}/{}", self.arn_kind(), name),
        )
    }

    /// The type an ARN belongs to, if it is a Coffer resource ARN.
    pub fn of_arn(arn: &Arn) -> Option<ResourceType> {
        let kind = arn.resource().split('/').next()?;
        ResourceType::ALL
            .into_iter()
            .find(|t| t.service() == arn.service() && t.arn_kind() == kind)
    }

    /// Resolves a type name as written in a policy: a Coffer type, an AWS
    /// alias (`RDS`, `Aurora`, `EFS`, `FSx`), or an AWS type without driver.
    ///
    /// # Errors
    /// When the name is no type at all: the message lists the accepted names
    /// and a "did you mean" when one is close.
    pub fn resolve_name(name: &str) -> Result<TypeName, String> {
        use ResourceType::*;
        let types = match name {
            "PostgreSQL" => vec![PostgreSQL],
            "MySQL" => vec![MySQL],
            "FileSystem" => vec![FileSystem],
            "SQLite" => vec![SQLite],
            "S3" => vec![S3],
            "RDS" | "Aurora" => vec![PostgreSQL, MySQL],
            "EFS" | "FSx" => vec![FileSystem],
            other if AWS_TYPES_WITHOUT_DRIVER.contains(&other) => {
                return Ok(TypeName::NoDriver(other.to_string()))
            }
            other => {
                let known = Self::ALL
                    .iter()
                    .map(|t| t.as_str())
                    .chain(["RDS", "Aurora", "EFS", "FSx"])
                    .chain(AWS_TYPES_WITHOUT_DRIVER.iter().copied());
                let suggestion = did_you_mean(other, known.clone());
                let mut message = format!(
                    "{other:?} is not a resource type; Coffer's types are PostgreSQL, MySQL, FileSystem, SQLite and S3 (AWS aliases RDS, Aurora, EFS, FSx are accepted)"
                );
                if let Some(s) = suggestion {
                    message = format!("{message}; did you mean {s:?}?");
                }
                return Err(message);
            }
        };
        Ok(TypeName::Types(types))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protected resource: something Coffer backs up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    pub resource_arn: Arn,
    pub resource_type: ResourceType,
    /// `<server>/<database>` for server databases, else the plain name.
    pub resource_name: String,
    pub account_id: AccountId,
    pub region: Region,
    pub tags: Tags,
    /// How to reach it: driver-specific settings from the inventory, with
    /// secrets only by reference (never their values).
    #[serde(default)]
    pub connection: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_aliases_select_coffer_types() {
        assert_eq!(
            ResourceType::resolve_name("RDS").unwrap(),
            TypeName::Types(vec![ResourceType::PostgreSQL, ResourceType::MySQL])
        );
        assert_eq!(
            ResourceType::resolve_name("EFS").unwrap(),
            TypeName::Types(vec![ResourceType::FileSystem])
        );
        assert_eq!(
            ResourceType::resolve_name("EBS").unwrap(),
            TypeName::NoDriver("EBS".into())
        );
        let err = ResourceType::resolve_name("PostgresSQL").unwrap_err();
        assert!(err.contains("did you mean \"PostgreSQL\""), "{err}");
    }

    #[test]
    fn resource_arns_have_designed_shapes_and_round_trip() {
        let region = Region::new("eu-west-1").unwrap();
        let account = AccountId::new("111122223333").unwrap();
        let arn = ResourceType::PostgreSQL.arn(&region, &account, "main/orders");
        assert_eq!(
            arn.to_string(),
            "arn:coffer:postgres:eu-west-1:111122223333:database/main/orders"
        );
        assert_eq!(ResourceType::of_arn(&arn), Some(ResourceType::PostgreSQL));
        let fs = ResourceType::FileSystem.arn(&region, &account, "home");
        assert_eq!(
            fs.to_string(),
            "arn:coffer:fs:eu-west-1:111122223333:filesystem/home"
        );
        assert_eq!(ResourceType::of_arn(&fs), Some(ResourceType::FileSystem));
    }

    #[test]
    fn reserved_tag_prefix_is_refused() {
        let tags = Tags::from([("aws:x".to_string(), "1".to_string())]);
        assert_eq!(check_tags(&tags).len(), 1);
    }
}
