//! Any text given as a model file: loaded (and then scored without a panic) or refused with
//! an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("fuzz.json");
    if let Ok(model) = foodqc::model::AnomalyModel::from_json(text, path) {
        // A model that loads must judge an item without panicking.
        let frame = image::RgbImage::from_pixel(64, 64, image::Rgb([90, 90, 90]));
        let mut seg = foodqc::vision::segment::Segmenter::new(model.segment.clone());
        for region in seg.segment(&frame) {
            let _ = model.assess(&frame, &region);
        }
    }
});
