//! Which backup jobs the policy asks for between two instants.
//!
//! Each rule of a plan fires on its schedule, in its time zone; at each
//! fire time, every resource a selection of the plan selects gets one job,
//! to start within the rule's start window. Every fire time of a rule is a
//! job of its own, however long its windows: a job that is still waiting or
//! running when its rule fires again does not swallow the next one (the
//! next waits behind it, as one resource is backed up by one job at a time).
//!
//! When several rules of one plan select the same resource and their start
//! windows overlap, AWS takes one backup, for the rule with the longest
//! retention (DeleteAfterDays; none means forever). Coffer makes that
//! precise and independent of the order candidates are looked at, and of
//! where a span of planning starts:
//!
//! > the plan's rules are ranked by retention (longest first), then by
//! > name; a candidate is kept unless a kept candidate of a better-ranked
//! > rule, for the same resource, has a start window that overlaps its own.
//!
//! A candidate is only ever dropped for a kept one, so a fire time is never
//! left without a backup near it; and since only a better-ranked rule can
//! drop a candidate, whether one is kept depends on candidates at most
//! (number of rules) start windows away, which bounds how far around a
//! span the planner must look. The survivor records which candidates it
//! stands for.
//!
//! No job is planned for a fire time before the rule, the resource, or
//! every selection of the plan that selects it existed.

use coffer_model::{
    AccountId, BackupPlan, BackupSelection, Lifecycle, Region, Resource, Schedule,
    ScheduleExpression,
};
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// The default start window (minutes) when a rule gives none.
pub use coffer_model::DEFAULT_START_WINDOW_MINUTES;

/// A plan with what it needs to be planned: where it lives, its selections,
/// and when it and its parts came to exist (`rate()` schedules count from
/// the plan's creation; nothing fires before a rule or selection existed).
#[derive(Clone, Copy, Debug)]
pub struct PlanInScope<'a> {
    pub account: &'a AccountId,
    pub region: &'a Region,
    pub plan: &'a BackupPlan,
    pub selections: &'a [BackupSelection],
    pub created_at: Timestamp,
    /// When each rule (by position in `plan.rules`) first existed; a rule
    /// with no entry existed since `created_at`.
    pub rules_since: &'a [Timestamp],
    /// When each selection (by position in `selections`) first existed;
    /// one with no entry existed since `created_at`.
    pub selections_since: &'a [Timestamp],
}

impl PlanInScope<'_> {
    fn rule_since(&self, index: usize) -> Timestamp {
        self.rules_since
            .get(index)
            .copied()
            .unwrap_or(self.created_at)
            .max(self.created_at)
    }

    fn selection_since(&self, index: usize) -> Timestamp {
        self.selections_since
            .get(index)
            .copied()
            .unwrap_or(self.created_at)
    }
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
    /// Candidates of other rules of the plan this job stands for:
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
/// then plan, resource and rule. `resources_since` says when a resource
/// first existed (by ARN); one it does not name has no such bound.
///
/// # Errors
/// When a rule's schedule expression or time zone cannot be evaluated.
pub fn planned_jobs(
    plans: &[PlanInScope<'_>],
    resources: &[Resource],
    resources_since: &BTreeMap<String, Timestamp>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<PlannedJob>, PlanningError> {
    let mut out = Vec::new();
    for scope in plans {
        let plan = scope.plan;
        // Each selected resource, with the earliest time one of the plan's
        // selections selecting it existed.
        let selected: Vec<(&Resource, Timestamp)> = resources
            .iter()
            .filter_map(|r| {
                scope
                    .selections
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        s.backup_plan_name == plan.backup_plan_name
                            && s.selects(scope.account, scope.region, r)
                    })
                    .map(|(index, _)| scope.selection_since(index))
                    .min()
                    .map(|since| (r, since))
            })
            .collect();
        if selected.is_empty() {
            continue;
        }
        let ranked = ranked_rules(plan);
        // Whether a candidate is kept depends on kept candidates of better
        // rules overlapping it, and theirs on better ones still: a better
        // rule's fire times are needed from a start window of its own
        // before, to a start window of the worse rule after, the span of
        // fire times needed of any worse rule.
        let mut spans = vec![(from, to); ranked.len()];
        for rank in (0..ranked.len().saturating_sub(1)).rev() {
            let own = window(plan.rules[ranked[rank]].start_window_minutes);
            let (mut low, mut high) = (Timestamp::MAX, Timestamp::MIN);
            for (worse, &index) in ranked.iter().enumerate().skip(rank + 1) {
                let (worse_low, worse_high) = spans[worse];
                let theirs = window(plan.rules[index].start_window_minutes);
                low = low.min(worse_low.checked_sub(own).unwrap_or(Timestamp::MIN));
                high = high.max(worse_high.checked_add(theirs).unwrap_or(Timestamp::MAX));
            }
            spans[rank] = (low, high);
        }
        let widest = plan
            .rules
            .iter()
            .map(|r| window(r.start_window_minutes))
            .max()
            .unwrap_or(SignedDuration::ZERO);
        // Fire times per rule, in rank order.
        let mut fires: Vec<(usize, Vec<Timestamp>)> = Vec::with_capacity(ranked.len());
        for (rank, &index) in ranked.iter().enumerate() {
            let rule = &plan.rules[index];
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
            let since = scope.rule_since(index);
            let (low, look_to) = spans[rank];
            // Nothing of the rule fires before it existed.
            let look_from = low.max(
                since
                    .checked_sub(SignedDuration::from_secs(1))
                    .unwrap_or(since),
            );
            let times: Vec<Timestamp> = if look_from < look_to {
                schedule
                    .fire_times_between(look_from, look_to)
                    .into_iter()
                    .filter(|t| *t >= since)
                    .collect()
            } else {
                Vec::new()
            };
            fires.push((index, times));
        }
        // What is kept depends on the resource only through when it (and
        // the selections choosing it) came to exist, and not at all when
        // that is before every fire time looked at: computed once per such
        // bound, not once per resource.
        let first_fire = fires
            .iter()
            .filter_map(|(_, times)| times.first())
            .min()
            .copied()
            .unwrap_or(Timestamp::MAX);
        let mut by_since: BTreeMap<Timestamp, Vec<Kept>> = BTreeMap::new();
        for (resource, selected_since) in &selected {
            let since = resources_since
                .get(&resource.resource_arn.to_string())
                .map_or(*selected_since, |t| (*t).max(*selected_since));
            let bound = if since <= first_fire {
                Timestamp::MIN
            } else {
                since
            };
            let kept = by_since
                .entry(bound)
                .or_insert_with(|| keep(plan, &fires, widest, bound, from, to));
            out.extend(kept.iter().map(|k| {
                let rule = &plan.rules[k.rule];
                PlannedJob {
                    plan_name: plan.backup_plan_name.clone(),
                    rule_name: rule.rule_name.clone(),
                    resource_arn: resource.resource_arn.to_string(),
                    vault_name: rule.target_backup_vault_name.clone(),
                    fire_at: k.fire_at,
                    start_by: k.start_by,
                    completion_window_minutes: rule.completion_window_minutes,
                    lifecycle: rule.lifecycle,
                    merged: k.merged.clone(),
                }
            }));
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

/// The plan's rule positions, best first: longest retention, then name.
fn ranked_rules(plan: &BackupPlan) -> Vec<usize> {
    let mut ranked: Vec<usize> = (0..plan.rules.len()).collect();
    ranked.sort_by(|a, b| {
        let (ra, rb) = (&plan.rules[*a], &plan.rules[*b]);
        retention(&rb.lifecycle)
            .cmp(&retention(&ra.lifecycle))
            .then_with(|| ra.rule_name.cmp(&rb.rule_name))
    });
    ranked
}

/// The candidates a kept one stands for: `(rule, fire time)`.
type Merged = Vec<(String, Timestamp)>;

/// A kept candidate: its rule (position in the plan), fire time, the end
/// of its start window, and the candidates it stands for.
#[derive(Clone, Debug)]
struct Kept {
    rule: usize,
    fire_at: Timestamp,
    start_by: Timestamp,
    merged: Merged,
}

/// The kept candidates of one plan with fire times in `(from, to]`, for a
/// resource that exists from `since`; `fires` holds each rule's fire
/// times, rules in rank order.
fn keep(
    plan: &BackupPlan,
    fires: &[(usize, Vec<Timestamp>)],
    widest: SignedDuration,
    since: Timestamp,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Kept> {
    let end_of = |index: usize, t: Timestamp| {
        t.checked_add(window(plan.rules[index].start_window_minutes))
            .unwrap_or(Timestamp::MAX)
    };
    // Kept candidates of the rules decided so far: (fire time, rule) → end
    // of its start window, and what it stands for.
    let mut kept: BTreeMap<(Timestamp, usize), (Timestamp, Merged)> = BTreeMap::new();
    for (index, times) in fires {
        let mut mine = Vec::new();
        for &t in times.iter().filter(|t| **t >= since) {
            let end = end_of(*index, t);
            // A kept start window overlapping [t, end) starts before `end`
            // and less than the widest window before `t`.
            let low = t.checked_sub(widest).unwrap_or(Timestamp::MIN);
            let blocker = kept
                .range((low, 0)..(end, 0))
                .find(|(_, (other_end, _))| *other_end > t)
                .map(|(key, _)| *key);
            match blocker {
                Some(key) => {
                    if let Some((_, merged)) = kept.get_mut(&key) {
                        merged.push((plan.rules[*index].rule_name.clone(), t));
                    }
                }
                None => mine.push(((t, *index), (end, Vec::new()))),
            }
        }
        // A rule's own fire times never merge: each is a job.
        kept.extend(mine);
    }
    kept.into_iter()
        .filter(|((t, _), _)| *t > from && *t <= to)
        .map(|((fire_at, rule), (start_by, merged))| Kept {
            rule,
            fire_at,
            start_by,
            merged,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use coffer_model::{BackupRule, ResourceType};

    fn rule(name: &str, expression: &str, start_window: u64, delete: Option<u32>) -> BackupRule {
        BackupRule {
            rule_name: name.into(),
            target_backup_vault_name: "primary".into(),
            schedule_expression: expression.into(),
            schedule_expression_timezone: None,
            start_window_minutes: start_window,
            completion_window_minutes: 10_080,
            lifecycle: Lifecycle {
                delete_after_days: delete,
                ..Lifecycle::default()
            },
            recovery_point_tags: Default::default(),
            copy_actions: vec![],
            enable_continuous_backup: false,
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Jobs of a one-plan policy over one resource, as `(rule, fire time)`.
    fn check(
        rules: Vec<BackupRule>,
        rules_since: &[Timestamp],
        resource_since: Option<Timestamp>,
        from: &str,
        to: &str,
    ) -> Vec<(String, Timestamp)> {
        let account = AccountId::new("210987654321").unwrap();
        let region = Region::new("eu-west-1").unwrap();
        let plan = BackupPlan {
            backup_plan_name: "plan".into(),
            rules,
            advanced_backup_settings: vec![],
            backup_plan_tags: Default::default(),
        };
        let selection: BackupSelection = serde_json::from_value(serde_json::json!({
            "SelectionName": "everything",
            "BackupPlanName": "plan",
            "IamRoleArn": "arn:coffer:iam::210987654321:role/backup",
            "Resources": ["*"],
        }))
        .unwrap();
        let resource = Resource {
            resource_arn: ResourceType::FileSystem.arn(&region, &account, "docs"),
            resource_type: ResourceType::FileSystem,
            resource_name: "docs".into(),
            account_id: account.clone(),
            region: region.clone(),
            tags: Default::default(),
            connection: Default::default(),
        };
        let since: BTreeMap<String, Timestamp> = resource_since
            .map(|t| (resource.resource_arn.to_string(), t))
            .into_iter()
            .collect();
        let selections = [selection];
        let scope = [PlanInScope {
            account: &account,
            region: &region,
            plan: &plan,
            selections: &selections,
            created_at: ts("2026-01-01T00:00:00Z"),
            rules_since,
            selections_since: &[],
        }];
        planned_jobs(&scope, &[resource], &since, ts(from), ts(to))
            .unwrap()
            .into_iter()
            .map(|j| (j.rule_name, j.fire_at))
            .collect()
    }

    fn hours(from: &str, n: i64) -> Vec<Timestamp> {
        (1..=n)
            .map(|h| ts(from).checked_add(SignedDuration::from_hours(h)).unwrap())
            .collect()
    }

    #[test]
    fn an_hourly_rule_with_the_default_start_window_fires_every_hour() {
        for window in [480, 60, 61, 1_500, 52_560_000] {
            let jobs = check(
                vec![rule("hourly", "cron(0 * * * ? *)", window, Some(7))],
                &[],
                None,
                "2026-03-01T00:00:00Z",
                "2026-03-02T00:00:00Z",
            );
            let times: Vec<Timestamp> = jobs.iter().map(|(_, t)| *t).collect();
            assert_eq!(times, hours("2026-03-01T00:00:00Z", 24), "window {window}");
        }
    }

    #[test]
    fn a_daily_rule_with_a_window_longer_than_a_day_fires_every_day() {
        let jobs = check(
            vec![rule("daily", "cron(0 5 * * ? *)", 1_500, Some(35))],
            &[],
            None,
            "2026-03-01T00:00:00Z",
            "2026-03-11T00:00:00Z",
        );
        assert_eq!(jobs.len(), 10);
    }

    #[test]
    fn a_better_rule_takes_the_one_backup_where_windows_overlap() {
        // The daily rule (35 days) stands for the hourly ones (7 days) whose
        // windows overlap its own; the hourly ones around it still run.
        let jobs = check(
            vec![
                rule("hourly", "cron(0 * * * ? *)", 60, Some(7)),
                rule("daily", "cron(0 5 * * ? *)", 120, Some(35)),
            ],
            &[],
            None,
            "2026-03-01T00:00:00Z",
            "2026-03-02T00:00:00Z",
        );
        assert!(jobs.contains(&("daily".into(), ts("2026-03-01T05:00:00Z"))));
        for dropped in ["05:00", "06:00"] {
            let t = ts(&format!("2026-03-01T{dropped}:00Z"));
            assert!(!jobs.contains(&("hourly".into(), t)), "{dropped}");
        }
        // 04:00 ends its window at 05:00 (half-open), 07:00 starts at the
        // daily window's end.
        for kept in ["04:00", "07:00"] {
            let t = ts(&format!("2026-03-01T{kept}:00Z"));
            assert!(jobs.contains(&("hourly".into(), t)), "{kept}");
        }
        assert_eq!(jobs.len(), 24 - 2 + 1);
    }

    #[test]
    fn a_candidate_is_dropped_only_for_a_kept_job() {
        // forever (02:00, 3 h window) drops daily (04:30, 2 h), which would
        // have dropped hourly at 05:00; with daily gone, 05:00 runs.
        let jobs = check(
            vec![
                rule("forever", "cron(0 2 * * ? *)", 180, None),
                rule("daily", "cron(30 4 * * ? *)", 120, Some(35)),
                rule("hourly", "cron(0 * * * ? *)", 60, Some(7)),
            ],
            &[],
            None,
            "2026-03-01T00:00:00Z",
            "2026-03-01T12:00:00Z",
        );
        assert!(!jobs.contains(&("daily".into(), ts("2026-03-01T04:30:00Z"))));
        assert!(jobs.contains(&("hourly".into(), ts("2026-03-01T05:00:00Z"))));
    }

    #[test]
    fn no_job_is_planned_before_its_rule_or_resource_existed() {
        // The resource came at 03:00: the rule (there since New Year) fires
        // for it from 03:00 on.
        let jobs = check(
            vec![rule("old", "cron(0 * * * ? *)", 480, Some(7))],
            &[ts("2026-01-01T00:00:00Z")],
            Some(ts("2026-03-01T03:00:00Z")),
            "2026-03-01T00:00:00Z",
            "2026-03-01T08:00:00Z",
        );
        let times: Vec<Timestamp> = jobs.iter().map(|(_, t)| *t).collect();
        assert_eq!(times, hours("2026-03-01T02:00:00Z", 6));
        // A rule added to the plan at 06:00 fires from then on.
        let jobs = check(
            vec![rule("new", "cron(30 * * * ? *)", 480, Some(7))],
            &[ts("2026-03-01T06:00:00Z")],
            None,
            "2026-03-01T00:00:00Z",
            "2026-03-01T08:00:00Z",
        );
        assert_eq!(
            jobs,
            vec![
                ("new".into(), ts("2026-03-01T06:30:00Z")),
                ("new".into(), ts("2026-03-01T07:30:00Z"))
            ]
        );
    }
}
