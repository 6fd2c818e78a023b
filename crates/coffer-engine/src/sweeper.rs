//! The lifecycle sweeper's decisions: which recovery points move to cold
//! storage and which expire, at a given time. Every expiry goes through
//! `coffer_vault::check` as the sweeper (DESIGN.md invariant 1): a point
//! under an active legal hold is kept, whatever its lifecycle says, and
//! nothing expires before its `DeleteAt`.

use coffer_model::{BackupVault, LegalHold, RecoveryPoint, RecoveryPointStatus, StorageClass};
use coffer_vault::{check, Caller, Operation};
use jiff::Timestamp;

/// What the sweeper does with one recovery point now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Its `MoveToColdStorageAt` has come: move it to the cold tier.
    MoveToCold,
    /// Its `DeleteAt` has come and nothing protects it: delete its data.
    Expire,
    /// Its `DeleteAt` has come but it is kept, for this reason (a hold).
    Kept(String),
}

/// Decisions for every point that has something due at `now`, in the
/// order of `points`. `vault_of` finds a point's vault (a point whose
/// vault is unknown is kept, with that reason).
pub fn decide<'a>(
    points: &[RecoveryPoint],
    vault_of: impl Fn(&RecoveryPoint) -> Option<&'a BackupVault>,
    holds: &[LegalHold],
    now: Timestamp,
) -> Vec<(String, Decision)> {
    let mut out = Vec::new();
    for point in points {
        if !matches!(
            point.status,
            RecoveryPointStatus::Completed | RecoveryPointStatus::Available
        ) {
            continue;
        }
        let lifecycle = &point.calculated_lifecycle;
        if lifecycle.delete_at.is_some_and(|at| at <= now) {
            let decision = match vault_of(point) {
                None => Decision::Kept(format!(
                    "vault {:?} is not in the catalog; apply the stack that declares it, and the point expires at the next sweep",
                    point.backup_vault_name
                )),
                Some(vault) => {
                    match check(
                        &Operation::Expire,
                        Caller::LifecycleSweeper,
                        point,
                        vault,
                        holds,
                        now,
                    ) {
                        Ok(()) => Decision::Expire,
                        Err(refusal) => Decision::Kept(refusal.to_string()),
                    }
                }
            };
            out.push((point.recovery_point_id.clone(), decision));
        } else if point.storage_class == StorageClass::Warm
            && lifecycle
                .move_to_cold_storage_at
                .is_some_and(|at| at <= now)
        {
            out.push((point.recovery_point_id.clone(), Decision::MoveToCold));
        }
    }
    out
}
