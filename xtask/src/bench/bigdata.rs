//! The `storage` measures that need a btrfs filesystem or 1 GiB of data:
//! a btrfs image file the run formats and loop-mounts ([`Big`], which
//! unmounts and removes it when dropped; the sandbox's guard unmounts it
//! too if the run is killed), busybox containers on btrfs and overlay,
//! empty or holding 1 GiB written once, and `snapshot-1g`: a snapshot of
//! the full rootfs within 2x of one of the empty rootfs, per backend.
//!
//! The data is random printable text (6 bits of entropy a byte, so zstd
//! has work to do and still cannot squeeze it much), from a xorshift
//! generator: fast to make, and the same in every run.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::containers::{availability, req, unavailable, with_tool, Kind, Tool, CREATE_TIMEOUT};
use super::spawn::Spawner;
use super::storage::{snap_check, snap_run, Ctx};
use super::{CompareArgs, Comparison, Plan, Target, PREFIX};

/// The data a full rootfs holds: 16 files of 64 MiB.
pub(super) const DATA_BYTES: u64 = 1 << 30;
const FILES: u64 = 16;
/// The btrfs image: the 1 GiB container, the creates, room to spare.
const IMAGE_BYTES: u64 = 4 << 30;
/// The directory of the data in a rootfs.
pub(super) const DATA_DIR: &str = "bench-data";

/// The btrfs filesystem of the run and the containers on it and on
/// overlay.
pub(super) struct Big {
    enclos: PathBuf,
    image: PathBuf,
    point: PathBuf,
    mounted: bool,
    /// Containers made, destroyed on drop: (lxcpath, name).
    made: Vec<(PathBuf, String)>,
    /// `create -B btrfs` and `create -B overlay` of fresh names.
    creators: [Tool; 2],
    /// btrfs empty, btrfs 1 GiB, overlay empty, overlay 1 GiB, or why
    /// each was not made.
    pub with_data: Vec<std::result::Result<Tool, String>>,
}

fn tool(bin: &Path, dir: PathBuf, name: String, backend: &'static str) -> Tool {
    Tool {
        kind: Kind::Enclos,
        program: bin.to_path_buf(),
        dir,
        conf: None,
        name,
        backend: Some(backend),
    }
}

fn run_ok(sp: &Spawner, cmd: &mut Command) -> std::result::Result<(), String> {
    sp.ok(cmd, CREATE_TIMEOUT).map(|_| ())
}

impl Big {
    /// Formats and mounts the image; with `data`, makes the four
    /// containers and writes 1 GiB into two of them.
    pub fn set_up(
        sp: &Spawner,
        enclos: &Path,
        base: &Path,
        data: bool,
    ) -> std::result::Result<Big, String> {
        if let Some(why) = availability(
            "The btrfs measures",
            &[req("format the btrfs image", "mkfs.btrfs", "btrfs-progs")],
        ) {
            return Err(why);
        }
        let pid = std::process::id();
        let (btrfs, overlay) = (base.join("btrfs"), base.join("overlay"));
        let mut big = Big {
            enclos: enclos.to_path_buf(),
            image: base.join("btrfs.img"),
            point: btrfs.clone(),
            mounted: false,
            made: Vec::new(),
            creators: [
                tool(enclos, btrfs.clone(), String::new(), "btrfs"),
                tool(enclos, overlay.clone(), String::new(), "overlay"),
            ],
            with_data: (0..4)
                .map(|_| Err("not needed by the measures asked for".into()))
                .collect(),
        };
        for dir in [&btrfs, &overlay] {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        File::create(&big.image)
            .and_then(|f| f.set_len(IMAGE_BYTES))
            .map_err(|e| format!("cannot make {}: {e}", big.image.display()))?;
        run_ok(sp, Command::new("mkfs.btrfs").arg("-q").arg(&big.image))?;
        run_ok(
            sp,
            Command::new("mount")
                .args(["-o", "loop"])
                .arg(&big.image)
                .arg(&btrfs),
        )?;
        big.mounted = true;
        println!("  btrfs: {} on {}", big.image.display(), btrfs.display());
        if data {
            let names = ["b0", "b1", "o0", "o1"].map(|s| format!("{PREFIX}{pid}-{s}"));
            let [b0, b1, o0, o1] = names;
            let tools = [
                tool(enclos, btrfs.clone(), b0, "btrfs"),
                tool(enclos, btrfs.clone(), b1, "btrfs"),
                tool(enclos, overlay.clone(), o0, "overlay"),
                tool(enclos, overlay.clone(), o1, "overlay"),
            ];
            let mut made = Vec::new();
            for t in tools {
                big.made.push((t.dir.clone(), t.name.clone()));
                made.push(t.set_up(sp)?);
            }
            write_data(&made[1].rootfs(&made[1].name))?;
            write_data(&overlay_upper(&made[3])?)?;
            big.with_data = made.into_iter().map(Ok).collect();
        }
        Ok(big)
    }

    /// The tool that creates containers of fresh names with `backend`.
    pub fn creator(&self, backend: &str) -> &Tool {
        if backend == "btrfs" {
            &self.creators[0]
        } else {
            &self.creators[1]
        }
    }
}

impl Drop for Big {
    fn drop(&mut self) {
        for (dir, name) in &self.made {
            let _ = Command::new(&self.enclos)
                .arg("destroy")
                .arg("-P")
                .arg(dir)
                .args(["-n", name, "-f", "-s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if self.mounted {
            let umount = |lazy: bool| {
                let mut c = Command::new("umount");
                if lazy {
                    c.arg("--lazy");
                }
                c.arg(&self.point)
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !umount(false) && !umount(true) {
                eprintln!("warning: cannot unmount {}", self.point.display());
            }
        }
        let _ = fs::remove_file(&self.image);
    }
}

/// The upper layer of an overlay container: the last field of its
/// `lxc.rootfs.path = overlay:LOWER...:UPPER`.
fn overlay_upper(t: &Tool) -> std::result::Result<PathBuf, String> {
    let config = t.dir.join(&t.name).join("config");
    let text = fs::read_to_string(&config)
        .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
    upper_of(&text).ok_or_else(|| {
        format!(
            "{} has no `lxc.rootfs.path = overlay:...:UPPER`",
            config.display()
        )
    })
}

fn upper_of(config: &str) -> Option<PathBuf> {
    config.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        let value = value.trim();
        (key.trim() == "lxc.rootfs.path" && value.starts_with("overlay:"))
            .then(|| PathBuf::from(value.rsplit(':').next().unwrap_or_default()))
    })
}

/// Writes [`DATA_BYTES`] of random printable text below `root`.
pub(super) fn write_data(root: &Path) -> std::result::Result<(), String> {
    let dir = root.join(DATA_DIR);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for i in 0..FILES {
        let path = dir.join(format!("{i:02}"));
        let file =
            File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut out = BufWriter::new(file);
        for _ in 0..DATA_BYTES / FILES / block.len() as u64 {
            fill(&mut block, &mut state);
            out.write_all(&block)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        out.flush()
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Random printable bytes (`0x20..0x60`), eight per xorshift64 step.
fn fill(block: &mut [u8], state: &mut u64) {
    for chunk in block.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let bytes = (*state & 0x3f3f_3f3f_3f3f_3f3f | 0x2020_2020_2020_2020).to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// 5. `snapshot-1g`: the snapshot of a rootfs holding 1 GiB against the
///    snapshot of an empty one, on btrfs and on overlay.
pub(super) fn snapshots<'a>(ctx: &'a Ctx, args: &CompareArgs) -> Vec<Comparison<'a>> {
    let sp = &ctx.sp;
    let names = [
        "btrfs, empty rootfs",
        "btrfs, 1 GiB rootfs",
        "overlay, empty rootfs",
        "overlay, 1 GiB rootfs",
    ];
    vec![Comparison {
        title: "storage: snapshot of a stopped busybox container whose rootfs is empty or \
                holds 1 GiB, on btrfs (the run's image) and overlay (the snapshot's destroy \
                after it is not timed)"
            .into(),
        variants: names
            .iter()
            .enumerate()
            .map(|(i, name)| match &ctx.big {
                Ok(big) => with_tool(name, &big.with_data[i], sp, snap_run, snap_check),
                Err(why) => unavailable(name, why.clone()),
            })
            .collect(),
        baseline: 0,
        targets: vec![
            Target::Ratio {
                variant: 1,
                reference: 0,
                max: 2.0,
            },
            Target::Ratio {
                variant: 3,
                reference: 2,
                max: 2.0,
            },
        ],
        plan: Plan::new(args, 20, 1, Duration::from_secs(60)),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upper_layer_is_the_last_field() {
        let config = "lxc.uts.name = c\nlxc.rootfs.path = overlay:/l/rootfs:/l/delta0\n";
        assert_eq!(upper_of(config), Some(PathBuf::from("/l/delta0")));
        assert_eq!(upper_of("lxc.rootfs.path = dir:/x\n"), None);
    }

    #[test]
    fn the_data_is_printable() {
        let (mut block, mut state) = (vec![0u8; 4096], 1u64);
        fill(&mut block, &mut state);
        assert!(block.iter().all(|b| (0x20..0x60).contains(b)));
        assert!(block.windows(2).any(|w| w[0] != w[1]));
    }
}
