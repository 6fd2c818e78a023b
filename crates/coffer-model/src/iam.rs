//! IAM principals and their identity policies, as CloudFormation declares
//! them (`AWS::IAM::User`, `AWS::IAM::ManagedPolicy`, `AWS::IAM::Role`).
//!
//! IAM objects belong to an account, not a region: their ARNs have an empty
//! region (`arn:coffer:iam::ACCOUNT:user/NAME`). An access key acts as its
//! user, with the permissions of the user's inline policies, the managed
//! policies it names and those naming it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access_policy::validate_identity_document;
use crate::finding::Findings;
use crate::{AccountId, PARTITION};

/// An inline policy of a user or role (`Policies` of CloudFormation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: Value,
}

/// An IAM user: what an access key acts as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamUser {
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
    /// ARNs of managed policies of the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<String>,
}

/// A managed policy of the account, attached to the users it names and to
/// the users naming it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    pub managed_policy_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub policy_document: Value,
    /// User names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

/// An IAM role. Coffer has no STS: nothing acts as a role through the
/// API, so its trust policy is kept but not used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamRole {
    pub role_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_policy_document: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<String>,
}

/// The ARN of user `name` of `account`.
pub fn user_arn(account: &AccountId, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:user/{name}")
}

/// The ARN of managed policy `name` of `account`.
pub fn managed_policy_arn(account: &AccountId, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:policy/{name}")
}

/// The ARN of role `name` of `account`.
pub fn role_arn(account: &AccountId, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:role/{name}")
}

/// Whether `name` is an IAM name (users, roles, policies): 1 to `max` of
/// letters, digits and `+=,.@_-`.
fn check_name(findings: &mut Findings, field: &str, what: &str, name: &str, max: usize) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > max || !name.chars().all(allowed) {
        findings.error(
            field,
            format!("{what} {name:?} must be 1 to {max} letters, digits and +=,.@_-"),
        );
    }
}

fn check_inline(findings: &mut Findings, policies: &[InlinePolicy]) {
    let mut seen = std::collections::BTreeSet::new();
    for (idx, policy) in policies.iter().enumerate() {
        let field = format!("Policies[{idx}]");
        check_name(
            findings,
            &format!("{field}.PolicyName"),
            "policy name",
            &policy.policy_name,
            128,
        );
        if !seen.insert(policy.policy_name.as_str()) {
            findings.error(
                format!("{field}.PolicyName"),
                format!(
                    "{:?} names two inline policies; give each its own name",
                    policy.policy_name
                ),
            );
        }
        findings.extend_under(
            &format!("{field}.PolicyDocument"),
            validate_identity_document(&policy.policy_document),
        );
    }
}

impl IamUser {
    /// Every finding at once.
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        check_name(&mut findings, "UserName", "user name", &self.user_name, 64);
        check_inline(&mut findings, &self.policies);
        findings
    }
}

impl ManagedPolicy {
    /// Every finding at once.
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        check_name(
            &mut findings,
            "ManagedPolicyName",
            "policy name",
            &self.managed_policy_name,
            128,
        );
        findings.extend_under(
            "PolicyDocument",
            validate_identity_document(&self.policy_document),
        );
        findings
    }
}

impl IamRole {
    /// Every finding at once; the trust policy is reported as not used.
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        check_name(&mut findings, "RoleName", "role name", &self.role_name, 64);
        check_inline(&mut findings, &self.policies);
        if self.assume_role_policy_document.is_some() {
            findings
                .warning(
                    "AssumeRolePolicyDocument",
                    "the trust policy is kept but not used: Coffer has no STS, so nothing assumes a role; access keys act as IAM users",
                )
                .hint("declare an AWS::IAM::User and create its key with `access-keys create`");
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_users_inline_policies_are_validated_at_their_field() {
        let user = IamUser {
            user_name: "audit or".into(),
            policies: vec![
                InlinePolicy {
                    policy_name: "read".into(),
                    policy_document: json!({"Statement": {"Effect": "Allow", "Action": "backup:List*", "Resource": "*"}}),
                },
                InlinePolicy {
                    policy_name: "read".into(),
                    policy_document: json!({"Statement": {"Effect": "Alow", "Action": "backup:List*"}}),
                },
            ],
            managed_policy_arns: Vec::new(),
        };
        let text: Vec<String> = user.validate().iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("UserName: user name \"audit or\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("Policies[1].PolicyName:")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("Policies[1].PolicyDocument.Statement[0].Effect:")),
            "{text:?}"
        );
        assert_eq!(text.len(), 3, "{text:?}");
    }

    #[test]
    fn a_roles_trust_policy_is_a_warning() {
        let role = IamRole {
            role_name: "backup".into(),
            assume_role_policy_document: Some(json!({"Statement": []})),
            policies: Vec::new(),
            managed_policy_arns: Vec::new(),
        };
        let findings = role.validate();
        assert!(!findings.has_errors());
        assert_eq!(findings.len(), 1);
    }
}
