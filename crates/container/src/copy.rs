//! copy and rename (lxc-copy): a new container from an existing one, as a
//! full copy or a copy-on-write snapshot of its rootfs, ephemeral or not,
//! with its config rewritten for its new name and place.
//!
//! A copy is built in a staging directory beside its final place
//! (`.<name>.partial`, see [`enclos_snapshot::stage`]) and renamed into
//! place only when complete: a copy that fails, or is killed, leaves no
//! container under the new name, and the next copy of that name removes
//! a dead attempt's leftovers.

use std::fs;
use std::path::{Path, PathBuf};

use enclos_snapshot::restore::moved_rootfs;
use enclos_snapshot::rewrite::{rewrite_config, Rename};
use enclos_snapshot::stage::Staged;
use enclos_storage::{deps, Backend, CloneKind, Dest, Rootfs};

use crate::container::{storage_rootfs, Container};
use crate::error::{io_err, Error, Result};
use crate::hwaddr::{is_hwaddr_key, random_bytes, random_mac};

/// What `copy` is asked (lxc-copy's flags).
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `-N`: the copy's name; an ephemeral copy without one is named
    /// `<name>_XXXXXX` (random), as LXC names it.
    pub new_name: Option<String>,
    /// `-p`: the lxcpath of the copy (default: the original's).
    pub new_lxcpath: Option<PathBuf>,
    /// `-s`: a copy-on-write snapshot of the rootfs instead of a full copy
    /// (overlay over a dir rootfs, a btrfs snapshot of a btrfs one).
    pub snapshot: bool,
    /// `-a`: allow a snapshot (`-s`) of a running original.
    pub allow_running: bool,
    /// `-B`: the copy's backend (default: the original's; overlay for an
    /// ephemeral copy).
    pub backend: Option<Backend>,
    /// `-L` and the other `-B` options of the new rootfs.
    pub storage: enclos_storage::CreateOptions,
    /// `-K`: keep the original's `lxc.uts.name`.
    pub keep_name: bool,
    /// `-M`: keep the original's MAC addresses (`lxc.net.N.hwaddr`).
    pub keep_mac: bool,
    /// `-e`: an ephemeral copy (an overlay over the original, removed when
    /// it stops), started at once by the caller ([`start_copy`]).
    pub ephemeral: bool,
    /// `-D` with `-e`: the copy is kept when it stops.
    pub keep_data: bool,
    /// `-m`: mounts for the copy: `bind=SRC:DEST[:ro]` or
    /// `overlay=SRC:DEST`, comma-separated.
    pub mounts: Vec<String>,
    /// `-t` with `-e`: the copy's upper layer on a tmpfs made for each of
    /// its runs (overlay only, not with `-D`).
    pub tmpfs: bool,
    /// The extra arguments of the copy's `lxc.hook.clone` hooks.
    pub hook_args: Vec<String>,
}

/// What lxc-copy says once the copy exists: "clone" or "snapshot".
pub fn copy_kind_word(opts: &CopyOptions) -> &'static str {
    if opts.snapshot {
        "snapshot"
    } else {
        "clone"
    }
}

/// Copies the stopped container `c` (see [`CopyOptions`]); returns the
/// copy, not started. `progress` receives the steps. Everything that can
/// be checked is checked before anything is written.
pub fn copy(
    c: &Container,
    opts: &CopyOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Container> {
    let _lock = c.lock()?;
    refuse_running(c, opts)?;
    let config_text =
        fs::read_to_string(c.config_path()).map_err(io_err("read", c.config_path()))?;
    let src = match c.config()?.rootfs() {
        Some(r) => storage_rootfs(&r)?,
        None => {
            return Err(Error::Unsupported(format!(
                "Container '{}' has no lxc.rootfs.path in {}: there is nothing to copy",
                c.name(),
                c.config_path().display()
            )))
        }
    };
    let kind = if opts.snapshot || opts.ephemeral {
        CloneKind::Snapshot
    } else {
        CloneKind::Copy
    };
    let backend = match (opts.backend, opts.ephemeral) {
        (None, true) => Some(Backend::Overlay),
        (b, _) => b,
    };
    if opts.tmpfs {
        let b = backend.unwrap_or(Backend::Overlay);
        crate::copy_tmpfs::check(b, !opts.ephemeral || opts.keep_data)?;
    }
    let backend = src.clone_backend(kind, backend)?;
    let mounts = parse_mounts(&opts.mounts)?;
    let name = copy_name(c, opts)?;
    let lxcpath = opts
        .new_lxcpath
        .clone()
        .unwrap_or(c.lxcpath().to_path_buf());
    let target = Container::new(&lxcpath, &name)?.with_layout(c.shared_layout());
    fs::create_dir_all(&lxcpath).map_err(io_err("create the lxcpath", &lxcpath))?;
    let staged = Staged::begin(target.dir(), "copy", 0o755)?;
    progress(&format!("copying the rootfs of {} ({backend})", c.name()));
    let dest = Dest::named(staged.dir(), &name);
    // Stacking an overlay layer mounts nothing: no namespace needed.
    let new = if kind == CloneKind::Snapshot && backend == Backend::Overlay {
        src.clone_to(&dest, kind, Some(backend), &opts.storage)?
    } else {
        crate::leftovers::with_own_mounts(|| {
            src.clone_to(&dest, kind, Some(backend), &opts.storage)
        })?
    };
    let written = (|| {
        let new = match opts.tmpfs {
            true => crate::copy_tmpfs::move_upper(&new, staged.dir())?,
            false => new,
        };
        if !opts.keep_name {
            if opts.ephemeral && new.backend.capabilities().needs_mount {
                // Its start mounts the rootfs anyway: written there, the
                // name costs no mount of its own (whose unmount would sync
                // the whole filesystem under an overlay's upper layer).
                // The start that follows at once is told (start_copy); a
                // copy that is kept (-D) may start later: a file tells it.
                if opts.keep_data {
                    defer_hostname(staged.dir(), &name)?;
                }
            } else {
                crate::leftovers::with_own_mounts(|| write_hostname(&new, staged.dir(), &name))?;
            }
        }
        progress("writing the configuration");
        let text = copy_config(c, &config_text, &new, &staged, &target, opts, &mounts)?;
        let path = staged.dir().join("config");
        fs::write(&path, text).map_err(io_err("write", &path))?;
        Ok::<_, Error>(())
    })();
    if let Err(e) = written {
        let _ = deps::forget_parent(staged.dir());
        return Err(e);
    }
    commit(staged, &target)?;
    progress("running the clone hooks");
    if let Err(e) = crate::copy_hooks::run(&target, c.name(), &opts.hook_args) {
        let _ = crate::create::remove_stopped(&target);
        return Err(e);
    }
    Ok(target)
}

/// Renames the staged copy into place. A clone that stacks on the
/// original (an overlay) was recorded there under its staging name: the
/// commit renames that record. A commit that fails after its rename
/// leaves no copy behind either.
fn commit(staged: Staged, target: &Container) -> Result<()> {
    match staged.commit() {
        Ok(_) => Ok(()),
        Err(e @ enclos_snapshot::Error::Exists { .. }) => Err(e.into()),
        Err(e) => {
            if target.exists() {
                let _ = crate::create::remove_stopped(target);
            }
            Err(e.into())
        }
    }
}

/// The copy's config: the original's rewritten for its new directory,
/// name and rootfs, hook scripts and fstab copied along, new MAC
/// addresses unless kept, `lxc.ephemeral` and the `-m` mounts.
fn copy_config(
    c: &Container,
    text: &str,
    new: &Rootfs,
    staged: &Staged,
    target: &Container,
    opts: &CopyOptions,
    mounts: &[Mount],
) -> Result<String> {
    let rootfs = moved_rootfs(new, staged.dir(), target.dir());
    let rename = Rename {
        from: vec![c.dir().to_path_buf()],
        to: target.dir().to_path_buf(),
        uts_name: (!opts.keep_name).then(|| target.name().to_string()),
        rootfs: Some(rootfs.spec()),
    };
    let out = rewrite_config(text, &c.config_path(), &rename)?;
    for (from, to) in &out.files {
        let to = staged
            .dir()
            .join(to.strip_prefix(target.dir()).unwrap_or(to));
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        fs::copy(from, &to).map_err(io_err("copy", from))?;
    }
    let mut lines: Vec<String> = Vec::new();
    for line in out.text.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim()).unwrap_or("");
        if opts.ephemeral && key == "lxc.ephemeral" {
            continue;
        }
        if !opts.keep_mac && is_hwaddr_key(key) {
            lines.push(format!("{key} = {}", random_mac()?));
            continue;
        }
        lines.push(line.to_string());
    }
    if opts.ephemeral && !opts.keep_data {
        lines.push("lxc.ephemeral = 1".into());
    }
    for m in mounts {
        lines.push(m.entry(staged.dir(), target.dir())?);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    // What is written must read again.
    enclos_config::Config::parse_str(&text, &target.config_path())?;
    Ok(text)
}

/// Writes `name` in the copy's `/etc/hostname` when it has one, as LXC's
/// clone does unless the name is kept; the rootfs is mounted for it where
/// its backend needs a mount.
fn write_hostname(rootfs: &Rootfs, dir: &Path, name: &str) -> Result<()> {
    let mnt = dir.join(".enclos-hostname");
    fs::create_dir(&mnt).map_err(io_err("create the mount point", &mnt))?;
    let written = (|| {
        let m = rootfs.mount(&mnt)?;
        let file = m.root().join("etc/hostname");
        if file.symlink_metadata().is_ok_and(|m| m.is_file()) {
            fs::write(&file, format!("{name}\n")).map_err(io_err("write", &file))?;
        }
        m.unmount()?;
        Ok(())
    })();
    let _ = fs::remove_dir(&mnt);
    written
}

/// The run file that holds the name an ephemeral copy's `/etc/hostname`
/// takes at its start ([`write_pending_hostname`]).
const PENDING_HOSTNAME: &str = "hostname.pending";

/// Leaves the copy's new name for its start to write in `/etc/hostname`
/// (an ephemeral copy, started at once, whose rootfs needs a mount).
fn defer_hostname(dir: &Path, name: &str) -> Result<()> {
    let run = dir.join(".enclos");
    fs::create_dir_all(&run).map_err(io_err("create", &run))?;
    let file = run.join(PENDING_HOSTNAME);
    fs::write(&file, name).map_err(io_err("write", &file))
}

/// At the start of a copy whose name was left for it (`name`, from
/// [`start_copy`], or the file of [`defer_hostname`]): writes it in
/// `/etc/hostname` of the mounted rootfs `root`, when that is a file, as
/// the copy would have done, then forgets it. A failure is a warning: the
/// container runs under its `lxc.uts.name` anyway.
pub(crate) fn write_pending_hostname(c: &Container, root: &Path, name: Option<&str>) {
    let pending = c.run_file(PENDING_HOSTNAME);
    let name = match name {
        Some(n) => n.to_string(),
        None => match fs::read_to_string(&pending) {
            Ok(n) => n,
            Err(_) => return,
        },
    };
    let file = root.join("etc/hostname");
    if file.symlink_metadata().is_ok_and(|m| m.is_file()) {
        if let Err(e) = fs::write(&file, format!("{name}\n")) {
            tracing::warn!(container = c.name(), "cannot write {}: {e}", file.display());
        }
    }
    let _ = fs::remove_file(&pending);
}

/// Refuses a running original, unless a snapshot of it is allowed to run
/// (`-s -a`).
fn refuse_running(c: &Container, opts: &CopyOptions) -> Result<()> {
    let state = c.state()?;
    if !state.is_active() || (opts.snapshot && opts.allow_running) {
        return Ok(());
    }
    let or = if opts.ephemeral {
        ""
    } else {
        ", or snapshot it as it runs with -s -a"
    };
    Err(Error::Running {
        name: c.name().to_string(),
        state: state.as_str(),
        hint: format!("stop it first (enclos stop -n {}){or}", c.name()),
    })
}

/// The copy's name: `-N`, or for an ephemeral copy `<name>_XXXXXX`.
fn copy_name(c: &Container, opts: &CopyOptions) -> Result<String> {
    match &opts.new_name {
        Some(n) => Ok(n.clone()),
        None if opts.ephemeral => Ok(format!("{}_{}", c.name(), random_suffix()?)),
        None => Err(Error::InvalidArgument {
            what: "copy",
            value: c.name().to_string(),
            reason: "give the copy's name with -N NEWNAME (only an ephemeral copy, -e, gets one of its own)".into(),
        }),
    }
}

/// Six random letters and digits, as LXC names an unnamed ephemeral copy.
fn random_suffix() -> Result<String> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    Ok(random_bytes::<6>()?
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect())
}

/// A `-m` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    overlay: bool,
    src: PathBuf,
    /// Inside the container, without the leading `/`.
    dest: String,
    read_only: bool,
}

/// Parses `-m` values: `bind=SRC:DEST[:ro]`, `overlay=SRC:DEST`, several
/// per value separated by commas.
fn parse_mounts(values: &[String]) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for spec in values.iter().flat_map(|v| v.split(',')) {
        let bad = |reason: &str| Error::InvalidArgument {
            what: "mount",
            value: spec.to_string(),
            reason: format!("{reason}; write bind=/SRC:/DEST[:ro] or overlay=/SRC:/DEST"),
        };
        let (kind, rest) = spec.split_once('=').ok_or_else(|| bad("no type"))?;
        let overlay = match kind {
            "bind" => false,
            "overlay" => true,
            _ => return Err(bad(&format!("unknown type '{kind}'"))),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (src, dest, read_only) = match parts.as_slice() {
            [s, d] => (*s, *d, false),
            [s, d, "ro"] if !overlay => (*s, *d, true),
            [s, d, "rw"] if !overlay => (*s, *d, false),
            _ => return Err(bad("expected SRC:DEST")),
        };
        if !src.starts_with('/') || !dest.starts_with('/') {
            return Err(bad("the paths must be absolute"));
        }
        if !Path::new(src).is_dir() {
            return Err(bad(&format!("{src} is not a directory")));
        }
        out.push(Mount {
            overlay,
            src: PathBuf::from(src),
            dest: dest.trim_start_matches('/').to_string(),
            read_only,
        });
    }
    Ok(out)
}

impl Mount {
    /// Its `lxc.mount.entry`; an overlay's upper and work directories are
    /// made in the copy's directory (`staged`, at `target` once in place).
    fn entry(&self, staged: &Path, target: &Path) -> Result<String> {
        if !self.overlay {
            let ro = if self.read_only { ",ro" } else { "" };
            return Ok(format!(
                "lxc.mount.entry = {} {} none bind,create=dir{ro} 0 0",
                self.src.display(),
                self.dest
            ));
        }
        let base = format!("mount-{}", self.dest.replace('/', "_"));
        for d in ["delta", "work"] {
            let p = staged.join(&base).join(d);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        let dir = target.join(&base);
        Ok(format!(
            "lxc.mount.entry = overlay {} overlay lowerdir={},upperdir={},workdir={},create=dir 0 0",
            self.dest,
            self.src.display(),
            dir.join("delta").display(),
            dir.join("work").display()
        ))
    }
}

/// Starts a copy just made (`-e`, or a copy asked to start); when it does
/// not start, an ephemeral copy is removed again, as lxc-copy does.
pub fn start_copy(copy: &Container, opts: &CopyOptions, foreground: bool) -> Result<()> {
    // The copy's new name for its /etc/hostname, which the copy left to
    // this start where the rootfs needs a mount (see copy); the start
    // writes it only into a rootfs it mounts.
    let hostname =
        (opts.ephemeral && !opts.keep_name && !opts.keep_data).then(|| copy.name().to_string());
    let started = crate::start::start(
        copy,
        &crate::start::StartOptions {
            foreground,
            hostname,
            ..Default::default()
        },
    );
    if started.is_err() && copy.config().is_ok_and(|c| c.ephemeral()) && !copy.state()?.is_active()
    {
        let _ = crate::create::remove_stopped(copy);
    }
    started
}

/// Renames the stopped container `c` to `new_name` (lxc-copy -R): its
/// directory moved, its config's paths and `lxc.uts.name` rewritten. A
/// container with snapshots, or that clones stack on, is refused.
pub fn rename(c: &Container, new_name: &str) -> Result<Container> {
    let _lock = c.lock()?;
    let state = c.state()?;
    if state.is_active() {
        return Err(Error::Running {
            name: c.name().to_string(),
            state: state.as_str(),
            hint: format!("stop it first (enclos stop -n {})", c.name()),
        });
    }
    enclos_snapshot::check_destroy(c.dir(), false)?;
    let target = Container::new(c.lxcpath(), new_name)?;
    if target.dir().symlink_metadata().is_ok() {
        return Err(Error::AlreadyExists {
            name: new_name.to_string(),
            lxcpath: c.lxcpath().to_path_buf(),
        });
    }
    let text = fs::read_to_string(c.config_path()).map_err(io_err("read", c.config_path()))?;
    let rootfs = enclos_snapshot::rewrite::rootfs_of(&text)
        .and_then(|r| Rootfs::parse(&r).ok())
        .map(|r| moved_rootfs(&r, c.dir(), target.dir()).spec());
    let rename = Rename {
        from: vec![c.dir().to_path_buf()],
        to: target.dir().to_path_buf(),
        uts_name: Some(new_name.to_string()),
        rootfs,
    };
    let out = rewrite_config(&text, &c.config_path(), &rename)?;
    // The parent's list (a clone's) names the new directory.
    let parent = deps::parent(c.dir())?;
    deps::forget_parent(c.dir())?;
    let moved = fs::rename(c.dir(), target.dir()).map_err(io_err("rename", c.dir()));
    let dir = if moved.is_ok() { target.dir() } else { c.dir() };
    if let Some(p) = &parent {
        deps::record(&p.dir(), dir)?;
    }
    moved?;
    let tmp = target.dir().join(".config.tmp");
    fs::write(&tmp, &out.text)
        .and_then(|()| fs::rename(&tmp, target.config_path()))
        .map_err(io_err("write", target.config_path()))?;
    if let Some(r) = enclos_snapshot::rewrite::rootfs_of(&out.text) {
        write_hostname(&Rootfs::parse(&r)?, target.dir(), new_name)?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_as_lxc_copy_takes_them() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().display().to_string();
        let m = parse_mounts(&[format!("bind={src}:/srv:ro,overlay={src}:/opt/x")]).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].entry(tmp.path(), Path::new("/l/c2")).unwrap(),
            format!("lxc.mount.entry = {src} srv none bind,create=dir,ro 0 0")
        );
        assert_eq!(
            m[1].entry(tmp.path(), Path::new("/l/c2")).unwrap(),
            format!("lxc.mount.entry = overlay opt/x overlay lowerdir={src},upperdir=/l/c2/mount-opt_x/delta,workdir=/l/c2/mount-opt_x/work,create=dir 0 0")
        );
        assert!(tmp.path().join("mount-opt_x/delta").is_dir());
        for bad in ["bind=/a", "nfs=/a:/b", "bind=rel:/b", "overlay=/a:/b:ro"] {
            let err = parse_mounts(&[bad.to_string()]).unwrap_err().to_string();
            assert!(err.contains("bind=/SRC:/DEST"), "{bad}: {err}");
        }
    }

    #[test]
    fn random_suffixes() {
        let s = random_suffix().unwrap();
        assert!(s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
