//! Recipes as a history of versions, and the recipe runs of each station. Saving a recipe
//! appends its next version with an audit entry (`recipe.save`) in one transaction; a switch
//! appends a run (`recipe_runs`) the reports use to tell each inspection's recipe.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use std::path::Path;

use super::{Store, StoreError, audit::insert_audit, now_ms, sql_err};
use crate::domain::Recipe;

/// A saved recipe version and its row.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRecipe {
    /// `recipes.id` of this version.
    pub id: i64,
    /// The recipe (its `version` filled in).
    pub recipe: Recipe,
    /// Who saved it.
    pub created_by: String,
    /// When (unix ms).
    pub created_at_ms: i64,
}

/// The newest version of each name: `recipes` rows with no later version.
const LATEST: &str = "SELECT id, body, created_by, created_at FROM recipes r \
     WHERE version = (SELECT max(version) FROM recipes WHERE name = r.name)";

impl Store {
    fn stored_recipe(&self, row: (i64, String, String, i64)) -> Result<StoredRecipe, StoreError> {
        let (id, body, created_by, created_at_ms) = row;
        let recipe = serde_json::from_str(&body).map_err(|source| StoreError::Json {
            path: self.path.clone(),
            table: "recipes",
            column: "body",
            source,
        })?;
        Ok(StoredRecipe {
            id,
            recipe,
            created_by,
            created_at_ms,
        })
    }

    /// Save `recipe` as the next version of its name, by `actor`, with an audit entry; the
    /// saved version. Refused when the recipe is not valid or another recipe's newest version
    /// already answers to its PLC index. Permissions are the caller's business.
    pub fn save_recipe(
        &mut self,
        recipe: &Recipe,
        actor: &str,
    ) -> Result<StoredRecipe, StoreError> {
        let invalid = |column: &'static str, value: String| StoreError::InvalidValue {
            path: self.path.clone(),
            table: "recipes",
            column,
            value,
        };
        recipe
            .validate()
            .map_err(|e| invalid("body", e.to_string()))?;
        if let Some(idx) = recipe.plc_index
            && let Some(other) = self
                .recipe_for_plc(idx)?
                .filter(|o| o.recipe.name != recipe.name)
        {
            return Err(StoreError::Conflict {
                path: self.path.clone(),
                what: format!(
                    "PLC recipe index {idx} already selects recipe {:?}",
                    other.recipe.recipe_name()
                ),
            });
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err(&path, "begin (recipes)"))?;
        let stored = insert_recipe_version(&tx, &path, recipe, actor, None)?;
        tx.commit().map_err(sql_err(&path, "commit (recipes)"))?;
        self.anchor_heads();
        Ok(stored)
    }

    /// The newest version of recipe `name`, if there is one.
    pub fn recipe(&self, name: &str) -> Result<Option<StoredRecipe>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!("{LATEST} AND name = ?1"))
            .and_then(|mut s| {
                s.query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()
            })
            .map_err(sql_err(&self.path, "read recipe"))?;
        row.map(|r| self.stored_recipe(r)).transpose()
    }

    /// The recipe whose newest version the PLC selects with `index`, if any.
    pub fn recipe_for_plc(&self, index: u16) -> Result<Option<StoredRecipe>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "{LATEST} AND plc_index = ?1 ORDER BY name LIMIT 1"
            ))
            .and_then(|mut s| {
                s.query_row([i64::from(index)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
            })
            .map_err(sql_err(&self.path, "read recipe by PLC index"))?;
        row.map(|r| self.stored_recipe(r)).transpose()
    }

    /// The newest version of every recipe, by name.
    pub fn recipes(&self) -> Result<Vec<StoredRecipe>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = self
            .conn
            .prepare_cached(&format!("{LATEST} ORDER BY name"))
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(sql_err(&self.path, "list recipes"))?;
        rows.into_iter().map(|r| self.stored_recipe(r)).collect()
    }

    /// Station `station_id` judges with recipe `recipe_id` (none: no recipe) from `at_ms` on.
    pub fn start_recipe_run(
        &mut self,
        station_id: i64,
        recipe_id: Option<i64>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO recipe_runs (station_id, recipe_id, started_at) VALUES (?1, ?2, ?3)",
                params![station_id, recipe_id, at_ms],
            )
            .map_err(sql_err(&self.path, "insert recipe run"))?;
        Ok(())
    }
}

/// Append `recipe` as the next version of its name inside `tx`, audited (`recipe.save` by
/// `actor`, with `extra` fields in the details when given); the saved version.
pub(crate) fn insert_recipe_version(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    recipe: &Recipe,
    actor: &str,
    extra: Option<&serde_json::Value>,
) -> Result<StoredRecipe, StoreError> {
    let version: i64 = tx
        .query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM recipes WHERE name = ?1",
            [&recipe.name],
            |r| r.get(0),
        )
        .map_err(sql_err(path, "next recipe version"))?;
    let saved = Recipe {
        version: u32::try_from(version).unwrap_or(u32::MAX),
        ..recipe.clone()
    };
    let body = serde_json::to_string(&saved).map_err(|source| StoreError::Json {
        path: path.to_path_buf(),
        table: "recipes",
        column: "body",
        source,
    })?;
    let now = now_ms();
    tx.execute(
        "INSERT INTO recipes (name, version, plc_index, body, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            saved.name,
            version,
            saved.plc_index.map(i64::from),
            body,
            actor,
            now
        ],
    )
    .map_err(sql_err(path, "insert recipe"))?;
    let id = tx.last_insert_rowid();
    let mut details =
        serde_json::json!({ "recipe": saved.name, "version": version, "body": saved });
    if let (Some(d), Some(serde_json::Value::Object(more))) = (details.as_object_mut(), extra) {
        d.extend(more.clone());
    }
    insert_audit(tx, path, actor, "recipe.save", &details)?;
    Ok(StoredRecipe {
        id,
        recipe: saved,
        created_by: actor.to_string(),
        created_at_ms: now,
    })
}
