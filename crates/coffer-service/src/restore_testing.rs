//! Restore testing plans and selections one at a time
//! (ListRestoreTestingPlans, GetRestoreTestingPlan, CreateRestoreTestingPlan,
//! UpdateRestoreTestingPlan, DeleteRestoreTestingPlan and the same for
//! selections). A plan or selection created here belongs to no stack and
//! is scheduled like a stack's (the engine reads every applied plan of
//! the catalog); a stack's is changed by its template only, and a
//! stack's plan takes no selection of no stack.

use std::collections::BTreeMap;

use coffer_catalog::{ObjectKind, Owner, StoredObject};
use coffer_model::{
    restore_testing_plan_arn, KeyValue, RestoreJob, RestoreTestingPlan,
    RestoreTestingRecoveryPointSelection, RestoreTestingSelection, ValidationStatus,
};

use crate::caller::{Action, Caller, Target};
use crate::declared::{refuse_errors, Declared};
use crate::error::{Error, Result};
use crate::paging::{name_token, PageRequest, Paged};
use crate::stack::restore_testing_selection_key;
use crate::Service;

/// What UpdateRestoreTestingPlan changes; an absent member stays as it is.
#[derive(Clone, Debug, Default)]
pub struct PlanChange {
    pub schedule_expression: Option<String>,
    pub schedule_expression_timezone: Option<String>,
    pub start_window_hours: Option<u32>,
    pub recovery_point_selection: Option<RestoreTestingRecoveryPointSelection>,
}

/// A selection's conditions on tags: `StringEquals`, `StringNotEquals`.
pub type Conditions = (Vec<KeyValue>, Vec<KeyValue>);

/// What UpdateRestoreTestingSelection changes; an absent member stays as
/// it is. Conditions, when given, replace both lists.
#[derive(Clone, Debug, Default)]
pub struct SelectionChange {
    pub iam_role_arn: Option<String>,
    pub protected_resource_arns: Option<Vec<String>>,
    pub conditions: Option<Conditions>,
    pub restore_metadata_overrides: Option<BTreeMap<String, String>>,
    pub validation_window_hours: Option<u32>,
}

impl Service {
    /// The restore tests of the caller's account and region, oldest
    /// first, with their results: the restore jobs plan `plan` (by name)
    /// created, or every plan's when `None`.
    ///
    /// # Errors
    /// `ResourceNotFound` for a plan not there, naming those that are;
    /// `AccessDenied`; catalog failures.
    pub async fn restore_tests(
        &self,
        caller: &Caller,
        plan: Option<&str>,
    ) -> Result<Vec<RestoreJob>> {
        let plan_arn = match plan {
            Some(name) => Some(self.restore_testing_plan(caller, name).await?.arn),
            None => None,
        };
        let filter = crate::jobs::RestoreJobFilter {
            restore_testing_plan_arn: plan_arn,
            ..Default::default()
        };
        let mut page = PageRequest::default();
        let mut tests = Vec::new();
        loop {
            let found = self.list_restore_jobs(caller, &filter, &page).await?;
            tests.extend(found.items.into_iter().filter(|j| j.created_by.is_some()));
            match found.next_token {
                Some(token) => page.next_token = Some(token),
                None => return Ok(tests),
            }
        }
    }

    /// The restore testing plans of the caller's account and region in
    /// name order, a page at a time, a stack's and not.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_restore_testing_plans(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Paged<Declared<RestoreTestingPlan>>> {
        self.authorize(caller, Action::ListRestoreTestingPlans, Target::Account)?;
        self.declared_page(
            caller,
            ObjectKind::RestoreTestingPlan,
            "ListRestoreTestingPlans",
            page,
        )
        .await
    }

    /// One restore testing plan, a stack's or not.
    ///
    /// # Errors
    /// `ResourceNotFound`, naming the plans there.
    pub async fn restore_testing_plan(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Declared<RestoreTestingPlan>> {
        self.authorize(caller, Action::GetRestoreTestingPlan, Target::Account)?;
        let found = self
            .declared(caller, ObjectKind::RestoreTestingPlan, name)
            .await?;
        self.with_creator_request_id(found).await
    }

    /// The selections of plan `plan` in name order, a page at a time.
    ///
    /// # Errors
    /// `ResourceNotFound` for the plan; `InvalidParameterValue` for a bad
    /// page request.
    pub async fn list_restore_testing_selections(
        &self,
        caller: &Caller,
        plan: &str,
        page: &PageRequest,
    ) -> Result<Paged<Declared<RestoreTestingSelection>>> {
        self.authorize(
            caller,
            Action::ListRestoreTestingSelections,
            Target::Account,
        )?;
        let listing = "ListRestoreTestingSelections";
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        self.declared_row(caller, ObjectKind::RestoreTestingPlan, plan)
            .await?;
        let mut items = self.plan_test_selections(caller, plan).await?;
        items.retain(|s| {
            after
                .as_deref()
                .is_none_or(|a| s.object.restore_testing_selection_name.as_str() > a)
        });
        let more = items.len() > limit;
        items.truncate(limit);
        let next_token = more
            .then(|| {
                items
                    .last()
                    .map(|s| name_token(listing, &s.object.restore_testing_selection_name))
            })
            .flatten();
        Ok(Paged { items, next_token })
    }

    /// One selection of plan `plan`, a stack's or not.
    ///
    /// # Errors
    /// `ResourceNotFound` for the plan or the selection.
    pub async fn restore_testing_selection(
        &self,
        caller: &Caller,
        plan: &str,
        name: &str,
    ) -> Result<Declared<RestoreTestingSelection>> {
        self.authorize(caller, Action::GetRestoreTestingSelection, Target::Account)?;
        let found = Declared::read(self.stored_test_selection(caller, plan, name).await?)?;
        self.with_creator_request_id(found).await
    }

    /// Creates a restore testing plan of no stack, checked as `apply`
    /// checks a template's.
    ///
    /// # Errors
    /// `InvalidParameterValue` naming the wrong member; `AlreadyExists`.
    pub async fn create_restore_testing_plan(
        &self,
        caller: &Caller,
        plan: &RestoreTestingPlan,
    ) -> Result<Declared<RestoreTestingPlan>> {
        self.authorize(caller, Action::CreateRestoreTestingPlan, Target::Account)?;
        let name = &plan.restore_testing_plan_name;
        refuse_errors(plan.validate(), &format!("restore testing plan {name:?}"))?;
        let arn = restore_testing_plan_arn(&caller.region, &caller.account, name).to_string();
        self.create_declared(
            caller,
            ObjectKind::RestoreTestingPlan,
            name,
            arn,
            serde_json::to_value(plan)?,
        )
        .await?;
        tracing::info!(plan = %name, principal = %caller.principal, "restore testing plan created");
        self.declared(caller, ObjectKind::RestoreTestingPlan, name)
            .await
    }

    /// Changes a restore testing plan of no stack; its name stays.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's plan (naming the
    /// stack) or one changed meanwhile; `InvalidParameterValue`.
    pub async fn update_restore_testing_plan(
        &self,
        caller: &Caller,
        name: &str,
        change: PlanChange,
    ) -> Result<Declared<RestoreTestingPlan>> {
        self.authorize(caller, Action::UpdateRestoreTestingPlan, Target::Account)?;
        let stored = self
            .declared_row(caller, ObjectKind::RestoreTestingPlan, name)
            .await?;
        Self::unowned(&stored, "change")?;
        let mut plan: RestoreTestingPlan = serde_json::from_value(stored.doc.clone())?;
        if let Some(expression) = change.schedule_expression {
            plan.schedule_expression = expression;
        }
        if let Some(zone) = change.schedule_expression_timezone {
            plan.schedule_expression_timezone = Some(zone);
        }
        if let Some(hours) = change.start_window_hours {
            plan.start_window_hours = hours;
        }
        if let Some(selection) = change.recovery_point_selection {
            plan.recovery_point_selection = selection;
        }
        refuse_errors(plan.validate(), &format!("restore testing plan {name:?}"))?;
        self.update_declared(caller, &stored, &serde_json::to_value(&plan)?)
            .await?;
        tracing::info!(plan = %name, principal = %caller.principal, "restore testing plan updated");
        self.declared(caller, ObjectKind::RestoreTestingPlan, name)
            .await
    }

    /// Deletes a restore testing plan of no stack that has no selection
    /// left, as AWS deletes one.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's plan; `InvalidRequest`
    /// naming the selections to delete first.
    pub async fn delete_restore_testing_plan(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize(caller, Action::DeleteRestoreTestingPlan, Target::Account)?;
        let stored = self
            .declared_row(caller, ObjectKind::RestoreTestingPlan, name)
            .await?;
        Self::unowned(&stored, "delete")?;
        let selections = self.plan_test_selections(caller, name).await?;
        if !selections.is_empty() {
            let names: Vec<&str> = selections
                .iter()
                .map(|s| s.object.restore_testing_selection_name.as_str())
                .collect();
            return Err(Error::invalid_request(format!(
                "restore testing plan {name:?} still has selections ({}); delete them first with DeleteRestoreTestingSelection",
                names.join(", ")
            )));
        }
        self.delete_declared(caller, &stored).await?;
        tracing::info!(plan = %name, principal = %caller.principal, "restore testing plan deleted");
        Ok(())
    }

    /// Creates a selection of no stack in plan `plan` (a plan of no stack),
    /// checked as `apply` checks a template's.
    ///
    /// # Errors
    /// `ResourceNotFound` for the plan; `Conflict` for a stack's plan;
    /// `InvalidParameterValue`; `AlreadyExists`.
    pub async fn create_restore_testing_selection(
        &self,
        caller: &Caller,
        plan: &str,
        selection: &RestoreTestingSelection,
    ) -> Result<Declared<RestoreTestingSelection>> {
        self.authorize(
            caller,
            Action::CreateRestoreTestingSelection,
            Target::Account,
        )?;
        let stored_plan = self
            .declared_row(caller, ObjectKind::RestoreTestingPlan, plan)
            .await?;
        let owner = stored_plan.owner();
        if owner != Owner::Api {
            return Err(Error::conflict(format!(
                "restore testing plan {plan:?} belongs to {owner}; its selections are declared there too: {}",
                owner.remedy()
            )));
        }
        let mut selection = selection.clone();
        selection.restore_testing_plan_name = plan.to_string();
        let name = selection.restore_testing_selection_name.clone();
        refuse_errors(
            selection.validate(),
            &format!("restore testing selection {name:?}"),
        )?;
        self.create_declared(
            caller,
            ObjectKind::RestoreTestingSelection,
            &restore_testing_selection_key(&selection),
            format!("{}:selection:{name}", stored_plan.arn),
            serde_json::to_value(&selection)?,
        )
        .await?;
        tracing::info!(plan = %plan, selection = %name, principal = %caller.principal, "restore testing selection created");
        Declared::read(self.stored_test_selection(caller, plan, &name).await?)
    }

    /// Changes a selection of no stack; its name and resource type stay.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's selection (naming the
    /// stack) or one changed meanwhile; `InvalidParameterValue`.
    pub async fn update_restore_testing_selection(
        &self,
        caller: &Caller,
        plan: &str,
        name: &str,
        change: SelectionChange,
    ) -> Result<Declared<RestoreTestingSelection>> {
        self.authorize(
            caller,
            Action::UpdateRestoreTestingSelection,
            Target::Account,
        )?;
        let stored = self.stored_test_selection(caller, plan, name).await?;
        Self::unowned(&stored, "change")?;
        let mut selection: RestoreTestingSelection = serde_json::from_value(stored.doc.clone())?;
        if let Some(role) = change.iam_role_arn {
            selection.iam_role_arn = role;
        }
        if let Some(arns) = change.protected_resource_arns {
            selection.protected_resource_arns = arns;
        }
        if let Some((equals, not_equals)) = change.conditions {
            selection.protected_resource_conditions_string_equals = equals;
            selection.protected_resource_conditions_string_not_equals = not_equals;
        }
        if let Some(overrides) = change.restore_metadata_overrides {
            selection.restore_metadata_overrides = overrides;
        }
        if let Some(hours) = change.validation_window_hours {
            selection.validation_window_hours = Some(hours);
        }
        refuse_errors(
            selection.validate(),
            &format!("restore testing selection {name:?}"),
        )?;
        self.update_declared(caller, &stored, &serde_json::to_value(&selection)?)
            .await?;
        tracing::info!(plan = %plan, selection = %name, principal = %caller.principal, "restore testing selection updated");
        Declared::read(self.stored_test_selection(caller, plan, name).await?)
    }

    /// Deletes a selection of no stack: its resources are tested no more.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's selection.
    pub async fn delete_restore_testing_selection(
        &self,
        caller: &Caller,
        plan: &str,
        name: &str,
    ) -> Result<()> {
        self.authorize(
            caller,
            Action::DeleteRestoreTestingSelection,
            Target::Account,
        )?;
        let stored = self.stored_test_selection(caller, plan, name).await?;
        self.delete_declared(caller, &stored).await?;
        tracing::info!(plan = %plan, selection = %name, principal = %caller.principal, "restore testing selection deleted");
        Ok(())
    }

    /// The selection `name` of plan `plan` as the catalog stores it.
    async fn stored_test_selection(
        &self,
        caller: &Caller,
        plan: &str,
        name: &str,
    ) -> Result<StoredObject> {
        self.declared_row(caller, ObjectKind::RestoreTestingPlan, plan)
            .await?;
        let key = format!("{plan}/{name}");
        self.catalog_for(caller)
            .stored_object(
                ObjectKind::RestoreTestingSelection,
                caller.account.as_str(),
                caller.region.as_str(),
                &key,
            )
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "restore testing plan {plan:?} has no selection {name:?}; ListRestoreTestingSelections lists its selections"
                ))
            })
    }

    /// Every selection of plan `plan`, in name order.
    async fn plan_test_selections(
        &self,
        caller: &Caller,
        plan: &str,
    ) -> Result<Vec<Declared<RestoreTestingSelection>>> {
        let prefix = format!("{plan}/");
        let mut out: Vec<Declared<RestoreTestingSelection>> = Vec::new();
        for stored in self
            .catalog_for(caller)
            .stored_in(
                ObjectKind::RestoreTestingSelection,
                caller.account.as_str(),
                caller.region.as_str(),
            )
            .await?
        {
            if stored.name.starts_with(&prefix) {
                out.push(Declared::read(stored)?);
            }
        }
        out.sort_by(|a, b| {
            a.object
                .restore_testing_selection_name
                .cmp(&b.object.restore_testing_selection_name)
        });
        Ok(out)
    }
}

impl Service {
    /// Records an external validator's result on a restore test
    /// (PutRestoreValidationResult): `SUCCESSFUL`, `FAILED` or
    /// `TIMED_OUT`, with its message, while the test's validation is
    /// pending (`VALIDATING`: restored, Coffer's own checks and hook
    /// running, within the validation window). Coffer's own validation
    /// still ends the test: its failure wins, and when it passes the
    /// reported result stands (the engine's `with_reported`). A result
    /// for a test already validated, or for a restore job no restore
    /// testing plan made, is refused.
    ///
    /// # Errors
    /// `ResourceNotFound` for the job; `InvalidParameterValue` for
    /// `VALIDATING`; `InvalidRequest` for a job that is not a restore test
    /// or whose validation is not pending; `Conflict` when the job changed
    /// meanwhile (retry).
    pub async fn put_restore_validation_result(
        &self,
        caller: &Caller,
        job_id: &str,
        status: ValidationStatus,
        message: Option<&str>,
    ) -> Result<RestoreJob> {
        self.authorize(caller, Action::PutRestoreValidationResult, Target::Account)?;
        if status == ValidationStatus::Validating {
            return Err(Error::invalid_parameter(
                "ValidationStatus VALIDATING is not a result; send SUCCESSFUL, FAILED or TIMED_OUT",
            ));
        }
        let job = self.describe_restore_job(caller, job_id).await?;
        let id = job.restore_job_id.clone();
        if job.created_by.is_none() {
            return Err(Error::invalid_request(format!(
                "restore job {id} was not started by a restore testing plan; only a restore test takes a validation result"
            )));
        }
        let reported = format!(
            "reported by {}: {}",
            caller.principal,
            message.unwrap_or(status.as_str())
        );
        let mut taken = false;
        let recorded = coffer_engine::exec::modify::<RestoreJob>(&self.env_for(caller), &id, |j| {
            if j.validation_status == Some(ValidationStatus::Validating) {
                j.validation_status = Some(status);
                j.validation_status_message = Some(reported);
                taken = true;
            }
        })
        .await?;
        if !taken {
            return Err(Error::invalid_request(format!(
                "restore test {id} is not waiting for validation (its validation is {}); a result is taken only while it is VALIDATING",
                recorded
                    .validation_status
                    .map_or("not started", ValidationStatus::as_str)
            )));
        }
        tracing::info!(job = %id, status = status.as_str(), principal = %caller.principal, "restore validation result recorded");
        Ok(recorded)
    }

    /// The metadata a restore test would restore recovery point
    /// `point_arn` with (GetRestoreTestingInferredMetadata): a new scratch
    /// target, never the resource's own place (`TargetDirectory` under the
    /// home's `tmp/restore-tests`, `TargetFile` there, a new
    /// `TargetDatabase` on the source's server, or a new `TargetPrefix`
    /// `coffer-restore-test-<id>/` in the source's `TargetBucket`), as
    /// StartRestoreJob's `Metadata` takes it.
    ///
    /// # Errors
    /// `ResourceNotFound` for the point, or when it is not in `vault_name`;
    /// `InvalidRequest` for a bucket no longer declared; `AccessDenied`.
    pub async fn restore_testing_inferred_metadata(
        &self,
        caller: &Caller,
        vault_name: &str,
        point_arn: &str,
    ) -> Result<BTreeMap<String, String>> {
        let (point, _) = self
            .point_restore_metadata(
                caller,
                Action::GetRestoreTestingInferredMetadata,
                vault_name,
                point_arn,
            )
            .await?;
        let env = self.env_for(caller);
        let id = uuid::Uuid::new_v4().to_string();
        let resource = match self.resource(&point.resource_arn).await {
            Ok(resource) => resource,
            Err(error) => {
                let arn = coffer_model::Arn::parse(&point.resource_arn).map_err(|_| error)?;
                coffer_model::Resource {
                    resource_type: point.resource_type,
                    resource_name: point
                        .resource_arn
                        .split_once('/')
                        .map_or_else(|| point.resource_arn.clone(), |(_, name)| name.to_string()),
                    account_id: caller.account.clone(),
                    region: caller.region.clone(),
                    resource_arn: arn,
                    tags: Default::default(),
                    connection: Default::default(),
                }
            }
        };
        let mut metadata = coffer_engine::restore_testing::scratch_metadata(
            &resource,
            &id,
            &coffer_engine::restore_testing::scratch_root(&env),
            &Default::default(),
        )
        .ok_or_else(|| {
            Error::invalid_request(format!(
                "restore tests of {} need its bucket and S3 endpoint, and it is no longer declared; GetRecoveryPointRestoreMetadata gives the metadata of a restore in place",
                point.resource_arn
            ))
        })?;
        metadata.retain(|key, _| key.starts_with("Target"));
        Ok(metadata)
    }
}
