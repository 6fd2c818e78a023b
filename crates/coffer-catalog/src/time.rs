//! Timestamps in the catalog: UTC RFC 3339 text with exactly three
//! fractional digits, so text order is time order on every backend.

use crate::error::{Error, Result};

pub(crate) fn format_ts(ts: jiff::Timestamp) -> String {
    jiff::fmt::temporal::DateTimePrinter::new()
        .precision(Some(3))
        .timestamp_to_string(&ts)
}

pub(crate) fn parse_ts(value: &str, what: &str) -> Result<jiff::Timestamp> {
    value.parse().map_err(|_| Error::BadTimestamp {
        what: what.to_string(),
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let ts: jiff::Timestamp = "2026-03-29T01:00:00Z".parse().unwrap();
        assert_eq!(format_ts(ts), "2026-03-29T01:00:00.000Z");
        assert_eq!(parse_ts(&format_ts(ts), "t").unwrap(), ts);
        let later: jiff::Timestamp = "2026-03-29T01:00:00.5Z".parse().unwrap();
        assert!(format_ts(ts) < format_ts(later));
    }
}
