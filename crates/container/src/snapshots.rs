//! `lxc-snapshot`: a container's snapshots in LXC's layout
//! (`snaps/snapN/{config, rootfs, ts, comment}`), made through the
//! container's storage backend and the `enclos-snapshot` crate.
//!
//! - A snapshot of a running container is taken frozen: frozen, snapshot,
//!   thawed (on every path, failures too), where the backend makes that a
//!   consistent picture: a frozen container writes nothing, and dir,
//!   overlay (its upper layer is a directory, read through the same page
//!   cache its overlay writes to) and btrfs (a snapshot flushes the
//!   subvolume's dirty data) see every write done before the freeze. A
//!   dir or overlay copy keeps the container frozen for the time of the
//!   copy. The backends whose files sit in a filesystem mounted from a
//!   device or image (loop, lvm, zfs, rbd) are refused while it runs:
//!   what the mounted filesystem has not written back is not in the copy.
//!   A frozen container is taken as it is and left frozen.
//! - It is as cheap as the backend allows: a btrfs snapshot; for a
//!   stopped overlay container, its upper layer frozen and shared with
//!   the snapshot, nothing copied ([`enclos_snapshot::layers`]; a running
//!   one's upper layer cannot be swapped under its mount and is copied,
//!   as LXC does); a `dir` container's is a full copy, as in LXC (the
//!   caller warns: see [`SnapshotPlan::is_dir_copy`]).
//! - Destroying an overlay snapshot never removes a layer the container,
//!   another snapshot or a clone still uses, and is not refused for it:
//!   the layer goes with its last user. Destroyed before the container
//!   wrote anything, it leaves no layer behind.
//! - A restore makes a new container (`-N`), or replaces the container's
//!   rootfs and config with the snapshot's, keeping its snapshots (an LVM
//!   volume, a ZFS dataset or an RBD image by renames: see
//!   [`restore_volume`]).
//! - Nothing half-made is left: snapshots and restores are staged and
//!   renamed into place; a destroyed snapshot is renamed out of the
//!   listing before it is removed.

use std::fs;
use std::path::{Path, PathBuf};

use enclos_snapshot::stage::{partial_path, Staged};
use enclos_snapshot::{rewrite_config, NewSnapshot, Rename, Restore, Rewritten, Snapshot};
use enclos_storage::{deps, overlay, Backend, CloneKind, CreateOptions, Dest, Rootfs};
use serde::Serialize;

use crate::container::{storage_rootfs, validate_name, Container, State};
use crate::error::{io_err, Error, Result};

/// How a snapshot of a container is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SnapshotPlan {
    /// The backend of the container's rootfs, and of the snapshot's.
    pub backend: Backend,
    /// A copy-on-write snapshot, or a full copy.
    pub kind: CloneKind,
    /// The container runs: it is frozen for the snapshot, then thawed.
    pub freeze: bool,
}

/// How long a freeze or thaw for a snapshot may take.
const FREEZE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl SnapshotPlan {
    /// A full copy of a directory-backed rootfs, which LXC warns about: it
    /// takes as much room and time as the rootfs.
    pub fn is_dir_copy(&self) -> bool {
        self.backend == Backend::Dir && self.kind == CloneKind::Copy
    }
}

/// The name `lxc-snapshot -d` takes for every snapshot.
pub const ALL_SNAPSHOTS: &str = "ALL";

/// The container's rootfs, from its config.
pub(crate) fn container_rootfs(c: &Container) -> Result<Rootfs> {
    let cfg = c.config()?;
    let r = cfg.rootfs().ok_or_else(|| {
        Error::Unsupported(format!(
            "Container '{}' has no lxc.rootfs.path in {}: it has no rootfs to copy",
            c.name(),
            c.config_path().display()
        ))
    })?;
    storage_rootfs(&r)
}

/// The rootfs a snapshot's config names.
fn snapshot_rootfs(s: &Snapshot, text: &str) -> Result<Rootfs> {
    let spec = enclos_snapshot::rewrite::rootfs_of(text).ok_or_else(|| {
        Error::Unsupported(format!(
            "Snapshot {} has no lxc.rootfs.path in {}",
            s.name,
            s.config_path().display()
        ))
    })?;
    Ok(Rootfs::parse(&spec)?)
}

/// Refuses unless the container is stopped, with LXC's words.
fn ensure_stopped(c: &Container, hint: String) -> Result<()> {
    let state = c.state()?;
    if state == State::Stopped {
        return Ok(());
    }
    Err(Error::Running {
        name: c.name().to_string(),
        state: state.as_str(),
        hint,
    })
}

/// Whether a snapshot of a container in `state` with a `backend` rootfs
/// freezes it first; refused, saying why, where a running container's
/// snapshot would not be consistent (see the module's doc).
fn needs_freeze(c: &Container, state: State, backend: Backend) -> Result<bool> {
    match state {
        State::Stopped | State::Frozen => return Ok(false),
        State::Running => {}
        s => {
            return Err(Error::Running {
                name: c.name().to_string(),
                state: s.as_str(),
                hint: "wait until it runs or is stopped, then take the snapshot".into(),
            })
        }
    }
    if matches!(backend, Backend::Dir | Backend::Overlay | Backend::Btrfs) {
        return Ok(true);
    }
    Err(Error::Running {
        name: c.name().to_string(),
        state: state.as_str(),
        hint: format!(
            "its {backend} rootfs is a filesystem mounted while it runs, whose unwritten data a snapshot would miss; stop it first (enclos stop -n {}), then take the snapshot",
            c.name()
        ),
    })
}

/// How a snapshot of `c` will be made: a snapshot where its backend can
/// make one, else a full copy (always for `dir`, as LXC does); a running
/// container is frozen for it where that is consistent, else refused.
pub fn snapshot_plan(c: &Container) -> Result<SnapshotPlan> {
    let rootfs = container_rootfs(c)?;
    let state = c.state()?;
    let freeze = needs_freeze(c, state, rootfs.backend)?;
    let cow = match rootfs.backend {
        Backend::Dir => false,
        // A stopped overlay container's upper layer is frozen into the
        // snapshot (see [`snapshot_layer`]). A mounted one's cannot be
        // swapped under the mount: its upper layer is copied, over the
        // same lower ones, as LXC makes it.
        Backend::Overlay => state == State::Stopped,
        b => rootfs.clone_backend(CloneKind::Snapshot, Some(b)).is_ok(),
    };
    Ok(SnapshotPlan {
        backend: rootfs.backend,
        kind: if cow {
            CloneKind::Snapshot
        } else {
            CloneKind::Copy
        },
        freeze,
    })
}

/// A container frozen for a snapshot; thawed by [`Frozen::thaw`], or
/// when dropped on a failure.
struct Frozen<'a> {
    c: &'a Container,
    thawed: bool,
}

impl<'a> Frozen<'a> {
    fn freeze(c: &'a Container) -> Result<Frozen<'a>> {
        let mut f = Frozen { c, thawed: false };
        if let Err(e) = crate::stop::freeze(c, FREEZE_TIMEOUT) {
            // A freeze that did not complete is undone as well.
            f.thawed = true;
            let _ = crate::stop::unfreeze(c, FREEZE_TIMEOUT);
            return Err(e);
        }
        Ok(f)
    }

    fn thaw(mut self) -> Result<()> {
        self.thawed = true;
        crate::stop::unfreeze(self.c, FREEZE_TIMEOUT)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        if !self.thawed {
            if let Err(e) = crate::stop::unfreeze(self.c, FREEZE_TIMEOUT) {
                tracing::warn!(container = self.c.name(), "{}", crate::error::chain(&e));
            }
        }
    }
}

/// Takes the next snapshot (`snapN`) of the container `c`, with the
/// comment file `comment` (`-c`); a running one is frozen for it and
/// thawed again (see the module's doc). A failure leaves no `snapN`.
pub fn snapshot(c: &Container, comment: Option<&Path>) -> Result<Snapshot> {
    let _lock = c.lock()?;
    let text = fs::read_to_string(c.config_path()).map_err(io_err("read", c.config_path()))?;
    let rootfs = container_rootfs(c)?;
    // Under the lock: checks the state.
    let mut plan = snapshot_plan(c)?;
    let new = NewSnapshot::begin(c.dir())?;
    if plan.backend == Backend::Overlay && plan.kind == CloneKind::Snapshot {
        match overlay::freeze_upper(&rootfs)? {
            Some(next) => return snapshot_layer(c, &text, next, new, comment),
            // An upper layer elsewhere, or a stack as deep as the kernel
            // mounts: its upper layer is copied.
            None => plan.kind = CloneKind::Copy,
        }
    }
    if let Some(file) = comment {
        new.copy_comment(file)?;
    }
    let dest = Dest::named(new.dir(), &format!("{}_{}", c.name(), new.name()));
    let frozen = plan.freeze.then(|| Frozen::freeze(c)).transpose()?;
    let cloned = rootfs.clone_to(
        &dest,
        plan.kind,
        Some(rootfs.backend),
        &CreateOptions::default(),
    );
    if let Some(f) = frozen {
        if let Err(e) = f.thaw() {
            if let Ok(made) = &cloned {
                let _ = made.destroy_force();
            }
            return Err(e);
        }
    }
    let cloned = cloned?;
    if let Err(e) = new.write_config_for(&text, c.dir(), &cloned) {
        let _ = cloned.destroy_force();
        return Err(e.into());
    }
    Ok(new.commit()?)
}

/// The snapshot of a stopped overlay container: its upper layer frozen
/// (`next` is the container's rootfs from now on: a new empty upper over
/// the frozen one, see [`overlay::freeze_upper`]) and shared by the
/// snapshot, under an empty upper of the snapshot's own. Nothing is
/// copied. The container's config, rewritten in one rename, is the step
/// that commits: killed before it, the container is as it was (the new
/// empty layer, unused, goes with the next snapshot); killed after it,
/// the container holds the same files over one more layer, and the
/// unfinished snapshot is not listed and is removed by the next command.
fn snapshot_layer(
    c: &Container,
    text: &str,
    next: Rootfs,
    new: NewSnapshot,
    comment: Option<&Path>,
) -> Result<Snapshot> {
    let made = (|| -> Result<()> {
        if let Some(file) = comment {
            fs::metadata(file).map_err(io_err("read the comment file", file))?;
        }
        let view = overlay::stack(next.lowers.clone(), &new.dir().join("delta0"))?;
        // Recorded as LXC records an overlay snapshot: a clone of its
        // container (not counted as one: see enclos_snapshot::holds).
        deps::record(c.dir(), new.dir())?;
        new.write_config_for(text, c.dir(), &view)?;
        let out = rewrite_config(
            text,
            &c.config_path(),
            &Rename {
                from: Vec::new(),
                to: c.dir().to_path_buf(),
                uts_name: None,
                rootfs: Some(next.spec()),
            },
        )?;
        write_atomically(&c.config_path(), &out.text)
    })();
    if let Err(e) = made {
        let _ = enclos_storage::remove_tree(&next.path);
        return Err(e);
    }
    // Copied last, so that a comment read from a pipe cannot hold the
    // container between its two layers.
    if let Some(file) = comment {
        new.copy_comment(file)?;
    }
    let snap = new.commit()?;
    enclos_snapshot::layers::remove_unused(c.dir(), &next)?;
    Ok(snap)
}

/// The snapshots of `c`, by number.
pub fn snapshots(c: &Container) -> Result<Vec<Snapshot>> {
    crate::leftovers::clean_container(c);
    Ok(enclos_snapshot::list(c.dir())?)
}

/// Restores snapshot `snap` of `c`: as the new container `newname` in
/// the same lxcpath, or over `c` itself when `newname` is `None` or its
/// own name. Returns the restored container.
pub fn restore(c: &Container, snap: &str, newname: Option<&str>) -> Result<Container> {
    match newname {
        Some(n) if n != c.name() => restore_new(c, snap, n),
        _ => {
            restore_in_place(c, snap)?;
            Ok(c.clone())
        }
    }
}

/// A new container from the snapshot: a full copy (a copy of the upper
/// layer for an overlay snapshot, over the same lower layers).
fn restore_new(c: &Container, snap: &str, newname: &str) -> Result<Container> {
    validate_name(newname)?;
    let target = Container::new(c.lxcpath(), newname)?;
    if target.dir().symlink_metadata().is_ok() {
        return Err(Error::AlreadyExists {
            name: newname.to_string(),
            lxcpath: c.lxcpath().to_path_buf(),
        });
    }
    // Held so that no layer the snapshot names goes meanwhile.
    let _lock = c.lock()?;
    let r = Restore::begin(c.dir(), snap, target.dir())?;
    let dest = Dest::named(r.staging_dir(), newname);
    let src = r.source_rootfs().clone();
    let new = src.clone_to(&dest, CloneKind::Copy, None, &CreateOptions::default())?;
    if let Err(e) = r.finish(&new) {
        let _ = new.destroy_force();
        return Err(e.into());
    }
    let restored = Container::open(c.lxcpath(), newname)?;
    set_hostname(&restored)?;
    Ok(restored)
}

/// Writes the container's name to its rootfs's `/etc/hostname` when the
/// file exists, as LXC's clone does for a container that takes a new
/// name (the busybox init sets the hostname from it).
pub(crate) fn set_hostname(c: &Container) -> Result<()> {
    let rootfs = container_rootfs(c)?;
    let write = |root: &Path| -> Result<()> {
        let file = root.join("etc/hostname");
        if file.is_file() {
            fs::write(&file, format!("{}\n", c.name())).map_err(io_err("write", &file))?;
        }
        Ok(())
    };
    if !rootfs.backend.capabilities().needs_mount {
        return write(&rootfs.prepare()?);
    }
    let at = c.run_dir().join("hostname-mnt");
    fs::create_dir_all(&at).map_err(io_err("create", &at))?;
    let done = rootfs.mount(&at).and_then(|m| {
        let w = write(m.root());
        m.unmount()?;
        Ok(w)
    });
    let _ = fs::remove_dir(&at);
    done?
}

/// The snapshot's rootfs and config put in place of the container's:
/// the new rootfs is made beside, then the entries swapped and the old
/// ones removed. Backends whose rootfs is a set of files in the
/// container's directory (dir, btrfs, loop, and overlay when the
/// snapshot's lower layers are the container's), and LVM volumes, ZFS
/// datasets and RBD images ([`restore_volume`]).
fn restore_in_place(c: &Container, snap: &str) -> Result<()> {
    let _lock = c.lock()?;
    ensure_stopped(
        c,
        "stop it first, or restore the snapshot as a new container (-N NEWNAME)".to_string(),
    )?;
    let s = enclos_snapshot::find(c.dir(), snap)?;
    let text = fs::read_to_string(s.config_path()).map_err(io_err("read", s.config_path()))?;
    let src = snapshot_rootfs(&s, &text)?;
    let old = container_rootfs(c)?;
    if old.backend == Backend::Overlay && src.backend == Backend::Overlay {
        if let Some(dir) = old.path.parent().filter(|d| *d == c.dir()) {
            if overlay::layer_index(&old.path).is_some() {
                return restore_layers(c, &s, &text, &src, dir);
            }
        }
    }
    if old.backend == src.backend
        && matches!(old.backend, Backend::Lvm | Backend::Zfs | Backend::Rbd)
    {
        return restore_volume(c, &s, &text, &src, &old);
    }
    let in_dir = |r: &Rootfs| r.path.starts_with(c.dir()) && r.lowers == old.lowers;
    if !in_dir(&old) || !in_dir(&src) || old.backend != src.backend {
        return Err(Error::Unsupported(format!(
            "Cannot restore {snap} over container '{}': its {} rootfs cannot be swapped in place; restore it as a new container with -N NEWNAME",
            c.name(),
            old.backend
        )));
    }
    let staged = Staged::begin(&c.dir().join("restore"), "restore", 0o755)?;
    let new = src.clone_to(
        &Dest::named(staged.dir(), c.name()),
        CloneKind::Copy,
        Some(old.backend),
        &CreateOptions::default(),
    )?;
    let rootfs = enclos_snapshot::restore::moved_rootfs(&new, staged.dir(), c.dir());
    let out = config_over(c, &s, &text, &rootfs)?;
    // An overlay copy records itself as a clone of the container that
    // owns its lower layer: here, the container itself.
    deps::forget_parent(staged.dir())?;
    let trash = Staged::begin(&c.dir().join("restore-old"), "restore", 0o700)?;
    swap_entries(c.dir(), staged.dir(), trash.dir())?;
    put_config(c, &out)?;
    // Dropped uncommitted, both go: the old rootfs with the trash.
    drop(trash);
    drop(staged);
    Ok(())
}

/// Restores an overlay snapshot over its container: a new upper layer in
/// the container's directory (empty, or a copy of the snapshot's own
/// upper layer where it has files: a snapshot taken while the container
/// ran) over the snapshot's lower layers, named by the container's
/// config, rewritten in one rename. The layers nobody uses any more (the
/// old upper one, unless a clone stacks on it) go after.
fn restore_layers(c: &Container, s: &Snapshot, text: &str, src: &Rootfs, dir: &Path) -> Result<()> {
    for l in &src.lowers {
        if !l.is_dir() {
            return Err(enclos_storage::Error::Missing { path: l.clone() }.into());
        }
    }
    let upper = overlay::new_layer(dir, &src.path)?;
    let rootfs = Rootfs::overlay(src.lowers.clone(), &upper);
    let done = (|| -> Result<()> {
        enclos_storage::copy_tree(&src.path, &upper)?;
        put_config(c, &config_over(c, s, text, &rootfs)?)
    })();
    if let Err(e) = done {
        let _ = enclos_storage::remove_tree(&upper);
        return Err(e);
    }
    enclos_snapshot::layers::remove_unused(c.dir(), &rootfs)?;
    Ok(())
}

/// Restores an LVM, ZFS or RBD snapshot over its container: a new volume
/// beside the container's (`LV+restoring`, `NAME:restoring`) holding the
/// snapshot's data, then put in its place under its name
/// ([`Rootfs::replace`]), so that the config still names the same
/// volume; the snapshot's config goes in place of the container's, and
/// the old volume goes, or, while snapshots need it, is kept aside until
/// the last of them is destroyed ([`Rootfs::release`]). The new volume
/// is a snapshot of the snapshot's where that stands alone once put in
/// place (a thin LVM volume's, a ZFS or RBD clone), else a plain volume
/// of the container's size with a copy of the snapshot's files. A
/// failure at any step undoes the steps before it.
fn restore_volume(
    c: &Container,
    s: &Snapshot,
    text: &str,
    src: &Rootfs,
    old: &Rootfs,
) -> Result<()> {
    let (tmp_name, leftover) = old.own_sibling("restoring");
    let out = config_over(c, s, text, old)?;
    // The new volume of a restore that was killed before its swap.
    leftover.destroy_force()?;
    let (kind, opts) = if src.snapshots_stand_alone()? {
        (CloneKind::Snapshot, CreateOptions::default())
    } else {
        // The container's size; the snapshot's when its volume is
        // missing (which the replace then reports).
        let opts = CreateOptions {
            fssize: old.usage().ok().and_then(|u| u.size),
            ..CreateOptions::default()
        };
        (CloneKind::Copy, opts)
    };
    // Where a copy mounts the snapshot and the new volume.
    let staged = Staged::begin(&c.dir().join("restore"), "restore", 0o755)?;
    let new = src.clone_to(
        &Dest::named(staged.dir(), &tmp_name),
        kind,
        Some(old.backend),
        &opts,
    )?;
    let aside = match old.replace(&new) {
        Ok(aside) => aside,
        Err(e) => {
            let _ = new.destroy_force();
            return Err(e.into());
        }
    };
    if let Err(e) = put_config(c, &out) {
        // Only once the old volume is back under its name is the new
        // one removed.
        match old.undo_replace(&new, &aside) {
            Ok(()) => {
                let _ = new.destroy_force();
            }
            Err(undo) => tracing::warn!(
                container = c.name(),
                "cannot undo the restore's swap of volumes: {}",
                crate::error::chain(&undo)
            ),
        }
        return Err(e);
    }
    drop(staged);
    aside.release()?;
    Ok(())
}

/// Moves each entry of `staged` into `dir`, the entry it replaces into
/// `trash`.
fn swap_entries(dir: &Path, staged: &Path, trash: &Path) -> Result<()> {
    for entry in fs::read_dir(staged).map_err(io_err("list", staged))? {
        let entry = entry.map_err(io_err("list", staged))?;
        let name = entry.file_name();
        let (at, old) = (dir.join(&name), trash.join(&name));
        if at.symlink_metadata().is_ok() {
            fs::rename(&at, &old).map_err(io_err("move aside", &at))?;
        }
        fs::rename(entry.path(), &at).map_err(io_err("move into place", &at))?;
    }
    Ok(())
}

/// The config of snapshot `s` (its text `text`) rewritten for the
/// container `c` it is restored over: the paths into either directory
/// made the container's, the rootfs `rootfs`, the name kept.
fn config_over(c: &Container, s: &Snapshot, text: &str, rootfs: &Rootfs) -> Result<Rewritten> {
    Ok(rewrite_config(
        text,
        &s.config_path(),
        &Rename {
            from: vec![s.dir.clone(), c.dir().to_path_buf()],
            to: c.dir().to_path_buf(),
            uts_name: None,
            rootfs: Some(rootfs.spec()),
        },
    )?)
}

/// Puts a rewritten config in place as `c`'s, after the files it names
/// (hooks, fstab) that are not there yet.
fn put_config(c: &Container, out: &Rewritten) -> Result<()> {
    for (from, to) in &out.files {
        if from != to {
            fs::copy(from, to).map_err(io_err("copy", from))?;
        }
    }
    write_atomically(&c.config_path(), &out.text)
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("enclos-tmp");
    fs::write(&tmp, text).map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("replace", path))
}

/// Destroys snapshot `snap` of `c`, or all of them for
/// [`ALL_SNAPSHOTS`]; returns the names destroyed. A snapshot that a
/// container stacks on (one restored from an overlay snapshot) is
/// refused. The snapshots directory goes when it is left empty.
pub fn destroy_snapshot(c: &Container, snap: &str) -> Result<Vec<String>> {
    let _lock = c.lock()?;
    destroy_snapshot_locked(c, snap)
}

/// [`destroy_snapshot`], for a caller that holds the container's lock
/// (`destroy -s`): a second flock of the same file from the same process
/// would wait for itself.
pub(crate) fn destroy_snapshot_locked(c: &Container, snap: &str) -> Result<Vec<String>> {
    let todo = if snap == ALL_SNAPSHOTS {
        snapshots(c)?
    } else {
        vec![enclos_snapshot::find(c.dir(), snap)?]
    };
    let mut done = Vec::new();
    for s in todo {
        destroy_one(&s)?;
        done.push(s.name);
    }
    let _ = fs::remove_dir(enclos_snapshot::snaps_dir(c.dir()));
    // An overlay snapshot's layer stays while the container, another
    // snapshot or a clone uses it, and goes with its last user.
    if let Ok(rootfs) = container_rootfs(c) {
        if rootfs.backend == Backend::Overlay && rootfs.path.parent() == Some(c.dir()) {
            let rootfs = unfreeze(c, rootfs)?;
            enclos_snapshot::layers::remove_unused(c.dir(), &rootfs)?;
        }
    }
    Ok(done)
}

/// Undoes the freeze of the container's topmost lower layer when nothing
/// else uses it any more (its snapshot destroyed) and the container has
/// written nothing since (its upper layer is empty, and it is stopped):
/// that layer is its upper one again, so that snapshots taken and
/// destroyed leave no layer behind. Returns the container's rootfs.
fn unfreeze(c: &Container, rootfs: Rootfs) -> Result<Rootfs> {
    let top = match rootfs.lowers.as_slice() {
        [top, _, ..] if top.parent() == Some(c.dir()) && overlay::layer_index(top).is_some() => {
            top.clone()
        }
        _ => return Ok(rootfs),
    };
    let written = fs::read_dir(&rootfs.path)
        .map_err(io_err("list", &rootfs.path))?
        .next()
        .is_some();
    if written || c.state()? != State::Stopped {
        return Ok(rootfs);
    }
    let without = Rootfs::overlay(rootfs.lowers[1..].to_vec(), &rootfs.path);
    if !enclos_snapshot::layers::unused(c.dir(), &without)?.contains(&top) {
        return Ok(rootfs);
    }
    let back = Rootfs::overlay(rootfs.lowers[1..].to_vec(), &top);
    let text = fs::read_to_string(c.config_path()).map_err(io_err("read", c.config_path()))?;
    let out = rewrite_config(
        &text,
        &c.config_path(),
        &Rename {
            from: Vec::new(),
            to: c.dir().to_path_buf(),
            uts_name: None,
            rootfs: Some(back.spec()),
        },
    )?;
    write_atomically(&c.config_path(), &out.text)?;
    Ok(back)
}

fn destroy_one(s: &Snapshot) -> Result<()> {
    let text = fs::read_to_string(s.config_path()).map_err(io_err("read", s.config_path()))?;
    if let Ok(rootfs) = snapshot_rootfs(s, &text) {
        let clones = rootfs.dependents()?;
        if !clones.is_empty() {
            return Err(enclos_storage::Error::HasClones {
                path: s.dir.clone(),
                clones: clones
                    .iter()
                    .map(|d| d.dir().display().to_string())
                    .collect(),
            }
            .into());
        }
        // A volume outside the directory (lvm, zfs, rbd) goes first.
        if !rootfs.path.starts_with(&s.dir) && rootfs.own_dir().is_none() {
            rootfs.destroy_force()?;
        }
    }
    deps::forget_parent(&s.dir)?;
    // Out of the listing at once; a dead staging directory, which the
    // next snapshot removes if this one is killed now.
    let gone: PathBuf = partial_path(&s.dir);
    enclos_storage::remove_tree(&gone)?;
    fs::rename(&s.dir, &gone).map_err(io_err("rename", &s.dir))?;
    enclos_storage::remove_tree(&gone)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    #[test]
    fn a_dir_snapshot_is_a_copy_and_restores_in_place() {
        let h = FakeHost::new();
        let c = h.container("c1", "");
        fs::write(c.dir().join("rootfs/file"), "one").unwrap();
        let plan = snapshot_plan(&c).unwrap();
        assert!(plan.is_dir_copy());
        let s = snapshot(&c, None).unwrap();
        assert_eq!(s.name, "snap0");
        assert_eq!(
            fs::read_to_string(s.dir.join("rootfs/file")).unwrap(),
            "one"
        );

        fs::write(c.dir().join("rootfs/file"), "two").unwrap();
        restore(&c, "snap0", None).unwrap();
        assert_eq!(
            fs::read_to_string(c.dir().join("rootfs/file")).unwrap(),
            "one"
        );
        let left: Vec<_> = fs::read_dir(c.dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect();
        assert!(left.is_empty(), "{left:?}");

        assert_eq!(snapshots(&c).unwrap().len(), 1);
    }

    #[test]
    fn a_running_container_is_frozen_for_a_snapshot_where_that_is_consistent() {
        let h = FakeHost::new();
        let c = h.container("c1", "");
        for b in [Backend::Dir, Backend::Overlay, Backend::Btrfs] {
            assert!(needs_freeze(&c, State::Running, b).unwrap(), "{b}");
            assert!(!needs_freeze(&c, State::Stopped, b).unwrap(), "{b}");
            assert!(!needs_freeze(&c, State::Frozen, b).unwrap(), "{b}");
        }
        let err = needs_freeze(&c, State::Running, Backend::Loop)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Original container (c1) is running (RUNNING); its loop rootfs is a filesystem mounted while it runs, whose unwritten data a snapshot would miss; stop it first (enclos stop -n c1), then take the snapshot"
        );
        assert!(needs_freeze(&c, State::Starting, Backend::Dir).is_err());
    }

    #[test]
    fn an_overlay_snapshot_freezes_the_upper_layer_and_is_no_clone() {
        let h = FakeHost::new();
        let dir = h.lxcpath.join("ov");
        fs::create_dir_all(&dir).unwrap();
        let rootfs = Rootfs::create(Backend::Overlay, &dir).unwrap();
        fs::write(
            dir.join("config"),
            format!("lxc.rootfs.path = {}\nlxc.uts.name = ov\n", rootfs.spec()),
        )
        .unwrap();
        let c = Container::open(&h.lxcpath, "ov")
            .unwrap()
            .with_layout(&h.layout);
        fs::write(rootfs.path.join("file"), "one").unwrap();
        assert_eq!(snapshot_plan(&c).unwrap().kind, CloneKind::Snapshot);
        let s = snapshot(&c, None).unwrap();
        let text = fs::read_to_string(s.config_path()).unwrap();
        let snap_rootfs = snapshot_rootfs(&s, &text).unwrap();
        let frozen = vec![dir.join("delta0"), dir.join("rootfs")];
        assert_eq!(snap_rootfs.lowers, frozen);
        assert_eq!(snap_rootfs.path, s.dir.join("delta0"));
        let now = container_rootfs(&c).unwrap();
        assert_eq!((&now.lowers, &now.path), (&frozen, &dir.join("delta1")));
        // Recorded as LXC records it, under its final name, and not
        // counted as a clone.
        assert_eq!(
            fs::read_to_string(dir.join("lxc_snapshots")).unwrap(),
            format!("{}\nsnap0\n", dir.join("snaps").display())
        );
        enclos_snapshot::check_destroy(&dir, true).unwrap();

        fs::write(now.path.join("file"), "two").unwrap();
        restore(&c, "snap0", None).unwrap();
        let back = container_rootfs(&c).unwrap();
        assert_eq!((&back.lowers, &back.path), (&frozen, &dir.join("delta2")));
        assert!(!dir.join("delta1").exists(), "the old upper layer went");
        assert_eq!(fs::read_to_string(dir.join("delta0/file")).unwrap(), "one");
        assert!(!dir.join("lxc_rdepends").exists(), "no clone of itself");
        assert_eq!(destroy_snapshot(&c, ALL_SNAPSHOTS).unwrap(), ["snap0"]);
        assert!(!dir.join("lxc_snapshots").exists());
        assert!(!dir.join("snaps").exists());
        assert!(dir.join("delta0/file").exists(), "the container's still");
    }

    #[test]
    fn a_snapshot_destroyed_before_any_write_leaves_no_layer() {
        let h = FakeHost::new();
        let dir = h.lxcpath.join("ov");
        fs::create_dir_all(&dir).unwrap();
        let rootfs = Rootfs::create(Backend::Overlay, &dir).unwrap();
        fs::write(
            dir.join("config"),
            format!("lxc.rootfs.path = {}\nlxc.uts.name = ov\n", rootfs.spec()),
        )
        .unwrap();
        let c = Container::open(&h.lxcpath, "ov")
            .unwrap()
            .with_layout(&h.layout);
        fs::write(rootfs.path.join("file"), "one").unwrap();
        snapshot(&c, None).unwrap();
        snapshot(&c, None).unwrap();
        assert_eq!(container_rootfs(&c).unwrap().path, dir.join("delta2"));
        // snap1 goes: delta1 is snap0's no more, the container's again.
        assert_eq!(destroy_snapshot(&c, "snap1").unwrap(), ["snap1"]);
        let now = container_rootfs(&c).unwrap();
        assert_eq!(now.path, dir.join("delta1"));
        assert_eq!(now.lowers, [dir.join("delta0"), dir.join("rootfs")]);
        assert!(!dir.join("delta2").exists());
        // Written since: the layer stays frozen.
        fs::write(now.path.join("file"), "two").unwrap();
        destroy_snapshot(&c, "snap0").unwrap();
        assert_eq!(container_rootfs(&c).unwrap(), now);
        // snap0 destroyed with nothing written after it: delta0 is the
        // upper layer again.
        snapshot(&c, None).unwrap();
        destroy_snapshot(&c, ALL_SNAPSHOTS).unwrap();
        assert_eq!(container_rootfs(&c).unwrap(), now);
        assert!(!dir.join("delta2").exists());
        assert_eq!(fs::read_to_string(dir.join("delta0/file")).unwrap(), "one");
        assert_eq!(fs::read_to_string(dir.join("delta1/file")).unwrap(), "two");
    }

    #[test]
    fn a_killed_overlay_snapshot_leaves_an_unused_layer_the_next_one_removes() {
        let h = FakeHost::new();
        let dir = h.lxcpath.join("ov");
        fs::create_dir_all(&dir).unwrap();
        let rootfs = Rootfs::create(Backend::Overlay, &dir).unwrap();
        fs::write(
            dir.join("config"),
            format!("lxc.rootfs.path = {}\nlxc.uts.name = ov\n", rootfs.spec()),
        )
        .unwrap();
        let c = Container::open(&h.lxcpath, "ov")
            .unwrap()
            .with_layout(&h.layout);
        // Killed after its new layer, before the container's config.
        let stray = overlay::freeze_upper(&rootfs).unwrap().unwrap();
        assert_eq!(stray.path, dir.join("delta1"));
        fs::create_dir_all(dir.join("snaps/.snap0.partial")).unwrap();
        let s = snapshot(&c, None).unwrap();
        assert_eq!(s.name, "snap0");
        let now = container_rootfs(&c).unwrap();
        assert_eq!(now.path, dir.join("delta2"));
        assert_eq!(now.lowers[0], dir.join("delta0"));
        assert!(!dir.join("delta1").exists(), "the stray layer went");
    }
}
