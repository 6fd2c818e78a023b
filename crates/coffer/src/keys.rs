//! `coffer keys`: the keyring.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use coffer_service::keys;

use clap::Subcommand;

use crate::context::{with_service, Context};
use crate::output;
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the keys (names and versions, never key material).
    #[command(after_help = "Example:\n  coffer keys list")]
    List,
    /// Print the signing key's public key and fingerprint, to hand to auditors.
    #[command(
        after_help = "Example:\n  coffer keys public\n\nAn auditor verifies checkpoints and report manifests with it; the private key never leaves the home."
    )]
    Public,
    /// Create a key; a vault's EncryptionKeyArn (…:key/NAME) names it.
    #[command(after_help = "Example:\n  coffer keys create VaultKey")]
    Create {
        /// Key name (letters, digits, '-', '_', '.').
        name: String,
    },
    /// Add a new version of a key; secrets are re-wrapped, backups are not rewritten.
    #[command(after_help = "Example:\n  coffer keys rotate VaultKey")]
    Rotate {
        /// Key name.
        name: String,
    },
    /// Write the whole keyring, encrypted under a passphrase, to a file.
    #[command(
        after_help = "Example:\n  coffer keys export --to /media/usb/coffer-keys.export\n\nThe passphrase is read from $COFFER_KEYS_PASSPHRASE, or asked twice on the terminal.\nLosing the keyring loses every vault: keep this file and its passphrase safe, apart."
    )]
    Export {
        /// File to write (created with mode 0600).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore keys from an export.
    #[command(after_help = "Example:\n  coffer keys import --from /media/usb/coffer-keys.export")]
    Import {
        /// Export file to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Replace keys of the same name that hold different key material.
        #[arg(long)]
        force: bool,
    },
}

/// The passphrase for an export or import: `$COFFER_KEYS_PASSPHRASE`, or
/// asked on the terminal (twice when `confirm`).
fn passphrase(confirm: bool) -> anyhow::Result<String> {
    if let Ok(value) = std::env::var("COFFER_KEYS_PASSPHRASE") {
        return Ok(value);
    }
    let first = rpassword::prompt_password("Keyring passphrase: ")
        .context("no terminal to ask the passphrase on; set COFFER_KEYS_PASSPHRASE")?;
    if confirm {
        let second = rpassword::prompt_password("Same passphrase again: ")
            .context("no terminal to ask the passphrase on; set COFFER_KEYS_PASSPHRASE")?;
        if first != second {
            bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

pub async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<Outcome> {
    let config = &ctx.config;
    match command {
        KeysCommand::Public => {
            let public = keys::signing_public_key(config)?;
            println!("public key   {}", public.to_hex());
            println!("fingerprint  {}", public.fingerprint());
            println!("algorithm    Ed25519");
        }
        KeysCommand::List => {
            let (found, dir) = keys::list_keys(config)?;
            if found.is_empty() {
                println!("(no keys in {})", dir.display());
            } else {
                let rows = found
                    .into_iter()
                    .map(|k| {
                        vec![
                            k.name,
                            k.current_version.to_string(),
                            k.versions.to_string(),
                            k.created.to_string(),
                            k.rotated.to_string(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    output::table(&["NAME", "VERSION", "VERSIONS", "CREATED", "ROTATED"], rows)
                );
            }
        }
        KeysCommand::Create { name } => {
            let info = keys::create_key(config, &name, jiff::Timestamp::now())?;
            println!(
                "Created key {:?} (version {}). Vaults refer to it as arn:coffer:kms:{}:{}:key/{}.",
                info.name, info.current_version, ctx.region, ctx.account, info.name
            );
            println!("Export the keyring again (`coffer keys export --to FILE`) and keep the file safe: earlier exports do not hold this key, and losing it loses every vault that uses it.");
        }
        KeysCommand::Rotate { name } => {
            let (info, n_rewrapped) = with_service(ctx, async |service, _| {
                Ok(service.rotate_key(&name).await?)
            })
            .await?;
            println!(
                "Rotated key {:?} to version {} and re-wrapped {n_rewrapped} vault secret(s) with it; backups are unchanged. Export the keyring again (`coffer keys export`): earlier exports do not hold this version.",
                info.name, info.current_version
            );
        }
        KeysCommand::Export { to } => {
            let passphrase = passphrase(true)?;
            let (n_keys, with_signing) = keys::export_keyring(config, &to, &passphrase)?;
            let with_ledger = config.ledger_key_path().exists();
            println!(
                "Wrote {n_keys} key(s){}{}, encrypted, to {}. Keep it and its passphrase safe, and apart.",
                if with_signing { " and the signing key" } else { "" },
                if with_ledger { " and the ledger key" } else { "" },
                to.display()
            );
        }
        KeysCommand::Import { from, force } => {
            let passphrase = passphrase(false)?;
            let imported =
                keys::import_keyring(config, &from, &passphrase, force).map_err(|e| {
                    crate::hint(e, coffer_service::ErrorKind::AlreadyExists, |m| {
                        format!("{m} (--force replaces it)")
                    })
                })?;
            println!(
                "Imported {} key(s) into {}.",
                imported.keys,
                imported.keyring_dir.display()
            );
            if let Some(fingerprint) = imported.signing_key {
                println!("Signing key {fingerprint} installed.");
            }
            if imported.ledger_key {
                println!("Ledger key installed.");
            }
        }
    }
    Ok(Outcome::Success)
}
