//! The container's log (`lxc.log.file` at `lxc.log.level`), written by its
//! monitor, as LXC's container log. `-l/-o` on the command line override
//! it: the command's own log then holds the monitor's lines.

use std::fs::OpenOptions;
use std::sync::Mutex;

use enclos_config::{Config, LogLevel};
use tracing::level_filters::LevelFilter;

use crate::error::{Error, Result};

/// The tracing level of an LXC log level.
fn level(l: LogLevel) -> LevelFilter {
    match l {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info | LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error | LogLevel::Crit | LogLevel::Alert | LogLevel::Fatal => LevelFilter::ERROR,
    }
}

/// Starts the container's log for the monitor's life (the guard): `None`
/// when the configuration has no `lxc.log.file`, or when the command line
/// gave its own log (`-l`, `-o`, ENCLOS_LOG), which wins as in LXC.
pub(crate) fn container_log(
    cfg: &Config,
    name: &str,
) -> Result<Option<tracing::subscriber::DefaultGuard>> {
    let Some(path) = cfg.log_file() else {
        return Ok(None);
    };
    if tracing::dispatcher::has_been_set() {
        return Ok(None);
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::StartFailed {
            name: name.to_string(),
            reason: format!("cannot open lxc.log.file {}: {e}", path.display()),
        })?;
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level(cfg.log_level()))
        .with_ansi(false)
        .with_target(false)
        .with_writer(Mutex::new(file))
        .finish();
    Ok(Some(tracing::subscriber::set_default(subscriber)))
}
