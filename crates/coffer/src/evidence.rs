//! `coffer evidence verify|checkpoint|prove|log`: the evidence ledger the
//! catalog appends in the transaction of each change, its signed
//! checkpoints, inclusion proofs, and its entries looked up by actor,
//! kind, subject and time.

use clap::Subcommand;
use serde_json::json;

use coffer_catalog::LedgerQuery;

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Check the whole ledger (the hash chain, every checkpoint's root and signature) and the catalog's rows against it.
    #[command(
        after_help = "Example:\n  coffer evidence verify\n  coffer evidence verify --public-key 3b6a27bc...\n\nA cut `coffer catalog recover` declared (signed) is shown and verifies; a ledger behind the\ncheckpoint kept beside the signing key with no declared cut fails. Exits 1 and names the\nentry on any edited, removed, reordered or cut-back entry, and each catalog row (job, recovery point, legal hold, control result, vault, plan, selection, framework) that disagrees with its newest ledger entry, and each stored version of a policy object (`coffer get KIND NAME --history`) that is not what its ledger entry committed to."
    )]
    Verify {
        /// The public key the signatures must verify with (default: this home's signing key).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Sign a checkpoint of the ledger now (`coffer serve` signs one every hour).
    #[command(after_help = "Example:\n  coffer evidence checkpoint")]
    Checkpoint,
    /// Look up ledger entries by actor, kind, subject and time, newest first (as CloudTrail's lookup-events).
    #[command(
        after_help = "Example:\n  coffer evidence log --actor arn:coffer:iam::111122223333:user/admin\n  coffer evidence log --kind weakening --since 2026-11-01T00:00:00Z -o json\n  coffer evidence log --subject arn:coffer:backup:eu-west-1:111122223333:backup-vault:primary"
    )]
    Log {
        /// Only entries made by this principal ARN (`coffer:scheduler` for the daemon).
        #[arg(long, value_name = "ARN")]
        actor: Option<String>,
        /// Only entries of this kind (`backup job`, `recovery point`, `stack`, `vault lock`, `weakening`, ...).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Only entries about this ID or ARN.
        #[arg(long, value_name = "ID")]
        subject: Option<String>,
        /// Only entries at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only entries at or before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Entries per page (1 to 1000).
        #[arg(long, default_value_t = 50)]
        max_results: usize,
        /// The NextToken of the previous page.
        #[arg(long, value_name = "TOKEN")]
        next_token: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
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
            match found.macs_checked {
                Some(n) => println!("MACs of {n} entries checked with this deployment's ledger key."),
                None => println!("MACs not checked: this deployment's ledger key is not at hand."),
            }
            for cut in &check.cuts {
                println!(
                    "Declared cut at entry {} (signed by key {}): {}.",
                    cut.seq,
                    cut.cut.key_fingerprint,
                    cut.cut.summary()
                );
            }
            let rows = &check.rows;
            if found.passed() {
                let declared = match check.cuts.len() {
                    0 => String::new(),
                    n => format!(" ({n} declared cut(s), shown above)"),
                };
                println!(
                    "Ledger OK: {} entries in an unbroken chain{declared}; {} signed checkpoint(s) match.",
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
                    "Catalog OK: {} row(s) agree with their newest ledger entry, {} stored version(s) of policy objects with the entries that commit to them.",
                    rows.checked, rows.versions
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
        EvidenceCommand::Log {
            actor,
            kind,
            subject,
            since,
            until,
            max_results,
            next_token,
            output: format,
        } => {
            let query = LedgerQuery {
                actor: actor.clone(),
                kind: kind.clone(),
                subject: subject.clone(),
                since: time_arg("--since", since.as_deref())?,
                until: time_arg("--until", until.as_deref())?,
                before: None,
            };
            let page = service
                .evidence_log(caller, &query, *max_results, next_token.as_deref())
                .await
                .map_err(|e| {
                    crate::hint(e, coffer_service::ErrorKind::InvalidParameterValue, |m| {
                        format!("{m} (--max-results, --next-token, --since, --until)")
                    })
                })?;
            let doc = json!({"Entries": page.entries, "NextToken": page.next_token});
            output::print(*format, &doc, || {
                let rows = page
                    .entries
                    .iter()
                    .map(|entry| {
                        let actor = entry.actor.as_ref().map_or_else(
                            || "-".to_string(),
                            |a| match &a.os_user {
                                Some(user) => format!("{} (user {user})", a.principal),
                                None => a.principal.clone(),
                            },
                        );
                        vec![
                            entry.seq.to_string(),
                            entry.time.to_string(),
                            actor,
                            entry.kind.clone(),
                            entry.subject.clone(),
                            entry.event.clone(),
                        ]
                    })
                    .collect();
                let mut text = output::table(
                    &["SEQ", "TIME", "ACTOR", "KIND", "SUBJECT", "EVENT"],
                    rows,
                );
                if let Some(token) = &page.next_token {
                    text.push_str(&format!("\nMore entries: --next-token {token}"));
                }
                text
            })?;
            Ok(Outcome::Success)
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

/// A time argument, RFC 3339.
fn time_arg(flag: &str, text: Option<&str>) -> anyhow::Result<Option<jiff::Timestamp>> {
    text.map(|t| {
        t.parse::<jiff::Timestamp>().map_err(|e| {
            anyhow::anyhow!(
                "{flag} {t:?}: not an RFC 3339 time ({e}); write e.g. 2026-11-01T00:00:00Z"
            )
        })
    })
    .transpose()
}
