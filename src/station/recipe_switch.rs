//! What a recipe changes in a running station: the model version (loaded from where it was
//! registered), the thresholds, reject on doubt. Resolved against the database before the
//! switch, so a recipe that cannot be applied leaves the line as it was.

use std::sync::Arc;

use crate::domain::Recipe;
use crate::model::{AnomalyModel, GradeClassifier, InspectionModel};
use crate::store::{Store, StoredRecipe};
use crate::vision::segment::SegmentConfig;

/// How `recipe` finds items: the model file's settings (`model_file`) with the recipe's
/// smallest item and belt contrast on top.
pub(crate) fn item_finding(recipe: Option<&Recipe>, model_file: &SegmentConfig) -> SegmentConfig {
    let mut seg = model_file.clone();
    if let Some(r) = recipe {
        if let Some(a) = r.min_item_area {
            seg.min_item_area_frac = a;
        }
        if let Some(c) = r.min_belt_contrast {
            seg.min_threshold = c;
        }
    }
    seg
}

/// `model` finding items with `seg` (the same model when it already does).
pub(crate) fn with_item_finding(model: Arc<AnomalyModel>, seg: SegmentConfig) -> Arc<AnomalyModel> {
    if model.segment == seg {
        return model;
    }
    Arc::new(AnomalyModel {
        segment: seg,
        ..(*model).clone()
    })
}

/// A recipe made ready to judge with.
pub(crate) struct ResolvedRecipe {
    /// The stored version.
    pub stored: StoredRecipe,
    /// The model (and classifier) to judge with, when the recipe names another version than
    /// the running one.
    pub model: Option<InspectionModel>,
}

/// The newest version of recipe `name`, resolved; `running` is the model judging now. The
/// error names the recipe and what is missing.
pub(crate) fn resolve(
    store: &Store,
    name: &str,
    running: &AnomalyModel,
) -> Result<ResolvedRecipe, String> {
    let stored = store
        .recipe(name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| crate::tr!("recipe-unknown", recipe = name))?;
    resolve_stored(store, stored, running)
}

/// [`resolve`] for a recipe already read (the PLC's choice).
pub(crate) fn resolve_stored(
    store: &Store,
    stored: StoredRecipe,
    running: &AnomalyModel,
) -> Result<ResolvedRecipe, String> {
    let model = match &stored.recipe.model_version {
        Some(v) if *v != running.version => Some(load_model(store, &stored.recipe, v)?),
        _ => None,
    };
    Ok(ResolvedRecipe { stored, model })
}

/// Model version `version` of `recipe`: the bundled model, or the registered file.
fn load_model(store: &Store, recipe: &Recipe, version: &str) -> Result<InspectionModel, String> {
    let bundled = AnomalyModel::bundled().map_err(|e| e.to_string())?;
    if bundled.version == version {
        return Ok(InspectionModel::paired(Arc::new(bundled)));
    }
    let rows = store.list_model_versions().map_err(|e| e.to_string())?;
    let row = rows
        .into_iter()
        .find(|r| r.version == version && !r.path.as_os_str().is_empty())
        .ok_or_else(|| {
            crate::tr!(
                "recipe-model-not-registered",
                recipe = recipe.recipe_name(),
                version = version
            )
        })?;
    let model = AnomalyModel::load(&row.path).map_err(|e| e.to_string())?;
    if model.version != version {
        return Err(crate::tr!(
            "recipe-model-mismatch",
            recipe = recipe.recipe_name(),
            path = row.path.display().to_string(),
            found = model.version.as_str(),
            version = version
        ));
    }
    let classifier = match GradeClassifier::beside(&row.path) {
        Some(Ok(c)) => Some(Arc::new(c)),
        Some(Err(e)) => return Err(e.to_string()),
        None => None,
    };
    Ok(InspectionModel::new(Arc::new(model), classifier))
}
