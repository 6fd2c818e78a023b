//! What a protection decision trusts: before a recovery point is deleted,
//! expired, moved or has its lifecycle changed, the rows the decision
//! reads (the point, its vault with its lock, the legal holds) are checked
//! against their newest ledger entries, and a row the ledger does not
//! vouch for refuses the action with the reason.

use coffer_catalog::{Catalog, Disagreement, ObjectKind};
use coffer_model::{BackupVault, LegalHold, RecoveryPoint};

use crate::error::Result;

/// The rows among `points`, `vaults` and `holds` that disagree with the
/// ledger (a few index seeks, whatever the estate's size).
///
/// # Errors
/// Catalog failures.
pub async fn protection_disagreements(
    catalog: &Catalog,
    points: &[&RecoveryPoint],
    vaults: &[&BackupVault],
    holds: &[LegalHold],
) -> Result<Vec<Disagreement>> {
    let mut found = Vec::new();
    if !points.is_empty() {
        let ids: Vec<String> = points.iter().map(|p| p.recovery_point_id.clone()).collect();
        found.extend(catalog.record_disagreements::<RecoveryPoint>(&ids).await?);
    }
    if !vaults.is_empty() {
        let mut arns: Vec<String> = vaults
            .iter()
            .map(|v| v.backup_vault_arn.to_string())
            .collect();
        arns.sort();
        arns.dedup();
        found.extend(
            catalog
                .object_disagreements(ObjectKind::BackupVault, Some(&arns))
                .await?,
        );
    }
    if !holds.is_empty() {
        let ids: Vec<String> = holds.iter().map(|h| h.legal_hold_id.clone()).collect();
        found.extend(catalog.record_disagreements::<LegalHold>(&ids).await?);
    }
    Ok(found)
}

/// Why an action is refused, given the rows that disagree.
pub fn refusal(action: &str, disagreements: &[Disagreement]) -> String {
    let named: Vec<String> = disagreements.iter().map(ToString::to_string).collect();
    format!(
        "{action} refused: the catalog disagrees with the evidence ledger ({}); a row changed outside Coffer is never trusted by a protection decision: put it back as the ledger recorded it (`coffer evidence verify` lists every such row; a vault recorded before vaults had ledger entries is recorded by the next apply of its stack)",
        named.join("; ")
    )
}
