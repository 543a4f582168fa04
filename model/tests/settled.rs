//! Stopping at settled states is sound: a search that stops where nothing left of a run can
//! change a verdict (`settled.rs`) discovers every property that the search of the whole space
//! discovers, in every cell where both reach the end of their space within a budget counted in
//! states, and it does stop early where the clients are done before the servers; and with
//! delays unbounded, dropping the messages that can no longer change anything decides alike.

use redlock_client::protocol::Phase;
use redlock_model::client::Stage;
use redlock_model::msg::Msg;
use redlock_model::scenario::{self, SCENARIOS};
use redlock_model::settled::settled;
use redlock_model::setup::{Hazards, Setup, Timing};
use redlock_model::system::LockSystem;
use stateright::actor::{Id, Network};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;

/// States each search may generate: small cells end well within it, the large ones are skipped.
const BUDGET: usize = 60_000;

/// What a search discovered, and how many states it generated, if it reached the end of the
/// space within the budget.
fn search(setup: &Setup, reduce_settled: bool) -> Option<(BTreeSet<&'static str>, usize)> {
    let model = LockSystem { reduce_settled, ..LockSystem::new(setup.clone()) };
    let names: BTreeSet<&'static str> = model.properties().iter().map(|p| p.name).collect();
    let symmetry = redlock_model::symmetry::for_setup(setup);
    let dfs = model
        .checker()
        .threads(1)
        .target_state_count(BUDGET)
        .symmetry_fn(symmetry)
        .finish_when(HasDiscoveries::AllOf(names))
        .spawn_dfs()
        .join();
    let found: BTreeSet<&'static str> = dfs.discoveries().into_keys().collect();
    (dfs.is_done() && dfs.state_count() < BUDGET).then_some((found, dfs.state_count()))
}

#[test]
fn stopping_at_settled_states_decides_alike() {
    let mut compared = Vec::new();
    let mut cut = Vec::new();
    let mut seen = BTreeSet::new();
    for scenario in SCENARIOS {
        let cells = Timing::BOTH.map(|t| scenario.setup(t)).into_iter().chain(Hazards::EACH.map(|h| scenario.setup_lifted(h)));
        for setup in cells {
            let name = format!("{} {}", scenario.name, setup.unbounded());
            // A scenario that cannot lift a hazard gives its sync setup again.
            if !seen.insert(name.clone()) {
                continue;
            }
            let (Some((whole, whole_states)), Some((stopped, stopped_states))) = (search(&setup, false), search(&setup, true)) else {
                continue;
            };
            assert_eq!(whole, stopped, "{name}: stopping at settled states changed what the search discovers");
            if stopped_states < whole_states {
                cut.push(name.clone());
            }
            compared.push(name);
        }
    }
    eprintln!("{} cells compared, {} cut: {cut:?}", compared.len(), cut.len());
    // Not a vacuous pass: most cells are compared, and many are cut.
    assert!(compared.len() >= 50, "only {} cells compared: {compared:?}", compared.len());
    assert!(cut.len() >= 20, "only {} cells cut: {cut:?}", cut.len());
}

/// The canonical 3-node Redlock space, whole and stopped at settled states (depth first with
/// symmetry, one thread: the same on every run).
#[test]
fn redlock_n3_sync_stops_once_both_clients_are_done() {
    let setup = scenario::find("redlock-n3").unwrap().setup(Timing::Sync);
    let (whole, whole_states) = search(&setup, false).unwrap();
    let (stopped, stopped_states) = search(&setup, true).unwrap();
    assert_eq!(whole, stopped);
    assert_eq!((whole_states, stopped_states), (27_563, 14_331), "pinned counts");
}

/// With delays unbounded, late replies to a client that is done for good and releases that
/// can no longer delete anything are dropped: on `single-node` with delays alone lifted the
/// search meets fewer states, and decides alike.
#[test]
fn dead_messages_are_dropped_where_delays_are_unbounded() {
    let setup = scenario::find("single-node").unwrap().setup_lifted(Hazards::parse("N").unwrap());
    assert_eq!(setup.bounds.delay, None);
    let (whole, whole_states) = search(&setup, false).unwrap();
    let (reduced, reduced_states) = search(&setup, true).unwrap();
    assert_eq!(whole, reduced);
    assert_eq!((whole_states, reduced_states), (1_978, 783), "pinned counts");
    // Every state either search meets: the whole space has late messages to done clients (or
    // to rounds they no longer wait for) in flight, the reduced one none.
    let late = |reduce_settled: bool| {
        let model = LockSystem { reduce_settled, ..LockSystem::new(setup.clone()) };
        let mut stack = model.init_states();
        let mut seen = std::collections::HashSet::new();
        let mut late = 0;
        let mut actions = Vec::new();
        while let Some(state) = stack.pop() {
            if !seen.insert(state.clone()) {
                continue;
            }
            let Network::Ordered(flows) = &state.actors.network else { unreachable!() };
            let done = |actor: Id| state.actors.actor_states[usize::from(actor)].as_client().is_some_and(|c| c.stage == Stage::Done);
            late += flows.iter().filter(|((_, dst), q)| !q.is_empty() && done(*dst)).count();
            // Replies to a round the client no longer waits for.
            for ((src, dst), q) in flows {
                let Some(c) = state.actors.actor_states[usize::from(*dst)].as_client() else { continue };
                let waiting = |round: u32| match c.lock.phase {
                    Phase::Acquiring(r) | Phase::Extending { round: r, .. } => r.number == round && r.pending.contains(usize::from(*src)),
                    _ => false,
                };
                late += q.iter().filter(|m| matches!(m, Msg::AcquireReply { round, .. } if !waiting(*round))).count();
            }
            actions.clear();
            model.actions(&state, &mut actions);
            stack.extend(actions.drain(..).filter_map(|a| model.next_state(&state, a)));
        }
        late
    };
    assert!(late(false) > 0, "the whole space has late messages to done clients");
    assert_eq!(late(true), 0, "the reduced space has none");
}

/// A run's last state: every client done, and only a release still on its way to a server.
#[test]
fn a_finished_redlock_run_is_settled_and_a_write_in_flight_is_not() {
    let finished = |name: &str| {
        let model = LockSystem::new(scenario::find(name).unwrap().setup(Timing::Sync));
        let mut state = model.init_states().remove(0);
        let mut actions = Vec::new();
        let mut settled_on_the_way = Vec::new();
        // The first enabled action, over and over: one run to its end.
        loop {
            settled_on_the_way.push(settled(&model, &state));
            actions.clear();
            model.actions(&state, &mut actions);
            let Some(next) = actions.drain(..).find_map(|a| model.next_state(&state, a)) else { break };
            state = next;
        }
        settled_on_the_way
    };
    let redlock = finished("redlock-n3");
    assert_eq!(redlock.last(), Some(&true), "a finished run is settled");
    assert!(!redlock[0], "the initial state is not");
    // Mutual exclusion settles as soon as the clients are done, before the servers' keys
    // expire: the run goes on for some steps after it settled.
    let first = redlock.iter().position(|s| *s).unwrap();
    assert!(first < redlock.len() - 1, "settled only at the very end: {redlock:?}");
    // Owner-only release changes with the servers' own steps: never settled.
    assert!(finished("single-plain-del").iter().all(|s| !s));
}
