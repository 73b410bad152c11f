//! The cache of template rootfs: `create -t busybox` builds the
//! template's rootfs once into `<lxcpath>/.cache/` and makes each new
//! container from it, where that is cheaper than building it again:
//!
//! - on an lxcpath on btrfs, the entry `.cache/<template>/` is a
//!   subvolume, cloned through the container's backend: a subvolume
//!   snapshot for a btrfs container (a second create costs what a
//!   snapshot costs), a reflinked copy for a dir one (no data moves). A
//!   container never depends on it: it can be rebuilt or removed at any
//!   time;
//! - for an overlay container (on any filesystem), the entry
//!   `.cache/<template>@<hash>/` (a directory; the hash is the
//!   identity's, below) is the container's lower layer: the container
//!   gets an empty upper layer over it and nothing is copied. Such an
//!   entry is never changed or replaced while in use: a new identity
//!   gets an entry of its own, and an older one is removed when a build
//!   finds that no config of the lxcpath (containers and their
//!   snapshots) names it any more. Containers stacked on it elsewhere
//!   stack on one of those, which cannot be destroyed under them;
//! - elsewhere (a dir or loop container off btrfs) the template builds
//!   each rootfs itself: a copy of a cache would cost what the build
//!   costs, and the cache's room besides.
//!
//! The per-container files (the hostname) are written over the clone
//! ([`Template::personalize`]).
//!
//! - An entry is `rootfs` (a btrfs subvolume on btrfs, else a directory)
//!   and `identity`, the [`Template::cache_identity`] it was built for
//!   (for busybox: the binary's path, inode, size and modification time).
//!   It is used only while the template gives that identity still and
//!   the rootfs's `/bin/busybox` has the size it names; else it is built
//!   again: the cache is invalidated when the host's busybox changes.
//! - It lives in the lxcpath, on the filesystem of the containers (a btrfs
//!   snapshot does not cross filesystems, an overlay's layers are best on
//!   one), and so per user; `.cache` is no container name (names do not
//!   start with a dot).
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
/// its rootfs is not used) for a container on `backend`, built first
/// when missing or stale; `None` where the cache does not pay (see the
/// module's doc).
pub(crate) fn rootfs(
    lxcpath: &Path,
    template: Template,
    req: &TemplateRequest,
    backend: Backend,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Rootfs>> {
    if backend == Backend::Overlay {
        let identity = template.cache_identity(req)?;
        let name = format!("{}@{:016x}", template.name(), fnv1a(&identity));
        let dir = lxcpath.join(CACHE_DIR).join(name);
        let r = entry(&dir, &identity, Backend::Dir, template, req, progress)?;
        return Ok(Some(r));
    }
    if !enclos_storage::is_btrfs(lxcpath) {
        return Ok(None);
    }
    let identity = template.cache_identity(req)?;
    let dir = lxcpath.join(CACHE_DIR).join(template.name());
    entry(&dir, &identity, Backend::Btrfs, template, req, progress).map(Some)
}

/// The FNV-1a hash of `text`: the same in every run and version.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The cache entry `dir` of `template` for `identity`, its rootfs on
/// `backend`.
fn entry(
    dir: &Path,
    identity: &str,
    backend: Backend,
    template: Template,
    req: &TemplateRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<Rootfs> {
    let cached = Rootfs {
        backend,
        ..Rootfs::dir(dir.join("rootfs"))
    };
    if is_valid(dir, identity) {
        return Ok(cached);
    }
    progress("building the cached template rootfs");
    build(dir, backend, template, req, identity, progress)?;
    if backend == Backend::Dir {
        remove_unused_layers(dir, template);
    }
    Ok(cached)
}

/// Removes the overlay entries of `template` beside `kept` that no config
/// of the lxcpath names (the containers' and their snapshots').
fn remove_unused_layers(kept: &Path, template: Template) {
    let Some(cache) = kept.parent() else { return };
    let Some(lxcpath) = cache.parent() else {
        return;
    };
    let prefix = format!("{}@", template.name());
    let stale: Vec<_> = fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != kept)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    if stale.is_empty() {
        return;
    }
    let configs = lxcpath_configs(lxcpath);
    for entry in stale {
        let lower = entry.join("rootfs").display().to_string();
        if !configs.iter().any(|text| names_layer(text, &lower)) {
            remove_entry(&entry, Backend::Dir);
        }
    }
}

/// The configs of the containers of `lxcpath` and of their snapshots.
fn lxcpath_configs(lxcpath: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    for c in fs::read_dir(lxcpath).into_iter().flatten().flatten() {
        let dir = c.path();
        texts.extend(fs::read_to_string(dir.join("config")));
        let snaps = enclos_snapshot::snaps_dir(&dir);
        for s in fs::read_dir(snaps).into_iter().flatten().flatten() {
            texts.extend(fs::read_to_string(s.path().join("config")));
        }
    }
    texts
}

/// Whether the rootfs of the config `text` has the layer `lower`.
fn names_layer(text: &str, lower: &str) -> bool {
    enclos_snapshot::rewrite::rootfs_of(text)
        .is_some_and(|spec| spec.split(':').any(|part| part == lower))
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
/// copy, an overlay's empty upper layer over it. `None` for the other backends, whose own new rootfs gets the
/// cache's files copied in ([`personalize`]).
pub(crate) fn clone_for(
    src: &Rootfs,
    dir: &Path,
    opts: &crate::create::CreateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Rootfs>> {
    let kind = match (opts.backend, src.backend) {
        (Backend::Overlay, _) => {
            // An empty upper layer over the entry: nothing is copied.
            let upper = dir.join("delta0");
            let new = enclos_storage::overlay::stack(vec![src.path.clone()], &upper)?;
            return Ok(Some(new));
        }
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

    #[test]
    fn an_overlay_entry_is_named_by_the_layers_of_a_config() {
        let text = "lxc.uts.name = c1\nlxc.rootfs.path = overlay:/l/.cache/busybox@1/rootfs:/l/c1/delta0\n";
        assert!(names_layer(text, "/l/.cache/busybox@1/rootfs"));
        assert!(!names_layer(text, "/l/.cache/busybox@1"));
        assert!(!names_layer(text, "/l/.cache/busybox@2/rootfs"));
        assert_ne!(fnv1a("a"), fnv1a("b"));
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
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
        let dir = lxcpath.join(CACHE_DIR).join("busybox");
        let identity = "busybox /x\n";
        assert!(entry(
            &dir,
            identity,
            Backend::Dir,
            Template::Busybox,
            &req,
            &mut |_| {}
        )
        .is_err());
        assert_eq!(entries(&lxcpath), Vec::<PathBuf>::new());
    }
}
