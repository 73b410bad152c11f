//! The cache of template rootfs: on an lxcpath on btrfs, `create -t
//! busybox` builds the template's rootfs once into
//! `<lxcpath>/.cache/<template>/` (a subvolume) and clones it for each new
//! container through the container's backend: a subvolume snapshot for a
//! btrfs container (a second create costs what a snapshot costs), a
//! reflinked copy for a dir one (no data moves), a copy into the new
//! rootfs for the others. The per-container files (the hostname) are
//! written over the clone ([`Template::personalize`]). A container never
//! depends on the cache: no overlay stacks on it, and it can go at any
//! time. Elsewhere the template builds each rootfs itself: a copy of a
//! cache would cost what the build costs, and the cache's room besides.
//!
//! - An entry is `rootfs` (a btrfs subvolume on btrfs, else a directory)
//!   and `identity`, the [`Template::cache_identity`] it was built for
//!   (for busybox: the binary's path, inode, size and modification time).
//!   It is used only while the template gives that identity still and
//!   the rootfs's `/bin/busybox` has the size it names; else it is built
//!   again: the cache is invalidated when the host's busybox changes.
//! - It lives in the lxcpath, on the filesystem of the containers (a btrfs
//!   snapshot does not cross filesystems), and so per user; `.cache` is
//!   no container name (names do not start with a dot).
//! - An entry is built in a staging directory and renamed into place
//!   when complete; a failed or killed build leaves nothing in use.
//! - Containers with an id map do not use it: their rootfs is made by
//!   their mapped root, owners and all.

use std::fs;
use std::path::Path;

use enclos_storage::{Backend, CloneKind, Dest, Rootfs};
use enclos_templates::{Template, TemplateOutput, TemplateRequest};

use crate::error::{io_err, Result};

/// The cache's directory in an lxcpath.
pub(crate) const CACHE_DIR: &str = ".cache";

/// The file of an entry holding its identity.
const IDENTITY: &str = "identity";

/// The cached rootfs of `template` for `req` (its arguments and busybox;
/// its rootfs is not used), built first when missing or stale; `None`
/// where the lxcpath is not on btrfs (see the module's doc).
pub(crate) fn rootfs(
    lxcpath: &Path,
    template: Template,
    req: &TemplateRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Rootfs>> {
    if !enclos_storage::is_btrfs(lxcpath) {
        return Ok(None);
    }
    entry(lxcpath, Backend::Btrfs, template, req, progress).map(Some)
}

/// The cache entry of `template` in `lxcpath`, its rootfs on `backend`.
fn entry(
    lxcpath: &Path,
    backend: Backend,
    template: Template,
    req: &TemplateRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<Rootfs> {
    let identity = template.cache_identity(req)?;
    let dir = lxcpath.join(CACHE_DIR).join(template.name());
    let cached = Rootfs {
        backend,
        ..Rootfs::dir(dir.join("rootfs"))
    };
    if is_valid(&dir, &identity) {
        return Ok(cached);
    }
    progress("building the cached template rootfs");
    build(&dir, backend, template, req, &identity, progress)?;
    Ok(cached)
}

/// Whether the entry `dir` was built for `identity` and is whole.
fn is_valid(dir: &Path, identity: &str) -> bool {
    if fs::read_to_string(dir.join(IDENTITY)).ok().as_deref() != Some(identity) {
        return false;
    }
    let size = identity
        .lines()
        .find_map(|l| l.strip_prefix("size "))
        .and_then(|s| s.parse::<u64>().ok());
    let busybox = dir.join("rootfs/bin/busybox");
    size.is_none_or(|size| fs::metadata(busybox).is_ok_and(|m| m.len() == size))
}

/// Builds the entry `dir` in a staging directory beside it, then puts it
/// in place of the one there.
fn build(
    dir: &Path,
    backend: Backend,
    template: Template,
    req: &TemplateRequest,
    identity: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    let pid = std::process::id();
    let staging = parent.join(format!(".{}.partial-{pid}", template.name()));
    remove_entry(&staging, backend);
    fs::create_dir(&staging).map_err(io_err("create", &staging))?;
    let built = (|| {
        let rootfs = Rootfs::create(backend, &staging)?;
        let mut r = *req;
        r.rootfs = &rootfs.path;
        template.create(&r, progress)?;
        let id = staging.join(IDENTITY);
        fs::write(&id, identity).map_err(io_err("write", &id))?;
        // The stale entry goes aside, the new one in its place.
        let old = parent.join(format!(".{}.old-{pid}", template.name()));
        if dir.exists() {
            fs::rename(dir, &old).map_err(io_err("move aside", dir))?;
        }
        fs::rename(&staging, dir).map_err(io_err("move into place", &staging))?;
        remove_entry(&old, backend);
        Ok(())
    })();
    if built.is_err() {
        remove_entry(&staging, backend);
    }
    built
}

/// Removes a cache entry (its rootfs by its backend), if there.
fn remove_entry(dir: &Path, backend: Backend) {
    if !dir.exists() {
        return;
    }
    let rootfs = Rootfs {
        backend,
        ..Rootfs::dir(dir.join("rootfs"))
    };
    if rootfs.path.exists() {
        let _ = rootfs.destroy_force();
    }
    let _ = enclos_storage::remove_tree(dir);
}

/// The rootfs of a new container in `dir` on `opts.backend`, cloned from
/// the cached `src` where the backend clones it: a btrfs snapshot, a dir
/// copy. `None` for the other backends, whose own new rootfs gets the
/// cache's files copied in ([`personalize`]).
pub(crate) fn clone_for(
    src: &Rootfs,
    dir: &Path,
    opts: &crate::create::CreateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Rootfs>> {
    let kind = match (opts.backend, src.backend) {
        (Backend::Btrfs, Backend::Btrfs) => CloneKind::Snapshot,
        (Backend::Dir, _) => CloneKind::Copy,
        _ => return Ok(None),
    };
    progress("cloning the cached template rootfs");
    let new = src.clone_to(&Dest::new(dir), kind, Some(opts.backend), &opts.storage)?;
    Ok(Some(new))
}

/// Makes `req.rootfs`, a new container's rootfs as a directory, the
/// template's for `req.name`: the cached `src` copied in unless the
/// rootfs is a clone of it (`cloned`), then the container's own files.
pub(crate) fn personalize(
    src: &Rootfs,
    cloned: bool,
    template: Template,
    req: &TemplateRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<TemplateOutput> {
    if !cloned {
        progress("copying the cached template rootfs");
        enclos_storage::copy_tree(&src.path, req.rootfs)?;
    }
    progress("writing the container's own files");
    Ok(template.personalize(req)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    /// The cache's entries of an lxcpath.
    fn entries(lxcpath: &Path) -> Vec<PathBuf> {
        fs::read_dir(lxcpath.join(CACHE_DIR))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_entry_is_used_while_its_identity_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("e");
        fs::create_dir_all(dir.join("rootfs/bin")).unwrap();
        fs::write(dir.join("rootfs/bin/busybox"), "12345").unwrap();
        fs::write(dir.join(IDENTITY), "busybox /x\nsize 5\n").unwrap();
        assert!(is_valid(&dir, "busybox /x\nsize 5\n"));
        assert!(!is_valid(&dir, "busybox /x\nsize 6\n"), "another identity");
        fs::write(dir.join(IDENTITY), "busybox /x\nsize 6\n").unwrap();
        assert!(
            !is_valid(&dir, "busybox /x\nsize 6\n"),
            "a busybox cut short"
        );
    }

    /// A fake busybox: a script the template cannot use fails the build,
    /// which leaves no entry.
    #[test]
    fn a_failed_build_leaves_no_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let bb = tmp.path().join("busybox");
        fs::write(&bb, "#!/bin/sh\nexit 1\n").unwrap();
        fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
        let lxcpath = tmp.path().join("lxc");
        fs::create_dir(&lxcpath).unwrap();
        let mut req = TemplateRequest::new("c1", Path::new("/nonexistent"));
        req.busybox = Some(&bb);
        assert!(entry(&lxcpath, Backend::Dir, Template::Busybox, &req, &mut |_| {}).is_err());
        assert_eq!(entries(&lxcpath), Vec::<PathBuf>::new());
    }
}
