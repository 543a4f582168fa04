//! `check explore`: serves Stateright's Explorer on a scenario's counterexample.

use crate::check::{check, SearchOptions};
use crate::report::counterexample_trace;
use crate::scenario::Scenario;
use crate::setup::Setup;
use crate::system::LockSystem;
use stateright::Model;
use std::net::{SocketAddr, TcpListener};

/// Binds `addr`, insisting on loopback (port 0 picks a free port). The caller keeps the
/// listener until the Explorer binds the same address, so that no other process takes the port
/// while the counterexample is searched for.
pub fn loopback_listener(addr: &str) -> Result<TcpListener, String> {
    // `localhost` is loopback by definition; resolving it would ask the system's resolver.
    let literal = match addr.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => addr.to_string(),
    };
    let parsed: SocketAddr =
        literal.parse().map_err(|e| format!("--addr {addr:?} is not an address like 127.0.0.1:3000 or localhost:3000 ({e})"))?;
    if !parsed.ip().is_loopback() {
        return Err(format!("--addr {addr}: the Explorer serves on loopback only (127.0.0.0/8 or ::1)"));
    }
    // Binding first gives a clear error (Stateright's own bind panics) and resolves port 0.
    TcpListener::bind(parsed).map_err(|e| format!("cannot listen on {parsed}: {e}"))
}

/// Finds the scenario's counterexample, prints the link that opens it, and serves until the
/// process is stopped.
pub fn serve(scenario: &Scenario, setup: Setup, addr: &str, options: SearchOptions, json: bool) -> Result<(), String> {
    let listener = loopback_listener(addr)?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let cell = check(scenario, setup.clone(), options);
    let found = cell.invariants.iter().find_map(|r| counterexample_trace(&cell, r.invariant).map(|t| (r.invariant, t)));
    if json {
        let line = serde_json::json!({
            "scenario": scenario.name,
            "timing": setup.timing.name(),
            "property": found.as_ref().map(|(i, _)| i.name()),
            "url": format!("http://{addr}{}", found.as_ref().map_or("/".to_string(), |(_, (_, t))| t.explorer_path.clone())),
        });
        crate::outln!("{line}");
    }
    let served = match &found {
        Some((_, (cx_setup, _))) if json => cx_setup.clone(),
        None if json => setup,
        Some((invariant, (cx_setup, trace))) => {
            crate::outln!(
                "{} ({}) violates {}. Open the counterexample ({} steps{}):\n  http://{addr}{}",
                scenario.name,
                setup.timing,
                invariant,
                trace.steps.len(),
                if cx_setup.servers != setup.servers { format!(", {} servers", cx_setup.servers) } else { String::new() },
                trace.explorer_path
            );
            cx_setup.clone()
        }
        None => {
            crate::outln!(
                "{} ({}) has no counterexample: every judged property holds. Explore its states at:\n  http://{addr}/",
                scenario.name,
                setup.timing
            );
            setup
        }
    };
    if !json {
        crate::outln!("Serving the Explorer on http://{addr}/ ; stop it with Ctrl-C.");
    }
    // The Explorer's checker discovers nothing until asked to run: ask as soon as it listens,
    // so that its property list shows the counterexample too.
    // The placeholder goes first: a request sent to it would be lost.
    drop(listener);
    std::thread::spawn(move || request_run_to_completion(addr));
    // That search is bounded, so that it ends instead of keeping a core busy for as long as the
    // Explorer is open: to the counterexample's depth (where the property is broken), and to
    // the cell's state budget.
    let checker = LockSystem::new(served).checker().target_state_count(usize::try_from(options.max_states).unwrap_or(usize::MAX));
    match found {
        Some((_, (_, trace))) => checker.target_max_depth(trace.steps.len() + 1).serve(addr),
        None => checker.serve(addr),
    };
    Ok(())
}

fn request_run_to_completion(addr: SocketAddr) {
    use std::io::{Read, Write};
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let request = format!("POST /.runtocompletion HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_listener;

    #[test]
    fn the_explorer_listens_on_loopback_only_localhost_included() {
        assert!(loopback_listener("localhost:0").unwrap().local_addr().unwrap().ip().is_loopback());
        assert!(loopback_listener("127.0.0.1:0").is_ok());
        assert!(loopback_listener("0.0.0.0:0").unwrap_err().contains("loopback only"));
        assert!(loopback_listener("example.com:80").unwrap_err().contains("is not an address"));
    }
}
