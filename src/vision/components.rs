//! Connected components of a binary mask by runs: each row is cut into runs of set pixels,
//! runs that touch runs of the row above (8-connectivity) are merged with union-find. Work is
//! proportional to the number of runs, not pixels, which for item masks is a few per row:
//! several times faster than pixel-wise labelling, with no label image to allocate.

use image::GrayImage;

/// A horizontal run of set pixels: row `y`, columns `x0..x1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Row.
    pub y: u32,
    /// First column.
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
}

/// One 8-connected component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Component {
    /// Pixels.
    pub area: u32,
    /// Bounding box, inclusive.
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// The components of a mask, in raster order of their first pixel (the order of the labels of
/// `imageproc::region_labelling::connected_components`).
#[derive(Clone, Debug, Default)]
pub struct Components {
    /// Every run of the mask, in raster order.
    pub runs: Vec<Run>,
    /// Component index of each run.
    pub run_component: Vec<u32>,
    /// The components.
    pub components: Vec<Component>,
    parent: Vec<u32>,
}

impl Components {
    /// Label the set (non-zero) pixels of `mask`, 8-connected. Reuses the buffers of `self`.
    pub fn label(&mut self, mask: &GrayImage) {
        self.label_with(mask, true, true);
    }

    /// Label the pixels of `mask` that are set (`set`) or clear (`!set`), 8-connected
    /// (`eight`) or 4-connected.
    pub fn label_with(&mut self, mask: &GrayImage, set: bool, eight: bool) {
        let (w, _) = mask.dimensions();
        self.runs.clear();
        self.parent.clear();
        self.components.clear();
        self.run_component.clear();
        if w == 0 {
            return;
        }
        // Runs of the previous row: indices prev_start..prev_end into self.runs.
        let (mut prev_start, mut prev_end) = (0usize, 0usize);
        for (y, row) in mask.as_raw().chunks_exact(w as usize).enumerate() {
            let row_start = self.runs.len();
            let mut x = 0usize;
            let n = row.len();
            while x < n {
                while x < n && (row[x] != 0) != set {
                    x += 1;
                }
                if x == n {
                    break;
                }
                let x0 = x;
                while x < n && (row[x] != 0) == set {
                    x += 1;
                }
                self.runs.push(Run {
                    y: y as u32,
                    x0: x0 as u32,
                    x1: x as u32,
                });
                self.parent.push((self.runs.len() - 1) as u32);
            }
            // Merge with the runs above that touch (diagonals too with 8-connectivity): with
            // `reach` 1 a run above ending right before this one starts still touches.
            let reach = u32::from(eight);
            let mut p = prev_start;
            for i in row_start..self.runs.len() {
                let r = self.runs[i];
                while p < prev_end && self.runs[p].x1 + reach <= r.x0 {
                    p += 1;
                }
                let mut q = p;
                while q < prev_end && self.runs[q].x0 < r.x1 + reach {
                    self.union(i as u32, q as u32);
                    q += 1;
                }
            }
            prev_start = row_start;
            prev_end = self.runs.len();
        }
        // Components in raster order of their first run (roots are always the smallest index).
        let mut index_of_root = vec![u32::MAX; self.runs.len()];
        self.run_component.reserve(self.runs.len());
        for i in 0..self.runs.len() {
            let root = self.find(i as u32) as usize;
            if index_of_root[root] == u32::MAX {
                index_of_root[root] = self.components.len() as u32;
                self.components.push(Component {
                    area: 0,
                    x0: u32::MAX,
                    y0: u32::MAX,
                    x1: 0,
                    y1: 0,
                });
            }
            let c = index_of_root[root];
            self.run_component.push(c);
            let r = self.runs[i];
            let comp = &mut self.components[c as usize];
            comp.area += r.x1 - r.x0;
            comp.x0 = comp.x0.min(r.x0);
            comp.x1 = comp.x1.max(r.x1 - 1);
            comp.y0 = comp.y0.min(r.y);
            comp.y1 = comp.y1.max(r.y);
        }
    }

    /// Runs of component `c`, with its index.
    pub fn runs_of(&self, c: u32) -> impl Iterator<Item = &Run> + '_ {
        self.runs
            .iter()
            .zip(&self.run_component)
            .filter(move |(_, k)| **k == c)
            .map(|(r, _)| r)
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let g = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = g;
            i = g;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The smaller index (earlier in raster order) stays the root.
        if ra < rb {
            self.parent[rb as usize] = ra;
        } else if rb < ra {
            self.parent[ra as usize] = rb;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;
    use imageproc::region_labelling::{Connectivity, connected_components};

    fn random_mask(w: u32, h: u32, seed: u64, density: u64) -> GrayImage {
        let mut s = seed;
        GrayImage::from_fn(w, h, |_, _| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Luma([if (s >> 33) % 10 < density { 255 } else { 0 }])
        })
    }

    #[test]
    fn matches_imageproc_labelling() {
        let mut ours = Components::default();
        for seed in 0..20 {
            let m = random_mask(37 + seed as u32, 23, seed, 3 + seed % 5);
            ours.label(&m);
            let labels = connected_components(&m, Connectivity::Eight, Luma([0u8]));
            // Same partition, same order: label l of imageproc is our component l-1.
            for run in ours.runs.iter().zip(&ours.run_component) {
                for x in run.0.x0..run.0.x1 {
                    assert_eq!(labels.get_pixel(x, run.0.y).0[0], run.1 + 1, "seed {seed}");
                }
            }
            let max = labels.pixels().map(|p| p.0[0]).max().unwrap_or(0);
            assert_eq!(max as usize, ours.components.len(), "seed {seed}");
            for (i, c) in ours.components.iter().enumerate() {
                let n = labels.pixels().filter(|p| p.0[0] == i as u32 + 1).count();
                assert_eq!(c.area as usize, n);
            }
        }
    }

    #[test]
    fn four_connected_background_matches_imageproc() {
        let mut ours = Components::default();
        for seed in 0..10 {
            let m = random_mask(31, 17 + seed as u32, seed, 5);
            ours.label_with(&m, false, false);
            let labels = connected_components(&m, Connectivity::Four, Luma([255u8]));
            for (r, c) in ours.runs.iter().zip(&ours.run_component) {
                for x in r.x0..r.x1 {
                    assert_eq!(labels.get_pixel(x, r.y).0[0], c + 1, "seed {seed}");
                }
            }
            let max = labels.pixels().map(|p| p.0[0]).max().unwrap_or(0);
            assert_eq!(max as usize, ours.components.len(), "seed {seed}");
        }
    }

    #[test]
    fn empty_and_full_masks() {
        let mut c = Components::default();
        c.label(&GrayImage::new(5, 4));
        assert!(c.components.is_empty());
        c.label(&GrayImage::from_pixel(5, 4, Luma([255])));
        assert_eq!(
            c.components,
            vec![Component {
                area: 20,
                x0: 0,
                y0: 0,
                x1: 4,
                y1: 3
            }]
        );
        c.label(&GrayImage::new(0, 0));
        assert!(c.components.is_empty());
    }
}
