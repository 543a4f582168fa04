//! The client's two clocks: its own monotonic clock in milliseconds, which the protocol core
//! reads as [`LocalMillis`], and the machine's `CLOCK_MONOTONIC` in nanoseconds, which stamps
//! the history records as [`RealNanos`].
//!
//! `CLOCK_MONOTONIC` is one clock for every process on a machine, so the histories that several
//! processes record on one host can be merged and read as one real time.

use crate::time::{LocalMillis, RealNanos};
use std::time::{Duration, Instant};

/// The client's own clock: milliseconds since the client was built, never going backwards.
///
/// Readings are rounded down. The core measures elapsed time from a reading taken before the
/// first request, so rounding the start down only ends the validity earlier.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalClock {
    origin: Instant,
}

impl LocalClock {
    pub(crate) fn new() -> LocalClock {
        LocalClock { origin: Instant::now() }
    }

    pub(crate) fn now(&self) -> LocalMillis {
        LocalMillis(self.origin.elapsed().as_millis().try_into().unwrap_or(u64::MAX))
    }

    /// The instant at which this clock reads `at` (readings beyond a century saturate there:
    /// no parameter reaches that far).
    pub(crate) fn instant(&self, at: LocalMillis) -> Instant {
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
        self.origin.checked_add(Duration::from_millis(at.0).min(CENTURY)).unwrap_or(self.origin + CENTURY)
    }
}

/// The machine's monotonic clock, shared by all its processes.
pub fn monotonic_now() -> RealNanos {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on every Unix this
    // crate builds for, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    RealNanos((ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_clock_maps_readings_back_to_instants() {
        let clock = LocalClock::new();
        let now = clock.now();
        assert!(clock.instant(now) <= Instant::now());
        assert_eq!(clock.instant(now.plus(5)) - clock.instant(now), Duration::from_millis(5));
    }

    #[test]
    fn the_monotonic_clock_never_goes_back() {
        let a = monotonic_now();
        std::thread::sleep(Duration::from_millis(1));
        assert!(monotonic_now().0 >= a.0 + 1_000_000);
    }
}
