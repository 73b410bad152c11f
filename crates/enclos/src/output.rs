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
