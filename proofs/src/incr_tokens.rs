//! Theorem 5, tokens from per-node `INCR`: each node increments its own counter when it sets a
//! key, and the client takes the largest value among its quorum's replies (scenario
//! `redlock-incr-tokens`). Such tokens are neither unique nor monotone in holder order, even when
//! the holds never overlap (every node both holders used saw the first holder's `INCR` before
//! the second's, which is what mutual exclusion gives):
//!
//! - For two successive holders, the second token is guaranteed larger iff the second holder's
//!   quorum contains the first's ([`SuccessiveHolders`], z3, for every number of nodes and every
//!   quorum; the "only if" by the construction in [`History`]): the first token may come from a
//!   node the second holder never asked, whose counter other attempts have raised.
//! - With majority quorums, every two quorums nest iff N <= 2, where the quorum is every node and
//!   no failure is tolerated (z3, via the region sizes of theorem 3).
//! - The smallest counterexamples (N = 3, exhaustive search over histories, [`smallest`]):
//!   equal tokens after 5 `INCR`s (an attempt that failed with one node, then two holders),
//!   a later holder with a smaller token after 6; with no failed attempt at all, 3 holders give
//!   equal tokens (6 `INCR`s) and 5 holders an inversion (10 `INCR`s).
//!
//! With the atomic fence of theorem 4, the resource then applies writes in token order, which
//! is not holder order: the model's `ordered_fenced_writes` violation.

use crate::logic::{all, int, Theorem};
use z3::ast::{forall_const, Ast, Bool, Dynamic, Int};
use z3::{Context, FuncDecl, Sort};

pub const FIRST_TOKEN_IS_THE_MAX: &str = "the first token is the largest value among the first quorum's replies";
pub const SECOND_TOKEN_IS_THE_MAX: &str = "the second token is the largest value among the second quorum's replies";
pub const LATER_ON_SHARED_NODES: &str = "on a node both used, the second INCR came after the first";
pub const SECOND_QUORUM_CONTAINS_FIRST: &str = "the second quorum contains the first";

/// Two successive holders, over any set of nodes (nodes are integers, quorums any predicates).
pub struct SuccessiveHolders<'ctx> {
    ctx: &'ctx Context,
    in_first: FuncDecl<'ctx>,
    in_second: FuncDecl<'ctx>,
    first_reply: FuncDecl<'ctx>,
    second_reply: FuncDecl<'ctx>,
    pub first_token: Int<'ctx>,
    pub second_token: Int<'ctx>,
    /// The node whose reply gave the first token.
    pub first_source: Int<'ctx>,
    /// The node whose reply gave the second token.
    pub second_source: Int<'ctx>,
}

impl<'ctx> SuccessiveHolders<'ctx> {
    pub fn new(ctx: &'ctx Context) -> SuccessiveHolders<'ctx> {
        let node = Sort::int(ctx);
        SuccessiveHolders {
            ctx,
            in_first: FuncDecl::new(ctx, "in_first", &[&node], &Sort::bool(ctx)),
            in_second: FuncDecl::new(ctx, "in_second", &[&node], &Sort::bool(ctx)),
            first_reply: FuncDecl::new(ctx, "first_reply", &[&node], &node),
            second_reply: FuncDecl::new(ctx, "second_reply", &[&node], &node),
            first_token: int(ctx, "first_token"),
            second_token: int(ctx, "second_token"),
            first_source: int(ctx, "first_source"),
            second_source: int(ctx, "second_source"),
        }
    }

    pub fn in_first(&self, node: &Int<'ctx>) -> Bool<'ctx> {
        apply(&self.in_first, node).as_bool().expect("a predicate")
    }

    pub fn in_second(&self, node: &Int<'ctx>) -> Bool<'ctx> {
        apply(&self.in_second, node).as_bool().expect("a predicate")
    }

    fn first_reply(&self, node: &Int<'ctx>) -> Int<'ctx> {
        apply(&self.first_reply, node).as_int().expect("a counter value")
    }

    fn second_reply(&self, node: &Int<'ctx>) -> Int<'ctx> {
        apply(&self.second_reply, node).as_int().expect("a counter value")
    }

    /// `token` is the largest reply of the quorum `member`, the reply of `source`.
    fn largest(
        &self,
        member: impl Fn(&Int<'ctx>) -> Bool<'ctx>,
        reply: impl Fn(&Int<'ctx>) -> Int<'ctx>,
        token: &Int<'ctx>,
        source: &Int<'ctx>,
    ) -> Bool<'ctx> {
        let bounded = self.for_every_node(|n| member(n).implies(&reply(n).le(token)));
        all(self.ctx, &[&member(source), &reply(source)._eq(token), &bounded])
    }

    fn for_every_node(&self, body: impl Fn(&Int<'ctx>) -> Bool<'ctx>) -> Bool<'ctx> {
        let n = int(self.ctx, "n");
        forall_const(self.ctx, &[&Dynamic::from_ast(&n)], &[], &body(&n)).as_bool().expect("a formula")
    }

    pub fn second_token_larger(&self) -> Bool<'ctx> {
        self.second_token.gt(&self.first_token)
    }

    pub fn monotone(&self) -> Theorem<'ctx> {
        let first = self.largest(|n| self.in_first(n), |n| self.first_reply(n), &self.first_token, &self.first_source);
        let second = self.largest(|n| self.in_second(n), |n| self.second_reply(n), &self.second_token, &self.second_source);
        let later = self.for_every_node(|n| {
            all(self.ctx, &[&self.in_first(n), &self.in_second(n)]).implies(&self.second_reply(n).gt(&self.first_reply(n)))
        });
        let contains = self.for_every_node(|n| self.in_first(n).implies(&self.in_second(n)));
        Theorem::new(self.ctx, self.second_token_larger())
            .assume(FIRST_TOKEN_IS_THE_MAX, first)
            .assume(SECOND_TOKEN_IS_THE_MAX, second)
            .assume(LATER_ON_SHARED_NODES, later)
            .assume(SECOND_QUORUM_CONTAINS_FIRST, contains)
    }
}

fn apply<'ctx>(f: &FuncDecl<'ctx>, node: &Int<'ctx>) -> Dynamic<'ctx> {
    f.apply(&[&Dynamic::from_ast(node)])
}

/// A sequence of acquire attempts on N nodes, one after the other (so holds never overlap): each
/// attempt sets its key on some nodes, each of which increments its counter; the attempts that
/// reach a majority are the holders, in that order, with the largest value as their token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub nodes: usize,
    /// The nodes each attempt reached (a bit each).
    pub attempts: Vec<u32>,
}

impl History {
    pub fn quorum(&self) -> usize {
        self.nodes / 2 + 1
    }

    /// The holders' tokens, in holder order.
    pub fn tokens(&self) -> Vec<u64> {
        let mut counters = vec![0u64; self.nodes];
        let mut tokens = Vec::new();
        for &reached in &self.attempts {
            let mut token = 0;
            for (node, counter) in counters.iter_mut().enumerate() {
                if reached & (1 << node) != 0 {
                    *counter += 1;
                    token = token.max(*counter);
                }
            }
            if reached.count_ones() as usize >= self.quorum() {
                tokens.push(token);
            }
        }
        tokens
    }

    /// `INCR`s in all.
    pub fn increments(&self) -> u32 {
        self.attempts.iter().map(|a| a.count_ones()).sum()
    }

    /// Two holders got the same token.
    pub fn repeats_a_token(&self) -> bool {
        let tokens = self.tokens();
        tokens.iter().enumerate().any(|(i, t)| tokens[..i].contains(t))
    }

    /// A holder got a smaller token than an earlier holder.
    pub fn inverts_tokens(&self) -> bool {
        let tokens = self.tokens();
        tokens.iter().enumerate().any(|(i, t)| tokens[..i].iter().any(|earlier| earlier > t))
    }
}

/// The history with the fewest `INCR`s (at most `budget`) on `nodes` nodes that shows `bad`,
/// trying attempts in a fixed order; `failed_attempts` allows attempts that reach fewer than a
/// majority.
pub fn smallest(nodes: usize, budget: u32, failed_attempts: bool, bad: impl Fn(&History) -> bool) -> Option<History> {
    let quorum = nodes / 2 + 1;
    let choices: Vec<u32> = (1..1u32 << nodes).filter(|reached| failed_attempts || reached.count_ones() as usize >= quorum).collect();
    fn search(history: &mut History, left: u32, choices: &[u32], bad: &dyn Fn(&History) -> bool) -> bool {
        if bad(history) {
            return true;
        }
        for &reached in choices {
            if reached.count_ones() <= left {
                history.attempts.push(reached);
                if search(history, left - reached.count_ones(), choices, bad) {
                    return true;
                }
                history.attempts.pop();
            }
        }
        false
    }
    (0..=budget).find_map(|increments| {
        let mut history = History { nodes, attempts: Vec::new() };
        search(&mut history, increments, &choices, &bad).then_some(history)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fencing::{Fencing, Resource, Step};
    use crate::logic::integer;
    use crate::quorum::{majority, TwoSets, FIRST_IS_A_QUORUM, SECOND_IS_A_QUORUM};
    use z3::Config;

    const NODE_1: u32 = 0b001;
    const NODE_2: u32 = 0b010;
    const NODE_3: u32 = 0b100;

    #[test]
    fn a_second_quorum_that_contains_the_first_gets_a_larger_token() {
        let ctx = Context::new(&Config::new());
        let holders = SuccessiveHolders::new(&ctx);
        let theorem = holders.monotone();
        theorem.check().assert_proved();
        for name in theorem.assumption_names() {
            let cx = holders.monotone().without(name).check().counterexample();
            assert!(!cx.satisfies(&holders.second_token_larger()), "{name}");
        }
    }

    #[test]
    fn a_second_quorum_that_misses_a_node_of_the_first_may_not() {
        let ctx = Context::new(&Config::new());
        let holders = SuccessiveHolders::new(&ctx);
        let cx = holders.monotone().without(SECOND_QUORUM_CONTAINS_FIRST).check().counterexample();
        assert!(cx.int(&holders.second_token) <= cx.int(&holders.first_token));
        // The first token came from a node the second holder never asked.
        assert!(!cx.satisfies(&holders.in_second(&holders.first_source)));
        // And such a history exists for every pair of majorities that do not nest, on every N
        // up to 7: one failed attempt on that node makes the tokens equal, two invert them.
        for nodes in 3..=7usize {
            let majorities: Vec<u32> = (1..1u32 << nodes).filter(|q| q.count_ones() as usize > nodes / 2).collect();
            for &first in &majorities {
                for &second in majorities.iter().filter(|&&second| first & !second != 0) {
                    let outside = first & !second & (first & !second).wrapping_neg();
                    let history = |failed| History { nodes, attempts: [vec![outside; failed], vec![first, second]].concat() };
                    let [equal, inverted] = [history(1), history(2)].map(|h| h.tokens());
                    assert_eq!(equal[0], equal[1], "{nodes} nodes: {first:b} then {second:b}");
                    assert!(inverted[0] > inverted[1], "{nodes} nodes: {first:b} then {second:b}");
                }
            }
        }
    }

    #[test]
    fn majorities_always_nest_iff_there_are_at_most_two_nodes() {
        let ctx = Context::new(&Config::new());
        let sets = TwoSets::new(&ctx);
        let nests = sets.only_first._eq(&integer(&ctx, 0));
        let majorities =
            || sets.quorums_intersect(&majority(&sets.nodes)).claiming(nests.clone()).assume("N >= 1", sets.nodes.ge(&integer(&ctx, 1)));
        majorities().assume("N <= 2", sets.nodes.le(&integer(&ctx, 2))).check().assert_proved();
        let cx = majorities().assume("N >= 3", sets.nodes.ge(&integer(&ctx, 3))).check().counterexample();
        assert!(cx.int(&sets.only_first) >= 1 && cx.int(&sets.both) >= 1);
        // Majorities of N >= 3 nodes never all nest: for every such N there are two that
        // share a node, each with a node of its own.
        let n = &sets.nodes;
        let q = majority(n);
        let one = integer(&ctx, 1);
        let apart = all(
            &ctx,
            &[&sets.both._eq(&(&q - &one)), &sets.only_first._eq(&one), &sets.only_second._eq(&one), &sets.neither._eq(&(n - &q - &one))],
        );
        let legal = all(&ctx, &[&sets.partition(), &sets.intersect()]);
        let two_majorities = sets.quorums_intersect(&q);
        let sizes = all(&ctx, &[two_majorities.assumption(FIRST_IS_A_QUORUM), two_majorities.assumption(SECOND_IS_A_QUORUM)]);
        Theorem::new(&ctx, all(&ctx, &[&legal, &sizes]))
            .assume("N >= 3", n.ge(&integer(&ctx, 3)))
            .assume("two majorities, each with a node of its own", apart)
            .check()
            .assert_proved();
    }

    #[test]
    fn the_smallest_histories_with_equal_or_inverted_tokens_on_three_nodes() {
        let equal = smallest(3, 6, true, History::repeats_a_token).expect("equal tokens");
        assert_eq!(equal.increments(), 5);
        assert_eq!(equal.attempts, [NODE_1, NODE_1 | NODE_2, NODE_2 | NODE_3]);
        assert_eq!(equal.tokens(), [2, 2]);
        let inverted = smallest(3, 6, true, History::inverts_tokens).expect("inverted tokens");
        assert_eq!(inverted.increments(), 6);
        assert_eq!(inverted.attempts, [NODE_1, NODE_1, NODE_1 | NODE_2, NODE_2 | NODE_3]);
        assert_eq!(inverted.tokens(), [3, 2]);
    }

    #[test]
    fn holders_alone_repeat_a_token_after_three_and_invert_after_five() {
        let equal = smallest(3, 10, false, History::repeats_a_token).expect("equal tokens");
        assert_eq!((equal.increments(), equal.tokens()), (6, vec![1, 2, 2]));
        let inverted = smallest(3, 10, false, History::inverts_tokens).expect("inverted tokens");
        assert_eq!(inverted.increments(), 10);
        assert_eq!(inverted.tokens(), [1, 2, 3, 4, 3]);
        assert!(smallest(3, 9, false, History::inverts_tokens).is_none());
    }

    #[test]
    fn one_or_two_nodes_give_strictly_increasing_tokens() {
        for nodes in 1..=2 {
            assert!(smallest(nodes, 10, true, |h| h.repeats_a_token() || h.inverts_tokens()).is_none());
        }
    }

    #[test]
    fn an_atomic_fence_then_applies_an_earlier_holders_write_after_a_later_ones() {
        // The inverted history: holder A gets 3, holder B (later) gets 2. A pauses before its
        // write (Kleppmann's GC pause), B writes, A wakes and writes: token order, not holder order.
        let tokens = History { nodes: 3, attempts: vec![NODE_1, NODE_1, NODE_1 | NODE_2, NODE_2 | NODE_3] }.tokens();
        let (a, b) = (0, 1);
        let mut resource = Resource::new(Fencing::Atomic);
        resource.handle(b, tokens[b], Step::Write);
        resource.handle(a, tokens[a], Step::Write);
        assert_eq!(resource.applied, [2, 3], "B's write, then A's: the older holder's write lands last");
    }
}
