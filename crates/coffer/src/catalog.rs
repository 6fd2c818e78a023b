//! `coffer catalog recover`: the recovery points a lost catalog held,
//! rebuilt from the vaults.

use clap::Subcommand;

use crate::context::{with_service, Context};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Rebuild lost recovery points from the vaults (the record each snapshot carries).
    #[command(
        after_help = "Example, after the catalog was lost:\n  coffer keys import keyring-export.bin      # if the keyring was lost too\n  coffer apply --stack payments stack.yaml inventory.yaml\n  coffer catalog recover\n\n`apply` opens each vault that is already there with the wrapped secret kept beside its\nrepository; `catalog recover` then records every Coffer snapshot no recovery point\naccounts for, with its lifecycle, tags, sizes and digest. Exit 1 when a vault cannot be read."
    )]
    Recover,
}

pub async fn run(ctx: &Context, command: &CatalogCommand) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| match command {
        CatalogCommand::Recover => {
            let mut outcome = Outcome::Success;
            for vault in service.recover_catalog(caller).await? {
                match &vault.result {
                    Ok(points) => {
                        for point in points {
                            println!(
                                "recovered recovery point {} of {} from snapshot {}",
                                point.recovery_point_arn,
                                point.resource_arn,
                                point.snapshot_id.as_deref().unwrap_or_default()
                            );
                        }
                        println!(
                            "Vault {:?} (account {}, region {}): {} recovery point(s) recovered.",
                            vault.vault_name,
                            vault.account_id,
                            vault.region,
                            points.len()
                        );
                    }
                    Err(problem) => {
                        eprintln!(
                            "Vault {:?} (account {}, region {}): cannot be read: {problem}",
                            vault.vault_name, vault.account_id, vault.region
                        );
                        outcome = Outcome::Failure;
                    }
                }
            }
            Ok(outcome)
        }
    })
    .await
}
