//! What a file set declares: the desired objects of one stack, each with the
//! place it was declared.

use std::collections::BTreeMap;

use coffer_model::{
    AccountId, BackupPlan, BackupSelection, BackupVault, Framework, IamRole, IamUser,
    ManagedPolicy, Region, ReportPlan, Resource, RestoreTestingPlan, RestoreTestingSelection,
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

/// How many bytes one policy file may hold: more than twice a template of
/// 100,000 objects (a third each vaults, plans with one rule, and
/// selections: 24 MiB of YAML).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How many bytes the files of one load may hold together: two files as
/// large as one may be. A load takes about 25 times its files' size in
/// memory for templates (600 MiB at 100,000 objects), and about 55 times at
/// worst (files of nothing but one-letter values), so one load stays within
/// about 3 GiB, and 7 GiB at worst.
pub const MAX_SET_BYTES: u64 = 128 * 1024 * 1024;

/// How many bytes of text (scalars and mapping keys) YAML aliases may copy
/// into the files of one load: as much as one file may hold. A file holds
/// at most its own text without aliases; with them, a 1 MiB string aliased
/// 100,000 times in a 1 MiB file would be 100 GiB of copies.
pub const MAX_ALIAS_BYTES: u64 = MAX_FILE_BYTES;

/// How many values (scalars, lists and mappings) YAML aliases may copy into
/// the files of one load. Real policy files alias a few tags or a
/// lifecycle; a "billion laughs" file of a few lines copies billions of
/// values, each taking memory however short its text.
pub const MAX_ALIAS_VALUES: usize = 1_000_000;

/// How deep lists and mappings may nest in a document, aliases expanded.
/// Trees are walked recursively (resolved, read, copied, dropped), so a
/// file of 20 MB nesting ten million block sequences would overflow the
/// stack and take gigabytes; policy documents nest a dozen levels.
pub const MAX_DEPTH: usize = 128;

/// How much one load may read. The defaults are the documented limits;
/// tests lower them rather than write files of that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one file may hold ([`MAX_FILE_BYTES`]).
    pub file_bytes: u64,
    /// Bytes the files of the load may hold together ([`MAX_SET_BYTES`]).
    pub set_bytes: u64,
    /// Bytes of text aliases may copy ([`MAX_ALIAS_BYTES`]).
    pub alias_bytes: u64,
    /// Values aliases may copy ([`MAX_ALIAS_VALUES`]).
    pub alias_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            file_bytes: MAX_FILE_BYTES,
            set_bytes: MAX_SET_BYTES,
            alias_bytes: MAX_ALIAS_BYTES,
            alias_values: MAX_ALIAS_VALUES,
        }
    }
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
    pub restore_testing_plans: Vec<Declared<RestoreTestingPlan>>,
    pub restore_testing_selections: Vec<Declared<RestoreTestingSelection>>,
    /// IAM users, managed policies and roles: objects of the account, not
    /// of the stack's region.
    pub users: Vec<Declared<IamUser>>,
    pub managed_policies: Vec<Declared<ManagedPolicy>>,
    pub roles: Vec<Declared<IamRole>>,
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
    /// The same for IAM users and managed policies (by name): references
    /// to them are not reported missing.
    pub incomplete_users: Vec<String>,
    pub incomplete_managed_policies: Vec<String>,
    /// The same for restore testing plans (by name).
    pub incomplete_restore_testing_plans: Vec<String>,
}
