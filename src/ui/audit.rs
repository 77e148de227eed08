//! Audit tab (F6): the audit trail for the QC manager and the admin. Filter by user, action
//! and time; verify the hash chains (green when intact, red naming the first broken entry);
//! export what the filter selects as a PDF the QC manager signs as reviewed (a save dialog,
//! then the signature window). Listing, verifying and exporting are commands to the desk
//! worker; what the role may not do is disabled with a tooltip naming the roles that may.

use std::path::PathBuf;

use foodqc::domain::{Permission, SignedAction};
use foodqc::reports::audit::{AuditRow, ChainCheck, describe_filter};
use foodqc::reports::filter::parse_time;
use foodqc::services::desk::{Command, Event, Status};
use foodqc::store::AuditFilter;
use foodqc::tr;

use super::action::{Action, TabCtx};
use super::session::{SignRequest, guarded};
use super::theme;

/// Entries the tab lists at most (the newest); a signed export has every matching entry.
pub const LIST_LIMIT: usize = 500;

/// Characters of the details shown in the table (the tooltip has them all).
const DETAILS_CHARS: usize = 90;

/// State of the Audit tab.
#[derive(Default)]
pub struct AuditTab {
    /// User (actor) filter as typed.
    pub actor: String,
    /// Action filter as typed (`lot` also selects `lot.status`).
    pub action: String,
    /// From / to as typed, in plant time.
    pub from_text: String,
    pub to_text: String,
    /// The filter of the rows shown (what an export signs).
    pub shown: Option<AuditFilter>,
    /// The entries shown, newest first.
    pub rows: Vec<AuditRow>,
    /// A list was asked for and has not arrived.
    pub loading: bool,
    /// The last verification of the chains.
    pub chain: Option<ChainCheck>,
    /// Verifying now.
    pub verifying: bool,
    /// Exports and errors: running, or the last message.
    pub status: Status,
    /// Who the list was loaded for (reloaded when someone else signs in).
    loaded_for: Option<String>,
    /// The file chosen for a signed export: the signature window opens next frame.
    export_to: Option<PathBuf>,
    /// Read the list again (after an export, whose signature is an entry too).
    reload: bool,
}

impl AuditTab {
    /// The filter of the fields, or why a time does not parse.
    fn typed_filter(&self) -> Result<AuditFilter, String> {
        let time = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| parse_time(s)).transpose()
        };
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor: text(&self.actor),
            action: text(&self.action),
            from_ms: time(&self.from_text).map_err(|e| e.to_string())?,
            to_ms: time(&self.to_text).map_err(|e| e.to_string())?,
            limit: LIST_LIMIT,
        })
    }

    /// Ask for the entries of the typed filter.
    fn apply(&mut self, actions: &mut Vec<Action>) {
        match self.typed_filter() {
            Ok(filter) => {
                self.loading = true;
                actions.push(Command::LoadAudit { filter }.into());
            }
            Err(e) => self.status = Status::Failed(e),
        }
    }

    /// Take an event of the worker (audit).
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::AuditEntries { filter, entries } => {
                self.rows = entries.iter().map(AuditRow::of).collect();
                self.shown = Some(filter);
                self.loading = false;
                if matches!(self.status, Status::Failed(_)) {
                    self.status = Status::Idle;
                }
            }
            Event::AuditVerified(check) => {
                self.chain = Some(check);
                self.verifying = false;
            }
            Event::AuditExportPath(path) => self.export_to = Some(path),
            Event::Status(_, s) => {
                if matches!(s, Status::Failed(_)) {
                    self.loading = false;
                    self.verifying = false;
                }
                if matches!(s, Status::Done(_)) {
                    self.reload = true;
                }
                self.status = s;
            }
            _ => {}
        }
    }

    /// Draw the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx) -> Vec<Action> {
        let mut actions = Vec::new();
        let may_view = ctx.session.may(Permission::ViewAuditTrail);
        let who = ctx.session.user.as_ref().map(|u| u.name.clone());
        if !may_view {
            // Nothing of the trail stays on screen for a role that may not read it.
            self.rows.clear();
            self.shown = None;
            self.chain = None;
            self.loaded_for = None;
        } else if self.loaded_for != who || std::mem::take(&mut self.reload) {
            self.loaded_for = who;
            self.apply(&mut actions);
        }
        if let Some(path) = self.export_to.take() {
            self.ask_signature(path, &mut actions);
        }
        egui::Panel::top("audit_filters").show(ui, |ui| {
            ui.add_space(4.0);
            self.filters(ui, ctx, &mut actions);
            self.verify_and_export(ui, ctx, &mut actions);
            self.status_line(ui);
            ui.add_space(4.0);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            if may_view {
                self.table(ui);
            } else {
                ui.colored_label(theme::WARN, ctx.session.why_not(Permission::ViewAuditTrail));
            }
        });
        actions
    }

    fn filters(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            ui.heading(tr!("audit-heading"));
            ui.separator();
            let mut enter = false;
            for (label, text, hint, width) in [
                (
                    tr!("audit-user"),
                    &mut self.actor,
                    tr!("audit-user-hint"),
                    110.0,
                ),
                (
                    tr!("audit-action"),
                    &mut self.action,
                    tr!("audit-action-hint"),
                    130.0,
                ),
                (
                    tr!("audit-from"),
                    &mut self.from_text,
                    tr!("audit-time-hint"),
                    120.0,
                ),
                (
                    tr!("audit-to"),
                    &mut self.to_text,
                    tr!("audit-time-hint"),
                    120.0,
                ),
            ] {
                ui.label(label);
                let r = ui.add(
                    egui::TextEdit::singleline(text)
                        .hint_text(hint)
                        .desired_width(width),
                );
                enter |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            }
            let may = ctx.session.may(Permission::ViewAuditTrail);
            let apply = guarded(
                ui,
                ctx.session,
                Permission::ViewAuditTrail,
                !self.loading,
                egui::Button::new(tr!("audit-apply")),
            );
            if apply.clicked() || (enter && may) {
                self.apply(actions);
            }
            let clear = guarded(
                ui,
                ctx.session,
                Permission::ViewAuditTrail,
                true,
                egui::Button::new(tr!("audit-clear")),
            );
            if clear.clicked() {
                self.actor.clear();
                self.action.clear();
                self.from_text.clear();
                self.to_text.clear();
                self.apply(actions);
            }
            if self.loading {
                ui.spinner();
            }
        });
    }

    fn verify_and_export(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            let verify = guarded(
                ui,
                ctx.session,
                Permission::ViewAuditTrail,
                !self.verifying,
                egui::Button::new(tr!("audit-verify")),
            )
            .on_hover_text(tr!("audit-verify-tip"));
            if verify.clicked() {
                self.verifying = true;
                actions.push(Command::VerifyAudit.into());
            }
            if self.verifying {
                ui.spinner();
            }
            match &self.chain {
                Some(c @ ChainCheck::Intact { .. }) => {
                    ui.colored_label(theme::PASS, format!("✔ {}", c.describe()));
                }
                Some(c @ ChainCheck::Broken { .. }) => {
                    ui.colored_label(theme::REJECT, c.describe());
                }
                Some(c @ ChainCheck::NoKey { .. }) => {
                    ui.colored_label(theme::WARN, c.describe());
                }
                None => {}
            }
            ui.separator();
            let ready = self.shown.is_some() && !self.rows.is_empty() && !self.status.is_busy();
            let export = guarded(
                ui,
                ctx.session,
                SignedAction::ReviewAuditTrail.permission(),
                ready,
                egui::Button::new(tr!("audit-export-pdf")),
            )
            .on_hover_text(tr!("audit-export-tip"));
            if export.clicked() {
                self.choose_file(ctx, actions);
            }
        });
    }

    fn status_line(&self, ui: &mut egui::Ui) {
        match &self.status {
            Status::Busy { what, .. } => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(what);
                });
            }
            Status::Failed(m) => {
                ui.colored_label(theme::REJECT, m);
            }
            Status::Done(m) => {
                ui.label(m);
            }
            Status::Idle => {}
        }
    }

    /// Ask where the signed PDF goes (the dialog runs on the worker's job thread).
    fn choose_file(&mut self, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
        let name = format!("foodqc-audit-{stamp}.pdf");
        let dir = ctx.exports_dir.to_path_buf();
        let pick = Box::new(move || {
            rfd::FileDialog::new()
                .set_directory(&dir)
                .set_file_name(&name)
                .add_filter("PDF", &["pdf"])
                .save_file()
        });
        actions.push(Command::ChooseAuditExport { pick }.into());
    }

    /// The file is chosen: the signer reviews the extract of the filter shown.
    fn ask_signature(&mut self, path: PathBuf, actions: &mut Vec<Action>) {
        let Some(filter) = self.shown.clone() else {
            return;
        };
        let warning = match &self.chain {
            Some(c @ ChainCheck::Broken { .. }) => {
                Some(tr!("audit-sign-broken", result = c.describe()))
            }
            _ => None,
        };
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        actions.push(Action::Sign(SignRequest {
            action: SignedAction::ReviewAuditTrail,
            record: tr!(
                "audit-sign-record",
                filter = describe_filter(&filter),
                file = file
            ),
            reason: String::new(),
            warning,
            make: Box::new(move |sign| Command::ExportAuditSigned {
                filter,
                pdf: path,
                sign,
            }),
        }));
    }

    fn table(&self, ui: &mut egui::Ui) {
        ui.label(tr!(
            "audit-count",
            count = self.rows.len(),
            limit = LIST_LIMIT
        ));
        if self.rows.is_empty() && !self.loading && self.shown.is_some() {
            ui.label(tr!("audit-list-empty"));
            return;
        }
        let zone = foodqc::i18n::plant_time_zone()
            .iana_name()
            .unwrap_or("UTC-5");
        egui::ScrollArea::both()
            .id_salt("audit_rows")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                egui::Grid::new("audit_grid")
                    .striped(true)
                    .num_columns(7)
                    .show(ui, |ui| {
                        for h in [
                            tr!("audit-col-id"),
                            tr!("audit-col-time", zone = zone),
                            tr!("audit-col-actor"),
                            tr!("audit-col-action"),
                            tr!("audit-col-record"),
                            tr!("audit-col-details"),
                            tr!("audit-col-reason"),
                        ] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for r in &self.rows {
                            row(ui, r);
                            ui.end_row();
                        }
                    });
            });
    }
}

/// One entry of the table; the details cell shows every detail in its tooltip.
fn row(ui: &mut egui::Ui, r: &AuditRow) {
    ui.label(r.id.to_string());
    ui.label(foodqc::i18n::format_datetime(r.ts_ms));
    ui.label(&r.actor);
    let action = egui::RichText::new(&r.action).monospace();
    if r.action == "signature" || r.action.starts_with("auth.lockout") {
        ui.colored_label(theme::WARN, action);
    } else {
        ui.label(action);
    }
    ui.label(record_text(&r.record));
    let details = r.details().join(" · ");
    let short: String = if details.chars().count() > DETAILS_CHARS {
        let mut s: String = details.chars().take(DETAILS_CHARS).collect();
        s.push('…');
        s
    } else {
        details
    };
    ui.label(short).on_hover_text(&r.details_json);
    ui.label(&r.reason);
}

#[cfg(test)]
mod tests;

/// An audit row's record (`lot L-7`, `sample 12`, `user ana`, `model v3`, `model_version 4
/// (v3)`) with its kind in the reader's language; the extract and its CSV keep the English
/// kind, a data value.
fn record_text(record: &str) -> String {
    let Some((kind, value)) = record.split_once(' ') else {
        return record.to_string();
    };
    match kind {
        "lot" => tr!("audit-record-lot", value = value),
        "sample" => tr!("audit-record-sample", value = value),
        "user" => tr!("audit-record-user", value = value),
        "model" | "model_version" => tr!("audit-record-model", value = value),
        _ => record.to_string(),
    }
}
