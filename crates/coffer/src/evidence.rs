//! `coffer evidence verify|checkpoint|prove`: the evidence ledger the
//! catalog appends in the transaction of each change, its signed
//! checkpoints, and inclusion proofs.

use anyhow::bail;
use coffer_audit::ledger;
use coffer_audit::signing::{KeyPair, PublicKey};
use serde_json::json;

use crate::cli::{EvidenceCommand, Global};
use crate::context::Context;
use crate::{output, Outcome};

pub async fn run(global: &Global, command: EvidenceCommand) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = act(&ctx, &catalog, command).await;
    catalog.close().await;
    result
}

async fn act(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    command: EvidenceCommand,
) -> anyhow::Result<Outcome> {
    match command {
        EvidenceCommand::Checkpoint => {
            let key = KeyPair::load_or_create(ctx.config.signing_key_path())?;
            let checkpoint = ledger::checkpoint(catalog, &key, jiff::Timestamp::now()).await?;
            println!(
                "Checkpoint signed: {} entries, root {}, key {}",
                checkpoint.tree_size, checkpoint.root_hash, checkpoint.key_fingerprint
            );
            Ok(Outcome::Success)
        }
        EvidenceCommand::Verify { public_key } => {
            let key = match &public_key {
                Some(hex) => PublicKey::from_hex(hex)?,
                None => KeyPair::load_or_create(ctx.config.signing_key_path())?.public(),
            };
            let size = catalog.ledger_len().await?;
            let entries = catalog.ledger_entries(0, size).await?;
            let checkpoints = catalog.checkpoints().await?;
            let found = ledger::verify(&entries, &checkpoints, Some(&key));
            if public_key.is_none() {
                println!(
                    "Signatures checked against this home's own key {}; an auditor passes the key they were given with --public-key.",
                    key.fingerprint()
                );
            }
            if found.passed() {
                println!(
                    "Ledger OK: {} entries in an unbroken chain; {} signed checkpoint(s) match.",
                    found.entries, found.checkpoints
                );
                Ok(Outcome::Success)
            } else {
                for problem in &found.problems {
                    eprintln!("error: ledger {problem}");
                }
                eprintln!(
                    "Ledger FAILED verification: {} problem(s) in {} entries and {} checkpoint(s).",
                    found.problems.len(),
                    found.entries,
                    found.checkpoints
                );
                Ok(Outcome::Failure)
            }
        }
        EvidenceCommand::Prove {
            seq,
            output: format,
        } => {
            let Some(checkpoint) = catalog.checkpoints().await?.into_iter().last() else {
                bail!("no checkpoint is signed yet; run `coffer evidence checkpoint` first");
            };
            let size = usize::try_from(checkpoint.tree_size)?;
            if seq >= size {
                bail!(
                    "entry {seq} is not in the newest checkpoint (its first {size} entries); sign a new checkpoint with `coffer evidence checkpoint`"
                );
            }
            let entries = catalog.ledger_entries(0, checkpoint.tree_size).await?;
            let Some((path, root)) = ledger::prove(&entries, seq, size) else {
                bail!("the ledger holds fewer entries than its checkpoint; run `coffer evidence verify`");
            };
            if root != checkpoint.root_hash {
                bail!("the ledger no longer gives the checkpoint's root; run `coffer evidence verify`");
            }
            let entry = &entries[seq];
            let doc = json!({
                "Entry": entry,
                "LeafIndex": seq,
                "TreeSize": size,
                "AuditPath": path,
                "RootHash": root,
                "Checkpoint": checkpoint,
                "Method": "RFC 6962: leaf = SHA-256(0x00 || EntryHash as text), node = SHA-256(0x01 || left || right)",
            });
            output::print(format, &doc, || {
                output::table(
                    &["FIELD", "VALUE"],
                    vec![
                        vec![
                            "entry".into(),
                            format!(
                                "{} {} {} {}",
                                entry.seq, entry.kind, entry.subject, entry.event
                            ),
                        ],
                        vec!["leaf index".into(), seq.to_string()],
                        vec!["tree size".into(), size.to_string()],
                        vec!["root".into(), root.clone()],
                        vec!["audit path".into(), path.join(" ")],
                    ],
                )
            })?;
            Ok(Outcome::Success)
        }
    }
}
