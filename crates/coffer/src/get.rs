//! `coffer get`: list catalog objects, or show one as it is, as it was at
//! a time, or its history.

use coffer_catalog::{ObjectKind, ObjectVersion, StoredObject};
use serde_json::{json, Value as Json};

use clap::ValueEnum;

use crate::context::{with_service, Context, Global};
use crate::output::{self, OutputFormat};
use crate::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GetKind {
    Plans,
    Vaults,
    Selections,
    Frameworks,
    ReportPlans,
    Resources,
    Servers,
    Stacks,
    /// IAM users (account-wide: listed whatever `--region` says).
    Users,
    ManagedPolicies,
    Roles,
    RestoreTestingPlans,
    RestoreTestingSelections,
}

fn text(doc: &Json, path: &[&str]) -> String {
    let mut value = doc;
    for key in path {
        match value.get(key) {
            Some(v) => value = v,
            None => return String::new(),
        }
    }
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// A list of strings in `doc[key]`, joined with commas.
fn joined(doc: &Json, key: &str) -> String {
    doc.get(key)
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn tags(doc: &Json, key: &str) -> String {
    doc.get(key)
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn days(doc: &Json) -> String {
    match doc.get("DeleteAfterDays").and_then(Json::as_u64) {
        Some(d) => match doc.get("MoveToColdStorageAfterDays").and_then(Json::as_u64) {
            Some(c) => format!("{d}d (cold after {c}d)"),
            None => format!("{d}d"),
        },
        None => "forever".to_string(),
    }
}

fn lock(doc: &Json) -> String {
    let Some(lock) = doc.get("LockConfiguration") else {
        return "-".to_string();
    };
    let mode = if lock.get("ChangeableForDays").is_some() {
        "compliance"
    } else {
        "governance"
    };
    let min = lock
        .get("MinRetentionDays")
        .map(ToString::to_string)
        .unwrap_or_else(|| "-".into());
    let max = lock
        .get("MaxRetentionDays")
        .map(ToString::to_string)
        .unwrap_or_else(|| "-".into());
    format!("{mode} {min}..{max}d")
}

/// The stored document plus the catalog's bookkeeping, in AWS style.
fn with_meta(object: &StoredObject) -> Json {
    let mut doc = with_ids(object.kind, &object.name, &object.arn, &object.doc);
    if let Some(map) = doc.as_object_mut() {
        map.insert("VersionId".into(), json!(object.version.to_string()));
        map.insert("CreationDate".into(), json!(object.created_at.to_string()));
        map.insert(
            "LastModifiedDate".into(),
            json!(object.updated_at.to_string()),
        );
        map.insert("StackName".into(), json!(object.stack));
        map.insert("ManagedBy".into(), json!(managed_by(object.owner())));
    }
    doc
}

/// Who owns an object, as `get` shows it: `stack`, `organization` or `api`.
fn managed_by(owner: coffer_catalog::Owner<'_>) -> &'static str {
    match owner {
        coffer_catalog::Owner::Stack(_) => "stack",
        coffer_catalog::Owner::Organization => "organization",
        coffer_catalog::Owner::Api => "api",
    }
}

/// The OWNER cell of a listing: the stack's name, `(organization)` or
/// `(API)`.
fn owner_cell(object: &StoredObject) -> String {
    match object.owner() {
        coffer_catalog::Owner::Stack(name) => name.to_string(),
        coffer_catalog::Owner::Organization => "(organization)".to_string(),
        coffer_catalog::Owner::Api => "(API)".to_string(),
    }
}

/// A document with the identifiers AWS shows beside it.
fn with_ids(kind: ObjectKind, name: &str, arn: &str, doc: &Json) -> Json {
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        let arn_field = match kind {
            ObjectKind::BackupPlan => Some("BackupPlanArn"),
            ObjectKind::Framework => Some("FrameworkArn"),
            ObjectKind::ReportPlan => Some("ReportPlanArn"),
            ObjectKind::RestoreTestingPlan => Some("RestoreTestingPlanArn"),
            ObjectKind::IamUser | ObjectKind::IamRole => Some("Arn"),
            ObjectKind::IamManagedPolicy => Some("PolicyArn"),
            _ => None,
        };
        if let Some(field) = arn_field {
            map.insert(field.to_string(), json!(arn));
        }
        // Identifiers are names, as templates resolve `!Ref Plan` (BackupPlanId)
        // and `!Ref Selection` (SelectionId) before anything exists.
        if kind == ObjectKind::BackupPlan {
            map.insert("BackupPlanId".into(), json!(name));
        }
        if kind == ObjectKind::BackupSelection {
            let plan = map.get("BackupPlanName").cloned().unwrap_or_default();
            let selection = map.get("SelectionName").cloned().unwrap_or_default();
            map.insert("BackupPlanId".into(), plan);
            map.insert("SelectionId".into(), selection);
        }
    }
    doc
}

/// A version of an object with who wrote it and the entry that commits to
/// it, in AWS style (the document is absent from a tombstone).
fn version_doc(version: &ObjectVersion) -> Json {
    let mut out = match &version.doc {
        Some(doc) => with_ids(version.kind, &version.name, &version.arn, doc),
        None => json!({}),
    };
    if let Some(map) = out.as_object_mut() {
        map.insert("VersionId".into(), json!(version.version.to_string()));
        map.insert("ChangeType".into(), json!(version.change.as_str()));
        map.insert("LastModifiedDate".into(), json!(version.time.to_string()));
        map.insert("LastModifiedBy".into(), json!(version.actor));
        map.insert("LedgerSeq".into(), json!(version.ledger_seq));
        map.insert("StackName".into(), json!(version.stack));
    }
    out
}

fn rows(kind: ObjectKind, objects: &[StoredObject]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    match kind {
        ObjectKind::BackupVault => (
            vec![
                "NAME",
                "LOCK",
                "ENCRYPTION KEY",
                "ACCOUNT",
                "REGION",
                "OWNER",
            ],
            objects
                .iter()
                .map(|o| {
                    vec![
                        o.name.clone(),
                        lock(&o.doc),
                        text(&o.doc, &["EncryptionKeyArn"]),
                        o.account_id.clone(),
                        o.region.clone(),
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::BackupPlan => (
            vec![
                "PLAN",
                "RULE",
                "SCHEDULE",
                "TIMEZONE",
                "VAULT",
                "RETENTION",
                "COPIES",
                "ACCOUNT",
                "REGION",
                "OWNER",
            ],
            objects
                .iter()
                .flat_map(|o| {
                    let rules = o
                        .doc
                        .get("Rules")
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default();
                    rules
                        .into_iter()
                        .map(|r| {
                            let copies = r
                                .get("CopyActions")
                                .and_then(Json::as_array)
                                .map_or(0, Vec::len);
                            vec![
                                o.name.clone(),
                                text(&r, &["RuleName"]),
                                text(&r, &["ScheduleExpression"]),
                                r.get("ScheduleExpressionTimezone")
                                    .and_then(Json::as_str)
                                    .unwrap_or("UTC")
                                    .to_string(),
                                text(&r, &["TargetBackupVaultName"]),
                                days(r.get("Lifecycle").unwrap_or(&Json::Null)),
                                copies.to_string(),
                                o.account_id.clone(),
                                o.region.clone(),
                                owner_cell(o),
                            ]
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
        ),
        ObjectKind::BackupSelection => (
            vec!["PLAN", "SELECTION", "RESOURCES", "TAGS", "OWNER"],
            objects
                .iter()
                .map(|o| {
                    let resources = joined(&o.doc, "Resources");
                    let tags = o
                        .doc
                        .get("ListOfTags")
                        .and_then(Json::as_array)
                        .map(|a| {
                            a.iter()
                                .map(|t| {
                                    format!(
                                        "{}={}",
                                        text(t, &["ConditionKey"]),
                                        text(t, &["ConditionValue"])
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    vec![
                        text(&o.doc, &["BackupPlanName"]),
                        text(&o.doc, &["SelectionName"]),
                        resources,
                        tags,
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::Framework => (
            vec!["NAME", "CONTROLS", "DESCRIPTION", "OWNER"],
            objects
                .iter()
                .map(|o| {
                    let n = o
                        .doc
                        .get("FrameworkControls")
                        .and_then(Json::as_array)
                        .map_or(0, Vec::len);
                    vec![
                        o.name.clone(),
                        n.to_string(),
                        text(&o.doc, &["FrameworkDescription"]),
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::ReportPlan => (
            vec!["NAME", "TEMPLATE", "DESTINATION", "FORMATS", "OWNER"],
            objects
                .iter()
                .map(|o| {
                    let channel = o
                        .doc
                        .get("ReportDeliveryChannel")
                        .cloned()
                        .unwrap_or(Json::Null);
                    let destination = format!(
                        "{}/{}",
                        text(&channel, &["S3BucketName"]),
                        text(&channel, &["S3KeyPrefix"])
                    );
                    let formats = joined(&channel, "Formats");
                    vec![
                        o.name.clone(),
                        text(&o.doc, &["ReportSetting", "ReportTemplate"]),
                        destination,
                        formats,
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::Resource => (
            vec!["ARN", "TYPE", "TAGS", "OWNER"],
            objects
                .iter()
                .map(|o| {
                    vec![
                        o.name.clone(),
                        text(&o.doc, &["ResourceType"]),
                        tags(&o.doc, "Tags"),
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::Server => (
            vec!["NAME", "ENGINE", "ADDRESS", "DATABASES", "OWNER"],
            objects
                .iter()
                .map(|o| {
                    let dbs = joined(&o.doc, "Databases");
                    vec![
                        o.name.clone(),
                        text(&o.doc, &["Engine"]),
                        format!("{}:{}", text(&o.doc, &["Host"]), text(&o.doc, &["Port"])),
                        dbs,
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::S3Endpoint => (
            vec!["NAME", "URL", "OWNER"],
            objects
                .iter()
                .map(|o| vec![o.name.clone(), text(&o.doc, &["Url"]), owner_cell(o)])
                .collect(),
        ),
        ObjectKind::IamUser | ObjectKind::IamRole => (
            vec![
                "NAME",
                "INLINE POLICIES",
                "MANAGED POLICIES",
                "ACCOUNT",
                "OWNER",
            ],
            objects
                .iter()
                .map(|o| {
                    let inline = o
                        .doc
                        .get("Policies")
                        .and_then(Json::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .map(|p| text(p, &["PolicyName"]))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    vec![
                        o.name.clone(),
                        inline,
                        joined(&o.doc, "ManagedPolicyArns"),
                        o.account_id.clone(),
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
        ObjectKind::RestoreTestingPlan => (
            vec![
                "NAME",
                "SCHEDULE",
                "ALGORITHM",
                "WINDOW DAYS",
                "VAULTS",
                "STACK",
            ],
            objects
                .iter()
                .map(|o| {
                    let selection = o
                        .doc
                        .get("RecoveryPointSelection")
                        .cloned()
                        .unwrap_or(Json::Null);
                    vec![
                        o.name.clone(),
                        text(&o.doc, &["ScheduleExpression"]),
                        text(&selection, &["Algorithm"]),
                        text(&selection, &["SelectionWindowDays"]),
                        joined(&selection, "IncludeVaults"),
                        o.stack.clone(),
                    ]
                })
                .collect(),
        ),
        ObjectKind::RestoreTestingSelection => (
            vec!["NAME", "TYPE", "RESOURCES", "VALIDATION HOURS", "STACK"],
            objects
                .iter()
                .map(|o| {
                    vec![
                        o.name.clone(),
                        text(&o.doc, &["ProtectedResourceType"]),
                        joined(&o.doc, "ProtectedResourceArns"),
                        text(&o.doc, &["ValidationWindowHours"]),
                        o.stack.clone(),
                    ]
                })
                .collect(),
        ),
        ObjectKind::IamManagedPolicy => (
            vec!["NAME", "USERS", "ACCOUNT", "OWNER"],
            objects
                .iter()
                .map(|o| {
                    vec![
                        o.name.clone(),
                        joined(&o.doc, "Users"),
                        o.account_id.clone(),
                        owner_cell(o),
                    ]
                })
                .collect(),
        ),
    }
}

/// The catalog's kind a `get` kind names (None for stacks).
fn object_kind(kind: GetKind) -> Option<ObjectKind> {
    match kind {
        GetKind::Plans => Some(ObjectKind::BackupPlan),
        GetKind::Vaults => Some(ObjectKind::BackupVault),
        GetKind::Selections => Some(ObjectKind::BackupSelection),
        GetKind::Frameworks => Some(ObjectKind::Framework),
        GetKind::ReportPlans => Some(ObjectKind::ReportPlan),
        GetKind::Resources => Some(ObjectKind::Resource),
        GetKind::Servers => Some(ObjectKind::Server),
        GetKind::Stacks => None,
        GetKind::Users => Some(ObjectKind::IamUser),
        GetKind::ManagedPolicies => Some(ObjectKind::IamManagedPolicy),
        GetKind::Roles => Some(ObjectKind::IamRole),
        GetKind::RestoreTestingPlans => Some(ObjectKind::RestoreTestingPlan),
        GetKind::RestoreTestingSelections => Some(ObjectKind::RestoreTestingSelection),
    }
}

pub async fn get(
    global: &Global,
    ctx: &Context,
    kind: GetKind,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let object_kind = match object_kind(kind) {
        Some(object_kind) => object_kind,
        None => {
            let stacks = with_service(ctx, async |service, _| Ok(service.stacks().await?)).await?;
            let docs: Vec<Json> = stacks
                .iter()
                .map(|s| json!({"StackName": s.name, "AccountId": s.account_id, "Region": s.region, "Files": s.files, "LastAppliedDate": s.applied_at.to_string(), "VersionId": s.version.to_string()}))
                .collect();
            let table_rows = stacks
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.account_id.clone(),
                        s.region.clone(),
                        s.files.len().to_string(),
                        s.applied_at.to_string(),
                    ]
                })
                .collect();
            print(
                format,
                &Json::Array(docs),
                &["OWNER", "ACCOUNT", "REGION", "FILES", "APPLIED AT"],
                table_rows,
            )?;
            return Ok(Outcome::Success);
        }
    };
    // Every account and region unless one is asked for.
    let account = global.account.is_some().then(|| ctx.account.to_string());
    // IAM objects belong to an account, not a region.
    let account_wide = matches!(
        kind,
        GetKind::Users | GetKind::ManagedPolicies | GetKind::Roles
    );
    let region = (global.region.is_some() && !account_wide).then(|| ctx.region.to_string());
    let objects: Vec<StoredObject> = with_service(ctx, async |service, _| {
        Ok(service
            .objects(object_kind, account.as_deref(), region.as_deref())
            .await?)
    })
    .await?;
    if objects.is_empty()
        && format == OutputFormat::Table
        && (global.account.is_some() || global.region.is_some())
    {
        println!("(none in account {}, region {})", ctx.account, ctx.region);
        return Ok(Outcome::Success);
    }
    let docs = Json::Array(objects.iter().map(with_meta).collect());
    let (header, table_rows) = rows(object_kind, &objects);
    print(format, &docs, &header, table_rows)?;
    Ok(Outcome::Success)
}

/// `coffer get KIND NAME [--at TIME | --history]`: one object as it is,
/// as it was at a time, or its every version.
pub async fn one(
    ctx: &Context,
    kind: GetKind,
    name: &str,
    at: Option<&str>,
    history: bool,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let Some(object_kind) = object_kind(kind) else {
        anyhow::bail!("stacks are listed whole (`coffer get stacks`); give no name");
    };
    let at = at
        .map(|text| {
            coffer_service::history::point_in_time(text)
                .map_err(|e| anyhow::anyhow!("--at: {}", e.message()))
        })
        .transpose()?;
    with_service(ctx, async |service, caller| {
        if let Some(at) = at {
            let version = service.object_at(caller, object_kind, name, at).await?;
            let doc = version_doc(&version);
            match format {
                OutputFormat::Table => {
                    println!(
                        "{} {name:?} as of {at}: version {}, {} (stack {})",
                        object_kind.label(),
                        version.version,
                        coffer_service::history::changed_by(&version),
                        version.stack
                    );
                    print!("{}", output::yaml(&doc)?);
                }
                _ => output::document(format, &doc)?,
            }
            return Ok(Outcome::Success);
        }
        if history {
            let versions = service.object_history(caller, object_kind, name).await?;
            let docs = Json::Array(versions.iter().map(version_doc).collect());
            let table_rows = versions
                .iter()
                .map(|v| {
                    let actor = v.actor.as_ref();
                    vec![
                        v.version.to_string(),
                        v.time.to_string(),
                        v.change.as_str().to_string(),
                        actor.map_or_else(|| "-".to_string(), |a| a.principal.clone()),
                        actor
                            .and_then(|a| a.os_user.clone())
                            .unwrap_or_else(|| "-".to_string()),
                        v.stack.clone(),
                        v.ledger_seq.to_string(),
                    ]
                })
                .collect();
            print(
                format,
                &docs,
                &[
                    "VERSION",
                    "TIME",
                    "CHANGE",
                    "ACTOR",
                    "OS USER",
                    "OWNER",
                    "LEDGER SEQ",
                ],
                table_rows,
            )?;
            return Ok(Outcome::Success);
        }
        let object = service.object(caller, object_kind, name).await?;
        let (header, table_rows) = rows(object_kind, std::slice::from_ref(&object));
        print(
            format,
            &Json::Array(vec![with_meta(&object)]),
            &header,
            table_rows,
        )?;
        Ok(Outcome::Success)
    })
    .await
}

fn print(
    format: OutputFormat,
    docs: &Json,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(docs)?),
        OutputFormat::Yaml => print!("{}", output::yaml(docs)?),
        OutputFormat::Table if rows.is_empty() => println!("(none)"),
        OutputFormat::Table => println!("{}", output::table(header, rows)),
    }
    Ok(())
}
