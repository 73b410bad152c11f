use std::os::unix::fs::symlink;

use super::*;
use crate::map::IdMap;
use crate::xattr_ids::capability_for_root;

/// cap_net_bind_service=ep as setcap writes it: v2, effective.
const NET_BIND_V2: [u8; 20] = [
    0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
const NO_ID: u32 = u32::MAX;

fn course_maps() -> IdMaps {
    IdMaps::new(vec![
        IdMap::parse("u 0 165536 65536").unwrap(),
        IdMap::parse("g 0 165536 65536").unwrap(),
    ])
}

/// A POSIX ACL xattr value: version 2, then (tag, perm, id) entries.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// user::rw- user:UID:rw- group::r-- group:GID:r-- mask::rw- other::r--
fn acl_for(uid: u32, gid: u32) -> Vec<u8> {
    acl(&[
        (0x01, 6, NO_ID),
        (0x02, 6, uid),
        (0x04, 4, NO_ID),
        (0x08, 4, gid),
        (0x10, 6, NO_ID),
        (0x20, 4, NO_ID),
    ])
}

fn owner(path: &Path) -> (u32, u32, u32) {
    let meta = fs::symlink_metadata(path).unwrap();
    (meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

/// A small rootfs as root makes it: root-owned system files, a user's
/// home owned by 1000, a setuid binary, a file capability, ACLs, a hard
/// link, a symlink, a fifo and a device node.
fn make_rootfs(root: &Path) {
    let mkdir = |p: &str| fs::create_dir_all(root.join(p)).unwrap();
    let file = |p: &str, mode: u32| {
        fs::write(root.join(p), p).unwrap();
        fs::set_permissions(root.join(p), fs::Permissions::from_mode(mode)).unwrap();
    };
    mkdir("bin");
    mkdir("home/user");
    mkdir("dev");
    file("bin/su", 0o4755);
    file("bin/ping", 0o755);
    xattr::set(&root.join("bin/ping"), CAPABILITY, &NET_BIND_V2).unwrap();
    symlink("su", root.join("bin/sh")).unwrap();
    nix::unistd::mkfifo(
        &root.join("dev/initctl"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    nix::sys::stat::mknod(
        &root.join("dev/null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    file("home/user/notes", 0o644);
    xattr::set(
        &root.join("home/user/notes"),
        ACL_ACCESS,
        &acl_for(1000, 1000),
    )
    .unwrap();
    fs::hard_link(
        root.join("home/user/notes"),
        root.join("home/user/notes.link"),
    )
    .unwrap();
    xattr::set(&root.join("home/user"), ACL_DEFAULT, &acl_for(1000, 1000)).unwrap();
    for p in ["home/user", "home/user/notes"] {
        std::os::unix::fs::lchown(root.join(p), Some(1000), Some(1000)).unwrap();
    }
    fs::set_permissions(root.join("home/user"), fs::Permissions::from_mode(0o2775)).unwrap();
}

#[test]
fn a_rootfs_goes_to_the_host_ids_and_back() {
    if !enclos_testkit::require_root("a_rootfs_goes_to_the_host_ids_and_back") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    make_rootfs(&root);
    let stats = shift_tree(&root, &course_maps(), Direction::ToHost).unwrap();
    assert_eq!(
        stats,
        ShiftStats {
            entries: 11,
            hard_links: 1,
            capabilities: 1,
            acls: 2,
            other_filesystems: 0
        }
    );
    assert_eq!(owner(&root), (165536, 165536, 0o755));
    assert_eq!(owner(&root.join("bin/su")), (165536, 165536, 0o4755));
    assert_eq!(owner(&root.join("bin/sh")).0, 165536);
    assert_eq!(owner(&root.join("dev/null")).0, 165536);
    assert_eq!(owner(&root.join("dev/initctl")).0, 165536);
    assert_eq!(owner(&root.join("home/user")), (166536, 166536, 0o2775));
    assert_eq!(owner(&root.join("home/user/notes.link")).0, 166536);
    let cap = xattr::get(&root.join("bin/ping"), CAPABILITY).unwrap();
    assert_eq!(
        cap,
        Some(capability_for_root(&NET_BIND_V2, Some(165536)).unwrap())
    );
    let get_acl = |p: &str, name| xattr::get(&root.join(p), name).unwrap();
    assert_eq!(
        get_acl("home/user/notes", ACL_ACCESS),
        Some(acl_for(166536, 166536))
    );
    assert_eq!(
        get_acl("home/user", ACL_DEFAULT),
        Some(acl_for(166536, 166536))
    );
    if let Ok(out) = std::process::Command::new("getcap")
        .arg(root.join("bin/ping"))
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("cap_net_bind_service=ep"),
            "getcap says {text:?}"
        );
    }

    let back = shift_tree(&root, &course_maps(), Direction::ToContainer).unwrap();
    assert_eq!(back, stats);
    assert_eq!(owner(&root.join("bin/su")), (0, 0, 0o4755));
    assert_eq!(owner(&root.join("home/user/notes")).0, 1000);
    let cap = xattr::get(&root.join("bin/ping"), CAPABILITY).unwrap();
    assert_eq!(cap, Some(NET_BIND_V2.to_vec()));
    assert_eq!(
        get_acl("home/user/notes", ACL_ACCESS),
        Some(acl_for(1000, 1000))
    );
}

#[test]
fn an_unmapped_acl_entry_names_the_file_and_the_id() {
    if !enclos_testkit::require_root("an_unmapped_acl_entry_names_the_file_and_the_id") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, "").unwrap();
    xattr::set(&file, ACL_ACCESS, &acl_for(70000, 0)).unwrap();
    let err = shift_tree(&file, &course_maps(), Direction::ToHost).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "An ACL entry of {} is uid 70000, which no lxc.idmap line covers on its container \
             side; add a line that covers it, or chown the file to a mapped id first",
            file.display()
        )
    );
    // Nothing was changed before the error.
    assert_eq!(owner(&file).0, 0);
}

#[test]
fn an_unmapped_owner_stops_the_shift() {
    let dir = tempfile::tempdir().unwrap();
    let me = nix::unistd::geteuid().as_raw();
    // A map that covers every uid but the owner's.
    let maps = IdMaps::new(vec![IdMap {
        kind: IdKind::Uid,
        container_id: me.wrapping_add(1),
        host_id: 165536,
        range: 1,
    }]);
    let err = shift_tree(dir.path(), &maps, Direction::ToHost).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "The owner of {} is uid {me}, which no lxc.idmap line covers",
            dir.path().display()
        )),
        "{err}"
    );
}

#[test]
fn a_mount_inside_the_tree_is_left_alone() {
    if !enclos_testkit::require_root("a_mount_inside_the_tree_is_left_alone") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    fs::create_dir(root.join("proc")).unwrap();
    // A thread of its own unshares the mount namespace, so the tmpfs never
    // shows on the host; the namespace ends with the thread.
    let (stats, mounted_owner) = std::thread::spawn(move || {
        use nix::mount::{mount, MsFlags};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        let none: Option<&str> = None;
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none).unwrap();
        mount(
            Some("tmpfs"),
            &root.join("proc"),
            Some("tmpfs"),
            MsFlags::empty(),
            none,
        )
        .unwrap();
        fs::write(root.join("proc/inside"), "").unwrap();
        let stats = shift_tree(&root, &course_maps(), Direction::ToHost).unwrap();
        (stats, owner(&root.join("proc/inside")).0)
    })
    .join()
    .unwrap();
    assert_eq!((stats.entries, stats.other_filesystems), (1, 1));
    assert_eq!(mounted_owner, 0, "the walk went into another filesystem");
    assert_eq!(owner(dir.path()).0, 165536);
}
