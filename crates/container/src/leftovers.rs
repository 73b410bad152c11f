//! What a killed copy, import, snapshot or restore left behind: its
//! staging directory (`.<name>.partial`, see [`enclos_snapshot::stage`]),
//! with whatever it had mounted there. Nobody holds the lock of a dead
//! attempt's directory, so the commands that list containers or
//! snapshots remove such directories as they go; a live attempt's is left
//! alone. A failure to clean is a warning, never the command's failure.
//!
//! Better still, what such an attempt mounts for a while (the images of a
//! copy into or out of `loop`) is mounted in a mount namespace of its own
//! ([`with_own_mounts`]): killed, it takes its mounts along, and their
//! loop devices with them.

use std::path::Path;

use crate::container::Container;

/// Removes the dead staging directories of `lxcpath` (half copies and
/// imports).
pub(crate) fn clean_lxcpath(lxcpath: &Path) {
    clean(lxcpath);
}

/// Removes the dead staging directories of container `c`: half
/// snapshots in its snapshots directory, half restores in its directory.
pub(crate) fn clean_container(c: &Container) {
    clean(c.dir());
    clean(&enclos_snapshot::snaps_dir(c.dir()));
}

/// Runs `f` on a thread in a mount namespace of its own, whose mounts
/// are slaves of the host's: what `f` mounts is never seen by the host,
/// and goes when the process ends, killed or not. Where the namespace
/// cannot be made (not root), `f` runs in the caller's. The thread ends
/// before this returns, so nothing of it outlives the call (a later fork
/// is single-threaded again).
pub(crate) fn with_own_mounts<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let (v, tid) = std::thread::scope(|s| {
        let thread = s.spawn(|| {
            if let Err(e) = enclos_namespaces::unshare_mount_namespace() {
                tracing::debug!("temporary mounts in the caller's namespace: {e}");
            }
            (f(), nix::unistd::gettid())
        });
        match thread.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    await_thread_end(tid);
    v
}

/// A joined thread has let go of its memory, but it is still one of the
/// process's tasks for a moment, dropping its mount namespace: waits
/// (at most 5 s) until it is gone, so that a fork right after finds the
/// process single-threaded.
fn await_thread_end(tid: nix::unistd::Pid) {
    let task = std::path::PathBuf::from(format!("/proc/self/task/{tid}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut step = std::time::Duration::from_micros(20);
    while task.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(step);
        step = (step * 2).min(std::time::Duration::from_millis(1));
    }
}

fn clean(dir: &Path) {
    match enclos_snapshot::stage::clean_dead(dir) {
        Ok(removed) => {
            for path in removed {
                tracing::info!(path = %path.display(), "removed: a killed attempt's leftovers");
            }
        }
        Err(e) => tracing::warn!(
            "cannot remove a killed attempt's leftovers in {}: {}",
            dir.display(),
            crate::error::chain(&e)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn dead_staging_directories_go_and_live_ones_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let lxc = tmp.path();
        fs::create_dir_all(lxc.join("c1/rootfs")).unwrap();
        fs::write(lxc.join("c1/config"), "lxc.uts.name = c1\n").unwrap();
        let dead = [
            lxc.join(".c2.partial/rootfs/etc"),
            lxc.join("c1/snaps/.snap0.partial/rootfs"),
            lxc.join("c1/.restore.partial/rootfs"),
            // A stopped ephemeral container whose removal was killed.
            lxc.join(".c4.4242.removing/delta0"),
        ];
        for d in &dead {
            fs::create_dir_all(d).unwrap();
        }
        let live = enclos_snapshot::stage::Staged::begin(&lxc.join("c3"), "copy", 0o755).unwrap();
        clean_lxcpath(lxc);
        clean_container(&Container::new(lxc, "c1").unwrap());
        for d in &dead {
            assert!(!d.parent().unwrap().exists(), "{} removed", d.display());
        }
        assert!(live.dir().is_dir(), "a live attempt is left alone");
        assert!(lxc.join("c1/rootfs").is_dir());
    }

    #[test]
    fn what_is_mounted_with_own_mounts_never_reaches_the_caller() {
        if !enclos_testkit::require_root("what_is_mounted_with_own_mounts_never_reaches_the_caller")
        {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().to_path_buf();
        let mounted_here = |t: &Path| {
            fs::read_to_string("/proc/thread-self/mountinfo")
                .unwrap()
                .lines()
                .any(|l| l.split(' ').nth(4) == Some(&*t.to_string_lossy()))
        };
        let seen_inside = with_own_mounts(|| {
            nix::mount::mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                None::<&str>,
            )
            .unwrap();
            // Left mounted, as by a process killed now.
            mounted_here(&target)
        });
        assert!(seen_inside);
        assert!(!mounted_here(&target), "the caller never sees it");
    }
}
