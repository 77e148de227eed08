//! The desk: one worker thread behind the workstation window. The window sends typed
//! [`Command`]s through one [`CommandSender`]; the worker owns the store and the long jobs
//! (training, imports, exports, score loading, on threads of their own with progress and
//! cancel) and answers with [`Event`]s, calling a repaint callback after each so the window
//! wakes up. The window never waits on a query, a file or a thread.
//!
//! Modelled on rerun's `SystemCommand` / `CommandSender`.

mod acceptance;
mod audit;
mod command;
mod event;
mod files;
mod label;
mod line;
mod plant_keys;
mod recipes;
mod reports;
mod session;
mod status;
mod thresholds;
mod train;
mod worker;

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, unbounded};

pub use crate::store::FilterOptions;
pub use command::{Command, CommandSender, PickPath, PickPaths, SaveTarget};
pub use event::{CandidateReport, DbSnapshot, Event, LabelQueue};
pub use status::{Status, Topic};

use crate::domain::AppPaths;

/// Called after each event so a sleeping window repaints.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// What the worker needs to know.
#[derive(Clone, Debug)]
pub struct DeskConfig {
    /// Data folder (database, samples, models, exports).
    pub paths: AppPaths,
}

/// The front end's end of the desk: send commands, take events.
pub struct Desk {
    commands: CommandSender,
    events: Receiver<Event>,
}

impl Desk {
    /// Start the worker thread. When it cannot start, the first event says so.
    pub fn spawn(cfg: DeskConfig, repaint: Repaint) -> Self {
        let (tx, rx) = unbounded::<Command>();
        let (etx, events) = unbounded::<Event>();
        let sink = EventSink {
            tx: etx.clone(),
            repaint,
        };
        let spawned = std::thread::Builder::new()
            .name("foodqc-desk".into())
            .spawn(move || worker::Worker::new(cfg, sink).run(rx));
        if let Err(e) = spawned {
            let _ = etx.send(Event::Status(
                Topic::Desk,
                Status::Failed(crate::tr!(
                    "desk-cannot-start-worker",
                    error = e.to_string()
                )),
            ));
        }
        Self {
            commands: CommandSender(tx),
            events,
        }
    }

    /// A sender for commands.
    pub fn sender(&self) -> CommandSender {
        self.commands.clone()
    }

    /// Queue a command; false when the worker has stopped.
    pub fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd)
    }

    /// The events that arrived since the last call, oldest first (never blocks).
    pub fn poll(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }
}

/// Where the worker and its jobs send events; wakes the front end after each.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: Sender<Event>,
    repaint: Repaint,
}

impl EventSink {
    /// Send an event and wake the front end.
    pub(crate) fn emit(&self, ev: Event) {
        let _ = self.tx.send(ev);
        (self.repaint)();
    }

    /// Send a status.
    pub(crate) fn status(&self, topic: Topic, status: Status) {
        self.emit(Event::Status(topic, status));
    }
}

#[cfg(test)]
mod tests;
