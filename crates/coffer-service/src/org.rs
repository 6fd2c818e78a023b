//! Organizations: checking an organization and describing an account's
//! effective backup policy, read from the organization's files.
//! Both read only the files the caller names (no catalog), as
//! `validate` does for stacks.

use std::path::Path;

use coffer_model::AccountId;
use coffer_policy::org::{load_organization, EffectivePolicy, LoadedOrganization, BACKUP_POLICY};

use crate::caller::Caller;
use crate::error::{Error, Result};

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
