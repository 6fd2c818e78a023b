//! What every command needs: Coffer's home, its configuration, the account
//! and region in force, the caller they act as, and the service over the
//! catalog.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use coffer_model::{AccountId, Region};
use coffer_policy::{Config, LoadConfig as _};
use coffer_service::{Caller, Service};

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Coffer's home: config.toml, catalog, keyring, local vaults.
    #[arg(long, global = true, env = "COFFER_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Account ID for this command (default: config.toml [defaults] account);
    /// listings also take '*': every account of the organization, for the
    /// management account and the backup delegated administrator.
    #[arg(long, global = true, value_name = "ID")]
    pub account: Option<String>,
    /// Region for this command (default: config.toml [defaults] region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// More logging (-v info, -vv debug); COFFER_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// The home's config.toml path, whether or not it exists.
    pub fn config_path(&self) -> PathBuf {
        match &self.home {
            Some(home) => home.join("config.toml"),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".coffer/config.toml"))
                .unwrap_or_default(),
        }
    }
}

/// The lifecycle a new recovery point gets.
#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// Lifecycle: delete the new recovery point after this many days.
    #[arg(long, value_name = "DAYS")]
    pub delete_after_days: Option<u32>,
    /// Lifecycle: move it to cold storage after this many days.
    #[arg(long, value_name = "DAYS")]
    pub cold_after_days: Option<u32>,
}

impl LifecycleArgs {
    /// The lifecycle asked for, checked by AWS's rules.
    pub fn requested(&self) -> anyhow::Result<coffer_model::Lifecycle> {
        Ok(coffer_service::backup::requested_lifecycle(
            self.cold_after_days,
            self.delete_after_days,
        )?)
    }
}

pub struct Context {
    pub config: Config,
    /// `Some("*")` when `--account '*'` asked for every account (the
    /// command then acts in the default account).
    pub accounts: Option<String>,
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
        let all = global.account.as_deref() == Some("*");
        let account = match &global.account {
            Some(a) if !all => {
                AccountId::new(a).map_err(|e| anyhow::anyhow!("--account: {e}; or '*'"))?
            }
            _ => config.default_account().clone(),
        };
        let region = match &global.region {
            Some(r) => Region::new(r).map_err(|e| anyhow::anyhow!("--region: {e}"))?,
            None => config.default_region().clone(),
        };
        Ok(Context {
            config,
            accounts: all.then(|| "*".to_string()),
            account,
            region,
        })
    }

    /// Who the command acts as: config.toml's principal, in the account
    /// and region in force, run by this operating-system user.
    pub fn caller(&self) -> Caller {
        Caller::new(
            self.config.principal(),
            self.account.clone(),
            self.region.clone(),
        )
        .with_os_user(Caller::current_os_user())
    }

    /// The operations over the home's catalog, on the system clock.
    pub async fn service(&self) -> anyhow::Result<Service> {
        Ok(Service::open(
            self.config.clone(),
            Arc::new(coffer_engine::clock::SystemClock),
        )
        .await?)
    }
}

/// Runs `work` over the home's service, closing the catalog afterwards
/// whatever the outcome.
pub async fn with_service<T>(
    ctx: &Context,
    work: impl AsyncFnOnce(&Service, &Caller) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let caller = ctx.caller();
    // Writes the operation makes without naming a caller (running a queued
    // job, a sweep) name this one too.
    let service = ctx.service().await?.acting_as(&caller);
    let result = work(&service, &caller).await;
    service.close().await;
    result
}
