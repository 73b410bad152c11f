//! The `lvm` backend: a logical volume `/dev/VG/NAME` with a filesystem,
//! made, snapshotted, measured and removed through lvm2's commands
//! (`vgs`, `lvs --reportformat json`, `lvcreate`, `lvremove`), and mounted
//! like a loop image when the container starts.
//!
//! - The volume group is `--vgname` (default `lxc.bdev.lvm.vg`, else
//!   `lxc`); it must exist (`vgcreate`).
//! - A thin volume is made in the thin pool `--thinpool` (default
//!   `lxc.bdev.lvm.thin_pool`), which must then exist; without one, in a
//!   thin pool named `lxc` when the group has one, as LXC does; else a
//!   plain volume of `--fssize` (1 GiB).
//! - A snapshot is `lvcreate -s`: of a thin volume, a thin snapshot (no
//!   size, activated); of a plain one, a copy-on-write volume of the
//!   origin's size. A volume with snapshots is not removed unless forced.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage, DEFAULT_FSSIZE};
use crate::spec::Rootfs;
use crate::tool::{args, command_line, mkfs, Runner, DEFAULT_FSTYPE};

/// The `lvm` driver, running lvm2's commands through its runner.
#[derive(Debug)]
pub(crate) struct Lvm<R>(pub(crate) R);

/// The volume group when neither `--vgname` nor `lxc.bdev.lvm.vg` names
/// one, as in LXC.
pub(crate) const DEFAULT_VG: &str = "lxc";
/// The thin pool used when it exists and none is named, as in LXC.
const DEFAULT_THINPOOL: &str = "lxc";
/// The columns asked of `lvs`.
const LVS_FIELDS: &str = "lv_name,vg_name,lv_size,lv_attr,pool_lv,origin,data_percent";

/// A logical volume as `lvs --reportformat json --units b --nosuffix`
/// reports it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Lv {
    lv_name: String,
    lv_size: String,
    /// `t` first for a thin pool, `V` for a thin volume, `s` for a
    /// snapshot.
    lv_attr: String,
    /// The thin pool of a thin volume, empty otherwise.
    pool_lv: String,
    /// The volume a snapshot was taken of.
    origin: String,
    /// Thin volumes and snapshots: the percentage of their data in use.
    data_percent: String,
}

impl Lv {
    fn is_thin_pool(&self) -> bool {
        self.lv_attr.starts_with('t')
    }

    fn size(&self, command: &str) -> Result<u64> {
        self.lv_size.trim().parse().map_err(|_| Error::BadOutput {
            command: command.to_string(),
            reason: format!(
                "lv_size '{}' of {} is not bytes",
                self.lv_size, self.lv_name
            ),
        })
    }
}

/// A volume group as `vgs --reportformat json` reports it.
#[derive(Debug, Deserialize)]
struct Vg {
    vg_name: String,
}

/// The rows of `key` (`lv`, `vg`) in a report of `--reportformat json`:
/// `{"report": [{"lv": [{...}, ...]}]}`.
fn report<T: DeserializeOwned>(json: &str, key: &str, command: &str) -> Result<Vec<T>> {
    let bad = |reason: String| Error::BadOutput {
        command: command.to_string(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    let sections = value
        .get("report")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("no \"report\" array".to_string()))?;
    let mut rows = Vec::new();
    for section in sections {
        if let Some(list) = section.get(key) {
            rows.extend(
                Vec::<T>::deserialize(list).map_err(|e| bad(format!("its \"{key}\": {e}")))?,
            );
        }
    }
    Ok(rows)
}

/// The volume group and volume of `/dev/VG/LV`.
fn vg_lv(rootfs: &Rootfs) -> Result<(String, String)> {
    let path = rootfs.path.to_string_lossy();
    path.strip_prefix("/dev/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(vg, lv)| !vg.is_empty() && !lv.is_empty() && !lv.contains('/'))
        .map(|(vg, lv)| (vg.to_string(), lv.to_string()))
        .ok_or_else(|| Error::InvalidSpec {
            spec: rootfs.spec(),
            reason: "lvm takes the volume's device, /dev/VG/LV",
        })
}

/// The device of volume `lv` of `vg`.
fn device(vg: &str, lv: &str) -> PathBuf {
    Path::new("/dev").join(vg).join(lv)
}

impl<R: Runner> Lvm<R> {
    /// Whether volume group `vg` exists.
    fn vg_exists(&self, vg: &str) -> Result<bool> {
        let argv = args(&["--reportformat", "json", "-o", "vg_name"]);
        let out = self.0.run("vgs", &argv)?;
        let vgs: Vec<Vg> = report(&out, "vg", &command_line("vgs", &argv))?;
        Ok(vgs.iter().any(|v| v.vg_name == vg))
    }

    /// The volumes of `vg`.
    fn volumes(&self, vg: &str) -> Result<Vec<Lv>> {
        let argv = args(&[
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            LVS_FIELDS,
            vg,
        ]);
        let out = self.0.run("lvs", &argv)?;
        report(&out, "lv", &command_line("lvs", &argv))
    }

    /// The volume `lv` of `vg`, or [`Error::NoVolume`].
    fn volume(&self, vg: &str, lv: &str) -> Result<Lv> {
        self.volumes(vg)?
            .into_iter()
            .find(|v| v.lv_name == lv)
            .ok_or_else(|| Error::NoVolume {
                path: device(vg, lv),
            })
    }

    /// The thin pool a new volume goes in: `requested`, which must be a
    /// thin pool of `vg`; else LXC's `lxc` where `vg` has it; else none.
    fn thin_pool(&self, vg: &str, requested: Option<&str>, lvs: &[Lv]) -> Result<Option<String>> {
        let is_pool = |name: &str| lvs.iter().any(|l| l.lv_name == name && l.is_thin_pool());
        match requested {
            Some(p) if is_pool(p) => Ok(Some(p.to_string())),
            Some(p) => Err(Error::NoThinPool {
                vg: vg.to_string(),
                pool: p.to_string(),
            }),
            None => Ok(is_pool(DEFAULT_THINPOOL).then(|| DEFAULT_THINPOOL.to_string())),
        }
    }

    /// Refuses a volume name `vg` already has.
    fn check_free(vg: &str, lv: &str, lvs: &[Lv]) -> Result<()> {
        if lvs.iter().any(|l| l.lv_name == lv) {
            return Err(Error::VolumeExists {
                path: device(vg, lv),
            });
        }
        Ok(())
    }

    /// Runs `lvcreate` with `argv`; the result is `/dev/VG/LV`.
    fn lvcreate(&self, argv: &[String]) -> Result<()> {
        self.0.run("lvcreate", argv)?;
        Ok(())
    }

    /// `lvremove -f VG/LV`.
    fn lvremove(&self, vg: &str, lv: &str) -> Result<()> {
        self.0
            .run("lvremove", &args(&["-f", &format!("{vg}/{lv}")]))?;
        Ok(())
    }
}

impl<R: Runner> Driver for Lvm<R> {
    fn backend(&self) -> Backend {
        Backend::Lvm
    }

    /// `lvcreate` of `--fssize` (1 GiB) in `--vgname` (or a thin volume
    /// in the thin pool), then mkfs of `--fstype` (ext4) on it.
    fn create(&self, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let vg = opts.vgname.as_deref().unwrap_or(DEFAULT_VG);
        let lv = opts.lvname.as_deref().unwrap_or(&dest.name);
        let size = format!("{}b", opts.fssize.unwrap_or(DEFAULT_FSSIZE));
        if !self.vg_exists(vg)? {
            return Err(Error::NoVolumeGroup { vg: vg.to_string() });
        }
        let lvs = self.volumes(vg)?;
        Self::check_free(vg, lv, &lvs)?;
        let argv = match self.thin_pool(vg, opts.thinpool.as_deref(), &lvs)? {
            Some(pool) => args(&[
                "-Wy",
                "--yes",
                "-V",
                &size,
                "-T",
                &format!("{vg}/{pool}"),
                "-n",
                lv,
            ]),
            None => args(&["-Wy", "--yes", "-L", &size, "-n", lv, vg]),
        };
        self.lvcreate(&argv)?;
        let dev = device(vg, lv);
        let fstype = opts.fstype.as_deref().unwrap_or(DEFAULT_FSTYPE);
        if let Err(e) = mkfs(&self.0, &dev, fstype) {
            let _ = self.lvremove(vg, lv);
            return Err(e);
        }
        Ok(Rootfs::new(Backend::Lvm, dev))
    }

    /// `lvcreate -s` of the source volume, named `--lvname` or as the
    /// destination: a thin snapshot of a thin volume, else a snapshot of
    /// `--fssize` or the origin's size.
    fn snapshot(&self, src: &Rootfs, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let (vg, origin) = vg_lv(src)?;
        let lv = opts.lvname.as_deref().unwrap_or(&dest.name);
        let lvs = self.volumes(&vg)?;
        let from = lvs
            .iter()
            .find(|l| l.lv_name == origin)
            .ok_or_else(|| Error::NoVolume {
                path: src.path.clone(),
            })?;
        Self::check_free(&vg, lv, &lvs)?;
        let of = format!("{vg}/{origin}");
        let argv = if from.pool_lv.is_empty() {
            let size = match opts.fssize {
                Some(s) => s,
                None => from.size("lvs")?,
            };
            args(&["-s", "-L", &format!("{size}b"), "-n", lv, &of])
        } else {
            // A thin snapshot is skipped at activation unless told not to.
            args(&["-s", "-kn", "-n", lv, &of])
        };
        self.lvcreate(&argv)?;
        Ok(Rootfs::new(Backend::Lvm, device(&vg, lv)))
    }

    /// In the source's volume group.
    fn place_like(&self, src: &Rootfs, opts: &CreateOptions) -> CreateOptions {
        let mut opts = opts.clone();
        if opts.vgname.is_none() {
            opts.vgname = vg_lv(src).ok().map(|(vg, _)| vg);
        }
        opts
    }

    /// `lvremove -f`; a volume already gone is fine.
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        let (vg, lv) = vg_lv(rootfs)?;
        if !self.volumes(&vg)?.iter().any(|l| l.lv_name == lv) {
            return Ok(());
        }
        self.lvremove(&vg, &lv)
    }

    /// The snapshots taken of the volume (`lvs`' origin).
    fn clones(&self, rootfs: &Rootfs) -> Result<Vec<String>> {
        let (vg, lv) = vg_lv(rootfs)?;
        Ok(self
            .volumes(&vg)?
            .iter()
            .filter(|l| l.origin == lv)
            .map(|l| device(&vg, &l.lv_name).display().to_string())
            .collect())
    }

    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf> {
        vg_lv(rootfs)?;
        if !rootfs.path.exists() {
            return Err(Error::NoVolume {
                path: rootfs.path.clone(),
            });
        }
        let dev = rootfs.path.to_string_lossy();
        crate::mount::mount_block(&dev, target, &dev)?;
        Ok(target.to_path_buf())
    }

    fn unmount(&self, _rootfs: &Rootfs, target: &Path) -> Result<()> {
        crate::mount::unmount(target)
    }

    /// The volume's size; in use, what a thin volume or a snapshot has
    /// allocated (`data_percent`), the whole size of a plain volume.
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        let (vg, lv) = vg_lv(rootfs)?;
        let v = self.volume(&vg, &lv)?;
        let size = v.size("lvs")?;
        let used = match v.data_percent.trim().parse::<f64>() {
            // Rounded to whole bytes, as a size is.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(pct) => (size as f64 * pct / 100.0) as u64,
            Err(_) => size,
        };
        Ok(Usage {
            size: Some(size),
            used,
        })
    }
}

#[cfg(test)]
mod tests;
