//! A full copy of a tree that keeps everything a rootfs holds: owners,
//! modes, timestamps, extended attributes (file capabilities and ACLs
//! among them), device nodes, fifos, sockets, symlinks, hard links and
//! holes. File data is reflinked (FICLONE) where the filesystem can, else
//! copied with copy_file_range(2) (which the kernel may itself share), else
//! read and written; only the data segments are copied (SEEK_DATA,
//! SEEK_HOLE), so a sparse file stays sparse.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{copy_file_range, AT_FDCWD};
use nix::sys::stat::{mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{lseek, Whence};

use crate::error::{errno, io_err, Error, Result};
use enclos_idmap::xattr;

// FICLONE is _IOW(0x94, 9, int): the source file descriptor, by value.
nix::ioctl_write_int!(ficlone_ioctl, 0x94, 9);

/// Makes `dst` share `src`'s data blocks (a reflink).
fn ficlone(dst: &File, src: &File) -> nix::Result<()> {
    // SAFETY: both descriptors are open files owned by the caller for the
    // whole call; FICLONE takes the source descriptor by value and reads
    // no memory of ours.
    unsafe { ficlone_ioctl(dst.as_raw_fd(), src.as_raw_fd() as libc::c_ulong) }.map(drop)
}

/// Copies the contents of the directory `src` into the existing directory
/// `dst`, then gives `dst` the owner, mode, attributes and times of
/// `src`. Stays on `src`'s filesystem: a directory where another one is
/// mounted is copied as an empty directory (as `rsync -x`).
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io_err("read", src))?;
    // What we create is ours (our effective ids), unless a set-group-id
    // directory gives it its group: then every owner is set.
    let dst_mode = fs::symlink_metadata(dst)
        .map_err(io_err("read", dst))?
        .mode();
    let mut copier = Copier {
        dev: meta.dev(),
        links: HashMap::new(),
        creator: (dst_mode & libc::S_ISGID == 0).then(|| {
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        }),
    };
    copier.copy_children(src, dst)?;
    set_metadata(src, dst, &meta, None)
}

struct Copier {
    /// The source's filesystem.
    dev: u64,
    /// Files with several links copied so far, by (dev, inode): the first
    /// copy, which the next ones link to.
    links: HashMap<(u64, u64), PathBuf>,
    /// The owner of what this copy creates, when known (no set-group-id
    /// directory in the way): an entry of that owner needs no chown. The
    /// copied directories get their set-group-id bit only once their
    /// contents are copied.
    creator: Option<(u32, u32)>,
}

impl Copier {
    fn copy_children(&mut self, src: &Path, dst: &Path) -> Result<()> {
        for e in fs::read_dir(src).map_err(io_err("list", src))? {
            let e = e.map_err(io_err("list", src))?;
            self.copy_entry(&e.path(), &dst.join(e.file_name()))?;
        }
        Ok(())
    }

    fn copy_entry(&mut self, src: &Path, dst: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(src).map_err(io_err("read", src))?;
        let ft = meta.file_type();
        if !ft.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                return fs::hard_link(first, dst).map_err(io_err("link", dst));
            }
            self.links.insert(key, dst.to_path_buf());
        }
        let mut created_by = self.creator;
        if ft.is_dir() {
            match fs::create_dir(dst) {
                // A directory the target's filesystem has already (ext4's
                // lost+found) takes the source's contents, and its owner.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && is_real_dir(dst) => {
                    created_by = None;
                }
                r => r.map_err(io_err("create", dst))?,
            }
            if meta.dev() == self.dev {
                self.copy_children(src, dst)?;
            }
        } else if ft.is_symlink() {
            let target = fs::read_link(src).map_err(io_err("read the link", src))?;
            std::os::unix::fs::symlink(target, dst).map_err(io_err("create the link", dst))?;
        } else if ft.is_file() {
            copy_file(src, dst)?;
        } else {
            make_node(dst, &meta)?;
        }
        set_metadata(src, dst, &meta, created_by)
    }
}

/// Whether `p` is a directory, not a link to one.
fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// A device node, fifo or socket like the one `meta` describes.
fn make_node(dst: &Path, meta: &Metadata) -> Result<()> {
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        SFlag::S_IFCHR
    } else if ft.is_block_device() {
        SFlag::S_IFBLK
    } else if ft.is_fifo() {
        SFlag::S_IFIFO
    } else {
        SFlag::S_IFSOCK
    };
    mknod(dst, kind, Mode::from_bits_truncate(0o600), meta.rdev())
        .map_err(|e| io_err("create the node", dst)(errno(e)))
}

/// Owner, attributes, mode and times, in that order: a change of owner
/// clears the set-id bits and file capabilities, which come after it.
/// `created_by` is the owner `dst` was created with, if known: no chown
/// when it is already the right one.
fn set_metadata(
    src: &Path,
    dst: &Path,
    meta: &Metadata,
    created_by: Option<(u32, u32)>,
) -> Result<()> {
    if created_by != Some((meta.uid(), meta.gid())) {
        std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
            .map_err(io_err("set the owner of", dst))?;
    }
    for name in xattr::list(src).map_err(io_err("list the attributes of", src))? {
        if let Some(value) =
            xattr::get(src, &name).map_err(io_err("read the attributes of", src))?
        {
            xattr::set(dst, &name, &value).map_err(|source| Error::Io {
                what: "set an extended attribute of",
                path: dst.to_path_buf(),
                source: io::Error::new(
                    source.kind(),
                    format!("{}: {source}", String::from_utf8_lossy(&name)),
                ),
            })?;
        }
    }
    if !meta.file_type().is_symlink() {
        fs::set_permissions(
            dst,
            std::os::unix::fs::PermissionsExt::from_mode(meta.mode() & 0o7777),
        )
        .map_err(io_err("set the mode of", dst))?;
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        AT_FDCWD,
        dst,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| io_err("set the times of", dst)(errno(e)))
}

/// Copies a regular file's data: a reflink where the filesystem can,
/// else its data segments.
fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    let from = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(src)
        .map_err(io_err("open", src))?;
    let to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)
        .map_err(io_err("create", dst))?;
    if ficlone(&to, &from).is_ok() {
        return Ok(());
    }
    let len = from.metadata().map_err(io_err("read", src))?.len();
    copy_segments(&from, &to, len).map_err(io_err("copy the data to", dst))?;
    to.set_len(len).map_err(io_err("size", dst))
}

/// The next data segment at or after `pos`: `(start, end)`, or `None`
/// past the last one. A filesystem without SEEK_DATA has one segment.
fn next_segment(f: &File, pos: u64, len: u64) -> io::Result<Option<(u64, u64)>> {
    if pos >= len {
        return Ok(None);
    }
    let start = match lseek(f, pos as i64, Whence::SeekData) {
        Ok(s) => s as u64,
        Err(Errno::ENXIO) => return Ok(None),
        Err(Errno::EINVAL) | Err(Errno::EOPNOTSUPP) => return Ok(Some((pos, len))),
        Err(e) => return Err(errno(e)),
    };
    let end = match lseek(f, start as i64, Whence::SeekHole) {
        Ok(e) => (e as u64).min(len),
        Err(e) => return Err(errno(e)),
    };
    Ok(Some((start, end)))
}

fn copy_segments(from: &File, to: &File, len: u64) -> io::Result<()> {
    let mut pos = 0;
    let mut kernel_copy = true;
    while let Some((start, end)) = next_segment(from, pos, len)? {
        if kernel_copy {
            match copy_range(from, to, start, end) {
                Ok(()) => {
                    pos = end;
                    continue;
                }
                Err(Errno::EXDEV | Errno::ENOSYS | Errno::EINVAL | Errno::EOPNOTSUPP) => {
                    kernel_copy = false;
                }
                Err(e) => return Err(errno(e)),
            }
        }
        read_write(from, to, start, end)?;
        pos = end;
    }
    Ok(())
}

/// copy_file_range(2) of `[start, end)` to the same offsets.
fn copy_range(from: &File, to: &File, start: u64, end: u64) -> nix::Result<()> {
    let (mut off_in, mut off_out) = (start as i64, start as i64);
    while (off_in as u64) < end {
        let want = (end - off_in as u64).min(1 << 30) as usize;
        let n = copy_file_range(from, Some(&mut off_in), to, Some(&mut off_out), want)?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Read and write of `[start, end)` to the same offsets.
fn read_write(mut from: &File, mut to: &File, start: u64, end: u64) -> io::Result<()> {
    from.seek(SeekFrom::Start(start))?;
    to.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = end - start;
    while left > 0 {
        let n = from.read(&mut buf[..left.min(1 << 20) as usize])?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        enclos_idmap::acl::Acl::from_entries(entries).to_bytes()
    }

    /// A tree with one of everything a rootfs holds.
    fn make_tree(src: &Path) {
        fs::create_dir_all(src.join("usr/bin")).unwrap();
        fs::create_dir(src.join("dev")).unwrap();
        let ping = src.join("usr/bin/ping");
        fs::write(&ping, b"#!/bin/true\n").unwrap();
        std::os::unix::fs::lchown(&ping, Some(1234), Some(2345)).unwrap();
        fs::set_permissions(&ping, fs::Permissions::from_mode(0o4751)).unwrap();
        // cap_net_raw+ep, VFS_CAP_REVISION_2.
        let cap: Vec<u8> = [0x0200_0001u32, 1 << 13, 0, 0, 0]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        xattr::set(&ping, b"security.capability", &cap).unwrap();
        xattr::set(&ping, b"user.note", b"kept").unwrap();
        let shared = src.join("shared");
        fs::create_dir(&shared).unwrap();
        let a = acl(&[
            (1, 7, u32::MAX),
            (2, 5, 1234),
            (4, 5, u32::MAX),
            (0x10, 5, u32::MAX),
            (0x20, 0, u32::MAX),
        ]);
        xattr::set(&shared, b"system.posix_acl_access", &a).unwrap();
        xattr::set(&shared, b"system.posix_acl_default", &a).unwrap();
        mknod(
            &src.join("dev/null"),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        mknod(
            &src.join("dev/loopX"),
            SFlag::S_IFBLK,
            Mode::from_bits_truncate(0o660),
            nix::sys::stat::makedev(7, 200),
        )
        .unwrap();
        mknod(
            &src.join("fifo"),
            SFlag::S_IFIFO,
            Mode::from_bits_truncate(0o640),
            0,
        )
        .unwrap();
        mknod(
            &src.join("sock"),
            SFlag::S_IFSOCK,
            Mode::from_bits_truncate(0o755),
            0,
        )
        .unwrap();
        // mknod's mode went through the umask.
        fs::set_permissions(src.join("dev/null"), fs::Permissions::from_mode(0o666)).unwrap();
        symlink("/etc/does-not-exist", src.join("dangling")).unwrap();
        symlink("usr/bin/ping", src.join("rel")).unwrap();
        fs::write(src.join("usr/bin/busybox"), vec![9u8; 5000]).unwrap();
        fs::hard_link(src.join("usr/bin/busybox"), src.join("usr/bin/sh")).unwrap();
        fs::hard_link(src.join("usr/bin/busybox"), src.join("ls")).unwrap();
        // 64 MiB with 8 KiB of data at each end.
        let f = File::create(src.join("sparse")).unwrap();
        (&f).write_all(&[1u8; 8192]).unwrap();
        (&f).seek(SeekFrom::Start((64 << 20) - 8192)).unwrap();
        (&f).write_all(&[2u8; 8192]).unwrap();
        drop(f);
        let old = TimeSpec::new(1_000_000_000, 123_456_789);
        for p in ["usr/bin/busybox", "dangling", "usr/bin", "dev"] {
            utimensat(
                AT_FDCWD,
                &src.join(p),
                &old,
                &old,
                UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
    }

    #[test]
    fn copies_everything_a_rootfs_holds() {
        if !enclos_testkit::require_root("copies_everything_a_rootfs_holds") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        fs::create_dir(&src).unwrap();
        fs::create_dir(&dst).unwrap();
        make_tree(&src);
        copy_tree(&src, &dst).unwrap();

        let ping = fs::symlink_metadata(dst.join("usr/bin/ping")).unwrap();
        assert_eq!(
            (ping.uid(), ping.gid(), ping.mode() & 0o7777),
            (1234, 2345, 0o4751)
        );
        let cap = xattr::get(&dst.join("usr/bin/ping"), b"security.capability").unwrap();
        assert_eq!(
            cap,
            xattr::get(&src.join("usr/bin/ping"), b"security.capability").unwrap()
        );
        assert!(cap.is_some());
        assert_eq!(
            xattr::get(&dst.join("usr/bin/ping"), b"user.note")
                .unwrap()
                .as_deref(),
            Some(&b"kept"[..])
        );
        for name in [&b"system.posix_acl_access"[..], b"system.posix_acl_default"] {
            let want = xattr::get(&src.join("shared"), name).unwrap();
            assert!(want.is_some());
            assert_eq!(xattr::get(&dst.join("shared"), name).unwrap(), want);
        }
        let null = fs::symlink_metadata(dst.join("dev/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(
            (null.rdev(), null.mode() & 0o777),
            (nix::sys::stat::makedev(1, 3), 0o666)
        );
        let lp = fs::symlink_metadata(dst.join("dev/loopX")).unwrap();
        assert!(lp.file_type().is_block_device() && lp.rdev() == nix::sys::stat::makedev(7, 200));
        assert!(fs::symlink_metadata(dst.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
        assert!(fs::symlink_metadata(dst.join("sock"))
            .unwrap()
            .file_type()
            .is_socket());
        assert_eq!(
            fs::read_link(dst.join("dangling")).unwrap(),
            Path::new("/etc/does-not-exist")
        );
        assert_eq!(
            fs::read_link(dst.join("rel")).unwrap(),
            Path::new("usr/bin/ping")
        );
        let bb = fs::metadata(dst.join("usr/bin/busybox")).unwrap();
        assert_eq!(bb.nlink(), 3);
        assert_eq!(fs::metadata(dst.join("ls")).unwrap().ino(), bb.ino());
        assert_eq!(fs::read(dst.join("usr/bin/sh")).unwrap(), vec![9u8; 5000]);
        assert_eq!((bb.mtime(), bb.mtime_nsec()), (1_000_000_000, 123_456_789));
        let dangling = fs::symlink_metadata(dst.join("dangling")).unwrap();
        assert_eq!(dangling.mtime(), 1_000_000_000);
        // Directories keep their times although files were made in them.
        assert_eq!(
            fs::metadata(dst.join("usr/bin")).unwrap().mtime(),
            1_000_000_000
        );
        let sparse = fs::metadata(dst.join("sparse")).unwrap();
        assert_eq!(sparse.len(), 64 << 20);
        assert!(
            sparse.blocks() * 512 < 1 << 20,
            "{} blocks",
            sparse.blocks()
        );
        let data = fs::read(dst.join("sparse")).unwrap();
        assert_eq!(&data[..8192], &[1u8; 8192][..]);
        assert_eq!(&data[(64 << 20) - 8192..], &[2u8; 8192][..]);
        assert!(data[8192..(64 << 20) - 8192].iter().all(|b| *b == 0));
    }

    #[test]
    fn copies_a_tree_as_its_owner() {
        // What needs no privilege: files, directories, links and modes.
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        fs::create_dir_all(src.join("etc")).unwrap();
        fs::create_dir(&dst).unwrap();
        fs::write(src.join("etc/hostname"), "c1\n").unwrap();
        fs::set_permissions(src.join("etc"), fs::Permissions::from_mode(0o710)).unwrap();
        symlink("hostname", src.join("etc/name")).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(fs::read_to_string(dst.join("etc/name")).unwrap(), "c1\n");
        assert_eq!(fs::metadata(dst.join("etc")).unwrap().mode() & 0o777, 0o710);
    }

    #[test]
    fn a_copy_error_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = copy_tree(&tmp.path().join("missing"), tmp.path()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
