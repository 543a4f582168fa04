//! The one actor type of the model: a lock server, a client or the resource.
//!
//! Actor ids: servers `0..servers`, then clients, then the resource.

use crate::client::{Client, ClientState};
use crate::msg::Due;
use crate::msg::{Msg, Timer};
use crate::resource::ResourceState;
use crate::server::{Server, ServerState};
use crate::setup::Setup;
use redlock_client::event::Event;
use serde::Serialize;
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What an actor is.
#[derive(Clone, Debug)]
pub enum Role {
    Server(Server),
    Client(Client),
    Resource,
}

/// One actor, with the run's setup.
#[derive(Clone, Debug)]
pub struct LockActor {
    pub setup: Arc<Setup>,
    pub role: Role,
}

/// An actor's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ActorState {
    Server(ServerState),
    Client(ClientState),
    Resource(ResourceState),
}

impl ActorState {
    /// Takes the events of the step just taken (the system model feeds them to the judge).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(match self {
            ActorState::Server(s) => &mut s.events,
            ActorState::Client(s) => &mut s.events,
            ActorState::Resource(s) => &mut s.events,
        })
    }

    pub fn has_events(&self) -> bool {
        !match self {
            ActorState::Server(s) => &s.events,
            ActorState::Client(s) => &s.events,
            ActorState::Resource(s) => &s.events,
        }
        .is_empty()
    }

    pub fn as_server(&self) -> Option<&ServerState> {
        match self {
            ActorState::Server(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_client(&self) -> Option<&ClientState> {
        match self {
            ActorState::Client(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_resource(&self) -> Option<&ResourceState> {
        match self {
            ActorState::Resource(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for ActorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorState::Server(s) => s.fmt(f),
            ActorState::Client(s) => s.fmt(f),
            ActorState::Resource(s) => s.fmt(f),
        }
    }
}

impl LockActor {
    /// Whether `timer` of this actor, in state `state`, may fire now.
    pub fn due(&self, state: &ActorState, timer: Timer) -> Due {
        match (&self.role, state) {
            (Role::Server(server), ActorState::Server(s)) => server.due(&self.setup, s, timer),
            (Role::Client(client), ActorState::Client(s)) => client.due(&self.setup, s, timer),
            (Role::Resource, ActorState::Resource(s)) => s.due(self.setup.bounds.delay.is_some(), timer),
            _ => Due::No,
        }
    }
}

impl Actor for LockActor {
    type Msg = Msg;
    type Timer = Timer;
    type State = ActorState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> ActorState {
        match &self.role {
            Role::Server(server) => ActorState::Server(server.start(&self.setup)),
            Role::Client(client) => ActorState::Client(client.start(o)),
            Role::Resource => ActorState::Resource(ResourceState::new()),
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<ActorState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let setup = &self.setup;
        match &self.role {
            Role::Server(server) => {
                let ActorState::Server(s) = state.to_mut() else { return };
                match (setup.client_at(src.into()), msg) {
                    (_, Msg::CheckSequencer { client, token }) => server.check_sequencer(s, client, token, src, o),
                    (Some(client), msg) => server.on_msg(setup, s, client, src, msg, o),
                    (None, _) => {}
                }
            }
            Role::Client(client) => {
                let from_server = setup.server_at(src.into());
                if let ActorState::Client(s) = state.to_mut() {
                    client.on_msg(setup, s, from_server, msg, o);
                }
            }
            Role::Resource => {
                let Some(kind) = setup.resource else { return };
                let ActorState::Resource(s) = state.to_mut() else { return };
                match (setup.client_at(src.into()), msg) {
                    (_, Msg::SequencerValid { client, valid }) => {
                        s.on_sequencer_checked(client, valid, Id::from(setup.client_actor(client)), o)
                    }
                    (Some(client), msg) => s.on_msg(kind, client, src, msg, o),
                    (None, _) => {}
                }
            }
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<ActorState>, timer: &Timer, o: &mut Out<Self>) {
        match (&self.role, state.to_mut()) {
            (Role::Server(server), ActorState::Server(s)) => server.on_timeout(&self.setup, s, *timer, o),
            (Role::Client(client), ActorState::Client(s)) => client.on_timeout(&self.setup, s, *timer, o),
            (Role::Resource, ActorState::Resource(s)) => s.on_timeout(*timer, &self.setup, o),
            _ => {}
        }
    }

    fn name(&self) -> String {
        match &self.role {
            Role::Server(s) => match self.setup.service {
                crate::setup::Service::ZooKeeper | crate::setup::Service::Chubby => "lock service".into(),
                crate::setup::Service::Etcd => "etcd".into(),
                crate::setup::Service::Postgres => "postgres".into(),
                crate::setup::Service::Redis => format!("redis {}", s.index),
            },
            Role::Client(c) => format!("client {}", c.index),
            Role::Resource => "resource".into(),
        }
    }
}
