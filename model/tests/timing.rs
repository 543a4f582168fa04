//! What bounded clocks buy, and what breaks without them: the drift allowance must cover the
//! servers' clock skew (theorem 1 of proofs/README.md on the model's ticks).

use redlock_client::judge::Invariant;
use redlock_model::check::{check, SearchOptions, Verdict};
use redlock_model::scenario::find;
use redlock_model::setup::{Setup, Timing};

fn mutual_exclusion(skew: u8, drift: u8, ttl: u8) -> Verdict {
    let scenario = find("redlock-n3").unwrap();
    let mut setup: Setup = scenario.setup(Timing::Sync);
    setup.bounds.skew = Some(skew);
    setup.drift = drift;
    setup.ttl = ttl;
    setup.validate().unwrap();
    let cell = check(scenario, setup, SearchOptions::default());
    cell.invariants.iter().find(|r| r.invariant == Invariant::MutualExclusion).unwrap().verdict
}

#[test]
fn an_allowance_equal_to_the_skew_is_enough() {
    assert_eq!(mutual_exclusion(1, 1, 4), Verdict::Holds);
    assert_eq!(mutual_exclusion(2, 2, 5), Verdict::Holds);
}

#[test]
fn an_allowance_one_tick_short_of_the_skew_breaks_mutual_exclusion() {
    assert_eq!(mutual_exclusion(1, 0, 4), Verdict::Violated);
    assert_eq!(mutual_exclusion(2, 1, 5), Verdict::Violated);
}

#[test]
fn exact_clocks_need_no_allowance() {
    assert_eq!(mutual_exclusion(0, 0, 4), Verdict::Holds);
}
