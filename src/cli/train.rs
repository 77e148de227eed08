//! `foodqc train`: a model from the good items of a source (`--out FILE`), or a new model
//! version from the data folder's labelled samples.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use foodqc::capture::SourceSpec;
use foodqc::domain::{AppPaths, Permission};
use foodqc::model::deep::DeepOptions;
use foodqc::model::tiered::train_with_tier;
use foodqc::model::{AnomalyModel, TierChoice, TrainOptions};
use foodqc::services::promotion;
use foodqc::store::Store;
use foodqc::tr;
use foodqc::training::job::{TrainJob, TrainJobConfig, TrainOutcome};
use foodqc::vision::SegmentConfig;

use super::signin::sign_in;
use super::source::SourceArgs;

/// Arguments of `foodqc train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Frames to take good items from (with --out).
    #[arg(long, default_value_t = 400)]
    frames: u64,
    /// Look at every Nth frame only (on a conveyor an item stays in view for many frames).
    #[arg(long, default_value_t = 1)]
    stride: u64,
    /// Train on the good items of --source and write the model to FILE. Without --out, train
    /// on the labelled samples of the data folder and register a new model version there.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also check the model against ground truth on this many frames of synthetic:SEED+1000
    /// (with --out and a synthetic source).
    #[arg(long, default_value_t = 600)]
    eval_frames: u64,
    /// Propose the new version for the line with this reason (a signature meaning
    /// "performed"); a QC manager approves it with `foodqc model approve`. Labelled-sample
    /// training only.
    #[arg(long, value_name = "REASON")]
    propose: Option<String>,
    /// Who trains: a signed-in data scientist (labelled-sample training only; password from
    /// FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Detector tier: classical (hand-made features), deep (pretrained network patches), or
    /// auto (both fitted on half the good items, the one that best finds synthetic defects
    /// made on the other half is kept; the faster on a tie). The choice is on the model card.
    #[arg(long, value_name = "classical|deep|auto", default_value = "auto")]
    tier: TierChoice,
}

/// Train from a source into `--out`, or from the labelled samples of the data folder.
pub fn run(paths: &AppPaths, model: Option<&Path>, a: TrainArgs) -> anyhow::Result<()> {
    match a.out.clone() {
        Some(out) => from_source(a, &out),
        None => from_labels(paths, model, a),
    }
}

/// Train on the labelled samples of the data folder, register the version, maybe propose it.
fn from_labels(paths: &AppPaths, model: Option<&Path>, a: TrainArgs) -> anyhow::Result<()> {
    let signed = {
        let mut store = Store::open(&paths.db_path())?;
        sign_in(&mut store, a.user.as_deref(), Some(Permission::Train))?
    };
    let cfg = TrainJobConfig {
        db_path: paths.db_path(),
        models_dir: paths.models_dir(),
        base: super::load_model(paths, model)?,
        options: TrainOptions::default(),
        tier: a.tier,
        actor: signed.user.name.clone(),
        threads: None,
    };
    let outcome = run_job(cfg)?;
    print_outcome(paths, &outcome);
    match a.propose.as_deref() {
        Some(reason) => {
            let mut store = Store::open(&paths.db_path())?;
            let row = store
                .list_model_versions()?
                .into_iter()
                .find(|m| m.id == outcome.version_id)
                .ok_or_else(|| anyhow::anyhow!("model version {} vanished", outcome.version))?;
            promotion::propose(&mut store, &signed.user, &row, &signed.signature(reason))?;
            println!(
                "{}",
                tr!("cli-train-proposed", version = outcome.version.as_str())
            );
        }
        None => println!(
            "{}",
            tr!("cli-train-not-proposed", version = outcome.version.as_str())
        ),
    }
    Ok(())
}

/// Run a training job to its end with a progress bar.
fn run_job(cfg: TrainJobConfig) -> anyhow::Result<TrainOutcome> {
    let bar = super::bar(1, "{msg:32} [{bar:40}] {pos}/{len}, eta {eta}");
    let mut job = TrainJob::spawn(cfg, || {})?;
    let outcome = loop {
        if let Some(p) = job.progress() {
            bar.set_message(p.stage.title());
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        }
        if let Some(r) = job.try_finish() {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    bar.finish_and_clear();
    Ok(outcome?)
}

fn print_outcome(paths: &AppPaths, outcome: &TrainOutcome) {
    println!(
        "{}",
        tr!(
            "cli-train-trained",
            version = outcome.version.as_str(),
            seconds = foodqc::i18n::format_decimal(outcome.seconds, 1),
            db = paths.db_path().display().to_string()
        )
    );
    // Metric keys stay as stored (they are the model card's and the JSON's names).
    for (k, v) in &outcome.metrics {
        println!("  {k:24} {v:.4}");
    }
    let held = &outcome.held_out;
    let per_label: Vec<String> = held
        .per_label
        .iter()
        .map(|(label, (k, n))| format!("{label} {k}/{n}"))
        .collect();
    println!(
        "{}",
        tr!(
            "cli-train-held-out",
            count = held.len(),
            labels = per_label.join(", ")
        )
    );
    if held.good_kept_for_training > 0 {
        println!(
            "{}",
            tr!(
                "cli-train-held-out-short",
                count = held.good_kept_for_training
            )
        );
    }
    for (p, why) in &outcome.skipped {
        println!(
            "  {}",
            tr!(
                "cli-train-skipped",
                path = p.display().to_string(),
                why = why.to_string()
            )
        );
    }
    let file = tr!("cli-label-file");
    println!("  {file:24} {}", outcome.model_path.display());
}

/// Train on the good items of `--source`, check a synthetic model on unseen frames, and write
/// the model with its card to `out`.
fn from_source(a: TrainArgs, out: &Path) -> anyhow::Result<()> {
    let spec = a.src.spec()?;
    let mut source = spec.open(&a.src.options(false))?;
    let template = format!(
        "{{msg}} [{{bar:40}}] {{pos}}/{{len}} {}, eta {{eta}}",
        tr!("cli-progress-frames")
    );
    let bar = super::bar(a.frames, &template);
    bar.set_message(tr!("cli-train-measuring"));
    let segment = SegmentConfig::default();
    let good = foodqc::training::collect_good_items(
        source.as_mut(),
        a.frames,
        a.stride,
        &segment,
        a.tier != TierChoice::Classical,
        &|done, _| bar.set_position(done),
        &|| false,
    )?;
    bar.finish_and_clear();
    println!(
        "{}",
        tr!(
            "cli-train-good-items",
            n = good.features.len(),
            source = source.describe()
        )
    );
    let options = TrainOptions {
        binning: Some(good.binning),
        ..TrainOptions::default()
    };
    let classical = AnomalyModel::train(
        &good.features,
        segment.clone(),
        &options,
        &source.describe(),
        &|| false,
    )?;
    let items: Vec<_> = good.views.iter().map(|v| v.as_good_item()).collect();
    let tiered = if a.tier == TierChoice::Classical {
        None
    } else {
        println!("{}", tr!("cli-train-choosing-tier", tier = a.tier.as_str()));
        Some(train_with_tier(
            classical.clone(),
            &items,
            a.tier,
            &segment,
            &options,
            &DeepOptions::default(),
            &|| false,
        )?)
    };
    let mut model = match tiered {
        Some(t) => {
            if let Some(s) = &t.selection {
                println!("{}", s.summary());
            }
            t.model
        }
        None => classical,
    };
    println!(
        "{}",
        tr!("cli-train-tier-line", tier = model.tier.to_string())
    );
    if let SourceSpec::Synthetic { seed } = spec
        && a.eval_frames > 0
    {
        check_on_truth(&mut model, &a, seed)?;
    }
    model.save(out)?;
    let card = out.with_extension("card.md");
    foodqc::domain::private_fs::write_private(&card, model.card_markdown())
        .with_context(|| format!("cannot write model card {}", card.display()))?;
    println!(
        "{}",
        tr!(
            "cli-train-written",
            version = model.version.as_str(),
            path = out.display().to_string(),
            card = card.display().to_string()
        )
    );
    Ok(())
}

/// Judge `--eval-frames` frames of synthetic:SEED+1000 (items never seen in training) against
/// their ground truth; the results go into the model card's metrics and are printed.
fn check_on_truth(model: &mut AnomalyModel, a: &TrainArgs, seed: u64) -> anyhow::Result<()> {
    let eval_spec = SourceSpec::Synthetic { seed: seed + 1000 };
    let mut eval_source = eval_spec.open(&a.src.options(false))?;
    let r = foodqc::training::evaluate_on_truth(
        Arc::new(model.clone()),
        eval_source.as_mut(),
        a.eval_frames,
        a.stride,
    )?;
    let m = &mut model.card.metrics;
    m.insert("eval_items".into(), r.items as f64);
    m.insert("eval_defective".into(), r.defective as f64);
    m.insert("eval_recall".into(), r.confusion.recall());
    m.insert(
        "eval_false_reject_rate".into(),
        r.confusion.false_reject_rate(),
    );
    m.insert("eval_precision".into(), r.confusion.precision());
    if let Some(auc) = r.auroc {
        m.insert("eval_auroc".into(), auc);
    }
    model.card.notes.push(format!(
        "eval_* metrics: every {}th of {} frames of {} (ground truth of the synthetic line, items never seen in training)",
        a.stride, a.eval_frames, eval_spec
    ));
    let dec = foodqc::i18n::format_decimal;
    println!(
        "{}",
        tr!(
            "cli-train-truth-check",
            source = eval_spec.to_string(),
            items = r.items,
            defective = r.defective,
            recall = dec(r.confusion.recall(), 3),
            false_rejects = dec(r.confusion.false_reject_rate(), 3),
            auroc = dec(r.auroc.unwrap_or(f64::NAN), 4)
        )
    );
    Ok(())
}
