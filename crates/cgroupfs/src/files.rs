//! Reading and writing cgroup interface files.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::error::{write_hint, Error, Result};

/// A group directory or file that another process removed meanwhile
/// (ENOENT, or ENODEV for an open file of a removed group).
pub(crate) fn vanished(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV))
}

pub(crate) fn ignore_esrch(e: Error) -> Result<()> {
    match &e {
        Error::Write { source, .. } if source.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        _ => Err(e),
    }
}

/// Reads a cgroup file, without its trailing newline.
pub fn read_file(path: &Path) -> Result<String> {
    let mut s = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    while s.ends_with('\n') {
        s.pop();
    }
    Ok(s)
}

/// Writes `value` to a cgroup file in one write(2), as the kernel wants.
/// The file is truncated on open, as a shell's `>` does: the kernel pays
/// no heed, and a plain file (a fake tree in tests) then holds the value
/// alone.
pub fn write_file(path: &Path, value: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|source| Error::Write {
            hint: write_hint(path, &source),
            file: path.to_path_buf(),
            value: value.to_string(),
            source,
        })?;
    f.write_all(value.as_bytes())
        .map_err(|source| Error::Write {
            hint: write_hint(path, &source),
            file: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}

/// Reads a list of pids (`cgroup.procs`, `tasks`).
pub fn read_pids(path: &Path) -> Result<Vec<i32>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if vanished(&e) => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.split_whitespace()
        .map(|s| {
            s.parse::<i32>().map_err(|_| Error::Parse {
                file: path.to_path_buf(),
                reason: format!("'{s}' is not a process id"),
            })
        })
        .collect()
}
