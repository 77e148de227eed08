//! Each kernel against a plain-loop reference, the whole network on synthetic input (shapes,
//! finite values) and on real photos (ImageNet classes), and a timing run (`--ignored`).

use super::kernels::{self, DepthwiseShape};
use super::*;
use std::path::Path;

/// The largest difference the kernels may have from their reference.
const TOL: f32 = 1.5e-4;

/// A deterministic pseudo-random sequence in [-1, 1) (xorshift; no rand dependency needed).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Plain convolution, HWC in and out, TF `SAME` padding, written from the definition:
/// `groups == c` makes it depthwise (weight (ky, kx, c)), else dense (weight (ky, kx, ci, co)).
#[allow(clippy::too_many_arguments)]
fn reference_conv(
    x: &[f32],
    (h, w, ci): (usize, usize, usize),
    weight: &[f32],
    bias: &[f32],
    k: usize,
    stride: usize,
    depthwise: bool,
) -> Vec<f32> {
    let co = bias.len();
    let oh = h.div_ceil(stride);
    let ow = w.div_ceil(stride);
    let pad_h = ((oh - 1) * stride + k).saturating_sub(h);
    let pad_w = ((ow - 1) * stride + k).saturating_sub(w);
    let (pt, pl) = ((pad_h / 2) as isize, (pad_w / 2) as isize);
    let mut out = vec![0.0f32; oh * ow * co];
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..co {
                let mut acc = bias[o] as f64;
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = (oy * stride + ky) as isize - pt;
                        let ix = (ox * stride + kx) as isize - pl;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let px = (iy as usize * w + ix as usize) * ci;
                        if depthwise {
                            acc += (x[px + o] * weight[(ky * k + kx) * co + o]) as f64;
                        } else {
                            for i in 0..ci {
                                acc +=
                                    (x[px + i] * weight[((ky * k + kx) * ci + i) * co + o]) as f64;
                            }
                        }
                    }
                }
                out[(oy * ow + ox) * co + o] = (acc as f32).clamp(0.0, 6.0);
            }
        }
    }
    out
}

#[test]
fn same_padding_matches_tensorflow() {
    // (len, kernel, stride) -> (out, leading pad), as tf.nn.conv2d(padding='SAME') does.
    assert_eq!(kernels::same_padding(160, 3, 2), (80, 0));
    assert_eq!(kernels::same_padding(161, 3, 2), (81, 1));
    assert_eq!(kernels::same_padding(20, 5, 2), (10, 1));
    assert_eq!(kernels::same_padding(21, 5, 2), (11, 2));
    assert_eq!(kernels::same_padding(7, 5, 1), (7, 2));
    assert_eq!(kernels::same_padding(1, 5, 1), (1, 2));
}

#[test]
fn depthwise_matches_reference_for_every_kernel_and_stride() {
    // Odd and even sizes, tiny maps (kernel larger than the input), a channel count that is not
    // a multiple of the 16 lanes, and the network's own channel counts.
    for (h, w, c) in [
        (9, 7, 32),
        (10, 12, 96),
        (3, 2, 16),
        (1, 1, 48),
        (8, 5, 21),
        (6, 6, 240),
    ] {
        for k in [3, 5] {
            for stride in [1, 2] {
                let seed = (h * 1000 + w * 100 + c + k * 7 + stride) as u64;
                let x = noise(h * w * c, seed);
                let weight = noise(k * k * c, seed + 1);
                let bias: Vec<f32> = noise(c, seed + 2).iter().map(|b| b * 2.0).collect();
                let mut out = Vec::new();
                let shape = DepthwiseShape { h, w, c, k, stride };
                let (oh, ow) = kernels::depthwise(&x, shape, &weight, &bias, &mut out);
                let want = reference_conv(&x, (h, w, c), &weight, &bias, k, stride, true);
                assert_eq!((oh, ow), (h.div_ceil(stride), w.div_ceil(stride)));
                let d = max_diff(&out, &want);
                assert!(d <= TOL, "{h}x{w}x{c} k{k} s{stride}: max diff {d}");
                // The portable loop too (the dispatch above takes AVX2 where the CPU has it).
                let mut portable = vec![0.0; out.len()];
                kernels::depthwise_portable(&x, shape, &weight, &bias, &mut portable);
                let d = max_diff(&portable, &want);
                assert!(
                    d <= TOL,
                    "portable {h}x{w}x{c} k{k} s{stride}: max diff {d}"
                );
            }
        }
    }
}

#[test]
fn stem_im2col_matmul_matches_reference_conv() {
    for (h, w) in [(32, 32), (31, 45), (7, 6)] {
        let x: Vec<f32> = noise(h * w * 3, h as u64).iter().map(|v| v * 1.0).collect();
        let weight = noise(27 * 32, 5);
        let bias = noise(32, 6);
        let mut cols = Vec::new();
        let (oh, ow) = kernels::im2col_3x3_s2(&x, h, w, 3, &mut cols);
        let mut out = vec![0.0; oh * ow * 32];
        kernels::matmul(oh * ow, 27, 32, &cols, &weight, &mut out);
        kernels::bias_relu6(&mut out, &bias);
        let want = reference_conv(&x, (h, w, 3), &weight, &bias, 3, 2, false);
        let d = max_diff(&out, &want);
        assert!(d <= TOL, "{h}x{w}: max diff {d}");
    }
}

#[test]
fn matmul_and_bias_passes_match_plain_loops() {
    for (m, k, n) in [(1, 1280, 1000), (6400, 16, 96), (37, 144, 24), (5, 3, 7)] {
        let a = noise(m * k, (m + k) as u64);
        let b: Vec<f32> = noise(k * n, n as u64)
            .iter()
            .map(|v| v / (k as f32).sqrt())
            .collect();
        let bias = noise(n, 9);
        let residual = noise(m * n, 10);
        let mut want = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k)
                    .map(|p| (a[i * k + p] * b[p * n + j]) as f64)
                    .sum::<f64>() as f32;
            }
        }
        let mut c = vec![f32::NAN; m * n]; // overwritten, never read
        kernels::matmul(m, k, n, &a, &b, &mut c);
        assert!(
            max_diff(&c, &want) <= TOL,
            "{m}x{k}x{n}: {}",
            max_diff(&c, &want)
        );

        let mut relu = c.clone();
        kernels::bias_relu6(&mut relu, &bias);
        let want_relu: Vec<f32> = want
            .iter()
            .enumerate()
            .map(|(i, v)| (v + bias[i % n]).clamp(0.0, 6.0))
            .collect();
        assert!(max_diff(&relu, &want_relu) <= TOL);

        let mut res = c.clone();
        kernels::bias_residual(&mut res, &bias, Some(&residual));
        let want_res: Vec<f32> = want
            .iter()
            .enumerate()
            .map(|(i, v)| v + bias[i % n] + residual[i])
            .collect();
        assert!(max_diff(&res, &want_res) <= TOL);
    }
}

/// A synthetic crop: smooth colour gradients and a disc, no data files needed.
fn synthetic(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        let inside = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < (cx.min(cy) * 0.6).powi(2);
        let r = (x * 255 / width) as u8;
        let g = (y * 255 / height) as u8;
        image::Rgb(if inside { [230, 200, 40] } else { [r, g, 128] })
    })
}

#[test]
fn output_shapes_follow_the_input_size_and_values_are_finite() {
    let net = Backbone::bundled().expect("bundled weights load");
    for (w, h) in [(160u32, 160u32), (97, 131), (32, 32), (224, 224)] {
        let f = net.run(&synthetic(w, h), Outputs::Logits).unwrap();
        let (w, h) = (w as usize, h as usize);
        assert_eq!(
            (f.stride8.height, f.stride8.width, f.stride8.channels),
            (h.div_ceil(8), w.div_ceil(8), 40)
        );
        let s16 = f.stride16.as_ref().unwrap();
        assert_eq!(
            (s16.height, s16.width, s16.channels),
            (h.div_ceil(16), w.div_ceil(16), 112)
        );
        let emb = f.embedding.as_ref().unwrap();
        let logits = f.logits.as_ref().unwrap();
        assert_eq!((emb.len(), logits.len()), (HEAD_CHANNELS, CLASSES));
        for v in f
            .stride8
            .data
            .iter()
            .chain(&s16.data)
            .chain(emb)
            .chain(logits)
        {
            assert!(v.is_finite());
        }
        assert!(
            emb.iter().all(|v| (0.0..=6.0).contains(v)),
            "embedding is after ReLU6"
        );
        assert!(emb.iter().any(|&v| v > 0.0), "embedding is not all zero");
    }
    // Shallower requests compute the same taps and stop there.
    let img = synthetic(97, 131);
    let full = net.run(&img, Outputs::Logits).unwrap();
    let s8 = net.run(&img, Outputs::Stride8).unwrap();
    assert_eq!(s8.stride8, full.stride8);
    assert!(s8.stride16.is_none() && s8.embedding.is_none() && s8.logits.is_none());
    let emb = net.run(&img, Outputs::Embedding).unwrap();
    assert_eq!(emb.stride16, full.stride16);
    assert_eq!(emb.embedding, full.embedding);
    assert!(emb.logits.is_none());
}

#[test]
fn rejects_inputs_below_32_pixels_and_bad_weight_files() {
    let net = Backbone::bundled().unwrap();
    assert_eq!(
        net.run(&synthetic(31, 64), Outputs::Stride8).unwrap_err(),
        BackboneError::InputTooSmall {
            width: 31,
            height: 64
        }
    );
    assert!(matches!(
        Backbone::from_safetensors(b"not a weights file"),
        Err(BackboneError::Format(_))
    ));
    // A valid safetensors file without the network's tensors names the first one missing.
    let mut empty = Vec::new();
    let header = br#"{"__metadata__":{"x":"y"}}"#;
    empty.extend_from_slice(&(header.len() as u64).to_le_bytes());
    empty.extend_from_slice(header);
    assert_eq!(
        Backbone::from_safetensors(&empty).unwrap_err(),
        BackboneError::MissingTensor {
            name: "_conv_stem.weight".into()
        }
    );
}

#[test]
fn backbone_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Backbone>();
}

/// The dataset folder, or None (with the reason printed) when it is missing and
/// `FOODQC_REQUIRE_DATASETS` is not set. Looked for where the project keeps it
/// (`shared/datasets` beside the repository, as CI lays it) and at `/work/shared/datasets`
/// (where a work tree one level deeper finds it).
fn dataset(rel: &str) -> Option<std::path::PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let candidates = [beside, Path::new("/work/shared/datasets").to_path_buf()];
    if let Some(dir) = candidates.iter().map(|d| d.join(rel)).find(|d| d.is_dir()) {
        return Some(dir);
    }
    let looked = candidates
        .map(|d| d.join(rel).display().to_string())
        .join(", ");
    if std::env::var_os("FOODQC_REQUIRE_DATASETS").is_some() {
        panic!("dataset {rel} is missing ({looked}) and FOODQC_REQUIRE_DATASETS is set");
    }
    eprintln!(
        "skipped: dataset {rel} is missing ({looked}); set FOODQC_REQUIRE_DATASETS to fail instead"
    );
    None
}

/// The first `n` photos of a folder (sorted), resized to 224x224 as the classifier was trained.
fn photos(dir: &Path, n: usize) -> Vec<(String, image::RgbImage)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files
        .into_iter()
        .take(n)
        .map(|p| {
            let img = image::open(&p).unwrap().to_rgb8();
            let img =
                image::imageops::resize(&img, 224, 224, image::imageops::FilterType::Triangle);
            (p.file_name().unwrap().to_string_lossy().into_owned(), img)
        })
        .collect()
}

fn top5(logits: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    idx.truncate(5);
    idx
}

/// The conversion (weights, layout, padding, normalisation) is right if ImageNet predictions on
/// real photos are right.
#[test]
fn imagenet_classes_on_real_fruit_photos() {
    const BANANA: usize = 954;
    // ImageNet has no red apple: Granny Smith, strawberry, orange, fig, pomegranate and rose hip
    // are where its apples go.
    const APPLE_LIKE: [usize; 6] = [948, 949, 950, 952, 957, 989];
    let Some(bananas) = dataset("fruit/banana/train/good") else {
        return;
    };
    let Some(apples) = dataset("fruit/apple/train/good") else {
        return;
    };
    let net = Backbone::bundled().unwrap();

    let mut banana_top1 = 0;
    let banana_photos = photos(&bananas, 12);
    for (name, img) in &banana_photos {
        let top = top5(&net.run(img, Outputs::Logits).unwrap().logits.unwrap());
        eprintln!("banana {name}: top-5 {top:?}");
        assert!(
            top.contains(&BANANA),
            "banana photo {name}: top-5 {top:?} lacks class 954"
        );
        banana_top1 += usize::from(top[0] == BANANA);
    }
    assert!(
        banana_top1 * 4 >= banana_photos.len() * 3,
        "banana top-1 on {banana_top1} of 12 photos"
    );

    let mut apple_hits = 0;
    let apple_photos = photos(&apples, 12);
    for (name, img) in &apple_photos {
        let top = top5(&net.run(img, Outputs::Logits).unwrap().logits.unwrap());
        eprintln!("apple {name}: top-5 {top:?}");
        apple_hits += usize::from(top.iter().take(3).any(|c| APPLE_LIKE.contains(c)));
    }
    assert!(
        apple_hits * 4 >= apple_photos.len() * 3,
        "apple-like class in the top-3 of {apple_hits} of 12 photos"
    );
}

#[cfg(unix)]
/// This thread's CPU time in ms: unlike wall time, it does not count the time other processes
/// on a shared machine take the core away.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 * 1e-6
}

/// Median milliseconds per call on this thread (wall and thread CPU time), for the report:
/// `taskset -c 1 cargo test --lib model::backbone::tests::timings -- --ignored --nocapture`.
#[cfg(unix)]
#[test]
#[ignore = "a measurement, not a check"]
fn timings() {
    let net = Backbone::bundled().unwrap();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for side in [160u32, 224] {
        let img = synthetic(side, side);
        for outputs in [
            Outputs::Stride8,
            Outputs::Stride16,
            Outputs::Embedding,
            Outputs::Logits,
        ] {
            for _ in 0..3 {
                net.run(&img, outputs).unwrap();
            }
            let (mut wall, mut cpu) = (Vec::new(), Vec::new());
            for _ in 0..41 {
                let (t, c) = (std::time::Instant::now(), thread_cpu_ms());
                std::hint::black_box(net.run(&img, outputs).unwrap());
                cpu.push(thread_cpu_ms() - c);
                wall.push(t.elapsed().as_secs_f64() * 1e3);
            }
            eprintln!(
                "{side}x{side} {outputs:?}: median {:.2} ms wall, {:.2} ms thread CPU",
                median(wall),
                median(cpu)
            );
        }
    }
}
