//! The right panel of the Reports tab: lot disposition (hold / release with who and why) and
//! the CSV / PDF exports.

use foodqc::domain::{Permission, SignedAction};
use foodqc::reports::pdf::PdfMeta;
use foodqc::services::desk::{Command, SaveTarget, Status};
use foodqc::store::LotStatus;
use foodqc::tr;

use super::ReportsTab;
use crate::ui::action::{Action, TabCtx};
use crate::ui::session::{SignRequest, guarded};
use crate::ui::theme;

impl ReportsTab {
    pub(super) fn actions(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.heading(tr!("reports-disposition"));
        self.lot_picker(ui);
        ui.add(
            egui::TextEdit::multiline(&mut self.comment)
                .hint_text(tr!("reports-comment-hint"))
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        );
        // From the plant view the decision goes to the stations through the plant's Kafka.
        let plant_origin = ctx.plant_origin.map(str::to_string);
        let ready = (!self.plant || plant_origin.is_some())
            && !self.disposition_lot.is_empty()
            && !self.comment.trim().is_empty();
        ui.horizontal(|ui| {
            for (label, status) in [
                (tr!("reports-hold-lot"), LotStatus::Hold),
                (tr!("reports-release-lot"), LotStatus::Released),
            ] {
                let button = egui::Button::new(label);
                let may = ctx.session.may(Permission::HoldReleaseLot);
                let r = guarded(ui, ctx.session, Permission::HoldReleaseLot, ready, button);
                let r = if may && self.plant && plant_origin.is_none() {
                    r.on_disabled_hover_text(tr!("reports-disposition-plant"))
                } else if may {
                    r.on_disabled_hover_text(tr!("reports-disposition-disabled"))
                } else {
                    r
                };
                if r.clicked() {
                    let plant = if self.plant {
                        plant_origin.clone()
                    } else {
                        None
                    };
                    self.set_lot_status(status, plant, actions);
                }
            }
        });
        ui.separator();
        self.shift_review(ui, ctx, actions);
        ui.separator();
        self.export_buttons(ui, ctx, actions);
    }

    /// The review of the shift the filter shows, and the QC manager's "Close shift…" (the
    /// comment above is the signature's reason).
    fn shift_review(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.heading(tr!("reports-shift-review"));
        let Some(review) = &self.shift_review else {
            ui.label(egui::RichText::new(tr!("reports-shift-review-how")).small());
            return;
        };
        let text = review.describe();
        if review.current {
            ui.label(text);
        } else {
            ui.colored_label(theme::WARN, text);
        }
        let key = review.key.clone();
        let ready = !self.comment.trim().is_empty() && !review.current;
        let may = ctx.session.may(Permission::CloseShiftReport);
        let button = egui::Button::new(tr!("reports-close-shift"));
        let r = guarded(ui, ctx.session, Permission::CloseShiftReport, ready, button);
        let r = if may && !review.current {
            r.on_disabled_hover_text(tr!("reports-close-shift-disabled"))
        } else {
            r
        };
        if r.clicked() {
            let record = tr!("reports-sign-shift", shift = key.record_id());
            actions.push(Action::Sign(SignRequest {
                action: SignedAction::CloseShiftReport,
                record,
                reason: std::mem::take(&mut self.comment).trim().to_string(),
                warning: None,
                make: Box::new(move |sign| Command::CloseShift { key, sign }),
            }));
        }
    }

    /// The lot menu and the chosen lot's status.
    fn lot_picker(&mut self, ui: &mut egui::Ui) {
        let lots: Vec<(String, LotStatus)> = self
            .report
            .as_ref()
            .map(|r| r.lots.iter().map(|l| (l.code.clone(), l.status)).collect())
            .unwrap_or_default();
        egui::ComboBox::from_id_salt("disposition_lot")
            .selected_text(if self.disposition_lot.is_empty() {
                tr!("reports-choose-lot")
            } else {
                self.disposition_lot.clone()
            })
            .width(200.0)
            .show_ui(ui, |ui| {
                for (code, status) in &lots {
                    let label = if *status == LotStatus::Hold {
                        tr!("reports-lot-held", code = code.as_str())
                    } else {
                        code.clone()
                    };
                    ui.selectable_value(&mut self.disposition_lot, code.clone(), label);
                }
            });
        let Some(l) = self
            .report
            .as_ref()
            .and_then(|r| r.lots.iter().find(|l| l.code == self.disposition_lot))
        else {
            return;
        };
        let status = foodqc::reports::lot_status_label(l.status).to_uppercase();
        if l.status == LotStatus::Hold {
            ui.colored_label(theme::WARN, tr!("reports-status-hold", status = status));
        } else {
            ui.label(tr!("reports-status", status = status));
        }
        if let Some((who, when, comment)) = &l.last_change {
            ui.label(
                egui::RichText::new(tr!(
                    "reports-last-change",
                    who = who.as_str(),
                    when = foodqc::i18n::format_datetime(*when),
                    comment = comment.as_str()
                ))
                .small(),
            );
        }
    }

    /// Ask for the QC manager's signature; the lot changes when the worker has it (here, or
    /// with `plant`, the station name to send under, at every station that has it).
    fn set_lot_status(
        &mut self,
        status: LotStatus,
        plant: Option<String>,
        actions: &mut Vec<Action>,
    ) {
        let code = self.disposition_lot.clone();
        let rebuild = self.report.as_ref().map(|r| Command::BuildReport {
            filter: r.filter.clone(),
            group_by: r.group_by,
            reference: r.drift_reference.clone(),
        });
        let action = match status {
            LotStatus::Hold => SignedAction::HoldLot,
            _ => SignedAction::ReleaseLot,
        };
        actions.push(Action::Sign(SignRequest {
            action,
            record: tr!("reports-sign-lot", code = code.as_str()),
            reason: std::mem::take(&mut self.comment).trim().to_string(),
            warning: None,
            make: Box::new(move |sign| {
                let decide = match plant {
                    Some(origin) => Command::SetPlantLotStatus {
                        code,
                        status,
                        sign,
                        origin,
                    },
                    None => Command::SetLotStatus { code, status, sign },
                };
                Command::Batch(
                    std::iter::once(decide)
                        // Refresh the report so the new status shows everywhere in it.
                        .chain(rebuild)
                        .collect(),
                )
            }),
        }));
    }

    fn export_buttons(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.heading(tr!("reports-export"));
        ui.label(egui::RichText::new(tr!("reports-export-note")).small());
        let can = self.report.is_some() && !self.status.is_busy();
        let mut asked = None;
        ui.horizontal(|ui| {
            if ui.add_enabled(can, egui::Button::new("CSV…")).clicked() {
                asked = Some(("csv", false));
            }
            if ui.add_enabled(can, egui::Button::new("PDF…")).clicked() {
                asked = Some(("pdf", false));
            }
        });
        let into = tr!(
            "reports-save-into",
            dir = ctx.exports_dir.display().to_string()
        );
        ui.horizontal(|ui| {
            if ui
                .add_enabled(can, egui::Button::new(tr!("reports-quick-csv")))
                .on_hover_text(&into)
                .clicked()
            {
                asked = Some(("csv", true));
            }
            if ui
                .add_enabled(can, egui::Button::new(tr!("reports-quick-pdf")))
                .on_hover_text(&into)
                .clicked()
            {
                asked = Some(("pdf", true));
            }
        });
        if let Some((ext, quick)) = asked {
            self.export(ext, quick, ctx, actions);
        }
        let csv_running =
            matches!(&self.status, Status::Busy { what, .. } if what.starts_with("CSV"));
        if csv_running && ui.button(tr!("reports-cancel-export")).clicked() {
            actions.push(Command::CancelExport.into());
        }
    }

    /// Export as `ext`: with `quick` into the exports folder, else where the user picks (the
    /// dialog runs on the worker's job thread).
    fn export(&mut self, ext: &'static str, quick: bool, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let Some(report) = self.report.clone() else {
            return;
        };
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
        let name = format!("foodqc-report-{stamp}.{ext}");
        let to = if quick {
            SaveTarget::Path(ctx.exports_dir.join(name))
        } else {
            let dir = ctx.exports_dir.to_path_buf();
            SaveTarget::Ask(Box::new(move || {
                rfd::FileDialog::new()
                    .set_directory(&dir)
                    .set_file_name(&name)
                    .add_filter(ext.to_uppercase(), &[ext])
                    .save_file()
            }))
        };
        let cmd = match ext {
            "csv" => Command::ExportCsv {
                filter: report.filter.clone(),
                to,
            },
            _ => Command::ExportPdf {
                meta: PdfMeta {
                    title: tr!("report-title"),
                    generated_at_ms: foodqc::store::now_ms(),
                    // The signed-in user; else the operating-system user at the keyboard.
                    author: ctx
                        .session
                        .user
                        .as_ref()
                        .map(|u| u.display_name.clone())
                        .unwrap_or_else(|| foodqc::domain::Actor::os_user().to_string()),
                    // The worker adds the shift's review as it stands when writing.
                    review: None,
                },
                report: Box::new(report),
                to,
            },
        };
        let busy = tr!("reports-export-running", format = ext.to_uppercase());
        self.ask(actions, cmd, &busy);
    }
}
