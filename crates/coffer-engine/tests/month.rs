//! A simulated month (March 2026: both DST changes) of a policy with
//! several plans, rules, time zones and overlapping windows, compared job by
//! job with an independent computation: fire times by a minute-by-minute
//! walk of the wall clock, merges by their definition (rules ranked by
//! retention, a candidate dropped only for a kept one of a better rule).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use coffer_engine::planning::{planned_jobs, PlanInScope};
use coffer_model::{
    AccountId, BackupPlan, BackupRule, BackupSelection, Lifecycle, Region, Resource, ResourceType,
};
use jiff::{tz::TimeZone, SignedDuration, Timestamp};

fn rule(name: &str, cron: &str, tz: Option<&str>, window: u64, delete: Option<u32>) -> BackupRule {
    BackupRule {
        rule_name: name.into(),
        target_backup_vault_name: "primary".into(),
        schedule_expression: cron.into(),
        schedule_expression_timezone: tz.map(str::to_string),
        start_window_minutes: window,
        completion_window_minutes: 600,
        lifecycle: Lifecycle {
            delete_after_days: delete,
            ..Lifecycle::default()
        },
        recovery_point_tags: Default::default(),
        copy_actions: vec![],
        enable_continuous_backup: false,
    }
}

fn selection(plan: &str, tag: &str) -> BackupSelection {
    serde_json::from_value(serde_json::json!({
        "SelectionName": format!("{plan}-{tag}"),
        "BackupPlanName": plan,
        "IamRoleArn": "arn:coffer:iam::210987654321:role/backup",
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "tier", "ConditionValue": tag}],
    }))
    .unwrap()
}

fn resource(name: &str, tier: &str) -> Resource {
    let account = AccountId::new("210987654321").unwrap();
    let region = Region::new("eu-west-1").unwrap();
    Resource {
        resource_arn: ResourceType::FileSystem.arn(&region, &account, name),
        resource_type: ResourceType::FileSystem,
        resource_name: name.into(),
        account_id: account,
        region,
        tags: BTreeMap::from([("tier".to_string(), tier.to_string())]),
        connection: Default::default(),
    }
}

/// Wall-clock matchers written independently of the cron engine.
type Matcher = Box<dyn Fn(&jiff::civil::DateTime) -> bool>;

struct Expect {
    plan: &'static str,
    rule: &'static str,
    zone: TimeZone,
    matches: Option<Matcher>,
    rate_hours: Option<i64>,
    window: i64,
    retention: u64,
}

#[test]
fn a_month_of_schedules_matches_an_independent_computation() {
    let account = AccountId::new("210987654321").unwrap();
    let region = Region::new("eu-west-1").unwrap();
    let critical = BackupPlan {
        backup_plan_name: "critical".into(),
        rules: vec![
            rule("hourly", "cron(0 * ? * * *)", None, 60, Some(7)),
            rule(
                "daily",
                "cron(30 1 * * ? *)",
                Some("Europe/Paris"),
                120,
                Some(35),
            ),
            rule(
                "monthly",
                "cron(0 2 1 * ? *)",
                Some("America/New_York"),
                480,
                None,
            ),
        ],
        advanced_backup_settings: vec![],
        backup_plan_tags: Default::default(),
    };
    let standard = BackupPlan {
        backup_plan_name: "standard".into(),
        rules: vec![
            rule("twice-daily", "rate(12 hours)", None, 60, Some(14)),
            rule(
                "weekly",
                "cron(0 3 ? * SUN *)",
                Some("Australia/Lord_Howe"),
                720,
                Some(90),
            ),
        ],
        advanced_backup_settings: vec![],
        backup_plan_tags: Default::default(),
    };
    let selections = vec![
        selection("critical", "gold"),
        selection("standard", "silver"),
        selection("standard", "gold"),
    ];
    let resources = vec![
        resource("a", "gold"),
        resource("b", "silver"),
        resource("c", "bronze"),
    ];
    let created: Timestamp = "2026-02-20T10:17:00Z".parse().unwrap();
    let from: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
    let scopes = [
        PlanInScope {
            account: &account,
            region: &region,
            plan: &critical,
            selections: &selections,
            created_at: created,
            rules_since: &[],
            selections_since: &[],
        },
        PlanInScope {
            account: &account,
            region: &region,
            plan: &standard,
            selections: &selections,
            created_at: created,
            rules_since: &[],
            selections_since: &[],
        },
    ];
    let got = planned_jobs(&scopes, &resources, &BTreeMap::new(), from, to).unwrap();

    // Independent expectation.
    let tz = |name: &str| TimeZone::get(name).unwrap();
    let expects = vec![
        Expect {
            plan: "critical",
            rule: "hourly",
            zone: TimeZone::UTC,
            matches: Some(Box::new(|d| d.minute() == 0)),
            rate_hours: None,
            window: 60,
            retention: 7,
        },
        Expect {
            plan: "critical",
            rule: "daily",
            zone: tz("Europe/Paris"),
            matches: Some(Box::new(|d| d.hour() == 1 && d.minute() == 30)),
            rate_hours: None,
            window: 120,
            retention: 35,
        },
        Expect {
            plan: "critical",
            rule: "monthly",
            zone: tz("America/New_York"),
            matches: Some(Box::new(|d| {
                d.day() == 1 && d.hour() == 2 && d.minute() == 0
            })),
            rate_hours: None,
            window: 480,
            retention: u64::MAX,
        },
        Expect {
            plan: "standard",
            rule: "twice-daily",
            zone: TimeZone::UTC,
            matches: None,
            rate_hours: Some(12),
            window: 60,
            retention: 14,
        },
        Expect {
            plan: "standard",
            rule: "weekly",
            zone: tz("Australia/Lord_Howe"),
            matches: Some(Box::new(|d| {
                d.weekday() == jiff::civil::Weekday::Sunday && d.hour() == 3 && d.minute() == 0
            })),
            rate_hours: None,
            window: 720,
            retention: 90,
        },
    ];
    // Wide enough for every chain of merges (rules × widest window).
    let margin = SignedDuration::from_hours(48);
    let (walk_from, walk_to) = (
        from.checked_sub(margin).unwrap(),
        to.checked_add(margin).unwrap(),
    );
    let mut candidates: Vec<(&str, &str, Timestamp, i64, u64)> = Vec::new();
    for e in &expects {
        if let Some(hours) = e.rate_hours {
            let mut t = created;
            while t <= walk_to {
                if t > walk_from {
                    candidates.push((e.plan, e.rule, t, e.window, e.retention));
                }
                t = t.checked_add(SignedDuration::from_hours(hours)).unwrap();
            }
            continue;
        }
        // Every UTC minute, seen on the zone's wall clock (no DST gap or
        // repeated hour is hit by these rules' times in March 2026).
        let mut t = walk_from;
        while t <= walk_to {
            let wall = e.zone.to_datetime(t);
            if (e.matches.as_ref().unwrap())(&wall) && t > walk_from {
                candidates.push((e.plan, e.rule, t, e.window, e.retention));
            }
            t = t.checked_add(SignedDuration::from_mins(1)).unwrap();
        }
    }
    let selected = |plan: &str, r: &Resource| match plan {
        "critical" => r.tags["tier"] == "gold",
        _ => r.tags["tier"] == "silver" || r.tags["tier"] == "gold",
    };
    // The merge, by its definition: rules ranked by retention (longest
    // first), then name; a candidate is kept unless a kept candidate of a
    // better-ranked rule of the same plan overlaps its start window.
    let end = |x: &(&str, &str, Timestamp, i64, u64)| {
        x.2.checked_add(SignedDuration::from_mins(x.3)).unwrap()
    };
    let better = |d: &(&str, &str, Timestamp, i64, u64), c: &(&str, &str, Timestamp, i64, u64)| {
        d.4 > c.4 || (d.4 == c.4 && d.1 < c.1)
    };
    let mut ranked = candidates.clone();
    ranked.sort_by(|a, b| b.4.cmp(&a.4).then(a.1.cmp(b.1)));
    let mut kept: Vec<(&str, &str, Timestamp, i64, u64)> = Vec::new();
    for c in &ranked {
        let blocked = kept
            .iter()
            .any(|d| d.0 == c.0 && better(d, c) && d.2 < end(c) && c.2 < end(d));
        if !blocked {
            kept.push(*c);
        }
    }
    let mut expected = Vec::new();
    for r in &resources {
        for c in &kept {
            if !selected(c.0, r) || c.2 <= from || c.2 > to {
                continue;
            }
            expected.push((
                c.2,
                c.0.to_string(),
                r.resource_arn.to_string(),
                c.1.to_string(),
            ));
        }
    }
    expected.sort();
    let got_keys: Vec<_> = got
        .iter()
        .map(|j| {
            (
                j.fire_at,
                j.plan_name.clone(),
                j.resource_arn.clone(),
                j.rule_name.clone(),
            )
        })
        .collect();
    assert_eq!(got_keys.len(), expected.len());
    assert_eq!(got_keys, expected);

    // The merges the month must contain, spelled out.
    let count = |plan: &str, rule: &str| {
        got.iter()
            .filter(|j| j.plan_name == plan && j.rule_name == rule)
            .count()
    };
    // 01:30 in Paris, Mar 1 (00:30 UTC) to Apr 1 (Mar 31, 23:30 UTC, after the change to CEST).
    assert_eq!(count("critical", "daily"), 32);
    assert_eq!(count("critical", "monthly"), 1);
    // Hourly jobs inside the daily window (01:30-03:30 Paris) and the monthly
    // window are dropped: fewer than 24 a day remain.
    assert!(count("critical", "hourly") < 31 * 24 - 31);
    let daily = got.iter().find(|j| j.rule_name == "daily").unwrap();
    assert!(
        daily.merged.iter().any(|(rule, _)| rule == "hourly"),
        "{daily:?}"
    );
    assert!(
        got.iter()
            .all(|j| j.resource_arn != resources[2].resource_arn.to_string()),
        "bronze is selected by no plan"
    );
    assert!(got.iter().all(|j| j.start_by > j.fire_at));
}
