//! The enclos binary cannot be overwritten from inside a container (the
//! class of runc's CVE-2019-5736): a process of the container that gets
//! hold of `/proc/PID/exe` of an enclos process (our init under
//! `execute`, an attach that the container tricked into running
//! `#!/proc/self/exe`) could otherwise write the host's binary. `start`,
//! `execute` and `attach` therefore first re-execute themselves from a
//! sealed in-memory copy ([`run_from_sealed_copy`]): `/proc/PID/exe` is
//! then a memfd that no one can write, grow or shrink, and the host's
//! file is never reachable through it.

use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};

/// Where the running binary is.
pub const SELF_EXE: &str = "/proc/self/exe";

/// The seals of the copy: no write, no resize, no change of seals.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// The same with F_SEAL_FUTURE_WRITE (Linux 5.1) for F_SEAL_WRITE: no
/// write(2) and no new writable mapping, which is all a container could
/// try through /proc/PID/exe. F_SEAL_WRITE also waits for every page of
/// the copy to be free of transient references, and gives EBUSY when one
/// is still held a moment after the copy (a page in another CPU's LRU
/// batch, on a busy host): then this one is added instead.
fn future_write_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_FUTURE_WRITE
}

/// Why the sealed copy could not be made or run.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("Cannot read the enclos binary {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot make a sealed in-memory copy of the enclos binary ({step}); enclos runs containers only from such a copy, so that no container can overwrite the binary through /proc/PID/exe: check that memfd_create is allowed and executable (sysctl vm.memfd_noexec must not be 2)")]
    Memfd {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Whether the binary at `exe` is already a sealed copy.
pub fn is_sealed(exe: &Path) -> bool {
    let Ok(f) = File::open(exe) else {
        return false;
    };
    match fcntl(f.as_fd(), FcntlArg::F_GET_SEALS) {
        Ok(bits) => {
            let have = SealFlag::from_bits_truncate(bits);
            have.contains(seals()) || have.contains(future_write_seals())
        }
        Err(_) => false,
    }
}

/// Re-executes this process, same arguments and environment, from a
/// sealed memfd copy of its binary; returns at once when it already runs
/// from one. On success it does not return.
///
/// Call it first thing in a single-threaded process: exec ends every
/// other thread.
pub fn run_from_sealed_copy() -> Result<(), SealError> {
    let exe = Path::new(SELF_EXE);
    if is_sealed(exe) {
        return Ok(());
    }
    let copy = sealed_copy(exe)?;
    let args: Vec<CString> = std::env::args_os().filter_map(c_string).collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            c_string(kv)
        })
        .collect();
    let err = execveat_empty(&copy, &args, &env);
    Err(SealError::Memfd {
        step: "exec",
        source: err.into(),
    })
}

fn c_string(s: OsString) -> Option<CString> {
    CString::new(s.into_vec()).ok()
}

/// A memfd holding the bytes of `exe`, sealed.
fn sealed_copy(exe: &Path) -> Result<OwnedFd, SealError> {
    let memfd = |step| move |source| SealError::Memfd { step, source };
    let mut src = File::open(exe).map_err(|source| SealError::Read {
        path: exe.to_path_buf(),
        source,
    })?;
    let fd = memfd_create(c"enclos").map_err(|e| memfd("memfd_create")(e.into()))?;
    let mut dst = File::from(fd);
    // copy_file_range or sendfile under the hood: no pass through our
    // memory.
    std::io::copy(&mut src, &mut dst).map_err(memfd("copy"))?;
    match fcntl(dst.as_fd(), FcntlArg::F_ADD_SEALS(seals())) {
        Err(Errno::EBUSY) => fcntl(dst.as_fd(), FcntlArg::F_ADD_SEALS(future_write_seals()))
            .map_err(|e| memfd("seal")(e.into()))?,
        other => other.map_err(|e| memfd("seal")(e.into()))?,
    };
    Ok(OwnedFd::from(dst))
}

/// MFD_EXEC (Linux 6.3): say the copy is meant to be executed, which
/// newer kernels want said.
const MFD_EXEC: libc::c_uint = 0x10;

/// memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC), without
/// MFD_EXEC on kernels that do not know it.
fn memfd_create(name: &CStr) -> Result<OwnedFd, Errno> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let raw = |flags: libc::c_uint| {
        // SAFETY: `name` is NUL-terminated and outlives the call, which
        // returns a new descriptor or -1.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd < 0 {
            Err(Errno::last())
        } else {
            // SAFETY: the descriptor was just created and is ours alone.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    };
    match raw(base | MFD_EXEC) {
        Err(Errno::EINVAL) => raw(base),
        other => other,
    }
}

/// execveat(fd, "", args, env, AT_EMPTY_PATH); returns only on failure.
fn execveat_empty(fd: &OwnedFd, args: &[CString], env: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    use std::os::fd::AsRawFd;
    // SAFETY: argv and envp are NULL-terminated arrays of pointers to
    // NUL-terminated strings that outlive the call; on success the
    // process image is replaced and nothing of ours is used again.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn the_fallback_seals_refuse_writes_too() {
        let fd = memfd_create(c"enclos-test").unwrap();
        let mut f = File::from(fd);
        f.write_all(b"binary").unwrap();
        fcntl(f.as_fd(), FcntlArg::F_ADD_SEALS(future_write_seals())).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        assert!(is_sealed(Path::new(&path)));
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        assert!(w.set_len(0).is_err());
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"binary");
    }

    #[test]
    fn the_copy_is_sealed_and_holds_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("exe");
        std::fs::write(&exe, b"\x7fELF not really").unwrap();
        assert!(!is_sealed(&exe));
        let copy = sealed_copy(&exe).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&copy));
        assert!(is_sealed(Path::new(&path)));
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"\x7fELF not really");
        // Not writable, not resizable, through whatever descriptor.
        let mut f = File::from(copy);
        assert!(f.write_all(b"x").is_err());
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        assert!(w.set_len(0).is_err());
        assert!(w.set_len(1 << 20).is_err());
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"\x7fELF not really");
    }
}
