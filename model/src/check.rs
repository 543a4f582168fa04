//! Running one cell of the matrix (a scenario in a timing mode): an exhaustive search that
//! decides every property, then the shortest counterexample of each violated invariant.
//!
//! Stateright's checker decides the verdicts. Its BFS does not promise shortest paths (a later
//! failing state of the same block can overwrite a discovery, and threads break level order),
//! so [`shortest_path`] is a plain single-threaded breadth-first search over the model's own
//! `actions` and `next_state`, stopping at the first level that reaches a violation.

use crate::properties::setup_witnesses;
use crate::scenario::{Expected, Scenario};
use crate::setup::{Setup, Timing};
use crate::system::{Action, LockSystem, SystemState};
use redlock_client::judge::Property as Invariant;
use serde::Serialize;
use stateright::{Checker, Model};
use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// A verdict of one invariant in one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    Violated,
    /// The search did not finish within its budget: nothing is claimed.
    Incomplete,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Incomplete => "incomplete",
        })
    }
}

impl Verdict {
    /// Whether this verdict contradicts an expectation.
    pub fn contradicts(self, expected: Expected) -> bool {
        matches!(
            (self, expected),
            (Verdict::Holds, Expected::Violated) | (Verdict::Violated, Expected::Holds) | (Verdict::Incomplete, Expected::Holds | Expected::Violated)
        )
    }
}

/// The outcome of one invariant.
#[derive(Clone, Debug)]
pub struct InvariantResult {
    pub invariant: Invariant,
    pub expected: Expected,
    pub verdict: Verdict,
    /// The shortest path to a violation, in the cell's own setup.
    pub counterexample: Option<Vec<Action>>,
}

/// The outcome of one witness (`Sometimes` property).
#[derive(Clone, Debug)]
pub struct WitnessResult {
    pub name: &'static str,
    pub meaning: &'static str,
    pub found: Option<bool>,
}

/// One checked cell.
#[derive(Clone, Debug)]
pub struct CellResult {
    pub setup: Setup,
    pub unique_states: usize,
    pub states: usize,
    pub seconds: f64,
    pub complete: bool,
    pub invariants: Vec<InvariantResult>,
    pub witnesses: Vec<WitnessResult>,
}

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct SearchOptions {
    pub budget: Duration,
    pub threads: usize,
}

/// Checks one setup of `scenario` exhaustively.
pub fn check(scenario: &Scenario, setup: Setup, options: SearchOptions) -> CellResult {
    let timing = setup.timing;
    let start = Instant::now();
    let checker = LockSystem::new(setup.clone())
        .checker()
        .threads(options.threads)
        .timeout(options.budget)
        .symmetry_fn(crate::symmetry::representative)
        .spawn_dfs()
        .join();
    // A search that used its whole budget may have stopped early, whatever the checker says.
    let complete = checker.is_done() && start.elapsed() < options.budget;
    let unique_states = checker.unique_state_count();
    let states = checker.state_count();
    let discoveries = checker.discoveries();
    let model = LockSystem::new(setup.clone());
    let invariants: Vec<InvariantResult> = setup
        .judged
        .iter()
        .map(|&invariant| {
            let violated = discoveries.contains_key(invariant.name());
            let verdict = match (violated, complete) {
                (true, _) => Verdict::Violated,
                (false, true) => Verdict::Holds,
                (false, false) => Verdict::Incomplete,
            };
            InvariantResult { invariant, expected: scenario.expected(timing, invariant), verdict, counterexample: None }
        })
        .collect();
    let violated: Vec<Invariant> =
        invariants.iter().filter(|r| r.verdict == Verdict::Violated).map(|r| r.invariant).collect();
    let mut paths = shortest_paths(&model, &violated, options.budget);
    let invariants = invariants
        .into_iter()
        .map(|mut r| {
            r.counterexample = paths.remove(&r.invariant);
            r
        })
        .collect();
    let witnesses = setup_witnesses(&setup)
        .into_iter()
        .map(|w| WitnessResult {
            name: w.name,
            meaning: w.meaning,
            found: if discoveries.contains_key(w.name) { Some(true) } else if complete { Some(false) } else { None },
        })
        .collect();
    CellResult {
        setup,
        unique_states,
        states,
        seconds: start.elapsed().as_secs_f64(),
        complete,
        invariants,
        witnesses,
    }
}

/// Checks one scenario in one timing mode, with its own setup.
pub fn check_scenario(scenario: &Scenario, timing: Timing, options: SearchOptions) -> CellResult {
    check(scenario, scenario.setup(timing), options)
}

fn fingerprint(s: &SystemState) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The shortest action sequence from the initial state to a state that violates each of
/// `invariants` (breadth first, one thread, so the first violation found at a level is at
/// minimal depth). Gives up on an invariant when `budget` runs out.
pub fn shortest_paths(model: &LockSystem, invariants: &[Invariant], budget: Duration) -> HashMap<Invariant, Vec<Action>> {
    let mut found = HashMap::new();
    if invariants.is_empty() {
        return found;
    }
    let start = Instant::now();
    // fingerprint -> (parent fingerprint, action that led here)
    let mut parents: HashMap<u64, Option<(u64, Action)>> = HashMap::new();
    let mut queue = VecDeque::new();
    for s in model.init_states() {
        let fp = fingerprint(&s);
        parents.insert(fp, None);
        queue.push_back((s, fp));
    }
    let path_to = |parents: &HashMap<u64, Option<(u64, Action)>>, mut fp: u64| {
        let mut actions = Vec::new();
        while let Some(Some((parent, action))) = parents.get(&fp) {
            actions.push(action.clone());
            fp = *parent;
        }
        actions.reverse();
        actions
    };
    let mut actions = Vec::new();
    while let Some((state, fp)) = queue.pop_front() {
        for &inv in invariants {
            if !found.contains_key(&inv) && state.judge.violation(inv).is_some() {
                found.insert(inv, path_to(&parents, fp));
            }
        }
        if found.len() == invariants.len() || start.elapsed() > budget {
            break;
        }
        actions.clear();
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            if let Some(next) = model.next_state(&state, action.clone()) {
                let next_fp = fingerprint(&next);
                if let Entry::Vacant(e) = parents.entry(next_fp) {
                    e.insert(Some((fp, action)));
                    queue.push_back((next, next_fp));
                }
            }
        }
    }
    found
}
