//! What the inventory declares besides resources: database servers whose
//! databases are discovered later, S3-compatible endpoints, and references
//! to secrets (never their values).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{AccountId, Region};
use crate::resource::{ResourceType, Tags};

/// Where a secret lives. Coffer stores only this reference; the value is
/// read when a driver connects and is never logged or stored.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable of the `coffer` process.
    Env(String),
    /// A file whose contents (trailing newline removed) is the secret.
    File(String),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reference is not secret, but say clearly it is only a reference.
        match self {
            SecretRef::Env(name) => write!(f, "SecretRef::Env({name})"),
            SecretRef::File(path) => write!(f, "SecretRef::File({path})"),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{path}"),
        }
    }
}

/// A PostgreSQL or MySQL/MariaDB server; each of its databases is a resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Server {
    /// The server's inventory name: the `<server>` in its databases' ARNs.
    pub name: String,
    /// `PostgreSQL` or `MySQL`.
    pub engine: ResourceType,
    pub host: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    pub account_id: AccountId,
    pub region: Region,
    /// Tags every database of this server carries.
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// Databases named in the inventory (discovery finds the others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    /// Databases never enrolled (shell patterns with `*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_databases: Vec<String>,
    /// Extra tags per database name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub database_tags: BTreeMap<String, Tags>,
}

/// An S3-compatible endpoint that buckets live on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Endpoint {
    pub name: String,
    /// e.g. `http://127.0.0.1:9000`.
    pub url: String,
    /// Signing region.
    pub signing_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<SecretRef>,
    #[serde(default)]
    pub path_style: bool,
}
