//! `soak --runs N --seed S [--json] [--service redis|etcd|zookeeper|postgres]`: random configurations and fault schedules against the
//! real client and real servers, each run judged by the model's judge and placed against the
//! model's verdicts. Progress goes to stderr, one line per run; the summary to stdout, and with
//! `--json` its last line is one JSON object. A run is reproduced with `--seed S --only RUN`.
//!
//! Exit status: 0 when no configuration the model calls safe showed a violation, no lost lock
//! went unreported and every run ran as planned; 1 otherwise; 2 on bad arguments.

use clap::Parser;
use redlock_client::event::Event;
use redlock_conformance::history::histories_dir;
use redlock_conformance::soak::config::LockService;
use redlock_conformance::soak::run::RunOutcome;
use redlock_conformance::soak::{soak, SoakOptions};
use redlock_model::validate::Outcome;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Soaks the real Redlock client under random real faults")]
struct Args {
    #[arg(long, default_value_t = 100)]
    runs: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs only this run of the seed (to reproduce it).
    #[arg(long)]
    only: Option<u64>,
    /// Ends with one JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Where to keep histories (default: target/conformance).
    #[arg(long)]
    histories: Option<PathBuf>,
    /// Histories kept per invariant as examples of violations the model predicts.
    #[arg(long, default_value_t = 3)]
    examples: u64,
    /// Validate each run's history against the model (`check validate`), visiting at most this
    /// many states per run; the summary counts accepted, rejected and undecided histories.
    #[arg(long, value_name = "STATES")]
    validate: Option<u64>,
    /// Carries out only the drawn runs on this lock service (the others are skipped, not
    /// redrawn: run numbers stay those of the whole soak).
    #[arg(long, value_enum)]
    service: Option<LockService>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = SoakOptions {
        runs: args.runs,
        seed: args.seed,
        only: args.only,
        histories: args.histories.unwrap_or_else(|| histories_dir("")),
        examples: args.examples,
        validate: args.validate,
        service: args.service,
    };
    if let Some(states) = options.validate.filter(|s| !(1_000..=redlock_model::validate::MAX_STATES).contains(s)) {
        eprintln!("soak: --validate takes between 1000 and {} states, not {states}", redlock_model::validate::MAX_STATES);
        return ExitCode::from(2);
    }
    let total = redlock_conformance::soak::planned(&options).len();
    let seed = options.seed;
    let summary = soak(&options, |done, outcome| eprintln!("[{done:>5}/{total}] {}", line(seed, outcome))).await;
    // Every server has stopped with the soak.
    redlock_conformance::process::remove_run_root();
    match summary {
        Ok(summary) => {
            print!("{}", summary.render());
            if args.json {
                println!("{}", serde_json::to_string(&summary).expect("a summary serializes"));
            }
            let clean = summary.violations_in_safe == 0 && summary.unreported_losses == 0 && summary.harness_errors == 0;
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// One run in a line: its configuration, its faults, what the judge found.
fn line(seed: u64, outcome: &RunOutcome) -> String {
    let c = &outcome.config;
    let workload = serde_json::to_value(c.workload).ok().and_then(|v| {
        let kind = v.get("kind")?.as_str()?.to_string();
        let detail = v
            .get("register")
            .or(v.get("pitfall"))
            .and_then(|d| d.get("kind").or(Some(d)))
            .and_then(|d| d.as_str())
            .map(|d| format!(" {d}"));
        Some(format!("{kind}{}", detail.unwrap_or_default()))
    });
    let mut verdict: Vec<String> =
        outcome.violations().map(|(p, unsafe_here)| format!("{} ({})", p.name(), if unsafe_here { "unsafe" } else { "SAFE!" })).collect();
    if let Some(losses) = &outcome.losses {
        if !losses.unreported.is_empty() {
            verdict.push(format!("{} UNREPORTED losses", losses.unreported.len()));
        }
    }
    if let Some(e) = &outcome.error {
        verdict.push(format!("ERROR {e}"));
    }
    let verdict = if verdict.is_empty() { "ok".to_string() } else { verdict.join(", ") };
    let validation = match &outcome.validation {
        Some(v) => match &v.outcome {
            Outcome::Accepted => format!("; model path in {} states", v.states),
            Outcome::Rejected { number, .. } => format!("; NO MODEL PATH past record {number}"),
            Outcome::Undecided { number, .. } => format!("; validation undecided at record {number}"),
            Outcome::Unsupported { reason } => format!("; not validated: {reason}"),
        },
        None => String::new(),
    };
    let rerun = if outcome.unexpected() { format!("  (rerun: soak --seed {seed} --only {})", c.run) } else { String::new() };
    let servers = match c.service {
        LockService::Redis => format!("{} servers ({:?})", c.servers, c.persistence),
        LockService::Etcd => format!("etcd, {} members", c.servers),
        LockService::ZooKeeper => format!("ZooKeeper, {} servers", c.servers),
        LockService::Postgres => "PostgreSQL advisory lock".to_string(),
    };
    let grants = outcome.records.iter().filter(|r| matches!(r.event, Event::Granted { .. })).count();
    format!(
        "run {}: {servers}, {} clients, ttl {} ms, {}, faults [{}], {grants} grants -> {verdict}{validation}  {:.2} s{rerun}",
        c.run,
        c.clients,
        c.ttl_ms,
        workload.unwrap_or_default(),
        outcome.struck.join(", "),
        outcome.seconds
    )
}
