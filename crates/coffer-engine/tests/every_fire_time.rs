//! Every fire time of every rule becomes a job, whatever its windows: a
//! property test over random plans (one to three rules, intervals from
//! hourly to yearly, start and completion windows from their minimum to
//! their maximum) over a simulated month. A candidate (rule, fire time,
//! resource) is missing only where a rule of the same plan with a better
//! rank (longer retention, then name) has a kept job whose start window
//! overlaps it; planning the month in slices gives the same jobs as
//! planning it at once; and no job is planned before its rule or resource
//! existed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use coffer_engine::planning::{planned_jobs, PlanInScope, PlannedJob};
use coffer_model::{
    AccountId, BackupPlan, BackupRule, BackupSelection, Lifecycle, Region, Resource, ResourceType,
    Schedule, ScheduleExpression, MAX_WINDOW_MINUTES, MIN_START_WINDOW_MINUTES,
};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

fn account() -> AccountId {
    AccountId::new("210987654321").unwrap()
}

fn region() -> Region {
    Region::new("eu-west-1").unwrap()
}

fn resource(name: &str) -> Resource {
    Resource {
        resource_arn: ResourceType::FileSystem.arn(&region(), &account(), name),
        resource_type: ResourceType::FileSystem,
        resource_name: name.into(),
        account_id: account(),
        region: region(),
        tags: BTreeMap::from([("tier".to_string(), "gold".to_string())]),
        connection: Default::default(),
    }
}

fn selection() -> BackupSelection {
    serde_json::from_value(serde_json::json!({
        "SelectionName": "all-gold",
        "BackupPlanName": "plan",
        "IamRoleArn": "arn:coffer:iam::210987654321:role/backup",
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "tier", "ConditionValue": "gold"}],
    }))
    .unwrap()
}

/// `rate(1 hour)`, `rate(2 hours)`.
fn rate(n: u32, unit: &str) -> String {
    let plural = if n == 1 { "" } else { "s" };
    format!("rate({n} {unit}{plural})")
}

/// A schedule from hourly to yearly.
fn schedule() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..60).prop_map(|m| format!("cron({m} * ? * * *)")),
        (0u8..60, 2u8..13).prop_map(|(m, n)| format!("cron({m} 0/{n} ? * * *)")),
        (0u8..60, 0u8..24).prop_map(|(m, h)| format!("cron({m} {h} * * ? *)")),
        (0u8..60, 0u8..24, 1u8..8).prop_map(|(m, h, d)| format!("cron({m} {h} ? * {d} *)")),
        (0u8..60, 0u8..24, 1u8..29).prop_map(|(m, h, d)| format!("cron({m} {h} {d} * ? *)")),
        (0u8..60, 0u8..24, 1u8..29, 1u8..13)
            .prop_map(|(m, h, d, mo)| format!("cron({m} {h} {d} {mo} ? *)")),
        (1u32..49).prop_map(|n| rate(n, "hour")),
        (1u32..8).prop_map(|n| rate(n, "day")),
    ]
}

/// A window in minutes from `min` to `max`, spread on a log scale so that
/// short and long ones are both common.
fn window(min: u64, max: u64) -> impl Strategy<Value = u64> {
    let (low, high) = ((min as f64).ln(), (max as f64).ln());
    (0.0f64..=1.0).prop_map(move |x| {
        let minutes = (low + x * (high - low)).exp().round() as u64;
        minutes.clamp(min, max)
    })
}

fn rule(max_start: u64) -> impl Strategy<Value = BackupRule> {
    (
        schedule(),
        prop_oneof![
            Just(None),
            Just(Some("Europe/Paris")),
            Just(Some("Asia/Kolkata"))
        ],
        window(MIN_START_WINDOW_MINUTES, max_start),
        window(1, MAX_WINDOW_MINUTES),
        prop_oneof![
            Just(None),
            Just(Some(7u32)),
            Just(Some(35)),
            Just(Some(365))
        ],
    )
        .prop_map(|(expression, zone, start, completion, delete)| BackupRule {
            rule_name: String::new(),
            target_backup_vault_name: "primary".into(),
            schedule_expression: expression,
            schedule_expression_timezone: zone.map(str::to_string),
            start_window_minutes: start,
            completion_window_minutes: completion,
            lifecycle: Lifecycle {
                delete_after_days: delete,
                ..Lifecycle::default()
            },
            recovery_point_tags: Default::default(),
            copy_actions: vec![],
            enable_continuous_backup: false,
        })
}

/// One to three rules. A plan of one rule takes start windows up to the
/// 100-year maximum; with several, whether a candidate is kept depends on
/// fire times up to a window away, so their windows go up to a year to
/// keep the test quick.
fn plan() -> impl Strategy<Value = BackupPlan> {
    prop_oneof![
        rule(MAX_WINDOW_MINUTES).prop_map(|r| vec![r]),
        proptest::collection::vec(rule(525_600), 2..=3),
    ]
    .prop_map(|mut rules| {
        for (index, rule) in rules.iter_mut().enumerate() {
            rule.rule_name = format!("rule-{index}");
        }
        BackupPlan {
            backup_plan_name: "plan".into(),
            rules,
            advanced_backup_settings: vec![],
            backup_plan_tags: Default::default(),
        }
    })
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn end_of(rule: &BackupRule, t: Timestamp) -> Timestamp {
    t.checked_add(SignedDuration::from_mins(rule.start_window_minutes as i64))
        .unwrap_or(Timestamp::MAX)
}

/// Better rank: longer retention (none is forever), then name.
fn better(a: &BackupRule, b: &BackupRule) -> bool {
    let retention = |r: &BackupRule| r.lifecycle.delete_after_days.map_or(u64::MAX, u64::from);
    (retention(a), std::cmp::Reverse(&a.rule_name))
        > (retention(b), std::cmp::Reverse(&b.rule_name))
}

struct Case<'a> {
    plan: &'a BackupPlan,
    selections: &'a [BackupSelection],
    created: Timestamp,
    rules_since: &'a [Timestamp],
    resources: &'a [Resource],
    resources_since: &'a BTreeMap<String, Timestamp>,
}

impl Case<'_> {
    fn plan_span(&self, from: Timestamp, to: Timestamp) -> Vec<PlannedJob> {
        let (account, region) = (account(), region());
        let scope = [PlanInScope {
            account: &account,
            region: &region,
            plan: self.plan,
            selections: self.selections,
            created_at: self.created,
            rules_since: self.rules_since,
            selections_since: &[],
        }];
        planned_jobs(&scope, self.resources, self.resources_since, from, to).unwrap()
    }
}

type Key = (String, String, Timestamp);

fn key(job: &PlannedJob) -> Key {
    (job.rule_name.clone(), job.resource_arn.clone(), job.fire_at)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn every_fire_time_is_a_job_except_where_a_better_rule_of_the_plan_coincides(
        plan in plan(),
        rule_late_hours in proptest::collection::vec(0i64..400, 3),
        resource_late_hours in 0i64..400,
        slices in proptest::collection::vec(1i64..200, 1..5),
    ) {
        let created = ts("2026-02-20T10:17:00Z");
        let from = ts("2026-03-01T00:00:00Z");
        let to = ts("2026-04-01T00:00:00Z");
        // Rules added after the plan, and a resource that came later.
        let rules_since: Vec<Timestamp> = plan
            .rules
            .iter()
            .zip(&rule_late_hours)
            .map(|(_, hours)| created.checked_add(SignedDuration::from_hours(*hours * 3)).unwrap())
            .collect();
        let resources = vec![resource("early"), resource("late")];
        let late_since = from.checked_add(SignedDuration::from_hours(resource_late_hours)).unwrap();
        let resources_since = BTreeMap::from([(resources[1].resource_arn.to_string(), late_since)]);
        let selections = vec![selection()];
        let case = Case {
            plan: &plan,
            selections: &selections,
            created,
            rules_since: &rules_since,
            resources: &resources,
            resources_since: &resources_since,
        };
        let jobs = case.plan_span(from, to);

        // No job twice.
        let keys: BTreeSet<Key> = jobs.iter().map(key).collect();
        prop_assert_eq!(keys.len(), jobs.len());

        // Planned in slices, the month gives the same jobs.
        let mut sliced = Vec::new();
        let mut cursor = from;
        let mut step = slices.iter().cycle();
        while cursor < to {
            let hours = *step.next().unwrap();
            let until = cursor.checked_add(SignedDuration::from_hours(hours)).unwrap().min(to);
            sliced.extend(case.plan_span(cursor, until));
            cursor = until;
        }
        let sliced_keys: BTreeSet<Key> = sliced.iter().map(key).collect();
        prop_assert_eq!(&sliced_keys, &keys);
        prop_assert_eq!(sliced.len(), jobs.len());

        // Each candidate in the month: a job, or covered by a kept job of a
        // better rule of the plan (looked for in a wider span, since it may
        // fire just outside the month).
        let reach = SignedDuration::from_mins(525_600 * 3);
        let wide: Vec<PlannedJob> = if plan.rules.len() > 1 {
            case.plan_span(from.checked_sub(reach).unwrap(), to.checked_add(reach).unwrap())
        } else {
            Vec::new()
        };
        let by_rule: BTreeMap<&str, &BackupRule> =
            plan.rules.iter().map(|r| (r.rule_name.as_str(), r)).collect();
        for (index, rule) in plan.rules.iter().enumerate() {
            let expression: ScheduleExpression = rule.schedule_expression.parse().unwrap();
            let schedule =
                Schedule::new(expression, rule.schedule_expression_timezone.as_deref(), created)
                    .unwrap();
            for resource in &resources {
                let arn = resource.resource_arn.to_string();
                let since = rules_since[index].max(resources_since.get(&arn).copied().unwrap_or(created));
                for t in schedule.fire_times_between(from, to) {
                    let candidate = (rule.rule_name.clone(), arn.clone(), t);
                    if t < since {
                        prop_assert!(!keys.contains(&candidate), "{:?} planned before its rule or resource existed", candidate);
                        continue;
                    }
                    if keys.contains(&candidate) {
                        continue;
                    }
                    prop_assert!(plan.rules.len() > 1, "{:?} of a one-rule plan is missing", candidate);
                    let covered = wide.iter().any(|job| {
                        let other = by_rule[job.rule_name.as_str()];
                        job.resource_arn == arn
                            && job.rule_name != rule.rule_name
                            && better(other, rule)
                            && job.fire_at < end_of(rule, t)
                            && t < job.start_by
                    });
                    prop_assert!(covered, "{:?} is neither a job nor covered by a better rule's job", candidate);
                }
            }
        }
        // Every job is a fire time of its rule, with its window.
        for job in &jobs {
            let rule = by_rule[job.rule_name.as_str()];
            prop_assert_eq!(job.start_by, end_of(rule, job.fire_at));
            prop_assert!(job.fire_at > from && job.fire_at <= to);
        }
    }
}
