use redlock_model::scenario::SCENARIOS;
use redlock_model::setup::Timing;
use redlock_model::system::{Action, LockSystem, SystemState};
use stateright::{Checker, Model, Property};

/// The lock system with one more property that no state satisfies, so that a search never
/// stops early: it explores the whole reachable space.
struct Whole(LockSystem);

impl Model for Whole {
    type State = SystemState;
    type Action = Action;
    fn init_states(&self) -> Vec<SystemState> {
        self.0.init_states()
    }
    fn actions(&self, s: &SystemState, a: &mut Vec<Action>) {
        self.0.actions(s, a)
    }
    fn next_state(&self, s: &SystemState, a: Action) -> Option<SystemState> {
        self.0.next_state(s, a)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        let mut props: Vec<Property<Self>> = self
            .0
            .setup
            .judged
            .iter()
            .map(|i| {
                let p = redlock_model::system::always(*i);
                let name = p.name;
                let _ = p;
                match *i {
                    redlock_client::judge::Property::MutualExclusion => Property::always(name, |m: &Whole, s: &SystemState| (redlock_model::system::always(redlock_client::judge::Property::MutualExclusion).condition)(&m.0, s)),
                    redlock_client::judge::Property::OwnerOnlyRelease => Property::always(name, |m: &Whole, s: &SystemState| (redlock_model::system::always(redlock_client::judge::Property::OwnerOnlyRelease).condition)(&m.0, s)),
                    redlock_client::judge::Property::OrderedFencedWrites => Property::always(name, |m: &Whole, s: &SystemState| (redlock_model::system::always(redlock_client::judge::Property::OrderedFencedWrites).condition)(&m.0, s)),
                    redlock_client::judge::Property::NoLostUpdate => Property::always(name, |m: &Whole, s: &SystemState| (redlock_model::system::always(redlock_client::judge::Property::NoLostUpdate).condition)(&m.0, s)),
                    redlock_client::judge::Property::EventuallyAcquirable => Property::always(name, |m: &Whole, s: &SystemState| (redlock_model::system::always(redlock_client::judge::Property::EventuallyAcquirable).condition)(&m.0, s)),
                }
            })
            .collect();
        props.push(Property::sometimes("never", |_, _| false));
        props
    }
}

#[test]
#[ignore]
fn measure() {
    let only = std::env::var("ONLY").ok();
    let limit: usize = std::env::var("LIMIT").ok().and_then(|l| l.parse().ok()).unwrap_or(400_000);
    for sc in SCENARIOS {
        if only.as_ref().is_some_and(|o| !o.split(',').any(|x| x == sc.name)) {
            continue;
        }
        for t in Timing::BOTH {
            let start = std::time::Instant::now();
            let checker = Whole(LockSystem::new(sc.setup(t))).checker().threads(1).target_state_count(limit).spawn_bfs().join();
            let n = checker.unique_state_count();
            let violated: Vec<&str> = sc.judged().iter().filter(|i| checker.discovery(i.name()).is_some()).map(|i| i.name()).collect();
            println!("MEASURE {} {} {} {} {:?} {:.1}s", sc.name, t.name(), n, if n >= limit { "INCOMPLETE" } else { "full" }, violated, start.elapsed().as_secs_f64());
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

/// Debugging aid: every reachable state of one cell as JSON lines (DUMP=scenario:timing, OUT=file).
#[test]
#[ignore]
fn dump_states() {
    use std::collections::{HashSet, VecDeque};
    use std::io::Write;
    let spec = std::env::var("DUMP").expect("DUMP=scenario:timing");
    let (name, timing) = spec.split_once(':').unwrap();
    let timing = if timing == "sync" { Timing::Sync } else { Timing::Async };
    let sc = SCENARIOS.iter().find(|s| s.name == name).unwrap();
    let sys = LockSystem::new(sc.setup(timing));
    let mut seen = HashSet::new();
    let mut queue = VecDeque::new();
    for s in sys.init_states() {
        if seen.insert(s.clone()) {
            queue.push_back(s);
        }
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(std::env::var("OUT").unwrap()).unwrap());
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        let network: Vec<_> = match &s.actors.network {
            stateright::actor::Network::Ordered(flows) => flows
                .iter()
                .map(|((src, dst), q)| serde_json::json!([usize::from(*src), usize::from(*dst), q.iter().collect::<Vec<_>>()]))
                .collect(),
            _ => unreachable!(),
        };
        let timers: Vec<Vec<_>> = s.actors.timers_set.iter().map(|t| t.iter().collect()).collect();
        let ages: Vec<_> = s.ages.iter().map(|((a, b), q)| serde_json::json!([a, b, q])).collect();
        let j = serde_json::json!({
            "actors": s.actors.actor_states.iter().map(|a| serde_json::to_value(&**a).unwrap()).collect::<Vec<_>>(),
            "network": network, "timers": timers, "crashed": s.actors.crashed,
            "judge": s.judge, "budget": s.budget, "ages": ages,
        });
        writeln!(out, "{}", j).unwrap();
        actions.clear();
        sys.actions(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(n) = sys.next_state(&s, a) {
                if seen.insert(n.clone()) {
                    queue.push_back(n);
                }
            }
        }
    }
}
