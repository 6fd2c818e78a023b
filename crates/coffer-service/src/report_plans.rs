//! Report plans one at a time (CreateReportPlan, DescribeReportPlan,
//! ListReportPlans, UpdateReportPlan, DeleteReportPlan) and report jobs
//! one at a time or a page at a time (DescribeReportJob, ListReportJobs).
//! A report plan created here belongs to no stack and is run daily like a
//! stack's; a stack's report plan is changed by its template only.

use coffer_catalog::{Condition, ObjectKind};
use coffer_model::{
    Arn, ReportDeliveryChannel, ReportJob, ReportJobStatus, ReportPlan, ReportSetting, Tags,
};

use crate::caller::{Action, Caller, Target};
use crate::declared::{refuse_errors, Declared};
use crate::error::{Error, Result};
use crate::paging::{record_token, PageRequest, Paged};
use crate::Service;

/// What UpdateReportPlan changes; an absent member stays as it is.
#[derive(Clone, Debug, Default)]
pub struct ReportPlanChange {
    pub description: Option<String>,
    pub delivery_channel: Option<ReportDeliveryChannel>,
    pub setting: Option<ReportSetting>,
}

/// A report plan with when it last ran and last delivered.
#[derive(Clone, Debug)]
pub struct ReportPlanSummary {
    pub plan: Declared<ReportPlan>,
    pub last_attempted: Option<jiff::Timestamp>,
    pub last_successful: Option<jiff::Timestamp>,
}

/// Which report jobs a listing shows (ListReportJobs' filters).
#[derive(Clone, Debug, Default)]
pub struct ReportJobFilter {
    pub report_plan_name: Option<String>,
    pub created_before: Option<jiff::Timestamp>,
    pub created_after: Option<jiff::Timestamp>,
    pub status: Option<ReportJobStatus>,
}

impl Service {
    /// The plan's frameworks must be the caller's account's and region's
    /// and exist: a report of a framework nobody evaluates says nothing.
    async fn frameworks_exist(&self, caller: &Caller, plan: &ReportPlan) -> Result<()> {
        for arn in &plan.report_setting.framework_arns {
            let name = Arn::parse(arn)
                .ok()
                .filter(|a| {
                    a.account() == caller.account.as_str() && a.region() == caller.region.as_str()
                })
                .and_then(|a| a.resource().strip_prefix("framework:").map(str::to_string));
            let Some(name) = name else {
                return Err(Error::invalid_parameter(format!(
                    "FrameworkArns: {arn:?} is not a framework of account {}, region {}",
                    caller.account, caller.region
                )));
            };
            self.declared_row(caller, ObjectKind::Framework, &name)
                .await
                .map_err(|error| match error.kind() {
                    crate::ErrorKind::ResourceNotFound => Error::invalid_parameter(format!(
                        "FrameworkArns: {}; create the framework first",
                        error.message()
                    )),
                    _ => error,
                })?;
        }
        Ok(())
    }

    async fn with_runs(&self, plan: Declared<ReportPlan>) -> Result<ReportPlanSummary> {
        let (account, region) = match Arn::parse(&plan.arn) {
            Ok(arn) => (arn.account().to_string(), arn.region().to_string()),
            Err(_) => (String::new(), String::new()),
        };
        let name = plan.object.report_plan_name.clone();
        let jobs = self
            .catalog()
            .records_page::<ReportJob>(
                &[
                    Condition::eq("account_id", account.as_str()),
                    Condition::eq("region", region.as_str()),
                    Condition::eq("report_plan_name", name.as_str()),
                ],
                None,
                usize::MAX >> 1,
            )
            .await?;
        let runs: Vec<ReportJob> = jobs.items.into_iter().map(|s| s.record).collect();
        Ok(ReportPlanSummary {
            last_attempted: runs.iter().map(|j| j.creation_time).max(),
            last_successful: runs
                .iter()
                .filter(|j| j.status == ReportJobStatus::Completed)
                .map(|j| j.creation_time)
                .max(),
            plan,
        })
    }

    /// Creates a report plan of no stack in the caller's account and
    /// region.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a plan AWS would refuse or that names a
    /// framework that does not exist; `AlreadyExists`.
    pub async fn create_report_plan(
        &self,
        caller: &Caller,
        plan: ReportPlan,
    ) -> Result<ReportPlanSummary> {
        self.authorize(caller, Action::CreateReportPlan, Target::Account)?;
        let name = plan.report_plan_name.clone();
        refuse_errors(plan.validate(), &format!("report plan {name:?}"))?;
        self.frameworks_exist(caller, &plan).await?;
        let arn = Arn::report_plan(&caller.region, &caller.account, &name).to_string();
        self.create_declared(
            caller,
            ObjectKind::ReportPlan,
            &name,
            arn,
            serde_json::to_value(&plan)?,
        )
        .await?;
        tracing::info!(report_plan = %name, principal = %caller.principal, "report plan created");
        self.with_runs(self.declared(caller, ObjectKind::ReportPlan, &name).await?)
            .await
    }

    /// One report plan of the caller's account and region.
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn describe_report_plan(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<ReportPlanSummary> {
        self.authorize(caller, Action::DescribeReportPlan, Target::Account)?;
        self.with_runs(self.declared(caller, ObjectKind::ReportPlan, name).await?)
            .await
    }

    /// The report plans of the caller's account and region in name order,
    /// a page at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_report_plans(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Paged<ReportPlanSummary>> {
        self.authorize(caller, Action::ListReportPlans, Target::Account)?;
        let found = self
            .declared_page(caller, ObjectKind::ReportPlan, "ListReportPlans", page)
            .await?;
        let mut items = Vec::with_capacity(found.items.len());
        for plan in found.items {
            items.push(self.with_runs(plan).await?);
        }
        Ok(Paged {
            items,
            next_token: found.next_token,
        })
    }

    /// Changes a report plan of no stack.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's report plan (naming the
    /// stack) or one changed meanwhile; `InvalidParameterValue`.
    pub async fn update_report_plan(
        &self,
        caller: &Caller,
        name: &str,
        change: ReportPlanChange,
    ) -> Result<ReportPlanSummary> {
        self.authorize(caller, Action::UpdateReportPlan, Target::Account)?;
        let stored = self
            .declared_row(caller, ObjectKind::ReportPlan, name)
            .await?;
        Self::unowned(&stored, "change")?;
        let mut plan: ReportPlan = serde_json::from_value(stored.doc.clone())?;
        if let Some(description) = change.description {
            plan.report_plan_description = description;
        }
        if let Some(channel) = change.delivery_channel {
            plan.report_delivery_channel = channel;
        }
        if let Some(setting) = change.setting {
            plan.report_setting = setting;
        }
        refuse_errors(plan.validate(), &format!("report plan {name:?}"))?;
        self.frameworks_exist(caller, &plan).await?;
        self.update_declared(caller, &stored, &serde_json::to_value(&plan)?)
            .await?;
        self.with_runs(self.declared(caller, ObjectKind::ReportPlan, name).await?)
            .await
    }

    /// Deletes a report plan of no stack; its report jobs and deliveries
    /// stay.
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's report plan.
    pub async fn delete_report_plan(&self, caller: &Caller, name: &str) -> Result<()> {
        self.authorize(caller, Action::DeleteReportPlan, Target::Account)?;
        let stored = self
            .declared_row(caller, ObjectKind::ReportPlan, name)
            .await?;
        self.delete_declared(caller, &stored).await
    }

    /// One report job of the caller's account and region.
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn describe_report_job(&self, caller: &Caller, id: &str) -> Result<ReportJob> {
        self.authorize(caller, Action::DescribeReportJob, Target::Account)?;
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        match self.catalog_for(caller).get::<ReportJob>(id).await? {
            Some(job) if job.record.account_id == account && job.record.region == region => {
                Ok(job.record)
            }
            _ => Err(Error::not_found(format!(
                "there is no report job {id} in account {account}, region {region}"
            ))),
        }
    }

    /// The report jobs of the caller's account and region that `filter`
    /// keeps, oldest first, a page at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request.
    pub async fn report_jobs_page(
        &self,
        caller: &Caller,
        filter: &ReportJobFilter,
        page: &PageRequest,
    ) -> Result<Paged<ReportJob>> {
        self.authorize(caller, Action::ListReportJobs, Target::Account)?;
        let listing = "ListReportJobs";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let mut conditions = vec![
            Condition::eq("account_id", caller.account.as_str()),
            Condition::eq("region", caller.region.as_str()),
        ];
        if let Some(plan) = &filter.report_plan_name {
            conditions.push(Condition::eq("report_plan_name", plan.as_str()));
        }
        let status = filter
            .status
            .map(|s| serde_json::to_value(s).map(|v| v.as_str().unwrap_or_default().to_string()))
            .transpose()?;
        if let Some(status) = &status {
            conditions.push(Condition::eq("status", status.as_str()));
        }
        conditions.extend(Condition::within(
            "creation_time",
            filter.created_after,
            filter.created_before,
        ));
        let found = self
            .catalog()
            .records_page::<ReportJob>(&conditions, after.as_ref(), limit)
            .await?;
        Ok(Paged {
            items: found.items.into_iter().map(|s| s.record).collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }
}

/// A report plan from what CreateReportPlan gives: Formats default to CSV,
/// as AWS defaults them.
pub fn report_plan(
    name: &str,
    description: Option<String>,
    delivery_channel: ReportDeliveryChannel,
    setting: ReportSetting,
    tags: Tags,
) -> ReportPlan {
    let mut delivery_channel = delivery_channel;
    if delivery_channel.formats.is_empty() {
        delivery_channel.formats = vec!["CSV".to_string()];
    }
    ReportPlan {
        report_plan_name: name.to_string(),
        report_plan_description: description.unwrap_or_default(),
        report_delivery_channel: delivery_channel,
        report_setting: setting,
        report_plan_tags: tags,
        report_schedule: None,
    }
}
