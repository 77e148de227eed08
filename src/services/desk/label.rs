//! Labelling commands: the queue (scoring a few unscored samples first), labels and undo,
//! the defect taxonomy, sample images.

use std::path::PathBuf;
use std::sync::Arc;

use image::GrayImage;

use super::event::{Event, LabelQueue};
use super::worker::{DeskError, Worker};
use crate::domain::Permission;
use crate::model::AnomalyModel;
use crate::services::sample_score::score_sample;
use crate::store::{DefectClass, QueueFilter};

/// Samples scored per refresh: bounds the time a refresh takes.
pub(super) const SCORE_PER_REFRESH: usize = 24;

/// A change of the defect taxonomy.
pub(super) enum TaxonomyChange {
    /// Add (id 0) or change a class.
    Save(DefectClass),
    /// Remove the class with this id.
    Delete(i64),
}

impl Worker {
    pub(super) fn refresh_label_queue(
        &mut self,
        filter: &QueueFilter,
        model: &AnomalyModel,
    ) -> Result<(), DeskError> {
        let s = self.store()?;
        // Score a few samples the current model has not seen, so the queue order reflects
        // the model in use (imports and captures under an older model).
        let todo = s.unscored_samples(&model.version, SCORE_PER_REFRESH)?;
        let scored = todo.len();
        for sample in todo {
            s.record_sample_score(&score_sample(model, sample.id, &sample.path))?;
        }
        let q = LabelQueue {
            queue: s.label_queue(&model.version, filter, 500)?,
            classes: s.defect_classes()?,
            counts: s.label_counts()?,
            sources: s.sample_sources()?,
            scored,
        };
        self.sink.emit(Event::LabelQueue(q));
        Ok(())
    }

    pub(super) fn load_sample_image(&mut self, sample_id: i64, path: &std::path::Path) {
        let image = crate::imageio::load_rgb(path)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        self.sink.emit(Event::SampleImage { sample_id, image });
    }

    pub(super) fn label(
        &mut self,
        sample_id: i64,
        label: &str,
        mask: Option<(PathBuf, GrayImage)>,
    ) -> Result<(), DeskError> {
        let mask_path = match mask {
            Some((path, img)) => {
                crate::imageio::save_png_private(&img, &path).map_err(|err| {
                    DeskError::Other(crate::tr!(
                        "desk-cannot-save-mask",
                        path = path.display().to_string(),
                        error = err.to_string()
                    ))
                })?;
                Some(path)
            }
            None => None,
        };
        let actor = self.user_for(Permission::Label)?.actor();
        let s = self.store()?;
        let label_id = s.add_label(sample_id, label, mask_path.as_deref(), actor.as_str())?;
        let counts = s.label_counts()?;
        self.sink.emit(Event::Labelled {
            label_id,
            sample_id,
            counts,
        });
        Ok(())
    }

    pub(super) fn undo_label(&mut self, label_id: i64) -> Result<(), DeskError> {
        let actor = self.user_for(Permission::Label)?.actor();
        let s = self.store()?;
        s.undo_label(label_id, actor.as_str())?;
        let counts = s.label_counts()?;
        self.sink.emit(Event::Unlabelled { label_id, counts });
        Ok(())
    }

    /// Save or delete a defect class, then send the taxonomy.
    pub(super) fn edit_taxonomy(&mut self, change: TaxonomyChange) -> Result<(), DeskError> {
        let actor = self.user_for(Permission::Label)?.actor();
        let s = self.store()?;
        match change {
            TaxonomyChange::Save(c) => {
                s.save_defect_class(&c, actor.as_str())?;
            }
            TaxonomyChange::Delete(id) => s.delete_defect_class(id, actor.as_str())?,
        }
        let classes = s.defect_classes()?;
        self.sink.emit(Event::DefectClasses(classes));
        Ok(())
    }
}
