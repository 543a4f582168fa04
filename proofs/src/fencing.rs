//! Theorem 4, fencing: a resource that checks a request's token against the highest it has seen
//! and applies the write in the same atomic step applies writes in token order (each applied
//! token at least the one before), under every interleaving of any number of clients, reads
//! and writes. A resource that checks, then applies in a separate step, does not: two clients
//! and four steps suffice (reza_n's case on Hacker News).
//!
//! "Every interleaving" is a statement about unboundedly long runs, which z3 checks by induction:
//! an invariant that holds initially and is preserved by every step, whatever its client, kind
//! and token ([`AtomicFence`]). The separate check is refuted by an exhaustive search over every
//! interleaving of small runs in plain Rust ([`runs`]), which also finds the smallest
//! counterexample, and confirms the induction on those runs.
//!
//! The resource is the model's (`model/src/resource.rs`): a read or a write whose token is at
//! least the highest seen raises it; a write below it is refused.

use crate::logic::{all, int, integer, Theorem};
use z3::ast::{Ast, Bool, Int};
use z3::Context;

pub const TOKENS_POSITIVE: &str = "tokens are positive (a counter's values)";
pub const INVARIANT: &str = "the last applied token is at most the highest seen";
pub const FENCE_RAISED_BY_ACCEPTED_REQUESTS: &str = "an accepted request raises the highest token seen to its own";

/// One step of the atomic resource, from any state where the invariant holds.
pub struct AtomicFence<'ctx> {
    ctx: &'ctx Context,
    /// The highest token seen (0: none yet).
    pub highest: Int<'ctx>,
    /// The token of the last write applied (0: none yet).
    pub last_applied: Int<'ctx>,
    /// The request's token.
    pub token: Int<'ctx>,
    /// The request is a write (otherwise a read).
    pub is_write: Bool<'ctx>,
    pub next_highest: Int<'ctx>,
}

impl<'ctx> AtomicFence<'ctx> {
    pub fn new(ctx: &'ctx Context) -> AtomicFence<'ctx> {
        AtomicFence {
            ctx,
            highest: int(ctx, "highest"),
            last_applied: int(ctx, "last_applied"),
            token: int(ctx, "token"),
            is_write: Bool::new_const(ctx, "is_write"),
            next_highest: int(ctx, "next_highest"),
        }
    }

    pub fn accepted(&self) -> Bool<'ctx> {
        self.token.ge(&self.highest)
    }

    /// The write is applied, in the same step as its check.
    pub fn applied(&self) -> Bool<'ctx> {
        all(self.ctx, &[&self.is_write, &self.accepted()])
    }

    pub fn next_last_applied(&self) -> Int<'ctx> {
        self.applied().ite(&self.token, &self.last_applied)
    }

    fn invariant(&self, highest: &Int<'ctx>, last_applied: &Int<'ctx>) -> Bool<'ctx> {
        last_applied.le(highest)
    }

    /// The base case: before any request, nothing is applied and nothing is seen.
    pub fn initially(&self) -> Theorem<'ctx> {
        let zero = integer(self.ctx, 0);
        Theorem::new(self.ctx, self.invariant(&self.highest, &self.last_applied))
            .assume("nothing seen", self.highest._eq(&zero))
            .assume("nothing applied", self.last_applied._eq(&zero))
    }

    /// The inductive step: the invariant is preserved, and a write applied in this step has a
    /// token at least the last one applied.
    pub fn step(&self) -> Theorem<'ctx> {
        let in_order = self.applied().implies(&self.token.ge(&self.last_applied));
        let preserved = self.invariant(&self.next_highest, &self.next_last_applied());
        Theorem::new(self.ctx, all(self.ctx, &[&in_order, &preserved]))
            .assume(TOKENS_POSITIVE, self.token.ge(&integer(self.ctx, 1)))
            .assume(INVARIANT, self.invariant(&self.highest, &self.last_applied))
            .assume(FENCE_RAISED_BY_ACCEPTED_REQUESTS, self.next_highest._eq(&self.accepted().ite(&self.token, &self.highest)))
    }
}

/// How the resource fences writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fencing {
    /// Check the token and apply the write in one step.
    Atomic,
    /// Check the token (and raise the highest seen), then apply the write in a later step.
    CheckThenWrite,
}

/// One step of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Reads the resource with its token.
    Read,
    /// Sends its write with its token: checked, and with [`Fencing::Atomic`] applied.
    Write,
    /// With [`Fencing::CheckThenWrite`], the checked write lands.
    Apply,
}

/// The resource of a run.
#[derive(Clone, Debug)]
pub struct Resource {
    fencing: Fencing,
    highest: u64,
    /// Clients whose write passed the check and has not landed yet.
    checked: Vec<usize>,
    /// Tokens of the applied writes, in order.
    pub applied: Vec<u64>,
}

impl Resource {
    pub fn new(fencing: Fencing) -> Resource {
        Resource { fencing, highest: 0, checked: Vec::new(), applied: Vec::new() }
    }

    pub fn handle(&mut self, client: usize, token: u64, step: Step) {
        match step {
            Step::Read | Step::Write if token >= self.highest => {
                self.highest = token;
                if step == Step::Write {
                    match self.fencing {
                        Fencing::Atomic => self.applied.push(token),
                        Fencing::CheckThenWrite => self.checked.push(client),
                    }
                }
            }
            Step::Read | Step::Write => {}
            Step::Apply => {
                if let Some(i) = self.checked.iter().position(|&c| c == client) {
                    self.checked.remove(i);
                    self.applied.push(token);
                }
            }
        }
    }

    /// Every applied token is at least the one applied before it.
    pub fn in_token_order(&self) -> bool {
        self.applied.windows(2).all(|w| w[0] <= w[1])
    }
}

/// What each client does under a fencing: read (as the model's holders do, or not), then write.
pub fn program(fencing: Fencing, reads: bool) -> Vec<Step> {
    let mut steps = if reads { vec![Step::Read] } else { Vec::new() };
    steps.push(Step::Write);
    if fencing == Fencing::CheckThenWrite {
        steps.push(Step::Apply);
    }
    steps
}

/// Every run of clients with these tokens, each following `program`: every interleaving of
/// their steps, as the resource's state at the end and the order of the steps.
pub fn runs(fencing: Fencing, tokens: &[u64], program: &[Step]) -> Vec<(Resource, Vec<(usize, Step)>)> {
    fn extend(
        tokens: &[u64],
        program: &[Step],
        done: &mut Vec<usize>,
        resource: Resource,
        trace: &mut Vec<(usize, Step)>,
        out: &mut Vec<(Resource, Vec<(usize, Step)>)>,
    ) {
        if done.iter().all(|&d| d == program.len()) {
            out.push((resource, trace.clone()));
            return;
        }
        for client in 0..tokens.len() {
            if done[client] < program.len() {
                let step = program[done[client]];
                let mut next = resource.clone();
                next.handle(client, tokens[client], step);
                done[client] += 1;
                trace.push((client, step));
                extend(tokens, program, done, next, trace, out);
                trace.pop();
                done[client] -= 1;
            }
        }
    }
    let mut out = Vec::new();
    extend(tokens, program, &mut vec![0; tokens.len()], Resource::new(fencing), &mut Vec::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use z3::Config;

    /// Every assignment of tokens from 1..=clients to the clients (ties included).
    fn token_assignments(clients: usize) -> Vec<Vec<u64>> {
        (0..clients).fold(vec![Vec::new()], |acc, _| {
            acc.into_iter().flat_map(|prefix| (1..=clients as u64).map(move |t| [prefix.clone(), vec![t]].concat())).collect()
        })
    }

    #[test]
    fn an_atomic_check_applies_writes_in_token_order_by_induction() {
        let ctx = Context::new(&Config::new());
        let fence = AtomicFence::new(&ctx);
        fence.initially().check().assert_proved();
        fence.step().check().assert_proved();
    }

    #[test]
    fn the_induction_needs_the_fence_to_remember() {
        // A resource that checks against the highest token but never raises it.
        let ctx = Context::new(&Config::new());
        let fence = AtomicFence::new(&ctx);
        let forgetful = fence.next_highest._eq(&fence.highest);
        let cx = fence.step().replacing(FENCE_RAISED_BY_ACCEPTED_REQUESTS, forgetful).check().counterexample();
        assert!(cx.int(&fence.token) > cx.int(&fence.highest), "an accepted token above the fence leaves it behind");
    }

    #[test]
    fn token_order_is_not_strict_order_equal_tokens_both_apply() {
        let ctx = Context::new(&Config::new());
        let fence = AtomicFence::new(&ctx);
        let strictly = fence.applied().implies(&fence.token.gt(&fence.last_applied));
        let cx = fence.step().claiming(strictly).check().counterexample();
        assert_eq!(cx.int(&fence.token), cx.int(&fence.last_applied));
    }

    #[test]
    fn every_interleaving_of_up_to_three_clients_agrees_with_the_induction() {
        for clients in 1..=3 {
            for tokens in token_assignments(clients) {
                for reads in [false, true] {
                    for (resource, trace) in runs(Fencing::Atomic, &tokens, &program(Fencing::Atomic, reads)) {
                        assert!(resource.in_token_order(), "tokens {tokens:?}: {trace:?} applied {:?}", resource.applied);
                    }
                }
            }
        }
    }

    #[test]
    fn check_then_write_applies_an_older_token_after_a_newer_one() {
        // No counterexample with one client; with two, the shortest is four steps: both checks
        // pass, the newer write lands, then the older one.
        let with = |tokens: &[u64], reads| runs(Fencing::CheckThenWrite, tokens, &program(Fencing::CheckThenWrite, reads));
        assert!(with(&[1], true).iter().all(|(r, _)| r.in_token_order()));
        let violations: Vec<_> = with(&[33, 34], false).into_iter().filter(|(r, _)| !r.in_token_order()).collect();
        let (resource, trace) = &violations[0];
        assert_eq!(trace, &[(0, Step::Write), (1, Step::Write), (1, Step::Apply), (0, Step::Apply)]);
        assert_eq!(resource.applied, [34, 33]);
        assert_eq!(violations.len(), 1, "the only bad order of four steps");
        // Reads first change nothing: the older client's read and check come before the newer
        // client's read.
        assert!(with(&[33, 34], true).iter().any(|(r, _)| !r.in_token_order()));
    }
}
