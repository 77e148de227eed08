//! `foodqc recipe save|list|export|import`: product setups a line switches between. Saving and
//! importing are a QC manager's (signed in with `--user`); `inspect --recipe NAME` runs one.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use foodqc::domain::{AppPaths, Permission, Recipe, Thresholds};
use foodqc::store::{Store, StoredRecipe};
use foodqc::tr;

use super::signin::sign_in;

/// Arguments of `foodqc recipe`.
#[derive(Args, Debug)]
pub struct RecipeArgs {
    #[command(subcommand)]
    command: RecipeCommand,
    /// QC manager who signs in to save or import (password from FOODQC_ACTOR_PASSWORD or a
    /// prompt).
    #[arg(long, global = true, value_name = "NAME")]
    user: Option<String>,
}

#[derive(Subcommand, Debug)]
enum RecipeCommand {
    /// Save a recipe as its next version, from the running setup (the active model and its
    /// thresholds) with the options given on top.
    Save(RecipeSaveArgs),
    /// List the newest version of every recipe.
    List(RecipeListArgs),
    /// Write a recipe's newest version as a JSON file.
    Export(RecipeExportArgs),
    /// Save the recipe of a JSON file (from `recipe export`) as its next version here.
    Import(RecipeImportArgs),
}

/// Arguments of `foodqc recipe save`.
#[derive(Args, Debug)]
pub struct RecipeSaveArgs {
    /// Recipe name, e.g. galleta-vainilla.
    name: String,
    /// Index the PLC writes into its recipe register to select this recipe (1..65535).
    #[arg(long, value_name = "N")]
    plc_index: Option<u16>,
    /// Reject threshold (default: the model's).
    #[arg(long, value_name = "SCORE")]
    reject: Option<f64>,
    /// Review threshold: items above it and not above reject go to review.
    #[arg(long, value_name = "SCORE")]
    review: Option<f64>,
    /// Review-band items go to the PLC as rejects.
    #[arg(long)]
    reject_on_doubt: bool,
    /// Items a frame is expected to hold.
    #[arg(long, value_name = "N")]
    expected_items: Option<u32>,
    /// Smallest item as a share of the frame area, e.g. 0.004 (default: the model's).
    #[arg(long, value_name = "SHARE")]
    min_item_area: Option<f32>,
    /// Least colour difference to the belt for a pixel to count as product, 1..255 (default:
    /// the model's).
    #[arg(long, value_name = "N")]
    min_belt_contrast: Option<u8>,
    /// Free text: the product, what changed.
    #[arg(long, default_value = "")]
    notes: String,
}

/// Arguments of `foodqc recipe list`.
#[derive(Args, Debug)]
pub struct RecipeListArgs {
    /// Print the recipes as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `foodqc recipe export`.
#[derive(Args, Debug)]
pub struct RecipeExportArgs {
    /// Recipe name.
    name: String,
    /// File to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Arguments of `foodqc recipe import`.
#[derive(Args, Debug)]
pub struct RecipeImportArgs {
    /// A recipe JSON file.
    file: PathBuf,
}

/// Run `foodqc recipe ...`.
pub fn run(paths: &AppPaths, model: Option<&Path>, a: RecipeArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&paths.db_path())?;
    match a.command {
        RecipeCommand::List(l) => list(&store, l.json),
        RecipeCommand::Export(e) => {
            let r = find(&store, &e.name)?;
            r.recipe.write_file(&e.out).map_err(anyhow::Error::msg)?;
            println!(
                "{}",
                tr!(
                    "cli-recipe-exported",
                    recipe = r.recipe.recipe_name(),
                    path = e.out.display().to_string()
                )
            );
            Ok(())
        }
        RecipeCommand::Import(i) => {
            let recipe = Recipe::read_file(&i.file).map_err(anyhow::Error::msg)?;
            save_signed(&mut store, a.user.as_deref(), &recipe)
        }
        RecipeCommand::Save(s) => {
            let running = super::load_model(paths, model)?;
            let mut thresholds: Thresholds = running.thresholds.clone();
            if let Some(r) = s.reject {
                thresholds.reject = r;
            }
            if s.review.is_some() {
                thresholds.review = s.review;
            }
            let recipe = Recipe {
                name: s.name,
                version: 0,
                plc_index: s.plc_index,
                model_version: Some(running.version.clone()),
                thresholds: Some(thresholds),
                reject_on_doubt: s.reject_on_doubt,
                expected_items_per_frame: s.expected_items,
                min_item_area: s.min_item_area,
                min_belt_contrast: s.min_belt_contrast,
                notes: s.notes,
            };
            recipe.validate()?;
            save_signed(&mut store, a.user.as_deref(), &recipe)
        }
    }
}

fn find(store: &Store, name: &str) -> anyhow::Result<StoredRecipe> {
    store
        .recipe(name)?
        .ok_or_else(|| anyhow::anyhow!(tr!("recipe-unknown", recipe = name)))
}

/// Sign `user` in as a QC manager (`manage_recipes`) and save `recipe` as the next version
/// under their name.
fn save_signed(store: &mut Store, user: Option<&str>, recipe: &Recipe) -> anyhow::Result<()> {
    let who = sign_in(store, user, Some(Permission::ManageRecipes))?;
    saved(store.save_recipe(recipe, &who.user.name)?);
    Ok(())
}

fn saved(r: StoredRecipe) {
    println!(
        "{}",
        tr!(
            "cli-recipe-saved",
            recipe = r.recipe.recipe_name(),
            by = r.created_by.as_str()
        )
    );
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let all = store.recipes()?;
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|r| {
                serde_json::json!({
                    "recipe": r.recipe,
                    "saved_by": r.created_by,
                    "saved_at_ms": r.created_at_ms,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if all.is_empty() {
        println!("{}", tr!("cli-recipe-none"));
    }
    for r in &all {
        let t = r.recipe.thresholds.as_ref();
        println!(
            "{}",
            tr!(
                "cli-recipe-line",
                recipe = r.recipe.recipe_name(),
                plc = r
                    .recipe
                    .plc_index
                    .map_or("-".to_string(), |i| i.to_string()),
                model = r.recipe.model_version.as_deref().unwrap_or("-"),
                reject = t.map_or("-".to_string(), |t| foodqc::i18n::format_decimal(
                    t.reject, 3
                )),
                by = r.created_by.as_str()
            )
        );
    }
    Ok(())
}
