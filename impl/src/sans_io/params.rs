//! The protocol's parameters, checked once, up front.
//!
//! Everything is an integer (milliseconds, parts per million) so that the core's state can
//! derive `Eq + Hash` and the model can explore it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The most lock servers one lock can span (node sets are 32-bit masks).
pub const MAX_NODES: usize = 32;

/// The longest duration any parameter may have: a year, in milliseconds. Far beyond any lock's
/// needs, and far within what Redis accepts as `PX` and what clock arithmetic can add up.
pub const MAX_DURATION_MS: u64 = 365 * 24 * 3600 * 1000;

/// The most retries an acquire may make.
pub const MAX_RETRIES: u32 = 1_000_000;

/// Parameters of the Redlock protocol. Build with [`Params::new`] and adjust the public fields,
/// then call [`Params::validate`] (the async client does this for you).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Params {
    /// How many independent lock servers (N). The quorum is N/2 + 1.
    pub nodes: usize,
    /// Time to live of each key, in milliseconds of the servers' clocks.
    pub ttl_ms: u64,
    /// The drift allowance proportional to the TTL, in parts per million (10_000 is 1%).
    pub drift_factor_ppm: u64,
    /// The fixed part of the drift allowance, in milliseconds (clock granularity, rounding).
    pub drift_fixed_ms: u64,
    /// How long to wait for one node's reply before counting it as failed.
    pub node_timeout_ms: u64,
    /// Attempts after the first one when an attempt fails.
    pub retries: u32,
    /// The delay before a retry is drawn uniformly from `retry_delay_min_ms..=retry_delay_max_ms`
    /// by the driver (randomness is the driver's input, never the core's).
    pub retry_delay_min_ms: u64,
    /// See `retry_delay_min_ms`.
    pub retry_delay_max_ms: u64,
}

impl Params {
    /// Defaults of the reference algorithm: drift 1% of the TTL plus 2 ms, 50 ms per node,
    /// 3 retries after 100 to 300 ms.
    pub fn new(nodes: usize, ttl_ms: u64) -> Params {
        Params {
            nodes,
            ttl_ms,
            drift_factor_ppm: 10_000,
            drift_fixed_ms: 2,
            node_timeout_ms: 50,
            retries: 3,
            retry_delay_min_ms: 100,
            retry_delay_max_ms: 300,
        }
    }

    /// N/2 + 1: any two sets of this size among N nodes intersect.
    pub fn quorum(&self) -> usize {
        self.nodes / 2 + 1
    }

    /// The drift allowance subtracted from every validity: `ceil(ttl x factor) + fixed`.
    ///
    /// With every clock's rate within `1 ± rho` of real time, the allowance must be at least
    /// `2 rho ttl / (1 + rho)`; the default 1% covers rates within about 0.5% (see `proofs/`).
    pub fn drift_ms(&self) -> u64 {
        let proportional = (self.ttl_ms as u128 * self.drift_factor_ppm as u128).div_ceil(1_000_000);
        (proportional as u64).saturating_add(self.drift_fixed_ms)
    }

    /// Checks every parameter and returns them unchanged when they make sense.
    pub fn validate(self) -> Result<Params, ParamsError> {
        if self.nodes == 0 {
            return Err(ParamsError::NoNodes);
        }
        if self.nodes > MAX_NODES {
            return Err(ParamsError::TooManyNodes { nodes: self.nodes });
        }
        if self.ttl_ms == 0 {
            return Err(ParamsError::ZeroTtl);
        }
        for (what, ms) in [
            ("TTL", self.ttl_ms),
            ("fixed drift allowance", self.drift_fixed_ms),
            ("per-node timeout", self.node_timeout_ms),
            ("retry delay", self.retry_delay_max_ms),
        ] {
            if ms > MAX_DURATION_MS {
                return Err(ParamsError::TooLong { what, ms });
            }
        }
        if self.retries > MAX_RETRIES {
            return Err(ParamsError::TooManyRetries { retries: self.retries });
        }
        if self.drift_ms() >= self.ttl_ms {
            return Err(ParamsError::TtlTooSmallForDrift { ttl_ms: self.ttl_ms, drift_ms: self.drift_ms() });
        }
        if self.node_timeout_ms == 0 {
            return Err(ParamsError::ZeroNodeTimeout);
        }
        if self.retry_delay_min_ms > self.retry_delay_max_ms {
            return Err(ParamsError::RetryDelayRange { min_ms: self.retry_delay_min_ms, max_ms: self.retry_delay_max_ms });
        }
        Ok(self)
    }
}

/// Why a set of parameters was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// An empty server list.
    NoNodes,
    /// More servers than a node set can hold.
    TooManyNodes { nodes: usize },
    /// A TTL of zero: the key would expire as it is written.
    ZeroTtl,
    /// The drift allowance eats the whole TTL, so no acquisition could ever be valid.
    TtlTooSmallForDrift { ttl_ms: u64, drift_ms: u64 },
    /// A per-node timeout of zero: no reply could ever count.
    ZeroNodeTimeout,
    /// The retry delay's lower bound is above its upper bound.
    RetryDelayRange { min_ms: u64, max_ms: u64 },
    /// A duration beyond [`MAX_DURATION_MS`] (a year).
    TooLong { what: &'static str, ms: u64 },
    /// More retries than [`MAX_RETRIES`].
    TooManyRetries { retries: u32 },
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamsError::NoNodes => write!(f, "the server list is empty: a lock needs at least one server"),
            ParamsError::TooManyNodes { nodes } => {
                write!(f, "{nodes} servers given; a lock spans at most {MAX_NODES}")
            }
            ParamsError::ZeroTtl => write!(f, "the TTL is 0 ms: a key would expire as it is written"),
            ParamsError::TtlTooSmallForDrift { ttl_ms, drift_ms } => write!(
                f,
                "the TTL ({ttl_ms} ms) is not larger than the drift allowance ({drift_ms} ms), \
                 so no acquisition could ever be valid"
            ),
            ParamsError::ZeroNodeTimeout => {
                write!(f, "the per-node timeout is 0 ms: no reply could ever count")
            }
            ParamsError::RetryDelayRange { min_ms, max_ms } => {
                write!(f, "the retry delay range {min_ms}..={max_ms} ms is empty (minimum above maximum)")
            }
            ParamsError::TooLong { what, ms } => {
                write!(f, "the {what} of {ms} ms is longer than a year ({MAX_DURATION_MS} ms), the most this client accepts")
            }
            ParamsError::TooManyRetries { retries } => {
                write!(f, "{retries} retries is more than the {MAX_RETRIES} this client allows")
            }
        }
    }
}

impl std::error::Error for ParamsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_strict_majority() {
        let q = |n| Params::new(n, 1000).quorum();
        assert_eq!([q(1), q(2), q(3), q(4), q(5), q(7)], [1, 2, 2, 3, 3, 4]);
    }

    #[test]
    fn default_drift_is_one_percent_plus_two_ms_rounded_up() {
        assert_eq!(Params::new(5, 10_000).drift_ms(), 102);
        assert_eq!(Params::new(5, 150).drift_ms(), 4); // 1.5 rounds up to 2
    }

    #[test]
    fn every_impossible_parameter_is_refused() {
        let ok = Params::new(3, 1000);
        assert!(ok.clone().validate().is_ok());
        let refused = |p: Params| p.validate().unwrap_err();
        assert_eq!(refused(Params { nodes: 0, ..ok.clone() }), ParamsError::NoNodes);
        assert_eq!(refused(Params { nodes: 33, ..ok.clone() }), ParamsError::TooManyNodes { nodes: 33 });
        assert_eq!(refused(Params { ttl_ms: 0, ..ok.clone() }), ParamsError::ZeroTtl);
        assert_eq!(refused(Params { ttl_ms: 2, ..ok.clone() }), ParamsError::TtlTooSmallForDrift { ttl_ms: 2, drift_ms: 3 });
        assert_eq!(refused(Params { node_timeout_ms: 0, ..ok.clone() }), ParamsError::ZeroNodeTimeout);
        assert_eq!(
            refused(Params { retry_delay_min_ms: 5, retry_delay_max_ms: 4, ..ok.clone() }),
            ParamsError::RetryDelayRange { min_ms: 5, max_ms: 4 }
        );
        assert_eq!(refused(Params { ttl_ms: u64::MAX, ..ok.clone() }), ParamsError::TooLong { what: "TTL", ms: u64::MAX });
        assert_eq!(
            refused(Params { node_timeout_ms: MAX_DURATION_MS + 1, ..ok.clone() }),
            ParamsError::TooLong { what: "per-node timeout", ms: MAX_DURATION_MS + 1 }
        );
        assert_eq!(refused(Params { retries: u32::MAX, ..ok }), ParamsError::TooManyRetries { retries: u32::MAX });
    }

    #[test]
    fn errors_read_as_sentences() {
        let text = ParamsError::TtlTooSmallForDrift { ttl_ms: 2, drift_ms: 3 }.to_string();
        assert!(text.contains("2 ms") && text.contains("3 ms"), "{text}");
    }
}
