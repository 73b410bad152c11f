//! An ephemeral container's removal when it stops. Its directory is
//! renamed away at once, `.<name>.<pid>.removing` beside it, so that the
//! container is gone for every command from then on (not listed, its name
//! free again); its files are then removed by a process of their own, so
//! that the monitor ends, and with it the `stop` that waits for it,
//! without waiting for the removal. LXC's stop also returns before its
//! ephemeral container is destroyed, but while it is still listed.
//!
//! The renamed directory is held by an exclusive `flock` for as long as
//! its removal runs; a removal that was killed leaves it unlocked, and the
//! next `ls` removes it, as it removes a killed copy's `.partial`
//! directory ([`enclos_snapshot::stage::clean_dead`]).
//!
//! Only what lives in the container's directory is removed this way, by
//! root, for a container without id maps: the rest (a volume of another
//! backend, files owned by mapped ids, a rootfs other containers stack
//! on) is removed by the monitor itself, as before.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use enclos_storage::{Mounted, Rootfs};
use nix::fcntl::{Flock, FlockArg, OFlag};

use enclos_snapshot::stage::REMOVING_SUFFIX;

use crate::container::{storage_rootfs, Container};
use crate::hooks::NsRefs;

/// What an ephemeral container's monitor leaves for its removal: the
/// rootfs still mounted in the monitor's mount namespace, and the
/// references to the dead container's namespaces.
pub(crate) type Leftovers = (Option<Mounted>, Option<NsRefs>);

/// Removes the stopped ephemeral container `c`: renamed away, then
/// removed by a child cloned into the v2 group `group` (the monitor's own
/// may be removed by the stop that waits for it); or at once, here, when
/// that cannot be.
///
/// The child shares the monitor's mount namespace. It lets go of
/// `nsrefs`, the last references to the container's namespaces, then
/// unmounts `mounted`, then removes the files. With `after_exit` (a
/// monitor in the background, which exits right after) it does so once
/// the monitor has exited (end of file on a pipe whose write end only the
/// monitor holds): the teardown of the container's mounts and of the
/// rootfs's (each an RCU grace period in the kernel) is then the child's,
/// not the monitor's, and does not hold up the `stop` that waits for the
/// monitor. A monitor in the foreground is the caller's process, which
/// may live on: the child does not wait for it.
pub(crate) fn remove_ephemeral(
    c: &Container,
    group: Option<OwnedFd>,
    (mounted, nsrefs): Leftovers,
    after_exit: bool,
) {
    let Some((lock, dir)) = rename_away(c) else {
        drop(nsrefs);
        unmount(c, mounted);
        if let Err(e) = crate::create::remove_stopped(c) {
            tracing::warn!(
                container = c.name(),
                "cannot remove the ephemeral container: {e}"
            );
        }
        return;
    };
    let mut mounted = mounted.map(|m| m.moved(c.dir(), &dir));
    let gate = after_exit
        .then(|| nix::unistd::pipe2(OFlag::O_CLOEXEC).ok())
        .flatten();
    let spawned = enclos_namespaces::spawn_pidfd_into(&[], group.as_ref().map(AsFd::as_fd), || {
        // The monitor's streams may be a terminal or a caller's pipe,
        // which must not wait for the removal.
        crate::process::redirect_stdio_to_null();
        if let Some((read, write)) = &gate {
            let _ = nix::unistd::close(write.as_raw_fd());
            await_end(read);
        }
        drop(nsrefs);
        unmount(c, mounted.take());
        destroy(&dir)
    });
    match spawned {
        Ok(_) => {
            // Held until our exit, for the child's wait; the child
            // unmounts the rootfs in the namespace it keeps.
            if let Some((_, write)) = gate {
                std::mem::forget(write);
            }
            if let Some(m) = mounted {
                m.keep();
            }
        }
        Err(e) => {
            tracing::debug!("no process of its own for the removal: {e}");
            unmount(c, mounted.take());
            destroy(&dir);
        }
    }
    // The child holds the lock until it is done.
    drop(lock);
}

/// Reads `pipe` until its end (every write end closed).
fn await_end(pipe: &OwnedFd) {
    let mut buf = [0u8; 16];
    loop {
        match nix::unistd::read(pipe, &mut buf) {
            Ok(0) => return,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Unmounts the stopped container's rootfs, where it is mounted.
fn unmount(c: &Container, mounted: Option<Mounted>) {
    if let Some(Err(e)) = mounted.map(Mounted::unmount) {
        tracing::warn!(container = c.name(), "{}", crate::error::chain(&e));
    }
}

/// Removes a renamed-away container directory; 0 when done, else 1.
fn destroy(dir: &Path) -> i32 {
    match Rootfs::dir(dir).destroy() {
        Ok(()) => 0,
        Err(e) => {
            tracing::warn!(path = %dir.display(), "cannot remove the stopped ephemeral container: {e}");
            1
        }
    }
}

/// Where a container's directory goes while it is removed.
fn removing_path(c: &Container) -> PathBuf {
    c.lxcpath().join(format!(
        ".{}.{}{REMOVING_SUFFIX}",
        c.name(),
        std::process::id()
    ))
}

/// Locks and renames the container's directory away when all of the
/// container is in it and root may remove it; `None` otherwise (or when
/// the rename fails: nothing was changed then).
fn rename_away(c: &Container) -> Option<(Flock<File>, PathBuf)> {
    if !nix::unistd::geteuid().is_root() || !all_in_dir(c) {
        return None;
    }
    let file = File::open(c.dir()).ok()?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()?;
    // Its record in the parent it stacks on goes under its own name (its
    // own record goes with the directory).
    enclos_storage::deps::leave_parent(c.dir()).ok()?;
    let away = removing_path(c);
    std::fs::rename(c.dir(), &away).ok()?;
    Some((lock, away))
}

/// Whether everything of the container is in its directory, owned by ids
/// root removes as they are: no id maps, a rootfs in the directory (or
/// none managed), no clone or snapshot that depends on it.
fn all_in_dir(c: &Container) -> bool {
    let Ok(cfg) = c.config() else {
        return false;
    };
    if !cfg.idmaps().is_empty() || enclos_snapshot::snaps_dir(c.dir()).exists() {
        return false;
    }
    let rootfs = cfg
        .rootfs()
        .filter(|_| cfg.rootfs_managed())
        .map(|r| storage_rootfs(&r));
    match rootfs {
        None => true,
        Some(Err(_)) => false,
        Some(Ok(r)) => in_dir(&r, c.dir()) && r.dependents().is_ok_and(|d| d.is_empty()),
    }
}

/// Whether the rootfs's own files are under `dir`.
fn in_dir(r: &Rootfs, dir: &Path) -> bool {
    r.own_dir()
        .is_some_and(|own| own.starts_with(dir) && own != dir)
}
