//! The soak: random configurations and fault schedules against the real client and real
//! servers, each run judged by the shared judge and placed against the model's verdicts.
//!
//! - [`config`]: a run's configuration and fault schedule, drawn from (seed, run);
//! - [`workload`]: what its clients do; [`faults`]: the schedule carried out;
//! - [`run`]: one run end to end; [`verdicts`]: where the model stands on it;
//! - [`losses`]: lost locks against their reports (`docs/design.md`, *Lost-lock reports*); [`summary`]: the totals.

pub mod config;
pub mod faults;
pub mod losses;
pub mod run;
pub mod summary;
pub mod verdicts;
pub mod workload;

use crate::history::save;
use crate::postgres::Postgres;
use crate::redis_server::{Persistence, RedisServer};
use config::{RegisterChoice, Workload};
use redlock_client::fence::PostgresFenced;
use redlock_model::validate::Outcome;
use run::{RunOutcome, Shared, POSTGRES_TABLE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use summary::Summary;
use verdicts::Verdicts;

/// What to soak.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    pub runs: u64,
    pub seed: u64,
    /// Only this run (to reproduce one).
    pub only: Option<u64>,
    /// Where histories are kept (a `soak-<seed>` folder is made inside).
    pub histories: PathBuf,
    /// Histories kept per invariant as examples of violations the model predicts.
    pub examples: u64,
    /// Validate each run's history against the model, with this many states at most.
    pub validate: Option<u64>,
    /// Only the drawn runs on this lock service.
    pub service: Option<config::LockService>,
}

/// The runs a soak carries out: runs `0..runs` of the seed (or the one `only` names), drawn,
/// those on `service` if one is given.
pub fn planned(options: &SoakOptions) -> Vec<config::RunConfig> {
    let runs: Vec<u64> = match options.only {
        Some(run) => vec![run],
        None => (0..options.runs).collect(),
    };
    runs.into_iter().map(|run| config::draw(options.seed, run)).filter(|c| options.service.is_none_or(|s| c.service == s)).collect()
}

/// Runs the soak; `progress` hears of each run as it ends.
pub async fn soak(options: &SoakOptions, mut progress: impl FnMut(u64, &RunOutcome)) -> Result<Summary, String> {
    let started = Instant::now();
    let configs = planned(options);
    let dir = options.histories.join(format!("soak-{}", options.seed));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let needs_postgres = configs.iter().any(|c| {
        c.service == config::LockService::Postgres || c.workload == (Workload::Writes { register: RegisterChoice::FencedPostgres })
    });
    let shared = Shared {
        resource: RedisServer::start(Persistence::None).await.map_err(|e| format!("the resource server: {e}"))?,
        postgres: if needs_postgres { Some(start_postgres().await?) } else { None },
        verdicts: Verdicts::default(),
    };
    let mut summary = Summary::new(options.seed, dir.display().to_string());
    let mut examples: BTreeMap<&'static str, u64> = BTreeMap::new();
    for config in configs {
        let outcome = run::run(config, &shared, options.validate).await;
        let example = outcome.violations().any(|(p, unsafe_here)| {
            let kept = examples.entry(p.name()).or_default();
            unsafe_here && *kept < options.examples && {
                *kept += 1;
                true
            }
        });
        // A history the model could not follow is kept to look at; one it does not validate at
        // all (a ZooKeeper history) says why in the summary instead.
        let unvalidated =
            outcome.validation.as_ref().is_some_and(|v| matches!(v.outcome, Outcome::Rejected { .. } | Outcome::Undecided { .. }));
        if outcome.unexpected() || example || unvalidated {
            keep(&dir, &outcome).map_err(|e| format!("keeping a history in {}: {e}", dir.display()))?;
            summary.kept += 1;
        }
        summary.add(&outcome);
        progress(summary.runs, &outcome);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Starts PostgreSQL (from this thread, which outlives it) and creates the registers' table.
async fn start_postgres() -> Result<Postgres, String> {
    let postgres = Postgres::start().map_err(|e| format!("PostgreSQL: {e}"))?;
    let client = postgres.connect().await.map_err(|e| format!("PostgreSQL: {e}"))?;
    PostgresFenced::new(client, POSTGRES_TABLE, "").create_table().await.map_err(|e| format!("PostgreSQL: {e}"))?;
    Ok(postgres)
}

/// Writes a run's history (what `check history` reads) and its configuration and findings.
fn keep(dir: &Path, outcome: &RunOutcome) -> std::io::Result<()> {
    let run = outcome.config.run;
    save(&outcome.records, &dir.join(format!("run-{run}.ndjson")))?;
    let about = serde_json::json!({
        "config": outcome.config,
        "struck": outcome.struck,
        "cells": outcome.standing.cells.iter().map(|(s, t)| format!("{s} ({t})")).collect::<Vec<_>>(),
        "unsafe": outcome.standing.unsafe_properties.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "findings": outcome.findings,
        "unreported_losses": outcome.losses.as_ref().map(|l| l.unreported.clone()),
        "error": outcome.error,
        "validation": outcome.validation,
    });
    std::fs::write(dir.join(format!("run-{run}.json")), serde_json::to_string_pretty(&about)?)
}
