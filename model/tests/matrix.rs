//! The whole matrix, checked once for this file's tests: every scenario in both timing modes
//! gives the verdicts its preset records (the literature's prediction, or the model's finding
//! where the README explains a difference), every witness is found (no verdict is a vacuous
//! pass), the README's matrix is the one `check --json | check table` renders today, and the
//! classic counterexamples of the debate come out as the shortest paths to a violation,
//! readable as a timeline, the same on every run.

use redlock_client::judge::Invariant;
use redlock_model::check::{check, check_scenario, CellResult, SearchOptions, Verdict};
use redlock_model::npc;
use redlock_model::report::{counterexample_trace, markdown_table, rows, RowIn};
use redlock_model::scenario::{find, Expected, SCENARIOS};
use redlock_model::setup::{Hazards, Timing};
use std::sync::OnceLock;

/// Every cell of the default matrix (both timing modes, and each hazard lifted alone), checked
/// once with the default budget (counted in states: the same verdicts on any machine).
fn matrix() -> &'static [CellResult] {
    static MATRIX: OnceLock<Vec<CellResult>> = OnceLock::new();
    MATRIX.get_or_init(|| npc::matrix(SearchOptions::default(), |_, _| {}).into_iter().map(|(_, c)| c).collect())
}

fn cell(name: &str, timing: Timing) -> &'static CellResult {
    matrix().iter().find(|c| c.setup.scenario == name && c.setup.lifted.mode() == Some(timing)).expect("a cell of the matrix")
}

fn verdicts_match(name: &str) {
    for timing in Timing::BOTH {
        let cell = cell(name, timing);
        assert!(cell.cut.is_none(), "{name} {timing}: the search was cut ({:?})", cell.cut);
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
            for s in SCENARIOS {
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
    redlock_extend => "redlock-extend",
    redlock_extend_n3 => "redlock-extend-n3",
    redlock_eviction => "redlock-eviction",
    single_eviction => "single-eviction",
    pause_unfenced => "pause-unfenced",
    pause_fenced => "pause-fenced",
    fence_check_then_write => "fence-check-then-write",
    fence_counter_restart => "fence-counter-restart",
    fence_counter_restart_holder => "fence-counter-restart-holder",
    unique_token_cas => "unique-token-cas",
    redlock_incr_tokens => "redlock-incr-tokens",
    zookeeper_session => "zookeeper-session",
    zookeeper_session_zxid => "zookeeper-session-zxid",
    watchdog_pause => "watchdog-pause",
    etcd_lease => "etcd-lease",
    etcd_lease_revision => "etcd-lease-revision",
    etcd_slow_replies => "etcd-slow-replies",
    postgres_advisory => "postgres-advisory",
    postgres_advisory_fenced => "postgres-advisory-fenced",
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
    use redlock_client::judge::Invariant::*;
    let cases = [
        ("fence-counter-restart", Timing::Sync, OrderedFencedWrites, Verdict::Violated),
        ("fence-counter-restart", Timing::Async, NoLostUpdate, Verdict::Violated),
        ("redlock-incr-tokens", Timing::Sync, OrderedFencedWrites, Verdict::Holds),
        ("redlock-incr-tokens", Timing::Async, OrderedFencedWrites, Verdict::Violated),
        ("redisson-wait-1", Timing::Sync, MutualExclusion, Verdict::Violated),
        ("redisson-wait-2", Timing::Sync, MutualExclusion, Verdict::Holds),
        ("redisson-wait-2", Timing::Async, MutualExclusion, Verdict::Violated),
        ("redisson-fenced-failover", Timing::Sync, OrderedFencedWrites, Verdict::Violated),
        ("redisson-fenced-failover", Timing::Sync, NoLostUpdate, Verdict::Violated),
    ];
    for (name, timing, property, verdict) in cases {
        let r = cell(name, timing).invariants.iter().find(|r| r.invariant == property).unwrap();
        assert_eq!(r.verdict, verdict, "{name} {timing} {property}");
    }
}

/// The README's text between `<!-- {name}:begin -->` and `<!-- {name}:end -->`.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let (open, close) = (format!("<!-- {name}:begin -->\n"), format!("<!-- {name}:end -->"));
    let begin = readme.find(&open).unwrap_or_else(|| panic!("{name} markers")) + open.len();
    let end = readme.find(&close).unwrap_or_else(|| panic!("{name} markers"));
    readme[begin..end].to_string()
}

fn matrix_rows() -> Vec<RowIn> {
    let lines: Vec<String> = matrix().iter().flat_map(rows).map(|r| serde_json::to_string(&r).unwrap()).collect();
    lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_readme_matrix_is_current() {
    assert_eq!(
        readme_block("matrix"),
        markdown_table(&matrix_rows()),
        "the README's matrix is stale: regenerate it with `cargo run --bin check -- --json | cargo run --bin check -- table`"
    );
}

#[test]
fn the_readme_npc_table_is_current() {
    assert_eq!(
        readme_block("npc"),
        npc::npc_table(&matrix_rows()).unwrap(),
        "the README's NPC table is stale: regenerate it with `cargo run --bin check -- --json | cargo run --bin check -- table --npc`"
    );
}

/// The verdict of one invariant in the default matrix's cell that lifts exactly `lifted`.
fn lifted_verdict(name: &str, lifted: &str, property: Invariant) -> Verdict {
    let lifted = Hazards::parse(lifted).unwrap();
    let cell = matrix()
        .iter()
        .find(|c| c.setup.scenario == name && c.setup.unbounded() == lifted)
        .unwrap_or_else(|| panic!("{name}: no cell leaves exactly {lifted} unbounded"));
    cell.invariants.iter().find(|r| r.invariant == property).unwrap().verdict
}

/// The debate's claims, hazard by hazard (the README's findings cite these cells).
#[test]
fn each_hazard_alone_decides_what_the_debate_says_it_does() {
    use Invariant::*;
    // antirez: a slow reply is caught by the elapsed-time check; delays alone never break
    // Redlock's mutual exclusion (two nodes).
    assert_eq!(lifted_verdict("redlock-slow-replies", "N", MutualExclusion), Verdict::Holds);
    // On three nodes too, and with `redlock-clock-jump`'s bounded jump (the search reaches the
    // end of the space once it stops at settled states and drops dead messages).
    assert_eq!(lifted_verdict("redlock-n3", "N", MutualExclusion), Verdict::Holds);
    assert_eq!(lifted_verdict("redlock-clock-jump", "N", MutualExclusion), Verdict::Holds);
    // Kleppmann: a clock alone breaks Redlock, one node or five.
    assert_eq!(lifted_verdict("redlock", "C", MutualExclusion), Verdict::Violated);
    assert_eq!(lifted_verdict("single-node", "C", MutualExclusion), Verdict::Violated);
    assert_eq!(lifted_verdict("single-node", "N", MutualExclusion), Verdict::Holds);
    // Kleppmann: a pause alone breaks an unfenced resource, and a fence stops it.
    assert_eq!(lifted_verdict("pause-unfenced", "P", NoLostUpdate), Verdict::Violated);
    assert_eq!(lifted_verdict("pause-fenced", "P", NoLostUpdate), Verdict::Holds);
}

/// The same cell checked again, on one thread instead of two, gives the same counterexamples,
/// step for step: what `check` prints does not depend on the run, the threads or the machine.
#[test]
fn counterexamples_are_the_same_on_every_run() {
    for (name, timing) in
        [("redlock-incr-tokens", Timing::Async), ("redlock-clock-jump", Timing::Async), ("chubby-lock-delay", Timing::Async)]
    {
        let again = check_scenario(find(name).unwrap(), timing, SearchOptions { threads: 1, ..SearchOptions::default() });
        let first = cell(name, timing);
        for (a, b) in first.invariants.iter().zip(&again.invariants) {
            assert_eq!(a.verdict, b.verdict, "{name} {timing} {}", a.invariant);
            let path = |r: &redlock_model::check::InvariantResult| r.counterexample.as_ref().map(|c| c.actions.clone());
            assert_eq!(path(a), path(b), "{name} {timing} {}", a.invariant);
        }
    }
}

/// The counterexample of `property` in a scenario's cell: (its setup's servers, shortest?, lines).
fn counterexample(name: &str, timing: Timing, property: Invariant) -> (u8, bool, Vec<String>) {
    let cell = cell(name, timing);
    let r = cell.invariants.iter().find(|r| r.invariant == property).unwrap();
    let shortest = r.counterexample.as_ref().expect("a counterexample").shortest;
    let (setup, trace) = counterexample_trace(cell, property).unwrap();
    assert_eq!(trace.steps.len(), trace.lines.iter().filter(|l| !l.trim_start().starts_with("VIOLATION")).count());
    (setup.servers, shortest, trace.lines)
}

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

#[test]
fn kleppmann_clock_jump_takes_eleven_steps_on_three_nodes() {
    // Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 1: client 1 locks A, B (a majority); C's clock jumps; ...
    let (servers, shortest, lines) = counterexample("redlock-clock-jump", Timing::Async, Invariant::MutualExclusion);
    assert_eq!((servers, shortest), (3, true));
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 11, "{lines:#?}");
    assert!(has(&lines, "clock JUMPS forward"), "{lines:#?}");
    assert!(has(&lines, "VIOLATION of mutual_exclusion"));
}

#[test]
fn a_pause_after_the_validity_check_loses_an_update_in_twenty_one_steps() {
    // Kleppmann's GC-pause figure (Kleppmann, *How to do distributed locking*).
    let (_, shortest, lines) = counterexample("pause-unfenced", Timing::Async, Invariant::NoLostUpdate);
    assert!(shortest);
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 21, "{lines:#?}");
    assert!(has(&lines, "PAUSES"), "{lines:#?}");
    assert!(has(&lines, "an increment was lost"));
}

#[test]
fn async_redlock_breaks_on_a_fast_server_clock_found_on_three_nodes() {
    let (servers, shortest, lines) = counterexample("redlock", Timing::Async, Invariant::MutualExclusion);
    assert_eq!((servers, shortest), (3, true), "the 5-node cell's counterexample comes from 3 nodes");
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 10, "{lines:#?}");
    assert!(has(&lines, "expires client 0's key by its own clock"));
}

#[test]
fn failover_before_replication_grants_twice_in_seven_steps() {
    let (_, shortest, lines) = counterexample("failover-async-replica", Timing::Sync, Invariant::MutualExclusion);
    assert!(shortest);
    assert_eq!(lines.iter().filter(|l| !l.contains("VIOLATION")).count(), 7, "{lines:#?}");
    assert!(has(&lines, "is promoted"));
}

#[test]
fn a_plain_del_after_a_failed_attempt_deletes_the_holders_key() {
    // With plain DEL, Redlock's own rule "release everywhere after a failed attempt" deletes
    // the key of the client that won.
    let (_, _, lines) = counterexample("single-plain-del", Timing::Sync, Invariant::OwnerOnlyRelease);
    assert!(has(&lines, "attempt fails"), "{lines:#?}");
    assert!(
        has(&lines, "deletes client 0's key at the request of client 1")
            || has(&lines, "deletes client 1's key at the request of client 0"),
        "{lines:#?}"
    );
}

#[test]
fn per_node_counter_tokens_can_tie_between_two_holders() {
    let (_, _, lines) = counterexample("redlock-incr-tokens", Timing::Async, Invariant::OrderedFencedWrites);
    assert!(has(&lines, "VIOLATION of ordered_fenced_writes"));
    let granted: Vec<&String> = lines.iter().filter(|l| l.contains("is GRANTED")).collect();
    assert_eq!(granted.len(), 2, "{lines:#?}");
}

/// Without its lock-delay, the Chubby-style lock loses updates even in sync: the delay is what
/// covers a holder that writes without a margin.
#[test]
fn chubby_without_lock_delay_loses_updates_in_sync() {
    let scenario = find("chubby-lock-delay").unwrap();
    let setup = redlock_model::setup::Setup { lock_delay: None, ..scenario.setup(Timing::Sync) };
    let cell = check(scenario, setup, SearchOptions::default());
    let r = cell.invariants.iter().find(|r| r.invariant == redlock_client::judge::Invariant::NoLostUpdate).unwrap();
    assert_eq!(r.verdict, Verdict::Violated);
}
