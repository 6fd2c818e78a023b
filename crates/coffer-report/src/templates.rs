//! The rows of each report template, with AWS's documented columns in
//! their documented order, then Coffer's evidence columns: the ledger
//! entry that records the row's latest state (`ledgerEntryIndex`) and,
//! for jobs with a recovery point, its content SHA-256
//! (`recoveryPointSha256`). Jobs reports hold the jobs that ended in the
//! window plus every job still active, as AWS's do.

use std::collections::{BTreeMap, HashMap};

use coffer_model::{
    BackupJob, BackupVault, ControlResult, CopyJob, Framework, FrameworkEvaluation, RecoveryPoint,
    ReportSetting, RestoreJob,
};
use jiff::Timestamp;

use crate::{Error, Result};

/// A report's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// What the templates read.
#[derive(Debug)]
pub struct Sources<'a> {
    pub backups: &'a [BackupJob],
    pub copies: &'a [CopyJob],
    pub restores: &'a [RestoreJob],
    pub points: &'a [RecoveryPoint],
    pub vaults: &'a [BackupVault],
    /// Frameworks with their ARNs.
    pub frameworks: &'a [(String, Framework)],
    /// The current result of each (framework, control, resource).
    pub results: &'a [ControlResult],
    /// The newest evaluation of each framework (of each account, region).
    pub evaluations: &'a [FrameworkEvaluation],
    /// Record ID → the position of its newest ledger entry.
    pub ledger: &'a HashMap<String, i64>,
    /// The backups the policy expected in the window
    /// (BACKUP_EXPECTATION_REPORT; their jobs are in `backups`).
    pub expected: &'a [crate::expected::ExpectedBackup],
}

pub(crate) const EVIDENCE: [&str; 2] = ["ledgerEntryIndex", "recoveryPointSha256"];

pub(crate) fn ts(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// `HH:MM:SS`, as AWS writes jobRunTime.
fn run_time(start: Timestamp, end: Option<Timestamp>) -> String {
    let Some(end) = end else {
        return String::new();
    };
    let secs = end.duration_since(start).as_secs().max(0);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

pub(crate) fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A resource's name: the last part of its ARN.
pub fn resource_name(arn: &str) -> String {
    arn.rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn lock_status(vault: Option<&BackupVault>) -> String {
    match vault.and_then(|v| v.lock_configuration.as_ref()) {
        Some(_) => "LOCKED".to_string(),
        None => "UNLOCKED".to_string(),
    }
}

/// The columns backup and copy job rows end with (the values of [`tail`]).
const TAIL_COLUMNS: [&str; 11] = [
    "vaultType",
    "vaultLockStatus",
    "isEncrypted",
    "encryptionKeyArn",
    "deleteAfterDays",
    "moveToColdAfterDays",
    "enableArchive",
    "iamRoleArn",
    "statusMessage",
    EVIDENCE[0],
    EVIDENCE[1],
];

/// The values of [`TAIL_COLUMNS`] for one backup or copy job row.
fn tail(
    vault: Option<&BackupVault>,
    point: Option<&RecoveryPoint>,
    lifecycle: &coffer_model::Lifecycle,
    status_message: &Option<String>,
    ledger_entry: String,
) -> [String; 11] {
    [
        "BACKUP_VAULT".into(),
        lock_status(vault),
        opt(point.map(|p| p.is_encrypted)),
        opt(point.and_then(|p| p.encryption_key_arn.clone())),
        opt(lifecycle.delete_after_days),
        opt(lifecycle.move_to_cold_storage_after_days),
        "false".into(),
        String::new(),
        opt(status_message.clone()),
        ledger_entry,
        opt(point.and_then(|p| p.content_sha256.clone())),
    ]
}

pub(crate) fn in_setting(setting: &ReportSetting, account: &str, region: &str) -> bool {
    (setting.accounts.is_empty()
        || setting
            .accounts
            .iter()
            .any(|a| a == account || a == "ROOT" || a == "*"))
        && (setting.regions.is_empty() || setting.regions.iter().any(|r| r == region || r == "*"))
}

/// Builds the table of `setting`'s template over `[start, end)`.
///
/// # Errors
/// An unknown template.
pub fn build(
    setting: &ReportSetting,
    sources: &Sources<'_>,
    start: Timestamp,
    end: Timestamp,
) -> Result<Table> {
    let ledger_of = |id: &str| opt(sources.ledger.get(id));
    let points: HashMap<&str, &RecoveryPoint> = sources
        .points
        .iter()
        .map(|p| (p.recovery_point_arn.as_str(), p))
        .collect();
    let point_of = |arn: Option<&str>| arn.and_then(|arn| points.get(arn).copied());
    let vault_of = |name: &str, account: &str, region: &str| {
        sources.vaults.iter().find(|v| {
            v.backup_vault_name == name
                && v.account_id.as_str() == account
                && v.region.as_str() == region
        })
    };
    let reported = |done: Option<Timestamp>, active: bool| {
        active || done.is_some_and(|t| t >= start && t < end)
    };
    let (period_start, period_end) = (ts(Some(start)), ts(Some(end)));
    let name_of = resource_name;
    let template = setting.report_template.as_str();
    let table = match template {
        "BACKUP_JOB_REPORT" => {
            let mut columns = vec![
                "reportTimePeriodStart",
                "reportTimePeriodEnd",
                "accountId",
                "region",
                "backupJobId",
                "jobStatus",
                "resourceType",
                "resourceArn",
                "resourceName",
                "backupPlanArn",
                "backupRuleId",
                "initiationDate",
                "backupPlanName",
                "backupRuleName",
                "backupRuleSchedule",
                "backupRuleTimezone",
                "startWindowEnd",
                "backupOptions",
                "isParentJob",
                "parentJobId",
                "creationDate",
                "completionDate",
                "recoveryPointArn",
                "jobRunTime",
                "backupSizeInBytes",
                "backupVaultName",
                "backupVaultArn",
            ];
            columns.extend(TAIL_COLUMNS);
            let rows = sources
                .backups
                .iter()
                .filter(|j| in_setting(setting, &j.account_id, &j.region))
                .filter(|j| reported(j.completion_date, !j.state.is_terminal()))
                .map(|j| {
                    let vault = vault_of(&j.backup_vault_name, &j.account_id, &j.region);
                    let point = point_of(j.recovery_point_arn.as_deref());
                    vec![
                        period_start.clone(),
                        period_end.clone(),
                        j.account_id.clone(),
                        j.region.clone(),
                        j.backup_job_id.clone(),
                        j.state.as_str().to_string(),
                        j.resource_type.as_str().to_string(),
                        j.resource_arn.clone(),
                        name_of(&j.resource_arn),
                        String::new(),
                        opt(j.backup_rule_name.clone()),
                        ts(Some(j.creation_date)),
                        opt(j.backup_plan_name.clone()),
                        opt(j.backup_rule_name.clone()),
                        String::new(),
                        String::new(),
                        ts(j.start_by),
                        String::new(),
                        "false".into(),
                        String::new(),
                        ts(Some(j.creation_date)),
                        ts(j.completion_date),
                        opt(j.recovery_point_arn.clone()),
                        run_time(j.started_at.unwrap_or(j.creation_date), j.completion_date),
                        j.backup_size_in_bytes.to_string(),
                        j.backup_vault_name.clone(),
                        opt(vault.map(|v| v.backup_vault_arn.to_string())),
                    ]
                    .into_iter()
                    .chain(tail(
                        vault,
                        point,
                        &j.lifecycle,
                        &j.status_message,
                        ledger_of(&j.backup_job_id),
                    ))
                    .collect()
                })
                .collect();
            Table { columns, rows }
        }
        "COPY_JOB_REPORT" => {
            let mut columns = vec![
                "reportTimePeriodStart",
                "reportTimePeriodEnd",
                "accountId",
                "region",
                "copyJobId",
                "jobStatus",
                "jobRunTime",
                "resourceType",
                "resourceArn",
                "resourceName",
                "initiationDate",
                "backupPlanName",
                "backupRuleName",
                "backupRuleSchedule",
                "backupRuleTimezone",
                "startWindowEnd",
                "backupOptions",
                "isParentJob",
                "parentJobId",
                "creationDate",
                "completionDate",
                "backupSizeInBytes",
                "sourceRecoveryPointArn",
                "sourceBackupVaultArn",
                "destinationRecoveryPointArn",
                "destinationBackupVaultArn",
            ];
            columns.extend(TAIL_COLUMNS);
            let rows = sources
                .copies
                .iter()
                .filter(|j| in_setting(setting, &j.account_id, &j.region))
                .filter(|j| reported(j.completion_date, !j.state.is_terminal()))
                .map(|j| {
                    let point = point_of(j.destination_recovery_point_arn.as_deref());
                    let vault = sources
                        .vaults
                        .iter()
                        .find(|v| v.backup_vault_arn.to_string() == j.destination_backup_vault_arn);
                    vec![
                        period_start.clone(),
                        period_end.clone(),
                        j.account_id.clone(),
                        j.region.clone(),
                        j.copy_job_id.clone(),
                        format!("{:?}", j.state).to_uppercase(),
                        run_time(j.creation_date, j.completion_date),
                        j.resource_type.as_str().to_string(),
                        j.resource_arn.clone(),
                        name_of(&j.resource_arn),
                        ts(Some(j.creation_date)),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        "false".into(),
                        opt(j.created_by_backup_job_id.clone()),
                        ts(Some(j.creation_date)),
                        ts(j.completion_date),
                        j.backup_size_in_bytes.to_string(),
                        j.source_recovery_point_arn.clone(),
                        j.source_backup_vault_arn.clone(),
                        opt(j.destination_recovery_point_arn.clone()),
                        j.destination_backup_vault_arn.clone(),
                    ]
                    .into_iter()
                    .chain(tail(
                        vault,
                        point,
                        &j.lifecycle,
                        &j.status_message,
                        ledger_of(&j.copy_job_id),
                    ))
                    .collect()
                })
                .collect();
            Table { columns, rows }
        }
        "RESTORE_JOB_REPORT" => {
            let mut columns = vec![
                "reportTimePeriod",
                "accountId",
                "region",
                "restoreJobId",
                "jobStatus",
                "recoveryPointArn",
                "resourceName",
                "initiationDate",
                "backupPlanName",
                "backupRuleName",
                "backupRuleSchedule",
                "backupRuleTimezone",
                "startWindowEnd",
                "backupOptions",
                "isParentJob",
                "parentJobId",
                "vaultType",
                "vaultLockStatus",
                "isEncrypted",
                "encryptionKeyArn",
                "deleteAfterDays",
                "moveToColdAfterDays",
                "enableArchive",
                "sourceResourceArn",
                "backupVaultArn",
                "creationDate",
                "backupSizeInBytes",
                "percentDone",
                "iamRoleArn",
                "validationStatus",
                "statusMessage",
            ];
            columns.extend(EVIDENCE);
            let rows = sources
                .restores
                .iter()
                .filter(|j| in_setting(setting, &j.account_id, &j.region))
                .filter(|j| reported(j.completion_date, !j.status.is_terminal()))
                .map(|j| {
                    let point = point_of(Some(&j.recovery_point_arn));
                    let vault = point.and_then(|p| {
                        sources
                            .vaults
                            .iter()
                            .find(|v| v.backup_vault_arn.to_string() == p.backup_vault_arn)
                    });
                    vec![
                        format!("{period_start} - {period_end}"),
                        j.account_id.clone(),
                        j.region.clone(),
                        j.restore_job_id.clone(),
                        format!("{:?}", j.status).to_uppercase(),
                        j.recovery_point_arn.clone(),
                        opt(point.map(|p| name_of(&p.resource_arn))),
                        ts(Some(j.creation_date)),
                        opt(point.and_then(|p| p.created_by_backup_plan_name.clone())),
                        opt(point.and_then(|p| p.created_by_backup_rule_name.clone())),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        "false".into(),
                        String::new(),
                        "BACKUP_VAULT".into(),
                        lock_status(vault),
                        opt(point.map(|p| p.is_encrypted)),
                        opt(point.and_then(|p| p.encryption_key_arn.clone())),
                        opt(point.and_then(|p| p.lifecycle.delete_after_days)),
                        opt(point.and_then(|p| p.lifecycle.move_to_cold_storage_after_days)),
                        "false".into(),
                        opt(point.map(|p| p.resource_arn.clone())),
                        opt(vault.map(|v| v.backup_vault_arn.to_string())),
                        ts(Some(j.creation_date)),
                        opt(point.map(|p| p.backup_size_in_bytes)),
                        j.percent_done.to_string(),
                        String::new(),
                        opt(j.validation_status.map(|v| format!("{v:?}").to_uppercase())),
                        opt(j.status_message.clone()),
                        ledger_of(&j.restore_job_id),
                        opt(point.and_then(|p| p.content_sha256.clone())),
                    ]
                })
                .collect();
            Table { columns, rows }
        }
        "CONTROL_COMPLIANCE_REPORT" | "RESOURCE_COMPLIANCE_REPORT" => compliance(
            setting,
            sources,
            template == "CONTROL_COMPLIANCE_REPORT",
            &ledger_of,
        ),
        crate::expected::TEMPLATE => crate::expected::build(setting, sources, start, end),
        other => return Err(Error::Template(other.to_string())),
    };
    Ok(table)
}

/// The compliance templates, from each framework's newest evaluation.
fn compliance(
    setting: &ReportSetting,
    sources: &Sources<'_>,
    per_control: bool,
    ledger_of: &dyn Fn(&str) -> String,
) -> Table {
    let wanted = |arn: &str| {
        setting.framework_arns.is_empty() || setting.framework_arns.iter().any(|a| a == arn)
    };
    let mut rows = Vec::new();
    for (_, framework) in sources.frameworks.iter().filter(|(arn, _)| wanted(arn)) {
        // A result stands from when it was recorded until it changes, so
        // the current results are the newest evaluation's.
        let Some(newest) = sources
            .evaluations
            .iter()
            .filter(|e| {
                e.framework_name == framework.framework_name
                    && in_setting(setting, &e.account_id, &e.region)
            })
            .map(|e| e.evaluated_at)
            .max()
        else {
            continue;
        };
        let latest: Vec<&ControlResult> = sources
            .results
            .iter()
            .filter(|r| {
                r.framework_name == framework.framework_name
                    && in_setting(setting, &r.account_id, &r.region)
            })
            .collect();
        let owned: Vec<ControlResult> = latest.iter().map(|r| (*r).clone()).collect();
        if per_control {
            let (per, _) = coffer_audit::controls::rollup(&owned);
            for control in &framework.framework_controls {
                let Some((status, ok, bad)) = per.get(&control.control_name) else {
                    continue;
                };
                let parameters: BTreeMap<&str, &str> = control
                    .control_input_parameters
                    .iter()
                    .map(|p| (p.parameter_name.as_str(), p.parameter_value.as_str()))
                    .collect();
                let first = latest
                    .iter()
                    .find(|r| r.control_name == control.control_name);
                rows.push(vec![
                    opt(first.map(|r| r.account_id.clone())),
                    opt(first.map(|r| r.region.clone())),
                    framework.framework_name.clone(),
                    framework.framework_description.clone(),
                    control.control_name.clone(),
                    status.as_str().to_string(),
                    ts(Some(newest)),
                    ok.to_string(),
                    bad.to_string(),
                    "Twenty_Four_Hours".into(),
                    serde_json::to_string(&control.control_scope).unwrap_or_default(),
                    serde_json::to_string(&parameters).unwrap_or_default(),
                    // The ledger entry of the control's newest result.
                    opt(latest
                        .iter()
                        .filter(|r| r.control_name == control.control_name)
                        .filter_map(|r| ledger_of(&r.result_id).parse::<i64>().ok())
                        .max()),
                    String::new(),
                ]);
            }
        } else {
            for r in latest {
                rows.push(vec![
                    r.account_id.clone(),
                    r.region.clone(),
                    framework.framework_name.clone(),
                    framework.framework_description.clone(),
                    r.control_name.clone(),
                    r.resource_id.clone(),
                    r.resource_type.clone(),
                    r.status.as_str().to_string(),
                    ts(Some(newest)),
                    r.reason.clone(),
                    r.evidence.join(" "),
                    ledger_of(&r.result_id),
                    String::new(),
                ]);
            }
        }
    }
    let mut columns = if per_control {
        vec![
            "accountId",
            "region",
            "frameworkName",
            "frameworkDescription",
            "controlName",
            "controlComplianceStatus",
            "lastEvaluationTime",
            "numResourcesCompliant",
            "numResourcesNonCompliant",
            "controlFrequency",
            "controlScope",
            "controlParameters",
        ]
    } else {
        vec![
            "accountId",
            "region",
            "frameworkName",
            "frameworkDescription",
            "controlName",
            "resourceId",
            "resourceType",
            "resourceComplianceStatus",
            "lastEvaluationTime",
            "reason",
            "evidence",
        ]
    };
    columns.extend(EVIDENCE);
    Table { columns, rows }
}

/// The table as CSV (a header row, then the rows).
///
/// # Errors
/// When writing fails.
pub fn to_csv(table: &Table) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&table.columns)?;
    for row in &table.rows {
        writer.write_record(row)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::Csv(csv::Error::from(e.into_error())))
}

/// The table as AWS's JSON: `{"reportItems": [{column: value, ...}]}`.
pub fn to_json(table: &Table) -> Vec<u8> {
    let items: Vec<serde_json::Map<String, serde_json::Value>> = table
        .rows
        .iter()
        .map(|row| {
            table
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| ((*c).to_string(), serde_json::Value::String(v.clone())))
                .collect()
        })
        .collect();
    let mut text =
        serde_json::to_vec_pretty(&serde_json::json!({ "reportItems": items })).unwrap_or_default();
    text.push(b'\n');
    text
}
