//! What a tab may see ([`TabCtx`]) and what it may ask for ([`Action`]).

use std::path::Path;
use std::sync::Arc;

use foodqc::model::AnomalyModel;
use foodqc::reports::spc::LiveAlarm;
use foodqc::services::desk::{Command, DbSnapshot};
use foodqc::station::{StationCommand, StationStats};

use super::session::{SessionUi, SignRequest};

/// A request of a tab: work for the desk worker or a command for the running station.
pub enum Action {
    /// For the desk worker (database, files, long jobs). Boxed: a report command carries a
    /// whole filter and the other actions are small.
    Desk(Box<Command>),
    /// For the station (pause, lot, capture...).
    Station(StationCommand),
    /// A signed action: the app asks for the password again and a reason, then sends the
    /// command.
    Sign(SignRequest),
}

impl From<Command> for Action {
    fn from(c: Command) -> Self {
        Self::Desk(Box::new(c))
    }
}

impl From<StationCommand> for Action {
    fn from(c: StationCommand) -> Self {
        Self::Station(c)
    }
}

/// The read-only things a tab may look at while it draws.
pub struct TabCtx<'a> {
    /// The station counters of this frame.
    pub stats: &'a StationStats,
    /// The model the line judges with.
    pub model: &'a Arc<AnomalyModel>,
    /// The latest database snapshot (lots, versions, label counts).
    pub snapshot: &'a DbSnapshot,
    /// Who is signed in, and what their role may do.
    pub session: &'a SessionUi,
    /// Why the station is not running, if it is not.
    pub station_error: Option<&'a str>,
    /// The quick-export folder.
    pub exports_dir: &'a Path,
    /// The line's out-of-control alarm, while raised.
    pub alarm: Option<&'a LiveAlarm>,
    /// The station name records go to the plant's Kafka under, while they do (lot decisions
    /// from the plant view go out the same way).
    pub plant_origin: Option<&'a str>,
}
