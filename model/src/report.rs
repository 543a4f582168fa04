//! What `check` prints: the verdict matrix, the counterexamples as timelines, and the NDJSON
//! records (one per scenario, timing and property; the format is documented in the README).

use crate::check::{CellResult, Cut, Verdict};
use crate::scenario::{Expected, Scenario};
use crate::setup::{Hazards, Setup};
use crate::system::LockSystem;
use crate::trace::{render, Step, Trace};
use redlock_client::judge::Invariant;
use serde::Serialize;
use std::fmt::Write;

/// The parameters of a setup that a reader needs to know.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub servers: u8,
    pub clients: u8,
    pub attempts: u8,
    pub ttl: u8,
    pub drift: u8,
    pub skew: Option<u8>,
    pub pause_bound: Option<u8>,
    /// The message delay bound in ticks (`None`: unbounded).
    pub delay: Option<u8>,
    /// The holder writes only while more validity than this is left (ticks).
    pub write_margin: u8,
    /// The client's per-node timeout (ticks).
    pub node_timeout: u8,
}

impl From<&Setup> for Parameters {
    fn from(s: &Setup) -> Parameters {
        Parameters {
            servers: s.servers,
            clients: s.clients,
            attempts: s.attempts,
            ttl: s.ttl,
            drift: s.drift,
            skew: s.bounds.skew,
            pause_bound: s.bounds.pause,
            delay: s.bounds.delay,
            write_margin: s.write_margin,
            node_timeout: s.node_timeout,
        }
    }
}

/// One NDJSON line: one property of one scenario in one timing mode.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: &'static str,
    /// `sync`, `async`, or the hazards lifted (`N`, `P,C`) for a cell that lifts some.
    pub timing: String,
    /// The hazards the cell was asked to lift: `[]` for sync, `["N", "P", "C"]` for async.
    pub lifted: Hazards,
    /// The hazards the cell leaves unbounded: what it lifts, as far as the scenario lifts them,
    /// and any it leaves unbounded in both modes.
    pub unbounded: Hazards,
    pub property: &'static str,
    /// `invariant` (an `Always` property of the judge) or `witness` (a `Sometimes` property
    /// that shows the invariants were not passed vacuously; `holds` means an example exists).
    pub kind: &'static str,
    pub expected: Expected,
    pub verdict: Verdict,
    pub unique_states: usize,
    pub states: usize,
    pub seconds: f64,
    /// What stopped the search before it decided this cell (`states`: the state budget, the
    /// same on every run; `time`: the wall-clock limit); `null` when nothing did.
    pub cut: Option<Cut>,
    pub config: Parameters,
    /// The setup the counterexample runs in, when it is smaller than `config`.
    pub counterexample_config: Option<Parameters>,
    pub explorer_path: Option<String>,
    pub trace: Vec<String>,
    pub steps: Vec<Step>,
}

/// The rendered counterexample of one invariant, if it has one.
pub fn counterexample_trace(cell: &CellResult, invariant: Invariant) -> Option<(Setup, Trace)> {
    let r = cell.invariants.iter().find(|r| r.invariant == invariant)?;
    let cx = r.counterexample.as_ref()?;
    let trace = render(&LockSystem::new(cx.setup.clone()), &cx.actions);
    Some((cx.setup.clone(), trace))
}

/// The NDJSON records of one cell.
pub fn rows(cell: &CellResult) -> Vec<Row> {
    let setup = &cell.setup;
    let base = |property: &'static str, kind: &'static str, expected, verdict| Row {
        scenario: setup.scenario,
        timing: setup.lifted.to_string(),
        lifted: setup.lifted,
        unbounded: setup.unbounded(),
        property,
        kind,
        expected,
        verdict,
        unique_states: cell.unique_states,
        states: cell.states,
        seconds: cell.seconds,
        cut: cell.cut,
        config: Parameters::from(setup),
        counterexample_config: None,
        explorer_path: None,
        trace: Vec::new(),
        steps: Vec::new(),
    };
    let mut out = Vec::new();
    for r in &cell.invariants {
        let mut record = base(r.invariant.name(), "invariant", r.expected, r.verdict);
        if let Some((cx_setup, trace)) = counterexample_trace(cell, r.invariant) {
            if cx_setup != *setup {
                record.counterexample_config = Some(Parameters::from(&cx_setup));
            }
            record.explorer_path = Some(trace.explorer_path);
            record.trace = trace.lines;
            record.steps = trace.steps;
        }
        out.push(record);
    }
    for w in &cell.witnesses {
        let verdict = match w.found {
            Some(true) => Verdict::Holds,
            Some(false) => Verdict::Violated,
            None => Verdict::Incomplete,
        };
        out.push(base(w.name, "witness", Expected::Holds, verdict));
    }
    out
}

/// Whether a cell contradicts its expectations (an invariant's verdict, or a witness that was
/// never found: a vacuous pass).
pub fn surprises(cell: &CellResult) -> Vec<String> {
    let mut out = Vec::new();
    let why = match cell.cut {
        Some(Cut::States) => " (the state budget ran out: raise --max-states)",
        Some(Cut::Time) => " (the time limit ran out: raise or drop --time-limit)",
        None => "",
    };
    for r in &cell.invariants {
        if r.verdict.contradicts(r.expected) {
            out.push(format!(
                "{} {} {}: expected {}, found {}{}",
                cell.setup.scenario,
                cell.setup.lifted,
                r.invariant,
                r.expected,
                r.verdict,
                if r.verdict == Verdict::Incomplete { why } else { "" }
            ));
        }
    }
    for w in &cell.witnesses {
        if w.found != Some(true) {
            out.push(format!(
                "{} {} witness {} ({}) was {}",
                cell.setup.scenario,
                cell.setup.lifted,
                w.name,
                w.meaning,
                if w.found == Some(false) { "never found: the invariants pass vacuously" } else { "not found in the budget" }
            ));
        }
    }
    out
}

/// The header of the verdict matrix.
pub fn matrix_header() -> String {
    let mut line = format!("{:<26} {:<6} {:>10} {:>7}", "scenario", "timing", "states", "seconds");
    for inv in Invariant::ALL {
        let _ = write!(line, "  {:<21}", inv.name());
    }
    line.push_str("  witnesses");
    line
}

/// One row of the verdict matrix; an unexpected verdict is marked with `!`.
pub fn matrix_row(cell: &CellResult) -> String {
    let setup = &cell.setup;
    let mut line = format!("{:<26} {:<6} {:>10} {:>7.2}", setup.scenario, setup.lifted.to_string(), cell.unique_states, cell.seconds);
    for inv in Invariant::ALL {
        let cellv = match cell.invariants.iter().find(|r| r.invariant == inv) {
            None => "-".to_string(),
            Some(r) => {
                let v = match r.verdict {
                    Verdict::Holds => "holds".to_string(),
                    Verdict::Violated => "VIOLATED".to_string(),
                    Verdict::Incomplete => "incomplete".to_string(),
                };
                let mark = if r.verdict.contradicts(r.expected) { "!" } else { "" };
                let undecided = if r.expected == Expected::Undecided { "?" } else { "" };
                format!("{v}{mark}{undecided}")
            }
        };
        let _ = write!(line, "  {cellv:<21}");
    }
    let found = cell.witnesses.iter().filter(|w| w.found == Some(true)).count();
    let _ = write!(line, "  {found}/{}", cell.witnesses.len());
    line
}

/// The flags that turn the scenario's `preset` into `setup`: what the Explorer needs to be
/// given to show the same counterexample.
fn override_flags(preset: &Setup, setup: &Setup) -> String {
    let number = |flag: &str, preset: u8, actual: u8| (preset != actual).then(|| format!(" --{flag} {actual}"));
    let bound = |flag: &str, preset: Option<u8>, actual: Option<u8>| match actual {
        Some(b) if preset != actual => Some(format!(" --{flag} {b}")),
        _ => None,
    };
    [
        number("servers", preset.servers, setup.servers),
        number("clients", preset.clients, setup.clients),
        number("ttl", preset.ttl, setup.ttl),
        number("attempts", preset.attempts, setup.attempts),
        number("drift", preset.drift, setup.drift),
        bound("skew", preset.bounds.skew, setup.bounds.skew),
        bound("delay", preset.bounds.delay, setup.bounds.delay),
        bound("pause-bound", preset.bounds.pause, setup.bounds.pause),
        number("write-margin", preset.write_margin, setup.write_margin),
        number("node-timeout", preset.node_timeout, setup.node_timeout),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The counterexamples of a cell as readable text, with their Explorer links.
pub fn counterexample_text(scenario: &Scenario, cell: &CellResult, explorer_base: &str) -> String {
    let mut out = String::new();
    // A path that breaks several invariants at once is printed once, under the first of them.
    let mut printed: Vec<(Vec<String>, Invariant)> = Vec::new();
    for r in &cell.invariants {
        let Some((cx_setup, trace)) = counterexample_trace(cell, r.invariant) else { continue };
        if let Some((_, first)) = printed.iter().find(|(lines, _)| *lines == trace.lines) {
            let _ = writeln!(
                out,
                "\n== {} ({}) violates {} too: the counterexample above ({first})",
                scenario.name, cell.setup.timing, r.invariant
            );
            continue;
        }
        printed.push((trace.lines.clone(), r.invariant));
        let _ = writeln!(
            out,
            "\n== {} ({}) violates {}: {} counterexample, {} steps{}",
            scenario.name,
            cell.setup.timing,
            r.invariant,
            if r.counterexample.as_ref().is_some_and(|c| c.shortest) { "shortest" } else { "a shortened" },
            trace.steps.len(),
            if cx_setup.servers != cell.setup.servers {
                format!(" (from the {}-server configuration)", cx_setup.servers)
            } else {
                String::new()
            }
        );
        for line in &trace.lines {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "   Explorer: {explorer_base}{}  (serve it with: cargo run --bin check -- explore {} {}{}{})",
            trace.explorer_path,
            scenario.name,
            cell.setup.lifted.flag(),
            override_flags(&scenario.setup_lifted(cell.setup.lifted), &cx_setup),
            if cx_setup.servers > 3 { " --full-size" } else { "" }
        );
    }
    out
}

/// A record read back from `check --json` (the fields the README's table needs).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct RowIn {
    pub scenario: String,
    pub timing: String,
    pub property: String,
    pub kind: String,
    pub verdict: String,
    pub expected: String,
    /// The hazards the cell leaves unbounded (letters).
    pub unbounded: Vec<String>,
}

/// The README's verdict matrix, rendered from `check --json` records: one row per scenario,
/// one column per invariant, `sync / async` in each cell. A verdict that differs from the
/// recorded expectation is marked `(!)`, a cell the literature leaves open `(model)`.
pub fn markdown_table(records: &[RowIn]) -> String {
    let mut out = String::from("| scenario |");
    for inv in Invariant::ALL {
        let _ = write!(out, " {} |", inv.name());
    }
    out.push_str("\n|---|");
    for _ in Invariant::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    let mut scenarios: Vec<&str> = Vec::new();
    for r in records {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    for scenario in scenarios {
        let _ = write!(out, "| `{scenario}` |");
        for inv in Invariant::ALL {
            let cell = |timing: &str| {
                records
                    .iter()
                    .find(|r| r.scenario == scenario && r.timing == timing && r.kind == "invariant" && r.property == inv.name())
                    .map(|r| {
                        let verdict = if r.verdict == "violated" { "**violated**".to_string() } else { r.verdict.clone() };
                        let mark = if r.expected == "undecided" {
                            " (model)"
                        } else if r.expected != r.verdict {
                            " (!)"
                        } else {
                            ""
                        };
                        format!("{verdict}{mark}")
                    })
            };
            match (cell("sync"), cell("async")) {
                (None, None) => out.push_str(" |"),
                (s, a) => {
                    let _ = write!(out, " {} / {} |", s.unwrap_or_else(|| "-".into()), a.unwrap_or_else(|| "-".into()));
                }
            }
        }
        out.push('\n');
    }
    out
}
