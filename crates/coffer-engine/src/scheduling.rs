//! From planned jobs to job records.
//!
//! A scheduled job's ID is derived from what it is for: (plan, rule,
//! resource, fire time). A scheduler that restarts, or a second scheduler
//! over the same catalog, plans the same fire time to the same ID, and the
//! catalog refuses the second insert: a rule never fires twice for one
//! resource at one time.

use coffer_model::{BackupJob, ResourceType};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::planning::PlannedJob;

/// The ID of the job for `(plan, rule, resource, fire time)`, shaped like
/// AWS's job IDs (an upper-case UUID).
pub fn scheduled_job_id(plan: &str, rule: &str, resource_arn: &str, fire_at: Timestamp) -> String {
    derived_id(&[plan, rule, resource_arn, &fire_at.to_string()])
}

/// An ID derived from what a job is for, shaped like AWS's job IDs (an
/// upper-case UUID): the same parts always give the same ID.
pub fn derived_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let hex = hex::encode_upper(&hasher.finalize()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The CREATED job record for a planned job.
pub fn scheduled_job(
    planned: &PlannedJob,
    account_id: &str,
    region: &str,
    resource_type: ResourceType,
    now: Timestamp,
) -> BackupJob {
    let merged = (!planned.merged.is_empty()).then(|| {
        let rules: Vec<String> = planned
            .merged
            .iter()
            .map(|(rule, at)| format!("{rule} at {at}"))
            .collect();
        format!(
            "also stands for overlapping rule(s) of the plan with shorter retention: {}",
            rules.join(", ")
        )
    });
    BackupJob {
        status_message: merged,
        start_by: Some(planned.start_by),
        backup_plan_name: Some(planned.plan_name.clone()),
        backup_rule_name: Some(planned.rule_name.clone()),
        lifecycle: planned.lifecycle,
        completion_window_minutes: Some(planned.completion_window_minutes),
        ..BackupJob::created(
            scheduled_job_id(
                &planned.plan_name,
                &planned.rule_name,
                &planned.resource_arn,
                planned.fire_at,
            ),
            account_id,
            region,
            &planned.vault_name,
            &planned.resource_arn,
            resource_type,
            now,
        )
    }
}
