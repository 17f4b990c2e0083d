//! The lab's injected activity, in order: each planned scenario, then the hard negatives,
//! then the lab profiles' variations, all written through one scenario state.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::labels::Draft;
use super::model::{Builder, Ctx, Ev};
use super::scenarios::{Plan, S};
use super::topology::{Topology, derive};
use super::{Scenario, negatives, variants};

/// Every scenario and hard-negative event, sorted, with drafts of their labels.
pub(crate) struct ScenarioOutput {
    pub ctx: Ctx,
    pub evs: Vec<Ev>,
    pub drafts: Vec<Draft>,
    /// Events per enabled scenario, in the order of the plan.
    pub counts: Vec<(Scenario, u64)>,
    pub hard_negative_events: u64,
    /// Events of the profiles' lab-wide activity (the per-day part is counted per day).
    pub profile_events: u64,
}

/// Generates the scenarios and hard negatives of a plan.
pub(crate) fn build(topo: &Topology, plan: &Plan) -> ScenarioOutput {
    let mut s = S {
        b: Builder::new(topo, derive(topo.seed, &[0x5CE])),
        plan,
        drafts: Vec::new(),
        ws: topo.workstations().collect(),
    };
    let mut order = ChaCha8Rng::seed_from_u64(derive(topo.seed, &[0x9051]));
    s.ws.shuffle(&mut order);
    let mut counts = Vec::new();
    for &(scenario, intensity) in &plan.scenarios {
        s.b.rng = ChaCha8Rng::seed_from_u64(derive(topo.seed, &[0x5CE, scenario as u64]));
        let before = s.b.evs.len();
        match scenario {
            Scenario::AdEnum => s.ad_enum(intensity),
            Scenario::C2Beacon => s.c2_beacon(intensity),
            Scenario::ProcessAnomaly => s.process_anomaly(intensity),
            Scenario::WidespreadAttack => s.widespread(intensity),
        }
        counts.push((scenario, (s.b.evs.len() - before) as u64));
    }
    let before = s.b.evs.len();
    if plan.hard_negatives {
        s.b.rng = ChaCha8Rng::seed_from_u64(derive(topo.seed, &[0x4E6]));
        negatives::build(&mut s);
    }
    let hard_negative_events = (s.b.evs.len() - before) as u64;
    let before = s.b.evs.len();
    variants::lab(&mut s);
    let profile_events = (s.b.evs.len() - before) as u64;
    let drafts = std::mem::take(&mut s.drafts);
    let (ctx, evs) = s.b.finish();
    ScenarioOutput {
        ctx,
        evs,
        drafts,
        counts,
        hard_negative_events,
        profile_events,
    }
}
