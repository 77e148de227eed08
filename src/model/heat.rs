//! The anomaly map of one item: one calibrated value per grid cell, in frame pixels.

use crate::domain::BBox;
use crate::vision::features::PatchGrid;

/// A coarse anomaly map over one item: one value per grid cell.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeatMap {
    /// Frame x of the grid's top-left corner, in pixels.
    pub x0: u32,
    /// Frame y of the grid's top-left corner, in pixels.
    pub y0: u32,
    /// Cell side in pixels.
    pub cell: u32,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Calibrated anomaly per cell, row-major; NaN where the cell holds too little of the item.
    pub values: Vec<f32>,
}

impl HeatMap {
    /// Lay the per-cell scores of `cells` (ordered as `grid.cells`) out on the grid.
    pub fn from_cells(grid: &PatchGrid, cells: &[f32]) -> Self {
        let mut values = vec![f32::NAN; (grid.cols * grid.rows) as usize];
        for (c, v) in grid.cells.iter().zip(cells) {
            values[(c.row * grid.cols + c.col) as usize] = *v;
        }
        Self {
            x0: grid.x0,
            y0: grid.y0,
            cell: grid.cell,
            cols: grid.cols,
            rows: grid.rows,
            values,
        }
    }

    /// Cells scoring above `min`, as (frame x, frame y, value); NaN cells are never returned.
    pub fn cells_above(&self, min: f32) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter(move |(_, v)| (**v).partial_cmp(&min) == Some(std::cmp::Ordering::Greater))
            .map(|(i, v)| {
                let (c, r) = (i as u32 % self.cols, i as u32 / self.cols);
                (self.x0 + c * self.cell, self.y0 + r * self.cell, *v)
            })
    }

    /// Bounding boxes (frame pixels) of 4-connected groups of cells above `threshold`.
    pub fn regions(&self, threshold: f32) -> Vec<BBox> {
        let (cols, rows) = (self.cols as usize, self.rows as usize);
        let hot: Vec<bool> = self.values.iter().map(|v| *v > threshold).collect();
        let mut seen = vec![false; hot.len()];
        let mut out = Vec::new();
        for start in 0..hot.len() {
            if !hot[start] || seen[start] {
                continue;
            }
            let (mut c0, mut r0, mut c1, mut r1) = (usize::MAX, usize::MAX, 0, 0);
            let mut stack = vec![start];
            seen[start] = true;
            while let Some(i) = stack.pop() {
                let (c, r) = (i % cols, i / cols);
                c0 = c0.min(c);
                r0 = r0.min(r);
                c1 = c1.max(c);
                r1 = r1.max(r);
                let mut visit = |j: usize| {
                    if hot[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                };
                if c > 0 {
                    visit(i - 1);
                }
                if c + 1 < cols {
                    visit(i + 1);
                }
                if r > 0 {
                    visit(i - cols);
                }
                if r + 1 < rows {
                    visit(i + cols);
                }
            }
            out.push(BBox {
                x: self.x0 + c0 as u32 * self.cell,
                y: self.y0 + r0 as u32 * self.cell,
                w: (c1 - c0 + 1) as u32 * self.cell,
                h: (r1 - r0 + 1) as u32 * self.cell,
            });
        }
        out
    }
}
