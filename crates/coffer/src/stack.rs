//! Glue between what the files declare (coffer-policy) and what the catalog
//! stores (coffer-catalog): each declared object becomes a desired catalog
//! object, as JSON with the AWS field names.

use anyhow::Context as _;
use coffer_catalog::{DesiredObject, ObjectKind};
use coffer_model::{Arn, PARTITION};
use coffer_policy::{External, LoadOptions, PolicySet};
use serde::Serialize;

fn desired<T: Serialize>(
    kind: ObjectKind,
    options: &LoadOptions,
    name: String,
    arn: String,
    value: &T,
) -> anyhow::Result<DesiredObject> {
    Ok(DesiredObject {
        kind,
        account_id: options.account.to_string(),
        region: options.region.to_string(),
        doc: serde_json::to_value(value)
            .with_context(|| format!("cannot encode {} {name}", kind.label()))?,
        name,
        arn,
    })
}

/// Every object the set declares, as the catalog will store it.
pub fn desired_objects(
    set: &PolicySet,
    options: &LoadOptions,
) -> anyhow::Result<Vec<DesiredObject>> {
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
    for r in &set.resources {
        let arn = r.value.resource_arn.to_string();
        let mut object = desired(ObjectKind::Resource, options, arn.clone(), arn, &r.value)?;
        object.account_id = r.value.account_id.to_string();
        object.region = r.value.region.to_string();
        out.push(object);
    }
    Ok(out)
}

/// Where the files declare the object a catalog change is about.
pub fn origin_of<'s>(
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
    }
}

/// What the catalog holds outside `stack` that the files may refer to.
pub async fn external(
    catalog: &coffer_catalog::Catalog,
    stack: &str,
    options: &LoadOptions,
) -> anyhow::Result<External> {
    let mut ext = External::default();
    let here = |o: &coffer_catalog::StoredObject| {
        o.account_id == options.account.as_str()
            && o.region == options.region.as_str()
            && o.stack != stack
    };
    for vault in catalog.list_objects(ObjectKind::BackupVault).await? {
        if here(&vault) {
            let lock = vault
                .doc
                .get("LockConfiguration")
                .and_then(|l| serde_json::from_value(l.clone()).ok());
            ext.vaults.insert(vault.name.clone(), lock);
        }
    }
    for plan in catalog.list_objects(ObjectKind::BackupPlan).await? {
        if here(&plan) {
            ext.plans.push(plan.name.clone());
        }
    }
    for framework in catalog.list_objects(ObjectKind::Framework).await? {
        if here(&framework) {
            ext.framework_arns.push(framework.arn.clone());
        }
    }
    Ok(ext)
}
