//! Any bytes given as an image (a camera frame, a file in a watched folder): decoded or
//! refused with an error, never a panic or an abort, at full size and binned.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = foodqc::imageio::decode_rgb(data);
    for binning in [2, 4] {
        let _ = foodqc::imageio::decode_rgb_binned(data, binning);
    }
});
