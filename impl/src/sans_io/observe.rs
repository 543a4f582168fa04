//! The one observer of the protocol core: which shared [`Event`]s a core step shows.
//!
//! Every driver of the core (the async client, the model's client actors, the conformance
//! harness's pitfall clients) turns its core steps into history events here and nowhere else,
//! so that the judge sees the same protocol whoever drives it, and a recorded run can be
//! compared step for step with the model's. What a driver learns from the servers' answers
//! apart from the core (a key set or deleted on a node) is the driver's to record.

use crate::event::{ClientId, Event, NodeId};
use crate::lease_lock::{LeaseInput, LeaseLockState, LeaseOutput, LeasePhase};
use crate::params::Params;
use crate::protocol::{Input, LockState, Output, Phase, Reply};

/// Appends to `events` what one step of `client`'s core showed: `before` is the state the
/// `input` was fed to, `outputs` what the core answered. `token` stands in for the grant's
/// token where the core has none and the driver has one of its own (the model's unique
/// tokens).
pub fn observe(
    client: ClientId,
    params: &Params,
    before: &LockState,
    input: Input,
    outputs: &[Output],
    token: Option<u64>,
    events: &mut Vec<Event>,
) {
    if input == Input::Acquire && !outputs.is_empty() {
        events.push(Event::Setup { nodes: params.nodes as u32 });
    }
    if let (Input::Reply { round, node, reply: Reply::Refused }, Phase::Extending { round: current, .. }) = (input, before.phase) {
        if round == current.number && current.pending.contains(node) {
            events.push(Event::Refused { client, node: NodeId(node as u32) });
        }
    }
    if input == Input::Release && !outputs.is_empty() {
        events.push(Event::ReleaseStarted { client });
    }
    if outputs.iter().any(|o| matches!(o, Output::SendAcquire { .. })) {
        events.push(Event::AcquireStarted { client });
    }
    for output in outputs {
        match *output {
            Output::RetryAfter { .. } | Output::Failed => events.push(Event::AcquireFailed { client }),
            Output::Acquired { validity_ms, token: granted, .. } => {
                events.push(Event::Granted { client, validity_ms, token: granted.or(token) })
            }
            Output::Extended { validity_ms, .. } => events.push(Event::Extended { client, validity_ms }),
            Output::Lost { .. } => events.push(Event::LockLost { client }),
            Output::SendAcquire { .. }
            | Output::SendExtend { .. }
            | Output::SendRelease { .. }
            | Output::WakeAt { .. }
            | Output::ExtendFailed { .. } => {}
        }
    }
}

/// The same for a step of the lease lock ([`crate::lease_lock`]): its store is one node (0),
/// its token the key's create revision.
pub fn observe_lease(client: ClientId, before: &LeaseLockState, input: LeaseInput, outputs: &[LeaseOutput], events: &mut Vec<Event>) {
    if input == LeaseInput::Acquire && !outputs.is_empty() {
        events.push(Event::Setup { nodes: 1 });
    }
    if let (LeaseInput::KeptAlive { alive: false }, LeasePhase::KeepingAlive { .. }) = (input, before.phase) {
        events.push(Event::Refused { client, node: NodeId(0) });
    }
    let held = matches!(before.phase, LeasePhase::Held { .. } | LeasePhase::KeepingAlive { .. } | LeasePhase::Lost { .. });
    if input == LeaseInput::Release && (held || !outputs.is_empty()) {
        events.push(Event::ReleaseStarted { client });
    }
    for output in outputs {
        match *output {
            LeaseOutput::CreateIfAbsent { .. } => events.push(Event::AcquireStarted { client }),
            // An attempt is a create: it fails when it finds the key taken or when the create
            // fails. Giving up while waiting for a deletion or for a lease (a store that cannot
            // grant one) ends no attempt: none was started (`acquire_started` comes with the
            // create).
            LeaseOutput::WatchDeletion { .. } => events.push(Event::AcquireFailed { client }),
            LeaseOutput::NotAcquired if matches!(before.phase, LeasePhase::Creating { .. }) => events.push(Event::AcquireFailed { client }),
            LeaseOutput::Acquired { validity_ms, token, .. } => {
                events.push(Event::Granted { client, validity_ms, token: u64::try_from(token).ok() })
            }
            LeaseOutput::Extended { validity_ms, .. } => events.push(Event::Extended { client, validity_ms }),
            LeaseOutput::Lost { .. } => events.push(Event::LockLost { client }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::LocalMillis;

    /// Feeds `inputs` to a fresh core and returns every event the observer saw.
    fn run(p: &Params, inputs: &[(u64, Input)]) -> Vec<Event> {
        let mut state = LockState::new();
        let mut events = Vec::new();
        for &(now, input) in inputs {
            let before = state;
            let mut outputs = Vec::new();
            state.handle(p, LocalMillis(now), input, &mut outputs);
            observe(ClientId(7), p, &before, input, &outputs, None, &mut events);
        }
        events
    }

    #[test]
    fn a_hold_from_grant_to_release() {
        let p = Params { retries: 1, ..Params::new(1, 1000) };
        let ok = |round| Input::Reply { round, node: 0, reply: Reply::Ok { token: Some(5) } };
        let c = ClientId(7);
        let events = run(&p, &[(0, Input::Acquire), (1, ok(1)), (2, Input::Release)]);
        assert_eq!(
            events,
            [
                Event::Setup { nodes: 1 },
                Event::AcquireStarted { client: c },
                Event::Granted { client: c, validity_ms: 987, token: Some(5) },
                Event::ReleaseStarted { client: c },
            ]
        );
    }

    /// Feeds `inputs` to a fresh lease-lock core and returns every event the observer saw.
    fn run_lease(inputs: &[(u64, LeaseInput)]) -> Vec<Event> {
        let p = crate::lease_lock::LeaseParams { ttl_ms: 3000, drift_ms: 32, request_timeout_ms: 100, acquire_timeout_ms: 1000 };
        let mut state = LeaseLockState::new();
        let mut events = Vec::new();
        for &(now, input) in inputs {
            let before = state;
            let mut outputs = Vec::new();
            state.handle(&p, LocalMillis(now), input, &mut outputs);
            observe_lease(ClientId(7), &before, input, &outputs, &mut events);
        }
        events
    }

    #[test]
    fn a_lease_acquire_is_an_attempt_only_once_its_create_is_sent() {
        let c = ClientId(7);
        // The store grants no lease (a member down): the acquire fails, no attempt was made.
        assert_eq!(run_lease(&[(0, LeaseInput::Acquire), (1, LeaseInput::Failed)]), [Event::Setup { nodes: 1 }]);
        assert_eq!(run_lease(&[(0, LeaseInput::Acquire), (100, LeaseInput::Timeout)]), [Event::Setup { nodes: 1 }]);
        // The create was sent and failed: an attempt, started and failed.
        let created_then_failed = [(0, LeaseInput::Acquire), (1, LeaseInput::LeaseGranted { lease: 1 }), (2, LeaseInput::Failed)];
        assert_eq!(
            run_lease(&created_then_failed),
            [Event::Setup { nodes: 1 }, Event::AcquireStarted { client: c }, Event::AcquireFailed { client: c }]
        );
    }

    #[test]
    fn a_lease_lock_that_waits_holds_and_hears_its_lease_is_gone() {
        let c = ClientId(7);
        let events = run_lease(&[
            (0, LeaseInput::Acquire),
            (1, LeaseInput::LeaseGranted { lease: 1 }),
            (2, LeaseInput::Taken { revision: 9 }),
            (50, LeaseInput::Freed),
            (51, LeaseInput::LeaseGranted { lease: 2 }),
            (52, LeaseInput::Created { revision: 12 }),
            (1000, LeaseInput::KeepAlive),
            (1001, LeaseInput::KeptAlive { alive: false }),
            (1002, LeaseInput::Release),
        ]);
        assert_eq!(
            events,
            [
                Event::Setup { nodes: 1 },
                Event::AcquireStarted { client: c },
                Event::AcquireFailed { client: c },
                Event::AcquireStarted { client: c },
                Event::Granted { client: c, validity_ms: 2966, token: Some(12) },
                Event::Refused { client: c, node: NodeId(0) },
                Event::LockLost { client: c },
                Event::ReleaseStarted { client: c },
            ]
        );
    }

    #[test]
    fn a_failed_attempt_a_retry_and_a_refused_extension() {
        let p = Params { retries: 1, ..Params::new(1, 1000) };
        let c = ClientId(7);
        let reply = |round, reply| Input::Reply { round, node: 0, reply };
        let events = run(
            &p,
            &[
                (0, Input::Acquire),
                (1, reply(1, Reply::Refused)),
                (200, Input::Retry),
                (201, reply(2, Reply::Ok { token: None })),
                (300, Input::Extend),
                (301, reply(3, Reply::Refused)),
                // Stale: the round is settled.
                (302, reply(3, Reply::Refused)),
            ],
        );
        assert_eq!(
            events,
            [
                Event::Setup { nodes: 1 },
                Event::AcquireStarted { client: c },
                Event::AcquireFailed { client: c },
                Event::AcquireStarted { client: c },
                Event::Granted { client: c, validity_ms: 987, token: None },
                Event::Refused { client: c, node: NodeId(0) },
                Event::LockLost { client: c },
            ]
        );
    }
}
