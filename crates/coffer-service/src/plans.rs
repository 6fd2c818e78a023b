//! Backup plans and selections as AWS Backup's plan operations see them:
//! created, read (any version), listed (deleted ones too), updated and
//! deleted one at a time (CreateBackupPlan, GetBackupPlan, ListBackupPlans,
//! UpdateBackupPlan, DeleteBackupPlan, ListBackupPlanVersions), their
//! selections likewise, and a plan document checked without being kept
//! (GetBackupPlanFromJSON).
//!
//! A plan's ID is its name, as for a stack's plan (the recovery points and
//! jobs it makes name it so), and its selections' IDs are their names.
//! Each write is a new version in the object history (`object_versions`),
//! and a plan's `VersionId` is that version's number: GetBackupPlan with an
//! old `VersionId` answers the document as it was then.
//!
//! A plan is checked exactly as `apply` checks a template's plan: the
//! model's validation (the one coffer-policy reports at a file position),
//! then coffer-policy's reference check against the vaults the catalog
//! holds. Plans and selections created here belong to no stack: `apply`
//! never changes them, the scheduler plans their rules as it plans a
//! stack's, and a stack's plan or selection is never changed here
//! (Conflict, naming the stack).

use coffer_catalog::{DesiredObject, ObjectKind, ObjectVersion, Owner, StoredObject, NO_STACK};
use coffer_model::{Arn, BackupPlan, BackupSelection, Findings, Severity};
use coffer_policy::{check_references, Declared, Diagnostics, External, LoadOptions, Origin};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::paging::{name_token, PageRequest, Paged};
use crate::requests::Life;
use crate::Service;

/// One version of a plan.
#[derive(Clone, Debug)]
pub struct PlanVersion {
    pub plan: BackupPlan,
    /// The plan's ID: its name.
    pub plan_id: String,
    pub arn: String,
    /// The version's number in the object history, as text.
    pub version_id: String,
    /// When this version was written.
    pub version_date: jiff::Timestamp,
    /// When the plan was created (its current life, for a live plan).
    pub creation_date: jiff::Timestamp,
    /// When the plan was deleted, for a deleted one.
    pub deletion_date: Option<jiff::Timestamp>,
    /// The stack that declares it; `None` when it was created through the
    /// API.
    pub stack: Option<String>,
    /// When a job of the plan last ran (the current version of a live
    /// plan only).
    pub last_execution_date: Option<jiff::Timestamp>,
    /// The `CreatorRequestId` of the CreateBackupPlan request that
    /// created it (this life of it), if that carried one (filled by the
    /// plan reads).
    pub creator_request_id: Option<String>,
}

/// A selection of a plan, with what the catalog knows about it.
#[derive(Clone, Debug)]
pub struct SelectionSummary {
    pub selection: BackupSelection,
    /// The selection's ID: its name.
    pub selection_id: String,
    /// The plan's ID: its name.
    pub plan_id: String,
    /// Its ARN in the catalog: the plan's, with `:selection:NAME`.
    pub arn: String,
    pub creation_date: jiff::Timestamp,
    pub stack: Option<String>,
    /// The `CreatorRequestId` of the CreateBackupSelection request that
    /// created it, if that carried one (filled by the selection reads).
    pub creator_request_id: Option<String>,
}

/// The catalog's name of a selection: `<plan>/<selection>`, as `apply`
/// names it.
pub(crate) fn selection_key(plan: &str, selection: &str) -> String {
    format!("{plan}/{selection}")
}

/// The first error of `findings`, located under `prefix` (the input
/// member), as AWS's InvalidParameterValueException.
fn refuse_findings(prefix: &str, findings: &Findings) -> Result<()> {
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| {
            let mut finding = f.clone();
            finding.field = coffer_model::join_field(prefix, &f.field);
            finding.to_string()
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::invalid_parameter(errors.join("; ")))
}

/// A template path of coffer-policy's reference check, in the API's
/// member names (`BackupPlanRule[0].TargetBackupVault` is
/// `Rules[0].TargetBackupVaultName`).
fn api_path(subject: &str) -> String {
    subject
        .replace("BackupPlanRule", "Rules")
        .replace("TargetBackupVault", "TargetBackupVaultName")
}

fn owner(stored: &StoredObject) -> Option<String> {
    (stored.stack != NO_STACK).then(|| stored.stack.clone())
}

/// The life of a plan version of no stack, whose creation may have
/// carried a `CreatorRequestId`.
fn plan_life(plan: &PlanVersion) -> Option<Life> {
    plan.stack.is_none().then(|| Life {
        arn: plan.arn.clone(),
        created: plan.creation_date,
        deleted: plan.deletion_date,
    })
}

fn set_plan_token(plan: &mut PlanVersion, token: String) {
    plan.creator_request_id = Some(token);
}

/// The life of a selection of no stack.
fn selection_life(selection: &SelectionSummary) -> Option<Life> {
    selection.stack.is_none().then(|| Life {
        arn: selection.arn.clone(),
        created: selection.creation_date,
        deleted: None,
    })
}

fn set_selection_token(selection: &mut SelectionSummary, token: String) {
    selection.creator_request_id = Some(token);
}

impl Service {
    /// Checks a plan document as AWS's GetBackupPlanFromJSON does, without
    /// the catalog: every field as the model (and so `apply`) validates it.
    ///
    /// # Errors
    /// `InvalidParameterValue` naming each wrong field's path under
    /// `BackupPlan`.
    pub fn check_backup_plan_document(&self, caller: &Caller, plan: &BackupPlan) -> Result<()> {
        self.authorize(caller, Action::GetBackupPlanFromJSON, Target::Account)?;
        refuse_findings("BackupPlan", &plan.validate())
    }

    /// Checks a plan as `apply` checks a template's: the model's validation,
    /// then coffer-policy's reference check (target vaults exist in the
    /// caller's account and region).
    async fn check_backup_plan(&self, caller: &Caller, plan: &BackupPlan) -> Result<()> {
        refuse_findings("BackupPlan", &plan.validate())?;
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let mut external = External::default();
        for vault in self
            .catalog()
            .stored_in(ObjectKind::BackupVault, account, region)
            .await?
        {
            let lock = vault
                .doc
                .get("LockConfiguration")
                .and_then(|l| serde_json::from_value(l.clone()).ok());
            external.vaults.insert(vault.name.clone(), lock);
        }
        let options = LoadOptions {
            account: caller.account.clone(),
            region: caller.region.clone(),
            stack_name: String::new(),
            parameters: Default::default(),
        };
        let mut set = coffer_policy::PolicySet::default();
        set.plans.push(Declared {
            value: plan.clone(),
            origin: Origin {
                file: "request".into(),
                logical_id: "BackupPlan".into(),
                pos: Default::default(),
                fields: Default::default(),
            },
        });
        let mut diagnostics = Diagnostics::default();
        check_references(&set, &options, &external, true, &mut diagnostics);
        let errors: Vec<String> = diagnostics
            .errors()
            .map(|d| {
                let mut text = format!("{}: {}", api_path(&d.subject), d.message);
                if let Some(hint) = &d.hint {
                    text.push_str("; ");
                    text.push_str(hint);
                }
                text
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_parameter(errors.join("; ")))
        }
    }

    async fn stored_plan(&self, caller: &Caller, plan_id: &str) -> Result<StoredObject> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        match self
            .catalog()
            .stored_object(ObjectKind::BackupPlan, account, region, plan_id)
            .await?
        {
            Some(stored) => Ok(stored),
            None => {
                let names: Vec<String> = self
                    .catalog()
                    .stored_in(ObjectKind::BackupPlan, account, region)
                    .await?
                    .into_iter()
                    .map(|o| o.name)
                    .collect();
                let there = if names.is_empty() {
                    "there are none".to_string()
                } else {
                    format!("plans there: {}", names.join(", "))
                };
                Err(Error::not_found(format!(
                    "backup plan {plan_id:?} does not exist in account {account}, region {region} ({there})"
                )))
            }
        }
    }

    /// The live plan `stored` at its newest version.
    async fn current_plan(&self, stored: StoredObject) -> Result<PlanVersion> {
        let history = self
            .catalog()
            .object_history(
                ObjectKind::BackupPlan,
                &stored.account_id,
                &stored.region,
                &stored.name,
            )
            .await?;
        let newest = history.iter().rev().find(|v| !v.is_tombstone());
        let plan: BackupPlan = serde_json::from_value(stored.doc.clone())?;
        let last_execution_date = self
            .catalog()
            .last_plan_execution(&stored.account_id, &stored.region, &stored.name)
            .await?;
        Ok(PlanVersion {
            last_execution_date,
            plan,
            plan_id: stored.name.clone(),
            // A stack plan written before the history holds no version
            // until its stack's next apply records it.
            version_id: newest.map_or_else(|| "0".to_string(), |v| v.version.to_string()),
            version_date: stored.updated_at,
            creation_date: stored.created_at,
            deletion_date: None,
            stack: owner(&stored),
            arn: stored.arn,
            creator_request_id: None,
        })
    }

    /// A version of the history as a plan version; `created` is when the
    /// plan's life that holds it began.
    fn historic_plan(
        version: &ObjectVersion,
        created: jiff::Timestamp,
        deleted: Option<jiff::Timestamp>,
    ) -> Result<Option<PlanVersion>> {
        let Some(doc) = &version.doc else {
            return Ok(None);
        };
        Ok(Some(PlanVersion {
            last_execution_date: None,
            plan: serde_json::from_value(doc.clone())?,
            plan_id: version.name.clone(),
            arn: version.arn.clone(),
            version_id: version.version.to_string(),
            version_date: version.time,
            creation_date: created,
            deletion_date: deleted,
            stack: (version.stack != NO_STACK).then(|| version.stack.clone()),
            creator_request_id: None,
        }))
    }

    /// A plan's versions in the history as plan versions, oldest first,
    /// each with the creation (and deletion) of the life it belongs to.
    fn plan_lives(history: &[ObjectVersion]) -> Result<Vec<PlanVersion>> {
        let mut out = Vec::new();
        let mut life: Vec<&ObjectVersion> = Vec::new();
        let flush = |life: &mut Vec<&ObjectVersion>, deleted: Option<jiff::Timestamp>| {
            let created = life.first().map(|v| v.time);
            let mut versions = Vec::new();
            if let Some(created) = created {
                for version in life.drain(..) {
                    if let Some(p) = Self::historic_plan(version, created, deleted)? {
                        versions.push(p);
                    }
                }
            }
            Ok::<_, Error>(versions)
        };
        for version in history {
            if version.is_tombstone() {
                out.extend(flush(&mut life, Some(version.time))?);
            } else {
                life.push(version);
            }
        }
        out.extend(flush(&mut life, None)?);
        Ok(out)
    }

    /// Creates a plan of no stack in the caller's account and region; the
    /// scheduler plans its rules from now on.
    ///
    /// # Errors
    /// `InvalidParameterValue` naming the wrong field (as `apply` would);
    /// `AlreadyExists`; `AccessDenied`.
    pub async fn create_backup_plan(
        &self,
        caller: &Caller,
        plan: &BackupPlan,
    ) -> Result<PlanVersion> {
        self.authorize(caller, Action::CreateBackupPlan, Target::Account)?;
        self.check_backup_plan(caller, plan).await?;
        let (account, region) = (&caller.account, &caller.region);
        let name = &plan.backup_plan_name;
        if let Some(existing) = self
            .catalog()
            .stored_object(
                ObjectKind::BackupPlan,
                account.as_str(),
                region.as_str(),
                name,
            )
            .await?
        {
            let owner = match owner(&existing) {
                None => "created through the API".to_string(),
                Some(stack) => format!("declared by stack {stack:?}"),
            };
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "backup plan {name:?} already exists in account {account}, region {region} ({owner}); choose another name, or UpdateBackupPlan"
                ),
            ));
        }
        let desired = DesiredObject {
            kind: ObjectKind::BackupPlan,
            account_id: account.to_string(),
            region: region.to_string(),
            name: name.clone(),
            arn: Arn::backup_plan(region, account, name).to_string(),
            doc: serde_json::to_value(plan)?,
        };
        self.catalog_for(caller)
            .create_unowned_object(&desired, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Conflict { .. } => Error::new(
                    ErrorKind::AlreadyExists,
                    format!("backup plan {name:?} was created meanwhile; choose another name"),
                ),
                other => other.into(),
            })?;
        tracing::info!(plan = %name, principal = %caller.principal, "backup plan created");
        let stored = self.stored_plan(caller, name).await?;
        self.current_plan(stored).await
    }

    /// A plan of the caller's account and region: its current version, or
    /// with `version_id` the version of that ID (also of a plan deleted
    /// since).
    ///
    /// # Errors
    /// `ResourceNotFound` for an unknown plan or version; `AccessDenied`.
    pub async fn backup_plan(
        &self,
        caller: &Caller,
        plan_id: &str,
        version_id: Option<&str>,
    ) -> Result<PlanVersion> {
        self.authorize(caller, Action::GetBackupPlan, Target::Account)?;
        let mut found = match version_id {
            None => {
                let stored = self.stored_plan(caller, plan_id).await?;
                self.current_plan(stored).await?
            }
            Some(wanted) => self.backup_plan_version(caller, plan_id, wanted).await?,
        };
        self.fill_creator_request_ids(std::slice::from_mut(&mut found), plan_life, set_plan_token)
            .await?;
        Ok(found)
    }

    /// Version `wanted` of a plan (also of a plan deleted since).
    async fn backup_plan_version(
        &self,
        caller: &Caller,
        plan_id: &str,
        wanted: &str,
    ) -> Result<PlanVersion> {
        let history = self
            .catalog()
            .object_history(
                ObjectKind::BackupPlan,
                caller.account.as_str(),
                caller.region.as_str(),
                plan_id,
            )
            .await?;
        let lives = Self::plan_lives(&history)?;
        if lives.is_empty() {
            // The same words as for a plan that never was.
            self.stored_plan(caller, plan_id).await?;
        }
        lives
            .into_iter()
            .find(|v| v.version_id == wanted)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "backup plan {plan_id:?} has no version {wanted:?}; ListBackupPlanVersions lists its versions"
                ))
            })
    }

    /// The plans of the caller's account and region in name order, a page
    /// at a time; with `include_deleted` also those deleted (their last
    /// version, with its deletion date).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub async fn list_backup_plans(
        &self,
        caller: &Caller,
        page: &PageRequest,
        include_deleted: bool,
    ) -> Result<Paged<PlanVersion>> {
        self.authorize(caller, Action::ListBackupPlans, Target::Account)?;
        let listing = if include_deleted {
            "ListBackupPlans+deleted"
        } else {
            "ListBackupPlans"
        };
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        if !include_deleted {
            let found = self
                .catalog()
                .objects_page(
                    ObjectKind::BackupPlan,
                    account,
                    region,
                    after.as_deref(),
                    limit,
                )
                .await?;
            let mut items = Vec::with_capacity(found.items.len());
            for stored in found.items {
                items.push(self.current_plan(stored).await?);
            }
            self.fill_creator_request_ids(&mut items, plan_life, set_plan_token)
                .await?;
            return Ok(Paged {
                items,
                next_token: found.next.map(|name| name_token(listing, &name)),
            });
        }
        let mut items: Vec<PlanVersion> = Vec::new();
        for stored in self
            .catalog()
            .stored_in(ObjectKind::BackupPlan, account, region)
            .await?
        {
            items.push(self.current_plan(stored).await?);
        }
        let history = self
            .catalog()
            .object_versions_in(ObjectKind::BackupPlan, account, region)
            .await?;
        for of_name in history.chunk_by(|a, b| a.name == b.name) {
            let live = items.iter().any(|p| p.plan_id == of_name[0].name);
            if live || !of_name.last().is_some_and(ObjectVersion::is_tombstone) {
                continue;
            }
            if let Some(last) = Self::plan_lives(of_name)?.pop() {
                items.push(last);
            }
        }
        items.sort_by(|a, b| a.plan_id.cmp(&b.plan_id));
        items.retain(|p| after.as_deref().is_none_or(|a| p.plan_id.as_str() > a));
        let more = items.len() > limit;
        items.truncate(limit);
        let next_token = more
            .then(|| items.last().map(|p| name_token(listing, &p.plan_id)))
            .flatten();
        self.fill_creator_request_ids(&mut items, plan_life, set_plan_token)
            .await?;
        Ok(Paged { items, next_token })
    }

    /// Every version of a plan, newest first, a page at a time (a deleted
    /// plan's versions too, as AWS keeps them).
    ///
    /// # Errors
    /// `ResourceNotFound` for a plan never written; `InvalidParameterValue`
    /// for a bad page request.
    pub async fn backup_plan_versions(
        &self,
        caller: &Caller,
        plan_id: &str,
        page: &PageRequest,
    ) -> Result<Paged<PlanVersion>> {
        self.authorize(caller, Action::ListBackupPlanVersions, Target::Account)?;
        let listing = "ListBackupPlanVersions";
        let limit = page.limit()?;
        let after: Option<i64> = match page.after_name(listing)? {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                Error::invalid_parameter(format!(
                    "the NextToken was not given by {listing}; ask again without a NextToken"
                ))
            })?),
        };
        let history = self
            .catalog()
            .object_history(
                ObjectKind::BackupPlan,
                caller.account.as_str(),
                caller.region.as_str(),
                plan_id,
            )
            .await?;
        let mut versions = Self::plan_lives(&history)?;
        if versions.is_empty() {
            // A stack's plan the history does not hold yet: its current
            // version alone.
            let stored = self.stored_plan(caller, plan_id).await?;
            versions.push(self.current_plan(stored).await?);
        }
        versions.reverse();
        let number = |v: &PlanVersion| v.version_id.parse::<i64>().unwrap_or(0);
        versions.retain(|v| after.is_none_or(|a| number(v) < a));
        let more = versions.len() > limit;
        versions.truncate(limit);
        let next_token = more
            .then(|| versions.last().map(|v| name_token(listing, &v.version_id)))
            .flatten();
        self.fill_creator_request_ids(&mut versions, plan_life, set_plan_token)
            .await?;
        Ok(Paged {
            items: versions,
            next_token,
        })
    }

    /// A plan of no stack, to change: its stored row, after the hook
    /// allowed `action`. A stack's plan is a Conflict naming the stack.
    async fn changeable_plan(
        &self,
        caller: &Caller,
        plan_id: &str,
        action: Action,
    ) -> Result<StoredObject> {
        self.authorize(caller, action, Target::Account)?;
        let stored = self.stored_plan(caller, plan_id).await?;
        let owner = stored.owner();
        if owner != Owner::Api {
            return Err(Error::conflict(format!(
                "backup plan {plan_id:?} belongs to {owner}; {}",
                owner.remedy()
            )));
        }
        Ok(stored)
    }

    /// Replaces the rules (and advanced settings) of a plan of no stack: a
    /// new version. Its name is its ID and cannot change; its tags stay.
    ///
    /// # Errors
    /// `InvalidParameterValue` naming the wrong field; `Conflict` for a
    /// stack's plan or one changed meanwhile; `ResourceNotFound`.
    pub async fn update_backup_plan(
        &self,
        caller: &Caller,
        plan_id: &str,
        plan: &BackupPlan,
    ) -> Result<PlanVersion> {
        let stored = self
            .changeable_plan(caller, plan_id, Action::UpdateBackupPlan)
            .await?;
        if plan.backup_plan_name != plan_id {
            return Err(Error::invalid_parameter(format!(
                "BackupPlan.BackupPlanName {:?} is not the plan's name {plan_id:?}: a plan's ID is its name in Coffer, so it cannot be renamed; create a plan of the new name instead",
                plan.backup_plan_name
            )));
        }
        let current: BackupPlan = serde_json::from_value(stored.doc.clone())?;
        let mut next = plan.clone();
        next.backup_plan_tags = current.backup_plan_tags;
        self.check_backup_plan(caller, &next).await?;
        self.catalog_for(caller)
            .update_unowned_object(&stored, &serde_json::to_value(&next)?, self.now())
            .await?;
        tracing::info!(plan = %plan_id, principal = %caller.principal, "backup plan updated");
        let stored = self.stored_plan(caller, plan_id).await?;
        self.current_plan(stored).await
    }

    /// Deletes a plan of no stack that has no selections; returns its last
    /// version with its deletion date. Its recovery points stay.
    ///
    /// # Errors
    /// `InvalidRequest` while selections assign resources to it; `Conflict`
    /// for a stack's plan; `ResourceNotFound`.
    pub async fn delete_backup_plan(&self, caller: &Caller, plan_id: &str) -> Result<PlanVersion> {
        let stored = self
            .changeable_plan(caller, plan_id, Action::DeleteBackupPlan)
            .await?;
        let selections = self.plan_selections(caller, plan_id).await?;
        if !selections.is_empty() {
            let names: Vec<&str> = selections
                .iter()
                .map(|s| s.selection.selection_name.as_str())
                .collect();
            return Err(Error::invalid_request(format!(
                "backup plan {plan_id:?} still has selection(s) {}; delete them first (DeleteBackupSelection)",
                names.join(", ")
            )));
        }
        let mut last = self.current_plan(stored.clone()).await?;
        let now = self.now();
        self.catalog_for(caller)
            .delete_unowned_object(&stored, now)
            .await?;
        tracing::info!(plan = %plan_id, principal = %caller.principal, "backup plan deleted");
        last.deletion_date = Some(now);
        Ok(last)
    }

    async fn plan_selections(
        &self,
        caller: &Caller,
        plan_id: &str,
    ) -> Result<Vec<SelectionSummary>> {
        let prefix = selection_key(plan_id, "");
        let mut out = Vec::new();
        for stored in self
            .catalog()
            .stored_in(
                ObjectKind::BackupSelection,
                caller.account.as_str(),
                caller.region.as_str(),
            )
            .await?
        {
            if stored.name.starts_with(&prefix) {
                out.push(selection_summary(stored)?);
            }
        }
        out.sort_by(|a, b| a.selection_id.cmp(&b.selection_id));
        Ok(out)
    }

    /// Assigns resources to a plan of no stack: the scheduler backs up
    /// what the selection selects at the plan's rules, as a stack's
    /// selection.
    ///
    /// # Errors
    /// `InvalidParameterValue` naming the wrong field; `ResourceNotFound`
    /// for the plan; `Conflict` for a stack's plan; `AlreadyExists`.
    pub async fn create_backup_selection(
        &self,
        caller: &Caller,
        plan_id: &str,
        selection: &BackupSelection,
    ) -> Result<SelectionSummary> {
        self.authorize(caller, Action::CreateBackupSelection, Target::Account)?;
        let stored_plan = self.stored_plan(caller, plan_id).await?;
        let owner = stored_plan.owner();
        if owner != Owner::Api {
            return Err(Error::conflict(format!(
                "backup plan {plan_id:?} belongs to {owner}; its selections are {owner}'s too: {}",
                owner.remedy()
            )));
        }
        let mut selection = selection.clone();
        selection.backup_plan_name = plan_id.to_string();
        refuse_findings("BackupSelection", &selection.validate())?;
        let name = selection_key(plan_id, &selection.selection_name);
        let (account, region) = (&caller.account, &caller.region);
        let desired = DesiredObject {
            kind: ObjectKind::BackupSelection,
            account_id: account.to_string(),
            region: region.to_string(),
            name: name.clone(),
            arn: format!(
                "{}:selection:{}",
                Arn::backup_plan(region, account, plan_id),
                selection.selection_name
            ),
            doc: serde_json::to_value(&selection)?,
        };
        self.catalog_for(caller)
            .create_unowned_object(&desired, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Conflict { .. } => Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "backup plan {plan_id:?} already has a selection {:?}; choose another name",
                        selection.selection_name
                    ),
                ),
                other => other.into(),
            })?;
        tracing::info!(plan = %plan_id, selection = %selection.selection_name, principal = %caller.principal, "backup selection created");
        self.backup_selection(caller, plan_id, &selection.selection_name)
            .await
    }

    async fn stored_selection(
        &self,
        caller: &Caller,
        plan_id: &str,
        selection_id: &str,
    ) -> Result<StoredObject> {
        self.catalog()
            .stored_object(
                ObjectKind::BackupSelection,
                caller.account.as_str(),
                caller.region.as_str(),
                &selection_key(plan_id, selection_id),
            )
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "backup plan {plan_id:?} has no selection {selection_id:?}; ListBackupSelections lists its selections"
                ))
            })
    }

    /// One selection of a plan.
    ///
    /// # Errors
    /// `ResourceNotFound` for the plan or the selection.
    pub async fn backup_selection(
        &self,
        caller: &Caller,
        plan_id: &str,
        selection_id: &str,
    ) -> Result<SelectionSummary> {
        self.authorize(caller, Action::GetBackupSelection, Target::Account)?;
        self.stored_plan(caller, plan_id).await?;
        let mut found =
            selection_summary(self.stored_selection(caller, plan_id, selection_id).await?)?;
        self.fill_creator_request_ids(
            std::slice::from_mut(&mut found),
            selection_life,
            set_selection_token,
        )
        .await?;
        Ok(found)
    }

    /// The selections of a plan in name order, a page at a time.
    ///
    /// # Errors
    /// `ResourceNotFound` for the plan; `InvalidParameterValue` for a bad
    /// page request.
    pub async fn list_backup_selections(
        &self,
        caller: &Caller,
        plan_id: &str,
        page: &PageRequest,
    ) -> Result<Paged<SelectionSummary>> {
        self.authorize(caller, Action::ListBackupSelections, Target::Account)?;
        let listing = "ListBackupSelections";
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        self.stored_plan(caller, plan_id).await?;
        let mut items = self.plan_selections(caller, plan_id).await?;
        items.retain(|s| after.as_deref().is_none_or(|a| s.selection_id.as_str() > a));
        let more = items.len() > limit;
        items.truncate(limit);
        let next_token = more
            .then(|| items.last().map(|s| name_token(listing, &s.selection_id)))
            .flatten();
        self.fill_creator_request_ids(&mut items, selection_life, set_selection_token)
            .await?;
        Ok(Paged { items, next_token })
    }

    /// Deletes a selection of no stack: its resources are no longer
    /// backed up by the plan from now on.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's selection.
    pub async fn delete_backup_selection(
        &self,
        caller: &Caller,
        plan_id: &str,
        selection_id: &str,
    ) -> Result<SelectionSummary> {
        self.authorize(caller, Action::DeleteBackupSelection, Target::Account)?;
        self.stored_plan(caller, plan_id).await?;
        let stored = self.stored_selection(caller, plan_id, selection_id).await?;
        let owner = stored.owner();
        if owner != Owner::Api {
            return Err(Error::conflict(format!(
                "selection {selection_id:?} of backup plan {plan_id:?} belongs to {owner}; {}",
                owner.remedy()
            )));
        }
        let summary = selection_summary(stored.clone())?;
        self.catalog_for(caller)
            .delete_unowned_object(&stored, self.now())
            .await?;
        tracing::info!(plan = %plan_id, selection = %selection_id, principal = %caller.principal, "backup selection deleted");
        Ok(summary)
    }
}

fn selection_summary(stored: StoredObject) -> Result<SelectionSummary> {
    let selection: BackupSelection = serde_json::from_value(stored.doc.clone())?;
    Ok(SelectionSummary {
        selection_id: selection.selection_name.clone(),
        plan_id: selection.backup_plan_name.clone(),
        creation_date: stored.created_at,
        stack: owner(&stored),
        arn: stored.arn,
        creator_request_id: None,
        selection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_paths_read_as_api_members() {
        assert_eq!(
            api_path("BackupPlan.BackupPlanRule[2].TargetBackupVault"),
            "BackupPlan.Rules[2].TargetBackupVaultName"
        );
    }

    #[test]
    fn findings_are_refused_under_the_input_member() {
        let mut findings = Findings::new();
        findings.warning("Rules[0]", "only a warning");
        assert!(refuse_findings("BackupPlan", &findings).is_ok());
        findings.error("Rules[0].ScheduleExpression", "bad cron");
        let refused = refuse_findings("BackupPlan", &findings).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidParameterValue);
        assert!(
            refused
                .message()
                .contains("BackupPlan.Rules[0].ScheduleExpression: bad cron"),
            "{refused}"
        );
        assert!(!refused.message().contains("only a warning"), "{refused}");
    }
}
