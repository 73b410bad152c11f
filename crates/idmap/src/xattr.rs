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
pub fn list(path: &Path) -> io::Result<Vec<Vec<u8>>> {
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

/// The value of attribute `name` of `path`, or `None` when the file has
/// none or its filesystem keeps no extended attributes.
pub fn get(path: &Path, name: impl AsRef<[u8]>) -> io::Result<Option<Vec<u8>>> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_ref())?;
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
pub fn set(path: &Path, name: impl AsRef<[u8]>, value: &[u8]) -> io::Result<()> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_ref())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_attributes_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(get(&file, b"user.enclos").unwrap(), None);
        let long = vec![7u8; 300];
        match set(&file, b"user.enclos", &long) {
            // A filesystem without user xattrs: nothing more to test here.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            other => {
                other.unwrap();
                assert_eq!(get(&file, b"user.enclos").unwrap(), Some(long));
                assert_eq!(list(&file).unwrap(), [b"user.enclos".to_vec()]);
            }
        }
        assert!(get(&dir.path().join("missing"), b"user.enclos").is_err());
    }
}
