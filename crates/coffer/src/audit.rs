//! `coffer audit evaluate`: the frameworks' controls over the catalog's
//! state, now; results that changed are recorded (with history, each
//! appended to the evidence ledger), and each evaluation is summed up per
//! control and framework.

use std::collections::HashMap;

use anyhow::bail;
use coffer_audit::controls::{self, Compliance, ControlResult, Estate};
use coffer_audit::evaluation::evaluate_framework;
use coffer_catalog::ObjectKind;
use coffer_model::{BackupPlan, BackupSelection, BackupVault, Framework, FrameworkEvaluation};
use serde_json::json;

/// Failing results the table shows per framework.
const DETAILS: usize = 50;

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::{output, Outcome};

pub async fn evaluate(
    global: &Global,
    only: Option<&str>,
    summary: bool,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run(&ctx, &catalog, only, summary, format).await;
    catalog.close().await;
    result
}

/// What every framework evaluation reads, read once: the frameworks,
/// resources (discovered), policy objects, and the recovery points as
/// aggregates.
struct Inputs {
    frameworks: Vec<(String, String, Framework)>,
    resources: Vec<coffer_model::Resource>,
    plans: Vec<(String, String, BackupPlan)>,
    selections: Vec<(String, String, BackupSelection)>,
    vaults: Vec<BackupVault>,
    newest: HashMap<String, coffer_catalog::NewestPoint>,
    restored: HashMap<String, coffer_catalog::CompletedRestore>,
}

impl Inputs {
    /// Reads the rest once the frameworks are known (discovery connects
    /// to servers: not done for nothing).
    async fn read(
        ctx: &Context,
        catalog: &coffer_catalog::Catalog,
        frameworks: Vec<(String, String, Framework)>,
    ) -> anyhow::Result<Inputs> {
        let env = ctx.env(catalog);
        Ok(Inputs {
            frameworks,
            resources: env.discover().await?,
            plans: placed(catalog, ObjectKind::BackupPlan).await?,
            selections: placed(catalog, ObjectKind::BackupSelection).await?,
            // Vaults of every region: copy destinations live elsewhere.
            vaults: env.objects(ObjectKind::BackupVault).await?,
            newest: controls::newest_by_resource(catalog.newest_points().await?),
            restored: controls::latest_restore_by_resource(catalog.completed_restores().await?),
        })
    }
}

/// Every object of a kind with its account and region.
async fn placed<T: serde::de::DeserializeOwned>(
    catalog: &coffer_catalog::Catalog,
    kind: ObjectKind,
) -> anyhow::Result<Vec<(String, String, T)>> {
    catalog
        .list_objects(kind)
        .await?
        .into_iter()
        .map(|o| Ok((o.account_id, o.region, serde_json::from_value(o.doc)?)))
        .collect()
}

/// The objects of `account` and `region`.
fn of_place<T: Clone>(placed: &[(String, String, T)], (account, region): (&str, &str)) -> Vec<T> {
    placed
        .iter()
        .filter(|(a, r, _)| a == account && r == region)
        .map(|(_, _, x)| x.clone())
        .collect()
}

/// Evaluates the frameworks of `account` and `region` (or only `only`)
/// now, records what changed, and returns each framework's evaluation.
///
/// # Errors
/// When no framework applies, or the catalog fails.
pub async fn evaluate_frameworks(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    place: (&str, &str),
    only: Option<&str>,
) -> anyhow::Result<Vec<(Framework, FrameworkEvaluation)>> {
    let frameworks = placed(catalog, ObjectKind::Framework).await?;
    // A framework that is not there is refused before anything is read.
    chosen(&frameworks, place, only)?;
    let inputs = Inputs::read(ctx, catalog, frameworks).await?;
    evaluate_with(catalog, &inputs, place, only).await
}

/// The frameworks of `account` and `region` (or only `only`).
///
/// # Errors
/// When none applies, saying how to apply one.
fn chosen(
    frameworks: &[(String, String, Framework)],
    (account, region): (&str, &str),
    only: Option<&str>,
) -> anyhow::Result<Vec<Framework>> {
    let found: Vec<Framework> = of_place(frameworks, (account, region))
        .into_iter()
        .filter(|f| only.is_none_or(|name| f.framework_name == name))
        .collect();
    if found.is_empty() {
        match only {
            Some(name) => bail!("framework {name:?} is not applied in account {account}, region {region}; `coffer get frameworks` lists them"),
            None => bail!("no framework is applied in account {account}, region {region}; declare an AWS::Backup::Framework and apply it"),
        }
    }
    Ok(found)
}

async fn evaluate_with(
    catalog: &coffer_catalog::Catalog,
    inputs: &Inputs,
    (account, region): (&str, &str),
    only: Option<&str>,
) -> anyhow::Result<Vec<(Framework, FrameworkEvaluation)>> {
    let here = |a: &str, r: &str| a == account && r == region;
    let frameworks = chosen(&inputs.frameworks, (account, region), only)?;
    let plans: Vec<BackupPlan> = of_place(&inputs.plans, (account, region));
    let selections: Vec<BackupSelection> = of_place(&inputs.selections, (account, region));
    let resources: Vec<_> = inputs
        .resources
        .iter()
        .filter(|r| here(r.account_id.as_str(), r.region.as_str()))
        .cloned()
        .collect();
    let estate = Estate {
        account,
        region,
        resources: &resources,
        plans: &plans,
        selections: &selections,
        vaults: &inputs.vaults,
        newest: &inputs.newest,
        restored: &inputs.restored,
        now: jiff::Timestamp::now(),
    };
    let mut out = Vec::new();
    for framework in frameworks {
        let evaluation = evaluate_framework(catalog, &framework, &estate).await?;
        out.push((framework, evaluation));
    }
    Ok(out)
}

async fn run(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    only: Option<&str>,
    summary: bool,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let here = (ctx.account.as_str(), ctx.region.as_str());
    let evaluated = evaluate_frameworks(ctx, catalog, here, only).await?;
    let mut docs = Vec::new();
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for (framework, evaluation) in &evaluated {
        let key = coffer_catalog::FrameworkKey {
            account_id: here.0,
            region: here.1,
            framework_name: &framework.framework_name,
        };
        // JSON carries every current result; the table, those that fail.
        let results = if summary {
            Vec::new()
        } else {
            catalog
                .current_control_results(Some(key), format == OutputFormat::Table)
                .await?
        };
        for c in &evaluation.controls {
            rows.push(vec![
                framework.framework_name.clone(),
                c.control_name.clone(),
                c.status.as_str().to_string(),
                c.compliant.to_string(),
                c.non_compliant.to_string(),
            ]);
        }
        let failing: Vec<&ControlResult> = results
            .iter()
            .filter(|r| r.status != Compliance::Compliant)
            .collect();
        for r in failing.iter().take(DETAILS) {
            details.push(format!(
                "{} {} {}: {}",
                r.status.as_str(),
                r.control_name,
                r.resource_id,
                r.reason
            ));
        }
        if failing.len() > DETAILS {
            details.push(format!(
                "... and {} more of {}: `coffer audit evaluate -o json` lists every result",
                failing.len() - DETAILS,
                framework.framework_name
            ));
        }
        docs.push(json!({
            "FrameworkName": framework.framework_name,
            "FrameworkStatus": evaluation.status.as_str(),
            "EvaluatedAt": evaluation.evaluated_at.to_string(),
            "ResultsChanged": evaluation.results_changed,
            "ResultsRetired": evaluation.results_retired,
            "Controls": evaluation.controls.iter().map(|c| json!({
                "ControlName": c.control_name, "ControlComplianceStatus": c.status.as_str(),
                "NumResourcesCompliant": c.compliant, "NumResourcesNonCompliant": c.non_compliant,
                "NumResourcesInsufficientData": c.insufficient_data,
            })).collect::<Vec<_>>(),
        }));
        if !summary {
            if let Some(doc) = docs.last_mut() {
                doc["Results"] = json!(results);
            }
        }
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
/// scheduler); returns how many results changed.
///
/// # Errors
/// When the catalog fails.
pub async fn evaluate_everywhere(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
) -> anyhow::Result<u64> {
    let frameworks = placed::<Framework>(catalog, ObjectKind::Framework).await?;
    let places: std::collections::BTreeSet<(String, String)> = frameworks
        .iter()
        .map(|(account, region, _)| (account.clone(), region.clone()))
        .collect();
    if places.is_empty() {
        return Ok(0);
    }
    let inputs = Inputs::read(ctx, catalog, frameworks).await?;
    let mut results = 0;
    for (account, region) in &places {
        for (_, evaluation) in evaluate_with(catalog, &inputs, (account, region), None).await? {
            results += evaluation.results_changed;
        }
    }
    Ok(results)
}
