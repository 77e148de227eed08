//! Colour distances to the belt, shade-aware, and the belt's dominant colour.

/// How far a pixel is from the belt colour under it (0..=765), not counting shade: a pixel
/// that is the belt colour darkened (a shadow next to an item) is near, so shadows do not
/// join items to each other or to the belt edge. Darker pixels of another hue stay far.
#[inline(always)]
pub fn belt_distance(p: [u8; 3], belt: [u8; 3]) -> u16 {
    belt_distance_given(p, belt, color_l1(p, belt))
}

/// [`belt_distance`] when the colour distance `d` of `p` to `belt` is already known.
#[inline(always)]
pub(super) fn belt_distance_given(p: [u8; 3], belt: [u8; 3], d: u16) -> u16 {
    let sp = u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
    let sb = u32::from(belt[0]) + u32::from(belt[1]) + u32::from(belt[2]);
    // Shadows darken to 35..100 % of the belt and keep its chromaticity.
    if sb == 0 || sp >= sb || sp * 100 < sb * 35 {
        return d;
    }
    shadow_distance(p, belt, d, sp, sb)
}

/// [`belt_distance`] of a pixel darker than the belt: its chromaticity difference when that is
/// small (a shadow), else the colour distance `d`. Out of line: the common case is above.
#[inline(never)]
fn shadow_distance(p: [u8; 3], belt: [u8; 3], d: u16, sp: u32, sb: u32) -> u16 {
    // Chromaticity difference, in the same 0..765 scale as the colour distance.
    let mut chroma = 0u32;
    for c in 0..3 {
        let a = u32::from(p[c]) * sb;
        let b = u32::from(belt[c]) * sp;
        chroma += a.abs_diff(b) * 255 / (sp * sb).max(1);
    }
    // Dark pixels carry more noise in their chromaticity: allow for it.
    let tolerance = 20 + 2000 / sp.max(10);
    if chroma <= tolerance {
        (chroma as u16).min(d)
    } else {
        d
    }
}

/// L1 distance between two RGB colours (0..=765).
#[inline]
pub fn color_l1(a: [u8; 3], b: [u8; 3]) -> u16 {
    u16::from(a[0].abs_diff(b[0])) + u16::from(a[1].abs_diff(b[1])) + u16::from(a[2].abs_diff(b[2]))
}

/// The most common colour (4 bits per channel, then averaged): the belt, which covers most
/// of a frame.
pub(super) fn dominant_color(px: &[[u8; 3]]) -> [u8; 3] {
    let mut hist = vec![0u32; 4096];
    let bin = |p: &[u8; 3]| {
        ((p[0] as usize >> 4) << 8) | ((p[1] as usize >> 4) << 4) | (p[2] as usize >> 4)
    };
    for p in px {
        hist[bin(p)] += 1;
    }
    let best = hist
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| **c)
        .map(|(b, _)| b)
        .unwrap_or(0);
    let (mut sum, mut n) = ([0u64; 3], 0u64);
    for p in px.iter().filter(|p| bin(p) == best) {
        for c in 0..3 {
            sum[c] += u64::from(p[c]);
        }
        n += 1;
    }
    let n = n.max(1);
    [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]
}
