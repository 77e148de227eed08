//! Judging a stream of frames outside the station: the inspector plus, on a moving line, the
//! tracker that follows items from frame to frame, applied the way the station's inspection
//! thread applies them (for `foodqc snapshot` and other one-shot tools that record nothing).

use std::sync::Arc;

use crate::capture::Frame;
use crate::inspect::{Inspection, Inspector};
use crate::model::AnomalyModel;
use crate::station::tracker::Tracker;

/// An [`Inspector`] with the [`Tracker`] of a continuous source: each frame judged in turn,
/// items given track ids and `record` marks as in the station.
pub struct TrackedInspector {
    inspector: Inspector,
    tracker: Tracker,
}

impl TrackedInspector {
    /// A fresh inspector (no tracks yet) judging with `model`.
    pub fn new(model: Arc<AnomalyModel>) -> Self {
        Self {
            inspector: Inspector::new(model),
            tracker: Tracker::new(),
        }
    }

    /// The model in use.
    pub fn model(&self) -> &Arc<AnomalyModel> {
        self.inspector.model()
    }

    /// Judge the next frame of a source. On a `continuous` source (a moving line) items cut by
    /// the border wait until they are fully in view and are tracked across frames; otherwise
    /// (still photos) every item is judged and each frame stands alone.
    pub fn inspect(&mut self, frame: Frame, continuous: bool) -> Inspection {
        let Frame {
            seq,
            captured_at,
            image,
            origin,
            ..
        } = frame;
        let mut insp =
            self.inspector
                .inspect(seq, captured_at, Arc::new(image), origin, !continuous);
        if continuous {
            self.tracker.update(&mut insp.items);
        }
        insp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{SourceOptions, SourceSpec};

    #[test]
    fn a_moving_line_is_tracked_so_an_item_is_recorded_once() {
        let model = Arc::new(AnomalyModel::bundled().unwrap());
        let mut judge = TrackedInspector::new(model);
        let mut source = SourceSpec::Synthetic { seed: 3 }
            .open(&SourceOptions::default())
            .unwrap();
        let continuous = source.is_continuous();
        assert!(continuous);
        let (mut seen, mut recorded) = (0, 0);
        for _ in 0..40 {
            let frame = source
                .next_frame()
                .unwrap()
                .expect("the synthetic line never ends");
            let insp = judge.inspect(frame, continuous);
            seen += insp.items.len();
            recorded += insp.items.iter().filter(|i| i.record).count();
        }
        assert!(recorded > 0, "items were recorded");
        assert!(
            recorded < seen,
            "an item in view over several frames is recorded once"
        );
    }
}
