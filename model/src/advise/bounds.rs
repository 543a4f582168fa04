//! The proofs' bounds in a deployment's integers (milliseconds, ppm), computed exactly:
//! theorem 1's drift allowance (`proofs/src/timing.rs`) and theorem 2's restart delay
//! (`proofs/src/restart.rs`). `proofs/tests/advise.rs` checks them against z3.

/// Parts per million in one.
const MILLION: u128 = 1_000_000;

/// Theorem 1's bound: an allowance of `drift_ms` covers clocks within `ppm` of real time for a
/// TTL of `ttl_ms` iff `drift (1 + ρ) ≥ 2 ρ ttl`, computed exactly.
pub fn allowance_covers(drift_ms: u64, ttl_ms: u64, ppm: u64) -> bool {
    u128::from(drift_ms) * (MILLION + u128::from(ppm)) >= 2 * u128::from(ppm) * u128::from(ttl_ms)
}

/// The smallest whole-millisecond allowance that covers `ppm` for a TTL: `⌈2 ρ ttl / (1 + ρ)⌉`.
pub fn smallest_allowance_ms(ttl_ms: u64, ppm: u64) -> u64 {
    let needed = (2 * u128::from(ppm) * u128::from(ttl_ms)).div_ceil(MILLION + u128::from(ppm));
    u64::try_from(needed).unwrap_or(u64::MAX)
}

/// The largest clock error an allowance covers for a TTL, in whole ppm: `⌊drift / (2 ttl − drift)⌋`.
pub fn largest_covered_ppm(drift_ms: u64, ttl_ms: u64) -> u64 {
    let ppm = u128::from(drift_ms) * MILLION / (2 * u128::from(ttl_ms) - u128::from(drift_ms));
    u64::try_from(ppm).unwrap_or(u64::MAX)
}

/// Theorem 2's bound: a server that restarts empty keeps mutual exclusion iff it refuses every
/// request for `wait ≥ (ttl − drift)(1 + ρ) / (1 − ρ)` of its clock; with an allowance that
/// meets theorem 1's bound, `wait ≥ ttl` is enough.
pub fn smallest_restart_delay_ms(ttl_ms: u64, drift_ms: u64, ppm: u64) -> u64 {
    let exact = u128::from(ttl_ms - drift_ms) * (MILLION + u128::from(ppm));
    u64::try_from(exact.div_ceil(MILLION - u128::from(ppm))).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::Deployment;

    #[test]
    fn the_default_allowance_covers_half_a_percent() {
        // The proofs' table: 302 ms on 30 s covers 302/59698 ≈ 5058 ppm.
        assert_eq!(Deployment::default_drift_allowance_ms(30_000), 302);
        assert_eq!(largest_covered_ppm(302, 30_000), 5058);
        assert!(allowance_covers(302, 30_000, 5058));
        assert!(!allowance_covers(302, 30_000, 5059));
        assert_eq!(smallest_allowance_ms(30_000, 5059), 302 + 1);
        // With a clock error within the bound, waiting a TTL after a restart is enough.
        assert!(smallest_restart_delay_ms(30_000, 302, 5000) <= 30_000);
    }
}
