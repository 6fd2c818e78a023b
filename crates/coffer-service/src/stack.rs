//! Stacks: what policy files declare (coffer-policy) turned into what the
//! catalog stores (coffer-catalog), each declared object a desired catalog
//! object as JSON with the AWS field names; validated, planned and applied
//! as one change.

use coffer_catalog::{DesiredObject, ObjectKind};
use coffer_model::{Arn, PARTITION};
use coffer_policy::{External, LoadOptions, PolicySet};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use coffer_catalog::{ApplySummary, StackPlan};
use coffer_policy::{check_references, collect_files, load_files, Loaded};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::vaults::Provisioned;
use crate::Service;

/// The region IAM objects are stored under: none, since they belong to the
/// account (their ARNs have an empty region too). A stack applied in any
/// region owns its IAM objects account-wide.
pub const IAM_REGION: &str = "";

fn desired<T: Serialize>(
    kind: ObjectKind,
    options: &LoadOptions,
    name: String,
    arn: String,
    value: &T,
) -> Result<DesiredObject> {
    Ok(DesiredObject {
        kind,
        account_id: options.account.to_string(),
        region: options.region.to_string(),
        doc: serde_json::to_value(value).map_err(|e| {
            Error::dependency(format!("cannot encode {} {name}: {e}", kind.label()))
        })?,
        name,
        arn,
    })
}

/// Every object the set declares, as the catalog will store it.
fn desired_objects(set: &PolicySet, options: &LoadOptions) -> Result<Vec<DesiredObject>> {
    let (region, account) = (&options.region, &options.account);
    let mut out = Vec::new();
    for v in &set.vaults {
        let name = v.value.backup_vault_name.clone();
        out.push(desired(
            ObjectKind::BackupVault,
            options,
            name,
            v.value.backup_vault_arn.to_string(),
            &v.value,
        )?);
    }
    for p in &set.plans {
        let name = p.value.backup_plan_name.clone();
        let arn = Arn::backup_plan(region, account, &name).to_string();
        out.push(desired(
            ObjectKind::BackupPlan,
            options,
            name,
            arn,
            &p.value,
        )?);
    }
    for s in &set.selections {
        let name = format!("{}/{}", s.value.backup_plan_name, s.value.selection_name);
        let arn = format!(
            "{}:selection:{}",
            Arn::backup_plan(region, account, &s.value.backup_plan_name),
            s.value.selection_name
        );
        out.push(desired(
            ObjectKind::BackupSelection,
            options,
            name,
            arn,
            &s.value,
        )?);
    }
    for f in &set.frameworks {
        let name = f.value.framework_name.clone();
        let arn = Arn::framework(region, account, &name).to_string();
        out.push(desired(
            ObjectKind::Framework,
            options,
            name,
            arn,
            &f.value,
        )?);
    }
    for r in &set.report_plans {
        let name = r.value.report_plan_name.clone();
        let arn = Arn::report_plan(region, account, &name).to_string();
        out.push(desired(
            ObjectKind::ReportPlan,
            options,
            name,
            arn,
            &r.value,
        )?);
    }
    for p in &set.restore_testing_plans {
        let name = p.value.restore_testing_plan_name.clone();
        let arn = coffer_model::restore_testing_plan_arn(region, account, &name).to_string();
        out.push(desired(
            ObjectKind::RestoreTestingPlan,
            options,
            name,
            arn,
            &p.value,
        )?);
    }
    for s in &set.restore_testing_selections {
        let name = restore_testing_selection_key(&s.value);
        let arn = format!(
            "{}:selection:{}",
            coffer_model::restore_testing_plan_arn(
                region,
                account,
                &s.value.restore_testing_plan_name
            ),
            s.value.restore_testing_selection_name
        );
        out.push(desired(
            ObjectKind::RestoreTestingSelection,
            options,
            name,
            arn,
            &s.value,
        )?);
    }
    for s in &set.servers {
        let arn = format!(
            "arn:{PARTITION}:{}:{}:{}:server/{}",
            s.value.engine.service(),
            s.value.region,
            s.value.account_id,
            s.value.name
        );
        let mut object = desired(
            ObjectKind::Server,
            options,
            s.value.name.clone(),
            arn,
            &s.value,
        )?;
        object.account_id = s.value.account_id.to_string();
        object.region = s.value.region.to_string();
        out.push(object);
    }
    for e in &set.endpoints {
        let arn = format!(
            "arn:{PARTITION}:s3:{region}:{account}:endpoint/{}",
            e.value.name
        );
        out.push(desired(
            ObjectKind::S3Endpoint,
            options,
            e.value.name.clone(),
            arn,
            &e.value,
        )?);
    }
    // IAM objects belong to the account: no region.
    let iam = |kind, name: &str, arn: String, doc: serde_json::Value| DesiredObject {
        kind,
        account_id: account.to_string(),
        region: IAM_REGION.to_string(),
        name: name.to_string(),
        arn,
        doc,
    };
    for u in &set.users {
        let name = &u.value.user_name;
        out.push(iam(
            ObjectKind::IamUser,
            name,
            coffer_model::user_arn(account, name),
            serde_json::to_value(&u.value)?,
        ));
    }
    for p in &set.managed_policies {
        let name = &p.value.managed_policy_name;
        out.push(iam(
            ObjectKind::IamManagedPolicy,
            name,
            coffer_model::managed_policy_arn(account, name),
            serde_json::to_value(&p.value)?,
        ));
    }
    for r in &set.roles {
        let name = &r.value.role_name;
        out.push(iam(
            ObjectKind::IamRole,
            name,
            coffer_model::role_arn(account, name),
            serde_json::to_value(&r.value)?,
        ));
    }
    for r in &set.resources {
        let arn = r.value.resource_arn.to_string();
        let mut object = desired(ObjectKind::Resource, options, arn.clone(), arn, &r.value)?;
        object.account_id = r.value.account_id.to_string();
        object.region = r.value.region.to_string();
        out.push(object);
    }
    Ok(out)
}

/// The catalog name of a restore testing selection: `plan/selection`.
pub fn restore_testing_selection_key(s: &coffer_model::RestoreTestingSelection) -> String {
    restore_testing_selection_name_key(
        &s.restore_testing_plan_name,
        &s.restore_testing_selection_name,
    )
}

/// The catalog name of selection `selection` of restore testing plan
/// `plan`: `plan/selection`.
pub fn restore_testing_selection_name_key(plan: &str, selection: &str) -> String {
    format!("{plan}/{selection}")
}

/// Where the files declare the object a catalog change is about.
fn origin_of<'s>(
    set: &'s PolicySet,
    kind: ObjectKind,
    name: &str,
) -> Option<&'s coffer_policy::Origin> {
    match kind {
        ObjectKind::BackupVault => set
            .vaults
            .iter()
            .find(|v| v.value.backup_vault_name == name)
            .map(|v| &v.origin),
        ObjectKind::BackupPlan => set
            .plans
            .iter()
            .find(|p| p.value.backup_plan_name == name)
            .map(|p| &p.origin),
        ObjectKind::BackupSelection => set
            .selections
            .iter()
            .find(|s| format!("{}/{}", s.value.backup_plan_name, s.value.selection_name) == name)
            .map(|s| &s.origin),
        ObjectKind::Framework => set
            .frameworks
            .iter()
            .find(|f| f.value.framework_name == name)
            .map(|f| &f.origin),
        ObjectKind::ReportPlan => set
            .report_plans
            .iter()
            .find(|r| r.value.report_plan_name == name)
            .map(|r| &r.origin),
        ObjectKind::RestoreTestingPlan => set
            .restore_testing_plans
            .iter()
            .find(|p| p.value.restore_testing_plan_name == name)
            .map(|p| &p.origin),
        ObjectKind::RestoreTestingSelection => set
            .restore_testing_selections
            .iter()
            .find(|s| restore_testing_selection_key(&s.value) == name)
            .map(|s| &s.origin),
        ObjectKind::Server => set
            .servers
            .iter()
            .find(|s| s.value.name == name)
            .map(|s| &s.origin),
        ObjectKind::S3Endpoint => set
            .endpoints
            .iter()
            .find(|e| e.value.name == name)
            .map(|e| &e.origin),
        ObjectKind::Resource => set
            .resources
            .iter()
            .find(|r| r.value.resource_arn.to_string() == name)
            .map(|r| &r.origin),
        ObjectKind::IamUser => set
            .users
            .iter()
            .find(|u| u.value.user_name == name)
            .map(|u| &u.origin),
        ObjectKind::IamManagedPolicy => set
            .managed_policies
            .iter()
            .find(|p| p.value.managed_policy_name == name)
            .map(|p| &p.origin),
        ObjectKind::IamRole => set
            .roles
            .iter()
            .find(|r| r.value.role_name == name)
            .map(|r| &r.origin),
    }
}

/// What the catalog holds outside `stack` that the files may refer to.
async fn external(
    catalog: &coffer_catalog::Catalog,
    stack: &str,
    options: &LoadOptions,
) -> Result<External> {
    let mut ext = External::default();
    let (account, region) = (options.account.as_str(), options.region.as_str());
    let others = |o: &coffer_catalog::StoredObject| o.stack != stack;
    for vault in catalog
        .stored_in(ObjectKind::BackupVault, account, region)
        .await?
    {
        if others(&vault) {
            let lock = vault
                .doc
                .get("LockConfiguration")
                .and_then(|l| serde_json::from_value(l.clone()).ok());
            ext.vaults.insert(vault.name.clone(), lock);
        }
    }
    for plan in catalog
        .stored_in(ObjectKind::BackupPlan, account, region)
        .await?
    {
        if others(&plan) {
            ext.plans.push(plan.name.clone());
        }
    }
    for user in catalog
        .stored_in(ObjectKind::IamUser, account, IAM_REGION)
        .await?
    {
        if others(&user) {
            ext.users.push(user.name.clone());
        }
    }
    for policy in catalog
        .stored_in(ObjectKind::IamManagedPolicy, account, IAM_REGION)
        .await?
    {
        if others(&policy) {
            ext.managed_policy_arns.push(policy.arn.clone());
        }
    }
    for framework in catalog
        .stored_in(ObjectKind::Framework, account, region)
        .await?
    {
        if others(&framework) {
            ext.framework_arns.push(framework.arn.clone());
        }
    }
    Ok(ext)
}

/// Policy files and what to read them with.
#[derive(Clone, Debug)]
pub struct PolicyInput {
    /// Files, or directories of them.
    pub paths: Vec<PathBuf>,
    /// Template parameter values.
    pub parameters: BTreeMap<String, String>,
    /// The stack that owns the objects.
    pub stack: String,
    /// Whether an apply may make changes that weaken protection
    /// ([`coffer_catalog::Weakening`]); without it they are refused.
    pub allow_weakening: bool,
}

/// A plan or apply of a stack.
#[derive(Debug)]
pub struct StackRun {
    /// The files as read, with every diagnostic (sorted). With errors,
    /// nothing else was done.
    pub loaded: Loaded,
    /// The change the catalog would need.
    pub plan: Option<StackPlan>,
    /// Why the change cannot be applied (storage conflicts, blockers), each
    /// located in the files where possible; nothing was changed.
    pub refused: Vec<String>,
    /// Whether changes that weaken protection were among the refusals
    /// (the apply did not confirm them).
    pub weakening_refused: bool,
    /// What an apply changed.
    pub applied: Option<ApplySummary>,
    /// What an apply created in the keyring and storage.
    pub provisioned: Vec<Provisioned>,
}

/// Whether `stack` is a name a stack may have.
///
/// # Errors
/// `InvalidParameterValue`, saying what a name may hold.
pub fn check_stack_name(stack: &str) -> Result<()> {
    if stack.is_empty()
        || stack.len() > 128
        || !stack
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(Error::invalid_parameter(format!(
            "stack name {stack:?} must be 1-128 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

fn load_policy(caller: &Caller, input: &PolicyInput) -> Result<(Loaded, LoadOptions)> {
    let files = collect_files(&input.paths).map_err(Error::invalid_parameter)?;
    let options = LoadOptions {
        account: caller.account.clone(),
        region: caller.region.clone(),
        stack_name: input.stack.clone(),
        parameters: input.parameters.clone(),
    };
    Ok((load_files(&files, &options), options))
}

/// Reads and checks policy files without a catalog (references to other
/// stacks' objects are not checked), every diagnostic sorted.
///
/// # Errors
/// Files that cannot be listed.
pub fn validate_files(caller: &Caller, input: &PolicyInput) -> Result<Loaded> {
    let (mut loaded, options) = load_policy(caller, input)?;
    check_references(
        &loaded.set,
        &options,
        &External::default(),
        false,
        &mut loaded.diagnostics,
    );
    loaded.diagnostics.sort();
    Ok(loaded)
}

impl Service {
    /// Plans a stack from its files against the catalog, and with `apply`
    /// makes the change (one transaction), then creates the storage of its
    /// new vaults.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad stack name or unlistable files;
    /// catalog failures (a plan made stale by a concurrent writer fails
    /// whole). Files with errors are not an error: see [`StackRun::loaded`].
    pub async fn plan_stack(
        &self,
        caller: &Caller,
        input: &PolicyInput,
        apply: bool,
    ) -> Result<StackRun> {
        check_stack_name(&input.stack)?;
        self.authorize(caller, Action::CreateStack, Target::Account)?;
        let stack = input.stack.as_str();
        let (mut loaded, options) = load_policy(caller, input)?;
        let run = |loaded| StackRun {
            loaded,
            plan: None,
            refused: Vec::new(),
            weakening_refused: false,
            applied: None,
            provisioned: Vec::new(),
        };
        if loaded.diagnostics.has_errors() {
            return Ok(run(loaded));
        }
        let catalog = &self.catalog_for(caller);
        let external = external(catalog, stack, &options).await?;
        check_references(
            &loaded.set,
            &options,
            &external,
            true,
            &mut loaded.diagnostics,
        );
        loaded.diagnostics.sort();
        if loaded.diagnostics.has_errors() {
            return Ok(run(loaded));
        }
        let desired = desired_objects(&loaded.set, &options)?;
        let files: BTreeMap<String, String> = loaded
            .set
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect();
        let plan = catalog
            .plan_stack(
                stack,
                options.account.as_str(),
                options.region.as_str(),
                desired,
                files,
                self.now(),
            )
            .await?;
        let mut refused = Vec::new();
        if apply {
            refused = self.storage_conflicts(&loaded.set).await?;
        }
        if refused.is_empty() {
            for blocker in &plan.blockers {
                refused.push(
                    match blocker
                        .object
                        .as_ref()
                        .and_then(|(kind, name)| origin_of(&loaded.set, *kind, name))
                    {
                        Some(origin) => format!(
                            "{}:{} {}: {blocker}",
                            origin.file, origin.pos, origin.logical_id
                        ),
                        None => blocker.to_string(),
                    },
                );
            }
        }
        let mut weakening_refused = false;
        if apply && refused.is_empty() && !input.allow_weakening {
            for weakening in plan.weakenings() {
                weakening_refused = true;
                refused.push(format!(
                    "{weakening}: this weakens protection and needs an explicit confirmation"
                ));
            }
        }
        let mut out = run(loaded);
        out.weakening_refused = weakening_refused;
        if !refused.is_empty() || !apply {
            out.plan = Some(plan);
            out.refused = refused;
            return Ok(out);
        }
        if plan.has_changes() {
            out.applied = Some(catalog.apply_stack(&plan, self.now()).await?);
        }
        // Also heals storage a crash kept from being created after its
        // secret was recorded.
        out.provisioned = self.provision(&out.loaded.set).await?;
        out.plan = Some(plan);
        Ok(out)
    }
}
