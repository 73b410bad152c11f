//! What init's process gets besides namespaces and mounts, as LXC gives
//! it: resource limits (`lxc.prlimit.*`) and /proc settings (`lxc.proc.*`)
//! written by the monitor on init's pid; sysctls (`lxc.sysctl.*`), the
//! session keyring (`lxc.keyring.session`), core scheduling
//! (`lxc.sched.core`), the execution domain (`lxc.arch`), supplementary
//! groups (`lxc.init.groups`) and the parent-death signal
//! (`lxc.monitor.signal.pdeath`) set by init itself before it execs.

use std::path::{Component, Path};

use enclos_config::{Config, FamilyValue, Personality};
use nix::unistd::{Gid, Pid};

use crate::error::{Error, Result};

/// LXC's resource names and the kernel's resources.
#[rustfmt::skip]
const RESOURCES: &[(&str, libc::__rlimit_resource_t)] = &[
    ("as", libc::RLIMIT_AS), ("core", libc::RLIMIT_CORE), ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA), ("fsize", libc::RLIMIT_FSIZE), ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK), ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE), ("nofile", libc::RLIMIT_NOFILE), ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS), ("rtprio", libc::RLIMIT_RTPRIO), ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING), ("stack", libc::RLIMIT_STACK),
];

/// prctl(2) core scheduling (linux/prctl.h); libc does not carry them.
const PR_SCHED_CORE: libc::c_int = 62;
const PR_SCHED_CORE_CREATE: libc::c_ulong = 1;
const PR_SCHED_CORE_SCOPE_THREAD_GROUP: libc::c_ulong = 1;
/// personality(2) execution domains (linux/personality.h).
const PER_LINUX: libc::c_ulong = 0;
const PER_LINUX32: libc::c_ulong = 0x0008;
/// keyctl(2) operation (linux/keyctl.h).
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

fn at(v: &FamilyValue) -> String {
    format!("{}:{}", v.origin.file.display(), v.origin.line)
}

/// One resource limit, checked before anything is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limit {
    resource: libc::__rlimit_resource_t,
    soft: libc::rlim_t,
    hard: libc::rlim_t,
}

fn parse_limit(v: &FamilyValue) -> std::result::Result<Limit, String> {
    let resource = RESOURCES
        .iter()
        .find(|(name, _)| *name == v.name)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            let names: Vec<&str> = RESOURCES.iter().map(|(n, _)| *n).collect();
            format!(
                "{}: unknown resource in lxc.prlimit.{}; the resources are {}",
                at(v),
                v.name,
                names.join(", ")
            )
        })?;
    let one = |s: &str| match s.trim() {
        "unlimited" => Ok(libc::RLIM_INFINITY),
        n => n.parse::<libc::rlim_t>().map_err(|_| {
            format!(
                "{}: lxc.prlimit.{} = {}: expected a number or 'unlimited'",
                at(v),
                v.name,
                v.value
            )
        }),
    };
    let (soft, hard) = match v.value.split_once(':') {
        Some((s, h)) => (one(s)?, one(h)?),
        None => (one(&v.value)?, one(&v.value)?),
    };
    Ok(Limit {
        resource,
        soft,
        hard,
    })
}

/// A /proc file name under `/proc/<pid>/`: relative, no `..`.
fn proc_file(v: &FamilyValue) -> std::result::Result<&Path, String> {
    let p = Path::new(&v.name);
    if p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(p)
    } else {
        Err(format!(
            "{}: lxc.proc.{} does not name a file under /proc/<pid>/",
            at(v),
            v.name
        ))
    }
}

/// Checks `lxc.prlimit.*` and `lxc.proc.*` before anything is created, so
/// that a bad key fails the start with nothing half-made.
pub(crate) fn check(cfg: &Config, name: &str) -> Result<()> {
    let fail = |reason: String| Error::StartFailed {
        name: name.to_string(),
        reason,
    };
    for v in cfg.prlimits() {
        parse_limit(&v).map_err(fail)?;
    }
    for v in cfg.proc_settings() {
        proc_file(&v).map_err(fail)?;
    }
    cfg.init_groups().map_err(|(origin, bad)| {
        fail(format!(
            "{}:{}: '{bad}' in lxc.init.groups is not a group id",
            origin.file.display(),
            origin.line
        ))
    })?;
    Ok(())
}

/// Sets the resource limits and /proc settings of init (`pid`), from the
/// monitor, before init goes on (as LXC does, from the parent).
pub(crate) fn apply_from_monitor(cfg: &Config, name: &str, pid: Pid) -> Result<()> {
    let fail = |reason: String| Error::StartFailed {
        name: name.to_string(),
        reason,
    };
    for v in cfg.prlimits() {
        let limit = parse_limit(&v).map_err(fail)?;
        set_prlimit(pid, limit).map_err(|e| {
            fail(format!(
                "{}: cannot set lxc.prlimit.{} = {} on init: {e}",
                at(&v),
                v.name,
                v.value
            ))
        })?;
    }
    for v in cfg.proc_settings() {
        let file = Path::new("/proc")
            .join(pid.as_raw().to_string())
            .join(proc_file(&v).map_err(fail)?);
        std::fs::write(&file, &v.value).map_err(|e| {
            fail(format!(
                "{}: cannot write lxc.proc.{} = {} to {}: {e}",
                at(&v),
                v.name,
                v.value,
                file.display()
            ))
        })?;
    }
    Ok(())
}

fn set_prlimit(pid: Pid, limit: Limit) -> std::io::Result<()> {
    let new = libc::rlimit {
        rlim_cur: limit.soft,
        rlim_max: limit.hard,
    };
    // SAFETY: `new` is a valid rlimit that outlives the call; a null old
    // limit is allowed.
    let rc = unsafe { libc::prlimit(pid.as_raw(), limit.resource, &new, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// What init sets on itself, prepared before it is cloned (no allocation
/// of note, no parsing, in the child).
#[derive(Debug, Clone, Default)]
pub(crate) struct InitSetup {
    /// `lxc.monitor.signal.pdeath`: 0 for none.
    pub pdeath_signal: i32,
    /// `lxc.sysctl.*`: the file under /proc/sys, the value, the origin.
    pub sysctls: Vec<(String, String, String)>,
    pub new_keyring: bool,
    pub sched_core: bool,
    pub personality: Option<libc::c_ulong>,
    /// `lxc.init.groups`: init's supplementary groups (none when unset).
    pub groups: Vec<Gid>,
}

impl InitSetup {
    pub fn new(cfg: &Config) -> InitSetup {
        InitSetup {
            pdeath_signal: cfg.monitor_signal_pdeath(),
            sysctls: cfg
                .sysctls()
                .into_iter()
                .map(|v| {
                    let at = at(&v);
                    (v.name.replace('.', "/"), v.value, at)
                })
                .collect(),
            new_keyring: cfg.keyring_session(),
            sched_core: cfg.sched_core(),
            personality: persona(cfg),
            groups: cfg
                .init_groups()
                .unwrap_or_default()
                .into_iter()
                .map(Gid::from_raw)
                .collect(),
        }
    }

    /// In init, in its namespaces, before its root is set up: the host's
    /// /proc is still there, and /proc/sys writes go to init's namespaces.
    pub fn apply_before_root(&self) -> std::result::Result<(), String> {
        for (file, value, at) in &self.sysctls {
            let path = Path::new("/proc/sys").join(file);
            std::fs::write(&path, value).map_err(|e| {
                format!(
                    "{at}: cannot set lxc.sysctl.{} = {value} ({}): {e}",
                    file.replace('/', "."),
                    path.display()
                )
            })?;
        }
        if self.new_keyring {
            join_new_session_keyring()?;
        }
        if self.sched_core {
            create_core_domain()?;
        }
        Ok(())
    }

    /// In init, last before exec (after its uid and gid changed, which
    /// would reset the parent-death signal).
    pub fn apply_before_exec(&self) -> std::result::Result<(), String> {
        set_personality(self.personality)?;
        if self.pdeath_signal != 0 {
            // SAFETY: PR_SET_PDEATHSIG takes a signal number; no pointers.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    self.pdeath_signal as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                )
            };
            if rc < 0 {
                return Err(format!(
                    "Cannot set lxc.monitor.signal.pdeath {}: {}",
                    self.pdeath_signal,
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(())
    }
}

/// The execution domain of `lxc.arch`, for init and attached processes.
pub(crate) fn persona(cfg: &Config) -> Option<libc::c_ulong> {
    cfg.personality().map(|p| match p {
        Personality::Linux32 => PER_LINUX32,
        Personality::Linux => PER_LINUX,
    })
}

/// Enters the execution domain `persona` (nothing when `None`).
pub(crate) fn set_personality(persona: Option<libc::c_ulong>) -> std::result::Result<(), String> {
    let Some(persona) = persona else {
        return Ok(());
    };
    // SAFETY: personality(2) takes a plain integer.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(format!(
            "Cannot set the execution domain of lxc.arch: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A new anonymous session keyring, as LXC gives init unless
/// `lxc.keyring.session = 0`; a kernel without keyrings, or one that
/// forbids them here, is not an error (as in LXC).
fn join_new_session_keyring() -> std::result::Result<(), String> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a null name takes no other
    // argument.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if rc >= 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS | libc::EACCES | libc::EPERM) => Ok(()),
        _ => Err(format!(
            "Cannot give init a new session keyring (lxc.keyring.session): {e}"
        )),
    }
}

/// A core scheduling domain of init's own (`lxc.sched.core = 1`).
fn create_core_domain() -> std::result::Result<(), String> {
    // SAFETY: PR_SCHED_CORE_CREATE for pid 0 (this process) and its
    // thread group; no pointers.
    let rc = unsafe {
        libc::prctl(
            PR_SCHED_CORE,
            PR_SCHED_CORE_CREATE,
            0 as libc::c_ulong,
            PR_SCHED_CORE_SCOPE_THREAD_GROUP,
            0 as libc::c_ulong,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    Err(match e.raw_os_error() {
        Some(libc::EINVAL) => "lxc.sched.core = 1, but this kernel has no core scheduling (CONFIG_SCHED_CORE), or the CPU does not need it; remove the key or set it to 0".to_string(),
        _ => format!("Cannot create the core scheduling domain of lxc.sched.core: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enclos_config::Origin;
    use rstest::rstest;

    fn fv(name: &str, value: &str) -> FamilyValue {
        FamilyValue {
            name: name.into(),
            value: value.into(),
            origin: Origin::new("/c/config", 4),
        }
    }

    #[rstest]
    #[case("nofile", "1024", libc::RLIMIT_NOFILE, 1024, 1024)]
    #[case("nofile", "100:200", libc::RLIMIT_NOFILE, 100, 200)]
    #[case(
        "core",
        "unlimited",
        libc::RLIMIT_CORE,
        libc::RLIM_INFINITY,
        libc::RLIM_INFINITY
    )]
    #[case(
        "stack",
        "8192:unlimited",
        libc::RLIMIT_STACK,
        8192,
        libc::RLIM_INFINITY
    )]
    fn limits_as_lxc_reads_them(
        #[case] name: &str,
        #[case] value: &str,
        #[case] resource: libc::__rlimit_resource_t,
        #[case] soft: libc::rlim_t,
        #[case] hard: libc::rlim_t,
    ) {
        assert_eq!(
            parse_limit(&fv(name, value)),
            Ok(Limit {
                resource,
                soft,
                hard
            })
        );
    }

    #[test]
    fn an_unknown_resource_names_its_line() {
        let e = parse_limit(&fv("files", "10")).unwrap_err();
        assert!(
            e.starts_with("/c/config:4: unknown resource in lxc.prlimit.files"),
            "{e}"
        );
    }

    #[rstest]
    #[case("oom_score_adj", true)]
    #[case("sys/x", true)]
    #[case("../1/oom_score_adj", false)]
    #[case("/etc/passwd", false)]
    fn proc_files_stay_under_the_pid(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(proc_file(&fv(name, "1")).is_ok(), ok);
    }
}
