//! Which namespaces a container gets: `lxc.namespace.clone` (the ones to
//! create; by default every one enclos can), `lxc.namespace.keep` (the
//! host's, kept), `lxc.namespace.share.*` (another container's or
//! process's, joined), and the time namespace of `lxc.time.offset.*`.
//!
//! Init is cloned with the namespaces to create, except two that need
//! more than a clone flag: the cgroup namespace, which init unshares once
//! it is in its cgroup, and a time namespace with offsets, which the
//! monitor unshares for its children, sets the offsets of, and leaves again
//! once init is cloned. Shared namespaces are joined through the pidfd of
//! their owner: the pid namespace by the monitor just around the clone (it
//! only applies to children), the others by init right after it.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use enclos_config::{Config, NetType, SHARE_NAMESPACES};
use enclos_namespaces::{Namespace, PidFd};
use nix::unistd::Pid;

use crate::container::Container;
use crate::error::{Error, Result};

/// The namespaces of one start.
#[derive(Debug, Default)]
pub(crate) struct NsPlan {
    /// Created by the clone of init.
    pub clone: Vec<Namespace>,
    /// Init unshares a cgroup namespace after joining its cgroup.
    pub cgroup: bool,
    /// A new time namespace with these offsets (boot, monotonic; ns).
    pub time_offsets: Option<(i128, i128)>,
    /// Joined: the kind and a pidfd of a process in it.
    pub share: Vec<(Namespace, PidFd)>,
}

impl NsPlan {
    pub fn new(c: &Container, config: &Config) -> Result<NsPlan> {
        let bad = |what: String| Error::Unsupported(format!("Container '{}': {what}", c.name()));
        let explicit = config
            .namespace_clone()
            .map(|names| parse_names(&names))
            .transpose()
            .map_err(bad)?;
        let keep = parse_names(&config.namespace_keep()).map_err(bad)?;
        let offsets = (config.time_offset("boot"), config.time_offset("monotonic"));
        let wants_time = offsets.0.is_some() || offsets.1.is_some();
        let mut share = Vec::new();
        for name in SHARE_NAMESPACES {
            if let Some(target) = config.namespace_share(name) {
                let ns = parse_names(&[name.to_string()]).map_err(bad)?[0];
                share.push((ns, owner_pidfd(c, ns, target)?));
            }
        }
        let mapped = !config.idmaps().is_empty();
        let mut wanted = explicit.unwrap_or_else(|| {
            let mut all = vec![
                Namespace::Mount,
                Namespace::Pid,
                Namespace::Uts,
                Namespace::Ipc,
                Namespace::Cgroup,
            ];
            // As LXC: the host's network only when every network is
            // `none` (one beside others is ignored, with a warning).
            let nets = config.nets();
            if nets.is_empty() || nets.iter().any(|n| n.net_type != NetType::None) {
                all.push(Namespace::Net);
            }
            if wants_time {
                all.push(Namespace::Time);
            }
            if mapped {
                all.push(Namespace::User);
            }
            all
        });
        wanted.retain(|ns| !keep.contains(ns) && !share.iter().any(|(s, _)| s == ns));
        check(&wanted, &keep, &share, wants_time).map_err(bad)?;
        check_user(&wanted, mapped, config.mount_auto().sys.is_some()).map_err(bad)?;
        if let Some((ns, _)) = share.first().filter(|_| mapped) {
            return Err(bad(format!(
                "lxc.namespace.share.{} joins a namespace of another container or process, which the root of this container's own user namespace (lxc.idmap) has no power over; remove one or the other",
                ns.proc_name()
            )));
        }
        let cgroup = wanted.contains(&Namespace::Cgroup);
        let time_offsets = wanted
            .contains(&Namespace::Time)
            .then(|| (offsets.0.unwrap_or(0), offsets.1.unwrap_or(0)))
            .filter(|_| wants_time);
        let clone = wanted
            .into_iter()
            .filter(|ns| *ns != Namespace::Cgroup && !(*ns == Namespace::Time && wants_time))
            .collect();
        Ok(NsPlan {
            clone,
            cgroup,
            time_offsets,
            share,
        })
    }

    /// The namespaces init is in that are not the monitor's.
    pub fn of_init(&self) -> Vec<Namespace> {
        let mut kinds = self.clone.clone();
        kinds.extend(self.share.iter().map(|(ns, _)| *ns));
        if self.cgroup {
            kinds.push(Namespace::Cgroup);
        }
        if self.time_offsets.is_some() {
            kinds.push(Namespace::Time);
        }
        kinds
    }

    /// Whether init has a UTS namespace of its own (to set the hostname in).
    pub fn own_uts(&self) -> bool {
        self.clone.contains(&Namespace::Uts)
    }

    /// Whether init has a network namespace of its own (its /proc/sys/net
    /// then stays writable under `proc:mixed`).
    pub fn own_net(&self) -> bool {
        self.clone.contains(&Namespace::Net)
    }

    /// The shared namespaces init joins itself (all but pid).
    pub fn joined_by_init(&self) -> impl Iterator<Item = &(Namespace, PidFd)> {
        self.share.iter().filter(|(ns, _)| *ns != Namespace::Pid)
    }

    /// In init, right after the clone: joins the shared namespaces but
    /// pid (which the monitor joined for it).
    pub fn enter_shared(&self) -> std::result::Result<(), String> {
        for (ns, pidfd) in self.joined_by_init() {
            enclos_namespaces::join_pidfd(pidfd, &[*ns]).map_err(|e| {
                format!(
                    "Cannot join the {} namespace of lxc.namespace.share.{} (pid {}): {e}",
                    ns.proc_name(),
                    ns.proc_name(),
                    pidfd.pid()
                )
            })?;
        }
        Ok(())
    }

    /// Runs `clone_init` with the monitor in the shared pid namespace and
    /// the new time namespace (for its children), and back in its own
    /// afterwards, whatever happened.
    pub fn around_clone<T>(&self, clone_init: impl FnOnce() -> Result<T>) -> Result<T> {
        let pid_share = self.share.iter().find(|(ns, _)| *ns == Namespace::Pid);
        if pid_share.is_none() && self.time_offsets.is_none() {
            return clone_init();
        }
        // /proc/self/ns/pid: the monitor's own pid namespace, which
        // pid_for_children returns to.
        let own_pid = match pid_share {
            Some(_) => open_own("pid")?,
            None => None,
        };
        let own_time = match self.time_offsets {
            Some(_) => open_own("time")?,
            None => None,
        };
        let result = (|| {
            if let Some((_, pidfd)) = pid_share {
                enclos_namespaces::join_pidfd(pidfd, &[Namespace::Pid])?;
            }
            if let Some((boot, monotonic)) = self.time_offsets {
                new_time_namespace(boot, monotonic)?;
            }
            clone_init()
        })();
        for (own, ns) in [(&own_pid, Namespace::Pid), (&own_time, Namespace::Time)] {
            if let Some(f) = own {
                if let Err(e) = nix::sched::setns(f.as_fd(), ns.clone_flag()) {
                    tracing::warn!(
                        "cannot return to the monitor's own {} namespace: {e}",
                        ns.proc_name()
                    );
                }
            }
        }
        result
    }
}

fn open_own(name: &str) -> Result<Option<File>> {
    let path = Path::new("/proc/self/ns").join(name);
    match File::open(&path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::error::io_err("open", path)(e)),
    }
}

/// unshare(CLONE_NEWTIME) for the children to come, with the offsets
/// written before any of them is in it.
fn new_time_namespace(boot: i128, monotonic: i128) -> Result<()> {
    nix::sched::unshare(Namespace::Time.clone_flag()).map_err(|e| {
        Error::Unsupported(format!(
            "Cannot create a time namespace for lxc.time.offset.* (Linux 5.6 or later): {e}"
        ))
    })?;
    let line = |clock: &str, ns: i128| {
        let secs = ns.div_euclid(1_000_000_000);
        let nanos = ns.rem_euclid(1_000_000_000);
        format!("{clock} {secs} {nanos}\n")
    };
    let text = line("monotonic", monotonic) + &line("boottime", boot);
    let path = Path::new("/proc/self/timens_offsets");
    std::fs::write(path, text).map_err(crate::error::io_err("write the time offsets to", path))
}

/// The kinds for names as LXC writes them ("mount" or "mnt", "net", ...).
fn parse_names(names: &[String]) -> std::result::Result<Vec<Namespace>, String> {
    let mut out = Vec::new();
    for n in names {
        let ns = Namespace::parse_list(n).map_err(|e| e.to_string())?;
        for ns in ns {
            if !out.contains(&ns) {
                out.push(ns);
            }
        }
    }
    Ok(out)
}

fn check(
    wanted: &[Namespace],
    keep: &[Namespace],
    share: &[(Namespace, PidFd)],
    wants_time: bool,
) -> std::result::Result<(), String> {
    if !wanted.contains(&Namespace::Mount) {
        let how = if keep.contains(&Namespace::Mount) {
            "lxc.namespace.keep keeps"
        } else if share.iter().any(|(ns, _)| *ns == Namespace::Mount) {
            "lxc.namespace.share.mnt shares"
        } else {
            "lxc.namespace.clone leaves out"
        };
        return Err(format!(
            "{how} the mount namespace, but enclos sets up the rootfs in a mount namespace of the container's own; remove mount from it"
        ));
    }
    if wants_time && !wanted.contains(&Namespace::Time) {
        return Err(
            "lxc.time.offset.* needs a time namespace of the container's own, but the time namespace is kept or shared, or left out of lxc.namespace.clone".into(),
        );
    }
    Ok(())
}

/// A user namespace goes with `lxc.idmap`: the one without the other is
/// refused (a user namespace with no map, or maps with the host's user
/// namespace kept or shared). In a user namespace, sysfs (`sys` of
/// `lxc.mount.auto`) can only be mounted for a network namespace it owns.
fn check_user(wanted: &[Namespace], mapped: bool, sysfs: bool) -> std::result::Result<(), String> {
    if mapped && sysfs && !wanted.contains(&Namespace::Net) {
        return Err(
            "an unprivileged container (lxc.idmap) can mount sysfs only with a network namespace of its own, but it keeps or shares the host's network; remove sys from lxc.mount.auto, or give it a network (lxc.net.0.type = empty or veth)".into(),
        );
    }
    match (wanted.contains(&Namespace::User), mapped) {
        (true, false) => Err(
            "a user namespace (lxc.namespace.clone = user) needs lxc.idmap lines that map the container's ids, e.g. lxc.idmap = u 0 165536 65536 and lxc.idmap = g 0 165536 65536".into(),
        ),
        (false, true) => Err(
            "lxc.idmap maps ids in a user namespace of the container's own, but lxc.namespace.clone, keep or share leaves the user namespace out; add user to lxc.namespace.clone".into(),
        ),
        _ => Ok(()),
    }
}

/// A pidfd of the process whose namespace `target` names: a pid, or a
/// container (its name in the same lxcpath, or its directory) whose init
/// it is.
fn owner_pidfd(c: &Container, ns: Namespace, target: &str) -> Result<PidFd> {
    let key = format!("lxc.namespace.share.{}", ns.proc_name());
    let invalid = |reason: String| Error::InvalidArgument {
        what: "namespace to share",
        value: format!("{key} = {target}"),
        reason,
    };
    if let Ok(pid) = target.parse::<i32>() {
        return PidFd::open(Pid::from_raw(pid))
            .map_err(|e| invalid(format!("no process {pid} to share it with: {e}")));
    }
    let other = match target.rsplit_once('/') {
        Some((dir, name)) if !dir.is_empty() => Container::new(Path::new(dir), name)?,
        _ => Container::new(c.lxcpath(), target)?,
    };
    let pid = other
        .init_pid()
        .filter(|_| other.state().is_ok_and(|s| s.is_active()))
        .ok_or_else(|| {
            invalid(format!(
                "container '{}' in {} is not running; start it first",
                other.name(),
                other.lxcpath().display()
            ))
        })?;
    PidFd::open(Pid::from_raw(pid)).map_err(|e| invalid(format!("its init {pid} is gone: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> std::result::Result<NsPlan, String> {
        let cfg = Config::parse_str(text, Path::new("/c/config")).unwrap();
        let c = Container::new(Path::new("/nonexistent-lxcpath"), "c1").unwrap();
        NsPlan::new(&c, &cfg).map_err(|e| e.to_string())
    }

    #[test]
    fn default_clone_keep_and_offsets() {
        let p = plan("").unwrap();
        assert_eq!(
            p.clone,
            [
                Namespace::Mount,
                Namespace::Pid,
                Namespace::Uts,
                Namespace::Ipc,
                Namespace::Net
            ]
        );
        assert!(p.cgroup && p.time_offsets.is_none());
        let p = plan("lxc.namespace.keep = net uts\n").unwrap();
        assert_eq!(p.clone, [Namespace::Mount, Namespace::Pid, Namespace::Ipc]);
        assert!(!p.own_uts());
        let p = plan("lxc.namespace.clone = mount pid\n").unwrap();
        assert_eq!(p.clone, [Namespace::Mount, Namespace::Pid]);
        assert!(!p.cgroup);
        let p = plan("lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n").unwrap();
        assert!(p.clone.contains(&Namespace::User) && p.cgroup);
        let p = plan("lxc.time.offset.boot = 10s\n").unwrap();
        assert_eq!(p.time_offsets, Some((10_000_000_000, 0)));
        assert!(!p.clone.contains(&Namespace::Time));
    }

    #[test]
    fn refusals_say_why() {
        let e = plan("lxc.namespace.keep = mnt\n").unwrap_err();
        assert!(
            e.contains("lxc.namespace.keep keeps the mount namespace"),
            "{e}"
        );
        let e = plan("lxc.namespace.clone = mount user\n").unwrap_err();
        assert!(e.contains("needs lxc.idmap"), "{e}");
        let maps = "lxc.idmap = u 0 165536 65536\nlxc.idmap = g 0 165536 65536\n";
        let e = plan(&format!("{maps}lxc.namespace.keep = user\n")).unwrap_err();
        assert!(e.contains("add user to lxc.namespace.clone"), "{e}");
        let e = plan(&format!("{maps}lxc.namespace.clone = mount pid\n")).unwrap_err();
        assert!(e.contains("leaves the user namespace out"), "{e}");
        let e = plan(&format!(
            "{maps}lxc.mount.auto = sys:mixed\nlxc.namespace.keep = net\n"
        ))
        .unwrap_err();
        assert!(e.contains("can mount sysfs only"), "{e}");
        assert!(plan(&format!("{maps}lxc.namespace.keep = net\n")).is_ok());
        let e = plan(&format!("{maps}lxc.namespace.share.ipc = 1\n")).unwrap_err();
        assert!(e.contains("lxc.namespace.share.ipc joins"), "{e}");
        let e = plan("lxc.namespace.share.net = nosuch\n").unwrap_err();
        assert!(
            e.contains("container 'nosuch'") && e.contains("not running"),
            "{e}"
        );
        let e = plan("lxc.time.offset.boot = 1s\nlxc.namespace.keep = time\n").unwrap_err();
        assert!(e.contains("lxc.time.offset"), "{e}");
    }
}
