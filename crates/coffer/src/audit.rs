//! `coffer audit evaluate`: the frameworks' controls over the catalog's
//! state, now; the results are recorded (with history, each appended to
//! the evidence ledger) and summed up per control and framework.

use anyhow::bail;
use coffer_audit::controls::{self, Compliance, ControlResult, Estate};
use coffer_catalog::ObjectKind;
use coffer_model::{
    BackupPlan, BackupSelection, BackupVault, Framework, RecoveryPoint, RestoreJob,
};
use serde_json::json;

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::{output, Outcome};

pub async fn evaluate(
    global: &Global,
    only: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run(&ctx, &catalog, only, format).await;
    catalog.close().await;
    result
}

/// Evaluates the frameworks of `account` and `region` (or only `only`)
/// now, records the results, and returns them per framework.
///
/// # Errors
/// When no framework applies, or the catalog fails.
pub async fn evaluate_frameworks(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    (account, region): (&str, &str),
    only: Option<&str>,
) -> anyhow::Result<Vec<(Framework, Vec<ControlResult>)>> {
    let env = ctx.env(catalog);
    let here = |a: &str, r: &str| a == account && r == region;
    let frameworks: Vec<Framework> = catalog
        .list_objects(ObjectKind::Framework)
        .await?
        .into_iter()
        .filter(|o| here(&o.account_id, &o.region))
        .map(|o| serde_json::from_value(o.doc))
        .collect::<Result<_, _>>()?;
    let frameworks: Vec<Framework> = frameworks
        .into_iter()
        .filter(|f| only.is_none_or(|name| f.framework_name == name))
        .collect();
    if frameworks.is_empty() {
        match only {
            Some(name) => bail!("framework {name:?} is not applied in account {account}, region {region}; `coffer get frameworks` lists them"),
            None => bail!("no framework is applied in account {account}, region {region}; declare an AWS::Backup::Framework and apply it"),
        }
    }
    let objects = |kind| {
        let catalog = catalog.clone();
        async move {
            anyhow::Ok(
                catalog
                    .list_objects(kind)
                    .await?
                    .into_iter()
                    .filter(|o| o.account_id == account && o.region == region)
                    .map(|o| o.doc)
                    .collect::<Vec<_>>(),
            )
        }
    };
    let plans: Vec<BackupPlan> = objects(ObjectKind::BackupPlan)
        .await?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    let selections: Vec<BackupSelection> = objects(ObjectKind::BackupSelection)
        .await?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    // Vaults of every region: copy destinations live elsewhere.
    let vaults: Vec<BackupVault> = env.objects(ObjectKind::BackupVault).await?;
    let resources: Vec<_> = env
        .discover()
        .await?
        .into_iter()
        .filter(|r| here(r.account_id.as_str(), r.region.as_str()))
        .collect();
    let points: Vec<RecoveryPoint> = env.records(|_: &RecoveryPoint| true).await?;
    let restores: Vec<RestoreJob> = env.records(|_: &RestoreJob| true).await?;
    let now = jiff::Timestamp::now();
    let estate = Estate {
        account,
        region,
        resources: &resources,
        plans: &plans,
        selections: &selections,
        vaults: &vaults,
        points: &points,
        restores: &restores,
        now,
    };
    let mut out = Vec::new();
    for framework in frameworks {
        let results = controls::evaluate(&framework, &estate);
        catalog.insert_all(&results, now).await?;
        out.push((framework, results));
    }
    Ok(out)
}

async fn run(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    only: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let here = (ctx.account.as_str(), ctx.region.as_str());
    let evaluated = evaluate_frameworks(ctx, catalog, here, only).await?;
    let mut docs = Vec::new();
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for (framework, results) in &evaluated {
        let (per_control, overall) = controls::rollup(results);
        for (control, (status, compliant, non_compliant)) in &per_control {
            rows.push(vec![
                framework.framework_name.clone(),
                control.clone(),
                status.as_str().to_string(),
                compliant.to_string(),
                non_compliant.to_string(),
            ]);
        }
        for r in results.iter().filter(|r| r.status != Compliance::Compliant) {
            details.push(format!(
                "{} {} {}: {}",
                r.status.as_str(),
                r.control_name,
                r.resource_id,
                r.reason
            ));
        }
        docs.push(json!({
            "FrameworkName": framework.framework_name,
            "FrameworkStatus": overall.as_str(),
            "EvaluatedAt": results.first().map(|r| r.evaluated_at.to_string()),
            "Controls": per_control.iter().map(|(c, (s, ok, bad))| json!({
                "ControlName": c, "ControlComplianceStatus": s.as_str(),
                "NumResourcesCompliant": ok, "NumResourcesNonCompliant": bad,
            })).collect::<Vec<_>>(),
            "Results": results,
        }));
    }
    output::print(format, &docs, || {
        let mut text = output::table(
            &[
                "FRAMEWORK",
                "CONTROL",
                "STATUS",
                "COMPLIANT",
                "NON-COMPLIANT",
            ],
            rows,
        );
        if !details.is_empty() {
            text.push_str("\n\n");
            text.push_str(&details.join("\n"));
        }
        text
    })?;
    // An evaluation that ran is a success, whatever it found.
    Ok(Outcome::Success)
}

/// Evaluates every framework of every account and region (for the
/// scheduler); returns how many results were recorded.
///
/// # Errors
/// When the catalog fails.
pub async fn evaluate_everywhere(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
) -> anyhow::Result<usize> {
    let places: std::collections::BTreeSet<(String, String)> = catalog
        .list_objects(ObjectKind::Framework)
        .await?
        .into_iter()
        .map(|o| (o.account_id, o.region))
        .collect();
    let mut results = 0;
    for (account, region) in &places {
        for (_, recorded) in evaluate_frameworks(ctx, catalog, (account, region), None).await? {
            results += recorded.len();
        }
    }
    Ok(results)
}
