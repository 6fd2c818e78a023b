//! What a file set declares: the desired objects of one stack, each with the
//! place it was declared.

use std::collections::BTreeMap;

use coffer_model::{
    AccountId, BackupPlan, BackupSelection, BackupVault, Framework, Region, ReportPlan, Resource,
    S3Endpoint, Server,
};

use crate::node::Pos;

/// Options that apply to a whole load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Account the stack's objects belong to (`AWS::AccountId`).
    pub account: AccountId,
    /// Region the stack's objects belong to (`AWS::Region`).
    pub region: Region,
    /// Stack name (`AWS::StackName`).
    pub stack_name: String,
    /// Template parameter values given on the command line (`--parameter K=V`).
    pub parameters: BTreeMap<String, String>,
}

/// Where an object was declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file as the user named it.
    pub file: String,
    /// The template's logical ID, or the inventory entry's name.
    pub logical_id: String,
    pub pos: Pos,
    /// Where the object's fields are, by the path diagnostics name them
    /// (`BackupPlanRule[1].Lifecycle`): findings about the object as a
    /// whole (references, locks) point at the field they are about.
    pub fields: BTreeMap<String, Pos>,
}

impl Origin {
    /// The position of the first of `fields` the object has, else of the
    /// object itself.
    pub fn at(&self, fields: &[&str]) -> Pos {
        fields
            .iter()
            .find_map(|f| self.fields.get(*f).copied())
            .unwrap_or(self.pos)
    }
}

/// A model value with its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Declared<T> {
    pub value: T,
    pub origin: Origin,
}

/// A template resource of a type Coffer does not manage (`AWS::KMS::Key`,
/// `AWS::IAM::Role`, ...): listed, never rejected; references to it resolve
/// to the stable ARN here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmanaged {
    pub logical_id: String,
    pub type_name: String,
    pub arn: String,
    pub file: String,
}

/// A file that was read, with the SHA-256 of its bytes (recorded when a
/// policy is applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub sha256: String,
}

/// Everything a file set declares.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySet {
    pub vaults: Vec<Declared<BackupVault>>,
    pub plans: Vec<Declared<BackupPlan>>,
    pub selections: Vec<Declared<BackupSelection>>,
    pub frameworks: Vec<Declared<Framework>>,
    pub report_plans: Vec<Declared<ReportPlan>>,
    /// Resources the inventory declares.
    pub resources: Vec<Declared<Resource>>,
    /// Database servers the inventory declares (their databases are
    /// discovered by the drivers).
    pub servers: Vec<Declared<Server>>,
    /// S3-compatible endpoints the inventory declares.
    pub endpoints: Vec<Declared<S3Endpoint>>,
    pub unmanaged: Vec<Unmanaged>,
    pub files: Vec<SourceFile>,
    /// Names of backup plans the files declare but that could not be read
    /// in full because of errors (already reported): not in `plans`, yet
    /// selections naming them do not name a missing plan.
    pub incomplete_plans: Vec<String>,
    /// The same for backup vaults: rules may target them without naming a
    /// missing vault, but their locks are unknown.
    pub incomplete_vaults: Vec<String>,
    /// The same for frameworks (by name): report plans may name them.
    pub incomplete_frameworks: Vec<String>,
}
