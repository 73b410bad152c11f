//! A container's place on disk (LXC's layout: `<lxcpath>/<name>/config`,
//! `rootfs/`), its runtime files, and what state it is in.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use enclos_cgroupfs::{Cgroup, FreezerState, Layout};
use enclos_config::Config;
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;

use crate::error::{io_err, Error, Result};

/// Default lxcpath of root.
pub const ROOT_LXCPATH: &str = "/var/lib/enclos";
/// System configuration of root (`lxc.lxcpath`, `lxc.default_config`).
pub const SYSTEM_CONF: &str = "/etc/enclos/enclos.conf";
/// Default container configuration of root.
pub const SYSTEM_DEFAULT_CONF: &str = "/etc/enclos/default.conf";

/// The prefix of every container's cgroup (`enclos.payload.<name>`).
pub const CGROUP_PREFIX: &str = "enclos.payload.";

/// The lifecycle states, as LXC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Stopped,
    Starting,
    Running,
    Stopping,
    Aborting,
    Freezing,
    Frozen,
    Thawed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Stopping => "STOPPING",
            State::Aborting => "ABORTING",
            State::Freezing => "FREEZING",
            State::Frozen => "FROZEN",
            State::Thawed => "THAWED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "STOPPED" => State::Stopped,
            "STARTING" => State::Starting,
            "RUNNING" => State::Running,
            "STOPPING" => State::Stopping,
            "ABORTING" => State::Aborting,
            "FREEZING" => State::Freezing,
            "FROZEN" => State::Frozen,
            "THAWED" => State::Thawed,
            _ => return None,
        })
    }

    /// Whether processes of the container exist in this state.
    pub fn is_active(self) -> bool {
        !matches!(self, State::Stopped)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default lxcpath: `lxc.lxcpath` of the system configuration if set,
/// else `/var/lib/enclos` for root and `$XDG_DATA_HOME/enclos`
/// (`~/.local/share/enclos`) for others.
pub fn default_lxcpath() -> PathBuf {
    if let Some(p) = system_setting("lxc.lxcpath") {
        return PathBuf::from(p);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(ROOT_LXCPATH);
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("enclos"),
        _ => home().join(".local/share/enclos"),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The system configuration file of the calling user.
pub fn system_conf_path() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from(SYSTEM_CONF)
    } else {
        config_home().join("enclos/enclos.conf")
    }
}

fn config_home() -> PathBuf {
    match std::env::var_os("XDG_CONFIG_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => home().join(".config"),
    }
}

/// The default container configuration of the calling user:
/// `lxc.default_config` of the system configuration if set, else
/// `/etc/enclos/default.conf` for root and, for others,
/// `$XDG_CONFIG_HOME/enclos/default.conf` (`~/.config/enclos/`), or,
/// when that is absent and LXC's is there, `~/.config/lxc/default.conf`,
/// which a user following LXC's documentation or the course writes.
pub fn default_config_path() -> PathBuf {
    if let Some(p) = system_setting("lxc.default_config") {
        return PathBuf::from(p);
    }
    if nix::unistd::geteuid().is_root() {
        PathBuf::from(SYSTEM_DEFAULT_CONF)
    } else {
        user_default_config(&config_home())
    }
}

/// The user's default configuration under `config_home`: enclos's, else
/// LXC's when only that one exists.
fn user_default_config(config_home: &Path) -> PathBuf {
    let ours = config_home.join("enclos/default.conf");
    let lxcs = config_home.join("lxc/default.conf");
    if !ours.exists() && lxcs.is_file() {
        lxcs
    } else {
        ours
    }
}

/// A value of the system configuration file (`key = value` lines).
pub fn system_setting(key: &str) -> Option<String> {
    let text = fs::read_to_string(system_conf_path()).ok()?;
    text.lines()
        .rev()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
}

/// `opts` with the backends' places it leaves out taken from the system
/// configuration, as LXC takes them from lxc.conf: `lxc.bdev.lvm.vg`,
/// `lxc.bdev.lvm.thin_pool`, `lxc.bdev.zfs.root`, `lxc.bdev.rbd.pool`
/// (the backends default to `lxc` when these are unset too).
pub fn storage_defaults(opts: &enclos_storage::CreateOptions) -> enclos_storage::CreateOptions {
    let pick = |given: &Option<String>, key: &str| given.clone().or_else(|| system_setting(key));
    enclos_storage::CreateOptions {
        vgname: pick(&opts.vgname, "lxc.bdev.lvm.vg"),
        thinpool: pick(&opts.thinpool, "lxc.bdev.lvm.thin_pool"),
        zfsroot: pick(&opts.zfsroot, "lxc.bdev.zfs.root"),
        rbdpool: pick(&opts.rbdpool, "lxc.bdev.rbd.pool"),
        ..opts.clone()
    }
}

/// The keys `enclos config` answers, with their values for this user.
pub fn global_settings() -> Vec<(&'static str, String)> {
    vec![
        ("lxc.lxcpath", default_lxcpath().display().to_string()),
        (
            "lxc.default_config",
            default_config_path().display().to_string(),
        ),
        (
            "lxc.cgroup.pattern",
            system_setting("lxc.cgroup.pattern").unwrap_or_else(|| format!("{CGROUP_PREFIX}%n")),
        ),
        (
            "lxc.bdev.lvm.vg",
            system_setting("lxc.bdev.lvm.vg").unwrap_or_else(|| "lxc".into()),
        ),
        (
            "lxc.bdev.lvm.thin_pool",
            system_setting("lxc.bdev.lvm.thin_pool").unwrap_or_else(|| "lxc".into()),
        ),
        (
            "lxc.bdev.zfs.root",
            system_setting("lxc.bdev.zfs.root").unwrap_or_else(|| "lxc".into()),
        ),
        (
            "lxc.bdev.rbd.pool",
            system_setting("lxc.bdev.rbd.pool").unwrap_or_else(|| "lxc".into()),
        ),
    ]
}

/// Checks a container name: it becomes a directory, a hostname and part
/// of a cgroup name.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 64 {
        return bad("it is longer than 64 bytes");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return bad("it may not start with '.' or '-'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return bad("use letters, digits, '-', '_' and '.' only");
    }
    Ok(())
}

/// The runtime file that holds the monitor's state.
const STATE_RUN_FILE: &str = "state";
/// Its padded length before the newline: the longest state's.
const STATE_WIDTH: usize = 8;

/// The runtime file that holds the container's cgroup path.
pub(crate) const RUN_FILE: &str = "cgroup";
/// The runtime file that holds init's group when it is an inner one.
pub(crate) const INIT_RUN_FILE: &str = "cgroup.init";

/// The storage of a configuration's `lxc.rootfs.path`.
pub(crate) fn storage_rootfs(r: &enclos_config::Rootfs) -> Result<enclos_storage::Rootfs> {
    Ok(enclos_storage::Rootfs::parse(&format!(
        "{}:{}",
        r.backend, r.path
    ))?)
}

/// One container, by name, in one lxcpath.
#[derive(Debug, Clone)]
pub struct Container {
    name: String,
    lxcpath: PathBuf,
    dir: PathBuf,
    /// The host's cgroup layout, discovered once (see [`Container::layout`])
    /// and shared by the clones of this handle.
    layout: SharedLayout,
}

/// The host's cgroup layout, discovered from the mount table at most once
/// (at the first need) and shared by the container handles of one
/// command. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct SharedLayout(Arc<OnceLock<Arc<Layout>>>);

impl SharedLayout {
    /// The layout given, or discovered now and kept.
    pub fn get(&self) -> Result<Arc<Layout>> {
        if let Some(l) = self.0.get() {
            return Ok(l.clone());
        }
        let l = Arc::new(Layout::discover()?);
        Ok(self.0.get_or_init(|| l).clone())
    }
}

impl From<Arc<Layout>> for SharedLayout {
    /// A layout already known (read from another mount table in tests).
    fn from(layout: Arc<Layout>) -> Self {
        SharedLayout(Arc::new(OnceLock::from(layout)))
    }
}

impl Container {
    /// A handle on the container `name` in `lxcpath`, whether it exists or not.
    pub fn new(lxcpath: &Path, name: &str) -> Result<Container> {
        validate_name(name)?;
        let lxcpath = if lxcpath.is_absolute() {
            lxcpath.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(io_err("find the current directory for", lxcpath))?
                .join(lxcpath)
        };
        Ok(Container {
            name: name.to_string(),
            dir: lxcpath.join(name),
            lxcpath,
            layout: SharedLayout::default(),
        })
    }

    /// This handle on the layout `layout` (shared with the other handles
    /// of the command), so that the mount table is read once.
    pub fn with_layout(mut self, layout: &SharedLayout) -> Container {
        self.layout = layout.clone();
        self
    }

    /// The layout this handle shares (for a handle on another container
    /// of the same command: [`Container::with_layout`]).
    pub(crate) fn shared_layout(&self) -> &SharedLayout {
        &self.layout
    }

    /// The host's cgroup layout: the one given, or discovered at the first
    /// need and kept.
    pub fn layout(&self) -> Result<Arc<Layout>> {
        self.layout.get()
    }

    /// The existing container `name`.
    pub fn open(lxcpath: &Path, name: &str) -> Result<Container> {
        let c = Container::new(lxcpath, name)?;
        if !c.exists() {
            return Err(c.not_found());
        }
        Ok(c)
    }

    pub(crate) fn not_found(&self) -> Error {
        Error::NotFound {
            name: self.name.clone(),
            lxcpath: self.lxcpath.clone(),
            config: self.config_path(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn lxcpath(&self) -> &Path {
        &self.lxcpath
    }

    /// `<lxcpath>/<name>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config")
    }

    pub fn exists(&self) -> bool {
        self.config_path().is_file()
    }

    /// The container's configuration.
    pub fn config(&self) -> Result<Config> {
        if !self.exists() {
            return Err(self.not_found());
        }
        Ok(Config::load(self.config_path())?)
    }

    /// Where the monitor keeps its runtime files: `<dir>/.enclos`.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join(".enclos")
    }

    pub(crate) fn run_file(&self, name: &str) -> PathBuf {
        self.run_dir().join(name)
    }

    /// The name of the container's cgroup (the same on every hierarchy).
    pub fn cgroup_name(&self) -> String {
        // Where start put it (lxc.cgroup.dir*), while it runs.
        fs::read_to_string(self.run_file(RUN_FILE))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{CGROUP_PREFIX}{}", self.name))
    }

    /// The group init runs in: the container's, or its inner group
    /// (`lxc.cgroup.dir.container.inner`), where attached processes go.
    pub(crate) fn init_cgroup(&self, layout: Arc<Layout>) -> Result<Cgroup> {
        match fs::read_to_string(self.run_file(INIT_RUN_FILE)) {
            Ok(inner) if !inner.trim().is_empty() => Ok(Cgroup::new(layout, &["*"], inner.trim())?),
            _ => self.cgroup(layout),
        }
    }

    /// The container's cgroup across every mounted hierarchy.
    pub fn cgroup(&self, layout: Arc<Layout>) -> Result<Cgroup> {
        Ok(Cgroup::new(layout, &["*"], &self.cgroup_name())?)
    }

    /// Whether a monitor holds the container (its lock is taken).
    pub fn monitor_alive(&self) -> bool {
        let Ok(f) = File::open(self.run_file("monitor.lock")) else {
            return false;
        };
        match Flock::lock(f, FlockArg::LockSharedNonblock) {
            Ok(_) => false,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => true,
            Err(_) => false,
        }
    }

    /// The pid of the container's init as the host sees it, while running.
    pub fn init_pid(&self) -> Option<i32> {
        read_pid(&self.run_file("init.pid"))
    }

    pub fn monitor_pid(&self) -> Option<i32> {
        read_pid(&self.run_file("monitor.pid"))
    }

    /// The container's state, from its monitor's files and its cgroup: a
    /// container whose monitor is gone but whose processes remain is
    /// reported RUNNING (see [`Container::monitor_alive`]).
    pub fn state(&self) -> Result<State> {
        if !self.exists() {
            return Err(self.not_found());
        }
        let written = self.written_state();
        let alive = self.monitor_alive();
        let base = match (alive, written) {
            (true, Some(s)) => s,
            (true, None) => State::Starting,
            (false, _) => {
                if self.orphaned_processes().unwrap_or(false) {
                    State::Running
                } else {
                    return Ok(State::Stopped);
                }
            }
        };
        if base == State::Running {
            if let Ok(layout) = self.layout() {
                if let Ok(cg) = Cgroup::new(layout, &["freezer"], &self.cgroup_name()) {
                    match cg.freezer_state() {
                        Ok(FreezerState::Frozen) => return Ok(State::Frozen),
                        Ok(FreezerState::Freezing) => return Ok(State::Freezing),
                        _ => {}
                    }
                }
            }
        }
        Ok(base)
    }

    /// Whether processes remain in the container's cgroup.
    pub(crate) fn orphaned_processes(&self) -> Result<bool> {
        let cg = self.cgroup(self.layout()?)?;
        if !cg.members().iter().any(|m| m.dir.is_dir()) {
            return Ok(false);
        }
        for m in cg.members() {
            if !enclos_cgroupfs::read_pids(&m.dir.join("cgroup.procs"))?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Takes the container's operation lock (held until the guard drops),
    /// so that two commands do not change one container at once.
    pub fn lock(&self) -> Result<OpLock> {
        fs::create_dir_all(self.run_dir()).map_err(io_err("create", self.run_dir()))?;
        let path = self.run_file("op.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut f = f;
        let locked = loop {
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => break l,
                // Concurrent commands are short: wait a little.
                Err((back, nix::errno::Errno::EWOULDBLOCK))
                    if std::time::Instant::now() < deadline =>
                {
                    f = back;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(Error::Busy {
                        name: self.name.clone(),
                        holder: fs::read_to_string(&path)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    })
                }
                Err((_, e)) => {
                    return Err(Error::Sys {
                        what: "lock the container",
                        name: self.name.clone(),
                        source: e,
                    })
                }
            }
        };
        // The holder's pid, for the Busy error of others: written in place
        // and padded, never by emptying the file, which on ext4 makes the
        // close wait for the disk (auto_da_alloc).
        let pid = format!("{:<10}\n", std::process::id());
        let _ = std::os::unix::fs::FileExt::write_all_at(&*locked, pid.as_bytes(), 0)
            .and_then(|()| locked.set_len(pid.len() as u64));
        Ok(OpLock { _file: locked })
    }

    /// Empties the runtime files a stopped container no longer needs.
    pub(crate) fn clear_runtime(&self) {
        for f in [
            STATE_RUN_FILE,
            "init.pid",
            "monitor.pid",
            RUN_FILE,
            INIT_RUN_FILE,
            crate::launch::cgroup::DEVICES_RUN_FILE,
        ] {
            self.clear_run_file(f);
        }
    }

    /// Writes the monitor's state in its run file, in place: the same
    /// inode each time, padded to one length, so that no write makes or
    /// frees an inode (on ext4 without a journal, every new inode is
    /// searched for past the recently freed ones). One `write` of a few
    /// bytes; a reader that catches it halfway reads no state and reads
    /// again ([`Container::written_state`]).
    pub(crate) fn write_state(&self, state: State) -> Result<()> {
        let path = self.run_file(STATE_RUN_FILE);
        let text = format!("{:<width$}\n", state.as_str(), width = STATE_WIDTH);
        write_in_place(&path, &text, Open::OrCreate).map_err(io_err("write", &path))
    }

    /// The state the monitor last wrote, if any; a read that overlapped a
    /// write ([`Container::write_state`]) is done again.
    fn written_state(&self) -> Option<State> {
        let path = self.run_file(STATE_RUN_FILE);
        for _ in 0..3 {
            let text = fs::read_to_string(&path).ok()?;
            if text.is_empty() {
                // Cleared at the last stop.
                return None;
            }
            if let Some(s) = State::parse(&text) {
                return Some(s);
            }
        }
        None
    }

    /// Writes a runtime file so that a reader finds either nothing or
    /// all of `value`. An empty file (cleared at the last stop, see
    /// [`Container::clear_run_file`]) is written in place, and so is a
    /// missing one, made empty first (a fresh copy's); any other goes
    /// through a new file and a rename.
    pub(crate) fn write_run_file(&self, name: &str, value: &str) -> Result<()> {
        let path = self.run_file(name);
        // A reader sees an empty file's new size only once its bytes are
        // there, and takes an empty file for a missing one.
        let written = match fs::symlink_metadata(&path) {
            Ok(m) => {
                m.is_file() && m.len() == 0 && write_in_place(&path, value, Open::Existing).is_ok()
            }
            Err(e) => {
                e.kind() == ErrorKind::NotFound && write_in_place(&path, value, Open::New).is_ok()
            }
        };
        if written {
            return Ok(());
        }
        let tmp = self.run_file(&format!(".{name}.tmp"));
        fs::write(&tmp, value).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("write", &path))
    }

    /// Empties a runtime file, which then says nothing, as a missing one
    /// would: its inode stays for the next run, which writes it in place
    /// (on ext4 without a journal, a new inode is searched for past every
    /// recently freed one: on such a disk that search is the slowest part
    /// of a start).
    pub(crate) fn clear_run_file(&self, name: &str) {
        let _ = OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(self.run_file(name));
    }

    /// A runtime file's value, trimmed; `None` when it is missing or
    /// empty.
    pub(crate) fn read_run_file(&self, name: &str) -> Option<String> {
        let text = fs::read_to_string(self.run_file(name)).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }
}

/// How [`write_in_place`] opens its file.
#[derive(Clone, Copy)]
enum Open {
    /// It must exist.
    Existing,
    /// It is made when missing.
    OrCreate,
    /// It must not exist: it is made.
    New,
}

/// Writes `text` at the start of the file `path`, neither emptied nor
/// replaced: the same inode, no link, no symlink followed.
fn write_in_place(path: &Path, text: &str, open: Open) -> std::io::Result<()> {
    let f = OpenOptions::new()
        .create(matches!(open, Open::OrCreate))
        .create_new(matches!(open, Open::New))
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    std::os::unix::fs::FileExt::write_all_at(&f, text.as_bytes(), 0)
}

/// The operation lock of a container; released when dropped.
#[derive(Debug)]
pub struct OpLock {
    _file: Flock<File>,
}

impl OpLock {
    /// The lock's descriptor, for a child that closes its copy with
    /// [`close_inherited`].
    pub(crate) fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._file.as_raw_fd()
    }
}

/// Closes this process's copy `fd` of a lock that a forked process
/// shares, without releasing the lock: an flock lock belongs to the open
/// file, which fork shares, and dropping a [`Flock`] unlocks it for every
/// process. The caller makes sure the owner of `fd` in this process (a
/// Flock in the parent's forgotten state, the parent's own in a child)
/// never closes or unlocks it.
pub(crate) fn close_inherited(fd: std::os::fd::RawFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: `fd` is open in this process and its other owner never
    // runs its drop here (see above): this OwnedFd is its only owner.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
}

fn read_pid(path: &Path) -> Option<i32> {
    match fs::read_to_string(path) {
        Ok(s) => s.trim().parse().ok(),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(_) => None,
    }
}

/// Names of the containers in `lxcpath` (directories holding a config),
/// sorted.
pub fn list_names(lxcpath: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(lxcpath) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", lxcpath)(e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("config").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| validate_name(n).is_ok())
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("lxc-bb")]
    #[case("c1.example")]
    #[case("a_b")]
    fn accepts_names(#[case] n: &str) {
        validate_name(n).unwrap();
    }

    #[rstest]
    #[case("", "empty")]
    #[case("a/b", "letters, digits")]
    #[case("..", "may not start")]
    #[case("-x", "may not start")]
    #[case("a b", "letters, digits")]
    fn refuses_names(#[case] n: &str, #[case] why: &str) {
        let e = validate_name(n).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }

    #[test]
    fn state_is_written_in_place_and_read_back() {
        use std::os::unix::fs::MetadataExt;
        let host = crate::fake::FakeHost::new();
        let c = host.container("c1", "");
        let _monitor = host.running(&c, "STARTING", 1);
        let file = c.run_file(STATE_RUN_FILE);
        let inode = fs::metadata(&file).unwrap().ino();
        for s in [
            State::Running,
            State::Stopping,
            State::Starting,
            State::Running,
        ] {
            c.write_state(s).unwrap();
            assert_eq!(c.state().unwrap(), s);
        }
        assert_eq!(fs::read_to_string(&file).unwrap(), "RUNNING \n");
        assert_eq!(
            fs::metadata(&file).unwrap().ino(),
            inode,
            "a new file was made"
        );
        let widest = [
            State::Starting,
            State::Stopping,
            State::Aborting,
            State::Freezing,
        ];
        assert!(widest.iter().all(|s| s.as_str().len() <= STATE_WIDTH));
    }

    #[test]
    fn run_files_are_emptied_at_stop_and_written_in_place_again() {
        use std::os::unix::fs::MetadataExt;
        let host = crate::fake::FakeHost::new();
        let c = host.container("c1", "");
        fs::create_dir_all(c.run_dir()).unwrap();
        let ino = |n: &str| fs::metadata(c.run_file(n)).unwrap().ino();
        assert_eq!(c.read_run_file("init.pid"), None);
        c.write_run_file("init.pid", "42").unwrap();
        assert_eq!(c.init_pid(), Some(42));
        let first = ino("init.pid");
        c.clear_runtime();
        assert_eq!(c.init_pid(), None);
        assert_eq!(c.read_run_file("init.pid"), None);
        assert_eq!(fs::read_to_string(c.run_file("init.pid")).unwrap(), "");
        // The next run writes the emptied file in place, the same inode.
        c.write_run_file("init.pid", "43").unwrap();
        assert_eq!(c.init_pid(), Some(43));
        assert_eq!(ino("init.pid"), first);
        // A value replaced during a run goes through a new file.
        c.write_run_file("init.pid", "4444").unwrap();
        assert_eq!(c.read_run_file("init.pid").as_deref(), Some("4444"));
        assert_ne!(ino("init.pid"), first);
        assert!(!c.run_file(".init.pid.tmp").exists());
        // A missing one is made and written, with no file beside it.
        c.write_run_file("monitor.pid", "7").unwrap();
        assert_eq!(c.monitor_pid(), Some(7));
        let names: Vec<_> = fs::read_dir(c.run_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
    }

    #[test]
    fn lists_only_containers() {
        let tmp = tempfile::tempdir().unwrap();
        for n in ["b", "a"] {
            fs::create_dir_all(tmp.path().join(n)).unwrap();
            fs::write(tmp.path().join(n).join("config"), "").unwrap();
        }
        fs::create_dir_all(tmp.path().join("notone")).unwrap();
        assert_eq!(list_names(tmp.path()).unwrap(), ["a", "b"]);
        assert!(list_names(&tmp.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn a_users_lxc_default_config_is_read_when_enclos_has_none() {
        let home = tempfile::tempdir().unwrap();
        let ours = home.path().join("enclos/default.conf");
        let lxcs = home.path().join("lxc/default.conf");
        assert_eq!(user_default_config(home.path()), ours);
        fs::create_dir_all(lxcs.parent().unwrap()).unwrap();
        fs::write(&lxcs, "lxc.id_map = u 0 165536 65536\n").unwrap();
        assert_eq!(user_default_config(home.path()), lxcs);
        fs::create_dir_all(ours.parent().unwrap()).unwrap();
        fs::write(&ours, "").unwrap();
        assert_eq!(user_default_config(home.path()), ours);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            State::Stopped,
            State::Running,
            State::Frozen,
            State::Starting,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("bogus"), None);
    }
}
