//! Item outlines: border following on a crop mask, simplified to a polygon in frame pixels.

use image::GrayImage;

use crate::domain::BBox;

/// The outer outline of a crop mask holding one item (one 8-connected component, as the
/// masks of [`ItemRegion`]), in frame coordinates, simplified to about one point per 2 px of
/// deviation.
pub fn outer_contour(mask: &GrayImage, bbox: BBox) -> Vec<[f32; 2]> {
    let outer = trace_outer_border(mask);
    if outer.is_empty() {
        return Vec::new();
    }
    let simplified = imageproc::geometry::approximate_polygon_dp(&outer, 1.5, true);
    simplified
        .iter()
        .map(|p| {
            [
                (bbox.x as i32 + p.x) as f32 + 0.5,
                (bbox.y as i32 + p.y) as f32 + 0.5,
            ]
        })
        .collect()
}

/// Moore neighbours in the order of `imageproc::contours`: w, nw, n, ne, e, se, s, sw.
const NEIGHBOURS: [(i32, i32); 8] = [
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
];

/// The outer border of the component holding the mask's first set pixel (raster order), as
/// the same points, in the same order, as the first contour of
/// `imageproc::contours::find_contours` (Suzuki-Abe border following) on the mask padded by
/// one background pixel. Follows the border only: no copy of the mask, no scan of the crop.
pub fn trace_outer_border(mask: &GrayImage) -> Vec<imageproc::point::Point<i32>> {
    use imageproc::point::Point;
    let (w, h) = (mask.width() as i32, mask.height() as i32);
    let raw = mask.as_raw();
    let Some(first) = raw.iter().position(|&v| v != 0) else {
        return Vec::new();
    };
    let set = |x: i32, y: i32| x >= 0 && y >= 0 && x < w && y < h && raw[(y * w + x) as usize] != 0;
    let dir = |from: Point<i32>, to: Point<i32>| {
        let d = (to.x - from.x, to.y - from.y);
        NEIGHBOURS.iter().position(|n| *n == d).expect("neighbours")
    };
    let start = Point::new(first as i32 % w, first as i32 / w);
    // Clockwise from the west neighbour (background: the first set pixel has none before it).
    let Some(pos1) = (0..8).map(|k| NEIGHBOURS[k]).find_map(|(dx, dy)| {
        set(start.x + dx, start.y + dy).then(|| Point::new(start.x + dx, start.y + dy))
    }) else {
        return vec![start];
    };
    let mut points = Vec::new();
    let (mut pos2, mut pos3) = (pos1, start);
    loop {
        points.push(pos3);
        // Counter-clockwise from the neighbour before the previous point.
        let k = dir(pos3, pos2);
        let pos4 = (1..=8)
            .map(|j| NEIGHBOURS[(k + 8 - j) % 8])
            .find_map(|(dx, dy)| {
                set(pos3.x + dx, pos3.y + dy).then(|| Point::new(pos3.x + dx, pos3.y + dy))
            })
            .expect("the previous point is set");
        if pos4 == start && pos3 == pos1 {
            break;
        }
        pos2 = pos3;
        pos3 = pos4;
    }
    points
}
