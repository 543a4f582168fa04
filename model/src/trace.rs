//! Counterexamples as people read them: a numbered timeline of who did what, at which real
//! time and at which local clock, with the judge's verdict where it turns; and as programs
//! read them: one structured step per action, and the Explorer path that opens the trace.
//!
//! Real time is not in the model's state (it holds countdowns only); it is reconstructed here by
//! counting the ticks along the path.

use crate::actor::{ActorState, Role};
use crate::msg::{Msg, Timer};
use crate::setup::Service;
use crate::system::{Action, LockSystem, SystemState};
use redlock_client::event::Event;
use serde::Serialize;
use stateright::{Model, Path};

/// One step of a counterexample, for programs (the conformance replay reads these).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// `deliver`, `timeout`, `tick`, `pause`, `clock_jump`, `crash`, `restart`, `failover`,
    /// `client_crash`.
    pub action: &'static str,
    /// Who acts: `client 0`, `redis 2`, `resource`, `lock service`, or `time`.
    pub actor: String,
    /// The step in words, with actors by name: what the timeline line says.
    pub what: String,
    /// Real time (ticks) after the step.
    pub t: u32,
    /// The action in machine form, for tools that replay it: actors by index (servers first,
    /// then clients, then the resource); `what` says the same in words.
    pub params: Action,
    /// What the step did, as events of the shared vocabulary.
    pub events: Vec<Event>,
}

/// A counterexample, rendered.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub lines: Vec<String>,
    pub steps: Vec<Step>,
    /// The part of the Explorer URL after the host: `/#/steps/...`.
    pub explorer_path: String,
}

/// The name of actor `index`: `redis 2`, `client 0`, `resource`, `lock service`.
pub fn actor_name(sys: &LockSystem, index: usize) -> String {
    use stateright::actor::Actor;
    sys.actors.actors[index].name()
}

fn name(sys: &LockSystem, index: usize) -> String {
    actor_name(sys, index)
}

fn client_name(sys: &LockSystem, client: u8) -> String {
    name(sys, sys.setup.client_actor(client))
}

fn server_name(sys: &LockSystem, server: u8) -> String {
    name(sys, server as usize)
}

/// What an actor's own step does, in words.
fn timer_phrase(timer: Timer) -> String {
    match timer {
        Timer::Start => "starts acquiring".into(),
        Timer::Deadline => "stops waiting for the nodes that have not answered (node timeout)".into(),
        Timer::Retry => "retries".into(),
        Timer::Work => "starts its work on the resource".into(),
        Timer::Write => "sends its write".into(),
        Timer::SendExpire => "sends EXPIRE for its SETNX key".into(),
        Timer::Extend => "extends its lock (watchdog)".into(),
        Timer::Release => "releases".into(),
        Timer::Expire => "expires its key by its own clock".into(),
        Timer::Replicate { replica } => format!("replicates to replica {replica}"),
        Timer::LockDelay => "ends the lock-delay".into(),
        Timer::LeaseExpire { client } => format!("expires client {client}'s lease by its own clock (the key goes with it)"),
        Timer::Apply { client } => format!("applies the checked write of client {client}"),
    }
}

/// An action in words without the state it is taken in (the Explorer's list of choices).
pub fn action_label(sys: &LockSystem, action: &Action) -> String {
    match action {
        Action::Deliver { src, dst, msg } => format!("{} -> {}: {}", name(sys, *src), name(sys, *dst), message(sys, msg)),
        Action::Timeout { actor, timer } => format!("{} {}", name(sys, *actor), timer_phrase(*timer)),
        Action::Tick { then } => {
            let quiet: Vec<String> = (0..sys.setup.clients).filter(|c| then & (1 << c) != 0).map(|c| client_name(sys, c)).collect();
            if quiet.is_empty() {
                "tick".into()
            } else {
                format!("tick, then {} act", quiet.join(" and "))
            }
        }
        Action::Pause { client } => format!("{} PAUSES", client_name(sys, *client)),
        Action::ClockJump { server, by } => format!("{}'s clock jumps +{by}", server_name(sys, *server)),
        Action::Crash { server } => format!("crash {}", server_name(sys, *server)),
        Action::Restart { server } => format!("restart {}", server_name(sys, *server)),
        Action::Failover { server, replica } => format!("fail over {} to replica {replica}", server_name(sys, *server)),
        Action::ClientCrash { client } => format!("crash {}", client_name(sys, *client)),
        Action::Evict { server } if sys.setup.service == Service::Postgres => {
            format!("{} ends the holder's session", server_name(sys, *server))
        }
        Action::Evict { server } => format!("{} evicts the key", server_name(sys, *server)),
        Action::Lose { src, dst } => format!("the network loses a message from {} to {}", name(sys, *src), name(sys, *dst)),
    }
}

/// A message in the words of the service it goes to: Redis commands, or PostgreSQL's advisory
/// lock functions.
fn message(sys: &LockSystem, msg: &Msg) -> String {
    match msg {
        Msg::Acquire { incr, .. } if sys.setup.service == Service::Postgres => {
            format!("pg_try_advisory_lock{}", if *incr { " + nextval (the token)" } else { "" })
        }
        Msg::Release if sys.setup.service == Service::Postgres => "pg_advisory_unlock".into(),
        msg => msg.to_string(),
    }
}

/// What an action is, in words, from the state it is taken in.
fn describe(sys: &LockSystem, s: &SystemState, action: &Action) -> (&'static str, String, String) {
    let setup = &sys.setup;
    match action {
        Action::Deliver { src, dst, msg } if s.actors.crashed[*dst] => {
            ("deliver", name(sys, *dst), format!("{} is down: {}'s {} is refused", name(sys, *dst), name(sys, *src), message(sys, msg)))
        }
        Action::Deliver { src, dst, msg } => {
            ("deliver", name(sys, *dst), format!("{} receives {} from {}", name(sys, *dst), message(sys, msg), name(sys, *src)))
        }
        Action::Timeout { actor, timer } => {
            let who = name(sys, *actor);
            let what = match timer {
                Timer::Expire => {
                    let owner = s.actors.actor_states[*actor].as_server().and_then(|v| v.key).map(|k| k.owner);
                    match owner {
                        Some(o) => format!("expires client {o}'s key by its own clock"),
                        None => timer_phrase(*timer),
                    }
                }
                _ => timer_phrase(*timer),
            };
            ("timeout", who.clone(), format!("{who} {what}"))
        }
        Action::Tick { then } => {
            let mut text = "time passes one tick".to_string();
            for client in (0..setup.clients).filter(|c| then & (1 << c) != 0) {
                let c = s.actors.actor_states[sys.setup.client_actor(client)].as_client();
                let step = match c {
                    Some(c) if c.paused.is_some() => "resumes after its pause",
                    _ => "starts acquiring",
                };
                text.push_str(&format!("; {} {step}", client_name(sys, client)));
            }
            ("tick", "time".into(), text)
        }
        Action::Pause { client } => (
            "pause",
            client_name(sys, *client),
            format!("{} PAUSES (a GC pause: it takes no step while time runs)", client_name(sys, *client)),
        ),
        Action::ClockJump { server, by } => {
            ("clock_jump", server_name(sys, *server), format!("{}'s clock JUMPS forward by {by} ticks", server_name(sys, *server)))
        }
        Action::Crash { server } => ("crash", server_name(sys, *server), format!("{} CRASHES", server_name(sys, *server))),
        Action::Restart { server } => {
            let how = match setup.restart {
                Some(crate::setup::Restart::Fsync) => "with its keys (appendfsync always)",
                Some(crate::setup::Restart::Delayed) => "empty, after waiting a TTL",
                _ => "EMPTY (no persistence)",
            };
            ("restart", server_name(sys, *server), format!("{} restarts {how}", server_name(sys, *server)))
        }
        Action::Failover { server, replica } => (
            "failover",
            server_name(sys, *server),
            format!("{}'s primary FAILS; its replica {replica} is promoted", server_name(sys, *server)),
        ),
        Action::ClientCrash { client } => ("client_crash", client_name(sys, *client), format!("{} CRASHES", client_name(sys, *client))),
        Action::Evict { server } if setup.service == Service::Postgres => {
            let owner = s.actors.actor_states[*server as usize].as_server().and_then(|v| v.key).map(|k| k.owner);
            let whose = owner.map_or("a".to_string(), |o| format!("client {o}'s"));
            (
                "evict",
                server_name(sys, *server),
                format!(
                    "{} ENDS {whose} session (a cut connection, pg_terminate_backend): its advisory lock is released, and the \
                     client is not told",
                    server_name(sys, *server)
                ),
            )
        }
        Action::Evict { server } => {
            let owner = s.actors.actor_states[*server as usize].as_server().and_then(|v| v.key).map(|k| k.owner);
            let whose = owner.map_or("the".to_string(), |o| format!("client {o}'s"));
            (
                "evict",
                server_name(sys, *server),
                format!("{} EVICTS {whose} key before its expiry (memory pressure)", server_name(sys, *server)),
            )
        }
        Action::Lose { src, dst } => {
            ("lose", name(sys, *src), format!("the network LOSES the oldest message from {} to {}", name(sys, *src), name(sys, *dst)))
        }
    }
}

/// The consequences worth saying out loud.
fn consequence(sys: &LockSystem, next: &SystemState, event: &Event) -> Option<String> {
    let client_state = |c: u32| next.actors.actor_states[sys.setup.client_actor(c as u8)].as_client();
    Some(match event {
        Event::Granted { client, validity_ms, token } => {
            let until = client_state(client.0).and_then(|c| c.held_until()).map(|u| u.0).unwrap_or_default();
            let token = token.map(|t| format!(", token {t}")).unwrap_or_default();
            format!("{client} is GRANTED the lock: it believes it holds it until its clock reads {until} (validity {validity_ms}{token})")
        }
        Event::AcquireFailed { client } => format!("{client}'s attempt fails"),
        Event::KeySet { node, owner, ttl_ms } => match ttl_ms {
            Some(ttl) => format!("{} stores {owner}'s key with TTL {ttl}", server_name(sys, node.0 as u8)),
            None => format!("{} stores {owner}'s key with no expiry", server_name(sys, node.0 as u8)),
        },
        Event::KeyDeleted { node, owner, by } if owner == by => {
            format!("{} deletes {owner}'s key", server_name(sys, node.0 as u8))
        }
        Event::KeyDeleted { node, owner, by } => {
            format!("{} deletes {owner}'s key at the request of {by}", server_name(sys, node.0 as u8))
        }
        Event::KeyLost { node, owner } => format!("{} no longer has {owner}'s key", server_name(sys, node.0 as u8)),
        Event::ValidityEnded { client } => format!("{client}'s validity runs out on its own clock"),
        Event::Extended { client, validity_ms } => format!("{client} extended its lock (validity {validity_ms})"),
        Event::LockLost { client } => format!("{client} reports the lock LOST"),
        Event::Refused { client, node } => format!("{node} tells {client} that its key is not there"),
        Event::ResourceRead { client, value, .. } => format!("{client} read the value {value}"),
        Event::WriteApplied { client, value, token } => {
            let token = token.map(|t| format!(" with token {t}")).unwrap_or_default();
            format!("the resource APPLIES {client}'s write of {value}{token}")
        }
        Event::WriteRejected { client, token } => {
            let token = token.map(|t| format!(" (token {t})")).unwrap_or_default();
            format!("the resource REJECTS {client}'s write{token}")
        }
        _ => return None,
    })
}

/// The local clock of the acting client, when a client acts.
fn clock_of(sys: &LockSystem, s: &SystemState, action: &Action) -> Option<u8> {
    let index = match action {
        Action::Deliver { dst, .. } => *dst,
        Action::Timeout { actor, .. } => *actor,
        Action::Pause { client } | Action::ClientCrash { client } => sys.setup.client_actor(*client),
        _ => return None,
    };
    match (&sys.actors.actors[index].role, &*s.actors.actor_states[index]) {
        (Role::Client(_), ActorState::Client(c)) => Some(c.clock),
        _ => None,
    }
}

/// One step in words, with its consequences and the acting client's clock (no number, no time).
pub fn render_step(sys: &LockSystem, s: &SystemState, action: &Action) -> Option<String> {
    let (_, _, text) = describe(sys, s, action);
    let (next, events) = sys.step(s, action)?;
    let clock = clock_of(sys, &next, action).map(|c| format!(" [its clock: {c}]")).unwrap_or_default();
    let mut line = format!("{text}{clock}");
    let said: Vec<String> = events.iter().filter_map(|e| consequence(sys, &next, e)).collect();
    if !said.is_empty() {
        line.push_str(" -> ");
        line.push_str(&said.join("; "));
    }
    Some(line)
}

/// Renders a path of actions from the initial state.
pub fn render(sys: &LockSystem, actions: &[Action]) -> Trace {
    let init = sys.init_states().remove(0);
    let mut s = init.clone();
    let mut t = 0u32;
    let mut lines = Vec::new();
    let mut steps = Vec::new();
    for (n, action) in actions.iter().enumerate() {
        let (kind, actor, what) = describe(sys, &s, action);
        let (Some(text), Some((next, events))) = (render_step(sys, &s, action), sys.step(&s, action)) else { break };
        // Real time starts when the first clients start, with the first tick.
        if matches!(action, Action::Tick { .. }) && n > 0 {
            t += 1;
        }
        lines.push(format!("{:>3}. t={t:<3} {text}", n + 1));
        for v in next.judge.violations().iter().skip(s.judge.violations().len()) {
            lines.push(format!("     VIOLATION of {}: {}", v.property, v.explanation));
        }
        steps.push(Step { action: kind, actor, what, t, params: action.clone(), events });
        s = next;
    }
    let explorer_path = Path::from_actions(sys, init, actions).map(|p| format!("/#/steps/{}", p.encode(sys))).unwrap_or_default();
    Trace { lines, steps, explorer_path }
}
