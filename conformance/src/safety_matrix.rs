//! The lock safety matrix: each lock a user might pick, each property, the model's verdict
//! (sync / async) and what a real run on its real server showed, with the command that
//! reproduces each. The README's table is this module's rendering (`tests/safety_matrix.rs`
//! fails if it is stale), and every real run it cites is a test of the suite that fails when
//! the real verdict differs from the model's.

use redlock_client::history::Audit;
use redlock_client::judge::Invariant;
use redlock_model::check::{check, SearchOptions, Verdict};
use redlock_model::scenario::{find, Expected};
use redlock_model::setup::Timing;
use std::fmt::Write;

/// A real run that shows a lock's verdict: the test that runs it and what it shows.
pub struct RealRun {
    /// `file::function` of the test, under `conformance/tests/`.
    pub test: &'static str,
    /// What the real history showed, in the model's terms.
    pub shows: &'static str,
}

/// One lock as users deploy it, and the model's scenario that is that lock.
pub struct Lock {
    pub name: &'static str,
    pub scenario: &'static str,
    pub real: &'static [RealRun],
}

pub const LOCKS: &[Lock] = &[
    Lock {
        name: "one Redis server (`SET NX PX`, Lua release)",
        scenario: "single-node",
        real: &[RealRun { test: "soak::the_short_soak_meets_the_targets", shows: "no violation where the model says safe" }],
    },
    Lock {
        name: "one Redis server, release by `GET` then `DEL`",
        scenario: "single-get-then-del",
        real: &[RealRun { test: "replays::get_then_del_release", shows: "owner_only_release violated, as in sync" }],
    },
    Lock {
        name: "Redlock, 5 servers",
        scenario: "redlock",
        real: &[RealRun { test: "replays::clock_jump", shows: "mutual_exclusion violated by a clock jump (`redlock-clock-jump`)" }],
    },
    Lock {
        name: "Redlock, a server restarting without fsync",
        scenario: "redlock-restart-no-fsync",
        real: &[RealRun { test: "replays::restart_without_fsync", shows: "mutual_exclusion violated, as in sync" }],
    },
    Lock {
        name: "Redis primary + asynchronous replica, failover",
        scenario: "failover-async-replica",
        real: &[RealRun {
            test: "replays::failover_before_replication",
            shows: "mutual_exclusion violated, as in sync (the replica promoted by three real Sentinels)",
        }],
    },
    Lock {
        name: "Redisson-style `WAIT 1` of 2 replicas",
        scenario: "redisson-wait-1",
        real: &[RealRun {
            test: "replays::wait_for_one_replica_then_failover_to_the_other",
            shows:
                "mutual_exclusion violated, as the model finds in sync (three real Sentinels promote the replica that never acknowledged)",
        }],
    },
    Lock {
        name: "Redisson-style `WAIT 2` of 2 replicas",
        scenario: "redisson-wait-2",
        real: &[RealRun {
            test: "replays::wait_for_every_replica_with_a_fast_clock",
            shows: "mutual_exclusion violated, as in async (the primary's fast clock emulated by a forward jump)",
        }],
    },
    Lock {
        name: "a lease lock, unfenced resource",
        scenario: "pause-unfenced",
        real: &[RealRun { test: "replays::pause_after_acquire_without_fencing", shows: "no_lost_update violated, as in async" }],
    },
    Lock {
        name: "a lease lock + one counter's token",
        scenario: "pause-fenced",
        real: &[RealRun {
            test: "replays::pause_fenced_by_the_counter",
            shows: "`pause-unfenced`'s pause, the stale write refused: nothing violated",
        }],
    },
    Lock {
        name: "a token checked, then the write",
        scenario: "fence-check-then-write",
        real: &[RealRun { test: "replays::fence_check_then_write", shows: "no_lost_update violated, as in async" }],
    },
    Lock {
        name: "ZooKeeper lock recipe (ephemeral sequential node)",
        scenario: "zookeeper-session",
        real: &[
            RealRun {
                test: "zookeeper::a_pause_past_the_session_timeout_loses_an_update",
                shows: "ordered_fenced_writes, no_lost_update violated, as in async (3 real servers, the session expired)",
            },
            RealRun {
                test: "soak::the_zookeeper_soak_meets_the_targets",
                shows: "13 soak runs, zxid-fenced and not: no violation where the model says safe",
            },
        ],
    },
    Lock {
        name: "ZooKeeper + zxid token",
        scenario: "zookeeper-session-zxid",
        real: &[RealRun { test: "zookeeper::the_zxid_refuses_the_stale_write", shows: "the stale write refused: nothing violated" }],
    },
    Lock {
        name: "etcd lease lock (this crate)",
        scenario: "etcd-lease",
        real: &[RealRun { test: "replays::etcd_lease_pause_without_fencing", shows: "no_lost_update violated, as in async" }],
    },
    Lock {
        name: "etcd + create revision token (this crate)",
        scenario: "etcd-lease-revision",
        real: &[RealRun { test: "replays::etcd_lease_pause_fenced_by_the_revision", shows: "the stale write refused: nothing violated" }],
    },
    Lock {
        name: "PostgreSQL advisory lock (session)",
        scenario: "postgres-advisory",
        real: &[RealRun {
            test: "postgres_advisory::an_ended_session_gives_two_holders_and_a_lost_update",
            shows: "mutual_exclusion, ordered_fenced_writes, no_lost_update violated, as in sync",
        }],
    },
    Lock {
        name: "PostgreSQL advisory lock + sequence token",
        scenario: "postgres-advisory-fenced",
        real: &[
            RealRun {
                test: "postgres_advisory::a_token_from_a_sequence_refuses_the_stale_write",
                shows: "mutual_exclusion violated, the stale write refused, as in sync",
            },
            RealRun {
                test: "soak::the_postgres_soak_meets_the_targets",
                shows: "9 soak runs, fenced and not: no violation where the model says safe",
            },
        ],
    },
];

/// The README's table: the model's recorded verdicts (which the matrix test holds the model to;
/// where the literature leaves a cell open, the model's own verdict, marked `(model)`) and the
/// real runs.
pub fn markdown() -> String {
    let mut out = String::from("| lock | scenario |");
    for p in Invariant::ALL {
        let _ = write!(out, " {} |", p.name());
    }
    out.push_str(" real run (`cargo test -p redlock-conformance --test FILE -- FUNCTION`) |\n|---|---|");
    out.push_str(&"---|".repeat(Invariant::ALL.len() + 1));
    out.push('\n');
    for lock in LOCKS {
        let scenario = find(lock.scenario).unwrap_or_else(|| panic!("no scenario {}", lock.scenario));
        let _ = write!(out, "| {} | `{}` |", lock.name, lock.scenario);
        for p in Invariant::ALL {
            if !scenario.judged().contains(&p) {
                out.push_str(" |");
                continue;
            }
            let verdict = |t| match scenario.expected(t, p) {
                Expected::Holds => "holds".to_string(),
                Expected::Violated => "**violated**".to_string(),
                Expected::Undecided => {
                    let cell = check(scenario, scenario.setup(t), SearchOptions::default());
                    match cell.invariants.iter().find(|r| r.invariant == p).map(|r| r.verdict) {
                        Some(Verdict::Violated) => "**violated** (model)".to_string(),
                        Some(Verdict::Holds) => "holds (model)".to_string(),
                        _ => "open".to_string(),
                    }
                }
            };
            let _ = write!(out, " {} / {} |", verdict(Timing::Sync), verdict(Timing::Async));
        }
        let real: Vec<String> = lock.real.iter().map(|r| format!("{} (`{}`)", r.shows, r.test)).collect();
        let _ = writeln!(out, " {} |", if real.is_empty() { "none yet".to_string() } else { real.join("; ") });
    }
    out
}

/// Where a real run's audit differs from the model's `timing` cell of `scenario`, property by
/// property (every property the scenario judges): empty when the real run agrees.
pub fn disagreements(scenario: &str, timing: Timing, audit: &Audit) -> Vec<String> {
    let Some(s) = find(scenario) else { return vec![format!("the model has no scenario {scenario}")] };
    s.judged()
        .into_iter()
        .filter_map(|p| {
            let (real, model) = (audit.finding(p).is_some(), s.expected(timing, p) == Expected::Violated);
            (real != model).then(|| {
                let says = |v: bool| if v { "violated" } else { "holds" };
                format!("{}: the model's {timing} cell says {}, the real run {} ({:?})", p.name(), says(model), says(real), audit.findings)
            })
        })
        .collect()
}
