//! `--help` in the language in force: clap's texts come from the derive's doc comments
//! (English); where the catalogue has a message for a command or an argument, it replaces
//! them. Ids: `cli-about` and `cli-<arg>` for the top level, `cli-<command>-about` and
//! `cli-<command>-<arg>` for a subcommand (arg ids with `-` for `_`; a nested one is
//! `cli-<command>-<sub>-about` / `-<arg>`, e.g. `cli-audit-verify-json`), else `cli-arg-<arg>` for
//! an option several commands share (the source options of `inspect`, `train` and
//! `snapshot`). Headings, the usage line and the help/version flags are translated too.

use clap::{Arg, ArgAction, Command};
use foodqc::tr;

/// The command tree with every help text the catalogue has, in the language in force.
pub fn localize(cmd: Command) -> Command {
    let cmd = cmd
        .disable_version_flag(true)
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(tr!("cli-version-flag")),
        )
        .subcommand_help_heading(tr!("cli-heading-commands"));
    localize_command(cmd, "cli")
}

fn localize_command(mut cmd: Command, prefix: &str) -> Command {
    let loader = foodqc::i18n::loader();
    let about_id = format!("{prefix}-about");
    if loader.has(&about_id) {
        // One text for -h and --help: the English long help would come back otherwise.
        cmd = cmd.about(loader.get(&about_id)).long_about(None);
    }
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
            match help {
                Some(text) => a.help(text).long_help(None),
                None => a,
            }
        });
    }
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subcommands {
        // Nested commands keep their parent's name: `cli-audit-verify-json`.
        let sub_prefix = if prefix == "cli" {
            format!("cli-{name}")
        } else {
            format!("{prefix}-{name}")
        };
        cmd = cmd.mut_subcommand(&name, |s| localize_command(s, &sub_prefix));
    }
    cmd
}
