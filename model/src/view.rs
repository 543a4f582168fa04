//! The system state as the debate reads it: each server's key with its owner and expiry, each
//! client's clock and belief (holding until local time X, token T, paused or not), the
//! resource's value and last token, the messages in flight, and the judge's verdicts. Used for
//! the Explorer's state panel (`Debug`), its step outcomes and its sequence diagram.

use crate::actor::ActorState;
use crate::system::{Action, LockSystem, SystemState};
use std::fmt::{self, Write};

/// Renders a state; `name` gives each actor's name.
pub fn render(s: &SystemState, name: &dyn Fn(usize) -> String) -> String {
    let mut out = String::new();
    for (i, a) in s.actors.actor_states.iter().enumerate() {
        let crashed = if s.actors.crashed[i] && !matches!(**a, ActorState::Server(_)) { " (CRASHED)" } else { "" };
        let _ = writeln!(out, "{}: {a}{crashed}", name(i));
    }
    let in_flight: Vec<String> = in_flight(s).into_iter().map(|(src, dst, msg)| format!("{} -> {}: {msg}", name(src), name(dst))).collect();
    if in_flight.is_empty() {
        out.push_str("in flight: nothing\n");
    } else {
        let _ = writeln!(out, "in flight: {}", in_flight.join("; "));
    }
    let holders: Vec<String> = s.judge.holders().map(|c| c.to_string()).collect();
    let acquirers: Vec<String> = s.judge.acquirers().map(|c| c.to_string()).collect();
    let _ = writeln!(out, "judge: believed holders [{}], acquiring [{}]", holders.join(", "), acquirers.join(", "));
    for v in s.judge.violations() {
        let _ = writeln!(out, "VIOLATED {}: {}", v.property, v.explanation);
    }
    let b = s.budget;
    let _ = write!(
        out,
        "faults left: pauses {}, clock jumps {}, crashes {}, failovers {}, client crashes {}",
        b.pauses, b.jumps, b.crashes, b.failovers, b.client_crashes
    );
    out
}

impl fmt::Debug for SystemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers = self.actors.actor_states.iter().take_while(|a| matches!(***a, ActorState::Server(_))).count();
        let name = |i: usize| match &*self.actors.actor_states[i] {
            ActorState::Server(_) => format!("server {i}"),
            ActorState::Client(_) => format!("client {}", i - servers),
            ActorState::Resource(_) => "resource".to_string(),
        };
        f.write_str(&render(self, &name))
    }
}

/// The step's consequences in words, then the state it leads to (the Explorer's "outcome").
pub fn outcome(sys: &LockSystem, last: &SystemState, action: &Action) -> Option<String> {
    let (next, _) = sys.step(last, action)?;
    let trace = crate::trace::render_step(sys, last, action)?;
    let name = |i: usize| crate::trace::actor_name(sys, i);
    Some(format!("{trace}\n\n{}", render(&next, &name)))
}

/// A sequence diagram of a path: a column per actor, a row per step, an arrow from each
/// message's sending step to its delivery, a dot for every other step, and real time on the
/// left (reconstructed by counting ticks).
pub fn svg(sys: &LockSystem, path: &[(SystemState, Option<Action>)]) -> String {
    // After the actors, a lane per replica of each server (`redisson-wait-1`'s point is which
    // replica acknowledged and which one is promoted): replication steps are arrows from the
    // primary to its replica, a failover a dot on the promoted replica's lane.
    let servers = usize::from(sys.setup.servers);
    let replicas = usize::from(sys.setup.replicas);
    let lanes = sys.actors.actors.len();
    let replica_lane = |server: usize, replica: u8| lanes + server * replicas + usize::from(replica);
    let actors = lanes + servers * replicas;
    let (col, row, left, top) = (110usize, 26usize, 60usize, 40usize);
    let width = left + col * actors + 380;
    let height = top + row * (path.len() + 1);
    let x = |i: usize| left + col * i + col / 2;
    let y = |step: usize| top + row * step;
    let mut out = format!(
        "<svg version='1.1' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' \
         viewBox='0 0 {width} {height}' font-family='monospace' font-size='11' fill='#e8e8e8'>\
         <defs><marker id='arrow' markerWidth='10' markerHeight='8' refX='10' refY='4' orient='auto'>\
         <polygon points='0 0, 10 4, 0 8' fill='#8ab4f8'/></marker></defs>"
    );
    for i in 0..actors {
        let name = if i < lanes {
            crate::trace::actor_name(sys, i)
        } else {
            format!("{} replica {}", crate::trace::actor_name(sys, (i - lanes) / replicas), (i - lanes) % replicas)
        };
        let _ = write!(
            out,
            "<text x='{}' y='16' text-anchor='middle' font-weight='bold'>{}</text>\
             <line x1='{}' y1='24' x2='{}' y2='{height}' stroke='#999'/>",
            x(i),
            escape(&name),
            x(i),
            x(i)
        );
    }
    // Where each message in flight was sent from: (src, dst, position in its flow) -> step.
    let mut sent: Vec<(usize, usize, crate::msg::Msg, usize)> = Vec::new();
    let mut t = 0;
    for (n, (state, action)) in path.iter().enumerate() {
        let Some(action) = action else { break };
        let step = n + 1;
        if let Action::Tick { .. } = action {
            if n > 0 {
                t += 1;
            }
            let _ = write!(
                out,
                "<line x1='{left}' y1='{0}' x2='{1}' y2='{0}' stroke='#e6c35c' stroke-dasharray='4 3'/>\
                 <text x='4' y='{2}' fill='#e6c35c'>t={t}</text>",
                y(step),
                left + col * actors,
                y(step) + 4
            );
        }
        let label = crate::trace::render_step(sys, state, action).unwrap_or_default();
        let label = label.split(" -> ").next().unwrap_or_default().to_string();
        match action {
            Action::Deliver { src, dst, msg } => {
                let from = sent.iter().position(|(s, d, m, _)| s == src && d == dst && m == msg).map(|p| sent.remove(p).3).unwrap_or(step);
                let _ = write!(
                    out,
                    "<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#8ab4f8' marker-end='url(#arrow)'/>",
                    x(*src),
                    y(from),
                    x(*dst),
                    y(step)
                );
            }
            Action::Timeout { actor, timer: crate::msg::Timer::Replicate { replica } } if *actor < servers => {
                let _ = write!(
                    out,
                    "<line x1='{0}' y1='{1}' x2='{2}' y2='{1}' stroke='#81c995' marker-end='url(#arrow)'/>",
                    x(*actor),
                    y(step),
                    x(replica_lane(*actor, *replica))
                );
            }
            Action::Failover { server, replica } => {
                let _ = write!(
                    out,
                    "<circle cx='{}' cy='{}' r='5' fill='#f28b82'/><circle cx='{}' cy='{}' r='7' fill='none' stroke='#f28b82'/>",
                    x(usize::from(*server)),
                    y(step),
                    x(replica_lane(usize::from(*server), *replica)),
                    y(step)
                );
            }
            _ => {
                let who = match action {
                    Action::Timeout { actor, .. } => Some(*actor),
                    Action::Pause { client } | Action::ClientCrash { client } => Some(sys.setup.client_actor(*client)),
                    Action::ClockJump { server, .. } | Action::Crash { server } | Action::Restart { server } => Some(*server as usize),
                    _ => None,
                };
                if let Some(i) = who {
                    let _ = write!(out, "<circle cx='{}' cy='{}' r='5' fill='#f28b82'/>", x(i), y(step));
                }
            }
        }
        let _ = write!(out, "<text x='{}' y='{}'>{}</text>", left + col * actors + 8, y(step) + 4, escape(&label));
        if let Some((next, _)) = sys.step(state, action) {
            // Messages this step put in flight start here.
            let before = in_flight(state);
            let mut after = in_flight(&next);
            for b in &before {
                if let Some(p) = after.iter().position(|a| a == b) {
                    after.remove(p);
                }
            }
            sent.extend(after.into_iter().map(|(s, d, m)| (s, d, m.clone(), step)));
        }
    }
    out.push_str("</svg>");
    out
}

/// Every message in flight, flow by flow, oldest first: (sender, receiver, message).
/// (Stateright 0.31's `Network::iter_all` never ends on an ordered network, so the flows are
/// read directly.)
pub fn in_flight(s: &SystemState) -> Vec<(usize, usize, &crate::msg::Msg)> {
    match &s.actors.network {
        stateright::actor::Network::Ordered(flows) => {
            flows.iter().flat_map(|((src, dst), q)| q.iter().map(move |m| (usize::from(*src), usize::from(*dst), m))).collect()
        }
        _ => Vec::new(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use crate::check::{check, SearchOptions};
    use crate::report::counterexample_trace;
    use crate::scenario::find;
    use crate::setup::Timing;
    use crate::system::LockSystem;
    use redlock_client::judge::Invariant;
    use stateright::Model;

    #[test]
    fn replicas_have_lanes_with_their_replication_and_the_promotion() {
        // redisson-wait-1: WAIT 1 counts one replica's acknowledgement, and the failover may
        // promote the other: the diagram shows which replica got the key and which was promoted.
        let scenario = find("redisson-wait-1").unwrap();
        let cell = check(scenario, scenario.setup(Timing::Sync), SearchOptions::default());
        let (setup, trace) = counterexample_trace(&cell, Invariant::MutualExclusion).expect("a counterexample");
        let sys = LockSystem::new(setup);
        let mut path = Vec::new();
        let mut state = sys.init_states().remove(0);
        for step in &trace.steps {
            let (next, _) = sys.step(&state, &step.params).expect("the path replays");
            path.push((std::mem::replace(&mut state, next), Some(step.params.clone())));
        }
        path.push((state, None));
        let svg = super::svg(&sys, &path);
        assert!(svg.contains(">redis 0 replica 0<") && svg.contains(">redis 0 replica 1<"), "{svg}");
        assert!(svg.contains("stroke='#81c995'"), "a replication arrow: {svg}");
        assert!(svg.contains("r='7' fill='none' stroke='#f28b82'"), "the promoted replica: {svg}");
    }
}
