//! A snapshot killed in the middle leaves no snapN, and the next one
//! removes its leftovers. The test runs itself again as the process to
//! kill (`ENCLOS_SNAPSHOT_CHILD`).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use enclos_snapshot::{list, Error, NewSnapshot};

const CHILD: &str = "ENCLOS_SNAPSHOT_CHILD";

/// In the child: start a snapshot, write half of it, say so, and hang.
fn child(dir: &Path) {
    let s = NewSnapshot::begin(dir).unwrap();
    s.write_config("lxc.uts.name = c1\n").unwrap();
    fs::create_dir(s.dir().join("rootfs")).unwrap();
    fs::write(s.dir().join("rootfs/half"), "half\n").unwrap();
    fs::write(dir.join("ready"), "").unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_snapshot_leaves_no_snapn() {
    if let Ok(dir) = std::env::var(CHILD) {
        return child(Path::new(&dir));
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = tmp.path().join("c1");
    fs::create_dir(&c1).unwrap();
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_killed_snapshot_leaves_no_snapn",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, &c1)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !c1.join("ready").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the child never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // While it runs: not listed, and a second snapshot waits its turn.
    assert!(list(&c1).unwrap().is_empty());
    let busy = NewSnapshot::begin(&c1).unwrap_err();
    assert!(matches!(busy, Error::Busy { .. }), "{busy}");
    proc.kill().unwrap();
    proc.wait().unwrap();

    assert!(
        list(&c1).unwrap().is_empty(),
        "a killed snapshot is not listed"
    );
    assert!(c1.join("snaps/.snap0.partial/rootfs/half").exists());
    let next = NewSnapshot::begin(&c1).unwrap();
    assert_eq!(next.name(), "snap0");
    assert!(!next.dir().join("rootfs").exists(), "leftovers removed");
    next.write_config("lxc.uts.name = c1\n").unwrap();
    next.commit().unwrap();
    let names: Vec<_> = list(&c1).unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["snap0"]);
    assert_eq!(fs::read_dir(c1.join("snaps")).unwrap().count(), 1);
}
