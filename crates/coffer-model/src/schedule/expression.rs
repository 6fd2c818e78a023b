//! The text form of schedule expressions: parsing, the syntax tree and the
//! canonical `Display`.
//!
//! The tree keeps what the user wrote at the level that matters for reading it
//! back (names stay names, lists keep their order) and drops what does not
//! (spacing, leading zeros, letter case), so `Display` gives a canonical text
//! and two expressions are equal when their canonical texts are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{CronField, ScheduleError};

/// Unit of a `rate()` expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateUnit {
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds: a rate counts elapsed time, so a day is always 24 hours.
    Day,
}

impl RateUnit {
    /// Length of one unit in seconds.
    pub const fn seconds(self) -> u32 {
        match self {
            RateUnit::Minute => 60,
            RateUnit::Hour => 3_600,
            RateUnit::Day => 86_400,
        }
    }

    /// The unit's word as EventBridge wants it: singular for 1, plural otherwise.
    const fn word(self, value: u32) -> &'static str {
        match (self, value == 1) {
            (RateUnit::Minute, true) => "minute",
            (RateUnit::Minute, false) => "minutes",
            (RateUnit::Hour, true) => "hour",
            (RateUnit::Hour, false) => "hours",
            (RateUnit::Day, true) => "day",
            (RateUnit::Day, false) => "days",
        }
    }
}

/// A parsed AWS Backup schedule expression: `cron(...)` or `rate(...)`.
///
/// Parse with [`str::parse`]; `Display` gives the canonical text back, and
/// serde uses that text.
///
/// ```
/// use coffer_model::ScheduleExpression;
/// let e: ScheduleExpression = " cron(30  1 * * ? *) ".parse().unwrap();
/// assert_eq!(e.to_string(), "cron(30 1 * * ? *)");
/// let err = "cron(0 25 * * ? *)".parse::<ScheduleExpression>().unwrap_err();
/// assert!(err.to_string().contains("hours field: 25 is out of range 0-23"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScheduleExpression {
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    Cron(Cron),
    Rate { value: u32, unit: RateUnit },
}

/// A parsed `cron(...)`; exactly one of day-of-month and day-of-week is `?`,
/// so `days` holds only the other one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Cron {
    pub(super) minutes: List,
    pub(super) hours: List,
    pub(super) days: Days,
    pub(super) months: List,
    pub(super) years: List,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Days {
    /// Day-of-week is `?`.
    OfMonth(DayOfMonth),
    /// Day-of-month is `?`.
    OfWeek(DayOfWeek),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum DayOfMonth {
    List(List),
    /// `L`.
    Last,
    /// `LW`.
    LastWeekday,
    /// `15W`.
    NearestWeekday(Value),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum DayOfWeek {
    List(List),
    /// Plain `L`: Saturday, the last day of the week.
    Saturday,
    /// `6L`: the last such weekday of the month.
    Last(Value),
    /// `3#2`: the n-th such weekday of the month.
    Nth(Value, u8),
}

pub(super) type List = Vec<Item>;

/// One comma-separated element: `*`, `a` or `a-b`, optionally `/step`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Item {
    pub(super) base: Base,
    pub(super) step: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Base {
    All,
    Single(Value),
    Range(Value, Value),
}

/// A field value; `named` remembers `MON` versus `2` so `Display` can give
/// back what the user wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Value {
    pub(super) number: u16,
    pub(super) named: bool,
}

impl ScheduleExpression {
    /// A `rate(value unit)` expression.
    ///
    /// # Errors
    /// [`ScheduleError::RateValue`] when `value` is 0.
    pub fn rate(value: u32, unit: RateUnit) -> Result<Self, ScheduleError> {
        if value == 0 {
            return Err(ScheduleError::RateValue {
                expression: format!("rate(0 {})", unit.word(0)),
                token: "0".to_owned(),
            });
        }
        Ok(ScheduleExpression {
            kind: Kind::Rate { value, unit },
        })
    }

    /// True for `cron(...)`, false for `rate(...)`.
    pub fn is_cron(&self) -> bool {
        matches!(self.kind, Kind::Cron(_))
    }

    /// The value and unit of a `rate(...)`; `None` for cron.
    pub fn as_rate(&self) -> Option<(u32, RateUnit)> {
        match self.kind {
            Kind::Rate { value, unit } => Some((value, unit)),
            Kind::Cron(_) => None,
        }
    }

    pub(super) fn kind(&self) -> &Kind {
        &self.kind
    }
}

impl FromStr for ScheduleExpression {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, ScheduleError> {
        // Surrounding whitespace is trimmed: it is invisible in config files
        // and never meaningful.
        let expression = s.trim();
        if expression.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let kind = if let Some(inner) = call_body(expression, "cron") {
            Kind::Cron(parse_cron(expression, inner)?)
        } else if let Some(inner) = call_body(expression, "rate") {
            parse_rate(expression, inner)?
        } else {
            return Err(ScheduleError::NotAnExpression {
                expression: expression.to_owned(),
                fix: suggest_form(expression),
            });
        };
        Ok(ScheduleExpression { kind })
    }
}

/// The text between `keyword(` and the final `)`, if that is the shape.
fn call_body<'a>(expression: &'a str, keyword: &str) -> Option<&'a str> {
    let body = expression
        .strip_prefix(keyword)?
        .strip_prefix('(')?
        .strip_suffix(')')?;
    (!body.contains(['(', ')'])).then_some(body)
}

/// A corrected expression for near misses such as `CRON(...)`, `cron 0 5 ...`,
/// a missing `)` or bare fields.
fn suggest_form(expression: &str) -> Option<String> {
    let lower = expression.to_ascii_lowercase();
    for keyword in ["cron", "rate"] {
        if lower.starts_with(keyword) {
            let rest = expression.get(keyword.len()..)?.trim_start();
            let rest = rest.strip_prefix('(').unwrap_or(rest);
            let body = rest.strip_suffix(')').unwrap_or(rest).trim();
            if body.is_empty() || body.contains(['(', ')']) {
                return None;
            }
            return Some(format!("{keyword}({body})"));
        }
    }
    let words: Vec<&str> = expression.split_whitespace().collect();
    let looks_numeric = |w: &&str| w.starts_with(|c: char| c.is_ascii_digit() || c == '*');
    match words.len() {
        2 if words[0].bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("rate({} {})", words[0], words[1]))
        }
        5 | 6 if words.first().is_some_and(looks_numeric) => Some(cron_fix_for_count(&words)),
        _ => None,
    }
}

/// Turns 5 fields (Unix cron) or 6 into a plausible AWS cron expression: add
/// the year and put `?` where Unix cron would have meant "any day".
fn cron_fix_for_count(fields: &[&str]) -> String {
    let mut fields: Vec<&str> = fields.to_vec();
    if fields.len() == 5 {
        fields.push("*");
    }
    if fields.len() == 6 && fields[2] != "?" && fields[4] != "?" {
        if fields[4] == "*" || fields[2] != "*" {
            fields[4] = "?";
        } else {
            fields[2] = "?";
        }
    }
    format!("cron({})", fields.join(" "))
}

fn parse_cron(expression: &str, inner: &str) -> Result<Cron, ScheduleError> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let &[minutes, hours, day_of_month, months, day_of_week, years] = fields.as_slice() else {
        let fix = match fields.len() {
            5 => Some(cron_fix_for_count(&fields)),
            7 => Some(format!("cron({})", fields[1..].join(" "))),
            _ => None,
        }
        // Only a fix that itself parses is worth suggesting.
        .filter(|fix| fix.parse::<ScheduleExpression>().is_ok());
        return Err(ScheduleError::FieldCount {
            expression: expression.to_owned(),
            found: fields.len(),
            fix,
        });
    };
    let p = Parser { expression };
    let minutes = p.list(CronField::Minutes, minutes)?;
    let hours = p.list(CronField::Hours, hours)?;
    let dom = p.day_of_month(day_of_month)?;
    let months = p.list(CronField::Month, months)?;
    let dow = p.day_of_week(day_of_week)?;
    let years = p.list(CronField::Year, years)?;
    let days = match (dom, dow) {
        (Some(dom), None) => Days::OfMonth(dom),
        (None, Some(dow)) => Days::OfWeek(dow),
        (Some(_), Some(_)) => {
            let with = |dom: &str, dow: &str| {
                let mut f = fields.clone();
                f[2] = dom;
                f[4] = dow;
                format!("cron({})", f.join(" "))
            };
            // Keep the field that says something; when both do, offer both
            // readings since we cannot know which one was meant.
            let fixes = match (day_of_month == "*", day_of_week == "*") {
                (true, _) => vec![with("?", day_of_week)],
                (false, true) => vec![with(day_of_month, "?")],
                (false, false) => vec![with("?", day_of_week), with(day_of_month, "?")],
            };
            return Err(ScheduleError::BothDaysSet {
                expression: expression.to_owned(),
                day_of_month: day_of_month.to_owned(),
                day_of_week: day_of_week.to_owned(),
                fixes,
            });
        }
        (None, None) => {
            let mut f = fields.clone();
            f[2] = "*";
            return Err(ScheduleError::BothDaysUnspecified {
                expression: expression.to_owned(),
                fix: format!("cron({})", f.join(" ")),
            });
        }
    };
    Ok(Cron {
        minutes,
        hours,
        days,
        months,
        years,
    })
}

/// Field parsers; carries the expression so every error can name it.
struct Parser<'a> {
    expression: &'a str,
}

impl Parser<'_> {
    fn list(&self, field: CronField, text: &str) -> Result<List, ScheduleError> {
        text.split(',')
            .map(|part| {
                if part.is_empty() {
                    Err(ScheduleError::EmptyListItem {
                        expression: self.expression.to_owned(),
                        field,
                        text: text.to_owned(),
                    })
                } else if part == "?" {
                    Err(match field {
                        CronField::DayOfMonth | CronField::DayOfWeek => {
                            self.not_alone(field, part, text)
                        }
                        _ => ScheduleError::MisplacedQuestionMark {
                            expression: self.expression.to_owned(),
                            field,
                        },
                    })
                } else {
                    self.item(field, part)
                }
            })
            .collect()
    }

    fn item(&self, field: CronField, part: &str) -> Result<Item, ScheduleError> {
        let (base_text, step) = match part.split_once('/') {
            Some((base, step)) => (base, Some(self.step(field, part, step)?)),
            None => (part, None),
        };
        let base = if base_text == "*" {
            Base::All
        } else if let Some((start, end)) = base_text.split_once('-') {
            let a = self.value(field, start, part)?;
            let b = self.value(field, end, part)?;
            if a.number > b.number {
                return Err(ScheduleError::ReversedRange {
                    expression: self.expression.to_owned(),
                    field,
                    start: start.to_owned(),
                    end: end.to_owned(),
                    fix: wrapped_fix(field, a, b),
                });
            }
            Base::Range(a, b)
        } else {
            Base::Single(self.value(field, base_text, part)?)
        };
        Ok(Item { base, step })
    }

    fn step(&self, field: CronField, part: &str, step: &str) -> Result<u16, ScheduleError> {
        // A step larger than the field's span would select only the start,
        // which is almost certainly a mistake.
        let max_step = field.max() - field.min() + 1;
        match step.parse::<u16>() {
            Ok(n) if (1..=max_step).contains(&n) && step.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(n)
            }
            _ => Err(ScheduleError::InvalidStep {
                expression: self.expression.to_owned(),
                field,
                token: part.to_owned(),
                max_step,
            }),
        }
    }

    /// One number or name. `part` is the enclosing list item, named in
    /// errors when the token alone would be confusing (e.g. the empty start
    /// of `-5`).
    fn value(&self, field: CronField, token: &str, part: &str) -> Result<Value, ScheduleError> {
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            return match token.parse::<u16>() {
                Ok(n) if (field.min()..=field.max()).contains(&n) => Ok(Value {
                    number: n,
                    named: false,
                }),
                _ => Err(ScheduleError::OutOfRange {
                    expression: self.expression.to_owned(),
                    field,
                    token: token.to_owned(),
                    min: field.min(),
                    max: field.max(),
                }),
            };
        }
        if let Some(names) = field.names() {
            if !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphabetic()) {
                let upper = token.to_ascii_uppercase();
                return match names.iter().position(|n| *n == upper) {
                    Some(i) => Ok(Value {
                        // At most 12 names, so the index fits.
                        number: u16::try_from(i + 1).unwrap_or(u16::MAX),
                        named: true,
                    }),
                    None => Err(ScheduleError::UnknownName {
                        expression: self.expression.to_owned(),
                        field,
                        token: token.to_owned(),
                        suggestion: closest_name(&upper, names),
                    }),
                };
            }
        }
        Err(ScheduleError::InvalidToken {
            expression: self.expression.to_owned(),
            field,
            token: part.to_owned(),
        })
    }

    /// `None` for `?`.
    fn day_of_month(&self, text: &str) -> Result<Option<DayOfMonth>, ScheduleError> {
        const FIELD: CronField = CronField::DayOfMonth;
        if text == "?" {
            return Ok(None);
        }
        let special = |p: &str| p.contains(['L', 'l', 'W', 'w']);
        if text.contains(',') {
            if let Some(part) = text.split(',').find(|p| special(p)) {
                return Err(self.not_alone(FIELD, part, text));
            }
            return self.list(FIELD, text).map(|l| Some(DayOfMonth::List(l)));
        }
        let upper = text.to_ascii_uppercase();
        let spec = if upper == "L" {
            DayOfMonth::Last
        } else if upper == "LW" {
            DayOfMonth::LastWeekday
        } else if let Some(day) = upper.strip_suffix('W').filter(|d| !d.contains('/')) {
            DayOfMonth::NearestWeekday(self.value(FIELD, day, text)?)
        } else if special(text) {
            return Err(self.invalid(FIELD, text));
        } else {
            DayOfMonth::List(self.list(FIELD, text)?)
        };
        Ok(Some(spec))
    }

    /// `None` for `?`.
    fn day_of_week(&self, text: &str) -> Result<Option<DayOfWeek>, ScheduleError> {
        const FIELD: CronField = CronField::DayOfWeek;
        if text == "?" {
            return Ok(None);
        }
        // No weekday name ends in L, so a trailing L is always the "last" form.
        let special = |p: &str| p.contains('#') || p.ends_with(['L', 'l']);
        if text.contains(',') {
            if let Some(part) = text.split(',').find(|p| special(p)) {
                return Err(self.not_alone(FIELD, part, text));
            }
            return self.list(FIELD, text).map(|l| Some(DayOfWeek::List(l)));
        }
        let spec = if text.eq_ignore_ascii_case("L") {
            DayOfWeek::Saturday
        } else if let Some(day) = text.strip_suffix(['L', 'l']) {
            DayOfWeek::Last(self.value(FIELD, day, text)?)
        } else if let Some((day, nth)) = text.split_once('#') {
            let day = self.value(FIELD, day, text)?;
            if nth.is_empty() || !nth.bytes().all(|b| b.is_ascii_digit()) {
                return Err(self.invalid(FIELD, text));
            }
            match nth.parse::<u8>() {
                Ok(n @ 1..=5) => DayOfWeek::Nth(day, n),
                _ => {
                    return Err(ScheduleError::NthOutOfRange {
                        expression: self.expression.to_owned(),
                        token: text.to_owned(),
                        nth: nth.to_owned(),
                    })
                }
            }
        } else {
            DayOfWeek::List(self.list(FIELD, text)?)
        };
        Ok(Some(spec))
    }

    fn not_alone(&self, field: CronField, part: &str, text: &str) -> ScheduleError {
        ScheduleError::NotAlone {
            expression: self.expression.to_owned(),
            field,
            token: part.to_owned(),
            text: text.to_owned(),
        }
    }

    fn invalid(&self, field: CronField, token: &str) -> ScheduleError {
        ScheduleError::InvalidToken {
            expression: self.expression.to_owned(),
            field,
            token: token.to_owned(),
        }
    }
}

/// `22-2` in hours becomes `22-23,0-2`.
fn wrapped_fix(field: CronField, start: Value, end: Value) -> String {
    let bound = |number| Value {
        number,
        named: start.named && end.named,
    };
    // `DEC-FEB` becomes `DEC,JAN-FEB` rather than `DEC-DEC,JAN-FEB`.
    let part = |a: Value, b: Value| Item {
        base: if a.number == b.number {
            Base::Single(a)
        } else {
            Base::Range(a, b)
        },
        step: None,
    };
    let first = part(start, bound(field.max()));
    let second = part(bound(field.min()), end);
    ListDisplay {
        field,
        list: &[first, second],
    }
    .to_string()
}

/// The name the user most likely meant: a prefix (`THURSDAY` → `THU`) or one
/// edit away (`THUR` → `THU`, `TEU` → `TUE`).
fn closest_name(upper: &str, names: &'static [&'static str]) -> Option<&'static str> {
    if let Some(name) = names.iter().find(|n| upper.starts_with(**n)) {
        return Some(name);
    }
    names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(upper, n), *n))
        .filter(|(distance, _)| *distance <= 1)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, n)| n)
}

fn parse_rate(expression: &str, inner: &str) -> Result<Kind, ScheduleError> {
    let words: Vec<&str> = inner.split_whitespace().collect();
    let &[value_text, unit_text] = words.as_slice() else {
        return Err(ScheduleError::RateShape {
            expression: expression.to_owned(),
        });
    };
    let value = match value_text.parse::<u32>() {
        Ok(v) if v >= 1 && value_text.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => {
            return Err(ScheduleError::RateValue {
                expression: expression.to_owned(),
                token: value_text.to_owned(),
            })
        }
    };
    let (unit, plural) = match unit_text {
        "minute" => (RateUnit::Minute, false),
        "minutes" => (RateUnit::Minute, true),
        "hour" => (RateUnit::Hour, false),
        "hours" => (RateUnit::Hour, true),
        "day" => (RateUnit::Day, false),
        "days" => (RateUnit::Day, true),
        _ => {
            return Err(ScheduleError::UnknownRateUnit {
                expression: expression.to_owned(),
                unit: unit_text.to_owned(),
                fix: rate_unit_fix(value, unit_text),
            })
        }
    };
    if plural != (value != 1) {
        return Err(ScheduleError::RateUnitPlurality {
            expression: expression.to_owned(),
            value,
            unit,
            fix: format!("rate({value} {})", unit.word(value)),
        });
    }
    Ok(Kind::Rate { value, unit })
}

/// `rate(5 mins)` → `rate(5 minutes)`, `rate(2 weeks)` → `rate(14 days)`.
fn rate_unit_fix(value: u32, unit: &str) -> Option<String> {
    let lower = unit.to_ascii_lowercase();
    let (value, unit) = match lower.as_str() {
        "m" | "min" | "mins" | "minute" | "minutes" => (value, RateUnit::Minute),
        "h" | "hr" | "hrs" | "hour" | "hours" => (value, RateUnit::Hour),
        "d" | "day" | "days" => (value, RateUnit::Day),
        "week" | "weeks" => (value.checked_mul(7)?, RateUnit::Day),
        _ => {
            let (_, unit) = [
                ("minute", RateUnit::Minute),
                ("minutes", RateUnit::Minute),
                ("hour", RateUnit::Hour),
                ("hours", RateUnit::Hour),
                ("day", RateUnit::Day),
                ("days", RateUnit::Day),
            ]
            .into_iter()
            .find(|(word, _)| strsim::damerau_levenshtein(&lower, word) <= 1)?;
            (value, unit)
        }
    };
    Some(format!("rate({value} {})", unit.word(value)))
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Rate { value, unit } => write!(f, "rate({value} {})", unit.word(*value)),
            Kind::Cron(cron) => {
                let list = |field, list: &'_ List| ListDisplay { field, list }.to_string();
                let (dom, dow) = match &cron.days {
                    Days::OfMonth(dom) => (dom.to_string(), "?".to_owned()),
                    Days::OfWeek(dow) => ("?".to_owned(), dow.to_string()),
                };
                write!(
                    f,
                    "cron({} {} {dom} {} {dow} {})",
                    list(CronField::Minutes, &cron.minutes),
                    list(CronField::Hours, &cron.hours),
                    list(CronField::Month, &cron.months),
                    list(CronField::Year, &cron.years),
                )
            }
        }
    }
}

impl fmt::Display for DayOfMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FIELD: CronField = CronField::DayOfMonth;
        match self {
            DayOfMonth::List(list) => ListDisplay { field: FIELD, list }.fmt(f),
            DayOfMonth::Last => f.write_str("L"),
            DayOfMonth::LastWeekday => f.write_str("LW"),
            DayOfMonth::NearestWeekday(day) => write!(f, "{}W", ValueDisplay(FIELD, *day)),
        }
    }
}

impl fmt::Display for DayOfWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FIELD: CronField = CronField::DayOfWeek;
        match self {
            DayOfWeek::List(list) => ListDisplay { field: FIELD, list }.fmt(f),
            DayOfWeek::Saturday => f.write_str("L"),
            DayOfWeek::Last(day) => write!(f, "{}L", ValueDisplay(FIELD, *day)),
            DayOfWeek::Nth(day, n) => write!(f, "{}#{n}", ValueDisplay(FIELD, *day)),
        }
    }
}

struct ListDisplay<'a> {
    field: CronField,
    list: &'a [Item],
}

impl fmt::Display for ListDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match item.base {
                Base::All => f.write_str("*")?,
                Base::Single(v) => ValueDisplay(self.field, v).fmt(f)?,
                Base::Range(a, b) => {
                    write!(
                        f,
                        "{}-{}",
                        ValueDisplay(self.field, a),
                        ValueDisplay(self.field, b)
                    )?;
                }
            }
            if let Some(step) = item.step {
                write!(f, "/{step}")?;
            }
        }
        Ok(())
    }
}

struct ValueDisplay(CronField, Value);

impl fmt::Display for ValueDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ValueDisplay(field, value) = *self;
        let name = field
            .names()
            .filter(|_| value.named)
            .and_then(|names| names.get(usize::from(value.number).checked_sub(1)?));
        match name {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", value.number),
        }
    }
}

impl Serialize for ScheduleExpression {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScheduleExpression {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
