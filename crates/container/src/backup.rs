//! Backups (the course's section 2.8, done well): a container, and its
//! snapshots on request, to a `.tar.zst` and back, through the export
//! and import of the `enclos-snapshot` crate.
//!
//! - An export reads the rootfs as a directory: dir and btrfs as they
//!   are, the others mounted for the time of the export under the
//!   container's run directory. A running container is refused (its files
//!   change under the export); a frozen one is taken as it stands.
//! - An import makes a new container in the lxcpath; a name taken, a
//!   damaged or truncated archive or a full disk leave nothing behind.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use enclos_snapshot::{
    ExportOptions, ExportSource, ExportSummary, ImportOptions, Imported, Progress, SnapshotSource,
};
use enclos_storage::{Mounted, Rootfs};

use crate::container::{Container, State};
use crate::error::{io_err, Error, Result};

/// A rootfs seen as a directory for the time of an export (unmounted
/// when dropped, if it was mounted).
pub(crate) struct AsDir {
    pub(crate) root: PathBuf,
    _mounted: Option<Mounted>,
}

/// `rootfs` as a directory: its own for dir and btrfs, else mounted on a
/// new directory `mount_point`.
pub(crate) fn as_dir(rootfs: &Rootfs, mount_point: &Path) -> Result<AsDir> {
    if !rootfs.backend.capabilities().needs_mount {
        return Ok(AsDir {
            root: rootfs.prepare()?,
            _mounted: None,
        });
    }
    fs::create_dir_all(mount_point).map_err(io_err("create", mount_point))?;
    let mounted = rootfs.mount(mount_point)?;
    Ok(AsDir {
        root: mounted.root().to_path_buf(),
        _mounted: Some(mounted),
    })
}

/// Exports the container `c` (stopped or frozen) to `out`, with its
/// snapshots when `with_snapshots`. `progress` gets the bytes of file
/// data done and the total.
pub fn export<W: Write>(
    c: &Container,
    out: W,
    with_snapshots: bool,
    opts: &ExportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportSummary> {
    let state = c.state()?;
    if !matches!(state, State::Stopped | State::Frozen) {
        return Err(Error::WrongState {
            name: c.name().to_string(),
            state: state.as_str(),
            hint: "stop or freeze it first, so that its files hold still during the export",
        });
    }
    let rootfs = crate::snapshots::container_rootfs(c)?;
    let mnt = c.run_dir().join("export");
    let main = as_dir(&rootfs, &mnt.join("rootfs"))?;
    let mut snaps = Vec::new();
    let mut held = Vec::new();
    if with_snapshots {
        for s in enclos_snapshot::list(c.dir())? {
            let text =
                fs::read_to_string(s.config_path()).map_err(io_err("read", s.config_path()))?;
            let Some(spec) = enclos_snapshot::rewrite::rootfs_of(&text) else {
                continue;
            };
            let d = as_dir(&Rootfs::parse(&spec)?, &mnt.join(&s.name))?;
            snaps.push(SnapshotSource {
                name: s.name.clone(),
                dir: s.dir.clone(),
                rootfs: d.root.clone(),
            });
            held.push(d);
        }
    }
    let src = ExportSource {
        name: c.name().to_string(),
        dir: c.dir().to_path_buf(),
        config: c.config_path(),
        rootfs: main.root.clone(),
        snapshots: snaps,
    };
    let result = enclos_snapshot::export(&src, out, opts, progress);
    drop(held);
    drop(main);
    // Never through a mount left by a failed unmount: remove_tree refuses.
    let _ = enclos_storage::remove_tree(&mnt);
    Ok(result?)
}

/// Imports the archive read from `input` (named `archive` in messages)
/// as the new container `name` in `lxcpath`. Also returns notes for the
/// user: the template files a plain tar left out, written again.
pub fn import<R: Read>(
    lxcpath: &Path,
    name: &str,
    input: R,
    archive: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Container, Imported, Vec<String>)> {
    let c = Container::new(lxcpath, name)?;
    if c.dir().symlink_metadata().is_ok() {
        return Err(Error::AlreadyExists {
            name: name.to_string(),
            lxcpath: lxcpath.to_path_buf(),
        });
    }
    fs::create_dir_all(lxcpath).map_err(io_err("create the lxcpath", lxcpath))?;
    let opts = ImportOptions {
        archive: archive.to_string(),
    };
    let imported = enclos_snapshot::import(input, c.dir(), &opts, progress)?;
    let config = c.config()?;
    let notes = crate::create::restore_template_files(&c, &config)?;
    // The import gave the config the new name; the rootfs follows.
    if config.get("lxc.uts.name") == Some(name) {
        crate::snapshots::set_hostname(&c)?;
    }
    Ok((c, imported, notes))
}
