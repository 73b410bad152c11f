//! Output shared by the commands: formats for listings and info, JSON,
//! and a spinner for long work.

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

/// `--format`: text as the original tools print it, or JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// A spinner on standard error for long work (callers show it only when
/// standard error is a terminal).
fn spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

/// Runs `work`, which names its steps through the function it is given:
/// on a spinner when standard error is a terminal and not `quiet`,
/// nowhere otherwise.
pub fn with_steps<T>(quiet: bool, work: impl FnOnce(&mut dyn FnMut(&str)) -> T) -> T {
    let bar = (std::io::stderr().is_terminal() && !quiet).then(spinner);
    let mut step = |s: &str| {
        if let Some(b) = &bar {
            b.set_message(s.to_string());
        }
    };
    let result = work(&mut step);
    if let Some(b) = bar {
        b.disable_steady_tick();
        b.finish_and_clear();
    }
    result
}

/// Prints `value` as pretty JSON on standard output.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The colour of a status word on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Green: all is well.
    Good,
    /// Yellow: not known, or worth a look.
    Doubt,
    /// Red: missing.
    Bad,
    /// Bold red: it stops the user.
    Fatal,
}

/// Whether to colour standard output: it is a terminal and NO_COLOR is
/// not set.
pub fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A finding as checkconfig and doctor print it: `STATUS  NAME: DETAIL`,
/// then `; LABEL: FIX` when there is a fix (`fix` is (LABEL, FIX)); the
/// status padded to 7 columns and, with `colour`, coloured by `tone`.
pub fn finding_line(
    status: &str,
    tone: Tone,
    colour: bool,
    name: &dyn std::fmt::Display,
    detail: &str,
    fix: Option<(&str, &str)>,
) -> String {
    let status = format!("{status:<7}");
    let status = if colour {
        let code = match tone {
            Tone::Good => "32",
            Tone::Doubt => "33",
            Tone::Bad => "31",
            Tone::Fatal => "1;31",
        };
        format!("\x1b[{code}m{status}\x1b[0m")
    } else {
        status
    };
    let mut text = format!("{status} {name}: {detail}");
    if let Some((label, fix)) = fix {
        text.push_str(&format!("; {label}: {fix}"));
    }
    text
}
