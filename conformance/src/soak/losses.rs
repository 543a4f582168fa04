//! Lost locks, as the judge sees them, against what the client told its user (`docs/design.md`, *Lost-lock reports*).
//!
//! A holder's belief window ends when its validity runs out (the grant's or the latest
//! extension's stamp plus its validity, as the auditor derives it), when it starts releasing,
//! or when it reports the lock lost. A *loss* is a window that ended by running out, or by a
//! loss report, rather than by a release. It counts as *reported* when the client's lost
//! signal (`lock_lost`) came no later than one extension interval after the client next ran
//! past its validity: after the end itself, or, when the client was paused at that moment,
//! after it resumed. A release after the end without a report leaves the loss unreported:
//! the user's work ran past its validity and was never told.

use redlock_client::event::{ClientId, Event, Fault, Record};
use std::collections::BTreeMap;

/// The lost locks of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    pub detected: u64,
    pub reported: u64,
    /// Each unreported loss, in words.
    pub unreported: Vec<String>,
}

/// A loss waiting for its report.
#[derive(Clone, Copy, Debug)]
struct Pending {
    ended_ns: u64,
    /// The report is due by then; `None` while the client is paused.
    due_ns: Option<u64>,
}

#[derive(Default)]
struct ClientLife {
    /// The end of the open window.
    window_end: Option<u64>,
    paused: bool,
    pending: Option<Pending>,
}

/// Accounts for the losses of the clients in `with_lock`, whose extension interval is
/// `interval_ns`.
pub fn account(records: &[Record], interval_ns: u64) -> Losses {
    let mut losses = Losses::default();
    let mut clients: BTreeMap<ClientId, ClientLife> = BTreeMap::new();
    let unreported = |losses: &mut Losses, client: ClientId, pending: Pending, why: &str| {
        losses.unreported.push(format!("client {} lost its lock at t_ns {} and {why}", client.0, pending.ended_ns));
    };
    for record in records {
        let t = record.t_ns;
        // Windows that ran out before this record, and reports that are overdue by now.
        for (&client, life) in clients.iter_mut() {
            if let Some(end) = life.window_end.filter(|&end| end < t) {
                life.window_end = None;
                losses.detected += 1;
                life.pending = Some(Pending { ended_ns: end, due_ns: (!life.paused).then_some(end + interval_ns) });
            }
            if let Some(pending) = life.pending.filter(|p| p.due_ns.is_some_and(|due| due < t)) {
                life.pending = None;
                unreported(&mut losses, client, pending, "no report came within one extension interval");
            }
        }
        let Some(client) = subject(&record.event) else { continue };
        let life = clients.entry(client).or_default();
        match record.event {
            Event::Granted { validity_ms, .. } => life.window_end = Some(t + validity_ms * 1_000_000),
            Event::Extended { validity_ms, .. } if life.window_end.is_some() => life.window_end = Some(t + validity_ms * 1_000_000),
            Event::ReleaseStarted { .. } => life.window_end = None,
            Event::LockLost { .. } => {
                if life.window_end.take().is_some() {
                    // The client's own clock ran out a moment before the stamps did.
                    losses.detected += 1;
                    losses.reported += 1;
                } else if life.pending.take().is_some() {
                    losses.reported += 1;
                }
            }
            Event::Fault { fault: Fault::ClientPaused { .. } } => life.paused = true,
            Event::Fault { fault: Fault::ClientResumed { .. } } => {
                life.paused = false;
                if let Some(pending) = life.pending.as_mut().filter(|p| p.due_ns.is_none()) {
                    pending.due_ns = Some(t + interval_ns);
                }
            }
            _ => {}
        }
    }
    for (client, life) in clients {
        if let Some(end) = life.window_end {
            losses.detected += 1;
            unreported(&mut losses, client, Pending { ended_ns: end, due_ns: None }, "the run ended with the window open");
        }
        if let Some(pending) = life.pending {
            unreported(&mut losses, client, pending, "no report came before the run ended");
        }
    }
    losses
}

fn subject(event: &Event) -> Option<ClientId> {
    match *event {
        Event::Granted { client, .. }
        | Event::Extended { client, .. }
        | Event::ReleaseStarted { client }
        | Event::LockLost { client }
        | Event::Fault { fault: Fault::ClientPaused { client } | Fault::ClientResumed { client } } => Some(client),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redlock_client::event::HISTORY_VERSION;

    const MS: u64 = 1_000_000;
    const C: ClientId = ClientId(1);

    fn at(t_ms: u64, event: Event) -> Record {
        Record { v: HISTORY_VERSION, t_ns: t_ms * MS, resource: "r".into(), event }
    }

    #[test]
    fn a_release_inside_the_window_is_no_loss_and_a_timely_report_counts() {
        let released = [at(0, Event::Granted { client: C, validity_ms: 10, token: None }), at(5, Event::ReleaseStarted { client: C })];
        assert_eq!(account(&released, 3 * MS), Losses::default());
        let reported = [
            at(0, Event::Granted { client: C, validity_ms: 10, token: None }),
            at(12, Event::LockLost { client: C }),
            at(13, Event::ReleaseStarted { client: C }),
        ];
        assert_eq!(account(&reported, 3 * MS), Losses { detected: 1, reported: 1, unreported: vec![] });
    }

    #[test]
    fn a_late_report_or_none_is_unreported_but_a_pause_moves_the_deadline() {
        let late = [at(0, Event::Granted { client: C, validity_ms: 10, token: None }), at(20, Event::LockLost { client: C })];
        assert_eq!(account(&late, 3 * MS).unreported.len(), 1);
        let none = [
            at(0, Event::Granted { client: C, validity_ms: 10, token: None }),
            at(11, Event::ReleaseStarted { client: C }),
            at(30, Event::Setup { nodes: 1 }),
        ];
        assert_eq!(account(&none, 3 * MS).unreported.len(), 1);
        let paused = [
            at(0, Event::Granted { client: C, validity_ms: 10, token: None }),
            at(5, Event::Fault { fault: Fault::ClientPaused { client: C } }),
            at(50, Event::Fault { fault: Fault::ClientResumed { client: C } }),
            at(52, Event::LockLost { client: C }),
        ];
        assert_eq!(account(&paused, 3 * MS), Losses { detected: 1, reported: 1, unreported: vec![] });
    }
}
