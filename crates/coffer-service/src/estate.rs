//! What the scheduler will do and what the estate holds: upcoming backup
//! jobs, the lifecycle sweep, discovery on declared servers, the catalog's
//! objects and stacks, and the metrics the daemon serves.

use coffer_catalog::{ObjectKind, StoredObject};
use coffer_engine::planning::PlannedJob;
use coffer_model::{Resource, Server};

use crate::caller::Caller;
use crate::error::Result;
use crate::Service;

/// Discovery on the declared servers.
#[derive(Debug, Default)]
pub struct Discovered {
    pub resources: Vec<Resource>,
    /// Servers whose engine has no driver, and servers that could not be
    /// asked, in words.
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

impl Service {
    /// The jobs the applied plans of the caller's account and region create
    /// in the next `hours` (the scheduler's own planning).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn upcoming_jobs(&self, caller: &Caller, hours: u32) -> Result<Vec<PlannedJob>> {
        let resources: Vec<Resource> = self.env_for(caller).objects(ObjectKind::Resource).await?;
        let now = self.now();
        let until = now
            .checked_add(jiff::SignedDuration::from_hours(i64::from(hours)))
            .unwrap_or(now);
        // A plan selects only resources of its own account and region.
        let resources: Vec<Resource> = resources
            .into_iter()
            .filter(|r| r.account_id == caller.account && r.region == caller.region)
            .collect();
        // Every resource known now existed before any time to come.
        let since = std::collections::BTreeMap::new();
        Ok(
            coffer_engine::daemon::plan_span(&self.env_for(caller), &resources, &since, now, until)
                .await?,
        )
    }

    /// One pass of the lifecycle sweeper now (or only what is due).
    ///
    /// # Errors
    /// Catalog failures; a point that could not move is in the report.
    pub async fn sweep(&self, dry_run: bool) -> Result<coffer_engine::maintenance::SweepReport> {
        Ok(coffer_engine::maintenance::sweep(self.env(), dry_run).await?)
    }

    /// The databases each declared server holds now, and the declared
    /// buckets, with their tags (a bucket's with its bucket tagging).
    ///
    /// # Errors
    /// Catalog failures; a server that cannot be asked is an error line.
    pub async fn discover_servers(&self) -> Result<Discovered> {
        let mut found = Discovered::default();
        for resource in self.env().objects::<Resource>(ObjectKind::Resource).await? {
            if resource.resource_type == coffer_model::ResourceType::S3 {
                found
                    .resources
                    .push(coffer_engine::env::with_bucket_tags(resource).await);
            }
        }
        for server in self.env().objects::<Server>(ObjectKind::Server).await? {
            if !server.engine.is_server_database() {
                found.notes.push(format!(
                    "server {:?} is {}; Coffer has no {} driver yet, so its databases are not discovered",
                    server.name,
                    server.engine.as_str(),
                    server.engine.as_str()
                ));
                continue;
            }
            match coffer_drivers::discover(&server).await {
                Ok(resources) => found.resources.extend(resources),
                Err(e) => found.errors.push(e.to_string()),
            }
        }
        Ok(found)
    }

    /// The catalog's objects of a kind (of one account and region when
    /// given).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn objects(
        &self,
        kind: ObjectKind,
        account: Option<&str>,
        region: Option<&str>,
    ) -> Result<Vec<StoredObject>> {
        if let (Some(account), Some(region)) = (account, region) {
            return Ok(self.catalog().stored_in(kind, account, region).await?);
        }
        Ok(self
            .catalog()
            .list_objects(kind)
            .await?
            .into_iter()
            .filter(|o| account.is_none_or(|a| o.account_id == a))
            .filter(|o| region.is_none_or(|r| o.region == r))
            .collect())
    }

    /// The catalog's object of a kind named `name` in the caller's account
    /// and region (a resource is named by its ARN, a selection
    /// `PLAN/SELECTION`).
    ///
    /// # Errors
    /// `ResourceNotFound`, naming the objects of that kind there; catalog
    /// failures.
    pub async fn object(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        name: &str,
    ) -> Result<StoredObject> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let stored = self.catalog().stored_in(kind, account, region).await?;
        let known: Vec<String> = stored.iter().map(|o| o.name.clone()).collect();
        stored.into_iter().find(|o| o.name == name).ok_or_else(|| {
            crate::Error::not_found(format!(
                "there is no {} {name:?} in account {account}, region {region}{}",
                kind.label(),
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" ({}s there: {})", kind.label(), known.join(", "))
                }
            ))
        })
    }

    /// The Prometheus series the daemon serves on `/metrics`, read now
    /// (every rule's next fire time within a week).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn metrics(&self, caller: &Caller) -> Result<String> {
        let upcoming = self.upcoming_jobs(caller, 24 * 7).await?;
        let snapshot =
            coffer_engine::metrics::Snapshot::read(&self.catalog_for(caller), upcoming).await?;
        coffer_engine::metrics::render(&snapshot)
            .map_err(|e| crate::Error::dependency(format!("cannot write the metrics: {e}")))
    }
}

impl Service {
    /// The applied stacks.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn stacks(&self) -> Result<Vec<coffer_catalog::StackRecord>> {
        Ok(self.catalog().stacks().await?)
    }
}
