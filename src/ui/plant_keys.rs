//! The plant keys on the Line panel: this PC's key (its fingerprint, and Copy to hand it to
//! the stations' admins), the keys this station trusts to command it from the plant, and an
//! admin's Trust and Revoke. Without a trusted key the station refuses every plant decision,
//! and the panel says so.

use foodqc::domain::Permission;
use foodqc::services::desk::Command;
use foodqc::store::plant_key::{TrustedKey, fingerprint, parse_public_key};
use foodqc::tr;

use super::action::{Action, TabCtx};
use super::session::guarded;
use super::theme;

/// What the panel shows and the key being added.
#[derive(Default)]
pub struct PlantKeysPanel {
    /// This PC's public key, once the desk worker sent it.
    own: Option<String>,
    /// The keys the station trusts.
    trusted: Vec<TrustedKey>,
    /// The keys were asked for (once, when the section first opens).
    asked: bool,
    /// Name of the key being added.
    name: String,
    /// The key being added (base64, pasted).
    key: String,
    /// The key whose Revoke was pressed once: a second press revokes it.
    confirm_revoke: Option<String>,
    /// What the last change said (done or why not).
    pub status: Option<String>,
}

impl PlantKeysPanel {
    /// The section: this PC's key, the trusted ones, and adding one.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        egui::CollapsingHeader::new(tr!("plant-keys"))
            .id_salt("plant_keys")
            .show(ui, |ui| {
                if !self.asked {
                    self.asked = true;
                    actions.push(Command::PlantKeys.into());
                }
                self.own_key(ui);
                self.trusted_keys(ui, ctx, actions);
                ui.add_space(4.0);
                self.add_key(ui, ctx, actions);
                if let Some(s) = &self.status {
                    ui.label(egui::RichText::new(s.as_str()).small());
                }
            });
    }

    fn own_key(&mut self, ui: &mut egui::Ui) {
        let Some(own) = self.own.clone() else {
            ui.spinner();
            return;
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(tr!("plant-keys-own"))
                .on_hover_text(tr!("plant-keys-own-tip"));
            ui.monospace(fingerprint(&own));
            if ui
                .button(tr!("plant-keys-copy"))
                .on_hover_text(tr!("plant-keys-copy-tip"))
                .clicked()
            {
                ui.ctx().copy_text(own);
                self.status = Some(tr!("plant-keys-copied"));
            }
        });
    }

    fn trusted_keys(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        if self.own.is_some() && self.trusted.is_empty() {
            ui.colored_label(theme::WARN, tr!("plant-keys-none"));
            return;
        }
        ui.label(tr!("plant-keys-trusted"));
        // One key a block (name and Revoke, then the fingerprint): the side panel is narrow.
        for k in &self.trusted {
            ui.horizontal_wrapped(|ui| {
                ui.strong(k.name.as_str())
                    .on_hover_text(tr!("plant-keys-by", by = k.added_by.as_str()));
                let confirming = self.confirm_revoke.as_deref() == Some(k.name.as_str());
                let button = egui::Button::new(if confirming {
                    egui::RichText::new(tr!("plant-keys-revoke-confirm")).color(theme::REJECT)
                } else {
                    egui::RichText::new(tr!("plant-keys-revoke"))
                })
                .small();
                if guarded(ui, ctx.session, Permission::ManageSettings, true, button)
                    .on_hover_text(tr!("plant-keys-revoke-tip"))
                    .clicked()
                {
                    if confirming {
                        self.confirm_revoke = None;
                        let name = k.name.clone();
                        actions.push(Command::RevokePlantKey { name }.into());
                    } else {
                        self.confirm_revoke = Some(k.name.clone());
                    }
                }
            });
            ui.label(egui::RichText::new(fingerprint(&k.key)).monospace().small());
        }
    }

    fn add_key(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        egui::Grid::new("plant_keys_add")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label(tr!("plant-keys-name"));
                ui.add(
                    egui::TextEdit::singleline(&mut self.name)
                        .desired_width(170.0)
                        .hint_text(tr!("plant-keys-name-hint")),
                );
                ui.end_row();
                ui.label(tr!("plant-keys-key"));
                ui.add(
                    egui::TextEdit::singleline(&mut self.key)
                        .desired_width(170.0)
                        .hint_text(tr!("plant-keys-key-hint")),
                );
                ui.end_row();
            });
        let typed = !self.key.trim().is_empty();
        let valid = parse_public_key(&self.key).is_some();
        if typed && !valid {
            ui.colored_label(theme::REJECT, tr!("plant-keys-not-a-key"));
        }
        let ready = valid && !self.name.trim().is_empty();
        let trust = egui::Button::new(tr!("plant-keys-trust"));
        if guarded(ui, ctx.session, Permission::ManageSettings, ready, trust)
            .on_hover_text(tr!("plant-keys-trust-tip"))
            .clicked()
        {
            actions.push(
                Command::TrustPlantKey {
                    name: self.name.trim().to_string(),
                    key: self.key.clone(),
                }
                .into(),
            );
        }
    }

    /// Type `name` and `key` into the add fields, as a user would (tests).
    #[cfg(test)]
    pub(crate) fn fill(&mut self, name: &str, key: &str) {
        self.name = name.to_string();
        self.key = key.to_string();
    }

    /// The keys shown: this PC's and the trusted ones' names (tests).
    #[cfg(test)]
    pub(crate) fn shown(&self) -> (Option<&str>, Vec<&str>) {
        let names = self.trusted.iter().map(|k| k.name.as_str()).collect();
        (self.own.as_deref(), names)
    }

    /// The keys as the desk worker read them; a key just trusted clears the fields.
    pub fn loaded(&mut self, own: String, trusted: Vec<TrustedKey>) {
        if trusted.iter().any(|k| k.name == self.name.trim()) {
            self.name.clear();
            self.key.clear();
        }
        self.own = Some(own);
        self.trusted = trusted;
    }
}
