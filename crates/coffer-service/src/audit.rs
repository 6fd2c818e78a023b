//! Audit frameworks: their controls evaluated over the catalog's state
//! now; results that changed are recorded (with history, each appended to
//! the evidence ledger), and each evaluation is summed up per control and
//! framework.

use std::collections::HashMap;

use coffer_audit::controls::{self, ControlResult, Estate};
use coffer_audit::evaluation::evaluate_framework;
use coffer_catalog::ObjectKind;
use coffer_model::{BackupPlan, BackupSelection, BackupVault, Framework, FrameworkEvaluation};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

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

/// Every object of a kind with its account and region.
async fn placed<T: serde::de::DeserializeOwned>(
    catalog: &coffer_catalog::Catalog,
    kind: ObjectKind,
) -> Result<Vec<(String, String, T)>> {
    catalog
        .list_objects(kind)
        .await?
        .into_iter()
        .map(|o| Ok((o.account_id, o.region, serde_json::from_value(o.doc)?)))
        .collect()
}

/// The objects of a kind in one account and region, read by index, with
/// their place.
async fn placed_in<T: serde::de::DeserializeOwned>(
    catalog: &coffer_catalog::Catalog,
    kind: ObjectKind,
    (account, region): (&str, &str),
) -> Result<Vec<(String, String, T)>> {
    Ok(catalog
        .objects_in::<T>(kind, account, region)
        .await?
        .into_iter()
        .map(|x| (account.to_string(), region.to_string(), x))
        .collect())
}

/// The objects of `account` and `region`.
fn of_place<T: Clone>(placed: &[(String, String, T)], (account, region): (&str, &str)) -> Vec<T> {
    placed
        .iter()
        .filter(|(a, r, _)| a == account && r == region)
        .map(|(_, _, x)| x.clone())
        .collect()
}

/// The frameworks of `account` and `region` (or only `only`).
///
/// # Errors
/// `ResourceNotFound` when none applies, saying how to apply one.
fn chosen(
    frameworks: &[(String, String, Framework)],
    (account, region): (&str, &str),
    only: Option<&str>,
) -> Result<Vec<Framework>> {
    let found: Vec<Framework> = of_place(frameworks, (account, region))
        .into_iter()
        .filter(|f| only.is_none_or(|name| f.framework_name == name))
        .collect();
    if found.is_empty() {
        return Err(Error::not_found(match only {
            Some(name) => format!("framework {name:?} is not applied in account {account}, region {region}"),
            None => format!("no framework is applied in account {account}, region {region}; declare an AWS::Backup::Framework and apply it"),
        }));
    }
    Ok(found)
}

impl Service {
    /// Reads the rest once the frameworks are known (discovery connects
    /// to servers: not done for nothing): of one account and region, or of
    /// every one.
    async fn inputs(
        &self,
        frameworks: Vec<(String, String, Framework)>,
        place: Option<(&str, &str)>,
    ) -> Result<Inputs> {
        let catalog = self.catalog();
        let (plans, selections) = match place {
            Some(place) => (
                placed_in(catalog, ObjectKind::BackupPlan, place).await?,
                placed_in(catalog, ObjectKind::BackupSelection, place).await?,
            ),
            None => (
                placed(catalog, ObjectKind::BackupPlan).await?,
                placed(catalog, ObjectKind::BackupSelection).await?,
            ),
        };
        Ok(Inputs {
            frameworks,
            resources: self.env().discover().await?,
            plans,
            selections,
            // Vaults of every region: copy destinations live elsewhere.
            vaults: self.env().objects(ObjectKind::BackupVault).await?,
            newest: controls::newest_by_resource(catalog.newest_points().await?),
            restored: controls::latest_restore_by_resource(catalog.completed_restores().await?),
        })
    }

    async fn evaluate_with(
        &self,
        inputs: &Inputs,
        (account, region): (&str, &str),
        only: Option<&str>,
    ) -> Result<Vec<(Framework, FrameworkEvaluation)>> {
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
            now: self.now(),
        };
        let mut out = Vec::new();
        for framework in frameworks {
            let evaluation = evaluate_framework(self.catalog(), &framework, &estate).await?;
            out.push((framework, evaluation));
        }
        Ok(out)
    }

    /// Evaluates the frameworks of the caller's account and region (or only
    /// `only`) now, records what changed, and returns each framework's
    /// evaluation.
    ///
    /// # Errors
    /// `ResourceNotFound` when no framework applies; catalog failures.
    pub async fn evaluate_frameworks(
        &self,
        caller: &Caller,
        only: Option<&str>,
    ) -> Result<Vec<(Framework, FrameworkEvaluation)>> {
        self.evaluate_frameworks_in(caller, only, None).await
    }

    /// Evaluates the frameworks (or only `only`) of the caller's region in
    /// the accounts `accounts` asks for ([`Service::account_scope`]: the
    /// management account and the backup delegated administrator evaluate
    /// across members with `*` or an account ID; anyone else, its own
    /// account). Over several accounts, an account without the framework
    /// is passed over.
    ///
    /// # Errors
    /// `ResourceNotFound` when no framework applies in any account of the
    /// scope; `AccessDenied` as [`Service::account_scope`]; catalog failures.
    pub async fn evaluate_frameworks_in(
        &self,
        caller: &Caller,
        only: Option<&str>,
        accounts: Option<&str>,
    ) -> Result<Vec<(Framework, FrameworkEvaluation)>> {
        self.authorize(caller, Action::StartFrameworkEvaluation, Target::Account)?;
        let scope = self.account_scope(caller, accounts).await?;
        let mut out = Vec::new();
        let mut refusal = None;
        for account in &scope.accounts {
            let place = (account.as_str(), caller.region.as_str());
            let frameworks =
                placed_in(&self.catalog_for(caller), ObjectKind::Framework, place).await?;
            // A framework that is not there is refused before anything is read.
            if let Err(error) = chosen(&frameworks, place, only) {
                refusal.get_or_insert(error);
                continue;
            }
            let inputs = self.inputs(frameworks, Some(place)).await?;
            out.extend(self.evaluate_with(&inputs, place, only).await?);
        }
        match refusal {
            Some(error) if out.is_empty() => Err(error),
            _ if scope.accounts.is_empty() => Err(Error::not_found(format!(
                "no account of the scope asked for is {}'s to evaluate",
                caller.principal
            ))),
            _ => Ok(out),
        }
    }

    /// The current results of a framework of the caller's account and
    /// region (only those that are not COMPLIANT with `failing_only`).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn current_results(
        &self,
        caller: &Caller,
        framework_name: &str,
        failing_only: bool,
    ) -> Result<Vec<ControlResult>> {
        self.current_results_in(
            caller,
            caller.account.as_str(),
            framework_name,
            failing_only,
        )
        .await
    }

    /// The current results of a framework of `account` (in the caller's
    /// scope) and the caller's region.
    ///
    /// # Errors
    /// `AccessDenied` for an account out of the caller's scope; catalog
    /// failures.
    pub async fn current_results_in(
        &self,
        caller: &Caller,
        account: &str,
        framework_name: &str,
        failing_only: bool,
    ) -> Result<Vec<ControlResult>> {
        if !self
            .account_scope(caller, Some(account))
            .await?
            .covers(account)
        {
            return Err(Error::access_denied(format!(
                "the results of account {account} are not {}'s to read",
                caller.principal
            )));
        }
        let key = coffer_catalog::FrameworkKey {
            account_id: account,
            region: caller.region.as_str(),
            framework_name,
        };
        Ok(self
            .catalog()
            .current_control_results(Some(key), failing_only)
            .await?)
    }

    /// Evaluates every framework of every account and region (the
    /// scheduler's evaluation); returns how many results changed.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn evaluate_everywhere(&self) -> Result<u64> {
        let frameworks = placed::<Framework>(self.catalog(), ObjectKind::Framework).await?;
        let places: std::collections::BTreeSet<(String, String)> = frameworks
            .iter()
            .map(|(account, region, _)| (account.clone(), region.clone()))
            .collect();
        if places.is_empty() {
            return Ok(0);
        }
        let inputs = self.inputs(frameworks, None).await?;
        let mut results = 0;
        for (account, region) in &places {
            for (_, evaluation) in self.evaluate_with(&inputs, (account, region), None).await? {
                results += evaluation.results_changed;
            }
        }
        Ok(results)
    }
}
