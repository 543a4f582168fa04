use redlock_model::check::{check_scenario, SearchOptions};
use redlock_model::scenario::SCENARIOS;
use redlock_model::setup::Timing;
use std::time::Duration;

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    for sc in SCENARIOS {
        if !only.is_empty() && !only.iter().any(|o| o == sc.name) { continue; }
        for t in Timing::BOTH {
            let r = check_scenario(sc, t, SearchOptions { budget: Duration::from_secs(std::env::var("BUDGET").ok().and_then(|b| b.parse().ok()).unwrap_or(20)), threads: 2 });
            let inv: Vec<String> = r.invariants.iter().map(|i| format!("{}={}{}{}", i.invariant.name(), i.verdict, if i.verdict.contradicts(i.expected) {"!!"} else {""}, i.counterexample.as_ref().map(|c| format!("({})", c.len())).unwrap_or_default())).collect();
            let wit: Vec<String> = r.witnesses.iter().map(|w| format!("{}={:?}", w.name, w.found)).collect();
            println!("{:26} {:5} {:>9} {:6.2}s {} | {}", sc.name, t.name(), r.unique_states, r.seconds, inv.join(" "), wit.join(" "));
        }
    }
}
