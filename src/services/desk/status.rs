//! What the user is told about a piece of work: one type for every tab.

/// The state of a piece of work, as shown to the user.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Status {
    /// Nothing to say.
    #[default]
    Idle,
    /// Running: what it does, and how far (0..1) when that can be told.
    Busy {
        /// What is being done, for a progress line.
        what: String,
        /// Share done, 0..1.
        progress: Option<f32>,
    },
    /// Finished: the message for the user.
    Done(String),
    /// Failed: why, for the user.
    Failed(String),
}

impl Status {
    /// Busy with `what`, progress unknown.
    pub fn busy(what: impl Into<String>) -> Self {
        Self::Busy {
            what: what.into(),
            progress: None,
        }
    }

    /// True while work runs.
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Busy { .. })
    }

    /// The message of a finished piece of work (done or failed).
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Done(m) | Self::Failed(m) => Some(m),
            _ => None,
        }
    }
}

/// Which part of the workstation a status belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The worker itself (it could not start, or stopped).
    Desk,
    /// The database snapshot (lots, models, label counts).
    Snapshot,
    /// Labelling: queue, labels, taxonomy, sample images.
    Label,
    /// Importing and exporting sample files.
    Files,
    /// Reports: queries, drill-downs, lot status, exports.
    Reports,
    /// Thresholds: loading scores, applying settings, previews.
    Thresholds,
    /// Training jobs.
    Train,
    /// Promoting a model version.
    Promotion,
    /// Signing in and out.
    Session,
    /// The audit trail: listing, verifying, signed exports.
    Audit,
    /// The line outputs (PLC, MQTT) setting.
    Line,
    /// Recipes: saving, reading and writing recipe files.
    Recipes,
    /// The plant keys: this PC's, and the ones the station trusts.
    PlantKeys,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_messages() {
        assert!(Status::busy("x").is_busy());
        assert!(!Status::Done("ok".into()).is_busy());
        assert_eq!(Status::Failed("no".into()).message(), Some("no"));
        assert_eq!(Status::Idle.message(), None);
    }
}
