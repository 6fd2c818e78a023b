//! Wall-clock matching for cron expressions: the parsed fields compiled to
//! bit sets, and a search for the next matching wall-clock minute that skips
//! whole years, months, days and hours that cannot match.
//!
//! Time zones do not appear here: this module answers "which civil minutes
//! match", and the caller maps those onto instants.

use jiff::civil::DateTime;

use super::error::CronField;
use super::expression::{Base, Cron, DayOfMonth, DayOfWeek, Days, List};

/// A set of small integers (0–255); the year field stores `year - 1970`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bits([u64; 4]);

impl Bits {
    fn insert(&mut self, i: u16) {
        if let Some(word) = self.0.get_mut(usize::from(i / 64)) {
            *word |= 1 << (i % 64);
        }
    }

    /// The smallest member that is at least `from`.
    fn next_from(&self, from: u32) -> Option<u32> {
        let mut index = usize::try_from(from / 64).ok()?;
        let mut word = *self.0.get(index)? & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                let base = u32::try_from(index).ok()? * 64;
                return Some(base + word.trailing_zeros());
            }
            index += 1;
            word = *self.0.get(index)?;
        }
    }

    fn contains(&self, i: u32) -> bool {
        self.next_from(i) == Some(i)
    }
}

/// The rule for which days of a month match.
#[derive(Clone, Debug, PartialEq, Eq)]
enum DayRule {
    /// Days of the month (bits 1–31).
    MonthDays(Bits),
    /// `L`.
    LastDay,
    /// `LW`.
    LastWeekday,
    /// `15W`.
    NearestWeekday(u32),
    /// Days of the week, 1 = Sunday (bits 1–7).
    WeekDays(Bits),
    /// `6L`.
    LastOf(u32),
    /// `3#2`: weekday, occurrence.
    Nth(u32, u32),
}

/// A cron expression ready for searching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CompiledCron {
    minutes: Bits,
    hours: Bits,
    days: DayRule,
    months: Bits,
    /// `year - FIRST_YEAR`.
    years: Bits,
}

const FIRST_YEAR: i32 = CronField::Year.min() as i32;
const LAST_YEAR: i32 = CronField::Year.max() as i32;

/// A wall-clock minute; the search may push fields past their range (minute
/// 60, day 32, month 13) and then carries into the next larger unit itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cursor {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
}

impl Cursor {
    /// The minute strictly after `dt`'s minute (seconds are dropped).
    pub(super) fn minute_after(dt: DateTime) -> Cursor {
        let mut c = Cursor::at(dt);
        c.minute += 1;
        c
    }

    fn at(dt: DateTime) -> Cursor {
        let n = |v: i8| u32::try_from(v).unwrap_or(0);
        Cursor {
            year: i32::from(dt.year()),
            month: n(dt.month()),
            day: n(dt.day()),
            hour: n(dt.hour()),
            minute: n(dt.minute()),
        }
    }
}

fn bits(field: CronField, list: &List, offset: u16) -> Bits {
    let mut set = Bits::default();
    for item in list {
        let (lo, hi) = match item.base {
            Base::All => (field.min(), field.max()),
            // `a/n` runs from a to the end of the field.
            Base::Single(v) if item.step.is_some() => (v.number, field.max()),
            Base::Single(v) => (v.number, v.number),
            Base::Range(a, b) => (a.number, b.number),
        };
        let step = usize::from(item.step.unwrap_or(1).max(1));
        for v in (lo..=hi).step_by(step) {
            set.insert(v - offset);
        }
    }
    set
}

impl CompiledCron {
    pub(super) fn new(cron: &Cron) -> CompiledCron {
        let year_offset = CronField::Year.min();
        let days = match &cron.days {
            Days::OfMonth(DayOfMonth::List(list)) => {
                DayRule::MonthDays(bits(CronField::DayOfMonth, list, 0))
            }
            Days::OfMonth(DayOfMonth::Last) => DayRule::LastDay,
            Days::OfMonth(DayOfMonth::LastWeekday) => DayRule::LastWeekday,
            Days::OfMonth(DayOfMonth::NearestWeekday(v)) => {
                DayRule::NearestWeekday(v.number.into())
            }
            Days::OfWeek(DayOfWeek::List(list)) => {
                DayRule::WeekDays(bits(CronField::DayOfWeek, list, 0))
            }
            Days::OfWeek(DayOfWeek::Saturday) => {
                let mut set = Bits::default();
                set.insert(7);
                DayRule::WeekDays(set)
            }
            Days::OfWeek(DayOfWeek::Last(v)) => DayRule::LastOf(v.number.into()),
            Days::OfWeek(DayOfWeek::Nth(v, n)) => DayRule::Nth(v.number.into(), (*n).into()),
        };
        CompiledCron {
            minutes: bits(CronField::Minutes, &cron.minutes, 0),
            hours: bits(CronField::Hours, &cron.hours, 0),
            days,
            months: bits(CronField::Month, &cron.months, 0),
            years: bits(CronField::Year, &cron.years, year_offset),
        }
    }

    /// The matching days of a month as bits 1–31.
    fn day_mask(&self, year: i32, month: u32) -> u64 {
        let len = days_in_month(year, month);
        // Weekday (1 = Sunday … 7 = Saturday) of day `d` of this month.
        let first = weekday(year, month, 1);
        let wd = |d: u32| (first - 1 + d - 1) % 7 + 1;
        let is_weekend = |d: u32| matches!(wd(d), 1 | 7);
        let bit = |d: u32| 1u64 << d;
        match &self.days {
            DayRule::MonthDays(set) => set.0[0] & ((bit(len + 1) - 1) & !1),
            DayRule::LastDay => bit(len),
            DayRule::LastWeekday => match wd(len) {
                7 => bit(len - 1),
                1 => bit(len - 2),
                _ => bit(len),
            },
            DayRule::NearestWeekday(n) => {
                let n = *n;
                // A day the month does not have never fires, as with a plain
                // `31` in a 30-day month.
                if n > len {
                    return 0;
                }
                // The nearest weekday, never leaving the month: the 1st on a
                // Saturday moves forward to Monday the 3rd, the last day on a
                // Sunday back to Friday.
                let d = match wd(n) {
                    7 if n == 1 => 3,
                    7 => n - 1,
                    1 if n == len => n - 2,
                    1 => n + 1,
                    _ => n,
                };
                debug_assert!(!is_weekend(d));
                bit(d)
            }
            DayRule::WeekDays(set) => (1..=len)
                .filter(|d| set.contains(wd(*d)))
                .fold(0, |mask, d| mask | bit(d)),
            DayRule::LastOf(w) => {
                let back = (wd(len) + 7 - w) % 7;
                bit(len - back)
            }
            DayRule::Nth(w, n) => {
                let first_match = 1 + (w + 7 - first) % 7;
                let d = first_match + 7 * (n - 1);
                if d <= len {
                    bit(d)
                } else {
                    0
                }
            }
        }
    }

    /// The first matching wall-clock minute at or after `from`, or `None`
    /// when there is none up to the end of the year field (2199).
    pub(super) fn next_match(&self, from: Cursor) -> Option<DateTime> {
        let Cursor {
            mut year,
            mut month,
            mut day,
            mut hour,
            mut minute,
        } = from;
        if year < FIRST_YEAR {
            (year, month, day, hour, minute) = (FIRST_YEAR, 1, 1, 0, 0);
        }
        // Each `continue` moves the cursor strictly forward to the start of
        // the next candidate unit, so the loop ends; a year is visited at most
        // once per month, which bounds the work for expressions that never
        // fire.
        loop {
            if year > LAST_YEAR {
                return None;
            }
            let year_index = u32::try_from(year - FIRST_YEAR).ok()?;
            let next_year = self.years.next_from(year_index)?;
            if next_year != year_index {
                year = FIRST_YEAR + i32::try_from(next_year).ok()?;
                (month, day, hour, minute) = (1, 1, 0, 0);
                continue;
            }
            let Some(next_month) = self.months.next_from(month).filter(|m| *m <= 12) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0);
                continue;
            };
            if next_month != month {
                (month, day, hour, minute) = (next_month, 1, 0, 0);
            }
            let days = self.day_mask(year, month) & (u64::MAX << day.min(63));
            if days == 0 {
                (month, day, hour, minute) = (month + 1, 1, 0, 0);
                continue;
            }
            let next_day = days.trailing_zeros();
            if next_day != day {
                (day, hour, minute) = (next_day, 0, 0);
            }
            let Some(next_hour) = self.hours.next_from(hour).filter(|h| *h <= 23) else {
                (day, hour, minute) = (day + 1, 0, 0);
                continue;
            };
            if next_hour != hour {
                (hour, minute) = (next_hour, 0);
            }
            let Some(next_minute) = self.minutes.next_from(minute).filter(|m| *m <= 59) else {
                (hour, minute) = (hour + 1, 0);
                continue;
            };
            let n = |v: u32| i8::try_from(v).ok();
            return DateTime::new(
                i16::try_from(year).ok()?,
                n(month)?,
                n(day)?,
                n(hour)?,
                n(next_minute)?,
                0,
                0,
            )
            .ok();
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week, 1 = Sunday … 7 = Saturday (Sakamoto's method).
fn weekday(year: i32, month: u32, day: u32) -> u32 {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    let t = T[usize::try_from(month.clamp(1, 12) - 1).unwrap_or(0)];
    let d = i32::try_from(day).unwrap_or(0);
    let w = (y + y / 4 - y / 100 + y / 400 + t + d).rem_euclid(7);
    u32::try_from(w).unwrap_or(0) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_and_month_length_agree_with_jiff() {
        for year in [1970, 2000, 2024, 2026, 2100, 2199] {
            for month in 1..=12u32 {
                let date = jiff::civil::date(year as i16, month as i8, 1);
                assert_eq!(days_in_month(year, month), date.days_in_month() as u32);
                for day in 1..=days_in_month(year, month) {
                    let date = jiff::civil::date(year as i16, month as i8, day as i8);
                    let expected = date.weekday().to_sunday_one_offset() as u32;
                    assert_eq!(weekday(year, month, day), expected, "{date}");
                }
            }
        }
    }

    #[test]
    fn bits_find_next_member_across_words() {
        let mut b = Bits::default();
        b.insert(3);
        b.insert(200);
        assert_eq!(b.next_from(0), Some(3));
        assert_eq!(b.next_from(3), Some(3));
        assert_eq!(b.next_from(4), Some(200));
        assert_eq!(b.next_from(201), None);
        assert_eq!(b.next_from(10_000), None);
    }
}
