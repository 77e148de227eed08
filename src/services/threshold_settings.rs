//! The Thresholds tab's work off the UI: finding and loading the score file of the live model
//! into a [`Workbench`], reading the setting history of a model version, applying a new
//! setting (audit log), and scoring a few test images for the pixel-threshold preview.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use super::workbench::{PRODUCTION_ITEMS, Workbench};
use crate::domain::{GOOD, SignedAction, Thresholds};
use crate::inspect::{HeatMap, Inspector};
use crate::model::AnomalyModel;
use crate::model::operating::{LabelledScore, ScoreFile};
use crate::services::auth::AuthUser;
use crate::services::signing::{self, SignError, SignatureInput};
use crate::store::{Store, StoreError, ThresholdSetting};

/// Longest side of preview pictures, pixels.
pub const PREVIEW_SIDE: u32 = 250;

/// Why thresholds could not be loaded, applied or previewed.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The score file cannot be read.
    #[error("{0}")]
    ScoreFile(String),
    /// The model version is not in the database (the line registers it when it starts).
    #[error("{}", crate::tr!("err-services-threshold-settings-not-registered", version = .version.to_string(), db = .db.display().to_string()))]
    NotRegistered { version: String, db: PathBuf },
    /// The thresholds are not valid.
    #[error("{0}")]
    Invalid(String),
    /// A preview image or mask cannot be read.
    #[error("{0}")]
    Image(String),
    /// The signature was refused (role, password, reason).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The score file names no image that exists on disk.
    #[error("{}", crate::tr!("err-services-threshold-settings-no-preview-images"))]
    NoPreviewImages,
}

/// Find the score file of the live model: `<name>_scores.json` in the models folder whose
/// model version matches, else the newest score file there.
pub fn default_score_file(models_dir: &Path, version: &str) -> Option<PathBuf> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(models_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_scores.json"))
        })
        .map(|p| {
            let t = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    files.sort();
    for (_, p) in files.iter().rev() {
        if ScoreFile::load(p).is_ok_and(|f| f.model_version == version) {
            return Some(p.clone());
        }
    }
    files.pop().map(|f| f.1)
}

/// The labelled scores of `score_file` (when given) plus the last production scores of the
/// store (labelled ones join the labelled set), as a workbench.
pub fn load_workbench(
    score_file: Option<&Path>,
    store: &Store,
) -> Result<Workbench, ThresholdError> {
    let mut items = Vec::new();
    let mut source = Vec::new();
    let mut dataset = None;
    if let Some(p) = score_file {
        let f = ScoreFile::load(p).map_err(|e| ThresholdError::ScoreFile(format!("{e:#}")))?;
        source.push(format!(
            "{} ({} items, model {})",
            p.display(),
            f.items.len(),
            f.model_version
        ));
        items = f.items;
        dataset = Some(PathBuf::from(f.dataset));
    }
    let recent = store.recent_scores(PRODUCTION_ITEMS)?;
    let mut labelled = 0;
    for r in &recent {
        if let Some(l) = &r.label {
            labelled += 1;
            items.push(LabelledScore {
                score: r.score,
                class: l.clone(),
                origin: "production".into(),
            });
        }
    }
    let production = recent.len();
    source.push(crate::tr!(
        "thr-source-production",
        count = production,
        labelled = labelled
    ));
    let mut w = Workbench::build(
        source.join(" + "),
        items,
        recent.iter().map(|r| r.score).collect(),
    );
    w.dataset = dataset;
    Ok(w)
}

/// The settings applied to `version`, newest (the one in force) first; empty when the
/// version is not registered.
pub fn history(store: &Store, version: &str) -> Result<Vec<ThresholdSetting>, ThresholdError> {
    match store.model_version_id(version)? {
        Some(id) => Ok(store.threshold_history(id)?),
        None => Ok(Vec::new()),
    }
}

/// Apply `new` as the setting of `version` (replacing `old`, both in the audit log) under
/// `user`'s signature (a QC manager: password again and reason, bound to the version and the
/// new values), and return it with the new history.
pub fn apply(
    store: &mut Store,
    user: &AuthUser,
    version: &str,
    new: Thresholds,
    old: &Thresholds,
    input: &SignatureInput,
) -> Result<(Thresholds, Vec<ThresholdSetting>), ThresholdError> {
    user.require(SignedAction::ApplyThresholds.permission())
        .map_err(SignError::from)?;
    new.validate()
        .map_err(|e| ThresholdError::Invalid(e.to_string()))?;
    let id = store
        .model_version_id(version)?
        .ok_or_else(|| ThresholdError::NotRegistered {
            version: version.to_string(),
            db: store.path().to_path_buf(),
        })?;
    let content = serde_json::json!({ "version": version, "thresholds": new });
    let sig = signing::prepare(
        store,
        user,
        SignedAction::ApplyThresholds,
        version,
        signing::content_hash(&content),
        input,
    )?;
    store.apply_thresholds_signed(id, &new, old, &sig)?;
    let h = store.threshold_history(id)?;
    Ok((new, h))
}

/// A test image scored once for the pixel-threshold preview: re-thresholding its heat maps
/// is cheap, so a preview can follow the pixel threshold at frame rate.
pub struct PreviewImage {
    /// File name, class and score.
    pub name: String,
    /// The photo, at most [`PREVIEW_SIDE`] pixels on its longest side.
    pub photo: RgbImage,
    /// The ground-truth mask at the photo's size, for defective images that have one.
    pub mask: Option<RgbImage>,
    /// Photo pixels per preview pixel.
    pub scale: f32,
    /// The heat maps of its items, in full-photo pixels.
    pub heats: Vec<HeatMap>,
}

/// Score up to `n` defective images with a ground-truth mask (under `dataset`) and one good
/// image from `items`.
pub fn load_previews(
    items: &[LabelledScore],
    dataset: Option<&Path>,
    model: Arc<AnomalyModel>,
    n: usize,
) -> Result<Vec<PreviewImage>, ThresholdError> {
    let mask_of = |it: &LabelledScore| -> Option<PathBuf> {
        let root = dataset?;
        let stem = Path::new(&it.origin)
            .file_stem()?
            .to_string_lossy()
            .to_string();
        let m = root
            .join("ground_truth")
            .join(&it.class)
            .join(format!("{stem}_mask.png"));
        m.is_file().then_some(m)
    };
    let mut picked: Vec<(LabelledScore, Option<PathBuf>)> = items
        .iter()
        .filter(|i| i.class != GOOD && Path::new(&i.origin).is_file())
        .filter_map(|i| mask_of(i).map(|m| (i.clone(), Some(m))))
        .take(n)
        .collect();
    if let Some(g) = items
        .iter()
        .find(|i| i.class == GOOD && Path::new(&i.origin).is_file())
    {
        picked.push((g.clone(), None));
    }
    if picked.is_empty() {
        return Err(ThresholdError::NoPreviewImages);
    }
    let mut inspector = Inspector::new(model);
    picked
        .into_iter()
        .map(|(it, mask)| preview_image(&mut inspector, &it, mask.as_deref()))
        .collect()
}

fn preview_image(
    inspector: &mut Inspector,
    it: &LabelledScore,
    mask: Option<&Path>,
) -> Result<PreviewImage, ThresholdError> {
    use image::imageops::{FilterType, resize};
    let path = Path::new(&it.origin);
    let img = crate::imageio::load_rgb(path).map_err(|e| ThresholdError::Image(e.to_string()))?;
    let (w, h) = img.dimensions();
    let scale = (w.max(h) as f32 / PREVIEW_SIDE as f32).max(1.0);
    let (pw, ph) = ((w as f32 / scale) as u32, (h as f32 / scale) as u32);
    let photo = resize(&img, pw, ph, FilterType::Triangle);
    let insp = inspector.inspect(0, std::time::SystemTime::now(), Arc::new(img), None, true);
    let mask = match mask {
        Some(m) => {
            let gray = image::open(m)
                .map_err(|e| {
                    ThresholdError::Image(format!("cannot read mask {}: {e}", m.display()))
                })?
                .into_rgb8();
            Some(resize(&gray, pw, ph, FilterType::Nearest))
        }
        None => None,
    };
    Ok(PreviewImage {
        name: format!(
            "{} ({}, score {:.2})",
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            it.class,
            it.score
        ),
        photo,
        mask,
        scale,
        heats: insp.items.into_iter().filter_map(|i| i.heat).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::services::auth::testing::{signed, signed_in, station_with};
    use crate::store::NewModelVersion;

    #[test]
    fn apply_needs_a_registered_version_and_records_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = station_with(
            dir.path(),
            &[
                ("qc.anna", Role::QcManager),
                ("ds.maria", Role::DataScientist),
            ],
        );
        let qc = signed_in(&mut store, "qc.anna");
        let ds = signed_in(&mut store, "ds.maria");
        let old = Thresholds {
            reject: 1.0,
            pixel: 1.5,
            review: None,
            per_class: Default::default(),
        };
        let new = Thresholds {
            reject: 1.2,
            review: Some(0.9),
            ..old.clone()
        };
        let e = apply(&mut store, &qc, "v1", new.clone(), &old, &signed("why")).unwrap_err();
        assert!(e.to_string().contains("start the line first"), "{e}");
        assert!(history(&store, "v1").unwrap().is_empty());
        store
            .register_model_version(&NewModelVersion {
                version: "v1".into(),
                path: dir.path().join("v1.json"),
                kind: "test".into(),
                params: serde_json::json!({}),
                metrics: serde_json::json!({}),
                data_snapshot: serde_json::json!({}),
            })
            .unwrap();
        let bad = Thresholds {
            reject: f64::NAN,
            ..old.clone()
        };
        assert!(matches!(
            apply(&mut store, &qc, "v1", bad, &old, &signed("x")),
            Err(ThresholdError::Invalid(_))
        ));
        // A data scientist tunes thresholds but does not apply them.
        assert!(matches!(
            apply(&mut store, &ds, "v1", new.clone(), &old, &signed("x")),
            Err(ThresholdError::Sign(SignError::Denied(_)))
        ));
        let (t, h) = apply(&mut store, &qc, "v1", new.clone(), &old, &signed("tighter")).unwrap();
        assert_eq!(t, new);
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].set_by.as_str(), h[0].reason.as_str()),
            ("qc.anna", "tighter")
        );
        assert_eq!(history(&store, "v1").unwrap(), h);
        let sigs = store.recent_signatures(5).unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(
            (sigs[0].action.as_str(), sigs[0].meaning.as_str()),
            ("thresholds.apply", "approved")
        );
    }

    #[test]
    fn workbench_from_an_empty_store_and_a_missing_score_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let w = load_workbench(None, &store).unwrap();
        assert!(w.items.is_empty() && w.production.is_empty());
        assert_eq!(w.source, "last 0 production items (0 labelled)");
        assert!(matches!(
            load_workbench(Some(&dir.path().join("none_scores.json")), &store),
            Err(ThresholdError::ScoreFile(_))
        ));
        assert!(default_score_file(dir.path(), "v").is_none());
        assert!(matches!(
            load_previews(&[], None, Arc::new(AnomalyModel::bundled().unwrap()), 3),
            Err(ThresholdError::NoPreviewImages)
        ));
    }
}
