//! Label and Train tabs (the Reports tab lives in `reports.rs`). They show what the database
//! really holds; their full workflows (labelling keys, training jobs) grow on these views.

use super::{FoodQcApp, theme};

fn db_error(app: &FoodQcApp, ui: &mut egui::Ui) -> bool {
    let snap = app.db.snapshot();
    if let Some(e) = &snap.error {
        ui.colored_label(theme::REJECT, format!("⚠ Database: {e}"));
        return true;
    }
    false
}

fn fmt_ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Label tab: samples waiting for a label and the label counts.
pub fn label(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading("Samples to label");
        if db_error(app, ui) {
            return;
        }
        let snap = app.db.snapshot();
        ui.horizontal(|ui| {
            ui.label("Label counts:");
            if snap.label_counts.is_empty() {
                ui.label("no labels yet");
            }
            for (label, n) in &snap.label_counts {
                ui.strong(format!("{label}: {n}"));
            }
        });
        ui.label(format!(
            "{} unlabelled samples (rejected items are captured automatically, at most 30 a minute; press C on the Live tab to capture a whole frame).",
            snap.unlabelled.len()
        ));
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("unlabelled").striped(true).num_columns(4).show(ui, |ui| {
                ui.strong("sample");
                ui.strong("captured");
                ui.strong("size");
                ui.strong("from");
                ui.end_row();
                for s in &snap.unlabelled {
                    ui.label(format!("#{}", s.id));
                    ui.label(fmt_ts(s.created_at_ms));
                    ui.label(format!("{}×{}", s.width, s.height));
                    ui.label(&s.source);
                    ui.end_row();
                }
            });
        });
    });
}

/// Train tab: the live model's card and the registered model versions.
pub fn train(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    egui::Panel::right("model_card")
        .resizable(true)
        .default_size(460.0)
        .show(ui, |ui| {
            ui.heading("Live model");
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.add(
                    egui::Label::new(egui::RichText::new(app.model.card_markdown()).monospace())
                        .wrap(),
                );
            });
        });
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading("Model versions");
        if db_error(app, ui) {
            return;
        }
        let snap = app.db.snapshot();
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("models")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    ui.strong("version");
                    ui.strong("kind");
                    ui.strong("registered");
                    ui.strong("metrics");
                    ui.end_row();
                    for m in &snap.models {
                        let live = m.version == app.stats.model_version;
                        if live {
                            ui.colored_label(theme::PASS, format!("▶ {} (live)", m.version));
                        } else {
                            ui.label(&m.version);
                        }
                        ui.label(&m.kind);
                        ui.label(fmt_ts(m.created_at_ms));
                        ui.label(format_metrics(&m.metrics));
                        ui.end_row();
                    }
                });
        });
    });
}

/// `{"eval_auroc": 0.999, ...}` as `eval_auroc 0.999 · ...`.
fn format_metrics(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| match v.as_f64() {
                Some(x) if x.fract() == 0.0 => format!("{k} {x:.0}"),
                Some(x) => format!("{k} {x:.3}"),
                None => format!("{k} {v}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        _ => "—".into(),
    }
}
