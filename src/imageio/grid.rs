//! Bilinear interpolation over grids of cells: belt colours, heat maps, smoothed scores.

/// The two cells whose centres bracket pixel `i` along one axis of `n` cells of `cell`
/// pixels, and the weight of the second (0..1); pixels beyond the outer centres take the
/// outer cell.
#[inline]
pub fn axis(i: usize, cell: f32, n: usize) -> (usize, usize, f32) {
    let g = ((i as f32 + 0.5) / cell - 0.5).clamp(0.0, (n - 1) as f32);
    // g >= 0: truncation is floor, without a libm call.
    let c0 = g as usize;
    (c0, (c0 + 1).min(n - 1), g - c0 as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_brackets_pixels_between_cell_centres() {
        // Cells of 4 px: pixel i sits at i + 0.5, cell centres at 2, 6, 10.
        assert_eq!(axis(0, 4.0, 3), (0, 1, 0.0));
        assert_eq!(axis(3, 4.0, 3), (0, 1, 0.375));
        assert_eq!(axis(9, 4.0, 3), (1, 2, 0.875));
        assert_eq!(axis(11, 4.0, 3), (2, 2, 0.0));
        assert_eq!(axis(7, 4.0, 1), (0, 0, 0.0));
    }
}
