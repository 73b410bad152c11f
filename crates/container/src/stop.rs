//! stop, freeze, unfreeze, wait, and the live cgroup and device commands:
//! they act on the container's init and cgroup directly, so they work even
//! when its monitor is gone.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use enclos_cgroupfs::{Cgroup, DeleteOptions, Populated};
use enclos_namespaces::PidFd;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::container::{Container, State};
use crate::error::{io_err, Error, Result};

/// What `stop` is asked.
#[derive(Debug, Clone, Copy)]
pub struct StopOptions {
    /// How long init may take to halt before it is killed (`-t`; LXC's
    /// default is 60 s).
    pub timeout: Duration,
    /// Kill at once (`-k`): `lxc.signal.stop` (SIGKILL by default), then
    /// SIGKILL after `timeout` if init survives it.
    pub kill: bool,
    /// Reboot instead of stopping (`-r`).
    pub reboot: bool,
    /// Do not wait for the stop to complete (`-W`).
    pub nowait: bool,
}

impl Default for StopOptions {
    fn default() -> Self {
        StopOptions {
            timeout: Duration::from_secs(60),
            kill: false,
            reboot: false,
            nowait: false,
        }
    }
}

fn not_running(c: &Container, state: State) -> Error {
    Error::WrongState {
        name: c.name().to_string(),
        state: state.as_str(),
        hint: "start it first (enclos start -n NAME)",
    }
}

/// The pidfd of the container's init, checked to still be the container's
/// (its cgroup is the container's).
fn init_pidfd(c: &Container) -> Result<Option<PidFd>> {
    let Some(pid) = c.init_pid() else {
        return Ok(None);
    };
    let Ok(fd) = PidFd::open(Pid::from_raw(pid)) else {
        return Ok(None);
    };
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    // A user's container without a delegated cgroup has none: its init
    // is the monitor's child.
    let monitors = c.monitor_pid().is_some() && parent_pid(pid) == c.monitor_pid();
    if !cgroups.contains(&c.cgroup_name()) && !monitors {
        return Ok(None);
    }
    Ok(Some(fd))
}

/// The parent of `pid`, from /proc/PID/stat.
fn parent_pid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Stops the container: the halt signal of its configuration to init
/// (`lxc.signal.halt`), then SIGKILL after `timeout`; returns once the
/// monitor has cleaned up. With `kill`, the stop signal (`lxc.signal.stop`,
/// SIGKILL by default) at once, and SIGKILL after `timeout` if init
/// survives it. A start still under way is ended either way.
pub fn stop(c: &Container, opts: StopOptions) -> Result<()> {
    let _lock = c.lock()?;
    stop_locked(c, opts)
}

/// [`stop`] for a caller that holds the container's operation lock.
pub(crate) fn stop_locked(c: &Container, opts: StopOptions) -> Result<()> {
    let state = c.state()?;
    if !state.is_active() {
        return Err(not_running(c, state));
    }
    let cfg = c.config()?;
    if !c.monitor_alive() {
        // Nobody will clean up but us.
        return kill_and_clean(c);
    }
    if state == State::Starting {
        if opts.reboot {
            return Err(Error::WrongState {
                name: c.name().to_string(),
                state: state.as_str(),
                hint: "wait until it is RUNNING to reboot it",
            });
        }
        return abort_start(c);
    }
    let Some(init) = init_pidfd(c)? else {
        return kill_and_clean(c);
    };
    let monitor = c
        .monitor_pid()
        .and_then(|p| PidFd::open(Pid::from_raw(p)).ok());
    if opts.reboot {
        thaw_quietly(c);
        send_handled(&init, cfg.signal_reboot())?;
        return Ok(());
    }
    // A stop that waits removes the monitor's v2 group after its exit
    // (the monitor's own move out of it would wait for the kernel).
    let monitor_group = crate::cgroup_keys::monitor_group_of(c);
    let marker = match opts.nowait {
        false => format!("{} {}", crate::monitor::AWAITED, std::process::id()),
        true => crate::monitor::NOT_AWAITED.to_string(),
    };
    c.write_run_file(crate::monitor::STOPPING, &marker)?;
    thaw_quietly(c);
    let sig = if opts.kill {
        cfg.signal_stop()
    } else {
        cfg.signal_halt()
    };
    if sig == libc::SIGKILL {
        init.send_signal(Signal::SIGKILL)?;
    } else {
        send_handled(&init, sig)?;
        if opts.nowait {
            return Ok(());
        }
        wait_for_halt(c, &init, opts.timeout)?;
    }
    if opts.nowait {
        return Ok(());
    }
    await_monitor(c, monitor)?;
    // An ephemeral container's directory goes at the very end of its
    // monitor's work: gone, the monitor removed the container's groups and
    // its own, but for the v2 one it left to us.
    let finished = !c.dir().exists();
    if let Some(group) = monitor_group {
        let group = match finished {
            true => crate::cgroup_keys::v2_part(&group).unwrap_or(group),
            false => group,
        };
        crate::cgroup_keys::remove_exited_monitor_group(c, &group);
    }
    if !finished && c.orphaned_processes()? {
        kill_and_clean(c)?;
    }
    Ok(())
}

/// Waits until the monitor has reaped init and removed the cgroup.
fn await_monitor(c: &Container, monitor: Option<PidFd>) -> Result<()> {
    match monitor {
        Some(m) => {
            if !m.wait_exit(Some(Duration::from_secs(30)))? {
                return Err(Error::Timeout {
                    name: c.name().to_string(),
                    what: "be cleaned up by its monitor",
                    secs: 30,
                });
            }
        }
        None => {
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.monitor_alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    Ok(())
}

/// Ends a start under way: its monitor goes first, so that it makes
/// nothing more (a cgroup, an init attached to it), then whatever it made
/// is killed and removed. An init it cloned but had not let go yet exits
/// by itself when the monitor's end of their socket closes.
fn abort_start(c: &Container) -> Result<()> {
    let monitor = starting_monitor(c)?;
    if let Some(m) = monitor {
        let _ = m.send_signal(Signal::SIGKILL);
        if !m.wait_exit(Some(Duration::from_secs(30)))? {
            return Err(Error::Timeout {
                name: c.name().to_string(),
                what: "have its starting monitor killed",
                secs: 30,
            });
        }
    }
    kill_and_clean(c)
}

/// The pidfd of the monitor of a starting container. A monitor just
/// forked holds its lock before it writes its pid: wait for the pid
/// (at most 5 s). None once the monitor is gone.
fn starting_monitor(c: &Container) -> Result<Option<PidFd>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(m) = c
            .monitor_pid()
            .and_then(|p| PidFd::open(Pid::from_raw(p)).ok())
        {
            return Ok(Some(m));
        }
        if !c.monitor_alive() {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                name: c.name().to_string(),
                what: "have its starting monitor write its pid",
                secs: 5,
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sends signal number `sig` to init once it handles or blocks it (see
/// [`await_handler`]). A number, not a [`Signal`]: realtime signals such
/// as systemd's halt signal SIGRTMIN+3 have no [`Signal`] variant.
fn send_handled(init: &PidFd, sig: i32) -> Result<()> {
    await_handler(init, sig);
    Ok(init.send_signal_number(sig)?)
}

/// Waits (at most 2 s) until init handles or blocks `sig`.
///
/// The kernel drops a signal sent to a pid namespace's init that neither
/// handles nor blocks it, and a container is RUNNING from the moment its
/// init is exec'd, before busybox init has installed its handlers: a halt
/// signal sent then would be lost and the stop would wait its whole
/// timeout.
fn await_handler(init: &PidFd, sig: i32) {
    let status = format!("/proc/{}/status", init.pid());
    let wchan = format!("/proc/{}/wchan", init.pid());
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut step = Duration::from_micros(100);
    while let Ok(text) = fs::read_to_string(&status) {
        let waiting = fs::read_to_string(&wchan).unwrap_or_default();
        if takes_signal(&text, &waiting, sig) || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(step);
        step = (step * 2).min(Duration::from_millis(10));
    }
}

/// Whether a process whose /proc/PID/status is `status` and whose
/// /proc/PID/wchan is `wchan` takes signal `sig`: it handles or blocks
/// it, or it waits for signals in sigtimedwait(2).
///
/// A process in sigtimedwait (busybox init when idle) has the signals it
/// waits for unblocked for the time of the call, so SigBlk does not show
/// them; the kernel still delivers them (it checks the mask the process
/// had before the call), and the process blocked them before waiting.
fn takes_signal(status: &str, wchan: &str, sig: i32) -> bool {
    let Some(bit) = u32::try_from(sig - 1)
        .ok()
        .and_then(|s| 1u64.checked_shl(s))
    else {
        return true;
    };
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    (mask("SigCgt:") | mask("SigBlk:")) & bit != 0 || wchan.contains("sigtimedwait")
}

/// Waits for init to exit after the halt signal, at most `timeout`, then
/// kills it.
///
/// An init that has finished its shutdown but pauses before reboot(2) is
/// ended at once: when it is the only process left in the container and
/// it sleeps in nanosleep, every other process has already exited on the
/// SIGTERM init sent, so nothing remains to halt. busybox init pauses two
/// seconds there ("allow time for the last message to reach the console");
/// LXC waits them out.
fn wait_for_halt(c: &Container, init: &PidFd, timeout: Duration) -> Result<()> {
    // A timeout too large for the clock is no deadline at all.
    let deadline = Instant::now().checked_add(timeout);
    let procs = c
        .layout()
        .ok()
        .and_then(|l| c.cgroup(l).ok())
        .and_then(|cg| cg.members().first().map(|m| m.dir.join("cgroup.procs")));
    let wchan = format!("/proc/{}/wchan", init.pid());
    let mut step = Duration::from_micros(200);
    loop {
        if init.wait_exit(Some(step))? {
            return Ok(());
        }
        // Alone but for the zombies it has not reaped yet (it sleeps).
        let me = init.pid().as_raw();
        let alone = procs
            .as_ref()
            .and_then(|p| enclos_cgroupfs::read_pids(p).ok())
            .is_some_and(|pids| {
                pids.contains(&me) && pids.iter().all(|&p| p == me || is_zombie(p))
            });
        if alone && fs::read_to_string(&wchan).is_ok_and(|w| w.contains("nanosleep")) {
            tracing::debug!(
                container = c.name(),
                "init is alone and pausing: its halt is complete"
            );
            init.send_signal(Signal::SIGKILL)?;
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::info!(
                container = c.name(),
                "init did not halt in time: killing it"
            );
            init.send_signal(Signal::SIGKILL)?;
            return Ok(());
        }
        step = (step * 2).min(Duration::from_millis(10));
    }
}

/// Whether a process has exited and waits to be reaped (or is gone).
/// Whether process `pid` runs (exists and is not a zombie).
pub(crate) fn is_running(pid: i32) -> bool {
    pid > 0 && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

fn thaw_quietly(c: &Container) {
    if let Ok(cg) = freezer(c) {
        let _ = cg.thaw(Duration::from_secs(2));
    }
}

/// Kills every process of the container through its cgroup and removes
/// the cgroup and the runtime files: the cleanup when the monitor is gone.
pub fn kill_and_clean(c: &Container) -> Result<()> {
    let layout = c.layout()?;
    let cg = c.cgroup(layout)?;
    let _ = cg.thaw(Duration::from_secs(2));
    if let Ok(Some(init)) = init_pidfd(c) {
        let _ = init.send_signal(Signal::SIGKILL);
    }
    cg.delete(DeleteOptions {
        recursive: true,
        populated: Populated::Kill,
        ignore_missing: true,
    })?;
    if let Some(m) = c
        .monitor_pid()
        .and_then(|p| PidFd::open(Pid::from_raw(p)).ok())
    {
        let _ = m.wait_exit(Some(Duration::from_secs(5)));
    }
    if !c.monitor_alive() {
        crate::cgroup_keys::clean_after_dead_monitor(c);
        crate::net::detach(c);
        c.clear_runtime();
        c.clear_run_file(crate::monitor::STOPPING);
    }
    Ok(())
}

fn freezer(c: &Container) -> Result<Cgroup> {
    let layout = c.layout()?;
    let cg = Cgroup::new(layout.clone(), &["freezer"], &c.cgroup_name())?;
    if !nix::unistd::geteuid().is_root() && cg.members().iter().all(|m| !m.dir.is_dir()) {
        let user = crate::userns::current_owner(std::path::Path::new(crate::userns::PASSWD))
            .map(|o| o.name)
            .unwrap_or_else(|_| "NAME".to_string());
        return Err(Error::Unsupported(format!(
            "Container '{}' has no freezer cgroup: it started without one ({}, then restart it)",
            c.name(),
            crate::launch::user_cgroup_fix(&user, &layout)
        )));
    }
    Ok(cg)
}

/// Freezes every process of the container; returns once they are all
/// frozen.
pub fn freeze(c: &Container, timeout: Duration) -> Result<()> {
    let state = c.state()?;
    match state {
        State::Running | State::Freezing | State::Frozen => {}
        s => return Err(not_running(c, s)),
    }
    Ok(freezer(c)?.freeze(timeout)?)
}

/// Thaws a frozen container.
pub fn unfreeze(c: &Container, timeout: Duration) -> Result<()> {
    let state = c.state()?;
    match state {
        State::Frozen | State::Freezing => Ok(freezer(c)?.thaw(timeout)?),
        State::Running => Err(Error::WrongState {
            name: c.name().to_string(),
            state: "RUNNING",
            hint: "it is not frozen",
        }),
        s => Err(not_running(c, s)),
    }
}

/// Waits until the container is in one of `states`; false on timeout.
pub fn wait(c: &Container, states: &[State], timeout: Option<Duration>) -> Result<bool> {
    // A timeout too large for the clock is no deadline at all.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut step = Duration::from_micros(200);
    loop {
        if states.contains(&c.state()?) {
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        std::thread::sleep(step);
        step = (step * 2).min(Duration::from_millis(50));
    }
}

/// The container's cgroup as `lxc-cgroup` sees it: for `key`'s controller.
fn live_cgroup(c: &Container, key: &str) -> Result<Cgroup> {
    let state = c.state()?;
    if !state.is_active() {
        return Err(not_running(c, state));
    }
    let layout = c.layout()?;
    Ok(Cgroup::for_key(layout, key, &c.cgroup_name())?)
}

/// Reads a cgroup file of the running container (`lxc-cgroup -n NAME KEY`).
pub fn cgroup_get(c: &Container, key: &str) -> Result<String> {
    Ok(live_cgroup(c, key)?.get(key)?)
}

/// Writes a cgroup file of the running container; returns the value the
/// kernel kept.
pub fn cgroup_set(c: &Container, key: &str, value: &str) -> Result<String> {
    Ok(live_cgroup(c, key)?.set_and_read(key, value)?)
}

/// Adds `rule` (`c 10:200 rwm`) to the running container's device
/// rules: a write to `devices.allow` on cgroup v1, a wider eBPF program
/// in place of start's on cgroup v2.
fn allow_device(
    c: &Container,
    layout: std::sync::Arc<enclos_cgroupfs::Layout>,
    rule: &str,
) -> Result<()> {
    use enclos_cgroupfs::Version;
    if let Ok(cg) = Cgroup::new(layout.clone(), &["devices"], &c.cgroup_name()) {
        if cg
            .member_for("devices")
            .is_some_and(|m| m.hierarchy.version == Version::V1)
        {
            return Ok(cg.set("devices.allow", rule)?);
        }
    }
    let Some(text) = c.read_run_file(crate::launch::cgroup::DEVICES_RUN_FILE) else {
        // No program of start's to widen.
        return Ok(());
    };
    let cg = Cgroup::new(layout, &["*"], &c.cgroup_name())?;
    let Some(dir) = cg
        .members()
        .iter()
        .find(|m| m.hierarchy.version == Version::V2)
        .map(|m| m.dir.clone())
    else {
        return Ok(());
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.push(format!("devices.allow {rule}"));
    crate::launch::cgroup::attach_v2_rules(&dir, &lines, true)?;
    c.write_run_file(crate::launch::cgroup::DEVICES_RUN_FILE, &lines.join("\n"))
}

/// Makes the host device `dev` available in the running container at
/// `dest` (default: the same path): allowed in the devices cgroup and
/// created in its /dev.
pub fn device_add(c: &Container, dev: &Path, dest: Option<&Path>) -> Result<PathBuf> {
    let state = c.state()?;
    if !state.is_active() {
        return Err(not_running(c, state));
    }
    let meta = fs::metadata(dev).map_err(io_err("read the device", dev))?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return Err(Error::InvalidArgument {
            what: "device",
            value: dev.display().to_string(),
            reason:
                "it is not a character or block device (network interfaces come with networking)"
                    .into(),
        });
    };
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let layout = c.layout()?;
    allow_device(c, layout, &format!("{kind} {major}:{minor} rwm"))?;
    let init = c.init_pid().ok_or_else(|| not_running(c, state))?;
    let dest = dest.unwrap_or(dev);
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    // The container's root as its init sees it.
    let target = PathBuf::from(format!("/proc/{init}/root")).join(rel);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io_err("create the directory of", &target))?;
    }
    let sflag = if kind == 'c' {
        nix::sys::stat::SFlag::S_IFCHR
    } else {
        nix::sys::stat::SFlag::S_IFBLK
    };
    let mode = nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777);
    match nix::sys::stat::mknod(&target, sflag, mode, rdev) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => {
            return Err(Error::Io {
                what: "create the device node",
                path: dest.to_path_buf(),
                source: e.into(),
            })
        }
    }
    let _ = fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777));
    let _ = std::os::unix::fs::chown(&target, Some(meta.uid()), Some(meta.gid()));
    Ok(dest.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    #[test]
    fn stop_refuses_a_stopped_container_and_leaves_its_files() {
        let h = FakeHost::new();
        let c = h.container("c1", "");
        // A killed monitor's run files over an empty group: STOPPED.
        let cg = h.cgroup(&c, &[]);
        crate::fake::write_run_files(&c, "RUNNING", std::process::id());
        let err = stop(&c, StopOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Container 'c1' is STOPPED; start it first (enclos start -n NAME)"
        );
        assert!(cg.join("cgroup.procs").is_file());
        assert!(c.config_path().is_file());
    }

    #[test]
    fn cgroup_get_and_set_act_on_the_running_containers_group() {
        let h = FakeHost::new();
        let me = std::process::id();
        let c = h.container("c1", "");
        let cg = h.cgroup(&c, &[me]);
        std::fs::write(cg.join("memory.max"), "max\n").unwrap();
        let _monitor = h.running(&c, "RUNNING", me);
        assert_eq!(cgroup_get(&c, "memory.max").unwrap().trim(), "max");
        cgroup_set(&c, "memory.max", "1048576").unwrap();
        assert_eq!(crate::fake::read(&cg.join("memory.max")).trim(), "1048576");
    }

    #[test]
    fn cgroup_get_refuses_a_stopped_container() {
        let h = FakeHost::new();
        let c = h.container("c1", "");
        let err = cgroup_get(&c, "memory.max").unwrap_err();
        assert!(
            err.to_string().starts_with("Container 'c1' is STOPPED"),
            "{err}"
        );
    }

    #[test]
    fn freeze_writes_the_freezer_of_the_fake_tree() {
        let h = FakeHost::new();
        let me = std::process::id();
        let c = h.container("c1", "");
        let cg = h.cgroup(&c, &[me]);
        std::fs::write(cg.join("cgroup.freeze"), "0\n").unwrap();
        // The kernel would report the group frozen once it is.
        std::fs::write(cg.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        let _monitor = h.running(&c, "RUNNING", me);
        freeze(&c, Duration::from_secs(1)).unwrap();
        assert_eq!(crate::fake::read(&cg.join("cgroup.freeze")).trim(), "1");
        assert_eq!(c.state().unwrap(), State::Frozen);
        assert!(wait(&c, &[State::Frozen], Some(Duration::ZERO)).unwrap());
        assert!(!wait(&c, &[State::Stopped], Some(Duration::ZERO)).unwrap());
    }

    #[test]
    fn an_init_idle_in_sigtimedwait_takes_the_halt_signal() {
        // busybox init between two events: SIGUSR1 neither caught nor
        // shown blocked, but waited for.
        let idle = "State:\tS (sleeping)\nSigBlk:\t0000000000000000\n\
                    SigIgn:\t0000000000001001\nSigCgt:\t0000000000080000\n";
        assert!(takes_signal(idle, "do_sigtimedwait.isra.0", libc::SIGUSR1));
        // The same process before it waits: not yet.
        assert!(!takes_signal(idle, "0", libc::SIGUSR1));
        assert!(!takes_signal(idle, "hrtimer_nanosleep", libc::SIGPWR));
        // Blocked or caught: at once.
        let blocked = idle.replace("SigBlk:\t0000000000000000", "SigBlk:\t0000000000000200");
        assert!(takes_signal(&blocked, "0", libc::SIGUSR1));
        assert!(takes_signal(idle, "0", libc::SIGTSTP));
    }
}
