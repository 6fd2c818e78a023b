//! Organizations as code: the organization file (the tree of units and
//! accounts, the management account, the backup delegated administrator,
//! the backup policies attached at each node), CloudFormation
//! `AWS::Organizations::Policy` attachments, and each account's effective
//! backup policy, merged top-down as AWS Organizations merges it.

mod cfn;
mod doc;
mod file;
mod merge;
mod plans;
mod schema;
mod validity;

use std::collections::HashMap;

use coffer_model::{AccountId, Organization};
use serde_json::Value;

pub use doc::{
    json_path, Operators, PolicyProblem, ValueOperator, MAX_POLICIES_PER_NODE, MAX_POLICY_CHARS,
};
pub use file::{load_organization, LoadedOrganization, OrgSource};
pub use merge::{substitute_region, Conflict, ControlSetter, Refusal};
pub use plans::{managed_plan_name, managed_plans, ManagedPlan, UnmadePlan, ORG_PLAN_PREFIX};
pub use validity::InvalidPlan;

use doc::PNode;
use merge::Level;

/// The policy type of an AWS Organizations backup policy.
pub const BACKUP_POLICY: &str = "BACKUP_POLICY";

/// One account's effective backup policy.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectivePolicy {
    pub account: AccountId,
    /// Plain JSON: operators stripped, `$account` replaced (`$region` is
    /// replaced per region when plans are made: [`substitute_region`]).
    pub content: Value,
    /// Operators a parent's child control kept out.
    pub refused: Vec<Refusal>,
    /// Keys two policies on one node set differently (the first won).
    pub conflicts: Vec<Conflict>,
    /// Plans that are not valid plans and back nothing up until fixed.
    pub invalid_plans: Vec<InvalidPlan>,
}

/// Why an effective policy could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EffectiveError {
    #[error("account {account} is not in the organization; its accounts are {known}")]
    UnknownAccount { account: String, known: String },
    #[error("account {0} does not reach the root of the organization: its units form a cycle or name a missing parent")]
    Unreachable(String),
    #[error("policy {policy:?} is attached to {target} but the organization has no such policy")]
    MissingPolicy { policy: String, target: String },
    #[error("policy {policy:?} is not a valid backup policy: {path}: {message}")]
    InvalidPolicy {
        policy: String,
        path: String,
        message: String,
    },
}

/// An organization's policies, each read once, ready to merge for any account.
#[derive(Debug)]
pub struct OrgPolicies<'a> {
    org: &'a Organization,
    parsed: HashMap<&'a str, PNode>,
}

impl<'a> OrgPolicies<'a> {
    /// Reads every policy of `org`.
    ///
    /// # Errors
    /// The first policy that is not a valid backup policy, or an
    /// attachment naming no policy.
    pub fn new(org: &'a Organization) -> Result<Self, EffectiveError> {
        let mut parsed = HashMap::new();
        for (name, document) in &org.policies {
            match doc::parse_policy(document) {
                Ok(node) => {
                    parsed.insert(name.as_str(), node);
                }
                Err(problems) => {
                    let first = problems.into_iter().next();
                    return Err(EffectiveError::InvalidPolicy {
                        policy: name.clone(),
                        path: first
                            .as_ref()
                            .map(|p| json_path(&p.path))
                            .unwrap_or_default(),
                        message: first.map(|p| p.message).unwrap_or_default(),
                    });
                }
            }
        }
        for attachment in &org.attachments {
            if !parsed.contains_key(attachment.policy_name.as_str()) {
                return Err(EffectiveError::MissingPolicy {
                    policy: attachment.policy_name.clone(),
                    target: attachment.target_id.clone(),
                });
            }
        }
        Ok(Self { org, parsed })
    }

    /// How people name a node of the organization.
    pub fn node_name(&self, id: &str) -> String {
        node_name(self.org, id)
    }

    /// The effective backup policy of `account`.
    ///
    /// # Errors
    /// An account that is not in the organization or does not reach its root.
    pub fn effective(&self, account: &AccountId) -> Result<EffectivePolicy, EffectiveError> {
        if self.org.account(account).is_none() {
            return Err(EffectiveError::UnknownAccount {
                account: account.to_string(),
                known: self
                    .org
                    .accounts
                    .iter()
                    .map(|a| a.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let chain = self
            .org
            .path_to(account)
            .ok_or_else(|| EffectiveError::Unreachable(account.to_string()))?;
        let levels: Vec<Level<'_>> = chain
            .iter()
            .map(|id| Level {
                node: self.node_name(id),
                policies: self
                    .org
                    .attached_to(id)
                    .filter_map(|name| self.parsed.get_key_value(name))
                    .map(|(name, node)| (*name, node))
                    .collect(),
            })
            .collect();
        let merged = merge::merge(&levels);
        let content = merge::to_json(&merged.root, account.as_str());
        let invalid_plans = validity::invalid_plans(&content);
        Ok(EffectivePolicy {
            account: account.clone(),
            content,
            refused: merged.refused,
            conflicts: merged.conflicts,
            invalid_plans,
        })
    }
}

/// The effective backup policy of `account` in `org`.
///
/// # Errors
/// As [`OrgPolicies::new`] and [`OrgPolicies::effective`].
pub fn effective_policy(
    org: &Organization,
    account: &AccountId,
) -> Result<EffectivePolicy, EffectiveError> {
    OrgPolicies::new(org)?.effective(account)
}

/// How people name a node of `org`: "the root", "OU <name>", or
/// "account <id> (<name>)".
pub fn describe_node(org: &Organization, id: &str) -> String {
    node_name(org, id)
}

fn node_name(org: &Organization, id: &str) -> String {
    if id == org.root_id {
        return "the root".to_string();
    }
    if let Some(name) = org.unit_name(id) {
        return format!("OU {name}");
    }
    match AccountId::new(id)
        .ok()
        .and_then(|a| org.account(&a).cloned())
    {
        Some(account) => format!("account {} ({})", account.id, account.name),
        None => id.to_string(),
    }
}
