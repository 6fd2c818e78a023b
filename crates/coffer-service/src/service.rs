//! The environment every operation runs in: the catalog, the
//! configuration, the keyring (through the configuration's home) and the
//! clock. Operations take `now` from this clock, never from the system,
//! so a test runs them at a chosen time.

use std::sync::Arc;

use coffer_catalog::{Actor, Catalog};
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
    /// Access-key secrets already unwrapped, by key ID, each with the
    /// wrapped form it came from: a key whose record changes (rotated,
    /// re-created) misses and is unwrapped again. Status is still read from
    /// the catalog on every request.
    pub(crate) unwrapped: Arc<
        std::sync::Mutex<
            std::collections::HashMap<String, (String, crate::access_keys::SecretAccessKey)>,
        >,
    >,
    /// What authenticating a request read (keys, identity policies,
    /// regions), kept while the catalog's `AuthStamp` reads the same.
    pub(crate) auth: Arc<std::sync::Mutex<crate::access_keys::AuthCache>>,
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
        // The database tools are where config.toml's [tools] says, for
        // every driver this process runs.
        coffer_drivers::use_tool_dirs(config.tools());
        // Every entry this deployment appends is MACed with its ledger key,
        // kept beside the signing key (created on first use).
        let ledger_key = coffer_audit::ledger_key::load_or_create(&config.ledger_key_path())?;
        let catalog =
            Catalog::open_with_password(config.catalog_url(), password.as_deref(), clock.now())
                .await?
                .with_ledger_key(ledger_key);
        Ok(Service::new(Env::new(catalog, config, clock)))
    }

    /// The same operations, writing as `caller` by default: what an
    /// operation that takes no caller (running a queued job, a sweep, a key
    /// rotation) appends to the ledger names it.
    pub fn acting_as(&self, caller: &Caller) -> Service {
        Service {
            env: self.env_for(caller),
            unwrapped: Arc::clone(&self.unwrapped),
            auth: Arc::clone(&self.auth),
        }
    }

    /// The environment whose catalog writes as `caller`: each ledger entry
    /// names its principal, account and operating-system user.
    pub fn env_for(&self, caller: &Caller) -> Env {
        Env {
            catalog: self.catalog_for(caller),
            ..self.env.clone()
        }
    }

    /// The catalog (same connections) writing as `caller`.
    pub fn catalog_for(&self, caller: &Caller) -> Catalog {
        self.env.catalog.as_actor(actor_of(caller))
    }

    /// The operations over an engine environment already set up.
    pub fn new(env: Env) -> Service {
        Service {
            env,
            unwrapped: Arc::default(),
            auth: Arc::default(),
        }
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

    /// The environment whose catalog writes as the scheduler daemon
    /// (`coffer:scheduler`), for `coffer serve`.
    pub fn scheduler_env(&self) -> Env {
        Env {
            catalog: self.env.catalog.as_actor(Actor::scheduler()),
            ..self.env.clone()
        }
    }

    /// Closes the catalog's connections.
    pub async fn close(&self) {
        self.env.catalog.close().await;
    }
}

/// The ledger's actor for `caller`.
pub fn actor_of(caller: &Caller) -> Actor {
    Actor::new(
        caller.principal.clone(),
        Some(caller.account.to_string()),
        caller.os_user.clone(),
    )
}
