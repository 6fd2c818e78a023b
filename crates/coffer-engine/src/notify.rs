//! Notifications: events posted as JSON to the webhooks config.toml names,
//! the way AWS Backup vault notifications publish to an SNS topic.
//!
//! A target without `sns_topic` gets the events it lists (by default the
//! ones that need a person: failed, expired and missed jobs, failed vault
//! checks). A target with `sns_topic` stands for that topic: it gets the
//! events of vaults whose Notifications name the topic, as their
//! BackupVaultEvents choose. Delivery never blocks the scheduler: each
//! post runs on its own task, is retried a few times, and a target that
//! stays down is logged.

use std::sync::Arc;
use std::time::Duration;

use coffer_model::{BackupVault, NotificationTarget};
use jiff::Timestamp;
use serde::Serialize;

/// One event, as posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    /// `BACKUP_JOB_FAILED`, `VAULT_CHECK_FAILED`, ...
    pub event_type: String,
    pub time: Timestamp,
    pub account_id: String,
    pub region: String,
    pub backup_vault_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// What happened, in the resource's or the engine's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Sends events to the configured targets.
#[derive(Clone, Debug)]
pub struct Notifier {
    targets: Arc<Vec<NotificationTarget>>,
    client: Option<reqwest::Client>,
}

impl Notifier {
    pub fn new(targets: &[NotificationTarget]) -> Notifier {
        let client = if targets.is_empty() {
            None
        } else {
            // TLS through rustls with ring, as the S3 client uses.
            let _ = rustls::crypto::ring::default_provider().install_default();
            match reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
            {
                Ok(client) => Some(client),
                Err(error) => {
                    tracing::error!(%error, "cannot build the webhook client; notifications are not sent");
                    None
                }
            }
        };
        Notifier {
            targets: Arc::new(targets.to_vec()),
            client,
        }
    }

    /// The URLs an event of `vault` goes to.
    pub fn recipients(&self, event: &Event, vault: Option<&BackupVault>) -> Vec<String> {
        self.targets
            .iter()
            .filter(|target| match &target.sns_topic {
                None => target.events.contains(&event.event_type),
                Some(topic) => vault
                    .and_then(|v| v.notifications.as_ref())
                    .is_some_and(|n| {
                        n.sns_topic_arn == *topic
                            && n.backup_vault_events.iter().any(|e| {
                                *e == event.event_type
                                    // AWS's older name for a completed job.
                                    || (e == "BACKUP_JOB_COMPLETED"
                                        && event.event_type == "BACKUP_JOB_SUCCESSFUL")
                            })
                    }),
            })
            .map(|target| target.url.clone())
            .collect()
    }

    /// Posts `event` to its recipients in the background.
    pub fn send(&self, event: Event, vault: Option<&BackupVault>) {
        let recipients = self.recipients(&event, vault);
        if recipients.is_empty() {
            tracing::debug!(event = %event.event_type, vault = %event.backup_vault_name, job = ?event.job_id, "event (no target)");
        } else {
            tracing::info!(event = %event.event_type, vault = %event.backup_vault_name, job = ?event.job_id, targets = recipients.len(), "event sent");
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        for url in recipients {
            let client = client.clone();
            let event = event.clone();
            tokio::spawn(async move {
                let mut delay = Duration::from_millis(500);
                for attempt in 1..=4 {
                    let sent = client.post(&url).json_body(&event).send().await;
                    match sent.map(|r| r.error_for_status()) {
                        Ok(Ok(_)) => return,
                        Ok(Err(error)) | Err(error) => {
                            tracing::warn!(url = %redact(&url), attempt, error = %error.without_url(), "webhook delivery failed");
                        }
                    }
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                tracing::error!(url = %redact(&url), event = %event.event_type, "webhook did not accept the event; giving up");
            });
        }
    }
}

/// A URL without its query (where webhook tokens often are) or user info.
fn redact(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    match base.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => base.to_string(),
        },
        None => base.to_string(),
    }
}

/// Posting a JSON body without reqwest's `json` feature.
trait JsonBody {
    fn json_body<T: Serialize>(self, body: &T) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body<T: Serialize>(self, body: &T) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, events: &[&str], topic: Option<&str>) -> NotificationTarget {
        NotificationTarget {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_string()).collect(),
            sns_topic: topic.map(str::to_string),
        }
    }

    fn event(kind: &str) -> Event {
        Event {
            event_type: kind.into(),
            time: Timestamp::UNIX_EPOCH,
            account_id: "210987654321".into(),
            region: "eu-west-1".into(),
            backup_vault_name: "primary".into(),
            job_id: None,
            resource_arn: None,
            state: None,
            message: None,
        }
    }

    #[test]
    fn events_go_to_the_targets_that_asked_for_them() {
        let topic = "arn:aws:sns:eu-west-1:210987654321:backup-alerts";
        let notifier = Notifier::new(&[
            target("http://127.0.0.1:1/failures", &["BACKUP_JOB_FAILED"], None),
            target("http://127.0.0.1:1/topic", &[], Some(topic)),
        ]);
        let vault: BackupVault = serde_json::from_value(serde_json::json!({
            "BackupVaultName": "primary",
            "BackupVaultArn": "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary",
            "AccountId": "210987654321",
            "Region": "eu-west-1",
            "Notifications": {
                "SNSTopicArn": topic,
                "BackupVaultEvents": ["BACKUP_JOB_COMPLETED", "BACKUP_JOB_FAILED"]
            }
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let failed = notifier.recipients(&event("BACKUP_JOB_FAILED"), Some(&vault));
        assert_eq!(
            failed,
            ["http://127.0.0.1:1/failures", "http://127.0.0.1:1/topic"]
        );
        // BACKUP_JOB_COMPLETED, AWS's older name, asks for successes too.
        let done = notifier.recipients(&event("BACKUP_JOB_SUCCESSFUL"), Some(&vault));
        assert_eq!(done, ["http://127.0.0.1:1/topic"]);
        // A vault without that topic: only the plain target.
        assert_eq!(
            notifier.recipients(&event("BACKUP_JOB_FAILED"), None),
            ["http://127.0.0.1:1/failures"]
        );
        assert!(notifier
            .recipients(&event("COPY_JOB_FAILED"), Some(&vault))
            .is_empty());
    }

    #[test]
    fn tokens_in_webhook_urls_are_not_logged() {
        assert_eq!(
            redact("https://user:pw@hooks.example.com/x?token=s3cr3t"),
            "https://hooks.example.com/x"
        );
        assert_eq!(redact("http://127.0.0.1:9/hook"), "http://127.0.0.1:9/hook");
    }
}
