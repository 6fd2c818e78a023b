//! Schedule expressions as AWS Backup uses them (`cron(...)` and `rate(...)`
//! in EventBridge syntax), evaluated in an IANA time zone into fire times.
//!
//! This module owns parsing and validating expressions (with errors that say
//! how to fix them), their canonical text, and computing when a schedule
//! fires. It does no IO: the time zone database is the one bundled in `jiff`.
//!
//! Fire-time rules:
//! - `cron` matches wall-clock minutes in the schedule's zone. A matching
//!   minute fires once. A minute skipped by a daylight-saving gap fires at the
//!   first instant after the gap (the transition itself); several skipped
//!   minutes share that instant and fire once. A minute repeated by a
//!   fall-back fold fires only at its first occurrence.
//! - `rate(N unit)` fires every N units of elapsed time from the schedule's
//!   creation (first at `created_at + N units`), independent of the zone.

mod cron;
mod error;
mod expression;

#[cfg(test)]
mod tests;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use self::cron::{CompiledCron, Cursor};
pub use self::error::CronField;
pub use self::error::ScheduleError;
use self::expression::Kind;
pub use self::expression::{RateUnit, ScheduleExpression};

/// A schedule expression bound to a time zone and a creation time, ready to
/// compute fire times.
///
/// ```
/// use coffer_model::{Schedule, ScheduleExpression};
/// let expression: ScheduleExpression = "cron(30 2 * * ? *)".parse().unwrap();
/// let created = "2026-01-01T00:00:00Z".parse().unwrap();
/// let schedule = Schedule::new(expression, Some("Europe/Paris"), created).unwrap();
/// // 02:30 does not exist in Paris on 2026-03-29; it fires when the gap ends.
/// let after = "2026-03-28T12:00:00Z".parse().unwrap();
/// assert_eq!(schedule.next_after(after).unwrap().to_string(), "2026-03-29T01:00:00Z");
/// ```
#[derive(Clone, Debug)]
pub struct Schedule {
    expression: ScheduleExpression,
    timezone: TimeZone,
    timezone_name: String,
    created_at: Timestamp,
    plan: Plan,
}

#[derive(Clone, Debug)]
enum Plan {
    Cron(CompiledCron),
    /// Period in nanoseconds.
    Rate(i128),
}

impl Schedule {
    /// Binds `expression` to a time zone (`None` means UTC) and a creation
    /// time (the origin of `rate()` schedules).
    ///
    /// # Errors
    /// [`ScheduleError::UnknownTimeZone`] when `timezone` is not an IANA time
    /// zone name; the error suggests the closest known name.
    pub fn new(
        expression: ScheduleExpression,
        timezone: Option<&str>,
        created_at: Timestamp,
    ) -> Result<Schedule, ScheduleError> {
        let (timezone, timezone_name) = match timezone {
            None => (TimeZone::UTC, "UTC".to_owned()),
            Some(name) => lookup_zone(name)?,
        };
        let plan = match expression.kind() {
            Kind::Cron(cron) => Plan::Cron(CompiledCron::new(cron)),
            Kind::Rate { value, unit } => {
                Plan::Rate(i128::from(*value) * i128::from(unit.seconds()) * 1_000_000_000)
            }
        };
        Ok(Schedule {
            expression,
            timezone,
            timezone_name,
            created_at,
            plan,
        })
    }

    /// The expression this schedule evaluates.
    pub fn expression(&self) -> &ScheduleExpression {
        &self.expression
    }

    /// The IANA name of the schedule's zone in the database's spelling
    /// (`europe/paris` is reported as `Europe/Paris`); `UTC` by default.
    pub fn timezone_name(&self) -> &str {
        &self.timezone_name
    }

    /// When the schedule was created; `rate()` counts from here.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The first fire time strictly after `after`, or `None` when the
    /// schedule never fires again (cron years end at 2199).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.plan {
            Plan::Rate(period) => self.next_rate(*period, after),
            Plan::Cron(cron) => self.next_cron(cron, after),
        }
    }

    /// Fire times strictly after `after`, strictly increasing; ends when the
    /// schedule never fires again.
    pub fn fire_times_after(&self, after: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        std::iter::successors(self.next_after(after), move |t| self.next_after(*t))
    }

    /// Fire times `t` with `from < t <= to` (the window since a previous check
    /// at `from`), in order.
    pub fn fire_times_between(&self, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        self.fire_times_after(from)
            .take_while(|t| *t <= to)
            .collect()
    }

    fn next_rate(&self, period: i128, after: Timestamp) -> Option<Timestamp> {
        let created = self.created_at.as_nanosecond();
        let elapsed = after.as_nanosecond() - created;
        // Fires at created + k·period for k ≥ 1; the first one past `after`.
        let k = if elapsed < 0 { 1 } else { elapsed / period + 1 };
        Timestamp::from_nanosecond(created.checked_add(k.checked_mul(period)?)?).ok()
    }

    fn next_cron(&self, cron: &CompiledCron, after: Timestamp) -> Option<Timestamp> {
        // A wall-clock minute fires at the first instant whose wall-clock
        // reading reaches it (see `first_instant_at`). That mapping never
        // decreases, so only minutes later than `after`'s own wall-clock
        // reading can fire after it; the few that still map to `after` or
        // earlier (the repeated hour of a fold, the minutes of a gap) are
        // skipped.
        let mut cursor = Cursor::minute_after(self.timezone.to_datetime(after));
        loop {
            let wall = cron.next_match(cursor)?;
            let instant = self.first_instant_at(wall)?;
            if instant > after {
                return Some(instant);
            }
            cursor = Cursor::minute_after(wall);
        }
    }

    /// The first instant at which the zone's wall clock reads `wall` or later:
    /// the instant itself when `wall` occurs once, its first occurrence in a
    /// fold, and the end of the gap when a transition skips `wall`.
    fn first_instant_at(&self, wall: DateTime) -> Option<Timestamp> {
        match self.timezone.to_ambiguous_timestamp(wall).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(wall).ok(),
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(wall).ok(),
            AmbiguousOffset::Gap { before, after } => {
                // The transition lies in (wall - after, wall - before]: with
                // the earlier offset the clock has not reached `wall` yet,
                // with the later one it has passed it. Bisect on whole seconds
                // (transitions fall on whole seconds) for the first instant
                // whose reading is at least `wall`; this needs no assumption
                // about how the zone's transitions are stored.
                let mut lo = after.to_timestamp(wall).ok()?.as_second();
                let mut hi = before.to_timestamp(wall).ok()?.as_second();
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    let reading = self.timezone.to_datetime(Timestamp::from_second(mid).ok()?);
                    if reading >= wall {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                Timestamp::from_second(hi).ok()
            }
        }
    }
}

/// Looks `name` up in the bundled IANA database.
fn lookup_zone(name: &str) -> Result<(TimeZone, String), ScheduleError> {
    let unknown = || ScheduleError::UnknownTimeZone {
        name: name.to_owned(),
        suggestion: closest_zone(name),
    };
    let zone = jiff::tz::db().get(name).map_err(|_| unknown())?;
    // `Etc/Unknown` is jiff's marker for "no idea", not a place.
    if zone.is_unknown() {
        return Err(unknown());
    }
    let canonical = zone.iana_name().unwrap_or(name).to_owned();
    Ok((zone, canonical))
}

/// The known zone closest to `name`: same city (`Paris` → `Europe/Paris`) or
/// a small edit away (`Europe/Pari`).
fn closest_zone(name: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    let db = jiff::tz::db();
    let names: Vec<String> = db.available().map(|n| n.as_str().to_owned()).collect();
    if !lower.contains('/') {
        let city = lower.replace(' ', "_");
        if let Some(found) = names.iter().find(|n| {
            n.rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(&city))
        }) {
            return Some(found.clone());
        }
    }
    let limit = (lower.len() / 5).max(2);
    // A name whose length differs by more than `limit` is farther than that
    // (an edit changes the length by one at most): skipping those keeps a
    // long name from being compared with every zone.
    let length = lower.chars().count();
    names
        .into_iter()
        .filter(|n| !n.eq_ignore_ascii_case(&lower) && n != "Etc/Unknown")
        .filter(|n| n.chars().count().abs_diff(length) <= limit)
        .map(|n| (strsim::levenshtein(&lower, &n.to_ascii_lowercase()), n))
        .filter(|(distance, _)| *distance <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, n)| n)
}
