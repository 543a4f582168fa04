//! Property tests of the command line: no argument vector makes `check` panic, and every one
//! it refuses gets an error that names what is wrong. Arguments are parsed and checked only
//! ([`redlock_model::cli::parse`]), never run, so that a generated `bench` or `explore` costs
//! nothing. `PROPTEST_CASES` runs more cases. Closed and full outputs are tested on the binary.

use proptest::prelude::*;
use redlock_model::cli::{parse, ParseError};
use std::process::{Command, Stdio};

/// Words a user might type, numbers on every edge, and noise.
fn word() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just("run"),
        Just("list"),
        Just("table"),
        Just("history"),
        Just("bench"),
        Just("explore"),
        Just("bench-run"),
        Just("redlock"),
        Just("redlock-n3"),
        Just("single-node"),
        Just("pause-fenced"),
        Just("nope"),
        Just("-"),
        Just("--json"),
        Just("--timing"),
        Just("sync"),
        Just("async"),
        Just("--servers"),
        Just("--clients"),
        Just("--ttl"),
        Just("--attempts"),
        Just("--drift"),
        Just("--skew"),
        Just("--delay"),
        Just("--threads"),
        Just("--max-states"),
        Just("--time-limit"),
        Just("--budget"),
        Just("--run-budget"),
        Just("--scaling"),
        Just("--scenario"),
        Just("--addr"),
        Just("--search"),
        Just("dfs"),
        Just("--help"),
        Just("--version"),
    ]
    .prop_map(str::to_string);
    let numbers =
        prop_oneof![Just(0u64), Just(1), Just(255), Just(256), Just(u64::MAX), Just(1 << 63), Just(u32::MAX as u64), any::<u64>()]
            .prop_map(|n| n.to_string());
    prop_oneof![6 => words, 3 => numbers, 1 => Just("-1".to_string()), 1 => "\\PC{0,12}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_argument_vector_panics(args in proptest::collection::vec(word(), 0..8)) {
        let argv = std::iter::once("check".to_string()).chain(args.iter().cloned());
        match parse(argv) {
            Ok(_) => {}
            Err(ParseError::Clap(e)) => prop_assert!(!e.to_string().is_empty()),
            Err(ParseError::Invalid(message)) => {
                prop_assert!(!message.is_empty() && !message.contains('\n'), "{args:?}: {message:?}");
            }
        }
    }
}

/// Every flag that takes a number is bounded with a message naming it.
#[test]
fn every_numeric_flag_has_a_bound() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "redlock", "--servers", "200"], "--servers 200 is beyond what the model can explore"),
        (&["run", "redlock", "--ttl", "255"], "--ttl 255 ticks is beyond what the model can explore"),
        (&["run", "redlock", "--attempts", "9"], "--attempts must be between 1 and 3"),
        (&["run", "redlock", "--max-states", "999"], "--max-states must be at least 1000"),
        (&["run", "redlock", "--time-limit", "9223372036854775808"], "--time-limit must be at most"),
        (&["bench", "--run-budget", "86401"], "--run-budget must be between 1 and 86400"),
    ];
    for (args, message) in cases {
        let argv = std::iter::once("check").chain(args.iter().copied());
        match parse(argv) {
            Err(ParseError::Invalid(m)) => assert!(m.contains(message), "{args:?}: {m}"),
            other => panic!("{args:?}: {other:?}"),
        }
    }
    // Beyond a u8 or a u64, clap refuses the value itself.
    for args in [["run", "redlock", "--servers", "256"], ["run", "redlock", "--max-states", "18446744073709551616"]] {
        assert!(matches!(parse(std::iter::once("check").chain(args)), Err(ParseError::Clap(_))), "{args:?}");
    }
}

/// A full or closed stdout ends the program with a one-line error or quietly, never a panic.
#[test]
fn a_full_or_closed_output_is_no_panic() {
    for args in [&["list"][..], &["run", "single-node", "--timing", "sync"], &["history", "-"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_check"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("cannot write the output") && !err.contains("panicked"), "{args:?}: {err}");
    }
    // A reader that goes away: the process ends (by SIGPIPE, like other Unix tools) and says nothing.
    let mut child = Command::new(env!("CARGO_BIN_EXE_check")).arg("list").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
