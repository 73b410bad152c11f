//! The container's log: `lxc.log.file` at `lxc.log.level`, written by its
//! monitor.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{running_with, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.log.file",
        test: log_file_holds_the_monitor_s_lines_at_log_level,
    },
    Case {
        pattern: "lxc.log.level",
        test: log_file_holds_the_monitor_s_lines_at_log_level,
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
    let over = crate::with_keys(
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
