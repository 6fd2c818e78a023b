//! The guard every change to a recovery point passes through: deletion,
//! lifecycle changes and expiry, by any caller through any interface.
//!
//! DESIGN.md invariant 1: a recovery point in a locked vault, or under legal
//! hold, cannot be deleted or have its retention shortened by any caller,
//! any API, any CLI command, or the lifecycle sweeper, before its time.
//!
//! Rules, as AWS Backup applies them:
//! - an active legal hold covering the point refuses everything, expiry
//!   included (expiry is postponed until every hold is released);
//! - in a vault with a lock (governance or compliance mode), nobody deletes
//!   a point or changes its lifecycle; the lifecycle still expires it when
//!   its time comes;
//! - the vault's access policy can deny the caller (explicit Deny wins);
//! - expiry happens only at or after the point's calculated `DeleteAt`.

use std::fmt;

use coffer_model::{BackupVault, LegalHold, Lifecycle, LockMode, RecoveryPoint, StorageClass};

use crate::access::{AccessPolicy, Decision, Request};

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller<'a> {
    /// A person or program acting as this principal ARN (CLI or API).
    Principal(&'a str),
    /// Coffer's own lifecycle sweeper.
    LifecycleSweeper,
}

/// What is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `DeleteRecoveryPoint`.
    Delete,
    /// `UpdateRecoveryPointLifecycle` with the new lifecycle.
    UpdateLifecycle(Lifecycle),
    /// Deletion because the lifecycle says the point's time has come.
    Expire,
}

impl Operation {
    fn action(&self) -> &'static str {
        match self {
            Operation::Delete | Operation::Expire => "backup:DeleteRecoveryPoint",
            Operation::UpdateLifecycle(_) => "backup:UpdateRecoveryPointLifecycle",
        }
    }
}

/// Why a change was refused, and what would make it possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub hint: Option<String>,
    /// Refused by the vault's access policy (the caller may not), rather
    /// than by a hold, a lock or the lifecycle (nobody may now).
    pub access_denied: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

fn refuse(reason: String, hint: Option<&str>) -> Result<(), Refusal> {
    Err(Refusal {
        reason,
        hint: hint.map(str::to_string),
        access_denied: false,
    })
}

fn deny(reason: String, hint: &str) -> Result<(), Refusal> {
    Err(Refusal {
        reason,
        hint: Some(hint.to_string()),
        access_denied: true,
    })
}

/// Decides whether `operation` on `point` may happen now.
///
/// `holds` are the account's legal holds (any status; only those that pin
/// and cover the point count).
///
/// # Errors
/// A `Refusal` naming the lock, hold, policy statement or date that stands
/// in the way.
pub fn check(
    operation: &Operation,
    caller: Caller<'_>,
    point: &RecoveryPoint,
    vault: &BackupVault,
    holds: &[LegalHold],
    now: jiff::Timestamp,
) -> Result<(), Refusal> {
    let id = &point.recovery_point_id;
    if let Some(hold) = holds.iter().find(|h| {
        h.status.pins()
            && h.recovery_point_selection.covers(
                &point.backup_vault_name,
                &point.resource_arn,
                point.creation_date,
            )
    }) {
        return refuse(
            format!(
                "recovery point {id} is under legal hold {:?} ({}); it cannot be deleted, expired or have its lifecycle changed while the hold is active",
                hold.title, hold.legal_hold_id
            ),
            Some("release the legal hold first"),
        );
    }
    match (operation, caller) {
        (Operation::Expire, Caller::Principal(principal)) => refuse(
            format!("{principal} cannot expire recovery point {id}: only the lifecycle sweeper expires points"),
            Some("ask for a deletion instead (DeleteRecoveryPoint), which the vault's lock and access policy govern"),
        ),
        (Operation::Expire, Caller::LifecycleSweeper) => match point.calculated_lifecycle.delete_at {
            Some(delete_at) if delete_at <= now => Ok(()),
            Some(delete_at) => refuse(
                format!("recovery point {id} is kept until {delete_at} by its lifecycle; it cannot expire at {now}"),
                None,
            ),
            None => refuse(format!("recovery point {id} has no DeleteAfterDays: it is kept forever"), None),
        },
        (_, Caller::LifecycleSweeper) => refuse(
            format!("the lifecycle sweeper only expires recovery points; it cannot delete or change {id}"),
            None,
        ),
        (_, Caller::Principal(principal)) => {
            if let Some(lock) = &vault.lock_configuration {
                let (mode, hint) = match lock.mode() {
                    LockMode::Compliance => (
                        "compliance",
                        "nobody can delete it before its lifecycle expires it",
                    ),
                    LockMode::Governance => (
                        "governance",
                        "an authorized principal can remove the governance-mode lock first",
                    ),
                };
                let locked = format!(
                    "recovery point {id} is in vault {:?}, locked in {mode} mode",
                    vault.backup_vault_name
                );
                match operation {
                    // A lifecycle may lengthen retention within the lock's
                    // bounds; it may never shorten it.
                    Operation::UpdateLifecycle(lifecycle) => {
                        let (old, new) = (
                            point.lifecycle.delete_after_days,
                            lifecycle.delete_after_days,
                        );
                        if let Err(reason) = lock.check_retention(new) {
                            return refuse(format!("{locked}: the new lifecycle's {reason}"), None);
                        }
                        let shorter = match (old, new) {
                            (None, Some(_)) => true,
                            (Some(old), Some(new)) => new < old,
                            _ => false,
                        };
                        if shorter {
                            return refuse(
                                format!(
                                    "{locked}: its retention cannot be shortened (DeleteAfterDays {} -> {})",
                                    old.map_or("never".to_string(), |d| d.to_string()),
                                    new.map_or("never".to_string(), |d| d.to_string())
                                ),
                                Some(hint),
                            );
                        }
                    }
                    _ => return refuse(format!("{locked}: it cannot be deleted"), Some(hint)),
                }
            }
            if let Some(doc) = &vault.access_policy {
                let policy = match AccessPolicy::from_json(doc) {
                    Ok(policy) => policy,
                    Err(error) => {
                        // A policy that cannot be read protects by refusing.
                        return deny(
                            format!("vault {:?} has an access policy Coffer cannot evaluate ({error}), so changes are refused", vault.backup_vault_name),
                            "fix the vault's AccessPolicy",
                        );
                    }
                };
                let request = Request {
                    principal_arn: principal,
                    action: operation.action(),
                    resource_arn: &point.recovery_point_arn,
                };
                if let Decision::Denied { sid } = policy.evaluate(&request) {
                    let statement = sid.map(|s| format!("statement {s:?}")).unwrap_or_else(|| "a Deny statement".into());
                    return deny(
                        format!(
                            "{principal} may not {} {id}: {statement} of vault {:?}'s access policy denies it",
                            operation.action(),
                            vault.backup_vault_name
                        ),
                        "act as a principal the policy exempts",
                    );
                }
            }
            if let Operation::UpdateLifecycle(lifecycle) = operation {
                if let Some(finding) = lifecycle.validate().into_iter().next() {
                    return refuse(format!("the new lifecycle is not valid: {finding}"), None);
                }
                if point.storage_class == StorageClass::Cold
                    && lifecycle.move_to_cold_storage_after_days != point.lifecycle.move_to_cold_storage_after_days
                {
                    return refuse(
                        format!("recovery point {id} is already in cold storage; MoveToColdStorageAfterDays can no longer change"),
                        Some("send the current MoveToColdStorageAfterDays again"),
                    );
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
