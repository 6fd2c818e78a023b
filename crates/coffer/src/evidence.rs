//! `coffer evidence verify|checkpoint|prove`: the evidence ledger the
//! catalog appends in the transaction of each change, its signed
//! checkpoints, and inclusion proofs.

use clap::Subcommand;
use serde_json::json;

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Check the whole ledger (the hash chain, every checkpoint's root and signature) and the catalog's rows against it.
    #[command(
        after_help = "Example:\n  coffer evidence verify\n  coffer evidence verify --public-key 3b6a27bc...\n\nExits 1 and names the entry on any edited, removed, reordered or cut-back entry, and each catalog row (job, recovery point, legal hold, control result, vault, plan, selection, framework) that disagrees with its newest ledger entry."
    )]
    Verify {
        /// The public key the signatures must verify with (default: this home's signing key).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Sign a checkpoint of the ledger now (`coffer serve` signs one every hour).
    #[command(after_help = "Example:\n  coffer evidence checkpoint")]
    Checkpoint,
    /// An inclusion proof of one entry in the newest checkpoint's tree.
    #[command(after_help = "Example:\n  coffer evidence prove 42 -o json")]
    Prove {
        /// The entry's sequence number.
        seq: usize,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
}

pub async fn run(ctx: &Context, command: &EvidenceCommand) -> anyhow::Result<Outcome> {
    let key = match command {
        EvidenceCommand::Verify {
            public_key: Some(hex),
        } => Some(
            coffer_service::report::public_key(hex)
                .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?,
        ),
        _ => None,
    };
    with_service(ctx, async |service, caller| match command {
        EvidenceCommand::Checkpoint => {
            let checkpoint = service.sign_checkpoint(caller).await?;
            println!(
                "Checkpoint signed: {} entries, root {}, key {}",
                checkpoint.tree_size, checkpoint.root_hash, checkpoint.key_fingerprint
            );
            Ok(Outcome::Success)
        }
        EvidenceCommand::Verify { public_key } => {
            let check = service.verify_ledger(caller, key).await?;
            if public_key.is_none() {
                println!(
                    "Signatures checked against this home's own key {}; an auditor passes the key they were given with --public-key.",
                    check.key.fingerprint()
                );
            }
            let found = &check.found;
            let rows = &check.rows;
            if found.passed() {
                println!(
                    "Ledger OK: {} entries in an unbroken chain; {} signed checkpoint(s) match.",
                    found.entries, found.checkpoints
                );
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
            }
            if rows.passed() {
                println!(
                    "Catalog OK: {} row(s) agree with their newest ledger entry.",
                    rows.checked
                );
            } else {
                for disagreement in &rows.disagreements {
                    eprintln!("error: {disagreement}");
                }
                eprintln!(
                    "Catalog FAILED verification: {} row(s) disagree with the ledger (changed outside Coffer); reports and protection decisions refuse them until they are put back as the ledger recorded them.",
                    rows.disagreements.len()
                );
            }
            Ok(if found.passed() && rows.passed() {
                Outcome::Success
            } else {
                Outcome::Failure
            })
        }
        EvidenceCommand::Prove { seq, output: format } => {
            let proof = service.prove_entry(caller, *seq).await?;
            let entry = &proof.entry;
            let doc = json!({
                "Entry": entry,
                "LeafIndex": proof.leaf_index,
                "TreeSize": proof.tree_size,
                "AuditPath": proof.audit_path,
                "RootHash": proof.root_hash,
                "Checkpoint": proof.checkpoint,
                "Method": "RFC 6962: leaf = SHA-256(0x00 || EntryHash as text), node = SHA-256(0x01 || left || right)",
            });
            output::print(*format, &doc, || {
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
                        vec!["leaf index".into(), proof.leaf_index.to_string()],
                        vec!["tree size".into(), proof.tree_size.to_string()],
                        vec!["root".into(), proof.root_hash.clone()],
                        vec!["audit path".into(), proof.audit_path.join(" ")],
                    ],
                )
            })?;
            Ok(Outcome::Success)
        }
    })
    .await
}
