//! Errors for schedule expressions and time zones.
//!
//! Every variant carries the expression it is about plus the pieces a caller
//! (or a UI) may want to show separately: the field, the offending token, the
//! allowed range and a suggested fix. The `Display` text is written for a
//! person who typed the expression and wants to know how to correct it.

use std::fmt;

use super::RateUnit;

/// One of the six fields of an AWS cron expression, in the order they appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CronField {
    /// 0–59.
    Minutes,
    /// 0–23.
    Hours,
    /// 1–31, plus `?`, `L`, `LW` and `nW`.
    DayOfMonth,
    /// 1–12 or JAN–DEC.
    Month,
    /// 1–7 (1 = Sunday) or SUN–SAT, plus `?`, `L`, `nL` and `n#k`.
    DayOfWeek,
    /// 1970–2199.
    Year,
}

impl CronField {
    /// The field's name as used in messages ("day-of-month").
    pub const fn name(self) -> &'static str {
        match self {
            CronField::Minutes => "minutes",
            CronField::Hours => "hours",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
            CronField::Year => "year",
        }
    }

    /// Smallest numeric value the field accepts.
    pub const fn min(self) -> u16 {
        match self {
            CronField::Minutes | CronField::Hours => 0,
            CronField::DayOfMonth | CronField::Month | CronField::DayOfWeek => 1,
            CronField::Year => 1970,
        }
    }

    /// Largest numeric value the field accepts.
    pub const fn max(self) -> u16 {
        match self {
            CronField::Minutes => 59,
            CronField::Hours => 23,
            CronField::DayOfMonth => 31,
            CronField::Month => 12,
            CronField::DayOfWeek => 7,
            CronField::Year => 2199,
        }
    }

    /// Names accepted in place of numbers (index 0 is value 1).
    pub(super) const fn names(self) -> Option<&'static [&'static str]> {
        match self {
            CronField::Month => Some(&MONTH_NAMES),
            CronField::DayOfWeek => Some(&WEEKDAY_NAMES),
            _ => None,
        }
    }

    /// The forms the field accepts, for "expected ..." messages.
    const fn forms(self) -> &'static str {
        match self {
            CronField::Minutes => {
                "a number 0-59, `*`, a range like `10-20`, a step like `*/15`, `5/15` or `0-30/10`, \
                 or a list like `0,30`"
            }
            CronField::Hours => {
                "a number 0-23, `*`, a range like `9-17`, a step like `*/6`, `1/6` or `8-20/4`, \
                 or a list like `0,12`"
            }
            CronField::DayOfMonth => {
                "a number 1-31, `*`, `?`, a range like `1-7`, a step like `*/2` or `1/2`, a list \
                 like `1,15`, `L` (last day), `LW` (last weekday) or `15W` (weekday nearest the 15th)"
            }
            CronField::Month => {
                "a number 1-12 or a name JAN-DEC, `*`, a range like `JAN-MAR`, a step like `*/3`, \
                 or a list like `JAN,JUL`"
            }
            CronField::DayOfWeek => {
                "a number 1-7 (1 = Sunday) or a name SUN-SAT, `*`, `?`, a range like `MON-FRI`, a \
                 list like `MON,WED,FRI`, `L` (Saturday), `6L` (last Friday of the month) or `3#2` \
                 (second Tuesday of the month)"
            }
            CronField::Year => {
                "a year 1970-2199, `*`, a range like `2025-2030`, a step like `*/2` or `2025/2`, \
                 or a list like `2025,2027`"
            }
        }
    }

    /// A step that makes sense for the field, for examples in messages.
    const fn step_example(self) -> &'static str {
        match self {
            CronField::Minutes => "*/15",
            CronField::Hours => "*/6",
            CronField::DayOfMonth | CronField::DayOfWeek | CronField::Year => "*/2",
            CronField::Month => "*/3",
        }
    }

    /// What `*` means in the field, for the misplaced-`?` message.
    const fn every(self) -> &'static str {
        match self {
            CronField::Minutes => "minute",
            CronField::Hours => "hour",
            CronField::DayOfMonth | CronField::DayOfWeek => "day",
            CronField::Month => "month",
            CronField::Year => "year",
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(super) const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Day-of-week names in AWS order: 1 = SUN.
pub(super) const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Why a schedule expression or its time zone was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// Nothing (or only whitespace) was given.
    #[error(
        "schedule expression is empty; expected `cron(...)` or `rate(...)`, \
         e.g. `cron(0 5 ? * * *)` or `rate(12 hours)`"
    )]
    Empty,

    /// Neither `cron(...)` nor `rate(...)`.
    #[error(
        "`{expression}` is not a schedule expression; expected \
         `cron(minutes hours day-of-month month day-of-week year)` or `rate(value unit)`{}",
        did_you_mean(.fix.as_deref())
    )]
    NotAnExpression {
        /// The expression as given (trimmed).
        expression: String,
        /// A corrected expression, when the intent is clear.
        fix: Option<String>,
    },

    /// `cron(...)` without exactly six fields.
    #[error(
        "`{expression}`: expected 6 fields (minutes hours day-of-month month day-of-week year), \
         found {found}{}",
        field_count_hint(*.found, .fix.as_deref())
    )]
    FieldCount {
        /// The expression as given (trimmed).
        expression: String,
        /// How many whitespace-separated fields there were.
        found: usize,
        /// A corrected expression, when the intent is clear.
        fix: Option<String>,
    },

    /// A list such as `1,,2` or `1,` has an empty element.
    #[error(
        "`{expression}`: {field} field: `{text}` has an empty list item; separate values with \
         single commas, e.g. `1,15`"
    )]
    EmptyListItem {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
        /// The whole field's text.
        text: String,
    },

    /// A token that fits none of the field's forms.
    #[error("`{expression}`: {field} field: `{token}` is not valid; expected {}", .field.forms())]
    InvalidToken {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
        /// The offending list item.
        token: String,
    },

    /// A number outside the field's range.
    #[error(
        "`{expression}`: {field} field: {token} is out of range {min}-{max}{}",
        out_of_range_hint(*.field, .token)
    )]
    OutOfRange {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
        /// The number as written.
        token: String,
        /// Smallest allowed value.
        min: u16,
        /// Largest allowed value.
        max: u16,
    },

    /// A month or weekday name that does not exist.
    #[error(
        "`{expression}`: {field} field: unknown name `{token}`; expected {}{}",
        name_forms(*.field),
        did_you_mean(*.suggestion)
    )]
    UnknownName {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field (month or day-of-week).
        field: CronField,
        /// The name as written.
        token: String,
        /// The closest valid name, when one is close.
        suggestion: Option<&'static str>,
    },

    /// A range whose start is after its end, such as `22-2`.
    #[error(
        "`{expression}`: {field} field: range `{start}-{end}` runs backwards; ranges go from low \
         to high, so to wrap around use a list, e.g. `{fix}`"
    )]
    ReversedRange {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
        /// The range start as written.
        start: String,
        /// The range end as written.
        end: String,
        /// The equivalent wrapped list.
        fix: String,
    },

    /// A step (`/n`) that is not a whole number from 1 to the field's span.
    #[error(
        "`{expression}`: {field} field: the step in `{token}` must be a whole number from 1 to \
         {max_step}, e.g. `{}`",
        .field.step_example()
    )]
    InvalidStep {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
        /// The offending list item.
        token: String,
        /// Largest allowed step.
        max_step: u16,
    },

    /// `?` outside the day-of-month and day-of-week fields.
    #[error(
        "`{expression}`: {field} field: `?` is only allowed in the day-of-month and day-of-week \
         fields; use `*` for every {}",
        .field.every()
    )]
    MisplacedQuestionMark {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
    },

    /// `L`, `W`, `#` or `?` combined with other list items.
    #[error(
        "`{expression}`: {field} field: `{token}` must be the whole field, but the field is \
         `{text}`; AWS cron allows `?`, `L`, `W` and `#` only as the one expression in a field"
    )]
    NotAlone {
        /// The expression as given (trimmed).
        expression: String,
        /// Which field.
        field: CronField,
        /// The special item.
        token: String,
        /// The whole field's text.
        text: String,
    },

    /// `n#k` with k outside 1–5.
    #[error(
        "`{expression}`: day-of-week field: occurrence {nth} in `{token}` is out of range 1-5; \
         `day#n` means the n-th such day of the month, e.g. `3#2` is the second Tuesday"
    )]
    NthOutOfRange {
        /// The expression as given (trimmed).
        expression: String,
        /// The `n#k` item.
        token: String,
        /// The occurrence as written.
        nth: String,
    },

    /// Day-of-month and day-of-week both restrict the day.
    #[error(
        "`{expression}`: day-of-month (`{day_of_month}`) and day-of-week (`{day_of_week}`) are \
         both set; use `?` in one of them (AWS cron needs exactly one `?`), e.g. {}",
        or_list(.fixes)
    )]
    BothDaysSet {
        /// The expression as given (trimmed).
        expression: String,
        /// The day-of-month field as written.
        day_of_month: String,
        /// The day-of-week field as written.
        day_of_week: String,
        /// Corrected expressions, one per reading.
        fixes: Vec<String>,
    },

    /// Day-of-month and day-of-week are both `?`.
    #[error(
        "`{expression}`: day-of-month and day-of-week are both `?`; exactly one of them must be \
         `?`, e.g. `{fix}`"
    )]
    BothDaysUnspecified {
        /// The expression as given (trimmed).
        expression: String,
        /// The expression with `*` as day-of-month.
        fix: String,
    },

    /// `rate(...)` without exactly a value and a unit.
    #[error(
        "`{expression}`: expected `rate(value unit)` with a whole number and one of minute(s), \
         hour(s) or day(s), e.g. `rate(12 hours)`"
    )]
    RateShape {
        /// The expression as given (trimmed).
        expression: String,
    },

    /// The rate value is not a whole number of at least 1.
    #[error(
        "`{expression}`: rate value `{token}` must be a whole number from 1 to {}, \
         e.g. `rate(1 hour)`",
        u32::MAX
    )]
    RateValue {
        /// The expression as given (trimmed).
        expression: String,
        /// The value as written.
        token: String,
    },

    /// The rate unit is not minute(s), hour(s) or day(s).
    #[error(
        "`{expression}`: unknown rate unit `{unit}`; expected minute, minutes, hour, hours, \
         day or days{}",
        did_you_mean(.fix.as_deref())
    )]
    UnknownRateUnit {
        /// The expression as given (trimmed).
        expression: String,
        /// The unit as written.
        unit: String,
        /// A corrected expression, when the intent is clear.
        fix: Option<String>,
    },

    /// Singular unit with a value other than 1, or plural unit with 1.
    #[error(
        "`{expression}`: use `{fix}`; the unit is singular when the value is 1 and plural \
         otherwise"
    )]
    RateUnitPlurality {
        /// The expression as given (trimmed).
        expression: String,
        /// The rate value.
        value: u32,
        /// The unit meant.
        unit: RateUnit,
        /// The corrected expression.
        fix: String,
    },

    /// The time zone is not in the IANA database.
    #[error(
        "unknown time zone `{name}`; expected an IANA time zone name such as `Europe/Paris`, \
         `America/New_York` or `UTC`{}",
        did_you_mean(.suggestion.as_deref())
    )]
    UnknownTimeZone {
        /// The name as given.
        name: String,
        /// The closest known name, when one is close.
        suggestion: Option<String>,
    },
}

fn did_you_mean(fix: Option<&str>) -> String {
    fix.map(|fix| format!("; did you mean `{fix}`?"))
        .unwrap_or_default()
}

fn field_count_hint(found: usize, fix: Option<&str>) -> String {
    match (found, fix) {
        (5, Some(fix)) => format!("; AWS cron needs a year field, e.g. `{fix}`"),
        (7, Some(fix)) => format!("; AWS cron has no seconds field, e.g. `{fix}`"),
        _ => "; e.g. `cron(0 5 * * ? *)` runs at 05:00 every day".to_owned(),
    }
}

fn out_of_range_hint(field: CronField, token: &str) -> &'static str {
    let value = token.parse::<u64>().ok();
    match (field, value) {
        (CronField::DayOfWeek, Some(0)) => {
            "; days of the week run from 1 (SUN) to 7 (SAT), so Sunday is 1 or SUN"
        }
        (CronField::Hours, Some(24)) => "; midnight is hour 0",
        (CronField::Minutes, Some(60)) => "; the top of the hour is minute 0",
        _ => "",
    }
}

fn name_forms(field: CronField) -> &'static str {
    match field {
        CronField::Month => "JAN-DEC or 1-12",
        _ => "SUN-SAT or 1-7 (1 = Sunday)",
    }
}

fn or_list(fixes: &[String]) -> String {
    fixes
        .iter()
        .map(|fix| format!("`{fix}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}
