//! Look constants of the synthetic line (colours in sRGB 0..255, fractions of the item radius
//! unless noted).

/// Belt base colour: dark blue-grey, far from every item colour.
pub(super) const BELT_RGB: [f32; 3] = [45.0, 48.0, 52.0];
/// Width of the antialiased item edge, px (coverage goes 0 -> 1 over this distance).
pub(super) const EDGE: f32 = 1.4;
/// Largest ellipticity: semi-axes are r(1 +- e).
pub(super) const ECC_MAX: f32 = 0.06;
/// Largest amplitudes of the outline radius harmonics k = 2..=6 (low-frequency wobble).
pub(super) const HARM_MAX: [f32; 5] = [0.022, 0.016, 0.012, 0.008, 0.006];
/// Darkening of the belt in the full cast shadow (0..1).
pub(super) const SHADOW_DEPTH: f32 = 0.22;
/// Colour of the sugar crystals on the surface.
pub(super) const SUGAR_RGB: [f32; 3] = [242.0, 228.0, 192.0];
/// Colour of the charred core of a burnt spot.
pub(super) const BURNT_RGB: [f32; 3] = [34.0, 22.0, 14.0];
/// Colour of the scorched ring around a burnt spot.
pub(super) const BURNT_HALO_RGB: [f32; 3] = [112.0, 62.0, 26.0];
/// Colour of the inside of a crack.
pub(super) const CRACK_RGB: [f32; 3] = [48.0, 30.0, 18.0];
/// Foreign matter colours: blue plastic, green plastic, metallic grey-white.
pub(super) const FOREIGN_RGB: [[f32; 3]; 3] = [
    [30.0, 95.0, 232.0],
    [48.0, 190.0, 62.0],
    [178.0, 186.0, 200.0],
];
