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
//! - A full copy (`copy`, a restore as a new container, the restore of a
//!   plain volume's snapshot) has the source's filesystem, as `blkid`
//!   reads it, unless `--fstype` says otherwise.
//! - A volume is replaced in place ([`Driver::replace`]) by renames: the
//!   old one to `LV+replaced`, the new one to `LV`. The old one is then
//!   removed; a plain volume that snapshots still need (they cannot
//!   outlive their origin) is kept as `LV+retiredN` instead, and removed
//!   by the `destroy` that removes the last of them. `+` is in no
//!   container's name, so these names are the backend's own. A thin
//!   snapshot needs no origin: thin volumes are removed at once.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::aside::{not_put_back, Aside};
use crate::backend::{Backend, Driver};
use crate::error::{Error, Result};
use crate::options::{CreateOptions, Dest, Usage, DEFAULT_FSSIZE};
use crate::spec::Rootfs;
use crate::tool::{args, command_line, fstype_of, mkfs, Runner, DEFAULT_FSTYPE};

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

/// The names of the volumes set aside: `LV+replaced`, `LV+retiredN`.
const ASIDE: Aside = Aside('+');

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

    /// A copy-on-write snapshot (`s`, or `S` when invalid), which cannot
    /// outlive its origin; a thin snapshot (`V`) stands alone.
    fn needs_origin(&self) -> bool {
        self.lv_attr.starts_with(['s', 'S'])
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

    /// `lvrename VG FROM TO`.
    fn lvrename(&self, vg: &str, from: &str, to: &str) -> Result<()> {
        self.0.run("lvrename", &args(&[vg, from, to]))?;
        Ok(())
    }

    /// Removes `lv` (when given) of `vg`, whose volumes were `lvs`, then
    /// the retired volumes no snapshot needs any more.
    fn remove(&self, vg: &str, lv: Option<&str>, lvs: &[Lv]) -> Result<()> {
        if let Some(lv) = lv {
            self.lvremove(vg, lv)?;
        }
        let left: Vec<&Lv> = lvs
            .iter()
            .filter(|l| Some(l.lv_name.as_str()) != lv)
            .collect();
        for r in left.iter().filter(|r| ASIDE.is_retired(&r.lv_name)) {
            if !needed(left.iter().copied(), &r.lv_name) {
                self.lvremove(vg, &r.lv_name)?;
            }
        }
        Ok(())
    }
}

/// Whether a copy-on-write snapshot among `lvs` needs the volume `name`
/// as its origin.
fn needed<'a>(mut lvs: impl Iterator<Item = &'a Lv>, name: &str) -> bool {
    lvs.any(|l| l.origin == name && l.needs_origin())
}

/// The volume groups and volumes of `a` and `b`, which must be in one
/// group.
fn same_vg(a: &Rootfs, b: &Rootfs) -> Result<(String, String, String)> {
    let (vg, x) = vg_lv(a)?;
    let (vg2, y) = vg_lv(b)?;
    if vg != vg2 {
        return Err(Error::Unsupported {
            backend: "lvm",
            what: format!("replace a volume of {vg} with one of {vg2}"),
            hint: "; a volume is renamed within its group only",
        });
    }
    Ok((vg, x, y))
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

    /// In the source's volume group, with the source's filesystem
    /// (`blkid`).
    fn place_like(&self, src: &Rootfs, opts: &CreateOptions) -> Result<CreateOptions> {
        let mut opts = opts.clone();
        if opts.vgname.is_none() {
            opts.vgname = vg_lv(src).ok().map(|(vg, _)| vg);
        }
        if opts.fstype.is_none() {
            opts.fstype = fstype_of(&self.0, &src.path)?;
        }
        Ok(opts)
    }

    /// `lvremove -f`; a volume already gone is fine. The retired volumes
    /// of its group that no snapshot needs any more (its origin, when it
    /// was the last snapshot of one) go with it.
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        let (vg, lv) = vg_lv(rootfs)?;
        let lvs = self.volumes(&vg)?;
        let here = lvs.iter().any(|l| l.lv_name == lv);
        self.remove(&vg, here.then_some(lv.as_str()), &lvs)
    }

    /// The snapshots that need the volume (`lvs`' origin): copy-on-write
    /// ones. A thin snapshot outlives its origin and is not counted.
    fn clones(&self, rootfs: &Rootfs) -> Result<Vec<String>> {
        let (vg, lv) = vg_lv(rootfs)?;
        Ok(self
            .volumes(&vg)?
            .iter()
            .filter(|l| l.origin == lv && l.needs_origin())
            .map(|l| device(&vg, &l.lv_name).display().to_string())
            .collect())
    }

    /// A thin volume's (its pool's reference counts keep the blocks).
    fn snapshots_stand_alone(&self, rootfs: &Rootfs) -> Result<bool> {
        let (vg, lv) = vg_lv(rootfs)?;
        Ok(!self.volume(&vg, &lv)?.pool_lv.is_empty())
    }

    /// `LV+TAG`: `:` is no part of an LVM name.
    fn own_name(&self, base: &str, tag: &str) -> String {
        ASIDE.tagged(base, tag)
    }

    /// `lvrename VG LV LV+replaced`, then `lvrename VG NEW LV`; the first
    /// is undone when the second fails.
    fn replace(&self, old: &Rootfs, new: &Rootfs) -> Result<Rootfs> {
        let (vg, lv, new_lv) = same_vg(old, new)?;
        let lvs = self.volumes(&vg)?;
        let aside = ASIDE.replaced(&lv);
        let has = |name: &str| lvs.iter().any(|l| l.lv_name == name);
        if !has(&lv) && has(&aside) {
            return Err(Error::CutShort {
                kind: "Logical volume",
                rename: "lvrename",
                path: old.path.clone(),
                aside: device(&vg, &aside),
            });
        }
        for (name, r) in [(&lv, old), (&new_lv, new)] {
            if !has(name) {
                return Err(Error::NoVolume {
                    path: r.path.clone(),
                });
            }
        }
        Self::check_free(&vg, &aside, &lvs)?;
        self.lvrename(&vg, &lv, &aside)?;
        if let Err(e) = self.lvrename(&vg, &new_lv, &lv) {
            let undone = self.lvrename(&vg, &aside, &lv);
            let aside = device(&vg, &aside);
            return Err(not_put_back("lvrename", old.path.clone(), aside, e, undone));
        }
        Ok(Rootfs::new(Backend::Lvm, device(&vg, &aside)))
    }

    fn undo_replace(&self, old: &Rootfs, new: &Rootfs, aside: &Rootfs) -> Result<()> {
        let (vg, lv, new_lv) = same_vg(old, new)?;
        let (_, _, aside_lv) = same_vg(old, aside)?;
        self.lvrename(&vg, &lv, &new_lv)?;
        self.lvrename(&vg, &aside_lv, &lv)
    }

    /// Removed, unless copy-on-write snapshots need it: then renamed
    /// `LV+retiredN` (the first free N), for the `destroy` of the last of
    /// them to remove.
    fn release(&self, aside: &Rootfs) -> Result<()> {
        let (vg, lv) = vg_lv(aside)?;
        let lvs = self.volumes(&vg)?;
        if !lvs.iter().any(|l| l.lv_name == lv) {
            return Ok(());
        }
        if !needed(lvs.iter(), &lv) {
            return self.remove(&vg, Some(&lv), &lvs);
        }
        let name = ASIDE.retired(&lv, |n| Ok(lvs.iter().any(|l| l.lv_name == n)))?;
        self.lvrename(&vg, &lv, &name)
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
