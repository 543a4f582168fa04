//! The `check` command line: parsing and checking every argument ([`parse`]) apart from doing
//! what it asks ([`run`]), so that every argument vector can be tested for a clear error.
//!
//! With no subcommand `check` checks every scenario in both timing modes and prints the verdict
//! matrix, then each violation's shortest counterexample as a timeline with its Explorer link.
//! The exit status is 1 when a verdict differs from the scenario's recorded expectation, 2 on a
//! usage error.

use crate::check::{check_showing_progress, CellResult, SearchOptions};
use crate::report::{counterexample_text, markdown_table, matrix_header, matrix_row, rows, surprises, RowIn};
use crate::scenario::{Scenario, SCENARIOS};
use crate::setup::{Hazards, Setup, Timing};
use crate::{out, outln};
use clap::{Args, Parser, Subcommand, ValueEnum};
use redlock_client::judge::Invariant;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The most checker threads: far more than any machine this runs on has cores.
pub const MAX_THREADS: usize = 256;
/// The longest time limit: one year.
pub const MAX_TIME_LIMIT_SECONDS: u64 = 365 * 24 * 3600;

#[derive(Parser, Debug)]
#[command(name = "check", about = "Model-checks the Redlock debate, scenario by scenario", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    search: SearchArgs,
}

#[derive(Subcommand, Debug)]
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
    /// Render `check --json` output (read on stdin) as the README's markdown verdict matrix, or
    /// with `--npc` as its NPC table (which needs the whole default matrix).
    Table {
        /// The NPC table: each verdict by the hazards lifted (N, P, C).
        #[arg(long)]
        npc: bool,
    },
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
    /// the TLC that tla/check.sh installs). A measurement, not a verdict: its runs are timed.
    Bench {
        /// Seconds each run may take before it counts as incomplete (1 to 86400).
        #[arg(long, default_value_t = 10)]
        run_budget: u64,
        /// Measure growth instead, and write the plot (SVG) to this file.
        #[arg(long, value_name = "PLOT.svg")]
        scaling: Option<PathBuf>,
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
    /// Trace validation: is a recorded history (NDJSON, one lock) a behaviour of the model?
    /// Searches the model, with every hazard lifted, for a path that produces the history's
    /// records in order; prints `accepted`, or the first record no path produces with model
    /// states reached just before it. Exit status 1 unless accepted.
    Validate {
        /// The history (`-` reads stdin).
        file: String,
        /// The scenario whose system the history ran on (default: inferred from the history:
        /// its node count, resource records and tokens, member faults for etcd, a pitfall's records).
        #[arg(long)]
        scenario: Option<String>,
        /// States the search may visit before it answers `undecided`.
        #[arg(long, default_value_t = crate::validate::DEFAULT_MAX_STATES)]
        states: u64,
    },
    /// Is my deployment safe? Describe it in real units (`30s`, `250ms`); the answer, per
    /// property, is holds / violated / holds-if, with the theorem (your numbers plugged in) and
    /// the model cell that decide it, and what would make it hold. Exit status 1 if any
    /// property is violated. `--config FILE` reads these flags from a TOML file instead
    /// (`service = "redlock"`, `ttl = "30s"`, `clock_steps = true`).
    Advise(AdviseArgs),
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

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum ServiceArg {
    /// One Redis server.
    Single,
    /// Redlock on --servers independent Redis servers.
    Redlock,
    /// A Redis primary with --replicas asynchronous replicas and failover (Sentinel, Redisson),
    /// optionally counting a lock after WAIT --wait.
    Replicas,
    /// The etcd lease lock.
    Etcd,
    /// A ZooKeeper lock on the client's session.
    Zookeeper,
    /// A PostgreSQL session-level advisory lock (a token from a sequence: --fencing counter).
    Postgres,
}

#[derive(Args, Clone, Debug)]
struct AdviseArgs {
    /// The lock service.
    #[arg(long, value_enum)]
    service: ServiceArg,
    /// Redlock's servers (default 5).
    #[arg(long)]
    servers: Option<u32>,
    /// The replicas of the primary (replicas service).
    #[arg(long)]
    replicas: Option<u32>,
    /// The replicas WAIT counts before the lock counts (replicas service; default: no WAIT).
    #[arg(long)]
    wait: Option<u32>,
    /// The lock's time to live, with its unit (`30s`); a PostgreSQL advisory lock has none.
    #[arg(long, value_parser = crate::advise::parse_duration_ms)]
    ttl: Option<u64>,
    /// The client's drift allowance (default: the crate's, 1% of the TTL + 2 ms).
    #[arg(long, value_parser = crate::advise::parse_duration_ms)]
    drift_allowance: Option<u64>,
    /// The largest rate error of any clock, clients' and servers', in parts per million
    /// (NTP-disciplined clocks: tens to a few hundred). Undeclared: the answer says what it
    /// must stay under.
    #[arg(long)]
    clock_error_ppm: Option<u64>,
    /// Clocks may step (an NTP step, a manual change, a VM restored).
    #[arg(long)]
    clock_steps: bool,
    /// The longest process pause (GC, swapping, a stopped VM). Undeclared: unbounded.
    #[arg(long, value_parser = crate::advise::parse_duration_ms)]
    max_pause: Option<u64>,
    /// The longest network delay of a request. Undeclared: unbounded.
    #[arg(long, value_parser = crate::advise::parse_duration_ms)]
    max_delay: Option<u64>,
    /// How the Redis servers persist keys (default: none, Redis's own default).
    #[arg(long, value_enum, default_value = "none")]
    persistence: crate::advise::Persistence,
    /// How long a crashed Redis server refuses requests after it restarts.
    #[arg(long, value_parser = crate::advise::parse_duration_ms, default_value = "0ms")]
    restart_delay: u64,
    /// Where fencing tokens come from.
    #[arg(long, value_enum, default_value = "none")]
    fencing: crate::advise::Fencing,
    /// What the lock protects (default: a resource that applies every write without fencing,
    /// one that checks tokens atomically with it).
    #[arg(long, value_enum)]
    resource: Option<crate::advise::Resource>,
    /// The holder writes only while more validity than this is left.
    #[arg(long, value_parser = crate::advise::parse_duration_ms, default_value = "0ms")]
    write_margin: u64,
}

impl AdviseArgs {
    fn deployment(self) -> Result<crate::advise::Deployment, String> {
        use crate::advise::{Deployment, Fencing, Resource, Service};
        let service = match self.service {
            ServiceArg::Redlock => Service::Redlock { servers: self.servers.unwrap_or(5) },
            ServiceArg::Replicas => Service::Replicas {
                replicas: self.replicas.ok_or("--service replicas needs --replicas (how many replicas the primary has)")?,
                wait: self.wait,
            },
            ServiceArg::Single => Service::Single,
            ServiceArg::Etcd => Service::Etcd,
            ServiceArg::Zookeeper => Service::Zookeeper,
            ServiceArg::Postgres => Service::Postgres,
        };
        let ttl = match (self.ttl, self.service) {
            (Some(ttl), _) => ttl,
            // No verdict on an advisory lock reads a TTL (it has none): any valid one will do.
            (None, ServiceArg::Postgres) => 1_000,
            (None, _) => return Err("--ttl is required: the lock's time to live, with its unit (30s)".into()),
        };
        if self.servers.is_some() && self.service != ServiceArg::Redlock {
            return Err("--servers is Redlock's: use it with --service redlock".into());
        }
        if (self.replicas.is_some() || self.wait.is_some()) && self.service != ServiceArg::Replicas {
            return Err("--replicas and --wait describe a primary's replicas: use them with --service replicas".into());
        }
        let resource = match (self.resource, self.fencing) {
            (Some(resource), _) => resource,
            (None, Fencing::None) => Resource::Unfenced,
            (None, _) => Resource::Atomic,
        };
        let deployment = Deployment {
            service,
            ttl_ms: ttl,
            drift_allowance_ms: self.drift_allowance.unwrap_or(Deployment::default_drift_allowance_ms(ttl)),
            clock_error_ppm: self.clock_error_ppm,
            clock_steps: self.clock_steps,
            max_pause_ms: self.max_pause,
            max_delay_ms: self.max_delay,
            persistence: self.persistence,
            restart_delay_ms: self.restart_delay,
            fencing: self.fencing,
            resource,
            write_margin_ms: self.write_margin,
        };
        deployment.validate()?;
        Ok(deployment)
    }
}

#[derive(Args, Clone, Debug)]
struct SearchArgs {
    /// Print NDJSON, one object per scenario, timing and property.
    #[arg(long, global = true)]
    json: bool,
    /// States each cell may visit before its undecided verdicts are `incomplete` (walk steps
    /// and generated states; the same verdicts on every machine).
    #[arg(long, global = true, default_value_t = SearchOptions::DEFAULT_MAX_STATES)]
    max_states: u64,
    /// Also stop each search of a cell after this many seconds (what it stops is `incomplete`,
    /// and then the verdicts depend on the machine's speed). Off by default.
    #[arg(long, global = true, visible_alias = "budget", value_name = "SECONDS")]
    time_limit: Option<u64>,
    /// Checker threads: one cell's searches share them; the default matrix checks this many
    /// scenarios side by side instead, each on one thread.
    #[arg(long, default_value_t = 2, global = true)]
    threads: usize,
    /// Find counterexamples in the cell's own setup (a 5-server cell's, say), not first in a
    /// 3-server one.
    #[arg(long, global = true)]
    full_size: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum TimingArg {
    Sync,
    Async,
}

#[derive(Args, Clone, Debug)]
struct Overrides {
    /// Timing mode (default: both for `run`, async for `explore`; sync when --skew or --delay
    /// is given). `sync` lifts no hazard, `async` all three.
    #[arg(long, value_enum, conflicts_with = "lift")]
    timing: Option<TimingArg>,
    /// The hazards to leave unbounded: a comma-separated subset of N (network delay), P
    /// (process pause) and C (clock drift and jumps), or `none`; the others keep their sync
    /// bounds. `--lift N,P,C` is `--timing async`, `--lift none` is `--timing sync`.
    #[arg(long, value_name = "N,P,C", value_parser = Hazards::parse)]
    lift: Option<Hazards>,
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
    /// Sync clock bound: a server measures a TTL within ±skew ticks (a sync cell's bound).
    #[arg(long)]
    skew: Option<u8>,
    /// Sync delay bound: a message arrives within this many ticks (a sync cell's bound).
    #[arg(long)]
    delay: Option<u8>,
    /// Sync pause bound: a client pause lasts at most this many ticks (a sync cell's bound).
    #[arg(long)]
    pause_bound: Option<u8>,
    /// The holder writes only while more validity is left than this many ticks.
    #[arg(long)]
    write_margin: Option<u8>,
    /// The client's per-node timeout in ticks.
    #[arg(long)]
    node_timeout: Option<u8>,
}

impl Overrides {
    /// The hazards to lift, one cell each: the ones asked for; else none (sync) when a flag
    /// bounds what only sync bounds (`--skew`, `--delay`, `--pause-bound`); else `default`.
    fn hazards(&self, default: &[Hazards]) -> Vec<Hazards> {
        match (self.timing, self.lift) {
            (Some(TimingArg::Sync), _) => vec![Hazards::NONE],
            (Some(TimingArg::Async), _) => vec![Hazards::ALL],
            (None, Some(lifted)) => vec![lifted],
            (None, None) if self.skew.is_some() || self.delay.is_some() || self.pause_bound.is_some() => vec![Hazards::NONE],
            (None, None) => default.to_vec(),
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
                return Err(format!(
                    "--delay bounds message delay, which the {} cell of {} leaves unbounded{}",
                    s.lifted,
                    s.scenario,
                    if s.lifted.delay {
                        ": use it with --timing sync, or a --lift without N"
                    } else {
                        " (its claim is about slow messages)"
                    }
                ));
            }
            s.bounds.delay = Some(delay);
        }
        if let Some(skew) = self.skew {
            if s.bounds.skew.is_none() {
                return Err(format!(
                    "--skew bounds clock rates, which the {} cell of {} leaves unbounded{}",
                    s.lifted,
                    s.scenario,
                    if s.lifted.clock { ": use it with --timing sync, or a --lift without C" } else { "" }
                ));
            }
            s.bounds.skew = Some(skew);
        }
        if let Some(pause) = self.pause_bound {
            if s.pauses == 0 {
                return Err(format!(
                    "--pause-bound bounds process pauses, and no client of {} pauses: it would change nothing",
                    s.scenario
                ));
            }
            if s.bounds.pause.is_none() {
                return Err(format!(
                    "--pause-bound bounds process pauses, which the {} cell of {} leaves unbounded: use it with --timing sync, or a --lift without P",
                    s.lifted, s.scenario
                ));
            }
            if pause == 0 || pause >= s.ttl {
                return Err(format!("--pause-bound {pause} ticks must be at least 1 and below the TTL ({} ticks)", s.ttl));
            }
            s.bounds.pause = Some(pause);
        }
        if let Some(margin) = self.write_margin {
            if margin >= s.ttl {
                return Err(format!("--write-margin {margin} ticks is not below the TTL ({} ticks): no holder could ever write", s.ttl));
            }
            s.write_margin = margin;
        }
        if let Some(timeout) = self.node_timeout {
            if timeout == 0 {
                return Err("--node-timeout 0 ticks is impossible: no reply could ever count".into());
            }
            s.node_timeout = timeout;
        }
        s.validate()?;
        Ok(s)
    }
}

/// A command whose every argument has been checked.
#[derive(Debug)]
pub struct Plan {
    command: Planned,
    json: bool,
    options: SearchOptions,
    /// What the command does differently from what it literally asked (printed on stderr).
    notes: Vec<String>,
}

#[derive(Debug)]
enum Planned {
    /// Every scenario in both timing modes and with each hazard lifted alone ([`crate::npc`]).
    DefaultMatrix,
    Matrix(Vec<(&'static Scenario, Setup)>),
    List {
        json: bool,
    },
    Table {
        npc: bool,
    },
    History {
        files: Vec<String>,
        json: bool,
    },
    Bench {
        run_budget: Duration,
        scaling: Option<PathBuf>,
        scenarios: Vec<&'static Scenario>,
    },
    BenchRun {
        setup: Setup,
        search: crate::bench::Search,
    },
    Explore {
        scenario: &'static Scenario,
        setup: Setup,
        addr: String,
    },
    Validate {
        file: String,
        scenario: Option<&'static str>,
        states: u64,
    },
    Advise(crate::advise::Deployment),
}

fn scenario(name: &str) -> Result<&'static Scenario, String> {
    crate::scenario::find(name).ok_or_else(|| {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        format!("no scenario named {name:?}; the scenarios are: {}", names.join(", "))
    })
}

fn options(search: &SearchArgs) -> Result<SearchOptions, String> {
    if search.threads == 0 || search.threads > MAX_THREADS {
        return Err(format!("--threads must be between 1 and {MAX_THREADS}, not {}", search.threads));
    }
    if search.max_states < 1_000 {
        return Err(format!("--max-states must be at least 1000, not {}", search.max_states));
    }
    let time_limit = match search.time_limit {
        None => None,
        Some(0) => return Err("--time-limit must be at least 1 second".into()),
        Some(s) if s > MAX_TIME_LIMIT_SECONDS => {
            return Err(format!("--time-limit must be at most {MAX_TIME_LIMIT_SECONDS} seconds (a year), not {s}"))
        }
        Some(s) => Some(Duration::from_secs(s)),
    };
    Ok(SearchOptions { max_states: search.max_states, time_limit, threads: search.threads, full_size: search.full_size })
}

/// Parses and checks a command line (`args[0]` is the program's name). Every mistake is an
/// error that says what is wrong; `--help` and `--version` come back as errors too (clap's
/// text, for [`clap::Error::exit`]).
pub fn parse<I, T>(args: I) -> Result<Plan, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(with_config_flags(args)?).map_err(ParseError::Clap)?;
    plan(cli).map_err(ParseError::Invalid)
}

/// `check advise --config FILE`: the file's flags in place of `--config FILE`.
fn with_config_flags<I, T>(args: I) -> Result<Vec<std::ffi::OsString>, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    if args.get(1).is_none_or(|a| a != "advise") {
        return Ok(args);
    }
    let mut expanded = Vec::with_capacity(args.len());
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        let path = match arg.to_str().and_then(|a| a.strip_prefix("--config")) {
            Some("") => rest.next().ok_or_else(|| ParseError::Invalid("--config needs a file".into()))?,
            Some(eq) if eq.starts_with('=') => eq[1..].into(),
            _ => {
                expanded.push(arg);
                continue;
            }
        };
        let flags = crate::advise::config_flags(&path.to_string_lossy()).map_err(ParseError::Invalid)?;
        expanded.extend(flags.into_iter().map(Into::into));
    }
    Ok(expanded)
}

/// Why a command line was refused.
#[derive(Debug)]
pub enum ParseError {
    /// clap's own errors, `--help` and `--version`.
    Clap(clap::Error),
    /// Arguments that parse but make no sense.
    Invalid(String),
}

fn plan(cli: Cli) -> Result<Plan, String> {
    let mut json = cli.search.json;
    let mut options = options(&cli.search)?;
    let mut notes = Vec::new();
    let command = match cli.command {
        None => Planned::DefaultMatrix,
        Some(Command::List { json: j }) => Planned::List { json: j || json },
        Some(Command::Run { scenario: name, overrides, search }) => {
            let sc = scenario(&name)?;
            json |= search.json;
            options = self::options(&search)?;
            let asked = overrides.hazards(&[Hazards::NONE, Hazards::ALL]);
            if let Some(lifted) = overrides.lift.filter(|l| l.and(sc.liftable()) != *l) {
                let fixed = lifted.without(sc.liftable());
                let always = fixed.and(sc.setup(Timing::Sync).unbounded());
                let kept = fixed.without(always);
                let how = match (always == Hazards::NONE, kept == Hazards::NONE) {
                    (true, _) => format!("keeps {kept} bounded"),
                    (false, true) => format!("leaves {always} unbounded"),
                    (false, false) => format!("keeps {kept} bounded and leaves {always} unbounded"),
                };
                notes.push(format!(
                    "{} {how} in both timing modes (its claim is about the other hazards): --lift {lifted} checks its {} cell",
                    sc.name,
                    sc.setup_lifted(lifted).lifted
                ));
            }
            let cells = asked.into_iter().map(|h| overrides.apply(sc.setup_lifted(h)).map(|s| (sc, s))).collect::<Result<Vec<_>, _>>()?;
            Planned::Matrix(cells)
        }
        Some(Command::Table { npc }) => Planned::Table { npc },
        Some(Command::History { files, json: j }) => Planned::History { files, json: j || json },
        Some(Command::Bench { run_budget, scaling, scenarios }) => {
            if !(1..=86_400).contains(&run_budget) {
                return Err(format!("--run-budget must be between 1 and 86400 seconds, not {run_budget}"));
            }
            let scenarios = if scenarios.is_empty() {
                SCENARIOS.iter().collect()
            } else {
                scenarios.iter().map(|n| scenario(n)).collect::<Result<_, _>>()?
            };
            Planned::Bench { run_budget: Duration::from_secs(run_budget), scaling, scenarios }
        }
        Some(Command::BenchRun { scenario: name, search, overrides }) => {
            let sc = scenario(&name)?;
            let search = crate::bench::Search::from_name(&search).ok_or_else(|| format!("--search {search}: dfs-symmetry, dfs or bfs"))?;
            let lifted = overrides.hazards(&[Hazards::NONE])[0];
            Planned::BenchRun { setup: overrides.apply(sc.setup_lifted(lifted))?, search }
        }
        Some(Command::Validate { file, scenario: name, states }) => {
            if !(1_000..=crate::validate::MAX_STATES).contains(&states) {
                return Err(format!("--states must be between 1000 and {}, not {states}", crate::validate::MAX_STATES));
            }
            let scenario = name.map(|n| scenario(&n).map(|s| s.name)).transpose()?;
            Planned::Validate { file, scenario, states }
        }
        Some(Command::Advise(args)) => Planned::Advise(args.deployment()?),
        Some(Command::Explore { scenario: name, overrides, addr }) => {
            let sc = scenario(&name)?;
            let lifted = overrides.hazards(&[Hazards::ALL])[0];
            Planned::Explore { scenario: sc, setup: overrides.apply(sc.setup_lifted(lifted))?, addr }
        }
    };
    Ok(Plan { command, json, options, notes })
}

/// Does what a checked command line asks. `Ok(false)`: a verdict or an audit found something
/// (exit status 1).
pub fn run(plan: Plan) -> Result<bool, String> {
    let Plan { command, json, options, notes } = plan;
    for note in notes {
        eprintln!("note: {note}");
    }
    match command {
        Planned::DefaultMatrix => {
            let started = Instant::now();
            if !json {
                outln!("{}", matrix_header());
            }
            let mut printed = Ok(());
            let results = crate::npc::matrix(options, |_, cell| {
                if printed.is_ok() {
                    printed = print_cell(cell, json);
                }
            });
            printed?;
            report_cells(&results, started, json, false)
        }
        Planned::Matrix(cells) => check_cells(cells, options, json),
        Planned::List { json } => {
            for sc in SCENARIOS {
                if json {
                    let expected: Vec<_> =
                        sc.expected.iter().map(|(i, s, a)| serde_json::json!({"property": i.name(), "sync": s, "async": a})).collect();
                    let line = serde_json::json!({"scenario": sc.name, "claim": sc.claim, "source": sc.source, "expected": expected, "liftable": sc.liftable()});
                    outln!("{line}");
                } else {
                    outln!("{:<26} {}", sc.name, sc.claim);
                    // What the table records, so that a reader need not run the cell to know it.
                    let expected: Vec<String> =
                        sc.expected.iter().map(|(i, s, a)| format!("{} {s} (sync) / {a} (async)", i.name())).collect();
                    outln!("{:<26} expected: {}", "", expected.join("; "));
                }
            }
            Ok(true)
        }
        Planned::Table { npc } => table(npc),
        Planned::History { files, json } => crate::audit::run(&files, json),
        Planned::Bench { run_budget, scaling, scenarios } => bench(run_budget, scaling, scenarios, options.threads, json),
        Planned::BenchRun { setup, search } => {
            let budget = options.time_limit.unwrap_or(Duration::from_secs(10));
            let row = crate::bench::measure(setup, search, options.threads, budget);
            outln!("{}", serde_json::to_string(&row).map_err(|e| e.to_string())?);
            Ok(true)
        }
        Planned::Explore { scenario, setup, addr } => {
            crate::explore::serve(scenario, setup, &addr, options, json)?;
            Ok(true)
        }
        Planned::Validate { file, scenario, states } => {
            let records = crate::validate::read_history(&file)?;
            let validation = crate::validate::validate(&records, scenario, states)?;
            if json {
                outln!("{}", serde_json::to_string(&validation).map_err(|e| e.to_string())?);
            } else {
                outln!("{validation}");
            }
            Ok(validation.accepted())
        }
        Planned::Advise(deployment) => {
            let answers = crate::advise::advise(&deployment);
            if json {
                for answer in &answers {
                    outln!("{}", serde_json::to_string(answer).map_err(|e| e.to_string())?);
                }
            } else {
                out!("{}", crate::advise::render(&deployment, &answers));
            }
            Ok(answers.iter().all(|a| a.verdict != crate::advise::Advice::Violated))
        }
    }
}

/// Prints one checked cell: its NDJSON records, or its row of the matrix.
fn print_cell(cell: &CellResult, json: bool) -> Result<(), String> {
    if json {
        for r in rows(cell) {
            outln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
        }
    } else {
        outln!("{}", matrix_row(cell));
    }
    Ok(())
}

/// Checks cells, prints them, and says whether all matched their expectations.
fn check_cells(cells: Vec<(&'static Scenario, Setup)>, options: SearchOptions, json: bool) -> Result<bool, String> {
    let started = Instant::now();
    let mut results = Vec::new();
    if !json {
        outln!("{}", matrix_header());
    }
    for (scenario, setup) in cells {
        let cell = check_showing_progress(scenario, setup, options);
        print_cell(&cell, json)?;
        results.push((scenario, cell));
    }
    report_cells(&results, started, json, true)
}

/// After the cells: the counterexamples and the differences from the expectations.
/// The default matrix prints the counterexamples of its timing modes only (`mixed: false`);
/// those of a cell that lifts some hazards are one `check run --lift` away.
fn report_cells(results: &[(&'static Scenario, CellResult)], started: Instant, json: bool, mixed: bool) -> Result<bool, String> {
    let surprises: Vec<String> = results.iter().flat_map(|(_, c)| surprises(c)).collect();
    if !json {
        outln!(
            "\n{} cells in {:.1} s. `!` marks a verdict that differs from the scenario's expectation, `?` a cell the literature leaves open.",
            results.len(),
            started.elapsed().as_secs_f64()
        );
        for (scenario, cell) in results.iter().filter(|(_, c)| mixed || c.setup.lifted.mode().is_some()) {
            out!("{}", counterexample_text(scenario, cell, "http://127.0.0.1:3000"));
        }
        if !surprises.is_empty() {
            outln!("\nDifferences from the recorded expectations:");
            for s in &surprises {
                outln!("  {s}");
            }
        }
    }
    for s in &surprises {
        eprintln!("unexpected: {s}");
    }
    Ok(surprises.is_empty())
}

/// `check table`: the README's matrix (or NPC table) from `check --json` on stdin, every
/// record checked.
fn table(npc: bool) -> Result<bool, String> {
    let mut records = Vec::new();
    for (n, line) in std::io::stdin().lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: RowIn = serde_json::from_str(&line).map_err(|e| format!("line {}: not a `check --json` record: {e}", n + 1))?;
        let sc = scenario(&record.scenario).map_err(|e| format!("line {}: {e}", n + 1))?;
        if !matches!(record.timing.as_str(), "sync" | "async") && Hazards::parse(&record.timing).is_err() {
            return Err(format!("line {}: timing {:?} is neither sync, async nor a set of hazards (N,P,C)", n + 1, record.timing));
        }
        Hazards::from_letters(&record.unbounded).map_err(|e| format!("line {}: {e}", n + 1))?;
        if record.kind == "invariant" && !sc.judged().iter().any(|p| p.name() == record.property) {
            let known = Invariant::from_name(&record.property).map_or("is no property of the judge", |_| "is not judged in this scenario");
            return Err(format!("line {}: {:?} {known} ({})", n + 1, record.property, sc.name));
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err("no records on stdin: pipe `check --json` into `check table`".into());
    }
    if npc {
        out!("{}", crate::npc::npc_table(&records)?);
    } else {
        out!("{}", markdown_table(&records));
    }
    Ok(true)
}

fn bench(
    run_budget: Duration,
    scaling: Option<PathBuf>,
    scenarios: Vec<&'static Scenario>,
    threads: usize,
    json: bool,
) -> Result<bool, String> {
    match scaling {
        Some(plot) => {
            // Fail on the path before measuring anything.
            std::fs::write(&plot, "").map_err(|e| format!("cannot write the plot to {}: {e}", plot.display()))?;
            let redlock = scenario("redlock")?;
            let rows = crate::bench::scaling(redlock, threads, run_budget, |axis, r| {
                eprintln!(
                    "{axis}: {} servers, {} clients, {} attempts, TTL {}: {} states in {:.2} s",
                    r.servers, r.clients, r.attempts, r.ttl, r.unique_states, r.seconds
                )
            })?;
            std::fs::write(&plot, crate::bench::scaling_plot(&rows)?).map_err(|e| format!("cannot write {}: {e}", plot.display()))?;
            if json {
                for (axis, r) in &rows {
                    outln!("{}", serde_json::json!({"varied": axis, "run": r}));
                }
            } else {
                out!("{}", crate::bench::scaling_table(&rows));
                outln!("\nplot: {}", plot.display());
            }
        }
        None => {
            let jar = crate::bench::tla2tools_jar()?;
            let mut rows = Vec::new();
            for sc in scenarios {
                let mut printed = Ok(());
                rows.extend(crate::bench::matrix(sc, threads, run_budget, |r| {
                    if json {
                        if printed.is_ok() {
                            printed = serde_json::to_string(r)
                                .map_err(|e| e.to_string())
                                .and_then(|line| crate::output::write(format_args!("{line}\n")));
                        }
                    } else {
                        eprintln!(
                            "{} {} {}: {} states, {:.0} states/s",
                            r.scenario,
                            r.timing,
                            r.search.name(),
                            r.unique_states,
                            r.states_per_second
                        );
                    }
                })?);
                printed?;
            }
            if !json {
                out!("{}", crate::bench::matrix_table(&rows));
            }
            // Last: Stateright against TLC on the same spaces, the larger last.
            let mut races = Vec::new();
            for config in crate::bench::TLC_MODELS {
                let race = crate::bench::race_tlc(config, &jar, run_budget.max(Duration::from_secs(60)))?;
                if json {
                    outln!("{}", serde_json::json!({ "tlc": race }));
                }
                races.push(race);
            }
            if !json {
                out!("\n{}", crate::bench::tlc_table(&races));
            }
        }
    }
    Ok(true)
}
