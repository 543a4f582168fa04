use redlock_model::scenario::SCENARIOS;
use redlock_model::setup::Timing;
use redlock_model::system::LockSystem;
use stateright::Model;
use std::collections::{HashSet, VecDeque};

fn full_count(sys: &LockSystem, limit: usize) -> Option<(usize, Vec<&'static str>)> {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::new();
    let mut violated = std::collections::BTreeSet::new();
    for s in sys.init_states() {
        if seen.insert(s.clone()) { queue.push_back(s); }
    }
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        for v in s.judge.violations() { violated.insert(v.property.name()); }
        actions.clear();
        sys.actions(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(n) = sys.next_state(&s, a) {
                if seen.insert(n.clone()) {
                    if seen.len() > limit { return None; }
                    queue.push_back(n);
                }
            }
        }
    }
    Some((seen.len(), violated.into_iter().collect()))
}

#[test]
#[ignore]
fn measure() {
    for sc in SCENARIOS.iter().filter(|s| std::env::var("ONLY").map_or(true, |o| o.split(',').any(|x| x == s.name))) {
        for t in Timing::BOTH {
            let sys = LockSystem::new(sc.setup(t));
            let start = std::time::Instant::now();
            let r = full_count(&sys, 600_000);
            println!("{:28} {:6} {:?} {:.1}s", sc.name, t.name(), r, start.elapsed().as_secs_f64());
        }
    }
}

#[test]
#[ignore]
fn dump_setups() {
    for sc in SCENARIOS {
        for t in Timing::BOTH {
            println!("SETUP {}", serde_json::to_string(&sc.setup(t)).unwrap());
        }
    }
}

#[test]
#[ignore]
fn dump_scenarios() {
    for sc in SCENARIOS {
        let exp: Vec<_> = sc.expected.iter().map(|(i, s, a)| serde_json::json!([i.name(), s, a])).collect();
        println!("SCEN {}", serde_json::json!({"name": sc.name, "claim": sc.claim, "note": sc.note, "expected": exp}));
    }
}
