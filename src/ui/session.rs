//! Who is at the keyboard, as the window shows it: the sign-in window (and the first admin's,
//! on a station with no user yet), the idle lock, the signature window that asks for the
//! password again and a reason, and [`guarded`], which disables what the role may not do and
//! says in the tooltip which roles may. The desk worker keeps the real session and checks
//! every command again; this is what the user sees of it.

use std::time::{Duration, Instant};

use foodqc::domain::role::role_list;
use foodqc::domain::{Permission, SignedAction};
use foodqc::services::auth::{AuthUser, IdleLock};
use foodqc::services::desk::Command;
use foodqc::services::signing::SignatureInput;
use foodqc::tr;

use super::FoodQcApp;
use super::theme;

/// Builds the desk command once the signer has typed password and reason.
pub type MakeSigned = Box<dyn FnOnce(SignatureInput) -> Command + Send>;

/// A tab asks for a signature: what is signed, and the command to send with it.
pub struct SignRequest {
    /// The signed action (its meaning is shown).
    pub action: SignedAction,
    /// The record as people read it ("model v3", "lot L42").
    pub record: String,
    /// A reason to start from (what the user typed in the tab), may be empty.
    pub reason: String,
    /// What the signer must know before signing (e.g. failed acceptance criteria).
    pub warning: Option<String>,
    /// The command to send.
    pub make: MakeSigned,
}

/// The window's view of the session.
pub struct SessionUi {
    /// The signed-in user, as the worker last said.
    pub user: Option<AuthUser>,
    /// Locks (signs out) after the idle time.
    pub idle: IdleLock,
    login: Option<LoginForm>,
    sign: Option<SignForm>,
    /// The last sign-in or signature message (errors in the windows).
    pub message: Option<String>,
}

impl Default for SessionUi {
    fn default() -> Self {
        Self::with_idle_timeout(foodqc::services::auth::DEFAULT_IDLE_LOCK)
    }
}

#[derive(Default)]
struct LoginForm {
    name: String,
    display_name: String,
    password: String,
    again: String,
    focus: bool,
}

struct SignForm {
    request: SignRequest,
    reason: String,
    password: String,
    focus: bool,
}

impl SessionUi {
    /// A session view that locks after `timeout` without input.
    pub fn with_idle_timeout(timeout: Duration) -> Self {
        Self {
            user: None,
            idle: IdleLock::new(timeout),
            login: None,
            sign: None,
            message: None,
        }
    }

    /// Whether the signed-in user may do `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.user.as_ref().is_some_and(|u| u.role.may(p))
    }

    /// Why a control is disabled: sign in, or which roles may.
    pub fn why_not(&self, p: Permission) -> String {
        let roles = role_list(&p.roles());
        match &self.user {
            None => tr!("session-sign-in-to", roles = roles),
            Some(u) => tr!(
                "session-role-may-not",
                role = u.role.as_str(),
                roles = roles
            ),
        }
    }

    /// Open the sign-in window.
    pub fn ask_sign_in(&mut self) {
        self.login = Some(LoginForm {
            focus: true,
            ..LoginForm::default()
        });
        self.message = None;
    }

    /// Open the signature window for `request`.
    pub fn ask_signature(&mut self, request: SignRequest) {
        let reason = request.reason.clone();
        self.sign = Some(SignForm {
            request,
            reason,
            password: String::new(),
            focus: true,
        });
        self.message = None;
    }

    /// Type `password` and `reason` into the open signature window (tests drive the window
    /// like a user; kittest cannot address these text fields by label).
    #[cfg(test)]
    pub fn fill_signature(&mut self, password: &str, reason: &str) {
        let form = self.sign.as_mut().expect("a signature window is open");
        form.password = password.into();
        form.reason = reason.into();
    }

    /// Type `name` and `password` (and the same again) into the open sign-in window.
    #[cfg(test)]
    pub fn fill_login(&mut self, name: &str, password: &str) {
        let form = self.login.as_mut().expect("the sign-in window is open");
        form.name = name.into();
        form.password = password.into();
        form.again = password.into();
    }

    /// Whether a signature window is open.
    #[cfg(test)]
    pub fn signing(&self) -> bool {
        self.sign.is_some()
    }

    /// Take the worker's word on who is signed in.
    pub fn set_user(&mut self, user: Option<AuthUser>, now: Instant) {
        if user.is_some() {
            self.login = None;
            self.message = None;
            self.idle.touch(now);
        } else {
            self.sign = None;
        }
        self.user = user;
    }
}

/// Add `widget` enabled only when the session may `p` (and `ready`); when the role is what
/// stops it, the tooltip says which roles may.
pub fn guarded(
    ui: &mut egui::Ui,
    session: &SessionUi,
    p: Permission,
    ready: bool,
    widget: impl egui::Widget,
) -> egui::Response {
    let may = session.may(p);
    let r = ui.add_enabled(may && ready, widget);
    if may {
        r
    } else {
        r.on_disabled_hover_text(session.why_not(p))
    }
}

impl FoodQcApp {
    /// The user part of the top bar: who is signed in and Sign out, or Sign in.
    pub(crate) fn session_bar(&mut self, ui: &mut egui::Ui) {
        match &self.session.user {
            Some(u) => {
                ui.label(
                    egui::RichText::new(tr!(
                        "session-user",
                        user = u.display_name.as_str(),
                        role = u.role.as_str()
                    ))
                    .strong(),
                );
                if ui.button(tr!("session-sign-out")).clicked() {
                    self.desk.send(Command::SignOut { idle: false });
                }
            }
            None => {
                ui.label(egui::RichText::new(tr!("session-read-only")).color(theme::WARN));
                if ui.button(tr!("session-sign-in-open")).clicked() {
                    self.session.ask_sign_in();
                }
            }
        }
    }

    /// Lock after the idle time: sign out (the line keeps running, read-only again).
    pub(crate) fn watch_idle(&mut self, ctx: &egui::Context, now: Instant) {
        if self.session.user.is_none() {
            return;
        }
        let input = ctx.input(|i| !i.events.is_empty() || i.pointer.is_moving());
        if input {
            self.session.idle.touch(now);
        } else if self.session.idle.is_locked(now) {
            self.desk.send(Command::SignOut { idle: true });
            // At once: the window is read-only from this frame, whatever the worker is doing.
            self.session.set_user(None, now);
        } else {
            // Wake up in time to lock even when nothing else repaints.
            ctx.request_repaint_after(self.session.idle.timeout());
        }
    }

    /// The sign-in and signature windows, when open.
    pub(crate) fn session_windows(&mut self, ctx: &egui::Context) {
        self.login_window(ctx);
        self.sign_window(ctx);
    }

    fn login_window(&mut self, ctx: &egui::Context) {
        let first_admin = self.snapshot.users == 0 && self.snapshot.error.is_none();
        let Some(form) = &mut self.session.login else {
            return;
        };
        let mut open = true;
        let mut submit = false;
        let title = if first_admin {
            tr!("session-first-admin-title")
        } else {
            tr!("session-sign-in-title")
        };
        egui::Window::new(title)
            .collapsible(false)
            .resizable(false)
            .open(&mut open)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                if first_admin {
                    ui.label(tr!("session-first-admin-help"));
                }
                egui::Grid::new("login").num_columns(2).show(ui, |ui| {
                    ui.label(tr!("session-name"));
                    let r = ui.add(egui::TextEdit::singleline(&mut form.name).desired_width(220.0));
                    if form.focus {
                        r.request_focus();
                        form.focus = false;
                    }
                    ui.end_row();
                    if first_admin {
                        ui.label(tr!("session-display-name"));
                        ui.add(
                            egui::TextEdit::singleline(&mut form.display_name).desired_width(220.0),
                        );
                        ui.end_row();
                    }
                    ui.label(tr!("session-password"));
                    let r = ui.add(
                        egui::TextEdit::singleline(&mut form.password)
                            .password(true)
                            .desired_width(220.0),
                    );
                    submit |= !first_admin
                        && r.lost_focus()
                        && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.end_row();
                    if first_admin {
                        ui.label(tr!("session-password-again"));
                        ui.add(
                            egui::TextEdit::singleline(&mut form.again)
                                .password(true)
                                .desired_width(220.0),
                        );
                        ui.end_row();
                    }
                });
                if let Some(m) = &self.session.message {
                    ui.colored_label(theme::REJECT, m);
                }
                let label = if first_admin {
                    tr!("session-create-admin")
                } else {
                    tr!("session-sign-in")
                };
                let ready = !form.name.trim().is_empty() && !form.password.is_empty();
                submit |= ui.add_enabled(ready, egui::Button::new(label)).clicked();
            });
        if submit {
            let form = self.session.login.as_mut().expect("form is open");
            let cmd = if first_admin {
                if form.password != form.again {
                    self.session.message = Some(tr!("session-passwords-differ"));
                    return;
                }
                Command::CreateFirstAdmin {
                    name: form.name.trim().to_string(),
                    display_name: form.display_name.trim().to_string(),
                    password: std::mem::take(&mut form.password),
                }
            } else {
                Command::SignIn {
                    name: form.name.trim().to_string(),
                    password: std::mem::take(&mut form.password),
                }
            };
            form.again.clear();
            self.session.message = None;
            self.desk.send(cmd);
        }
        if !open {
            self.session.login = None;
        }
    }

    fn sign_window(&mut self, ctx: &egui::Context) {
        let Some(form) = &mut self.session.sign else {
            return;
        };
        let Some(user) = self.session.user.clone() else {
            self.session.sign = None;
            return;
        };
        let mut open = true;
        let mut submit = false;
        let action = form.request.action;
        egui::Window::new(tr!("session-sign-title"))
            .collapsible(false)
            .resizable(false)
            .open(&mut open)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                egui::Grid::new("sign").num_columns(2).show(ui, |ui| {
                    ui.label(tr!("session-sign-record"));
                    ui.strong(&form.request.record);
                    ui.end_row();
                    ui.label(tr!("session-sign-action"));
                    ui.label(signed_action_label(action));
                    ui.end_row();
                    ui.label(tr!("session-sign-meaning"));
                    ui.strong(foodqc::i18n::meaning_label(action.meaning().as_str()));
                    ui.end_row();
                    ui.label(tr!("session-sign-signer"));
                    ui.label(tr!(
                        "session-user",
                        user = user.display_name.as_str(),
                        role = user.role.as_str()
                    ));
                    ui.end_row();
                    ui.label(tr!("session-sign-reason"));
                    ui.add(
                        egui::TextEdit::multiline(&mut form.reason)
                            .desired_rows(2)
                            .desired_width(260.0),
                    );
                    ui.end_row();
                    ui.label(tr!("session-password"));
                    let r = ui.add(
                        egui::TextEdit::singleline(&mut form.password)
                            .password(true)
                            .desired_width(260.0),
                    );
                    if form.focus {
                        r.request_focus();
                        form.focus = false;
                    }
                    ui.end_row();
                });
                if let Some(w) = &form.request.warning {
                    ui.colored_label(theme::WARN, w);
                }
                ui.label(egui::RichText::new(tr!("session-sign-note")).small());
                let ready = !form.reason.trim().is_empty() && !form.password.is_empty();
                submit = ui
                    .add_enabled(ready, egui::Button::new(tr!("session-sign-button")))
                    .on_disabled_hover_text(tr!("session-sign-needs"))
                    .clicked();
            });
        if submit && let Some(form) = self.session.sign.take() {
            let input = SignatureInput {
                password: form.password,
                reason: form.reason.trim().to_string(),
            };
            self.desk.send((form.request.make)(input));
        } else if !open {
            self.session.sign = None;
        }
    }
}

/// A signed action as people read it.
pub fn signed_action_label(a: SignedAction) -> String {
    match a {
        SignedAction::ProposeModel => tr!("signed-propose-model"),
        SignedAction::ApproveModel => tr!("signed-approve-model"),
        SignedAction::OverrideAcceptance => tr!("signed-override"),
        SignedAction::RollbackModel => tr!("signed-rollback"),
        SignedAction::PublishModel => tr!("signed-publish-model"),
        SignedAction::ApplyThresholds => tr!("signed-apply-thresholds"),
        SignedAction::HoldLot => tr!("signed-hold-lot"),
        SignedAction::ReleaseLot => tr!("signed-release-lot"),
        SignedAction::CloseShiftReport => tr!("signed-close-report"),
        SignedAction::ReviewAuditTrail => tr!("signed-review-audit"),
    }
}
