//! Report plans: which report, over what, delivered where and in which formats.

use serde::{Deserialize, Serialize};

use crate::finding::{did_you_mean, Findings};
use crate::names::NameKind;
use crate::{Schedule, ScheduleError};

pub const REPORT_TEMPLATES: &[&str] = &[
    "BACKUP_JOB_REPORT",
    "COPY_JOB_REPORT",
    "RESTORE_JOB_REPORT",
    "CONTROL_COMPLIANCE_REPORT",
    "RESOURCE_COMPLIANCE_REPORT",
    // Coffer's extension: was each expected backup taken, on time, with
    // the declared retention?
    "BACKUP_EXPECTATION_REPORT",
];

/// Templates AWS has that Coffer does not produce.
pub const REPORT_TEMPLATES_WITHOUT_SUPPORT: &[&str] = &["SCAN_JOB_REPORT", "MALWARE_JOB_REPORT"];

/// Formats: AWS's CSV and JSON, and Coffer's PDF extension.
pub const REPORT_FORMATS: &[&str] = &["CSV", "JSON", "PDF"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportPlan {
    pub report_plan_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub report_plan_description: String,
    pub report_delivery_channel: ReportDeliveryChannel,
    pub report_setting: ReportSetting,
    #[serde(default, skip_serializing_if = "crate::Tags::is_empty")]
    pub report_plan_tags: crate::Tags,
    /// Coffer's extension beside `ReportSetting`: when the plan runs, each
    /// run over the whole period its schedule implies. Without one, the
    /// plan runs daily over the last 24 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_schedule: Option<ReportSchedule>,
}

/// When a report plan runs (Coffer's extension): a schedule expression as
/// backup rules take them (`cron(0 9 1 * ? *)`: 09:00 on the 1st of each
/// month) in a time zone (UTC by default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportSchedule {
    pub schedule_expression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
}

/// The whole period one run of a scheduled report plan covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportPeriod {
    /// Its first instant.
    pub start: jiff::Timestamp,
    /// The instant after its last.
    pub end: jiff::Timestamp,
    /// Its first day in the schedule's time zone: the delivery lands under
    /// this day's `year=/month=`.
    pub first_day: jiff::civil::Date,
}

impl ReportSchedule {
    /// The schedule, counted from `created_at` (for `rate()`).
    ///
    /// # Errors
    /// An expression or time zone that is not valid.
    pub fn schedule(&self, created_at: jiff::Timestamp) -> Result<Schedule, ScheduleError> {
        Schedule::new(
            self.schedule_expression.parse()?,
            self.schedule_expression_timezone.as_deref(),
            created_at,
        )
    }

    /// The period the run at `fire_at` covers: the whole calendar period
    /// before it, in the schedule's time zone, that its spacing implies
    /// (the spacing from this fire time to the next):
    /// - about a month or more: that many whole calendar months before
    ///   the fire time's month (a monthly plan: the previous month);
    /// - about a day or more: that many whole days before the fire time's
    ///   day (a daily plan: yesterday; a weekly one: the 7 days before);
    /// - less: the span since the previous fire time.
    ///
    /// It depends on the schedule only, not on when (or whether) the
    /// previous run happened.
    pub fn period(&self, schedule: &Schedule, fire_at: jiff::Timestamp) -> ReportPeriod {
        use jiff::{tz::TimeZone, SignedDuration, ToSpan as _};
        let zone = TimeZone::get(schedule.timezone_name()).unwrap_or(TimeZone::UTC);
        let gap = schedule
            .next_after(fire_at)
            .map_or(SignedDuration::from_hours(24), |next| {
                next.duration_since(fire_at)
            });
        let hours = gap.as_secs() / 3600;
        let local = zone.to_datetime(fire_at);
        let midnight = |date: jiff::civil::Date| {
            zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .unwrap_or(fire_at)
        };
        let (first, last) = if hours >= 27 * 24 {
            // 28 to 31 days is one month; 89 to 92 a quarter; and so on.
            let months = ((hours as f64 / 24.0 / 30.44).round() as i64).max(1);
            let end = local.date().first_of_month();
            (end.checked_sub(months.months()).unwrap_or(end), end)
        } else if hours >= 23 {
            let days = ((hours as f64 / 24.0).round() as i64).max(1);
            let end = local.date();
            (end.checked_sub(days.days()).unwrap_or(end), end)
        } else {
            let start = fire_at.checked_sub(gap).unwrap_or(fire_at);
            return ReportPeriod {
                start,
                end: fire_at,
                first_day: zone.to_datetime(start).date(),
            };
        };
        ReportPeriod {
            start: midnight(first),
            end: midnight(last),
            first_day: first,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportDeliveryChannel {
    pub s3_bucket_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_key_prefix: Option<String>,
    /// Defaults to `["CSV"]`.
    pub formats: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportSetting {
    pub report_template: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub framework_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_frameworks: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organization_units: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

impl ReportSetting {
    pub fn is_compliance_template(&self) -> bool {
        matches!(
            self.report_template.as_str(),
            "CONTROL_COMPLIANCE_REPORT" | "RESOURCE_COMPLIANCE_REPORT"
        )
    }
}

impl ReportPlan {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Err(err) = NameKind::ReportPlan.check(&self.report_plan_name) {
            findings.error("ReportPlanName", err.to_string());
        }
        if self.report_plan_description.chars().count() > 1024 {
            findings.error(
                "ReportPlanDescription",
                "ReportPlanDescription must be at most 1024 characters",
            );
        }
        let channel = &self.report_delivery_channel;
        if channel.s3_bucket_name.len() < 3 || channel.s3_bucket_name.len() > 63 {
            findings.error(
                "ReportDeliveryChannel.S3BucketName",
                format!(
                    "bucket name {:?} must be 3-63 characters",
                    channel.s3_bucket_name
                ),
            );
        }
        for (idx, format) in channel.formats.iter().enumerate() {
            if !REPORT_FORMATS.contains(&format.as_str()) {
                let finding = findings.error(
                    format!("ReportDeliveryChannel.Formats[{idx}]"),
                    format!("format {format:?} is not one of CSV, JSON, PDF"),
                );
                if let Some(s) = did_you_mean(format, REPORT_FORMATS.iter().copied()) {
                    finding.hint(format!("did you mean {s:?}?"));
                }
            }
        }
        if let Some(schedule) = &self.report_schedule {
            match schedule
                .schedule_expression
                .parse::<crate::ScheduleExpression>()
            {
                Err(error) => {
                    findings
                        .error("ReportSchedule.ScheduleExpression", error.to_string())
                        .hint("give it as a backup rule takes it, e.g. cron(0 9 1 * ? *) for 09:00 on the 1st of each month");
                }
                Ok(_) => {
                    if let Err(error) = schedule.schedule(jiff::Timestamp::UNIX_EPOCH) {
                        findings.error(
                            "ReportSchedule.ScheduleExpressionTimezone",
                            error.to_string(),
                        );
                    }
                }
            }
        }
        let setting = &self.report_setting;
        let template = setting.report_template.as_str();
        if REPORT_TEMPLATES_WITHOUT_SUPPORT.contains(&template) {
            findings.warning(
                "ReportSetting.ReportTemplate",
                format!("{template} reports malware scans, which Coffer does not run; its reports will be empty"),
            );
        } else if !REPORT_TEMPLATES.contains(&template) {
            let finding = findings.error(
                "ReportSetting.ReportTemplate",
                format!(
                    "{template:?} is not a report template; use one of {}",
                    REPORT_TEMPLATES.join(", ")
                ),
            );
            if let Some(s) = did_you_mean(template, REPORT_TEMPLATES.iter().copied()) {
                finding.hint(format!("did you mean {s:?}?"));
            }
        }
        if setting.is_compliance_template() {
            if setting.framework_arns.is_empty() {
                findings
                    .error("ReportSetting.FrameworkArns", format!("{template} needs FrameworkArns: the frameworks whose compliance it reports"))
                    .hint("add FrameworkArns: [!GetAtt MyFramework.FrameworkArn]");
            }
            if setting.framework_arns.len() > 1000 {
                findings.error(
                    "ReportSetting.FrameworkArns",
                    "a report plan takes at most 1000 frameworks",
                );
            }
        } else if !setting.framework_arns.is_empty() {
            findings.warning(
                "ReportSetting.FrameworkArns",
                format!("FrameworkArns apply only to compliance reports; {template} ignores them"),
            );
        }
        for (idx, arn) in setting.framework_arns.iter().enumerate() {
            match crate::Arn::parse(arn) {
                Ok(a) if a.service() == "backup" && a.resource().starts_with("framework:") => {}
                Ok(_) => {
                    findings.error(
                        format!("ReportSetting.FrameworkArns[{idx}]"),
                        format!("{arn:?} is not a framework ARN (arn:coffer:backup:<region>:<account>:framework:<name>)"),
                    );
                }
                Err(err) => {
                    findings.error(
                        format!("ReportSetting.FrameworkArns[{idx}]"),
                        err.to_string(),
                    );
                }
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(template: &str, frameworks: &[&str]) -> ReportPlan {
        ReportPlan {
            report_plan_name: "jobs_monthly".into(),
            report_plan_description: String::new(),
            report_delivery_channel: ReportDeliveryChannel {
                s3_bucket_name: "payments-audit".into(),
                s3_key_prefix: None,
                formats: vec!["CSV".into(), "JSON".into()],
            },
            report_setting: ReportSetting {
                report_template: template.into(),
                framework_arns: frameworks.iter().map(|s| s.to_string()).collect(),
                number_of_frameworks: None,
                accounts: vec![],
                organization_units: vec![],
                regions: vec![],
            },
            report_plan_tags: Default::default(),
            report_schedule: None,
        }
    }

    #[test]
    fn compliance_report_needs_frameworks() {
        assert!(plan("BACKUP_JOB_REPORT", &[]).validate().is_empty());
        assert!(plan("CONTROL_COMPLIANCE_REPORT", &[])
            .validate()
            .has_errors());
        assert!(plan(
            "CONTROL_COMPLIANCE_REPORT",
            &["arn:coffer:backup:r:111122223333:framework:core"]
        )
        .validate()
        .is_empty());
    }

    #[test]
    fn hyphenated_name_suggests_underscores() {
        let mut p = plan("BACKUP_JOB_REPORT", &[]);
        p.report_plan_name = "jobs-monthly".into();
        let text = p.validate().iter().next().unwrap().to_string();
        assert!(text.contains("\"jobs_monthly\""), "{text}");
    }

    fn monthly(zone: Option<&str>) -> ReportSchedule {
        ReportSchedule {
            schedule_expression: "cron(0 9 1 * ? *)".into(),
            schedule_expression_timezone: zone.map(str::to_string),
        }
    }

    #[test]
    fn a_scheduled_run_covers_the_whole_period_its_schedule_implies() {
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        // Monthly in Paris, run on 1 March: all of February, Paris time.
        let plan = monthly(Some("Europe/Paris"));
        let schedule = plan.schedule(at("2026-01-01T00:00:00Z")).unwrap();
        let period = plan.period(&schedule, at("2026-03-01T08:00:00Z"));
        assert_eq!(period.start, at("2026-01-31T23:00:00Z"));
        assert_eq!(period.end, at("2026-02-28T23:00:00Z"));
        assert_eq!(period.first_day, jiff::civil::date(2026, 2, 1));
        // In UTC, run on 1 April: March.
        let plan = monthly(None);
        let schedule = plan.schedule(at("2026-01-01T00:00:00Z")).unwrap();
        let period = plan.period(&schedule, at("2026-04-01T09:00:00Z"));
        assert_eq!(
            (period.start, period.end),
            (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"))
        );
        // Daily at 06:00: yesterday; weekly on Mondays: the 7 days before.
        let daily = ReportSchedule {
            schedule_expression: "cron(0 6 * * ? *)".into(),
            schedule_expression_timezone: None,
        };
        let schedule = daily.schedule(at("2026-01-01T00:00:00Z")).unwrap();
        let period = daily.period(&schedule, at("2026-03-10T06:00:00Z"));
        assert_eq!(
            (period.start, period.end),
            (at("2026-03-09T00:00:00Z"), at("2026-03-10T00:00:00Z"))
        );
        let weekly = ReportSchedule {
            schedule_expression: "cron(0 6 ? * MON *)".into(),
            schedule_expression_timezone: None,
        };
        let schedule = weekly.schedule(at("2026-01-01T00:00:00Z")).unwrap();
        let period = weekly.period(&schedule, at("2026-03-09T06:00:00Z"));
        assert_eq!(
            (period.start, period.end),
            (at("2026-03-02T00:00:00Z"), at("2026-03-09T00:00:00Z"))
        );
        // Hourly: the hour before.
        let hourly = ReportSchedule {
            schedule_expression: "rate(1 hour)".into(),
            schedule_expression_timezone: None,
        };
        let schedule = hourly.schedule(at("2026-01-01T00:00:00Z")).unwrap();
        let period = hourly.period(&schedule, at("2026-03-09T06:00:00Z"));
        assert_eq!(
            (period.start, period.end),
            (at("2026-03-09T05:00:00Z"), at("2026-03-09T06:00:00Z"))
        );
    }

    #[test]
    fn a_schedule_that_cannot_run_is_refused() {
        let mut bad = plan("BACKUP_JOB_REPORT", &[]);
        bad.report_schedule = Some(ReportSchedule {
            schedule_expression: "monthly".into(),
            schedule_expression_timezone: None,
        });
        assert!(bad.validate().has_errors());
        bad.report_schedule = Some(monthly(Some("Europe/Pariss")));
        assert!(bad.validate().has_errors());
        bad.report_schedule = Some(monthly(Some("Europe/Paris")));
        assert!(bad.validate().is_empty());
    }
}

/// `ReportJob.Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportJobStatus {
    Created,
    Running,
    Completed,
    Failed,
}

impl ReportJobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportJobStatus::Created => "CREATED",
            ReportJobStatus::Running => "RUNNING",
            ReportJobStatus::Completed => "COMPLETED",
            ReportJobStatus::Failed => "FAILED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, ReportJobStatus::Completed | ReportJobStatus::Failed)
    }

    /// Whether `self → next` is allowed: a job runs, then completes or
    /// fails (a report job is recorded RUNNING when its delivery starts).
    pub fn can_transition_to(self, next: ReportJobStatus) -> bool {
        use ReportJobStatus::*;
        matches!(
            (self, next),
            (Created, Running | Failed) | (Running, Completed | Failed)
        )
    }
}

/// A report job: one run of a report plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportJob {
    pub report_job_id: String,
    pub account_id: String,
    pub region: String,
    pub report_plan_name: String,
    pub report_template: String,
    pub status: ReportJobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub creation_time: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<jiff::Timestamp>,
    /// Where the files went (the delivery folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_destination: Option<String>,
    /// SHA-256 of the delivered `manifest.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// The report bucket (its `S3BucketName`) the delivery went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    /// The delivered objects' keys in that bucket (for a folder bucket,
    /// their paths under its folder), as `ReportDestination.S3Keys`
    /// lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s3_keys: Vec<String>,
    /// The process delivering it (`PID@HOST`), as for backup jobs, so a
    /// restart can tell a delivery left half done by a dead process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
}
