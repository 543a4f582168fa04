//! Drifting clocks, as the theorems about time use them.
//!
//! A clock's rate is within `[1 - rho, 1 + rho]` of real time, with no jumps, when over every
//! real interval of length `d` it advances by between `(1 - rho) d` and `(1 + rho) d`. For a
//! differentiable clock this is exactly "its derivative stays within the bounds" (mean value
//! theorem), but the definition needs no derivative: the rate may change at any moment, and each
//! clock may drift its own way. A timer of `L` local units started at real time `t` ends at the
//! first real time at which the clock has advanced by `L`; its real duration `d` therefore
//! satisfies [`Clocks::measures`]. That is the only fact about clocks that any proof here uses,
//! so every proof holds for every clock behaviour within the bounds, not only constant rates.

use crate::logic::{all, number, real};
use z3::ast::{Bool, Real};
use z3::Context;

/// Every clock in the system has a rate within `[1 - rho, 1 + rho]` of real time.
pub struct Clocks<'ctx> {
    ctx: &'ctx Context,
    pub rho: Real<'ctx>,
}

impl<'ctx> Clocks<'ctx> {
    pub fn new(ctx: &'ctx Context) -> Clocks<'ctx> {
        Clocks { ctx, rho: real(ctx, "rho") }
    }

    /// `0 <= rho < 1`: a clock may be exact, but none stops.
    pub fn bounded(&self) -> Bool<'ctx> {
        all(self.ctx, &[&self.rho.ge(&number(self.ctx, 0)), &self.rho.lt(&number(self.ctx, 1))])
    }

    /// A clock of the system advances by `local` over `duration` of real time.
    pub fn measures(&self, local: &Real<'ctx>, duration: &Real<'ctx>) -> Bool<'ctx> {
        all(
            self.ctx,
            &[&duration.ge(&number(self.ctx, 0)), &(self.slowest() * duration).le(local), &local.le(&(self.fastest() * duration))],
        )
    }

    /// `1 - rho`: the slowest rate.
    pub fn slowest(&self) -> Real<'ctx> {
        number(self.ctx, 1) - &self.rho
    }

    /// `1 + rho`: the fastest rate.
    pub fn fastest(&self) -> Real<'ctx> {
        number(self.ctx, 1) + &self.rho
    }
}
