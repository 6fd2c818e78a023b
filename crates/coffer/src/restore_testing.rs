//! `coffer restore-testing start`: a restore testing plan's drills, now.

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
    let passed = jobs.iter().all(|j| {
        j.status == coffer_model::RestoreJobStatus::Completed
            && j.validation_status == Some(coffer_model::ValidationStatus::Successful)
    });
    print(format, &jobs, || {
        if jobs.is_empty() {
            return format!(
                "restore testing plan {plan} selects no resource with a recovery point to test"
            );
        }
        table(
            &[
                "RESTORE JOB",
                "STATUS",
                "VALIDATION",
                "SCRATCH",
                "RESTORE MS",
                "MESSAGE",
            ],
            jobs.iter()
                .map(|j| {
                    vec![
                        j.restore_job_id.clone(),
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
                    ]
                })
                .collect(),
        )
    })?;
    Ok(if passed {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
