//! The Line panel on the Live tab: each output's connection (PLC or MQTT broker), what it
//! sent and what the other side acknowledged, the capture -> acknowledgement time, the PLC's
//! inputs and a test fire of the ejector; below it the line outputs setting (an admin's) and
//! the plant keys.

use foodqc::domain::Permission;
use foodqc::services::desk::Command;
use foodqc::station::StationCommand;
use foodqc::tr;
use serde::{Deserialize, Serialize};

use super::action::{Action, TabCtx};
use super::session::guarded;
use super::theme;

/// The line outputs setting as applied (persisted: the station starts with it), and the
/// draft being edited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LineSetting {
    /// PLC address (`modbus-tcp://HOST:PORT`), empty for none.
    pub plc: String,
    /// MQTT broker address (`mqtt://HOST:PORT/PREFIX`), empty for none.
    pub mqtt: String,
    /// Review-band items go to the PLC as rejects.
    pub reject_on_doubt: bool,
    /// The plant's Kafka brokers (`HOST:PORT[,HOST:PORT]`), empty for none.
    pub kafka: String,
    /// The brokers' certificate authority (PEM file) for TLS, empty for the environment's
    /// setting (`FOODQC_KAFKA_CA`, `FOODQC_KAFKA_TLS`) or plaintext.
    pub kafka_ca: String,
}

/// The Line panel's state.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LinePanel {
    /// The setting in force.
    pub applied: LineSetting,
    /// The setting being edited.
    #[serde(skip)]
    draft: Option<LineSetting>,
    /// What the last change said (done or why not).
    #[serde(skip)]
    pub status: Option<String>,
    /// The plant keys section.
    #[serde(skip)]
    pub keys: super::plant_keys::PlantKeysPanel,
}

impl LinePanel {
    /// The outputs' state and the setting.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        outputs(ui, ctx, actions);
        ui.separator();
        self.setting(ui, ctx, actions);
        self.keys.ui(ui, ctx, actions);
    }

    /// The setting editor: PLC and broker addresses, reject on doubt; Apply (admins) asks the
    /// desk worker, which checks, audits and hands the setting back to restart the station.
    fn setting(&mut self, ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
        let applied = self.applied.clone();
        egui::CollapsingHeader::new(tr!("line-setup"))
            .id_salt("line_setup")
            .show(ui, |ui| {
                let draft = self.draft.get_or_insert_with(|| applied.clone());
                egui::Grid::new("line_setup_grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let plc = (tr!("line-setup-plc"), None, tr!("line-setup-plc-hint"));
                        address_row(ui, plc, &mut draft.plc);
                        let mqtt = (tr!("line-setup-mqtt"), None, tr!("line-setup-mqtt-hint"));
                        address_row(ui, mqtt, &mut draft.mqtt);
                        let kafka = (
                            tr!("line-setup-kafka"),
                            Some(tr!("line-setup-kafka-tip")),
                            tr!("line-setup-kafka-hint"),
                        );
                        address_row(ui, kafka, &mut draft.kafka);
                        let ca = (
                            tr!("line-setup-kafka-ca"),
                            Some(tr!("line-setup-kafka-ca-tip")),
                            tr!("line-setup-kafka-ca-hint"),
                        );
                        address_row(ui, ca, &mut draft.kafka_ca);
                    });
                ui.checkbox(
                    &mut draft.reject_on_doubt,
                    tr!("line-setup-reject-on-doubt"),
                )
                .on_hover_text(tr!("line-setup-reject-on-doubt-tip"));
                let changed = *draft != applied;
                let apply = egui::Button::new(tr!("line-setup-apply"));
                if guarded(ui, ctx.session, Permission::ManageSettings, changed, apply)
                    .on_hover_text(tr!("line-setup-apply-tip"))
                    .clicked()
                {
                    actions.push(
                        Command::SetLineOutputs {
                            plc: vec![draft.plc.clone()],
                            mqtt: vec![draft.mqtt.clone()],
                            reject_on_doubt: draft.reject_on_doubt,
                            kafka: draft.kafka.clone(),
                            kafka_ca: draft.kafka_ca.clone(),
                        }
                        .into(),
                    );
                }
                if let Some(s) = &self.status {
                    ui.label(egui::RichText::new(s.as_str()).small());
                }
            });
    }

    /// A setting was applied (from the desk worker, or `--plc`/`--mqtt`).
    pub fn applied(&mut self, setting: LineSetting) {
        self.draft = Some(setting.clone());
        self.applied = setting;
    }
}

/// Each output: connection, counters, latency; a PLC's inputs and the test fire.
fn outputs(ui: &mut egui::Ui, ctx: &TabCtx, actions: &mut Vec<Action>) {
    for (name, c) in &ctx.stats.line {
        let plc = c.drives_ejector;
        ui.separator();
        ui.horizontal(|ui| {
            let (color, state) = if c.connected {
                (theme::PASS, tr!("live-plc-connected"))
            } else {
                (theme::REJECT, tr!("live-plc-offline"))
            };
            // A painted dot: the UI font has no reliable bullet glyph.
            let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 4.5, color);
            ui.strong(if plc {
                tr!("live-plc")
            } else {
                tr!("live-mqtt")
            });
            ui.colored_label(color, state);
        })
        .response
        .on_hover_text(name.as_str());
        let dec = foodqc::i18n::format_decimal;
        // Rows that wrap rather than a grid: the Spanish labels and the broker's figures
        // would not fit the panel's width side by side.
        let strong = |text: String| egui::RichText::new(text).strong();
        row(
            ui,
            if plc {
                tr!("live-plc-sent")
            } else {
                tr!("live-mqtt-acked")
            },
            strong(format!("{} / {}", c.acked, c.sent)),
        );
        let lost = c.late + c.missed + c.dropped;
        if plc {
            let text = strong(format!("{} / {}", c.late, c.missed + c.dropped));
            let text = if lost > 0 {
                text.color(theme::REJECT)
            } else {
                text
            };
            row(ui, tr!("live-plc-late-missed"), text);
        } else {
            let text = strong(c.backlog.to_string());
            let text = if c.backlog > 0 || lost > 0 {
                text.color(theme::WARN)
            } else {
                text
            };
            row(ui, tr!("live-mqtt-backlog"), text);
        }
        if let Some((median, p99)) = c.latency_median_p99() {
            row(
                ui,
                if plc {
                    tr!("live-plc-latency")
                } else {
                    tr!("live-mqtt-latency")
                },
                strong(format!("{} / {} ms", dec(median, 1), dec(p99, 1))),
            );
        }
        if let Some(i) = c.plc_inputs.filter(|_| plc) {
            row(
                ui,
                tr!("live-plc-inputs"),
                strong(tr!("live-plc-inputs-value", lot = i.lot, recipe = i.recipe)),
            );
        }
        if let (false, Some(e)) = (c.connected, &c.last_error) {
            ui.colored_label(theme::REJECT, e.as_str());
        }
        if plc {
            let fire = egui::Button::new(tr!("live-plc-test-fire"));
            let clicked = guarded(
                ui,
                ctx.session,
                Permission::TestFireEjector,
                c.connected,
                fire,
            )
            .on_hover_text(tr!("live-plc-test-fire-tip", fired = c.test_fires))
            .clicked();
            if clicked && let Some(user) = &ctx.session.user {
                actions.push(
                    StationCommand::TestFire {
                        by: user.name.clone(),
                    }
                    .into(),
                );
            }
        }
    }
}

/// One figure of an output: its label, then the value (wrapping onto the next line when the
/// two do not fit).
fn row(ui: &mut egui::Ui, label: String, value: egui::RichText) {
    ui.horizontal_wrapped(|ui| {
        ui.label(label);
        ui.label(value);
    });
}

/// One row of the setting grid: its label (with a tip on hover, if any), and the field with
/// its hint.
fn address_row(
    ui: &mut egui::Ui,
    (label, tip, hint): (String, Option<String>, String),
    value: &mut String,
) {
    let label = ui.label(label);
    if let Some(tip) = tip {
        label.on_hover_text(tip);
    }
    ui.add(
        egui::TextEdit::singleline(value)
            .desired_width(170.0)
            .hint_text(hint),
    );
    ui.end_row();
}
