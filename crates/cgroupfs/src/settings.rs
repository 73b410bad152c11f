//! Typed settings, freezing and statistics, each mapped to the v1 or v2
//! files of the hierarchy that serves the controller.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::files::{read_file, read_pids, write_file};
use crate::layout::Version;
use crate::wait::{deadline_after, has_line, Backoff};

/// cgroup v1 `cpu.shares` to v2 `cpu.weight`, the conversion documented by
/// the OCI runtime spec and used by runc, crun and systemd:
/// shares 2..=262144 map onto weight 1..=10000 linearly.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The inverse of [`shares_to_weight`].
pub fn weight_to_shares(weight: u64) -> u64 {
    let weight = weight.clamp(1, 10_000);
    2 + ((weight - 1) * 262_142) / 9999
}

/// v1 `blkio.weight` (10..=1000) to v2 `io.weight` (1..=10000).
pub fn blkio_to_io_weight(w: u64) -> u64 {
    let w = w.clamp(10, 1000);
    1 + ((w - 10) * 9999) / 990
}

/// v1 memory limit text (`-1` or the huge page-rounded maximum means no
/// limit) or v2 (`max`) to bytes.
fn parse_limit(file: &Path, text: &str) -> Result<Option<u64>> {
    let t = text.trim();
    if t == "max" || t == "-1" {
        return Ok(None);
    }
    let v: u64 = t.parse().map_err(|_| Error::Parse {
        file: file.to_path_buf(),
        reason: format!("'{t}' is not a byte count"),
    })?;
    // v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes.
    if v >= 0x7FFF_FFFF_FFFF_F000 {
        return Ok(None);
    }
    Ok(Some(v))
}

fn limit_text(version: Version, limit: Option<u64>) -> String {
    match (version, limit) {
        (_, Some(v)) => v.to_string(),
        (Version::V1, None) => "-1".into(),
        (Version::V2, None) => "max".into(),
    }
}

/// Freezer state of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FreezerState {
    Thawed,
    Freezing,
    Frozen,
}

/// What a group has used, where the host's kernel reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub memory_usage: Option<u64>,
    pub memory_peak: Option<u64>,
    pub memory_limit: Option<u64>,
    /// How many times usage hit the limit (v1 memory.failcnt, v2 the
    /// `max` count of memory.events).
    pub memory_failcnt: Option<u64>,
    /// Processes killed by the OOM killer in this group.
    pub oom_kills: Option<u64>,
    /// CPU time used, in nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    pub pids_current: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        if it.next() == Some(key) {
            it.next()?.parse().ok()
        } else {
            None
        }
    })
}

/// Bytes read and written by a group, from `blkio.throttle.*` (v1) or
/// `io.stat` (v2) in `dir`.
fn io_bytes(v: Version, dir: &Path) -> (u64, u64) {
    let (mut r, mut w) = (0u64, 0u64);
    match v {
        Version::V1 => {
            let text = read_file(&dir.join("blkio.throttle.io_service_bytes_recursive"))
                .or_else(|_| read_file(&dir.join("blkio.throttle.io_service_bytes")))
                .unwrap_or_default();
            for l in text.lines() {
                let f: Vec<&str> = l.split_whitespace().collect();
                if let [_, op, n] = f[..] {
                    let n: u64 = n.parse().unwrap_or(0);
                    match op {
                        "Read" => r += n,
                        "Write" => w += n,
                        _ => {}
                    }
                }
            }
        }
        Version::V2 => {
            let text = read_file(&dir.join("io.stat")).unwrap_or_default();
            for field in text.split_whitespace() {
                if let Some(n) = field.strip_prefix("rbytes=") {
                    r += n.parse().unwrap_or(0);
                } else if let Some(n) = field.strip_prefix("wbytes=") {
                    w += n.parse().unwrap_or(0);
                }
            }
        }
    }
    (r, w)
}

fn read_u64(file: &Path) -> Option<u64> {
    read_file(file).ok()?.trim().parse().ok()
}

impl Cgroup {
    fn dir_for(&self, controller: &str) -> Result<(Version, PathBuf)> {
        let (v, dir) = self.hierarchy_for(controller)?;
        if !dir.is_dir() {
            return Err(Error::NotFound {
                group: format!("{controller}:/{}", self.path()),
                dir,
            });
        }
        Ok((v, dir))
    }

    fn write_read(&self, file: &Path, value: &str) -> Result<String> {
        write_file(file, value)?;
        read_file(file)
    }

    /// Sets the memory limit (`None`: no limit) and returns the limit the
    /// kernel kept, which v1 rounds down to whole pages.
    pub fn set_memory_limit(&self, limit: Option<u64>) -> Result<Option<u64>> {
        let (v, dir) = self.dir_for("memory")?;
        let file = dir.join(match v {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        });
        let back = self.write_read(&file, &limit_text(v, limit))?;
        parse_limit(&file, &back)
    }

    pub fn memory_limit(&self) -> Result<Option<u64>> {
        let (v, dir) = self.dir_for("memory")?;
        let file = dir.join(match v {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        });
        parse_limit(&file, &read_file(&file)?)
    }

    /// Sets the limit of memory plus swap (v1 memory.memsw.limit_in_bytes;
    /// v2 memory.swap.max, which counts swap alone: the memory limit is
    /// subtracted). Returns what the kernel kept, as memory plus swap.
    pub fn set_memory_swap_limit(&self, limit: Option<u64>) -> Result<Option<u64>> {
        let (v, dir) = self.dir_for("memory")?;
        match v {
            Version::V1 => {
                let file = dir.join("memory.memsw.limit_in_bytes");
                if !file.exists() {
                    return Err(Error::Unsupported {
                        setting: "memory+swap limit",
                        group: self.name(),
                        reason: "memory.memsw.limit_in_bytes is missing: boot with swapaccount=1"
                            .into(),
                    });
                }
                let back = self.write_read(&file, &limit_text(v, limit))?;
                parse_limit(&file, &back)
            }
            Version::V2 => {
                let mem = self.memory_limit()?;
                let swap =
                    match (limit, mem) {
                        (None, _) => None,
                        (Some(total), Some(m)) if total >= m => Some(total - m),
                        (Some(total), Some(m)) => {
                            return Err(Error::InvalidValue {
                                setting: "memory+swap limit",
                                value: total.to_string(),
                                reason: format!(
                                "it is below the memory limit ({m}); set the memory limit first"
                            ),
                            })
                        }
                        (Some(_), None) => return Err(Error::InvalidValue {
                            setting: "memory+swap limit",
                            value: limit.unwrap_or(0).to_string(),
                            reason:
                                "on cgroup v2 it needs a memory limit to subtract; set that first"
                                    .into(),
                        }),
                    };
                let file = dir.join("memory.swap.max");
                let back = self.write_read(&file, &limit_text(v, swap))?;
                Ok(match (parse_limit(&file, &back)?, mem) {
                    (Some(s), Some(m)) => Some(s + m),
                    _ => None,
                })
            }
        }
    }

    /// Sets the CPU weight in v1 `cpu.shares` units (1024 is the default);
    /// on v2 it is converted to `cpu.weight`. Returns the value kept, in
    /// the units of the file written.
    pub fn set_cpu_shares(&self, shares: u64) -> Result<u64> {
        if shares < 2 {
            return Err(Error::InvalidValue {
                setting: "cpu.shares",
                value: shares.to_string(),
                reason: "the smallest weight is 2".into(),
            });
        }
        let (v, dir) = self.dir_for("cpu")?;
        let (file, value) = match v {
            Version::V1 => (dir.join("cpu.shares"), shares),
            Version::V2 => (dir.join("cpu.weight"), shares_to_weight(shares)),
        };
        let back = self.write_read(&file, &value.to_string())?;
        back.trim().parse().map_err(|_| Error::Parse {
            file,
            reason: format!("'{back}' is not a number"),
        })
    }

    /// Sets the CPU weight in v2 `cpu.weight` units (1..=10000, 100 is the
    /// default); on v1 it is converted to `cpu.shares`.
    pub fn set_cpu_weight(&self, weight: u64) -> Result<u64> {
        if !(1..=10_000).contains(&weight) {
            return Err(Error::InvalidValue {
                setting: "cpu.weight",
                value: weight.to_string(),
                reason: "it must be between 1 and 10000".into(),
            });
        }
        let (v, dir) = self.dir_for("cpu")?;
        let (file, value) = match v {
            Version::V1 => (dir.join("cpu.shares"), weight_to_shares(weight)),
            Version::V2 => (dir.join("cpu.weight"), weight),
        };
        let back = self.write_read(&file, &value.to_string())?;
        back.trim().parse().map_err(|_| Error::Parse {
            file,
            reason: format!("'{back}' is not a number"),
        })
    }

    /// Limits CPU time to `quota_us` per `period_us` (`None`: no limit).
    pub fn set_cpu_quota(&self, quota_us: Option<u64>, period_us: u64) -> Result<()> {
        if !(1000..=1_000_000).contains(&period_us) {
            return Err(Error::InvalidValue {
                setting: "cpu period",
                value: period_us.to_string(),
                reason: "it must be between 1000 and 1000000 microseconds".into(),
            });
        }
        let (v, dir) = self.dir_for("cpu")?;
        match v {
            Version::V1 => {
                write_file(&dir.join("cpu.cfs_period_us"), &period_us.to_string())?;
                let q = quota_us
                    .map(|q| q.to_string())
                    .unwrap_or_else(|| "-1".into());
                write_file(&dir.join("cpu.cfs_quota_us"), &q)
            }
            Version::V2 => {
                let q = quota_us
                    .map(|q| q.to_string())
                    .unwrap_or_else(|| "max".into());
                write_file(&dir.join("cpu.max"), &format!("{q} {period_us}"))
            }
        }
    }

    pub fn set_cpuset_cpus(&self, cpus: &str) -> Result<String> {
        let (_, dir) = self.dir_for("cpuset")?;
        self.write_read(&dir.join("cpuset.cpus"), cpus)
    }

    pub fn set_cpuset_mems(&self, mems: &str) -> Result<String> {
        let (_, dir) = self.dir_for("cpuset")?;
        self.write_read(&dir.join("cpuset.mems"), mems)
    }

    /// Limits the number of tasks (`None`: no limit).
    pub fn set_pids_max(&self, max: Option<u64>) -> Result<()> {
        let (_, dir) = self.dir_for("pids")?;
        let v = max.map(|m| m.to_string()).unwrap_or_else(|| "max".into());
        write_file(&dir.join("pids.max"), &v)
    }

    /// Sets the block I/O weight in v1 units (10..=1000); on v2 converted
    /// to `io.weight`. Where the kernel has only the BFQ scheduler's file,
    /// that one is written.
    pub fn set_blkio_weight(&self, weight: u64) -> Result<()> {
        if !(10..=1000).contains(&weight) {
            return Err(Error::InvalidValue {
                setting: "blkio.weight",
                value: weight.to_string(),
                reason: "it must be between 10 and 1000".into(),
            });
        }
        let (v, dir) = self.dir_for("blkio")?;
        let (candidates, value) = match v {
            Version::V1 => (["blkio.weight", "blkio.bfq.weight"], weight.to_string()),
            Version::V2 => (
                ["io.weight", "io.bfq.weight"],
                blkio_to_io_weight(weight).to_string(),
            ),
        };
        for name in candidates {
            let file = dir.join(name);
            if file.exists() {
                let value = if name == "io.weight" {
                    format!("default {value}")
                } else {
                    value
                };
                return write_file(&file, &value);
            }
        }
        Err(Error::Unsupported {
            setting: "block I/O weight",
            group: self.name(),
            reason: format!(
                "neither {} nor {} exists in {} (weights need the BFQ I/O scheduler)",
                candidates[0],
                candidates[1],
                dir.display()
            ),
        })
    }

    /// The freezer state.
    pub fn freezer_state(&self) -> Result<FreezerState> {
        let (v, dir) = self.dir_for("freezer")?;
        match v {
            Version::V1 => {
                let file = dir.join("freezer.state");
                match read_file(&file)?.trim() {
                    "THAWED" => Ok(FreezerState::Thawed),
                    "FREEZING" => Ok(FreezerState::Freezing),
                    "FROZEN" => Ok(FreezerState::Frozen),
                    other => Err(Error::Parse {
                        file,
                        reason: format!("unknown freezer state '{other}'"),
                    }),
                }
            }
            Version::V2 => {
                let wanted = read_file(&dir.join("cgroup.freeze"))?;
                let events = read_file(&dir.join("cgroup.events"))?;
                Ok(match (wanted.trim(), has_line(&events, "frozen", "1")) {
                    (_, true) => FreezerState::Frozen,
                    ("1", false) => FreezerState::Freezing,
                    _ => FreezerState::Thawed,
                })
            }
        }
    }

    /// Freezes every process of the group and returns once the kernel says
    /// FROZEN (v2: woken by cgroup.events; v1: freezer.state read with a
    /// back-off). On timeout the group is thawed again and an error says so.
    pub fn freeze(&self, timeout: Duration) -> Result<()> {
        self.set_frozen(true, timeout)
    }

    /// Thaws the group and returns once every process runs again.
    pub fn thaw(&self, timeout: Duration) -> Result<()> {
        self.set_frozen(false, timeout)
    }

    fn set_frozen(&self, frozen: bool, timeout: Duration) -> Result<()> {
        let (v, dir) = self.dir_for("freezer")?;
        let deadline = deadline_after(timeout);
        let done = match v {
            Version::V1 => {
                let file = dir.join("freezer.state");
                let target = if frozen { "FROZEN" } else { "THAWED" };
                write_file(&file, target)?;
                let mut backoff = Backoff::new(timeout);
                loop {
                    if read_file(&file)?.trim() == target {
                        break true;
                    }
                    if !backoff.wait() {
                        break false;
                    }
                    // v1 stays FREEZING while tasks forked meanwhile are
                    // not frozen: asking again freezes them too.
                    if frozen {
                        write_file(&file, target)?;
                    }
                }
            }
            Version::V2 => {
                write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                crate::cgroup::wait_v2_event(
                    &dir,
                    "frozen",
                    if frozen { "1" } else { "0" },
                    deadline,
                )?
            }
        };
        if done {
            return Ok(());
        }
        if frozen {
            // Leave nothing half-frozen behind.
            let _ = self.set_frozen(false, Duration::from_secs(1));
        }
        Err(Error::Timeout {
            what: if frozen { "freezing" } else { "thawing" },
            group: self.name(),
            waited_ms: timeout.as_millis(),
            hint: if frozen {
                "; the group was thawed again (a process in uninterruptible sleep, state D, can delay freezing)"
            } else {
                ""
            },
        })
    }

    /// What the group has used. Each figure is `None` where the host does
    /// not mount the controller or the kernel lacks the file.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if let Ok((v, dir)) = self.dir_for("memory") {
            match v {
                Version::V1 => {
                    s.memory_usage = read_u64(&dir.join("memory.usage_in_bytes"));
                    s.memory_peak = read_u64(&dir.join("memory.max_usage_in_bytes"));
                    s.memory_failcnt = read_u64(&dir.join("memory.failcnt"));
                    s.oom_kills = read_file(&dir.join("memory.oom_control"))
                        .ok()
                        .and_then(|t| keyed(&t, "oom_kill"));
                    s.memory_limit = self.memory_limit().ok().flatten();
                }
                Version::V2 => {
                    s.memory_usage = read_u64(&dir.join("memory.current"));
                    s.memory_peak = read_u64(&dir.join("memory.peak"));
                    let events = read_file(&dir.join("memory.events")).ok();
                    s.memory_failcnt = events.as_deref().and_then(|t| keyed(t, "max"));
                    s.oom_kills = events.as_deref().and_then(|t| keyed(t, "oom_kill"));
                    s.memory_limit = self.memory_limit().ok().flatten();
                }
            }
        }
        if let Ok((v, dir)) = self.dir_for("cpuacct") {
            s.cpu_usage_ns = match v {
                Version::V1 => read_u64(&dir.join("cpuacct.usage")),
                Version::V2 => None,
            };
        }
        if s.cpu_usage_ns.is_none() {
            // cpu.stat's usage_usec is in every v2 group, controller or not.
            if let Some(v2) = self.layout().unified() {
                let dir = v2.dir(self.path());
                s.cpu_usage_ns = read_file(&dir.join("cpu.stat"))
                    .ok()
                    .and_then(|t| keyed(&t, "usage_usec"))
                    .map(|us| us * 1000);
            }
        }
        if let Ok((_, dir)) = self.dir_for("pids") {
            s.pids_current = read_u64(&dir.join("pids.current"));
        }
        if let Ok((v, dir)) = self.dir_for("blkio") {
            let (r, w) = io_bytes(v, &dir);
            s.io_read_bytes = Some(r);
            s.io_write_bytes = Some(w);
        }
        Ok(s)
    }

    /// Number of processes, over all hierarchies of the handle.
    pub fn process_count(&self) -> Result<usize> {
        let mut n = 0;
        for m in self.members() {
            n = n.max(read_pids(&m.dir.join("cgroup.procs"))?.len());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(2, 1)]
    #[case(1024, 39)]
    #[case(100, 4)]
    #[case(262_144, 10_000)]
    fn converts_shares(#[case] shares: u64, #[case] weight: u64) {
        assert_eq!(shares_to_weight(shares), weight);
    }

    #[rstest]
    #[case(1, 2)]
    #[case(100, 2597)]
    #[case(10_000, 262_144)]
    fn converts_weight(#[case] weight: u64, #[case] shares: u64) {
        assert_eq!(weight_to_shares(weight), shares);
    }

    #[rstest]
    #[case(10, 1)]
    #[case(500, 4950)]
    #[case(1000, 10_000)]
    fn converts_blkio(#[case] w: u64, #[case] io: u64) {
        assert_eq!(blkio_to_io_weight(w), io);
    }

    #[rstest]
    #[case("max", None)]
    #[case("-1", None)]
    #[case("9223372036854771712", None)]
    #[case("39997440", Some(39_997_440))]
    fn parses_limits(#[case] text: &str, #[case] v: Option<u64>) {
        assert_eq!(parse_limit(Path::new("f"), text).unwrap(), v);
    }
}
