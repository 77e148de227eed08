//! An ImageNet-pretrained EfficientNet-Lite0, run on the CPU in pure Rust: mid-level feature
//! maps and a pooled embedding of an item crop, for the anomaly detector and the grade
//! classifier.
//!
//! The weights (`models/efficientnet-lite0/`, Apache-2.0, see its PROVENANCE.md) are embedded
//! in the binary as f16 with the batch norms folded in, and loaded once, as f32, on first use.
//! The network is the one the weights were trained as: TensorFlow `SAME` padding, ReLU6, input
//! `(x - 127) / 128`. Its kernels are in `kernels.rs` (depthwise conv, stem im2col, fused
//! bias + ReLU6) and every 1x1 conv is one matrix product (`gemm`).
//!
//! Taps: [`FeatureMap`]s are channels-last.
//! - `stride8`: output of the last 40-channel block (blocks 3-4, 5x5 kernels), 1/8 of the input
//!   size: local texture and colour, fine enough to place a bruise or a crack;
//! - `stride16`: output of the last 112-channel block (blocks 8-10, 5x5 kernels), 1/16: parts
//!   of objects. This is the deepest stride-16 layer; the 80-channel stage before it is
//!   shallower and narrower.
//!
//! These are PatchCore's usual choice (the ends of the two middle stages of a backbone), taken
//! after the residual add, before the next stage's expansion.
//!
//! One call runs on the calling thread only; callers parallelise over items.
//!
//! Why these kernels and not a framework's stock ops (measured on the project's 2-core
//! machine, dev profile, one thread, medians):
//! - candle-core 0.11.1's `conv2d(groups = C)` splits a depthwise conv into one conv per
//!   channel: the 16 depthwise convs at 160x160 took 80.6 ms there, 3.1 ms here;
//! - its matmul is the same `gemm` call as `kernels.rs` makes (7.2 against 7.8 ms for the
//!   31 1x1 convs at 160x160, within the noise), so we call `gemm` directly and leave out
//!   candle, whose own build is ~3 min of CPU (plus tokenizers, zip, ...);
//! - `matrixmultiply` (already in the tree through ndarray): stride 8 at 160x160 in 7.6 ms
//!   against 4.6 ms with `gemm`; `gemm`'s AVX-512 kernels (feature `x86-v4`) gained nothing.
//! - glibc's malloc tunables (see `tune_malloc`): 224x224 stride 8 in 9.4 ms with them, 12.2 ms
//!   without.
//!
//! Whole network, median ms of thread CPU time per call (`tests::timings`; the lower figure on
//! a quiet machine, the higher with other builds running): 160x160: stride 8 4.5-5.1,
//! stride 16 7.9-8.9, embedding 11.5-14.0; 224x224: 9.4-10.3, 16.3-17.6, 24.3-25.0. About 55%
//! of it is the 1x1 convs (`gemm`), 27% the depthwise convs.

mod kernels;
mod net;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use net::{CLASSES, HEAD_CHANNELS};

/// The bundled weights: EfficientNet-Lite0, ImageNet, f16, batch norms folded.
static BUNDLED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/efficientnet-lite0/efficientnet-lite0.f16.safetensors"
));

/// The smallest input side: at stride 32 the last stage still has one pixel.
pub const MIN_INPUT_SIDE: u32 = 32;

/// Why the backbone could not be loaded or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackboneError {
    /// The weights are not a readable safetensors file.
    #[error("{}", crate::tr!("err-model-backbone-format", v0 = .0.to_string()))]
    Format(String),
    /// A tensor the network needs is not in the file.
    #[error("{}", crate::tr!("err-model-backbone-missing-tensor", name = .name.to_string()))]
    MissingTensor {
        /// Its name.
        name: String,
    },
    /// A tensor has another shape than EfficientNet-Lite0's.
    #[error("{}", crate::tr!("err-model-backbone-shape", name = .name.to_string(), found = format!("{:?}", .found), expected = format!("{:?}", .expected)))]
    Shape {
        /// Its name.
        name: String,
        /// The shape in the file.
        found: Vec<usize>,
        /// The shape the network needs.
        expected: Vec<usize>,
    },
    /// A tensor is stored in a type other than F16 or F32.
    #[error("{}", crate::tr!("err-model-backbone-d-type", name = .name.to_string(), found = .found.to_string()))]
    DType {
        /// Its name.
        name: String,
        /// The stored type.
        found: String,
    },
    /// The input image is smaller than [`MIN_INPUT_SIDE`] on a side.
    #[error("{}", crate::tr!("err-model-backbone-input-too-small", width = .width.to_string(), height = .height.to_string()))]
    InputTooSmall {
        /// Input width.
        width: u32,
        /// Input height.
        height: u32,
    },
}

/// How deep [`Backbone::run`] goes; each level includes the shallower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outputs {
    /// The stride-8 feature map only (blocks 0-4 of 16).
    Stride8,
    /// Stride 8 and stride 16 (blocks 0-10).
    Stride16,
    /// Both feature maps and the pooled 1280-d embedding (the whole network but the classifier).
    Embedding,
    /// All of the above and the 1000 ImageNet logits.
    Logits,
}

/// A feature map, channels-last.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Values per pixel.
    pub channels: usize,
    /// Channels-last (HWC): the value of channel `c` at `(y, x)` is
    /// `data[(y * width + x) * channels + c]`.
    pub data: Vec<f32>,
}

impl FeatureMap {
    /// The `channels` values of one pixel.
    pub fn pixel(&self, y: usize, x: usize) -> &[f32] {
        &self.data[(y * self.width + x) * self.channels..][..self.channels]
    }
}

/// What one [`Backbone::run`] computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// 40 channels at 1/8 of the input size (`ceil(side / 8)`).
    pub stride8: FeatureMap,
    /// 112 channels at 1/16 of the input size; asked for with [`Outputs::Stride16`] or deeper.
    pub stride16: Option<FeatureMap>,
    /// The global average pool of the head (1280 values, after ReLU6, so in `[0, 6]`); asked
    /// for with [`Outputs::Embedding`] or deeper.
    pub embedding: Option<Vec<f32>>,
    /// The 1000 ImageNet class scores (before softmax); asked for with [`Outputs::Logits`].
    pub logits: Option<Vec<f32>>,
}

/// EfficientNet-Lite0 with its weights, ready to run; `Send + Sync`, shared by reference.
pub struct Backbone {
    net: net::Net,
}

impl std::fmt::Debug for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backbone")
            .field("blocks", &self.net.blocks.len())
            .finish()
    }
}

impl Backbone {
    /// The bundled EfficientNet-Lite0 (loaded once, on first call, from the weights embedded in
    /// the binary).
    pub fn bundled() -> Result<&'static Backbone, BackboneError> {
        static BUNDLED: OnceLock<Result<Backbone, BackboneError>> = OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                tune_malloc();
                Backbone::from_safetensors(BUNDLED_WEIGHTS)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Loads EfficientNet-Lite0 from a safetensors file laid out as
    /// `models/efficientnet-lite0/convert.py` writes it (F16 or F32, batch norms folded).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Backbone, BackboneError> {
        Ok(Backbone {
            net: net::Net::load(bytes)?,
        })
    }

    /// Runs the network on an RGB crop (any size >= 32x32; the caller chooses the size, e.g.
    /// resizes the item crop to 160x160 or 224x224), computing only up to the deepest output
    /// asked for.
    pub fn run(&self, rgb: &image::RgbImage, outputs: Outputs) -> Result<Features, BackboneError> {
        let (width, height) = rgb.dimensions();
        if width < MIN_INPUT_SIDE || height < MIN_INPUT_SIDE {
            return Err(BackboneError::InputTooSmall { width, height });
        }
        // The TF Lite models' normalisation (MEAN_RGB 127, STDDEV_RGB 128).
        let data = rgb
            .as_raw()
            .iter()
            .map(|&v| (f32::from(v) - 127.0) * (1.0 / 128.0))
            .collect();
        let input = net::Activation {
            h: height as usize,
            w: width as usize,
            c: 3,
            data,
        };
        let depth = match outputs {
            Outputs::Stride8 => 0,
            Outputs::Stride16 => 1,
            Outputs::Embedding => 2,
            Outputs::Logits => 3,
        };
        let taps = net::forward(&self.net, input, depth);
        let map = |a: net::Activation| FeatureMap {
            height: a.h,
            width: a.w,
            channels: a.c,
            data: a.data,
        };
        Ok(Features {
            stride8: map(taps.stride8),
            stride16: taps.stride16.map(map),
            embedding: taps.embedding,
            logits: taps.logits,
        })
    }
}

/// Keeps glibc from handing each large activation buffer back to the kernel on free and
/// mapping it afresh (zeroed pages, page faults) on the next call: a forward pass allocates
/// buffers of several MB. Process-wide; set once, when the bundled backbone is first loaded.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is called once, before our first
    // large allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
