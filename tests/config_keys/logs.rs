//! The container's log: `lxc.log.file` at `lxc.log.level`, written by its
//! monitor.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use std::os::unix::net::UnixDatagram;
use std::process::Command;

use crate::{running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.log.file",
        test: log_file_holds_the_monitor_s_lines_at_log_level,
    },
    Case {
        pattern: "lxc.log.level",
        test: log_file_holds_the_monitor_s_lines_at_log_level,
    },
    Case {
        pattern: "lxc.log.syslog",
        test: log_syslog_sends_the_lines_with_the_facility,
    },
];

#[test]
pub fn log_file_holds_the_monitor_s_lines_at_log_level() {
    if !require_root("log_file_holds_the_monitor_s_lines_at_log_level") {
        return;
    }
    let lab = Lab::new();
    let info = lab.path().join("info.log");
    let n = running_with(
        &lab,
        "loginfo",
        &format!("lxc.log.file = {}\nlxc.log.level = INFO", info.display()),
    );
    let init = lab.init_pid(&n);
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    let text = std::fs::read_to_string(&info).expect("the log file");
    assert!(
        text.lines().any(|l| l.contains("INFO")
            && l.contains(&format!("init={init}"))
            && l.contains("RUNNING")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.contains("STOPPED")), "{text}");
    // At ERROR, the same run writes none of those lines.
    let error = lab.path().join("error.log");
    let quiet = running_with(
        &lab,
        "logerr",
        &format!("lxc.log.file = {}\nlxc.log.level = ERROR", error.display()),
    );
    lab.enclos("stop", &["-n", &quiet, "-k"]).success();
    assert_eq!(std::fs::read_to_string(&error).expect("the log file"), "");
    // -o on the command line overrides lxc.log.file.
    let cli = lab.path().join("cli.log");
    let other = lab.path().join("other.log");
    let over = with_keys(
        &lab,
        "logcli",
        &format!("lxc.log.file = {}\nlxc.log.level = INFO", other.display()),
    );
    lab.enclos(
        "start",
        &["-n", &over, "-l", "INFO", "-o", cli.to_str().unwrap()],
    )
    .success();
    lab.enclos("stop", &["-n", &over, "-k"]).success();
    assert!(!other.exists(), "lxc.log.file was overridden by -o");
    let text = std::fs::read_to_string(&cli).expect("the -o log");
    assert!(text.contains("RUNNING"), "{text}");
}

#[test]
pub fn log_syslog_sends_the_lines_with_the_facility() {
    if !require_root("log_syslog_sends_the_lines_with_the_facility") {
        return;
    }
    let lab = Lab::new();
    // Our own /dev/log, for `start` (and its monitor) alone: a mount
    // namespace of its own where /dev is a tmpfs holding the host's
    // devices and, as log, this socket.
    let sock = lab.path().join("log.sock");
    let log = UnixDatagram::bind(&sock).expect("bind the log socket");
    log.set_read_timeout(Some(SETTLE)).unwrap();
    let n = with_keys(
        &lab,
        "slog",
        "lxc.log.syslog = local3\nlxc.log.level = INFO",
    );
    let script = r#"set -e
old="$1/olddev"; mkdir -p "$old"; mount --rbind /dev "$old"
mount -t tmpfs -o mode=755 devtmp /dev
for f in null zero full random urandom tty; do touch "/dev/$f"; mount --bind "$old/$f" "/dev/$f"; done
mkdir /dev/pts; mount --rbind "$old/pts" /dev/pts; ln -s pts/ptmx /dev/ptmx
touch /dev/log; mount --bind "$2" /dev/log
shift 2; exec "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .arg(lab.path())
    .arg(&sock)
    .arg(enclos_tests::enclos_bin())
    .args(["start", "-P", lab.path_str(), "-n", &n]);
    run(cmd).success();
    let init = lab.init_pid(&n);
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    let running = loop {
        let len = log.recv(&mut buf).unwrap_or_else(|e| {
            panic!("no RUNNING line came to the log socket ({e}); got {seen:#?}")
        });
        let line = String::from_utf8_lossy(&buf[..len]).into_owned();
        if line.contains("RUNNING") {
            break line;
        }
        seen.push(line);
    };
    // local3 (19) * 8 + info (6).
    assert!(running.starts_with("<158>"), "{running}");
    assert!(running.contains("enclos["), "{running}");
    assert!(running.contains(&format!("init={init}")), "{running}");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}
