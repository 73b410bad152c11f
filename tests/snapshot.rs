//! Snapshots and backups (the course's section 2.8) as a user runs them:
//! `snapshot` (lxc-snapshot) to take, list, restore and destroy, and
//! `export` / `import` to carry a container in a `.tar.zst`. Checked the
//! way a user checks them: `snaps/snap0/ts`, the file found again in the
//! restored container, the listing's text, the error's text and exit
//! code, and nothing left in the lxcpath after a failed import.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use enclos_tests::lab::*;
use enclos_tests::{enclos_bin, require_root};

/// Destroys the snapshots of the lab's containers before the lab
/// destroys them (a container with snapshots is not destroyed without
/// `-s`). Declare it after the [`Lab`], so that it drops first.
struct DropSnapshots<'a>(&'a Lab);

impl Drop for DropSnapshots<'_> {
    fn drop(&mut self) {
        let names = self
            .0
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for n in names {
            if self.0.path().join(&n).join("snaps").exists() {
                let _ = self.0.enclos("snapshot", &["-n", &n, "-d", "ALL"]);
            }
        }
    }
}

/// A stopped busybox container with `/root/marker` holding `text`.
fn container_with_marker(lab: &Lab, tag: &str, text: &str) -> String {
    let n = lab.create(tag);
    marker_write(lab, &n, text);
    n
}

fn marker(dir: &Path) -> PathBuf {
    dir.join("rootfs/root/marker")
}

fn marker_write(lab: &Lab, name: &str, text: &str) {
    let m = marker(&lab.path().join(name));
    fs::create_dir_all(m.parent().unwrap()).unwrap();
    fs::write(m, text).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The local date as `date` prints it in ts's format.
fn local_date() -> String {
    let out = Command::new("date").arg("+%Y:%m:%d").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The entries of a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The busybox template's seccomp profile of the container or snapshot
/// in `dir`: its own copy, named by its own config.
fn assert_own_profile(dir: &Path) {
    let cfg = read_config(&dir.join("config"));
    assert_eq!(
        cfg["lxc.seccomp.profile"],
        [dir.join("common.seccomp").display().to_string()]
    );
    assert!(read(&dir.join("common.seccomp")).contains("open_by_handle_at errno 1"));
}

#[test]
fn a_snapshot_is_snaps_snap0_with_config_rootfs_ts_and_comment() {
    if !require_root("a_snapshot_is_snaps_snap0_with_config_rootfs_ts_and_comment") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = container_with_marker(&lab, "snap", "before\n");
    let comment = lab.conf("comment.txt", "before the upgrade\n");
    let day = local_date();
    let out = lab
        .enclos("snapshot", &["-n", &n, "-c", comment.to_str().unwrap()])
        .success();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("full copy"),
        "a dir container's snapshot is a copy, and the user is told: {out:#?}"
    );

    let dir = lab.path().join(&n);
    let snap0 = dir.join("snaps/snap0");
    assert_eq!(
        entries(&snap0),
        ["comment", "common.seccomp", "config", "rootfs", "ts"]
    );
    let ts = read(&snap0.join("ts"));
    assert_eq!(
        ts.len(),
        19,
        "YYYY:MM:DD HH:MM:SS without a newline: {ts:?}"
    );
    assert!(
        ts.starts_with(&day),
        "{ts:?} is today, {day}, in local time"
    );
    let b = ts.as_bytes();
    assert!(
        [4, 7].iter().all(|&i| b[i] == b':') && b[10] == b' ' && b[13] == b':' && b[16] == b':',
        "{ts:?}"
    );
    assert_eq!(read(&snap0.join("comment")), "before the upgrade\n");
    assert_eq!(read(&marker(&snap0)), "before\n");
    let cfg = read_config(&snap0.join("config"));
    assert_eq!(
        cfg["lxc.rootfs.path"],
        [format!("dir:{}", snap0.join("rootfs").display())]
    );
    assert_eq!(
        cfg["lxc.uts.name"],
        [n.as_str()],
        "a snapshot keeps the name"
    );
    assert_own_profile(&snap0);

    // The next one is snap1, the listing shows both.
    let out = lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    assert_eq!(out.stderr, "", "-q: no warning");
    let ts1 = read(&dir.join("snaps/snap1/ts"));
    let snaps = dir.join("snaps");
    let list = lab.enclos("snapshot", &["-n", &n, "-L"]).success();
    assert_eq!(
        list.stdout,
        format!("snap0 ({s}) {ts}\nsnap1 ({s}) {ts1}\n", s = snaps.display())
    );
    let list = lab.enclos("snapshot", &["-n", &n, "-L", "-C"]).success();
    assert_eq!(
        list.stdout,
        format!(
            "snap0 ({s}) {ts}\nbefore the upgrade\nsnap1 ({s}) {ts1}\n",
            s = snaps.display()
        )
    );
    let json = lab
        .enclos("snapshot", &["-n", &n, "-L", "--format", "json"])
        .success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v[0]["name"], "snap0");
    assert_eq!(v[0]["timestamp"], ts.as_str());
    assert_eq!(v[0]["comment"], "before the upgrade\n");
    assert_eq!(v[1]["comment"], serde_json::Value::Null);
}

#[test]
fn restore_into_a_new_container_and_over_the_container_itself() {
    if !require_root("restore_into_a_new_container_and_over_the_container_itself") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = container_with_marker(&lab, "rst", "snapshotted\n");
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    marker_write(&lab, &n, "changed later\n");

    // The course's `lxc-snapshot -r snap0 -n lxc-bb -N lxc-bb-snap0`.
    let new = lab.name("rst-snap0");
    let out = lab
        .enclos("snapshot", &["-r", "snap0", "-n", &n, "-N", &new])
        .success();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    let new_dir = lab.path().join(&new);
    assert_eq!(read(&marker(&new_dir)), "snapshotted\n");
    let cfg = read_config(&new_dir.join("config"));
    assert_eq!(cfg["lxc.uts.name"], [new.as_str()]);
    assert_eq!(
        cfg["lxc.rootfs.path"],
        [format!("dir:{}", new_dir.join("rootfs").display())]
    );
    assert_own_profile(&new_dir);
    let ls = lab.enclos("ls", &["-1"]).success();
    assert_eq!(ls.lines(), [n.as_str(), new.as_str()]);
    // It runs as a container of its own, with the snapshot's file.
    lab.start(&new);
    let cat = lab.attach(&new, &["cat", "/root/marker"]).success();
    assert_eq!(cat.stdout, "snapshotted\n");
    let host = lab.attach(&new, &["hostname"]).success();
    assert_eq!(host.stdout.trim(), new);
    lab.enclos("stop", &["-n", &new, "-k"]).success();

    // Over the container itself: the file comes back, snapshots stay.
    lab.enclos("snapshot", &["-r", "snap0", "-n", &n]).success();
    let dir = lab.path().join(&n);
    assert_eq!(read(&marker(&dir)), "snapshotted\n");
    assert_eq!(
        read_config(&dir.join("config"))["lxc.rootfs.path"],
        [format!("dir:{}", dir.join("rootfs").display())]
    );
    assert_eq!(entries(&dir.join("snaps")), ["snap0"]);
    let hidden: Vec<String> = entries(&dir)
        .into_iter()
        .filter(|e| e.starts_with('.') && e != ".enclos")
        .collect();
    assert_eq!(hidden, Vec::<String>::new(), "no staging left");

    // A name taken, a snapshot that is not there.
    let out = lab.enclos("snapshot", &["-r", "snap0", "-n", &n, "-N", &new]);
    assert_one_error_line(&out, &format!("Container '{new}' already exists"));
    assert_eq!(read(&marker(&new_dir)), "snapshotted\n");
    let out = lab.enclos("snapshot", &["-r", "snap7", "-n", &n, "-N", "other"]);
    assert_one_error_line(&out, "Snapshot snap7 of ");
    assert!(!lab.path().join("other").exists());
}

#[test]
fn destroy_one_snapshot_then_all() {
    if !require_root("destroy_one_snapshot_then_all") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = lab.create("del");
    for _ in 0..3 {
        lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    }
    let snaps = lab.path().join(&n).join("snaps");
    lab.enclos("snapshot", &["-n", &n, "-d", "snap1"]).success();
    assert_eq!(entries(&snaps), ["snap0", "snap2"]);
    // The gap is taken again, as LXC numbers.
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    assert_eq!(entries(&snaps), ["snap0", "snap1", "snap2"]);
    let out = lab.enclos("snapshot", &["-n", &n, "-d", "snap9"]);
    assert_one_error_line(&out, "Snapshot snap9 of ");
    lab.enclos("snapshot", &["-n", &n, "-d", "ALL"]).success();
    assert!(!snaps.exists(), "the empty snaps directory goes too");
    let list = lab.enclos("snapshot", &["-n", &n, "-L"]).success();
    assert_eq!(list.stdout, "No snapshots\n");
    assert!(lab.path().join(&n).join("rootfs/bin/busybox").exists());
}

/// A small tmpfs mounted on `at` for a test, unmounted when dropped.
struct SmallTmpfs(PathBuf);

impl SmallTmpfs {
    fn mount(at: &Path, size: &str) -> SmallTmpfs {
        fs::create_dir_all(at).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={size}").as_str()),
        )
        .unwrap();
        SmallTmpfs(at.to_path_buf())
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A running container's snapshot is taken frozen and the container
/// thawed after it, also when the snapshot fails; a frozen one is taken
/// as it is and stays frozen. An export still wants it stopped or frozen.
#[test]
fn a_running_container_is_snapshotted_frozen_and_thawed_again() {
    if !require_root("a_running_container_is_snapshotted_frozen_and_thawed_again") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = lab.running("busy");
    let dir = lab.path().join(&n);
    lab.attach(&n, &["sh", "-c", "echo before > /root/before"])
        .success();
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    assert_eq!(
        read(&dir.join("snaps/snap0/rootfs/root/before")),
        "before\n"
    );
    assert_eq!(lab.state(&n), "RUNNING");
    lab.attach(&n, &["true"]).success();

    // A snapshot that fails while the container is frozen (its disk
    // full) leaves no snapN and the container running.
    {
        let _full = SmallTmpfs::mount(&dir.join("snaps"), "64k");
        let out = lab.enclos("snapshot", &["-n", &n]);
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert!(out.stderr.contains("No space left"), "{}", out.stderr);
        assert_eq!(lab.state(&n), "RUNNING");
        assert_eq!(entries(&dir.join("snaps")), Vec::<String>::new());
    }
    let list = lab.enclos("snapshot", &["-n", &n, "-L"]).success();
    assert_eq!(list.lines().len(), 1, "{}", list.stdout);

    lab.enclos("freeze", &["-n", &n]).success();
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    assert_eq!(lab.state(&n), "FROZEN", "a frozen container stays frozen");
    assert!(dir.join("snaps/snap1/rootfs/root/before").is_file());
    let out = lab.enclos("export", &["-n", &n, "-o", "-"]);
    assert_eq!(out.code, Some(0), "a frozen container exports: {out:#?}");
    lab.enclos("unfreeze", &["-n", &n]).success();
    let out = lab.enclos("export", &["-n", &n, "-o", "-"]);
    assert_one_error_line(
        &out,
        &format!("Container '{n}' is RUNNING; stop or freeze it"),
    );
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}

/// An overlay container's snapshot while it runs: its upper layer copied
/// while frozen, with the file written just before, and the container
/// running afterwards.
#[test]
fn a_running_overlay_container_is_snapshotted_frozen() {
    if !require_root("a_running_overlay_container_is_snapshotted_frozen") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = lab.name("ov");
    lab.enclos("create", &["-n", &n, "-t", "busybox", "-B", "overlay"])
        .success();
    lab.start(&n);
    lab.attach(&n, &["sh", "-c", "echo before > /root/before"])
        .success();
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    let snap0 = lab.path().join(&n).join("snaps/snap0");
    assert_eq!(read(&snap0.join("delta0/root/before")), "before\n");
    assert_eq!(lab.state(&n), "RUNNING");
    lab.attach(&n, &["true"]).success();
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}

#[test]
fn lxc_snapshot_link_answers_with_its_name() {
    if !require_root("lxc_snapshot_link_answers_with_its_name") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = lab.create("link");
    let bin = tempfile::tempdir().unwrap();
    let link = bin.path().join("lxc-snapshot");
    std::os::unix::fs::symlink(enclos_bin(), &link).unwrap();
    let lxc = |args: &[&str]| {
        let mut c = Command::new(&link);
        c.arg("-P").arg(lab.path()).args(args);
        run(c)
    };
    assert_eq!(lxc(&["-n", &n, "-L"]).success().stdout, "No snapshots\n");
    lxc(&["-n", &n, "-q"]).success();
    assert!(lab.path().join(&n).join("snaps/snap0/rootfs").is_dir());
    let out = lxc(&["-n", "nosuch", "-L"]);
    assert_one_error_line(&out, "lxc-snapshot: Container 'nosuch' does not exist");
    let out = lxc(&["-n", &n, "-N", "x"]);
    assert_eq!(out.code, Some(1), "-N needs -r: {out:#?}");
    assert!(out.stderr.contains("--restore"), "{out:#?}");
}

/// Exports `name` to a file in the lab's directory and returns its path.
fn export(lab: &Lab, name: &str, extra: &[&str]) -> PathBuf {
    let file = lab.path().join(format!("{name}.tar.zst"));
    let mut args = vec!["-n", name, "-o", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = lab.enclos("export", &args).success();
    assert!(
        out.stdout.starts_with(&format!("Exported {name} to ")),
        "{out:#?}"
    );
    file
}

/// What a failed import must leave: the lxcpath as it was.
fn assert_nothing_left(lab: &Lab, before: &[String]) {
    assert_eq!(
        entries(lab.path()),
        before,
        "the lxcpath after a failed import"
    );
}

#[test]
fn export_and_import_carry_the_container_and_its_snapshots() {
    if !require_root("export_and_import_carry_the_container_and_its_snapshots") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = container_with_marker(&lab, "exp", "kept\n");
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    let file = export(&lab, &n, &["-s"]);
    assert!(
        !entries(lab.path()).iter().any(|e| e.ends_with(".partial")),
        "no partial archive left"
    );

    let copy = lab.name("exp-copy");
    let out = lab
        .enclos("import", &[file.to_str().unwrap(), "-n", &copy])
        .success();
    assert!(out.stdout.contains("checksum verified"), "{out:#?}");
    let dir = lab.path().join(&copy);
    assert_eq!(read(&marker(&dir)), "kept\n");
    let cfg = read_config(&dir.join("config"));
    assert_eq!(cfg["lxc.uts.name"], [copy.as_str()]);
    assert_eq!(
        cfg["lxc.rootfs.path"],
        [format!("dir:{}", dir.join("rootfs").display())]
    );
    assert_eq!(entries(&dir.join("snaps")), ["snap0"]);
    assert_eq!(
        read(&dir.join("snaps/snap0/ts")),
        read(&lab.path().join(&n).join("snaps/snap0/ts"))
    );
    assert_own_profile(&dir);
    // It runs.
    lab.start(&copy);
    let cat = lab.attach(&copy, &["cat", "/root/marker"]).success();
    assert_eq!(cat.stdout, "kept\n");
    let host = lab.attach(&copy, &["hostname"]).success();
    assert_eq!(
        host.stdout.trim(),
        copy,
        "the rootfs's /etc/hostname follows the name"
    );
    lab.enclos("stop", &["-n", &copy, "-k"]).success();

    // Without -n the archive's name is taken: here, taken already.
    let before = entries(lab.path());
    let out = lab.enclos("import", &[file.to_str().unwrap()]);
    assert_one_error_line(&out, &format!("Container '{n}' already exists"));
    assert_nothing_left(&lab, &before);
    assert_eq!(read(&marker(&lab.path().join(&n))), "kept\n");
}

/// The course's backup, a tar of `config` and `rootfs`: the template's
/// seccomp profile is not in it; the import writes it again, says so,
/// and the container starts under it.
#[test]
fn a_plain_tar_of_config_and_rootfs_imports_and_starts() {
    if !require_root("a_plain_tar_of_config_and_rootfs_imports_and_starts") {
        return;
    }
    let lab = Lab::new();
    let n = container_with_marker(&lab, "ptar", "kept\n");
    let tar = lab.path().join("backup.tar.gz");
    let status = Command::new("tar")
        .arg("-C")
        .arg(lab.path().join(&n))
        .arg("-czf")
        .arg(&tar)
        .args(["config", "rootfs"])
        .status()
        .unwrap();
    assert!(status.success());
    let copy = lab.name("ptar-copy");
    let out = lab
        .enclos("import", &[tar.to_str().unwrap(), "-n", &copy])
        .success();
    let profile = lab.path().join(&copy).join("common.seccomp");
    assert!(
        out.stderr
            .contains(&format!("{} was missing: written again", profile.display())),
        "{out:#?}"
    );
    assert_eq!(
        read(&profile),
        read(&lab.path().join(&n).join("common.seccomp"))
    );
    lab.start(&copy);
    let status = lab
        .attach(
            &copy,
            &["sh", "-c", "cat /root/marker; grep Seccomp: /proc/1/status"],
        )
        .success();
    assert!(status.stdout.starts_with("kept\nSeccomp:"), "{status:#?}");
    assert!(status.stdout.trim_end().ends_with('2'), "{status:#?}");
    lab.enclos("stop", &["-n", &copy, "-k"]).success();
}

#[test]
fn a_damaged_truncated_or_too_big_import_leaves_nothing() {
    if !require_root("a_damaged_truncated_or_too_big_import_leaves_nothing") {
        return;
    }
    let lab = Lab::new();
    let n = container_with_marker(&lab, "bad", "data\n");
    // A plain tar (level 0): a flipped byte of file data reaches the
    // checksum rather than zstd's own.
    let file = export(&lab, &n, &["--level", "0"]);
    let bytes = fs::read(&file).unwrap();
    let before = entries(lab.path());

    let truncated = lab.path().join("truncated.tar.zst");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let before_t = entries(lab.path());
    let out = lab.enclos("import", &[truncated.to_str().unwrap(), "-n", "t1"]);
    assert_one_error_line(&out, "Cannot import");
    assert!(out.stderr.contains("truncated"), "{out:#?}");
    assert_nothing_left(&lab, &before_t);

    // The same, compressed (zstd stops in the middle of a frame).
    let zst = export(&lab, &n, &[]);
    let z = fs::read(&zst).unwrap();
    fs::write(&truncated, &z[..z.len() / 2]).unwrap();
    let out = lab.enclos("import", &[truncated.to_str().unwrap(), "-n", "t2"]);
    assert_one_error_line(
        &out,
        "it is truncated (an export cut short?); nothing was imported",
    );
    assert_nothing_left(&lab, &before_t);

    let mut damaged = bytes.clone();
    let at = find(&damaged, b"ELF").expect("busybox in the archive") + 100;
    damaged[at] ^= 0xff;
    let damaged_file = lab.path().join("damaged.tar");
    fs::write(&damaged_file, &damaged).unwrap();
    let before_d = entries(lab.path());
    let out = lab.enclos("import", &[damaged_file.to_str().unwrap(), "-n", "d1"]);
    assert_one_error_line(&out, "is damaged: its checksum says");
    assert!(out.stderr.contains("nothing was imported"), "{out:#?}");
    assert_nothing_left(&lab, &before_d);
    assert!(before.contains(&n));

    // A full disk: a 1 MiB tmpfs as the lxcpath.
    let small = SmallFs::mount(1 << 20);
    let mut c = Command::new(enclos_bin());
    c.args(["import", "-P"])
        .arg(&small.dir)
        .arg(&file)
        .args(["-n", "full"]);
    let out = run(c);
    assert_one_error_line(&out, "No space left on device");
    assert_eq!(entries(&small.dir), Vec::<String>::new());
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A tmpfs of a given size on a temporary directory, unmounted when
/// dropped.
struct SmallFs {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallFs {
    fn mount(bytes: u64) -> SmallFs {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("lxc");
        fs::create_dir(&dir).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={bytes}").as_str()),
        )
        .expect("mount a tmpfs");
        SmallFs { dir, _tmp: tmp }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn an_import_killed_midway_is_not_listed_and_the_next_one_cleans_up() {
    if !require_root("an_import_killed_midway_is_not_listed_and_the_next_one_cleans_up") {
        return;
    }
    use std::io::Write;
    use std::process::Stdio;
    let lab = Lab::new();
    let n = container_with_marker(&lab, "kill", "data\n");
    let file = export(&lab, &n, &["--level", "0"]);
    let bytes = fs::read(&file).unwrap();
    let name = lab.name("kill-copy");

    // Half the archive through a pipe that stays open: the import waits
    // in the middle, and is killed there.
    let mut child = lab
        .cmd("import", &["-", "-n", &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    let staged = lab.path().join(format!(".{name}.partial"));
    assert!(
        poll(SETTLE, || staged.join("rootfs").is_dir().then_some(())).is_some(),
        "the import is under way in {}",
        staged.display()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    let ls = lab.enclos("ls", &["-1"]).success();
    assert_eq!(ls.lines(), [n.as_str()], "the killed import is not listed");
    assert!(!lab.path().join(&name).exists());

    // The next import of that name removes the leftovers and succeeds.
    lab.enclos("import", &[file.to_str().unwrap(), "-n", &name])
        .success();
    assert_eq!(read(&marker(&lab.path().join(&name))), "data\n");
    assert!(!staged.exists(), "the dead attempt's directory is gone");
}

/// A btrfs on a loop-attached image file, detached when dropped.
struct BtrfsImage {
    dev: String,
    dir: tempfile::TempDir,
}

impl BtrfsImage {
    fn make(test: &str) -> Option<BtrfsImage> {
        let ok = |c: &mut Command| {
            c.output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        if ok(Command::new("mkfs.btrfs").arg("--version")).is_none() {
            enclos_tests::missing_feature(test, "no mkfs.btrfs (install btrfs-progs)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("btrfs.img");
        fs::File::create(&image)
            .unwrap()
            .set_len(256 << 20)
            .unwrap();
        let Some(dev) = ok(Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image))
        else {
            enclos_tests::missing_feature(test, "cannot attach a loop device");
            return None;
        };
        let img = BtrfsImage { dev, dir };
        assert!(ok(Command::new("mkfs.btrfs").args(["-q", "-f", &img.dev])).is_some());
        fs::create_dir(img.dir.path().join("lxc")).unwrap();
        Some(img)
    }
}

impl Drop for BtrfsImage {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).unwrap().ino()
}

#[test]
fn a_btrfs_container_snapshots_as_subvolumes() {
    let test = "a_btrfs_container_snapshots_as_subvolumes";
    if !require_root(test) {
        return;
    }
    let Some(img) = BtrfsImage::make(test) else {
        return;
    };
    let (dev, lxc) = (img.dev.clone(), img.dir.path().join("lxc"));
    // The filesystem is mounted in a mount namespace of this thread's, which
    // the commands it runs inherit: nothing reaches the host's mounts.
    std::thread::spawn(move || {
        use nix::mount::{mount, MsFlags};
        let none: Option<&str> = None;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none).unwrap();
        mount(
            Some(dev.as_str()),
            &lxc,
            Some("btrfs"),
            MsFlags::empty(),
            none,
        )
        .unwrap();
        let enclos = |args: &[&str]| {
            let mut c = Command::new(enclos_bin());
            c.args(&args[..1]).arg("-P").arg(&lxc).args(&args[1..]);
            run(c)
        };
        enclos(&["create", "-n", "b1", "-t", "busybox", "-B", "btrfs"]).success();
        let b1 = lxc.join("b1");
        fs::write(b1.join("rootfs/root/marker"), "one\n").unwrap();
        let out = enclos(&["snapshot", "-n", "b1"]).success();
        assert_eq!(out.stderr, "", "a btrfs snapshot is no copy: no warning");
        let snap0 = b1.join("snaps/snap0");
        // 256: the root directory of a btrfs subvolume.
        assert_eq!(
            inode(&snap0.join("rootfs")),
            256,
            "snap0's rootfs is a subvolume"
        );
        assert_eq!(
            read_config(&snap0.join("config"))["lxc.rootfs.path"],
            [format!("btrfs:{}", snap0.join("rootfs").display())]
        );
        fs::write(b1.join("rootfs/root/marker"), "two\n").unwrap();
        enclos(&["snapshot", "-n", "b1", "-r", "snap0", "-N", "b2"]).success();
        assert_eq!(inode(&lxc.join("b2/rootfs")), 256);
        assert_eq!(read(&lxc.join("b2/rootfs/root/marker")), "one\n");
        enclos(&["snapshot", "-n", "b1", "-r", "snap0"]).success();
        assert_eq!(read(&b1.join("rootfs/root/marker")), "one\n");
        assert_eq!(inode(&b1.join("rootfs")), 256);
        enclos(&["snapshot", "-n", "b1", "-d", "ALL"]).success();
        assert!(!b1.join("snaps").exists());
        for n in ["b1", "b2"] {
            enclos(&["destroy", "-n", n]).success();
        }
        // The cached template rootfs stays (see tests/copy.rs).
        assert_eq!(entries(&lxc), [".cache"]);
    })
    .join()
    .unwrap();
}

#[test]
fn a_snapshot_that_fills_the_disk_leaves_no_snapn() {
    if !require_root("a_snapshot_that_fills_the_disk_leaves_no_snapn") {
        return;
    }
    // Room for the busybox container (about 2 MiB), not for its copy.
    let small = SmallFs::mount(3 << 20);
    let enclos = |args: &[&str]| {
        let mut c = Command::new(enclos_bin());
        c.args(&args[..1])
            .arg("-P")
            .arg(&small.dir)
            .args(&args[1..]);
        run(c)
    };
    enclos(&["create", "-n", "full", "-t", "busybox"]).success();
    let out = enclos(&["snapshot", "-n", "full", "-q"]);
    assert_one_error_line(&out, "No space left on device");
    let list = enclos(&["snapshot", "-n", "full", "-L"]).success();
    assert_eq!(list.stdout, "No snapshots\n");
    assert_eq!(
        entries(&small.dir.join("full/snaps")),
        Vec::<String>::new(),
        "no snapN, no staging directory"
    );
    assert!(small.dir.join("full/rootfs/bin/busybox").exists());
    enclos(&["destroy", "-n", "full"]).success();
}

// ---------------------------------------------------------------------------
// Overlay: a snapshot of a stopped container freezes its upper layer
// ---------------------------------------------------------------------------

/// A stopped busybox container on overlay.
fn overlay_container(lab: &Lab, tag: &str) -> String {
    let n = lab.name(tag);
    lab.enclos("create", &["-n", &n, "-t", "busybox", "-B", "overlay"])
        .success();
    n
}

/// The layers of `lxc.rootfs.path = overlay:LOWER...:UPPER` in the config
/// of `dir`, topmost first, the upper last.
fn layers(dir: &Path) -> Vec<PathBuf> {
    let cfg = read_config(&dir.join("config"));
    let spec = &cfg["lxc.rootfs.path"][0];
    let rest = spec.strip_prefix("overlay:").expect(spec);
    rest.split(':').map(PathBuf::from).collect()
}

/// The upper layer of the container in `dir`: where its writes land.
fn upper(dir: &Path) -> PathBuf {
    layers(dir).pop().unwrap()
}

/// Writes `text` to `/root/f` of the stopped container `name`, as the
/// container would: into its upper layer.
fn write_f(lab: &Lab, name: &str, text: &str) {
    let f = upper(&lab.path().join(name)).join("root/f");
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(f, text).unwrap();
}

/// What the container `name` reads in `/root/f` once started (`-` when
/// it has none), then stopped again.
fn read_f(lab: &Lab, name: &str) -> String {
    lab.start(name);
    let out = lab
        .attach(name, &["sh", "-c", "cat /root/f 2>/dev/null || echo -"])
        .success();
    lab.enclos("stop", &["-n", name, "-k"]).success();
    out.stdout
}

#[test]
fn an_overlay_snapshot_freezes_the_upper_layer_and_copies_nothing() {
    if !require_root("an_overlay_snapshot_freezes_the_upper_layer_and_copies_nothing") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = overlay_container(&lab, "ovf");
    let dir = lab.path().join(&n);
    let before = layers(&dir);
    let delta0 = dir.join("delta0");
    assert_eq!(before.last(), Some(&delta0));
    write_f(&lab, &n, "one\n");
    let ino = inode(&delta0.join("root/f"));

    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    // The container: a new empty upper over the frozen one, itself over
    // the lower layers it had.
    let mut want = vec![delta0.clone()];
    want.extend_from_slice(&before[..before.len() - 1]);
    want.push(dir.join("delta1"));
    assert_eq!(layers(&dir), want);
    assert_eq!(entries(&dir.join("delta1")), Vec::<String>::new());
    // The snapshot: the same layers under an empty upper of its own.
    let snap0 = dir.join("snaps/snap0");
    let mut snap_layers = want[..want.len() - 1].to_vec();
    snap_layers.push(snap0.join("delta0"));
    assert_eq!(layers(&snap0), snap_layers);
    assert_eq!(entries(&snap0.join("delta0")), Vec::<String>::new());
    assert!(snap0.join("ts").is_file());
    // Nothing was copied: the file is the same inode.
    assert_eq!(inode(&delta0.join("root/f")), ino);

    // The container writes more; the snapshot does not change.
    write_f(&lab, &n, "two\n");
    assert_eq!(read(&delta0.join("root/f")), "one\n");
    assert_eq!(read_f(&lab, &n), "two\n");

    // Exported with its snapshot, each with its own content.
    let file = export(&lab, &n, &["-s"]);
    let imp = lab.name("ovf-i");
    lab.enclos("import", &[file.to_str().unwrap(), "-n", &imp])
        .success();
    let imp_dir = lab.path().join(&imp);
    assert_eq!(read(&imp_dir.join("rootfs/root/f")), "two\n");
    assert_eq!(read(&imp_dir.join("snaps/snap0/rootfs/root/f")), "one\n");
    lab.enclos("destroy", &["-n", &imp, "-s"]).success();

    // Restored as a new container: the snapshot's content, its own name.
    let new = lab.name("ovf-r");
    lab.enclos("snapshot", &["-r", "snap0", "-n", &n, "-N", &new])
        .success();
    assert_eq!(read_f(&lab, &new), "one\n");
    lab.start(&new);
    let host = lab.attach(&new, &["hostname"]).success();
    assert_eq!(host.stdout.trim(), new);
    lab.enclos("stop", &["-n", &new, "-k"]).success();
    // It stacks on the container's layers: the container is held.
    let out = lab.enclos("destroy", &["-n", &n, "-s"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains(&new), "{}", out.stderr);
    lab.enclos("destroy", &["-n", &new]).success();

    // Restored over the container itself.
    lab.enclos("snapshot", &["-r", "snap0", "-n", &n]).success();
    assert_eq!(read_f(&lab, &n), "one\n");
    assert_eq!(entries(&dir.join("snaps")), ["snap0"]);
    assert!(!dir.join("delta1").exists(), "the unused upper layer went");
    let hidden: Vec<String> = entries(&dir)
        .into_iter()
        .filter(|e| e.starts_with('.') && e != ".enclos")
        .collect();
    assert_eq!(hidden, Vec::<String>::new(), "no staging left");
}

#[test]
fn three_overlay_snapshots_in_a_row_each_keep_their_content() {
    if !require_root("three_overlay_snapshots_in_a_row_each_keep_their_content") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = overlay_container(&lab, "ov3");
    write_f(&lab, &n, "1\n");
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    // Through the running container: a changed file, and a file of a
    // lower layer removed (a whiteout in the upper one).
    let change = |cmd: &str| {
        lab.start(&n);
        lab.attach(&n, &["sh", "-c", cmd]).success();
        lab.enclos("stop", &["-n", &n, "-k"]).success();
        lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    };
    change("echo 2 > /root/f && rm /etc/hostname");
    change("echo 3 > /root/f && echo back > /etc/hostname");
    write_f(&lab, &n, "4\n");
    let list = lab.enclos("snapshot", &["-n", &n, "-L"]).success();
    assert_eq!(list.lines().len(), 3, "{}", list.stdout);
    assert_eq!(read_f(&lab, &n), "4\n");
    for (snap, f, hostname) in [
        ("snap0", "1\n", true),
        ("snap1", "2\n", false),
        ("snap2", "3\n", true),
    ] {
        let new = lab.name(&format!("ov3-{snap}"));
        lab.enclos("snapshot", &["-r", snap, "-n", &n, "-N", &new])
            .success();
        lab.start(&new);
        let out = lab
            .attach(
                &new,
                &[
                    "sh",
                    "-c",
                    "cat /root/f; if test -e /etc/hostname; then echo host; fi",
                ],
            )
            .success();
        lab.enclos("stop", &["-n", &new, "-k"]).success();
        let want = format!("{f}{}", if hostname { "host\n" } else { "" });
        assert_eq!(out.stdout, want, "{snap}");
        lab.enclos("destroy", &["-n", &new]).success();
    }
    // In place, the oldest first: the later snapshots keep theirs.
    lab.enclos("snapshot", &["-r", "snap0", "-n", &n]).success();
    assert_eq!(read_f(&lab, &n), "1\n");
    lab.enclos("snapshot", &["-r", "snap2", "-n", &n]).success();
    assert_eq!(read_f(&lab, &n), "3\n");
}

#[test]
fn destroying_an_overlay_snapshot_keeps_the_layers_in_use() {
    if !require_root("destroying_an_overlay_snapshot_keeps_the_layers_in_use") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = overlay_container(&lab, "ovd");
    let dir = lab.path().join(&n);
    write_f(&lab, &n, "one\n");
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    write_f(&lab, &n, "two\n");
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();

    let out = lab.enclos("destroy", &["-n", &n]);
    assert_one_error_line(
        &out,
        &format!(
            "Container {} cannot be destroyed: it has snapshot snap0, snapshot snap1;",
            dir.display()
        ),
    );
    // snap0's layer is the container's too: the snapshot goes, its
    // layer stays.
    lab.enclos("snapshot", &["-n", &n, "-d", "snap0"]).success();
    assert_eq!(entries(&dir.join("snaps")), ["snap1"]);
    assert_eq!(read(&dir.join("delta0/root/f")), "one\n");
    assert_eq!(read_f(&lab, &n), "two\n");
    // A clone stacks on the current upper layer (delta2), which the
    // next snapshot freezes; a restore then leaves delta2 unused by the
    // container, but the clone still uses it.
    let clone = lab.name("ovd-c");
    lab.enclos("copy", &["-n", &n, "-N", &clone, "-s"])
        .success();
    write_f(&lab, &n, "three\n");
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    lab.enclos("snapshot", &["-r", "snap1", "-n", &n]).success();
    assert_eq!(read_f(&lab, &n), "two\n");
    assert_eq!(read(&dir.join("delta2/root/f")), "three\n");
    assert_eq!(read_f(&lab, &clone), "three\n");
    lab.enclos("snapshot", &["-n", &n, "-d", "ALL"]).success();
    assert_eq!(read_f(&lab, &clone), "three\n");
    let out = lab.enclos("destroy", &["-n", &n, "-s"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains(&clone), "{}", out.stderr);
    lab.enclos("destroy", &["-n", &clone]).success();
    // With its last user gone, delta2 goes at the container's next
    // snapshot command; the container's own layers stay. A snapshot
    // destroyed before the container wrote anything leaves no layer: the
    // upper layer it froze (delta4) is the container's upper one again.
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    assert_eq!(upper(&dir), dir.join("delta5"));
    lab.enclos("snapshot", &["-n", &n, "-d", "snap0"]).success();
    assert_eq!(upper(&dir), dir.join("delta4"));
    let names: Vec<String> = entries(&dir)
        .into_iter()
        .filter(|e| e.starts_with("delta"))
        .collect();
    assert_eq!(names, ["delta0", "delta1", "delta4"]);
    assert_eq!(read_f(&lab, &n), "two\n");
    lab.enclos("destroy", &["-n", &n]).success();
    assert!(!dir.exists());
}

/// Killed between its two commits (the container's config rewritten,
/// the snapshot not yet renamed into place: it waits there for its
/// comment, read from a pipe), an overlay snapshot leaves no snapN, and
/// the container holds its files.
#[test]
fn an_overlay_snapshot_killed_in_the_middle_leaves_no_snapshot() {
    if !require_root("an_overlay_snapshot_killed_in_the_middle_leaves_no_snapshot") {
        return;
    }
    let lab = Lab::new();
    let _snaps = DropSnapshots(&lab);
    let n = overlay_container(&lab, "ovk");
    let dir = lab.path().join(&n);
    write_f(&lab, &n, "one\n");
    let fifo = lab.path().join("comment.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut child = lab
        .cmd("snapshot", &["-n", &n, "-c", fifo.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + SETTLE;
    while upper(&dir) != dir.join("delta1") {
        assert!(child.try_wait().unwrap().is_none(), "it ended early");
        assert!(std::time::Instant::now() < deadline, "never switched");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(dir.join("snaps/.snap0.partial").is_dir());
    child.kill().unwrap();
    child.wait().unwrap();

    let list = lab.enclos("snapshot", &["-n", &n, "-L"]).success();
    assert_eq!(list.stdout, "No snapshots\n");
    assert_eq!(entries(&dir.join("snaps")), Vec::<String>::new());
    assert_eq!(read_f(&lab, &n), "one\n");
    // The next snapshot is snap0, whole.
    lab.enclos("snapshot", &["-n", &n, "-q"]).success();
    write_f(&lab, &n, "two\n");
    let new = lab.name("ovk-r");
    lab.enclos("snapshot", &["-r", "snap0", "-n", &n, "-N", &new])
        .success();
    assert_eq!(read_f(&lab, &new), "one\n");
    lab.enclos("destroy", &["-n", &new]).success();
}

/// The course's backup restored by hand: `config` and `rootfs` put back
/// into the container's directory without the template's seccomp
/// profile. start writes the profile again, says so once, and the
/// container runs under it.
#[test]
fn a_container_restored_by_hand_without_its_profile_starts_under_it() {
    if !require_root("a_container_restored_by_hand_without_its_profile_starts_under_it") {
        return;
    }
    let lab = Lab::new();
    let n = container_with_marker(&lab, "hand", "kept\n");
    let profile = lab.path().join(&n).join("common.seccomp");
    let template = read(&profile);
    fs::remove_file(&profile).unwrap();
    let out = lab.enclos("start", &["-n", &n]).success();
    assert_eq!(
        out.stderr
            .matches(&format!("Warning: {} was missing: written again as the busybox template makes it (lxc.seccomp.profile names it)", profile.display()))
            .count(),
        1,
        "{out:#?}"
    );
    assert_eq!(read(&profile), template);
    let status = lab
        .attach(&n, &["sh", "-c", "grep Seccomp: /proc/1/status"])
        .success();
    assert_eq!(status.stdout.trim(), "Seccomp:\t2", "{status:#?}");
    lab.enclos("stop", &["-n", &n, "-k"]).success();
}
