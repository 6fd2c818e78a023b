//! Access keys of the AWS Backup API, one principal each (as IAM's
//! CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey), and
//! what a signed request is allowed to act as.
//!
//! A key acts as `arn:coffer:iam::<account>:user/<UserName>` in its
//! account. Its secret is shown once, when it is created; the catalog
//! keeps it only wrapped by the keyring (bound to the key ID), and it is
//! unwrapped only to check a request's signature. Requests the API refuses
//! are counted (`Catalog::record_refusal`), readable here.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError};

use coffer_catalog::{AccessKeyRecord, AuthStamp, ObjectKind, RefusalRecord};
use coffer_model::{AccountId, IamUser, ManagedPolicy, Region};
use coffer_vault::{AccessPolicy, Keyring, Secret, WrappedSecret, DEFAULT_KEY};

use crate::caller::{Action, Caller, Identity, IdentityPolicy, Target, UserIdentity};
use crate::error::{Error, Result};
use crate::stack::IAM_REGION;
use crate::Service;

/// The alphabet of key IDs (base32, as AWS's key IDs look).
const KEY_ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Every Coffer key ID starts so (AWS's start `AKIA`).
pub const KEY_ID_PREFIX: &str = "AKCF";

/// Whether a key may sign requests, as IAM names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    /// `Active` or `Inactive` (any case).
    ///
    /// # Errors
    /// `InvalidParameterValue` naming the two.
    pub fn parse(text: &str) -> Result<KeyStatus> {
        match text.to_ascii_lowercase().as_str() {
            "active" => Ok(KeyStatus::Active),
            "inactive" => Ok(KeyStatus::Inactive),
            _ => Err(Error::invalid_parameter(format!(
                "{text:?} is not a key status; use Active or Inactive"
            ))),
        }
    }
}

/// An access key as IAM's ListAccessKeys shows it, with when it was last
/// used (GetAccessKeyLastUsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub user_name: String,
    pub account_id: String,
    pub principal: String,
    pub status: KeyStatus,
    pub create_date: jiff::Timestamp,
    pub last_used_date: Option<jiff::Timestamp>,
    pub last_used_region: Option<String>,
}

/// A secret access key: shown once, never logged (`Debug` is `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    /// The secret, to show the user once or to sign with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(***)")
    }
}

/// A key just created, with its secret.
#[derive(Clone, Debug)]
pub struct NewAccessKey {
    pub key: AccessKey,
    pub secret: SecretAccessKey,
}

/// Why a request's key cannot be used, whatever its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such key.
    Unknown,
    /// The key is Inactive.
    Disabled,
}

/// What checking a request's signature needs of its key, and what the
/// request then acts with.
#[derive(Clone, Debug)]
pub struct SigningKey {
    pub access_key_id: String,
    /// The IAM user the key belongs to.
    pub user_name: String,
    pub secret: SecretAccessKey,
    pub principal: String,
    pub account_id: AccountId,
    /// The user's identity policies (a user no stack declares has none).
    pub identity: Arc<UserIdentity>,
    /// The regions a request may act in: the configured default region
    /// and those of every applied stack.
    pub regions: Arc<BTreeSet<String>>,
}

/// The keys authentication has read, each as it will answer, valid while
/// the catalog's [`AuthStamp`] reads as it did when they were read: a
/// key disabled or deleted, an identity policy changed or a stack applied
/// by any process appends a ledger entry (or changes the stacks), so the
/// next request reads the stamp differently and reads its key again.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    stamp: Option<AuthStamp>,
    /// Known keys only (an unknown key is read again each time, so a
    /// flood of made-up key IDs cannot grow this).
    keys: HashMap<String, std::result::Result<Arc<SigningKey>, KeyRefusal>>,
}

/// What a refused request is recorded as: by whom (the key, or the peer's
/// address when the key is unknown), why (the exception), and the words.
#[derive(Clone, Debug)]
pub struct Refused<'a> {
    pub source: &'a str,
    pub reason: &'a str,
    pub detail: &'a str,
}

fn key_of(record: &AccessKeyRecord) -> AccessKey {
    AccessKey {
        access_key_id: record.key_id.clone(),
        user_name: record.user_name.clone(),
        account_id: record.account_id.clone(),
        principal: record.principal.clone(),
        status: if record.status == KeyStatus::Active.as_str() {
            KeyStatus::Active
        } else {
            KeyStatus::Inactive
        },
        create_date: record.created_at,
        last_used_date: record.last_used_at,
        last_used_region: record.last_used_region.clone(),
    }
}

/// The principal ARN of IAM user `user_name` in `account`.
pub fn user_principal(account: &AccountId, user_name: &str) -> String {
    format!("arn:coffer:iam::{account}:user/{user_name}")
}

/// Checks a user name as IAM does: 1-64 of letters, digits and `+=,.@_-`.
///
/// # Errors
/// `InvalidParameterValue` saying what is allowed.
pub fn check_user_name(user_name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if user_name.is_empty() || user_name.len() > 64 || !user_name.chars().all(allowed) {
        return Err(Error::invalid_parameter(format!(
            "{user_name:?} is not a user name; use 1 to 64 letters, digits and +=,.@_-"
        )));
    }
    Ok(())
}

/// What the keyring binds a key's wrapped secret to.
fn purpose(key_id: &str) -> String {
    format!("access-key:{key_id}")
}

/// A new key ID: the prefix and 16 random base32 characters.
fn new_key_id() -> Result<String> {
    let random = Secret::random(16)?;
    let mut id = String::from(KEY_ID_PREFIX);
    // 256 is a multiple of 32, so each character is uniform.
    id.extend(
        random
            .expose()
            .iter()
            .map(|b| char::from(KEY_ID_ALPHABET[usize::from(b % 32)])),
    );
    Ok(id)
}

impl Service {
    /// Creates an access key for IAM user `user_name` of the caller's
    /// account (CreateAccessKey): Active, its secret returned once and kept
    /// only wrapped by the keyring.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad user name; keyring and catalog
    /// failures.
    pub async fn create_access_key(
        &self,
        caller: &Caller,
        user_name: &str,
    ) -> Result<NewAccessKey> {
        self.authorize(caller, Action::CreateAccessKey, Target::Account)?;
        check_user_name(user_name)?;
        // A key acts as its user, whose permissions a stack declares; a key
        // for a user no stack declares could do nothing.
        let declared = self
            .catalog()
            .names_in(ObjectKind::IamUser, caller.account.as_str(), IAM_REGION)
            .await?;
        if !declared.iter().any(|name| name == user_name) {
            let known = if declared.is_empty() {
                "no IAM user is declared there".to_string()
            } else {
                format!("users there: {}", declared.join(", "))
            };
            return Err(Error::not_found(format!(
                "IAM user {user_name:?} is not declared in account {} ({known}); declare it as an AWS::IAM::User with its policies in a stack and apply it, then create its key",
                caller.account
            )));
        }
        let keyring = Keyring::open(self.config().keyring_path())?;
        let now = self.now();
        keyring.ensure(DEFAULT_KEY, now)?;
        let key_id = new_key_id()?;
        let secret = SecretAccessKey(hex_of(Secret::random(20)?.expose()));
        let wrapped = keyring.wrap(
            DEFAULT_KEY,
            &purpose(&key_id),
            &Secret::new(secret.expose().as_bytes().to_vec()),
        )?;
        let record = AccessKeyRecord {
            key_id,
            user_name: user_name.to_string(),
            account_id: caller.account.to_string(),
            principal: user_principal(&caller.account, user_name),
            status: KeyStatus::Active.as_str().to_string(),
            wrapped: serde_json::to_value(&wrapped)?,
            created_at: now,
            last_used_at: None,
            last_used_region: None,
            version: 1,
        };
        self.catalog_for(caller)
            .insert_access_key(&record, now)
            .await?;
        tracing::info!(key_id = %record.key_id, principal = %record.principal, "access key created");
        Ok(NewAccessKey {
            key: key_of(&record),
            secret,
        })
    }

    /// The access keys of the caller's account, of one user or all
    /// (ListAccessKeys, with when each was last used).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn list_access_keys(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKey>> {
        self.authorize(caller, Action::ListAccessKeys, Target::Account)?;
        Ok(self
            .catalog()
            .access_keys(caller.account.as_str(), user_name)
            .await?
            .iter()
            .map(key_of)
            .collect())
    }

    async fn own_access_key(&self, caller: &Caller, key_id: &str) -> Result<AccessKeyRecord> {
        match self.catalog().access_key(key_id).await? {
            Some(record) if record.account_id == caller.account.as_str() => Ok(record),
            _ => Err(Error::not_found(format!(
                "there is no access key {key_id} in account {}",
                caller.account
            ))),
        }
    }

    /// Makes a key Active or Inactive (UpdateAccessKey); an Inactive key's
    /// requests are refused.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` when it changed meanwhile.
    pub async fn update_access_key(
        &self,
        caller: &Caller,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<AccessKey> {
        self.authorize(caller, Action::UpdateAccessKey, Target::Account)?;
        let record = self.own_access_key(caller, key_id).await?;
        if record.status != status.as_str() {
            self.catalog_for(caller)
                .set_access_key_status(&record, status.as_str(), self.now())
                .await?;
        }
        Ok(AccessKey {
            status,
            ..key_of(&record)
        })
    }

    /// Deletes a key (DeleteAccessKey): its requests are refused from now.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` when it changed meanwhile.
    pub async fn delete_access_key(&self, caller: &Caller, key_id: &str) -> Result<AccessKey> {
        self.authorize(caller, Action::DeleteAccessKey, Target::Account)?;
        let record = self.own_access_key(caller, key_id).await?;
        self.catalog_for(caller)
            .delete_access_key(&record, self.now())
            .await?;
        Ok(key_of(&record))
    }

    /// The refused API requests counted since `since`, newest hour first.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn auth_refusals(
        &self,
        caller: &Caller,
        since: jiff::Timestamp,
    ) -> Result<Vec<RefusalRecord>> {
        self.authorize(caller, Action::LookupAuthRefusals, Target::Account)?;
        Ok(self.catalog().refusals_since(since).await?)
    }

    /// The key a request names, with its secret unwrapped to check the
    /// signature, its user's identity policies and the regions it may act
    /// in; an unknown or Inactive key is refused whatever the signature
    /// says. One catalog read (the [`AuthStamp`]) when nothing it depends
    /// on changed since the key was last read; the key, its user's
    /// policies and the stacks' regions read again when anything did.
    ///
    /// # Errors
    /// The refusal; keyring and catalog failures as errors inside.
    pub async fn signing_key(
        &self,
        key_id: &str,
    ) -> Result<std::result::Result<Arc<SigningKey>, KeyRefusal>> {
        let stamp = self.catalog().auth_stamp().await?;
        {
            let mut cache = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.stamp.as_ref() != Some(&stamp) {
                cache.keys.clear();
                cache.stamp = Some(stamp.clone());
            }
            if let Some(known) = cache.keys.get(key_id) {
                return Ok(known.clone());
            }
        }
        let Some(read) = self.read_signing_key(key_id).await? else {
            return Ok(Err(KeyRefusal::Unknown));
        };
        // Read after the stamp, so at least as new as it: kept only while
        // the cache is still at that stamp.
        let mut cache = self.auth.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.stamp.as_ref() == Some(&stamp) {
            cache.keys.insert(key_id.to_string(), read.clone());
        }
        Ok(read)
    }

    /// A key as the catalog holds it now (`None`: no such key).
    async fn read_signing_key(
        &self,
        key_id: &str,
    ) -> Result<Option<std::result::Result<Arc<SigningKey>, KeyRefusal>>> {
        let Some(record) = self.catalog().access_key(key_id).await? else {
            return Ok(None);
        };
        if record.status != KeyStatus::Active.as_str() {
            return Ok(Some(Err(KeyRefusal::Disabled)));
        }
        let secret = self.unwrapped_secret(key_id, &record)?;
        let account_id = AccountId::new(&record.account_id).map_err(|e| {
            Error::dependency(format!(
                "access key {key_id} names account {:?}: {e}",
                record.account_id
            ))
        })?;
        let identity = self.user_identity(&account_id, &record.user_name).await?;
        let regions = self.known_regions().await?;
        Ok(Some(Ok(Arc::new(SigningKey {
            access_key_id: record.key_id,
            user_name: record.user_name,
            secret,
            principal: record.principal,
            account_id,
            identity: Arc::new(identity),
            regions: Arc::new(regions),
        }))))
    }

    /// A key's secret, unwrapped by the keyring once per process and wrapped
    /// form (reading the keyring for every request was most of a request's
    /// cost); the key's status is checked by the caller every time.
    fn unwrapped_secret(&self, key_id: &str, record: &AccessKeyRecord) -> Result<SecretAccessKey> {
        let wrapped_text = record.wrapped.to_string();
        let cached = self
            .unwrapped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key_id)
            .filter(|(wrapped, _)| *wrapped == wrapped_text)
            .map(|(_, secret)| secret.clone());
        if let Some(secret) = cached {
            return Ok(secret);
        }
        let wrapped: WrappedSecret = serde_json::from_value(record.wrapped.clone())?;
        let keyring = Keyring::open(self.config().keyring_path())?;
        let secret = keyring.unwrap_secret(&wrapped, &purpose(key_id))?;
        let secret = SecretAccessKey(String::from_utf8(secret.expose().to_vec()).map_err(|_| {
            Error::dependency(format!(
                "the secret of access key {key_id} does not unwrap to text; delete the key and create another"
            ))
        })?);
        self.unwrapped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key_id.to_string(), (wrapped_text, secret.clone()));
        Ok(secret)
    }

    /// The caller a request signed with `key` acts as: the key's principal
    /// and account, in `region` (the credential scope's), with its user's
    /// identity policies as [`Service::signing_key`] read them. No
    /// operating-system user.
    pub fn api_caller(&self, key: &SigningKey, region: Region) -> Caller {
        Caller::new(key.principal.clone(), key.account_id.clone(), region)
            .with_identity(Identity::User(Arc::clone(&key.identity)))
    }

    /// IAM user `user_name`'s identity policies: its inline policies, the
    /// managed policies it names and those naming it.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn user_identity(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Result<UserIdentity> {
        let catalog = self.catalog();
        let mut identity = UserIdentity {
            user_name: user_name.to_string(),
            declared: false,
            policies: Vec::new(),
            unevaluable: None,
        };
        let Some(user) = catalog
            .object::<IamUser>(ObjectKind::IamUser, account.as_str(), IAM_REGION, user_name)
            .await?
        else {
            return Ok(identity);
        };
        identity.declared = true;
        let mut documents = Vec::new();
        for inline in &user.policies {
            documents.push((
                format!(
                    "inline policy {:?} of user {user_name:?}",
                    inline.policy_name
                ),
                inline.policy_document.clone(),
            ));
        }
        let managed = catalog
            .objects_in::<ManagedPolicy>(ObjectKind::IamManagedPolicy, account.as_str(), IAM_REGION)
            .await?;
        for policy in managed {
            let arn = coffer_model::managed_policy_arn(account, &policy.managed_policy_name);
            if policy.users.iter().any(|u| u == user_name)
                || user.managed_policy_arns.contains(&arn)
            {
                documents.push((
                    format!("managed policy {:?}", policy.managed_policy_name),
                    policy.policy_document,
                ));
            }
        }
        for (source, document) in documents {
            match AccessPolicy::from_json(&document) {
                Ok(policy) => identity.policies.push(IdentityPolicy { source, policy }),
                Err(error) => {
                    identity.unevaluable = Some(format!("{source} cannot be evaluated ({error})"));
                }
            }
        }
        Ok(identity)
    }

    /// The regions a request may act in: the configured default region
    /// and those of every applied stack.
    ///
    /// # Errors
    /// Catalog failures.
    async fn known_regions(&self) -> Result<BTreeSet<String>> {
        let mut regions = BTreeSet::from([self.config().default_region().to_string()]);
        for stack in self.catalog().stacks().await? {
            regions.insert(stack.region);
        }
        Ok(regions)
    }

    /// Notes that `key_id` authenticated a request acting in `region`.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn note_key_use(&self, key_id: &str, region: &str) -> Result<()> {
        Ok(self
            .catalog()
            .note_access_key_use(key_id, region, self.now())
            .await?)
    }

    /// Counts a refused request (rate-limited rows; the first of each
    /// source, reason and hour is a ledger entry).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn record_refusal(&self, refused: &Refused<'_>) -> Result<i64> {
        Ok(self
            .catalog()
            .as_actor(coffer_catalog::Actor::new(
                "coffer:api".to_string(),
                None,
                None,
            ))
            .record_refusal(refused.source, refused.reason, refused.detail, self.now())
            .await?)
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_iam() {
        check_user_name("ops.bot@example-1").unwrap();
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            let error = check_user_name(bad).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidParameterValue);
        }
    }

    #[test]
    fn key_ids_look_like_aws_key_ids_and_secrets_never_print() {
        let id = new_key_id().unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with(KEY_ID_PREFIX));
        assert!(id.bytes().all(|b| KEY_ID_ALPHABET.contains(&b)));
        assert_ne!(id, new_key_id().unwrap());
        let secret = SecretAccessKey("abc".into());
        assert_eq!(format!("{secret:?}"), "SecretAccessKey(***)");
    }
}
