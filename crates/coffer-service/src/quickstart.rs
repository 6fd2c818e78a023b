//! What `coffer quickstart` prepares to protect: a MariaDB database on
//! 127.0.0.1:3306, and a bucket on an endpoint config.toml declares,
//! created and filled with a few objects (content types, user metadata,
//! tags) when it answers; or why not. And the drill it runs once: the
//! stack's restore testing plan, each resource it selects restored to a
//! scratch target, validated and the target deleted.

use std::collections::BTreeMap;

use coffer_model::S3Endpoint;
use coffer_vault::s3_client::S3Client;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};

use crate::Service;

/// The server name quickstart declares for the MariaDB on 127.0.0.1:3306.
pub const MARIADB_SERVER: &str = "local-mariadb";

/// The `[s3_endpoints]` entry quickstart uses when there are several.
pub const QUICKSTART_ENDPOINT: &str = "quickstart";

/// The restore testing plan the quickstart stack declares.
pub const RESTORE_TESTING_PLAN: &str = "quickstart_drills";

/// One resource's restore test, as quickstart reports it.
#[derive(Clone, Debug)]
pub struct Drill {
    /// The resource the tested point belongs to.
    pub resource_arn: String,
    /// The restore job the test recorded, as it ended.
    pub job: coffer_model::RestoreJob,
}

impl Drill {
    /// Whether the test proved the resource recoverable and left nothing
    /// behind: restored, validated SUCCESSFUL, its scratch target deleted.
    pub fn passed(&self) -> bool {
        self.job.restored_and_validated()
            && self.job.deletion_status == Some(coffer_model::DeletionStatus::Successful)
    }
}

/// A bucket ready to be protected.
#[derive(Clone, Debug)]
pub struct QuickstartBucket {
    /// The `[s3_endpoints]` entry's name.
    pub endpoint_name: String,
    pub endpoint: S3Endpoint,
    pub bucket: String,
    /// Objects the bucket holds now.
    pub objects: usize,
}

/// Whether quickstart protects a bucket, and if not why.
#[derive(Clone, Debug)]
pub enum BucketReadiness {
    Ready(QuickstartBucket),
    /// Skipped, with the reason in words.
    Skipped(String),
}

/// The sample objects: key, content type, user metadata, tags.
const OBJECTS: &[(&str, &str, &str, &str)] = &[
    (
        "invoices/2026/11/0001.txt",
        "text/plain",
        "customer=acme",
        "kind=invoice",
    ),
    (
        "invoices/2026/11/0002.txt",
        "text/plain",
        "customer=globex",
        "kind=invoice",
    ),
    ("site/index.html", "text/html", "owner=web", "public=yes"),
    ("site/style.css", "text/css", "owner=web", "public=yes"),
];

impl Service {
    /// Runs the quickstart's restore testing plan once, now
    /// ([`Service::start_restore_test`]): one drill per resource it
    /// selects, named by the resource its point belongs to, in the order
    /// of their ARNs.
    ///
    /// # Errors
    /// As [`Service::start_restore_test`]; `ResourceNotFound` when the
    /// quickstart stack is not applied.
    pub async fn quickstart_drills(&self, caller: &crate::Caller) -> crate::Result<Vec<Drill>> {
        let jobs = self
            .start_restore_test(caller, RESTORE_TESTING_PLAN)
            .await?;
        let wanted: std::collections::BTreeSet<&str> =
            jobs.iter().map(|j| j.recovery_point_arn.as_str()).collect();
        let resource_of: BTreeMap<String, String> = self
            .records(|p: &coffer_model::RecoveryPoint| {
                wanted.contains(p.recovery_point_arn.as_str())
            })
            .await?
            .into_iter()
            .map(|p| (p.recovery_point_arn, p.resource_arn))
            .collect();
        let mut drills: Vec<Drill> = jobs
            .into_iter()
            .map(|job| Drill {
                resource_arn: resource_of
                    .get(&job.recovery_point_arn)
                    .cloned()
                    .unwrap_or_else(|| job.recovery_point_arn.clone()),
                job,
            })
            .collect();
        drills.sort_by(|a, b| a.resource_arn.cmp(&b.resource_arn));
        Ok(drills)
    }

    /// Prepares the MariaDB database `name` quickstart protects: created
    /// with a table of invoices when a server answers on 127.0.0.1:3306 as
    /// root without a password and its client tools are installed (each
    /// call adds rows); else why it is skipped, in words.
    pub async fn quickstart_mariadb(
        &self,
        account: &coffer_model::AccountId,
        region: &coffer_model::Region,
        name: &str,
    ) -> Result<String, String> {
        let server = coffer_model::Server {
            name: MARIADB_SERVER.into(),
            engine: coffer_model::ResourceType::MySQL,
            host: "127.0.0.1".into(),
            port: 3306,
            user: Some("root".into()),
            password: None,
            account_id: account.clone(),
            region: region.clone(),
            tags: Default::default(),
            databases: Vec::new(),
            exclude_databases: Vec::new(),
            database_tags: Default::default(),
        };
        let endpoint =
            coffer_drivers::endpoint::Endpoint::of_server(&server).map_err(|e| e.to_string())?;
        endpoint
            .execute(&format!(
                "CREATE DATABASE IF NOT EXISTS `{name}`;
             CREATE TABLE IF NOT EXISTS `{name}`.invoices (id int AUTO_INCREMENT PRIMARY KEY, amount int, created timestamp DEFAULT current_timestamp);
             INSERT INTO `{name}`.invoices (amount) SELECT seq FROM `{name}`.seq_1_to_100;"
            ))
            .await
            .map_err(|e| e.to_string())?;
        Ok(name.to_string())
    }

    /// Prepares `bucket` on config.toml's `[s3_endpoints.quickstart]` entry
    /// (or its only entry): created when missing, the sample objects put
    /// with their content types, metadata and tags, and `round` written as
    /// one more object so each run has news; skipped, saying why, when no
    /// endpoint is declared or it does not answer.
    pub async fn quickstart_bucket(&self, bucket: &str, round: &str) -> BucketReadiness {
        let endpoints = self.config().s3_endpoints();
        let chosen = endpoints.get_key_value(QUICKSTART_ENDPOINT).or_else(|| {
            (endpoints.len() == 1)
                .then(|| endpoints.iter().next())
                .flatten()
        });
        let Some((name, endpoint)) = chosen else {
            return BucketReadiness::Skipped(if endpoints.is_empty() {
                "config.toml declares no [s3_endpoints] entry; declare one (a local MinIO or moto server will do), named quickstart if there are several".into()
            } else {
                format!(
                    "config.toml declares several [s3_endpoints] entries ({}) and none is named {QUICKSTART_ENDPOINT}",
                    endpoints.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            });
        };
        match self.fill_bucket(name, endpoint, bucket, round).await {
            Ok(objects) => BucketReadiness::Ready(QuickstartBucket {
                endpoint_name: name.clone(),
                endpoint: endpoint.clone(),
                bucket: bucket.to_string(),
                objects,
            }),
            Err(reason) => BucketReadiness::Skipped(format!(
                "the S3 endpoint {name} ({}) did not take the bucket {bucket}: {reason}",
                endpoint.url
            )),
        }
    }

    async fn fill_bucket(
        &self,
        name: &str,
        endpoint: &S3Endpoint,
        bucket: &str,
        round: &str,
    ) -> Result<usize, String> {
        let access = coffer_engine::env::s3_access(name, endpoint).map_err(|e| e.to_string())?;
        let client = S3Client::new(&access, bucket).map_err(|e| e.to_string())?;
        let answered =
            tokio::time::timeout(std::time::Duration::from_secs(5), client.bucket_exists())
                .await
                .map_err(|_| "no answer within 5 seconds".to_string())?
                .map_err(|e| e.to_string())?;
        if !answered {
            client.create_bucket().await.map_err(|e| e.to_string())?;
        }
        let header = |text: &str| HeaderValue::from_str(text).map_err(|e| e.to_string());
        let mut objects = OBJECTS
            .iter()
            .map(|(key, content_type, meta, tags)| {
                (
                    key.to_string(),
                    content_type.to_string(),
                    format!("{key}: sample\n"),
                    *meta,
                    *tags,
                )
            })
            .collect::<Vec<_>>();
        objects.push((
            format!("rounds/{round}.txt"),
            "text/plain".into(),
            format!("round {round}\n"),
            "source=quickstart",
            "kind=round",
        ));
        for (key, content_type, body, meta, tags) in &objects {
            let (meta_name, meta_value) = meta.split_once('=').unwrap_or((meta, ""));
            let meta_header = HeaderName::from_bytes(format!("x-amz-meta-{meta_name}").as_bytes())
                .map_err(|e| e.to_string())?;
            let headers = vec![
                (CONTENT_TYPE, header(content_type)?),
                (meta_header, header(meta_value)?),
            ];
            client
                .put_object(key, body.as_bytes(), headers)
                .await
                .map_err(|e| e.to_string())?;
            let (tag, value) = tags.split_once('=').unwrap_or((tags, ""));
            let tags = BTreeMap::from([(tag.to_string(), value.to_string())]);
            client
                .put_object_tags(key, &tags)
                .await
                .map_err(|e| e.to_string())?;
        }
        let listed = client.list("").await.map_err(|e| e.to_string())?;
        Ok(listed.len())
    }
}
