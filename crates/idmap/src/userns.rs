//! A user namespace with given maps, held by a file descriptor, as
//! idmapped mounts need: a child process unshares its user namespace,
//! the maps are written for it, its `/proc/PID/ns/user` is opened, and
//! the child is ended and reaped. The namespace lives as long as the fd.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};

use crate::error::{Error, Result};
use crate::map::IdMaps;
use crate::write::write_maps;

/// The forked child: killed and reaped on drop, whatever happened.
struct Child(Pid);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGKILL);
        let _ = waitpid(self.0, None);
    }
}

/// What the child does: unshare, report the errno (0 for success) and
/// wait for the parent to close the pipe. Only async-signal-safe calls:
/// the parent may have threads.
fn child(ready: OwnedFd, go_read: OwnedFd, go_write: OwnedFd) -> ! {
    let _ = nix::unistd::close(go_write);
    let errno = match nix::sched::unshare(CloneFlags::CLONE_NEWUSER) {
        Ok(()) => 0,
        Err(e) => e as i32,
    };
    let _ = nix::unistd::write(&ready, &errno.to_ne_bytes());
    let mut byte = [0u8; 1];
    let _ = nix::unistd::read(go_read.as_fd(), &mut byte);
    // SAFETY: _exit ends the child without running the parent's atexit
    // handlers or destructors, which a forked child must not run.
    unsafe { libc::_exit(0) }
}

fn fork_child() -> Result<(Child, OwnedFd, OwnedFd)> {
    let pipe =
        || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| Error::UserNamespace { source });
    let (ready_read, ready_write) = pipe()?;
    let (go_read, go_write) = pipe()?;
    // SAFETY: the child runs only async-signal-safe system calls (close,
    // unshare, write, read, _exit) and never returns from `child`.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => child(ready_write, go_read, go_write),
        Ok(ForkResult::Parent { child }) => Ok((Child(child), ready_read, go_write)),
        Err(source) => Err(Error::UserNamespace { source }),
    }
}

/// A new user namespace with `maps`, held by the returned fd. The maps
/// are written directly by root and through newuidmap/newgidmap for
/// other users (see [`write_maps`]).
pub fn userns_fd_for(maps: &IdMaps) -> Result<OwnedFd> {
    let (child, ready, go) = fork_child()?;
    let mut errno = [0u8; 4];
    let n = nix::unistd::read(ready.as_fd(), &mut errno)
        .map_err(|source| Error::UserNamespace { source })?;
    let errno = i32::from_ne_bytes(errno);
    if n != errno.to_ne_bytes().len() || errno != 0 {
        let source = if n == 4 {
            Errno::from_raw(errno)
        } else {
            Errno::EIO
        };
        return Err(Error::UserNamespace { source });
    }
    write_maps(child.0.as_raw(), maps)?;
    let path = format!("/proc/{}/ns/user", child.0);
    let ns = File::open(&path).map_err(|source| Error::Io {
        action: "open",
        path: path.into(),
        source,
    })?;
    // The child sees the end of the pipe and exits; the guard reaps it.
    drop(go);
    drop(child);
    Ok(ns.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::IdMap;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_new_namespace_outlives_its_reaped_child() {
        if !enclos_testkit::require_root("a_new_namespace_outlives_its_reaped_child") {
            return;
        }
        let maps = IdMaps::new(vec![
            IdMap::parse("u 0 165536 65536").unwrap(),
            IdMap::parse("g 0 165536 65536").unwrap(),
        ]);
        let fd = userns_fd_for(&maps).unwrap();
        let own = std::fs::metadata("/proc/self/ns/user").unwrap().ino();
        let theirs = File::from(fd).metadata().unwrap().ino();
        assert_ne!(own, theirs, "a new user namespace, not ours");
        // The child that made it is gone, not a zombie of this thread.
        if let Ok(children) = std::fs::read_to_string("/proc/thread-self/children") {
            assert_eq!(children.trim(), "");
        }
    }
}
