//! The short soak: the `soak` binary end to end on a few runs, Redis and etcd, held to the targets
//! (no violation where the model calls the configuration safe, no lost lock unreported, every
//! run carried out as planned, the JSON summary's shape), and the draws' determinism.

use redlock_conformance::soak::config::{draw, FaultKind, LockService, RegisterChoice, Target, Workload, FAULT_KINDS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

/// The short soak's runs and seed: a mix of 1, 3 and 5 Redis servers, `with_lock`, writes and
/// pitfall workloads, three etcd runs (one on 3 members whose members fail), a ZooKeeper run
/// with a client pause, a PostgreSQL advisory-lock run, and 13 of the 16 fault kinds (pinned
/// below, so a change to the draws that empties the short soak fails here rather than passing
/// vacuously).
const RUNS: u64 = 16;
const SEED: u64 = 173;
/// States each run's trace validation may visit (a count: the same answers on every machine).
const VALIDATION_STATES: u64 = 40_000;

#[test]
fn drawn_configurations_are_a_function_of_the_seed() {
    let drawn = |seed: u64| (0..200).map(|run| serde_json::to_string(&draw(seed, run)).expect("a config serializes")).collect::<Vec<_>>();
    assert_eq!(drawn(SEED), drawn(SEED), "the same seed draws the same runs");
    assert_ne!(drawn(SEED), drawn(SEED + 1), "another seed draws other runs");
    // One run is drawn alone, as `--only` does, exactly as within its soak.
    assert_eq!(serde_json::to_string(&draw(SEED, 150)).unwrap(), drawn(SEED)[150]);
}

#[test]
fn a_thousand_draws_cover_every_configuration_and_fault_kind() {
    let configs: Vec<_> = (0..1000).map(|run| draw(1, run)).collect();
    let servers: BTreeSet<usize> = configs.iter().map(|c| c.servers).collect();
    assert_eq!(servers, BTreeSet::from([1, 3, 5]));
    let etcd: Vec<_> = configs.iter().filter(|c| c.service == LockService::Etcd).collect();
    assert!((100..150).contains(&etcd.len()), "about one run in eight on etcd: {}", etcd.len());
    assert_eq!(etcd.iter().map(|c| c.servers).collect::<BTreeSet<_>>(), BTreeSet::from([1, 3]));
    let zookeeper: Vec<_> = configs.iter().filter(|c| c.service == LockService::ZooKeeper).collect();
    assert!((60..130).contains(&zookeeper.len()), "about one run in ten of the others on ZooKeeper: {}", zookeeper.len());
    assert_eq!(zookeeper.iter().map(|c| c.servers).collect::<BTreeSet<_>>(), BTreeSet::from([1, 3]));
    let postgres: Vec<_> = configs.iter().filter(|c| c.service == LockService::Postgres).collect();
    assert!((40..110).contains(&postgres.len()), "about one run in twelve of the rest on PostgreSQL: {}", postgres.len());
    let clients: BTreeSet<usize> = configs.iter().map(|c| c.clients).collect();
    assert_eq!(clients, (2..=8).collect());
    let workloads: BTreeSet<String> = configs
        .iter()
        .map(|c| match c.workload {
            Workload::Writes { register: RegisterChoice::CheckThenWrite { .. } } => "check_then_write".into(),
            workload => serde_json::to_string(&workload).unwrap(),
        })
        .collect();
    assert_eq!(workloads.len(), 1 + 4 + 3, "with_lock, four registers, three pitfalls: {workloads:?}");
    let mut kinds: BTreeSet<&str> = configs.iter().flat_map(|c| c.faults.iter().map(|f| c.fault_name(&f.fault))).collect();
    if configs.iter().any(|c| c.slow_resource()) {
        kinds.insert("resource_delay");
    }
    assert_eq!(kinds, FAULT_KINDS.iter().copied().collect(), "every fault kind is drawn");
}

#[test]
fn the_short_soak_meets_the_targets() {
    let configs: Vec<_> = (0..RUNS).map(|run| draw(SEED, run)).collect();
    let servers: BTreeSet<usize> = configs.iter().filter(|c| c.service == LockService::Redis).map(|c| c.servers).collect();
    assert_eq!(servers, BTreeSet::from([1, 3, 5]), "the short soak draws every cluster size");
    let etcd: Vec<_> = configs.iter().filter(|c| c.service == LockService::Etcd).collect();
    assert!(etcd
        .iter()
        .any(|c| c.servers == 3 && c.faults.iter().any(|f| matches!(f.fault, FaultKind::Crash { .. } | FaultKind::ServerPause { .. }))));
    assert!(etcd.iter().any(|c| matches!(c.workload, Workload::Writes { .. })));
    let zookeeper: Vec<_> = configs.iter().filter(|c| c.service == LockService::ZooKeeper).collect();
    assert!(zookeeper.iter().any(|c| c.faults.iter().any(|f| matches!(f.fault, FaultKind::ClientPause { .. }))));
    assert!(configs.iter().any(|c| c.service == LockService::Postgres));
    let kinds: BTreeSet<&str> = configs.iter().flat_map(|c| c.faults.iter().map(|f| c.fault_name(&f.fault))).collect();
    assert_eq!(kinds.len(), 13, "{kinds:?}");
    assert!(configs.iter().any(|c| c.workload == Workload::Holds));
    assert!(configs.iter().any(|c| matches!(c.workload, Workload::Writes { .. })));
    assert!(configs.iter().any(|c| matches!(c.workload, Workload::Pitfall { .. })));
    assert!(configs.iter().flat_map(|c| &c.faults).any(|f| matches!(f.fault, FaultKind::ClientPause { .. })));

    let histories = tempfile::tempdir().expect("a temporary directory");
    let (summary, output) = soak(&["--runs", &RUNS.to_string(), "--seed", &SEED.to_string()], histories.path());
    for key in ["runs", "violations_in_safe", "violations_in_unsafe", "unreported_losses", "seconds"] {
        assert!(summary[key].is_number(), "{key} in {summary}");
    }
    let faults = summary["faults"].as_object().expect("faults by kind");
    assert_eq!(faults.keys().map(String::as_str).collect::<BTreeSet<_>>(), FAULT_KINDS.iter().copied().collect());
    assert!(faults.values().map(|n| n.as_u64().unwrap()).sum::<u64>() > 0, "faults struck");
    assert_eq!(summary["runs"], RUNS);
    assert_eq!(summary["violations_in_safe"], 0, "no violation where the model calls it safe");
    assert_eq!(summary["unreported_losses"], 0, "every lost lock reported");
    assert_eq!(summary["harness_errors"], 0, "every run carried out as planned");
    assert_eq!(summary["services"]["etcd"]["runs"], etcd.len() as u64, "{summary}");
    assert_eq!(summary["services"]["zookeeper"]["runs"], zookeeper.len() as u64, "{summary}");
    let postgres = configs.iter().filter(|c| c.service == LockService::Postgres).count();
    assert_eq!(summary["services"]["postgres"]["runs"], postgres as u64, "{summary}");
    assert!(summary["histories"].as_str().unwrap().starts_with(histories.path().to_str().unwrap()));
    assert!(output.status.success(), "exit status {:?}", output.status);
    // Every run's history went through trace validation; a rejection is a behaviour of the real
    // client that the model cannot produce within the search's bounds: a finding to look at.
    let v = &summary["validation"];
    let counted: u64 = ["accepted", "rejected", "undecided", "unsupported"].iter().map(|k| v[k].as_u64().unwrap()).sum();
    assert_eq!(counted, RUNS, "{v}");
    assert_eq!(v["rejected"], 0, "{v}");
    assert!(v["accepted"].as_u64().unwrap() > 0, "validation accepted no run: {v}");
}

/// The ZooKeeper runs among the first 135 of seed 2024 (13 runs): the recipe on 1 and 3 real
/// servers with client pauses past the session timeout, the leader or another server paused or
/// killed and restarted, and faults on the clients' links; no violation where the model calls
/// the run safe (mutual exclusion included, which the recipe's validity rule keeps), every run
/// carried out as planned.
#[test]
fn the_zookeeper_soak_meets_the_targets() {
    let planned = service_runs(LockService::ZooKeeper, 135);
    assert_eq!(planned.len(), 13);
    let faults = |pick: fn(&FaultKind) -> bool| planned.iter().flat_map(|c| &c.faults).filter(|f| pick(&f.fault)).count();
    assert!(faults(|f| matches!(f, FaultKind::ClientPause { .. })) >= 3);
    assert!(faults(|f| matches!(f, FaultKind::Crash { .. })) >= 2);
    assert!(faults(|f| matches!(f, FaultKind::ServerPause { node: Target::Leader, .. })) >= 1);
    let summary = service_soak("zookeeper", 135, 13, &["client_pause", "member_pause", "member_kill_restart"]);
    assert_eq!(summary["validation"]["unsupported"], 13, "ZooKeeper histories say why they are not validated: {summary}");
}

/// The PostgreSQL advisory-lock runs among the first 120 of seed 2024 (9 runs): sessions ended
/// under their holders by dropped and blackholed connections, client pauses, delays; unfenced
/// and with a sequence's token checked by Redis or PostgreSQL. No violation where the model
/// calls the run safe (a token checked atomically keeps every write in order), every run
/// carried out as planned.
#[test]
fn the_postgres_soak_meets_the_targets() {
    let planned = service_runs(LockService::Postgres, 120);
    assert_eq!(planned.len(), 9);
    assert!(planned.iter().any(|c| c.workload == (Workload::Writes { register: RegisterChoice::Unfenced })));
    assert!(planned.iter().any(|c| matches!(c.workload, Workload::Writes { register } if register.fenced_atomically())));
    assert!(planned.iter().flat_map(|c| &c.faults).any(|f| matches!(f.fault, FaultKind::ClientPause { .. })));
    // A client pause strikes when its client next writes: one planned pause may find none, so
    // only the faults that strike whenever they are due are required to have struck.
    service_soak("postgres", 120, 9, &["net_drop", "one_way_loss"]);
}

/// The runs of seed 2024 among its first `runs` that are on `service`.
fn service_runs(service: LockService, runs: u64) -> Vec<redlock_conformance::soak::config::RunConfig> {
    (0..runs).map(|run| draw(2024, run)).filter(|c| c.service == service).collect()
}

/// Carries out the `service` runs among the first `runs` of seed 2024 (`expected` of them) and
/// holds them to the targets: no violation where the model calls a run safe, every run carried
/// out as planned, each of `kinds` of fault struck. Returns the summary.
fn service_soak(service: &str, runs: u64, expected: u64, kinds: &[&str]) -> Value {
    let histories = tempfile::tempdir().expect("a temporary directory");
    let (summary, output) = soak(&["--runs", &runs.to_string(), "--seed", "2024", "--service", service], histories.path());
    assert_eq!(summary["runs"], expected);
    assert_eq!(summary["services"][service]["runs"], expected, "{summary}");
    assert_eq!(summary["violations_in_safe"], 0, "no violation where the model calls it safe: {summary}");
    assert_eq!(summary["harness_errors"], 0, "every run carried out as planned: {summary}");
    for kind in kinds {
        assert!(summary["faults"][kind].as_u64().unwrap() > 0, "{kind} struck: {summary}");
    }
    assert_eq!(summary["validation"]["rejected"], 0, "{summary}");
    assert!(output.status.success(), "exit status {:?}", output.status);
    summary
}

/// Runs the `soak` binary with `args` (plus `--json`, validation and `histories`), echoes its
/// output, and returns its JSON summary (which must be the last line) and the process's output.
fn soak(args: &[&str], histories: &std::path::Path) -> (Value, std::process::Output) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_soak"))
        .args(args)
        .args(["--json", "--validate", &VALIDATION_STATES.to_string(), "--histories"])
        .arg(histories)
        .output()
        .expect("the soak binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}{stdout}soak {args:?}: {:.1} s", started.elapsed().as_secs_f64());
    let planned = args.windows(2).find(|w| w[0] == "--runs").map(|w| w[1]).unwrap_or_default();
    let summary: Value = serde_json::from_str(stdout.lines().last().expect("a summary")).expect("the last line is one JSON object");
    let runs = summary["runs"].as_u64().unwrap_or_default();
    assert_eq!(stderr.lines().filter(|l| l.starts_with('[')).count() as u64, runs, "one progress line per run (of {planned} drawn)");
    (summary, output)
}
