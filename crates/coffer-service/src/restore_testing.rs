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
    restore_testing_plan_arn, KeyValue, RestoreTestingPlan, RestoreTestingRecoveryPointSelection,
    RestoreTestingSelection,
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
        self.declared(caller, ObjectKind::RestoreTestingPlan, name)
            .await
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
        Declared::read(self.stored_test_selection(caller, plan, name).await?)
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
