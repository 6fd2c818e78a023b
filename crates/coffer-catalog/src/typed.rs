//! Typed reads of policy objects: one object of a kind by account, region
//! and name (or by ARN), and the objects of a kind in an account and
//! region, each decoded into the caller's model type. Every read seeks an
//! index (`objects`' primary key `(kind, account_id, region, name)`,
//! `objects_by_arn`; for resources the `resources` key and
//! `resources_by_place`), so no caller lists a whole kind to filter it.

use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::objects::ObjectKind;
use crate::Catalog;

/// A stored document decoded as `T`; `what` and `name` say which when it
/// cannot be.
fn decode<T: DeserializeOwned>(kind: ObjectKind, name: &str, doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|source| Error::Corrupt {
        what: format!("{} {name}", kind.label()),
        source,
    })
}

impl Catalog {
    /// The object of `kind` named `name` in an account and region, decoded
    /// as `T` (a resource is named by its ARN, as `list_objects` names it).
    ///
    /// # Errors
    /// On database errors, or a stored document that does not read as `T`.
    pub async fn object<T: DeserializeOwned>(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<T>> {
        let row = if kind == ObjectKind::Resource {
            sqlx::query(
                "SELECT doc FROM resources WHERE arn = $1 AND account_id = $2 AND region = $3",
            )
            .bind(name)
            .bind(account_id)
            .bind(region)
            .fetch_optional(&self.pool)
            .await?
        } else {
            sqlx::query("SELECT doc FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 AND name = $4")
                .bind(kind.as_str())
                .bind(account_id)
                .bind(region)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
        };
        row.map(|row| {
            let doc: String = row.try_get("doc")?;
            decode(kind, name, &doc)
        })
        .transpose()
    }

    /// The object of `kind` whose ARN is `arn`, decoded as `T`.
    ///
    /// # Errors
    /// On database errors, or a stored document that does not read as `T`.
    pub async fn object_by_arn<T: DeserializeOwned>(
        &self,
        kind: ObjectKind,
        arn: &str,
    ) -> Result<Option<T>> {
        let row = if kind == ObjectKind::Resource {
            sqlx::query("SELECT arn AS name, doc FROM resources WHERE arn = $1")
                .bind(arn)
                .fetch_optional(&self.pool)
                .await?
        } else {
            sqlx::query("SELECT name, doc FROM objects WHERE arn = $1 AND kind = $2")
                .bind(arn)
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await?
        };
        row.map(|row| {
            let name: String = row.try_get("name")?;
            let doc: String = row.try_get("doc")?;
            decode(kind, &name, &doc)
        })
        .transpose()
    }

    /// The objects of `kind` in an account and region, in name order,
    /// decoded as `T`.
    ///
    /// # Errors
    /// On database errors, or a stored document that does not read as `T`.
    pub async fn objects_in<T: DeserializeOwned>(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<T>> {
        self.scope_rows(kind, account_id, region, true)
            .await?
            .iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let doc: String = row.try_get("doc")?;
                decode(kind, &name, &doc)
            })
            .collect()
    }

    /// The names of the objects of `kind` in an account and region, in
    /// order (what a "vaults there: ..." hint lists), documents unread.
    ///
    /// # Errors
    /// On database errors.
    pub async fn names_in(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<String>> {
        self.scope_rows(kind, account_id, region, false)
            .await?
            .iter()
            .map(|row| Ok(row.try_get("name")?))
            .collect()
    }

    /// The stored objects of `kind` in an account and region (with their
    /// stack, ARN and version), in name order.
    ///
    /// # Errors
    /// On database errors.
    pub async fn stored_in(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<crate::StoredObject>> {
        let rows = if kind == ObjectKind::Resource {
            sqlx::query("SELECT arn AS name, account_id, region, stack, doc, version, created_at, updated_at FROM resources WHERE account_id = $1 AND region = $2 ORDER BY arn")
                .bind(account_id)
                .bind(region)
                .fetch_all(&self.pool)
                .await?
        } else {
            sqlx::query("SELECT kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 ORDER BY name")
                .bind(kind.as_str())
                .bind(account_id)
                .bind(region)
                .fetch_all(&self.pool)
                .await?
        };
        rows.iter()
            .map(|row| crate::objects::object_from_row(row, Some(kind)))
            .collect()
    }

    async fn scope_rows(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        with_doc: bool,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let doc = if with_doc { ", doc" } else { "" };
        Ok(if kind == ObjectKind::Resource {
            sqlx::query(&format!("SELECT arn AS name{doc} FROM resources WHERE account_id = $1 AND region = $2 ORDER BY arn"))
                .bind(account_id)
                .bind(region)
                .fetch_all(&self.pool)
                .await?
        } else {
            sqlx::query(&format!("SELECT name{doc} FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 ORDER BY name"))
                .bind(kind.as_str())
                .bind(account_id)
                .bind(region)
                .fetch_all(&self.pool)
                .await?
        })
    }
}
