//! Who asks, and the one hook that decides what they may do.
//!
//! Every operation names its AWS Backup action and what it acts on, and
//! passes through [`crate::Service::authorize`] before it changes or reads
//! anything, so the CLI and the API can never disagree about what a caller
//! may do. Today a caller may do everything the vault access policies of
//! what it acts on allow (an explicit Deny wins; Coffer has no identity
//! policies yet, so an Allow grants nothing extra).

use coffer_model::{AccountId, BackupVault, Region};
use coffer_vault::{AccessPolicy, Decision, Request};

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
}

impl Caller {
    /// A caller acting as `principal` in `account` and `region`.
    pub fn new(principal: impl Into<String>, account: AccountId, region: Region) -> Caller {
        Caller {
            principal: principal.into(),
            account,
            region,
            os_user: None,
        }
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
/// `action` on `target`.
///
/// # Errors
/// `AccessDenied`, naming the statement that denies it; a vault policy
/// Coffer cannot evaluate refuses (fails closed).
pub fn authorize(caller: &Caller, action: Action, target: Target<'_>) -> Result<()> {
    let (vault, resource_arn) = match target {
        Target::Account => return Ok(()),
        Target::Vault(vault) => (vault, vault.backup_vault_arn.to_string()),
        Target::Point { arn, vault } => (vault, arn.to_string()),
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
