//! Who asks, and the one hook that decides what they may do.
//!
//! Every operation names its AWS Backup action and what it acts on, and
//! passes through [`crate::Service::authorize`] before it changes or reads
//! anything, so the CLI and the API can never disagree about what a caller
//! may do. A request is allowed only when the caller's identity allows it
//! and no vault access policy of what it acts on denies it (an explicit
//! Deny wins). The identity is the machine's administrator for the local
//! CLI (every action), or an IAM user's identity policies for an access
//! key: inline `Policies`, the managed policies it names and those naming
//! it, evaluated by the same evaluator as vault policies
//! (`coffer_vault::AccessPolicy`).

use std::sync::Arc;

use coffer_model::{AccountId, BackupVault, Region};
use coffer_vault::{grant_of, AccessPolicy, Decision, Grant, Request};

use crate::error::{Error, Result};

/// The principal an operation runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The principal's ARN (`arn:coffer:iam::ACCOUNT:role/NAME`, or any ARN
    /// an access policy may name).
    pub principal: String,
    /// The account the caller acts in.
    pub account: AccountId,
    /// The region the caller acts in.
    pub region: Region,
    /// The operating-system user, when the caller is a local command.
    pub os_user: Option<String>,
    /// What the caller's identity allows.
    pub identity: Identity,
}

/// What a caller's identity allows, before vault access policies restrict
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The machine's administrator: the local CLI acting as the home's
    /// configured principal, and Coffer's own daemon. Every action is
    /// allowed by identity; vault access policies still deny.
    Administrator,
    /// An IAM user of the API (an access key's): only what its identity
    /// policies allow.
    User(Arc<UserIdentity>),
}

/// An IAM user's identity policies, as read when its request arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserIdentity {
    /// The user's name (`UserName`).
    pub user_name: String,
    /// Whether a stack declares the user (`AWS::IAM::User`); an undeclared
    /// user has no permissions.
    pub declared: bool,
    /// Its policies, each with where it comes from, for messages.
    pub policies: Vec<IdentityPolicy>,
    /// A policy of the user's that Coffer could not evaluate: every
    /// request is refused (fails closed) naming it.
    pub unevaluable: Option<String>,
}

/// One identity policy and where it comes from (`inline policy "read" of
/// user "auditor"`, `managed policy "operators"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityPolicy {
    pub source: String,
    pub policy: AccessPolicy,
}

impl Caller {
    /// A caller acting as `principal` in `account` and `region`, as the
    /// machine's administrator ([`Identity::Administrator`]): what the local
    /// CLI and the daemon act as. An API caller gets its user's identity
    /// with [`Caller::with_identity`].
    pub fn new(principal: impl Into<String>, account: AccountId, region: Region) -> Caller {
        Caller {
            principal: principal.into(),
            account,
            region,
            os_user: None,
            identity: Identity::Administrator,
        }
    }

    /// The same caller, with what `identity` allows.
    pub fn with_identity(mut self, identity: Identity) -> Caller {
        self.identity = identity;
        self
    }

    /// The same caller, run by the operating-system user `user`.
    pub fn with_os_user(mut self, user: Option<String>) -> Caller {
        self.os_user = user;
        self
    }

    /// The operating-system user running this process, from the
    /// environment (`USER`, else `LOGNAME`).
    pub fn current_os_user() -> Option<String> {
        ["USER", "LOGNAME"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Who this is, for messages and records: the principal, and the
    /// operating-system user when there is one.
    pub fn describe(&self) -> String {
        match &self.os_user {
            Some(user) => format!("{} (user {user})", self.principal),
            None => self.principal.clone(),
        }
    }
}

/// The AWS Backup actions Coffer's operations are authorized as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    StartBackupJob,
    StopBackupJob,
    StartCopyJob,
    CopyIntoBackupVault,
    StartRestoreJob,
    DeleteRecoveryPoint,
    UpdateRecoveryPointLifecycle,
    DescribeRecoveryPoint,
    ListRecoveryPoints,
    ListJobs,
    CreateLegalHold,
    CancelLegalHold,
    ListLegalHolds,
    CreateStack,
    StartFrameworkEvaluation,
    StartReportJob,
    ListReportJobs,
    ExportVaultKey,
    CheckBackupVault,
    PruneBackupVault,
    ReconcileBackupVault,
    AdoptRecoveryPoints,
    SignLedgerCheckpoint,
    DeclareLedgerCut,
    VerifyLedger,
    LookupLedgerEntries,
    GetObjectVersion,
    ListObjectVersions,
    ListBackupVaults,
    DescribeBackupVault,
    CreateBackupVault,
    DeleteBackupVault,
    DescribeBackupJob,
    ListProtectedResources,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    LookupAuthRefusals,
    GetBackupVaultAccessPolicy,
    PutBackupVaultAccessPolicy,
    DeleteBackupVaultAccessPolicy,
    PutBackupVaultLockConfiguration,
    DeleteBackupVaultLockConfiguration,
    CreateFramework,
    DescribeFramework,
    ListFrameworks,
    UpdateFramework,
    DeleteFramework,
    CreateReportPlan,
    DescribeReportPlan,
    ListReportPlans,
    UpdateReportPlan,
    DeleteReportPlan,
    DescribeReportJob,
    DescribeCopyJob,
    ListCopyJobs,
    GetRecoveryPointRestoreMetadata,
    ListRecoveryPointsByResource,
    DescribeProtectedResource,
    ListProtectedResourcesByBackupVault,
    ListRestoreJobsByProtectedResource,
    GetRestoreJobMetadata,
    PutBackupVaultNotifications,
    GetBackupVaultNotifications,
    DeleteBackupVaultNotifications,
    CreateBackupPlan,
    GetBackupPlan,
    ListBackupPlans,
    UpdateBackupPlan,
    DeleteBackupPlan,
    ListBackupPlanVersions,
    GetBackupPlanFromJSON,
    CreateBackupSelection,
    GetBackupSelection,
    ListBackupSelections,
    DeleteBackupSelection,
    TagResource,
    UntagResource,
    ListTags,
    ListRestoreTestingPlans,
    GetRestoreTestingPlan,
    CreateRestoreTestingPlan,
    UpdateRestoreTestingPlan,
    DeleteRestoreTestingPlan,
    ListRestoreTestingSelections,
    GetRestoreTestingSelection,
    CreateRestoreTestingSelection,
    UpdateRestoreTestingSelection,
    DeleteRestoreTestingSelection,
    PutRestoreValidationResult,
    GetRestoreTestingInferredMetadata,
}

impl Action {
    /// The action's name as policies write it (`backup:DeleteRecoveryPoint`).
    pub fn name(self) -> &'static str {
        match self {
            Action::StartBackupJob => "backup:StartBackupJob",
            Action::StopBackupJob => "backup:StopBackupJob",
            Action::StartCopyJob => "backup:StartCopyJob",
            Action::CopyIntoBackupVault => "backup:CopyIntoBackupVault",
            Action::StartRestoreJob => "backup:StartRestoreJob",
            Action::DeleteRecoveryPoint => "backup:DeleteRecoveryPoint",
            Action::UpdateRecoveryPointLifecycle => "backup:UpdateRecoveryPointLifecycle",
            Action::DescribeRecoveryPoint => "backup:DescribeRecoveryPoint",
            Action::ListRecoveryPoints => "backup:ListRecoveryPointsByBackupVault",
            Action::ListJobs => "backup:ListBackupJobs",
            Action::CreateLegalHold => "backup:CreateLegalHold",
            Action::CancelLegalHold => "backup:CancelLegalHold",
            Action::ListLegalHolds => "backup:ListLegalHolds",
            Action::CreateStack => "cloudformation:CreateStack",
            Action::StartFrameworkEvaluation => "backup:DescribeFramework",
            Action::StartReportJob => "backup:StartReportJob",
            Action::ListReportJobs => "backup:ListReportJobs",
            Action::ExportVaultKey => "coffer:ExportVaultKey",
            Action::CheckBackupVault => "coffer:CheckBackupVault",
            Action::PruneBackupVault => "coffer:PruneBackupVault",
            Action::ReconcileBackupVault => "coffer:ReconcileBackupVault",
            Action::AdoptRecoveryPoints => "coffer:AdoptRecoveryPoints",
            Action::SignLedgerCheckpoint => "coffer:SignLedgerCheckpoint",
            Action::DeclareLedgerCut => "coffer:DeclareLedgerCut",
            Action::VerifyLedger => "coffer:VerifyLedger",
            Action::LookupLedgerEntries => "coffer:LookupLedgerEntries",
            Action::GetObjectVersion => "coffer:GetObjectVersion",
            Action::ListObjectVersions => "coffer:ListObjectVersions",
            Action::ListBackupVaults => "backup:ListBackupVaults",
            Action::DescribeBackupVault => "backup:DescribeBackupVault",
            Action::CreateBackupVault => "backup:CreateBackupVault",
            Action::DeleteBackupVault => "backup:DeleteBackupVault",
            Action::DescribeBackupJob => "backup:DescribeBackupJob",
            Action::ListProtectedResources => "backup:ListProtectedResources",
            Action::CreateAccessKey => "iam:CreateAccessKey",
            Action::ListAccessKeys => "iam:ListAccessKeys",
            Action::UpdateAccessKey => "iam:UpdateAccessKey",
            Action::DeleteAccessKey => "iam:DeleteAccessKey",
            Action::LookupAuthRefusals => "coffer:LookupAuthRefusals",
            Action::GetBackupVaultAccessPolicy => "backup:GetBackupVaultAccessPolicy",
            Action::PutBackupVaultAccessPolicy => "backup:PutBackupVaultAccessPolicy",
            Action::DeleteBackupVaultAccessPolicy => "backup:DeleteBackupVaultAccessPolicy",
            Action::PutBackupVaultLockConfiguration => "backup:PutBackupVaultLockConfiguration",
            Action::DeleteBackupVaultLockConfiguration => {
                "backup:DeleteBackupVaultLockConfiguration"
            }
            Action::CreateFramework => "backup:CreateFramework",
            Action::DescribeFramework => "backup:DescribeFramework",
            Action::ListFrameworks => "backup:ListFrameworks",
            Action::UpdateFramework => "backup:UpdateFramework",
            Action::DeleteFramework => "backup:DeleteFramework",
            Action::CreateReportPlan => "backup:CreateReportPlan",
            Action::DescribeReportPlan => "backup:DescribeReportPlan",
            Action::ListReportPlans => "backup:ListReportPlans",
            Action::UpdateReportPlan => "backup:UpdateReportPlan",
            Action::DeleteReportPlan => "backup:DeleteReportPlan",
            Action::DescribeReportJob => "backup:DescribeReportJob",
            Action::DescribeCopyJob => "backup:DescribeCopyJob",
            Action::ListCopyJobs => "backup:ListCopyJobs",
            Action::GetRecoveryPointRestoreMetadata => "backup:GetRecoveryPointRestoreMetadata",
            Action::ListRecoveryPointsByResource => "backup:ListRecoveryPointsByResource",
            Action::DescribeProtectedResource => "backup:DescribeProtectedResource",
            Action::ListProtectedResourcesByBackupVault => {
                "backup:ListProtectedResourcesByBackupVault"
            }
            Action::ListRestoreJobsByProtectedResource => {
                "backup:ListRestoreJobsByProtectedResource"
            }
            Action::GetRestoreJobMetadata => "backup:GetRestoreJobMetadata",
            Action::PutBackupVaultNotifications => "backup:PutBackupVaultNotifications",
            Action::GetBackupVaultNotifications => "backup:GetBackupVaultNotifications",
            Action::DeleteBackupVaultNotifications => "backup:DeleteBackupVaultNotifications",
            Action::CreateBackupPlan => "backup:CreateBackupPlan",
            Action::GetBackupPlan => "backup:GetBackupPlan",
            Action::ListBackupPlans => "backup:ListBackupPlans",
            Action::UpdateBackupPlan => "backup:UpdateBackupPlan",
            Action::DeleteBackupPlan => "backup:DeleteBackupPlan",
            Action::ListBackupPlanVersions => "backup:ListBackupPlanVersions",
            Action::GetBackupPlanFromJSON => "backup:GetBackupPlanFromJSON",
            Action::CreateBackupSelection => "backup:CreateBackupSelection",
            Action::GetBackupSelection => "backup:GetBackupSelection",
            Action::ListBackupSelections => "backup:ListBackupSelections",
            Action::DeleteBackupSelection => "backup:DeleteBackupSelection",
            Action::TagResource => "backup:TagResource",
            Action::UntagResource => "backup:UntagResource",
            Action::ListTags => "backup:ListTags",
            Action::ListRestoreTestingPlans => "backup:ListRestoreTestingPlans",
            Action::GetRestoreTestingPlan => "backup:GetRestoreTestingPlan",
            Action::CreateRestoreTestingPlan => "backup:CreateRestoreTestingPlan",
            Action::UpdateRestoreTestingPlan => "backup:UpdateRestoreTestingPlan",
            Action::DeleteRestoreTestingPlan => "backup:DeleteRestoreTestingPlan",
            Action::ListRestoreTestingSelections => "backup:ListRestoreTestingSelections",
            Action::GetRestoreTestingSelection => "backup:GetRestoreTestingSelection",
            Action::CreateRestoreTestingSelection => "backup:CreateRestoreTestingSelection",
            Action::UpdateRestoreTestingSelection => "backup:UpdateRestoreTestingSelection",
            Action::DeleteRestoreTestingSelection => "backup:DeleteRestoreTestingSelection",
            Action::PutRestoreValidationResult => "backup:PutRestoreValidationResult",
            Action::GetRestoreTestingInferredMetadata => "backup:GetRestoreTestingInferredMetadata",
        }
    }
}

/// What an action acts on.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// The caller's account and region as a whole.
    Account,
    /// A vault (its access policy applies).
    Vault(&'a BackupVault),
    /// A recovery point (by ARN) in a vault (whose access policy applies).
    Point {
        arn: &'a str,
        vault: &'a BackupVault,
    },
}

/// The decision of the authorization hook: whether `caller` may do
/// `action` on `target`. The caller's identity must allow it (an account
/// level action is asked of resource `*`, as IAM asks actions that name no
/// resource), and no vault access policy may deny it.
///
/// # Errors
/// `AccessDenied` naming the action and the statement that denies it, or
/// saying which policy to attach when none allows it; a vault policy
/// Coffer cannot evaluate refuses (fails closed).
pub fn authorize(caller: &Caller, action: Action, target: Target<'_>) -> Result<()> {
    let (vault, resource_arn) = match target {
        Target::Account => (None, "*".to_string()),
        Target::Vault(vault) => (Some(vault), vault.backup_vault_arn.to_string()),
        Target::Point { arn, vault } => (Some(vault), arn.to_string()),
    };
    if let Identity::User(user) = &caller.identity {
        identity_allows(caller, user, action, &resource_arn)?;
    }
    let Some(vault) = vault else {
        return Ok(());
    };
    let Some(doc) = &vault.access_policy else {
        return Ok(());
    };
    let policy = AccessPolicy::from_json(doc).map_err(|error| {
        Error::access_denied(format!(
            "vault {:?} has an access policy Coffer cannot evaluate ({error}), so {} is refused; fix the vault's AccessPolicy",
            vault.backup_vault_name,
            action.name()
        ))
    })?;
    let request = Request {
        principal_arn: &caller.principal,
        action: action.name(),
        resource_arn: &resource_arn,
    };
    match policy.evaluate(&request) {
        Decision::Allowed => Ok(()),
        Decision::Denied { sid } => {
            let statement = sid.map_or_else(
                || "a Deny statement".to_string(),
                |s| format!("statement {s:?}"),
            );
            Err(Error::access_denied(format!(
                "{} may not {} on {resource_arn}: {statement} of vault {:?}'s access policy denies it; act as a principal the policy exempts",
                caller.principal,
                action.name(),
                vault.backup_vault_name
            )))
        }
    }
}

/// Whether `user`'s identity policies allow `action` on `resource_arn`.
fn identity_allows(
    caller: &Caller,
    user: &UserIdentity,
    action: Action,
    resource_arn: &str,
) -> Result<()> {
    let name = &user.user_name;
    if !user.declared {
        return Err(Error::access_denied(format!(
            "{} may not {}: IAM user {name:?} is not declared in account {}, so it has no permissions; declare it as an AWS::IAM::User with a policy allowing {} and apply the stack",
            caller.principal,
            action.name(),
            caller.account,
            action.name()
        )));
    }
    if let Some(problem) = &user.unevaluable {
        return Err(Error::access_denied(format!(
            "{} may not {}: {problem}, so every request of user {name:?} is refused; fix the policy and apply its stack",
            caller.principal,
            action.name()
        )));
    }
    let request = Request {
        principal_arn: &caller.principal,
        action: action.name(),
        resource_arn,
    };
    let (grant, by) = grant_of(user.policies.iter().map(|p| &p.policy), &request);
    let source = by
        .and_then(|idx| user.policies.get(idx))
        .map_or("an identity policy", |p| p.source.as_str());
    match grant {
        Grant::Allowed { .. } => Ok(()),
        Grant::Denied { sid } => {
            let statement = sid.map_or_else(
                || "a Deny statement".to_string(),
                |s| format!("statement {s:?}"),
            );
            Err(Error::access_denied(format!(
                "{} may not {} on {resource_arn}: {statement} of {source} denies it; an explicit Deny wins over any Allow, so change that policy to allow it",
                caller.principal,
                action.name()
            )))
        }
        Grant::NotGranted => {
            let attached = if user.policies.is_empty() {
                "it has no identity policy".to_string()
            } else {
                let sources: Vec<&str> = user.policies.iter().map(|p| p.source.as_str()).collect();
                format!("none of its policies ({}) allows it", sources.join(", "))
            };
            Err(Error::access_denied(format!(
                "{} may not {} on {resource_arn}: {attached}; attach a policy allowing {} (an AWS::IAM::ManagedPolicy naming {name:?} in Users, or a Policies entry of its AWS::IAM::User) and apply the stack",
                caller.principal,
                action.name(),
                action.name()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(policy: serde_json::Value) -> BackupVault {
        let mut vault: BackupVault = serde_json::from_value(serde_json::json!({
            "BackupVaultName": "primary",
            "BackupVaultArn": "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary",
            "AccountId": "210987654321",
            "Region": "eu-west-1",
        }))
        .unwrap();
        vault.access_policy = Some(policy);
        vault
    }

    fn caller(principal: &str) -> Caller {
        Caller::new(
            principal,
            AccountId::new("210987654321").unwrap(),
            Region::new("eu-west-1").unwrap(),
        )
    }

    #[test]
    fn a_deny_of_the_vault_policy_refuses_the_action_for_its_principals_only() {
        let vault = vault(serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "no-restores",
                "Effect": "Deny",
                "Principal": {"AWS": "arn:coffer:iam::210987654321:role/intern"},
                "Action": "backup:StartRestoreJob",
                "Resource": "*"
            }]
        }));
        let point = "arn:coffer:backup:eu-west-1:210987654321:recovery-point:P";
        let target = Target::Point {
            arn: point,
            vault: &vault,
        };
        let denied = authorize(
            &caller("arn:coffer:iam::210987654321:role/intern"),
            Action::StartRestoreJob,
            target,
        )
        .unwrap_err();
        assert_eq!(denied.kind(), crate::ErrorKind::AccessDenied);
        assert!(denied.message().contains("\"no-restores\""), "{denied}");
        authorize(
            &caller("arn:coffer:iam::210987654321:role/operator"),
            Action::StartRestoreJob,
            target,
        )
        .unwrap();
        authorize(
            &caller("arn:coffer:iam::210987654321:role/intern"),
            Action::StartBackupJob,
            Target::Vault(&vault),
        )
        .unwrap();
    }

    fn user(name: &str, policies: &[serde_json::Value]) -> Caller {
        let policies = policies
            .iter()
            .enumerate()
            .map(|(idx, doc)| IdentityPolicy {
                source: format!("managed policy \"p{idx}\""),
                policy: AccessPolicy::from_json(doc).unwrap(),
            })
            .collect();
        caller(&format!("arn:coffer:iam::210987654321:user/{name}")).with_identity(Identity::User(
            Arc::new(UserIdentity {
                user_name: name.to_string(),
                declared: true,
                policies,
                unevaluable: None,
            }),
        ))
    }

    #[track_caller]
    fn check(caller: &Caller, action: Action, target: Target<'_>, expect: Option<&str>) {
        let decided = authorize(caller, action, target);
        match (decided, expect) {
            (Ok(()), None) => {}
            (Err(error), Some(words)) => {
                assert_eq!(error.kind(), crate::ErrorKind::AccessDenied);
                assert!(error.message().contains(action.name()), "{error}");
                assert!(error.message().contains(words), "{error}");
            }
            (decided, expect) => panic!("{action:?}: {decided:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn the_identity_must_allow_and_no_vault_policy_may_deny() {
        let plain = vault(serde_json::json!({"Statement": []}));
        let guarded = vault(serde_json::json!({
            "Statement": [{"Sid": "keep-points", "Effect": "Deny", "Principal": "*",
                "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}]
        }));
        let point = "arn:coffer:backup:eu-west-1:210987654321:recovery-point:P";
        let auditor = user(
            "auditor",
            &[serde_json::json!({"Statement": {"Effect": "Allow",
                "Action": ["backup:List*", "backup:Describe*", "backup:Get*"], "Resource": "*"}})],
        );
        let operator = user(
            "operator",
            &[serde_json::json!({"Statement": [
                {"Effect": "Allow", "Action": ["backup:List*", "backup:Describe*", "backup:Start*"], "Resource": "*"},
                {"Sid": "no-deletes", "Effect": "Deny", "Action": ["backup:Delete*", "backup:Put*"], "Resource": "*"}
            ]})],
        );
        let admin = user(
            "admin",
            &[
                serde_json::json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
            ],
        );
        let nobody = user("nobody", &[]);
        let at_point = |vault| Target::Point { arn: point, vault };

        check(&auditor, Action::ListBackupVaults, Target::Account, None);
        check(
            &auditor,
            Action::DescribeRecoveryPoint,
            at_point(&plain),
            None,
        );
        check(
            &auditor,
            Action::StartBackupJob,
            Target::Vault(&plain),
            Some("none of its policies (managed policy \"p0\") allows it"),
        );
        check(
            &auditor,
            Action::DeleteRecoveryPoint,
            at_point(&plain),
            Some("attach a policy allowing"),
        );

        check(
            &operator,
            Action::StartBackupJob,
            Target::Vault(&plain),
            None,
        );
        check(&operator, Action::StartRestoreJob, at_point(&plain), None);
        check(
            &operator,
            Action::DeleteRecoveryPoint,
            at_point(&plain),
            Some("statement \"no-deletes\" of managed policy \"p0\" denies it"),
        );
        check(
            &operator,
            Action::PutBackupVaultAccessPolicy,
            Target::Vault(&plain),
            Some("\"no-deletes\""),
        );

        check(&admin, Action::DeleteRecoveryPoint, at_point(&plain), None);
        check(
            &admin,
            Action::DeleteRecoveryPoint,
            at_point(&guarded),
            Some("statement \"keep-points\" of vault \"primary\"'s access policy"),
        );

        check(
            &nobody,
            Action::ListBackupVaults,
            Target::Account,
            Some("it has no identity policy"),
        );
        let undeclared = caller("arn:coffer:iam::210987654321:user/ghost").with_identity(
            Identity::User(Arc::new(UserIdentity {
                user_name: "ghost".into(),
                declared: false,
                policies: Vec::new(),
                unevaluable: None,
            })),
        );
        check(
            &undeclared,
            Action::ListBackupVaults,
            Target::Account,
            Some("is not declared"),
        );

        // The local CLI is the machine's administrator: allowed by identity,
        // still refused by the vault's Deny.
        let cli = caller("arn:coffer:iam::210987654321:role/coffer-admin");
        assert_eq!(cli.identity, Identity::Administrator);
        check(
            &cli,
            Action::PutBackupVaultAccessPolicy,
            Target::Vault(&plain),
            None,
        );
        check(
            &cli,
            Action::DeleteRecoveryPoint,
            at_point(&guarded),
            Some("keep-points"),
        );
    }

    #[test]
    fn a_policy_that_cannot_be_evaluated_refuses() {
        let vault = vault(serde_json::json!({"Statement": "nonsense"}));
        let refused = authorize(
            &caller("arn:coffer:iam::210987654321:role/operator"),
            Action::StartBackupJob,
            Target::Vault(&vault),
        )
        .unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::AccessDenied);
    }
}
