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
}
