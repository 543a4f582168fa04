//! Symmetry reduction is sound: searching representatives decides every property as searching
//! the states themselves does, in every cell where both searches reach the end of the space
//! within a budget counted in states.

use redlock_model::msg::{Msg, Timer};
use redlock_model::scenario::SCENARIOS;
use redlock_model::setup::Timing;
use redlock_model::system::LockSystem;
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;

/// States each search may generate: small cells end well within it, the large ones are skipped.
const BUDGET: usize = 50_000;

/// The properties a search discovers, if it reached the end of the space within the budget.
fn discovered(model: LockSystem, symmetric: bool) -> Option<BTreeSet<&'static str>> {
    let names: BTreeSet<&'static str> = model.properties().iter().map(|p| p.name).collect();
    let symmetry = redlock_model::symmetry::for_setup(&model.setup);
    let mut builder = model.checker().threads(1).target_state_count(BUDGET).finish_when(HasDiscoveries::AllOf(names));
    if symmetric {
        builder = builder.symmetry_fn(symmetry);
    }
    let dfs = builder.spawn_dfs().join();
    let found: BTreeSet<&'static str> = dfs.discoveries().into_keys().collect();
    (dfs.is_done() && dfs.state_count() < BUDGET).then_some(found)
}

#[test]
fn symmetric_and_plain_searches_decide_alike() {
    let mut compared = Vec::new();
    for scenario in SCENARIOS {
        for timing in Timing::BOTH {
            let setup = scenario.setup(timing);
            let (Some(plain), Some(symmetric)) =
                (discovered(LockSystem::new(setup.clone()), false), discovered(LockSystem::new(setup), true))
            else {
                continue;
            };
            assert_eq!(plain, symmetric, "{} {timing}: plain and symmetric searches discover different properties", scenario.name);
            compared.push(format!("{} {timing}", scenario.name));
        }
    }
    eprintln!("{} cells compared: {compared:?}", compared.len());
    // Not a vacuous pass: most cells are small enough to compare.
    assert!(compared.len() >= 30, "only {} cells compared: {compared:?}", compared.len());
}

/// Renaming clients twice by a swap gives the message back, and every message that names a
/// client is renamed (the renaming itself names every variant, so the compiler catches a new
/// one; this catches a variant listed among the unchanged by mistake).
#[test]
fn every_client_id_in_a_message_or_timer_is_renamed() {
    let swap = |c: u8| match c {
        0 => 1,
        1 => 0,
        other => other,
    };
    let naming =
        [Msg::GetReply { owner: Some(0) }, Msg::CheckSequencer { client: 0, token: 3 }, Msg::SequencerValid { client: 0, valid: true }];
    for m in naming {
        assert_ne!(m.rename_clients(swap), m, "{m:?} names a client");
        assert_eq!(m.rename_clients(swap).rename_clients(swap), m);
    }
    let anonymous = [Msg::GetReply { owner: None }, Msg::Release, Msg::Read { token: Some(1) }, Msg::Created { revision: 4 }];
    for m in anonymous {
        assert_eq!(m.rename_clients(swap), m, "{m:?} names no client");
    }
    for t in [Timer::Apply { client: 0 }, Timer::LeaseExpire { client: 1 }] {
        assert_ne!(t.rename_clients(swap), t);
        assert_eq!(t.rename_clients(swap).rename_clients(swap), t);
    }
    assert_eq!(Timer::Expire.rename_clients(swap), Timer::Expire);
}
