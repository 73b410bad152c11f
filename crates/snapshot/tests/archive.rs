//! Privileged tests of export and import: a tree with everything a rootfs
//! holds goes out and back the same; a damaged archive and a full disk
//! leave nothing behind; the course's plain tar imports.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use enclos_snapshot::{
    export, import, Compression, Error, ExportOptions, ExportSource, Format, ImportOptions,
    SnapshotSource,
};

/// A file capability, `cap_net_raw+ep` (vfs_cap_data v2).
fn cap_net_raw() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes());
    v.extend_from_slice(&(1u32 << 13).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}

/// An access ACL `user::rw-,user:10:r--,group::r--,mask::r--,other::r--`.
fn acl() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (1u16, 6u16, u32::MAX),
        (2, 4, 10), // 10 is a newline byte: pax values are binary
        (4, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 4, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

const SPARSE: u64 = 100 << 20;

/// A container `c1` in `lxc` with a rootfs holding one of everything.
fn make_container(lxc: &Path) -> PathBuf {
    let c1 = lxc.join("c1");
    let r = c1.join("rootfs");
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::create_dir_all(r.join("dev")).unwrap();
    fs::create_dir_all(r.join("home/user")).unwrap();
    fs::write(
        c1.join("config"),
        format!(
            "lxc.uts.name = c1\nlxc.rootfs.path = dir:{}\nlxc.hook.pre-start = {}/hook.sh\nlxc.seccomp.profile = {}/common.seccomp\n",
            r.display(),
            c1.display(),
            c1.display()
        ),
    )
    .unwrap();
    fs::write(c1.join("hook.sh"), "#!/bin/sh\n").unwrap();
    fs::write(
        c1.join("common.seccomp"),
        "2\ndenylist\nkexec_load errno 1\n",
    )
    .unwrap();
    fs::write(r.join("etc/hostname"), "c1\n").unwrap();
    fs::write(r.join("home/user/notes"), "mine\n").unwrap();
    std::os::unix::fs::chown(r.join("home/user/notes"), Some(165536), Some(165536)).unwrap();
    std::os::unix::fs::chown(r.join("home/user"), Some(165536), Some(165537)).unwrap();
    let su = r.join("bin-su");
    fs::write(&su, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&su, fs::Permissions::from_mode(0o4755)).unwrap();
    let ping = r.join("ping");
    fs::write(&ping, "ping\n").unwrap();
    xattr::set(&ping, "security.capability", &cap_net_raw()).unwrap();
    fs::write(r.join("shared"), "acl\n").unwrap();
    xattr::set(r.join("shared"), "system.posix_acl_access", &acl()).unwrap();
    xattr::set(r.join("etc/hostname"), "user.note", b"kept").unwrap();
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    mknod(
        &r.join("dev/null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, 3),
    )
    .unwrap();
    mknod(
        &r.join("dev/initctl"),
        SFlag::S_IFIFO,
        Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    fs::hard_link(r.join("etc/hostname"), r.join("etc/hostname.link")).unwrap();
    std::os::unix::fs::symlink("../etc/hostname", r.join("dev/hn")).unwrap();
    let f = fs::File::create(r.join("sparse.img")).unwrap();
    f.set_len(SPARSE).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_at(b"middle", SPARSE / 2).unwrap();
    c1
}

fn source(c1: &Path) -> ExportSource {
    ExportSource {
        name: "c1".into(),
        dir: c1.to_path_buf(),
        config: c1.join("config"),
        rootfs: c1.join("rootfs"),
        snapshots: vec![],
    }
}

/// Everything a user would compare: type, owner, mode, device, size,
/// content, xattrs, mtime, symlink target.
fn describe(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let mut line = format!(
            "{rel} {:o} {}:{} rdev={} size={}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.rdev(),
            if m.is_dir() { 0 } else { m.len() }
        );
        if !m.is_dir() {
            line += &format!(" mtime={}", m.mtime());
        }
        let mut names: Vec<_> = xattr::list(&p).unwrap().collect();
        names.sort();
        for n in names {
            let v = xattr::get(&p, &n).unwrap().unwrap_or_default();
            line += &format!(" {}={:?}", n.to_string_lossy(), v);
        }
        if m.file_type().is_symlink() {
            line += &format!(" -> {}", fs::read_link(&p).unwrap().display());
        } else if m.is_file() && m.len() < 1 << 20 {
            line += &format!(" {:?}", fs::read(&p).unwrap());
        }
        if m.is_dir() {
            let mut kids: Vec<_> = fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            kids.sort();
            stack.extend(kids);
        }
        out.push(line);
    }
    out.sort();
    out
}

#[test]
fn export_import_round_trip_keeps_everything() {
    if !enclos_testkit::require_root("export_import_round_trip_keeps_everything") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = make_container(tmp.path());
    let mut archive = Vec::new();
    let mut last = None;
    let summary = export(
        &source(&c1),
        &mut archive,
        &ExportOptions::default(),
        &mut |p| last = Some(p),
    )
    .unwrap();
    let last = last.unwrap();
    assert_eq!(Some(last.done), last.total);
    assert_eq!(summary.payload_bytes, last.done);
    assert!(
        archive.len() < 1 << 20,
        "the holes are not in the archive: {}",
        archive.len()
    );

    let c2 = tmp.path().join("c2");
    let mut seen = None;
    let imported = import(&archive[..], &c2, &ImportOptions::default(), &mut |p| {
        seen = Some(p)
    })
    .unwrap();
    assert_eq!(imported.format, Format::Export);
    assert_eq!(imported.compression, "zstd");
    assert_eq!(seen.unwrap().total, Some(summary.payload_bytes));
    assert_eq!(describe(&c2.join("rootfs")), describe(&c1.join("rootfs")));
    let r2 = c2.join("rootfs");
    let sparse = fs::metadata(r2.join("sparse.img")).unwrap();
    assert_eq!(sparse.len(), SPARSE);
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "{} blocks",
        sparse.blocks()
    );
    assert_eq!(
        fs::metadata(r2.join("etc/hostname")).unwrap().ino(),
        fs::metadata(r2.join("etc/hostname.link")).unwrap().ino()
    );
    assert!(fs::metadata(r2.join("dev/null"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        fs::metadata(r2.join("bin-su")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        xattr::get(r2.join("ping"), "security.capability").unwrap(),
        Some(cap_net_raw())
    );
    assert_eq!(
        fs::read_to_string(c2.join("config")).unwrap(),
        format!(
            "lxc.uts.name = c2\nlxc.rootfs.path = dir:{}\nlxc.hook.pre-start = {}/hook.sh\nlxc.seccomp.profile = {}/common.seccomp\n",
            r2.display(),
            c2.display(),
            c2.display()
        )
    );
    // The files the config names in the container's directory came along.
    assert_eq!(
        fs::read_to_string(c2.join("common.seccomp")).unwrap(),
        "2\ndenylist\nkexec_load errno 1\n"
    );
    assert_eq!(
        fs::read_to_string(c2.join("hook.sh")).unwrap(),
        "#!/bin/sh\n"
    );
    assert!(!tmp.path().join(".c2.partial").exists());
}

#[test]
fn snapshots_go_along_on_request() {
    if !enclos_testkit::require_root("snapshots_go_along_on_request") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = tmp.path().join("c1");
    fs::create_dir_all(c1.join("rootfs")).unwrap();
    fs::write(
        c1.join("config"),
        format!("lxc.rootfs.path = dir:{}/rootfs\n", c1.display()),
    )
    .unwrap();
    let snap = enclos_snapshot::NewSnapshot::begin(&c1).unwrap();
    let final_dir = snap.final_dir().to_path_buf();
    snap.write_config(&format!(
        "lxc.uts.name = c1\nlxc.rootfs.path = dir:{}/rootfs\n",
        final_dir.display()
    ))
    .unwrap();
    fs::create_dir(snap.dir().join("rootfs")).unwrap();
    fs::write(snap.dir().join("rootfs/old"), "then\n").unwrap();
    snap.write_comment(b"before\n").unwrap();
    let snap = snap.commit().unwrap();
    let mut src = source(&c1);
    src.snapshots.push(SnapshotSource {
        name: snap.name.clone(),
        dir: snap.dir.clone(),
        rootfs: snap.dir.join("rootfs"),
    });
    let mut archive = Vec::new();
    export(&src, &mut archive, &ExportOptions::default(), &mut |_| {}).unwrap();
    let c2 = tmp.path().join("c2");
    let imported = import(&archive[..], &c2, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(imported.snapshots, ["snap0"]);
    let snaps = enclos_snapshot::list(&c2).unwrap();
    assert_eq!(snaps[0].comment.as_deref(), Some("before\n"));
    assert_eq!(snaps[0].timestamp, snap.timestamp);
    assert_eq!(
        fs::read_to_string(c2.join("snaps/snap0/rootfs/old")).unwrap(),
        "then\n"
    );
    assert_eq!(
        fs::read_to_string(c2.join("snaps/snap0/config")).unwrap(),
        format!(
            "lxc.uts.name = c1\nlxc.rootfs.path = dir:{}/snaps/snap0/rootfs\n",
            c2.display()
        )
    );
}

/// Nothing of an import in `lxc` but what was there before.
fn assert_nothing_left(lxc: &Path, before: &[&str]) {
    let mut names: Vec<String> = fs::read_dir(lxc)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, before);
}

#[test]
fn a_damaged_archive_is_refused_and_leaves_nothing() {
    if !enclos_testkit::require_root("a_damaged_archive_is_refused_and_leaves_nothing") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = make_container(tmp.path());
    let opts = ExportOptions {
        compression: Compression::None,
        ..ExportOptions::default()
    };
    let mut archive = Vec::new();
    export(&source(&c1), &mut archive, &opts, &mut |_| {}).unwrap();
    // Flip a byte of a file's data: tar cannot see it, the checksum can.
    let at = archive.windows(5).position(|w| w == b"mine\n").unwrap();
    archive[at] ^= 0x20;
    let c2 = tmp.path().join("c2");
    let opts = ImportOptions {
        archive: "c1.tar".into(),
    };
    let err = import(&archive[..], &c2, &opts, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("Archive c1.tar is damaged: its checksum says "),
        "{err}"
    );
    assert_nothing_left(tmp.path(), &["c1"]);

    // Cut short: the checksum member is missing.
    let mut whole = Vec::new();
    export(
        &source(&c1),
        &mut whole,
        &ExportOptions {
            compression: Compression::None,
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let at = whole
        .windows(20)
        .rposition(|w| w == b"enclos-export.sha256")
        .unwrap();
    let err = import(&whole[..at - 1], &c2, &opts, &mut |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("truncated") || matches!(err, Error::ArchiveIo { .. }),
        "{err}"
    );
    assert_nothing_left(tmp.path(), &["c1"]);

    // A flipped byte in a compressed archive: zstd's own checksum.
    let mut z = Vec::new();
    export(&source(&c1), &mut z, &ExportOptions::default(), &mut |_| {}).unwrap();
    let mid = z.len() / 2;
    z[mid] ^= 0xff;
    assert!(import(&z[..], &c2, &opts, &mut |_| {}).is_err());
    assert_nothing_left(tmp.path(), &["c1"]);
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_full_disk_fails_the_import_cleanly() {
    if !enclos_testkit::require_root("a_full_disk_fails_the_import_cleanly") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = tmp.path().join("c1");
    fs::create_dir_all(c1.join("rootfs")).unwrap();
    fs::write(c1.join("config"), "lxc.uts.name = c1\n").unwrap();
    // 32 MiB of data that is not zeros.
    let mut f = fs::File::create(c1.join("rootfs/big")).unwrap();
    let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8 + 1).collect();
    for _ in 0..32 {
        f.write_all(&block).unwrap();
    }
    drop(f);
    let mut archive = Vec::new();
    export(
        &source(&c1),
        &mut archive,
        &ExportOptions::default(),
        &mut |_| {},
    )
    .unwrap();

    let lxc = tmp.path().join("small");
    fs::create_dir(&lxc).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &lxc,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=16m"),
    )
    .unwrap();
    let _guard = Tmpfs(lxc.clone());
    let err = import(
        &archive[..],
        &lxc.join("c2"),
        &ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap_err();
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(chain.contains("No space left on device"), "{chain}");
    assert_nothing_left(&lxc, &[]);
}

#[test]
fn the_courses_plain_tar_imports() {
    if !enclos_testkit::require_root("the_courses_plain_tar_imports") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = make_container(tmp.path());
    fs::remove_file(c1.join("rootfs/sparse.img")).unwrap();
    for (flag, name, compression) in [
        ("czf", "backup.tar.gz", "gzip"),
        ("cf", "backup.tar", "none"),
    ] {
        let archive = tmp.path().join(name);
        let status = Command::new("tar")
            .args(["--xattrs", "--xattrs-include=*", "--acls", "-C"])
            .arg(&c1)
            .arg(format!("-{flag}"))
            .arg(&archive)
            .args(["rootfs", "config"])
            .status()
            .unwrap();
        assert!(status.success());
        let target = tmp.path().join(format!("restored-{compression}"));
        let imported = import(
            fs::File::open(&archive).unwrap(),
            &target,
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(imported.format, Format::PlainTar);
        assert_eq!(imported.compression, compression);
        assert_eq!(
            describe(&target.join("rootfs")),
            describe(&c1.join("rootfs"))
        );
        let config = fs::read_to_string(target.join("config")).unwrap();
        assert!(
            config.contains(&format!(
                "lxc.rootfs.path = dir:{}/rootfs\n",
                target.display()
            )),
            "{config}"
        );
    }
}
