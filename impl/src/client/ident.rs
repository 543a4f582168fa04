//! Who a lock is: its key and value, its client, its recorder and its tracing span. The lock
//! and its lanes both hold it; the lanes need nothing else of the lock.

use crate::client::commands::LockKey;
use crate::client::recorder::Recorder;
use crate::event::{ClientId, Event};
use std::sync::Arc;

/// Who a lock is: what its requests carry, who records it, its tracing span.
pub(crate) struct Ident {
    pub(crate) key: LockKey,
    pub(crate) client: ClientId,
    pub(crate) recorder: Option<Arc<Recorder>>,
    pub(crate) span: tracing::Span,
}

impl Ident {
    pub(crate) fn record(&self, event: Event) {
        if let Some(recorder) = &self.recorder {
            recorder.record(&self.key.resource, event);
        }
    }
}
