//! Policy objects the API creates, changes and deletes one at a time
//! (frameworks, report plans): read with their stack, ARN and creation
//! time, listed a page at a time in name order, and written only when they
//! belong to no stack. A stack's object is changed by its files: the API
//! is refused with a Conflict naming the stack.

use coffer_catalog::{DesiredObject, ObjectKind, StoredObject, NO_STACK};

use crate::caller::Caller;
use crate::error::{Error, ErrorKind, Result};
use crate::paging::{name_token, PageRequest, Paged};
use crate::requests::Life;
use crate::Service;

/// An object with what the catalog knows about it besides its document.
#[derive(Clone, Debug)]
pub struct Declared<T> {
    pub object: T,
    pub arn: String,
    /// The stack that declares it; `None` when it was created through the
    /// API.
    pub stack: Option<String>,
    /// When the catalog first recorded it.
    pub creation_time: jiff::Timestamp,
    /// When it last changed (its creation time until it changes).
    pub update_time: jiff::Timestamp,
    /// The `CreatorRequestId` of the request that created it, if that
    /// carried one, for the kinds whose reads echo it (restore testing
    /// plans and selections: filled by GetRestoreTestingPlan and
    /// GetRestoreTestingSelection's reads).
    pub creator_request_id: Option<String>,
}

impl<T: serde::de::DeserializeOwned> Declared<T> {
    pub(crate) fn read(stored: StoredObject) -> Result<Declared<T>> {
        Ok(Declared {
            object: serde_json::from_value(stored.doc)?,
            arn: stored.arn,
            stack: (stored.stack != NO_STACK).then_some(stored.stack),
            creation_time: stored.created_at,
            update_time: stored.updated_at,
            creator_request_id: None,
        })
    }
}

impl<T> Declared<T> {
    /// The life of an object of no stack, whose creation may have carried
    /// a `CreatorRequestId`.
    fn life(&self) -> Option<Life> {
        self.stack.is_none().then(|| Life {
            arn: self.arn.clone(),
            created: self.creation_time,
            deleted: None,
        })
    }

    fn set_creator_request_id(&mut self, token: String) {
        self.creator_request_id = Some(token);
    }
}

impl Service {
    /// `found` with the `CreatorRequestId` of the request that created it
    /// (GetRestoreTestingPlan, GetRestoreTestingSelection).
    ///
    /// # Errors
    /// Catalog failures.
    pub(crate) async fn with_creator_request_id<T>(
        &self,
        mut found: Declared<T>,
    ) -> Result<Declared<T>> {
        self.fill_creator_request_ids(
            std::slice::from_mut(&mut found),
            Declared::life,
            Declared::set_creator_request_id,
        )
        .await?;
        Ok(found)
    }

    /// The object `name` of `kind` in the caller's account and region.
    ///
    /// # Errors
    /// `ResourceNotFound`, naming the objects there.
    pub(crate) async fn declared_row(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        name: &str,
    ) -> Result<StoredObject> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let catalog = self.catalog_for(caller);
        if let Some(stored) = catalog.stored_object(kind, account, region, name).await? {
            return Ok(stored);
        }
        let known = catalog.names_in(kind, account, region).await?;
        Err(Error::not_found(format!(
            "{} {name:?} does not exist in account {account}, region {region} ({}s there: {})",
            kind.label(),
            kind.label(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )))
    }

    /// The object `name` of `kind`, decoded.
    ///
    /// # Errors
    /// As [`Service::declared_row`].
    pub(crate) async fn declared<T: serde::de::DeserializeOwned>(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        name: &str,
    ) -> Result<Declared<T>> {
        Declared::read(self.declared_row(caller, kind, name).await?)
    }

    /// The objects of `kind` in the caller's account and region in name
    /// order, a page at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub(crate) async fn declared_page<T: serde::de::DeserializeOwned>(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        listing: &str,
        page: &PageRequest,
    ) -> Result<Paged<Declared<T>>> {
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        let found = self
            .catalog()
            .objects_page(
                kind,
                caller.account.as_str(),
                caller.region.as_str(),
                after.as_deref(),
                limit,
            )
            .await?;
        Ok(Paged {
            items: found
                .items
                .into_iter()
                .map(Declared::read)
                .collect::<Result<_>>()?,
            next_token: found.next.map(|name| name_token(listing, &name)),
        })
    }

    /// Records a new object of no stack, with its ledger entry under the
    /// caller.
    ///
    /// # Errors
    /// `AlreadyExists`, naming who owns the existing one.
    pub(crate) async fn create_declared(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        name: &str,
        arn: String,
        doc: serde_json::Value,
    ) -> Result<()> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let exists = |owner: String| {
            Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} {name:?} already exists in account {account}, region {region} ({owner}); choose another name",
                    kind.label()
                ),
            )
        };
        if let Some(existing) = self
            .catalog()
            .stored_object(kind, account, region, name)
            .await?
        {
            return Err(exists(if existing.stack == NO_STACK {
                "created through the API".to_string()
            } else {
                format!("declared by stack {:?}", existing.stack)
            }));
        }
        let desired = DesiredObject {
            kind,
            account_id: account.to_string(),
            region: region.to_string(),
            name: name.to_string(),
            arn,
            doc,
        };
        self.catalog_for(caller)
            .create_unowned_object(&desired, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Conflict { .. } => exists("created meanwhile".to_string()),
                other => other.into(),
            })
    }

    /// Refuses a change to a stack's object: a Conflict naming the stack
    /// and saying to change its files.
    ///
    /// # Errors
    /// `Conflict` for an object a stack declares.
    pub(crate) fn unowned(stored: &StoredObject, change: &str) -> Result<()> {
        match stored.owner() {
            coffer_catalog::Owner::Api => Ok(()),
            coffer_catalog::Owner::Stack(stack) => Err(Error::conflict(format!(
                "{} {:?} belongs to stack {stack:?}; {change} it in that stack's template and apply it",
                stored.kind.label(),
                stored.name,
            ))),
            owner => Err(Error::conflict(format!(
                "{} {:?} belongs to {owner}; {}",
                stored.kind.label(),
                stored.name,
                owner.remedy()
            ))),
        }
    }

    /// Replaces the document of an object of no stack, if it is still at
    /// the version read, with its ledger entry.
    ///
    /// # Errors
    /// `Conflict` for a stack's object or one that changed meanwhile.
    pub(crate) async fn update_declared(
        &self,
        caller: &Caller,
        stored: &StoredObject,
        doc: &serde_json::Value,
    ) -> Result<()> {
        Self::unowned(stored, "change")?;
        self.catalog_for(caller)
            .update_unowned_object(stored, doc, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Conflict { .. } => Error::conflict(format!(
                    "{} {:?} changed meanwhile; read it again and retry",
                    stored.kind.label(),
                    stored.name
                )),
                other => other.into(),
            })?;
        Ok(())
    }

    /// Deletes an object of no stack, if it is still at the version read,
    /// with its ledger entry.
    ///
    /// # Errors
    /// `Conflict` for a stack's object or one that changed meanwhile.
    pub(crate) async fn delete_declared(
        &self,
        caller: &Caller,
        stored: &StoredObject,
    ) -> Result<()> {
        Self::unowned(stored, "delete")?;
        self.catalog_for(caller)
            .delete_unowned_object(stored, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Conflict { .. } => Error::conflict(format!(
                    "{} {:?} changed meanwhile; read it again and retry",
                    stored.kind.label(),
                    stored.name
                )),
                coffer_catalog::Error::Blocked { reasons, .. } => {
                    Error::invalid_request(reasons.join("; "))
                }
                other => other.into(),
            })
    }
}

/// The first error among `findings`, as an `InvalidParameterValue`
/// naming the field.
///
/// # Errors
/// The first error finding.
pub(crate) fn refuse_errors(findings: coffer_model::Findings, what: &str) -> Result<()> {
    match findings
        .iter()
        .find(|f| f.severity == coffer_model::Severity::Error)
    {
        Some(finding) => Err(Error::invalid_parameter(format!(
            "{what} is not valid: {finding}"
        ))),
        None => Ok(()),
    }
}
