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
            let status = match recipe.write_file(&path) {
                Ok(()) => Status::Done(tr!(
                    "cli-recipe-exported",
                    recipe = recipe.recipe_name(),
                    path = path.display().to_string()
                )),
                Err(e) => Status::Failed(e),
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
            match Recipe::read_file(&path) {
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
