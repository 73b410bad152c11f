//! Masked and read-only paths of `proc:mixed` and `sys:mixed` (the
//! busybox template's `lxc.mount.auto`): /proc/sys and
//! /proc/sysrq-trigger read-only, /sys read-only, and no fresh proc or
//! sysfs mounted read-write to get around them. Every write puts back
//! the host's own value (or a harmless one: sysrq's help key), and a
//! guard restores the host's value if a write went through anyway.

use std::path::Path;

use super::{attempt, running, Kind};
use enclos_tests::lab::*;

/// A global (not namespaced) kernel setting whose change is harmless.
const KERNEL_KNOB: &str = "/proc/sys/kernel/printk_ratelimit";
/// A sysfs file root may write on the host.
const SYS_KNOB: &str = "/sys/kernel/mm/ksm/run";

/// Puts a host file's value back when dropped, if it changed.
struct Restore(&'static str, String);

impl Drop for Restore {
    fn drop(&mut self) {
        if read(self.0) != self.1 {
            let _ = std::fs::write(self.0, &self.1);
        }
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_string()
}

pub fn proc_sys_write(kind: Kind) {
    let lab = Lab::new();
    let host = read(KERNEL_KNOB);
    let _guard = Restore(KERNEL_KNOB, host.clone());
    let n = running(&lab, kind, "procsys", "");
    let new: u32 = host.parse::<u32>().expect("a number") + 1;
    let out = attempt(
        &lab,
        &n,
        &format!("echo {new} > {KERNEL_KNOB} && echo WROTE; grep -w /proc/sys /proc/mounts"),
    );
    assert!(
        !out.stdout.contains("WROTE"),
        "{KERNEL_KNOB} written: {out:#?}"
    );
    assert_eq!(read(KERNEL_KNOB), host, "the host's {KERNEL_KNOB} changed");
    assert!(
        out.stdout.contains(" ro,"),
        "/proc/sys is not mounted read-only: {out:#?}"
    );
    // The container's own network settings stay writable.
    let net = attempt(
        &lab,
        &n,
        "cat /proc/sys/net/ipv4/ip_forward > /tmp/f && cat /tmp/f > /proc/sys/net/ipv4/ip_forward && echo NET-OK",
    );
    assert!(net.stdout.contains("NET-OK"), "/proc/sys/net: {net:#?}");
}

pub fn sysrq_trigger(kind: Kind) {
    if !Path::new("/proc/sysrq-trigger").exists() {
        eprintln!("skipped: this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ)");
        return;
    }
    let lab = Lab::new();
    let n = running(&lab, kind, "sysrq", "");
    // `h` only prints the help to the kernel log.
    let out = attempt(&lab, &n, "echo h > /proc/sysrq-trigger && echo WROTE");
    assert!(
        !out.stdout.contains("WROTE"),
        "sysrq-trigger written: {out:#?}"
    );
}

pub fn sys_write(kind: Kind) {
    let lab = Lab::new();
    let host = read(SYS_KNOB);
    let _guard = Restore(SYS_KNOB, host.clone());
    let n = running(&lab, kind, "sys", "");
    let out = attempt(&lab, &n, &format!("echo {host} > {SYS_KNOB} && echo WROTE"));
    assert!(
        !out.stdout.contains("WROTE"),
        "{SYS_KNOB} written: {out:#?}"
    );
    assert_eq!(read(SYS_KNOB), host);
}

/// A fresh proc or sysfs, mounted read-write, would undo the read-only
/// mounts. A privileged container holds CAP_SYS_ADMIN unless its
/// configuration drops it (the busybox template keeps it, as LXC's
/// does, and AppArmor is LXC's answer there), so the privileged case
/// drops it here, and the mounts fail. An unprivileged container may
/// mount both (the kernel lets a user namespace mount a proc it can
/// already see, and a sysfs of its own network namespace), but their
/// host-wide files stay the host root's, so the writes fail.
pub fn fresh_proc_and_sysfs(kind: Kind) {
    let lab = Lab::new();
    let host = read(KERNEL_KNOB);
    let _guard = Restore(KERNEL_KNOB, host.clone());
    let extra = match kind {
        Kind::Privileged => "lxc.cap.drop = sys_admin\n",
        Kind::Unprivileged => "",
    };
    let n = running(&lab, kind, "freshproc", extra);
    let new: u32 = host.parse::<u32>().expect("a number") + 1;
    let sys_rel = SYS_KNOB.trim_start_matches("/sys/");
    let out = attempt(
        &lab,
        &n,
        &format!(
            "mkdir -p /tmp/p /tmp/s; \
             mount -t proc proc /tmp/p && echo PROC-MOUNTED; \
             echo {new} > /tmp/p/sys/kernel/printk_ratelimit && echo WROTE; \
             [ -e /tmp/p/sysrq-trigger ] && echo h > /tmp/p/sysrq-trigger && echo WROTE; \
             mount -t sysfs sysfs /tmp/s && echo SYS-MOUNTED; \
             echo $(cat {SYS_KNOB}) > /tmp/s/{sys_rel} && echo WROTE; \
             umount /tmp/p /tmp/s 2>/dev/null; true"
        ),
    );
    if kind == Kind::Privileged {
        assert!(
            !out.stdout.contains("PROC-MOUNTED"),
            "proc mounted: {out:#?}"
        );
        assert!(
            !out.stdout.contains("SYS-MOUNTED"),
            "sysfs mounted: {out:#?}"
        );
    }
    assert!(
        !out.stdout.contains("WROTE"),
        "a host setting written: {out:#?}"
    );
    assert_eq!(read(KERNEL_KNOB), host, "the host's {KERNEL_KNOB} changed");
}

/// /proc/kcore (the host's memory) and its kin read as empty.
pub fn masked_proc_files(kind: Kind) {
    let lab = Lab::new();
    let n = running(&lab, kind, "kcore", "");
    let out = attempt(
        &lab,
        &n,
        "for f in /proc/kcore /proc/timer_list /proc/sched_debug; do \
         [ -e $f ] && echo \"$f $(head -c 64 $f 2>/dev/null | wc -c)\"; done",
    );
    assert!(!out.stdout.trim().is_empty(), "none of them: {out:#?}");
    for line in out.stdout.lines() {
        assert!(line.ends_with(" 0"), "readable: {line} ({out:#?})");
    }
}
