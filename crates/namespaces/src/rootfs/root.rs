//! Paths resolved inside the rootfs, never outside it, and mounts onto the
//! descriptors they yield.
//!
//! Every target is opened with openat2(2) and `RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS` relative to a descriptor of the rootfs, so an
//! absolute or `..` symlink in the container's tree resolves inside the
//! tree, as it would after pivot_root; the mount then goes onto
//! `/proc/self/fd/N`, the descriptor's magic link, as LXC and runc do.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{mkdirat, Mode};
use nix::sys::statvfs::{fstatvfs, FsFlags};

use crate::error::{Error, Result};

/// The magic link of `fd` in this process's `/proc`.
pub(crate) fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `rel` without its leading `/`: the rootfs-relative form.
pub(crate) fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

/// `rel` as the container sees it: `/tmp`.
pub(crate) fn in_container(rel: &Path) -> PathBuf {
    Path::new("/").join(relative(rel))
}

/// An open rootfs directory.
#[derive(Debug)]
pub(crate) struct Root {
    pub(crate) fd: OwnedFd,
    pub(crate) host: PathBuf,
}

impl Root {
    /// Opens the host directory `host` (after it became a mount point).
    pub(crate) fn open(host: &Path) -> Result<Self> {
        let fd = open(
            host,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| Error::Fs {
            action: "open the rootfs",
            path: host.to_path_buf(),
            source,
        })?;
        Ok(Self {
            fd,
            host: host.to_path_buf(),
        })
    }

    pub(crate) fn err(&self, action: &'static str, rel: &Path, source: Errno) -> Error {
        Error::InRoot {
            action,
            path: in_container(rel),
            rootfs: self.host.clone(),
            source,
        }
    }

    fn openat2(&self, rel: &Path, flags: OFlag, mode: Mode) -> std::result::Result<OwnedFd, Errno> {
        let rel = relative(rel);
        let rel: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &rel
        };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(mode)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        // EAGAIN: a rename or mount raced the lookup; the kernel asks for
        // a retry.
        let mut tries = 0;
        loop {
            match openat2(self.fd.as_fd(), rel, how) {
                Err(Errno::EAGAIN) if tries < 16 => tries += 1,
                other => return other,
            }
        }
    }

    /// Opens `rel` (O_PATH), following symlinks inside the rootfs.
    pub(crate) fn lookup(&self, rel: &Path) -> std::result::Result<OwnedFd, Errno> {
        self.openat2(rel, OFlag::O_PATH, Mode::empty())
    }

    /// Opens the directory `rel` (O_PATH).
    pub(crate) fn lookup_dir(&self, rel: &Path) -> std::result::Result<OwnedFd, Errno> {
        self.openat2(rel, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
    }

    /// [`Root::lookup`] with the error naming `rel`.
    pub(crate) fn resolve(&self, rel: &Path) -> Result<OwnedFd> {
        self.lookup(rel).map_err(|e| self.err("resolve", rel, e))
    }

    /// Opens the directory `rel`, creating it and its missing parents
    /// (mode 0755) inside the rootfs.
    pub(crate) fn mkdir_all(&self, rel: &Path) -> Result<OwnedFd> {
        let rel = relative(rel);
        let mut current = self
            .lookup_dir(Path::new("."))
            .map_err(|e| self.err("resolve", &rel, e))?;
        let mut prefix = PathBuf::new();
        for comp in rel.components() {
            let name: &OsStr = match comp {
                Component::Normal(n) => n,
                Component::ParentDir => OsStr::new(".."),
                _ => continue,
            };
            prefix.push(name);
            current = match self.lookup_dir(&prefix) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    // `current` is the resolved parent, inside the root;
                    // mkdirat never follows a symlink in its last part.
                    match mkdirat(current.as_fd(), name, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(self.err("create directory", &prefix, e)),
                    }
                    // Reopened through the root: an EEXIST above may be a
                    // dangling symlink, which stays an error.
                    self.lookup_dir(&prefix)
                        .map_err(|e| self.err("create directory", &prefix, e))?
                }
                Err(e) => return Err(self.err("create directory", &prefix, e)),
            };
        }
        Ok(current)
    }

    /// Opens `rel` (O_PATH), creating an empty file with `mode` (and the
    /// missing parent directories) if nothing is there.
    pub(crate) fn create_file(&self, rel: &Path, mode: u32) -> Result<OwnedFd> {
        let rel = relative(rel);
        match self.lookup(&rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(self.err("resolve", &rel, e)),
        }
        let name = rel
            .file_name()
            .ok_or_else(|| self.err("create file", &rel, Errno::EINVAL))?;
        let parent = self.mkdir_all(rel.parent().unwrap_or(Path::new("")))?;
        match openat(
            parent.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        ) {
            Ok(fd) => drop(fd),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(self.err("create file", &rel, e)),
        }
        self.lookup(&rel)
            .map_err(|e| self.err("create file", &rel, e))
    }
}

/// mount(2) onto the descriptor `target`.
pub(crate) fn mount_on(
    device: Option<&OsStr>,
    target: &impl AsRawFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> std::result::Result<(), Errno> {
    let data = data.filter(|d| !d.is_empty());
    mount(device, &fd_path(target), fstype, flags, data)
}

/// Bind-mounts what `source` names (a descriptor's magic link or a host
/// path) onto `target`.
pub(crate) fn bind_on(
    source: &Path,
    target: &impl AsRawFd,
    recursive: bool,
) -> std::result::Result<(), Errno> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount_on(Some(source.as_os_str()), target, None, flags, None)
}

/// The per-mount flags a bind remount must repeat, from the mount `fd` is
/// the root of: dropping nosuid, nodev or noexec is refused where they are
/// locked (in a user namespace) and would widen a mount elsewhere.
fn kept_flags(fd: &OwnedFd) -> std::result::Result<MsFlags, Errno> {
    let st = fstatvfs(fd)?;
    let mut keep = MsFlags::empty();
    for (st_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if st.flags().contains(st_flag) {
            keep |= ms_flag;
        }
    }
    Ok(keep)
}

/// Changes the per-mount flags of the mount whose root `fd` is (MS_BIND |
/// MS_REMOUNT): read-only when `flags` has MS_RDONLY, read-write otherwise;
/// nosuid, nodev and noexec already set are kept, atime flags too unless
/// `flags` names one.
pub(crate) fn remount_bind(fd: &OwnedFd, flags: MsFlags) -> std::result::Result<(), Errno> {
    let per_mount = MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::MS_NOATIME
        | MsFlags::MS_NODIRATIME
        | MsFlags::MS_RELATIME
        | MsFlags::MS_STRICTATIME;
    let flags = (flags & per_mount) | kept_flags(fd)? | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    mount_on(None, fd, None, flags, None)
}

/// The error of a failed mount(2), for `map_err`.
pub(crate) fn mount_err(
    device: &str,
    target: &Path,
    fstype: &str,
    options: &str,
) -> impl FnOnce(Errno) -> Error {
    let device = device.to_owned();
    let target = target.to_path_buf();
    let fstype = fstype.to_owned();
    let options = options.to_owned();
    move |source| Error::Mount {
        device,
        target,
        fstype,
        options,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn relative_and_container_paths() {
        assert_eq!(relative(Path::new("/tmp/x")), PathBuf::from("tmp/x"));
        assert_eq!(relative(Path::new("tmp")), PathBuf::from("tmp"));
        assert_eq!(relative(Path::new("/")), PathBuf::from(""));
        assert_eq!(
            in_container(Path::new("dev/pts")),
            PathBuf::from("/dev/pts")
        );
        assert_eq!(in_container(Path::new("/dev")), PathBuf::from("/dev"));
    }

    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        symlink("/etc", rootfs.join("evil")).unwrap();
        symlink("../../outside", rootfs.join("dotdot")).unwrap();
        symlink("/nowhere/at/all", rootfs.join("dangling")).unwrap();
        let root = Root::open(&rootfs).unwrap();
        (dir, root)
    }

    fn host_path(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(fd_path(fd)).unwrap()
    }

    #[test]
    fn absolute_symlinks_resolve_inside_the_root() {
        let (dir, root) = tree();
        let fd = root.mkdir_all(Path::new("evil/probe-dir")).unwrap();
        assert_eq!(host_path(&fd), dir.path().join("rootfs/etc/probe-dir"));
        assert!(!Path::new("/etc/probe-dir").exists());
        let fd = root
            .create_file(Path::new("/evil/probe-file"), 0o644)
            .unwrap();
        assert_eq!(host_path(&fd), dir.path().join("rootfs/etc/probe-file"));
        assert!(dir.path().join("rootfs/etc/probe-file").is_file());
    }

    #[test]
    fn dotdot_symlinks_stay_inside_the_root() {
        let (dir, root) = tree();
        // Dangling inside the root until /outside exists there.
        assert!(root.mkdir_all(Path::new("dotdot/sub")).is_err());
        std::fs::create_dir(dir.path().join("rootfs/outside")).unwrap();
        let fd = root.mkdir_all(Path::new("dotdot/sub")).unwrap();
        // ../../outside from the root is /outside inside the root.
        assert_eq!(host_path(&fd), dir.path().join("rootfs/outside/sub"));
        assert!(!dir.path().join("outside/sub").exists());
        let fd = root.mkdir_all(Path::new("../../../x")).unwrap();
        assert_eq!(host_path(&fd), dir.path().join("rootfs/x"));
    }

    #[test]
    fn dangling_symlinks_are_errors() {
        let (_dir, root) = tree();
        let err = root.mkdir_all(Path::new("dangling/sub")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Cannot create directory /dangling inside the rootfs"),
            "{err}"
        );
        let err = root.create_file(Path::new("dangling"), 0o644).unwrap_err();
        assert!(
            err.to_string().starts_with("Cannot create file /dangling"),
            "{err}"
        );
        assert!(!Path::new("/nowhere").exists());
    }

    #[test]
    fn lookups_and_existing_entries() {
        let (dir, root) = tree();
        std::fs::write(dir.path().join("rootfs/etc/hosts"), "").unwrap();
        let fd = root.create_file(Path::new("etc/hosts"), 0o644).unwrap();
        assert_eq!(host_path(&fd), dir.path().join("rootfs/etc/hosts"));
        assert_eq!(root.lookup(Path::new("nope")).unwrap_err(), Errno::ENOENT);
        let err = root.resolve(Path::new("/nope/deeper")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Cannot resolve /nope/deeper inside the rootfs"),
            "{err}"
        );
        let fd = root.mkdir_all(Path::new("")).unwrap();
        assert_eq!(host_path(&fd), dir.path().join("rootfs"));
        // A file in the way of a directory.
        assert!(root.mkdir_all(Path::new("etc/hosts/sub")).is_err());
    }
}
