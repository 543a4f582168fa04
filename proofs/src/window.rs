//! Theorem 6, the model's abstraction of time (`model/src/setup.rs`, `Window`): the model
//! checker's clients keep real time, and a key set with a TTL of `T` ticks lives between `T - K`
//! and `T + K` real ticks, `K` being the skew. This module shows that encoding is sound, and
//! what `K` stands for:
//!
//! - One clock within `1 ± rho` measures an interval of `L` local units in a real duration
//!   within `[L - rho L / (1 + rho), L + rho L / (1 - rho)]`, both ends reached; the smallest
//!   symmetric window is `K = rho L / (1 - rho)`, in whole ticks `ceil(rho L / (1 - rho))`
//!   ([`SingleClock`]).
//! - Measured on another such clock (the client's), the same interval lasts within
//!   `[L - 2 rho L / (1 + rho), L + 2 rho L / (1 - rho)]`: exactly twice each side
//!   ([`TwoClocks`]). So giving the client real time and the server this doubled window loses
//!   nothing: only the order of events matters, and reading time on the client's clock keeps it.
//! - For the comparison Redlock makes (an interval of the client's ends before one of the
//!   server's that started no earlier), real clocks and the window model give the same verdict
//!   for every rho and every pair of lengths ([`Comparison`]); theorem 1 is the instance
//!   `ttl - drift` against `ttl`, and only the window's lower side counts.
//! - In the model's integer ticks, mutual exclusion holds iff `drift >= K` ([`ModelRun`]), as the
//!   model checker finds; that is theorem 1's bound for the rate whose lower side is `K`,
//!   `rho = K / (2 T - K)`.

use crate::clocks::Clocks;
use crate::logic::{all, int, integer, number, real, Rational, Theorem};
use crate::timing::CLOCKS_BOUNDED;
use z3::ast::{Ast, Bool, Int, Real};
use z3::Context;

/// The smallest skew (in ticks) whose window's lower side covers clocks within `1 ± rho` for a
/// TTL of `ttl` ticks: `ceil(2 rho ttl / (1 + rho))`, the `--skew` to give the model checker.
pub fn skew_for(rho: Rational, ttl: u64) -> u64 {
    let one = Rational::from_integer(1);
    let lower_side = Rational::from_integer(2) * rho * Rational::from_integer(ttl.into()) / (one + rho);
    lower_side.ceil().to_integer().try_into().expect("a skew fits in 64 bits")
}

/// The largest rho that a skew of `skew` ticks covers for a TTL of `ttl` ticks:
/// `skew / (2 ttl - skew)`.
pub fn rho_for(skew: u64, ttl: u64) -> Rational {
    Rational::new(skew.into(), (2 * ttl - skew).into())
}

pub const LENGTH_NON_NEGATIVE: &str = "the interval's length is not negative";
pub const MEASURED_ON_THE_CLOCK: &str = "a clock within 1 ± rho measures the interval";
pub const HALF_WIDTH_COVERS_SLOW_CLOCK: &str = "K (1 - rho) >= rho L";

/// One clock measuring an interval of `length` of its units over `duration` of real time.
pub struct SingleClock<'ctx> {
    ctx: &'ctx Context,
    pub clocks: Clocks<'ctx>,
    pub length: Real<'ctx>,
    pub duration: Real<'ctx>,
    /// The window's half-width.
    pub half_width: Real<'ctx>,
}

impl<'ctx> SingleClock<'ctx> {
    pub fn new(ctx: &'ctx Context) -> SingleClock<'ctx> {
        SingleClock {
            ctx,
            clocks: Clocks::new(ctx),
            length: real(ctx, "length"),
            duration: real(ctx, "duration"),
            half_width: real(ctx, "half_width"),
        }
    }

    pub fn in_window(&self) -> Bool<'ctx> {
        all(self.ctx, &[&self.duration.ge(&(&self.length - &self.half_width)), &self.duration.le(&(&self.length + &self.half_width))])
    }

    /// The interval ends within `[L - K, L + K]` real time when `K >= rho L / (1 - rho)`.
    pub fn ends_in_window(&self) -> Theorem<'ctx> {
        let covers = (&self.half_width * &self.clocks.slowest()).ge(&(&self.clocks.rho * &self.length));
        Theorem::new(self.ctx, self.in_window())
            .assume(CLOCKS_BOUNDED, self.clocks.bounded())
            .assume(LENGTH_NON_NEGATIVE, self.length.ge(&number(self.ctx, 0)))
            .assume(MEASURED_ON_THE_CLOCK, self.clocks.measures(&self.length, &self.duration))
            .assume(HALF_WIDTH_COVERS_SLOW_CLOCK, covers)
    }

    /// The exact sides: `L / (1 + rho) <= duration <= L / (1 - rho)`.
    pub fn exact_sides(&self) -> Bool<'ctx> {
        all(
            self.ctx,
            &[&(&self.duration * &self.clocks.fastest()).ge(&self.length), &(&self.duration * &self.clocks.slowest()).le(&self.length)],
        )
    }
}

/// `L - 2 rho L / (1 + rho) <= on_client <= L + 2 rho L / (1 - rho)`: an interval of `length`
/// units of one clock lasts `on_client` units of another.
pub fn in_doubled_window<'ctx>(clocks: &Clocks<'ctx>, length: &Real<'ctx>, on_client: &Real<'ctx>) -> Bool<'ctx> {
    let ctx = length.get_ctx();
    let two_rho_length = number(ctx, 2) * &clocks.rho * length;
    all(
        ctx,
        &[&((length - on_client) * &clocks.fastest()).le(&two_rho_length), &((on_client - length) * &clocks.slowest()).le(&two_rho_length)],
    )
}

/// An interval of `length` units of the server's clock, read on the client's clock: it lasts
/// `duration` of real time and `on_client` units of the client's clock.
pub struct TwoClocks<'ctx> {
    ctx: &'ctx Context,
    pub clocks: Clocks<'ctx>,
    pub length: Real<'ctx>,
    pub duration: Real<'ctx>,
    pub on_client: Real<'ctx>,
}

impl<'ctx> TwoClocks<'ctx> {
    pub fn new(ctx: &'ctx Context) -> TwoClocks<'ctx> {
        TwoClocks {
            ctx,
            clocks: Clocks::new(ctx),
            length: real(ctx, "length"),
            duration: real(ctx, "duration"),
            on_client: real(ctx, "on_client"),
        }
    }

    pub fn in_doubled_window(&self) -> Bool<'ctx> {
        in_doubled_window(&self.clocks, &self.length, &self.on_client)
    }

    pub fn ends_in_doubled_window(&self) -> Theorem<'ctx> {
        Theorem::new(self.ctx, self.in_doubled_window())
            .assume(CLOCKS_BOUNDED, self.clocks.bounded())
            .assume(LENGTH_NON_NEGATIVE, self.length.ge(&number(self.ctx, 0)))
            .assume("the server's clock measures the interval", self.clocks.measures(&self.length, &self.duration))
            .assume("the client's clock runs over the same real time", self.clocks.measures(&self.on_client, &self.duration))
    }
}

pub const CONDITION: &str = "client (1 + rho) <= server (1 - rho)";
pub const SERVER_STARTS_NO_EARLIER: &str = "the server's interval starts no earlier than the client's";

/// Redlock's comparison: an interval of `client` units of the client's clock, from
/// `client_start`, against one of `server` units of the server's clock, from `server_start`.
pub struct Comparison<'ctx> {
    ctx: &'ctx Context,
    pub clocks: Clocks<'ctx>,
    pub client: Real<'ctx>,
    pub server: Real<'ctx>,
    pub client_start: Real<'ctx>,
    pub server_start: Real<'ctx>,
    /// Real durations (with real clocks), or client-clock durations (in the window model).
    pub client_duration: Real<'ctx>,
    pub server_duration: Real<'ctx>,
}

impl<'ctx> Comparison<'ctx> {
    pub fn new(ctx: &'ctx Context) -> Comparison<'ctx> {
        Comparison {
            ctx,
            clocks: Clocks::new(ctx),
            client: real(ctx, "client"),
            server: real(ctx, "server"),
            client_start: real(ctx, "client_start"),
            server_start: real(ctx, "server_start"),
            client_duration: real(ctx, "client_duration"),
            server_duration: real(ctx, "server_duration"),
        }
    }

    /// The client's interval ends no later than the server's.
    pub fn client_ends_first(&self) -> Bool<'ctx> {
        (&self.client_start + &self.client_duration).le(&(&self.server_start + &self.server_duration))
    }

    /// `client (1 + rho) <= server (1 - rho)`, i.e. `client <= server - 2 rho server / (1 + rho)`.
    pub fn condition(&self) -> Bool<'ctx> {
        (&self.client * &self.clocks.fastest()).le(&(&self.server * &self.clocks.slowest()))
    }

    fn shape(&self, claim: Bool<'ctx>) -> Theorem<'ctx> {
        let zero = number(self.ctx, 0);
        Theorem::new(self.ctx, claim)
            .assume(CLOCKS_BOUNDED, self.clocks.bounded())
            .assume(LENGTH_NON_NEGATIVE, all(self.ctx, &[&self.client.ge(&zero), &self.server.ge(&zero)]))
            .assume(SERVER_STARTS_NO_EARLIER, self.server_start.ge(&self.client_start))
    }

    /// Each interval measured in real time on its own clock.
    pub fn real_clocks(&self) -> Bool<'ctx> {
        all(
            self.ctx,
            &[&self.clocks.measures(&self.client, &self.client_duration), &self.clocks.measures(&self.server, &self.server_duration)],
        )
    }

    /// Time read on the client's clock: the client's interval is exact, the server's lies in
    /// the doubled window.
    pub fn window_model(&self) -> Bool<'ctx> {
        let window = in_doubled_window(&self.clocks, &self.server, &self.server_duration);
        all(self.ctx, &[&self.client_duration._eq(&self.client), &window])
    }

    /// Under `timing` ([`Self::real_clocks`] or [`Self::window_model`]), the condition makes the
    /// client's interval end first, always.
    pub fn sufficient(&self, timing: Bool<'ctx>) -> Theorem<'ctx> {
        self.shape(self.client_ends_first()).assume("timing", timing).assume(CONDITION, self.condition())
    }

    /// Under `timing`, without the condition, the `worst_case` is a legal run in which the
    /// server's interval ends first.
    pub fn necessary(&self, timing: Bool<'ctx>, worst_case: Bool<'ctx>) -> Theorem<'ctx> {
        let legal_and_broken = all(self.ctx, &[&timing, &self.client_ends_first().not()]);
        self.shape(legal_and_broken).assume("not the condition", self.condition().not()).assume("the worst case", worst_case)
    }

    /// With real clocks: both start together, the client's clock at its slowest, the
    /// server's at its fastest.
    pub fn real_worst_case(&self) -> Bool<'ctx> {
        all(
            self.ctx,
            &[
                &self.client_start._eq(&self.server_start),
                &(&self.client_duration * &self.clocks.slowest())._eq(&self.client),
                &(&self.server_duration * &self.clocks.fastest())._eq(&self.server),
            ],
        )
    }

    /// In the window model: both start together, the client's interval exact, the server's at
    /// the window's lower end.
    pub fn window_worst_case(&self) -> Bool<'ctx> {
        all(
            self.ctx,
            &[
                &self.client_start._eq(&self.server_start),
                &self.client_duration._eq(&self.client),
                &(&self.server_duration * &self.clocks.fastest())._eq(&(&self.server * &self.clocks.slowest())),
            ],
        )
    }
}

pub const SKEW_BELOW_TTL: &str = "0 <= K < T";
pub const DRIFT_AT_LEAST_SKEW: &str = "drift >= K";
pub const DRIFT_NON_NEGATIVE: &str = "drift >= 0";
pub const KEY_SET_AFTER_START: &str = "the key is set no earlier than the client's start tick";
pub const KEY_EXPIRES_IN_WINDOW: &str = "the key expires T - K to T + K ticks after it was set";
pub const NEXT_GRANT_AFTER_EXPIRY: &str = "the next grant comes no earlier than the expiry";

/// One run of the model checker's encoding, in integer ticks: the first client's belief ends
/// at its tick `start + T - drift`, before anything else happens in that tick (the judge sees
/// the validity end with the tick itself); the key expires at a tick within the window.
pub struct ModelRun<'ctx> {
    ctx: &'ctx Context,
    pub ttl: Int<'ctx>,
    pub skew: Int<'ctx>,
    pub drift: Int<'ctx>,
    pub start: Int<'ctx>,
    pub key_set: Int<'ctx>,
    pub expiry: Int<'ctx>,
    pub next_grant: Int<'ctx>,
}

impl<'ctx> ModelRun<'ctx> {
    pub fn new(ctx: &'ctx Context) -> ModelRun<'ctx> {
        ModelRun {
            ctx,
            ttl: int(ctx, "ttl"),
            skew: int(ctx, "skew"),
            drift: int(ctx, "drift"),
            start: int(ctx, "start"),
            key_set: int(ctx, "key_set"),
            expiry: int(ctx, "expiry"),
            next_grant: int(ctx, "next_grant"),
        }
    }

    pub fn belief_end(&self) -> Int<'ctx> {
        &self.start + &self.ttl - &self.drift
    }

    pub fn exclusive(&self) -> Bool<'ctx> {
        self.belief_end().le(&self.next_grant)
    }

    fn run(&self, claim: Bool<'ctx>) -> Theorem<'ctx> {
        let ctx = self.ctx;
        let zero = integer(ctx, 0);
        Theorem::new(ctx, claim)
            .assume(SKEW_BELOW_TTL, all(ctx, &[&self.skew.ge(&zero), &self.skew.lt(&self.ttl)]))
            .assume(DRIFT_NON_NEGATIVE, self.drift.ge(&zero))
            .assume(KEY_SET_AFTER_START, self.key_set.ge(&self.start))
            .assume(
                KEY_EXPIRES_IN_WINDOW,
                all(
                    ctx,
                    &[
                        &self.expiry.ge(&(&self.key_set + &self.ttl - &self.skew)),
                        &self.expiry.le(&(&self.key_set + &self.ttl + &self.skew)),
                    ],
                ),
            )
            .assume(NEXT_GRANT_AFTER_EXPIRY, self.next_grant.ge(&self.expiry))
    }

    /// With `drift >= K`, no run of the encoding overlaps two holds.
    pub fn mutual_exclusion(&self) -> Theorem<'ctx> {
        self.run(self.exclusive()).assume(DRIFT_AT_LEAST_SKEW, self.drift.ge(&self.skew))
    }

    /// With `drift < K`, the run where the key expires at its earliest tick and the next client
    /// is granted in that tick overlaps.
    pub fn violated_below_skew(&self) -> Theorem<'ctx> {
        let earliest = all(
            self.ctx,
            &[
                &self.key_set._eq(&self.start),
                &self.expiry._eq(&(&self.key_set + &self.ttl - &self.skew)),
                &self.next_grant._eq(&self.expiry),
            ],
        );
        let legal_and_overlapping = all(self.ctx, &[&self.run(self.exclusive()).premises(), &self.exclusive().not()]);
        Theorem::new(self.ctx, legal_and_overlapping)
            .assume(SKEW_BELOW_TTL, all(self.ctx, &[&self.skew.ge(&integer(self.ctx, 0)), &self.skew.lt(&self.ttl)]))
            .assume("0 <= drift < K", all(self.ctx, &[&self.drift.ge(&integer(self.ctx, 0)), &self.drift.lt(&self.skew)]))
            .assume("the key expires at its earliest tick", earliest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::drift_covers_bound;
    use z3::Config;

    #[test]
    fn one_clock_ends_an_interval_within_rho_l_over_one_minus_rho() {
        let ctx = Context::new(&Config::new());
        let c = SingleClock::new(&ctx);
        c.ends_in_window().check().assert_proved();
        c.ends_in_window().without(HALF_WIDTH_COVERS_SLOW_CLOCK).claiming(c.exact_sides()).check().assert_proved();
        // A narrower window misses the slow clock.
        let narrower = (&c.half_width * &c.clocks.slowest()).lt(&(&c.clocks.rho * &c.length));
        let cx = c.ends_in_window().replacing(HALF_WIDTH_COVERS_SLOW_CLOCK, narrower).check().counterexample();
        assert!(cx.real(&c.duration) > cx.real(&c.length) + cx.real(&c.half_width));
        // Both exact sides are reached (by the fast clock and the slow one).
        let strictly_inside =
            all(&ctx, &[&(&c.duration * &c.clocks.fastest()).gt(&c.length), &(&c.duration * &c.clocks.slowest()).lt(&c.length)]);
        let cx = c
            .ends_in_window()
            .without(HALF_WIDTH_COVERS_SLOW_CLOCK)
            .assume("rho > 0", c.clocks.rho.gt(&number(&ctx, 0)))
            .assume("length > 0", c.length.gt(&number(&ctx, 0)))
            .claiming(strictly_inside)
            .check()
            .counterexample();
        assert!(cx.satisfies(&c.exact_sides()));
    }

    #[test]
    fn read_on_the_clients_clock_a_server_interval_lies_in_a_window_twice_as_wide() {
        let ctx = Context::new(&Config::new());
        let t = TwoClocks::new(&ctx);
        t.ends_in_doubled_window().check().assert_proved();
        // No narrower: the server at its fastest and the client at its slowest reach the lower
        // side, L (1 - rho) / (1 + rho).
        let shortfall = (&t.length - &t.on_client) * &t.clocks.fastest();
        let two_rho_length = number(&ctx, 2) * &t.clocks.rho * &t.length;
        let cx = t
            .ends_in_doubled_window()
            .assume("rho = 1/100", t.clocks.rho._eq(&crate::logic::ratio(&ctx, 1, 100)))
            .assume("length = 100", t.length._eq(&number(&ctx, 100)))
            .claiming(shortfall.lt(&two_rho_length))
            .check()
            .counterexample();
        assert_eq!(cx.real(&t.on_client), Rational::new(100 * 99, 101));
    }

    #[test]
    fn real_clocks_and_the_window_model_agree_on_redlocks_comparison() {
        let ctx = Context::new(&Config::new());
        let c = Comparison::new(&ctx);
        c.sufficient(c.real_clocks()).check().assert_proved();
        c.sufficient(c.window_model()).check().assert_proved();
        c.necessary(c.real_clocks(), c.real_worst_case()).check().assert_proved();
        c.necessary(c.window_model(), c.window_worst_case()).check().assert_proved();
        // Without the server starting no earlier (the client's clock read before sending),
        // neither holds.
        c.sufficient(c.real_clocks()).without(SERVER_STARTS_NO_EARLIER).check().counterexample();
        c.sufficient(c.window_model()).without(SERVER_STARTS_NO_EARLIER).check().counterexample();
    }

    #[test]
    fn theorem_1_is_the_comparison_of_ttl_minus_drift_against_ttl() {
        let ctx = Context::new(&Config::new());
        let c = Comparison::new(&ctx);
        let (ttl, drift) = (real(&ctx, "ttl"), real(&ctx, "drift"));
        Theorem::new(&ctx, c.condition().iff(&drift_covers_bound(&c.clocks, &drift, &ttl)))
            .assume("client = ttl - drift", c.client._eq(&(&ttl - &drift)))
            .assume("server = ttl", c.server._eq(&ttl))
            .check()
            .assert_proved();
    }

    #[test]
    fn the_model_holds_iff_the_drift_allowance_is_at_least_the_skew() {
        let ctx = Context::new(&Config::new());
        let m = ModelRun::new(&ctx);
        m.mutual_exclusion().check().assert_proved();
        m.violated_below_skew().check().assert_proved();
        // The model checker's verdicts (redlock-n3, sync, TTL 4), as (skew, drift, holds).
        for (skew, drift, holds) in [(0, 0, true), (1, 0, false), (1, 1, true), (2, 1, false), (2, 2, true)] {
            let cell = all(&ctx, &[&m.ttl._eq(&integer(&ctx, 4)), &m.skew._eq(&integer(&ctx, skew)), &m.drift._eq(&integer(&ctx, drift))]);
            let verdict = m.mutual_exclusion().replacing(DRIFT_AT_LEAST_SKEW, cell).check();
            assert_eq!(matches!(verdict, crate::logic::Verdict::Proved), holds, "skew {skew}, drift {drift}");
        }
    }

    #[test]
    fn the_models_skew_stands_for_theorem_1s_bound_at_rho_k_over_2t_minus_k() {
        let ctx = Context::new(&Config::new());
        let clocks = Clocks::new(&ctx);
        let (ttl, skew, drift) = (real(&ctx, "ttl"), real(&ctx, "skew"), real(&ctx, "drift"));
        let rho_for_skew = (&clocks.rho * &(number(&ctx, 2) * &ttl - &skew))._eq(&skew);
        Theorem::new(&ctx, all(&ctx, &[&clocks.bounded(), &drift_covers_bound(&clocks, &drift, &ttl).iff(&drift.ge(&skew))]))
            .assume(SKEW_BELOW_TTL, all(&ctx, &[&skew.ge(&number(&ctx, 0)), &skew.lt(&ttl)]))
            .assume("rho = K / (2 T - K)", rho_for_skew)
            .check()
            .assert_proved();
        // In whole ticks: the sync mode's skew 1 with TTL 4 covers clocks within 1/7, and clocks
        // within 1% need a skew of 1 tick up to a TTL of 50 ticks.
        assert_eq!(rho_for(1, 4), Rational::new(1, 7));
        for ttl in 1..=30 {
            for skew in 0..ttl {
                assert_eq!(skew_for(rho_for(skew, ttl), ttl), skew);
            }
        }
        let one_percent = Rational::new(1, 100);
        assert_eq!((skew_for(one_percent, 50), skew_for(one_percent, 51)), (1, 2));
    }
}
