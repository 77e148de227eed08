//! Any bytes as the `labels.csv` of an exported dataset folder beside two real images: the
//! import takes what it can and lists the rest, never panics.
#![no_main]

use std::sync::atomic::AtomicBool;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("export");
    for (rel, shade) in [("good/1.png", 40u8), ("crack/2.png", 200)] {
        let p = tree.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(8, 8, image::Rgb([shade, 10, 10]))
            .save(&p)
            .unwrap();
    }
    std::fs::write(tree.join("labels.csv"), data).unwrap();
    let _ = foodqc::labeling::import::detect_layout(&tree);
    let mut store = foodqc::store::Store::open(&dir.path().join("db.sqlite")).unwrap();
    let _ = foodqc::labeling::import::import_paths(
        &mut store,
        &dir.path().join("samples"),
        &[tree],
        "fuzz",
        &AtomicBool::new(false),
        &mut |_| {},
    );
});
