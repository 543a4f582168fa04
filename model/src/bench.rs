//! `check bench`: how fast the checker explores each scenario's whole state space, by search
//! (depth first with and without symmetry, breadth first), and how the space grows with the
//! parameters.
//!
//! Each measurement runs in a child process of its own (`check bench-run ...`), so that its peak
//! memory is its own (`getrusage` in the child). A run explores the whole space (it does not
//! stop at discoveries) within its budget; `complete: false` says the budget ran out first.
//!
//! Last, it races TLC: on the TLA+ models of `tla/` whose space is the Rust cell's state for
//! state ([`TLC_MODELS`]), distinct states per second of Stateright's breadth-first search
//! (one thread, no symmetry) against TLC's (one worker), each on the same whole space.

use crate::scenario::Scenario;
use crate::setup::{Setup, Timing};
use crate::system::{LockSystem, WHOLE_SPACE};
use serde::{Deserialize, Serialize};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// How a run searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Search {
    DfsSymmetry,
    Dfs,
    Bfs,
}

impl Search {
    pub const ALL: [Search; 3] = [Search::DfsSymmetry, Search::Dfs, Search::Bfs];

    pub fn name(self) -> &'static str {
        match self {
            Search::DfsSymmetry => "dfs-symmetry",
            Search::Dfs => "dfs",
            Search::Bfs => "bfs",
        }
    }

    pub fn from_name(name: &str) -> Option<Search> {
        Search::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One measurement (one NDJSON line of `check bench --json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub scenario: String,
    pub timing: String,
    pub search: Search,
    pub unique_states: usize,
    pub states: usize,
    pub seconds: f64,
    pub states_per_second: f64,
    pub peak_rss_bytes: u64,
    /// The whole space was explored within the budget.
    pub complete: bool,
    /// Servers, clients, attempts, TTL of the run.
    pub servers: u8,
    pub clients: u8,
    pub attempts: u8,
    pub ttl: u8,
}

/// Explores `setup`'s whole space with `search` (in this process) and measures it.
pub fn measure(setup: Setup, search: Search, threads: usize, budget: Duration) -> Row {
    let (servers, clients, attempts, ttl) = (setup.servers, setup.clients, setup.attempts, setup.ttl);
    let (scenario, timing) = (setup.scenario.to_string(), setup.timing.name().to_string());
    let symmetry = crate::symmetry::for_setup(&setup);
    let model = LockSystem { whole_space: true, ..LockSystem::new(setup) };
    let never = BTreeSet::from([WHOLE_SPACE]);
    let start = Instant::now();
    let mut builder = model.checker().threads(threads).timeout(budget).finish_when(HasDiscoveries::AllOf(never));
    if search == Search::DfsSymmetry {
        builder = builder.symmetry_fn(symmetry);
    }
    let (unique, states, done) = match search {
        Search::Bfs => {
            let c = builder.spawn_bfs().join();
            (c.unique_state_count(), c.state_count(), c.is_done())
        }
        _ => {
            let c = builder.spawn_dfs().join();
            (c.unique_state_count(), c.state_count(), c.is_done())
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    Row {
        scenario,
        timing,
        search,
        unique_states: unique,
        states,
        seconds,
        states_per_second: states as f64 / seconds.max(1e-9),
        peak_rss_bytes: peak_rss_bytes(),
        complete: done && start.elapsed() < budget,
        servers,
        clients,
        attempts,
        ttl,
    }
}

/// This process's peak resident memory.
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss as u64 * 1024
}

/// Runs one measurement in a child process (`check bench-run`), for its own peak memory.
pub fn measure_in_child(setup: &Setup, search: Search, threads: usize, budget: Duration) -> Result<Row, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .arg("bench-run")
        .arg(setup.scenario)
        .args(["--timing", setup.timing.name(), "--search", search.name()])
        .args(["--servers", &setup.servers.to_string(), "--clients", &setup.clients.to_string()])
        .args(["--attempts", &setup.attempts.to_string(), "--ttl", &setup.ttl.to_string()])
        .args(["--threads", &threads.to_string(), "--budget", &budget.as_secs().to_string()])
        .output()
        .map_err(|e| format!("cannot run a measurement: {e}"))?;
    if !out.status.success() {
        return Err(format!("a measurement failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("a measurement printed no result: {e}"))
}

/// A scenario's two cells, by every search.
pub fn matrix(scenario: &Scenario, threads: usize, budget: Duration, mut each: impl FnMut(&Row)) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for timing in Timing::BOTH {
        for search in Search::ALL {
            let row = measure_in_child(&scenario.setup(timing), search, threads, budget)?;
            each(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// How the canonical `redlock` sync space grows: servers, clients, attempts and TTL, one at a
/// time from 3 servers, 2 clients, 1 attempt, TTL 4 (depth first with symmetry).
pub fn scaling(
    redlock: &Scenario,
    threads: usize,
    budget: Duration,
    mut each: impl FnMut(&str, &Row),
) -> Result<Vec<(String, Row)>, String> {
    let base = Setup { servers: 3, ..redlock.setup(Timing::Sync) };
    let mut runs: Vec<(&str, Setup)> = Vec::new();
    for servers in [1, 3, 5, 7] {
        runs.push(("servers", Setup { servers, ..base.clone() }));
    }
    for clients in [2, 3, 4] {
        runs.push(("clients", Setup { clients, ..base.clone() }));
    }
    for attempts in [1, 2, 3] {
        runs.push(("attempts", Setup { attempts, ..base.clone() }));
    }
    for ttl in [3, 4, 6, 8] {
        runs.push(("ttl", Setup { ttl, ..base.clone() }));
    }
    let mut out = Vec::new();
    for (axis, setup) in runs {
        let row = measure_in_child(&setup, Search::DfsSymmetry, threads, budget)?;
        each(axis, &row);
        out.push((axis.to_string(), row));
    }
    Ok(out)
}

/// The scaling runs as a markdown table.
pub fn scaling_table(rows: &[(String, Row)]) -> String {
    let mut out = String::from(
        "| varied | servers | clients | attempts | TTL | unique states | seconds | complete |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (axis, r) in rows {
        let _ = writeln!(
            out,
            "| {axis} | {} | {} | {} | {} | {} | {:.2} | {} |",
            r.servers,
            r.clients,
            r.attempts,
            r.ttl,
            r.unique_states,
            r.seconds,
            if r.complete { "yes" } else { "no (budget)" }
        );
    }
    out
}

/// The scaling runs as an SVG plot: unique states (log scale) against the varied parameter,
/// one line per parameter.
pub fn scaling_plot(rows: &[(String, Row)]) -> Result<String, String> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = rows.iter().map(|(_, r)| r.unique_states).max().unwrap_or(10).max(10) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("redlock, sync: unique states as one parameter grows (DFS with symmetry)", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..9f64, (10f64..max * 2.0).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc("value of the varied parameter")
            .y_desc("unique states")
            .draw()
            .map_err(|e| e.to_string())?;
        let colours = [RED, BLUE, GREEN, MAGENTA];
        for (i, axis) in ["servers", "clients", "attempts", "ttl"].into_iter().enumerate() {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|(a, r)| a == axis && r.complete)
                .map(|(_, r)| {
                    let x = match axis {
                        "servers" => r.servers,
                        "clients" => r.clients,
                        "attempts" => r.attempts,
                        _ => r.ttl,
                    };
                    (x as f64, r.unique_states.max(10) as f64)
                })
                .collect();
            let colour = colours[i];
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(axis)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled()))).map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The bench's rows as a markdown table.
pub fn matrix_table(rows: &[Row]) -> String {
    let mut out = String::from("| scenario | timing | search | unique states | states | seconds | states/s | peak RSS (MB) | complete |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {} |",
            r.scenario,
            r.timing,
            r.search.name(),
            r.unique_states,
            r.states,
            r.seconds,
            r.states_per_second,
            r.peak_rss_bytes as f64 / 1e6,
            if r.complete { "yes" } else { "no" }
        );
    }
    out
}

/// The TLC models whose state space is the Rust cell's, state for state (`tla/README.md`), on
/// which `check bench` races TLC, the larger last.
pub const TLC_MODELS: [&str; 2] = ["MCRedlockN3Sync", "MCRedlockClockJumpSync"];

/// Stateright against TLC on one state space (the last lines of `check bench --json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TlcRace {
    /// The TLC model (`tla/<config>.tla` with `tla/<config>.cfg`).
    pub config: String,
    pub scenario: String,
    pub timing: String,
    /// Distinct states of the whole space (the same on both sides, or there is no race).
    pub distinct_states: usize,
    /// Stateright's breadth-first search without symmetry, one thread.
    pub stateright_seconds: f64,
    pub stateright_states_per_second: f64,
    /// TLC with one worker; the wall time of its process, JVM start and parsing included.
    pub tlc_seconds: f64,
    pub tlc_states_per_second: f64,
    /// Stateright's distinct states per second over TLC's.
    pub ratio: f64,
}

/// The TLA+ directory of this workspace.
fn tla_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tla")
}

/// TLC's jar: `$TLA2TOOLS_JAR`, or the one `tla/check.sh` installed under `target/tla-venv`.
pub fn tla2tools_jar() -> Result<std::path::PathBuf, String> {
    if let Some(jar) = std::env::var_os("TLA2TOOLS_JAR") {
        return Ok(jar.into());
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tla-venv");
    let mut dirs = vec![venv.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "tla2tools.jar") {
                return Ok(path);
            }
        }
    }
    Err(format!(
        "TLC is not installed ({} has no tla2tools.jar): run tla/check.sh first, which installs it, \
         or set TLA2TOOLS_JAR; no TLC numbers without TLC",
        venv.display()
    ))
}

/// Explores `config`'s space with TLC (one worker, in a temporary directory) and with
/// Stateright (breadth first, no symmetry, one thread, in a child process), and compares.
pub fn race_tlc(config: &str, jar: &std::path::Path, budget: Duration) -> Result<TlcRace, String> {
    #[derive(Deserialize)]
    struct Entry {
        cfg: String,
        scenario: String,
        timing: String,
        expect: String,
    }
    let manifest = std::fs::read_to_string(tla_dir().join("manifest.json")).map_err(|e| format!("tla/manifest.json: {e}"))?;
    let entries: Vec<Entry> = serde_json::from_str(&manifest).map_err(|e| format!("tla/manifest.json: {e}"))?;
    let entry =
        entries.into_iter().find(|e| e.cfg == format!("{config}.cfg")).ok_or_else(|| format!("{config} is not in tla/manifest.json"))?;
    if entry.expect != "success" {
        return Err(format!("{config}: TLC stops at a violation, so it cannot race on the whole space"));
    }
    let scenario = crate::scenario::find(&entry.scenario).ok_or_else(|| format!("{config}: no scenario {}", entry.scenario))?;
    let timing = Timing::BOTH.into_iter().find(|t| t.name() == entry.timing).ok_or_else(|| format!("{config}: timing {}", entry.timing))?;

    let work = std::env::temp_dir().join(format!("redlock-tlc-{}-{config}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    for file in ["Redlock.tla".to_string(), format!("{config}.tla"), format!("{config}.cfg")] {
        std::fs::copy(tla_dir().join(&file), work.join(&file)).map_err(|e| format!("tla/{file}: {e}"))?;
    }
    let start = Instant::now();
    let out = std::process::Command::new("java")
        .args(["-XX:+UseParallelGC", "-cp"])
        .arg(jar)
        .args(["tlc2.TLC", "-deadlock", "-workers", "1", "-metadir"])
        .arg(work.join("states"))
        .args(["-config", &format!("{config}.cfg"), &format!("{config}.tla")])
        .current_dir(&work)
        .output();
    let tlc_seconds = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&work);
    let out = out.map_err(|e| format!("cannot run java (apt-get install default-jre-headless): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("Model checking completed. No error has been found.") {
        return Err(format!("TLC did not finish {config} cleanly:\n{text}"));
    }
    // The final count (progress lines before it print partial counts, with commas).
    let tlc_states: usize = text
        .lines()
        .rfind(|l| l.contains(" distinct states found"))
        .and_then(|l| l.split(" distinct states found").next())
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .ok_or_else(|| format!("TLC printed no count of distinct states for {config}"))?;

    let row = measure_in_child(&scenario.setup(timing), Search::Bfs, 1, budget)?;
    if !row.complete || row.unique_states != tlc_states {
        return Err(format!(
            "{config}: Stateright explored {} states{}, TLC {tlc_states}: not the same space",
            row.unique_states,
            if row.complete { "" } else { " (budget ran out)" }
        ));
    }
    let stateright_states_per_second = row.unique_states as f64 / row.seconds.max(1e-9);
    let tlc_states_per_second = tlc_states as f64 / tlc_seconds.max(1e-9);
    Ok(TlcRace {
        config: config.to_string(),
        scenario: entry.scenario,
        timing: entry.timing,
        distinct_states: tlc_states,
        stateright_seconds: row.seconds,
        stateright_states_per_second,
        tlc_seconds,
        tlc_states_per_second,
        ratio: stateright_states_per_second / tlc_states_per_second,
    })
}

/// The races as a markdown table.
pub fn tlc_table(races: &[TlcRace]) -> String {
    let mut out = String::from("| TLC model | distinct states | Stateright s | Stateright states/s | TLC s | TLC states/s | ratio |\n|---|---|---|---|---|---|---|\n");
    for r in races {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.1}x |",
            r.config,
            r.distinct_states,
            r.stateright_seconds,
            r.stateright_states_per_second,
            r.tlc_seconds,
            r.tlc_states_per_second,
            r.ratio
        );
    }
    out
}
