//! The console keys: `lxc.console.logfile` (with `.size` and `.rotate`),
//! `lxc.console.buffer.size` and `lxc.console.path`, each shown on a real
//! container: the log file on the host, what a console client or the
//! connected device reads, what init's standard streams are.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use enclos_tests::lab::*;
use enclos_tests::require_root;

pub const CASES: &[crate::Case] = &[
    crate::Case {
        pattern: "lxc.console.logfile",
        test: console_logfile_gets_what_the_console_prints,
    },
    crate::Case {
        pattern: "lxc.console.size",
        test: console_size_empties_the_full_log,
    },
    crate::Case {
        pattern: "lxc.console.rotate",
        test: console_rotate_keeps_one_old_log,
    },
    crate::Case {
        pattern: "lxc.console.buffer.size",
        test: console_buffer_is_replayed_to_a_console_client,
    },
    crate::Case {
        pattern: "lxc.console.path",
        test: console_path_connects_a_host_terminal,
    },
    crate::Case {
        pattern: "lxc.console.path",
        test: console_path_none_gives_no_console,
    },
];

/// A container from the busybox template with `keys` appended to its
/// config (after the template's own) and, when given, `/test-init` in its
/// rootfs as init.
fn container(lab: &Lab, tag: &str, keys: &str, init: Option<&str>) -> String {
    let n = lab.name(tag);
    lab.create_with(&n, "");
    let config = lab.path().join(&n).join("config");
    let mut text = std::fs::read_to_string(&config).expect("read the config");
    text.push_str(keys);
    if let Some(script) = init {
        text.push_str("lxc.init.cmd = /test-init\n");
        let path = lab.path().join(&n).join("rootfs/test-init");
        std::fs::write(&path, format!("#!/bin/sh\n{script}")).expect("write init");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(&config, text).expect("write the config");
    n
}

/// The file `rel` of container `name`'s rootfs.
fn in_rootfs(lab: &Lab, name: &str, rel: &str) -> PathBuf {
    lab.path().join(name).join("rootfs").join(rel)
}

/// Waits until `path` holds `needle`; its contents.
fn wait_for_text(path: &Path, needle: &str) -> String {
    let mut last = String::new();
    poll(SETTLE, || {
        last = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
        last.contains(needle).then_some(())
    })
    .unwrap_or_else(|| panic!("{} never held {needle:?}: {last:?}", path.display()));
    last
}

/// An init that prints 20000 bytes on the console, then END-MARK, then
/// says so in /printed and waits.
const CHATTY_INIT: &str = "i=0\n\
    while [ $i -lt 200 ]; do echo \"line $i: .........................................................................................\"; i=$((i+1)); done\n\
    echo END-MARK\n\
    touch /printed\n\
    while :; do sleep 1000; done\n";

#[test]
pub fn console_logfile_gets_what_the_console_prints() {
    if !require_root("console_logfile_gets_what_the_console_prints") {
        return;
    }
    let lab = Lab::new();
    let log = lab.path().join("console.log");
    let n = container(
        &lab,
        "clog",
        &format!("lxc.console.logfile = {}\n", log.display()),
        None,
    );
    lab.start(&n);
    // busybox init's getty on the console prompts for a login.
    wait_for_text(&log, &format!("{n} login:"));
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the log is the owner's only");
    lab.enclos("stop", &["-n", &n, "-k"]).success();

    // A log that cannot be opened fails the start, saying which key.
    let missing = lab.path().join("no-such-dir/console.log");
    let bad = container(
        &lab,
        "clogbad",
        &format!("lxc.console.logfile = {}\n", missing.display()),
        None,
    );
    let out = lab.enclos("start", &["-n", &bad]);
    assert_one_error_line(&out, "lxc.console.logfile");
    assert_eq!(lab.state(&bad), "STOPPED");
    assert_eq!(cgroup_dirs(&bad), Vec::<PathBuf>::new());
}

/// The log, its `.1` and whether the chatty init is done, once it is.
fn chatty_logs(keys: &str, tag: &str) -> (String, Option<Vec<u8>>, Vec<u8>) {
    let lab = Lab::new();
    let log = lab.path().join("console.log");
    let keys = format!("lxc.console.logfile = {}\n{keys}", log.display());
    let n = container(&lab, tag, &keys, Some(CHATTY_INIT));
    lab.start(&n);
    let printed = in_rootfs(&lab, &n, "printed");
    poll(SETTLE, || printed.exists().then_some(())).expect("init printed everything");
    let text = wait_for_text(&log, "END-MARK");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    let old = std::fs::read(lab.path().join("console.log.1")).ok();
    (text, old, std::fs::read(&log).unwrap())
}

#[test]
pub fn console_size_empties_the_full_log() {
    if !require_root("console_size_empties_the_full_log") {
        return;
    }
    let (text, old, bytes) = chatty_logs("lxc.console.size = 4KB\n", "csize");
    assert!(bytes.len() <= 4096, "{} bytes: {text}", bytes.len());
    assert!(text.trim_end().ends_with("END-MARK"), "{text}");
    assert_eq!(old, None, "no rotated log without lxc.console.rotate");
}

#[test]
pub fn console_rotate_keeps_one_old_log() {
    if !require_root("console_rotate_keeps_one_old_log") {
        return;
    }
    let (text, old, bytes) =
        chatty_logs("lxc.console.size = 4KB\nlxc.console.rotate = 1\n", "crot");
    assert!(bytes.len() <= 4096, "{} bytes: {text}", bytes.len());
    assert!(text.trim_end().ends_with("END-MARK"), "{text}");
    let old = old.expect("console.log.1, the rotated log");
    assert_eq!(old.len(), 4096, "the rotated log is a full one");
    assert!(String::from_utf8_lossy(&old).contains("line "));
}

/// `enclos console` on `tty` with its output read by a thread; Ctrl+a q
/// on its stdin ends it.
fn console_client(lab: &Lab, name: &str, tty: &str) -> (Child, mpsc::Receiver<Vec<u8>>) {
    let mut cmd = lab.cmd("console", &["-n", name, "-t", tty]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn console");
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Reads `rx` into `seen` until it holds `needle` (at most [`SETTLE`]).
fn read_until(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, needle: &str) -> bool {
    poll(SETTLE, || {
        while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(50)) {
            seen.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(seen).contains(needle).then_some(())
    })
    .is_some()
}

#[test]
pub fn console_buffer_is_replayed_to_a_console_client() {
    if !require_root("console_buffer_is_replayed_to_a_console_client") {
        return;
    }
    let lab = Lab::new();
    let init = "echo BEFORE-MARK\ntouch /printed\nwhile :; do sleep 1000; done\n";
    let n = container(&lab, "cbuf", "lxc.console.buffer.size = 4KB\n", Some(init));
    lab.start(&n);
    let printed = in_rootfs(&lab, &n, "printed");
    poll(SETTLE, || printed.exists().then_some(())).expect("init printed its mark");
    // A client connecting now gets what was printed before, then what
    // comes next.
    let (mut client, rx) = console_client(&lab, &n, "0");
    let mut seen = Vec::new();
    lab.attach(&n, &["sh", "-c", "echo AFTER-MARK > /dev/console"])
        .success();
    let got = read_until(&rx, &mut seen, "AFTER-MARK");
    let _ = client.stdin.as_mut().unwrap().write_all(b"\x01q");
    let (status, killed) = wait_deadline(&mut client, SETTLE);
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(got, "the client never saw AFTER-MARK: {text:?}");
    let before = text.find("BEFORE-MARK");
    assert!(
        before.is_some_and(|b| Some(b) < text.find("AFTER-MARK")),
        "the ring buffer was not replayed first: {text:?}"
    );
    assert!(!killed && status.is_some_and(|s| s.success()), "{status:?}");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}

#[test]
pub fn console_path_connects_a_host_terminal() {
    if !require_root("console_path_connects_a_host_terminal") {
        return;
    }
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let pty = nix::pty::openpty(None, None).expect("openpty");
    for fd in [pty.master.as_fd(), pty.slave.as_fd()] {
        // Other tests spawn processes meanwhile: keep the pty out of them.
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("cloexec");
    }
    let slave = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd())).unwrap();
    let lab = Lab::new();
    let n = container(
        &lab,
        "cpath",
        &format!("lxc.console.path = {}\n", slave.display()),
        None,
    );
    lab.start(&n);
    let mut master = File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let prompt = format!("{n} login:");
    let mut seen = Vec::new();
    assert!(
        read_until(&rx, &mut seen, &prompt),
        "the host terminal never showed the console's login prompt: {:?}",
        String::from_utf8_lossy(&seen)
    );
    // What is typed on it reaches the console: Enter brings a new prompt.
    let first = String::from_utf8_lossy(&seen).matches(&prompt).count();
    master.write_all(b"\r").unwrap();
    let again = poll(SETTLE, || {
        while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(50)) {
            seen.extend_from_slice(&chunk);
        }
        (String::from_utf8_lossy(&seen).matches(&prompt).count() > first).then_some(())
    });
    assert!(
        again.is_some(),
        "Enter typed on the host terminal brought no new prompt: {:?}",
        String::from_utf8_lossy(&seen)
    );
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    drop(pty.slave);
}

/// `lxc.console.path = none`: init's standard streams are /dev/null and
/// `console -t 0` says there is no console.
#[test]
pub fn console_path_none_gives_no_console() {
    if !require_root("console_path_none_gives_no_console") {
        return;
    }
    let lab = Lab::new();
    let n = container(&lab, "cnone", "lxc.console.path = none\n", None);
    lab.start(&n);
    let init = lab.init_pid(&n);
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{init}/fd/{fd}")).unwrap();
        assert_eq!(target, Path::new("/dev/null"), "fd {fd} of init");
    }
    let out = lab.enclos("console", &["-n", &n, "-t", "0"]);
    assert_one_error_line(&out, "has no console (lxc.console.path = none)");
    // The ttys are still there.
    let (mut client, rx) = console_client(&lab, &n, "1");
    let _ = client.stdin.as_mut().unwrap().write_all(b"\r");
    let mut seen = Vec::new();
    let got = read_until(&rx, &mut seen, "login:");
    let _ = client.stdin.as_mut().unwrap().write_all(b"\x01q");
    let _ = wait_deadline(&mut client, SETTLE);
    assert!(got, "tty 1: {:?}", String::from_utf8_lossy(&seen));
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}
