//! cgrulesengd and cgclassify by rule, as a user runs them: a rules file,
//! the daemon in the foreground, processes started by a user or under a
//! command name, and where /proc/PID/cgroup says they are.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use enclos_tests::lab::{cg_delete_tree, poll, run, wait_deadline, SETTLE};
use enclos_tests::{enclos_bin, require_root};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A child process killed and reaped on drop.
struct Proc(Child);

impl Proc {
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The test's groups, under one top group in memory and cpu, removed on
/// drop with whatever is in them.
struct Top(String);

impl Drop for Top {
    fn drop(&mut self) {
        cg_delete_tree(&["memory", "cpu"], &self.0);
    }
}

/// A system user made for the test, removed on drop.
struct User(String);

impl User {
    fn new(name: &str) -> User {
        let out = run({
            let mut c = Command::new("useradd");
            c.args(["-M", "-r", "-s", "/bin/false", name]);
            c
        });
        assert!(out.ok(), "useradd {name}: {out:#?}");
        User(name.to_string())
    }

    fn uid(&self) -> u32 {
        enclos_cgroupfs::user_id(&self.0).expect("the new user's uid")
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

/// The daemon in the foreground, logging to a file in `dir`.
fn start_daemon(dir: &Path, rules: &str) -> (Proc, PathBuf) {
    std::fs::write(dir.join("cgrules.conf"), rules).unwrap();
    let log = dir.join("log");
    let child = Command::new(enclos_bin())
        .args(["cg", "rulesengd", "--nodaemon", "-vv", "-f"])
        .arg(&log)
        .arg("--rules")
        .arg(dir.join("cgrules.conf"))
        .arg("--rules-dir")
        .arg(dir.join("cgrules.d"))
        .arg("--sticky-file")
        .arg(dir.join("sticky"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start cgrulesengd");
    let started = poll(SETTLE, || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("started"))
    });
    assert!(
        started.is_some(),
        "the daemon did not start: {:?}",
        std::fs::read_to_string(&log)
    );
    (Proc(child), log)
}

/// SIGTERM, then the daemon must exit 0 on its own.
fn stop_daemon(mut d: Proc, log: &Path) {
    kill(Pid::from_raw(d.pid()), Signal::SIGTERM).unwrap();
    let (status, timed_out) = wait_deadline(&mut d.0, SETTLE);
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(!timed_out, "the daemon ignored SIGTERM: {log}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

/// The group of `pid` in `controller`, from /proc/PID/cgroup: the v1
/// line that names the controller, else the v2 line (`0::/path`).
fn group_of(pid: i32, controller: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let line = |want: &dyn Fn(&str) -> bool| {
        text.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            want(ctrls).then(|| path.to_string())
        })
    };
    line(&|ctrls| ctrls.split(',').any(|c| c == controller)).or_else(|| line(&|c| c.is_empty()))
}

fn wait_group(pid: i32, controller: &str, want: &str) -> String {
    poll(Duration::from_secs(5), || {
        group_of(pid, controller).filter(|g| g == want)
    })
    .unwrap_or_else(|| group_of(pid, controller).unwrap_or_default())
}

#[test]
fn a_process_of_the_rules_user_lands_in_its_template_group() {
    if !require_root("a_process_of_the_rules_user_lands_in_its_template_group") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let top = Top(format!("enclos-test-rules-u{}", std::process::id()));
    let user = User::new(&format!("enclosrt{}", std::process::id()));
    let rules = format!("# the test's user\n{} memory,cpu {}/%u-%U\n", user.0, top.0);
    let (daemon, log) = start_daemon(tmp.path(), &rules);
    let sleeper = Proc(
        Command::new("sleep")
            .arg("60")
            .uid(user.uid())
            .spawn()
            .expect("sleep as the test user"),
    );
    let want = format!("/{}/{}-{}", top.0, user.0, user.uid());
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        wait_group(sleeper.pid(), "memory", &want),
        want,
        "{}",
        log_text()
    );
    assert_eq!(
        group_of(sleeper.pid(), "cpu").as_deref(),
        Some(want.as_str())
    );
    // Root's processes match no rule and stay where they are.
    let mine = Proc(Command::new("sleep").arg("60").spawn().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(group_of(mine.pid(), "memory"), Some(want.clone()));
    stop_daemon(daemon, &log);
}

#[test]
fn a_command_rule_moves_it_unless_cgexec_made_it_sticky() {
    if !require_root("a_command_rule_moves_it_unless_cgexec_made_it_sticky") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let top = Top(format!("enclos-test-rules-p{}", std::process::id()));
    let name = format!("ensleep{}", std::process::id());
    let cmd = tmp.path().join(&name);
    std::fs::copy("/bin/sleep", &cmd).unwrap();
    let rules = format!("*:{name} memory {}/%p\n% cpu {}/cpu-%p\n", top.0, top.0);
    let (daemon, log) = start_daemon(tmp.path(), &rules);
    let moved = Proc(Command::new(&cmd).arg("60").spawn().unwrap());
    let want = format!("/{}/{name}", top.0);
    assert_eq!(wait_group(moved.pid(), "memory", &want), want);
    let cpu = format!("/{}/cpu-{name}", top.0);
    assert_eq!(
        wait_group(moved.pid(), "cpu", &cpu),
        cpu,
        "the % line applies too"
    );

    let stay = format!("{}/stay", top.0);
    run({
        let mut c = Command::new(enclos_bin());
        c.args(["cg", "create", "-g", &format!("memory:{stay}")]);
        c
    })
    .success();
    let sticky = Proc(
        Command::new(enclos_bin())
            .args(["cg", "exec", "--sticky", "--sticky-file"])
            .arg(tmp.path().join("sticky"))
            .args(["-g", &format!("memory:{stay}")])
            .arg(&cmd)
            .arg("60")
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        group_of(sticky.pid(), "memory"),
        Some(format!("/{stay}")),
        "{:?}",
        std::fs::read_to_string(&log)
    );
    stop_daemon(daemon, &log);
}

#[test]
fn cgclassify_without_a_group_follows_the_rules() {
    if !require_root("cgclassify_without_a_group_follows_the_rules") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let top = Top(format!("enclos-test-rules-c{}", std::process::id()));
    let rules = tmp.path().join("cgrules.conf");
    std::fs::write(&rules, format!("root:sleep memory {}/%u/%p\n", top.0)).unwrap();
    let p = Proc(Command::new("sleep").arg("60").spawn().unwrap());
    run({
        let mut c = Command::new(enclos_bin());
        c.args(["cg", "classify", "--rules-dir"])
            .arg(tmp.path().join("cgrules.d"))
            .arg("--rules")
            .arg(&rules)
            .arg(p.pid().to_string());
        c
    })
    .success();
    assert_eq!(
        group_of(p.pid(), "memory"),
        Some(format!("/{}/root/sleep", top.0))
    );
    let bad = tmp.path().join("bad.conf");
    std::fs::write(&bad, "root memory\n").unwrap();
    let out = run({
        let mut c = Command::new(enclos_bin());
        c.args(["cg", "classify", "--rules"])
            .arg(&bad)
            .arg(p.pid().to_string());
        c
    });
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(&format!("{}:1:", bad.display())),
        "{}",
        out.stderr
    );
}

/// With a thousand rules the daemon's RSS stays under the issue's 5 MiB,
/// and each new process that the last rule names lands in its group. How
/// quickly is measured by `cargo xtask bench compare cgroups --only
/// rulesengd`, not here.
#[test]
fn a_thousand_rules_keep_the_daemon_small_and_classifying() {
    if !require_root("a_thousand_rules_keep_the_daemon_small_and_classifying") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let top = Top(format!("enclos-test-rules-k{}", std::process::id()));
    let name = format!("enquick{}", std::process::id());
    let cmd = tmp.path().join(&name);
    std::fs::copy("/bin/sleep", &cmd).unwrap();
    // 999 rules that do not match, then the one that does.
    let mut rules: String = (0..999)
        .map(|i| format!("*:other{i} memory {}/o{i}\n", top.0))
        .collect();
    rules.push_str(&format!("*:{name} memory {}/quick\n", top.0));
    let (daemon, log) = start_daemon(tmp.path(), &rules);
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    assert!(rss_kib < 5 * 1024, "the daemon's RSS is {rss_kib} KiB");

    let want = format!("/{}/quick", top.0);
    for _ in 0..21 {
        let start = Instant::now();
        let p = Proc(Command::new(&cmd).arg("60").spawn().unwrap());
        while group_of(p.pid(), "memory").as_deref() != Some(want.as_str()) {
            assert!(
                start.elapsed() < SETTLE,
                "process {} was not moved: {:?}",
                p.pid(),
                std::fs::read_to_string(&log)
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    stop_daemon(daemon, &log);
}
