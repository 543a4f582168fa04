//! `replay <scenario>`: drives the model's counterexample of a scenario through real Redis with
//! the real client and judges the real history with the model's judge.
//!
//! `replay --all` replays every scenario the model finds violated and prints one line each.
//! Exit status: 0 when every replay reproduced the model's finding, 1 when one did not, 2 when
//! a scenario has no real counterpart or the arguments are wrong.

use clap::Parser;
use redlock_client::judge::Invariant;
use redlock_conformance::replay::{counterexample::default_property, replay, Options};
use redlock_model::scenario::SCENARIOS;
use redlock_model::setup::Timing;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Replays the model's counterexamples against real Redis")]
struct Args {
    /// The scenario (see `cargo run --bin check -- list`).
    scenario: Option<String>,
    /// Every scenario the model finds violated.
    #[arg(long, conflicts_with = "scenario")]
    all: bool,
    /// The property whose counterexample to replay (default: the scenario's first violated one).
    #[arg(long)]
    property: Option<String>,
    /// sync or async (default: sync where the model finds the violation in sync).
    #[arg(long)]
    timing: Option<String>,
    /// Real milliseconds per model tick.
    #[arg(long, default_value_t = 200)]
    tick_ms: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let code = run(Args::parse()).await;
    // Every server has stopped with its replay.
    redlock_conformance::process::remove_run_root();
    code
}

async fn run(args: Args) -> ExitCode {
    let options = Options { tick: Duration::from_millis(args.tick_ms), ..Options::default() };
    let property = match args.property.as_deref().map(|p| Invariant::from_name(p).ok_or(p)) {
        Some(Err(p)) => return usage(&format!("no property named {p:?}")),
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let timing = match args.timing.as_deref() {
        Some("sync") => Some(Timing::Sync),
        Some("async") => Some(Timing::Async),
        Some(other) => return usage(&format!("--timing is sync or async, not {other:?}")),
        None => None,
    };
    if args.all {
        let mut failed = false;
        for scenario in SCENARIOS.iter().filter(|s| default_property(s).is_some()) {
            match replay(scenario.name, None, None, &options).await {
                Ok(outcome) => {
                    failed |= !outcome.reproduced();
                    let verdict = if outcome.reproduced() { "reproduced" } else { "NOT reproduced" };
                    println!("{:<26} {:<6} {:<22} {verdict}", scenario.name, outcome.timing.name(), outcome.property.name());
                }
                Err(e) => println!("{:<26} no real counterpart: {e}", scenario.name),
            }
        }
        return if failed { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }
    let Some(name) = args.scenario else { return usage("name a scenario, or --all") };
    match replay(&name, property, timing, &options).await {
        Ok(outcome) => {
            print!("{}", outcome.report());
            if outcome.reproduced() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => usage(&e),
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("replay: {message}");
    ExitCode::from(2)
}
