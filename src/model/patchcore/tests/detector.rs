//! Training and scoring on synthetic grids: separation, the heat map, calibration, and
//! inputs that must never pass.

use super::random_grid;
use crate::model::patchcore::coreset::SplitMix64;
use crate::model::patchcore::{
    MIN_TRAIN_ITEMS, PatchCoreError, PatchCoreModel, PatchCoreOptions, PatchGrid,
};

const SIDE: usize = 8;
const DIM: usize = 24;

fn never() -> bool {
    false
}

/// Good product: every cell is one of a few textures (prototypes) plus noise.
pub(super) struct Synth {
    rng: SplitMix64,
    protos: Vec<Vec<f32>>,
}

impl Synth {
    pub(super) fn new(seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let protos = (0..4)
            .map(|_| (0..DIM).map(|_| 2.0 * rng.normal() as f32).collect())
            .collect();
        Self { rng, protos }
    }

    pub(super) fn good(&mut self) -> PatchGrid {
        let mut data = Vec::with_capacity(SIDE * SIDE * DIM);
        for _ in 0..SIDE * SIDE {
            let p = self.rng.below(self.protos.len());
            for v in &self.protos[p] {
                data.push(v + 0.2 * self.rng.normal() as f32);
            }
        }
        PatchGrid::new(SIDE, SIDE, DIM, data).unwrap()
    }

    pub(super) fn goods(&mut self, n: usize) -> Vec<PatchGrid> {
        (0..n).map(|_| self.good()).collect()
    }

    /// A good item with one cell moved off every texture.
    pub(super) fn anomalous(&mut self, cell: usize) -> PatchGrid {
        let mut g = self.good();
        for v in &mut g.data[cell * DIM..cell * DIM + 6] {
            *v += 1.5;
        }
        g
    }
}

fn hottest(cells: &[f32]) -> usize {
    (0..cells.len())
        .max_by(|a, b| cells[*a].total_cmp(&cells[*b]))
        .unwrap()
}

fn check_separation(model: &PatchCoreModel, good_max: f64, synth: &mut Synth) {
    for cell in [0, 13, 27, 63] {
        let s = model.score(&synth.anomalous(cell));
        println!(
            "anomaly at cell {cell}: {:.2} (good held-out max {good_max:.2})",
            s.score
        );
        assert!(
            s.score > good_max,
            "cell {cell}: anomaly {} <= good {good_max}",
            s.score
        );
        assert!(s.score > 1.5, "cell {cell}: anomaly only {}", s.score);
        assert_eq!(hottest(&s.cells), cell);
        assert_eq!(s.cells.len(), SIDE * SIDE);
    }
}

#[test]
fn anomalies_outscore_held_out_good_items_and_light_up_their_cell() {
    let mut synth = Synth::new(21);
    let goods = synth.goods(40);
    let (model, oof) = PatchCoreModel::train(&goods, &PatchCoreOptions::default(), &never).unwrap();
    assert_eq!(
        (model.items, model.patches, model.input_dim),
        (40, 40 * 64, DIM)
    );
    assert_eq!(model.bank.len(), 256);
    assert_eq!(oof.images.len(), 40);
    assert!(oof.cells.iter().all(|c| c.len() == 64));
    let good_max = oof.images.iter().copied().fold(0.0, f64::max);
    check_separation(&model, good_max, &mut synth);

    // Calibration: 1.0 is the 95th percentile of the held-out items (2 of 40 above) and of
    // the 99th of held-out cells.
    let above = oof.images.iter().filter(|s| **s > 1.0).count();
    assert!(
        (1..=3).contains(&above),
        "{above} of 40 held-out scores above 1.0"
    );
    let cells: Vec<f32> = oof.cells.iter().flatten().copied().collect();
    let hot = cells.iter().filter(|c| **c > 1.0).count() as f64 / cells.len() as f64;
    assert!(
        (0.005..=0.015).contains(&hot),
        "{hot} of held-out cells above 1.0"
    );
    // New good items score like the held-out ones: about 5 % above 1.0.
    let fresh: Vec<f64> = (0..100).map(|_| model.score(&synth.good()).score).collect();
    let above = fresh.iter().filter(|s| **s > 1.0).count();
    println!("held-out cells above 1.0: {hot:.4}; new good items above 1.0: {above} of 100");
    assert!(above <= 15, "{above} of 100 new good items above 1.0");
}

#[test]
fn reweighting_and_dimension_reduction_keep_the_separation() {
    let mut synth = Synth::new(4);
    let goods = synth.goods(30);
    let opts = PatchCoreOptions {
        reweight_neighbours: 3,
        ..Default::default()
    };
    let (model, oof) = PatchCoreModel::train(&goods, &opts, &never).unwrap();
    let good_max = oof.images.iter().copied().fold(0.0, f64::max);
    check_separation(&model, good_max, &mut synth);
    // The weight lies in [1 - 1/b, 1]: the raw image score is at most the worst raw cell.
    let s = model.score(&synth.anomalous(5));
    let raw_image = s.score * model.calibration.image_scale;
    let raw_worst = f64::from(s.cells[hottest(&s.cells)]) * model.calibration.cell_scale;
    assert!(raw_image <= raw_worst * (1.0 + 1e-5) && raw_image >= raw_worst * (2.0 / 3.0 - 1e-5));

    let opts = PatchCoreOptions {
        reduce_dim: Some(12),
        ..Default::default()
    };
    let (model, oof) = PatchCoreModel::train(&goods, &opts, &never).unwrap();
    assert_eq!((model.bank.dim(), model.input_dim), (12, DIM));
    let good_max = oof.images.iter().copied().fold(0.0, f64::max);
    check_separation(&model, good_max, &mut synth);
}

#[test]
fn non_finite_or_misfit_items_never_pass() {
    let mut synth = Synth::new(17);
    let (model, _) = PatchCoreModel::train(
        &synth.goods(MIN_TRAIN_ITEMS),
        &PatchCoreOptions::default(),
        &never,
    )
    .unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut g = synth.good();
        g.data[10 * DIM + 3] = bad;
        let s = model.score(&g);
        assert_eq!(s.score, f64::INFINITY, "{bad}");
        assert!(s.cells.len() == 64 && s.cells.iter().all(|c| *c == f32::INFINITY));
        let e = model.try_score(&g).unwrap_err();
        assert!(e.to_string().contains("non-finite value"), "{e}");
        assert!(e.to_string().contains("cell 10"), "{e}");
    }
    // Finite but huge: its distance overflows, and it still cannot pass.
    let mut g = synth.good();
    g.data[3] = 1e30;
    assert_eq!(model.score(&g).score, f64::INFINITY);
    // Another dimension, or data that does not match the shape.
    let mut rng = SplitMix64::new(1);
    let other = random_grid(&mut rng, SIDE, SIDE, DIM + 1, 0.0, 1.0);
    assert_eq!(model.score(&other).score, f64::INFINITY);
    assert!(matches!(
        model.try_score(&other),
        Err(PatchCoreError::DimMismatch { .. })
    ));
    let mut ragged = synth.good();
    ragged.data.pop();
    let s = model.score(&ragged);
    assert_eq!((s.score, s.cells.len()), (f64::INFINITY, 0));
    // A good item, for contrast, is finite.
    assert!(model.score(&synth.good()).score.is_finite());
}

#[test]
fn training_refuses_bad_input_and_honours_cancel() {
    let mut synth = Synth::new(3);
    let opts = PatchCoreOptions::default();
    let few = synth.goods(MIN_TRAIN_ITEMS - 1);
    assert!(matches!(
        PatchCoreModel::train(&few, &opts, &never),
        Err(PatchCoreError::TooFewItems {
            needed: MIN_TRAIN_ITEMS,
            got: 7
        })
    ));
    let mut goods = synth.goods(10);
    goods[3].data[5] = f32::NAN;
    let e = PatchCoreModel::train(&goods, &opts, &never).unwrap_err();
    assert!(e.to_string().contains("training item 3"), "{e}");
    goods[3] = synth.good();
    let mut rng = SplitMix64::new(2);
    goods[6] = random_grid(&mut rng, SIDE, SIDE, DIM - 1, 0.0, 1.0);
    assert!(matches!(
        PatchCoreModel::train(&goods, &opts, &never),
        Err(PatchCoreError::DimMismatch { .. })
    ));
    goods[6] = synth.good();
    assert!(matches!(
        PatchCoreModel::train(&goods, &opts, &|| true),
        Err(PatchCoreError::Cancelled)
    ));
    let bad = PatchCoreOptions {
        reweight_neighbours: 1,
        ..Default::default()
    };
    assert!(matches!(
        PatchCoreModel::train(&goods, &bad, &never),
        Err(PatchCoreError::Options(_))
    ));
    // Different-sized grids of one dimension are fine (crops need not match).
    goods[2] = random_grid(&mut rng, 5, 7, DIM, 0.0, 1.0);
    assert!(PatchCoreModel::train(&goods, &opts, &never).is_ok());
}

/// Near-duplicates in the training set (the same item photographed twice, not next to each
/// other): without groups a held-out twin finds its copy in the bank, the calibration scale
/// collapses and new good items are rejected; with the groups the calibration holds.
#[test]
fn groups_keep_near_duplicates_out_of_their_own_calibration() {
    let mut synth = Synth::new(33);
    let originals = synth.goods(20);
    let twice: Vec<PatchGrid> = originals.iter().chain(&originals).cloned().collect();
    let groups: Vec<u64> = (0..40).map(|i| (i % 20) as u64).collect();
    let fresh: Vec<PatchGrid> = (0..100).map(|_| synth.good()).collect();
    let above = |m: &PatchCoreModel| fresh.iter().filter(|g| m.score(g).score > 1.0).count();

    let opts = PatchCoreOptions::default();
    let (blind, _) = PatchCoreModel::train(&twice, &opts, &never).unwrap();
    let (grouped, oof) =
        PatchCoreModel::train_grouped(&twice, Some(&groups), &opts, &never).unwrap();
    println!(
        "new good items above 1.0: {} of 100 without groups, {} with",
        above(&blind),
        above(&grouped)
    );
    assert!(above(&blind) >= 50, "{} of 100", above(&blind));
    assert!(above(&grouped) <= 15, "{} of 100", above(&grouped));
    assert_eq!(oof.images.len(), 40);

    // A wrong number of groups is refused, naming the counts.
    let e = PatchCoreModel::train_grouped(&twice, Some(&groups[..39]), &opts, &never).unwrap_err();
    assert!(e.to_string().contains("39 groups given for 40"), "{e}");
}
