//! Organizations: checking an organization and describing an account's
//! effective backup policy, read from the organization's files (no
//! catalog, as `validate` does for stacks); planning and applying it (the
//! organization kept in the catalog, one per deployment, and the plans its
//! backup policies make in each account and region, owned by the
//! organization); describing it and its effective policies as applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use coffer_catalog::{ApplySummary, DesiredObject, ObjectKind, OrgPlan};
use coffer_model::{AccountId, Arn, Organization};
use coffer_policy::org::{
    load_organization, managed_plans, EffectivePolicy, LoadedOrganization, ManagedPlan,
    OrgPolicies, UnmadePlan, BACKUP_POLICY,
};
use serde_json::{json, Value};

use crate::caller::{Caller, Identity};
use crate::error::{Error, Result};
use crate::Service;

/// Reads and checks an organization file and every file it names; every
/// diagnostic is in the result, sorted.
pub fn validate_organization(_caller: &Caller, path: &Path) -> LoadedOrganization {
    load_organization(path)
}

/// An account's effective backup policy in the shape of AWS Organizations'
/// `DescribeEffectivePolicy`.
#[derive(Clone, Debug, PartialEq)]
pub struct DescribedEffectivePolicy {
    /// The effective policy as JSON text, as AWS gives it.
    pub policy_content: String,
    pub last_updated: jiff::Timestamp,
    pub target_id: String,
    pub policy_type: &'static str,
    /// The merge, with what it refused and the plans that are not valid.
    pub effective: EffectivePolicy,
}

/// What describing an effective policy found: the organization as read,
/// and the policy when the organization could be read whole.
#[derive(Clone, Debug)]
pub struct EffectivePolicyRun {
    pub loaded: LoadedOrganization,
    pub described: Option<DescribedEffectivePolicy>,
}

/// The effective backup policy of `account` in the organization at `path`.
///
/// # Errors
/// `InvalidParameterValue` for an account ID that is not 12 digits or not
/// in the organization. An organization with errors is not an error: see
/// [`EffectivePolicyRun::loaded`].
pub fn describe_effective_policy(
    _caller: &Caller,
    path: &Path,
    account: &str,
) -> Result<EffectivePolicyRun> {
    let account =
        AccountId::new(account).map_err(|err| Error::invalid_parameter(err.to_string()))?;
    let loaded = load_organization(path);
    if !loaded.is_usable() {
        return Ok(EffectivePolicyRun {
            loaded,
            described: None,
        });
    }
    let effective = loaded
        .effective(&account)
        .map_err(|err| Error::invalid_parameter(err.to_string()))?;
    let policy_content = serde_json::to_string(&effective.content).map_err(|err| {
        Error::invalid_parameter(format!(
            "the effective policy cannot be written as JSON: {err}"
        ))
    })?;
    let described = DescribedEffectivePolicy {
        policy_content,
        last_updated: loaded.last_updated().unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        target_id: account.to_string(),
        policy_type: BACKUP_POLICY,
        effective,
    };
    Ok(EffectivePolicyRun {
        loaded,
        described: Some(described),
    })
}

/// A rule of an organization-managed plan whose target vault does not
/// exist in the account and region: its jobs fail, naming the vault,
/// until the vault is created there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingVault {
    pub account: AccountId,
    pub region: String,
    pub vault: String,
    /// The plan (`orgs/<name>`) and rule.
    pub plan: String,
    pub rule: String,
}

impl std::fmt::Display for MissingVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "account {}, region {}: vault {:?} does not exist; rule {:?} of plan {:?} fails its jobs until the vault is created there",
            self.account, self.region, self.vault, self.rule, self.plan
        )
    }
}

/// What planning (or applying) an organization found and would change.
#[derive(Clone, Debug)]
pub struct OrgPlanRun {
    /// The organization as read from its files.
    pub loaded: LoadedOrganization,
    /// The change, when the organization was read whole.
    pub plan: Option<OrgPlan>,
    /// Effective plans that make no plan (per account, region), besides
    /// those [`LoadedOrganization::diagnostics`] reports as not valid.
    pub unmade: Vec<UnmadePlan>,
    /// Rules whose target vault is missing where the plan is made.
    pub missing_vaults: Vec<MissingVault>,
    /// The SHA-256 of each policy document (by name), as recorded.
    pub policy_digests: BTreeMap<String, String>,
    /// What the apply did, after an apply.
    pub applied: Option<ApplySummary>,
}

/// The organization as last applied.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedOrganization {
    pub organization: Organization,
    /// Each file read, with its SHA-256.
    pub files: BTreeMap<String, String>,
    pub applied_at: jiff::Timestamp,
    pub version: i64,
}

/// The organization as people read it and as its plan diffs it: units by
/// name, accounts by ID with their parent's name, each node's policies in
/// attachment order, each policy with its digest and content.
pub fn organization_view(org: &Organization) -> Value {
    let node = |id: &str| coffer_policy::org::describe_node(org, id);
    let units: serde_json::Map<String, Value> = org
        .organizational_units
        .iter()
        .map(|u| (u.name.clone(), json!({"Parent": node(&u.parent_id)})))
        .collect();
    let accounts: serde_json::Map<String, Value> = org
        .accounts
        .iter()
        .map(|a| {
            (
                a.id.to_string(),
                json!({"Name": a.name, "Parent": node(&a.parent_id)}),
            )
        })
        .collect();
    let mut attachments: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for attachment in &org.attachments {
        attachments
            .entry(node(&attachment.target_id))
            .or_default()
            .push(attachment.policy_name.as_str());
    }
    let policies: serde_json::Map<String, Value> = org
        .policies
        .iter()
        .map(|(name, document)| {
            (
                name.clone(),
                json!({"Sha256": policy_digest(document), "Content": document}),
            )
        })
        .collect();
    json!({
        "ManagementAccount": org.management_account,
        "BackupDelegatedAdministrator": org.backup_delegated_administrator,
        "Units": units,
        "Accounts": accounts,
        "Attachments": attachments,
        "Policies": policies,
    })
}

/// The SHA-256 of a policy document as Coffer records it (its JSON text).
fn policy_digest(document: &Value) -> String {
    coffer_catalog::ledger::sha256_hex(document.to_string().as_bytes())
}

impl Service {
    /// The organization as last applied, if one was.
    ///
    /// # Errors
    /// On catalog errors, or a stored organization that cannot be read.
    pub async fn applied_organization(
        &self,
        _caller: &Caller,
    ) -> Result<Option<AppliedOrganization>> {
        let Some(record) = self.catalog().organization().await? else {
            return Ok(None);
        };
        Ok(Some(AppliedOrganization {
            organization: serde_json::from_value(record.doc)?,
            files: record.files,
            applied_at: record.applied_at,
            version: record.version,
        }))
    }

    /// The organization as last applied, or `ResourceNotFound` saying how
    /// to apply one.
    ///
    /// # Errors
    /// `ResourceNotFound` when none was applied; catalog errors.
    pub async fn describe_organization(&self, caller: &Caller) -> Result<AppliedOrganization> {
        self.applied_organization(caller).await?.ok_or_else(|| {
            Error::not_found(
                "no organization has been applied to this deployment; write one (docs/organizations.md) and run `coffer org apply FILE`",
            )
        })
    }

    /// Only the management account (of the organization applied and of the
    /// one given) may change the organization, as in AWS Organizations.
    fn may_manage(caller: &Caller, org: &Organization, what: &str) -> Result<()> {
        if let Identity::User(user) = &caller.identity {
            return Err(Error::access_denied(format!(
                "IAM user {:?} may not change the organization; the organization is applied by the management account's administrator with `coffer org apply`",
                user.user_name
            )));
        }
        let home = crate::scope::home_account(caller);
        let member = org.accounts.iter().any(|a| a.id.as_str() == home);
        match &org.management_account {
            Some(management) if management == &caller.account && member && home != management.as_str() => {
                Err(Error::access_denied(format!(
                    "{} belongs to account {home} of the organization, which acts only on its own account; only the management account {management}'s principals apply {what}",
                    caller.principal
                )))
            }
            Some(management) if management == &caller.account => Ok(()),
            Some(management) => Err(Error::access_denied(format!(
                "only the management account {management} may apply {what}; this command acts as account {} (give --account {management})",
                caller.account
            ))),
            None => Err(Error::invalid_parameter(format!(
                "{what} names no management account; add organization.management_account"
            ))),
        }
    }

    /// What applying the organization at `path` would change: the
    /// organization's fields, and the plans and selections it makes in
    /// each account and region. Nothing is written.
    ///
    /// # Errors
    /// `AccessDenied` unless the caller acts as the management account;
    /// catalog errors. An organization with errors is not an error: see
    /// [`OrgPlanRun::loaded`].
    pub async fn plan_organization(&self, caller: &Caller, path: &Path) -> Result<OrgPlanRun> {
        let loaded = load_organization(path);
        let mut run = OrgPlanRun {
            loaded,
            plan: None,
            unmade: Vec::new(),
            missing_vaults: Vec::new(),
            policy_digests: BTreeMap::new(),
            applied: None,
        };
        if !run.loaded.is_usable() {
            return Ok(run);
        }
        let org = run.loaded.organization.clone();
        Self::may_manage(caller, &org, "this organization")?;
        let before = self.catalog().organization().await?;
        if let Some(record) = &before {
            let applied: Organization = serde_json::from_value(record.doc.clone())?;
            Self::may_manage(caller, &applied, "the applied organization")?;
        }
        run.policy_digests = org
            .policies
            .iter()
            .map(|(name, document)| (name.clone(), policy_digest(document)))
            .collect();
        let policies =
            OrgPolicies::new(&org).map_err(|err| Error::invalid_parameter(err.to_string()))?;
        let mut desired = Vec::new();
        for account in &org.accounts {
            let effective = policies
                .effective(&account.id)
                .map_err(|err| Error::invalid_parameter(err.to_string()))?;
            let (made, unmade) = managed_plans(&effective);
            run.unmade.extend(unmade);
            for managed in made {
                self.missing_vaults_of(&managed, &mut run.missing_vaults)
                    .await?;
                desired.extend(desired_of(&managed)?);
            }
        }
        let before_view = match &before {
            Some(record) => organization_view(&serde_json::from_value(record.doc.clone())?),
            None => organization_view(&Organization::default()),
        };
        let fields = coffer_catalog::diff_docs(&before_view, &organization_view(&org));
        let files = run
            .loaded
            .sources
            .iter()
            .map(|s| (s.label.clone(), s.sha256.clone()))
            .collect();
        let doc = serde_json::to_value(&org)?;
        run.plan = Some(
            self.catalog()
                .plan_organization(before, doc, fields, desired, files, self.now())
                .await?,
        );
        Ok(run)
    }

    /// Plans and applies the organization at `path` in one transaction: the
    /// organization recorded, its plans and selections written in each
    /// account, a ledger entry naming the digests of its files and policies
    /// and the caller. Nothing is applied while the organization has errors.
    ///
    /// # Errors
    /// As [`Service::plan_organization`]; `InvalidRequest` when the plan is
    /// blocked; `Conflict` when the catalog changed meanwhile.
    pub async fn apply_organization(&self, caller: &Caller, path: &Path) -> Result<OrgPlanRun> {
        let mut run = self.plan_organization(caller, path).await?;
        let Some(plan) = &run.plan else {
            return Ok(run);
        };
        let summary = self
            .catalog_for(caller)
            .apply_organization(plan, &run.policy_digests, self.now())
            .await?;
        tracing::info!(principal = %caller.principal, created = summary.created, updated = summary.updated, deleted = summary.deleted, "organization applied");
        run.applied = Some(summary);
        Ok(run)
    }

    async fn missing_vaults_of(
        &self,
        managed: &ManagedPlan,
        out: &mut Vec<MissingVault>,
    ) -> Result<()> {
        let vaults: BTreeSet<String> = self
            .catalog()
            .stored_in(
                ObjectKind::BackupVault,
                managed.account.as_str(),
                managed.region.as_str(),
            )
            .await?
            .into_iter()
            .map(|v| v.name)
            .collect();
        for rule in &managed.plan.rules {
            if !vaults.contains(&rule.target_backup_vault_name) {
                out.push(MissingVault {
                    account: managed.account.clone(),
                    region: managed.region.to_string(),
                    vault: rule.target_backup_vault_name.clone(),
                    plan: managed.plan.backup_plan_name.clone(),
                    rule: rule.rule_name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The effective backup policy of `account` in the organization as last
    /// applied.
    ///
    /// # Errors
    /// `ResourceNotFound` when no organization was applied;
    /// `InvalidParameterValue` for an account not in it.
    pub async fn applied_effective_policy(
        &self,
        caller: &Caller,
        account: &str,
    ) -> Result<DescribedEffectivePolicy> {
        let account =
            AccountId::new(account).map_err(|err| Error::invalid_parameter(err.to_string()))?;
        let applied = self.describe_organization(caller).await?;
        if !self
            .account_scope(caller, Some(account.as_str()))
            .await?
            .covers(account.as_str())
        {
            return Err(Error::access_denied(format!(
                "the effective policy of account {account} is read by that account, the management account or the backup delegated administrator; {} acts for account {}",
                caller.principal, caller.account
            )));
        }
        let effective = coffer_policy::org::effective_policy(&applied.organization, &account)
            .map_err(|err| Error::invalid_parameter(err.to_string()))?;
        let policy_content = serde_json::to_string(&effective.content)?;
        Ok(DescribedEffectivePolicy {
            policy_content,
            last_updated: applied.applied_at,
            target_id: account.to_string(),
            policy_type: BACKUP_POLICY,
            effective,
        })
    }
}

/// The catalog objects of one organization-managed plan: the plan and its
/// selections, named and ARNed as a stack's are.
fn desired_of(managed: &ManagedPlan) -> Result<Vec<DesiredObject>> {
    let (account, region) = (&managed.account, &managed.region);
    let plan_name = &managed.plan.backup_plan_name;
    let encode = |what: &str, value: serde_json::Result<Value>| {
        value.map_err(|e| Error::dependency(format!("cannot encode {what}: {e}")))
    };
    let mut out = vec![DesiredObject {
        kind: ObjectKind::BackupPlan,
        account_id: account.to_string(),
        region: region.to_string(),
        name: plan_name.clone(),
        arn: Arn::backup_plan(region, account, plan_name).to_string(),
        doc: encode(plan_name, serde_json::to_value(&managed.plan))?,
    }];
    for selection in &managed.selections {
        out.push(DesiredObject {
            kind: ObjectKind::BackupSelection,
            account_id: account.to_string(),
            region: region.to_string(),
            name: format!("{plan_name}/{}", selection.selection_name),
            arn: format!(
                "{}:selection:{}",
                Arn::backup_plan(region, account, plan_name),
                selection.selection_name
            ),
            doc: encode(&selection.selection_name, serde_json::to_value(selection))?,
        });
    }
    Ok(out)
}
