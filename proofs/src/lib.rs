//! Machine-checked theorems of the Redlock debate, for all parameter values.
//!
//! The model checker (`model/`) explores small instances exhaustively; this crate proves the
//! facts those instances stand for, for every rate bound, TTL, allowance, number of nodes and
//! interleaving. Each theorem is a module; its statement is built as z3 terms (reals for rates
//! and durations, integers for ticks, counts and tokens) or, where "every interleaving" is the
//! point, as an induction checked by z3 plus an exhaustive search in plain Rust. Its tests prove
//! it, and show that it fails (z3 finds a counterexample, which the test reads back and checks)
//! once an assumption is removed or its bound is lowered.
//!
//! - [`timing`] (theorem 1): holds never overlap iff `drift >= 2 rho ttl / (1 + rho)`; the
//!   default allowance covers every TTL iff `rho <= 1/199`.
//! - [`restart`] (theorem 2): a restarted node must wait `(ttl - drift)(1 + rho) / (1 - rho)`
//!   of its own clock; one TTL with theorem 1's allowance.
//! - [`quorum`] (theorem 3): any two majorities intersect; an acquisition can succeed iff a
//!   majority is up.
//! - [`fencing`] (theorem 4): an atomic check applies writes in token order; a separate check
//!   does not.
//! - [`incr_tokens`] (theorem 5): per-node `INCR` tokens are neither unique nor monotone in
//!   holder order unless every quorum is every node.
//! - [`window`] (theorem 6): the model checker's time encoding is sound, and its verdict
//!   "holds iff drift >= skew" is theorem 1's.
//!
//! [`logic`] is the thin layer over z3 (named assumptions, vacuity check, counterexamples read
//! back as exact rationals); [`clocks`] says what a drifting clock is.
//!
//! See `README.md` beside this crate for the statements, their assumptions and the claims of
//! the debate they settle.

pub mod clocks;
pub mod fencing;
pub mod incr_tokens;
pub mod logic;
pub mod quorum;
pub mod restart;
pub mod timing;
pub mod window;
