//! `coffer restore-testing start`: a restore testing plan's drills, now;
//! `coffer restore-testing list`: the tests with their results.

use coffer_model::RestoreJob;

use crate::context::{with_service, Context};
use crate::output::{print, table, OutputFormat};
use crate::Outcome;

fn text<T: std::fmt::Debug>(value: Option<T>) -> String {
    value.map_or_else(String::new, |v| format!("{v:?}").to_uppercase())
}

pub async fn start(ctx: &Context, plan: &str, format: OutputFormat) -> anyhow::Result<Outcome> {
    let jobs: Vec<RestoreJob> = with_service(ctx, async |service, caller| {
        Ok(service.start_restore_test(caller, plan).await?)
    })
    .await?;
    let passed = jobs.iter().all(RestoreJob::restored_and_validated);
    print(format, &jobs, || {
        if jobs.is_empty() {
            return format!(
                "restore testing plan {plan} selects no resource with a recovery point to test"
            );
        }
        tests_table(&jobs, false)
    })?;
    Ok(if passed {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

pub async fn list(
    ctx: &Context,
    plan: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let jobs: Vec<RestoreJob> = with_service(ctx, async |service, caller| {
        Ok(service.restore_tests(caller, plan).await?)
    })
    .await?;
    print(format, &jobs, || {
        if jobs.is_empty() {
            return match plan {
                Some(plan) => format!("restore testing plan {plan} has run no test yet"),
                None => "no restore test has run yet".into(),
            };
        }
        tests_table(&jobs, true)
    })?;
    Ok(Outcome::Success)
}

/// Restore tests as a table: each with its status and results, and with
/// its plan and creation time when `listed`.
fn tests_table(jobs: &[RestoreJob], listed: bool) -> String {
    let mut head = vec!["RESTORE JOB"];
    if listed {
        head.extend(["PLAN", "CREATED"]);
    }
    head.extend(["STATUS", "VALIDATION", "SCRATCH", "RESTORE MS", "MESSAGE"]);
    table(
        &head,
        jobs.iter()
            .map(|j| {
                let mut row = vec![j.restore_job_id.clone()];
                if listed {
                    let plan = j.created_by.as_ref().map_or("", |c| {
                        c.restore_testing_plan_arn
                            .rsplit(':')
                            .next()
                            .unwrap_or_default()
                    });
                    row.extend([plan.to_string(), j.creation_date.to_string()]);
                }
                row.extend([
                    text(Some(j.status)),
                    j.validation_status
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default(),
                    j.deletion_status
                        .map(|d| d.as_str().to_string())
                        .unwrap_or_default(),
                    j.restore_duration_millis
                        .map(|ms| ms.to_string())
                        .unwrap_or_default(),
                    j.validation_status_message
                        .clone()
                        .or_else(|| j.status_message.clone())
                        .unwrap_or_default(),
                ]);
                row
            })
            .collect(),
    )
}
