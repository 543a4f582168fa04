//! The `check` command line: its outputs' shapes and its errors.

use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_check")).args(args).output().expect("check runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_json_prints_one_record_per_property_with_a_structured_counterexample() {
    let out = check(&["run", "single-plain-del", "--timing", "sync", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = records.iter().map(|r| r["property"].as_str().unwrap()).collect();
    assert_eq!(names, ["owner_only_release", "mutual_exclusion", "lock_passed_on", "clients_contend"]);
    let violated = &records[0];
    for field in [
        "scenario",
        "timing",
        "property",
        "kind",
        "expected",
        "verdict",
        "unique_states",
        "seconds",
        "explorer_path",
        "trace",
        "steps",
        "config",
    ] {
        assert!(!violated[field].is_null(), "missing {field} in {violated}");
    }
    assert_eq!(violated["verdict"], "violated");
    assert_eq!(violated["timing"], "sync");
    assert!(violated["explorer_path"].as_str().unwrap().starts_with("/#/steps/0/"));
    let steps = violated["steps"].as_array().unwrap();
    assert_eq!(steps.len(), violated["trace"].as_array().unwrap().len() - 1, "one line per step and the verdict");
    assert_eq!(steps[0]["action"], "tick");
    assert!(steps.iter().any(|s| s["action"] == "deliver" && s["params"]["Deliver"]["msg"] == "Delete"), "{steps:?}");
    // Each step also in words, with the actors by name (params has their indices).
    assert!(steps.iter().any(|s| s["what"] == "redis 0 receives DEL from client 1"), "{steps:?}");
    assert_eq!(records[1]["verdict"], "holds");
    assert!(records[1]["trace"].as_array().unwrap().is_empty());
}

#[test]
fn list_names_every_scenario() {
    let out = check(&["list", "--json"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), redlock_model::scenario::SCENARIOS.len());
    assert!(text.contains("\"scenario\":\"redlock-clock-jump\""));
    // The text list says what each cell is expected to show, as the table records it.
    let out = check(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| l.trim_start().starts_with("expected: ")).count(), redlock_model::scenario::SCENARIOS.len());
    assert!(text.contains("expected: owner_only_release violated (sync) / violated (async)"), "{text}");
}

#[test]
fn an_unexpected_verdict_fails_the_run() {
    // With no drift allowance, Redlock loses mutual exclusion in sync: not what the preset expects.
    let out = check(&["run", "redlock-n3", "--timing", "sync", "--drift", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expected holds, found violated"), "{}", stderr(&out));
}

#[test]
fn bad_arguments_get_clear_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "redlok"], "no scenario named \"redlok\""),
        (&["run", "redlock", "--servers", "0"], "--servers must be at least 1"),
        (&["run", "redlock", "--ttl", "0"], "--ttl 0 is impossible"),
        (&["run", "redlock", "--timing", "sync", "--skew", "4"], "--skew 4 must be below the TTL"),
        (&["run", "redlock", "--timing", "async", "--skew", "1"], "leaves unbounded: use it with --timing sync"),
        (&["run", "redlock", "--clients", "9"], "--clients must be between 1 and 4"),
        (&["run", "redlock", "--ttl", "3", "--drift", "3"], "--drift 3 ticks is not below the TTL (3 ticks)"),
        (&["run", "redlock", "--drift", "100"], "--drift 100 ticks is not below the TTL (4 ticks)"),
        (&["explore", "redlock", "--addr", "10.1.2.3:3000"], "loopback only"),
        (&["explore", "redlock", "--addr", "nonsense"], "is not an address"),
        (&["run", "redlock", "--budget", "0"], "--time-limit must be at least 1 second"),
        (&["run", "redlock", "--time-limit", "18446744073709551615"], "--time-limit must be at most"),
        (&["run", "single-node", "--threads", "100000"], "--threads must be between 1 and 256"),
        (&["run", "single-node", "--threads", "0"], "--threads must be between 1 and 256"),
        (&["run", "single-node", "--max-states", "0"], "--max-states must be at least 1000"),
        (&["explore", "single-node", "--budget", "18446744073709551615"], "--time-limit must be at most"),
        (&["bench", "--run-budget", "0"], "--run-budget must be between 1 and 86400"),
        (&["run", "redlock", "--timing", "async", "--delay", "1"], "use it with --timing sync"),
        (&["run", "redlock-slow-replies", "--delay", "1"], "its claim is about slow messages"),
        (&["run", "redlock", "--lift", "X"], "--lift takes a comma-separated subset of N (network delay)"),
        (&["run", "redlock", "--lift", "N,N"], "--lift names N twice"),
        (&["run", "redlock", "--lift", ""], "--lift takes a comma-separated subset"),
        (&["run", "redlock", "--lift", "C", "--skew", "1"], "use it with --timing sync, or a --lift without C"),
        (&["run", "redlock", "--lift", "N", "--delay", "1"], "use it with --timing sync, or a --lift without N"),
        (&["run", "redlock", "--lift", "N", "--timing", "sync"], "cannot be used with"),
        (&["run", "pause-unfenced", "--pause-bound", "0"], "--pause-bound 0 ticks must be at least 1 and below the TTL"),
        (&["run", "redlock", "--timing", "sync", "--pause-bound", "1"], "no client of redlock pauses: it would change nothing"),
        (&["run", "pause-unfenced", "--timing", "async", "--pause-bound", "1"], "use it with --timing sync, or a --lift without P"),
        (&["run", "pause-unfenced", "--write-margin", "4"], "--write-margin 4 ticks is not below the TTL (4 ticks)"),
        (&["run", "redlock", "--node-timeout", "0"], "--node-timeout 0 ticks is impossible"),
    ];
    for (args, message) in cases {
        let out = check(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    // Unknown flags are clap's: also exit 2 with a usage message.
    let out = check(&["run", "redlock", "--colour"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--colour"));
}

#[test]
fn table_renders_json_records_and_refuses_garbage() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_check"))
        .arg("table")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"not json\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 1: not a `check --json` record"));
}

fn json_records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn verdict<'a>(records: &'a [serde_json::Value], property: &str) -> &'a str {
    records.iter().find(|r| r["property"] == property).and_then(|r| r["verdict"].as_str()).unwrap_or_else(|| panic!("{property}"))
}

/// Kleppmann's hazards one at a time, on one Redis node: a clock that runs fast breaks mutual
/// exclusion alone; unbounded delays alone do not (the client's validity check counts them).
#[test]
fn lift_checks_one_hazard_at_a_time_and_says_so_in_the_records() {
    let out = check(&["run", "single-node", "--lift", "C", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json_records(&out);
    assert_eq!(records[0]["timing"], "C");
    assert_eq!(records[0]["lifted"], serde_json::json!(["C"]));
    assert_eq!(records[0]["unbounded"], serde_json::json!(["C"]));
    assert_eq!(records[0]["expected"], "undecided", "the literature records no expectation for one hazard alone");
    assert_eq!(verdict(&records, "mutual_exclusion"), "violated");
    assert_eq!(records[0]["config"]["skew"], serde_json::Value::Null);
    assert_eq!(records[0]["config"]["delay"], 0);

    let out = check(&["run", "single-node", "--lift", "N", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json_records(&out);
    assert_eq!(records[0]["unbounded"], serde_json::json!(["N"]));
    assert_eq!(verdict(&records, "mutual_exclusion"), "holds");

    // --timing is --lift of nothing or of everything.
    let out = check(&["run", "single-node", "--lift", "N,P,C", "--json"]);
    let records = json_records(&out);
    assert_eq!(records[0]["timing"], "async");
    assert_eq!(records[0]["lifted"], serde_json::json!(["N", "P", "C"]));
}

/// A scenario that keeps a hazard bounded in both modes says so rather than pretending to lift it.
#[test]
fn lifting_a_hazard_the_scenario_keeps_bounded_is_said_out_loud() {
    let out = check(&["run", "pause-unfenced", "--lift", "N", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("pause-unfenced keeps N bounded in both timing modes"), "{}", stderr(&out));
    let records = json_records(&out);
    assert_eq!(records[0]["timing"], "sync");
    assert_eq!(records[0]["unbounded"], serde_json::json!([]));
    let out = check(&["run", "redlock-slow-replies", "--lift", "N", "--json"]);
    assert!(stderr(&out).contains("redlock-slow-replies leaves N unbounded in both timing modes"), "{}", stderr(&out));
    // Its async cell lifts the pause alone.
    let out = check(&["run", "pause-unfenced", "--timing", "async", "--json"]);
    assert_eq!(json_records(&out)[0]["unbounded"], serde_json::json!(["P"]));
}

/// The pause scenarios' sync verdict rests on two numbers, and both can be moved from the
/// command line: a pause longer than the holder's write margin breaks the unfenced resource; a
/// margin that covers the pause restores it.
#[test]
fn the_pause_bound_and_the_write_margin_decide_pause_unfenced_in_sync() {
    let verdict_with = |extra: &[&str]| {
        let mut args = vec!["run", "pause-unfenced", "--json"];
        args.extend_from_slice(extra);
        let out = check(&args);
        let records = json_records(&out);
        (verdict(&records, "no_lost_update").to_string(), records[0]["config"].clone(), out.status.code())
    };
    let (v, config, code) = verdict_with(&["--pause-bound", "2"]);
    assert_eq!((v.as_str(), code), ("violated", Some(1)), "a verdict that differs from the preset fails the run");
    assert_eq!(config["pause_bound"], 2);
    assert_eq!(config["write_margin"], 1);
    let (v, config, code) = verdict_with(&["--pause-bound", "2", "--write-margin", "2"]);
    assert_eq!((v.as_str(), code), ("holds", Some(0)));
    assert_eq!(config["write_margin"], 2);
    // The Explorer command printed beside the counterexample carries the bound that made it,
    // so that the Explorer shows the same counterexample.
    let out = check(&["run", "pause-unfenced", "--pause-bound", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("explore pause-unfenced --timing sync --pause-bound 2)"), "{text}");
}

/// Kleppmann's clock-jump example at its own size: on 5 nodes, client 1 holds A, B, C; C's
/// clock jumps; client 0 takes C, D, E. The nodes each client was granted share exactly the
/// one that jumped.
#[test]
fn the_five_node_clock_jump_counterexample_is_kleppmanns_abc_cde() {
    let out = check(&["run", "redlock-clock-jump", "--servers", "5", "--full-size", "--timing", "async", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json_records(&out);
    let me = records.iter().find(|r| r["property"] == "mutual_exclusion").unwrap();
    assert_eq!(me["verdict"], "violated");
    assert_eq!(me["counterexample_config"], serde_json::Value::Null, "the counterexample runs on the cell's own 5 nodes");
    let mut keys: [std::collections::BTreeSet<u64>; 2] = Default::default();
    let mut jumped = Vec::new();
    for event in me["steps"].as_array().unwrap().iter().flat_map(|s| s["events"].as_array().unwrap()) {
        match event["kind"].as_str() {
            Some("key_set") => {
                keys[event["owner"].as_u64().unwrap() as usize].insert(event["node"].as_u64().unwrap());
            }
            Some("fault") if event["fault"]["type"] == "clock_jump" => jumped.push(event["fault"]["node"].as_u64().unwrap()),
            _ => {}
        }
    }
    let shared: Vec<u64> = keys[0].intersection(&keys[1]).copied().collect();
    assert!(keys[0].len() >= 3 && keys[1].len() >= 3, "each client holds a majority: {keys:?}");
    assert_eq!(shared.len(), 1, "the majorities share one node: {keys:?}");
    assert_eq!(jumped, shared, "the shared node is the one whose clock jumped");
}

#[test]
fn a_path_that_breaks_two_invariants_is_printed_once() {
    let out = check(&["run", "pause-unfenced", "--timing", "async"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("counterexample, ").count(), 1, "{text}");
    assert!(text.contains("violates ordered_fenced_writes too: the counterexample above (no_lost_update)"), "{text}");
}
