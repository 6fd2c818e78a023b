//! Time, injectable.

use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;

/// Where the engine reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    /// Moves the clock to `at` (never backwards: a later call with an
    /// earlier time leaves it where it is).
    pub fn set(&self, at: Timestamp) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if at > *now {
            *now = at;
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Ok(later) = now.checked_add(by) {
            if later > *now {
                *now = later;
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_forward_only() {
        let start: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap_or_default();
        let clock = ManualClock::new(start);
        clock.advance(jiff::SignedDuration::from_hours(25));
        assert_eq!(clock.now().to_string(), "2026-11-02T01:00:00Z");
        clock.set(start);
        assert_eq!(clock.now().to_string(), "2026-11-02T01:00:00Z");
        assert!(SystemClock.now() > start);
    }
}
