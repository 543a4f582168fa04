//! Running one cell of the matrix (a scenario in a timing mode): an exhaustive search that
//! decides every property, then the shortest counterexample of each violated invariant.
//!
//! Stateright's checker decides the verdicts. Its BFS does not promise shortest paths (a later
//! failing state of the same block can overwrite a discovery, and threads break level order),
//! so [`shortest_paths`] is a plain single-threaded breadth-first search over the model's own
//! `actions` and `next_state`, stopping at the first level that reaches a violation.

use crate::properties::setup_witnesses;
use crate::scenario::{Expected, Scenario};
use crate::setup::{Setup, Timing};
use crate::system::{Action, LockSystem, SystemState, WHOLE_SPACE};
use redlock_client::judge::Property as Invariant;
use serde::Serialize;
use stateright::{Checker, HasDiscoveries, Model, UniformChooser};
use std::collections::BTreeSet;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
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

/// A shortest path to a violation, and the setup it runs in.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The cell's setup, or a smaller one that shows the same violation (3 servers rather than
    /// 5): breadth-first search cannot afford the larger one.
    pub setup: Setup,
    pub actions: Vec<Action>,
    /// Found by breadth-first search, so no counterexample is shorter. Otherwise it is a path
    /// a search found, with every step that is not needed for the violation removed.
    pub shortest: bool,
}

/// The outcome of one invariant.
#[derive(Clone, Debug)]
pub struct InvariantResult {
    pub invariant: Invariant,
    pub expected: Expected,
    pub verdict: Verdict,
    pub counterexample: Option<Counterexample>,
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

/// Checks one setup of `scenario`: every property gets a verdict, from discoveries where a
/// search found one and from an exhausted depth-first search where none exists.
///
/// Where the scenario expects a violation in this timing mode, random walks (Stateright's
/// simulation) go first: they find violations in spaces far too large to exhaust. Whatever
/// they leave undiscovered is then searched depth first with server symmetry, to the end of
/// the space or of the budget. The expectation only orders the searches; a verdict is `holds`
/// only when the exhaustive search finished, and `incomplete` when the budget ran out first.
pub fn check(scenario: &Scenario, setup: Setup, options: SearchOptions) -> CellResult {
    let timing = setup.timing;
    let start = Instant::now();
    let model_properties: Vec<&'static str> = LockSystem::new(setup.clone()).properties().iter().map(|p| p.name).collect();
    let mut discovered: BTreeSet<&'static str> = BTreeSet::new();
    let mut paths: HashMap<&'static str, Vec<Action>> = HashMap::new();
    let (mut unique_states, mut states) = (0, 0);
    let mut exhausted = false;
    let expected = |e: Expected| setup.judged.iter().any(|i| scenario.expected(timing, *i) == e);
    let mut record = |found: HashMap<&'static str, stateright::Path<SystemState, Action>>, discovered: &mut BTreeSet<&'static str>| {
        for (name, path) in found {
            discovered.insert(name);
            paths.entry(name).or_insert_with(|| path.into_actions());
        }
    };
    // Where the literature is silent, the space may well be small and hold: try to exhaust it
    // first, briefly, before any random walk.
    if expected(Expected::Undecided) && !expected(Expected::Violated) {
        let dfs = exhaustive(&setup, &model_properties, options.threads, (options.budget / 10).min(Duration::from_secs(3)));
        exhausted = dfs.exhausted;
        unique_states += dfs.unique_states;
        states += dfs.states;
        record(dfs.discoveries, &mut discovered);
    }
    // Where a violation is expected or possible, random walks go first: they find violations
    // in spaces far too large to exhaust. They look for those violations and the witnesses.
    if !exhausted && (expected(Expected::Violated) || expected(Expected::Undecided)) {
        let targets: BTreeSet<&'static str> = setup
            .judged
            .iter()
            .filter(|i| scenario.expected(timing, **i) != Expected::Holds)
            .map(|i| i.name())
            .chain(setup_witnesses(&setup).into_iter().map(|w| w.name))
            .filter(|t| !discovered.contains(t))
            .collect();
        let simulation = LockSystem::new(setup.clone())
            .checker()
            .threads(options.threads)
            .timeout((options.budget / 3).min(Duration::from_secs(4)))
            .finish_when(HasDiscoveries::AllOf(targets))
            .spawn_simulation(0, UniformChooser)
            .join();
        // Random walks do not count unique states; their steps count as states generated.
        states += simulation.state_count();
        record(simulation.discoveries(), &mut discovered);
    }
    let remaining: Vec<&'static str> = model_properties.iter().copied().filter(|p| !discovered.contains(p)).collect();
    if !exhausted && !remaining.is_empty() {
        let left = options.budget.saturating_sub(start.elapsed()).max(Duration::from_secs(1));
        let dfs = exhaustive(&setup, &remaining, options.threads, left);
        exhausted = dfs.exhausted;
        unique_states += dfs.unique_states;
        states += dfs.states;
        record(dfs.discoveries, &mut discovered);
    }
    let complete = exhausted || model_properties.iter().all(|p| discovered.contains(p));
    let invariants: Vec<InvariantResult> = setup
        .judged
        .iter()
        .map(|&invariant| {
            let violated = discovered.contains(invariant.name());
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
    let bfs_budget = (options.budget / 2).min(Duration::from_secs(5));
    let mut counterexamples = counterexamples(&setup, &violated, bfs_budget);
    for &invariant in &violated {
        if let (Entry::Vacant(e), Some(path)) = (counterexamples.entry(invariant), paths.get(invariant.name())) {
            let model = LockSystem::new(setup.clone());
            e.insert(Counterexample { setup: setup.clone(), actions: shorten(&model, path, invariant), shortest: false });
        }
    }
    let invariants = invariants
        .into_iter()
        .map(|mut r| {
            r.counterexample = counterexamples.remove(&r.invariant);
            r
        })
        .collect();
    let witnesses = setup_witnesses(&setup)
        .into_iter()
        .map(|w| WitnessResult {
            name: w.name,
            meaning: w.meaning,
            found: if discovered.contains(w.name) { Some(true) } else if complete { Some(false) } else { None },
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

/// What one depth-first search found.
struct Exhaustive {
    /// It reached the end of the space (or discovered every property it looked for).
    exhausted: bool,
    unique_states: usize,
    states: usize,
    discoveries: HashMap<&'static str, stateright::Path<SystemState, Action>>,
}

/// A depth-first search with symmetry reduction that stops once every property in `looking_for`
/// is discovered, or at the end of the space, or of `budget`.
fn exhaustive(setup: &Setup, looking_for: &[&'static str], threads: usize, budget: Duration) -> Exhaustive {
    let start = Instant::now();
    let dfs = LockSystem::new(setup.clone())
        .checker()
        .threads(threads)
        .timeout(budget)
        .symmetry_fn(crate::symmetry::for_setup(setup))
        .finish_when(HasDiscoveries::AllOf(looking_for.iter().copied().collect()))
        .spawn_dfs()
        .join();
    Exhaustive {
        // A search that used its whole budget may have stopped early, whatever the checker says.
        exhausted: dfs.is_done() && start.elapsed() < budget,
        unique_states: dfs.unique_state_count(),
        states: dfs.state_count(),
        discoveries: dfs.discoveries(),
    }
}

/// Checks one scenario in one timing mode, with its own setup.
pub fn check_scenario(scenario: &Scenario, timing: Timing, options: SearchOptions) -> CellResult {
    check(scenario, scenario.setup(timing), options)
}

/// Counts the unique states of a setup's whole space, depth first, with or without symmetry
/// reduction. Deterministic with one thread.
pub fn count_states(model: LockSystem, symmetric: bool, threads: usize) -> usize {
    let symmetry = crate::symmetry::for_setup(&model.setup);
    let mut builder = LockSystem { whole_space: true, ..model }
        .checker()
        .threads(threads)
        // No state meets this witness: the search never finishes early.
        .finish_when(HasDiscoveries::AllOf(BTreeSet::from([WHOLE_SPACE])));
    if symmetric {
        builder = builder.symmetry_fn(symmetry);
    }
    builder.spawn_dfs().join().unique_state_count()
}

/// Shortest counterexamples for `violated`, from the smallest setup that shows each: first with
/// at most 3 servers, then in the setup itself.
pub fn counterexamples(setup: &Setup, violated: &[Invariant], budget: Duration) -> HashMap<Invariant, Counterexample> {
    let mut found = HashMap::new();
    let mut candidates = vec![setup.clone()];
    if setup.servers > 3 {
        candidates.insert(0, Setup { servers: 3, ..setup.clone() });
    }
    for candidate in candidates {
        let missing: Vec<Invariant> = violated.iter().copied().filter(|i| !found.contains_key(i)).collect();
        if missing.is_empty() {
            break;
        }
        let model = LockSystem::new(candidate.clone());
        for (invariant, actions) in shortest_paths(&model, &missing, budget) {
            found.insert(invariant, Counterexample { setup: candidate.clone(), actions, shortest: true });
        }
    }
    found
}

/// Replays `actions` from the initial state, skipping any that is not enabled where it comes,
/// and returns the steps taken up to the first state that violates `invariant`, if any.
fn replay_to_violation(model: &LockSystem, actions: &[Action], invariant: Invariant) -> Option<Vec<Action>> {
    let mut state = model.init_states().remove(0);
    let mut taken = Vec::new();
    let mut enabled = Vec::new();
    for action in actions {
        if state.judge.violation(invariant).is_some() {
            break;
        }
        enabled.clear();
        model.actions(&state, &mut enabled);
        if !enabled.contains(action) {
            continue;
        }
        if let Some(next) = model.next_state(&state, action.clone()) {
            state = next;
            taken.push(action.clone());
        }
    }
    state.judge.violation(invariant).is_some().then_some(taken)
}

/// Removes from a counterexample every step it does not need: repeatedly drops one step (from
/// the end backwards) and keeps the shorter path whenever the violation still happens.
pub fn shorten(model: &LockSystem, actions: &[Action], invariant: Invariant) -> Vec<Action> {
    let Some(mut path) = replay_to_violation(model, actions, invariant) else { return actions.to_vec() };
    loop {
        let before = path.len();
        let mut i = path.len();
        while i > 0 {
            i -= 1;
            let mut candidate = path.clone();
            candidate.remove(i);
            if let Some(shorter) = replay_to_violation(model, &candidate, invariant) {
                path = shorter;
                i = i.min(path.len());
            }
        }
        if path.len() == before {
            return path;
        }
    }
}

/// The shortest action sequence from the initial state to a state that violates each of
/// `invariants`: breadth first, one thread, so the first violation reached is at minimal depth.
/// States are deduplicated up to server symmetry (symmetric states are equally far from the
/// start), and each class is expanded from the first state that reached it, so parent links
/// replay exactly. Gives up on whatever is not found when `budget` runs out.
pub fn shortest_paths(model: &LockSystem, invariants: &[Invariant], budget: Duration) -> HashMap<Invariant, Vec<Action>> {
    let mut found = HashMap::new();
    if invariants.is_empty() {
        return found;
    }
    let hasher = ahash::RandomState::with_seeds(0x5eed, 1, 2, 3);
    let representative = crate::symmetry::for_setup(&model.setup);
    let fingerprint = |s: &SystemState| hasher.hash_one(representative(s));
    let start = Instant::now();
    let init = model.init_states().remove(0);
    // class fingerprint -> (parent class fingerprint, index of the action in the parent's list)
    let mut parents: HashMap<u64, Option<(u64, u16)>> = HashMap::new();
    let mut queue = VecDeque::new();
    let init_fp = fingerprint(&init);
    parents.insert(init_fp, None);
    queue.push_back((init.clone(), init_fp));
    let replay = |parents: &HashMap<u64, Option<(u64, u16)>>, mut fp: u64| {
        let mut indices = Vec::new();
        while let Some(Some((parent, index))) = parents.get(&fp) {
            indices.push(*index as usize);
            fp = *parent;
        }
        let mut state = init.clone();
        let mut path = Vec::new();
        let mut actions = Vec::new();
        for index in indices.into_iter().rev() {
            actions.clear();
            model.actions(&state, &mut actions);
            let action = actions[index].clone();
            state = model.next_state(&state, action.clone()).expect("a recorded step replays");
            path.push(action);
        }
        path
    };
    let mut actions = Vec::new();
    while let Some((state, fp)) = queue.pop_front() {
        for &inv in invariants {
            if !found.contains_key(&inv) && state.judge.violation(inv).is_some() {
                found.insert(inv, replay(&parents, fp));
            }
        }
        if found.len() == invariants.len() || start.elapsed() > budget {
            break;
        }
        actions.clear();
        model.actions(&state, &mut actions);
        for (index, action) in actions.drain(..).enumerate() {
            if let Some(next) = model.next_state(&state, action) {
                let next_fp = fingerprint(&next);
                if let Entry::Vacant(e) = parents.entry(next_fp) {
                    e.insert(Some((fp, index as u16)));
                    queue.push_back((next, next_fp));
                }
            }
        }
    }
    found
}
