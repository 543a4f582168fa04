//! The properties a run checks: each judged invariant as an `Always` property that reads the
//! judge's verdict, and with it the `Sometimes` witnesses that show it was not passed vacuously
//! (a mutual exclusion that "holds" because no lock was ever granted proves nothing).

use crate::setup::Setup;
use crate::system::{LockSystem, SystemState};
use redlock_client::judge::Invariant;
use stateright::{Expectation, Property};

/// A `Sometimes` property that must be found for the invariants it witnesses to mean anything.
#[derive(Clone, Copy, Debug)]
pub struct Witness {
    pub name: &'static str,
    pub meaning: &'static str,
    pub condition: fn(&LockSystem, &SystemState) -> bool,
}

/// Two clients are after the lock at once.
pub const CLIENTS_CONTEND: Witness = Witness {
    name: "clients_contend",
    meaning: "a client acquires while another acquires or holds",
    condition: |_, s| s.judge.acquirers().count() + s.judge.holders().count() >= 2 && s.judge.acquirers().count() >= 1,
};

/// The lock went to a second holder.
pub const LOCK_PASSED_ON: Witness =
    Witness { name: "lock_passed_on", meaning: "the lock was granted twice", condition: |_, s| s.judge.grants() >= 2 };

/// Two different holders' writes reached the resource.
pub const WRITES_FROM_TWO_HOLDERS: Witness = Witness {
    name: "writes_from_two_holders",
    meaning: "the resource applied writes from two clients",
    condition: |sys, s| {
        sys.setup.resource_actor().and_then(|i| s.actors.actor_states[i].as_resource()).is_some_and(|r| r.writers.count_ones() >= 2)
    },
};

/// Every expiring key is gone after a grant, with nobody holding or acquiring.
pub const KEYS_ALL_EXPIRED: Witness = Witness {
    name: "keys_all_expired",
    meaning: "after a grant, every expiring key is gone and nobody holds or acquires",
    condition: |_, s| s.judge.grants() >= 1 && s.judge.acquirable_premise(),
};

/// A holder learned from a majority of servers that its key is gone, and said so.
pub const LOSS_REPORTED: Witness = Witness {
    name: "loss_reported",
    meaning: "a holder that a majority refused reported its lock lost",
    condition: |_, s| s.judge.refusal_reported(),
};

/// The witnesses of one invariant.
pub fn witnesses(invariant: Invariant) -> &'static [Witness] {
    match invariant {
        Invariant::MutualExclusion => &[CLIENTS_CONTEND, LOCK_PASSED_ON],
        Invariant::OwnerOnlyRelease => &[LOCK_PASSED_ON],
        Invariant::OrderedFencedWrites | Invariant::NoLostUpdate => &[WRITES_FROM_TWO_HOLDERS],
        Invariant::EventuallyAcquirable => &[KEYS_ALL_EXPIRED],
        Invariant::LostLockReported => &[LOSS_REPORTED],
    }
}

/// The witnesses of a setup's judged invariants, each once.
pub fn setup_witnesses(setup: &Setup) -> Vec<Witness> {
    let mut out: Vec<Witness> = Vec::new();
    for w in setup.judged.iter().flat_map(|i| witnesses(*i)) {
        if !out.iter().any(|o| o.name == w.name) {
            out.push(*w);
        }
    }
    out
}

pub fn for_setup(setup: &Setup) -> Vec<Property<LockSystem>> {
    let invariants = setup.judged.iter().map(|i| always(*i));
    let witnesses =
        setup_witnesses(setup).into_iter().map(|w| Property { expectation: Expectation::Sometimes, name: w.name, condition: w.condition });
    invariants.chain(witnesses).collect()
}

/// The `Always` property of a judged invariant: it holds while the judge records no violation.
pub fn always(invariant: Invariant) -> Property<LockSystem> {
    let condition: fn(&LockSystem, &SystemState) -> bool = match invariant {
        Invariant::MutualExclusion => |_, s| s.judge.violation(Invariant::MutualExclusion).is_none(),
        Invariant::OwnerOnlyRelease => |_, s| s.judge.violation(Invariant::OwnerOnlyRelease).is_none(),
        Invariant::OrderedFencedWrites => |_, s| s.judge.violation(Invariant::OrderedFencedWrites).is_none(),
        Invariant::NoLostUpdate => |_, s| s.judge.violation(Invariant::NoLostUpdate).is_none(),
        Invariant::EventuallyAcquirable => |_, s| s.judge.violation(Invariant::EventuallyAcquirable).is_none(),
        Invariant::LostLockReported => |_, s| s.judge.violation(Invariant::LostLockReported).is_none(),
    };
    Property { expectation: Expectation::Always, name: invariant.name(), condition }
}
