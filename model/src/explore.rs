//! `check explore`: serves Stateright's Explorer on a scenario's counterexample.

use crate::check::{check, SearchOptions};
use crate::report::counterexample_trace;
use crate::scenario::Scenario;
use crate::setup::Setup;
use crate::system::LockSystem;
use stateright::Model;
use std::net::{SocketAddr, TcpListener};

/// Resolves `addr`, insisting on loopback, and picks a free port where it says 0.
pub fn loopback_addr(addr: &str) -> Result<SocketAddr, String> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| format!("--addr {addr:?} is not an address like 127.0.0.1:3000 ({e})"))?;
    if !parsed.ip().is_loopback() {
        return Err(format!("--addr {addr}: the Explorer serves on loopback only (127.0.0.0/8 or ::1)"));
    }
    // Binding first gives a clear error (Stateright's own bind panics) and resolves port 0.
    let listener = TcpListener::bind(parsed).map_err(|e| format!("cannot listen on {parsed}: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// Finds the scenario's counterexample, prints the link that opens it, and serves until the
/// process is stopped.
pub fn serve(scenario: &Scenario, setup: Setup, addr: &str, options: SearchOptions) -> Result<(), String> {
    let addr = loopback_addr(addr)?;
    let cell = check(scenario, setup.clone(), options);
    let found = cell.invariants.iter().find_map(|r| counterexample_trace(&cell, r.invariant).map(|t| (r.invariant, t)));
    let served = match &found {
        Some((invariant, (cx_setup, trace))) => {
            println!(
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
            println!(
                "{} ({}) has no counterexample: every judged property holds. Explore its states at:\n  http://{addr}/",
                scenario.name, setup.timing
            );
            setup
        }
    };
    println!("Serving the Explorer on http://{addr}/ ; stop it with Ctrl-C.");
    LockSystem::new(served).checker().serve(addr);
    Ok(())
}
