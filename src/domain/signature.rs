//! Electronic signatures: the actions that need one, the meaning each signature carries and
//! the permission its signer needs. The rules live here, once; the store keeps the signatures
//! and the services ask for the password again before writing one.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::role::Permission;

/// What a signature says its signer did (21 CFR 11.50: the meaning shown with every
/// signature).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    /// The signer did it (e.g. proposed a model after training it).
    Performed,
    /// The signer read the record and confirms it (e.g. a shift report).
    Reviewed,
    /// The signer approves it taking effect (a promotion, a threshold, a lot decision).
    Approved,
}

impl Meaning {
    /// Stored name: `performed`, `reviewed`, `approved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::Performed => "performed",
            Meaning::Reviewed => "reviewed",
            Meaning::Approved => "approved",
        }
    }

    /// The meaning of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Meaning::Performed, Meaning::Reviewed, Meaning::Approved]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Meaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action that takes effect only with an electronic signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedAction {
    /// A data scientist puts a trained model forward for promotion.
    ProposeModel,
    /// A QC manager approves a proposed model: it goes live.
    ApproveModel,
    /// A QC manager overrides failed acceptance criteria for a promotion.
    OverrideAcceptance,
    /// A QC manager returns the line to the model live before.
    RollbackModel,
    /// A QC manager sends an approved model version to the plant's stations of a recipe.
    PublishModel,
    /// A QC manager applies a threshold setting to the running model.
    ApplyThresholds,
    /// A QC manager holds a lot.
    HoldLot,
    /// A QC manager releases a lot.
    ReleaseLot,
    /// A QC manager closes (signs) a shift report.
    CloseShiftReport,
    /// A QC manager reviews (signs) an extract of the audit trail.
    ReviewAuditTrail,
}

impl SignedAction {
    /// Every signed action.
    pub const ALL: [SignedAction; 10] = [
        SignedAction::ProposeModel,
        SignedAction::ApproveModel,
        SignedAction::OverrideAcceptance,
        SignedAction::RollbackModel,
        SignedAction::PublishModel,
        SignedAction::ApplyThresholds,
        SignedAction::HoldLot,
        SignedAction::ReleaseLot,
        SignedAction::CloseShiftReport,
        SignedAction::ReviewAuditTrail,
    ];

    /// Stored name (`model.propose`, …), also the audit action of the signature.
    pub fn as_str(self) -> &'static str {
        match self {
            SignedAction::ProposeModel => "model.propose",
            SignedAction::ApproveModel => "model.approve",
            SignedAction::OverrideAcceptance => "model.override",
            SignedAction::RollbackModel => "model.rollback",
            SignedAction::PublishModel => "model.publish",
            SignedAction::ApplyThresholds => "thresholds.apply",
            SignedAction::HoldLot => "lot.hold",
            SignedAction::ReleaseLot => "lot.release",
            SignedAction::CloseShiftReport => "report.close",
            SignedAction::ReviewAuditTrail => "audit.review",
        }
    }

    /// The action of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The meaning a signature on this action carries. Fixed per action, so a signer cannot
    /// pick a weaker word than the act they perform.
    pub fn meaning(self) -> Meaning {
        match self {
            SignedAction::ProposeModel => Meaning::Performed,
            SignedAction::CloseShiftReport | SignedAction::ReviewAuditTrail => Meaning::Reviewed,
            SignedAction::ApproveModel
            | SignedAction::OverrideAcceptance
            | SignedAction::RollbackModel
            | SignedAction::PublishModel
            | SignedAction::ApplyThresholds
            | SignedAction::HoldLot
            | SignedAction::ReleaseLot => Meaning::Approved,
        }
    }

    /// The permission the signer needs.
    pub fn permission(self) -> Permission {
        match self {
            SignedAction::ProposeModel => Permission::ProposeModel,
            SignedAction::ApproveModel
            | SignedAction::OverrideAcceptance
            | SignedAction::RollbackModel
            | SignedAction::PublishModel => Permission::ApproveModel,
            SignedAction::ApplyThresholds => Permission::ApplyThresholds,
            SignedAction::HoldLot | SignedAction::ReleaseLot => Permission::HoldReleaseLot,
            SignedAction::CloseShiftReport => Permission::CloseShiftReport,
            SignedAction::ReviewAuditTrail => Permission::ReviewAuditTrail,
        }
    }

    /// The kind of record it signs (`model_version`, `threshold_setting`, `lot`,
    /// `shift_report`, `audit_extract`).
    pub fn record_kind(self) -> &'static str {
        match self {
            SignedAction::ProposeModel
            | SignedAction::ApproveModel
            | SignedAction::OverrideAcceptance
            | SignedAction::RollbackModel
            | SignedAction::PublishModel => "model_version",
            SignedAction::ApplyThresholds => "threshold_setting",
            SignedAction::HoldLot | SignedAction::ReleaseLot => "lot",
            SignedAction::CloseShiftReport => "shift_report",
            SignedAction::ReviewAuditTrail => "audit_extract",
        }
    }
}

impl fmt::Display for SignedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest reason a signature keeps.
pub const MAX_REASON_CHARS: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    #[test]
    fn every_signed_action_round_trips_and_needs_a_role_that_signs() {
        for a in SignedAction::ALL {
            assert_eq!(SignedAction::parse(a.as_str()), Some(a));
            let roles = a.permission().roles();
            assert!(!roles.is_empty(), "{a}");
            // Whoever may take a signed action may sign QC records; the admin never does.
            for r in roles {
                assert!(r.may(Permission::SignQcRecord), "{a} {r}");
                assert_ne!(r, Role::Admin);
            }
        }
        for m in [Meaning::Performed, Meaning::Reviewed, Meaning::Approved] {
            assert_eq!(Meaning::parse(m.as_str()), Some(m));
        }
    }
}
