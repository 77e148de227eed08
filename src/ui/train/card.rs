//! The live model's card in the Train tab, in the language in force. The card file written
//! beside a model (`card_markdown`) stays English: it travels with the model file.

use foodqc::i18n::format_decimal;
use foodqc::model::{AnomalyModel, Tier};
use foodqc::tr;

/// Draw `model`'s card: what it was trained on, how, its thresholds, metrics and notes.
pub(super) fn model_card(ui: &mut egui::Ui, model: &AnomalyModel) {
    ui.add(egui::Label::new(egui::RichText::new(&model.version).strong()).wrap());
    ui.add_space(4.0);
    let card = &model.card;
    // Plant time for people, as everywhere in the window; the file keeps RFC 3339 UTC.
    let created = model
        .created_at
        .parse::<jiff::Timestamp>()
        .map(|t| foodqc::i18n::format_datetime(t.as_millisecond()))
        .unwrap_or_else(|_| model.created_at.clone());
    let resolution = if model.binning > 1 {
        tr!("card-binned", factor = model.binning)
    } else {
        tr!("card-full-resolution")
    };
    let tier = match model.tier {
        Tier::Classical => tr!("card-tier-classical"),
        Tier::Deep => tr!("card-tier-deep"),
    };
    egui::Grid::new("model_card")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            row(ui, tr!("card-created"), created);
            row(ui, tr!("card-trained-on"), card.trained_on.clone());
            row(
                ui,
                tr!("card-good-items"),
                tr!(
                    "card-items-patches",
                    items = card.items,
                    patches = card.patches
                ),
            );
            row(
                ui,
                tr!("card-training-time"),
                tr!(
                    "card-seconds",
                    seconds = format_decimal(card.training_seconds, 2)
                ),
            );
            row(ui, tr!("card-resolution"), resolution);
            row(ui, tr!("card-tier"), tier);
            row(
                ui,
                tr!("card-reject-threshold"),
                format_decimal(model.thresholds.reject, 3),
            );
            row(
                ui,
                tr!("card-pixel-threshold"),
                format_decimal(model.thresholds.pixel, 2),
            );
        });
    ui.add(egui::Label::new(egui::RichText::new(tr!("card-threshold-note")).weak()).wrap());
    if !card.metrics.is_empty() {
        ui.add_space(6.0);
        ui.strong(tr!("card-metrics"));
        egui::Grid::new("model_card_metrics")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for (k, v) in &card.metrics {
                    // Counts are stored as numbers too: no decimals for them.
                    let digits = if v.fract() == 0.0 { 0 } else { 4 };
                    row(ui, metric_name(k), format_decimal(*v, digits));
                }
            });
    }
    egui::CollapsingHeader::new(tr!("card-features"))
        .id_salt("model_card_features")
        .show(ui, |ui| {
            // Feature names are identifiers of the feature set: shown as they are.
            ui.label(tr!("card-feature-set", name = model.feature_set.as_str()));
            ui.label(tr!("card-item-features"));
            ui.add(
                egui::Label::new(egui::RichText::new(model.item_features.join(", ")).monospace())
                    .wrap(),
            );
            ui.label(tr!("card-patch-features"));
            ui.add(
                egui::Label::new(egui::RichText::new(model.patch_features.join(", ")).monospace())
                    .wrap(),
            );
        });
    if !card.notes.is_empty() {
        // Notes are free text written when the model was trained (English).
        egui::CollapsingHeader::new(tr!("card-notes"))
            .id_salt("model_card_notes")
            .show(ui, |ui| {
                for n in &card.notes {
                    ui.add(egui::Label::new(egui::RichText::new(n.as_str()).weak()).wrap());
                }
            });
    }
}

/// One label / value row of a card grid; long values wrap inside the panel.
fn row(ui: &mut egui::Ui, label: String, value: String) {
    ui.label(label);
    ui.add(egui::Label::new(value).wrap());
    ui.end_row();
}

/// A stored metric key (`cv_auroc`) as people read it; keys this build does not know are
/// shown as stored.
pub(super) fn metric_name(key: &str) -> String {
    match key {
        "good_samples" => tr!("metric-name-good-samples"),
        "defect_samples" => tr!("metric-name-defect-samples"),
        "recall" => tr!("metric-name-recall"),
        "threshold" => tr!("metric-name-threshold"),
        "cv_auroc" => tr!("metric-name-cv-auroc"),
        "cv_false_reject_rate" => tr!("metric-name-cv-false-reject-rate"),
        "cv_good_passed" => tr!("metric-name-cv-good-passed"),
        "cv_good_rejected" => tr!("metric-name-cv-good-rejected"),
        "defects_passed" => tr!("metric-name-defects-passed"),
        "defects_rejected" => tr!("metric-name-defects-rejected"),
        "heldout_false_reject_rate" => tr!("metric-name-heldout-false-reject-rate"),
        "training_seconds" => tr!("metric-name-training-seconds"),
        "eval_items" => tr!("metric-name-eval-items"),
        "eval_defective" => tr!("metric-name-eval-defective"),
        "eval_recall" => tr!("metric-name-eval-recall"),
        "eval_precision" => tr!("metric-name-eval-precision"),
        "eval_false_reject_rate" => tr!("metric-name-eval-false-reject-rate"),
        "eval_auroc" => tr!("metric-name-eval-auroc"),
        "classifier_classes" => tr!("metric-name-classifier-classes"),
        "classifier_cv_score" => tr!("metric-name-classifier-cv-score"),
        other => other.to_string(),
    }
}
