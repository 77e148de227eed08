//! Recipes from the window: a QC manager saves the editor's recipe as the next version of its
//! name (the store audits it), and recipes travel between stations as JSON files, written and
//! read on job threads (the file dialogs block).

use super::command::PickPath;
use super::event::Event;
use super::status::{Status, Topic};
use super::worker::{DeskError, Worker, spawn_job};
use crate::domain::{Permission, Recipe};
use crate::tr;

impl Worker {
    pub(super) fn save_recipe(&mut self, recipe: &Recipe) -> Result<(), DeskError> {
        let user = self.user_for(Permission::ManageRecipes)?;
        let saved = self.store()?.save_recipe(recipe, &user.name)?;
        let name = saved.recipe.recipe_name();
        self.sink.emit(Event::RecipeSaved(saved.recipe));
        self.sink.status(
            Topic::Recipes,
            Status::Done(tr!("desk-recipe-saved", recipe = name, by = user.name)),
        );
        // The Live tab's recipe choice shows the new version at once.
        self.publish_snapshot();
        Ok(())
    }

    pub(super) fn export_recipe(&mut self, recipe: Recipe, pick: PickPath) {
        let sink = self.sink.clone();
        sink.status(Topic::Recipes, Status::busy(tr!("desk-recipe-choose-file")));
        spawn_job(&self.sink, Topic::Recipes, "recipe-export", move || {
            let Some(path) = pick() else {
                sink.status(Topic::Recipes, Status::Done(tr!("desk-recipe-no-file")));
                return;
            };
            let written = serde_json::to_string_pretty(&recipe)
                .map_err(|e| e.to_string())
                .and_then(|json| std::fs::write(&path, json + "\n").map_err(|e| e.to_string()));
            let path = path.display().to_string();
            let status = match written {
                Ok(()) => Status::Done(tr!(
                    "cli-recipe-exported",
                    recipe = recipe.recipe_name(),
                    path = path
                )),
                Err(error) => {
                    Status::Failed(tr!("cli-recipe-cannot-write", path = path, error = error))
                }
            };
            sink.status(Topic::Recipes, status);
        });
    }

    pub(super) fn read_recipe(&mut self, pick: PickPath) {
        let sink = self.sink.clone();
        sink.status(Topic::Recipes, Status::busy(tr!("desk-recipe-choose-file")));
        spawn_job(&self.sink, Topic::Recipes, "recipe-read", move || {
            let Some(path) = pick() else {
                sink.status(Topic::Recipes, Status::Done(tr!("desk-recipe-no-file")));
                return;
            };
            let read = std::fs::read_to_string(&path)
                .map_err(|e| {
                    tr!(
                        "cli-recipe-cannot-read",
                        path = path.display().to_string(),
                        error = e.to_string()
                    )
                })
                .and_then(|text| Recipe::from_json(&path, &text));
            match read {
                Ok(recipe) => {
                    let status = Status::Done(tr!(
                        "desk-recipe-read",
                        recipe = recipe.name.as_str(),
                        path = path.display().to_string()
                    ));
                    sink.emit(Event::RecipeRead(recipe));
                    sink.status(Topic::Recipes, status);
                }
                Err(e) => sink.status(Topic::Recipes, Status::Failed(e)),
            }
        });
    }
}
