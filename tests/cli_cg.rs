//! The cg* commands as a user types them: bad input gets one clear error
//! line and exit code 1, and leaves nothing behind; links named after
//! libcgroup's tools behave as those tools.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rstest::rstest;

use enclos_tests::lab::cg_delete_tree;
use enclos_tests::{enclos_bin, require_root};

fn enclos(args: &[&str]) -> Output {
    Command::new(enclos_bin())
        .args(args)
        .output()
        .expect("run enclos")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The memory hierarchy's mount point (v1 memory mount, else the v2 one).
fn memory_root() -> PathBuf {
    let layout = enclos_cgroupfs::Layout::discover().unwrap();
    layout.resolve("memory").unwrap().mount_point.clone()
}

/// A memory group name unique to this test, removed on drop.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        Name(format!("enclos-test-cli-{tag}-{}", std::process::id()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        cg_delete_tree(&["memory"], &self.0);
    }
}

#[rstest]
#[case::unknown_controller(&["cg", "create", "-g", "nosuch:{g}"], "Unknown controller 'nosuch'")]
#[case::bad_spec(&["cg", "create", "-g", "{g}"], "expected <controllers>:<path>")]
#[case::dotdot(&["cg", "create", "-g", "memory:../{g}"], "'..' would leave the hierarchy")]
#[case::missing_group_delete(&["cg", "delete", "memory:{g}"], "does not exist")]
#[case::missing_group_get(&["cg", "get", "-r", "memory.limit_in_bytes", "{g}"], "does not exist")]
#[case::missing_group_set(&["cg", "set", "-r", "memory.limit_in_bytes=1", "{g}"], "does not exist")]
#[case::set_without_equals(&["cg", "set", "-r", "memory.limit_in_bytes", "{g}"], "expected name=value")]
#[case::get_all_of_missing(&["cg", "get", "{g}"], "does not exist")]
#[case::exec_missing_group(&["cg", "exec", "-g", "memory:{g}", "/bin/true"], "does not exist")]
#[case::classify_no_pid(&["cg", "classify", "-g", "memory:{g}", "999999999"], "No process with pid 999999999")]
#[case::apply_missing_file(&["cg", "apply", "-l", "/nonexistent/cgconfig.conf"], "/nonexistent/cgconfig.conf")]
#[case::apply_nothing(&["cg", "apply"], "No configuration given")]
#[case::delete_nothing(&["cg", "delete"], "No group given")]
#[case::unknown_flag(&["cg", "create", "--bogus"], "--bogus")]
fn bad_input_is_one_error_and_exit_1(#[case] args: &[&str], #[case] needle: &str) {
    let g = Name::new("bad");
    let args: Vec<String> = args.iter().map(|a| a.replace("{g}", &g.0)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = enclos(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    if !args.contains(&"--bogus") {
        assert_eq!(err.trim_end().lines().count(), 1, "one error line: {err}");
    }
    assert!(!memory_root().join(&g.0).exists(), "nothing may be created");
}

/// Owners and modes go through the cgroup library's parsers (one copy,
/// shared with cgconfig.conf's perm sections). A bad one stops cgcreate
/// before anything is made; no root needed, the arguments are refused
/// first. The CLI's old copy took a signed mode such as +775.
#[rstest]
#[case::signed_mode(&["-d", "+775"], "Invalid mode '+775': expected an octal number such as 644")]
#[case::mode_too_big(&["-f", "17777"], "Invalid mode '17777'")]
#[case::not_octal(&["-s", "680"], "Invalid mode '680'")]
#[case::unknown_user(&["-t", "enclos-no-such-user:"], "Unknown user 'enclos-no-such-user'")]
#[case::unknown_group(&["-a", ":enclos-no-such-group"], "Unknown group 'enclos-no-such-group'")]
fn bad_owner_or_mode_is_refused_before_anything(#[case] perm: &[&str], #[case] needle: &str) {
    let g = Name::new("perm");
    let spec = format!("memory:{}", g.0);
    let mut args = vec!["cg", "create", "-g", &spec];
    args.extend_from_slice(perm);
    let out = enclos(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    assert!(!memory_root().join(&g.0).exists(), "nothing may be created");
}

#[test]
fn kernel_refusal_exits_1_and_names_the_file() {
    if !require_root("kernel_refusal_exits_1_and_names_the_file") {
        return;
    }
    let g = Name::new("refuse");
    assert!(enclos(&["cg", "create", "-g", &format!("memory:{}", g.0)])
        .status
        .success());
    let key = if memory_root()
        .join(&g.0)
        .join("memory.limit_in_bytes")
        .exists()
    {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    let out = enclos(&["cg", "set", "-r", &format!("{key}=lots"), &g.0]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&memory_root().join(&g.0).join(key).display().to_string()),
        "{err}"
    );
    assert!(err.contains("Invalid argument"), "{err}");
}

#[test]
fn malformed_cgconfig_creates_nothing() {
    let g = Name::new("conf");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cgconfig.conf");
    std::fs::write(
        &file,
        format!("group {} {{\n  memory {{\n    memory.limit_in_bytes = 40000;\n  }}\n  nosuch {{ }}\n}}\n", g.0),
    )
    .unwrap();
    let out = enclos(&["cg", "apply", "-l", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("nosuch"), "{err}");
    assert!(
        !memory_root().join(&g.0).exists(),
        "a failed apply leaves nothing"
    );
}

#[test]
fn tool_links_dispatch_on_their_name() {
    if !require_root("tool_links_dispatch_on_their_name") {
        return;
    }
    let g = Name::new("links");
    let dir = tempfile::tempdir().unwrap();
    let out = enclos(&["compat", "install", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tool = |name: &str| -> PathBuf { dir.path().join(name) };
    for name in [
        "cgcreate",
        "cgexec",
        "cgdelete",
        "cgget",
        "cgset",
        "lscgroup",
        "cgconfigparser",
        "cgclassify",
    ] {
        assert_eq!(
            std::fs::read_link(tool(name)).unwrap(),
            enclos_bin().canonicalize().unwrap()
        );
    }
    let run = |p: &Path, args: &[&str]| Command::new(p).args(args).output().unwrap();
    let spec = format!("memory:{}", g.0);
    assert!(run(&tool("cgcreate"), &["-g", &spec]).status.success());
    assert!(memory_root().join(&g.0).is_dir());
    let out = run(&tool("cgexec"), &["-g", &spec, "cat", "/proc/self/cgroup"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("/{}", g.0)));
    let out = run(&tool("lscgroup"), &["-g", &spec]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.ends_with(&format!(":/{}/", g.0))));
    let out = run(&tool("cgget"), &["-n", "-v", "-r", "cgroup.procs", &g.0]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // libcgroup's tools exit 1 on bad usage too, not clap's 2.
    assert_eq!(run(&tool("cgcreate"), &[]).status.code(), Some(1));
    assert!(run(&tool("cgdelete"), &[&spec]).status.success());
    assert!(!memory_root().join(&g.0).exists());
    // Installing again is a no-op; a foreign file is not replaced.
    assert!(enclos(&["compat", "install", dir.path().to_str().unwrap()])
        .status
        .success());
    std::fs::remove_file(tool("cgget")).unwrap();
    std::fs::write(tool("cgget"), "#!/bin/sh\n").unwrap();
    let out = enclos(&["compat", "install", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--force"));
}

#[test]
fn json_listing_and_tree() {
    if !require_root("json_listing_and_tree") {
        return;
    }
    let g = Name::new("json");
    assert!(enclos(&["cg", "create", "-g", &format!("memory:{}", g.0)])
        .status
        .success());
    let out = enclos(&[
        "cg",
        "list",
        "-g",
        &format!("memory:{}", g.0),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["path"], format!("/{}", g.0));
    let out = enclos(&["cg", "tree", "-g", "memory", &g.0]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("memory:/{}", g.0)), "{text}");
    let out = enclos(&["cg", "get", "-r", "cgroup.procs", "--format", "json", &g.0]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["values"][0]["key"], "cgroup.procs");
}

/// A process that is killed on drop, in case the test fails before.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn populated_group_is_refused_with_the_flags_then_killed() {
    if !require_root("populated_group_is_refused_with_the_flags_then_killed") {
        return;
    }
    let g = Name::new("populated");
    let spec = format!("memory:{}", g.0);
    assert!(enclos(&["cg", "create", "-g", &spec]).status.success());
    let mut child = Child(
        Command::new(enclos_bin())
            .args(["cg", "exec", "-g", &spec, "sleep", "1000"])
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id().to_string();
    let procs = memory_root().join(&g.0).join("cgroup.procs");
    // cgexec moves itself before it execs sleep: wait (up to a minute)
    // for it to be there.
    let placed = || {
        std::fs::read_to_string(&procs)
            .unwrap()
            .lines()
            .any(|l| l == pid)
    };
    for _ in 0..6000 {
        if placed() {
            break;
        }
        assert!(child.0.try_wait().unwrap().is_none(), "cgexec exited");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(placed(), "cgexec never showed in {}", procs.display());
    let out = enclos(&["cg", "delete", &spec]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "Cannot delete cgroup {spec_name}: Cgroup {spec_name} still holds 1 process(es) (pids {pid})",
            spec_name = format!("memory:/{}", g.0)
        )),
        "{err}"
    );
    assert!(
        err.contains("(--move moves them, --kill kills them)"),
        "{err}"
    );
    assert!(memory_root().join(&g.0).is_dir());
    let out = enclos(&["cg", "delete", "--kill", &spec]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!memory_root().join(&g.0).exists());
    let status = child.0.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}
