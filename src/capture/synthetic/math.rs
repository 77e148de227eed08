//! Small numeric helpers of the renderer: rounding, interpolation, outline harmonics and
//! segment distance.

/// `floor` as an integer without a libm call (baseline x86-64 has no rounding instruction).
#[inline]
pub(super) fn floor_i32(v: f32) -> i32 {
    let i = v as i32;
    if (i as f32) > v { i - 1 } else { i }
}

/// Rounds a colour value to 0..=255.
#[inline]
pub(super) fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

/// Linear interpolation from `a` (t = 0) to `b` (t = 1).
#[inline]
pub(super) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// [`lerp`] of each channel.
#[inline]
pub(super) fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

/// Hermite step from 0 (at `e0`) to 1 (at `e1`).
#[inline]
pub(super) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `sum amp * cos(k*theta + phase)` over `terms` `(k, amp, cos phase, sin phase)` for the angle
/// whose (cos, sin) is `(c1, s1)`; powers of e^(i theta) avoid atan2 and cos per pixel.
#[inline]
pub(super) fn harmonics(c1: f32, s1: f32, terms: &[(u32, f32, f32, f32)]) -> f32 {
    let (mut ck, mut sk, mut k) = (c1, s1, 1);
    let mut sum = 0.0;
    for &(order, amp, pc, ps) in terms {
        while k < order {
            (ck, sk) = (ck * c1 - sk * s1, sk * c1 + ck * s1);
            k += 1;
        }
        sum += amp * (ck * pc - sk * ps);
    }
    sum
}

/// Distance from `(px, py)` to the segment a-b, and the position 0..=1 of the nearest point.
#[inline]
pub(super) fn segment_distance(px: f32, py: f32, a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let l2 = vx * vx + vy * vy;
    let t = if l2 > 0.0 {
        (((px - a.0) * vx + (py - a.1) * vy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * vx - px, a.1 + t * vy - py);
    ((qx * qx + qy * qy).sqrt(), t)
}
