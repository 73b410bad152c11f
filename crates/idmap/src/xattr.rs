//! Reading and writing one extended attribute of a path without following
//! a final symlink (lgetxattr(2), lsetxattr(2)), which nix does not wrap.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// The value of attribute `name` of `path`, or `None` when the file has
/// none or its filesystem keeps no extended attributes.
pub fn get(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_bytes())?;
    let mut buf: Vec<u8> = vec![0; 64];
    loop {
        // SAFETY: both strings are NUL-terminated and outlive the call; the
        // kernel writes at most `buf.len()` bytes into `buf`.
        let n = unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::EOPNOTSUPP) => return Ok(None),
            // The value grew between calls or the guess was short.
            Some(libc::ERANGE) if buf.len() < 1 << 16 => buf.resize(buf.len() * 4, 0),
            _ => return Err(err),
        }
    }
}

/// Sets attribute `name` of `path` to `value`.
pub(crate) fn set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_bytes())?;
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
        assert_eq!(get(&file, "user.enclos").unwrap(), None);
        let long = vec![7u8; 300];
        match set(&file, "user.enclos", &long) {
            // A filesystem without user xattrs: nothing more to test here.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            other => {
                other.unwrap();
                assert_eq!(get(&file, "user.enclos").unwrap(), Some(long));
            }
        }
        assert!(get(&dir.path().join("missing"), "user.enclos").is_err());
    }
}
