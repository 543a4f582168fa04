//! What a client shares with its locks: its checked configuration and what it made of it (the
//! connections, a clock, the warnings). The locks read it; it knows nothing of them.

use crate::client::clock::LocalClock;
use crate::client::config::{Config, Warnings};
use crate::client::node::Node;
use std::sync::Arc;

/// A client's checked configuration and what it made of it: connections, a clock, warnings.
/// Cloned (cheaply: the connections and warnings are shared) for another client id.
#[derive(Clone)]
pub(crate) struct ClientInner {
    pub(crate) config: Config,
    pub(crate) nodes: Vec<Arc<Node>>,
    pub(crate) clock: LocalClock,
    pub(crate) warnings: Arc<Warnings>,
}

impl ClientInner {
    /// Opens nothing: each node connects on first use.
    pub(crate) fn new(config: Config) -> ClientInner {
        let warnings = Arc::new(Warnings::new(config.warnings.clone()));
        let nodes = config
            .servers
            .iter()
            .enumerate()
            .map(|(index, s)| Arc::new(Node::new(s.clone(), config.io_timeout, index, warnings.clone())))
            .collect();
        ClientInner { config, nodes, clock: LocalClock::new(), warnings }
    }
}
