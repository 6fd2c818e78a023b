//! Which backup jobs the policy asks for between two instants.
//!
//! Each rule of a plan fires on its schedule, in its time zone; at each
//! fire time, every resource a selection of the plan selects gets one job,
//! to start within the rule's start window. When several rules of one plan
//! select the same resource and their start windows overlap, AWS takes one
//! backup, for the rule with the longest retention (DeleteAfterDays; none
//! means forever). Coffer makes that precise, and independent of the order
//! in which candidates are looked at:
//!
//! > a candidate job is dropped when another candidate of the same plan and
//! > resource has a start window that overlaps its own and either a longer
//! > retention, or the same retention and an earlier (fire time, rule name).
//!
//! The survivor records which candidates it stands for.

use coffer_model::{
    AccountId, BackupPlan, BackupSelection, Lifecycle, Region, Resource, Schedule,
    ScheduleExpression,
};
use jiff::{SignedDuration, Timestamp};

/// The default start window (minutes) when a rule gives none.
pub use coffer_model::DEFAULT_START_WINDOW_MINUTES;

/// A plan with what it needs to be planned: where it lives, its selections,
/// and when it was created (`rate()` schedules count from there).
#[derive(Clone, Copy, Debug)]
pub struct PlanInScope<'a> {
    pub account: &'a AccountId,
    pub region: &'a Region,
    pub plan: &'a BackupPlan,
    pub selections: &'a [BackupSelection],
    pub created_at: Timestamp,
}

/// One job the policy asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedJob {
    pub plan_name: String,
    pub rule_name: String,
    pub resource_arn: String,
    pub vault_name: String,
    /// The rule's fire time.
    pub fire_at: Timestamp,
    /// The end of the start window: a job not started by then is EXPIRED.
    pub start_by: Timestamp,
    pub completion_window_minutes: u64,
    pub lifecycle: Lifecycle,
    /// Candidates of other rules (or fire times) this job stands for:
    /// `(rule, fire time)`.
    pub merged: Vec<(String, Timestamp)>,
}

/// A rule whose schedule cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanningError {
    pub plan_name: String,
    pub rule_name: String,
    pub message: String,
}

impl std::fmt::Display for PlanningError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plan {:?}, rule {:?}: {}",
            self.plan_name, self.rule_name, self.message
        )
    }
}

impl std::error::Error for PlanningError {}

fn retention(lifecycle: &Lifecycle) -> u64 {
    lifecycle.delete_after_days.map_or(u64::MAX, u64::from)
}

fn window(rule_minutes: u64) -> SignedDuration {
    let minutes = if rule_minutes == 0 {
        DEFAULT_START_WINDOW_MINUTES
    } else {
        rule_minutes
    };
    SignedDuration::from_mins(i64::try_from(minutes).unwrap_or(i64::MAX / 60))
}

/// Jobs whose fire time `t` is in `from < t <= to`, ordered by fire time,
/// then plan, resource and rule.
///
/// # Errors
/// When a rule's schedule expression or time zone cannot be evaluated.
pub fn planned_jobs(
    plans: &[PlanInScope<'_>],
    resources: &[Resource],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<PlannedJob>, PlanningError> {
    let mut out = Vec::new();
    for scope in plans {
        let plan = scope.plan;
        let selected: Vec<&Resource> = resources
            .iter()
            .filter(|r| {
                scope.selections.iter().any(|s| {
                    s.backup_plan_name == plan.backup_plan_name
                        && s.selects(scope.account, scope.region, r)
                })
            })
            .collect();
        if selected.is_empty() {
            continue;
        }
        // Candidates per rule: fire times in the span, widened by the
        // longest start window so that merges across `from` are seen.
        let widest = plan
            .rules
            .iter()
            .map(|r| window(r.start_window_minutes))
            .max()
            .unwrap_or(SignedDuration::ZERO);
        let look_from = from.checked_sub(widest).unwrap_or(from);
        let look_to = to.checked_add(widest).unwrap_or(to);
        let mut fires: Vec<(usize, Timestamp)> = Vec::new();
        for (index, rule) in plan.rules.iter().enumerate() {
            let error = |message: String| PlanningError {
                plan_name: plan.backup_plan_name.clone(),
                rule_name: rule.rule_name.clone(),
                message,
            };
            let expression: ScheduleExpression = rule
                .schedule_expression
                .parse()
                .map_err(|e: coffer_model::ScheduleError| error(e.to_string()))?;
            let schedule = Schedule::new(
                expression,
                rule.schedule_expression_timezone.as_deref(),
                scope.created_at,
            )
            .map_err(|e| error(e.to_string()))?;
            for t in schedule.fire_times_between(look_from, look_to) {
                fires.push((index, t));
            }
        }
        fires.sort_by_key(|(index, t)| (*t, plan.rules[*index].rule_name.clone()));
        for resource in &selected {
            out.extend(merge(plan, resource, &fires, from, to));
        }
    }
    out.sort_by(|a, b| {
        (a.fire_at, &a.plan_name, &a.resource_arn, &a.rule_name).cmp(&(
            b.fire_at,
            &b.plan_name,
            &b.resource_arn,
            &b.rule_name,
        ))
    });
    Ok(out)
}

/// The surviving candidates of one resource of one plan, `fires` sorted
/// by time.
fn merge(
    plan: &BackupPlan,
    resource: &Resource,
    fires: &[(usize, Timestamp)],
    from: Timestamp,
    to: Timestamp,
) -> Vec<PlannedJob> {
    let widest = fires
        .iter()
        .map(|(i, _)| window(plan.rules[*i].start_window_minutes))
        .max()
        .unwrap_or(SignedDuration::ZERO);
    let key = |(i, t): &(usize, Timestamp)| {
        let rule = &plan.rules[*i];
        (retention(&rule.lifecycle), *t, rule.rule_name.as_str())
    };
    let overlaps = |a: &(usize, Timestamp), b: &(usize, Timestamp)| {
        let end_a =
            a.1.checked_add(window(plan.rules[a.0].start_window_minutes))
                .unwrap_or(a.1);
        let end_b =
            b.1.checked_add(window(plan.rules[b.0].start_window_minutes))
                .unwrap_or(b.1);
        a.1 < end_b && b.1 < end_a
    };
    // `d` beats `c`: longer retention, or equal and earlier (time, rule).
    let beats = |d: &(usize, Timestamp), c: &(usize, Timestamp)| {
        let (rd, td, nd) = key(d);
        let (rc, tc, nc) = key(c);
        rd > rc || (rd == rc && (td, nd) < (tc, nc))
    };
    let mut out = Vec::new();
    for (i, candidate) in fires.iter().enumerate() {
        if candidate.1 <= from || candidate.1 > to {
            continue;
        }
        // Only neighbours within the widest window can overlap.
        let near = |j: &usize| {
            let d = fires[*j].1;
            d.duration_since(candidate.1).abs() < widest
        };
        let lo = (0..i).rev().take_while(near).last().unwrap_or(i);
        let hi = (i + 1..fires.len()).take_while(near).last().unwrap_or(i);
        let neighbours = (lo..=hi).filter(|j| *j != i).map(|j| &fires[j]);
        let mut merged = Vec::new();
        let mut beaten = false;
        for other in neighbours {
            if !overlaps(candidate, other) {
                continue;
            }
            if beats(other, candidate) {
                beaten = true;
                break;
            }
            merged.push((plan.rules[other.0].rule_name.clone(), other.1));
        }
        if beaten {
            continue;
        }
        let rule = &plan.rules[candidate.0];
        out.push(PlannedJob {
            plan_name: plan.backup_plan_name.clone(),
            rule_name: rule.rule_name.clone(),
            resource_arn: resource.resource_arn.to_string(),
            vault_name: rule.target_backup_vault_name.clone(),
            fire_at: candidate.1,
            start_by: candidate
                .1
                .checked_add(window(rule.start_window_minutes))
                .unwrap_or(candidate.1),
            completion_window_minutes: rule.completion_window_minutes,
            lifecycle: rule.lifecycle,
            merged,
        });
    }
    out
}
