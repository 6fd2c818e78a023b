//! What every command needs: Coffer's home, its configuration, the account
//! and region in force, and the catalog.

use std::path::PathBuf;

use anyhow::Context as _;
use coffer_model::{AccountId, Region};
use coffer_policy::{Config, LoadConfig as _};

use crate::cli::Global;

pub struct Context {
    pub config: Config,
    pub account: AccountId,
    pub region: Region,
}

fn default_home() -> anyhow::Result<PathBuf> {
    let home =
        std::env::var_os("HOME").context("HOME is not set; pass --home DIR or set COFFER_HOME")?;
    Ok(PathBuf::from(home).join(".coffer"))
}

impl Context {
    /// Loads (creating on first use) the configuration.
    pub fn load(global: &Global) -> anyhow::Result<Context> {
        let home = match &global.home {
            Some(home) => home.clone(),
            None => default_home()?,
        };
        let config = Config::load_or_create(&home)?;
        let account = match &global.account {
            Some(a) => AccountId::new(a).map_err(|e| anyhow::anyhow!("--account: {e}"))?,
            None => config.default_account().clone(),
        };
        let region = match &global.region {
            Some(r) => Region::new(r).map_err(|e| anyhow::anyhow!("--region: {e}"))?,
            None => config.default_region().clone(),
        };
        Ok(Context {
            config,
            account,
            region,
        })
    }

    /// The engine's view: this catalog, the configuration, the system clock.
    pub fn env(&self, catalog: &coffer_catalog::Catalog) -> coffer_engine::env::Env {
        coffer_engine::env::Env::new(
            catalog.clone(),
            self.config.clone(),
            std::sync::Arc::new(coffer_engine::clock::SystemClock),
        )
    }

    pub async fn catalog(&self) -> anyhow::Result<coffer_catalog::Catalog> {
        let password = match self.config.catalog_password() {
            Some(reference) => Some(
                coffer_drivers::resolve_secret(reference)
                    .map_err(anyhow::Error::msg)
                    .context(
                        "config.toml [catalog] password: the catalog's password could not be read",
                    )?,
            ),
            None => None,
        };
        let catalog = coffer_catalog::Catalog::open_with_password(
            self.config.catalog_url(),
            password.as_deref(),
            jiff::Timestamp::now(),
        )
        .await?;
        Ok(catalog)
    }
}
