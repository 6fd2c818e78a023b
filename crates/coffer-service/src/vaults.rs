//! Vault storage: created for the vaults a stack declares, checked,
//! reconciled, pruned, and its key exported for disaster recovery.
//!
//! When a vault is first applied, it gets a random repository secret,
//! wrapped by its keyring key and recorded in the catalog *before* its
//! storage is created; every apply then makes sure the storage exists, so
//! a crash between the two steps heals on the next apply and no secret is
//! ever lost.

use coffer_catalog::VaultSecretRecord;
use coffer_model::{BackupVault, RecoveryPoint};
use coffer_policy::{PolicySet, VaultLocation};
use coffer_vault::{
    key_name_of, new_vault_secret, Keyring, VaultStorage, WrappedSecret, DEFAULT_KEY, SECRET_FILE,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// The location as the catalog records it: an `s3://` URL carries the
/// name of its `[s3_endpoints]` entry.
pub fn recorded_location(location: &VaultLocation) -> String {
    coffer_engine::env::recorded_location(&location.url, location.endpoint.as_deref())
}

fn parse_wrapped(record: &VaultSecretRecord) -> Result<WrappedSecret> {
    serde_json::from_value(record.wrapped.clone()).map_err(|e| {
        Error::dependency(format!(
            "the recorded secret of vault {} cannot be read: {e}",
            record.vault_name
        ))
    })
}

/// What provisioning did that a person should hear of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provisioned {
    /// A keyring key was created for a vault: earlier keyring exports do
    /// not hold it.
    KeyCreated { key: String, vault: String },
    /// A vault's storage was created.
    StorageCreated { vault: String, location: String },
    /// A vault's storage was there with its wrapped secret beside it (the
    /// catalog had lost it): the secret is recorded again.
    SecretRecovered { vault: String, location: String },
}

/// The secret kept beside a repository, when the keyring unwraps it for
/// the vault `arn`: the secret and the wrapped form to record.
fn own_secret(
    storage: &VaultStorage,
    keyring: &Keyring,
    arn: &str,
) -> Option<(coffer_vault::Secret, serde_json::Value)> {
    let bytes = storage.root_file(SECRET_FILE).ok()??;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let wrapped: WrappedSecret = serde_json::from_value(value.clone()).ok()?;
    let secret = keyring.unwrap_secret(&wrapped, arn).ok()?;
    Some((secret, value))
}

/// What recovering the catalog found in one vault.
#[derive(Clone, Debug)]
pub struct VaultRecovery {
    pub account_id: String,
    pub region: String,
    pub vault_name: String,
    pub vault_arn: String,
    /// The recovery points recorded again, or why the vault could not be read.
    pub result: std::result::Result<Vec<RecoveryPoint>, String>,
}

/// What recovering the catalog did: each vault's points recorded again,
/// and the cut it declared when the ledger had lost entries.
#[derive(Clone, Debug)]
pub struct CatalogRecovery {
    pub vaults: Vec<VaultRecovery>,
    pub cut: Option<coffer_audit::cut::DeclaredCut>,
}

/// What a vault's disaster-recovery key is: restic opens the vault with it.
#[derive(Clone, Debug)]
pub struct ExportedKey {
    /// The repository as restic names it: a path, or `s3:URL/bucket/prefix`.
    pub repository: String,
    pub password: String,
}

impl Service {
    /// Why the set's new vaults cannot get storage where config.toml puts
    /// them: a location another vault already uses, or storage already
    /// there that this catalog holds no secret for.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn storage_conflicts(&self, set: &PolicySet) -> Result<Vec<String>> {
        let records = self.catalog().vault_secrets().await?;
        let config = self.config();
        let keyring = Keyring::open(config.keyring_path()).ok();
        let mut problems = Vec::new();
        for declared in &set.vaults {
            let vault = &declared.value;
            let name = vault.backup_vault_name.as_str();
            let has_record = records.iter().any(|r| {
                r.account_id == vault.account_id.as_str()
                    && r.region == vault.region.as_str()
                    && r.vault_name == name
            });
            if has_record {
                continue;
            }
            let location = recorded_location(&config.vault_location(
                vault.account_id.as_str(),
                vault.region.as_str(),
                name,
            ));
            if let Some(other) = records.iter().find(|r| r.location == location) {
                problems.push(format!(
                    "{}:{} {}: vault {name:?} would be stored at {location}, which vault {:?} (account {}, region {}) already uses; give it its own location with a [[vaults.rules]] entry in config.toml",
                    declared.origin.file, declared.origin.pos, declared.origin.logical_id, other.vault_name, other.account_id, other.region
                ));
            } else if location.starts_with("file://")
                && VaultStorage::new(&location).is_ok_and(|s| {
                    s.exists()
                        && !keyring.as_ref().is_some_and(|keyring| {
                            own_secret(&s, keyring, &vault.backup_vault_arn.to_string()).is_some()
                        })
                })
            {
                problems.push(format!(
                    "{}:{} {}: vault {name:?} would be stored at {location}, where a repository already exists that this catalog holds no secret for; move it away or give the vault another location with a [[vaults.rules]] entry",
                    declared.origin.file, declared.origin.pos, declared.origin.logical_id
                ));
            }
        }
        Ok(problems)
    }

    /// Creates secrets and storage for the set's vaults that lack them.
    ///
    /// # Errors
    /// Keyring, catalog and storage failures; storage already at a new
    /// vault's location.
    pub async fn provision(&self, set: &PolicySet) -> Result<Vec<Provisioned>> {
        let mut done = Vec::new();
        for declared in &set.vaults {
            done.extend(self.provision_vault(&declared.value).await?);
        }
        Ok(done)
    }

    /// Creates the secret and storage of one vault if it lacks them (a
    /// vault created through the API, or each vault a stack declares).
    ///
    /// # Errors
    /// Keyring, catalog and storage failures; storage already at the
    /// vault's location that this catalog holds no secret for.
    pub async fn provision_vault(&self, vault: &BackupVault) -> Result<Vec<Provisioned>> {
        let config = self.config();
        let keyring = Keyring::open(config.keyring_path())?;
        let now = self.now();
        let mut done = Vec::new();
        let (account, region, name) = (
            vault.account_id.as_str(),
            vault.region.as_str(),
            vault.backup_vault_name.as_str(),
        );
        let arn = vault.backup_vault_arn.to_string();
        let (secret, location) = match self.catalog().vault_secret(account, region, name).await? {
            Some(record) => {
                let secret = keyring.unwrap_secret(&parse_wrapped(&record)?, &arn)?;
                (secret, record.location)
            }
            None => {
                let location = recorded_location(&config.vault_location(account, region, name));
                // Reach the storage before a secret is recorded for it.
                let storage = self.env().storage_at(&location)?;
                if storage.exists() {
                    // The vault's own repository, its catalog lost: its
                    // wrapped secret beside it opens it again.
                    let Some((secret, wrapped)) = own_secret(&storage, &keyring, &arn) else {
                        return Err(Error::conflict(format!("vault {name:?} would be stored at {location}, where a repository already exists that this catalog holds no secret for; move it away or give the vault another location with a [[vaults.rules]] entry")));
                    };
                    let record = VaultSecretRecord {
                        account_id: account.to_string(),
                        region: region.to_string(),
                        vault_name: name.to_string(),
                        location: location.clone(),
                        wrapped,
                        version: 1,
                    };
                    self.catalog().put_vault_secret(&record, now).await?;
                    done.push(Provisioned::SecretRecovered {
                        vault: name.to_string(),
                        location: location.clone(),
                    });
                    drop(secret);
                    return Ok(done);
                }
                let key = vault
                    .encryption_key_arn
                    .as_ref()
                    .map_or(DEFAULT_KEY.to_string(), |k| {
                        key_name_of(&k.to_string()).to_string()
                    });
                let (_, created_key) = keyring.ensure(&key, now)?;
                if created_key {
                    done.push(Provisioned::KeyCreated {
                        key: key.clone(),
                        vault: name.to_string(),
                    });
                }
                let (secret, wrapped) = new_vault_secret(&keyring, &key, &arn)?;
                let record = VaultSecretRecord {
                    account_id: account.to_string(),
                    region: region.to_string(),
                    vault_name: name.to_string(),
                    location: location.clone(),
                    wrapped: serde_json::to_value(&wrapped)?,
                    version: 1,
                };
                self.catalog().put_vault_secret(&record, now).await?;
                (secret, location)
            }
        };
        let storage = self.env().storage_at(&location)?;
        if !storage.exists() {
            storage.init(&secret)?;
            done.push(Provisioned::StorageCreated {
                vault: name.to_string(),
                location: location.clone(),
            });
        }
        self.keep_secret_beside(&storage, account, region, name)
            .await?;
        Ok(done)
    }

    /// Writes the vault's wrapped secret (as the catalog records it) beside
    /// its repository, when what is there differs, so the keyring and the
    /// vault suffice to open it without the catalog.
    async fn keep_secret_beside(
        &self,
        storage: &VaultStorage,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<()> {
        let Some(record) = self.catalog().vault_secret(account, region, name).await? else {
            return Ok(());
        };
        let text = serde_json::to_vec_pretty(&record.wrapped)?;
        let beside = storage.root_file(SECRET_FILE)?;
        let same = beside
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(bytes).ok())
            .is_some_and(|value| value == record.wrapped);
        if !same {
            storage.put_root_file(SECRET_FILE, &text)?;
        }
        Ok(())
    }

    /// What restic needs to open a vault of the caller's account and region.
    ///
    /// # Errors
    /// `ResourceNotFound` for a vault without storage; keyring failures.
    pub async fn export_vault_key(&self, caller: &Caller, name: &str) -> Result<ExportedKey> {
        let (account, region) = (&caller.account, &caller.region);
        if let Ok(vault) = self.vault(account.as_str(), region.as_str(), name).await {
            self.authorize(caller, Action::ExportVaultKey, Target::Vault(&vault))?;
        }
        let Some(record) = self
            .catalog()
            .vault_secret(account.as_str(), region.as_str(), name)
            .await?
        else {
            return Err(Error::not_found(format!(
                "vault {name:?} has no storage in account {account}, region {region}; apply the stack that declares it (check the account and region)"
            )));
        };
        let keyring = Keyring::open(self.config().keyring_path())?;
        let arn = coffer_model::Arn::backup_vault(region, account, name).to_string();
        let secret = keyring.unwrap_secret(&parse_wrapped(&record)?, &arn)?;
        Ok(ExportedKey {
            repository: self.restic_repository(&record.location)?,
            password: coffer_vault::restic_password(&secret),
        })
    }

    /// The repository as restic names it: a path, or `s3:ENDPOINT/bucket/prefix`.
    fn restic_repository(&self, location: &str) -> Result<String> {
        let location = coffer_model::StorageLocation::parse(location).map_err(|e| {
            Error::dependency(format!("the catalog's vault location {location}: {e}"))
        })?;
        let base = location
            .endpoint()
            .and_then(|name| self.config().s3_endpoint(name))
            .map_or(String::new(), |e| e.url.clone());
        Ok(location.restic_repository(&base))
    }

    /// A vault of the caller's account and region, authorized and opened.
    async fn open_named(
        &self,
        caller: &Caller,
        name: &str,
        action: Action,
    ) -> Result<coffer_drivers::Vault> {
        let vault = self
            .vault(caller.account.as_str(), caller.region.as_str(), name)
            .await?;
        self.authorize(caller, action, Target::Vault(&vault))?;
        Ok(self.env_for(caller).open_vault(&vault).await?)
    }

    /// Checks a vault's structure, and with `read_data` (all, N%, n/m) its
    /// data read back, and compares it with the catalog's recovery points;
    /// the result is recorded as the scheduled checks' are. `Ok(Err(problem))`
    /// when the check found a problem.
    ///
    /// # Errors
    /// When the vault cannot be found or opened.
    pub async fn check_vault(
        &self,
        caller: &Caller,
        name: &str,
        read_data: Option<&str>,
    ) -> Result<std::result::Result<(), String>> {
        let vault = self
            .vault(caller.account.as_str(), caller.region.as_str(), name)
            .await?;
        self.authorize(caller, Action::CheckBackupVault, Target::Vault(&vault))?;
        if let Some(subset) = read_data {
            coffer_vault::parse_read_subset(subset).map_err(Error::invalid_parameter)?;
        }
        let check = coffer_engine::maintenance::check_vault(
            self.env(),
            &vault,
            read_data.map(str::to_string),
        )
        .await?;
        Ok(match check.message {
            Some(problem) if !check.passed => Err(problem),
            _ => Ok(()),
        })
    }

    /// Reconciles a vault with the catalog: removes (or with `dry_run` only
    /// names) the snapshots of jobs the catalog and ledger record as ended
    /// without them, and reports the Coffer snapshots nothing accounts for
    /// (never removed; see [`Service::adopt_snapshots`]).
    ///
    /// # Errors
    /// Catalog and storage failures.
    pub async fn reconcile_vault(
        &self,
        caller: &Caller,
        name: &str,
        dry_run: bool,
    ) -> Result<coffer_engine::maintenance::Reconciliation> {
        let vault = self
            .vault(caller.account.as_str(), caller.region.as_str(), name)
            .await?;
        self.authorize(caller, Action::ReconcileBackupVault, Target::Vault(&vault))?;
        Ok(coffer_engine::maintenance::reconcile(&self.env_for(caller), &vault, !dry_run).await?)
    }

    /// Records back as recovery points the vault's Coffer snapshots nothing
    /// accounts for (all, or those `only` names by snapshot or recovery
    /// point ID), from the record each snapshot carries.
    ///
    /// # Errors
    /// Catalog and storage failures; a snapshot too bare to name its
    /// resource.
    pub async fn adopt_snapshots(
        &self,
        caller: &Caller,
        name: &str,
        only: &[String],
    ) -> Result<Vec<RecoveryPoint>> {
        let vault = self
            .vault(caller.account.as_str(), caller.region.as_str(), name)
            .await?;
        self.authorize(caller, Action::AdoptRecoveryPoints, Target::Vault(&vault))?;
        Ok(coffer_engine::maintenance::adopt(&self.env_for(caller), &vault, only).await?)
    }

    /// Rebuilds the recovery points the catalog lost from the vaults: in
    /// every vault the catalog knows (after `apply` recorded each vault's
    /// secret again from beside its repository), each Coffer snapshot no
    /// row accounts for is recorded back from the record it carries
    /// (lifecycle, tags, sizes, digest, the point it was copied from).
    ///
    /// When the ledger is behind the checkpoint kept in the home, or the
    /// newer one beside the `[self_backup]` vault (the catalog was
    /// restored from an older copy, or recreated), the lost
    /// entries are declared: a `ledger cut` entry is appended whose record,
    /// signed with the deployment's key, names the entries kept, the newest
    /// checkpoint lost, and the points recovered.
    ///
    /// # Errors
    /// Catalog and key failures; a vault that cannot be read is reported
    /// in its entry.
    pub async fn recover_catalog(&self, caller: &Caller) -> Result<CatalogRecovery> {
        self.authorize(caller, Action::DeclareLedgerCut, Target::Account)?;
        let catalog = self.catalog_for(caller);
        let key = coffer_audit::signing::KeyPair::load_or_create(self.config().signing_key_path())?;
        // Where the ledger stood before anything was recorded again.
        // How far the ledger had gone: the home's kept checkpoint, or the
        // one beside the self-backup vault when the home is new.
        let beside = self.checkpoint_beside_self_backup(&key.public()).await;
        let standing = self
            .ledger_standing_with(&catalog, &key.public(), beside)
            .await?
            .standing;
        let vaults: Vec<coffer_model::BackupVault> = self
            .env()
            .objects(coffer_catalog::ObjectKind::BackupVault)
            .await?;
        let mut out = Vec::new();
        for vault in vaults {
            self.authorize(caller, Action::AdoptRecoveryPoints, Target::Vault(&vault))?;
            let result = coffer_engine::maintenance::adopt(&self.env_for(caller), &vault, &[])
                .await
                .map_err(|e| e.to_string());
            out.push(VaultRecovery {
                account_id: vault.account_id.to_string(),
                region: vault.region.to_string(),
                vault_name: vault.backup_vault_name.clone(),
                vault_arn: vault.backup_vault_arn.to_string(),
                result,
            });
        }
        let cut = match standing {
            coffer_audit::cut::Standing::Gap(gap) => {
                let now = self.now();
                let cut = coffer_audit::cut::LedgerCut {
                    kept_entries: gap.kept_entries,
                    kept_hash: gap.kept_hash,
                    lost_through: gap.lost_through,
                    declared_at: jiff::Timestamp::from_millisecond(now.as_millisecond())
                        .unwrap_or(now),
                    reason: "the catalog was restored from an older copy or recreated, and recovered from the vaults".into(),
                    recovered: out
                        .iter()
                        .filter_map(|v| {
                            let points = v.result.as_ref().ok()?;
                            (!points.is_empty()).then(|| coffer_audit::cut::RecoveredVault {
                                backup_vault_arn: v.vault_arn.clone(),
                                recovery_point_ids: points
                                    .iter()
                                    .map(|p| p.recovery_point_id.clone())
                                    .collect(),
                            })
                        })
                        .collect(),
                    key_fingerprint: key.fingerprint(),
                };
                let (doc, signature) = cut.signed(&key);
                let entry = catalog
                    .append_ledger_cut(
                        &format!("ledger@{}", cut.kept_entries),
                        &cut.summary(),
                        &doc,
                        &signature,
                        now,
                    )
                    .await?;
                tracing::warn!(
                    entry = entry.seq,
                    kept = cut.kept_entries,
                    lost_through = cut.lost_through.tree_size,
                    "ledger cut declared"
                );
                Some(coffer_audit::cut::DeclaredCut {
                    seq: entry.seq,
                    time: entry.time,
                    cut,
                })
            }
            _ => None,
        };
        Ok(CatalogRecovery { vaults: out, cut })
    }

    /// One two-phase prune of a vault.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn prune_vault(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<coffer_vault::PruneSummary> {
        let opened = self
            .open_named(caller, name, Action::PruneBackupVault)
            .await?;
        Ok(tokio::task::spawn_blocking(move || opened.storage.prune(&opened.secret)).await??)
    }
}

impl Service {
    /// Adds a new version of keyring key `name` and re-wraps every vault
    /// secret it wraps (backups are never rewritten); returns the key and
    /// how many secrets were re-wrapped.
    ///
    /// # Errors
    /// An unknown key; keyring and catalog failures.
    pub async fn rotate_key(&self, name: &str) -> Result<(coffer_vault::KeyInfo, usize)> {
        let keyring = Keyring::open(self.config().keyring_path())?;
        let now = self.now();
        let info = keyring.rotate(name, now)?;
        let mut rewrapped = 0;
        for record in self.catalog().vault_secrets().await? {
            let wrapped = parse_wrapped(&record)?;
            if wrapped.key_name != name {
                continue;
            }
            let (Ok(account), Ok(region)) = (
                coffer_model::AccountId::new(&record.account_id),
                coffer_model::Region::new(&record.region),
            ) else {
                return Err(Error::dependency(format!(
                    "the catalog's record of vault {} names account {:?} and region {:?}, which cannot be read",
                    record.vault_name, record.account_id, record.region
                )));
            };
            let arn =
                coffer_model::Arn::backup_vault(&region, &account, &record.vault_name).to_string();
            if let Some(new) = keyring.rewrap(&wrapped, &arn)? {
                self.catalog()
                    .rewrap_vault_secret(&record, &serde_json::to_value(&new)?, now)
                    .await?;
                rewrapped += 1;
                // The copy beside the repository follows; were its storage
                // unreachable now, the next apply writes it.
                match self.env().storage_at(&record.location) {
                    Ok(storage) => {
                        if let Err(error) = self
                            .keep_secret_beside(
                                &storage,
                                &record.account_id,
                                &record.region,
                                &record.vault_name,
                            )
                            .await
                        {
                            tracing::warn!(vault = %record.vault_name, %error, "the secret beside the vault is not re-wrapped yet");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(vault = %record.vault_name, %error, "the secret beside the vault is not re-wrapped yet")
                    }
                }
            }
        }
        Ok((info, rewrapped))
    }
}
