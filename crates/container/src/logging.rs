//! The container's log, written by its monitor as LXC's container log:
//! into `lxc.log.file` and to syslog with the facility of
//! `lxc.log.syslog`, at `lxc.log.level`. `-l/-o` on the command line
//! override it: the command's own log then holds the monitor's lines.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;

use enclos_config::{Config, LogLevel};
use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriter, MakeWriterExt};

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

/// The syslog facility of a name `lxc.log.syslog` accepts.
fn facility(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "daemon" => libc::LOG_DAEMON,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    })
}

/// Starts the container's log for the monitor's life (the guard): `None`
/// when the configuration asks for none, or when the command line gave
/// its own log (`-l`, `-o`, ENCLOS_LOG), which wins as in LXC.
pub(crate) fn container_log(
    cfg: &Config,
    name: &str,
) -> Result<Option<tracing::subscriber::DefaultGuard>> {
    if tracing::dispatcher::has_been_set() {
        return Ok(None);
    }
    let file = match cfg.log_file() {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::StartFailed {
                    name: name.to_string(),
                    reason: format!("cannot open lxc.log.file {}: {e}", path.display()),
                })?,
        ),
        None => None,
    };
    let syslog = cfg.log_syslog().and_then(facility).map(Syslog::open);
    let writer = match (file, syslog) {
        (None, None) => return Ok(None),
        (Some(f), None) => BoxMakeWriter::new(Mutex::new(f)),
        (None, Some(s)) => BoxMakeWriter::new(s),
        (Some(f), Some(s)) => BoxMakeWriter::new(Mutex::new(f).and(s)),
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level(cfg.log_level()))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_target(false)
        .with_writer(writer)
        .finish();
    Ok(Some(tracing::subscriber::set_default(subscriber)))
}

/// The system log, through the C library's syslog(3).
#[derive(Debug, Clone, Copy)]
struct Syslog {
    facility: libc::c_int,
}

impl Syslog {
    fn open(facility: libc::c_int) -> Syslog {
        // SAFETY: the identity is a static C string, as openlog(3) keeps
        // the pointer; the options and facility are plain integers.
        unsafe { libc::openlog(c"enclos".as_ptr(), libc::LOG_PID, facility) };
        Syslog { facility }
    }
}

/// One log line, sent when the formatter is done with it.
struct SyslogLine {
    priority: libc::c_int,
    line: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let Ok(msg) = CString::new(text.trim_end().replace('\0', " ")) else {
            return;
        };
        // SAFETY: a "%s" format with one C string argument that lives
        // through the call.
        unsafe { libc::syslog(self.priority, c"%s".as_ptr(), msg.as_ptr()) };
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        self.line(libc::LOG_INFO)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        self.line(match *meta.level() {
            Level::ERROR => libc::LOG_ERR,
            Level::WARN => libc::LOG_WARNING,
            Level::INFO => libc::LOG_INFO,
            Level::DEBUG | Level::TRACE => libc::LOG_DEBUG,
        })
    }
}

impl Syslog {
    fn line(&self, severity: libc::c_int) -> SyslogLine {
        SyslogLine {
            priority: self.facility | severity,
            line: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_as_lxc_names_them() {
        assert_eq!(facility("local3"), Some(libc::LOG_LOCAL3));
        assert_eq!(facility("daemon"), Some(libc::LOG_DAEMON));
        assert_eq!(facility("user"), None);
    }
}
