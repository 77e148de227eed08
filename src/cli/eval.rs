//! `foodqc eval`: train on a dataset's good images, evaluate on its test images, save the
//! model with its metrics, and check quality gates.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use foodqc::domain::AppPaths;
use foodqc::domain::private_fs::write_private;
use foodqc::eval::gate::Requirement;
use foodqc::model::TierChoice;
use foodqc::tr;

/// Arguments of `foodqc eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Dataset folder (MVTec-style tree).
    #[arg(long, value_name = "DIR")]
    dataset: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Which detector tier: classical (hand-made features), deep (pretrained network
    /// patches), or auto (both evaluated, the kept one chosen by synthetic defects on the
    /// training images).
    #[arg(long, default_value = "auto", value_name = "classical|deep|auto")]
    tier: TierChoice,
    /// Where to save the trained model; its evaluation is written next to it as
    /// `<name>_metrics.json` and `<name>_metrics.txt` [default: DATA_DIR/models/<dataset>.json].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write side-by-side pictures (photo | pixel scores | truth mask) of the test images
    /// that have masks into this folder.
    #[arg(long, value_name = "DIR")]
    previews: Option<PathBuf>,
    /// Also print the operating points on the test scores: the model's threshold, max F1,
    /// the escape-rate target and the false-reject target (confusion, precision, recall, F1).
    #[arg(long)]
    threshold_report: bool,
    /// Escape-rate target for --threshold-report (share of defective items passed).
    #[arg(long, default_value_t = 0.005, value_name = "RATE")]
    target_escape: f64,
    /// False-reject target for --threshold-report (share of good items rejected).
    #[arg(long, default_value_t = 0.01, value_name = "RATE")]
    target_false_reject: f64,
    /// Fail (non-zero exit status) when a measure misses its bound, e.g.
    /// `--require image-auroc=0.995`. Floors: image-auroc, pixel-auroc, pixel-auroc-item,
    /// grade-macro-f1, good-vs-rotten-accuracy. Ceilings, at the model's own threshold:
    /// escape-rate, false-reject-rate. Repeat for several.
    #[arg(long, value_name = "NAME=BOUND")]
    require: Vec<Requirement>,
}

/// The files an evaluation writes beside its model.
struct Written {
    model: PathBuf,
    metrics_txt: PathBuf,
    scores: PathBuf,
    json: String,
    text: String,
}

/// Evaluate, save, print, then check the `--require` gates (failing when one is missed).
pub fn run(paths: &AppPaths, a: EvalArgs) -> anyhow::Result<()> {
    check_targets(&a)?;
    let ds = foodqc::eval::Dataset::open(&a.dataset)?;
    let template = format!(
        "{{msg:>9}} [{{bar:40}}] {{pos}}/{{len}} {}",
        tr!("cli-progress-images")
    );
    let bar = super::bar(ds.train_good.len() as u64, &template);
    let opts = foodqc::eval::EvalOptions {
        tier: a.tier,
        ..Default::default()
    };
    let (report, model) =
        foodqc::eval::evaluate(&ds, &opts, a.previews.as_deref(), &|done, total, stage| {
            bar.set_length(total as u64);
            bar.set_message(stage.to_string());
            bar.set_position(done as u64);
        })?;
    bar.finish_and_clear();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_out(paths, &a.dataset));
    let written = save(&report, &model, out)?;
    let operating = a.threshold_report.then(|| {
        foodqc::model::operating::threshold_report(
            &report.scores,
            model.thresholds.reject,
            a.target_escape,
            a.target_false_reject,
        )
    });
    if a.json {
        println!("{}", written.json);
        if let Some(op) = &operating {
            eprint!("{op}");
        }
    } else {
        print!("{}", written.text);
        if let Some(op) = &operating {
            print!("\n{op}");
        }
        // The metrics text above is also the metrics file beside the model: it stays English.
        println!(
            "\n{}",
            tr!(
                "cli-eval-saved",
                model = written.model.display().to_string(),
                metrics = written.metrics_txt.display().to_string(),
                scores = written.scores.display().to_string()
            )
        );
    }
    check_gates(&report, &a)
}

/// The escape and false-reject targets are shares.
fn check_targets(a: &EvalArgs) -> anyhow::Result<()> {
    for (name, v) in [
        ("--target-escape", a.target_escape),
        ("--target-false-reject", a.target_false_reject),
    ] {
        if !(0.0..=1.0).contains(&v) {
            anyhow::bail!(tr!("cli-eval-bad-share", name = name, value = v));
        }
    }
    Ok(())
}

/// DATA_DIR/models/<dataset folder name>.json.
fn default_out(paths: &AppPaths, dataset: &Path) -> PathBuf {
    let name = dataset
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "dataset".into());
    paths.models_dir().join(format!("{name}.json"))
}

/// Save the model to `out`, its metrics (JSON and text) and its test scores beside it.
fn save(
    report: &foodqc::eval::EvalReport,
    model: &foodqc::model::AnomalyModel,
    out: PathBuf,
) -> anyhow::Result<Written> {
    model.save(&out)?;
    let stem = out.with_extension("");
    let json = serde_json::to_string_pretty(report)?;
    let text = report.to_text();
    let metrics_json = PathBuf::from(format!("{}_metrics.json", stem.display()));
    let metrics_txt = PathBuf::from(format!("{}_metrics.txt", stem.display()));
    write_private(&metrics_json, &json)
        .with_context(|| format!("cannot write {}", metrics_json.display()))?;
    write_private(&metrics_txt, &text)
        .with_context(|| format!("cannot write {}", metrics_txt.display()))?;
    let scores = foodqc::model::operating::ScoreFile::path_for_model(&out);
    report.score_file().save(&scores)?;
    Ok(Written {
        model: out,
        metrics_txt,
        scores,
        json,
        text,
    })
}

/// Fail when a `--require` gate is missed; say so on stderr when all are met.
fn check_gates(report: &foodqc::eval::EvalReport, a: &EvalArgs) -> anyhow::Result<()> {
    let misses = foodqc::eval::gate::check(report, &a.require);
    if !misses.is_empty() {
        let list: Vec<String> = misses.iter().map(ToString::to_string).collect();
        anyhow::bail!(tr!(
            "cli-eval-gates-missed",
            missed = misses.len(),
            total = a.require.len(),
            dataset = a.dataset.display().to_string(),
            list = list.join("; ")
        ));
    }
    if !a.require.is_empty() {
        eprintln!("{}", tr!("cli-eval-gates-met", n = a.require.len()));
    }
    Ok(())
}
