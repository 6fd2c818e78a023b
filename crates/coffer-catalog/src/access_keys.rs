//! Access keys of the AWS Backup API and the requests it refused
//! (migration 0014).
//!
//! A key's secret is stored only in its wrapped form (what the keyring
//! gives back, as JSON); creating, disabling, enabling and deleting a key
//! are ledger entries (kind `access key`, subject the key ID, the document
//! its metadata, never the secret).
//! Refusals are counted, one row per (source, reason, hour): a flood of
//! bad requests increments counts, and past [`REFUSAL_SOURCES_PER_HOUR`]
//! sources in an hour the rest share one row, so the table cannot grow
//! without bound. The first refusal of each row is a ledger entry (kind
//! `auth refusal`), so the ledger grows by at most that many entries an
//! hour too.

use sqlx::Row;

use crate::error::{Error, Result};
use crate::ledger;
use crate::time::{format_ts, parse_ts};
use crate::Catalog;

/// How many distinct (source, reason) rows an hour gets before further
/// sources are counted together under [`OTHER_SOURCES`].
pub const REFUSAL_SOURCES_PER_HOUR: i64 = 1000;

/// The source the refusals past the hourly cap are counted under.
pub const OTHER_SOURCES: &str = "(other sources)";

/// An access key as the catalog holds it: who it is for, whether it may be
/// used, and its secret wrapped by the keyring.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessKeyRecord {
    pub key_id: String,
    pub user_name: String,
    pub account_id: String,
    /// The principal ARN the key acts as.
    pub principal: String,
    /// `Active` or `Inactive`, as IAM names them.
    pub status: String,
    /// The wrapped secret (JSON of the keyring's wrapped form).
    pub wrapped: serde_json::Value,
    pub created_at: jiff::Timestamp,
    pub last_used_at: Option<jiff::Timestamp>,
    pub last_used_region: Option<String>,
    pub version: i64,
}

impl AccessKeyRecord {
    /// What the ledger records of the key: its metadata, never the secret.
    fn evidence_doc(&self) -> String {
        serde_json::json!({
            "AccessKeyId": self.key_id,
            "UserName": self.user_name,
            "AccountId": self.account_id,
            "Principal": self.principal,
            "Status": self.status,
        })
        .to_string()
    }
}

/// One counted row of refusals.
#[derive(Clone, Debug, PartialEq)]
pub struct RefusalRecord {
    /// The access key the requests named, when Coffer knows it, else the
    /// peer's address (or [`OTHER_SOURCES`]).
    pub source: String,
    /// The exception the requests got (`InvalidSignatureException`, ...).
    pub reason: String,
    /// The start of the hour counted.
    pub hour: jiff::Timestamp,
    pub count: i64,
    pub first_at: jiff::Timestamp,
    pub last_at: jiff::Timestamp,
    /// The first refusal's words (what was wrong with the request).
    pub detail: String,
}

const KEY_COLUMNS: &str = "key_id, user_name, account_id, principal, status, wrapped, created_at, last_used_at, last_used_region, version";

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<AccessKeyRecord> {
    let key_id: String = row.try_get("key_id")?;
    let wrapped: String = row.try_get("wrapped")?;
    let created: String = row.try_get("created_at")?;
    let last_used: Option<String> = row.try_get("last_used_at")?;
    let what = format!("access key {key_id}");
    Ok(AccessKeyRecord {
        user_name: row.try_get("user_name")?,
        account_id: row.try_get("account_id")?,
        principal: row.try_get("principal")?,
        status: row.try_get("status")?,
        wrapped: serde_json::from_str(&wrapped).map_err(|source| Error::Corrupt {
            what: what.clone(),
            source,
        })?,
        created_at: parse_ts(&created, &what)?,
        last_used_at: last_used.map(|t| parse_ts(&t, &what)).transpose()?,
        last_used_region: row.try_get("last_used_region")?,
        version: row.try_get("version")?,
        key_id,
    })
}

/// A cheap reading of everything a request's authentication depends on:
/// the ledger's length (every write of an access key or an IAM object
/// appends an entry in its own transaction) and the stacks (whose regions
/// a request may act in). What was read after a stamp is current until
/// the stamp reads differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthStamp {
    ledger_seq: Option<i64>,
    stacks: i64,
    stacks_updated: Option<String>,
}

/// The start of the hour `now` is in.
fn hour_of(now: jiff::Timestamp) -> jiff::Timestamp {
    let seconds = now.as_second();
    jiff::Timestamp::from_second(seconds - seconds.rem_euclid(3600)).unwrap_or(now)
}

impl Catalog {
    /// Records a new access key, with its ledger entry.
    ///
    /// # Errors
    /// `Conflict` when the key ID exists; database errors.
    pub async fn insert_access_key(
        &self,
        key: &AccessKeyRecord,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let now_s = format_ts(now);
        let inserted = sqlx::query("INSERT INTO access_keys (key_id, user_name, account_id, principal, status, wrapped, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)")
            .bind(&key.key_id)
            .bind(&key.user_name)
            .bind(&key.account_id)
            .bind(&key.principal)
            .bind(&key.status)
            .bind(key.wrapped.to_string())
            .bind(&now_s)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::Conflict {
                    what: format!("access key {}", key.key_id),
                })
            }
            Err(other) => return Err(other.into()),
        }
        let event = format!("CREATED for {} ({})", key.principal, key.status);
        ledger::append(
            &mut tx,
            self,
            "access key",
            &key.key_id,
            &event,
            key.evidence_doc().as_bytes(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The [`AuthStamp`] now: one statement of three index reads.
    ///
    /// # Errors
    /// Database errors.
    pub async fn auth_stamp(&self) -> Result<AuthStamp> {
        let row = sqlx::query(
            "SELECT (SELECT MAX(seq) FROM ledger) AS seq, (SELECT COUNT(*) FROM stacks) AS stacks, (SELECT MAX(updated_at) FROM stacks) AS stacks_updated",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(AuthStamp {
            ledger_seq: row.try_get("seq")?,
            stacks: row.try_get("stacks")?,
            stacks_updated: row.try_get("stacks_updated")?,
        })
    }

    /// One access key by ID.
    ///
    /// # Errors
    /// Database errors, an unreadable row.
    pub async fn access_key(&self, key_id: &str) -> Result<Option<AccessKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM access_keys WHERE key_id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| key_from_row(&r)).transpose()
    }

    /// The access keys of an account, of one user or of all, by user then
    /// creation.
    ///
    /// # Errors
    /// Database errors, an unreadable row.
    pub async fn access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>> {
        let rows = match user_name {
            Some(user) => sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = $1 AND user_name = $2 ORDER BY user_name, created_at, key_id"))
                .bind(account_id)
                .bind(user)
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = $1 ORDER BY user_name, created_at, key_id"))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?,
        };
        rows.iter().map(key_from_row).collect()
    }

    /// Sets a key's status (`Active`, `Inactive`) if it is still at
    /// `key.version`, with its ledger entry.
    ///
    /// # Errors
    /// `Conflict` when it changed meanwhile; database errors.
    pub async fn set_access_key_status(
        &self,
        key: &AccessKeyRecord,
        status: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query("UPDATE access_keys SET status = $1, updated_at = $2, version = version + 1 WHERE key_id = $3 AND version = $4")
            .bind(status)
            .bind(format_ts(now))
            .bind(&key.key_id)
            .bind(key.version)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(Error::Conflict {
                what: format!("access key {}", key.key_id),
            });
        }
        let changed = AccessKeyRecord {
            status: status.to_string(),
            ..key.clone()
        };
        ledger::append(
            &mut tx,
            self,
            "access key",
            &key.key_id,
            &format!("STATUS {status}"),
            changed.evidence_doc().as_bytes(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a key if it is still at `key.version`, with its ledger entry.
    ///
    /// # Errors
    /// `Conflict` when it changed meanwhile; database errors.
    pub async fn delete_access_key(
        &self,
        key: &AccessKeyRecord,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM access_keys WHERE key_id = $1 AND version = $2")
            .bind(&key.key_id)
            .bind(key.version)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(Error::Conflict {
                what: format!("access key {}", key.key_id),
            });
        }
        ledger::append(
            &mut tx,
            self,
            "access key",
            &key.key_id,
            "DELETED",
            key.evidence_doc().as_bytes(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes that a key authenticated a request acting in `region`. Not a
    /// ledger entry: a use changes nothing an auditor asks about, and
    /// recording every request would grow the ledger with the traffic.
    ///
    /// # Errors
    /// Database errors.
    pub async fn note_access_key_use(
        &self,
        key_id: &str,
        region: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE access_keys SET last_used_at = $1, last_used_region = $2 WHERE key_id = $3",
        )
        .bind(format_ts(now))
        .bind(region)
        .bind(key_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Counts one refused request from `source` for `reason` in the hour
    /// of `now`; the first of its row also records `detail` and appends a
    /// ledger entry. Returns the row's count.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record_refusal(
        &self,
        source: &str,
        reason: &str,
        detail: &str,
        now: jiff::Timestamp,
    ) -> Result<i64> {
        let hour = format_ts(hour_of(now));
        let now_s = format_ts(now);
        let mut tx = self.begin_write().await?;
        let mut source = source.to_string();
        let existing: Option<i64> = sqlx::query(
            "SELECT count FROM auth_refusals WHERE source = $1 AND reason = $2 AND hour = $3",
        )
        .bind(&source)
        .bind(reason)
        .bind(&hour)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get("count"))
        .transpose()?;
        let existing = match existing {
            Some(count) => Some(count),
            None => {
                let rows: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM auth_refusals WHERE hour = $1")
                        .bind(&hour)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                if rows >= REFUSAL_SOURCES_PER_HOUR {
                    source = OTHER_SOURCES.to_string();
                    sqlx::query("SELECT count FROM auth_refusals WHERE source = $1 AND reason = $2 AND hour = $3")
                        .bind(&source)
                        .bind(reason)
                        .bind(&hour)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| row.try_get("count"))
                        .transpose()?
                } else {
                    None
                }
            }
        };
        let count = match existing {
            Some(count) => {
                sqlx::query("UPDATE auth_refusals SET count = count + 1, last_at = $1 WHERE source = $2 AND reason = $3 AND hour = $4")
                    .bind(&now_s)
                    .bind(&source)
                    .bind(reason)
                    .bind(&hour)
                    .execute(&mut *tx)
                    .await?;
                count + 1
            }
            None => {
                sqlx::query("INSERT INTO auth_refusals (source, reason, hour, count, first_at, last_at, detail) VALUES ($1, $2, $3, 1, $4, $4, $5)")
                    .bind(&source)
                    .bind(reason)
                    .bind(&hour)
                    .bind(&now_s)
                    .bind(detail)
                    .execute(&mut *tx)
                    .await?;
                let doc = serde_json::json!({
                    "Source": source,
                    "Reason": reason,
                    "Hour": hour,
                    "Detail": detail,
                })
                .to_string();
                ledger::append(
                    &mut tx,
                    self,
                    "auth refusal",
                    &source,
                    reason,
                    doc.as_bytes(),
                    now,
                )
                .await?;
                1
            }
        };
        tx.commit().await?;
        Ok(count)
    }

    /// The counted refusals of the hours from `since` on, newest hour
    /// first.
    ///
    /// # Errors
    /// Database errors, an unreadable row.
    pub async fn refusals_since(&self, since: jiff::Timestamp) -> Result<Vec<RefusalRecord>> {
        let rows = sqlx::query("SELECT source, reason, hour, count, first_at, last_at, detail FROM auth_refusals WHERE hour >= $1 ORDER BY hour DESC, source, reason")
            .bind(format_ts(hour_of(since)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let hour: String = row.try_get("hour")?;
                let first: String = row.try_get("first_at")?;
                let last: String = row.try_get("last_at")?;
                Ok(RefusalRecord {
                    source: row.try_get("source")?,
                    reason: row.try_get("reason")?,
                    hour: parse_ts(&hour, "refusal")?,
                    count: row.try_get("count")?,
                    first_at: parse_ts(&first, "refusal")?,
                    last_at: parse_ts(&last, "refusal")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}
