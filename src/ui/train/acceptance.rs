//! The acceptance check of the Train tab: the selected candidate against the live model on
//! the labelled samples neither trained on, as a small grid (measure | live | candidate |
//! criterion), the shortfalls in the warning colour. It shows; promotion decides (see
//! [`foodqc::services::acceptance`]).

use foodqc::i18n::format_decimal;
use foodqc::services::acceptance::{self, Measure, ModelMeasures, Rate};
use foodqc::services::desk::{CandidateReport, Command};
use foodqc::store::ModelVersionRow;
use foodqc::tr;

use super::TrainTab;
use crate::ui::action::{Action, TabCtx};
use crate::ui::theme;

/// What the tab knows of the acceptance check.
#[derive(Default)]
pub struct AcceptanceView {
    /// What the last request was for: the candidate, the live model and the labels then.
    asked: Option<Key>,
    /// The answer, with the candidate it is about.
    result: Option<(i64, Result<Box<CandidateReport>, String>)>,
}

/// A comparison is asked again when the candidate, the live model or the labels change.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    candidate: i64,
    live: String,
    labels: Vec<(String, i64)>,
}

impl AcceptanceView {
    /// Take the worker's answer (an older one, for another candidate, is kept only until the
    /// next answer).
    pub fn on_result(&mut self, version_id: i64, result: Result<Box<CandidateReport>, String>) {
        self.result = Some((version_id, result));
    }
}

impl AcceptanceView {
    /// Whether the assessment of `version_id` has arrived.
    #[cfg(test)]
    pub fn known(&self, version_id: i64) -> bool {
        matches!(&self.result, Some((id, Ok(_))) if *id == version_id)
    }

    /// The shortfalls of `version_id` as people read them, when its assessment is known and
    /// blocks it.
    pub fn shortfalls(&self, version_id: i64) -> Option<Vec<String>> {
        match &self.result {
            Some((id, Ok(r))) if *id == version_id && !r.assessment.accepted() => Some(
                r.assessment
                    .blocked_by
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            _ => None,
        }
    }
}

impl TrainTab {
    /// The candidate shown: the last ticked version that is not live, else the newest one
    /// that is not (after training, the new version).
    fn candidate<'a>(
        &self,
        models: &'a [ModelVersionRow],
        live: &str,
    ) -> Option<&'a ModelVersionRow> {
        self.compare
            .iter()
            .rev()
            .filter_map(|id| models.iter().find(|m| m.id == *id))
            .find(|m| m.version != live)
            .or_else(|| models.iter().find(|m| m.version != live))
    }

    /// The acceptance check of the selected candidate; asks the worker when it is not known.
    pub(super) fn acceptance_panel(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &TabCtx,
        actions: &mut Vec<Action>,
    ) {
        let Some(cand) = self.candidate(&ctx.snapshot.models, &ctx.model.version) else {
            return;
        };
        let key = Key {
            candidate: cand.id,
            live: ctx.model.version.clone(),
            labels: ctx.snapshot.label_counts.clone(),
        };
        let view = &mut self.acceptance;
        let mut refresh = false;
        ui.separator();
        ui.horizontal(|ui| {
            ui.heading(tr!("train-acceptance", version = cand.version.as_str()));
            refresh = ui
                .small_button(tr!("train-acceptance-refresh"))
                .on_hover_text(tr!("train-acceptance-refresh-tip"))
                .clicked();
        });
        if refresh || view.asked.as_ref() != Some(&key) {
            view.asked = Some(key);
            view.result = None;
            actions.push(
                Command::CompareCandidate {
                    version_id: cand.id,
                    live: ctx.model.clone(),
                }
                .into(),
            );
        }
        match &view.result {
            Some((id, Ok(report))) if *id == cand.id => comparison_grid(ui, report),
            Some((id, Err(e))) if *id == cand.id => {
                ui.colored_label(theme::WARN, format!("⚠ {e}"));
            }
            _ => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(tr!("train-acceptance-running"));
                });
            }
        }
    }
}

/// A comparison and its assessment as a grid, then the decision in words.
pub fn comparison_grid(ui: &mut egui::Ui, report: &CandidateReport) {
    let (c, a) = (&report.comparison, &report.assessment);
    ui.label(tr!(
        "train-acceptance-samples",
        samples = c.sample_ids.len(),
        trained = c.trained_on,
        unjudged = c.unjudged
    ));
    egui::ScrollArea::horizontal()
        .id_salt("acceptance")
        .show(ui, |ui| {
            egui::Grid::new("acceptance")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    ui.strong(tr!("acceptance-col-measure"));
                    ui.strong(tr!("acceptance-col-live")).on_hover_text(
                        c.live.as_ref().map_or(String::new(), |l| l.version.clone()),
                    );
                    ui.strong(tr!("acceptance-col-candidate"))
                        .on_hover_text(c.candidate.version.clone());
                    ui.strong(tr!("acceptance-col-criterion"));
                    ui.end_row();
                    for m in Measure::ALL {
                        let short: Vec<String> =
                            a.shortfalls_of(m).map(|s| s.to_string()).collect();
                        ui.label(m.title());
                        // Proportional digits, the interval on a line of its own: the grid
                        // fits beside the model card of a 900 px window, in Spanish too.
                        ui.label(c.live.as_ref().map_or("—".into(), |l| cell(l, m)));
                        let value = cell(&c.candidate, m);
                        if short.is_empty() {
                            ui.label(value);
                        } else {
                            ui.colored_label(theme::WARN, format!("⚠ {value}"))
                                .on_hover_text(short.join("\n"));
                        }
                        ui.label(acceptance::bound_text(&a.criteria, m));
                        ui.end_row();
                    }
                });
        });
    if a.accepted() {
        ui.colored_label(theme::PASS, tr!("train-acceptance-accepted"));
    } else {
        ui.colored_label(theme::WARN, tr!("train-acceptance-blocked"));
        for s in &a.blocked_by {
            ui.colored_label(theme::WARN, format!("• {}: {s}", s.measure().title()));
        }
    }
}

/// A model's value of a measure for the grid: a rate with its counts, its 95 % interval on
/// the line below; a count as it is.
fn cell(m: &ModelMeasures, measure: Measure) -> String {
    let rate = |r: Option<Rate>, k: usize, n: usize| match r {
        Some(r) => format!(
            "{} · {k}/{n}\n{}",
            format_decimal(r.value, 3),
            tr!(
                "train-acceptance-interval",
                low = format_decimal(r.low, 3),
                high = format_decimal(r.high, 3)
            )
        ),
        None => "—".into(),
    };
    match measure {
        Measure::Recall => rate(m.recall, m.defects_rejected, m.defects),
        Measure::FalseRejectRate => rate(m.false_reject_rate, m.good_rejected, m.good),
        Measure::DefectSamples | Measure::GoodSamples => acceptance::value_text(m, measure),
    }
}
