//! Who may do what: the five roles of a station's users, the permissions that state-changing
//! actions ask for, and [`Role::may`], the one permission matrix every layer consults.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The role of a user, stored in `users.role` by its [`Role::as_str`] name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the line, captures samples, watches Live.
    Operator,
    /// Labels samples.
    Technician,
    /// Trains models, tunes thresholds, proposes models for promotion.
    DataScientist,
    /// Reports, lot hold/release, approves model promotions and threshold changes.
    QcManager,
    /// Users and settings; signs no QC record.
    Admin,
}

/// An action that needs a role. Reading (Live, reports) needs none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Start and stop the line, choose lot and source.
    RunLine,
    /// Keep item crops as samples for labelling.
    CaptureSamples,
    /// Label samples, edit the defect taxonomy's use.
    Label,
    /// Train a model.
    Train,
    /// Try thresholds on the score workbench and propose a setting.
    TuneThresholds,
    /// Put a trained model forward for promotion.
    ProposeModel,
    /// Approve (sign) a model's promotion or rollback.
    ApproveModel,
    /// Apply (sign) a threshold setting to the running model.
    ApplyThresholds,
    /// Put a lot on hold or release it.
    HoldReleaseLot,
    /// Close (sign) a shift report.
    CloseShiftReport,
    /// Create, disable users and reset their passwords.
    ManageUsers,
    /// Change station settings.
    ManageSettings,
    /// Put an electronic signature on a QC record.
    SignQcRecord,
    /// Set the acceptance criteria a candidate model must meet before it goes live.
    SetAcceptanceCriteria,
    /// Read the audit trail: filter it, verify its hash chain.
    ViewAuditTrail,
    /// Sign (as reviewed) an extract of the audit trail and export it.
    ReviewAuditTrail,
    /// Fire the ejector once from the Line panel (commissioning, maintenance).
    TestFireEjector,
    /// Save recipes (product setups: model, thresholds, reject on doubt) and import them.
    ManageRecipes,
}

impl Permission {
    /// Every permission, in the order of the matrix in [`Role::may`].
    pub const ALL: [Permission; 18] = [
        Permission::RunLine,
        Permission::CaptureSamples,
        Permission::Label,
        Permission::Train,
        Permission::TuneThresholds,
        Permission::ProposeModel,
        Permission::ApproveModel,
        Permission::ApplyThresholds,
        Permission::HoldReleaseLot,
        Permission::CloseShiftReport,
        Permission::ManageUsers,
        Permission::ManageSettings,
        Permission::SignQcRecord,
        Permission::SetAcceptanceCriteria,
        Permission::ViewAuditTrail,
        Permission::ReviewAuditTrail,
        Permission::TestFireEjector,
        Permission::ManageRecipes,
    ];

    /// The permission's name in snake case (`approve_model`), as the audit log writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::RunLine => "run_line",
            Permission::CaptureSamples => "capture_samples",
            Permission::Label => "label",
            Permission::Train => "train",
            Permission::TuneThresholds => "tune_thresholds",
            Permission::ProposeModel => "propose_model",
            Permission::ApproveModel => "approve_model",
            Permission::ApplyThresholds => "apply_thresholds",
            Permission::HoldReleaseLot => "hold_release_lot",
            Permission::CloseShiftReport => "close_shift_report",
            Permission::ManageUsers => "manage_users",
            Permission::ManageSettings => "manage_settings",
            Permission::SignQcRecord => "sign_qc_record",
            Permission::SetAcceptanceCriteria => "set_acceptance_criteria",
            Permission::ViewAuditTrail => "view_audit_trail",
            Permission::ReviewAuditTrail => "review_audit_trail",
            Permission::TestFireEjector => "test_fire_ejector",
            Permission::ManageRecipes => "manage_recipes",
        }
    }

    /// The roles that may do this, in [`Role::ALL`] order.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.may(self)).collect()
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// Every role, from the line up.
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Technician,
        Role::DataScientist,
        Role::QcManager,
        Role::Admin,
    ];

    /// The stored and typed name (`operator`, `technician`, `data_scientist`, `qc_manager`,
    /// `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Technician => "technician",
            Role::DataScientist => "data_scientist",
            Role::QcManager => "qc_manager",
            Role::Admin => "admin",
        }
    }

    /// The permission matrix: whether this role may do `p`. The one place it is decided.
    ///
    /// | permission              | operator | technician | data_scientist | qc_manager | admin |
    /// |-------------------------|:--------:|:----------:|:--------------:|:----------:|:-----:|
    /// | run_line                | yes      | yes        | yes            | yes        |       |
    /// | capture_samples         | yes      | yes        | yes            |            |       |
    /// | label                   |          | yes        | yes            |            |       |
    /// | train                   |          |            | yes            |            |       |
    /// | tune_thresholds         |          |            | yes            |            |       |
    /// | propose_model           |          |            | yes            |            |       |
    /// | approve_model           |          |            |                | yes        |       |
    /// | apply_thresholds        |          |            |                | yes        |       |
    /// | hold_release_lot        |          |            |                | yes        |       |
    /// | close_shift_report      |          |            |                | yes        |       |
    /// | manage_users            |          |            |                |            | yes   |
    /// | manage_settings         |          |            |                |            | yes   |
    /// | sign_qc_record          |          |            | yes            | yes        |       |
    /// | set_acceptance_criteria |          |            |                | yes        |       |
    /// | view_audit_trail        |          |            |                | yes        | yes   |
    /// | review_audit_trail      |          |            |                | yes        |       |
    /// | test_fire_ejector       | yes      | yes        |                |            |       |
    /// | manage_recipes          |          |            |                | yes        |       |
    ///
    /// The admin keeps the station, not its quality records: separating the two is what
    /// makes a QC signature mean something (an admin could otherwise create a user and sign
    /// as them). The data scientist signs as the proposer ("performed") of a promotion, the
    /// QC manager as its approver. The acceptance criteria a candidate model must meet are
    /// the QC manager's: whoever trains models does not also set the bar they must clear.
    /// The admin may read and verify the audit trail (it keeps the station) but signs no
    /// review of it: the QC manager does (21 CFR 117.305's records review). Test-firing the
    /// ejector is for the people at the line who see it blow. A recipe sets the model and
    /// thresholds a product is judged with, so saving one is the QC manager's, like applying
    /// thresholds; choosing one to run is running the line.
    pub fn may(self, p: Permission) -> bool {
        use Permission as P;
        use Role as R;
        match p {
            P::RunLine => matches!(
                self,
                R::Operator | R::Technician | R::DataScientist | R::QcManager
            ),
            P::CaptureSamples => matches!(self, R::Operator | R::Technician | R::DataScientist),
            P::TestFireEjector => matches!(self, R::Operator | R::Technician),
            P::Label => matches!(self, R::Technician | R::DataScientist),
            P::Train | P::TuneThresholds | P::ProposeModel => self == R::DataScientist,
            P::ApproveModel
            | P::ManageRecipes
            | P::ApplyThresholds
            | P::HoldReleaseLot
            | P::CloseShiftReport
            | P::SetAcceptanceCriteria
            | P::ReviewAuditTrail => self == R::QcManager,
            P::ViewAuditTrail => matches!(self, R::QcManager | R::Admin),
            P::ManageUsers | P::ManageSettings => self == R::Admin,
            P::SignQcRecord => matches!(self, R::DataScientist | R::QcManager),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`]. Its text is English; front ends show the
/// catalogue's message (the domain imports nothing of the crate, the catalogue included).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", crate::tr!("err-domain-role-unknown-role", v0 = format!("{:?}", .0)))]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `qc-manager` and `QC_Manager` are what people type too.
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// Roles as a comma-separated list of their names (`data_scientist, qc_manager`).
pub fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Longest user name accepted.
pub const MAX_USER_NAME_CHARS: usize = 32;

/// What is wrong with a user name (see [`check_user_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserNameProblem {
    /// Empty or longer than [`MAX_USER_NAME_CHARS`].
    Length,
    /// A character outside `a-z 0-9 . _ -`, or not starting with a letter or digit.
    Chars,
}

/// Check a user (login) name: 1 to 32 characters, lowercase ASCII letters, digits, `.`, `_`
/// and `-`, starting with a letter or digit (`qc.anna`, `line-1`). Kept this narrow so a name
/// reads the same in every log, file name and terminal; `users.name`'s CHECK says the same.
pub fn check_user_name(name: &str) -> Result<(), UserNameProblem> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if name.is_empty() || name.len() > MAX_USER_NAME_CHARS {
        return Err(UserNameProblem::Length);
    }
    if !name.chars().all(ok_char) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(UserNameProblem::Chars);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_spot_checks() {
        assert!(!Role::Admin.may(Permission::SignQcRecord));
        assert!(Role::Admin.may(Permission::ManageUsers));
        assert!(!Role::Technician.may(Permission::ApproveModel));
        assert!(Role::Technician.may(Permission::Label));
        assert!(Role::QcManager.may(Permission::ApproveModel));
        assert!(!Role::DataScientist.may(Permission::ApproveModel));
        assert!(Role::DataScientist.may(Permission::ProposeModel));
        assert_eq!(
            Permission::SetAcceptanceCriteria.roles(),
            vec![Role::QcManager]
        );
        assert!(!Role::Operator.may(Permission::Label));
        assert_eq!(Permission::ManageUsers.roles(), vec![Role::Admin]);
        assert_eq!(
            Permission::ViewAuditTrail.roles(),
            vec![Role::QcManager, Role::Admin]
        );
        assert_eq!(Permission::ReviewAuditTrail.roles(), vec![Role::QcManager]);
        assert!(!Role::Technician.may(Permission::ViewAuditTrail));
        // Nobody but the admin manages users, and the admin signs nothing.
        for p in Permission::ALL {
            assert!(!p.roles().is_empty(), "{p} has no role");
        }
    }

    #[test]
    fn roles_parse_by_name() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("QC-Manager".parse::<Role>(), Ok(Role::QcManager));
        assert!("boss".parse::<Role>().is_err());
    }

    #[test]
    fn user_names() {
        for ok in ["admin", "qc.anna", "line-1", "a_b"] {
            assert!(check_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Anna", "ana maria", "-x", "é", &"a".repeat(33)] {
            assert!(check_user_name(bad).is_err(), "{bad}");
        }
    }
}
