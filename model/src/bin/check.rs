//! `check`: model-checks the named scenarios of the Redlock debate.
//!
//! With no subcommand it checks every scenario in both timing modes and prints the verdict
//! matrix, then each violation's shortest counterexample as a timeline with its Explorer link.
//! The exit status is non-zero when a verdict differs from the scenario's recorded expectation.

use clap::{Args, Parser, Subcommand, ValueEnum};

// Model checking allocates and frees small states all the time: mimalloc is much faster at it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use redlock_model::check::{check, SearchOptions};
use redlock_model::report::{counterexample_text, markdown_table, matrix_header, matrix_row, records, surprises, RecordIn};
use redlock_model::scenario::{Scenario, SCENARIOS};
use redlock_model::setup::{Setup, Timing};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "check", about = "Model-checks the Redlock debate, scenario by scenario", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    search: SearchArgs,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios with their claims.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check one scenario.
    Run {
        /// The scenario's name (see `check list`).
        scenario: String,
        #[command(flatten)]
        overrides: Overrides,
        #[command(flatten)]
        search: SearchArgs,
    },
    /// Render `check --json` output (read on stdin) as the README's markdown verdict matrix.
    Table,
    /// Audit recorded histories (NDJSON from the client's recorder; `-` reads stdin) with the
    /// same judge as the model. Several files of one machine are merged by their stamps.
    History {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Measure the checker: every scenario's whole space by DFS with and without symmetry and
    /// by BFS (each run in a child process for its peak memory); `--scaling` instead measures
    /// how the canonical space grows with servers, clients, attempts and TTL, and draws a plot.
    /// Ends with Stateright against TLC on the TLA+ models whose space is the Rust cell's (needs
    /// the TLC that tla/check.sh installs).
    Bench {
        /// Seconds each run may take before it counts as incomplete.
        #[arg(long, default_value_t = 10)]
        run_budget: u64,
        /// Measure growth instead, and write the plot (SVG) to this file.
        #[arg(long, value_name = "PLOT.svg")]
        scaling: Option<std::path::PathBuf>,
        /// Only these scenarios (default: all).
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
    },
    /// One measurement of `check bench`, in this process (prints one JSON object).
    #[command(hide = true)]
    BenchRun {
        scenario: String,
        #[arg(long)]
        search: String,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Serve the Stateright Explorer on a scenario's counterexample.
    Explore {
        scenario: String,
        #[command(flatten)]
        overrides: Overrides,
        /// Address to serve on (loopback).
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
    },
}

#[derive(Args, Clone)]
struct SearchArgs {
    /// Print NDJSON, one object per scenario, timing and property.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds each cell may search before its verdicts are `incomplete`.
    #[arg(long, default_value_t = 30, global = true)]
    budget: u64,
    /// Checker threads.
    #[arg(long, default_value_t = 2, global = true)]
    threads: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TimingArg {
    Sync,
    Async,
}

#[derive(Args, Clone)]
struct Overrides {
    /// Timing mode (default: both for `run`, async for `explore`).
    #[arg(long, value_enum)]
    timing: Option<TimingArg>,
    /// Lock servers.
    #[arg(long)]
    servers: Option<u8>,
    /// Clients.
    #[arg(long)]
    clients: Option<u8>,
    /// Key TTL in ticks.
    #[arg(long)]
    ttl: Option<u8>,
    /// Acquire attempts per client (1 + retries).
    #[arg(long)]
    attempts: Option<u8>,
    /// The client's drift allowance in ticks.
    #[arg(long)]
    drift: Option<u8>,
    /// Sync clock bound: a server measures a TTL within ±skew ticks.
    #[arg(long)]
    skew: Option<u8>,
    /// Sync delay bound: a message arrives within this many ticks.
    #[arg(long)]
    delay: Option<u8>,
}

impl Overrides {
    fn timings(&self, default: &[Timing]) -> Vec<Timing> {
        match self.timing {
            Some(TimingArg::Sync) => vec![Timing::Sync],
            Some(TimingArg::Async) => vec![Timing::Async],
            None => default.to_vec(),
        }
    }

    fn apply(&self, mut s: Setup) -> Result<Setup, String> {
        s.servers = self.servers.unwrap_or(s.servers);
        s.clients = self.clients.unwrap_or(s.clients);
        s.ttl = self.ttl.unwrap_or(s.ttl);
        s.attempts = self.attempts.unwrap_or(s.attempts);
        s.drift = self.drift.unwrap_or(s.drift);
        if let Some(delay) = self.delay {
            if s.bounds.delay.is_none() {
                return Err(format!("--delay applies to bounded delays; the {} cell of {} has none", s.timing, s.scenario));
            }
            s.bounds.delay = Some(delay);
        }
        if let Some(skew) = self.skew {
            if s.bounds.skew.is_none() {
                return Err(format!("--skew applies to bounded clocks; the {} cell of {} has none", s.timing, s.scenario));
            }
            s.bounds.skew = Some(skew);
        }
        s.validate()?;
        Ok(s)
    }
}

fn scenario(name: &str) -> Result<&'static Scenario, String> {
    redlock_model::scenario::find(name).ok_or_else(|| {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        format!("no scenario named {name:?}; the scenarios are: {}", names.join(", "))
    })
}

fn options(search: &SearchArgs) -> Result<SearchOptions, String> {
    if search.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    if search.budget == 0 {
        return Err("--budget must be at least 1 second".into());
    }
    Ok(SearchOptions { budget: Duration::from_secs(search.budget), threads: search.threads })
}

/// Checks cells, prints them, and says whether all matched their expectations.
fn check_cells(cells: Vec<(&'static Scenario, Setup)>, search: &SearchArgs) -> Result<bool, String> {
    let opts = options(search)?;
    let started = Instant::now();
    let mut results = Vec::new();
    if !search.json {
        println!("{}", matrix_header());
    }
    for (scenario, setup) in cells {
        let cell = check(scenario, setup, opts);
        if search.json {
            for r in records(&cell) {
                println!("{}", serde_json::to_string(&r).expect("records serialize"));
            }
        } else {
            println!("{}", matrix_row(&cell));
        }
        results.push((scenario, cell));
    }
    let surprises: Vec<String> = results.iter().flat_map(|(_, c)| surprises(c)).collect();
    if !search.json {
        println!(
            "\n{} cells in {:.1} s. `!` marks a verdict that differs from the scenario's expectation, `?` a cell the literature leaves open.",
            results.len(),
            started.elapsed().as_secs_f64()
        );
        for (scenario, cell) in &results {
            print!("{}", counterexample_text(scenario, cell, "http://127.0.0.1:3000"));
        }
        if !surprises.is_empty() {
            println!("\nDifferences from the recorded expectations:");
            for s in &surprises {
                println!("  {s}");
            }
        }
    }
    for s in &surprises {
        eprintln!("unexpected: {s}");
    }
    Ok(surprises.is_empty())
}

fn run(cli: Cli) -> Result<bool, String> {
    match cli.command {
        None => {
            let cells = SCENARIOS.iter().flat_map(|sc| Timing::BOTH.map(|t| (sc, sc.setup(t)))).collect();
            check_cells(cells, &cli.search)
        }
        Some(Command::List { json }) => {
            for sc in SCENARIOS {
                if json || cli.search.json {
                    let expected: Vec<_> = sc
                        .expected
                        .iter()
                        .map(|(i, s, a)| serde_json::json!({"property": i.name(), "sync": s, "async": a}))
                        .collect();
                    let line = serde_json::json!({"scenario": sc.name, "claim": sc.claim, "source": sc.source, "expected": expected});
                    println!("{line}");
                } else {
                    println!("{:<26} {}", sc.name, sc.claim);
                }
            }
            Ok(true)
        }
        Some(Command::Run { scenario: name, overrides, search }) => {
            let sc = scenario(&name)?;
            let cells = overrides
                .timings(&Timing::BOTH)
                .into_iter()
                .map(|t| overrides.apply(sc.setup(t)).map(|s| (sc, s)))
                .collect::<Result<Vec<_>, _>>()?;
            check_cells(cells, &search)
        }
        Some(Command::Bench { run_budget, scaling, scenarios }) => {
            let opts = options(&cli.search)?;
            let budget = Duration::from_secs(run_budget.max(1));
            match scaling {
                Some(plot) => {
                    let redlock = scenario("redlock")?;
                    let rows = redlock_model::bench::scaling(redlock, opts.threads, budget, |axis, r| {
                        eprintln!("{axis}: {} servers, {} clients, {} attempts, TTL {}: {} states in {:.2} s", r.servers, r.clients, r.attempts, r.ttl, r.unique_states, r.seconds)
                    })?;
                    std::fs::write(&plot, redlock_model::bench::scaling_plot(&rows)?)
                        .map_err(|e| format!("cannot write {}: {e}", plot.display()))?;
                    if cli.search.json {
                        for (axis, r) in &rows {
                            println!("{}", serde_json::json!({"varied": axis, "run": r}));
                        }
                    } else {
                        print!("{}", redlock_model::bench::scaling_table(&rows));
                        println!("\nplot: {}", plot.display());
                    }
                }
                None => {
                    let selected: Vec<&'static Scenario> = if scenarios.is_empty() {
                        SCENARIOS.iter().collect()
                    } else {
                        scenarios.iter().map(|n| scenario(n)).collect::<Result<_, _>>()?
                    };
                    let mut rows = Vec::new();
                    for sc in selected {
                        rows.extend(redlock_model::bench::matrix(sc, opts.threads, budget, |r| {
                            if cli.search.json {
                                println!("{}", serde_json::to_string(r).expect("rows serialize"));
                            } else {
                                eprintln!("{} {} {}: {} states, {:.0} states/s", r.scenario, r.timing, r.search.name(), r.unique_states, r.states_per_second);
                            }
                        })?);
                    }
                    if !cli.search.json {
                        print!("{}", redlock_model::bench::matrix_table(&rows));
                    }
                    // Last: Stateright against TLC on the same spaces, the larger last.
                    let jar = redlock_model::bench::tla2tools_jar()?;
                    let mut races = Vec::new();
                    for config in redlock_model::bench::TLC_MODELS {
                        let race = redlock_model::bench::race_tlc(config, &jar, budget.max(Duration::from_secs(60)))?;
                        if cli.search.json {
                            println!("{}", serde_json::json!({ "tlc": race }));
                        }
                        races.push(race);
                    }
                    if !cli.search.json {
                        print!("\n{}", redlock_model::bench::tlc_table(&races));
                    }
                }
            }
            Ok(true)
        }
        Some(Command::BenchRun { scenario: name, search, overrides }) => {
            let sc = scenario(&name)?;
            let search = redlock_model::bench::Search::from_name(&search).ok_or_else(|| format!("--search {search}: dfs-symmetry, dfs or bfs"))?;
            let timing = overrides.timings(&[Timing::Sync])[0];
            let setup = overrides.apply(sc.setup(timing))?;
            let opts = options(&cli.search)?;
            let row = redlock_model::bench::measure(setup, search, opts.threads, opts.budget);
            println!("{}", serde_json::to_string(&row).expect("rows serialize"));
            Ok(true)
        }
        Some(Command::History { files, json }) => redlock_model::audit::run(&files, json || cli.search.json),
        Some(Command::Table) => {
            let mut records = Vec::new();
            for (n, line) in std::io::stdin().lines().enumerate() {
                let line = line.map_err(|e| format!("reading stdin: {e}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let record: RecordIn = serde_json::from_str(&line)
                    .map_err(|e| format!("line {}: not a `check --json` record: {e}", n + 1))?;
                records.push(record);
            }
            if records.is_empty() {
                return Err("no records on stdin: pipe `check --json` into `check table`".into());
            }
            print!("{}", markdown_table(&records));
            Ok(true)
        }
        Some(Command::Explore { scenario: name, overrides, addr }) => {
            let sc = scenario(&name)?;
            let timing = overrides.timings(&[Timing::Async])[0];
            let setup = overrides.apply(sc.setup(timing))?;
            redlock_model::explore::serve(sc, setup, &addr, options(&cli.search)?, cli.search.json)?;
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of our output goes away (`| head`).
    // SAFETY: setting a signal's disposition to its default at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
