//! Processes the container runs: their environment, their standard
//! streams, exec with the container's PATH, and their exit codes.

use std::ffi::CString;
use std::fs::OpenOptions;

use enclos_config::Config;
use nix::sys::signal::{SigHandler, Signal};
use nix::sys::wait::WaitStatus;

/// The environment of the container's init and attached processes.
pub(crate) fn container_env(cfg: &Config, extra: &[(String, String)]) -> Vec<CString> {
    let mut env: Vec<(String, String)> = vec![
        ("container".into(), "lxc".into()),
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOME".into(), "/root".into()),
    ];
    let set = |k: String, v: String, env: &mut Vec<(String, String)>| {
        env.retain(|(ek, _)| *ek != k);
        env.push((k, v));
    };
    for (k, v) in cfg.environment() {
        let v = match v {
            Some(v) => v,
            None => match std::env::var(&k) {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        set(k, v, &mut env);
    }
    for (k, v) in extra {
        set(k.clone(), v.clone(), &mut env);
    }
    env.into_iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect()
}

/// Makes `fd` standard input, output and error.
pub(crate) fn dup_stdio(fd: &impl std::os::fd::AsFd) -> nix::Result<()> {
    nix::unistd::dup2_stdin(fd)?;
    nix::unistd::dup2_stdout(fd)?;
    nix::unistd::dup2_stderr(fd)
}

/// /dev/null as standard input, output and error (the daemonized monitor).
pub(crate) fn redirect_stdio_to_null() {
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = dup_stdio(&null);
    }
}

/// Gives `signals` their default action again (ignored ones stay
/// ignored across exec).
pub(crate) fn default_signal_actions(signals: &[Signal]) {
    for s in signals {
        // SAFETY: SIG_DFL installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(*s, SigHandler::SigDfl) };
    }
}

/// execvpe with the container's PATH, SIGPIPE at its default action
/// first; returns only on failure (see [`enclos_init_exec::exec`]).
pub(crate) use enclos_init_exec::exec;

/// Exit status as a shell reports it: the code, or 128 + the signal.
pub(crate) fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use nix::unistd::Pid;

    use super::*;

    #[test]
    fn environment_of_the_container() {
        let cfg = Config::parse_str(
            "lxc.environment = FOO=bar\nlxc.environment = PATH=/opt/bin\n",
            Path::new("config"),
        )
        .unwrap();
        let env: Vec<String> = container_env(&cfg, &[("X".into(), "1".into())])
            .into_iter()
            .map(|c| c.into_string().unwrap())
            .collect();
        assert!(env.contains(&"container=lxc".to_string()), "{env:?}");
        assert!(env.contains(&"FOO=bar".to_string()));
        assert!(env.contains(&"PATH=/opt/bin".to_string()));
        assert!(env.contains(&"X=1".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
    }

    #[test]
    fn exit_codes_as_a_shell_reports_them() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), 3);
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            137
        );
    }
}
