//! create and destroy: a failed create leaves nothing behind.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use enclos_config::Config;
use enclos_idmap::{IdKind, IdMaps};
use enclos_storage::{Backend, Dest, Mounted, Rootfs};
use enclos_templates::{Template, TemplateOutput, TemplateRequest};

use crate::container::{default_config_path, storage_rootfs, Container};
use crate::error::{io_err, Error, Result};
use crate::userns::{run_mapped, with_caller};

/// What `create` is asked.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// A template name (`busybox`); none: an empty rootfs.
    pub template: Option<String>,
    /// Arguments for the template (after `--`).
    pub template_args: Vec<String>,
    pub backend: Backend,
    /// The initial configuration (`-f`); default: the user's default.conf
    /// if it exists.
    pub config_file: Option<PathBuf>,
    /// The backend's options (`--fssize`, `--fstype`, ...).
    pub storage: enclos_storage::CreateOptions,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            template: None,
            template_args: Vec::new(),
            backend: Backend::Dir,
            config_file: None,
            storage: enclos_storage::CreateOptions::default(),
        }
    }
}

/// The new rootfs as a directory for the template: mounted on a mount
/// point in the container's directory while it is filled, when its backend
/// needs a mount (overlay, loop); unmounted and the point removed when
/// dropped.
struct FillMount {
    mounted: Option<Mounted>,
    point: Option<PathBuf>,
    root: PathBuf,
}

impl FillMount {
    fn new(rootfs: &Rootfs, dir: &Path) -> Result<FillMount> {
        if !rootfs.backend.capabilities().needs_mount {
            let root = rootfs.prepare()?;
            return Ok(FillMount {
                mounted: None,
                point: None,
                root,
            });
        }
        let point = dir.join(".enclos-fill");
        fs::create_dir(&point).map_err(io_err("create the mount point", &point))?;
        let mut fill = FillMount {
            mounted: None,
            point: Some(point.clone()),
            root: point.clone(),
        };
        let m = rootfs.mount(&point)?;
        fill.root = m.root().to_path_buf();
        fill.mounted = Some(m);
        Ok(fill)
    }

    /// Unmounts now, reporting a failure.
    fn unmount(mut self) -> Result<()> {
        if let Some(m) = self.mounted.take() {
            m.unmount()?;
        }
        Ok(())
    }
}

impl Drop for FillMount {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            let _ = m.unmount();
        }
        if let Some(p) = &self.point {
            let _ = fs::remove_dir(p);
        }
    }
}

/// Removes a half-made container unless defused.
struct Undo {
    dir: PathBuf,
    /// The rootfs once made: its backend removes it (a volume may live
    /// outside the directory).
    rootfs: Option<Rootfs>,
    armed: bool,
    /// The container's id maps: its files may belong to its root.
    maps: IdMaps,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if self.armed {
            if let Some(r) = &self.rootfs {
                let _ = r.destroy_force();
            }
            let dir = self.dir.clone();
            let _ = remove_as_owner(&self.maps, "remove the half-made container", move || {
                Rootfs::dir(&dir).destroy().map_err(Error::from)
            });
        }
    }
}

/// Runs `remove`, which deletes files of a container; when it fails for a
/// caller who is not root and the container has id maps, runs it again as
/// the container's root in its user namespace, where the files the
/// container's ids own can be removed.
fn remove_as_owner(maps: &IdMaps, what: &str, remove: impl Fn() -> Result<()>) -> Result<()> {
    match remove() {
        Ok(()) => Ok(()),
        Err(_) if !maps.is_empty() && !nix::unistd::geteuid().is_root() => {
            run_mapped(
                maps,
                what,
                |_| remove().map_err(|e| crate::error::chain(&e)),
                &mut |_| {},
            )?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The configuration a create starts from: `-f`, else the user's default
/// one when it exists.
fn base_config(opts: &CreateOptions) -> Result<Option<Config>> {
    let path = match &opts.config_file {
        Some(f) => f.clone(),
        None => {
            let d = default_config_path();
            if !d.is_file() {
                return Ok(None);
            }
            d
        }
    };
    let base = Config::load(&path)?;
    for w in base.warnings() {
        tracing::warn!("{w}");
    }
    Ok(Some(base))
}

/// Fills the rootfs with the template, and, for a container with id maps,
/// gives its directory and rootfs to its root first, all as that root in
/// its user namespace: what the template writes belongs to the container's
/// ids on the host (165536 for root with `u 0 165536 65536`), as with
/// lxc-create. The container's directory goes to the container's root and
/// the caller's group (LXC's choice), mode 0770: both may enter it.
fn fill_rootfs(
    c: &Container,
    rootfs: &Path,
    template: Option<Template>,
    req: TemplateRequest<'_>,
    maps: &IdMaps,
    progress: &mut dyn FnMut(&str),
) -> Result<TemplateOutput> {
    if maps.is_empty() {
        return match template {
            Some(t) => Ok(t.create(&req, progress)?),
            None => Ok(TemplateOutput::default()),
        };
    }
    let dir_gid = if nix::unistd::geteuid().is_root() {
        Some(0)
    } else {
        with_caller(maps).container_id(IdKind::Gid, nix::unistd::getegid().as_raw())
    };
    let dir = c.dir();
    let work = |lines: &mut crate::userns::Lines| {
        let chown = |path: &Path, gid| {
            std::os::unix::fs::chown(path, Some(0), gid).map_err(|e| {
                format!(
                    "Cannot give {} to the container's root: {e}",
                    path.display()
                )
            })
        };
        chown(rootfs, Some(0))?;
        chown(dir, dir_gid)?;
        let Some(t) = template else { return Ok(()) };
        let out = t
            .create(&req, &mut |step| lines.send(&format!("S{step}")))
            .map_err(|e| crate::error::chain(&e))?;
        for (k, v) in &out.config {
            lines.send(&format!("C{k}\t{v}"));
        }
        for note in &out.notes {
            lines.send(&format!("N{note}"));
        }
        Ok(())
    };
    let mut out = TemplateOutput::default();
    let what = match template {
        Some(t) => format!("fill the rootfs with the {t} template"),
        None => "give the rootfs to the container's root".to_string(),
    };
    run_mapped(
        maps,
        &what,
        work,
        &mut |line| match line.split_at(line.len().min(1)) {
            ("S", step) => progress(step),
            ("C", kv) => {
                if let Some((k, v)) = kv.split_once('\t') {
                    out.config.push((k.to_string(), v.to_string()));
                }
            }
            ("N", note) => out.notes.push(note.to_string()),
            _ => {}
        },
    )?;
    Ok(out)
}

/// Creates the container `name` in `lxcpath`: its directory, rootfs (by
/// the backend, filled by the template) and config. `progress` receives
/// the steps. On any error, nothing of it remains.
pub fn create(
    lxcpath: &Path,
    name: &str,
    opts: &CreateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Container> {
    let c = Container::new(lxcpath, name)?;
    // Everything that can be checked without writing is checked first.
    let template = opts
        .template
        .as_deref()
        .map(|t| t.parse::<Template>())
        .transpose()?;
    let base = base_config(opts)?;
    let maps = base.as_ref().map(|b| b.idmaps()).unwrap_or_default();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(c.lxcpath())
        .map_err(io_err("create the lxcpath", c.lxcpath()))?;
    claim_dir(&c)?;
    let mut undo = Undo {
        dir: c.dir().to_path_buf(),
        rootfs: None,
        armed: true,
        maps: maps.clone(),
    };
    if !maps.is_empty() {
        // The caller's group keeps access once the directory is the
        // container root's (fill_rootfs): 0770 whatever the umask.
        fs::set_permissions(c.dir(), fs::Permissions::from_mode(0o770))
            .map_err(io_err("set the mode of", c.dir()))?;
    }
    let cached = cached_template(&c, template, opts, &maps, progress);
    let cloned = match &cached {
        Some(src) => crate::template_cache::clone_for(src, c.dir(), opts, progress)?,
        None => None,
    };
    let storage = crate::container::storage_defaults(&opts.storage);
    let rootfs = match &cloned {
        Some(r) => r.clone(),
        None => Rootfs::create_with(opts.backend, &Dest::new(c.dir()), &storage)?,
    };
    undo.rootfs = Some(rootfs.clone());
    let mut config = Config::with_path(c.config_path());
    if let Some(base) = &base {
        copy_base(&mut config, base)?;
    }
    let filled = FillMount::new(&rootfs, c.dir())?;
    let mut req = TemplateRequest::new(name, &filled.root);
    req.args = &opts.template_args;
    let out = match (&cached, template) {
        (Some(src), Some(t)) => {
            crate::template_cache::personalize(src, cloned.is_some(), t, &req, progress)?
        }
        _ => fill_rootfs(&c, &filled.root, template, req, &maps, progress)?,
    };
    filled.unmount()?;
    for (k, v) in &out.config {
        if k == "lxc.uts.name" {
            config.set(k, v)?;
        } else {
            config.append(k, v)?;
        }
    }
    if let Some(t) = template {
        write_dir_files(&c, &mut config, t)?;
    }
    config.set("lxc.rootfs.path", &rootfs.spec())?;
    if config.get("lxc.uts.name").is_none() {
        config.set("lxc.uts.name", name)?;
    }
    progress("writing the configuration");
    config.write(c.config_path())?;
    // What was written must load again, includes and all.
    c.config()?.validate()?;
    undo.armed = false;
    Ok(c)
}

/// Writes the files `template` puts next to the config (the busybox
/// template's seccomp profile) in the container's directory, and names
/// each by its key with its absolute path, as LXC's configs name
/// theirs; a key the starting config sets already is the user's choice,
/// kept, and its file not written.
fn write_dir_files(c: &Container, config: &mut Config, template: Template) -> Result<()> {
    for f in template.dir_files() {
        if config.get(f.key).is_some() {
            continue;
        }
        let path = c.dir().join(f.name);
        fs::write(&path, f.contents).map_err(io_err("write", &path))?;
        config.append(f.key, &path.to_string_lossy())?;
    }
    Ok(())
}

/// Puts back a template's file that the config of `c` names in its
/// directory but that is not there: a plain tar of `config` and `rootfs`
/// (the course's backup) leaves out the busybox template's seccomp
/// profile, and the container would not start: import and start call
/// this. Its content is the template's own; returns a note for the user
/// about each.
pub(crate) fn restore_template_files(c: &Container, config: &Config) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for t in Template::ALL {
        for f in t.dir_files() {
            let path = c.dir().join(f.name);
            let named = config.get(f.key) == Some(&*path.to_string_lossy());
            if named && path.symlink_metadata().is_err() {
                fs::write(&path, f.contents).map_err(io_err("write", &path))?;
                notes.push(format!(
                    "{} was missing: written again as the {t} template makes it ({} names it)",
                    path.display(),
                    f.key
                ));
            }
        }
    }
    Ok(notes)
}

/// Makes the container's directory: mkdir is the atomic claim of the name.
fn claim_dir(c: &Container) -> Result<()> {
    match fs::DirBuilder::new().mode(0o770).create(c.dir()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(Error::AlreadyExists {
            name: c.name().to_string(),
            lxcpath: c.lxcpath().to_path_buf(),
        }),
        Err(e) => Err(io_err("create", c.dir())(e)),
    }
}

/// Copies the base configuration into `config`, expanded: the
/// container's config stands on its own, whatever becomes of the files
/// the base included. A MAC address with `x` in it gets random digits
/// there, as LXC gives each container its own.
fn copy_base(config: &mut Config, base: &Config) -> Result<()> {
    for e in base.live_entries().filter(|e| e.key != "lxc.include") {
        if crate::hwaddr::is_hwaddr_key(&e.key) {
            config.append(&e.key, &crate::hwaddr::complete_hwaddr(&e.value)?)?;
        } else {
            config.append(&e.key, &e.value)?;
        }
    }
    Ok(())
}

/// The cached rootfs of the template (see [`crate::template_cache`]), for
/// a container without an id map; `None` when there is no template or the
/// cache cannot be had, which is said in the log: the template then builds
/// the rootfs itself (and reports what stops it).
fn cached_template(
    c: &Container,
    template: Option<Template>,
    opts: &CreateOptions,
    maps: &IdMaps,
    progress: &mut dyn FnMut(&str),
) -> Option<Rootfs> {
    let t = template.filter(|_| maps.is_empty())?;
    let mut req = TemplateRequest::new(c.name(), c.dir());
    req.args = &opts.template_args;
    match crate::template_cache::rootfs(c.lxcpath(), t, &req, opts.backend, progress) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                container = c.name(),
                "no cached {t} rootfs: {}",
                crate::error::chain(&e)
            );
            None
        }
    }
}

/// Removes a stopped container's rootfs and directory (an ephemeral
/// container when it stops).
pub(crate) fn remove_stopped(c: &Container) -> Result<()> {
    // lxc.rootfs.managed = 0: the rootfs is someone else's to remove.
    let cfg = c.config().ok();
    let maps = cfg.as_ref().map(|cfg| cfg.idmaps()).unwrap_or_default();
    let rootfs = cfg
        .filter(|cfg| cfg.rootfs_managed())
        .and_then(|cfg| cfg.rootfs())
        .and_then(|r| storage_rootfs(&r).ok());
    let dir = c.dir().to_path_buf();
    remove_as_owner(&maps, "remove the container's files", move || {
        if let Some(rootfs) = &rootfs {
            rootfs.destroy()?;
        }
        Rootfs::dir(&dir).destroy()?;
        Ok(())
    })
}

/// Removes an ephemeral container whose monitor ended without removing
/// it (killed, or the host went down while it ran): one that a monitor
/// started (its monitor lock file is there), that is stopped, and that no
/// other command holds. Returns whether it was removed. `ls` and `start`
/// call it, so that such a container does not outlive its run.
pub(crate) fn remove_dead_ephemeral(c: &Container) -> bool {
    if !c.run_file("monitor.lock").exists() || !c.config().is_ok_and(|cfg| cfg.ephemeral()) {
        return false;
    }
    let running = || c.state().map_or(true, |s| s.is_active());
    // Checked before the lock too, so as not to wait for a start.
    if running() {
        return false;
    }
    let Ok(_lock) = c.lock() else {
        return false;
    };
    if running() {
        return false;
    }
    let _ = crate::stop::kill_and_clean(c);
    match remove_stopped(c) {
        Ok(()) => {
            tracing::info!(container = c.name(), "removed: ephemeral, its monitor gone");
            true
        }
        Err(e) => {
            tracing::warn!(
                container = c.name(),
                "cannot remove the ephemeral container: {e}"
            );
            false
        }
    }
}

/// Destroys a container: its rootfs (by its backend) and its directory.
/// A running container is refused unless `force`, which stops it first;
/// one with snapshots or clones is refused (see [`destroy_with`]).
pub fn destroy(c: &Container, force: bool) -> Result<()> {
    destroy_with(c, force, false)
}

/// As [`destroy`]; with `with_snapshots` (lxc-destroy -s) the container's
/// snapshots go with it. Containers that stack on it (`lxc_snapshots`)
/// or on one of its snapshots always hold it back, named in the error.
pub fn destroy_with(c: &Container, force: bool, with_snapshots: bool) -> Result<()> {
    let _lock = c.lock()?;
    enclos_snapshot::check_destroy(c.dir(), with_snapshots)?;
    for snap in enclos_snapshot::list(c.dir())? {
        let text = fs::read_to_string(snap.config_path()).unwrap_or_default();
        let rootfs =
            enclos_snapshot::rewrite::rootfs_of(&text).and_then(|r| Rootfs::parse(&r).ok());
        if let Some(r) = rootfs {
            let clones = r.dependents()?;
            if !clones.is_empty() {
                return Err(enclos_storage::Error::HasClones {
                    path: snap.dir.clone(),
                    clones: clones
                        .iter()
                        .map(|d| d.dir().display().to_string())
                        .collect(),
                }
                .into());
            }
        }
    }
    if with_snapshots {
        check_snapshot_volumes(c)?;
    }
    let state = c.state()?;
    if state.is_active() {
        if !force {
            return Err(Error::WrongState {
                name: c.name().to_string(),
                state: state.as_str(),
                hint: "stop it first, or destroy it with -f (which kills it)",
            });
        }
        // As stop -k: the monitor, when alive, removes what it made.
        crate::stop::stop_locked(
            c,
            crate::stop::StopOptions {
                kill: true,
                ..Default::default()
            },
        )?;
    } else {
        // A monitor killed with its init (lxc.monitor.signal.pdeath)
        // left their cgroup behind.
        crate::stop::kill_and_clean(c)?;
    }
    if with_snapshots {
        // Their volumes (lvm, zfs, rbd) are outside the directory, and a
        // ZFS or LVM snapshot holds its origin back: they go first.
        crate::snapshots::destroy_snapshot_locked(c, crate::snapshots::ALL_SNAPSHOTS)?;
    }
    crate::hooks::run_destroy_hooks(c)?;
    remove_stopped(c)
}

/// For `destroy -s`, before anything is removed: refuses when a clone
/// other than the container's own snapshots stacks on its rootfs or on one
/// of its snapshots' (a ZFS clone, an LVM snapshot, an RBD child), which
/// would otherwise stop the removal half-way.
fn check_snapshot_volumes(c: &Container) -> Result<()> {
    let mut snaps = Vec::new();
    for snap in enclos_snapshot::list(c.dir())? {
        let text = fs::read_to_string(snap.config_path()).unwrap_or_default();
        if let Some(r) =
            enclos_snapshot::rewrite::rootfs_of(&text).and_then(|r| Rootfs::parse(&r).ok())
        {
            snaps.push(r);
        }
    }
    let main = c
        .config()
        .ok()
        .filter(|cfg| cfg.rootfs_managed())
        .and_then(|cfg| cfg.rootfs())
        .and_then(|r| storage_rootfs(&r).ok());
    for r in main.iter().chain(&snaps) {
        let foreign = not_snapshots(&snaps, r.clones()?);
        if !foreign.is_empty() {
            return Err(enclos_storage::Error::HasClones {
                path: r.path.clone(),
                clones: foreign,
            }
            .into());
        }
    }
    Ok(())
}

/// `clones` (by the backend's names: `lxc/c1_snap0`, `/dev/lxc/c1_snap0`,
/// `rbd/c1_snap0`) less the rootfs of the snapshots `snaps`.
fn not_snapshots(snaps: &[Rootfs], clones: Vec<String>) -> Vec<String> {
    clones
        .into_iter()
        .filter(|clone| {
            !snaps.iter().any(|s| {
                let p = s.path.to_string_lossy();
                p == clone.as_str() || p.strip_prefix("/dev/rbd/") == Some(clone.as_str())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    #[test]
    fn destroy_s_counts_only_clones_that_are_not_its_own_snapshots() {
        let snaps: Vec<Rootfs> = [
            "zfs:lxc/c1_snap0",
            "lvm:/dev/lxc/c1_snap1",
            "rbd:/dev/rbd/lxc/c1_snap2",
        ]
        .iter()
        .map(|s| Rootfs::parse(s).unwrap())
        .collect();
        let clones = [
            "lxc/c1_snap0",
            "lxc/c2",
            "/dev/lxc/c1_snap1",
            "lxc/c1_snap2",
            "/dev/lxc/c3",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(not_snapshots(&snaps, clones), ["lxc/c2", "/dev/lxc/c3"]);
        assert!(not_snapshots(&[], Vec::new()).is_empty());
    }

    fn base_config(dir: &Path) -> PathBuf {
        let f = dir.join("base.conf");
        fs::write(&f, "lxc.tty.max = 2\nlxc.start.auto = 1\n").unwrap();
        f
    }

    #[test]
    fn create_writes_the_config_and_a_rootfs_of_its_own() {
        let h = FakeHost::new();
        let opts = CreateOptions {
            config_file: Some(base_config(&h.lxcpath)),
            ..Default::default()
        };
        let mut steps = Vec::new();
        let c = create(&h.lxcpath, "c1", &opts, &mut |s| steps.push(s.to_string())).unwrap();
        assert_eq!(c.dir(), h.lxcpath.join("c1"));
        assert!(c.dir().join("rootfs").is_dir());
        let cfg = c.config().unwrap();
        let rootfs = format!("dir:{}", h.lxcpath.join("c1/rootfs").display());
        assert_eq!(cfg.get("lxc.rootfs.path"), Some(rootfs.as_str()));
        assert_eq!(cfg.get("lxc.uts.name"), Some("c1"));
        assert_eq!(cfg.get("lxc.tty.max"), Some("2"));
        assert_eq!(steps, ["writing the configuration"]);
    }

    #[test]
    fn create_leaves_an_existing_container_and_bad_names_alone() {
        let h = FakeHost::new();
        let opts = CreateOptions {
            config_file: Some(base_config(&h.lxcpath)),
            ..Default::default()
        };
        let first = h.container("c1", "lxc.group = mine\n");
        let err = create(&h.lxcpath, "c1", &opts, &mut |_| {}).unwrap_err();
        assert!(
            err.to_string().starts_with("Container 'c1' already exists"),
            "{err}"
        );
        assert_eq!(first.config().unwrap().get("lxc.group"), Some("mine"));
        let err = create(&h.lxcpath, "../x", &opts, &mut |_| {}).unwrap_err();
        assert!(
            err.to_string().starts_with("Invalid container name '../x'"),
            "{err}"
        );
        let err = create(
            &h.lxcpath,
            "c2",
            &CreateOptions {
                template: Some("nosuchtemplate".into()),
                ..opts.clone()
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("nosuchtemplate"), "{err}");
        let mut left: Vec<String> = fs::read_dir(&h.lxcpath)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["base.conf", "c1"]);
    }

    #[test]
    fn a_base_with_includes_is_copied_expanded() {
        let h = FakeHost::new();
        fs::write(h.lxcpath.join("common.conf"), "lxc.tty.max = 2\n").unwrap();
        let base = h.lxcpath.join("base.conf");
        fs::write(&base, "lxc.include = common.conf\nlxc.start.auto = 1\n").unwrap();
        let opts = CreateOptions {
            config_file: Some(base),
            ..Default::default()
        };
        let c = create(&h.lxcpath, "inc", &opts, &mut |_| {}).unwrap();
        let text = fs::read_to_string(c.config_path()).unwrap();
        assert!(!text.contains("lxc.include"), "{text}");
        assert_eq!(text.matches("lxc.tty.max = 2").count(), 1, "{text}");
        assert_eq!(c.config().unwrap().get("lxc.start.auto"), Some("1"));
    }

    #[test]
    fn with_id_maps_the_template_runs_as_the_containers_root() {
        if !enclos_testkit::require_root("with_id_maps_the_template_runs_as_the_containers_root") {
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let h = FakeHost::new();
        let base = h.lxcpath.join("base.conf");
        fs::write(
            &base,
            "lxc.id_map = u 0 2100000 65536\nlxc.idmap = g 0 2100000 65536\n",
        )
        .unwrap();
        let opts = CreateOptions {
            template: Some("busybox".into()),
            config_file: Some(base),
            ..Default::default()
        };
        let mut steps = Vec::new();
        let c = create(&h.lxcpath, "mapped", &opts, &mut |s| {
            steps.push(s.to_string())
        })
        .unwrap();
        let owner = |p: &str| {
            let m = fs::symlink_metadata(c.dir().join(p)).unwrap();
            (m.uid(), m.gid())
        };
        assert_eq!(owner("rootfs/bin/busybox"), (2100000, 2100000));
        assert_eq!(owner("rootfs"), (2100000, 2100000));
        assert_eq!(owner(""), (2100000, 2100000));
        assert!(steps.iter().any(|s| s.contains("busybox")), "{steps:?}");
        let cfg = c.config().unwrap();
        assert_eq!(
            cfg.get_all("lxc.idmap"),
            ["u 0 2100000 65536", "g 0 2100000 65536"]
        );
        assert_eq!(cfg.get("lxc.tty.max"), Some("4"));
        // The template's seccomp profile, next to the config.
        let profile = c.dir().join("common.seccomp");
        assert_eq!(
            cfg.get("lxc.seccomp.profile"),
            Some(profile.to_str().unwrap())
        );
        assert_eq!(
            fs::read_to_string(&profile).unwrap(),
            enclos_seccomp::COMMON_PROFILE
        );
        // Lost (a tar of config and rootfs), it is written again.
        fs::remove_file(&profile).unwrap();
        assert_eq!(
            restore_template_files(&c, &c.config().unwrap())
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            fs::read_to_string(&profile).unwrap(),
            enclos_seccomp::COMMON_PROFILE
        );
        destroy(&c, false).unwrap();
        assert!(!c.dir().exists());
    }

    #[test]
    fn a_profile_of_the_base_config_is_kept() {
        let h = FakeHost::new();
        let base = h.lxcpath.join("base.conf");
        fs::write(&base, "lxc.seccomp.profile = /etc/mine.seccomp\n").unwrap();
        let mut config = Config::load(&base).unwrap();
        let c = Container::new(&h.lxcpath, "kept").unwrap();
        write_dir_files(&c, &mut config, Template::Busybox).unwrap();
        assert_eq!(config.get_all("lxc.seccomp.profile"), ["/etc/mine.seccomp"]);
        assert!(!c.dir().join("common.seccomp").exists());
    }

    #[test]
    fn destroy_removes_a_stopped_container_and_refuses_a_running_one() {
        let h = FakeHost::new();
        let me = std::process::id();
        let up = h.container("up", "");
        h.cgroup(&up, &[me]);
        let monitor = h.running(&up, "RUNNING", me);
        let err = destroy(&up, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Container 'up' is RUNNING; stop it first, or destroy it with -f (which kills it)"
        );
        assert!(up.config_path().is_file());
        drop(monitor);
        let down = h.container("down", "");
        destroy(&down, false).unwrap();
        assert!(!down.dir().exists());
        assert!(up.dir().exists());
    }

    #[test]
    fn destroy_s_removes_the_snapshots_then_the_container() {
        let h = FakeHost::new();
        let c = h.container("c1", "");
        crate::snapshots::snapshot(&c, None).unwrap();
        let err = destroy_with(&c, false, false).unwrap_err().to_string();
        assert!(err.contains("snapshot snap0"), "{err}");
        assert!(c.dir().join("snaps/snap0").is_dir());
        destroy_with(&c, false, true).unwrap();
        assert!(!c.dir().exists());
    }
}
