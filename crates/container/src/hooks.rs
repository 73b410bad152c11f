//! `lxc.hook.*`: runs a container's hooks as LXC does.
//!
//! Each hook is a shell command line, run as `/bin/sh -c "exec HOOK ..."`.
//! With `lxc.hook.version = 0` (the default) it gets the arguments
//! `NAME lxc TYPE` and any extra ones (the namespace references of a stop
//! hook); with version 1 it gets only the extra arguments of the hook's own
//! line, and the rest in the environment (`LXC_HOOK_TYPE`,
//! `LXC_HOOK_SECTION`, and `LXC_<NS>_NS` for a stop hook). Every hook sees
//! `LXC_NAME`, `LXC_CONFIG_FILE`, `LXC_ROOTFS_MOUNT`, `LXC_ROOTFS_PATH`,
//! `LXC_HOOK_VERSION`, `LXC_CGNS_AWARE`, `LXC_LOG_LEVEL`, and
//! `LXC_CONSOLE`/`LXC_CONSOLE_LOGPATH` when configured.
//!
//! Standard output and error are collected together; a hook that fails
//! (non-zero exit, killed) returns them, trimmed, in its error. LXC puts no
//! time limit on hooks; here a hook still running after [`HOOK_TIMEOUT`] is
//! killed (its whole process group) and counts as failed, so that a stuck
//! stop hook cannot keep the monitor, and the container, from stopping.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enclos_config::Config;
use enclos_namespaces::Namespace;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::{Error, Result};

/// How long a hook may run before it is killed.
pub(crate) const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

/// The hooks init runs, during its set-up.
const IN_INIT: &[&str] = &["pre-mount", "mount", "autodev", "start"];

/// At most this much of a hook's output is kept for its error (the end).
const OUTPUT_KEPT: usize = 4096;

/// The hooks of one container, with the environment they all share.
#[derive(Debug, Clone)]
pub(crate) struct Hooks {
    name: String,
    version: u32,
    env: Vec<(String, String)>,
    config: Config,
}

/// Whether `config` has hooks that run in the container's namespaces
/// before its init (in init's set-up).
pub(crate) fn run_in_init(config: &Config) -> bool {
    IN_INIT.iter().any(|k| !config.hooks(k).is_empty())
}

impl Hooks {
    /// `rootfs_mount` is where the rootfs is (or will be) mounted on the
    /// host.
    pub fn new(name: &str, config: &Config, rootfs_mount: &std::path::Path) -> Hooks {
        let version = config.hook_version();
        let mut env: Vec<(String, String)> = vec![
            ("LXC_NAME".into(), name.into()),
            (
                "LXC_CONFIG_FILE".into(),
                config.path().display().to_string(),
            ),
            (
                "LXC_ROOTFS_MOUNT".into(),
                rootfs_mount.display().to_string(),
            ),
            ("LXC_CGNS_AWARE".into(), "1".into()),
            ("LXC_LOG_LEVEL".into(), config.log_level().name().into()),
            ("LXC_HOOK_VERSION".into(), version.to_string()),
        ];
        if let Some(path) = config.get("lxc.rootfs.path") {
            env.push(("LXC_ROOTFS_PATH".into(), path.into()));
        }
        if let Some(console) = config.console_path() {
            env.push(("LXC_CONSOLE".into(), console.into()));
        }
        if let Some(log) = config.console_logfile() {
            env.push(("LXC_CONSOLE_LOGPATH".into(), log.display().to_string()));
        }
        Hooks {
            name: name.into(),
            version,
            env,
            config: config.clone(),
        }
    }

    /// The most time init's hooks may take together.
    pub fn time_in_init(&self) -> Duration {
        let count: usize = IN_INIT.iter().map(|k| self.config.hooks(k).len()).sum();
        HOOK_TIMEOUT * count as u32
    }

    /// Runs every hook of `kind` in order; the first that fails stops the
    /// rest and is the error.
    pub fn run(&self, kind: &'static str) -> Result<()> {
        self.run_with(kind, &[], &[])
    }

    /// As [`Hooks::run`], with extra arguments (version 0) and extra
    /// environment variables.
    pub fn run_with(
        &self,
        kind: &'static str,
        args: &[String],
        extra_env: &[(String, String)],
    ) -> Result<()> {
        for command in self.config.hooks(kind) {
            self.run_one(kind, &command, args, extra_env)
                .map_err(|reason| Error::Hook {
                    name: self.name.clone(),
                    kind,
                    command: command.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    /// Runs every hook of `kind` and logs a failure instead of returning
    /// it (stop, post-stop, destroy: the container goes on stopping).
    pub fn run_logged(
        &self,
        kind: &'static str,
        args: &[String],
        extra_env: &[(String, String)],
    ) -> bool {
        match self.run_with(kind, args, extra_env) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(container = %self.name, "{e}");
                false
            }
        }
    }

    /// The hooks of a stage of the rootfs set-up, in init: pre-mount,
    /// mount, autodev.
    pub fn at_stage(
        &self,
        stage: enclos_namespaces::RootfsStage,
    ) -> std::result::Result<(), String> {
        use enclos_namespaces::RootfsStage;
        let kind = match stage {
            RootfsStage::PreMount => "pre-mount",
            RootfsStage::Mount => "mount",
            RootfsStage::Autodev => "autodev",
        };
        self.run(kind).map_err(|e| e.to_string())
    }

    /// The shell line of one hook: `exec HOOK [NAME lxc TYPE] [ARGS]`.
    fn line(&self, kind: &str, command: &str, args: &[String]) -> String {
        let mut line = format!("exec {command}");
        if self.version == 0 {
            line.push_str(&format!(" {} lxc {kind}", self.name));
        }
        for a in args {
            line.push(' ');
            line.push_str(a);
        }
        line
    }

    fn run_one(
        &self,
        kind: &str,
        command: &str,
        args: &[String],
        extra_env: &[(String, String)],
    ) -> std::result::Result<(), String> {
        let line = self.line(kind, command, args);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(&line).stdin(Stdio::null());
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if self.version == 1 {
            cmd.env("LXC_HOOK_TYPE", kind)
                .env("LXC_HOOK_SECTION", "lxc");
        } else {
            cmd.env_remove("LXC_HOOK_TYPE")
                .env_remove("LXC_HOOK_SECTION");
        }
        if IN_INIT.contains(&kind) {
            // As LXC, init's hooks see lxc.environment too.
            let set = self.config.environment().into_iter();
            cmd.envs(set.filter_map(|(k, v)| v.map(|v| (k, v))));
        }
        cmd.envs(extra_env.iter().map(|(k, v)| (k, v)));
        cmd.process_group(0);
        tracing::debug!(container = %self.name, hook = kind, "running hook: {line}");
        run_collecting(cmd, HOOK_TIMEOUT)
    }
}

/// Runs `lxc.hook.destroy` of a stopped container about to be destroyed;
/// as in LXC, a failing one stops the destroy.
pub(crate) fn run_destroy_hooks(c: &crate::container::Container) -> Result<()> {
    let Ok(config) = c.config() else {
        return Ok(());
    };
    if config.hooks("destroy").is_empty() {
        return Ok(());
    }
    let mount = match config.rootfs() {
        Some(r) => crate::container::storage_rootfs(&r)?.path,
        None => c.dir().join("rootfs"),
    };
    Hooks::new(c.name(), &config, &mount).run("destroy")
}

/// The monitor's references to init's namespaces, for the stop hooks
/// (which run once init is gone): `/proc/MONITOR/fd/N` paths.
#[derive(Debug)]
pub(crate) struct NsRefs {
    pid: i32,
    refs: Vec<(Namespace, std::fs::File)>,
}

impl NsRefs {
    /// Opens `/proc/PID/ns/*` of init for each of `kinds`, in LXC's order
    /// ([`Namespace::ALL`]).
    pub fn open(pid: nix::unistd::Pid, kinds: &[Namespace]) -> NsRefs {
        let refs = Namespace::ALL
            .into_iter()
            .filter(|ns| kinds.contains(ns))
            .filter_map(|ns| {
                let path = format!("/proc/{pid}/ns/{}", ns.proc_name());
                std::fs::File::open(path).ok().map(|f| (ns, f))
            })
            .collect();
        NsRefs {
            pid: pid.as_raw(),
            refs,
        }
    }

    /// Runs the stop hooks (`target`: "stop" or "reboot"): the references
    /// as `TYPE:PATH` arguments (version 0) or `LXC_<TYPE>_NS` variables.
    pub fn run_stop_hooks(&self, hooks: &Hooks, target: &str) -> bool {
        let me = std::process::id();
        let mut args = Vec::new();
        let mut env = self.env(target);
        for (ns, f) in &self.refs {
            let path = format!("/proc/{me}/fd/{}", f.as_raw_fd());
            if hooks.version == 0 {
                args.push(format!("{}:{path}", ns.proc_name()));
            } else {
                env.push((ns.lxc_env_var(), path));
            }
        }
        hooks.run_logged("stop", &args, &env)
    }

    /// `LXC_TARGET` and `LXC_PID` (init's pid, gone now) for the stop and
    /// post-stop hooks.
    pub fn env(&self, target: &str) -> Vec<(String, String)> {
        vec![
            ("LXC_TARGET".to_string(), target.to_string()),
            ("LXC_PID".to_string(), self.pid.to_string()),
        ]
    }
}

/// Runs `cmd` with stdout and stderr on one pipe, waits for it (killing its
/// process group after `timeout`); Ok if it exited 0, else what happened
/// and its output.
fn run_collecting(mut cmd: Command, timeout: Duration) -> std::result::Result<(), String> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("cannot create a pipe: {e}"))?;
    let wr2 = wr
        .try_clone()
        .map_err(|e| format!("cannot duplicate a pipe: {e}"))?;
    cmd.stdout(Stdio::from(wr)).stderr(Stdio::from(wr2));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
    // Our copies of the write end go with the command.
    drop(cmd);
    let mut output = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(rd);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            // What is left in the pipe, without waiting for background
            // processes that keep it open.
            drain(&file, &mut output);
            break status;
        }
        if Instant::now() >= deadline {
            let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            drain(&file, &mut output);
            return Err(format!(
                "still running after {} s, killed{}",
                timeout.as_secs(),
                shown(&output)
            ));
        }
        if readable(file.as_fd(), Duration::from_millis(50)) {
            let mut buf = [0u8; 4096];
            match file.read(&mut buf) {
                Ok(n) if n > 0 => keep(&mut output, &buf[..n]),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    };
    match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(format!("exit status {code}{}", shown(&output))),
        (None, Some(sig)) => Err(format!("killed by signal {sig}{}", shown(&output))),
        _ => Err(format!("ended abnormally{}", shown(&output))),
    }
}

fn readable(fd: std::os::fd::BorrowedFd<'_>, wait: Duration) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(wait.as_millis() as i32).unwrap_or(PollTimeout::ZERO);
    matches!(poll(&mut fds, ms), Ok(n) if n > 0)
}

/// Reads what the pipe holds now, without blocking.
fn drain(mut file: &std::fs::File, output: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    while readable(file.as_fd(), Duration::ZERO) {
        match file.read(&mut buf) {
            Ok(n) if n > 0 => keep(output, &buf[..n]),
            _ => break,
        }
    }
}

/// Appends `data`, keeping only the last [`OUTPUT_KEPT`] bytes.
fn keep(output: &mut Vec<u8>, data: &[u8]) {
    output.extend_from_slice(data);
    if output.len() > OUTPUT_KEPT {
        output.drain(..output.len() - OUTPUT_KEPT);
    }
}

/// The output for an error: ": TEXT" on one line, or nothing.
fn shown(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        " (no output)".into()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn hooks(text: &str) -> Hooks {
        let cfg = Config::parse_str(text, Path::new("/c/config")).unwrap();
        Hooks::new("c1", &cfg, Path::new("/mnt/root"))
    }

    #[test]
    fn version_0_passes_name_section_and_type() {
        let h = hooks("lxc.hook.stop = /bin/h\n");
        assert_eq!(
            h.line("stop", "/bin/h", &["net:/proc/1/fd/3".into()]),
            "exec /bin/h c1 lxc stop net:/proc/1/fd/3"
        );
        let h = hooks("lxc.hook.version = 1\n");
        assert_eq!(h.line("stop", "/bin/h x", &[]), "exec /bin/h x");
    }

    #[test]
    fn a_failing_hook_reports_its_output() {
        let h = hooks(
            "lxc.hook.version = 1\nlxc.hook.post-stop = sh -c 'echo out; echo err >&2; exit 3'\n",
        );
        let err = h.run("post-stop").unwrap_err().to_string();
        assert!(err.contains("exit status 3: out err"), "{err}");
        assert!(err.contains("lxc.hook.post-stop"), "{err}");
    }

    #[test]
    fn the_environment_follows_the_version() {
        let h = hooks("lxc.hook.version = 1\nlxc.hook.post-stop = test \"$LXC_HOOK_TYPE/$LXC_HOOK_SECTION/$LXC_NAME/$LXC_ROOTFS_MOUNT/$LXC_HOOK_VERSION\" = post-stop/lxc/c1//mnt/root/1\n");
        h.run("post-stop").unwrap();
        let h = hooks("lxc.hook.post-stop = sh -c 'test \"$0 $1 $2\" = \"c1 lxc post-stop\" -a -z \"$LXC_HOOK_TYPE\"'\n");
        h.run("post-stop").unwrap();
    }

    #[test]
    fn inits_hooks_see_lxc_environment() {
        let h = hooks("lxc.environment = FOO=bar\nlxc.hook.mount = sh -c 'test \"$FOO\" = bar'\nlxc.hook.post-stop = sh -c 'test -z \"$FOO\"'\n");
        h.run("mount").unwrap();
        h.run("post-stop").unwrap();
    }

    #[test]
    fn a_stuck_hook_is_killed() {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg("echo started; exec sleep 30");
        cmd.process_group(0);
        let err = run_collecting(cmd, Duration::from_millis(300)).unwrap_err();
        assert!(
            err.starts_with("still running after 0 s, killed: started"),
            "{err}"
        );
    }
}
