use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::fcntl::AtFlags;
use nix::mount::{MntFlags, MsFlags};

use super::*;

fn course_maps() -> IdMaps {
    IdMaps::new(vec![
        IdMap::parse("u 0 165536 65536").unwrap(),
        IdMap::parse("g 0 165536 65536").unwrap(),
    ])
}

/// A temp dir on a disk filesystem (/var/tmp), with `f` owned by 0 and
/// `user` owned by 1000.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("enclos-idmapped")
        .tempdir_in("/var/tmp")
        .unwrap();
    fs::write(dir.path().join("f"), "root's").unwrap();
    fs::write(dir.path().join("user"), "user's").unwrap();
    std::os::unix::fs::lchown(dir.path().join("user"), Some(1000), Some(1000)).unwrap();
    fs::create_dir(dir.path().join("target")).unwrap();
    dir
}

/// The tree of [`tree`] when the test may go on: as root, where idmapped
/// mounts work.
fn usable_tree(test: &str) -> Option<tempfile::TempDir> {
    if !enclos_testkit::require_root(test) {
        return None;
    }
    let dir = tree();
    match probe_idmapped_mount(dir.path()) {
        Ok(()) => Some(dir),
        Err(e) => {
            enclos_testkit::missing_feature(test, &e.to_string());
            None
        }
    }
}

#[test]
fn files_owned_by_0_show_as_165536_through_the_mount() {
    let Some(dir) = usable_tree("files_owned_by_0_show_as_165536_through_the_mount") else {
        return;
    };
    let userns = userns_fd_for(&course_maps()).unwrap();
    let mount = idmapped_mount(dir.path(), userns.as_fd()).unwrap();
    let stat =
        |name: &str| nix::sys::stat::fstatat(&mount, name, AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
    assert_eq!((stat("f").st_uid, stat("f").st_gid), (165536, 165536));
    assert_eq!((stat("user").st_uid, stat("user").st_gid), (166536, 166536));
    // The disk is unchanged.
    assert_eq!(fs::metadata(dir.path().join("f")).unwrap().uid(), 0);
}

/// Unmounts on drop, even when the test fails.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

#[test]
fn an_attached_mount_shows_host_ids_and_stays_in_its_namespace() {
    let test = "an_attached_mount_shows_host_ids_and_stays_in_its_namespace";
    let Some(dir) = usable_tree(test) else {
        return;
    };
    let (source, target) = (dir.path().to_path_buf(), dir.path().join("target"));
    let inside = target.clone();
    // A thread of its own unshares the mount namespace, so nothing it
    // mounts reaches the host's; its namespace ends with it.
    let seen = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        let none: Option<&str> = None;
        nix::mount::mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none).unwrap();
        let userns = userns_fd_for(&course_maps()).unwrap();
        let mount = idmapped_mount(&source, userns.as_fd()).unwrap();
        move_mount(mount.as_fd(), &inside).unwrap();
        let _guard = Unmount(inside.clone());
        let meta = fs::metadata(inside.join("f")).unwrap();
        (meta.uid(), meta.gid())
    })
    .join()
    .unwrap();
    assert_eq!(seen, (165536, 165536));
    assert!(
        !target.join("f").exists(),
        "the mount leaked into the host's namespace"
    );
}

#[test]
fn a_filesystem_without_idmapped_mounts_says_so() {
    if !enclos_testkit::require_root("a_filesystem_without_idmapped_mounts_says_so") {
        return;
    }
    let userns = userns_fd_for(&course_maps()).unwrap();
    let err = idmapped_mount(Path::new("/proc"), userns.as_fd()).unwrap_err();
    assert!(
        matches!(err, Error::IdmappedMountUnsupported { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "Cannot make an idmapped mount of /proc: its filesystem does not support idmapped mounts"
        ),
        "{err}"
    );
}
