//! A thin layer over z3: a [`Theorem`] is a list of named assumptions and a claim. z3 proves it
//! when the assumptions together with the negated claim are unsatisfiable; otherwise z3's model
//! of them is a [`Counterexample`].
//!
//! Every proof first checks that the assumptions can all hold at once: a theorem whose
//! assumptions contradict each other is reported [`Verdict::Vacuous`], never proved.
//!
//! The names let a test remove one assumption ([`Theorem::without`]) or replace it
//! ([`Theorem::replacing`]) and watch the proof fail, which shows the assumption is needed.

use num_rational::Ratio;
use z3::ast::{Bool, Int, Real};
use z3::{Context, Model, Params, SatResult, Solver};

/// Exact rational numbers, for reading z3's models and replaying counterexamples.
pub type Rational = Ratio<i128>;

/// No obligation here needs more than a fraction of a second; a search that takes this long
/// has gone astray, and the test must say so rather than hang.
const SOLVER_TIMEOUT_MS: u32 = 20_000;

/// A claim under named assumptions.
pub struct Theorem<'ctx> {
    ctx: &'ctx Context,
    assumptions: Vec<(&'static str, Bool<'ctx>)>,
    claim: Bool<'ctx>,
}

/// What z3 says about a [`Theorem`].
pub enum Verdict<'ctx> {
    /// The negated claim is unsatisfiable under the assumptions.
    Proved,
    /// The assumptions contradict each other: the claim holds only vacuously.
    Vacuous,
    /// Values of every variable that satisfy the assumptions and falsify the claim.
    Refuted(Counterexample<'ctx>),
    /// z3 gave up (its reason).
    Unknown(String),
}

impl<'ctx> Theorem<'ctx> {
    pub fn new(ctx: &'ctx Context, claim: Bool<'ctx>) -> Theorem<'ctx> {
        Theorem { ctx, assumptions: Vec::new(), claim }
    }

    /// Adds an assumption under a name that tests can refer to.
    pub fn assume(mut self, name: &'static str, fact: Bool<'ctx>) -> Theorem<'ctx> {
        assert!(self.position(name).is_none(), "assumption {name:?} given twice");
        self.assumptions.push((name, fact));
        self
    }

    /// The same theorem with one assumption removed.
    pub fn without(mut self, name: &str) -> Theorem<'ctx> {
        let i = self.position(name).unwrap_or_else(|| panic!("no assumption named {name:?}"));
        self.assumptions.remove(i);
        self
    }

    /// The same theorem with one assumption replaced (typically by a weaker one).
    pub fn replacing(mut self, name: &'static str, fact: Bool<'ctx>) -> Theorem<'ctx> {
        let i = self.position(name).unwrap_or_else(|| panic!("no assumption named {name:?}"));
        self.assumptions[i] = (name, fact);
        self
    }

    /// The same assumptions with another claim (typically a stronger one).
    pub fn claiming(mut self, claim: Bool<'ctx>) -> Theorem<'ctx> {
        self.claim = claim;
        self
    }

    /// All assumptions at once, as one formula (to say that a schedule satisfies them).
    pub fn premises(&self) -> Bool<'ctx> {
        let facts: Vec<&Bool<'ctx>> = self.assumptions.iter().map(|(_, fact)| fact).collect();
        all(self.ctx, &facts)
    }

    /// The assumption of that name.
    pub fn assumption(&self, name: &str) -> &Bool<'ctx> {
        let i = self.position(name).unwrap_or_else(|| panic!("no assumption named {name:?}"));
        &self.assumptions[i].1
    }

    /// The names of the assumptions, in order.
    pub fn assumption_names(&self) -> Vec<&'static str> {
        self.assumptions.iter().map(|(name, _)| *name).collect()
    }

    pub fn check(&self) -> Verdict<'ctx> {
        let solver = Solver::new(self.ctx);
        let mut params = Params::new(self.ctx);
        params.set_u32("timeout", SOLVER_TIMEOUT_MS);
        solver.set_params(&params);
        for (_, fact) in &self.assumptions {
            solver.assert(fact);
        }
        if let SatResult::Unsat = solver.check() {
            return Verdict::Vacuous;
        }
        solver.assert(&self.claim.not());
        match solver.check() {
            SatResult::Unsat => Verdict::Proved,
            SatResult::Sat => {
                Verdict::Refuted(Counterexample { model: solver.get_model().expect("z3 gives a model for a satisfiable query") })
            }
            SatResult::Unknown => Verdict::Unknown(solver.get_reason_unknown().unwrap_or_else(|| "no reason given".into())),
        }
    }

    /// Panics unless every assumption is needed: without it z3 finds a counterexample, which
    /// breaks the claim and breaks exactly the assumption that was removed.
    pub fn assert_every_assumption_needed(&self) {
        for (i, (name, assumption)) in self.assumptions.iter().enumerate() {
            let mut weaker = Theorem::new(self.ctx, self.claim.clone());
            weaker.assumptions = self.assumptions.clone();
            weaker.assumptions.remove(i);
            let cx = weaker.check().counterexample();
            assert!(!cx.satisfies(&self.claim), "{name}: the claim must fail");
            assert!(!cx.satisfies(assumption), "{name}: the counterexample must break it");
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.assumptions.iter().position(|(n, _)| *n == name)
    }
}

impl<'ctx> Verdict<'ctx> {
    /// Panics unless z3 proved the theorem (and not vacuously).
    pub fn assert_proved(self) {
        match self {
            Verdict::Proved => {}
            Verdict::Vacuous => panic!("the assumptions contradict each other: nothing is proved"),
            Verdict::Refuted(cx) => panic!("z3 refuted the theorem:\n{}", cx.model),
            Verdict::Unknown(reason) => panic!("z3 could not decide the theorem: {reason}"),
        }
    }

    /// The counterexample; panics if z3 proved the theorem or gave up.
    pub fn counterexample(self) -> Counterexample<'ctx> {
        match self {
            Verdict::Refuted(cx) => cx,
            Verdict::Proved => panic!("z3 proved the theorem, so there is no counterexample"),
            Verdict::Vacuous => {
                panic!("the assumptions contradict each other, so there is no counterexample")
            }
            Verdict::Unknown(reason) => panic!("z3 could not decide the theorem: {reason}"),
        }
    }
}

/// z3's model of a refuted theorem, read back as exact numbers.
pub struct Counterexample<'ctx> {
    model: Model<'ctx>,
}

impl<'ctx> Counterexample<'ctx> {
    pub fn real(&self, x: &Real<'ctx>) -> Rational {
        let value = self.model.eval(x).expect("every real has a value in the model");
        let (num, den) = value.as_real().unwrap_or_else(|| panic!("{x} = {value} is not a small rational"));
        Rational::new(num.into(), den.into())
    }

    pub fn int(&self, x: &Int<'ctx>) -> i64 {
        let value = self.model.eval(x).expect("every integer has a value in the model");
        value.as_i64().unwrap_or_else(|| panic!("{x} = {value} does not fit in 64 bits"))
    }

    /// Whether a formula holds in the model (for instance the assumption a test removed).
    pub fn satisfies(&self, fact: &Bool<'ctx>) -> bool {
        self.model.eval(fact).and_then(|b| b.as_bool()).expect("a closed formula evaluates to a truth value")
    }
}

/// A fresh real variable.
pub fn real<'ctx>(ctx: &'ctx Context, name: &str) -> Real<'ctx> {
    Real::new_const(ctx, name)
}

/// A fresh integer variable.
pub fn int<'ctx>(ctx: &'ctx Context, name: &str) -> Int<'ctx> {
    Int::new_const(ctx, name)
}

/// The rational constant `num / den`.
pub fn ratio(ctx: &Context, num: i32, den: i32) -> Real<'_> {
    Real::from_real(ctx, num, den)
}

/// The integer constant `n` as a real.
pub fn number(ctx: &Context, n: i32) -> Real<'_> {
    Real::from_real(ctx, n, 1)
}

/// The integer constant `n`.
pub fn integer(ctx: &Context, n: i64) -> Int<'_> {
    Int::from_i64(ctx, n)
}

/// All of `facts`.
pub fn all<'ctx>(ctx: &'ctx Context, facts: &[&Bool<'ctx>]) -> Bool<'ctx> {
    Bool::and(ctx, facts)
}

/// One of `facts`.
pub fn any<'ctx>(ctx: &'ctx Context, facts: &[&Bool<'ctx>]) -> Bool<'ctx> {
    Bool::or(ctx, facts)
}
