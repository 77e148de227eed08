//! The subcommands, one file each: its clap arguments and its `run`. What they share (the
//! model choice, progress bars) lives here.

pub mod alarms;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod demo_samples;
pub mod encrypt;
pub mod eval;
pub mod export;
pub mod help;
pub mod import;
pub mod inspect;
pub mod keys;
pub mod line_sim;
pub mod model;
pub mod plant;
pub mod promote;
pub mod recipe;
pub mod report;
pub mod signin;
pub mod snapshot;
pub mod soak;
pub mod source;
pub mod train;
pub mod user;

use std::path::Path;
use std::sync::Arc;

use foodqc::domain::AppPaths;
use foodqc::model::AnomalyModel;
use foodqc::services::model_choice;

/// The model to run, by the library's rule ([`model_choice::resolve`]): `--model FILE` if
/// given, else the data folder's active (promoted) version, else the bundled default. A
/// promoted version that cannot be used is reported and the bundled model runs, so the line
/// keeps running.
pub fn load_model(paths: &AppPaths, explicit: Option<&Path>) -> anyhow::Result<Arc<AnomalyModel>> {
    let choice = model_choice::resolve(paths, explicit)?;
    if let Some(why) = &choice.fallback {
        tracing::error!("{why}; running the bundled model");
    }
    Ok(choice.model)
}

/// One line of a command's text summary: a label column of 16 characters, then the value.
/// Labels come from the catalogue, so the padding is done here rather than in the text.
pub fn row(label: String, value: String) {
    println!("  {label:<16} {value}");
}

/// A progress bar with `template`, falling back to the default style if it does not parse.
pub fn bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// A progress bar over files for import and export (drawn on stderr, hidden when not a TTY).
pub fn file_bar(what: &str) -> indicatif::ProgressBar {
    bar(
        0,
        &format!(
            "{what} [{{bar:40}}] {{pos}}/{{len}} {}, eta {{eta}} {{wide_msg}}",
            foodqc::tr!("cli-progress-files")
        ),
    )
}

/// Show an import or export's progress on its bar.
pub fn update_bar(bar: &indicatif::ProgressBar, p: foodqc::labeling::Progress<'_>) {
    bar.set_length(p.total as u64);
    bar.set_position(p.done as u64);
    if let Some(name) = p.current.and_then(|c| c.file_name()) {
        bar.set_message(name.to_string_lossy().into_owned());
    }
}
