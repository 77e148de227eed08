//! Reports tab and helpers shared by the tabs.

use super::{FoodQcApp, theme};

fn db_error(app: &FoodQcApp, ui: &mut egui::Ui) -> bool {
    let snap = app.db.snapshot();
    if let Some(e) = &snap.error {
        ui.colored_label(theme::REJECT, format!("⚠ Database: {e}"));
        return true;
    }
    false
}

pub(crate) fn fmt_ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Reports tab: inspections per lot.
pub fn reports(app: &mut FoodQcApp, ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading("Quality by lot");
        if db_error(app, ui) {
            return;
        }
        let snap = app.db.snapshot();
        let (total, rejects) = snap.totals;
        ui.label(format!(
            "{total} inspections, {rejects} rejected ({:.2} %) · queried in {:.1} ms",
            if total > 0 {
                100.0 * rejects as f64 / total as f64
            } else {
                0.0
            },
            snap.query_ms
        ));
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("lots")
                .striped(true)
                .num_columns(9)
                .show(ui, |ui| {
                    for h in [
                        "lot",
                        "product",
                        "line",
                        "shift",
                        "status",
                        "items",
                        "rejects",
                        "reject rate",
                        "last inspection",
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for l in &snap.lots {
                        ui.label(&l.code);
                        ui.label(&l.product);
                        ui.label(&l.line);
                        ui.label(&l.shift);
                        if l.status == foodqc::store::LotStatus::Hold {
                            ui.colored_label(theme::WARN, "HOLD");
                        } else {
                            ui.label(l.status.as_str());
                        }
                        ui.label(l.items.to_string());
                        ui.label(l.rejects.to_string());
                        let rate = if l.items > 0 {
                            100.0 * l.rejects as f64 / l.items as f64
                        } else {
                            0.0
                        };
                        ui.label(format!("{rate:.2} %"));
                        ui.label(l.last_ts_ms.map(fmt_ts).unwrap_or_default());
                        ui.end_row();
                    }
                });
        });
    });
}
