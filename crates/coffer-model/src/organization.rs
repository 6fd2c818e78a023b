//! Organizations: accounts in a tree of organizational units, with backup
//! policies attached to the root, to units or to accounts and inherited
//! down the tree.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::finding::Findings;
use crate::names::AccountId;

/// An organization: one root, units below it, accounts in units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Organization {
    /// The root's ID (`r-...` in AWS; any non-empty name here).
    pub root_id: String,
    /// The account that owns the organization.
    #[serde(default)]
    pub management_account: Option<AccountId>,
    /// The member account registered as the backup delegated
    /// administrator: it acts on member accounts as the management account does.
    #[serde(default)]
    pub backup_delegated_administrator: Option<AccountId>,
    #[serde(default)]
    pub organizational_units: Vec<OrganizationalUnit>,
    #[serde(default)]
    pub accounts: Vec<OrganizationAccount>,
    /// Backup policy documents by name (AWS Organizations JSON, operators kept).
    #[serde(default)]
    pub policies: BTreeMap<String, serde_json::Value>,
    /// Which policy is attached where, in attachment order.
    #[serde(default)]
    pub attachments: Vec<PolicyAttachment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationalUnit {
    pub id: String,
    pub name: String,
    /// The root ID or another unit's ID.
    pub parent_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationAccount {
    pub id: AccountId,
    pub name: String,
    /// The root ID or a unit's ID.
    pub parent_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyAttachment {
    pub policy_name: String,
    /// The root ID, a unit ID or an account ID.
    pub target_id: String,
}

impl Organization {
    /// The policies attached to `target`, in attachment order.
    pub fn attached_to<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attachments
            .iter()
            .filter(move |a| a.target_id == target)
            .map(|a| a.policy_name.as_str())
    }

    /// A unit's name, or `None` when `id` is not a unit.
    pub fn unit_name(&self, id: &str) -> Option<&str> {
        self.organizational_units
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.as_str())
    }

    /// An account's entry.
    pub fn account(&self, id: &AccountId) -> Option<&OrganizationAccount> {
        self.accounts.iter().find(|a| &a.id == id)
    }

    /// Whether `account` acts on the member accounts: the management
    /// account and the backup delegated administrator.
    pub fn administers(&self, account: &str) -> bool {
        [
            &self.management_account,
            &self.backup_delegated_administrator,
        ]
        .into_iter()
        .flatten()
        .any(|a| a.as_str() == account)
    }

    /// The accounts a report setting's `Accounts` and `OrganizationUnits`
    /// name, in the organization's order: `*` or `ROOT` (or the root's ID)
    /// is every account, a unit (by ID or name) every account below it,
    /// an account ID itself when it is a member. Names of neither kind
    /// name nothing.
    pub fn accounts_named(&self, accounts: &[String], units: &[String]) -> Vec<AccountId> {
        let everything = |n: &String| n == "*" || n == "ROOT" || *n == self.root_id;
        if accounts.iter().chain(units).any(everything) {
            return self.accounts.iter().map(|a| a.id.clone()).collect();
        }
        let unit_ids: BTreeSet<&str> = self
            .organizational_units
            .iter()
            .filter(|u| units.iter().any(|n| *n == u.id || *n == u.name))
            .map(|u| u.id.as_str())
            .collect();
        self.accounts
            .iter()
            .filter(|a| {
                accounts.iter().any(|n| n == a.id.as_str())
                    || self
                        .path_to(&a.id)
                        .is_some_and(|chain| chain.iter().any(|t| unit_ids.contains(t.as_str())))
            })
            .map(|a| a.id.clone())
            .collect()
    }

    /// The chain of targets from the root down to `account` (root, units…,
    /// account), the order in which policies are inherited.
    pub fn path_to(&self, account: &AccountId) -> Option<Vec<String>> {
        let entry = self.accounts.iter().find(|a| &a.id == account)?;
        let parents: BTreeMap<&str, &str> = self
            .organizational_units
            .iter()
            .map(|u| (u.id.as_str(), u.parent_id.as_str()))
            .collect();
        let mut chain = vec![account.to_string()];
        let mut current = entry.parent_id.as_str();
        let mut seen = BTreeSet::new();
        while current != self.root_id {
            if !seen.insert(current) {
                return None;
            }
            chain.push(current.to_string());
            current = parents.get(current)?;
        }
        chain.push(self.root_id.clone());
        chain.reverse();
        Some(chain)
    }

    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if self.root_id.is_empty() {
            findings.error("RootId", "RootId is required");
        }
        let mut ids: BTreeSet<&str> = BTreeSet::from([self.root_id.as_str()]);
        for (idx, unit) in self.organizational_units.iter().enumerate() {
            if !ids.insert(unit.id.as_str()) {
                findings.error(
                    format!("OrganizationalUnits[{idx}].Id"),
                    format!("ID {:?} is used twice", unit.id),
                );
            }
        }
        for (idx, account) in self.accounts.iter().enumerate() {
            if !ids.insert(account.id.as_str()) {
                findings.error(
                    format!("Accounts[{idx}].Id"),
                    format!("account {} is listed twice", account.id),
                );
            }
        }
        let containers: BTreeSet<&str> = std::iter::once(self.root_id.as_str())
            .chain(self.organizational_units.iter().map(|u| u.id.as_str()))
            .collect();
        for (idx, unit) in self.organizational_units.iter().enumerate() {
            if !containers.contains(unit.parent_id.as_str()) {
                findings.error(
                    format!("OrganizationalUnits[{idx}].ParentId"),
                    format!("parent {:?} is neither the root nor a unit", unit.parent_id),
                );
            }
        }
        for (idx, account) in self.accounts.iter().enumerate() {
            if !containers.contains(account.parent_id.as_str()) {
                findings.error(
                    format!("Accounts[{idx}].ParentId"),
                    format!(
                        "parent {:?} is neither the root nor a unit",
                        account.parent_id
                    ),
                );
            } else if self.path_to(&account.id).is_none() {
                findings.error(
                    format!("Accounts[{idx}].ParentId"),
                    format!(
                        "account {} does not reach the root: the units form a cycle",
                        account.id
                    ),
                );
            }
        }
        for (idx, attachment) in self.attachments.iter().enumerate() {
            if !self.policies.contains_key(&attachment.policy_name) {
                findings.error(
                    format!("Attachments[{idx}].PolicyName"),
                    format!("no policy named {:?}", attachment.policy_name),
                );
            }
            if !ids.contains(attachment.target_id.as_str()) {
                findings.error(
                    format!("Attachments[{idx}].TargetId"),
                    format!(
                        "{:?} is not the root, a unit or an account of this organization",
                        attachment.target_id
                    ),
                );
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_accounts_by_id_unit_or_root_and_only_members() {
        let mut org = org();
        org.management_account = Some(AccountId::new("333333333333").unwrap());
        assert!(org.administers("333333333333"));
        assert!(!org.administers("111111111111"));
        let ids = |named: Vec<AccountId>| named.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ids(org.accounts_named(&["*".into()], &[])),
            ["111111111111", "222222222222"]
        );
        assert_eq!(
            ids(org.accounts_named(&[], &["ROOT".into()])),
            ["111111111111", "222222222222"]
        );
        assert_eq!(
            ids(org.accounts_named(&[], &["production".into()])),
            ["111111111111"]
        );
        assert_eq!(
            ids(org.accounts_named(&[], &["ou-prod".into()])),
            ["111111111111"]
        );
        assert_eq!(
            ids(org.accounts_named(&["222222222222".into(), "999999999999".into()], &[])),
            ["222222222222"]
        );
        assert!(org.accounts_named(&[], &[]).is_empty());
    }

    fn org() -> Organization {
        Organization {
            root_id: "r-root".into(),
            management_account: None,
            backup_delegated_administrator: None,
            organizational_units: vec![OrganizationalUnit {
                id: "ou-prod".into(),
                name: "production".into(),
                parent_id: "r-root".into(),
            }],
            accounts: vec![
                OrganizationAccount {
                    id: AccountId::new("111111111111").unwrap(),
                    name: "payments".into(),
                    parent_id: "ou-prod".into(),
                },
                OrganizationAccount {
                    id: AccountId::new("222222222222").unwrap(),
                    name: "sandbox".into(),
                    parent_id: "r-root".into(),
                },
            ],
            policies: BTreeMap::from([("root-policy".into(), serde_json::json!({"plans": {}}))]),
            attachments: vec![PolicyAttachment {
                policy_name: "root-policy".into(),
                target_id: "r-root".into(),
            }],
        }
    }

    #[test]
    fn inheritance_path_runs_root_to_account() {
        let o = org();
        assert!(o.validate().is_empty());
        assert_eq!(
            o.path_to(&AccountId::new("111111111111").unwrap()).unwrap(),
            vec!["r-root", "ou-prod", "111111111111"]
        );
        assert_eq!(
            o.path_to(&AccountId::new("222222222222").unwrap()).unwrap(),
            vec!["r-root", "222222222222"]
        );
    }

    #[test]
    fn cycles_and_dangling_references_are_errors() {
        let mut o = org();
        o.organizational_units.push(OrganizationalUnit {
            id: "ou-a".into(),
            name: "a".into(),
            parent_id: "ou-b".into(),
        });
        o.organizational_units.push(OrganizationalUnit {
            id: "ou-b".into(),
            name: "b".into(),
            parent_id: "ou-a".into(),
        });
        o.accounts[0].parent_id = "ou-a".into();
        o.attachments.push(PolicyAttachment {
            policy_name: "missing".into(),
            target_id: "ou-x".into(),
        });
        let text: Vec<String> = o.validate().iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("cycle"), "{text:?}");
    }
}
