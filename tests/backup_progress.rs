//! The progress of `export` and `import` as a user sees it: a byte bar
//! on a terminal (with its total: the tree to export, the archive file to
//! import), bytes and a spinner for a plain tar on standard input, and
//! nothing at all when standard error is not a terminal.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};

use enclos_tests::lab::*;
use enclos_tests::require_root;
use nix::pty::{openpty, Winsize};

/// A container with 8 MiB of data in `/root/data`.
fn container(lab: &Lab) -> String {
    let n = lab.create("prog");
    fs::write(
        lab.path().join(&n).join("rootfs/root/data"),
        (0..8u32 << 20)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    n
}

/// Runs `cmd` with standard error on a new pty (standard output and
/// input as given) and returns what reached the terminal; the command
/// must succeed.
fn on_terminal(mut cmd: Command) -> String {
    let size = Winsize {
        ws_row: 24,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    cmd.stderr(slave.try_clone().unwrap());
    let mut child = cmd.spawn().expect("spawn");
    drop(cmd);
    drop(slave);
    let mut master = File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last holder of the slave is gone.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let (status, timed_out) = wait_deadline(&mut child, COMMAND_TIMEOUT);
    let seen = reader.join().unwrap();
    assert!(
        !timed_out && status.is_some_and(|s| s.success()),
        "{status:?}: {seen}"
    );
    seen
}

#[test]
fn export_and_import_print_no_progress_when_not_on_a_terminal() {
    if !require_root("export_and_import_print_no_progress_when_not_on_a_terminal") {
        return;
    }
    let lab = Lab::new();
    let n = container(&lab);
    let file = lab.path().join("c.tar.zst");
    let out = lab
        .enclos("export", &["-n", &n, "-o", file.to_str().unwrap()])
        .success();
    assert_eq!(out.stderr, "", "nothing but the result: {out:#?}");
    let copy = lab.name("prog-file");
    let out = lab
        .enclos("import", &[file.to_str().unwrap(), "-n", &copy])
        .success();
    assert_eq!(out.stderr, "", "{out:#?}");
    let copy = lab.name("prog-stdin");
    let out = lab
        .cmd("import", &["-", "-n", &copy])
        .stdin(File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{out:?}");
    assert!(lab.path().join(&copy).join("rootfs/root/data").is_file());
}

#[test]
fn a_terminal_sees_a_byte_bar_with_its_total_or_a_byte_count() {
    if !require_root("a_terminal_sees_a_byte_bar_with_its_total_or_a_byte_count") {
        return;
    }
    let lab = Lab::new();
    let n = container(&lab);
    let file = lab.path().join("c.tar");
    let mut export = lab.cmd(
        "export",
        &["-n", &n, "-o", file.to_str().unwrap(), "--level", "0"],
    );
    export.stdin(Stdio::null()).stdout(Stdio::null());
    let seen = on_terminal(export);
    assert!(seen.contains("exporting ["), "a bar: {seen:?}");
    assert!(
        seen.contains("B/") && seen.contains(" MiB"),
        "bytes of a total: {seen:?}"
    );

    let copy = lab.name("prog-file");
    let mut import = lab.cmd("import", &[file.to_str().unwrap(), "-n", &copy]);
    import.stdin(Stdio::null()).stdout(Stdio::null());
    let seen = on_terminal(import);
    assert!(seen.contains("importing ["), "a bar: {seen:?}");
    let len = fs::metadata(&file).unwrap().len() as f64 / (1 << 20) as f64;
    assert!(
        seen.contains(&format!("/{len:.2} MiB")),
        "its total is the archive's size, {len:.2} MiB: {seen:?}"
    );

    // A plain tar of config and rootfs on standard input: no total.
    let plain = lab.path().join("plain.tar");
    let dir: &Path = &lab.path().join(&n);
    let tar = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(&plain)
        .args(["config", "rootfs"])
        .status()
        .unwrap();
    assert!(tar.success());
    let copy = lab.name("prog-stdin");
    let mut import = lab.cmd("import", &["-", "-n", &copy]);
    import
        .stdin(File::open(&plain).unwrap())
        .stdout(Stdio::null());
    let seen = on_terminal(import);
    assert!(seen.contains("importing "), "{seen:?}");
    assert!(
        !seen.contains("importing ["),
        "no bar without a total: {seen:?}"
    );
    assert!(seen.contains("MiB"), "the bytes so far: {seen:?}");
    assert!(lab.path().join(&copy).join("rootfs/root/data").is_file());
}
