//! Audit Manager's operations: frameworks, report plans and report jobs,
//! each a translation over the service's (`frameworks.rs`,
//! `report_plans.rs`, `report.rs`).

use coffer_model::{
    Framework, FrameworkControl, ReportDeliveryChannel, ReportJob, ReportJobStatus, ReportSetting,
};
use coffer_service::declared::Declared;
use coffer_service::frameworks::FrameworkChange;
use coffer_service::report_plans::{
    report_plan, ReportJobFilter, ReportPlanChange, ReportPlanSummary,
};
use coffer_service::{Caller, Service};
use serde_json::Value;

use super::{number, page, shape, text, time, Answer};
use crate::error::ApiError;
use crate::input::Input;

/// How long a report looks back, as AWS's daily reports do.
const REPORT_WINDOW_HOURS: u32 = 24;

fn controls(input: &Input) -> Result<Option<Vec<FrameworkControl>>, ApiError> {
    input.decoded::<Vec<FrameworkControl>>("FrameworkControls")
}

fn framework_summary(found: &Declared<Framework>) -> Value {
    shape(vec![
        ("FrameworkName", text(&found.object.framework_name)),
        ("FrameworkArn", text(&found.arn)),
        (
            "FrameworkDescription",
            (!found.object.framework_description.is_empty())
                .then(|| Value::String(found.object.framework_description.clone())),
        ),
        (
            "NumberOfControls",
            number(u64::try_from(found.object.framework_controls.len()).unwrap_or(u64::MAX)),
        ),
        ("CreationTime", time(found.creation_time)),
        ("DeploymentStatus", text("COMPLETED")),
    ])
}

pub(super) async fn create_framework(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let controls = controls(input)?
        .ok_or_else(|| ApiError::missing("CreateFramework requires FrameworkControls"))?;
    let created = service
        .create_framework(
            caller,
            input.required("FrameworkName")?,
            input.str("FrameworkDescription")?.map(str::to_string),
            controls,
            input.tags("FrameworkTags")?,
        )
        .await?;
    Ok(shape(vec![
        ("FrameworkName", text(&created.object.framework_name)),
        ("FrameworkArn", text(&created.arn)),
    ]))
}

pub(super) async fn describe_framework(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .describe_framework(caller, input.required("FrameworkName")?)
        .await?;
    let controls = serde_json::to_value(&found.object.framework_controls)
        .map_err(|e| ApiError::from(coffer_service::Error::from(e)))?;
    Ok(shape(vec![
        ("FrameworkName", text(&found.object.framework_name)),
        ("FrameworkArn", text(&found.arn)),
        (
            "FrameworkDescription",
            (!found.object.framework_description.is_empty())
                .then(|| Value::String(found.object.framework_description.clone())),
        ),
        ("FrameworkControls", Some(controls)),
        ("CreationTime", time(found.creation_time)),
        ("DeploymentStatus", text("COMPLETED")),
        ("FrameworkStatus", text("ACTIVE")),
    ]))
}

pub(super) async fn list_frameworks(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service.list_frameworks(caller, &page(input)?).await?;
    Ok(shape(vec![
        (
            "Frameworks",
            Some(Value::Array(
                found.items.iter().map(framework_summary).collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn update_framework(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let change = FrameworkChange {
        description: input.str("FrameworkDescription")?.map(str::to_string),
        controls: controls(input)?,
    };
    let updated = service
        .update_framework(caller, input.required("FrameworkName")?, change)
        .await?;
    Ok(shape(vec![
        ("FrameworkName", text(&updated.object.framework_name)),
        ("FrameworkArn", text(&updated.arn)),
        ("CreationTime", time(updated.creation_time)),
    ]))
}

pub(super) async fn delete_framework(service: &Service, caller: &Caller, input: &Input) -> Answer {
    service
        .delete_framework(caller, input.required("FrameworkName")?)
        .await?;
    Ok(serde_json::json!({}))
}

fn report_plan_member(found: &ReportPlanSummary) -> Result<Value, ApiError> {
    let plan = &found.plan.object;
    let encode = |value: Result<Value, serde_json::Error>| {
        value.map_err(|e| ApiError::from(coffer_service::Error::from(e)))
    };
    Ok(shape(vec![
        ("ReportPlanArn", text(&found.plan.arn)),
        ("ReportPlanName", text(&plan.report_plan_name)),
        (
            "ReportPlanDescription",
            (!plan.report_plan_description.is_empty())
                .then(|| Value::String(plan.report_plan_description.clone())),
        ),
        (
            "ReportSetting",
            Some(encode(serde_json::to_value(&plan.report_setting))?),
        ),
        (
            "ReportDeliveryChannel",
            Some(encode(serde_json::to_value(&plan.report_delivery_channel))?),
        ),
        ("DeploymentStatus", text("COMPLETED")),
        ("CreationTime", time(found.plan.creation_time)),
        (
            "LastAttemptedExecutionTime",
            found.last_attempted.and_then(time),
        ),
        (
            "LastSuccessfulExecutionTime",
            found.last_successful.and_then(time),
        ),
    ]))
}

fn channel(input: &Input) -> Result<Option<ReportDeliveryChannel>, ApiError> {
    // Formats may be left out: AWS makes it CSV.
    let Some(given) = input.object("ReportDeliveryChannel")? else {
        return Ok(None);
    };
    Ok(Some(ReportDeliveryChannel {
        s3_bucket_name: given
            .str("S3BucketName")?
            .ok_or_else(|| ApiError::missing("ReportDeliveryChannel requires S3BucketName"))?
            .to_string(),
        s3_key_prefix: given.str("S3KeyPrefix")?.map(str::to_string),
        formats: given.strings("Formats")?,
    }))
}

pub(super) async fn create_report_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let channel = channel(input)?
        .ok_or_else(|| ApiError::missing("CreateReportPlan requires ReportDeliveryChannel"))?;
    let setting = input
        .decoded::<ReportSetting>("ReportSetting")?
        .ok_or_else(|| ApiError::missing("CreateReportPlan requires ReportSetting"))?;
    let plan = report_plan(
        input.required("ReportPlanName")?,
        input.str("ReportPlanDescription")?.map(str::to_string),
        channel,
        setting,
        input.tags("ReportPlanTags")?,
    );
    let created = service.create_report_plan(caller, plan).await?;
    Ok(shape(vec![
        (
            "ReportPlanName",
            text(&created.plan.object.report_plan_name),
        ),
        ("ReportPlanArn", text(&created.plan.arn)),
        ("CreationTime", time(created.plan.creation_time)),
    ]))
}

pub(super) async fn describe_report_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let found = service
        .describe_report_plan(caller, input.required("ReportPlanName")?)
        .await?;
    Ok(shape(vec![(
        "ReportPlan",
        Some(report_plan_member(&found)?),
    )]))
}

pub(super) async fn list_report_plans(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let found = service.list_report_plans(caller, &page(input)?).await?;
    Ok(shape(vec![
        (
            "ReportPlans",
            Some(Value::Array(
                found
                    .items
                    .iter()
                    .map(report_plan_member)
                    .collect::<Result<_, _>>()?,
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}

pub(super) async fn update_report_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let change = ReportPlanChange {
        description: input.str("ReportPlanDescription")?.map(str::to_string),
        delivery_channel: channel(input)?.map(|mut c| {
            if c.formats.is_empty() {
                c.formats = vec!["CSV".to_string()];
            }
            c
        }),
        setting: input.decoded::<ReportSetting>("ReportSetting")?,
    };
    let updated = service
        .update_report_plan(caller, input.required("ReportPlanName")?, change)
        .await?;
    Ok(shape(vec![
        (
            "ReportPlanName",
            text(&updated.plan.object.report_plan_name),
        ),
        ("ReportPlanArn", text(&updated.plan.arn)),
        ("CreationTime", time(updated.plan.creation_time)),
    ]))
}

pub(super) async fn delete_report_plan(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    service
        .delete_report_plan(caller, input.required("ReportPlanName")?)
        .await?;
    Ok(serde_json::json!({}))
}

/// StartReportJob: answered at once with the job RUNNING; the report is
/// made and delivered in the background, and DescribeReportJob shows it
/// COMPLETED with the delivered keys, or FAILED with the reason.
pub(super) async fn start_report_job(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let job = service
        .start_report_job_detached(
            caller,
            input.required("ReportPlanName")?,
            REPORT_WINDOW_HOURS,
        )
        .await?;
    Ok(shape(vec![("ReportJobId", text(&job.report_job_id))]))
}

fn report_job_member(caller: &Caller, job: &ReportJob) -> Value {
    let plan_arn =
        coffer_model::Arn::report_plan(&caller.region, &caller.account, &job.report_plan_name);
    let destination = job.s3_bucket_name.as_ref().map(|bucket| {
        shape(vec![
            ("S3BucketName", text(bucket)),
            (
                "S3Keys",
                Some(Value::Array(
                    job.s3_keys.iter().cloned().map(Value::String).collect(),
                )),
            ),
        ])
    });
    shape(vec![
        ("ReportJobId", text(&job.report_job_id)),
        ("ReportPlanArn", text(plan_arn.to_string())),
        ("ReportTemplate", text(&job.report_template)),
        ("CreationTime", time(job.creation_time)),
        ("CompletionTime", job.completion_time.and_then(time)),
        ("Status", super::wire_enum(&job.status)),
        (
            "StatusMessage",
            job.status_message.as_deref().and_then(text),
        ),
        ("ReportDestination", destination),
    ])
}

pub(super) async fn describe_report_job(
    service: &Service,
    caller: &Caller,
    input: &Input,
) -> Answer {
    let job = service
        .describe_report_job(caller, input.required("ReportJobId")?)
        .await?;
    Ok(shape(vec![(
        "ReportJob",
        Some(report_job_member(caller, &job)),
    )]))
}

pub(super) async fn list_report_jobs(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let request = page(input)?;
    let status = match input.str("ByStatus")? {
        None => None,
        Some(status) => Some(
            serde_json::from_value::<ReportJobStatus>(Value::String(status.to_string())).map_err(
                |_| {
                    ApiError::invalid(format!(
                        "ByStatus {status:?} is not a report job status; use CREATED, RUNNING, COMPLETED or FAILED"
                    ))
                },
            )?,
        ),
    };
    let filter = ReportJobFilter {
        report_plan_name: input.str("ByReportPlanName")?.map(str::to_string),
        created_before: input.time("ByCreationBefore")?,
        created_after: input.time("ByCreationAfter")?,
        status,
    };
    let found = service.report_jobs_page(caller, &filter, &request).await?;
    Ok(shape(vec![
        (
            "ReportJobs",
            Some(Value::Array(
                found
                    .items
                    .iter()
                    .map(|j| report_job_member(caller, j))
                    .collect(),
            )),
        ),
        ("NextToken", found.next_token.map(Value::String)),
    ]))
}
