//! Following items along a moving line so each physical item is recorded once.

use crate::inspect::InspectedItem;

#[derive(Clone, Debug)]
struct Track {
    id: u64,
    pos: (f32, f32),
    vel: (f32, f32),
    diameter: f32,
    missed: u32,
    recorded: bool,
}

/// Nearest-neighbour tracker with constant-velocity prediction.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    next_id: u64,
    tracks: Vec<Track>,
}

/// Frames a track survives without a matching item (an item can flicker at the border).
const MAX_MISSED: u32 = 3;

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live tracks.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// True when no item is being followed.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// Give every item a track id, and mark `record` on the first frame a track is fully in
    /// view (and only then).
    pub fn update(&mut self, items: &mut [InspectedItem]) {
        // Candidate pairs (distance, track, item), greedily matched closest first.
        let mut pairs = Vec::new();
        for (t, tr) in self.tracks.iter().enumerate() {
            let pred = (tr.pos.0 + tr.vel.0, tr.pos.1 + tr.vel.1);
            for (i, it) in items.iter().enumerate() {
                let d =
                    ((it.centroid.0 - pred.0).powi(2) + (it.centroid.1 - pred.1).powi(2)).sqrt();
                let gate = 0.6 * tr.diameter.max(it.equiv_diameter);
                if d <= gate {
                    pairs.push((d, t, i));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut track_used = vec![false; self.tracks.len()];
        let mut item_track: Vec<Option<usize>> = vec![None; items.len()];
        for (_, t, i) in pairs {
            if !track_used[t] && item_track[i].is_none() {
                track_used[t] = true;
                item_track[i] = Some(t);
            }
        }
        for (t, used) in track_used.iter().enumerate() {
            if !used {
                self.tracks[t].missed += 1;
                let tr = &mut self.tracks[t];
                tr.pos = (tr.pos.0 + tr.vel.0, tr.pos.1 + tr.vel.1);
            }
        }
        for (i, it) in items.iter_mut().enumerate() {
            let t = match item_track[i] {
                Some(t) => {
                    let tr = &mut self.tracks[t];
                    let vel = (it.centroid.0 - tr.pos.0, it.centroid.1 - tr.pos.1);
                    // Smooth the velocity: centroids of partly visible items jump.
                    tr.vel = (0.5 * tr.vel.0 + 0.5 * vel.0, 0.5 * tr.vel.1 + 0.5 * vel.1);
                    tr.pos = it.centroid;
                    tr.diameter = it.equiv_diameter.max(tr.diameter * 0.9);
                    tr.missed = 0;
                    t
                }
                None => {
                    self.tracks.push(Track {
                        id: self.next_id,
                        pos: it.centroid,
                        vel: (0.0, 0.0),
                        diameter: it.equiv_diameter,
                        missed: 0,
                        recorded: false,
                    });
                    self.next_id += 1;
                    self.tracks.len() - 1
                }
            };
            let tr = &mut self.tracks[t];
            it.track_id = Some(tr.id);
            it.record = !it.partial && it.verdict.is_some() && !tr.recorded;
            if it.record {
                tr.recorded = true;
            }
        }
        self.tracks.retain(|t| t.missed <= MAX_MISSED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BBox;
    use crate::domain::Verdict;

    fn item(x: f32, y: f32, partial: bool) -> InspectedItem {
        InspectedItem {
            index: 0,
            bbox: BBox::default(),
            contour: Vec::new(),
            centroid: (x, y),
            equiv_diameter: 100.0,
            partial,
            score: Some(0.5),
            score_parts: None,
            verdict: if partial { None } else { Some(Verdict::Pass) },
            heat: None,
            regions: Vec::new(),
            track_id: None,
            defect_class: None,
            record: false,
        }
    }

    #[test]
    fn moving_items_keep_ids_and_record_once() {
        let mut tr = Tracker::new();
        let mut records = 0;
        let mut ids = std::collections::BTreeSet::new();
        for f in 0..40 {
            let x = f as f32 * 15.0;
            let mut items = vec![item(x, 100.0, f < 3), item(x + 300.0, 400.0, false)];
            tr.update(&mut items);
            records += items.iter().filter(|i| i.record).count();
            ids.extend(items.iter().filter_map(|i| i.track_id));
        }
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(records, 2);
    }

    #[test]
    fn lost_tracks_are_dropped() {
        let mut tr = Tracker::new();
        tr.update(&mut [item(10.0, 10.0, false)]);
        for _ in 0..=MAX_MISSED {
            tr.update(&mut []);
        }
        assert!(tr.is_empty());
    }
}
