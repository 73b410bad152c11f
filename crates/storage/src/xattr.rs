//! Listing, reading and writing the extended attributes of a path without
//! following a final symlink (llistxattr(2), lgetxattr(2), lsetxattr(2)),
//! which nix does not wrap.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Calls `f` with a buffer until it fits: `f` returns what the syscall
/// returned (the length, or -1 with errno). An empty result where the
/// filesystem keeps no attributes.
fn sized(mut f: impl FnMut(&mut [u8]) -> isize) -> io::Result<Option<Vec<u8>>> {
    let mut buf: Vec<u8> = vec![0; 256];
    loop {
        let n = f(&mut buf);
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::EOPNOTSUPP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    }
}

/// The names of the attributes of `path` (none where its filesystem keeps
/// none).
pub(crate) fn list(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let names = sized(|buf| {
        // SAFETY: the path is NUL-terminated and outlives the call; the
        // kernel writes at most `buf.len()` bytes into `buf`.
        unsafe { libc::llistxattr(c_path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
    })?
    .unwrap_or_default();
    Ok(names
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// The value of attribute `name` of `path`, or `None` when it has none.
pub(crate) fn get(path: &Path, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name)?;
    sized(|buf| {
        // SAFETY: both strings are NUL-terminated and outlive the call; the
        // kernel writes at most `buf.len()` bytes into `buf`.
        unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
    })
}

/// Sets attribute `name` of `path` to `value`.
pub(crate) fn set(path: &Path, name: &[u8], value: &[u8]) -> io::Result<()> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name)?;
    // SAFETY: both strings are NUL-terminated and outlive the call; the
    // kernel reads `value.len()` bytes from `value`.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
