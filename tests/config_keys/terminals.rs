//! The container's ptys and ttys.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{inside, running_with, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.pty.max",
        test: pty_max_caps_the_devpts_instance,
    },
    Case {
        pattern: "lxc.tty.max",
        test: tty_max_is_the_number_of_ttys,
    },
    Case {
        pattern: "lxc.tty.dir",
        test: tty_dir_holds_the_console_and_ttys,
    },
];

#[test]
pub fn pty_max_caps_the_devpts_instance() {
    if !require_root("pty_max_caps_the_devpts_instance") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "ptym", "lxc.pty.max = 2");
    let pts = inside(&lab, &n, "grep ' /dev/pts ' /proc/self/mountinfo");
    assert!(pts.contains("max=2"), "{pts}");
    // Two ptys can be had in the container, a third cannot.
    let out = lab.attach(
        &n,
        &[
            "sh",
            "-c",
            "exec 3<>/dev/ptmx 4<>/dev/ptmx && echo two; exec 5<>/dev/ptmx && echo three",
        ],
    );
    assert_eq!(out.stdout.trim(), "two", "{out:#?}");
    assert_ne!(out.code, Some(0), "{out:#?}");
}

#[test]
pub fn tty_max_is_the_number_of_ttys() {
    if !require_root("tty_max_is_the_number_of_ttys") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "ttym", "lxc.tty.max = 2");
    assert_eq!(
        inside(
            &lab,
            &n,
            "for t in 1 2 3; do [ -c /dev/tty$t ] && echo tty$t; done; true"
        ),
        "tty1\ntty2"
    );
    // The console reaches tty2, not tty3.
    let out = lab.enclos("console", &["-n", &n, "-t", "3"]);
    assert_eq!(out.code, Some(1), "console -t 3 with 2 ttys: {out:#?}");
}

#[test]
pub fn tty_dir_holds_the_console_and_ttys() {
    if !require_root("tty_dir_holds_the_console_and_ttys") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "ttyd", "lxc.tty.dir = lxc\nlxc.tty.max = 1");
    assert_eq!(
        inside(
            &lab,
            &n,
            "[ -c /dev/lxc/console ] && [ -c /dev/lxc/tty1 ] && readlink /dev/tty1"
        ),
        "lxc/tty1"
    );
}
