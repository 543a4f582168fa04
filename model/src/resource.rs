//! The protected resource: a counter that holders increment by read-modify-write.

use crate::msg::Due;
use crate::msg::{Msg, Timer};
use crate::setup::Resource;
use crate::setup::Setup;
use redlock_client::event::{ClientId, Event};
use serde::Serialize;
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::fmt;

/// A write that waits to be applied as a separate step: its token was checked (check-then-write)
/// or is being checked by the lock service (CheckSequencer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Pending {
    pub client: u8,
    pub value: u8,
    pub token: Option<u64>,
    /// The check passed; the write may land.
    pub checked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ResourceState {
    pub value: u8,
    /// The largest token seen (fenced kinds), or the token last claimed (check-and-set).
    pub fence: Option<u64>,
    /// Who raised the fence to its token (only the holder-checking fence keeps it).
    pub fence_holder: Option<u8>,
    pub pending: Vec<Pending>,
    /// Clients whose writes were applied (a bit each).
    pub writers: u8,
    pub events: Vec<Event>,
}

impl ResourceState {
    pub fn new() -> ResourceState {
        ResourceState { value: 0, fence: None, fence_holder: None, pending: Vec::new(), writers: 0, events: Vec::new() }
    }

    pub fn on_msg(&mut self, kind: Resource, client: u8, src: Id, msg: Msg, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        match msg {
            Msg::Claim { token } => self.fence = Some(token),
            Msg::Read { token } => {
                if kind == Resource::FencedByHolder {
                    if token > self.fence {
                        (self.fence, self.fence_holder) = (token, Some(client));
                    }
                } else if kind != Resource::UniqueTokenCas && token >= self.fence {
                    self.fence = token;
                }
                o.send(src, Msg::ReadReply { value: self.value });
            }
            Msg::Write { value, token } => {
                let accepted = match kind {
                    Resource::Unfenced | Resource::CheckSequencer => true,
                    Resource::Fenced | Resource::FencedCheckThenWrite => token >= self.fence,
                    // Greater, or equal and from the holder that set the fence: a token that a
                    // restarted counter handed out again does not open the fence to another holder.
                    Resource::FencedByHolder => {
                        token > self.fence || (token == self.fence && self.fence_holder.is_none_or(|h| h == client))
                    }
                    Resource::UniqueTokenCas => token.is_some() && token == self.fence,
                };
                if !accepted {
                    self.reject(client, token, src, o);
                } else if kind == Resource::FencedCheckThenWrite {
                    // The check passed; the write lands in a later, separate step.
                    self.fence = token;
                    self.park(Pending { client, value, token, checked: true }, o);
                } else if kind == Resource::CheckSequencer {
                    // Ask the lock service (actor 0) whether the sequencer is still valid.
                    self.park(Pending { client, value, token, checked: false }, o);
                    o.send(Id::from(0), Msg::CheckSequencer { client, token: token.unwrap_or_default() });
                } else {
                    if kind == Resource::Fenced {
                        self.fence = token;
                    }
                    if kind == Resource::FencedByHolder {
                        (self.fence, self.fence_holder) = (token, Some(client));
                    }
                    self.apply(Pending { client, value, token, checked: true });
                    o.send(src, Msg::WriteReply { applied: true });
                }
            }
            _ => {}
        }
    }

    /// The lock service answered a CheckSequencer for `client`'s write.
    pub fn on_sequencer_checked(&mut self, client: u8, valid: bool, to: Id, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        let Some(i) = self.pending.iter().position(|p| p.client == client && !p.checked) else { return };
        if valid {
            self.pending[i].checked = true;
            o.set_timer(Timer::Apply { client }, model_timeout());
        } else {
            let p = self.pending.remove(i);
            self.reject(client, p.token, to, o);
        }
    }

    fn park(&mut self, p: Pending, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        if p.checked {
            o.set_timer(Timer::Apply { client: p.client }, model_timeout());
        }
        self.pending.push(p);
        self.pending.sort();
    }

    fn reject(&mut self, client: u8, token: Option<u64>, to: Id, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        self.events.push(Event::WriteRejected { client: ClientId(client as u32), token });
        o.send(to, Msg::WriteReply { applied: false });
    }

    /// The checked write of `client` lands.
    pub fn on_timeout(&mut self, timer: Timer, setup: &Setup, o: &mut Out<impl Actor<Msg = Msg, Timer = Timer>>) {
        if let Timer::Apply { client } = timer {
            if let Some(i) = self.pending.iter().position(|p| p.client == client && p.checked) {
                let p = self.pending.remove(i);
                self.apply(p);
                o.send(Id::from(setup.client_actor(client)), Msg::WriteReply { applied: true });
            }
        }
    }

    /// A checked write may land at any moment (sync: before time passes).
    pub fn due(&self, bounded_delay: bool, timer: Timer) -> Due {
        match timer {
            Timer::Apply { client } if self.pending.iter().any(|p| p.client == client && p.checked) => {
                if bounded_delay {
                    Due::Now
                } else {
                    Due::Whenever
                }
            }
            _ => Due::No,
        }
    }

    /// Renames the clients it remembers (for symmetry reduction; tokens must not derive from
    /// client names).
    pub fn rename_clients(&mut self, rename: impl Fn(u8) -> u8) {
        for p in &mut self.pending {
            p.client = rename(p.client);
        }
        self.pending.sort();
        let writers = self.writers;
        self.writers = (0..8u8).filter(|c| writers & (1 << c) != 0).fold(0, |w, c| w | 1 << rename(c));
        self.fence_holder = self.fence_holder.map(&rename);
    }

    fn apply(&mut self, p: Pending) {
        self.value = p.value;
        self.writers |= 1 << p.client;
        self.events.push(Event::WriteApplied { client: ClientId(p.client as u32), value: p.value as u64, token: p.token });
    }
}

impl Default for ResourceState {
    fn default() -> Self {
        ResourceState::new()
    }
}

impl fmt::Display for ResourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "value {}", self.value)?;
        if let Some(t) = self.fence {
            write!(f, ", token {t}")?;
        }
        for p in &self.pending {
            let state = if p.checked { "checked" } else { "being checked" };
            write!(f, ", write {} of client {} {state}", p.value, p.client)?;
        }
        Ok(())
    }
}
