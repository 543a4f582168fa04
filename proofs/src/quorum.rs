//! Theorem 3, quorums: for every N, any two majorities (`N / 2 + 1` nodes or more) of N nodes
//! share a node, and no smaller quorum size guarantees it; with `f` nodes down, an acquisition
//! can still succeed iff a majority is up, `N - f >= N / 2 + 1`, that is iff `2 f < N`.
//!
//! Sets are encoded by their cardinalities, which is what makes the statement one for every N:
//! two subsets of N nodes cut them into four regions (in both, in the first only, in the second
//! only, in neither) whose sizes are non-negative integers adding up to N, and conversely any
//! such four sizes are the regions of two subsets. An exhaustive check over subsets for small N
//! confirms the encoding (see the tests).

use crate::logic::{all, int, integer, Theorem};
use z3::ast::{Ast, Bool, Int};
use z3::Context;

pub const NODES_POSITIVE: &str = "N >= 1";
pub const REGIONS_PARTITION_THE_NODES: &str = "the four regions are sizes adding up to N";
pub const FIRST_IS_A_QUORUM: &str = "the first set has a quorum";
pub const SECOND_IS_A_QUORUM: &str = "the second set has a quorum";
pub const FAILURES_AMONG_NODES: &str = "0 <= f <= N";
pub const GRANTS_FROM_LIVE_NODES: &str = "only live nodes grant";
pub const GRANTS_REACH_A_QUORUM: &str = "the grants reach a quorum";

/// `N / 2 + 1` (integer division), the core's quorum.
pub fn majority<'ctx>(nodes: &Int<'ctx>) -> Int<'ctx> {
    let ctx = nodes.get_ctx();
    nodes.div(&integer(ctx, 2)) + integer(ctx, 1)
}

/// `(N - 1) / 2`: the most failures that leave a majority up.
pub fn tolerated_failures<'ctx>(nodes: &Int<'ctx>) -> Int<'ctx> {
    let ctx = nodes.get_ctx();
    (nodes - integer(ctx, 1)).div(&integer(ctx, 2))
}

/// Two sets of nodes among N, by the sizes of the four regions they cut the nodes into.
pub struct TwoSets<'ctx> {
    ctx: &'ctx Context,
    pub nodes: Int<'ctx>,
    pub both: Int<'ctx>,
    pub only_first: Int<'ctx>,
    pub only_second: Int<'ctx>,
    pub neither: Int<'ctx>,
}

impl<'ctx> TwoSets<'ctx> {
    pub fn new(ctx: &'ctx Context) -> TwoSets<'ctx> {
        TwoSets {
            ctx,
            nodes: int(ctx, "nodes"),
            both: int(ctx, "both"),
            only_first: int(ctx, "only_first"),
            only_second: int(ctx, "only_second"),
            neither: int(ctx, "neither"),
        }
    }

    pub fn partition(&self) -> Bool<'ctx> {
        let zero = integer(self.ctx, 0);
        let regions = [&self.both, &self.only_first, &self.only_second, &self.neither];
        let sum = Int::add(self.ctx, &regions);
        let sizes: Vec<Bool> = regions.iter().map(|r| r.ge(&zero)).collect();
        let sizes: Vec<&Bool> = sizes.iter().collect();
        all(self.ctx, &[&all(self.ctx, &sizes), &sum._eq(&self.nodes)])
    }

    pub fn first(&self) -> Int<'ctx> {
        &self.both + &self.only_first
    }

    pub fn second(&self) -> Int<'ctx> {
        &self.both + &self.only_second
    }

    pub fn intersect(&self) -> Bool<'ctx> {
        self.both.ge(&integer(self.ctx, 1))
    }

    /// Any two sets of at least `quorum` nodes intersect (with `quorum` the majority, theorem 3).
    pub fn quorums_intersect(&self, quorum: &Int<'ctx>) -> Theorem<'ctx> {
        Theorem::new(self.ctx, self.intersect())
            .assume(REGIONS_PARTITION_THE_NODES, self.partition())
            .assume(FIRST_IS_A_QUORUM, self.first().ge(quorum))
            .assume(SECOND_IS_A_QUORUM, self.second().ge(quorum))
    }
}

/// N nodes of which `failed` are down, and the nodes that grant one acquisition.
pub struct Outage<'ctx> {
    ctx: &'ctx Context,
    pub nodes: Int<'ctx>,
    pub failed: Int<'ctx>,
    pub granted: Int<'ctx>,
}

impl<'ctx> Outage<'ctx> {
    pub fn new(ctx: &'ctx Context) -> Outage<'ctx> {
        Outage { ctx, nodes: int(ctx, "nodes"), failed: int(ctx, "failed"), granted: int(ctx, "granted") }
    }

    pub fn live(&self) -> Int<'ctx> {
        &self.nodes - &self.failed
    }

    pub fn majority_up(&self) -> Bool<'ctx> {
        self.live().ge(&majority(&self.nodes))
    }

    /// `2 f < N`.
    pub fn fewer_than_half_failed(&self) -> Bool<'ctx> {
        (&self.failed * integer(self.ctx, 2)).lt(&self.nodes)
    }

    fn shape(&self, claim: Bool<'ctx>) -> Theorem<'ctx> {
        let zero = integer(self.ctx, 0);
        Theorem::new(self.ctx, claim)
            .assume(NODES_POSITIVE, self.nodes.ge(&integer(self.ctx, 1)))
            .assume(FAILURES_AMONG_NODES, all(self.ctx, &[&self.failed.ge(&zero), &self.failed.le(&self.nodes)]))
    }

    fn grants_from_live_nodes(&self) -> Bool<'ctx> {
        all(self.ctx, &[&self.granted.ge(&integer(self.ctx, 0)), &self.granted.le(&self.live())])
    }

    fn grants_reach_a_quorum(&self) -> Bool<'ctx> {
        self.granted.ge(&majority(&self.nodes))
    }

    /// An acquisition that succeeds had a majority of the nodes up.
    pub fn success_needs_a_majority_up(&self) -> Theorem<'ctx> {
        self.shape(self.majority_up())
            .assume(GRANTS_FROM_LIVE_NODES, self.grants_from_live_nodes())
            .assume(GRANTS_REACH_A_QUORUM, self.grants_reach_a_quorum())
    }

    /// With a majority up, grants from every live node (no other holder, no contention) are
    /// grants from live nodes only that reach a quorum: the acquisition succeeds.
    pub fn a_majority_up_suffices(&self) -> Theorem<'ctx> {
        let success = all(self.ctx, &[&self.grants_from_live_nodes(), &self.grants_reach_a_quorum()]);
        self.shape(success).assume("a majority is up", self.majority_up()).assume("every live node grants", self.granted._eq(&self.live()))
    }

    /// A majority is up iff fewer than half the nodes failed.
    pub fn majority_up_iff_fewer_than_half_failed(&self) -> Theorem<'ctx> {
        self.shape(self.majority_up().iff(&self.fewer_than_half_failed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redlock_client::params::Params;
    use z3::Config;

    #[test]
    fn any_two_majorities_share_a_node_for_every_n() {
        let ctx = Context::new(&Config::new());
        let sets = TwoSets::new(&ctx);
        let theorem = sets.quorums_intersect(&majority(&sets.nodes));
        theorem.check().assert_proved();
        theorem.assert_every_assumption_needed();
    }

    #[test]
    fn quorums_of_half_the_nodes_can_be_disjoint() {
        let ctx = Context::new(&Config::new());
        let sets = TwoSets::new(&ctx);
        let half = sets.nodes.div(&integer(&ctx, 2));
        let cx = sets.quorums_intersect(&half).assume("N >= 2", sets.nodes.ge(&integer(&ctx, 2))).check().counterexample();
        let n = cx.int(&sets.nodes);
        assert_eq!(cx.int(&sets.both), 0);
        assert!(cx.int(&sets.only_first) >= n / 2 && cx.int(&sets.only_second) >= n / 2);
    }

    #[test]
    fn the_majority_is_the_smallest_quorum_size_that_always_intersects() {
        let ctx = Context::new(&Config::new());
        let sets = TwoSets::new(&ctx);
        let size = int(&ctx, "size");
        let two = integer(&ctx, 2);
        let zero = integer(&ctx, 0);
        // Any size with 2 size > N intersects ...
        sets.quorums_intersect(&size).assume("2 size > N", (&size * &two).gt(&sets.nodes)).check().assert_proved();
        // ... any size with 2 size <= N has two disjoint sets: both = 0, size each, the rest
        // in neither is a partition ...
        let disjoint = all(
            &ctx,
            &[
                &sets.both._eq(&zero),
                &sets.only_first._eq(&size),
                &sets.only_second._eq(&size),
                &sets.neither._eq(&(&sets.nodes - &(&size * &two))),
            ],
        );
        Theorem::new(&ctx, sets.partition())
            .assume("0 <= size, 2 size <= N", all(&ctx, &[&size.ge(&zero), &(&size * &two).le(&sets.nodes)]))
            .assume("the two sets are disjoint, of that size", disjoint)
            .check()
            .assert_proved();
        // ... and N / 2 + 1 is the smallest size with 2 size > N.
        let n = &sets.nodes;
        let smallest = all(&ctx, &[&(majority(n) * &two).gt(n), &((majority(n) - integer(&ctx, 1)) * &two).le(n)]);
        Theorem::new(&ctx, smallest).assume(NODES_POSITIVE, n.ge(&integer(&ctx, 1))).check().assert_proved();
    }

    #[test]
    fn the_encoding_by_region_sizes_agrees_with_sets_and_the_shipped_quorum() {
        for n in 1..=10usize {
            let quorum = Params::new(n, 1000).quorum();
            assert_eq!(quorum, n / 2 + 1);
            let quorums: Vec<u32> = (0..1u32 << n).filter(|s| s.count_ones() as usize >= quorum).collect();
            assert!(quorums.iter().all(|a| quorums.iter().all(|b| a & b != 0)), "N = {n}");
            if n % 2 == 0 {
                let half = (1u32 << (n / 2)) - 1;
                assert_eq!(half & (half << (n / 2)), 0, "two disjoint halves of N = {n}");
            }
        }
        for n in 11..=redlock_client::params::MAX_NODES {
            assert_eq!(Params::new(n, 1000).quorum(), n / 2 + 1);
        }
    }

    #[test]
    fn an_acquisition_can_succeed_iff_a_majority_is_up_iff_fewer_than_half_failed() {
        let ctx = Context::new(&Config::new());
        let outage = Outage::new(&ctx);
        outage.success_needs_a_majority_up().check().assert_proved();
        outage.a_majority_up_suffices().check().assert_proved();
        outage.majority_up_iff_fewer_than_half_failed().check().assert_proved();
        // Grants from nodes that are down would let it succeed without a majority up.
        let cx = outage.success_needs_a_majority_up().without(GRANTS_FROM_LIVE_NODES).check().counterexample();
        assert!(cx.int(&outage.granted) > cx.int(&outage.nodes) - cx.int(&outage.failed));
        // "At most half failed" is one failure too many for an even N.
        let at_most_half = (&outage.failed * integer(&ctx, 2)).le(&outage.nodes);
        let cx = outage.shape(outage.majority_up().iff(&at_most_half)).check().counterexample();
        assert_eq!(2 * cx.int(&outage.failed), cx.int(&outage.nodes));
    }

    #[test]
    fn an_even_cluster_tolerates_no_more_failures_than_the_odd_one_below_it() {
        // The most failures tolerated is (N - 1) / 2: 4 nodes tolerate 1, like 3.
        let ctx = Context::new(&Config::new());
        let outage = Outage::new(&ctx);
        let tolerated = tolerated_failures(&outage.nodes);
        outage.shape(outage.majority_up().iff(&outage.failed.le(&tolerated))).check().assert_proved();
        let k = int(&ctx, "k");
        let one = integer(&ctx, 1);
        let even = &k * integer(&ctx, 2);
        Theorem::new(&ctx, tolerated_failures(&even)._eq(&tolerated_failures(&(&even - &one))))
            .assume("k >= 1", k.ge(&one))
            .check()
            .assert_proved();
    }
}
