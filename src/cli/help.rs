//! `--help` in the language in force: clap's texts come from the derive's doc comments
//! (English); where the catalogue has a message for a command or an argument, it replaces
//! them. Ids: `cli-about` and `cli-<arg>` for the top level, `cli-<command>-about` and
//! `cli-<command>-<arg>` for a subcommand (arg ids with `-` for `_`; a nested one is
//! `cli-<command>-<subcommand>-about`, e.g. `cli-user-add-about`), else `cli-arg-<arg>` for
//! an option several commands share (the source options of `inspect`, `train` and
//! `snapshot`). Headings, the usage line and the help/version flags are translated too.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};
use foodqc::tr;

/// The command tree with every help text the catalogue has, in the language in force.
pub fn localize(cmd: Command) -> Command {
    let cmd = cmd.disable_version_flag(true).arg(
        Arg::new("version")
            .short('V')
            .long("version")
            .action(ArgAction::Version)
            .help(tr!("cli-version-flag")),
    );
    localize_command(cmd, "cli")
}

fn localize_command(mut cmd: Command, prefix: &str) -> Command {
    let loader = foodqc::i18n::loader();
    if cmd.has_subcommands() {
        // clap's `help` subcommand has an English text of its own; `--help` does the same.
        cmd = cmd.disable_help_subcommand(true);
    }
    let about_id = format!("{prefix}-about");
    if loader.has(&about_id) {
        // One text for -h and --help: the English long help would come back otherwise.
        cmd = cmd.about(loader.get(&about_id)).long_about(None);
    }
    // Every level: `foodqc user --help` lists its own commands too.
    cmd = cmd.subcommand_help_heading(tr!("cli-heading-commands"));
    let options = tr!("cli-heading-options");
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{}: {{usage}}\n\n{{all-args}}{{after-help}}",
        tr!("cli-heading-usage")
    );
    cmd = cmd.help_template(template).disable_help_flag(true).arg(
        Arg::new("help")
            .short('h')
            .long("help")
            .action(ArgAction::Help)
            .help(tr!("cli-help-flag")),
    );
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        let name = id.replace('_', "-");
        let own = format!("{prefix}-{name}");
        let shared = format!("cli-arg-{name}");
        // Only below the top level: there `cli-<arg>` is the command's own id already.
        let help = [own]
            .into_iter()
            .chain((prefix != "cli").then_some(shared))
            .find(|msg_id| loader.has(msg_id))
            .map(|msg_id| loader.get(&msg_id));
        let heading = options.clone();
        cmd = cmd.mut_arg(&id, move |a| {
            let a = a.help_heading(heading);
            let a = match help {
                Some(text) => a.help(text).long_help(None),
                None => a,
            };
            with_default_in_language(a)
        });
    }
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subcommands {
        // Nested commands keep their parents' names: `cli-user-add-about`.
        let sub_prefix = format!("{prefix}-{name}");
        cmd = cmd.mut_subcommand(&name, |s| localize_command(s, &sub_prefix));
    }
    cmd
}

/// clap writes an option's default as `[default: X]` in English: hide its own note and end the
/// help text with the catalogue's instead (options that take no value show no default).
fn with_default_in_language(a: Arg) -> Arg {
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if defaults.is_empty() || a.is_hide_default_value_set() || !a.get_action().takes_values() {
        return a;
    }
    let note = format!("[{}]", tr!("cli-default", value = defaults.join(", ")));
    let join = |text: Option<String>| match text {
        Some(t) if !t.is_empty() => format!("{t} {note}"),
        _ => note.clone(),
    };
    let help = join(a.get_help().map(ToString::to_string));
    let long = a.get_long_help().map(|l| join(Some(l.to_string())));
    let a = a.hide_default_value(true).help(help);
    match long {
        Some(l) => a.long_help(l),
        None => a,
    }
}

/// Print clap's help, version or parse error in the language in force and exit as clap would
/// (0 for help and version, 2 for a bad command line). clap's own words (`[OPTIONS]`, its error
/// sentences) are English; the common errors are rebuilt from their context through the
/// catalogue, the rest keep clap's text.
pub fn exit(e: clap::Error) -> ! {
    let placeholders = |text: &str| {
        text.replace("[OPTIONS]", &tr!("cli-usage-options"))
            .replace("[COMMAND]", &tr!("cli-usage-command"))
            .replace("<COMMAND>", &tr!("cli-usage-command-required"))
    };
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{}", placeholders(&e.render().to_string()));
            std::process::exit(0);
        }
        _ => {}
    }
    let text = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::StyledStrs(v)) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let arg = text(ContextKind::InvalidArg);
    let message = match e.kind() {
        ErrorKind::UnknownArgument => Some(tr!("cli-err-unknown-argument", arg = arg)),
        ErrorKind::InvalidSubcommand => Some(tr!(
            "cli-err-unknown-command",
            command = text(ContextKind::InvalidSubcommand)
        )),
        ErrorKind::InvalidValue => Some(tr!(
            "cli-err-invalid-value",
            value = text(ContextKind::InvalidValue),
            arg = arg,
            valid = text(ContextKind::ValidValue)
        )),
        ErrorKind::ValueValidation => Some(tr!(
            "cli-err-value-validation",
            value = text(ContextKind::InvalidValue),
            arg = arg,
            reason = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default()
        )),
        ErrorKind::MissingRequiredArgument => Some(tr!("cli-err-missing-argument", arg = arg)),
        ErrorKind::NoEquals | ErrorKind::TooManyValues | ErrorKind::TooFewValues => None,
        _ => None,
    };
    let Some(message) = message else {
        // Rare kinds: clap's own (English) text rather than a vague one.
        e.exit()
    };
    let usage = text(ContextKind::Usage);
    let usage = usage.trim_start_matches("Usage:").trim();
    eprintln!("{}", tr!("cli-error", error = message));
    if !usage.is_empty() {
        eprintln!("\n{}: {}", tr!("cli-heading-usage"), placeholders(usage));
    }
    eprintln!("\n{}", tr!("cli-err-more-help"));
    std::process::exit(2);
}
