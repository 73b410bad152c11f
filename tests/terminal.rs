//! The interactive commands at a real terminal: attach, console, execute
//! and `start -F` run on a pty this test allocates (the command is the
//! session leader and the pty its controlling terminal, as in an xterm),
//! and the test types as a person would and reads what comes back, with
//! bounded waits only. Also run through the lxc-attach and lxc-console
//! names. And what attach gives the attached process, as the host sees it:
//! its supplementary groups and its capabilities under `lxc.cap.keep`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{kill, Signal};
use nix::sys::termios::{tcgetattr, LocalFlags};
use nix::unistd::Pid;
use rstest::rstest;

use enclos_tests::lab::*;
use enclos_tests::{enclos_bin, require_root};

// ---------------------------------------------------------------------------
// A terminal the test holds
// ---------------------------------------------------------------------------

/// A command running on a pty: the test holds the master (the keyboard and
/// the screen) and a slave (to read the terminal's mode).
struct Term {
    master: File,
    slave: OwnedFd,
    child: Child,
    /// Everything the screen showed so far.
    screen: String,
    /// Where the next `expect` starts looking.
    pos: usize,
}

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// TIOCSCTTY on stdin, for `pre_exec`.
fn take_controlling_tty() -> std::io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value; fd 0 is the pty slave.
    let r = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Term {
    /// Runs `cmd` on a new pty of `rows` x `cols`, in a session of its own
    /// with the pty as its controlling terminal.
    fn spawn(mut cmd: Command, rows: u16, cols: u16) -> Term {
        let pty = openpty(Some(&winsize(rows, cols)), None).expect("openpty");
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .expect("close-on-exec");
        }
        let slave = pty.slave;
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap())
            .env("TERM", "vt100");
        // SAFETY: setsid and ioctl are async-signal-safe; nothing else runs
        // between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                take_controlling_tty()
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        Term {
            master: File::from(pty.master),
            slave,
            child,
            screen: String::new(),
            pos: 0,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Types `text` (a line ends with "\r", as the Enter key sends).
    fn send(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).expect("type");
    }

    /// Reads what the screen shows until `f` finds something in the text
    /// not yet consumed, or SETTLE passes (the test fails, with the screen).
    fn until<T>(&mut self, what: &str, mut f: impl FnMut(&str) -> Option<(T, usize)>) -> T {
        let deadline = Instant::now() + SETTLE;
        loop {
            if let Some((v, end)) = f(&self.screen[self.pos..]) {
                self.pos += end;
                return v;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited for {what}; the screen showed:\n{}",
                self.screen
            );
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            let ms = left.as_millis().min(500) as u16;
            if nix::poll::poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => self.screen.push_str(&String::from_utf8_lossy(&buf[..n])),
                // EIO: nothing holds the slave but us; keep waiting.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits for `needle` on the screen.
    fn expect(&mut self, needle: &str) {
        self.until(needle, |s| s.find(needle).map(|i| ((), i + needle.len())));
    }

    /// Waits for `start`, and returns what follows it up to `end`.
    fn between(&mut self, start: &str, end: &str) -> String {
        self.until(&format!("{start}...{end}"), |s| {
            let i = s.find(start)? + start.len();
            let j = s[i..].find(end)?;
            Some((s[i..i + j].to_string(), i + j + end.len()))
        })
    }

    /// Runs `cmd` at the shell and returns its output, framed by markers
    /// that the echo of the typed line does not contain.
    fn run(&mut self, cmd: &str) -> String {
        self.send(&format!("echo B\"\"EGIN; {cmd}; echo E\"\"ND\r"));
        self.between("BEGIN", "END").trim().to_string()
    }

    /// The exit status of the shell's last command.
    fn status(&mut self) -> String {
        self.send("s=$?; echo B\"\"EGIN; echo $s; echo E\"\"ND\r");
        self.between("BEGIN", "END").trim().to_string()
    }

    /// Closes the terminal, as closing an xterm does: the master and our
    /// slave go away.
    fn hang_up(&mut self) {
        self.master = File::open("/dev/null").expect("/dev/null");
        self.slave = File::open("/dev/null").expect("/dev/null").into();
    }

    /// Waits (bounded) for the command to end.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + SETTLE;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            // Keep the screen drained so the command never blocks on it.
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            if nix::poll::poll(&mut fds, PollTimeout::from(100u16)).unwrap_or(0) > 0 {
                let mut buf = [0u8; 4096];
                if let Ok(n) = self.master.read(&mut buf) {
                    self.screen.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
            assert!(
                Instant::now() < deadline,
                "the command did not end; the screen showed:\n{}",
                self.screen
            );
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads one winsize through the pointer.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0, "TIOCSWINSZ");
    }

    fn local_flags(&self) -> LocalFlags {
        tcgetattr(&self.slave).expect("tcgetattr").local_flags
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A directory with links named after LXC's tools to the enclos binary.
fn lxc_links() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["lxc-attach", "lxc-console"] {
        std::os::unix::fs::symlink(enclos_bin(), dir.path().join(name)).expect("symlink");
    }
    dir
}

/// The command `tool -P LXCPATH ARGS` through the enclos binary
/// (`attach`) or through a link with LXC's name (`lxc-attach`).
fn tool(lab: &Lab, links: &Path, tool: &str, args: &[&str]) -> Command {
    let mut c = match tool.strip_prefix("lxc-") {
        Some(_) => Command::new(links.join(tool)),
        None => {
            let mut c = Command::new(enclos_bin());
            c.arg(tool);
            c
        }
    };
    c.arg("-P").arg(lab.path()).args(args);
    c
}

/// The host pid of a process of container `name` whose command name is
/// `comm` (busybox runs some applets without exec, so not the cmdline).
fn container_process(name: &str, comm: &str) -> Option<i32> {
    cgroup_procs(name).into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
    })
}

// ---------------------------------------------------------------------------
// attach
// ---------------------------------------------------------------------------

#[rstest]
#[case::enclos_attach("attach")]
#[case::lxc_attach("lxc-attach")]
fn attach_at_a_terminal_gives_a_shell_on_a_pty_of_the_container(#[case] cmd: &str) {
    if !require_root("attach_at_a_terminal_gives_a_shell_on_a_pty_of_the_container") {
        return;
    }
    let lab = Lab::new();
    let links = lxc_links();
    let n = lab.running("tty");
    let mut t = Term::spawn(tool(&lab, links.path(), cmd, &["-n", &n]), 33, 101);
    t.expect("# ");
    // tty names a device that exists inside the container, and the shell
    // runs on it.
    let tty = t.run("tty");
    let pts = tty
        .strip_prefix("/dev/pts/")
        .unwrap_or_else(|| panic!("tty printed {tty:?}"));
    assert_eq!(t.run(&format!("test -c {tty} && echo Y\"\"ES")), "YES");
    let ps = t.run("ps -o pid,tty,comm");
    assert!(
        ps.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // busybox's ps names a tty by major,minor; pts/N is 136,N.
            f.get(1) == Some(&format!("136,{pts}").as_str()) && f.get(2) == Some(&"sh")
        }),
        "ps shows the shell on pts/{pts} (136,{pts}):\n{ps}"
    );
    // The window size at start, then after a resize.
    assert_eq!(t.run("stty size"), "33 101");
    t.resize(40, 120);
    let deadline = Instant::now() + SETTLE;
    while t.run("stty size") != "40 120" {
        assert!(Instant::now() < deadline, "{}", t.screen);
    }
    // The terminal is in raw mode while attached: the keys go through.
    assert!(!t.local_flags().contains(LocalFlags::ICANON));
    interrupt_keys_reach_the_command(&mut t, &n);
    t.send("exit 7\r");
    let st = t.wait();
    assert_eq!(st.code(), Some(7), "{}", t.screen);
    assert!(t
        .local_flags()
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
    for word in ["enclos:", "WARN", "Cannot", "rror", "can't access tty"] {
        assert!(
            !t.screen.contains(word),
            "{word:?} on the screen:\n{}",
            t.screen
        );
    }
}

/// Ctrl+C, Ctrl+\ and Ctrl+Z at our terminal reach a `sleep` in the
/// container, as the host sees it.
fn interrupt_keys_reach_the_command(t: &mut Term, name: &str) {
    for (key, code) in [("\x03", "130"), ("\x1c", "131")] {
        t.send("sleep 100\r");
        let pid = poll(SETTLE, || container_process(name, "sleep"))
            .unwrap_or_else(|| panic!("no sleep in the container:\n{}", t.screen));
        t.send(key);
        assert!(
            poll(SETTLE, || (!alive(pid)).then_some(())).is_some(),
            "key {key:?} did not end the sleep:\n{}",
            t.screen
        );
        assert_eq!(t.status(), code, "status after {key:?}");
    }
    t.send("sleep 100\r");
    let pid = poll(SETTLE, || container_process(name, "sleep")).expect("a sleep");
    t.send("\x1a");
    let stopped = poll(SETTLE, || {
        proc_status(pid, "State")
            .filter(|s| s.starts_with('T'))
            .map(drop)
    });
    assert!(
        stopped.is_some(),
        "Ctrl+Z did not stop the sleep:\n{}",
        t.screen
    );
    t.run("kill -9 %1");
    assert!(poll(SETTLE, || (!alive(pid)).then_some(())).is_some());
    // Until the shell has noted it, `exit` would refuse ("You have stopped
    // jobs").
    let deadline = Instant::now() + SETTLE;
    while t.run("jobs").contains("Stopped") {
        assert!(Instant::now() < deadline, "{}", t.screen);
    }
}

#[test]
fn attach_at_a_terminal_reports_a_shell_killed_by_a_signal_as_128_plus_it() {
    if !require_root("attach_at_a_terminal_reports_a_shell_killed_by_a_signal_as_128_plus_it") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("ttykill");
    let mut t = Term::spawn(lab.cmd("attach", &["-n", &n]), 24, 80);
    t.expect("# ");
    t.send("kill -9 $$\r");
    assert_eq!(t.wait().code(), Some(137), "{}", t.screen);
    assert!(t
        .local_flags()
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
}

#[rstest]
#[case::sigterm(Signal::SIGTERM)]
#[case::sighup(Signal::SIGHUP)]
fn attach_killed_restores_the_terminal(#[case] sig: Signal) {
    if !require_root("attach_killed_restores_the_terminal") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("ttysig");
    let mut t = Term::spawn(lab.cmd("attach", &["-n", &n]), 24, 80);
    t.expect("# ");
    let shell = container_process(&n, "sh").expect("the shell, seen from the host");
    assert!(
        !t.local_flags().contains(LocalFlags::ICANON),
        "raw while attached"
    );
    kill(t.pid(), sig).expect("signal attach");
    let st = t.wait();
    assert_eq!(st.code(), Some(128 + sig as i32), "{}", t.screen);
    let flags = t.local_flags();
    assert!(
        flags.contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "terminal restored: {flags:?}"
    );
    // The session was hung up: the shell in the container is gone.
    assert!(
        poll(SETTLE, || (!alive(shell)).then_some(())).is_some(),
        "the attached shell still runs"
    );
}

#[test]
fn attach_ends_when_our_terminal_hangs_up() {
    if !require_root("attach_ends_when_our_terminal_hangs_up") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("ttyeof");
    let mut t = Term::spawn(lab.cmd("attach", &["-n", &n]), 24, 80);
    t.expect("# ");
    let shell = container_process(&n, "sh").expect("the shell, seen from the host");
    t.hang_up();
    let ended = poll(SETTLE, || t.child.try_wait().ok().flatten());
    assert!(
        ended.is_some(),
        "attach still runs after its terminal hung up"
    );
    assert!(
        poll(SETTLE, || (!alive(shell)).then_some(())).is_some(),
        "the attached shell still runs"
    );
}

// ---------------------------------------------------------------------------
// console, execute, start -F
// ---------------------------------------------------------------------------

#[rstest]
#[case::enclos_console("console")]
#[case::lxc_console("lxc-console")]
fn console_on_tty1_gets_a_login_prompt_and_leaves_with_ctrl_a_q(#[case] cmd: &str) {
    if !require_root("console_on_tty1_gets_a_login_prompt_and_leaves_with_ctrl_a_q") {
        return;
    }
    let lab = Lab::new();
    let links = lxc_links();
    let n = lab.running("cons");
    let mut t = Term::spawn(
        tool(&lab, links.path(), cmd, &["-n", &n, "-t", "1"]),
        24,
        80,
    );
    t.expect("Ctrl+a q");
    t.send("\r");
    t.expect("login:");
    t.send("\x01q");
    let st = t.wait();
    assert_eq!(st.code(), Some(0), "{}", t.screen);
    assert!(t
        .local_flags()
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
    assert_eq!(lab.state(&n), "RUNNING");
}

#[test]
fn execute_runs_an_interactive_shell() {
    if !require_root("execute_runs_an_interactive_shell") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("exe");
    let mut t = Term::spawn(lab.cmd("execute", &["-n", &n, "--", "/bin/sh"]), 24, 80);
    t.expect("# ");
    assert_eq!(t.run("hostname"), n);
    assert_eq!(t.run("stty size"), "24 80");
    t.send("exit 5\r");
    assert_eq!(t.wait().code(), Some(5), "{}", t.screen);
    lab.assert_stopped_and_clean(&n, None);
}

#[test]
fn start_in_the_foreground_puts_the_console_on_the_terminal() {
    if !require_root("start_in_the_foreground_puts_the_console_on_the_terminal") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("fg");
    let mut t = Term::spawn(lab.cmd("start", &["-n", &n, "-F"]), 24, 80);
    // busybox init runs a getty on the console.
    t.send("\r");
    t.expect("login:");
    assert_eq!(lab.state(&n), "RUNNING");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
    t.wait();
    lab.assert_stopped_and_clean(&n, None);
}

#[test]
fn an_ephemeral_copy_in_the_foreground_vanishes_when_stopped() {
    if !require_root("an_ephemeral_copy_in_the_foreground_vanishes_when_stopped") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("fgorig");
    let eph = format!("{n}-eph");
    let mut t = Term::spawn(lab.cmd("copy", &["-e", "-F", "-n", &n, "-N", &eph]), 24, 80);
    t.send("\r");
    t.expect("login:");
    assert_eq!(lab.state(&eph), "RUNNING");
    lab.enclos("stop", &["-n", &eph, "-k"]).success();
    // The command was the monitor: its copy is gone once it ended.
    assert_eq!(t.wait().code(), Some(0), "{}", t.screen);
    assert!(
        !lab.path().join(&eph).exists(),
        "the copy's directory is left"
    );
    let listed = lab.enclos("ls", &[]).success();
    assert_eq!(listed.stdout.trim(), n, "{listed:#?}");
    lab.assert_stopped_and_clean(&n, None);
}

// ---------------------------------------------------------------------------
// What attach gives the attached process, as the host sees it
// ---------------------------------------------------------------------------

/// Starts `sleep 600` through attach with `flags` and returns its host pid.
fn attached_sleep(lab: &Lab, name: &str, flags: &[&str], groups: &[u32]) -> i32 {
    let mut args = vec!["-n", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"]);
    let mut cmd = lab.cmd("attach", &args);
    let groups: Vec<nix::unistd::Gid> = groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // SAFETY: setgroups is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || nix::unistd::setgroups(&groups).map_err(std::io::Error::from));
    }
    let out = run(cmd).success();
    let nspid: i32 = out.stdout.trim().parse().expect("a pid");
    host_pid(name, nspid).expect("the sleep, seen from the host")
}

#[rstest]
#[case::as_root(&[])]
#[case::uid_and_gid(&["-u", "1000", "-g", "1000"])]
#[case::gid_only(&["-g", "1000"])]
fn attach_leaves_the_callers_groups_behind(#[case] flags: &[&str]) {
    if !require_root("attach_leaves_the_callers_groups_behind") {
        return;
    }
    let lab = Lab::new();
    let n = lab.running("grp");
    // The caller has supplementary groups of its own.
    let pid = attached_sleep(&lab, &n, flags, &[4, 27, 100]);
    assert_eq!(
        proc_status(pid, "Groups").as_deref(),
        Some(""),
        "Groups of {pid}"
    );
}

#[test]
fn attach_keeps_only_the_capabilities_of_cap_keep() {
    if !require_root("attach_keeps_only_the_capabilities_of_cap_keep") {
        return;
    }
    let lab = Lab::new();
    let n = lab.create("capk");
    // The template's config drops some: clear that, then keep three.
    let config = lab.path().join(&n).join("config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("lxc.cap.drop =\nlxc.cap.keep = sys_admin setuid setgid\n");
    std::fs::write(&config, text).expect("write config");
    lab.start(&n);
    let pid = attached_sleep(&lab, &n, &[], &[]);
    // sys_admin (21), setuid (7), setgid (6).
    let want = format!("{:016x}", (1u64 << 21) | (1 << 7) | (1 << 6));
    assert_eq!(
        proc_status(pid, "CapBnd"),
        Some(want.clone()),
        "CapBnd of {pid}"
    );
    assert_eq!(proc_status(pid, "CapEff"), Some(want), "CapEff of {pid}");
}

// ---------------------------------------------------------------------------
// A user's own container at a terminal
// ---------------------------------------------------------------------------

/// Stops (kills) and destroys a user's container when the test ends.
struct UserContainer<'u>(&'u enclos_tests::user::TestUser, &'static str);

impl Drop for UserContainer<'_> {
    fn drop(&mut self) {
        let _ = self.0.enclos(&["stop", "-n", self.1, "-k"]);
        let _ = self.0.enclos(&["destroy", "-n", self.1, "-f"]);
    }
}

/// A user who is not root gets its console and ttys from the container's
/// own devpts: they work at a terminal (console, tty1, attach), they are
/// the container's root's and no one else may write them (not 0666), and
/// the host sees them as the container's root's (the mapped uid).
#[test]
fn a_users_container_has_its_own_console_and_ttys_at_a_terminal() {
    if !require_root("a_users_container_has_its_own_console_and_ttys_at_a_terminal") {
        return;
    }
    use enclos_tests::user::{TestUser, RANGE};
    use std::os::unix::fs::MetadataExt;
    let u = TestUser::new("tt");
    u.write(
        ".config/lxc/default.conf",
        &format!(
            "lxc.idmap = u 0 {s} {RANGE}\nlxc.idmap = g 0 {s} {RANGE}\n",
            s = u.subid
        ),
    );
    u.enclos(&["create", "-n", "np", "-t", "busybox"]).success();
    let _c = UserContainer(&u, "np");
    u.enclos(&["start", "-n", "np"]).success();
    let pid: i32 = u
        .enclos(&["info", "-n", "np", "-p", "-H"])
        .success()
        .stdout
        .trim()
        .parse()
        .unwrap();
    // As the host sees them: the mapped root's, group-writable at most.
    for dev in ["console", "tty1"] {
        let path = format!("/proc/{pid}/root/dev/{dev}");
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(meta.uid(), u.subid, "owner of /dev/{dev} on the host");
        assert_eq!(meta.mode() & 0o777, 0o620, "mode of /dev/{dev}");
    }
    // The console's getty and tty1's, through `console` at a terminal.
    for tty in ["0", "1"] {
        let mut t = Term::spawn(
            u.cmd(enclos_bin(), &["console", "-n", "np", "-t", tty]),
            24,
            80,
        );
        t.expect("Ctrl+a q");
        t.send("\r");
        t.expect("login:");
        t.send("\x01q");
        assert_eq!(t.wait().code(), Some(0), "console -t {tty}: {}", t.screen);
    }
    // Inside, as attach at a terminal sees them.
    let mut t = Term::spawn(u.cmd(enclos_bin(), &["attach", "-n", "np"]), 24, 80);
    t.expect("# ");
    assert_eq!(t.run("id -u"), "0");
    for dev in ["console", "tty1"] {
        let st = t.run(&format!("stat -c %a:%u /dev/{dev}"));
        assert_eq!(st, "620:0", "/dev/{dev} inside");
    }
    t.send("exit\r");
    assert_eq!(t.wait().code(), Some(0), "{}", t.screen);
    for word in ["enclos:", "WARN", "Cannot", "rror"] {
        assert!(
            !t.screen.contains(word),
            "{word:?} on the screen:\n{}",
            t.screen
        );
    }
    u.enclos(&["stop", "-n", "np"]).success();
}
