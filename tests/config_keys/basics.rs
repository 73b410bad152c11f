//! Init, its command and identity, the environment, the name, includes,
//! ephemeral containers and autostart.

use enclos_tests::lab::*;
use enclos_tests::require_root;

use crate::{append, host_proc, inside, running_with, with_keys, Case};

pub const CASES: &[Case] = &[
    Case {
        pattern: "lxc.include",
        test: include_reads_the_included_keys,
    },
    Case {
        pattern: "lxc.uts.name",
        test: uts_name_is_the_hostname_inside,
    },
    Case {
        pattern: "lxc.init.cmd",
        test: init_cmd_is_pid_1,
    },
    Case {
        pattern: "lxc.init.cwd",
        test: init_cwd_is_the_directory_of_pid_1,
    },
    Case {
        pattern: "lxc.init.uid",
        test: init_uid_and_gid_are_init_s_ids_on_the_host,
    },
    Case {
        pattern: "lxc.init.gid",
        test: init_uid_and_gid_are_init_s_ids_on_the_host,
    },
    Case {
        pattern: "lxc.init.groups",
        test: init_groups_are_init_s_supplementary_groups,
    },
    Case {
        pattern: "lxc.execute.cmd",
        test: execute_cmd_runs_without_a_command,
    },
    Case {
        pattern: "lxc.ephemeral",
        test: ephemeral_container_goes_when_it_stops,
    },
    Case {
        pattern: "lxc.environment",
        test: environment_reaches_init,
    },
    Case {
        pattern: "lxc.arch",
        test: arch_i686_makes_uname_say_i686,
    },
    Case {
        pattern: "lxc.start.auto",
        test: autostart_lists_and_acts_in_order,
    },
    Case {
        pattern: "lxc.start.order",
        test: autostart_lists_and_acts_in_order,
    },
    Case {
        pattern: "lxc.start.delay",
        test: autostart_lists_and_acts_in_order,
    },
    Case {
        pattern: "lxc.group",
        test: autostart_lists_and_acts_in_order,
    },
];

#[test]
pub fn include_reads_the_included_keys() {
    if !require_root("include_reads_the_included_keys") {
        return;
    }
    let lab = Lab::new();
    let inc = lab.conf("included.conf", "lxc.uts.name = from-include\n");
    // sleep as init: busybox's rcS would set the hostname of /etc/hostname.
    let n = running_with(
        &lab,
        "incl",
        &format!(
            "lxc.include = {}\nlxc.init.cmd = /bin/sleep 4242",
            inc.display()
        ),
    );
    assert_eq!(inside(&lab, &n, "hostname"), "from-include");
}

#[test]
pub fn uts_name_is_the_hostname_inside() {
    if !require_root("uts_name_is_the_hostname_inside") {
        return;
    }
    let lab = Lab::new();
    // sleep as init: busybox's rcS would set the hostname of /etc/hostname.
    let n = running_with(
        &lab,
        "uts",
        "lxc.uts.name = kestrel\nlxc.init.cmd = /bin/sleep 4242",
    );
    assert_eq!(inside(&lab, &n, "hostname"), "kestrel");
    assert_ne!(
        nix::unistd::gethostname().unwrap().to_string_lossy(),
        "kestrel",
        "the host keeps its name"
    );
}

#[test]
pub fn init_cmd_is_pid_1() {
    if !require_root("init_cmd_is_pid_1") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "icmd", "lxc.init.cmd = /bin/sleep 4242");
    let pid = lab.init_pid(&n);
    assert_eq!(host_proc(pid, "cmdline"), "/bin/sleep\u{0}4242\u{0}");
    assert_eq!(
        inside(&lab, &n, "tr '\\0' ' ' < /proc/1/cmdline"),
        "/bin/sleep 4242"
    );
}

#[test]
pub fn init_cwd_is_the_directory_of_pid_1() {
    if !require_root("init_cwd_is_the_directory_of_pid_1") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "icwd",
        "lxc.init.cmd = /bin/sleep 4242\nlxc.init.cwd = /etc",
    );
    assert_eq!(inside(&lab, &n, "readlink /proc/1/cwd"), "/etc");
}

#[test]
pub fn init_uid_and_gid_are_init_s_ids_on_the_host() {
    if !require_root("init_uid_and_gid_are_init_s_ids_on_the_host") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "iuid",
        "lxc.init.cmd = /bin/sleep 4242\nlxc.init.uid = 1234\nlxc.init.gid = 4321",
    );
    let pid = lab.init_pid(&n);
    assert_eq!(
        proc_status(pid, "Uid").as_deref(),
        Some("1234 1234 1234 1234")
    );
    assert_eq!(
        proc_status(pid, "Gid").as_deref(),
        Some("4321 4321 4321 4321")
    );
}

#[test]
pub fn init_groups_are_init_s_supplementary_groups() {
    if !require_root("init_groups_are_init_s_supplementary_groups") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "igrp",
        "lxc.init.cmd = /bin/sleep 4242\nlxc.init.groups = 10,20\nlxc.init.groups = 30",
    );
    assert_eq!(
        proc_status(lab.init_pid(&n), "Groups").as_deref(),
        Some("10 20 30")
    );
    // Unset, init has no supplementary groups (not those of whoever ran
    // start).
    let plain = running_with(&lab, "igrp0", "lxc.init.cmd = /bin/sleep 4242");
    assert_eq!(
        proc_status(lab.init_pid(&plain), "Groups").as_deref(),
        Some("")
    );
}

#[test]
pub fn execute_cmd_runs_without_a_command() {
    if !require_root("execute_cmd_runs_without_a_command") {
        return;
    }
    let lab = Lab::new();
    let n = with_keys(&lab, "xcmd", "lxc.execute.cmd = /bin/echo from-execute-cmd");
    let out = lab.enclos("execute", &["-n", &n]).success();
    assert_eq!(out.stdout.trim(), "from-execute-cmd");
}

#[test]
pub fn ephemeral_container_goes_when_it_stops() {
    if !require_root("ephemeral_container_goes_when_it_stops") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(&lab, "eph", "lxc.ephemeral = 1");
    assert!(lab.path().join(&n).is_dir());
    lab.enclos("stop", &["-n", &n]).success();
    assert!(
        poll(SETTLE, || (!lab.path().join(&n).exists()).then_some(())).is_some(),
        "{} still exists after stop",
        lab.path().join(&n).display()
    );
}

#[test]
pub fn environment_reaches_init() {
    if !require_root("environment_reaches_init") {
        return;
    }
    let lab = Lab::new();
    let n = running_with(
        &lab,
        "env",
        "lxc.environment = GREETING=bonjour\nlxc.environment = PATH=/bin:/sbin",
    );
    let env = host_proc(lab.init_pid(&n), "environ");
    let vars: Vec<&str> = env.split('\0').collect();
    assert!(vars.contains(&"GREETING=bonjour"), "{vars:?}");
    assert!(vars.contains(&"PATH=/bin:/sbin"), "{vars:?}");
}

#[test]
pub fn arch_i686_makes_uname_say_i686() {
    if !require_root("arch_i686_makes_uname_say_i686") {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        enclos_tests::missing_feature(
            "arch_i686_makes_uname_say_i686",
            "an x86_64 host (lxc.arch = i686 is its 32-bit domain)",
        );
        return;
    }
    let lab = Lab::new();
    let n = with_keys(&lab, "arch", "lxc.arch = i686");
    let out = lab
        .enclos("execute", &["-n", &n, "--", "uname", "-m"])
        .success();
    assert_eq!(out.stdout.trim(), "i686");
    append(&lab, &n, "lxc.init.cmd = /bin/sleep 4242");
    lab.start(&n);
    // PER_LINUX32, as the host sees init.
    assert_eq!(
        host_proc(lab.init_pid(&n), "personality").trim(),
        "00000008"
    );
    // attach enters it too, as lxc-attach does.
    assert_eq!(inside(&lab, &n, "uname -m"), "i686");
}

#[test]
pub fn autostart_lists_and_acts_in_order() {
    if !require_root("autostart_lists_and_acts_in_order") {
        return;
    }
    let lab = Lab::new();
    // Created out of order on purpose.
    let late = lab.name("late");
    lab.create_with(&late, "lxc.start.auto = 1\nlxc.start.order = 10\n");
    let tie2 = lab.name("tie2");
    lab.create_with(&tie2, "lxc.start.auto = 1\nlxc.start.order = 2\n");
    let tie1 = lab.name("tie1");
    lab.create_with(&tie1, "lxc.start.auto = 1\nlxc.start.order = 2\n");
    let manual = lab.name("manual");
    lab.create_with(&manual, "lxc.start.auto = 0\nlxc.start.order = 1\n");
    let web = lab.name("web");
    lab.create_with(
        &web,
        "lxc.start.auto = 1\nlxc.start.order = 1\nlxc.start.delay = 2\nlxc.group = web\n",
    );

    let list = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["-L"];
        a.extend_from_slice(args);
        let out = lab.enclos("autostart", &a).success();
        out.stdout.lines().map(str::to_string).collect()
    };
    let entry = |n: &str, delay: u32| format!("{n} {delay}");
    // Without -g: the containers without a group, lower order first, then
    // by name.
    assert_eq!(
        list(&[]),
        [entry(&tie1, 0), entry(&tie2, 0), entry(&late, 0)]
    );
    assert_eq!(list(&["-g", "web"]), [entry(&web, 2)]);
    assert_eq!(
        list(&["-g", "web,"]),
        [
            entry(&web, 2),
            entry(&tie1, 0),
            entry(&tie2, 0),
            entry(&late, 0)
        ]
    );
    assert_eq!(
        list(&["-a"]),
        [
            entry(&web, 2),
            entry(&tie1, 0),
            entry(&tie2, 0),
            entry(&late, 0)
        ]
    );

    // Acting: the containers without a group start, the others do not.
    lab.enclos("autostart", &[]).success();
    for n in [&tie1, &tie2, &late] {
        assert_eq!(lab.state(n), "RUNNING", "{n}");
    }
    for n in [&manual, &web] {
        assert_eq!(lab.state(n), "STOPPED", "{n}");
    }
    lab.enclos("autostart", &["-k"]).success();
    for n in [&tie1, &tie2, &late] {
        lab.assert_stopped_and_clean(n, None);
    }
    lab.enclos("autostart", &[]).success();
    lab.enclos("autostart", &["-s", "-t", "30"]).success();
    for n in [&tie1, &tie2, &late] {
        lab.assert_stopped_and_clean(n, None);
    }

    // As lxc-autostart, -L lists what autostart would do: a running
    // container is not started again, so it is not listed.
    lab.start(&tie2);
    assert_eq!(
        list(&[]),
        [entry(&tie1, 0), entry(&late, 0)],
        "-L with {tie2} running"
    );
}

/// `autostart -A` (lxc-autostart's --ignore-auto) selects containers
/// without `lxc.start.auto` too; with -a, every container whatever its
/// group.
#[test]
pub fn autostart_ignore_auto_acts_on_every_container() {
    if !require_root("autostart_ignore_auto_acts_on_every_container") {
        return;
    }
    let lab = Lab::new();
    let auto = lab.name("auto");
    lab.create_with(&auto, "lxc.start.auto = 1\nlxc.start.order = 2\n");
    let manual = lab.name("manual");
    lab.create_with(&manual, "lxc.start.order = 1\n");
    let web = lab.name("web");
    lab.create_with(&web, "lxc.group = web\n");
    let list = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["-L"];
        a.extend_from_slice(args);
        let out = lab.enclos("autostart", &a).success();
        out.stdout.lines().map(str::to_string).collect()
    };
    assert_eq!(list(&[]), [format!("{auto} 0")]);
    assert_eq!(list(&["-A"]), [format!("{manual} 0"), format!("{auto} 0")]);
    assert_eq!(
        list(&["--ignore-auto", "-a"]),
        [
            format!("{web} 0"),
            format!("{manual} 0"),
            format!("{auto} 0")
        ]
    );
    lab.enclos("autostart", &["-A"]).success();
    for n in [&manual, &auto] {
        assert_eq!(lab.state(n), "RUNNING", "{n}");
    }
    assert_eq!(lab.state(&web), "STOPPED");
    lab.enclos("autostart", &["-A", "-a", "-k"]).success();
    for n in [&manual, &auto, &web] {
        lab.assert_stopped_and_clean(n, None);
    }
}
