//! Tests for schedule parsing and fire times: hand-computed cases, error
//! messages, and property tests against an independent brute-force
//! evaluator.

use std::time::Instant;

use jiff::Timestamp;
use rstest::rstest;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn schedule(expression: &str, zone: Option<&str>) -> Schedule {
    let expression: ScheduleExpression = expression.parse().unwrap();
    Schedule::new(expression, zone, ts("2026-01-01T00:00:00Z")).unwrap()
}

/// The first `n` fire times after `after`, as RFC 3339 strings.
fn fires(expression: &str, zone: &str, after: &str, n: usize) -> Vec<String> {
    schedule(expression, Some(zone))
        .fire_times_after(ts(after))
        .take(n)
        .map(|t| t.to_string())
        .collect()
}

fn parse_err(expression: &str) -> String {
    expression
        .parse::<ScheduleExpression>()
        .unwrap_err()
        .to_string()
}

// ---------------------------------------------------------------- parsing

#[rstest]
#[case("cron(30 1 * * ? *)", "cron(30 1 * * ? *)")]
#[case("  cron(0   5 ? * mon-fri *)  ", "cron(0 5 ? * MON-FRI *)")]
#[case(
    "cron(00/15 08-17 L jan,Jul ? 2025-2030/2)",
    "cron(0/15 8-17 L JAN,JUL ? 2025-2030/2)"
)]
#[case("cron( 0 0 15w * ? * )", "cron(0 0 15W * ? *)")]
#[case("cron(0 0 lw * ? *)", "cron(0 0 LW * ? *)")]
#[case("cron(0 0 ? * 6l *)", "cron(0 0 ? * 6L *)")]
#[case("cron(0 0 ? * fri#3 *)", "cron(0 0 ? * FRI#3 *)")]
#[case("cron(0 0 ? * 3#2 *)", "cron(0 0 ? * 3#2 *)")]
#[case("cron(0 0 ? * L *)", "cron(0 0 ? * L *)")]
#[case(
    "cron(*/5,7,10-20/3 1,2 1-7,15 */2 ? *)",
    "cron(*/5,7,10-20/3 1,2 1-7,15 */2 ? *)"
)]
#[case("cron(0 12 ? NOV-DEC SUN,7 2030)", "cron(0 12 ? NOV-DEC SUN,7 2030)")]
#[case("rate(1 hour)", "rate(1 hour)")]
#[case("rate(5 minutes)", "rate(5 minutes)")]
#[case("rate(1 day)", "rate(1 day)")]
#[case(" rate(  7   days ) ", "rate(7 days)")]
fn valid_expressions_have_canonical_text(#[case] input: &str, #[case] canonical: &str) {
    let parsed: ScheduleExpression = input.parse().unwrap();
    assert_eq!(parsed.to_string(), canonical);
    let reparsed: ScheduleExpression = canonical.parse().unwrap();
    assert_eq!(reparsed, parsed);
    assert_eq!(parsed.is_cron(), canonical.starts_with("cron"));
}

#[test]
fn reversed_month_range_suggests_the_wrapped_list() {
    // DEC-FEB is 12-2: backwards, like any other reversed range.
    let msg = parse_err("cron(0 12 * DEC-FEB ? *)");
    assert!(
        msg.contains("month field: range `DEC-FEB` runs backwards"),
        "{msg}"
    );
    assert!(msg.contains("e.g. `DEC,JAN-FEB`"), "{msg}");
}

#[rstest]
#[case::out_of_range(
    "cron(0 25 * * ? *)",
    &["`cron(0 25 * * ? *)`", "hours field: 25 is out of range 0-23"]
)]
#[case::missing_year(
    "cron(0 5 * * *)",
    &[
        "expected 6 fields (minutes hours day-of-month month day-of-week year), found 5",
        "AWS cron needs a year field, e.g. `cron(0 5 * * ? *)`",
    ]
)]
#[case::seconds_field(
    "cron(0 0 5 * * ? *)",
    &["found 7", "AWS cron has no seconds field, e.g. `cron(0 5 * * ? *)`"]
)]
#[case::too_few("cron(0 5)", &["found 2", "e.g. `cron(0 5 * * ? *)`"])]
#[case::both_days_star(
    "cron(0 5 * * * *)",
    &[
        "day-of-month (`*`) and day-of-week (`*`) are both set",
        "use `?` in one of them",
        "`cron(0 5 ? * * *)`",
    ]
)]
#[case::both_days_specific(
    "cron(0 5 15 * MON *)",
    &["are both set", "`cron(0 5 ? * MON *)` or `cron(0 5 15 * ? *)`"]
)]
#[case::both_days_question(
    "cron(0 5 ? * ? *)",
    &["day-of-month and day-of-week are both `?`", "e.g. `cron(0 5 * * ? *)`"]
)]
#[case::weekday_typo(
    "cron(0 5 ? * THUR *)",
    &["day-of-week field: unknown name `THUR`; expected SUN-SAT", "did you mean `THU`?", "SUN-SAT"]
)]
#[case::weekday_full_name("cron(0 5 ? * Thursday *)", &["did you mean `THU`?"])]
#[case::month_typo(
    "cron(0 5 1 JANUARY ? *)",
    &["month field: unknown name `JANUARY`", "did you mean `JAN`?", "JAN-DEC"]
)]
#[case::unknown_name_without_suggestion("cron(0 5 ? * XYZ *)", &["unknown name `XYZ`; expected SUN-SAT"])]
#[case::sunday_zero(
    "cron(0 5 ? * 0 *)",
    &["day-of-week field: 0 is out of range 1-7", "Sunday is 1 or SUN"]
)]
#[case::hour_24("cron(0 24 * * ? *)", &["hours field: 24 is out of range 0-23; midnight is hour 0"])]
#[case::year_range("cron(0 5 * * ? 2200)", &["year field: 2200 is out of range 1970-2199"])]
#[case::day_zero("cron(0 5 0 * ? *)", &["day-of-month field: 0 is out of range 1-31"])]
#[case::huge_number("cron(99999999999 5 * * ? *)", &["minutes field: 99999999999 is out of range 0-59"])]
#[case::reversed_range(
    "cron(0 22-2 * * ? *)",
    &["hours field: range `22-2` runs backwards", "e.g. `22-23,0-2`"]
)]
#[case::reversed_names(
    "cron(0 5 ? * FRI-MON *)",
    &["range `FRI-MON` runs backwards", "`FRI-SAT,SUN-MON`"]
)]
#[case::zero_step(
    "cron(*/0 * * * ? *)",
    &["minutes field: the step in `*/0` must be a whole number from 1 to 60", "`*/15`"]
)]
#[case::bad_step("cron(0 */x * * ? *)", &["hours field: the step in `*/x`", "from 1 to 24"])]
#[case::question_in_minutes(
    "cron(? 5 * * ? *)",
    &["minutes field: `?` is only allowed in the day-of-month and day-of-week fields", "use `*` for every minute"]
)]
#[case::w_in_list(
    "cron(0 5 1W,15 * ? *)",
    &["day-of-month field: `1W` must be the whole field, but the field is `1W,15`"]
)]
#[case::hash_in_list("cron(0 5 ? * 3#2,5 *)", &["day-of-week field: `3#2` must be the whole field"])]
#[case::question_in_list("cron(0 5 ?,1 * ? *)", &["`?` must be the whole field"])]
#[case::nth_range(
    "cron(0 5 ? * 3#6 *)",
    &["day-of-week field: occurrence 6 in `3#6` is out of range 1-5", "second Tuesday"]
)]
#[case::empty_item(
    "cron(0 5 1,,2 * ? *)",
    &["day-of-month field: `1,,2` has an empty list item"]
)]
#[case::not_a_number(
    "cron(0 x * * ? *)",
    &["hours field: `x` is not valid; expected a number 0-23"]
)]
#[case::negative("cron(-5 1 * * ? *)", &["minutes field: `-5` is not valid"])]
#[case::bad_w("cron(0 5 L2 * ? *)", &["day-of-month field: `L2` is not valid", "`LW` (last weekday)"])]
#[case::w_out_of_range("cron(0 5 32W * ? *)", &["day-of-month field: 32 is out of range 1-31"])]
#[case::rate_plural("rate(1 hours)", &["`rate(1 hours)`: use `rate(1 hour)`", "singular when the value is 1"])]
#[case::rate_singular("rate(5 hour)", &["use `rate(5 hours)`"])]
#[case::rate_zero("rate(0 hours)", &["rate value `0` must be a whole number from 1"])]
#[case::rate_negative("rate(-1 hours)", &["rate value `-1`"])]
#[case::rate_unit_typo("rate(5 mins)", &["unknown rate unit `mins`; expected minute", "did you mean `rate(5 minutes)`?"])]
#[case::rate_weeks("rate(2 weeks)", &["did you mean `rate(14 days)`?"])]
#[case::rate_seconds("rate(30 seconds)", &["unknown rate unit `seconds`; expected minute"])]
#[case::rate_shape("rate(5)", &["expected `rate(value unit)`", "e.g. `rate(12 hours)`"])]
#[case::uppercase_keyword("CRON(0 5 * * ? *)", &["did you mean `cron(0 5 * * ? *)`?"])]
#[case::missing_paren("cron(0 5 * * ? *", &["did you mean `cron(0 5 * * ? *)`?"])]
#[case::space_before_paren("rate (1 hour)", &["did you mean `rate(1 hour)`?"])]
#[case::bare_unix_cron("0 5 * * *", &["is not a schedule expression", "did you mean `cron(0 5 * * ? *)`?"])]
#[case::nonsense("every day", &["`every day` is not a schedule expression; expected `cron("])]
#[case::empty("   ", &["schedule expression is empty"])]
fn errors_name_field_token_and_fix(#[case] input: &str, #[case] needles: &[&str]) {
    let msg = parse_err(input);
    for needle in needles {
        assert!(
            msg.contains(needle),
            "message for {input:?} lacks {needle:?}:\n{msg}"
        );
    }
}

#[test]
fn errors_carry_structured_data() {
    let err = "cron(0 25 * * ? *)"
        .parse::<ScheduleExpression>()
        .unwrap_err();
    assert_eq!(
        err,
        ScheduleError::OutOfRange {
            expression: "cron(0 25 * * ? *)".into(),
            field: CronField::Hours,
            token: "25".into(),
            min: 0,
            max: 23,
        }
    );
    let err = "rate(1 hours)".parse::<ScheduleExpression>().unwrap_err();
    assert!(matches!(
        err,
        ScheduleError::RateUnitPlurality { value: 1, unit: RateUnit::Hour, ref fix, .. } if fix == "rate(1 hour)"
    ));
}

#[test]
fn serde_uses_the_canonical_text() {
    let e: ScheduleExpression = "cron(0  5 ? * mon *)".parse().unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#""cron(0 5 ? * MON *)""#
    );
    let back: ScheduleExpression = serde_json::from_str(r#""cron(0 5 ? * MON *)""#).unwrap();
    assert_eq!(back, e);
    let err = serde_json::from_str::<ScheduleExpression>(r#""cron(0 25 * * ? *)""#).unwrap_err();
    assert!(
        err.to_string()
            .contains("hours field: 25 is out of range 0-23"),
        "{err}"
    );
}

#[test]
fn rate_constructor_and_accessors() {
    let e = ScheduleExpression::rate(12, RateUnit::Hour).unwrap();
    assert_eq!(e.to_string(), "rate(12 hours)");
    assert_eq!(e.as_rate(), Some((12, RateUnit::Hour)));
    assert!(!e.is_cron());
    assert!(ScheduleExpression::rate(0, RateUnit::Day).is_err());
    let cron: ScheduleExpression = "cron(0 5 ? * * *)".parse().unwrap();
    assert_eq!(cron.as_rate(), None);
}

// ------------------------------------------------------------- time zones

#[rstest]
#[case("Europe/Pari", Some("Europe/Paris"))]
#[case("America/NewYork", Some("America/New_York"))]
#[case("Paris", Some("Europe/Paris"))]
#[case("new york", Some("America/New_York"))]
#[case("Mars/Olympus_Mons", None)]
#[case("", None)]
#[case("Etc/Unknown", None)]
fn unknown_zones_are_named_with_suggestions(#[case] zone: &str, #[case] suggestion: Option<&str>) {
    let e: ScheduleExpression = "rate(1 hour)".parse().unwrap();
    let err = Schedule::new(e, Some(zone), ts("2026-01-01T00:00:00Z")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("unknown time zone `{zone}`")),
        "{msg}"
    );
    match suggestion {
        Some(s) => assert!(msg.contains(&format!("did you mean `{s}`?")), "{msg}"),
        None => assert!(!msg.contains("did you mean"), "{msg}"),
    }
}

#[test]
fn a_long_unknown_zone_is_refused_without_a_suggestion() {
    // Looking for a suggestion compared the name with every zone of the
    // database, at a cost of its length times theirs (this one took half a
    // minute, found by fuzzing): names whose length alone puts them too far
    // are no longer compared.
    let zone = format!("Europe/{}", "x".repeat(200_000));
    let e: ScheduleExpression = "rate(1 hour)".parse().unwrap();
    let err = Schedule::new(e, Some(&zone), ts("2026-01-01T00:00:00Z")).unwrap_err();
    assert!(
        matches!(
            err,
            ScheduleError::UnknownTimeZone {
                suggestion: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn zone_names_are_reported_in_database_spelling() {
    assert_eq!(
        schedule("cron(0 5 ? * * *)", Some("europe/paris")).timezone_name(),
        "Europe/Paris"
    );
    assert_eq!(schedule("cron(0 5 ? * * *)", None).timezone_name(), "UTC");
    let s = schedule("cron(0 5 ? * * *)", Some("Asia/Kolkata"));
    assert_eq!(s.expression().to_string(), "cron(0 5 ? * * *)");
    assert_eq!(s.created_at(), ts("2026-01-01T00:00:00Z"));
}

// ------------------------------------------------------------- fire times

#[rstest]
// 01:30 is never in Paris's gap (02:00-03:00) or fold (02:00-03:00), so it
// fires daily and only the offset changes.
#[case::paris_spring(
    "cron(30 1 * * ? *)", "Europe/Paris", "2026-03-27T12:00:00Z",
    &["2026-03-28T00:30:00Z", "2026-03-29T00:30:00Z", "2026-03-29T23:30:00Z", "2026-03-30T23:30:00Z"]
)]
#[case::paris_autumn(
    "cron(30 1 * * ? *)", "Europe/Paris", "2026-10-23T12:00:00Z",
    &["2026-10-23T23:30:00Z", "2026-10-24T23:30:00Z", "2026-10-26T00:30:00Z", "2026-10-27T00:30:00Z"]
)]
#[case::sundays(
    "cron(0 4 ? * SUN *)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-01-04T04:00:00Z", "2026-01-11T04:00:00Z", "2026-01-18T04:00:00Z"]
)]
#[case::sundays_new_york(
    "cron(0 4 ? * 1 *)", "America/New_York", "2026-03-01T00:00:00Z",
    &["2026-03-01T09:00:00Z", "2026-03-08T08:00:00Z", "2026-03-15T08:00:00Z"]
)]
// Strictly after: a fire time equal to `after` is not repeated.
#[case::first_of_month(
    "cron(0 3 1 * ? *)", "UTC", "2026-01-01T03:00:00Z",
    &["2026-02-01T03:00:00Z", "2026-03-01T03:00:00Z", "2026-04-01T03:00:00Z"]
)]
#[case::last_day(
    "cron(0 0 L * ? *)", "UTC", "2026-01-15T00:00:00Z",
    &["2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"]
)]
#[case::last_day_leap("cron(0 0 L 2 ? *)", "UTC", "2027-03-01T00:00:00Z", &["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"])]
// 2026: Jan 31 is a Saturday, Feb 28 a Saturday, May 31 a Sunday.
#[case::last_weekday(
    "cron(0 0 LW * ? *)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-29T00:00:00Z"]
)]
// Feb 15 and Mar 15 2026 are Sundays (→ Monday), Aug 15 a Saturday (→ Friday).
#[case::nearest_weekday(
    "cron(0 0 15W * ? 2026)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-01-15T00:00:00Z", "2026-02-16T00:00:00Z", "2026-03-16T00:00:00Z", "2026-04-15T00:00:00Z",
      "2026-05-15T00:00:00Z", "2026-06-15T00:00:00Z", "2026-07-15T00:00:00Z", "2026-08-14T00:00:00Z"]
)]
// Aug 1 2026 is a Saturday: stay in the month, Monday the 3rd.
#[case::nearest_weekday_first(
    "cron(0 0 1W 7-9 ? 2026)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-07-01T00:00:00Z", "2026-08-03T00:00:00Z", "2026-09-01T00:00:00Z"]
)]
// May 31 2026 is a Sunday: stay in the month, Friday the 29th; months without
// a 31st never fire.
#[case::nearest_weekday_last(
    "cron(0 0 31W * ? 2026)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-01-30T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-29T00:00:00Z", "2026-07-31T00:00:00Z"]
)]
#[case::last_friday(
    "cron(0 0 ? * 6L *)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-27T00:00:00Z", "2026-04-24T00:00:00Z"]
)]
#[case::second_tuesday(
    "cron(0 0 ? * 3#2 *)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-01-13T00:00:00Z", "2026-02-10T00:00:00Z", "2026-03-10T00:00:00Z", "2026-04-14T00:00:00Z"]
)]
// Months without a fifth Monday are skipped.
#[case::fifth_monday(
    "cron(0 0 ? * 2#5 *)", "UTC", "2026-01-01T00:00:00Z",
    &["2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z", "2026-08-31T00:00:00Z", "2026-11-30T00:00:00Z"]
)]
#[case::plain_l_is_saturday("cron(0 0 ? * L *)", "UTC", "2026-01-01T00:00:00Z", &["2026-01-03T00:00:00Z", "2026-01-10T00:00:00Z"])]
// Paris skips 02:00-03:00 on 2026-03-29: 02:30 fires at the end of the gap,
// 03:00 CEST = 01:00Z.
#[case::paris_gap(
    "cron(30 2 * * ? *)", "Europe/Paris", "2026-03-27T12:00:00Z",
    &["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
)]
// Paris repeats 02:00-03:00 on 2026-10-25: 02:30 fires once, in CEST.
#[case::paris_fold(
    "cron(30 2 * * ? *)", "Europe/Paris", "2026-10-24T12:00:00Z",
    &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
)]
// Every quarter hour of the skipped hour collapses into one fire at 03:00.
#[case::paris_gap_collapses(
    "cron(*/15 2 * * ? *)", "Europe/Paris", "2026-03-28T12:00:00Z",
    &["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:15:00Z"]
)]
// 03:00 exists and coincides with the end of the gap: one fire, not two.
#[case::paris_gap_and_real_minute(
    "cron(0 2,3 * * ? *)", "Europe/Paris", "2026-03-28T12:00:00Z",
    &["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T01:00:00Z"]
)]
// In the repeated hour, 02:00 and 02:30 already fired in CEST.
#[case::paris_fold_half_hours(
    "cron(*/30 * * * ? *)", "Europe/Paris", "2026-10-25T00:00:00Z",
    &["2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"]
)]
#[case::new_york_gap(
    "cron(30 2 * * ? *)", "America/New_York", "2026-03-07T00:00:00Z",
    &["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]
)]
#[case::new_york_fold(
    "cron(30 1 * * ? *)", "America/New_York", "2026-10-31T00:00:00Z",
    &["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
)]
#[case::new_york_after_fold(
    "cron(30 2 * * ? *)", "America/New_York", "2026-10-31T12:00:00Z",
    &["2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"]
)]
// Lord Howe moves 30 minutes: 02:00-02:30 is skipped on 2026-10-04 ...
#[case::lord_howe_gap(
    "cron(15 2 * * ? *)", "Australia/Lord_Howe", "2026-10-01T00:00:00Z",
    &["2026-10-01T15:45:00Z", "2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"]
)]
// ... and 01:30-02:00 repeats on 2026-04-05.
#[case::lord_howe_fold(
    "cron(45 1 * * ? *)", "Australia/Lord_Howe", "2026-04-03T00:00:00Z",
    &["2026-04-03T14:45:00Z", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]
)]
// Santiago skips midnight: 2026-09-06 00:00 fires at 01:00 -03.
#[case::santiago_midnight_gap(
    "cron(0 0 * * ? *)", "America/Santiago", "2026-09-04T12:00:00Z",
    &["2026-09-05T04:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"]
)]
#[case::kolkata("cron(0 9 * * ? *)", "Asia/Kolkata", "2026-01-01T00:00:00Z", &["2026-01-01T03:30:00Z", "2026-01-02T03:30:00Z"])]
fn cron_fire_times(
    #[case] expression: &str,
    #[case] zone: &str,
    #[case] after: &str,
    #[case] expected: &[&str],
) {
    assert_eq!(fires(expression, zone, after, expected.len()), expected);
}

#[test]
fn starting_inside_a_fold_does_not_refire_the_repeated_hour() {
    // 01:10Z is 02:10 CET, the second pass through 02:xx; 02:30 already fired
    // at 00:30Z in CEST.
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "Europe/Paris",
            "2026-10-25T01:10:00Z",
            1
        ),
        ["2026-10-26T01:30:00Z"]
    );
    assert_eq!(
        fires(
            "cron(0,30 * * * ? *)",
            "Europe/Paris",
            "2026-10-25T01:10:00Z",
            2
        ),
        ["2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"]
    );
}

#[test]
fn rate_counts_from_creation() {
    let e: ScheduleExpression = "rate(6 hours)".parse().unwrap();
    let s = Schedule::new(e, Some("Europe/Paris"), ts("2026-01-01T00:10:00Z")).unwrap();
    let after = |t: &str| {
        s.fire_times_after(ts(t))
            .take(3)
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
    };
    let from_start = [
        "2026-01-01T06:10:00Z",
        "2026-01-01T12:10:00Z",
        "2026-01-01T18:10:00Z",
    ];
    assert_eq!(after("2026-01-01T00:00:00Z"), from_start);
    assert_eq!(after("2026-01-01T00:10:00Z"), from_start);
    assert_eq!(after("2020-01-01T00:00:00Z"), from_start);
    assert_eq!(after("2026-01-01T12:10:00Z")[0], "2026-01-01T18:10:00Z");
    assert_eq!(after("2026-01-01T12:09:59.999Z")[0], "2026-01-01T12:10:00Z");
}

#[test]
fn rate_days_are_24_hours_whatever_the_zone() {
    let e: ScheduleExpression = "rate(1 day)".parse().unwrap();
    let s = Schedule::new(e, Some("Europe/Paris"), ts("2026-03-28T12:00:00Z")).unwrap();
    let got: Vec<String> = s
        .fire_times_after(ts("2026-03-28T12:00:00Z"))
        .take(2)
        .map(|t| t.to_string())
        .collect();
    assert_eq!(got, ["2026-03-29T12:00:00Z", "2026-03-30T12:00:00Z"]);
    let minutes = schedule("rate(15 minutes)", None);
    assert_eq!(
        minutes.next_after(ts("2026-01-01T00:00:00Z")),
        Some(ts("2026-01-01T00:15:00Z"))
    );
}

#[test]
fn rate_ends_at_the_end_of_time() {
    let s = schedule("rate(1 day)", None);
    assert_eq!(s.next_after(Timestamp::MAX), None);
}

#[test]
fn year_bounds_end_the_iterator() {
    let once: Vec<Timestamp> = schedule("cron(0 0 1 1 ? 2027)", None)
        .fire_times_after(ts("2026-06-01T00:00:00Z"))
        .collect();
    assert_eq!(once, [ts("2027-01-01T00:00:00Z")]);

    let last: Vec<Timestamp> = schedule("cron(59 23 31 12 ? *)", Some("Europe/Paris"))
        .fire_times_after(ts("2199-06-01T00:00:00Z"))
        .collect();
    assert_eq!(last, [ts("2199-12-31T22:59:00Z")]);

    let s = schedule("cron(0 0 * * ? *)", None);
    assert_eq!(s.next_after(ts("2199-12-31T00:00:00Z")), None);
    assert_eq!(s.next_after(ts("2300-01-01T00:00:00Z")), None);
    assert_eq!(s.next_after(Timestamp::MAX), None);
    // Before the year field's range, the first fire is at its start.
    assert_eq!(
        s.next_after(ts("1900-01-01T00:00:00Z")),
        Some(ts("1970-01-01T00:00:00Z"))
    );
    assert_eq!(
        s.next_after(Timestamp::MIN),
        Some(ts("1970-01-01T00:00:00Z"))
    );
}

#[test]
fn impossible_expressions_finish_quickly() {
    let started = Instant::now();
    for expression in [
        "cron(0 0 30 2 ? *)",
        "cron(0 0 31 4,6,9,11 ? *)",
        "cron(0 0 31W 2 ? *)",
        "cron(0 0 29 2 ? 2100)",
    ] {
        let s = schedule(expression, Some("Europe/Paris"));
        assert_eq!(
            s.next_after(ts("1970-01-01T00:00:00Z")),
            None,
            "{expression}"
        );
    }
    // A minute-by-minute walk over 230 years would take minutes in a debug
    // build; skipping whole months takes milliseconds.
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn fire_times_between_is_half_open_at_the_start() {
    let s = schedule("cron(0 * * * ? *)", None);
    let got = s.fire_times_between(ts("2026-01-01T00:00:00Z"), ts("2026-01-01T03:00:00Z"));
    assert_eq!(
        got,
        [
            ts("2026-01-01T01:00:00Z"),
            ts("2026-01-01T02:00:00Z"),
            ts("2026-01-01T03:00:00Z")
        ]
    );
    assert!(s
        .fire_times_between(ts("2026-01-01T03:00:00Z"), ts("2026-01-01T02:00:00Z"))
        .is_empty());
}

// ------------------------------------------------------ property tests

/// An independent model of AWS cron used to check the real implementation:
/// it renders expressions from its own tree and decides matches field by
/// field from the definitions, using jiff for calendar facts.
mod model {
    use jiff::civil::{DateTime, Weekday};
    use proptest::prelude::*;

    pub const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    pub const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    #[derive(Clone, Debug)]
    pub enum Item {
        Star,
        Val(u32),
        Range(u32, u32),
        StarStep(u32),
        ValStep(u32, u32),
        RangeStep(u32, u32, u32),
    }

    impl Item {
        fn matches(&self, v: u32, field_min: u32) -> bool {
            match *self {
                Item::Star => true,
                Item::Val(a) => v == a,
                Item::Range(a, b) => a <= v && v <= b,
                Item::StarStep(n) => v >= field_min && (v - field_min).is_multiple_of(n),
                Item::ValStep(a, n) => v >= a && (v - a).is_multiple_of(n),
                Item::RangeStep(a, b, n) => a <= v && v <= b && (v - a).is_multiple_of(n),
            }
        }

        fn render(&self, value: &dyn Fn(u32) -> String) -> String {
            match *self {
                Item::Star => "*".into(),
                Item::Val(a) => value(a),
                Item::Range(a, b) => format!("{}-{}", value(a), value(b)),
                Item::StarStep(n) => format!("*/{n}"),
                Item::ValStep(a, n) => format!("{}/{n}", value(a)),
                Item::RangeStep(a, b, n) => format!("{}-{}/{n}", value(a), value(b)),
            }
        }
    }

    #[derive(Clone, Debug)]
    pub enum Dom {
        List(Vec<Item>),
        Last,
        LastWeekday,
        Nearest(u32),
    }

    #[derive(Clone, Debug)]
    pub enum Dow {
        List(Vec<Item>),
        Saturday,
        LastOf(u32),
        Nth(u32, u32),
    }

    #[derive(Clone, Debug)]
    pub enum Day {
        Month(Dom),
        Week(Dow),
    }

    #[derive(Clone, Debug)]
    pub struct Cron {
        pub minutes: Vec<Item>,
        pub hours: Vec<Item>,
        pub day: Day,
        pub months: Vec<Item>,
        pub years: Vec<Item>,
        pub month_names: bool,
        pub day_names: bool,
    }

    fn any_matches(items: &[Item], v: u32, min: u32) -> bool {
        items.iter().any(|i| i.matches(v, min))
    }

    fn is_weekday(dt: DateTime) -> bool {
        !matches!(dt.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    fn on_day(dt: DateTime, day: i8) -> DateTime {
        dt.with().day(day).build().unwrap()
    }

    impl Cron {
        pub fn matches(&self, dt: DateTime) -> bool {
            let n = |v: i8| u32::try_from(v).unwrap();
            any_matches(&self.minutes, n(dt.minute()), 0)
                && any_matches(&self.hours, n(dt.hour()), 0)
                && any_matches(&self.months, n(dt.month()), 1)
                && any_matches(&self.years, u32::try_from(dt.year()).unwrap(), 1970)
                && self.day_matches(dt)
        }

        fn day_matches(&self, dt: DateTime) -> bool {
            let day = dt.day();
            let len = dt.days_in_month();
            let weekday = u32::try_from(dt.weekday().to_sunday_one_offset()).unwrap();
            match &self.day {
                Day::Month(Dom::List(items)) => any_matches(items, u32::try_from(day).unwrap(), 1),
                Day::Month(Dom::Last) => day == len,
                // A weekday with only weekend days after it in the month.
                Day::Month(Dom::LastWeekday) => {
                    is_weekday(dt) && (day + 1..=len).all(|d| !is_weekday(on_day(dt, d)))
                }
                // The weekday of the month closest to the n-th.
                Day::Month(Dom::Nearest(n)) => {
                    let n = i32::try_from(*n).unwrap();
                    n <= i32::from(len)
                        && (1..=len)
                            .filter(|d| is_weekday(on_day(dt, *d)))
                            .min_by_key(|d| (i32::from(*d) - n).abs())
                            == Some(day)
                }
                Day::Week(Dow::List(items)) => any_matches(items, weekday, 1),
                Day::Week(Dow::Saturday) => weekday == 7,
                Day::Week(Dow::LastOf(w)) => weekday == *w && day + 7 > len,
                Day::Week(Dow::Nth(w, k)) => {
                    weekday == *w && u32::try_from((day - 1) / 7 + 1).unwrap() == *k
                }
            }
        }

        /// The expression text: canonical (single spaces, upper case) or
        /// with random-looking spacing and lower-case names.
        pub fn render(&self, sloppy: bool) -> String {
            let number = |v: u32| v.to_string();
            let month = |v: u32| {
                let s = if self.month_names {
                    MONTHS[v as usize - 1].to_string()
                } else {
                    v.to_string()
                };
                if sloppy {
                    s.to_lowercase()
                } else {
                    s
                }
            };
            let weekday = |v: u32| {
                let s = if self.day_names {
                    DAYS[v as usize - 1].to_string()
                } else {
                    v.to_string()
                };
                if sloppy {
                    s.to_lowercase()
                } else {
                    s
                }
            };
            let list = |items: &[Item], value: &dyn Fn(u32) -> String| {
                items
                    .iter()
                    .map(|i| i.render(value))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let (dom, dow) = match &self.day {
                Day::Month(Dom::List(items)) => (list(items, &number), "?".to_string()),
                Day::Month(Dom::Last) => ("L".into(), "?".into()),
                Day::Month(Dom::LastWeekday) => ("LW".into(), "?".into()),
                Day::Month(Dom::Nearest(n)) => (format!("{n}W"), "?".into()),
                Day::Week(Dow::List(items)) => ("?".into(), list(items, &weekday)),
                Day::Week(Dow::Saturday) => ("?".into(), "L".into()),
                Day::Week(Dow::LastOf(w)) => ("?".into(), format!("{}L", weekday(*w))),
                Day::Week(Dow::Nth(w, k)) => ("?".into(), format!("{}#{k}", weekday(*w))),
            };
            let fields = [
                list(&self.minutes, &number),
                list(&self.hours, &number),
                dom,
                list(&self.months, &month),
                dow,
                list(&self.years, &number),
            ];
            if sloppy {
                format!("  cron( {}  )  ", fields.join("   "))
            } else {
                format!("cron({})", fields.join(" "))
            }
        }
    }

    fn item(values: BoxedStrategy<u32>, max_step: u32) -> impl Strategy<Value = Item> {
        let pair = (values.clone(), values.clone()).prop_map(|(a, b)| (a.min(b), a.max(b)));
        prop_oneof![
            3 => Just(Item::Star),
            3 => values.clone().prop_map(Item::Val),
            2 => pair.clone().prop_map(|(a, b)| Item::Range(a, b)),
            2 => (1..=max_step).prop_map(Item::StarStep),
            1 => (values, 1..=max_step).prop_map(|(a, n)| Item::ValStep(a, n)),
            1 => (pair, 1..=max_step).prop_map(|((a, b), n)| Item::RangeStep(a, b, n)),
        ]
    }

    fn list(values: BoxedStrategy<u32>, max_step: u32) -> impl Strategy<Value = Vec<Item>> {
        prop::collection::vec(item(values, max_step), 1..=3)
    }

    pub fn cron() -> impl Strategy<Value = Cron> {
        // Hours favour 0-3, where the daylight-saving gaps and folds of the
        // zones under test fall.
        let hours = prop_oneof![0..=3u32, 0..=23u32].boxed();
        let dom = prop_oneof![
            4 => list((1..=31u32).boxed(), 31).prop_map(Dom::List),
            1 => Just(Dom::Last),
            1 => Just(Dom::LastWeekday),
            2 => (1..=31u32).prop_map(Dom::Nearest),
        ];
        let dow = prop_oneof![
            4 => list((1..=7u32).boxed(), 7).prop_map(Dow::List),
            1 => Just(Dow::Saturday),
            1 => (1..=7u32).prop_map(Dow::LastOf),
            2 => (1..=7u32, 1..=5u32).prop_map(|(w, k)| Dow::Nth(w, k)),
        ];
        let day = prop_oneof![dom.prop_map(Day::Month), dow.prop_map(Day::Week)];
        let months = prop_oneof![Just(vec![Item::Star]), list((1..=12u32).boxed(), 12),];
        let years = prop_oneof![
            4 => Just(vec![Item::Star]),
            1 => list((2023..=2032u32).boxed(), 3),
        ];
        (
            list((0..=59u32).boxed(), 30),
            list(hours, 12),
            day,
            months,
            years,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(minutes, hours, day, months, years, month_names, day_names)| Cron {
                    minutes,
                    hours,
                    day,
                    months,
                    years,
                    month_names,
                    day_names,
                },
            )
    }
}

mod properties {
    use std::collections::{BTreeSet, HashSet};

    use jiff::tz::TimeZone;
    use jiff::{SignedDuration, Timestamp};
    use proptest::prelude::*;

    use super::model;
    use crate::schedule::{Schedule, ScheduleExpression};

    const ZONES: [&str; 7] = [
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "America/Santiago",
        "Europe/London",
    ];
    const WINDOW_DAYS: i64 = 45;

    /// Every fire time in `(start, end)` by brute force: walk every UTC
    /// minute, keep the first occurrence of each matching wall-clock minute,
    /// and send matching minutes the clock jumps over to the instant it jumps.
    fn brute_force(
        cron: &model::Cron,
        tz: &TimeZone,
        start: Timestamp,
        end: Timestamp,
    ) -> Vec<Timestamp> {
        let minute = SignedDuration::from_mins(1);
        let mut seen = HashSet::new();
        let mut fires = BTreeSet::new();
        let mut previous: Option<jiff::civil::DateTime> = None;
        // Two days of lead-in so a wall-clock minute first seen before
        // `start` is known to be a repeat.
        let mut s = start.as_second().div_euclid(60) * 60 - 2 * 86_400;
        while s < end.as_second() {
            let t = Timestamp::from_second(s).unwrap();
            let wall = tz.to_datetime(t);
            if let Some(previous) = previous {
                let mut skipped = previous.checked_add(minute).unwrap();
                while skipped < wall {
                    if cron.matches(skipped) {
                        fires.insert(t);
                    }
                    skipped = skipped.checked_add(minute).unwrap();
                }
            }
            if seen.insert(wall) && cron.matches(wall) {
                fires.insert(t);
            }
            previous = Some(wall);
            s += 60;
        }
        fires
            .into_iter()
            .filter(|t| *t > start && *t < end)
            .collect()
    }

    fn start_instant(tz: &TimeZone, near_transition: bool, raw: u64) -> Timestamp {
        let lo: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let hi: Timestamp = "2030-12-31T00:00:00Z".parse().unwrap();
        let transitions: Vec<Timestamp> = tz
            .following(lo)
            .map(|t| t.timestamp())
            .take_while(|t| *t < hi)
            .collect();
        let raw = i64::try_from(raw >> 1).unwrap();
        if near_transition && !transitions.is_empty() {
            // Up to 40 days before a transition, so the window contains it.
            let count = i64::try_from(transitions.len()).unwrap();
            let transition = transitions[usize::try_from(raw % count).unwrap()];
            Timestamp::from_second(transition.as_second() - (raw / count) % (40 * 86_400)).unwrap()
        } else {
            Timestamp::from_second(lo.as_second() + raw % (hi.as_second() - lo.as_second()))
                .unwrap()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn fire_times_match_brute_force(
            cron in model::cron(),
            zone in 0..ZONES.len(),
            near_transition in any::<bool>(),
            raw in any::<u64>(),
        ) {
            let tz = jiff::tz::db().get(ZONES[zone]).unwrap();
            let start = start_instant(&tz, near_transition, raw);
            let end = start.checked_add(SignedDuration::from_hours(24 * WINDOW_DAYS)).unwrap();
            let text = cron.render(false);
            let expression: ScheduleExpression = text.parse().unwrap();
            let schedule = Schedule::new(expression, Some(ZONES[zone]), start).unwrap();
            let actual: Vec<Timestamp> = schedule.fire_times_after(start).take_while(|t| *t < end).collect();
            let expected = brute_force(&cron, &tz, start, end);
            prop_assert_eq!(actual, expected, "{} in {} from {}", text, ZONES[zone], start);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn display_round_trips(cron in model::cron(), sloppy in any::<bool>()) {
            let parsed: ScheduleExpression = cron.render(sloppy).parse().unwrap();
            let canonical = parsed.to_string();
            prop_assert_eq!(&canonical, &cron.render(false));
            let reparsed: ScheduleExpression = canonical.parse().unwrap();
            prop_assert_eq!(reparsed, parsed);
        }

        #[test]
        fn rate_round_trips(value in 1..=100_000u32, unit in 0..3usize) {
            let unit = [crate::RateUnit::Minute, crate::RateUnit::Hour, crate::RateUnit::Day][unit];
            let e = ScheduleExpression::rate(value, unit).unwrap();
            let back: ScheduleExpression = e.to_string().parse().unwrap();
            prop_assert_eq!(back.as_rate(), Some((value, unit)));
            prop_assert_eq!(back, e);
        }
    }
}
