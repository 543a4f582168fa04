//! `check advise` against z3: on a grid of TTLs, clock errors and allowances, the advice calls
//! mutual exclusion safe exactly where theorem 1, instantiated with those numbers, is proved,
//! and the restart delay it asks for is exactly the smallest whole millisecond theorem 2 proves
//! safe.

use redlock_model::advise::{advise, smallest_allowance_ms, smallest_restart_delay_ms, Advice, Deployment, Persistence, Resource, Service};
use redlock_proofs::logic::{number, ratio, Theorem, Verdict};
use redlock_proofs::restart::{RestartedNode, WAIT_AT_LEAST_TTL};
use redlock_proofs::timing::{Acquisitions, Holder, DRIFT_COVERS_BOUND};
use z3::ast::Ast;
use z3::{Config, Context};

const TTLS: [u64; 5] = [100, 1_000, 10_000, 30_000, 39_900];
const PPMS: [u64; 10] = [0, 50, 200, 1_000, 5_000, 5_025, 5_026, 5_059, 10_000, 100_000];

/// The numbers of a deployment, as assumptions on a theorem's holder.
fn with_numbers<'ctx>(ctx: &'ctx Context, h: &Holder<'ctx>, t: Theorem<'ctx>, ttl: u64, ppm: u64, drift: u64) -> Theorem<'ctx> {
    let n = |v: u64| number(ctx, i32::try_from(v).expect("grid values fit"));
    t.assume("rho = ppm / 10^6", h.clocks.rho._eq(&ratio(ctx, i32::try_from(ppm).unwrap(), 1_000_000)))
        .assume("ttl", h.ttl._eq(&n(ttl)))
        .replacing(DRIFT_COVERS_BOUND, h.drift._eq(&n(drift)))
}

fn proved(v: Verdict) -> bool {
    match v {
        Verdict::Proved => true,
        Verdict::Refuted(_) => false,
        Verdict::Vacuous => panic!("the numbers contradict the theorem's assumptions"),
        Verdict::Unknown(why) => panic!("z3 gave up: {why}"),
    }
}

fn deployment(ttl_ms: u64, drift_allowance_ms: u64, ppm: u64) -> Deployment {
    Deployment {
        drift_allowance_ms,
        clock_error_ppm: Some(ppm),
        persistence: Persistence::Always,
        resource: Resource::None,
        ..Deployment::new(Service::Redlock { servers: 5 }, ttl_ms)
    }
}

#[test]
fn the_advice_on_clocks_is_theorem_1_with_the_deployments_numbers() {
    let ctx = Context::new(&Config::new());
    let mut checked = 0;
    for ttl in TTLS {
        for ppm in PPMS {
            let smallest = smallest_allowance_ms(ttl, ppm);
            let drifts = [Deployment::default_drift_allowance_ms(ttl), smallest, smallest.saturating_sub(1)];
            for drift in drifts.into_iter().filter(|&d| d < ttl) {
                let a = Acquisitions::new(&ctx);
                let safe = proved(with_numbers(&ctx, &a.holder, a.mutual_exclusion(), ttl, ppm, drift).check());
                let answer = &advise(&deployment(ttl, drift, ppm))[0];
                assert_eq!(answer.property.name(), "mutual_exclusion");
                let expected = if safe { Advice::Holds } else { Advice::Violated };
                assert_eq!(answer.verdict, expected, "ttl {ttl} ms, {ppm} ppm, allowance {drift} ms: z3 says safe = {safe}");
                assert_eq!(drift >= smallest, safe, "ttl {ttl} ms, {ppm} ppm: the smallest allowance is {smallest} ms");
                checked += 1;
            }
        }
    }
    assert!(checked >= 140, "{checked} grid points");
}

#[test]
fn the_restart_delay_the_advice_asks_for_is_the_smallest_theorem_2_proves() {
    let ctx = Context::new(&Config::new());
    for ttl in TTLS {
        for ppm in [0, 200, 5_000, 100_000] {
            let drift = smallest_allowance_ms(ttl, ppm).max(Deployment::default_drift_allowance_ms(ttl)).min(ttl - 1);
            let wait = smallest_restart_delay_ms(ttl, drift, ppm);
            for (w, safe) in [(wait, true), (wait - 1, false)] {
                let node = RestartedNode::new(&ctx);
                let theorem = with_numbers(&ctx, &node.holder, node.mutual_exclusion(), ttl, ppm, drift)
                    .replacing(WAIT_AT_LEAST_TTL, node.wait._eq(&number(&ctx, i32::try_from(w).unwrap())));
                assert_eq!(proved(theorem.check()), safe, "ttl {ttl} ms, {ppm} ppm, allowance {drift} ms, wait {w} ms");
            }
            // The advice: everysec with that delay holds; a millisecond less is the restart hazard.
            let d = |restart_delay_ms| Deployment { persistence: Persistence::Everysec, restart_delay_ms, ..deployment(ttl, drift, ppm) };
            let verdict = |delay| advise(&d(delay))[0].verdict;
            if drift >= smallest_allowance_ms(ttl, ppm) {
                assert_eq!(verdict(wait), Advice::Holds, "ttl {ttl} ms, {ppm} ppm: restart delay {wait} ms");
            }
            assert_eq!(verdict(wait - 1), Advice::Violated, "ttl {ttl} ms, {ppm} ppm: restart delay {} ms", wait - 1);
        }
    }
}
