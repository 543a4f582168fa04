//! The classic counterexamples of the debate, found as the shortest paths to a violation,
//! readable as a timeline, with the fault that causes them.

use redlock_client::judge::Property;
use redlock_model::check::{check_scenario, SearchOptions};
use redlock_model::report::counterexample_trace;
use redlock_model::scenario::find;
use redlock_model::setup::Timing;
use std::time::Duration;

/// The counterexample of `property` in a scenario's cell: (its setup's servers, shortest?, lines).
fn counterexample(name: &str, timing: Timing, property: Property) -> (u8, bool, Vec<String>) {
    let cell = check_scenario(find(name).unwrap(), timing, SearchOptions { budget: Duration::from_secs(60), threads: 2 });
    let r = cell.invariants.iter().find(|r| r.invariant == property).unwrap();
    let shortest = r.counterexample.as_ref().expect("a counterexample").shortest;
    let (setup, trace) = counterexample_trace(&cell, property).unwrap();
    assert_eq!(trace.steps.len(), trace.lines.iter().filter(|l| !l.trim_start().starts_with("VIOLATION")).count());
    (setup.servers, shortest, trace.lines)
}

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

#[test]
fn kleppmann_clock_jump_takes_eleven_steps_on_three_nodes() {
    // 003-redlock-analysis-part1.txt: client 1 locks A, B (a majority); C's clock jumps; ...
    let (servers, shortest, lines) = counterexample("redlock-clock-jump", Timing::Async, Property::MutualExclusion);
    assert_eq!((servers, shortest), (3, true));
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 11, "{lines:#?}");
    assert!(has(&lines, "clock JUMPS forward"), "{lines:#?}");
    assert!(has(&lines, "VIOLATION of mutual_exclusion"));
}

#[test]
fn a_pause_after_the_validity_check_loses_an_update_in_twenty_one_steps() {
    // Kleppmann's GC-pause figure (004-kleppmann-how-to-do-distributed-locking.txt).
    let (_, shortest, lines) = counterexample("pause-unfenced", Timing::Async, Property::NoLostUpdate);
    assert!(shortest);
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 21, "{lines:#?}");
    assert!(has(&lines, "PAUSES"), "{lines:#?}");
    assert!(has(&lines, "an increment was lost"));
}

#[test]
fn async_redlock_breaks_on_a_fast_server_clock_found_on_three_nodes() {
    let (servers, shortest, lines) = counterexample("redlock", Timing::Async, Property::MutualExclusion);
    assert_eq!((servers, shortest), (3, true), "the 5-node cell's counterexample comes from 3 nodes");
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 10, "{lines:#?}");
    assert!(has(&lines, "expires client 0's key by its own clock"));
}

#[test]
fn failover_before_replication_grants_twice_in_seven_steps() {
    let (_, shortest, lines) = counterexample("failover-async-replica", Timing::Sync, Property::MutualExclusion);
    assert!(shortest);
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 7, "{lines:#?}");
    assert!(has(&lines, "is promoted"));
}

#[test]
fn a_plain_del_after_a_failed_attempt_deletes_the_holders_key() {
    // With plain DEL, Redlock's own rule "release everywhere after a failed attempt" deletes
    // the key of the client that won.
    let (_, _, lines) = counterexample("single-plain-del", Timing::Sync, Property::OwnerOnlyRelease);
    assert!(has(&lines, "attempt fails"), "{lines:#?}");
    assert!(has(&lines, "deletes client 0's key at the request of client 1") || has(&lines, "deletes client 1's key at the request of client 0"), "{lines:#?}");
}

#[test]
fn incr_max_tokens_can_tie_between_two_holders() {
    let (_, _, lines) = counterexample("redlock-incr-tokens", Timing::Async, Property::OrderedFencedWrites);
    assert!(has(&lines, "VIOLATION of ordered_fenced_writes"));
    let granted: Vec<&String> = lines.iter().filter(|l| l.contains("is GRANTED")).collect();
    assert_eq!(granted.len(), 2, "{lines:#?}");
}
