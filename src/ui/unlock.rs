//! The passphrase prompt of an encrypted database: when the database needs a key and none is
//! configured (or the one configured does not open it), the window opens on a small dialog;
//! the passphrase typed is checked against the file, set for the whole process, and only
//! then do the station and the desk start (they open the store).

use std::path::Path;
use std::sync::Arc;

use foodqc::domain::AppPaths;
use foodqc::i18n::Language;
use foodqc::model::AnomalyModel;
use foodqc::store::{self, DatabaseKey, StoreError};
use foodqc::tr;

use super::{FoodQcApp, LineChoice, Settings};

/// Loads the model to judge with, once the database can be read (the promoted version is
/// recorded in it).
pub type ModelLoader = Box<dyn FnOnce(&AppPaths) -> anyhow::Result<Arc<AnomalyModel>>>;

/// Why the window must ask for the passphrase before opening the workstation: `None` when
/// it need not (a plain database, none yet, or an encrypted one the configured key opens);
/// else `Some` with what was wrong with the key configured, if one was.
pub fn lock_reason(db: &Path) -> Option<Option<String>> {
    if store::key::file_state(db) != store::key::FileState::Encrypted {
        return None;
    }
    match store::database_key() {
        Ok(None) => Some(None),
        Ok(Some(key)) => match store::check_key(db, &key) {
            Ok(()) => None,
            Err(e) => Some(Some(describe(&e))),
        },
        Err(e) => Some(Some(e.to_string())),
    }
}

/// An error of the key check in the window's language where it is one an operator meets.
fn describe(e: &StoreError) -> String {
    match e {
        StoreError::WrongKey { .. } => tr!("unlock-wrong-key"),
        other => tr!("unlock-failed", error = other.to_string()),
    }
}

/// The window: the prompt until the database is unlocked, then the workstation.
pub enum Workstation {
    /// Waiting for the passphrase.
    Locked(Box<UnlockScreen>),
    /// The workstation, running.
    Open(Box<FoodQcApp>),
}

/// The passphrase dialog and what the workstation needs once it is unlocked.
pub struct UnlockScreen {
    paths: AppPaths,
    load_model: Option<ModelLoader>,
    line: LineChoice,
    /// `--lang`, which wins over the saved setting once the workstation opens.
    language_arg: Option<Language>,
    /// The language the dialog speaks.
    language: Language,
    passphrase: String,
    /// The last failure, shown under the field.
    error: Option<String>,
    /// The passphrase was submitted: it is checked on the next frame, after "checking…" has
    /// been drawn (the key derivation takes a moment).
    checking: bool,
    /// Put the keyboard focus in the field on the next frame (at first, and after a failure).
    focus_field: bool,
}

impl Workstation {
    /// The window on its passphrase prompt (`reason`: what was wrong with the key
    /// configured, if any, shown at once).
    pub fn locked(
        cc: &eframe::CreationContext<'_>,
        paths: AppPaths,
        load_model: ModelLoader,
        line: LineChoice,
        language_arg: Option<Language>,
        reason: Option<String>,
    ) -> Self {
        let saved: Option<Settings> = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY));
        let language = language_arg
            .or(saved.map(|s| s.language))
            .unwrap_or_else(Language::from_environment);
        foodqc::i18n::set_language(language);
        Workstation::Locked(Box::new(UnlockScreen {
            paths,
            load_model: Some(load_model),
            line,
            language_arg,
            language,
            passphrase: String::new(),
            error: reason,
            checking: false,
            focus_field: true,
        }))
    }
}

/// The workstation app with the language from `--lang` (else its saved setting) in force.
pub fn open_workstation(
    ctx: &egui::Context,
    storage: Option<&dyn eframe::Storage>,
    paths: AppPaths,
    model: Arc<AnomalyModel>,
    line: LineChoice,
    language: Option<Language>,
) -> FoodQcApp {
    let mut app = FoodQcApp::start(ctx, storage, paths, model, line.source);
    if !line.more_sources.is_empty() {
        app.set_more_cameras(line.more_sources);
    }
    // `--plc`/`--mqtt` win over the saved setting for this run.
    if line.outputs.is_empty() {
        let (outputs, reject_on_doubt) = app.saved_line_outputs();
        app.set_line_outputs(outputs, reject_on_doubt);
    } else {
        app.set_line_outputs(line.outputs, false);
    }
    let plant = app.saved_plant();
    app.set_plant(plant);
    // `--lang` wins over the saved setting; workers and logs follow the window.
    if let Some(lang) = language {
        app.settings.language = lang;
    }
    foodqc::i18n::set_language(app.settings.language);
    app
}

impl UnlockScreen {
    /// Check the passphrase typed; on success set it for the process, load the model and
    /// return the workstation. On failure the error is kept for the dialog.
    fn try_unlock(
        &mut self,
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
    ) -> Option<FoodQcApp> {
        let Some(key) = DatabaseKey::new(std::mem::take(&mut self.passphrase)) else {
            self.error = Some(tr!("unlock-empty"));
            return None;
        };
        let db = self.paths.db_path();
        if let Err(e) = store::check_key(&db, &key) {
            self.error = Some(describe(&e));
            return None;
        }
        store::set_database_key(Some(key));
        let load = self.load_model.take()?;
        match load(&self.paths) {
            Ok(model) => Some(open_workstation(
                ctx,
                storage,
                self.paths.clone(),
                model,
                std::mem::take(&mut self.line),
                self.language_arg,
            )),
            Err(e) => {
                self.error = Some(tr!("unlock-failed", error = format!("{e:#}")));
                None
            }
        }
    }

    /// The dialog; returns true when the passphrase was submitted.
    fn dialog(&mut self, ui: &mut egui::Ui) -> bool {
        let mut submit = false;
        egui::Window::new(tr!("unlock-title"))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ui.ctx(), |ui| {
                ui.set_max_width(460.0);
                ui.label(tr!(
                    "unlock-explain",
                    path = self.paths.db_path().display().to_string()
                ));
                ui.add_space(8.0);
                let field = ui.add_enabled(
                    !self.checking && self.load_model.is_some(),
                    egui::TextEdit::singleline(&mut self.passphrase)
                        .password(true)
                        .hint_text(tr!("unlock-passphrase"))
                        .desired_width(f32::INFINITY),
                );
                if self.focus_field && field.enabled() {
                    self.focus_field = false;
                    field.request_focus();
                }
                let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                ui.add_space(4.0);
                ui.horizontal(|ui| {
                    let button = ui.add_enabled(
                        !self.checking && self.load_model.is_some(),
                        egui::Button::new(tr!("unlock-open")),
                    );
                    if (button.clicked() || entered) && !self.checking {
                        submit = true;
                    }
                    if self.checking {
                        ui.spinner();
                        ui.label(tr!("unlock-checking"));
                    }
                });
                if let Some(error) = &self.error {
                    ui.add_space(4.0);
                    ui.colored_label(ui.visuals().error_fg_color, error);
                }
                ui.add_space(8.0);
                ui.small(tr!("unlock-hint"));
            });
        submit
    }
}

impl eframe::App for Workstation {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        if let Workstation::Open(app) = self {
            app.logic(ctx, frame);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let screen = match self {
            Workstation::Open(app) => return app.ui(ui, frame),
            Workstation::Locked(screen) => screen,
        };
        foodqc::i18n::set_thread_language(Some(screen.language));
        if screen.checking {
            screen.checking = false;
            if let Some(app) = screen.try_unlock(ui.ctx(), frame.storage()) {
                *self = Workstation::Open(Box::new(app));
                ui.ctx().request_repaint();
                return;
            }
            // Wrong or refused: the field is ready for another try.
            screen.focus_field = true;
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if screen.dialog(ui) {
                screen.checking = true;
                screen.error = None;
                // Draw "checking…" first, then derive the key on the next frame.
                ui.ctx().request_repaint();
            }
        });
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // While locked nothing of the workstation's settings is known: keep the saved ones.
        if let Workstation::Open(app) = self {
            app.save(storage);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use foodqc::store::Store;

    use super::*;

    /// The prompt on an encrypted database made with "k1". Only failures are driven here: a
    /// passphrase that opens the file would set the key of the whole test process.
    fn locked(dir: &Path) -> Harness<'static, Workstation> {
        let paths = AppPaths {
            data_dir: dir.to_path_buf(),
        };
        let key = DatabaseKey::new("k1".into()).map(Arc::new);
        drop(Store::open_with_key(&paths.db_path(), Duration::from_secs(5), key).unwrap());
        Harness::builder()
            .with_size(egui::vec2(900.0, 600.0))
            .build_eframe(move |cc| {
                let load: ModelLoader = Box::new(|_| Ok(Arc::new(AnomalyModel::bundled()?)));
                Workstation::locked(
                    cc,
                    paths,
                    load,
                    LineChoice::default(),
                    Some(Language::En),
                    None,
                )
            })
    }

    fn screen<'h>(h: &'h mut Harness<'_, Workstation>) -> &'h mut UnlockScreen {
        match h.state_mut() {
            Workstation::Locked(s) => s,
            Workstation::Open(_) => panic!("the workstation opened without the key"),
        }
    }

    #[test]
    fn a_wrong_or_empty_passphrase_is_refused_and_the_prompt_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = locked(dir.path());
        h.run();
        h.get_by_label("Database locked");

        h.get_by_label("Open").click();
        h.run();
        h.get_by_label("Type the passphrase first.");

        screen(&mut h).passphrase = "not the key".into();
        h.get_by_label("Open").click();
        h.run();
        h.get_by_label("This passphrase does not open the database. Check it and try again.");
        let s = screen(&mut h);
        assert!(s.passphrase.is_empty(), "the wrong passphrase is cleared");
        assert!(!s.checking);
        assert!(s.load_model.is_some(), "the model waits for the right key");
    }
}
