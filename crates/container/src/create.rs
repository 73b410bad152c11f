//! create and destroy: a failed create leaves nothing behind.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use enclos_config::Config;
use enclos_storage::{Backend, Rootfs};
use enclos_templates::{Template, TemplateRequest};

use crate::container::{default_config_path, storage_rootfs, Container};
use crate::error::{io_err, Error, Result};

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
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            template: None,
            template_args: Vec::new(),
            backend: Backend::Dir,
            config_file: None,
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
}

impl Drop for Undo {
    fn drop(&mut self) {
        if self.armed {
            if let Some(r) = &self.rootfs {
                let _ = r.destroy_force();
            }
            let _ = Rootfs::dir(&self.dir).destroy();
        }
    }
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
    let base = match &opts.config_file {
        Some(f) => Some(Config::load(f)?),
        None => {
            let d = default_config_path();
            if d.is_file() {
                Some(Config::load(&d)?)
            } else {
                None
            }
        }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(c.lxcpath())
        .map_err(io_err("create the lxcpath", c.lxcpath()))?;
    // mkdir is the atomic claim of the name.
    match fs::DirBuilder::new().mode(0o770).create(c.dir()) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(Error::AlreadyExists {
                name: name.to_string(),
                lxcpath: c.lxcpath().to_path_buf(),
            })
        }
        Err(e) => return Err(io_err("create", c.dir())(e)),
    }
    let mut undo = Undo {
        dir: c.dir().to_path_buf(),
        rootfs: None,
        armed: true,
    };
    let rootfs = Rootfs::create(opts.backend, c.dir())?;
    undo.rootfs = Some(rootfs.clone());
    let mut config = Config::with_path(c.config_path());
    if let Some(base) = &base {
        for e in base.live_entries() {
            config.append(&e.key, &e.value)?;
        }
    }
    if let Some(t) = template {
        let mut req = TemplateRequest::new(name, &rootfs.path);
        req.args = &opts.template_args;
        let out = t.create(&req, progress)?;
        for (k, v) in &out.config {
            if k == "lxc.uts.name" {
                config.set(k, v)?;
            } else {
                config.append(k, v)?;
            }
        }
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

/// Removes a stopped container's rootfs and directory (an ephemeral
/// container when it stops).
pub(crate) fn remove_stopped(c: &Container) -> Result<()> {
    // lxc.rootfs.managed = 0: the rootfs is someone else's to remove.
    let cfg = c.config().ok().filter(|cfg| cfg.rootfs_managed());
    if let Some(rootfs) = cfg.and_then(|cfg| cfg.rootfs()) {
        if let Ok(rootfs) = storage_rootfs(&rootfs) {
            rootfs.destroy()?;
        }
    }
    Rootfs::dir(c.dir()).destroy()?;
    Ok(())
}

/// Destroys a container: its rootfs (by its backend) and its directory.
/// A running container is refused unless `force`, which stops it first.
pub fn destroy(c: &Container, force: bool) -> Result<()> {
    let _lock = c.lock()?;
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
    crate::hooks::run_destroy_hooks(c)?;
    remove_stopped(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

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
}
