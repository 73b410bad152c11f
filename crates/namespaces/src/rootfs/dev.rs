//! `/dev`: the autodev tmpfs and its nodes, devpts, the console and ttys.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{fchmodat, fstatat, makedev, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};

use super::root::{bind_on, fd_path, in_container, mount_err, mount_on, Root};
use super::DevPts;
use crate::error::Result;

/// The nodes autodev makes: name, major, minor (all mode 0666).
pub const AUTODEV_NODES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symlinks autodev makes: name, target.
pub const AUTODEV_LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// LXC's size of the /dev tmpfs, in bytes.
pub(crate) const AUTODEV_SIZE: u64 = 500_000;

/// A tmpfs of `size` bytes on /dev with the usual nodes, symlinks and
/// directories.
pub(crate) fn autodev(root: &Root, size: u64) -> Result<()> {
    let data = format!("size={size},mode=755");
    let data = data.as_str();
    let target = root.mkdir_all(Path::new("dev"))?;
    mount_on(
        Some("none".as_ref()),
        &target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME,
        Some(data),
    )
    .map_err(mount_err(
        "none",
        &in_container(Path::new("dev")),
        "tmpfs",
        data,
    ))?;
    drop(target);
    let dev = root
        .lookup_dir(Path::new("dev"))
        .map_err(|e| root.err("resolve", Path::new("dev"), e))?;
    for (name, major, minor) in AUTODEV_NODES {
        make_node(root, &dev, name, major, minor)?;
    }
    for (name, target) in AUTODEV_LINKS {
        symlinkat(target, dev.as_fd(), name)
            .map_err(|e| root.err("create symlink", &dev_rel(name), e))?;
    }
    for (name, mode) in [("pts", 0o755), ("shm", 0o1777), ("mqueue", 0o755)] {
        mkdirat(dev.as_fd(), name, Mode::from_bits_truncate(0o755))
            .and_then(|()| {
                fchmodat(
                    dev.as_fd(),
                    name,
                    Mode::from_bits_truncate(mode),
                    FchmodatFlags::NoFollowSymlink,
                )
            })
            .map_err(|e| root.err("create directory", &dev_rel(name), e))?;
    }
    tracing::debug!("autodev: tmpfs on /dev with its nodes");
    Ok(())
}

fn dev_rel(name: &str) -> PathBuf {
    Path::new("dev").join(name)
}

/// mknod, or, where that is not allowed (a user namespace), a bind mount
/// of the host's node onto an empty file.
fn make_node(root: &Root, dev: &OwnedFd, name: &str, major: u64, minor: u64) -> Result<()> {
    let mode = Mode::from_bits_truncate(0o666);
    match mknodat(
        dev.as_fd(),
        name,
        SFlag::S_IFCHR,
        mode,
        makedev(major, minor),
    ) {
        Ok(()) => {
            // The umask may have taken bits off.
            fchmodat(dev.as_fd(), name, mode, FchmodatFlags::NoFollowSymlink)
                .map_err(|e| root.err("change the mode of", &dev_rel(name), e))
        }
        Err(Errno::EPERM | Errno::EACCES) => {
            let file = openat(
                dev.as_fd(),
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| root.err("create file", &dev_rel(name), e))?;
            let host = Path::new("/dev").join(name);
            bind_on(&host, &file, false).map_err(mount_err(
                &host.to_string_lossy(),
                &in_container(Path::new(&format!("dev/{name}"))),
                "none",
                "bind",
            ))?;
            tracing::debug!(node = name, "mknod not permitted: bound the host's node");
            Ok(())
        }
        Err(e) => Err(root.err("create device node", &dev_rel(name), e)),
    }
}

/// A private devpts instance on /dev/pts and /dev/ptmx pointing at it;
/// `own` more ptys than `spec.max` for the console and ttys made in it.
pub(crate) fn devpts(root: &Root, spec: &DevPts, own: usize) -> Result<()> {
    let target = root.mkdir_all(Path::new("dev/pts"))?;
    let mut data = String::from("newinstance,ptmxmode=0666,mode=0620,gid=5");
    if spec.max > 0 {
        data.push_str(&format!(",max={}", u64::from(spec.max) + own as u64));
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    match mount_on(
        Some("devpts".as_ref()),
        &target,
        Some("devpts"),
        flags,
        Some(&data),
    ) {
        // gid 5 (tty) is not mapped in this user namespace.
        Err(Errno::EINVAL) => {
            data = data.replace(",gid=5", "");
            mount_on(
                Some("devpts".as_ref()),
                &target,
                Some("devpts"),
                flags,
                Some(&data),
            )
        }
        other => other,
    }
    .map_err(mount_err(
        "devpts",
        &in_container(Path::new("dev/pts")),
        "devpts",
        &data,
    ))?;
    drop(target);

    let dev = root
        .lookup_dir(Path::new("dev"))
        .map_err(|e| root.err("resolve", Path::new("dev"), e))?;
    let ptmx = dev_rel("ptmx");
    match fstatat(dev.as_fd(), "ptmx", AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => {
            symlinkat("pts/ptmx", dev.as_fd(), "ptmx")
                .map_err(|e| root.err("create symlink", &ptmx, e))?;
        }
        Ok(st)
            if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFLNK =>
        {
            let current =
                readlinkat(dev.as_fd(), "ptmx").map_err(|e| root.err("read symlink", &ptmx, e))?;
            if current != "pts/ptmx" && current != "/dev/pts/ptmx" {
                unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir)
                    .and_then(|()| symlinkat("pts/ptmx", dev.as_fd(), "ptmx"))
                    .map_err(|e| root.err("replace symlink", &ptmx, e))?;
            }
        }
        Ok(_) => {
            // A node or file: bind the new instance's ptmx over it.
            let source = root.resolve(Path::new("dev/pts/ptmx"))?;
            let target = root.resolve(&ptmx)?;
            bind_on(&fd_path(&source), &target, false).map_err(mount_err(
                "/dev/pts/ptmx",
                &in_container(Path::new("dev/ptmx")),
                "none",
                "bind",
            ))?;
        }
        Err(e) => return Err(root.err("inspect", &ptmx, e)),
    }
    tracing::debug!(%data, "devpts on /dev/pts");
    Ok(())
}

/// A new pty of the container's devpts instance (mounted on /dev/pts),
/// its slave bind-mounted as [`bind_pty`] does; returns its master.
pub(crate) fn own_pty(root: &Root, name: &str, tty_dir: Option<&str>) -> Result<OwnedFd> {
    let ptmx = root.resolve(Path::new("dev/pts/ptmx"))?;
    let pair = crate::pty::PtyPair::open_at(&fd_path(&ptmx))?;
    bind_pty(root, &fd_path(&pair.slave), name, tty_dir)?;
    Ok(pair.master)
}

/// Bind-mounts the host pty slave `host` onto /dev/`name`, or onto
/// /dev/`tty_dir`/`name` with a /dev/`name` symlink to it.
pub(crate) fn bind_pty(root: &Root, host: &Path, name: &str, tty_dir: Option<&str>) -> Result<()> {
    let rel = match tty_dir {
        Some(dir) => {
            if dir.is_empty() || dir.contains('/') || dir == "." || dir == ".." {
                return Err(root.err("use tty directory", &dev_rel(dir), Errno::EINVAL));
            }
            Path::new("dev").join(dir).join(name)
        }
        None => dev_rel(name),
    };
    let target = root.create_file(&rel, 0o600)?;
    bind_on(host, &target, false).map_err(mount_err(
        &host.to_string_lossy(),
        &in_container(&rel),
        "none",
        "bind",
    ))?;
    if let Some(dir) = tty_dir {
        let dev = root
            .lookup_dir(Path::new("dev"))
            .map_err(|e| root.err("resolve", Path::new("dev"), e))?;
        let link = dev_rel(name);
        match fstatat(dev.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => {}
            Ok(_) => unlinkat(dev.as_fd(), name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| root.err("remove", &link, e))?,
            Err(e) => return Err(root.err("inspect", &link, e)),
        }
        symlinkat(format!("{dir}/{name}").as_str(), dev.as_fd(), name)
            .map_err(|e| root.err("create symlink", &link, e))?;
    }
    tracing::debug!(host = %host.display(), target = %in_container(&rel).display(), "bound pty");
    Ok(())
}
