//! Theorem 1, timing: with every clock's rate within `[1 - rho, 1 + rho]` of real time and a
//! drift allowance `drift >= 2 rho ttl / (1 + rho)`, the real-time holds of two successful
//! acquisitions never overlap, whatever the message delays; the bound is tight.
//!
//! Two acquisitions that both succeed had majorities, and any two majorities share a node
//! (theorem 3, [`crate::quorum`]). On that node one of the two keys was set first: call its
//! client the first. Everything the theorem needs happens on that node and the first client's
//! clock:
//!
//! - the first client reads its clock (`start`) before it sends anything, so the node sets its
//!   key at `key_set >= start`;
//! - it holds the lock until its own clock has advanced by `ttl - drift` since `start`, or until
//!   it releases earlier;
//! - the node drops the key once its own clock has advanced by `ttl` since `key_set`, or when its
//!   owner releases it, which the owner does only once it has stopped holding;
//! - the node sets the second client's key (`SET NX`) only once the first is gone, and the
//!   second client is granted no earlier than that reply.
//!
//! The second client's clock plays no part, and neither does any delay: message delays are the
//! free gaps between these instants.

use crate::clocks::Clocks;
use crate::logic::{all, any, number, real, Theorem};
use z3::ast::{Ast, Bool, Real};
use z3::Context;

pub const CLOCKS_BOUNDED: &str = "every clock's rate is within [1 - rho, 1 + rho]";
pub const DRIFT_COVERS_BOUND: &str = "drift (1 + rho) >= 2 rho ttl";
pub const CLOCK_READ_BEFORE_SENDING: &str = "the first client reads its clock before the node sets its key";
pub const VALIDITY_ON_CLIENT_CLOCK: &str = "the first client's validity is ttl - drift of its clock";
pub const HOLD_WITHIN_VALIDITY: &str = "the first client holds no longer than its validity";
pub const KEY_LIFE_ON_NODE_CLOCK: &str = "the key lives ttl of the node's clock";
pub const KEY_GONE_BY_EXPIRY_OR_RELEASE: &str = "the key goes at its expiry, or at a release once its owner stopped holding";
pub const SET_IF_NOT_EXISTS: &str = "the node sets the second key only once the first is gone";
pub const GRANT_AFTER_REPLY: &str = "the second client is granted no earlier than the node's reply";

/// `drift >= 2 rho ttl / (1 + rho)`, written without division: `drift (1 + rho) >= 2 rho ttl`.
pub fn drift_covers_bound<'ctx>(clocks: &Clocks<'ctx>, drift: &Real<'ctx>, ttl: &Real<'ctx>) -> Bool<'ctx> {
    let two = number(drift.get_ctx(), 2);
    (drift * &clocks.fastest()).ge(&(two * &clocks.rho * ttl))
}

/// The first client of two whose acquisitions share a node, and the second's grant on that
/// node: what theorems 1 and 2 have in common. The node's side (expiry, or a crash and a wait)
/// is theirs.
pub struct Holder<'ctx> {
    ctx: &'ctx Context,
    pub clocks: Clocks<'ctx>,
    /// The key's time to live, in units of the node's clock.
    pub ttl: Real<'ctx>,
    /// The drift allowance, in units of the client's clock.
    pub drift: Real<'ctx>,
    /// When the first client reads its clock, before sending its first request.
    pub start: Real<'ctx>,
    /// When the shared node sets the first client's key.
    pub key_set: Real<'ctx>,
    /// The real duration of `ttl - drift` on the first client's clock from `start`.
    pub validity: Real<'ctx>,
    /// When the first client stops holding.
    pub hold_end: Real<'ctx>,
    /// When the node sets the second client's key.
    pub next_key_set: Real<'ctx>,
    /// When the second client is granted.
    pub next_grant: Real<'ctx>,
}

impl<'ctx> Holder<'ctx> {
    pub fn new(ctx: &'ctx Context) -> Holder<'ctx> {
        Holder {
            ctx,
            clocks: Clocks::new(ctx),
            ttl: real(ctx, "ttl"),
            drift: real(ctx, "drift"),
            start: real(ctx, "start"),
            key_set: real(ctx, "key_set"),
            validity: real(ctx, "validity"),
            hold_end: real(ctx, "hold_end"),
            next_key_set: real(ctx, "next_key_set"),
            next_grant: real(ctx, "next_grant"),
        }
    }

    /// The holds do not overlap: the first ends before the second begins.
    pub fn exclusive(&self) -> Bool<'ctx> {
        self.hold_end.le(&self.next_grant)
    }

    /// [`exclusive`](Holder::exclusive), assuming the clocks' bound, theorem 1's allowance and
    /// the first client's side; then `node`'s assumptions on what the node does between the
    /// first key and the second; then that the second grant follows the node's reply.
    pub fn mutual_exclusion(&self, node: impl FnOnce(Theorem<'ctx>) -> Theorem<'ctx>) -> Theorem<'ctx> {
        let holding = Theorem::new(self.ctx, self.exclusive())
            .assume(CLOCKS_BOUNDED, self.clocks.bounded())
            .assume(DRIFT_COVERS_BOUND, drift_covers_bound(&self.clocks, &self.drift, &self.ttl))
            .assume(CLOCK_READ_BEFORE_SENDING, self.key_set.ge(&self.start))
            .assume(VALIDITY_ON_CLIENT_CLOCK, self.clocks.measures(&(&self.ttl - &self.drift), &self.validity))
            .assume(HOLD_WITHIN_VALIDITY, self.hold_end.le(&(&self.start + &self.validity)));
        node(holding).assume(GRANT_AFTER_REPLY, self.next_grant.ge(&self.next_key_set))
    }

    /// The first client's worst case: it starts when the node sets its key, at 0, its clock at
    /// its slowest rate, and it holds to the end of its validity; `node`'s schedule, then the
    /// second client granted the moment the node sets its key.
    pub fn worst_case(&self, node: &[&Bool<'ctx>]) -> Bool<'ctx> {
        let zero = number(self.ctx, 0);
        let first = [
            &self.start._eq(&zero),
            &self.key_set._eq(&zero),
            &(&self.validity * &self.clocks.slowest())._eq(&(&self.ttl - &self.drift)),
            &self.hold_end._eq(&self.validity),
        ];
        let second = self.next_grant._eq(&self.next_key_set);
        let schedule: Vec<&Bool<'ctx>> = first.into_iter().chain(node.iter().copied()).chain([&second]).collect();
        all(self.ctx, &schedule)
    }
}

/// Two successful acquisitions that share a node: the instants (real time) and durations that
/// decide whether their holds overlap.
pub struct Acquisitions<'ctx> {
    ctx: &'ctx Context,
    pub holder: Holder<'ctx>,
    /// The real duration of `ttl` on the node's clock from `key_set`.
    pub key_life: Real<'ctx>,
    /// When the first key leaves the node.
    pub key_gone: Real<'ctx>,
}

impl<'ctx> Acquisitions<'ctx> {
    pub fn new(ctx: &'ctx Context) -> Acquisitions<'ctx> {
        Acquisitions { ctx, holder: Holder::new(ctx), key_life: real(ctx, "key_life"), key_gone: real(ctx, "key_gone") }
    }

    pub fn exclusive(&self) -> Bool<'ctx> {
        self.holder.exclusive()
    }

    /// Theorem 1.
    pub fn mutual_exclusion(&self) -> Theorem<'ctx> {
        let h = &self.holder;
        let key_expiry = &h.key_set + &self.key_life;
        h.mutual_exclusion(|holding| {
            holding
                .assume(KEY_LIFE_ON_NODE_CLOCK, h.clocks.measures(&h.ttl, &self.key_life))
                .assume(KEY_GONE_BY_EXPIRY_OR_RELEASE, any(self.ctx, &[&self.key_gone._eq(&key_expiry), &self.key_gone.ge(&h.hold_end)]))
                .assume(SET_IF_NOT_EXISTS, h.next_key_set.ge(&self.key_gone))
        })
    }

    /// The worst case, as an explicit schedule: no message delay at all, the client's clock at
    /// its slowest rate, the node's at its fastest, the second client granted the moment the
    /// key expires.
    pub fn worst_case(&self) -> Bool<'ctx> {
        let h = &self.holder;
        h.worst_case(&[
            &(&self.key_life * &h.clocks.fastest())._eq(&h.ttl),
            &self.key_gone._eq(&self.key_life),
            &h.next_key_set._eq(&self.key_gone),
        ])
    }
}

pub const TTL_POSITIVE: &str = "ttl > 0";
pub const FACTOR_BELOW_TWO: &str = "0 < factor < 2";
pub const FIXED_NON_NEGATIVE: &str = "fixed >= 0";
pub const DRIFT_FROM_FACTOR: &str = "factor ttl + fixed <= drift < factor ttl + fixed + 1 (rounded up)";
pub const RHO_WITHIN_FACTOR: &str = "rho (2 - factor) <= factor";
pub const RHO_BEYOND_FACTOR: &str = "rho (2 - factor) > factor";
pub const TTL_LONG_ENOUGH: &str = "ttl (2 rho - factor (1 + rho)) >= (fixed + 1)(1 + rho)";

/// A drift allowance of the core's shape, `drift = ceil(factor x ttl) + fixed` (in ms), and what
/// it buys against theorem 1's bound.
pub struct Allowance<'ctx> {
    ctx: &'ctx Context,
    pub clocks: Clocks<'ctx>,
    pub ttl: Real<'ctx>,
    pub factor: Real<'ctx>,
    pub fixed: Real<'ctx>,
    pub drift: Real<'ctx>,
}

impl<'ctx> Allowance<'ctx> {
    pub fn new(ctx: &'ctx Context) -> Allowance<'ctx> {
        Allowance {
            ctx,
            clocks: Clocks::new(ctx),
            ttl: real(ctx, "ttl"),
            factor: real(ctx, "factor"),
            fixed: real(ctx, "fixed"),
            drift: real(ctx, "drift"),
        }
    }

    /// The allowance meets theorem 1's bound for every TTL while `rho <= factor / (2 - factor)`
    /// (the default factor 1% covers `rho <= 1/199`).
    pub fn covers_every_ttl(&self) -> Theorem<'ctx> {
        let claim = drift_covers_bound(&self.clocks, &self.drift, &self.ttl);
        let rho_within = (&self.clocks.rho * &(number(self.ctx, 2) - &self.factor)).le(&self.factor);
        self.shape(claim).assume(RHO_WITHIN_FACTOR, rho_within)
    }

    /// Beyond that rate, every TTL long enough breaks the bound, whatever the fixed part.
    pub fn fails_for_long_ttls(&self) -> Theorem<'ctx> {
        let ctx = self.ctx;
        let one = number(ctx, 1);
        let two = number(ctx, 2);
        let claim = drift_covers_bound(&self.clocks, &self.drift, &self.ttl).not();
        let rho_beyond = (&self.clocks.rho * &(&two - &self.factor)).gt(&self.factor);
        let margin = &two * &self.clocks.rho - &self.factor * &self.clocks.fastest();
        let long = (&self.ttl * &margin).ge(&((&self.fixed + &one) * &self.clocks.fastest()));
        self.shape(claim).assume(RHO_BEYOND_FACTOR, rho_beyond).assume(TTL_LONG_ENOUGH, long)
    }

    fn shape(&self, claim: Bool<'ctx>) -> Theorem<'ctx> {
        let ctx = self.ctx;
        let zero = number(ctx, 0);
        let proportional = &self.factor * &self.ttl + &self.fixed;
        Theorem::new(ctx, claim)
            .assume(CLOCKS_BOUNDED, self.clocks.bounded())
            .assume(TTL_POSITIVE, self.ttl.gt(&zero))
            .assume(FACTOR_BELOW_TWO, all(ctx, &[&self.factor.gt(&zero), &self.factor.lt(&number(ctx, 2))]))
            .assume(FIXED_NON_NEGATIVE, self.fixed.ge(&zero))
            .assume(DRIFT_FROM_FACTOR, all(ctx, &[&self.drift.ge(&proportional), &self.drift.lt(&(&proportional + &number(ctx, 1)))]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::{ratio, Counterexample, Rational};
    use redlock_client::params::Params;
    use z3::Config;

    /// The counterexample's timeline, checked with exact arithmetic outside z3: how long the
    /// two holds overlap.
    fn overlap(a: &Acquisitions, cx: &Counterexample) -> Rational {
        let at = |x: &Real| cx.real(x);
        println!(
            "rho {} ttl {} drift {}: first client starts at {}, its key is set at {} and lives {} \
             (gone at {}), it holds until {} (validity {}); the second key is set at {} and granted at {}",
            at(&a.holder.clocks.rho),
            at(&a.holder.ttl),
            at(&a.holder.drift),
            at(&a.holder.start),
            at(&a.holder.key_set),
            at(&a.key_life),
            at(&a.key_gone),
            at(&a.holder.hold_end),
            at(&a.holder.validity),
            at(&a.holder.next_key_set),
            at(&a.holder.next_grant),
        );
        at(&a.holder.hold_end) - at(&a.holder.next_grant)
    }

    /// Clocks within 1%, a TTL of 10.1 s: the bound is exactly 200 ms.
    fn one_percent_clocks_and_ttl_10100<'ctx>(ctx: &'ctx Context, a: &Acquisitions<'ctx>, drift: i32) -> Theorem<'ctx> {
        a.mutual_exclusion()
            .assume("rho = 1/100", a.holder.clocks.rho._eq(&ratio(ctx, 1, 100)))
            .assume("ttl = 10100", a.holder.ttl._eq(&number(ctx, 10_100)))
            .assume("time counted from the first client's start", a.holder.start._eq(&number(ctx, 0)))
            .replacing(DRIFT_COVERS_BOUND, a.holder.drift._eq(&number(ctx, drift)))
    }

    #[test]
    fn holds_never_overlap_when_the_drift_allowance_meets_the_bound() {
        let ctx = Context::new(&Config::new());
        Acquisitions::new(&ctx).mutual_exclusion().check().assert_proved();
    }

    #[test]
    fn only_the_earliest_expiry_matters_keys_may_outlive_their_ttl() {
        // Theorem 6 relies on this: the model's window may be narrow on its upper side.
        let ctx = Context::new(&Config::new());
        let a = Acquisitions::new(&ctx);
        let lower_side_only = (&a.key_life * &a.holder.clocks.fastest()).ge(&a.holder.ttl);
        a.mutual_exclusion().replacing(KEY_LIFE_ON_NODE_CLOCK, lower_side_only).check().assert_proved();
    }

    #[test]
    fn every_assumption_is_needed_and_its_counterexample_breaks_exactly_it() {
        let ctx = Context::new(&Config::new());
        let a = Acquisitions::new(&ctx);
        a.mutual_exclusion().assert_every_assumption_needed();
    }

    #[test]
    fn the_bound_is_tight_for_every_rate_and_ttl() {
        // For all rho in (0, 1), ttl > 0 and 0 <= drift < 2 rho ttl / (1 + rho), the worst-case
        // schedule is a legal run of the protocol in which the holds overlap.
        let ctx = Context::new(&Config::new());
        let a = Acquisitions::new(&ctx);
        let zero = number(&ctx, 0);
        let legal_and_overlapping = all(&ctx, &[&a.mutual_exclusion().without(DRIFT_COVERS_BOUND).premises(), &a.exclusive().not()]);
        Theorem::new(&ctx, legal_and_overlapping)
            .assume("0 < rho < 1", all(&ctx, &[&a.holder.clocks.rho.gt(&zero), &a.holder.clocks.rho.lt(&number(&ctx, 1))]))
            .assume("ttl > 0", a.holder.ttl.gt(&zero))
            .assume(
                "0 <= drift < bound",
                all(&ctx, &[&a.holder.drift.ge(&zero), &drift_covers_bound(&a.holder.clocks, &a.holder.drift, &a.holder.ttl).not()]),
            )
            .assume("the worst-case schedule", a.worst_case())
            .check()
            .assert_proved();
    }

    #[test]
    fn one_ms_below_the_bound_z3_finds_overlapping_holds() {
        let ctx = Context::new(&Config::new());
        let a = Acquisitions::new(&ctx);
        one_percent_clocks_and_ttl_10100(&ctx, &a, 200).check().assert_proved();
        let cx = one_percent_clocks_and_ttl_10100(&ctx, &a, 199).check().counterexample();
        assert!(overlap(&a, &cx) > Rational::from_integer(0));
        // The client's clock may run 1% slow and the node's 1% fast: the overlap is at most
        // 1 ms / 0.99.
        assert!(overlap(&a, &cx) <= Rational::new(100, 99));
    }

    #[test]
    fn an_allowance_for_one_clock_only_is_not_enough() {
        // rho x ttl covers the client's drift or the node's, not both.
        let ctx = Context::new(&Config::new());
        let a = Acquisitions::new(&ctx);
        let one_clock = a.holder.drift.ge(&(&a.holder.clocks.rho * &a.holder.ttl));
        let cx = a.mutual_exclusion().replacing(DRIFT_COVERS_BOUND, one_clock).check().counterexample();
        assert!(!cx.satisfies(&a.exclusive()));
    }

    #[test]
    fn a_proportional_allowance_covers_every_ttl_up_to_factor_over_two_minus_factor() {
        let ctx = Context::new(&Config::new());
        let allowance = Allowance::new(&ctx);
        allowance.covers_every_ttl().check().assert_proved();
        allowance.fails_for_long_ttls().check().assert_proved();
        // Without the rate condition, or for short TTLs, neither holds.
        allowance.covers_every_ttl().without(RHO_WITHIN_FACTOR).check().counterexample();
        allowance.fails_for_long_ttls().without(TTL_LONG_ENOUGH).check().counterexample();
    }

    /// The core's defaults: factor 10_000 ppm, fixed part 2 ms.
    fn with_shipped_defaults<'ctx>(ctx: &'ctx Context, allowance: &Allowance<'ctx>, theorem: Theorem<'ctx>) -> Theorem<'ctx> {
        let defaults = Params::new(1, 1);
        let factor = ratio(ctx, defaults.drift_factor_ppm as i32, 1_000_000);
        let fixed = number(ctx, defaults.drift_fixed_ms as i32);
        theorem.assume("the default factor", allowance.factor._eq(&factor)).assume("the default fixed part", allowance.fixed._eq(&fixed))
    }

    #[test]
    fn the_default_allowance_is_safe_for_every_ttl_iff_rho_is_at_most_1_in_199() {
        let ctx = Context::new(&Config::new());
        let allowance = Allowance::new(&ctx);
        let shipped = |t| with_shipped_defaults(&ctx, &allowance, t);
        let within = allowance.clocks.rho.le(&ratio(&ctx, 1, 199));
        shipped(allowance.covers_every_ttl()).replacing(RHO_WITHIN_FACTOR, within).check().assert_proved();
        // The documented "about 0.5%" (docs/design.md, *The crate*): 0.5% itself is safe for every TTL.
        let half_percent = allowance.clocks.rho.le(&ratio(&ctx, 1, 200));
        shipped(allowance.covers_every_ttl()).replacing(RHO_WITHIN_FACTOR, half_percent).check().assert_proved();
        // Just above 1/199, long TTLs break it.
        let beyond = allowance.clocks.rho.gt(&ratio(&ctx, 1, 199));
        let cx = shipped(allowance.covers_every_ttl()).replacing(RHO_WITHIN_FACTOR, beyond).check().counterexample();
        assert!(cx.real(&allowance.clocks.rho) > Rational::new(1, 199));
    }

    /// theorem 1's bound at rate `rho`, in ms, for the shipped drift allowance of `ttl_ms`.
    fn shipped_meets_bound(ttl_ms: u64, rho: Rational) -> bool {
        let drift = Rational::from_integer(Params::new(1, ttl_ms).drift_ms().into());
        drift * (Rational::from_integer(1) + rho) >= Rational::from_integer(2) * rho * Rational::from_integer(ttl_ms.into())
    }

    #[test]
    fn the_shipped_drift_allowance_has_the_proved_shape() {
        // DRIFT_FROM_FACTOR with factor 1/100, fixed 2 ms: ttl/100 + 2 <= drift < ttl/100 + 3.
        for ttl_ms in 1..=200_000u64 {
            let drift = Params::new(1, ttl_ms).drift_ms();
            assert!(100 * drift >= ttl_ms + 200 && 100 * drift < ttl_ms + 300, "ttl {ttl_ms} ms: drift {drift} ms");
        }
    }

    #[test]
    fn the_shipped_default_breaks_for_long_ttls_just_above_1_in_199() {
        let rho = Rational::new(1, 198);
        let first = (1..=1_000_000u64).find(|&ttl| !shipped_meets_bound(ttl, rho));
        // (ttl/100 + 2) x 199 < 2 ttl once ttl > 39_800 ms; rounding up keeps 39_801..=39_899
        // safe (their allowance is 401 ms).
        assert_eq!(first, Some(39_900));
        assert!((1..=1_000_000u64).all(|ttl| shipped_meets_bound(ttl, Rational::new(1, 199))));
    }

    #[test]
    fn what_the_default_allowance_buys_per_ttl() {
        // The largest rho for a given TTL is drift / (2 ttl - drift): the +2 ms matters for
        // short TTLs, the 1% for long ones. These are the README's figures.
        let largest_rho = |ttl_ms: u64| {
            let drift = Params::new(1, ttl_ms).drift_ms();
            let rho = Rational::new(drift.into(), (2 * ttl_ms - drift).into());
            assert!(shipped_meets_bound(ttl_ms, rho));
            assert!(!shipped_meets_bound(ttl_ms, rho + Rational::new(1, 1_000_000_000)));
            rho
        };
        assert_eq!(largest_rho(100), Rational::new(3, 197)); // 1.52%
        assert_eq!(largest_rho(1_000), Rational::new(12, 1_988)); // 0.604%
        assert_eq!(largest_rho(10_000), Rational::new(102, 19_898)); // 0.513%
        assert_eq!(largest_rho(30_000), Rational::new(302, 59_698)); // 0.506%
    }
}
