//! Fault tests of issue 10: a snapshot, a copy and an import that fill
//! the disk, or that are killed (SIGKILL) in the middle, on a small ext4
//! filesystem of an image file attached to a loop device and mounted as
//! the lxcpath. Afterwards, what a user checks: the source container is
//! intact (its config and a file of its rootfs unchanged, and it starts),
//! `ls` and `snapshot -L` list no half container or snapN, the next
//! command that lists containers removes a killed attempt's leftovers,
//! and no mount or loop device is left.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use enclos_tests::lab::{assert_one_error_line, poll, run, Out, SETTLE};
use enclos_tests::{enclos_bin, missing_feature, require_root};

const MIB: u64 = 1 << 20;

/// An ext4 filesystem on an image file attached to a loop device and
/// mounted (on the host) as the lxcpath. Dropping it destroys the
/// containers, removes whatever mounts and loop devices are left inside,
/// unmounts it, detaches its device and removes the image.
struct LoopFs {
    /// The image's directory, and the mount point `lxc` in it.
    tmp: tempfile::TempDir,
    dev: String,
    lxc: PathBuf,
    mounted: bool,
}

fn output(c: &mut Command) -> Option<String> {
    c.stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

impl LoopFs {
    /// A filesystem of `size` bytes, or None (after the skip rule) when
    /// the host cannot make one.
    fn make(test: &str, size: u64) -> Option<LoopFs> {
        if output(Command::new("mkfs.ext4").arg("-V")).is_none() {
            missing_feature(test, "no mkfs.ext4 (install e2fsprogs)");
            return None;
        }
        let tmp = tempfile::Builder::new()
            .prefix("enclos-faults-")
            .tempdir()
            .unwrap();
        let image = tmp.path().join("fs.img");
        fs::File::create(&image).unwrap().set_len(size).unwrap();
        let Some(dev) = output(
            Command::new("losetup")
                .args(["--find", "--show"])
                .arg(&image),
        ) else {
            missing_feature(test, "cannot attach a loop device");
            return None;
        };
        let lxc = tmp.path().join("lxc");
        fs::create_dir(&lxc).unwrap();
        let mut fs = LoopFs {
            tmp,
            dev,
            lxc,
            mounted: false,
        };
        // No reserved blocks: the filesystem fills when `df` says so.
        assert!(
            output(Command::new("mkfs.ext4").args(["-q", "-m", "0", &fs.dev])).is_some(),
            "mkfs.ext4 {}",
            fs.dev
        );
        nix::mount::mount(
            Some(fs.dev.as_str()),
            &fs.lxc,
            Some("ext4"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount the image");
        fs.mounted = true;
        Some(fs)
    }

    fn path(&self) -> &Path {
        &self.lxc
    }

    /// `enclos SUB -P LXCPATH ARGS...`, not run yet.
    fn cmd(&self, sub: &str, args: &[&str]) -> Command {
        let mut c = Command::new(enclos_bin());
        c.arg(sub).arg("-P").arg(&self.lxc).args(args);
        c
    }

    fn enclos(&self, sub: &str, args: &[&str]) -> Out {
        run(self.cmd(sub, args))
    }

    /// Bytes free on the filesystem.
    fn free(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.lxc).unwrap();
        s.blocks_available() as u64 * s.fragment_size() as u64
    }

    /// The mounts inside the filesystem (not the filesystem itself).
    fn mounts_inside(&self) -> Vec<String> {
        let dir = format!("{}/", self.lxc.display());
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        enclos_mounts::MountInfo::parse_all(&info)
            .map(|m| m.mount_point.to_string_lossy().into_owned())
            .filter(|p| p.starts_with(&dir))
            .collect()
    }

    /// The loop devices whose backing file is on the filesystem, told by
    /// device number: the path the kernel shows for a backing file opened
    /// in a mount namespace that has gone since (a killed command's) is
    /// relative to the filesystem, not under the lxcpath.
    fn loops_inside(&self) -> Vec<String> {
        let name = Path::new(&self.dev).file_name().unwrap().to_string_lossy();
        let Ok(ours) = fs::read_to_string(format!("/sys/block/{name}/dev")) else {
            return Vec::new();
        };
        let list = output(Command::new("losetup").args(["-l", "-n", "-O", "NAME,BACK-MAJ:MIN"]))
            .unwrap_or_default();
        list.lines()
            .filter_map(|l| {
                let mut fields = l.split_whitespace();
                let (dev, backing) = (fields.next()?, fields.next()?);
                (backing == ours.trim()).then(|| dev.to_string())
            })
            .collect()
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted {
            let ls = self.enclos("ls", &["-1"]);
            for n in ls.stdout.lines() {
                let _ = self.enclos("destroy", &["-n", n, "-f", "-s"]);
            }
            let mut inside = self.mounts_inside();
            inside.reverse();
            for m in inside {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
            for dev in self.loops_inside() {
                let _ = Command::new("losetup").args(["-d", &dev]).status();
            }
            let _ = nix::mount::umount2(&self.lxc, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// A stopped busybox container `name` with `/root/marker` and `filler`
/// bytes of incompressible data in `/root/filler`.
fn container(fs: &LoopFs, name: &str, filler: u64) {
    fs.enclos("create", &["-n", name, "-t", "busybox"])
        .success();
    let root = fs.path().join(name).join("rootfs/root");
    fs::write(root.join("marker"), "intact\n").unwrap();
    write_filler(&root.join("filler"), filler);
}

/// `len` bytes that compress badly (a xorshift stream).
fn write_filler(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut left = len;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = left.min(8);
        f.write_all(&x.to_le_bytes()[..n as usize]).unwrap();
        left -= n;
    }
    f.flush().unwrap();
}

/// What the user will compare: the config's bytes and the marker's.
#[derive(Debug, PartialEq)]
struct Source {
    config: String,
    marker: String,
    filler_len: u64,
}

fn source_of(fs: &LoopFs, name: &str) -> Source {
    let dir = fs.path().join(name);
    Source {
        config: fs::read_to_string(dir.join("config")).unwrap(),
        marker: fs::read_to_string(dir.join("rootfs/root/marker")).unwrap(),
        filler_len: fs::metadata(dir.join("rootfs/root/filler"))
            .map(|m| m.len())
            .unwrap_or(0),
    }
}

/// The entries of `dir` whose name starts with a dot and ends in
/// `.partial`: a staged (half) container or snapshot.
fn partials(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.ends_with(".partial"))
                .collect()
        })
        .unwrap_or_default()
}

/// After a fault: the source is what it was and starts, `ls` lists it
/// alone and leaves no staged directory, `snapshot -L` lists none, and no
/// mount or loop device is left inside the filesystem.
fn assert_intact_and_clean(fs: &LoopFs, name: &str, before: &Source) {
    let ls = fs.enclos("ls", &["-1"]).success();
    assert_eq!(ls.lines(), [name], "ls lists the source alone: {ls:#?}");
    assert_eq!(
        partials(fs.path()),
        Vec::<String>::new(),
        "ls removed the dead attempt's directory"
    );
    let snaps = fs.enclos("snapshot", &["-n", name, "-L"]).success();
    assert_eq!(snaps.stdout, "No snapshots\n");
    let snaps_dir = fs.path().join(name).join("snaps");
    assert_eq!(
        partials(&snaps_dir),
        Vec::<String>::new(),
        "no .snapN.partial"
    );
    assert_eq!(fs.mounts_inside(), Vec::<String>::new(), "mounts left");
    assert_eq!(fs.loops_inside(), Vec::<String>::new(), "loop devices left");
    assert_eq!(&source_of(fs, name), before, "the source is unchanged");
    fs.enclos("start", &["-n", name]).success();
    let out = fs.enclos("attach", &["-n", name, "--", "cat", "/root/marker"]);
    fs.enclos("stop", &["-n", name, "-k"]).success();
    assert_eq!(out.success().stdout, "intact\n");
}

/// A container name unique to this test process.
fn name(tag: &str) -> String {
    format!("i10f-{tag}-{}", std::process::id())
}

// ---------------------------------------------------------------------------
// Disk full
// ---------------------------------------------------------------------------

/// A filesystem of 48 MiB holding a container whose rootfs takes most of
/// half of it: it fits once, not twice.
fn half_full(test: &str, tag: &str) -> Option<(LoopFs, String, Source)> {
    let fs = LoopFs::make(test, 48 * MIB)?;
    let n = name(tag);
    container(&fs, &n, 4 * MIB);
    // The filler takes a little more than half of what is left.
    let more = fs.free() / 2 + 2 * MIB;
    write_filler(
        &fs.path().join(&n).join("rootfs/root/filler"),
        4 * MIB + more,
    );
    assert!(fs.free() > 4 * MIB, "room left for the copy to start");
    let before = source_of(&fs, &n);
    Some((fs, n, before))
}

#[test]
fn a_snapshot_that_fills_the_disk_leaves_nothing() {
    let test = "a_snapshot_that_fills_the_disk_leaves_nothing";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = half_full(test, "snapfull") else {
        return;
    };
    let free = fs.free();
    let out = fs.enclos("snapshot", &["-n", &n, "-q"]);
    assert_one_error_line(&out, "No space left on device");
    assert_intact_and_clean(&fs, &n, &before);
    assert!(fs.free() + MIB >= free, "the space is given back");
}

#[test]
fn a_copy_that_fills_the_disk_leaves_nothing() {
    let test = "a_copy_that_fills_the_disk_leaves_nothing";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = half_full(test, "copyfull") else {
        return;
    };
    let copy = name("copyfull-c");
    let out = fs.enclos("copy", &["-n", &n, "-N", &copy]);
    assert_one_error_line(&out, "No space left on device");
    assert!(!fs.path().join(&copy).exists());
    assert_intact_and_clean(&fs, &n, &before);
}

#[test]
fn an_import_that_fills_the_disk_leaves_nothing() {
    let test = "an_import_that_fills_the_disk_leaves_nothing";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = half_full(test, "impfull") else {
        return;
    };
    // The archive lives outside the small filesystem.
    let archive = fs.tmp.path().join("c.tar.zst");
    fs.enclos("export", &["-n", &n, "-o", archive.to_str().unwrap(), "-q"])
        .success();
    let copy = name("impfull-c");
    let out = fs.enclos("import", &[archive.to_str().unwrap(), "-n", &copy]);
    assert_one_error_line(&out, "No space left on device");
    assert!(!fs.path().join(&copy).exists());
    assert_intact_and_clean(&fs, &n, &before);
}

// ---------------------------------------------------------------------------
// Killed
// ---------------------------------------------------------------------------

/// Many small files under `/root/many` of container `name`, so that a
/// copy of its rootfs takes long enough to be killed in the middle.
fn slow_to_copy(fs: &LoopFs, name: &str) {
    let many = fs.path().join(name).join("rootfs/root/many");
    for d in 0..40 {
        let dir = many.join(format!("d{d}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..250 {
            fs::write(dir.join(format!("f{f}")), format!("{d}/{f}\n")).unwrap();
        }
    }
}

/// Starts `cmd`, waits until `started` (a path the operation makes once
/// under way) exists, and kills it with SIGKILL.
fn kill_when(cmd: Command, started: &Path) {
    let what = started.display().to_string();
    kill_once(cmd, &what, || started.symlink_metadata().is_ok());
}

/// Starts `cmd`, waits until `started()` says it is under way (`what`),
/// and kills it with SIGKILL.
fn kill_once(mut cmd: Command, what: &str, started: impl Fn() -> bool) {
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + SETTLE;
    loop {
        if started() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{cmd:?} ended ({status}) before {what}: make it slower");
        }
        assert!(Instant::now() < deadline, "never {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed in the middle, not finished: {status}"
    );
}

/// A filesystem of 256 MiB (sparse) with a container slow to copy.
fn slow_source(test: &str, tag: &str) -> Option<(LoopFs, String, Source)> {
    let fs = LoopFs::make(test, 256 * MIB)?;
    let n = name(tag);
    container(&fs, &n, 16 * MIB);
    slow_to_copy(&fs, &n);
    let before = source_of(&fs, &n);
    Some((fs, n, before))
}

#[test]
fn a_killed_snapshot_leaves_nothing() {
    let test = "a_killed_snapshot_leaves_nothing";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = slow_source(test, "snapkill") else {
        return;
    };
    let staged = fs.path().join(&n).join("snaps/.snap0.partial/rootfs/root");
    kill_when(fs.cmd("snapshot", &["-n", &n]), &staged);
    assert!(
        !fs.path().join(&n).join("snaps/snap0").exists(),
        "no snap0 after the kill"
    );
    assert_intact_and_clean(&fs, &n, &before);
    // The next snapshot is snap0 again, whole.
    fs.enclos("snapshot", &["-n", &n]).success();
    let snap0 = fs.path().join(&n).join("snaps/snap0");
    assert_eq!(
        fs::read_to_string(snap0.join("rootfs/root/many/d39/f249")).unwrap(),
        "39/249\n"
    );
    fs.enclos("snapshot", &["-n", &n, "-d", "ALL"]).success();
}

#[test]
fn a_killed_copy_leaves_nothing() {
    let test = "a_killed_copy_leaves_nothing";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = slow_source(test, "copykill") else {
        return;
    };
    let copy = name("copykill-c");
    let staged = fs.path().join(format!(".{copy}.partial/rootfs/root"));
    kill_when(fs.cmd("copy", &["-n", &n, "-N", &copy]), &staged);
    assert!(!fs.path().join(&copy).exists());
    assert_intact_and_clean(&fs, &n, &before);
    fs.enclos("copy", &["-n", &n, "-N", &copy]).success();
    assert_eq!(
        fs::read_to_string(fs.path().join(&copy).join("rootfs/root/marker")).unwrap(),
        "intact\n"
    );
    fs.enclos("destroy", &["-n", &copy]).success();
}

#[test]
fn a_killed_copy_into_loop_leaves_no_mount_and_no_loop_device() {
    let test = "a_killed_copy_into_loop_leaves_no_mount_and_no_loop_device";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = slow_source(test, "loopkill") else {
        return;
    };
    let copy = name("loopkill-c");
    // Under way: the new image is attached (and mounted, in the command's
    // own mount namespace, where it is being filled).
    let image = fs.path().join(format!(".{copy}.partial/rootdev"));
    kill_once(
        fs.cmd("copy", &["-n", &n, "-N", &copy, "-B", "loop", "-L", "64M"]),
        "the new image is attached",
        || !fs.loops_inside().is_empty() && image.exists(),
    );
    assert!(!fs.path().join(&copy).exists());
    // Its mounts went with it (the kernel tears its namespace down just
    // after the kill), before any other command ran.
    let gone = poll(SETTLE, || {
        (fs.mounts_inside().is_empty() && fs.loops_inside().is_empty()).then_some(())
    });
    assert!(
        gone.is_some(),
        "left by the killed copy: mounts {:?}, loop devices {:?}",
        fs.mounts_inside(),
        fs.loops_inside()
    );
    assert_intact_and_clean(&fs, &n, &before);
}

#[test]
fn a_killed_import_leaves_nothing() {
    let test = "a_killed_import_leaves_nothing";
    if !require_root(test) {
        return;
    }
    let Some((fs, n, before)) = slow_source(test, "impkill") else {
        return;
    };
    let archive = fs.tmp.path().join("c.tar");
    fs.enclos(
        "export",
        &[
            "-n",
            &n,
            "-o",
            archive.to_str().unwrap(),
            "--level",
            "0",
            "-q",
        ],
    )
    .success();
    let bytes = fs::read(&archive).unwrap();
    let copy = name("impkill-c");
    // Half the archive through a pipe that stays open: the import waits
    // in the middle, and is killed there.
    let mut child = fs
        .cmd("import", &["-", "-n", &copy])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    let staged = fs.path().join(format!(".{copy}.partial/rootfs"));
    assert!(
        poll(SETTLE, || staged.is_dir().then_some(())).is_some(),
        "the import is under way in {}",
        staged.display()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    assert!(!fs.path().join(&copy).exists());
    assert_intact_and_clean(&fs, &n, &before);
    fs.enclos("import", &[archive.to_str().unwrap(), "-n", &copy, "-q"])
        .success();
    assert_eq!(
        fs::read_to_string(fs.path().join(&copy).join("rootfs/root/many/d39/f249")).unwrap(),
        "39/249\n"
    );
    fs.enclos("destroy", &["-n", &copy]).success();
}
