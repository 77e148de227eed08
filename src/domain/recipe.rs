//! Recipes: a named, versioned product setup a line switches to at a changeover — the model
//! version, the thresholds, how items are found (smallest item, contrast to the belt), reject
//! on doubt, the PLC's recipe index that selects it, and the items a frame is expected to hold.
//! Saving a recipe again makes a new version; the newest version of a name is the one a switch
//! uses. The belt's colour is not part of it: the item finder learns it from every frame.

use serde::{Deserialize, Serialize};

use super::Thresholds;

/// One product setup. Stored as JSON (`recipes.body`), exported and imported as a file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Name people choose it by (`galleta-vainilla`).
    pub name: String,
    /// Version, from 1; given by the database when saved (0 in a file: "the next one").
    #[serde(default)]
    pub version: u32,
    /// Index the PLC writes into its recipe register to select this recipe (1..=65535).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plc_index: Option<u16>,
    /// Model version to judge with (a registered version); none keeps the running model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Thresholds to judge with; none keeps the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Smallest item, as a share of the frame's area (0.004 = 0.4 %): smaller blobs are
    /// crumbs or noise. None keeps the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_item_area: Option<f32>,
    /// Least colour difference to the belt (sum over R, G, B, 1..=255) a pixel needs to count
    /// as product: raise it for a pale product on a pale belt's shadows. None keeps the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_belt_contrast: Option<u8>,
    /// Review-band items go to the PLC as rejects.
    #[serde(default)]
    pub reject_on_doubt: bool,
    /// Items a frame is expected to hold (documentation for the line; not enforced yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_items_per_frame: Option<u32>,
    /// Free text: the product, what changed.
    #[serde(default)]
    pub notes: String,
}

/// A recipe that cannot be used, in words naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", crate::tr!("recipe-invalid", recipe = .name.as_str(), field = .field.to_string(), problem = .problem.as_str()))]
pub struct RecipeError {
    /// The recipe's name.
    pub name: String,
    /// The field at fault, as in the recipe file (`min_item_area`).
    pub field: &'static str,
    /// What is wrong with it, in the language in force.
    pub problem: String,
}

impl Recipe {
    /// Check the recipe: a name of printable characters (1..=64), a PLC index from 1, a model
    /// version that is not blank, usable thresholds.
    pub fn validate(&self) -> Result<(), RecipeError> {
        let err = |field, problem: String| RecipeError {
            name: self.name.clone(),
            field,
            problem,
        };
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(err("name", crate::tr!("recipe-problem-name-length")));
        }
        if name != self.name {
            return Err(err("name", crate::tr!("recipe-problem-name-spaces")));
        }
        if self.plc_index == Some(0) {
            return Err(err("plc_index", crate::tr!("recipe-problem-plc-index")));
        }
        if let Some(m) = &self.model_version
            && m.trim().is_empty()
        {
            return Err(err("model_version", crate::tr!("recipe-problem-blank")));
        }
        if let Some(t) = &self.thresholds {
            t.validate().map_err(|p| err("thresholds", p))?;
        }
        if let Some(a) = self.min_item_area
            && !(a > 0.0 && a <= 0.5)
        {
            return Err(err(
                "min_item_area",
                crate::tr!("recipe-problem-min-item-area", value = a.to_string()),
            ));
        }
        if self.min_belt_contrast == Some(0) {
            return Err(err(
                "min_belt_contrast",
                crate::tr!("recipe-problem-belt-contrast"),
            ));
        }
        Ok(())
    }

    /// `name v<version>` for messages.
    pub fn recipe_name(&self) -> String {
        format!("{} v{}", self.name, self.version)
    }

    /// The recipe of file `path`, read and checked; the error names the file.
    pub fn read_file(path: &std::path::Path) -> Result<Recipe, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            crate::tr!(
                "recipe-cannot-read",
                path = path.display().to_string(),
                error = e.to_string()
            )
        })?;
        Recipe::from_json(path, &text)
    }

    /// Write the recipe as a JSON file `path` (what [`Recipe::read_file`] reads); the error
    /// names the file.
    pub fn write_file(&self, path: &std::path::Path) -> Result<(), String> {
        let cannot = |error: String| {
            crate::tr!(
                "recipe-cannot-write",
                path = path.display().to_string(),
                error = error
            )
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| cannot(e.to_string()))?;
        std::fs::write(path, json + "\n").map_err(|e| cannot(e.to_string()))
    }

    /// A recipe from a file's JSON, checked; the error names the file.
    pub fn from_json(file: &std::path::Path, json: &str) -> Result<Recipe, String> {
        let r: Recipe = serde_json::from_str(json).map_err(|e| {
            crate::tr!(
                "recipe-not-a-recipe",
                path = file.display().to_string(),
                error = e.to_string()
            )
        })?;
        r.validate()
            .map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_names_what_is_wrong() {
        let ok = Recipe {
            name: "galleta-vainilla".into(),
            plc_index: Some(3),
            thresholds: Some(Thresholds::new(2.0, 1.0)),
            ..Recipe::default()
        };
        assert!(ok.validate().is_ok());
        let e = Recipe {
            name: " x".into(),
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "name");
        let e = Recipe {
            plc_index: Some(0),
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "plc_index");
        let bad = Thresholds {
            review: Some(5.0),
            ..Thresholds::new(2.0, 1.0)
        };
        let e = Recipe {
            thresholds: Some(bad),
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("thresholds"), "{e}");
        for area in [0.0, -0.1, 0.9, f32::NAN] {
            let e = Recipe {
                min_item_area: Some(area),
                ..ok.clone()
            }
            .validate()
            .unwrap_err();
            assert_eq!(e.field, "min_item_area", "{area}");
        }
        let e = Recipe {
            min_belt_contrast: Some(0),
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "min_belt_contrast");
        let file = std::path::Path::new("r.json");
        let err = Recipe::from_json(file, r#"{"name":"a","colour":1}"#).unwrap_err();
        assert!(err.contains("r.json") && err.contains("colour"), "{err}");
        let back = Recipe::from_json(file, &serde_json::to_string(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
    }
}
