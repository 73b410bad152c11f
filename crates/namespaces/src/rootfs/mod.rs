//! The container's filesystem view, set up by its init child inside its new
//! mount namespace, before exec: [`setup_rootfs`].

mod cgroup;
mod dev;
mod options;
mod root;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, fchdir, pivot_root, sethostname};

pub use cgroup::{CgroupHierarchy, CgroupMode, CgroupMount};
pub use dev::{AUTODEV_LINKS, AUTODEV_NODES};
pub use options::{parse_mount_options, CreateKind, MountOptions, MountSpec};

use crate::error::{Error, Result};
use root::{bind_on, fd_path, in_container, mount_err, mount_on, relative, remount_bind, Root};

/// How /proc is mounted (`lxc.mount.auto = proc:...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcMode {
    /// `proc:mixed`: /proc read-write, /proc/sys and /proc/sysrq-trigger
    /// read-only.
    Mixed,
    /// `proc:mixed` with a network namespace of the container's own: as
    /// [`ProcMode::Mixed`], but /proc/sys/net (that namespace's settings)
    /// read-write, as LXC mounts it.
    MixedOwnNet,
    /// `proc:rw`.
    Rw,
}

/// How /sys is mounted (`lxc.mount.auto = sys:...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysMode {
    /// `sys:ro`.
    Ro,
    /// `sys:rw`.
    Rw,
    /// `sys:mixed`: read-only but /sys/devices/virtual/net read-write.
    Mixed,
}

/// A private devpts instance on /dev/pts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevPts {
    /// The most ptys the instance hands out (`lxc.pty.max`); 0: no limit.
    pub max: u32,
}

/// The points of [`setup_rootfs_with`] where the caller's step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootfsStage {
    /// In the new mount namespace, before the rootfs is bind-mounted.
    PreMount,
    /// After every mount (and the mount entries), before pivot_root.
    Mount,
    /// After `Mount`, when /dev is an autodev tmpfs; before pivot_root.
    Autodev,
}

/// The console and ttys allocated from the container's own devpts
/// ([`RootfsSpec::own_ptys`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnPtys {
    /// A pty for /dev/console.
    pub console: bool,
    /// Ptys for /dev/tty1..N.
    pub ttys: usize,
}

impl OwnPtys {
    /// How many ptys (and masters) this is.
    pub fn count(&self) -> usize {
        usize::from(self.console) + self.ttys
    }
}

/// Everything [`setup_rootfs`] does, in the container's terms.
#[derive(Debug, Clone, Default)]
pub struct RootfsSpec {
    /// A directory on the host; bind-mounted onto itself (rbind) to become
    /// a mount point, then the container's `/`.
    pub rootfs: PathBuf,
    /// `lxc.rootfs.mount`: where the rootfs is bind-mounted (rbind, in the
    /// child's mount namespace) before the pivot; `None` binds it onto
    /// itself.
    pub mount_at: Option<PathBuf>,
    /// Remount the rootfs read-only once the mounts inside are made.
    pub rootfs_readonly: bool,
    /// sethostname, in the child's UTS namespace (which must be its own).
    pub hostname: Option<String>,
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupMount>,
    /// A tmpfs on /dev with null, zero, full, random, urandom, tty, the
    /// fd/stdin/stdout/stderr symlinks and the pts, shm, mqueue directories.
    pub autodev: bool,
    /// The size of the autodev tmpfs, in bytes (the kernel rounds it up to
    /// pages); LXC's 500000 when unset.
    pub autodev_size: Option<u64>,
    pub devpts: Option<DevPts>,
    /// A host pty slave (`/dev/pts/7`) bind-mounted onto /dev/console.
    pub console: Option<PathBuf>,
    /// Host pty slaves bind-mounted onto /dev/tty1..N.
    pub ttys: Vec<PathBuf>,
    /// Instead of host ptys, new ptys of the container's own devpts
    /// instance (`devpts` must be set) for the console and the ttys; the
    /// set-up returns their masters. Their slaves belong to the caller's
    /// fsuid (the container's root, in a user namespace), mode 0620.
    pub own_ptys: Option<OwnPtys>,
    /// `lxc.tty.dir`: the console and ttys go to `/dev/<dir>/`, with
    /// /dev/console and /dev/ttyN symlinks to them.
    pub tty_dir: Option<String>,
    /// `lxc.mount.entry` lines, mounted in order after the rest.
    pub mounts: Vec<MountSpec>,
}

impl RootfsSpec {
    /// A spec that only pivots into `rootfs`.
    pub fn new(rootfs: impl Into<PathBuf>) -> Self {
        Self {
            rootfs: rootfs.into(),
            ..Self::default()
        }
    }
}

/// Refuses to run where a mistake would change the host: in the mount
/// namespace [`crate::spawn`] was called from (a child spawned without a
/// new mount namespace), or in pid 1's (as this process's /proc shows it,
/// where it may be read).
fn ensure_own_mount_namespace() -> Result<()> {
    let spawner = crate::spawn::SPAWNER_MOUNT_NS.load(std::sync::atomic::Ordering::Relaxed);
    if spawner != 0 && crate::spawn::mount_ns_inode() == Some(spawner) {
        return Err(Error::SharedMountNamespace);
    }
    let own = std::fs::read_link("/proc/self/ns/mnt");
    let init = std::fs::read_link("/proc/1/ns/mnt");
    let me = std::fs::read_link("/proc/self");
    match (own, init, me) {
        (Ok(own), Ok(init), Ok(me)) if own == init && me != Path::new("1") => {
            Err(Error::SharedMountNamespace)
        }
        _ => Ok(()),
    }
}

/// Sets up the container's filesystem and pivots into it. Run by the
/// container's init child in its own mount namespace (and, for the
/// hostname, UTS namespace), before exec. In order:
///
/// 1. `/` becomes recursively slave, so nothing below propagates to the
///    host (and again after the [`RootfsStage::PreMount`] step);
/// 2. the rootfs is bind-mounted onto itself (rbind);
/// 3. the hostname;
/// 4. proc, sys and cgroup (`lxc.mount.auto`);
/// 5. autodev, devpts, the console and the ttys;
/// 6. the mount entries, in order (an `optional` one that fails is skipped
///    with a warning);
/// 7. the rootfs remounted read-only if asked;
/// 8. pivot_root (`pivot_root(".", ".")`, the old root detached) and
///    chdir("/").
///
/// Every target is resolved inside the rootfs with openat2(2)
/// (`RESOLVE_IN_ROOT`), so a symlink in the container's tree cannot send a
/// mount or a `create=` outside it. Descriptors opened here are closed when
/// it returns. Bind sources, the console and the ttys are host paths;
/// with [`RootfsSpec::own_ptys`], the console and ttys are new ptys of
/// the container's devpts instead, and their masters are returned
/// (console first, then tty1..N; none otherwise).
pub fn setup_rootfs(spec: &RootfsSpec) -> Result<Vec<OwnedFd>> {
    setup_rootfs_with(spec, &mut |_| Ok(()))
}

/// [`setup_rootfs`], calling `step` at each [`RootfsStage`] (the autodev
/// stage only when `spec.autodev`); an `Err(message)` of `step` stops the
/// set-up with [`Error::RootfsStep`].
pub fn setup_rootfs_with(
    spec: &RootfsSpec,
    step: &mut dyn FnMut(RootfsStage) -> std::result::Result<(), String>,
) -> Result<Vec<OwnedFd>> {
    let mut at = |stage| step(stage).map_err(|message| Error::RootfsStep { stage, message });
    ensure_own_mount_namespace()?;
    crate::mount_ns::make_mounts_rslave()?;
    at(RootfsStage::PreMount)?;
    // Again: a mount the step attached from another namespace (a detached
    // mount, move_mount(2)) may be a peer of a host mount; shared, it
    // would carry every mount below to the host, and pivot_root refuses a
    // shared parent.
    crate::mount_ns::make_mounts_rslave()?;
    let root = bind_rootfs(spec)?;
    if let Some(hostname) = &spec.hostname {
        sethostname(hostname).map_err(|source| Error::Hostname {
            hostname: hostname.clone(),
            source,
        })?;
    }
    mount_auto(&root, spec)?;
    let masters = mount_dev(&root, spec)?;
    mount_entries(&root, &spec.mounts)?;
    at(RootfsStage::Mount)?;
    if spec.autodev {
        at(RootfsStage::Autodev)?;
    }
    if spec.rootfs_readonly {
        remount_bind(&root.fd, MsFlags::MS_RDONLY).map_err(mount_err(
            &spec.rootfs.to_string_lossy(),
            Path::new("/"),
            "none",
            "remount,bind,ro",
        ))?;
    }
    pivot(root)?;
    Ok(masters)
}

/// Bind-mounts the rootfs (rbind) onto itself or `spec.mount_at`, and
/// opens the result.
fn bind_rootfs(spec: &RootfsSpec) -> Result<Root> {
    let target = spec.mount_at.as_deref().unwrap_or(&spec.rootfs);
    mount(
        Some(&spec.rootfs),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(mount_err(
        &spec.rootfs.to_string_lossy(),
        target,
        "none",
        "rbind",
    ))?;
    let root = Root::open(target)?;
    tracing::debug!(rootfs = %spec.rootfs.display(), at = %target.display(), "rootfs bind-mounted");
    Ok(root)
}

/// proc, sys and cgroup (`lxc.mount.auto`), those `spec` asks for.
fn mount_auto(root: &Root, spec: &RootfsSpec) -> Result<()> {
    if let Some(mode) = spec.proc {
        mount_proc(root, mode)?;
    }
    if let Some(mode) = spec.sys {
        mount_sys(root, mode)?;
    }
    if let Some(cgroup) = &spec.cgroup {
        cgroup::mount_cgroup(root, cgroup)?;
    }
    Ok(())
}

/// /dev: autodev, devpts, the console and the ttys, those `spec` asks
/// for; returns the masters of its own ptys.
fn mount_dev(root: &Root, spec: &RootfsSpec) -> Result<Vec<OwnedFd>> {
    if spec.autodev {
        dev::autodev(root, spec.autodev_size.unwrap_or(dev::AUTODEV_SIZE))?;
    }
    if let Some(devpts) = &spec.devpts {
        dev::devpts(root, devpts, spec.own_ptys.unwrap_or_default().count())?;
    }
    let tty_dir = spec.tty_dir.as_deref();
    if let Some(own) = spec.own_ptys {
        if spec.devpts.is_none() {
            return Err(root.err("allocate a pty in", Path::new("dev/pts"), Errno::ENODEV));
        }
        let mut masters = Vec::with_capacity(own.count());
        if own.console {
            masters.push(dev::own_pty(root, "console", tty_dir)?);
        }
        for i in 1..=own.ttys {
            masters.push(dev::own_pty(root, &format!("tty{i}"), tty_dir)?);
        }
        return Ok(masters);
    }
    if let Some(console) = &spec.console {
        dev::bind_pty(root, console, "console", tty_dir)?;
    }
    for (i, tty) in spec.ttys.iter().enumerate() {
        dev::bind_pty(root, tty, &format!("tty{}", i + 1), tty_dir)?;
    }
    Ok(Vec::new())
}

/// The mount entries, in order; an `optional` one that fails is skipped
/// with a warning.
fn mount_entries(root: &Root, entries: &[MountSpec]) -> Result<()> {
    for entry in entries {
        match mount_entry(root, entry) {
            Ok(()) => {}
            Err(e) if entry.optional => {
                tracing::warn!(
                    "Skipping optional mount of {} on {}: {}",
                    entry.source,
                    in_container(&entry.target).display(),
                    enclos_report::chain(&e)
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn pivot(root: Root) -> Result<()> {
    let rootfs = root.host.clone();
    let err = |source| Error::PivotRoot {
        rootfs: rootfs.clone(),
        source,
    };
    let old_root = open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)?;
    fchdir(root.fd.as_fd()).map_err(err)?;
    pivot_root(".", ".").map_err(err)?;
    // The old root now sits on top of the new one; detach it (slave first,
    // so the unmount cannot travel to the host).
    fchdir(old_root.as_fd()).map_err(err)?;
    crate::mount_ns::make_rslave(Path::new(".")).map_err(err)?;
    umount2(".", MntFlags::MNT_DETACH).map_err(err)?;
    chdir("/").map_err(err)?;
    drop(old_root);
    drop(root);
    tracing::debug!(rootfs = %rootfs.display(), "pivoted into the rootfs");
    Ok(())
}

fn mount_proc(root: &Root, mode: ProcMode) -> Result<()> {
    let target = root.mkdir_all(Path::new("proc"))?;
    mount_on(
        Some("proc".as_ref()),
        &target,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
    .map_err(mount_err(
        "proc",
        Path::new("/proc"),
        "proc",
        "nosuid,nodev,noexec",
    ))?;
    drop(target);
    if matches!(mode, ProcMode::Mixed | ProcMode::MixedOwnNet) {
        let mut binds = vec![("proc/sys", true), ("proc/sysrq-trigger", true)];
        if mode == ProcMode::MixedOwnNet {
            binds.push(("proc/sys/net", false));
        }
        for (rel, readonly) in binds {
            let rel = Path::new(rel);
            match root.lookup(rel) {
                Ok(fd) => bind_self_readonly(root, rel, &fd, readonly)?,
                // No sysrq-trigger without CONFIG_MAGIC_SYSRQ.
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(root.err("resolve", rel, e)),
            }
        }
        mask_proc(root)?;
    }
    tracing::debug!(?mode, "proc mounted");
    Ok(())
}

/// The /proc files `proc:mixed` hides behind /dev/null, as crun and
/// Docker do: the host's memory and timers. (/proc/keys stays: it lists
/// only the keys the reader may view, and `lxc.keyring.session` users
/// read it.)
const MASKED_PROC: &[&str] = &[
    "proc/kcore",
    "proc/timer_list",
    "proc/sched_debug",
    "proc/latency_stats",
];

/// Binds the host's /dev/null over each of [`MASKED_PROC`] that exists.
fn mask_proc(root: &Root) -> Result<()> {
    let null = Path::new("/dev/null");
    for rel in MASKED_PROC.iter().map(Path::new) {
        match root.lookup(rel) {
            Ok(fd) => bind_on(null, &fd, false).map_err(mount_err(
                "/dev/null",
                &in_container(rel),
                "none",
                "bind",
            ))?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(root.err("resolve", rel, e)),
        }
    }
    Ok(())
}

/// Bind-mounts `rel` (open as `fd`) onto itself and makes the new mount
/// read-only (`readonly`) or read-write.
fn bind_self_readonly(
    root: &Root,
    rel: &Path,
    fd: &std::os::fd::OwnedFd,
    readonly: bool,
) -> Result<()> {
    let target = in_container(rel);
    bind_on(&fd_path(fd), fd, false).map_err(mount_err(
        &target.to_string_lossy(),
        &target,
        "none",
        "bind",
    ))?;
    let top = root.resolve(rel)?;
    let (flags, opts) = if readonly {
        (MsFlags::MS_RDONLY, "remount,bind,ro")
    } else {
        (MsFlags::empty(), "remount,bind,rw")
    };
    remount_bind(&top, flags).map_err(mount_err(&target.to_string_lossy(), &target, "none", opts))
}

fn mount_sys(root: &Root, mode: SysMode) -> Result<()> {
    let target = root.mkdir_all(Path::new("sys"))?;
    mount_on(
        Some("sysfs".as_ref()),
        &target,
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
    .map_err(mount_err(
        "sysfs",
        Path::new("/sys"),
        "sysfs",
        "nosuid,nodev,noexec",
    ))?;
    drop(target);
    if mode != SysMode::Rw {
        // Per-mount read-only: the sysfs superblock may be the host's.
        let top = root.resolve(Path::new("sys"))?;
        remount_bind(&top, MsFlags::MS_RDONLY).map_err(mount_err(
            "sysfs",
            Path::new("/sys"),
            "sysfs",
            "remount,bind,ro",
        ))?;
    }
    if mode == SysMode::Mixed {
        let rel = Path::new("sys/devices/virtual/net");
        match root.lookup(rel) {
            Ok(fd) => bind_self_readonly(root, rel, &fd, false)?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(root.err("resolve", rel, e)),
        }
    }
    tracing::debug!(?mode, "sysfs mounted");
    Ok(())
}

fn mount_entry(root: &Root, entry: &MountSpec) -> Result<()> {
    let rel = relative(&entry.target);
    let shown = in_container(&rel);
    let options_text = if entry.options.is_empty() {
        "defaults".to_owned()
    } else {
        entry.options.join(",")
    };
    let opts = parse_mount_options(&entry.options)?;
    let err = || mount_err(&entry.source, &shown, &entry.fstype, &options_text);
    let target = match entry.create {
        Some(CreateKind::Dir) => root.mkdir_all(&rel)?,
        Some(CreateKind::File) => root.create_file(&rel, 0o644)?,
        None => root.resolve(&rel)?,
    };
    let source = Some(entry.source.as_ref());
    if opts.flags.contains(MsFlags::MS_REMOUNT) {
        let fstype = (!opts.is_bind()).then_some(entry.fstype.as_str());
        mount_on(None, &target, fstype, opts.flags, Some(&opts.data)).map_err(err())?;
    } else if opts.is_bind() {
        mount_on(
            source,
            &target,
            None,
            opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None,
        )
        .map_err(err())?;
        // The bind ignores the other flags: a remount applies them.
        let rest = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !rest.is_empty() {
            let top = root.resolve(&rel)?;
            remount_bind(&top, rest).map_err(err())?;
        }
    } else {
        mount_on(
            source,
            &target,
            Some(&entry.fstype),
            opts.flags,
            Some(&opts.data),
        )
        .map_err(err())?;
    }
    drop(target);
    if !opts.propagation.is_empty() {
        let top = root.resolve(&rel)?;
        mount_on(None, &top, None, opts.propagation, None).map_err(err())?;
    }
    tracing::debug!(source = %entry.source, target = %shown.display(), fstype = %entry.fstype, options = %options_text, "mounted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_spawners_mount_namespace() {
        let _serial = crate::serial();
        // A child spawned without a mount namespace: refused before
        // anything is touched (ensure_own_mount_namespace is setup_rootfs's
        // first step, so only it is called here).
        crate::assert_child_ok(&[], || match ensure_own_mount_namespace() {
            Err(Error::SharedMountNamespace) => 0,
            _ => 1,
        });

        if !crate::require_root("refuses_the_spawners_mount_namespace (new mount namespace part)") {
            return;
        }
        crate::assert_child_ok(
            &[crate::Namespace::Mount],
            || match ensure_own_mount_namespace() {
                Ok(()) => 0,
                _ => 1,
            },
        );
    }
}
