//! Theorem 2, restart: a node that restarts empty (it lost its keys in the crash) but refuses
//! every request until its own clock has advanced by `wait` since it restarted preserves
//! theorem 1 exactly when `wait >= (ttl - drift)(1 + rho) / (1 - rho)`. With an allowance that
//! meets theorem 1's bound, `wait >= ttl` is enough, and it is tight when the allowance is
//! exactly the bound. The first guess, `ttl (1 + rho) / (1 - rho)`, is the exact wait
//! for an allowance of zero: safe, but it counts the drift the allowance already covers.
//!
//! As in theorem 1, only the node that both majorities share matters, and only its key of the
//! first client: the crash wiped it, so what keeps the second client out is the wait alone. The
//! wait is measured from the restart, on whatever clock the node has then (the same one, or a
//! fresh one after a reboot: only the wait's own measurement is used). The key was set before
//! the crash, and the restart comes after it.

use crate::logic::{number, real, Theorem};
use crate::timing::Holder;
use z3::ast::{Ast, Bool, Real};
use z3::Context;

pub const KEY_SET_BEFORE_CRASH: &str = "the node set the first key before it crashed";
pub const RESTART_AFTER_CRASH: &str = "the node restarts after it crashed";
pub const WAIT_ON_NODE_CLOCK: &str = "the wait is measured on the node's clock";
pub const WAIT_AT_LEAST_TTL: &str = "wait >= ttl";
pub const REFUSES_WHILE_WAITING: &str = "the node sets no key until its wait is over";

/// A node that held the first client's key, crashed, restarted empty and waited before
/// setting the second client's key.
pub struct RestartedNode<'ctx> {
    pub holder: Holder<'ctx>,
    /// How long the node waits after restarting, in units of its clock.
    pub wait: Real<'ctx>,
    pub crash: Real<'ctx>,
    pub restart: Real<'ctx>,
    /// The real duration of `wait` on the node's clock.
    pub wait_duration: Real<'ctx>,
}

impl<'ctx> RestartedNode<'ctx> {
    pub fn new(ctx: &'ctx Context) -> RestartedNode<'ctx> {
        RestartedNode {
            holder: Holder::new(ctx),
            wait: real(ctx, "wait"),
            crash: real(ctx, "crash"),
            restart: real(ctx, "restart"),
            wait_duration: real(ctx, "wait_duration"),
        }
    }

    pub fn exclusive(&self) -> Bool<'ctx> {
        self.holder.exclusive()
    }

    /// Theorem 2, with theorem 1's allowance and a wait of one TTL.
    pub fn mutual_exclusion(&self) -> Theorem<'ctx> {
        let h = &self.holder;
        h.mutual_exclusion(|holding| {
            holding
                .assume(KEY_SET_BEFORE_CRASH, self.crash.ge(&h.key_set))
                .assume(RESTART_AFTER_CRASH, self.restart.ge(&self.crash))
                .assume(WAIT_ON_NODE_CLOCK, h.clocks.measures(&self.wait, &self.wait_duration))
                .assume(WAIT_AT_LEAST_TTL, self.wait.ge(&h.ttl))
                .assume(REFUSES_WHILE_WAITING, h.next_key_set.ge(&(&self.restart + &self.wait_duration)))
        })
    }

    /// `wait (1 - rho) >= (ttl - drift)(1 + rho)`: the exact wait for any allowance.
    pub fn wait_covers_validity(&self) -> Bool<'ctx> {
        let h = &self.holder;
        (&self.wait * &h.clocks.slowest()).ge(&((&h.ttl - &h.drift) * &h.clocks.fastest()))
    }

    /// The worst case: the node crashes and restarts the moment it sets the key, which is the
    /// moment the client starts; the client's clock at its slowest rate, the node's at its
    /// fastest; the second client is granted the moment the wait is over.
    pub fn worst_case(&self) -> Bool<'ctx> {
        let h = &self.holder;
        let zero = number(h.key_set.get_ctx(), 0);
        h.worst_case(&[
            &self.crash._eq(&zero),
            &self.restart._eq(&zero),
            &(&self.wait_duration * &h.clocks.fastest())._eq(&self.wait),
            &h.next_key_set._eq(&self.wait_duration),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::all;
    use crate::logic::{ratio, Rational};
    use crate::timing::{drift_covers_bound, DRIFT_COVERS_BOUND};
    use z3::Config;

    /// Clocks within 1%, a TTL of 10.1 s and an allowance of exactly the bound, 200 ms.
    fn one_percent_clocks_and_exact_allowance<'ctx>(ctx: &'ctx Context, n: &RestartedNode<'ctx>, wait: i32) -> Theorem<'ctx> {
        n.mutual_exclusion()
            .assume("rho = 1/100", n.holder.clocks.rho._eq(&ratio(ctx, 1, 100)))
            .assume("ttl = 10100", n.holder.ttl._eq(&number(ctx, 10_100)))
            .assume("time counted from the first client's start", n.holder.start._eq(&number(ctx, 0)))
            .replacing(DRIFT_COVERS_BOUND, n.holder.drift._eq(&number(ctx, 200)))
            .replacing(WAIT_AT_LEAST_TTL, n.wait._eq(&number(ctx, wait)))
    }

    #[test]
    fn a_node_that_waits_one_ttl_of_its_own_clock_preserves_mutual_exclusion() {
        let ctx = Context::new(&Config::new());
        RestartedNode::new(&ctx).mutual_exclusion().check().assert_proved();
    }

    #[test]
    fn the_exact_wait_for_any_allowance_is_the_validity_stretched_by_both_clocks() {
        let ctx = Context::new(&Config::new());
        let n = RestartedNode::new(&ctx);
        let general = || n.mutual_exclusion().without(DRIFT_COVERS_BOUND).replacing(WAIT_AT_LEAST_TTL, n.wait_covers_validity());
        general().check().assert_proved();
        // Any shorter wait, with any allowance below the TTL: the worst case overlaps.
        let zero = number(&ctx, 0);
        let legal_and_overlapping = all(&ctx, &[&general().without(WAIT_AT_LEAST_TTL).premises(), &n.exclusive().not()]);
        Theorem::new(&ctx, legal_and_overlapping)
            .assume("0 <= rho < 1", n.holder.clocks.bounded())
            .assume("0 <= drift < ttl", all(&ctx, &[&n.holder.drift.ge(&zero), &n.holder.drift.lt(&n.holder.ttl)]))
            .assume("0 <= wait below the exact bound", all(&ctx, &[&n.wait.ge(&zero), &n.wait_covers_validity().not()]))
            .assume("the worst-case schedule", n.worst_case())
            .check()
            .assert_proved();
    }

    #[test]
    fn one_ttl_is_tight_when_the_allowance_is_exactly_the_bound() {
        let ctx = Context::new(&Config::new());
        let n = RestartedNode::new(&ctx);
        // For every rate: with drift = 2 rho ttl / (1 + rho), the exact wait is ttl.
        let exact_allowance = (&n.holder.drift * &n.holder.clocks.fastest())._eq(&(number(&ctx, 2) * &n.holder.clocks.rho * &n.holder.ttl));
        Theorem::new(&ctx, n.wait_covers_validity().iff(&n.wait.ge(&n.holder.ttl)))
            .assume("0 <= rho < 1", n.holder.clocks.bounded())
            .assume("drift is exactly the bound", exact_allowance)
            .check()
            .assert_proved();
        // One millisecond less, and z3 finds overlapping holds.
        one_percent_clocks_and_exact_allowance(&ctx, &n, 10_100).check().assert_proved();
        let cx = one_percent_clocks_and_exact_allowance(&ctx, &n, 10_099).check().counterexample();
        let overlap = cx.real(&n.holder.hold_end) - cx.real(&n.holder.next_grant);
        assert!(overlap > Rational::from_integer(0), "overlap {overlap}");
        println!(
            "crash at {}, restart at {}, wait {} ms of the node's clock lasting {}, second key set at {}; \
             the first client holds until {}",
            cx.real(&n.crash),
            cx.real(&n.restart),
            cx.real(&n.wait),
            cx.real(&n.wait_duration),
            cx.real(&n.holder.next_key_set),
            cx.real(&n.holder.hold_end),
        );
    }

    #[test]
    fn the_first_guess_is_the_exact_wait_for_no_allowance_safe_but_not_tight() {
        let ctx = Context::new(&Config::new());
        let n = RestartedNode::new(&ctx);
        let guess = (&n.wait * &n.holder.clocks.slowest()).ge(&(&n.holder.ttl * &n.holder.clocks.fastest()));
        // Safe: it is at least one TTL.
        n.mutual_exclusion().replacing(WAIT_AT_LEAST_TTL, guess.clone()).check().assert_proved();
        // It is the exact wait for drift = 0 ...
        Theorem::new(&ctx, guess.iff(&n.wait_covers_validity()))
            .assume("0 <= rho < 1", n.holder.clocks.bounded())
            .assume("drift = 0", n.holder.drift._eq(&number(&ctx, 0)))
            .check()
            .assert_proved();
        // ... but an allowance that meets theorem 1's bound already pays for the node's fast
        // clock: whenever some clock may drift (rho > 0), every wait from one TTL up to the
        // guess is safe, and such waits exist (the proof is not vacuous).
        let between = all(&ctx, &[&n.wait.ge(&n.holder.ttl), &guess.not()]);
        n.mutual_exclusion()
            .assume("rho > 0", n.holder.clocks.rho.gt(&number(&ctx, 0)))
            .replacing(WAIT_AT_LEAST_TTL, between)
            .check()
            .assert_proved();
    }

    #[test]
    fn waiting_only_the_validity_time_is_too_short_whenever_clocks_drift() {
        // Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 1 has antirez wait "longer than the lock validity time",
        // at most ttl - drift. Read on the node's own clock, that is enough only for exact
        // clocks: for every rho > 0 and every allowance below the TTL, the worst case overlaps.
        let ctx = Context::new(&Config::new());
        let n = RestartedNode::new(&ctx);
        let zero = number(&ctx, 0);
        let validity_time = n.wait._eq(&(&n.holder.ttl - &n.holder.drift));
        let legal_and_overlapping = all(&ctx, &[&n.mutual_exclusion().without(WAIT_AT_LEAST_TTL).premises(), &n.exclusive().not()]);
        Theorem::new(&ctx, legal_and_overlapping)
            .assume("0 < rho < 1", all(&ctx, &[&n.holder.clocks.rho.gt(&zero), &n.holder.clocks.rho.lt(&number(&ctx, 1))]))
            .assume(
                "the allowance meets the bound and is below the TTL",
                all(&ctx, &[&drift_covers_bound(&n.holder.clocks, &n.holder.drift, &n.holder.ttl), &n.holder.drift.lt(&n.holder.ttl)]),
            )
            .assume("the node waits the validity time", validity_time)
            .assume("the worst-case schedule", n.worst_case())
            .check()
            .assert_proved();
        // With exact clocks it is enough.
        let exact = n.holder.clocks.rho._eq(&zero);
        let validity_time = n.wait._eq(&(&n.holder.ttl - &n.holder.drift));
        n.mutual_exclusion().assume("rho = 0", exact).replacing(WAIT_AT_LEAST_TTL, validity_time).check().assert_proved();
    }

    #[test]
    fn every_assumption_is_needed_and_its_counterexample_breaks_exactly_it() {
        let ctx = Context::new(&Config::new());
        let n = RestartedNode::new(&ctx);
        n.mutual_exclusion().assert_every_assumption_needed();
    }
}
