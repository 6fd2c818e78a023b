//! Schedule expressions (`cron(...)`, `rate(...)`) as policy files and the
//! CLI give them, bound to a time zone, and their fire times.
//!
//! Input: UTF-8 lines: the expression; the time zone (empty: UTC); the
//! creation time and the "after" time in Unix seconds (optional).
//!
//! Checked: no panic; a parsed expression's canonical text parses back to
//! the same expression and is its own canonical text; fire times are
//! strictly after the given time and strictly increasing.
#![no_main]

use coffer_model::{Schedule, ScheduleExpression};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

/// 2026-09-21T17:46:40Z: a default "now" for inputs that give none.
const DEFAULT_SECONDS: i64 = 1_790_000_000;

fn timestamp(line: Option<&str>) -> Timestamp {
    line.and_then(|l| l.trim().parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or_else(|| Timestamp::from_second(DEFAULT_SECONDS).expect("in range"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let expression_text = lines.next().unwrap_or_default();
    let zone = lines.next().filter(|z| !z.is_empty());
    let created = timestamp(lines.next());
    let after = timestamp(lines.next());

    let Ok(expression) = expression_text.parse::<ScheduleExpression>() else {
        return;
    };
    let canonical = expression.to_string();
    let again: ScheduleExpression = canonical
        .parse()
        .unwrap_or_else(|e| panic!("canonical text {canonical:?} does not parse: {e}"));
    assert_eq!(
        again, expression,
        "{canonical:?} parses to another expression"
    );
    assert_eq!(again.to_string(), canonical, "canonical text is not stable");

    let Ok(schedule) = Schedule::new(expression, zone, created) else {
        return;
    };
    let mut previous = after;
    for time in schedule.fire_times_after(after).take(8) {
        assert!(
            time > previous,
            "{time} does not follow {previous} ({canonical:?})"
        );
        previous = time;
    }
    let _ = schedule.fire_times_between(after, previous);
});
