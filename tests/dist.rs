//! The Debian package that `cargo xtask dist` builds (`ENCLOS_DEB`, set by
//! `cargo xtask test`): its control fields, its file list, and what its
//! files do once unpacked (the links, the unit, the man pages found through
//! the compat directory, bash, zsh and fish completion of container names).
//! What they do once installed (apt, the unit at boot and shutdown, purge)
//! is checked in the lab VM: `cargo xtask lab vm --deb`.

use std::path::{Path, PathBuf};
use std::process::Command;

use enclos_tests::lab::{run, Out};
use enclos_tests::missing_feature;

/// The package under test, or `None` (a skip, or a failure under
/// `ENCLOS_REQUIRE_PRIVILEGED=1`) when `ENCLOS_DEB` is not set.
fn deb(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ENCLOS_DEB").filter(|d| !d.is_empty()) {
        Some(d) => {
            let d = PathBuf::from(d);
            assert!(d.is_file(), "ENCLOS_DEB={} is not a file", d.display());
            Some(d)
        }
        None => {
            missing_feature(
                test,
                "ENCLOS_DEB is not set: run `cargo xtask dist` and set \
                 ENCLOS_DEB=target/dist/enclos_VERSION_ARCH.deb (cargo xtask test does)",
            );
            None
        }
    }
}

fn dpkg_deb(args: &[&str], deb: &Path) -> Out {
    let mut cmd = Command::new("dpkg-deb");
    cmd.args(args).arg(deb);
    run(cmd).success()
}

/// The value of control field `name`.
fn field(deb: &Path, name: &str) -> String {
    dpkg_deb(&["-f"], deb)
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} field in the control file of {}", deb.display()))
        .to_string()
}

/// The names `enclos compat list` prints (every link the package holds).
fn compat_names(root: &Path) -> Vec<String> {
    let mut cmd = Command::new(root.join("usr/bin/enclos"));
    cmd.args(["compat", "list"]);
    let out = run(cmd).success();
    out.lines().iter().map(|s| s.to_string()).collect()
}

#[test]
fn control_fields() {
    let Some(deb) = deb("control_fields") else {
        return;
    };
    assert_eq!(field(&deb, "Package"), "enclos");
    assert_eq!(field(&deb, "Version"), env!("CARGO_PKG_VERSION"));
    let arch = run({
        let mut c = Command::new("dpkg");
        c.arg("--print-architecture");
        c
    })
    .success();
    assert_eq!(field(&deb, "Architecture"), arch.stdout.trim());
    assert_eq!(
        deb.file_name().unwrap().to_string_lossy(),
        format!(
            "enclos_{}_{}.deb",
            env!("CARGO_PKG_VERSION"),
            arch.stdout.trim()
        )
    );
    let recommends = field(&deb, "Recommends");
    for p in ["busybox-static", "uidmap", "dnsmasq-base", "nftables"] {
        assert!(recommends.split(", ").any(|r| r == p), "{recommends}");
    }
    assert_eq!(field(&deb, "Suggests"), "lvm2, btrfs-progs");
    assert_eq!(field(&deb, "Section"), "admin");
    let size: u64 = field(&deb, "Installed-Size").parse().unwrap();
    assert!(
        size > 1000,
        "Installed-Size {size} KiB is less than the binary"
    );
    // The maintainer scripts and conffiles.
    let conffiles = dpkg_deb(&["-I"], &deb).stdout;
    for member in ["postinst", "prerm", "postrm", "conffiles", "md5sums"] {
        assert!(
            conffiles.contains(&format!(" {member}")),
            "no {member}:\n{conffiles}"
        );
    }
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-I").arg(&deb).arg("conffiles");
    let conffiles = run(cmd).success();
    assert_eq!(
        conffiles.lines(),
        ["/etc/enclos/default.conf", "/etc/enclos/enclos.conf"]
    );
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-I").arg(&deb).arg("postinst");
    let postinst = run(cmd).success();
    for unit in ["enclos-net.service", "enclos.service"] {
        assert!(
            postinst.stdout.contains(&format!("'{unit}'")),
            "postinst does not name {unit}:\n{}",
            postinst.stdout
        );
    }
    assert!(
        postinst
            .stdout
            .contains("deb-systemd-helper enable \"$unit\""),
        "{}",
        postinst.stdout
    );
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-I").arg(&deb).arg("prerm");
    let prerm = run(cmd).success();
    // The containers stop before the bridge goes.
    let stop = |unit: &str| {
        prerm
            .stdout
            .find(&format!("deb-systemd-invoke stop '{unit}'"))
            .unwrap_or_else(|| panic!("prerm does not stop {unit}:\n{}", prerm.stdout))
    };
    assert!(stop("enclos.service") < stop("enclos-net.service"));
}

#[test]
fn file_list() {
    let Some(deb) = deb("file_list") else {
        return;
    };
    let listing = dpkg_deb(&["-c"], &deb).stdout;
    // `-rwxr-xr-x root/root 123 2026-01-01 00:00 ./usr/bin/enclos [-> target]`
    let entries: Vec<(String, String, Option<String>)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f[1], "root/root", "{l}");
            (
                f[0].to_string(),
                f[5].trim_start_matches('.').to_string(),
                (f.get(6) == Some(&"->")).then(|| f[7].to_string()),
            )
        })
        .collect();
    let entry = |path: &str| {
        entries
            .iter()
            .find(|(_, p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
    };
    assert_eq!(entry("/usr/bin/enclos").0, "-rwxr-xr-x");
    assert_eq!(entry("/usr/libexec/enclos/enclos-user-nic").0, "-rwsr-xr-x");
    // Where a start from /usr/bin/enclos finds the trampoline of its
    // containers' init (../libexec/enclos/), never setuid.
    assert_eq!(
        entry("/usr/libexec/enclos/enclos-init-exec").0,
        "-rwxr-xr-x"
    );
    assert_eq!(
        entry("/usr/libexec/enclos/compat/lxc-user-nic")
            .2
            .as_deref(),
        Some("../enclos-user-nic"),
        "lxc-user-nic leads to the setuid helper itself"
    );
    let in_usr_bin: Vec<&str> = entries
        .iter()
        .filter_map(|(_, p, _)| p.strip_prefix("/usr/bin/"))
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(in_usr_bin, ["enclos"], "only enclos itself is in /usr/bin");

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(&deb).arg(dir.path());
    run(cmd).success();
    let names = compat_names(dir.path());
    assert!(names.iter().any(|n| n == "lxc-checkconfig"), "{names:?}");
    for name in &names {
        let link = entry(&format!("/usr/libexec/enclos/compat/{name}"));
        assert_eq!(link.2.as_deref(), Some("../../../bin/enclos"), "{name}");
        entry(&format!("/usr/share/enclos/man/man1/{name}.1.gz"));
    }
    for page in [
        "enclos",
        "enclos-start",
        "enclos-checkconfig",
        "enclos-cg-create",
    ] {
        assert_eq!(
            entry(&format!("/usr/share/man/man1/{page}.1.gz")).0,
            "-rw-r--r--"
        );
    }
    for path in [
        "/usr/share/bash-completion/completions/enclos",
        "/usr/share/zsh/vendor-completions/_enclos",
        "/usr/share/fish/vendor_completions.d/enclos.fish",
        "/etc/enclos/default.conf",
        "/etc/enclos/enclos.conf",
        "/lib/systemd/system/enclos.service",
        "/lib/systemd/system/enclos-net.service",
        "/usr/share/doc/enclos/copyright",
        "/usr/share/doc/enclos/changelog.gz",
    ] {
        assert_eq!(entry(path).0, "-rw-r--r--", "{path}");
    }
    // No gen-* leftovers of the staging.
    assert!(
        !entries.iter().any(|(_, p, _)| p.contains("gen-")),
        "{listing}"
    );
}

#[test]
fn unpacked_files_work() {
    let Some(deb) = deb("unpacked_files_work") else {
        return;
    };
    let dir = unpacked_with_containers(&deb);
    let root = dir.path();
    assert_units_and_default_config(root);

    // A compat link runs as its tool.
    let mut cmd = Command::new(root.join("usr/libexec/enclos/compat/lxc-checkconfig"));
    cmd.args(["--format", "json"]);
    let out = run(cmd);
    assert!(
        out.stdout.contains("\"feature\": \"overlay\""),
        "{}",
        out.stdout
    );
    assert_bash_completes_names(root);
    assert_man_finds_compat_pages(root);
}

/// The systemd units and default.conf of the package unpacked in `root`.
fn assert_units_and_default_config(root: &Path) {
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/enclos.service")).unwrap();
    for line in [
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/usr/bin/enclos autostart",
        "ExecStop=/usr/bin/enclos autostart -a -A -s -t 30",
        "After=network.target remote-fs.target enclos-net.service",
        "Wants=network.target enclos-net.service",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line} in\n{unit}");
    }
    let net_unit =
        std::fs::read_to_string(root.join("lib/systemd/system/enclos-net.service")).unwrap();
    for line in [
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/usr/bin/enclos net up",
        "ExecStop=/usr/bin/enclos net down",
        "After=network-online.target",
        "Wants=network-online.target",
        "Before=enclos.service",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            net_unit.lines().any(|l| l == line),
            "no {line} in\n{net_unit}"
        );
    }
    // A refused `net down` at shutdown must not hold the shutdown up.
    assert!(
        net_unit.lines().any(|l| l.starts_with("TimeoutStopSec=")),
        "{net_unit}"
    );
    let default = std::fs::read_to_string(root.join("etc/enclos/default.conf")).unwrap();
    assert!(
        default.lines().any(|l| l == "lxc.net.0.type = empty"),
        "{default}"
    );
}

/// Bash completion of `enclos start -P DIR -n <TAB>` lists the containers
/// of `root/containers`.
fn assert_bash_completes_names(root: &Path) {
    let lxcpath = root.join("containers");
    let script = format!(
        "source {}; COMP_WORDS=(enclos start -P {} -n b); COMP_CWORD=5; \
         _enclos_with_names enclos b -n; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        root.join("usr/share/bash-completion/completions/enclos")
            .display(),
        lxcpath.display()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .env("PATH", path_first(&root.join("usr/bin")));
    assert_eq!(run(cmd).success().lines(), ["beta"]);
}

/// `man` finds the compat pages beside the compat directory on PATH.
fn assert_man_finds_compat_pages(root: &Path) {
    // The setuid helper's hand-written page, under both its names, says
    // where its rules are.
    assert!(root
        .join("usr/share/man/man1/enclos-user-nic.1.gz")
        .is_file());
    let page = root.join("usr/share/enclos/man/man1/lxc-user-nic.1.gz");
    let mut zcat = Command::new("zcat");
    zcat.arg(&page);
    let text = run(zcat).success().stdout;
    assert!(
        text.contains("/etc/enclos/enclos-usernet") && text.contains("/etc/lxc/lxc-usernet"),
        "{text}"
    );
    if Command::new("man").arg("--version").output().is_ok() {
        let mut cmd = Command::new("man");
        cmd.args(["-w", "lxc-attach"])
            .env_remove("MANPATH")
            .env("PATH", path_first(&root.join("usr/libexec/enclos/compat")));
        let out = run(cmd).success();
        assert!(
            out.stdout.trim().starts_with(root.to_str().unwrap()),
            "man -w lxc-attach: {}",
            out.stdout
        );
    } else {
        eprintln!("unpacked_files_work: no man on this host, the man lookup is not checked");
    }
}

/// The package's enclos (`/usr/bin`) finds the trampoline of its
/// containers' init in `../libexec/enclos/`: a container whose init is
/// `/proc/self/exe` runs that program again, which says on the console
/// that it is enclos's init's alone, and ends.
#[test]
fn unpacked_start_execs_init_through_the_libexec_program() {
    if !enclos_tests::require_root("unpacked_start_execs_init_through_the_libexec_program") {
        return;
    }
    let Some(deb) = deb("unpacked_start_execs_init_through_the_libexec_program") else {
        return;
    };
    let dir = unpacked_with_containers(&deb);
    let root = dir.path();
    let enclos = root.join("usr/bin/enclos");
    let lxcpath = root.join("containers");
    let lxcpath = lxcpath.to_str().unwrap();
    let mut create = Command::new(&enclos);
    create.args(["create", "-P", lxcpath, "-n", "selfexe", "-t", "busybox"]);
    run(create).success();
    let log = root.join("console.log");
    let config = root.join("containers/selfexe/config");
    let mut keys = std::fs::read_to_string(&config).unwrap();
    keys.push_str(&format!(
        "lxc.init.cmd = /proc/self/exe\nlxc.console.logfile = {}\n",
        log.display()
    ));
    std::fs::write(&config, keys).unwrap();
    let mut start = Command::new(&enclos);
    start.args(["start", "-P", lxcpath, "-n", "selfexe"]);
    let started = run(start);
    let state = || {
        let mut info = Command::new(&enclos);
        info.args(["info", "-P", lxcpath, "-n", "selfexe", "-s"]);
        run(info).stdout
    };
    let stopped = enclos_tests::lab::poll(std::time::Duration::from_secs(30), || {
        state().contains("STOPPED").then_some(())
    });
    if stopped.is_none() {
        let mut stop = Command::new(&enclos);
        stop.args(["stop", "-k", "-P", lxcpath, "-n", "selfexe"]);
        run(stop);
    }
    let mut destroy = Command::new(&enclos);
    destroy.args(["destroy", "-P", lxcpath, "-n", "selfexe"]);
    run(destroy).success();
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(stopped.is_some(), "the container kept running: {said:?}");
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    if apparmor {
        // There the start re-executes sealed: the init is the sealed
        // enclos, without a command.
        assert!(
            said.contains("Usage") && !said.contains("enclos-init-exec"),
            "{said:?}"
        );
        return;
    }
    assert!(
        said.contains("enclos-init-exec: started by enclos's init only"),
        "init did not run the package's trampoline (console: {said:?}; start: {started:#?})"
    );
}

/// `root` unpacked from the package, with two containers in
/// `root/containers`.
fn unpacked_with_containers(deb: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(deb).arg(dir.path());
    run(cmd).success();
    for name in ["alpha", "beta"] {
        let c = dir.path().join("containers").join(name);
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("config"), "").unwrap();
    }
    dir
}

/// A PATH with `dir` first, then the system's /usr/bin and /bin.
fn path_first(dir: &Path) -> String {
    format!("{}:/usr/bin:/bin", dir.display())
}

/// Whether `shell` runs here; a skip (or a failure under
/// `ENCLOS_REQUIRE_PRIVILEGED=1`) when it does not.
fn have_shell(test: &str, shell: &str) -> bool {
    let found = Command::new(shell)
        .args(["-c", "exit 0"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        missing_feature(
            test,
            &format!(
                "{shell} is not installed (cargo xtask dist installs it: apt-get install {shell})"
            ),
        );
    }
    found
}

#[test]
fn zsh_completes_container_names() {
    let Some(deb) = deb("zsh_completes_container_names") else {
        return;
    };
    if !have_shell("zsh_completes_container_names", "zsh") {
        return;
    }
    let dir = unpacked_with_containers(&deb);
    let root = dir.path();
    // The completion system's own _call_program; _describe (which needs a
    // completion in progress) prints what it would offer.
    let script = format!(
        "autoload -U _call_program; compdef() {{ :; }}; \
         _describe() {{ print -rl -- \"${{(@P)${{@[-1]}}}}\"; }}; \
         source {}; words=(enclos start -P {} -n ''); CURRENT=6; _enclos_containers",
        root.join("usr/share/zsh/vendor-completions/_enclos")
            .display(),
        root.join("containers").display()
    );
    let mut cmd = Command::new("zsh");
    cmd.args(["-f", "-c", &script])
        .env("PATH", path_first(&root.join("usr/bin")));
    assert_eq!(run(cmd).success().lines(), ["alpha", "beta"]);
    // Every -n and --name of the script calls it.
    let text =
        std::fs::read_to_string(root.join("usr/share/zsh/vendor-completions/_enclos")).unwrap();
    let start = text
        .lines()
        .skip_while(|l| *l != "(start)")
        .find(|l| l.starts_with("'-n+["))
        .expect("start's -n");
    assert!(start.contains(":NAME:_enclos_containers'"), "{start}");
}

#[test]
fn fish_completes_container_names() {
    let Some(deb) = deb("fish_completes_container_names") else {
        return;
    };
    if !have_shell("fish_completes_container_names", "fish") {
        return;
    }
    let dir = unpacked_with_containers(&deb);
    let root = dir.path();
    let script = format!(
        "source {}; complete -C 'enclos start -P {} -n '; echo ==; complete -C 'enclos st'",
        root.join("usr/share/fish/vendor_completions.d/enclos.fish")
            .display(),
        root.join("containers").display()
    );
    let mut cmd = Command::new("fish");
    cmd.args(["--no-config", "-c", &script])
        .current_dir(root)
        .env("PATH", path_first(&root.join("usr/bin")))
        .env("HOME", root);
    let out = run(cmd).success();
    let (names, subcommands) = out.stdout.split_once("==\n").expect("the separator");
    // The containers, and no file of the current directory.
    assert_eq!(names.lines().collect::<Vec<_>>(), ["alpha", "beta"]);
    let subcommands: Vec<&str> = subcommands
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(subcommands, ["start", "stop"]);
}
