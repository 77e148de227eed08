//! Locally aware patch descriptors from a backbone's feature maps.

use super::{MapRef, PatchCoreError, PatchGrid};

/// Largest disagreement allowed between the vertical and the horizontal scale of a map
/// relative to the first map: odd crop sizes round the grids (21x21 against 11x11), a map of
/// another aspect (20x20 against 10x20) is a caller's bug.
const MAX_ASPECT_MISMATCH: f64 = 1.5;

/// Locally aware patch features: each map is 3x3 average-pooled (stride 1, averaging only
/// the neighbours inside the map, so border cells are not darkened by padding), every map
/// after the first is bilinearly upsampled to the first map's grid (half-pixel centres,
/// edges clamped: PyTorch's `align_corners=false`), and the maps are concatenated per cell
/// in the order given. Pass the finest map first.
///
/// Errors on no maps, an empty map, data not matching its shape, a map finer than the first
/// or of another aspect, and on any NaN or infinity.
pub fn embed(maps: &[MapRef]) -> Result<PatchGrid, PatchCoreError> {
    let first = maps.first().ok_or(PatchCoreError::NoMaps)?;
    for (i, m) in maps.iter().enumerate() {
        check_map(i, m)?;
        if i > 0 {
            check_fits(i, m, first)?;
        }
    }
    let (height, width) = (first.height, first.width);
    let dim: usize = maps.iter().map(|m| m.channels).sum();
    let cells = height * width;
    let mut data = vec![0f32; cells * dim];
    let mut offset = 0;
    for m in maps {
        let pooled = avg_pool3(m.data, m.height, m.width, m.channels);
        let resized = if (m.height, m.width) == (height, width) {
            pooled
        } else {
            bilinear(&pooled, m.height, m.width, m.channels, height, width)
        };
        for (out, src) in data
            .chunks_exact_mut(dim)
            .zip(resized.chunks_exact(m.channels))
        {
            out[offset..offset + m.channels].copy_from_slice(src);
        }
        offset += m.channels;
    }
    Ok(PatchGrid {
        height,
        width,
        dim,
        data,
    })
}

fn check_map(i: usize, m: &MapRef) -> Result<(), PatchCoreError> {
    let expected = m
        .height
        .checked_mul(m.width)
        .and_then(|c| c.checked_mul(m.channels));
    if m.height == 0 || m.width == 0 || m.channels == 0 || expected != Some(m.data.len()) {
        return Err(PatchCoreError::MapShape {
            map: i,
            height: m.height,
            width: m.width,
            channels: m.channels,
            expected: expected.unwrap_or(usize::MAX),
            found: m.data.len(),
        });
    }
    if let Some(at) = m.data.iter().position(|v| !v.is_finite()) {
        let cell = at / m.channels;
        return Err(PatchCoreError::NonFinite {
            what: format!(
                "feature map {i} at row {}, column {}, channel {}",
                cell / m.width,
                cell % m.width,
                at % m.channels
            ),
        });
    }
    Ok(())
}

fn check_fits(i: usize, m: &MapRef, first: &MapRef) -> Result<(), PatchCoreError> {
    let err = |reason| PatchCoreError::MapGrid {
        map: i,
        found: format!("{}x{}", m.height, m.width),
        first: format!("{}x{}", first.height, first.width),
        reason,
    };
    if m.height > first.height || m.width > first.width {
        return Err(err(
            "it is finer than the first map; pass the finest map first",
        ));
    }
    let sy = first.height as f64 / m.height as f64;
    let sx = first.width as f64 / m.width as f64;
    if sy.max(sx) / sy.min(sx) > MAX_ASPECT_MISMATCH {
        return Err(err(
            "its aspect differs, so it does not cover the same field of view",
        ));
    }
    Ok(())
}

/// 3x3 mean, stride 1, over the neighbours that lie inside the map (separable: rows, then
/// columns). Channels-last in and out.
pub(super) fn avg_pool3(data: &[f32], h: usize, w: usize, c: usize) -> Vec<f32> {
    let at = |y: usize, x: usize| (y * w + x) * c;
    // Sum over the horizontal neighbours.
    let mut rows = vec![0f32; data.len()];
    for y in 0..h {
        for x in 0..w {
            let out = &mut rows[at(y, x)..at(y, x) + c];
            for xx in x.saturating_sub(1)..(x + 2).min(w) {
                for (o, v) in out.iter_mut().zip(&data[at(y, xx)..at(y, xx) + c]) {
                    *o += v;
                }
            }
        }
    }
    // Sum over the vertical neighbours, divided by the neighbours counted.
    let mut out = vec![0f32; data.len()];
    for y in 0..h {
        let ys = y.saturating_sub(1)..(y + 2).min(h);
        let ny = ys.len();
        for x in 0..w {
            let nx = (x + 2).min(w) - x.saturating_sub(1);
            let o = &mut out[at(y, x)..at(y, x) + c];
            for yy in ys.clone() {
                for (o, v) in o.iter_mut().zip(&rows[at(yy, x)..at(yy, x) + c]) {
                    *o += v;
                }
            }
            let inv = 1.0 / (ny * nx) as f32;
            o.iter_mut().for_each(|v| *v *= inv);
        }
    }
    out
}

/// Source index pair and weight of the second for bilinear resampling of one axis, with
/// half-pixel centres (`align_corners=false`): output `i` of `n_out` reads source position
/// `(i + 0.5) * n_in / n_out - 0.5`, clamped at the edges.
fn axis_weights(n_in: usize, n_out: usize) -> Vec<(usize, usize, f32)> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|i| {
            let src = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let i1 = (i0 + 1).min(n_in - 1);
            (i0, i1, (src - i0 as f64).clamp(0.0, 1.0) as f32)
        })
        .collect()
}

/// Bilinear resampling of a channels-last map from `h x w` to `out_h x out_w`.
pub(super) fn bilinear(
    data: &[f32],
    h: usize,
    w: usize,
    c: usize,
    out_h: usize,
    out_w: usize,
) -> Vec<f32> {
    let wy = axis_weights(h, out_h);
    let wx = axis_weights(w, out_w);
    let mut out = vec![0f32; out_h * out_w * c];
    for (oy, &(y0, y1, ly)) in wy.iter().enumerate() {
        for (ox, &(x0, x1, lx)) in wx.iter().enumerate() {
            let weights = [
                ((y0, x0), (1.0 - ly) * (1.0 - lx)),
                ((y0, x1), (1.0 - ly) * lx),
                ((y1, x0), ly * (1.0 - lx)),
                ((y1, x1), ly * lx),
            ];
            let o = &mut out[(oy * out_w + ox) * c..(oy * out_w + ox + 1) * c];
            for ((y, x), wgt) in weights {
                if wgt == 0.0 {
                    continue;
                }
                let src = &data[(y * w + x) * c..(y * w + x + 1) * c];
                for (o, v) in o.iter_mut().zip(src) {
                    *o += wgt * v;
                }
            }
        }
    }
    out
}

/// The paper's dimension reduction: adaptive average pooling over each descriptor's values
/// (output `j` of `target` is the mean of inputs `floor(j*dim/target)..ceil((j+1)*dim/target)`,
/// as PyTorch's `adaptive_avg_pool1d`). Errors when `target` is 0 or above the grid's
/// dimension.
pub fn reduce_dim(grid: &PatchGrid, target: usize) -> Result<PatchGrid, PatchCoreError> {
    grid.check_shape()?;
    if target == 0 || target > grid.dim {
        return Err(PatchCoreError::Options(format!(
            "cannot reduce descriptors of {} values to {target}",
            grid.dim
        )));
    }
    let d = grid.dim;
    let bins: Vec<(usize, usize)> = (0..target)
        .map(|j| (j * d / target, ((j + 1) * d).div_ceil(target)))
        .collect();
    let mut data = Vec::with_capacity(grid.cells() * target);
    for cell in grid.data.chunks_exact(d) {
        for &(a, b) in &bins {
            data.push(cell[a..b].iter().sum::<f32>() / (b - a) as f32);
        }
    }
    Ok(PatchGrid {
        height: grid.height,
        width: grid.width,
        dim: target,
        data,
    })
}
