//! The TLA+ twin agrees with the Rust model, cell by cell.
//!
//! For every model in `tla/manifest.json` (each checked by TLC in `tla/check.sh`, which compares
//! TLC's verdict and distinct state count with the manifest), this test checks that
//! - the model's `.cfg` sets every constant of `tla/Redlock.tla` to the value of the Rust
//!   model's `Setup` for the same scenario and timing, and checks exactly the scenario's judged
//!   invariants (plus `TypeOK`);
//! - the Rust model, explored to the end breadth first without symmetry, reaches exactly the
//!   manifest's number of distinct states (both sides have the same abstractions: the same state
//!   variables, the same actions, the same quiet steps taken with a tick);
//! - its verdicts agree: no judged invariant broken where TLC expects success, and the invariant
//!   TLC reports broken is broken in Rust too.

use redlock_client::judge::Invariant;
use redlock_model::scenario;
use redlock_model::setup::{Setup, Timing};
use redlock_model::system::{LockSystem, SystemState};
use serde::Deserialize;
use serde_json::Value;
use stateright::Model;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Entry {
    spec: String,
    cfg: String,
    scenario: String,
    timing: String,
    expect: String,
    distinct_states: usize,
}

fn tla_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tla")
}

fn manifest() -> Vec<Entry> {
    let path = tla_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("tla/manifest.json is a list of models")
}

/// `mutual_exclusion` -> `MutualExclusion` (`docs/design.md`, *Output contracts*: snake_case in Rust, CamelCase in TLA+).
fn camel(snake: &str) -> String {
    snake
        .split(['_', '-'])
        .map(|w| {
            let mut cs = w.chars();
            cs.next().map(|c| c.to_ascii_uppercase().to_string() + cs.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A TLA+ constant's value for a JSON value of the Rust setup (`null` is the model value None).
fn tla_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// The constants of `tla/Redlock.tla` for a Rust setup, in the spec's order.
fn constants(setup: &Setup) -> Vec<(&'static str, String)> {
    let s = serde_json::to_value(setup).expect("a setup serializes");
    let v = |k: &str| tla_value(&s[k]);
    let b = |k: &str| tla_value(&s["bounds"][k]);
    let servers: Vec<String> = (0..setup.servers).map(|i| i.to_string()).collect();
    vec![
        ("None", "None".into()),
        ("Timing", v("timing")),
        ("Servers", format!("{{{}}}", servers.join(", "))),
        ("NumClients", v("clients")),
        ("Attempts", v("attempts")),
        ("TTL", v("ttl")),
        ("Drift", v("drift")),
        ("NodeTimeout", v("node_timeout")),
        ("RetryDelay", v("retry_delay")),
        ("WriteMargin", v("write_margin")),
        ("Delay", b("delay")),
        ("Skew", b("skew")),
        ("PauseBound", b("pause")),
        ("Service", v("service")),
        ("Replicas", v("replicas")),
        ("WaitReplicas", v("wait_replicas")),
        ("LockDelay", v("lock_delay")),
        ("Encoding", v("encoding")),
        ("Fencing", v("fencing")),
        ("ResourceKind", v("resource")),
        ("Watchdog", v("watchdog")),
        ("MaxExtensions", v("max_extensions")),
        ("RestartMode", v("restart")),
        ("FailoverFault", v("failover")),
        ("ClockJumpBy", v("clock_jump")),
        ("ClientCrashes", v("client_crash")),
        ("Pauses", v("pauses")),
    ]
}

/// The constants and invariants a TLC configuration sets.
fn parse_cfg(text: &str) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut constants = BTreeMap::new();
    let mut invariants = BTreeSet::new();
    let mut section = "";
    for line in text.lines() {
        let line = line.split("\\*").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match line.split_whitespace().next() {
            Some(word @ ("CONSTANTS" | "CONSTANT" | "INVARIANTS" | "INVARIANT" | "SPECIFICATION")) => {
                section = word.trim_end_matches('S');
                if section == "SPECIFICATION" {
                    continue;
                }
                let rest = line[word.len()..].trim();
                if !rest.is_empty() {
                    invariants.extend(rest.split_whitespace().map(String::from).filter(|_| section == "INVARIANT"));
                }
            }
            _ => match section {
                "CONSTANT" => {
                    let (name, value) = line.split_once('=').unwrap_or_else(|| panic!("not a constant: {line}"));
                    constants.insert(name.trim().to_string(), value.trim().to_string());
                }
                "INVARIANT" => invariants.extend(line.split_whitespace().map(String::from)),
                _ => panic!("unexpected line in a cfg: {line}"),
            },
        }
    }
    (constants, invariants)
}

/// The Rust model's whole space, breadth first without symmetry: its unique states and the
/// judged invariants some state breaks, as TLA+ names. A plain search of our own, so that the
/// count is independent of Stateright's checker (which leaves a state unexpanded once every
/// property is decided there, unless `LockSystem::whole_space` is on).
fn explore(setup: Setup) -> (usize, BTreeSet<String>) {
    let judged = setup.judged.clone();
    let system = LockSystem::new(setup);
    let mut seen: HashSet<SystemState> = HashSet::new();
    let mut queue: VecDeque<SystemState> = VecDeque::new();
    let mut violated = BTreeSet::new();
    for s in system.init_states() {
        if seen.insert(s.clone()) {
            queue.push_back(s);
        }
    }
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        violated.extend(judged.iter().filter(|i| s.judge.violation(**i).is_some()).map(|i| camel(i.name())));
        system.actions(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(next) = system.next_state(&s, a) {
                if !seen.contains(&next) {
                    seen.insert(next.clone());
                    queue.push_back(next);
                }
            }
        }
    }
    (seen.len(), violated)
}

#[test]
fn every_tlc_model_matches_its_rust_cell() {
    let entries = manifest();
    assert!(entries.iter().any(|e| e.expect == "success"), "the manifest has a model that holds");
    assert!(entries.iter().any(|e| e.expect.starts_with("violated: ")), "and one that fails");
    let mut problems = Vec::new();
    for e in &entries {
        let sc = scenario::find(&e.scenario).unwrap_or_else(|| panic!("{}: no scenario {}", e.cfg, e.scenario));
        let timing = match e.timing.as_str() {
            "sync" => Timing::Sync,
            "async" => Timing::Async,
            other => panic!("{}: timing {other}", e.cfg),
        };
        let setup = sc.setup(timing);
        let stem = format!("MC{}{}", camel(&e.scenario), camel(&e.timing));
        assert_eq!((e.spec.as_str(), e.cfg.as_str()), (&*format!("{stem}.tla"), &*format!("{stem}.cfg")), "the MC<Scenario><Timing> names");

        let module = std::fs::read_to_string(tla_dir().join(&e.spec)).expect("the model's module");
        assert!(module.contains(&format!("MODULE {stem} ")) && module.contains("EXTENDS Redlock"), "{}", e.spec);

        let (set, invariants) = parse_cfg(&std::fs::read_to_string(tla_dir().join(&e.cfg)).expect("the model's cfg"));
        let wanted = constants(&setup);
        let wanted_map: BTreeMap<String, String> = wanted.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        if set != wanted_map {
            let block: String = wanted.iter().map(|(k, v)| format!("    {k} = {v}\n")).collect();
            problems.push(format!("{}: its constants are not the Rust setup's; they should read\nCONSTANTS\n{block}", e.cfg));
        }
        let mut judged: BTreeSet<String> = setup.judged.iter().map(|i| camel(i.name())).collect();
        judged.insert("TypeOK".into());
        if invariants != judged {
            problems.push(format!("{}: checks {invariants:?}, the scenario judges {judged:?}", e.cfg));
        }

        let (states, violated) = explore(setup);
        if states != e.distinct_states {
            problems.push(format!("{}: TLC's {} distinct states, Rust's {states}", e.cfg, e.distinct_states));
        }
        match e.expect.strip_prefix("violated: ") {
            None if e.expect == "success" && violated.is_empty() => {}
            Some(name) if violated.contains(name) && Invariant::ALL.iter().any(|i| camel(i.name()) == name) => {}
            _ => problems.push(format!("{}: TLC {}, Rust breaks {violated:?}", e.cfg, e.expect)),
        }
        println!("{}: {states} states, Rust breaks {violated:?}, TLC: {}", e.cfg, e.expect);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
