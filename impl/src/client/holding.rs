//! What a held lock is to its user, whatever protocol holds it (Redlock on Redis, a lease in
//! etcd): its name, token, holder identity and validity, and the fenced reads and writes made
//! with them. [`LockContext`](crate::LockContext) and the guards of both locks are built on it,
//! so that users can switch locks without changing how they use one.

use crate::client::error::{FencedError, LossReason};
use crate::client::fence::{FencedResource, Read, Write};
use crate::event::{ClientId, Event};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One held (or lost) lock, as its user and its resource adapters see it.
pub(crate) trait Holding: Send + Sync + 'static {
    /// The lock's name.
    fn resource(&self) -> &str;
    /// The fencing token of this acquisition, if it has one.
    fn token(&self) -> Option<u64>;
    /// This acquisition's identity (its random value): what a fence keeps with the token.
    fn holder(&self) -> &str;
    /// When the validity ends, if the lock is held.
    fn valid_until(&self) -> Option<Instant>;
    /// The validity of the latest grant or renewal, as measured then.
    fn validity(&self) -> Duration;
    /// Why the lock was lost, once it was.
    fn loss(&self) -> Option<LossReason>;
    /// Who holds it, in the history.
    fn client(&self) -> ClientId;
    /// Records an event of this lock, if the client records.
    fn record(&self, event: Event);
    /// Calls the fault-injection hook, if any, before a fenced operation goes out.
    #[cfg(feature = "fault-injection")]
    fn pause_point(&self, op: crate::client::fault::FencedOp);

    /// The validity left now; zero once it has ended.
    fn remaining(&self) -> Duration {
        self.valid_until().map_or(Duration::ZERO, |until| until.saturating_duration_since(Instant::now()))
    }
}

/// Reads `resource` presenting the lock's token and holder; records `resource_read`.
pub(crate) async fn fenced_read<R: FencedResource>(lock: &dyn Holding, resource: &R) -> Result<Read, FencedError<R::Error>> {
    let token = lock.token().ok_or(FencedError::NoToken)?;
    #[cfg(feature = "fault-injection")]
    lock.pause_point(crate::client::fault::FencedOp::Read);
    let read = resource.read(token, lock.holder()).await.map_err(FencedError::Resource)?;
    lock.record(Event::ResourceRead { client: lock.client(), value: read.value, token: Some(token) });
    Ok(read)
}

/// Writes `value` to `resource` if the lock's token and holder pass its fence; records the
/// outcome.
pub(crate) async fn fenced_write<R: FencedResource>(lock: &dyn Holding, resource: &R, value: u64) -> Result<Write, FencedError<R::Error>> {
    let token = lock.token().ok_or(FencedError::NoToken)?;
    #[cfg(feature = "fault-injection")]
    lock.pause_point(crate::client::fault::FencedOp::Write);
    let write = resource.write(token, lock.holder(), value).await.map_err(FencedError::Resource)?;
    let client = lock.client();
    lock.record(match write {
        Write::Applied => Event::WriteApplied { client, value, token: Some(token) },
        Write::Rejected { .. } => Event::WriteRejected { client, token: Some(token) },
    });
    Ok(write)
}

/// A lock that [`Client::with_lock`](crate::Client::with_lock) (or the etcd client's) keeps
/// alive in the background.
pub(crate) trait Renewable: Send + 'static {
    /// What the user's work sees of it.
    fn holding(&self) -> Arc<dyn Holding>;
    /// One renewal round (an extension, a keep-alive): it may renew, fail, or lose the lock.
    fn renew(&mut self) -> impl Future<Output = ()> + Send;
    /// Tells the core that its validity deadline has come: it reports the loss.
    fn expire_if_due(&mut self);
    /// Gives the lock up at the end of the work.
    fn release(self) -> impl Future<Output = ()> + Send;
}
