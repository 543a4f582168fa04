//! Random walks that give the same answer on every run and on every machine.
//!
//! Stateright's simulation checker picks its paths from a clock-seeded mix of threads, so what
//! it finds, and how long the path to it is, changes from run to run. These walks do not: walk
//! `i` draws its steps from a generator seeded with `i` alone, walks run in rounds whose walks
//! are shared among the threads, and a property's discovery is the one of the lowest-numbered
//! walk that met it. The budget is counted in steps, never in seconds, so a busy machine takes
//! longer and finds the same things.

use stateright::{Expectation, Model};
use std::collections::BTreeMap;

/// Walks per round: the unit of work shared among threads, and of the budget's check.
const ROUND: u64 = 64;

/// A walk stops after this many steps even if it could go on (the spaces here are finite and
/// their longest paths far shorter; this only bounds a walk in a cycle).
const MAX_DEPTH: usize = 10_000;

/// What a run of walks found.
pub struct Walks<A> {
    /// Each property met (an `Always` broken, a `Sometimes` found), with the path to it.
    pub discoveries: BTreeMap<&'static str, Vec<A>>,
    /// Steps taken, in all walks.
    pub steps: u64,
    /// Walks taken.
    pub walks: u64,
}

/// A small generator with a fixed algorithm (SplitMix64), so that walk `i` is the same path on
/// every run, machine and version of this crate's dependencies.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

/// Walks from the initial state until every property in `looking_for` is met or `max_steps`
/// steps have been taken (checked after each round of walks), on `threads` threads; or until
/// `deadline`, if there is one (then what is found depends on the machine's speed).
pub fn walk<M>(
    model: &M,
    looking_for: &[&'static str],
    max_steps: u64,
    threads: usize,
    deadline: Option<std::time::Instant>,
) -> Walks<M::Action>
where
    M: Model + Sync,
    M::State: Clone,
    M::Action: Clone + Send,
{
    let mut found = Walks { discoveries: BTreeMap::new(), steps: 0, walks: 0 };
    let threads = threads.max(1) as u64;
    while found.steps < max_steps
        && looking_for.iter().any(|p| !found.discoveries.contains_key(p))
        && deadline.is_none_or(|d| std::time::Instant::now() < d)
    {
        let wanted: Vec<&'static str> = looking_for.iter().copied().filter(|p| !found.discoveries.contains_key(p)).collect();
        let first = found.walks;
        let mut results: Vec<(u64, WalkResult<M::Action>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let wanted = &wanted;
                    scope.spawn(move || {
                        (first + t..first + ROUND).step_by(threads as usize).map(|i| (i, one_walk(model, wanted, i))).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("a walk panicked")).collect()
        });
        results.sort_by_key(|(i, _)| *i);
        for (_, result) in results {
            found.steps += result.steps;
            found.walks += 1;
            for (name, path) in result.discoveries {
                found.discoveries.entry(name).or_insert(path);
            }
        }
    }
    found
}

struct WalkResult<A> {
    steps: u64,
    discoveries: Vec<(&'static str, Vec<A>)>,
}

/// Walk number `index`: a path of uniformly drawn steps until a terminal state.
fn one_walk<M>(model: &M, wanted: &[&'static str], index: u64) -> WalkResult<M::Action>
where
    M: Model,
    M::State: Clone,
    M::Action: Clone,
{
    let properties: Vec<_> = model.properties().into_iter().filter(|p| wanted.contains(&p.name)).collect();
    let mut rng = SplitMix(index);
    let mut result = WalkResult { steps: 0, discoveries: Vec::new() };
    let Some(mut state) = model.init_states().into_iter().next() else { return result };
    let mut path: Vec<M::Action> = Vec::new();
    let mut actions = Vec::new();
    let mut met = vec![false; properties.len()];
    loop {
        for (i, p) in properties.iter().enumerate() {
            let hit = match p.expectation {
                Expectation::Always => !(p.condition)(model, &state),
                Expectation::Sometimes => (p.condition)(model, &state),
                Expectation::Eventually => false,
            };
            if hit && !met[i] {
                met[i] = true;
                result.discoveries.push((p.name, path.clone()));
            }
        }
        if path.len() >= MAX_DEPTH || met.iter().all(|m| *m) {
            return result;
        }
        actions.clear();
        model.actions(&state, &mut actions);
        // Draw among the actions that lead somewhere; none: the walk has ended.
        loop {
            if actions.is_empty() {
                return result;
            }
            let pick = rng.below(actions.len());
            let action = actions.swap_remove(pick);
            if let Some(next) = model.next_state(&state, action.clone()) {
                state = next;
                path.push(action);
                result.steps += 1;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix;

    #[test]
    fn the_generator_is_fixed() {
        // SplitMix64's published first output for seed 0.
        assert_eq!(SplitMix(0).next(), 0xe220_a839_7b1d_cdaf);
        let mut r = SplitMix(7);
        assert!((0..1000).all(|_| r.below(3) < 3));
    }
}
