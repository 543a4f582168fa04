//! The two kinds of time, kept apart by their types (see the crate docs).
//!
//! A [`LocalMillis`] is a reading of one node's own clock: the only time a client or a lock
//! server can see. A [`RealNanos`] is real time as an outside observer sees it: the instant at
//! which something happened. The protocol core only ever sees local time; the judge only ever
//! reasons in real time. The single place where one is turned into the other is the code that
//! models the relation between them (the model's drift window, the history reader's one-clock
//! assumption).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A reading of one node's own clock, in milliseconds from an arbitrary origin.
///
/// Only differences between two readings of the *same* clock mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalMillis(pub u64);

impl LocalMillis {
    /// The reading `ms` milliseconds after this one.
    pub fn plus(self, ms: u64) -> LocalMillis {
        LocalMillis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to this reading, or 0 if the clock went backwards.
    pub fn since(self, earlier: LocalMillis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for LocalMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Real time in nanoseconds from an arbitrary origin, as one observer's monotonic clock reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RealNanos(pub u64);

impl RealNanos {
    /// The instant `ms` milliseconds later.
    pub fn plus_millis(self, ms: u64) -> RealNanos {
        RealNanos(self.0.saturating_add(ms.saturating_mul(1_000_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_differences_saturate_when_the_clock_goes_back() {
        assert_eq!(LocalMillis(10).since(LocalMillis(4)), 6);
        assert_eq!(LocalMillis(4).since(LocalMillis(10)), 0);
        assert_eq!(LocalMillis(u64::MAX).plus(1), LocalMillis(u64::MAX));
    }

    #[test]
    fn real_time_converts_milliseconds() {
        assert_eq!(RealNanos(5).plus_millis(2), RealNanos(2_000_005));
    }
}
