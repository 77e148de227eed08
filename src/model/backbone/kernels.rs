//! The few kernels the network needs, on channels-last (HWC) `f32` slices, single-threaded.
//!
//! - [`depthwise`]: depthwise k x k convolution with TensorFlow `SAME` padding, bias and ReLU6,
//!   vectorised over channels (candle's stock grouped conv runs one conv per channel);
//! - [`im2col_3x3_s2`] + [`matmul`]: the stem conv as one matrix product;
//! - [`matmul`]: every 1x1 conv (pixels x in-channels times in x out), through the `gemm` crate;
//! - [`bias_relu6`] and [`bias_residual`]: the pass after a matrix product.
//!
//! The hot loops are written so the compiler vectorises them, and compiled twice: for the
//! baseline target and, picked at run time, for AVX2 + FMA (the project builds for plain
//! x86-64, so without this the loops would use SSE2 only).

/// Output size and leading (top or left) padding of TensorFlow `SAME` padding along one axis:
/// `out = ceil(len / stride)`, the total padding split with the smaller half first.
pub fn same_padding(len: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = len.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(len);
    (out, total / 2)
}

/// `c[m x n] = a[m x k] * b[k x n]`, all row-major; `c` is overwritten.
pub fn matmul(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c[..m * n].fill(0.0);
        return;
    }
    // SAFETY: the asserts above keep every index the strides reach inside the three slices,
    // and `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            // Callers parallelise over items; one thread per call.
            gemm::Parallelism::None,
        );
    }
}

/// ReLU6 that compiles to a min and a max (no NaN special case, which would block vectors).
#[inline(always)]
fn relu6(v: f32) -> f32 {
    let v = if v < 0.0 { 0.0 } else { v };
    if v > 6.0 { 6.0 } else { v }
}

/// `x = relu6(x + bias)` for each row of `bias.len()` channels.
pub fn bias_relu6(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = relu6(*v + b);
        }
    }
}

/// `x = x + bias (+ residual)` for each row of `bias.len()` channels: a block's projection.
pub fn bias_residual(x: &mut [f32], bias: &[f32], residual: Option<&[f32]>) {
    match residual {
        Some(r) => {
            assert_eq!(r.len(), x.len());
            for (row, rrow) in x
                .chunks_exact_mut(bias.len())
                .zip(r.chunks_exact(bias.len()))
            {
                for ((v, b), r) in row.iter_mut().zip(bias).zip(rrow) {
                    *v += b + r;
                }
            }
        }
        None => {
            for row in x.chunks_exact_mut(bias.len()) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
        }
    }
}

/// The 3x3 stride-2 `SAME` patches of an HWC image with `c` channels, one row of `9 * c`
/// values per output pixel in (ky, kx, channel) order, zeros outside the image. Returns the
/// output height and width.
pub fn im2col_3x3_s2(
    input: &[f32],
    h: usize,
    w: usize,
    c: usize,
    out: &mut Vec<f32>,
) -> (usize, usize) {
    assert_eq!(input.len(), h * w * c);
    let (oh, pt) = same_padding(h, 3, 2);
    let (ow, pl) = same_padding(w, 3, 2);
    out.clear();
    out.resize(oh * ow * 9 * c, 0.0);
    for oy in 0..oh {
        for ox in 0..ow {
            let row = &mut out[(oy * ow + ox) * 9 * c..][..9 * c];
            for ky in 0..3 {
                let Some(iy) = (oy * 2 + ky).checked_sub(pt).filter(|&iy| iy < h) else {
                    continue;
                };
                for kx in 0..3 {
                    let Some(ix) = (ox * 2 + kx).checked_sub(pl).filter(|&ix| ix < w) else {
                        continue;
                    };
                    row[(ky * 3 + kx) * c..][..c].copy_from_slice(&input[(iy * w + ix) * c..][..c]);
                }
            }
        }
    }
    (oh, ow)
}

/// Shape of a depthwise convolution.
#[derive(Debug, Clone, Copy)]
pub struct DepthwiseShape {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels (in = out).
    pub c: usize,
    /// Kernel size (square).
    pub k: usize,
    /// Stride (both axes).
    pub stride: usize,
}

impl DepthwiseShape {
    /// Output height and width (`SAME` padding).
    pub fn output(&self) -> (usize, usize) {
        (
            same_padding(self.h, self.k, self.stride).0,
            same_padding(self.w, self.k, self.stride).0,
        )
    }
}

/// Depthwise convolution with `SAME` padding, then bias and ReLU6.
///
/// `input` is HWC, `weight` is (ky, kx, channel) = `k * k * c` values, `out` gets
/// `oh * ow * c` values (resized). Returns the output height and width.
pub fn depthwise(
    input: &[f32],
    shape: DepthwiseShape,
    weight: &[f32],
    bias: &[f32],
    out: &mut Vec<f32>,
) -> (usize, usize) {
    let DepthwiseShape { h, w, c, k, .. } = shape;
    assert_eq!(input.len(), h * w * c);
    assert_eq!(weight.len(), k * k * c);
    assert_eq!(bias.len(), c);
    let (oh, ow) = shape.output();
    out.clear();
    out.resize(oh * ow * c, 0.0);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { depthwise_avx2(input, shape, weight, bias, out) };
        return (oh, ow);
    }
    depthwise_portable(input, shape, weight, bias, out);
    (oh, ow)
}

/// The same loop as [`depthwise_portable`] with explicit AVX2 + FMA vectors: 16 channels in two
/// registers, accumulated over all k*k taps before one store. (Left to itself the compiler
/// unrolled the 16 lanes into scalar FMAs.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn depthwise_avx2(
    input: &[f32],
    shape: DepthwiseShape,
    weight: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let DepthwiseShape { h, w, c, k, stride } = shape;
    let (oh, pt) = same_padding(h, k, stride);
    let (ow, pl) = same_padding(w, k, stride);
    let full = c - c % LANES;
    let (zero, six) = (_mm256_setzero_ps(), _mm256_set1_ps(6.0));
    for oy in 0..oh {
        let top = (oy * stride) as isize - pt as isize;
        let ky0 = (-top).max(0) as usize;
        let ky1 = (h as isize - top).clamp(0, k as isize) as usize;
        // Columns whose whole k-wide window is inside the image: 4 output pixels at a time, so
        // each weight load serves 4 FMAs (the single-pixel loop below is load-bound).
        let ox_lo = pl.div_ceil(stride);
        let ox_hi = if w + pl >= k {
            ((w + pl - k) / stride + 1).min(ow)
        } else {
            0
        };
        let quads = if ox_hi > ox_lo && full == c {
            (ox_hi - ox_lo) / 4
        } else {
            0
        };
        for q in 0..quads {
            let ox = ox_lo + q * 4;
            let left = ox * stride - pl;
            for cb in (0..full).step_by(LANES) {
                let b = &bias[cb..cb + LANES];
                // SAFETY: `b` has 16 values; loadu has no alignment requirement.
                let (b0, b1) = unsafe {
                    (
                        _mm256_loadu_ps(b.as_ptr()),
                        _mm256_loadu_ps(b.as_ptr().add(8)),
                    )
                };
                let mut acc = [[b0, b1]; 4];
                for ky in ky0..ky1 {
                    let iy = (top + ky as isize) as usize;
                    // The input row from the first pixel's window start to the last one's end.
                    let row = &input[(iy * w + left) * c..][..(3 * stride + k) * c];
                    let wrow = &weight[ky * k * c..][..k * c];
                    for kx in 0..k {
                        let wt = &wrow[kx * c + cb..][..LANES];
                        // SAFETY: `wt` has 16 values; the 4 input reads below end at most at
                        // (3 * stride + kx) * c + cb + 16 <= (3 * stride + k) * c = row.len().
                        unsafe {
                            let (w0, w1) = (
                                _mm256_loadu_ps(wt.as_ptr()),
                                _mm256_loadu_ps(wt.as_ptr().add(8)),
                            );
                            for (p, a) in acc.iter_mut().enumerate() {
                                let x = row.as_ptr().add((p * stride + kx) * c + cb);
                                a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x), w0, a[0]);
                                a[1] = _mm256_fmadd_ps(_mm256_loadu_ps(x.add(8)), w1, a[1]);
                            }
                        }
                    }
                }
                for (p, a) in acc.iter().enumerate() {
                    let dst = &mut out[((oy * ow + ox + p) * c + cb)..][..LANES];
                    // SAFETY: `dst` has 16 values.
                    unsafe {
                        _mm256_storeu_ps(
                            dst.as_mut_ptr(),
                            _mm256_min_ps(_mm256_max_ps(a[0], zero), six),
                        );
                        _mm256_storeu_ps(
                            dst.as_mut_ptr().add(8),
                            _mm256_min_ps(_mm256_max_ps(a[1], zero), six),
                        );
                    }
                }
            }
        }
        let (skip_lo, skip_hi) = (ox_lo, ox_lo + quads * 4);
        for ox in (0..ow).filter(|ox| quads == 0 || !(skip_lo..skip_hi).contains(ox)) {
            let left = (ox * stride) as isize - pl as isize;
            let kx0 = (-left).max(0) as usize;
            let kx1 = (w as isize - left).clamp(0, k as isize) as usize;
            let o = &mut out[(oy * ow + ox) * c..][..c];
            for cb in (0..full).step_by(LANES) {
                let b = &bias[cb..cb + LANES];
                // SAFETY: `b` has 16 values; loadu has no alignment requirement.
                let (mut a0, mut a1) = unsafe {
                    (
                        _mm256_loadu_ps(b.as_ptr()),
                        _mm256_loadu_ps(b.as_ptr().add(8)),
                    )
                };
                for ky in ky0..ky1 {
                    let iy = (top + ky as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (left + kx as isize) as usize;
                        // Slicing checks the bounds once per tap, not per lane.
                        let x = &input[(iy * w + ix) * c + cb..][..LANES];
                        let wt = &weight[(ky * k + kx) * c + cb..][..LANES];
                        // SAFETY: both slices have 16 values.
                        unsafe {
                            a0 = _mm256_fmadd_ps(
                                _mm256_loadu_ps(x.as_ptr()),
                                _mm256_loadu_ps(wt.as_ptr()),
                                a0,
                            );
                            a1 = _mm256_fmadd_ps(
                                _mm256_loadu_ps(x.as_ptr().add(8)),
                                _mm256_loadu_ps(wt.as_ptr().add(8)),
                                a1,
                            );
                        }
                    }
                }
                let dst = &mut o[cb..cb + LANES];
                // SAFETY: `dst` has 16 values.
                unsafe {
                    _mm256_storeu_ps(
                        dst.as_mut_ptr(),
                        _mm256_min_ps(_mm256_max_ps(a0, zero), six),
                    );
                    _mm256_storeu_ps(
                        dst.as_mut_ptr().add(8),
                        _mm256_min_ps(_mm256_max_ps(a1, zero), six),
                    );
                }
            }
            for ch in full..c {
                let mut acc = bias[ch];
                for ky in ky0..ky1 {
                    let iy = (top + ky as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (left + kx as isize) as usize;
                        acc = input[(iy * w + ix) * c + ch]
                            .mul_add(weight[(ky * k + kx) * c + ch], acc);
                    }
                }
                o[ch] = relu6(acc);
            }
        }
    }
}

/// Channels handled together: the accumulators stay in registers across all k*k taps.
const LANES: usize = 16;

/// The portable loop (SSE2 on plain x86-64), for CPUs without AVX2 + FMA.
pub(super) fn depthwise_portable(
    input: &[f32],
    shape: DepthwiseShape,
    weight: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    let DepthwiseShape { h, w, c, k, stride } = shape;
    let (oh, pt) = same_padding(h, k, stride);
    let (ow, pl) = same_padding(w, k, stride);
    let full = c - c % LANES;
    for oy in 0..oh {
        // The kernel rows that land inside the image, and the first input row they read.
        let top = (oy * stride) as isize - pt as isize;
        let ky0 = (-top).max(0) as usize;
        let ky1 = (h as isize - top).clamp(0, k as isize) as usize;
        for ox in 0..ow {
            let left = (ox * stride) as isize - pl as isize;
            let kx0 = (-left).max(0) as usize;
            let kx1 = (w as isize - left).clamp(0, k as isize) as usize;
            let o = &mut out[(oy * ow + ox) * c..][..c];
            let mut cb = 0;
            while cb < full {
                let mut acc = [0.0f32; LANES];
                acc.copy_from_slice(&bias[cb..cb + LANES]);
                for ky in ky0..ky1 {
                    let iy = (top + ky as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (left + kx as isize) as usize;
                        let x = &input[(iy * w + ix) * c + cb..][..LANES];
                        let wt = &weight[(ky * k + kx) * c + cb..][..LANES];
                        for l in 0..LANES {
                            acc[l] += x[l] * wt[l];
                        }
                    }
                }
                for l in 0..LANES {
                    o[cb + l] = relu6(acc[l]);
                }
                cb += LANES;
            }
            // Channel counts of this network are multiples of 16; others take this path.
            for ch in full..c {
                let mut acc = bias[ch];
                for ky in ky0..ky1 {
                    let iy = (top + ky as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (left + kx as isize) as usize;
                        acc += input[(iy * w + ix) * c + ch] * weight[(ky * k + kx) * c + ch];
                    }
                }
                o[ch] = relu6(acc);
            }
        }
    }
}
