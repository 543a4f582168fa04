//! The soak's summary: runs, faults by kind, violations by invariant and by the model's
//! standing, lost locks reported and not, time.

use super::config::FAULT_KINDS;
use super::run::RunOutcome;
use redlock_client::judge::Invariant;
use redlock_model::validate::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Violations of one property, by whether the model calls the configuration safe or unsafe.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ByStanding {
    pub in_safe: u64,
    pub in_unsafe: u64,
    /// Runs in which the model calls the property unsafe.
    pub unsafe_runs: u64,
}

/// Runs and violations on one lock service.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ByService {
    pub runs: u64,
    pub violations_in_safe: u64,
    pub violations_in_unsafe: u64,
    pub unreported_losses: u64,
}

/// Trace validation of the runs' histories (`check validate`).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Validations {
    pub accepted: u64,
    pub rejected: u64,
    /// The search's budget ran out first.
    pub undecided: u64,
    /// Histories outside what the model can follow.
    pub unsupported: u64,
    /// Validation's share of the soak's time.
    pub seconds: f64,
    /// States visited, in all.
    pub states: u64,
}

/// What a soak found. With `--json`, printed as one object on the last line.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub runs: u64,
    pub seed: u64,
    pub seconds: f64,
    /// Faults that struck, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// By property (its snake_case name).
    pub violations: BTreeMap<&'static str, ByStanding>,
    pub violations_in_safe: u64,
    pub violations_in_unsafe: u64,
    /// The same totals for each lock service (`redis`, `etcd`, `zookeeper`, `postgres`).
    pub services: BTreeMap<&'static str, ByService>,
    /// Windows that ended by running out, in `with_lock` runs (`docs/design.md`, *Lost-lock reports*).
    pub losses_detected: u64,
    pub losses_reported: u64,
    pub unreported_losses: u64,
    /// Runs the harness could not carry out as planned.
    pub harness_errors: u64,
    /// Where the histories of failing runs (and a few examples of violations in unsafe
    /// configurations) are kept.
    pub histories: String,
    pub kept: u64,
    pub validation: Validations,
}

impl Summary {
    pub fn new(seed: u64, histories: String) -> Summary {
        Summary {
            runs: 0,
            seed,
            seconds: 0.0,
            faults: FAULT_KINDS.iter().map(|k| (*k, 0)).collect(),
            violations: Invariant::ALL.iter().map(|p| (p.name(), ByStanding::default())).collect(),
            violations_in_safe: 0,
            violations_in_unsafe: 0,
            services: ["redis", "etcd", "zookeeper", "postgres"].into_iter().map(|s| (s, ByService::default())).collect(),
            losses_detected: 0,
            losses_reported: 0,
            unreported_losses: 0,
            harness_errors: 0,
            histories,
            kept: 0,
            validation: Validations::default(),
        }
    }

    pub fn add(&mut self, run: &RunOutcome) {
        self.runs += 1;
        let service = self.services.entry(run.config.service.name()).or_default();
        service.runs += 1;
        for (_, unsafe_here) in run.violations() {
            if unsafe_here {
                service.violations_in_unsafe += 1;
            } else {
                service.violations_in_safe += 1;
            }
        }
        service.unreported_losses += run.losses.as_ref().map_or(0, |l| l.unreported.len() as u64);
        for fault in &run.struck {
            *self.faults.entry(fault).or_default() += 1;
        }
        for property in &run.standing.unsafe_properties {
            self.violations.entry(property.name()).or_default().unsafe_runs += 1;
        }
        for (property, unsafe_here) in run.violations() {
            let entry = self.violations.entry(property.name()).or_default();
            if unsafe_here {
                entry.in_unsafe += 1;
                self.violations_in_unsafe += 1;
            } else {
                entry.in_safe += 1;
                self.violations_in_safe += 1;
            }
        }
        if let Some(losses) = &run.losses {
            self.losses_detected += losses.detected;
            self.losses_reported += losses.reported;
            self.unreported_losses += losses.unreported.len() as u64;
        }
        self.harness_errors += run.error.is_some() as u64;
        if let Some(v) = &run.validation {
            let counts = &mut self.validation;
            match v.outcome {
                Outcome::Accepted => counts.accepted += 1,
                Outcome::Rejected { .. } => counts.rejected += 1,
                Outcome::Undecided { .. } => counts.undecided += 1,
                Outcome::Unsupported { .. } => counts.unsupported += 1,
            }
            counts.states += v.states;
        }
        self.validation.seconds += run.validation_seconds;
    }

    /// The summary for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "soak: {} runs (seed {}) in {:.1} s", self.runs, self.seed, self.seconds);
        let _ = writeln!(out, "faults that struck:");
        for (kind, n) in &self.faults {
            let _ = writeln!(out, "  {kind:<26} {n}");
        }
        let _ = writeln!(out, "violations, by whether the model calls the configuration safe or unsafe:");
        let _ = writeln!(out, "  {:<24} {:>8} {:>10} {:>14}", "invariant", "in safe", "in unsafe", "unsafe runs");
        for (property, v) in &self.violations {
            let _ = writeln!(out, "  {property:<24} {:>8} {:>10} {:>14}", v.in_safe, v.in_unsafe, v.unsafe_runs);
        }
        let _ = writeln!(out, "  {:<24} {:>8} {:>10}", "total", self.violations_in_safe, self.violations_in_unsafe);
        for (service, s) in &self.services {
            let _ = writeln!(
                out,
                "  {:<24} {:>8} {:>10}  ({} runs, {} unreported losses)",
                format!("on {service}"),
                s.violations_in_safe,
                s.violations_in_unsafe,
                s.runs,
                s.unreported_losses
            );
        }
        let _ = writeln!(
            out,
            "lost locks (with_lock runs): {} detected by the judge, {} reported in time, {} unreported",
            self.losses_detected, self.losses_reported, self.unreported_losses
        );
        let v = &self.validation;
        let validated = v.accepted + v.rejected + v.undecided + v.unsupported;
        let _ = (validated > 0).then(|| {
            writeln!(
                out,
                "trace validation (is each history a behaviour of the model?): {} accepted, {} rejected, {} undecided, {} not \
             validated; {} states, {:.1} s",
                v.accepted, v.rejected, v.undecided, v.unsupported, v.states, v.seconds
            )
        });
        let _ = writeln!(out, "harness errors: {}", self.harness_errors);
        let _ = writeln!(out, "histories kept: {} in {}", self.kept, self.histories);
        out
    }
}
