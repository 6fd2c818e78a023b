//! `coffer access-keys`: the keys that sign AWS Backup API requests (as
//! `aws iam create-access-key` and its siblings), and the requests the API
//! refused.

use clap::{Subcommand, ValueEnum};
use coffer_service::access_keys::{AccessKey, KeyStatus};

use crate::context::{with_service, Context};
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum AccessKeysCommand {
    /// Create an access key for a user; its secret is shown this once.
    #[command(
        after_help = "Example:\n  coffer access-keys create --user ops\n  coffer access-keys create --user ops -o json\n\nThe key acts as arn:coffer:iam::ACCOUNT:user/NAME in the account in force.\nThe secret is kept only wrapped by the keyring; store it now, it cannot be shown again."
    )]
    Create {
        /// The IAM user name the key belongs to.
        #[arg(long)]
        user: String,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// List access keys (all users, or one), with when each was last used.
    #[command(
        after_help = "Example:\n  coffer access-keys list\n  coffer access-keys list --user ops -o json"
    )]
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Make a key Active or Inactive (an Inactive key's requests are refused).
    #[command(
        after_help = "Example:\n  coffer access-keys update --access-key-id AKCF... --status Inactive"
    )]
    Update {
        #[arg(long)]
        access_key_id: String,
        #[arg(long, value_enum)]
        status: StatusArg,
    },
    /// Delete a key; its requests are refused from now on.
    #[command(after_help = "Example:\n  coffer access-keys delete --access-key-id AKCF...")]
    Delete {
        #[arg(long)]
        access_key_id: String,
    },
    /// The API requests refused (bad signature, unknown or Inactive key, old
    /// time, wrong service or region), counted per source, reason and hour.
    #[command(
        after_help = "Example:\n  coffer access-keys refusals\n  coffer access-keys refusals --hours 168 -o json"
    )]
    Refusals {
        /// How many hours back.
        #[arg(long, default_value_t = 24)]
        hours: i64,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    #[value(name = "Active")]
    Active,
    #[value(name = "Inactive")]
    Inactive,
}

/// A key as IAM's ListAccessKeys and GetAccessKeyLastUsed show it.
fn key_json(key: &AccessKey) -> serde_json::Value {
    serde_json::json!({
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status.as_str(),
        "CreateDate": key.create_date.to_string(),
        "Principal": key.principal,
        "AccessKeyLastUsed": {
            "LastUsedDate": key.last_used_date.map(|t| t.to_string()),
            "Region": key.last_used_region,
        },
    })
}

pub async fn run(ctx: &Context, command: AccessKeysCommand) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| {
        match command {
            AccessKeysCommand::Create { user, output } => {
                let created = service.create_access_key(caller, &user).await?;
                let key = &created.key;
                let value = serde_json::json!({
                    "AccessKey": {
                        "UserName": key.user_name,
                        "AccessKeyId": key.access_key_id,
                        "Status": key.status.as_str(),
                        "SecretAccessKey": created.secret.expose(),
                        "CreateDate": key.create_date.to_string(),
                    }
                });
                output::print(output, &value, || {
                    format!(
                        "access key {} created for {}\nsecret access key (shown this once): {}\n",
                        key.access_key_id,
                        key.principal,
                        created.secret.expose()
                    )
                })?;
            }
            AccessKeysCommand::List { user, output } => {
                let keys = service.list_access_keys(caller, user.as_deref()).await?;
                let value = serde_json::json!({
                    "AccessKeyMetadata": keys.iter().map(key_json).collect::<Vec<_>>(),
                });
                output::print(output, &value, || {
                    output::table(
                        &[
                            "USER",
                            "ACCESS KEY ID",
                            "STATUS",
                            "CREATED",
                            "LAST USED",
                            "REGION",
                        ],
                        keys.iter()
                            .map(|k| {
                                vec![
                                    k.user_name.clone(),
                                    k.access_key_id.clone(),
                                    k.status.as_str().to_string(),
                                    k.create_date.to_string(),
                                    k.last_used_date.map_or("never".into(), |t| t.to_string()),
                                    k.last_used_region.clone().unwrap_or_default(),
                                ]
                            })
                            .collect(),
                    )
                })?;
            }
            AccessKeysCommand::Update {
                access_key_id,
                status,
            } => {
                let status = match status {
                    StatusArg::Active => KeyStatus::Active,
                    StatusArg::Inactive => KeyStatus::Inactive,
                };
                let key = service
                    .update_access_key(caller, &access_key_id, status)
                    .await?;
                println!(
                    "access key {} is {}",
                    key.access_key_id,
                    key.status.as_str()
                );
            }
            AccessKeysCommand::Delete { access_key_id } => {
                let key = service.delete_access_key(caller, &access_key_id).await?;
                println!(
                    "access key {} of {} deleted",
                    key.access_key_id, key.user_name
                );
            }
            AccessKeysCommand::Refusals { hours, output } => {
                let since = service
                    .now()
                    .checked_sub(jiff::SignedDuration::from_hours(hours.max(0)))
                    .unwrap_or(service.now());
                let refusals = service.auth_refusals(caller, since).await?;
                let value: Vec<serde_json::Value> = refusals
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "Hour": r.hour.to_string(),
                            "Source": r.source,
                            "Reason": r.reason,
                            "Count": r.count,
                            "FirstAt": r.first_at.to_string(),
                            "LastAt": r.last_at.to_string(),
                            "Detail": r.detail,
                        })
                    })
                    .collect();
                output::print(output, &value, || {
                    output::table(
                        &["HOUR", "SOURCE", "REASON", "COUNT", "FIRST DETAIL"],
                        refusals
                            .iter()
                            .map(|r| {
                                vec![
                                    r.hour.to_string(),
                                    r.source.clone(),
                                    r.reason.clone(),
                                    r.count.to_string(),
                                    r.detail.clone(),
                                ]
                            })
                            .collect(),
                    )
                })?;
            }
        }
        Ok(Outcome::Success)
    })
    .await
}
