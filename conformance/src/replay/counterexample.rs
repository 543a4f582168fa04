//! Which counterexample a replay runs, and getting it from the model: the same steps that
//! `check run <scenario> --json` prints (`check_scenario`, then `counterexample_trace`).
//!
//! The counterexample caused by the scenario's own fault (`docs/design.md`, *Scenarios and timing*). Where the model finds the
//! property violated in sync (restart without fsync, failover, GET then DEL), the sync trace;
//! otherwise the async one.

use redlock_client::judge::Invariant;
use redlock_model::check::{check_scenario, SearchOptions};
use redlock_model::report::counterexample_trace;
use redlock_model::scenario::{find, Expected, Scenario};
use redlock_model::setup::{Setup, Timing};
use redlock_model::trace::Trace;

/// A model counterexample to replay.
pub struct Counterexample {
    pub scenario: &'static Scenario,
    pub timing: Timing,
    pub property: Invariant,
    /// The setup the trace runs in (possibly smaller than the scenario's: 3 servers, not 5).
    pub setup: Setup,
    pub trace: Trace,
}

/// The property a scenario's replay shows by default: its first judged invariant that the model
/// finds violated.
pub fn default_property(scenario: &Scenario) -> Option<Invariant> {
    scenario.judged().into_iter().find(|p| Timing::BOTH.iter().any(|t| scenario.expected(*t, *p) == Expected::Violated))
}

/// The timing whose counterexample shows the scenario's own fault (`docs/design.md`, *Scenarios and timing*).
pub fn timing_for(scenario: &Scenario, property: Invariant) -> Timing {
    match scenario.expected(Timing::Sync, property) {
        Expected::Violated => Timing::Sync,
        _ => Timing::Async,
    }
}

/// Checks the scenario's cell and renders the counterexample of `property`.
pub fn counterexample(name: &str, property: Option<Invariant>, timing: Option<Timing>) -> Result<Counterexample, String> {
    let scenario = find(name).ok_or_else(|| format!("no scenario named {name:?} (cargo run --bin check -- list)"))?;
    let property = match property {
        Some(p) => p,
        None => default_property(scenario).ok_or_else(|| format!("the model finds no violation in {name}: nothing to replay"))?,
    };
    let timing = timing.unwrap_or_else(|| timing_for(scenario, property));
    let cell = check_scenario(scenario, timing, SearchOptions { threads: 1, ..SearchOptions::default() });
    let (setup, trace) = counterexample_trace(&cell, property)
        .ok_or_else(|| format!("the model has no counterexample of {property} in {name} ({timing})"))?;
    Ok(Counterexample { scenario, timing, property, setup, trace })
}
