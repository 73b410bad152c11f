//! A snapshot or an import killed in the middle leaves no snapN and no
//! container, and the next one removes its leftovers. Each test runs
//! itself again as the process to kill (`ENCLOS_SNAPSHOT_CHILD`,
//! `ENCLOS_IMPORT_CHILD`).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enclos_snapshot::{
    export, import, list, Error, ExportOptions, ExportSource, ImportOptions, NewSnapshot,
};

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

const IMPORT_CHILD: &str = "ENCLOS_IMPORT_CHILD";

#[test]
fn a_killed_import_leaves_no_container() {
    if let Ok(target) = std::env::var(IMPORT_CHILD) {
        // Reads the archive from stdin, which never ends.
        let _ = import(
            std::io::stdin(),
            Path::new(&target),
            &ImportOptions::default(),
            &mut |_| {},
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c1 = tmp.path().join("c1");
    fs::create_dir_all(c1.join("rootfs/etc")).unwrap();
    fs::write(c1.join("config"), "lxc.uts.name = c1\n").unwrap();
    for i in 0..64 {
        fs::write(c1.join(format!("rootfs/etc/f{i}")), vec![b'x'; 64 << 10]).unwrap();
    }
    let src = ExportSource {
        name: "c1".into(),
        dir: c1.clone(),
        config: c1.join("config"),
        rootfs: c1.join("rootfs"),
        snapshots: vec![],
    };
    let opts = ExportOptions {
        compression: enclos_snapshot::Compression::None,
        ..ExportOptions::default()
    };
    let mut archive = Vec::new();
    export(&src, &mut archive, &opts, &mut |_| {}).unwrap();
    let lxc = tmp.path().join("lxc");
    fs::create_dir(&lxc).unwrap();
    let target = lxc.join("c2");
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_killed_import_leaves_no_container",
            "--exact",
            "--nocapture",
        ])
        .env(IMPORT_CHILD, &target)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = proc.stdin.take().unwrap();
    stdin.write_all(&archive[..archive.len() / 2]).unwrap();
    let start = Instant::now();
    while !lxc.join(".c2.partial/rootfs/etc/f1").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the import never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    proc.kill().unwrap();
    proc.wait().unwrap();
    drop(stdin);
    assert!(!target.exists(), "a killed import leaves no container");
    // The next import of the same name removes the leftovers and succeeds.
    let imported = import(
        &archive[..],
        &target,
        &ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(imported.dir, target);
    assert_eq!(
        fs::read(target.join("rootfs/etc/f63")).unwrap().len(),
        64 << 10
    );
    let names: Vec<_> = fs::read_dir(&lxc)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["c2"]);
}
