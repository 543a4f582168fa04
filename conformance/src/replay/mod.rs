//! Directed replays: a model counterexample driven through the real system.
//!
//! [`counterexample`] gets the model's steps (what `check run <scenario> --json` prints),
//! [`translate`] turns them into a real schedule (the one translator), [`execute`] runs it
//! against real servers with the real client, and the real history is judged by the library's
//! auditor. The replay reproduces the model's finding when the real history violates the same
//! property.

pub mod counterexample;
pub mod execute;
pub mod translate;
mod worker;

use crate::history::{audit, histories_dir, save, History};
use execute::Execution;
use redlock_client::history::Audit;
use redlock_client::judge::{Invariant, Judge};
use redlock_model::setup::Timing;
use std::path::PathBuf;
use std::time::Duration;

/// How to replay.
#[derive(Clone, Debug)]
pub struct Options {
    /// One model tick of real time: long enough for every operation of a tick (a server
    /// restart included) to happen well within it.
    pub tick: Duration,
    /// Where the real history is written.
    pub histories: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options { tick: Duration::from_millis(200), histories: histories_dir("replays") }
    }
}

/// What a replay did and found.
pub struct Outcome {
    pub scenario: &'static str,
    pub timing: Timing,
    pub property: Invariant,
    pub servers: usize,
    /// Each model step with its real operations.
    pub log: Vec<String>,
    /// Where the real run left the model's path, if it did.
    pub diverged: Option<String>,
    /// What the model's judge found on the trace.
    pub model_violations: Vec<Invariant>,
    /// What the same judge found on the real history (up to the last step).
    pub audit: Audit,
    pub history: PathBuf,
}

impl Outcome {
    /// The real history violates the property the model's counterexample violates.
    pub fn reproduced(&self) -> bool {
        self.audit.finding(self.property).is_some()
    }

    /// The replay in words: the schedule, the model's verdict and the real one.
    pub fn report(&self) -> String {
        let mut out = format!(
            "replay of {} ({}, {} servers): the model's counterexample of {}\n",
            self.scenario, self.timing, self.servers, self.property
        );
        for line in &self.log {
            out.push_str(line);
            out.push('\n');
        }
        if let Some(why) = &self.diverged {
            out.push_str(&format!("the real run left the model's path: {why}\n"));
        }
        let names = |ps: &[Invariant]| ps.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
        out.push_str(&format!("model: violates {}\n", names(&self.model_violations)));
        let real: Vec<Invariant> = self.audit.findings.iter().map(|f| f.property).collect();
        out.push_str(&format!("real:  violates {}\n", if real.is_empty() { "nothing".into() } else { names(&real) }));
        for f in &self.audit.findings {
            out.push_str(&format!("  {} at line {} of the history: {}\n", f.property, f.line, f.explanation));
        }
        out.push_str(&format!("history: {}\n", self.history.display()));
        out.push_str(if self.reproduced() { "REPRODUCED\n" } else { "NOT REPRODUCED\n" });
        out
    }
}

/// Replays the counterexample of `property` (default: the scenario's first violated one) in
/// `timing` (default: the timing of the scenario's own fault, `docs/design.md`) of scenario `name`.
pub async fn replay(name: &str, property: Option<Invariant>, timing: Option<Timing>, options: &Options) -> Result<Outcome, String> {
    let cx = counterexample_of(name, property, timing).await?;
    let setup = cx.setup.clone();
    run(cx, setup, options).await
}

/// Replays the schedule of `name`'s counterexample on the system of scenario `on` (its
/// resource and tokens): the fenced twin of an unfenced scenario, say, which must refuse what
/// the unfenced one let through. The setups must have the same actors.
pub async fn replay_schedule_on(name: &str, on: &str, options: &Options) -> Result<Outcome, String> {
    let cx = counterexample_of(name, None, None).await?;
    let twin = redlock_model::scenario::find(on).ok_or_else(|| format!("no scenario named {on:?}"))?;
    let setup = redlock_model::setup::Setup { servers: cx.setup.servers, clients: cx.setup.clients, ..twin.setup(cx.timing) };
    run(cx, setup, options).await
}

async fn counterexample_of(
    name: &str,
    property: Option<Invariant>,
    timing: Option<Timing>,
) -> Result<counterexample::Counterexample, String> {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || counterexample::counterexample(&name, property, timing)).await.map_err(|e| e.to_string())?
}

/// Runs the counterexample's schedule on the real system of `setup`.
async fn run(cx: counterexample::Counterexample, setup: redlock_model::setup::Setup, options: &Options) -> Result<Outcome, String> {
    let plan = translate::translate(&setup, &cx.trace, options.tick)?;
    let history = History::new(format!("replay:{}", setup.scenario));
    let mut execution = Execution::start(&plan, history.clone()).await?;
    let mut log = Vec::new();
    let mut diverged = None;
    'steps: for step in &plan.steps {
        log.push(format!("{:>3}. model: {}", step.number, step.model));
        for op in &step.ops {
            log.push(format!("       real:  {op}"));
            match execution.run(op).await {
                Ok(Some(note)) => log.push(format!("              ({note})")),
                Ok(None) => {}
                Err(e) => {
                    diverged = Some(format!("step {}: {op}: {e}", step.number));
                    break 'steps;
                }
            }
        }
    }
    let end = execution.end().await;
    execution.stop();
    let records = history.records_until(end);
    std::fs::create_dir_all(&options.histories).map_err(|e| e.to_string())?;
    let file = options.histories.join(format!("{}-{}.ndjson", setup.scenario, cx.timing));
    save(&records, &file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Outcome {
        scenario: cx.scenario.name,
        timing: cx.timing,
        property: cx.property,
        servers: plan.config.servers,
        log,
        diverged,
        model_violations: model_violations(&cx),
        audit: audit(&records),
        history: file,
    })
}

/// The model's judge folded over the trace's events.
fn model_violations(cx: &counterexample::Counterexample) -> Vec<Invariant> {
    let mut judge = Judge::new(cx.setup.servers as u32);
    for step in &cx.trace.steps {
        for event in &step.events {
            judge.observe(event);
        }
    }
    judge.violations().iter().map(|v| v.property).collect()
}
