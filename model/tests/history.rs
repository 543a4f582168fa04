//! `check history`: the auditor of recorded histories, streamed through a pipe at scale, with
//! its errors; the full 10-million-record run is in the README.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Pipes the generator's history into `check history -`: (exit code, stdout).
fn audit_generated(records: u64, violate: bool) -> (i32, String) {
    audit_shape(records, violate, "rotating")
}

fn audit_shape(records: u64, violate: bool, shape: &str) -> (i32, String) {
    // Beside the bin: `target/<profile>/examples/`. Built by `cargo test` already; built here when
    // only this test target was asked for.
    let generator = Path::new(env!("CARGO_BIN_EXE_check")).with_file_name("examples").join("generate_history");
    assert!(generator.exists() || build_generator(), "generate_history example");
    let mut args = vec![records.to_string(), "--shape".into(), shape.into()];
    if violate {
        args.push("--violate".into());
    }
    let mut gen = Command::new(&generator).args(&args).stdout(Stdio::piped()).spawn().unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_check")).args(["history", "--json", "-"]).stdin(gen.stdout.take().unwrap()).output().unwrap();
    assert!(gen.wait().unwrap().success());
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn build_generator() -> bool {
    Command::new(env!("CARGO"))
        .args(["build", "-p", "redlock-model", "--example", "generate_history"])
        .args(if cfg!(debug_assertions) { vec![] } else { vec!["--release"] })
        .status()
        .unwrap()
        .success()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_streamed_history_of_300k_records_holds_in_memory_bounded_by_its_locks() {
    let (code, out) = audit_generated(300_000, false);
    assert_eq!(code, 0, "{out}");
    let lines = json_lines(&out);
    let properties = redlock_client::judge::Invariant::ALL.len();
    assert_eq!(lines.len(), properties + 1);
    assert!(lines[..properties].iter().all(|l| l["verdict"] == "holds"), "{out}");
    let summary = &lines[properties];
    assert_eq!(summary["records"], 300_000);
    assert!(summary["peak_live_locks"].as_u64().unwrap() <= 64, "{summary}");
}

/// Memory follows the locks with live state, not the names seen or the extensions made (the
/// README has the peak memory of the full-size runs).
#[test]
fn many_lock_names_and_many_extensions_keep_one_lock_at_a_time() {
    let (code, out) = audit_shape(600_000, false, "distinct");
    assert_eq!(code, 0, "{out}");
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!((summary["locks"].as_u64(), summary["locks_exact"].as_bool()), (Some(60_000), Some(true)), "{summary}");
    assert_eq!(summary["peak_live_locks"], 1, "{summary}");
    let (code, out) = audit_shape(200_000, false, "extensions");
    assert_eq!(code, 0, "{out}");
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!((summary["locks"].as_u64(), summary["peak_live_locks"].as_u64()), (Some(1), Some(1)), "{summary}");
}

#[test]
fn two_holders_at_once_are_found_with_their_line() {
    let (code, out) = audit_generated(100_000, true);
    assert_eq!(code, 1, "{out}");
    let lines = json_lines(&out);
    let me = &lines[0];
    assert_eq!((me["property"].as_str(), me["verdict"].as_str()), (Some("mutual_exclusion"), Some("violated")));
    assert!(me["line"].as_u64().unwrap() > 50_000, "found where it was injected: {me}");
    assert!(me["explanation"].as_str().unwrap().contains("still believes it holds the lock"));
}

fn check_file(contents: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("history-test-{}-{}", std::process::id(), contents.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.ndjson");
    std::fs::File::create(&path).unwrap().write_all(contents.as_bytes()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_check")).args(["history", path.to_str().unwrap()]).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

#[test]
fn bad_histories_get_errors_naming_file_and_line_and_never_a_panic() {
    let good = r#"{"v":1,"t_ns":5,"resource":"r","kind":"setup","nodes":3}"#;
    let cases = [
        (format!("{good}\n{{\"v\":1,\"t_ns\":6,\"resou"), "line 2: truncated record"),
        (format!("{good}\n{{\"v\":1,\"t_ns\":6,\"resource\":\"r\",\"kind\":\"warp\"}}\n"), "line 2: unknown event kind \"warp\""),
        (
            format!("{good}\n{{\"v\":9,\"t_ns\":6,\"resource\":\"r\",\"kind\":\"setup\",\"nodes\":3}}\n"),
            "line 2: history schema version 9 is not supported",
        ),
        (format!("{good}\n{}\n", good.replace("\"t_ns\":5", "\"t_ns\":4")), "line 2: time goes backwards"),
        (format!("{good}\nnonsense\n"), "line 2: malformed JSON"),
        (format!("{good}\n{}\n", "x".repeat(2 << 20)), "line 2: the line is longer than"),
        (
            format!("{good}\n{{\"v\":1.0,\"t_ns\":6,\"resource\":\"r\",\"kind\":\"setup\",\"nodes\":3}}\n"),
            "line 2: the schema version \"v\" must be the integer 1",
        ),
        (
            format!("{good}\n{{\"v\":1,\"t_ns\":6,\"resource\":\"r\",\"kind\":\"fault\",\"fault\":{{\"type\":\"meteor\"}}}}\n"),
            "line 2: bad \"fault\" record: unknown variant `meteor`",
        ),
    ];
    for (contents, message) in cases {
        let out = check_file(&contents);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{contents}: {err}");
        assert!(err.contains(message) && err.contains("h.ndjson"), "{contents}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let missing = Command::new(env!("CARGO_BIN_EXE_check")).args(["history", "/nonexistent/h.ndjson"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open /nonexistent/h.ndjson"));
}

#[test]
fn recordings_of_two_processes_are_merged_by_stamp() {
    let record = |t: u64, kind: &str, client: u32| {
        format!(r#"{{"v":1,"t_ns":{t},"resource":"r","kind":"{kind}","client":{client},"validity_ms":10,"token":null}}"#)
    };
    let dir = std::env::temp_dir().join(format!("history-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Each process's file is in stamp order; together, client 2's grant falls inside client 1's
    // window.
    std::fs::write(dir.join("a.ndjson"), format!("{}\n", record(1_000_000, "granted", 1))).unwrap();
    std::fs::write(dir.join("b.ndjson"), format!("{}\n", record(5_000_000, "granted", 2))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(["history", "--json"])
        .arg(dir.join("b.ndjson"))
        .arg(dir.join("a.ndjson"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(lines[0]["verdict"], "violated");
    assert!(lines[0]["file"].as_str().unwrap().ends_with("b.ndjson"));
}
