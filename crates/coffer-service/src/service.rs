//! The environment every operation runs in: the catalog, the
//! configuration, the keyring (through the configuration's home) and the
//! clock. Operations take `now` from this clock, never from the system,
//! so a test runs them at a chosen time.

use std::sync::Arc;

use coffer_catalog::Catalog;
use coffer_engine::clock::Clock;
use coffer_engine::env::Env;
use coffer_policy::Config;
use jiff::Timestamp;

use crate::caller::{authorize, Action, Caller, Target};
use crate::error::{Error, ErrorKind, Result};

/// Coffer's operations over one catalog.
#[derive(Clone, Debug)]
pub struct Service {
    env: Env,
}

impl Service {
    /// Opens the catalog `config` names (its password read from its
    /// reference now) on `clock`.
    ///
    /// # Errors
    /// An unreadable password reference, a catalog that cannot be opened.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Service> {
        let password = match config.catalog_password() {
            Some(reference) => Some(coffer_drivers::resolve_secret(reference).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("config.toml [catalog] password: the catalog's password could not be read: {e}"),
                )
            })?),
            None => None,
        };
        let catalog =
            Catalog::open_with_password(config.catalog_url(), password.as_deref(), clock.now())
                .await?;
        Ok(Service::new(Env::new(catalog, config, clock)))
    }

    /// The operations over an engine environment already set up.
    pub fn new(env: Env) -> Service {
        Service { env }
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    pub fn catalog(&self) -> &Catalog {
        &self.env.catalog
    }

    pub fn config(&self) -> &Config {
        &self.env.config
    }

    /// The environment's time.
    pub fn now(&self) -> Timestamp {
        self.env.now()
    }

    /// The authorization hook every operation passes through.
    ///
    /// # Errors
    /// `AccessDenied` when the caller may not.
    pub fn authorize(&self, caller: &Caller, action: Action, target: Target<'_>) -> Result<()> {
        let decided = authorize(caller, action, target);
        if let Err(error) = &decided {
            tracing::warn!(principal = %caller.principal, action = action.name(), %error, "refused");
        }
        decided
    }

    /// Closes the catalog's connections.
    pub async fn close(&self) {
        self.env.catalog.close().await;
    }
}
