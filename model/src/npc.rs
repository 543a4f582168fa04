//! The debate's own table: each verdict attributed to the hazard that decides it.
//!
//! Kleppmann names three timing hazards a lock may rest on: **N**etwork delay, **P**rocess
//! pause and **C**lock drift (*How to do distributed locking*); antirez answers that delays
//! before the grant are caught by the elapsed-time check and that clocks need only be roughly
//! right (*Is Redlock safe?*). The matrix's two columns lift all three at once (`async`) or none
//! (`sync`), so they cannot say which one a violation needs. The default matrix therefore also
//! checks each scenario with each hazard lifted alone ([`Hazards::EACH`]), and with each pair
//! where an invariant breaks with all three but with none alone; [`npc_table`] renders the
//! cells by the hazards they leave unbounded ([`Setup::unbounded`]) and names, per broken
//! invariant, the smallest sets of hazards that break it.

use crate::check::{check_showing_progress, CellResult, SearchOptions, Verdict};
use crate::report::RowIn;
use crate::scenario::{Scenario, SCENARIOS};
use crate::setup::{Hazards, Setup, Timing};
use redlock_client::judge::Invariant;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The cells the default matrix checks first for a scenario: sync, async, and each hazard the
/// scenario lifts, alone, when it lifts more than one.
pub fn first_cells(scenario: &Scenario) -> Vec<Setup> {
    let mut cells: Vec<Setup> = Timing::BOTH.iter().map(|t| scenario.setup(*t)).collect();
    let liftable = scenario.liftable();
    if liftable.count() >= 2 {
        cells.extend(Hazards::EACH.into_iter().filter(|h| h.and(liftable) == *h).map(|h| scenario.setup_lifted(h)));
    }
    cells
}

/// The pairs of hazards still to check for a scenario, given its checked cells: where an
/// invariant breaks with every hazard lifted but with none alone, the smallest set that breaks
/// it may be a pair.
pub fn pairs_to_check(scenario: &Scenario, checked: &[&CellResult]) -> Vec<Setup> {
    let liftable = scenario.liftable();
    if liftable.count() < 3 {
        return Vec::new();
    }
    let violated_in = |invariant: Invariant, unbounded: &dyn Fn(Hazards) -> bool| {
        checked.iter().any(|c| {
            unbounded(c.setup.unbounded()) && c.invariants.iter().any(|r| r.invariant == invariant && r.verdict == Verdict::Violated)
        })
    };
    let needs_pairs = scenario
        .judged()
        .into_iter()
        .any(|invariant| violated_in(invariant, &|u| u == Hazards::ALL) && !violated_in(invariant, &|u| u.count() <= 1));
    // Until every hazard alone is decided, a pair cannot be the smallest set.
    let undecided = checked.iter().any(|c| c.setup.lifted.count() == 1 && !c.complete);
    if !needs_pairs || undecided {
        return Vec::new();
    }
    Hazards::EACH
        .iter()
        .enumerate()
        .flat_map(|(i, a)| Hazards::EACH[i + 1..].iter().map(move |b| a.or(*b)))
        .map(|pair| scenario.setup_lifted(pair))
        .collect()
}

/// The share of a cell's state budget that a cell lifting some hazards but not all gets in the
/// default matrix. Lifting delays alone on five Redis nodes makes spaces of tens of millions
/// of states (`redlock` with N lifted: more than 40M states generated, undecided); such a cell
/// is `incomplete` in the table, and `check run --lift N --max-states ...` searches further
/// given the time.
pub const LIFTED_SHARE: u64 = 20;

/// The default matrix: every scenario's [`first_cells`], then its [`pairs_to_check`].
/// `each` sees every cell, in this order, as soon as its scenario is checked.
///
/// Scenarios are checked side by side, `options.threads` at a time, each search on one thread:
/// one cell's depth-first search gains less from a second thread than a second cell does (the
/// threads share one table of visited states), and a one-thread search finds the same path on
/// every run, so no counterexample has to be searched again for a fixed order. What a cell
/// decides does not depend on which worker checks it or when: every budget is in states.
pub fn matrix(options: SearchOptions, mut each: impl FnMut(&'static Scenario, &CellResult)) -> Vec<(&'static Scenario, CellResult)> {
    let workers = options.threads.clamp(1, SCENARIOS.len());
    let options = SearchOptions { threads: 1, ..options };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (done, results) = std::sync::mpsc::channel::<(usize, Vec<CellResult>)>();
    let mut out = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done = done.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(scenario) = SCENARIOS.get(i) else { break };
                // The receiver lives until every worker is done.
                let _ = done.send((i, scenario_cells(scenario, options)));
            });
        }
        drop(done);
        // Scenarios come back in any order and are passed on in the matrix's.
        let mut waiting = std::collections::BTreeMap::new();
        for (i, cells) in results {
            waiting.insert(i, cells);
            while let Some(cells) = waiting.remove(&out.len()) {
                let scenario = &SCENARIOS[out.len()];
                for cell in &cells {
                    each(scenario, cell);
                }
                out.push((scenario, cells));
            }
        }
    });
    out.into_iter().flat_map(|(scenario, cells)| cells.into_iter().map(move |c| (scenario, c))).collect()
}

/// One scenario's cells of the default matrix, checked one after the other.
fn scenario_cells(scenario: &'static Scenario, options: SearchOptions) -> Vec<CellResult> {
    let lifted_options = SearchOptions { max_states: (options.max_states / LIFTED_SHARE).max(1_000), ..options };
    let mut cells = Vec::new();
    for setup in first_cells(scenario) {
        let options = if setup.lifted.mode().is_some() { options } else { lifted_options };
        cells.push(check_showing_progress(scenario, setup, options));
    }
    let pairs = pairs_to_check(scenario, &cells.iter().collect::<Vec<_>>());
    for setup in pairs {
        cells.push(check_showing_progress(scenario, setup, lifted_options));
    }
    cells
}

/// `mutual_exclusion` -> `ME`: the table's short name of an invariant.
pub fn initials(name: &str) -> String {
    name.split('_').filter_map(|w| w.chars().next()).map(|c| c.to_ascii_uppercase()).collect()
}

/// `N+C`, or `none` for the empty set.
fn set_name(h: Hazards) -> String {
    if h == Hazards::NONE {
        "none".into()
    } else {
        h.letters().join("+")
    }
}

/// The NPC table from `check --json` records (every record of the default matrix): one row
/// per scenario; the columns `none`, `N`, `P`, `C` and `all` hold the cell that leaves exactly
/// those hazards unbounded (the invariants it breaks, `holds`, or `-` where no cell of the
/// scenario leaves exactly those unbounded); the last column names, for each invariant broken
/// anywhere, the smallest sets of hazards that break it. Fails if a set's smaller sets were
/// not all checked, since then the smallest is not known.
pub fn npc_table(records: &[RowIn]) -> Result<String, String> {
    let columns = [Hazards::NONE, Hazards::EACH[0], Hazards::EACH[1], Hazards::EACH[2], Hazards::ALL];
    let mut out = String::from("| scenario | none | N | P | C | all | smallest sets that break it |\n|---|---|---|---|---|---|---|\n");
    let mut scenarios: Vec<&str> = Vec::new();
    for r in records {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    for scenario in scenarios {
        let mine: Vec<&RowIn> = records.iter().filter(|r| r.scenario == scenario && r.kind == "invariant").collect();
        let mut cells: Vec<Hazards> = Vec::new();
        for r in &mine {
            let unbounded = Hazards::from_letters(&r.unbounded)?;
            if !cells.contains(&unbounded) {
                cells.push(unbounded);
            }
        }
        // Invariants in the judge's order, each with the unbounded sets whose cell breaks it.
        let broken = |h: Hazards| -> Vec<&str> {
            let mut names: Vec<&str> = Vec::new();
            for inv in Invariant::ALL {
                let hit = mine
                    .iter()
                    .any(|r| r.property == inv.name() && r.verdict == "violated" && Hazards::from_letters(&r.unbounded).ok() == Some(h));
                if hit {
                    names.push(inv.name());
                }
            }
            names
        };
        let verdicts = |h: Hazards| -> Vec<&str> {
            mine.iter().filter(|r| Hazards::from_letters(&r.unbounded).ok() == Some(h)).map(|r| r.verdict.as_str()).collect()
        };
        let _ = write!(out, "| `{scenario}` |");
        for column in columns {
            let text = if !cells.contains(&column) {
                "-".to_string()
            } else {
                let names = broken(column);
                if !names.is_empty() {
                    format!("**{}**", names.iter().map(|n| initials(n)).collect::<Vec<_>>().join(", "))
                } else if verdicts(column).iter().all(|v| *v == "holds") {
                    "holds".into()
                } else {
                    "incomplete".into()
                }
            };
            let _ = write!(out, " {text} |");
        }
        let base = *cells.iter().min_by_key(|h| h.count()).ok_or_else(|| format!("{scenario}: no invariant records"))?;
        let undecided = |h: Hazards, inv: Invariant| {
            mine.iter()
                .any(|r| r.property == inv.name() && r.verdict == "incomplete" && Hazards::from_letters(&r.unbounded).ok() == Some(h))
        };
        let mut smallest = Vec::new();
        for inv in Invariant::ALL {
            let breaking: BTreeSet<Hazards> = cells.iter().copied().filter(|h| broken(*h).contains(&inv.name())).collect();
            let mut minimal: Vec<Hazards> =
                breaking.iter().copied().filter(|h| !breaking.iter().any(|o| o != h && o.and(*h) == *o)).collect();
            if minimal.is_empty() {
                continue;
            }
            // Smaller sets first, then in the order N, P, C.
            minimal.sort_by_key(|h| (h.count(), !h.delay, !h.pause, !h.clock));
            for h in &minimal {
                // Every set one hazard smaller (and still holding what the scenario never
                // bounds) must have been checked, or a smaller set may break it too.
                for dropped in Hazards::EACH.into_iter().filter(|d| d.and(*h) == *d && d.and(base) == Hazards::NONE) {
                    let smaller = h.without(dropped);
                    if !cells.contains(&smaller) {
                        return Err(format!(
                            "{scenario}: {} breaks with {} but no record lifts {}: pipe the whole default matrix (`check --json`)",
                            inv.name(),
                            set_name(*h),
                            set_name(smaller)
                        ));
                    }
                }
            }
            // Sets the search did not decide, below none of those found: one of them may be
            // smaller still.
            let open: Vec<String> =
                cells.iter().copied().filter(|h| undecided(*h, inv) && !minimal.iter().any(|m| m.and(*h) == *m)).map(set_name).collect();
            let mut text = format!("{}: {}", initials(inv.name()), minimal.iter().map(|h| set_name(*h)).collect::<Vec<_>>().join(" or "));
            if !open.is_empty() {
                let _ = write!(text, " ({} undecided)", open.join(", "));
            }
            smallest.push(text);
        }
        let _ = writeln!(out, " {} |", if smallest.is_empty() { "nothing".to_string() } else { smallest.join("; ") });
    }
    Ok(out)
}
