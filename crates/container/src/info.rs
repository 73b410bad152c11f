//! info and autostart.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::container::{list_names, Container, SharedLayout, State};
use crate::error::{Error, Result};
use crate::mapped_root::RootfsIdmap;

/// What `info` tells of a container.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub name: String,
    pub state: State,
    /// init's pid as the host sees it.
    pub pid: Option<i32>,
    /// Whether a monitor serves the container (false for a container whose
    /// monitor was killed).
    pub monitor: bool,
    pub ips: Vec<String>,
    /// The interfaces (Link, TX and RX bytes as lxc-info shows them).
    pub links: Vec<crate::net::NetLink>,
    /// CPU time used, in nanoseconds.
    pub cpu_use_ns: Option<u64>,
    pub blkio_use_bytes: Option<u64>,
    pub memory_use_bytes: Option<u64>,
    pub kmem_use_bytes: Option<u64>,
    /// How a running unprivileged container's rootfs got the container's
    /// owners (none: a privileged container, or not running).
    pub rootfs_idmap: Option<RootfsIdmap>,
}

/// The state, pid, addresses and resource use of a container.
pub fn info(c: &Container) -> Result<Info> {
    let state = c.state()?;
    let mut info = Info {
        name: c.name().to_string(),
        state,
        pid: None,
        monitor: c.monitor_alive(),
        ips: Vec::new(),
        links: Vec::new(),
        cpu_use_ns: None,
        blkio_use_bytes: None,
        memory_use_bytes: None,
        kmem_use_bytes: None,
        rootfs_idmap: None,
    };
    if !state.is_active() {
        return Ok(info);
    }
    info.pid = c.init_pid();
    info.rootfs_idmap = RootfsIdmap::of_running(c);
    if let Some(pid) = info.pid {
        info.ips = addresses(pid);
        info.links = crate::net::links(c, pid);
    }
    let cg = c.cgroup(c.layout()?)?;
    if let Ok(s) = cg.stats() {
        info.cpu_use_ns = s.cpu_usage_ns;
        info.memory_use_bytes = s.memory_usage;
        info.blkio_use_bytes = match (s.io_read_bytes, s.io_write_bytes) {
            (Some(r), Some(w)) => Some(r + w),
            _ => None,
        };
    }
    info.kmem_use_bytes = cg
        .get("memory.kmem.usage_in_bytes")
        .ok()
        .and_then(|v| v.trim().parse().ok());
    Ok(info)
}

/// The values in effect of configuration keys (`info -c KEY`), in the
/// order asked: each key with its values (none when unset). A name that is
/// no key of LXC's language is an error, before anything is read.
pub fn config_values(c: &Container, keys: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    if let Some(key) = keys.iter().find(|k| enclos_config::lookup(k).is_none()) {
        return Err(Error::InvalidArgument {
            what: "configuration key",
            value: key.clone(),
            reason: "it is not a key of LXC's configuration language (see lxc.container.conf(5))"
                .to_string(),
        });
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let cfg = c.config()?;
    Ok(keys
        .iter()
        .map(|k| {
            let values = cfg.get_all(k).into_iter().map(str::to_string).collect();
            (k.clone(), values)
        })
        .collect())
}

/// The IPv4 and IPv6 addresses of the network namespace of `pid`, loopback
/// excepted.
pub(crate) fn addresses(pid: i32) -> Vec<String> {
    crate::net::addresses(pid)
}

/// What `autostart` does to the containers it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutostartAction {
    Start,
    /// Shut down (`-s`), killing after the timeout.
    Stop,
    /// Kill (`-k`).
    Kill,
    /// Reboot (`-r`).
    Reboot,
}

/// A container `autostart` selected, in processing order.
#[derive(Debug, Clone, Serialize)]
pub struct AutostartEntry {
    pub name: String,
    pub delay: u32,
    pub order: i32,
    /// The group it was selected through (empty: no group).
    pub group: String,
}

/// The containers with `lxc.start.auto = 1`, as lxc-autostart selects and
/// orders them: group by group in the order asked (`groups`; an empty
/// string is the containers without a group), `onboot` first when no group
/// is asked, then by `lxc.start.order` (lower first) and name. With `all`,
/// every auto-started container, `onboot` ones first. With `ignore_auto`
/// (lxc-autostart's `-A`), `lxc.start.auto` is not looked at: every
/// container the groups select is. As lxc-autostart, only the containers
/// `action` applies to are selected: stopped ones to start, active ones
/// to stop, kill or reboot. Stopping goes in the reverse order.
pub fn autostart_plan(
    lxcpath: &Path,
    groups: &[String],
    all: bool,
    ignore_auto: bool,
    action: AutostartAction,
    layout: &SharedLayout,
) -> Result<Vec<AutostartEntry>> {
    let mut candidates = Vec::new();
    for name in list_names(lxcpath)? {
        let c = Container::new(lxcpath, &name)?.with_layout(layout);
        let Ok(cfg) = c.config() else { continue };
        if !ignore_auto && !cfg.start_auto() {
            continue;
        }
        let active = c.state().is_ok_and(|s| s.is_active());
        if active != (action != AutostartAction::Start) {
            continue;
        }
        candidates.push((name, cfg.groups(), cfg.start_delay(), cfg.start_order()));
    }
    let wanted: Vec<String> = if all || groups.is_empty() {
        vec!["onboot".to_string(), String::new()]
    } else {
        groups.to_vec()
    };
    let mut plan: Vec<AutostartEntry> = Vec::new();
    for g in &wanted {
        let mut batch: Vec<AutostartEntry> = candidates
            .iter()
            .filter(|(name, gs, _, _)| {
                let in_group = if g.is_empty() {
                    gs.is_empty() || (all && !gs.iter().any(|x| x == "onboot"))
                } else {
                    gs.iter().any(|x| x == g)
                };
                in_group && !plan.iter().any(|p| &p.name == name)
            })
            .map(|(name, _, delay, order)| AutostartEntry {
                name: name.clone(),
                delay: *delay,
                order: *order,
                group: g.clone(),
            })
            .collect();
        batch.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        plan.extend(batch);
    }
    Ok(plan)
}

/// Runs `action` on every container of the plan; returns the names that
/// failed with their errors (the others went on).
pub fn autostart(
    lxcpath: &Path,
    plan: &[AutostartEntry],
    action: AutostartAction,
    timeout: Duration,
    layout: &SharedLayout,
) -> Vec<(String, crate::Error)> {
    let mut failures = Vec::new();
    let ordered: Vec<&AutostartEntry> = match action {
        AutostartAction::Start | AutostartAction::Reboot => plan.iter().collect(),
        _ => plan.iter().rev().collect(),
    };
    for e in ordered {
        let result = Container::open(lxcpath, &e.name)
            .map(|c| c.with_layout(layout))
            .and_then(|c| match action {
                AutostartAction::Start => {
                    if c.state()?.is_active() {
                        return Ok(());
                    }
                    crate::start::start(&c, &Default::default())?;
                    if e.delay > 0 {
                        std::thread::sleep(Duration::from_secs(u64::from(e.delay)));
                    }
                    Ok(())
                }
                AutostartAction::Stop | AutostartAction::Kill | AutostartAction::Reboot => {
                    if !c.state()?.is_active() {
                        return Ok(());
                    }
                    crate::stop::stop(
                        &c,
                        crate::stop::StopOptions {
                            timeout,
                            kill: action == AutostartAction::Kill,
                            reboot: action == AutostartAction::Reboot,
                            nowait: false,
                        },
                    )
                }
            });
        if let Err(err) = result {
            failures.push((e.name.clone(), err));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;

    #[test]
    fn info_reads_state_pid_and_use_from_the_fake_tree() {
        let h = FakeHost::new();
        let me = std::process::id();
        let c = h.container("c1", "");
        let cg = h.cgroup(&c, &[me]);
        std::fs::write(cg.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
        std::fs::write(cg.join("memory.current"), "4096\n").unwrap();
        std::fs::write(
            cg.join("io.stat"),
            "8:0 rbytes=100 wbytes=20 rios=1 wios=1\n",
        )
        .unwrap();
        let _monitor = h.running(&c, "RUNNING", me);
        let i = info(&c).unwrap();
        assert_eq!(i.state, State::Running);
        assert_eq!(i.pid, Some(me as i32));
        assert!(i.monitor);
        assert_eq!(i.cpu_use_ns, Some(1_500_000));
        assert_eq!(i.memory_use_bytes, Some(4096));
        assert_eq!(i.blkio_use_bytes, Some(120));
        assert_eq!(i.kmem_use_bytes, None);
    }

    #[test]
    fn info_of_a_stopped_container_has_no_pid_nor_use() {
        let h = FakeHost::new();
        let c = h.container("c1", "");
        // A killed monitor's run files, and an empty group: STOPPED.
        h.cgroup(&c, &[]);
        crate::fake::write_run_files(&c, "RUNNING", std::process::id());
        let i = info(&c).unwrap();
        assert_eq!(i.state, State::Stopped);
        assert_eq!(i.pid, None);
        assert!(!i.monitor);
        assert_eq!(i.cpu_use_ns, None);
        assert_eq!(i.memory_use_bytes, None);
    }

    #[test]
    fn config_values_in_the_order_asked() {
        let h = FakeHost::new();
        let c = h.container("c1", "lxc.group = a\nlxc.group = b\n");
        let keys = [
            "lxc.uts.name".to_string(),
            "lxc.group".into(),
            "lxc.tty.max".into(),
        ];
        let v = config_values(&c, &keys).unwrap();
        assert_eq!(
            v,
            [
                ("lxc.uts.name".to_string(), vec!["c1".to_string()]),
                ("lxc.group".into(), vec!["a".into(), "b".into()]),
                ("lxc.tty.max".into(), vec![]),
            ]
        );
        let err = config_values(&c, &["lxc.nokey".into()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Invalid configuration key 'lxc.nokey'"),
            "{err}"
        );
    }

    #[test]
    fn autostart_plan_selects_and_orders_on_a_fake_tree() {
        let h = FakeHost::new();
        h.container(
            "late",
            "lxc.start.auto = 1\nlxc.start.order = 5\nlxc.start.delay = 2\n",
        );
        h.container("early", "lxc.start.auto = 1\nlxc.start.order = 1\n");
        h.container("manual", "");
        let running = h.container("up", "lxc.start.auto = 1\n");
        let me = std::process::id();
        h.cgroup(&running, &[me]);
        let _monitor = h.running(&running, "RUNNING", me);
        let plan = autostart_plan(
            &h.lxcpath,
            &[],
            false,
            false,
            AutostartAction::Start,
            &h.layout,
        )
        .unwrap();
        let got: Vec<(&str, u32)> = plan.iter().map(|e| (e.name.as_str(), e.delay)).collect();
        assert_eq!(got, [("early", 0), ("late", 2)]);
        let plan = autostart_plan(
            &h.lxcpath,
            &[],
            false,
            false,
            AutostartAction::Stop,
            &h.layout,
        )
        .unwrap();
        let got: Vec<&str> = plan.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(got, ["up"]);
    }

    #[test]
    fn autostart_plan_ignore_auto_selects_containers_without_start_auto() {
        let h = FakeHost::new();
        h.container(
            "auto",
            "lxc.start.auto = 1
lxc.start.order = 2
",
        );
        h.container(
            "manual",
            "lxc.start.order = 1
",
        );
        h.container(
            "grouped",
            "lxc.group = web
",
        );
        let names = |all, ignore| {
            let plan = autostart_plan(
                &h.lxcpath,
                &[],
                all,
                ignore,
                AutostartAction::Start,
                &h.layout,
            )
            .unwrap();
            plan.into_iter().map(|e| e.name).collect::<Vec<_>>()
        };
        assert_eq!(names(false, false), ["auto"]);
        assert_eq!(names(false, true), ["manual", "auto"]);
        assert_eq!(names(true, true), ["grouped", "manual", "auto"]);
    }
}
