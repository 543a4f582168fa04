//! Every scenario in both timing modes gives the verdicts its preset records (the literature's
//! prediction, or the model's finding where the README explains a difference), and every
//! witness is found, so no verdict is a vacuous pass.

use redlock_model::check::{check_scenario, SearchOptions, Verdict};
use redlock_model::scenario::{find, Expected};
use redlock_model::setup::Timing;
use std::time::Duration;

fn verdicts_match(name: &str) {
    let scenario = find(name).expect("a scenario");
    for timing in Timing::BOTH {
        let cell = check_scenario(scenario, timing, SearchOptions { budget: Duration::from_secs(60), threads: 2 });
        for r in &cell.invariants {
            match r.expected {
                Expected::Holds => assert_eq!(r.verdict, Verdict::Holds, "{name} {timing} {}", r.invariant),
                Expected::Violated => assert_eq!(r.verdict, Verdict::Violated, "{name} {timing} {}", r.invariant),
                Expected::Undecided => assert_ne!(r.verdict, Verdict::Incomplete, "{name} {timing} {}", r.invariant),
            }
            if r.verdict == Verdict::Violated {
                let cx = r.counterexample.as_ref().unwrap_or_else(|| panic!("{name} {timing} {}: a counterexample", r.invariant));
                assert!(!cx.actions.is_empty());
            }
        }
        for w in &cell.witnesses {
            assert_eq!(w.found, Some(true), "{name} {timing}: witness {} ({})", w.name, w.meaning);
        }
    }
}

macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { verdicts_match($name); })*

        #[test]
        fn every_scenario_has_a_test() {
            let tested = [$($name),*];
            for s in redlock_model::scenario::SCENARIOS {
                assert!(tested.contains(&s.name), "scenario {} has no test", s.name);
            }
        }
    };
}

scenarios! {
    single_node => "single-node",
    single_plain_del => "single-plain-del",
    single_get_then_del => "single-get-then-del",
    single_setnx_then_expire => "single-setnx-then-expire",
    failover_async_replica => "failover-async-replica",
    redlock => "redlock",
    redlock_n3 => "redlock-n3",
    redlock_clock_jump => "redlock-clock-jump",
    redlock_restart_no_fsync => "redlock-restart-no-fsync",
    redlock_delayed_restart => "redlock-delayed-restart",
    redlock_fsync_restart => "redlock-fsync-restart",
    redlock_slow_replies => "redlock-slow-replies",
    pause_unfenced => "pause-unfenced",
    pause_fenced => "pause-fenced",
    fence_check_then_write => "fence-check-then-write",
    unique_token_cas => "unique-token-cas",
    redlock_incr_tokens => "redlock-incr-tokens",
    zookeeper_session => "zookeeper-session",
    zookeeper_session_zxid => "zookeeper-session-zxid",
    watchdog_pause => "watchdog-pause",
    chubby_check_sequencer => "chubby-check-sequencer",
    chubby_latest_sequencer => "chubby-latest-sequencer",
    chubby_lock_delay => "chubby-lock-delay",
    redisson_wait_1 => "redisson-wait-1",
    redisson_wait_2 => "redisson-wait-2",
    redisson_fenced_failover => "redisson-fenced-failover",
}

/// What the model found where the literature leaves the verdict open (the README explains
/// each with its counterexample).
#[test]
fn the_models_own_verdicts_are_pinned() {
    use redlock_client::judge::Property::*;
    let cases = [
        ("redlock-incr-tokens", Timing::Sync, OrderedFencedWrites, Verdict::Holds),
        ("redlock-incr-tokens", Timing::Async, OrderedFencedWrites, Verdict::Violated),
        ("redisson-wait-1", Timing::Sync, MutualExclusion, Verdict::Violated),
        ("redisson-wait-2", Timing::Sync, MutualExclusion, Verdict::Holds),
        ("redisson-wait-2", Timing::Async, MutualExclusion, Verdict::Violated),
        ("redisson-fenced-failover", Timing::Sync, OrderedFencedWrites, Verdict::Violated),
        ("redisson-fenced-failover", Timing::Sync, NoLostUpdate, Verdict::Violated),
    ];
    for (name, timing, property, verdict) in cases {
        let cell = check_scenario(find(name).unwrap(), timing, SearchOptions { budget: Duration::from_secs(60), threads: 2 });
        let r = cell.invariants.iter().find(|r| r.invariant == property).unwrap();
        assert_eq!(r.verdict, verdict, "{name} {timing} {property}");
    }
}

/// Without its lock-delay, the Chubby-style lock loses updates even in sync: the delay is what
/// covers a holder that writes without a margin.
#[test]
fn chubby_without_lock_delay_loses_updates_in_sync() {
    let scenario = find("chubby-lock-delay").unwrap();
    let setup = redlock_model::setup::Setup { lock_delay: None, ..scenario.setup(Timing::Sync) };
    let cell = redlock_model::check::check(scenario, setup, SearchOptions { budget: Duration::from_secs(60), threads: 2 });
    let r = cell.invariants.iter().find(|r| r.invariant == redlock_client::judge::Property::NoLostUpdate).unwrap();
    assert_eq!(r.verdict, Verdict::Violated);
}
