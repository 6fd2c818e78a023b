//! `coffer keys`: the keyring.

use anyhow::{bail, Context as _};
use coffer_vault::{ExportWork, Keyring};

use crate::cli::{Global, KeysCommand};
use crate::context::Context;
use crate::output;
use crate::Outcome;

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

/// The export's name for the report-signing key's seed.
const SIGNING_KEY_EXTRA: &str = "signing-key";

pub async fn run(global: &Global, command: KeysCommand) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let keyring = Keyring::open(ctx.config.keyring_path())?;
    let now = jiff::Timestamp::now();
    match command {
        KeysCommand::Public => {
            let key =
                coffer_audit::signing::KeyPair::load_or_create(ctx.config.signing_key_path())?;
            let public = key.public();
            println!("public key   {}", public.to_hex());
            println!("fingerprint  {}", public.fingerprint());
            println!("algorithm    Ed25519");
            return Ok(Outcome::Success);
        }
        KeysCommand::List => {
            let keys = keyring.list()?;
            if keys.is_empty() {
                println!("(no keys in {})", keyring.dir().display());
            } else {
                let rows = keys
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
            let info = keyring.create(&name, now)?;
            println!(
                "Created key {:?} (version {}). Vaults refer to it as arn:coffer:kms:{}:{}:key/{}.",
                info.name, info.current_version, ctx.region, ctx.account, info.name
            );
            println!("Export the keyring again (`coffer keys export --to FILE`) and keep the file safe: earlier exports do not hold this key, and losing it loses every vault that uses it.");
        }
        KeysCommand::Rotate { name } => {
            let info = keyring.rotate(&name, now)?;
            // Re-wrap every vault secret this key wraps; backups are not touched.
            let catalog = ctx.catalog().await?;
            let mut n_rewrapped = 0;
            for record in catalog.vault_secrets().await? {
                let wrapped: coffer_vault::WrappedSecret =
                    serde_json::from_value(record.wrapped.clone()).with_context(|| {
                        format!(
                            "the recorded secret of vault {} cannot be read",
                            record.vault_name
                        )
                    })?;
                if wrapped.key_name != name {
                    continue;
                }
                let account =
                    coffer_model::AccountId::new(&record.account_id).map_err(anyhow::Error::msg)?;
                let region =
                    coffer_model::Region::new(&record.region).map_err(anyhow::Error::msg)?;
                let arn = coffer_model::Arn::backup_vault(&region, &account, &record.vault_name)
                    .to_string();
                if let Some(new) = keyring.rewrap(&wrapped, &arn)? {
                    catalog
                        .rewrap_vault_secret(&record, &serde_json::to_value(&new)?, now)
                        .await?;
                    n_rewrapped += 1;
                }
            }
            catalog.close().await;
            println!(
                "Rotated key {:?} to version {} and re-wrapped {n_rewrapped} vault secret(s) with it; backups are unchanged. Export the keyring again (`coffer keys export`): earlier exports do not hold this version.",
                info.name, info.current_version
            );
        }
        KeysCommand::Export { to } => {
            let passphrase = passphrase(true)?;
            // The report-signing key travels with the keyring.
            let mut extra = std::collections::BTreeMap::new();
            let signing = ctx.config.signing_key_path();
            if signing.exists() {
                let key = coffer_audit::signing::KeyPair::load(signing)?;
                extra.insert(
                    SIGNING_KEY_EXTRA.to_string(),
                    coffer_vault::Secret::new(key.seed().to_vec()),
                );
            }
            let n_keys = keyring.export(&to, &passphrase, &extra, ExportWork::RECOMMENDED)?;
            println!(
                "Wrote {n_keys} key(s){}, encrypted, to {}. Keep it and its passphrase safe, and apart.",
                if extra.is_empty() { "" } else { " and the signing key" },
                to.display()
            );
        }
        KeysCommand::Import { from, force } => {
            let passphrase = passphrase(false)?;
            let (n_keys, extra) = keyring.import(&from, &passphrase, force)?;
            println!("Imported {n_keys} key(s) into {}.", keyring.dir().display());
            if let Some(seed) = extra.get(SIGNING_KEY_EXTRA) {
                let key = coffer_audit::signing::KeyPair::install(
                    ctx.config.signing_key_path(),
                    seed.expose(),
                    force,
                )
                .context("the vault keys were imported; the signing key was not")?;
                println!("Signing key {} installed.", key.fingerprint());
            }
        }
    }
    Ok(Outcome::Success)
}
