//! Cgroup v2 settings written on a cgroup v1 hierarchy: the other
//! direction of the `translate` module's table.

use crate::translate::{
    device_value, err, get, hugetlb_size_v2, memparse, number, scale_weight, translated,
    TranslateError, V2Setting, SHARES_DEFAULT, WEIGHT_DEFAULT,
};

/// A write on cgroup v1 that stands for one cgroup v2 setting; the same
/// shape as [`V2Setting`], `from` naming the v2 keys.
pub type V1Setting = V2Setting;

/// Translates the settings of one controller block, in write order, for a
/// controller served by cgroup v1 (the inverse of
/// [`translate_for_v2`](crate::translate_for_v2)):
///
/// | v2 | v1 |
/// |----|----|
/// | `cpu.weight` | `cpu.shares` (libcgroup's scaling: weight × 1024 / 100) |
/// | `cpu.max` `Q P` | `cpu.cfs_period_us` = P, then `cpu.cfs_quota_us` = Q (`max` → `-1`) |
/// | `cpu.max.burst` | `cpu.cfs_burst_us` |
/// | `memory.max` | `memory.limit_in_bytes` (`max` → `-1`) |
/// | `memory.high` | `memory.soft_limit_in_bytes` (`max` → `-1`; libcgroup's pairing) |
/// | `memory.swap.max` | `memory.memsw.limit_in_bytes`, plus the `memory.max` of the same block |
/// | `io.weight` `default N` | `blkio.weight` |
/// | `io.weight` `MAJ:MIN N` | `blkio.weight_device` |
/// | `hugetlb.SIZE.max` | `hugetlb.SIZE.limit_in_bytes` |
/// | `cgroup.freeze` `1`/`0` | `freezer.state` `FROZEN`/`THAWED` |
///
/// Known v2 keys without a v1 counterpart (`memory.low`, `memory.min`,
/// `memory.oom.group`, ...) are an error; every other key passes through.
pub fn translate_for_v1(settings: &[(&str, &str)]) -> Result<Vec<V1Setting>, TranslateError> {
    let mut out = Vec::new();
    for &(key, value) in settings {
        match key {
            "cpu.weight" => {
                let w = number(key, value)?;
                if !(1..=10_000).contains(&w) {
                    return Err(err(
                        key,
                        format!("{key} = {value}: the weight must be between 1 and 10000"),
                    ));
                }
                out.push(on_v1(
                    key,
                    value,
                    "cpu.shares",
                    scale_weight(w, WEIGHT_DEFAULT, SHARES_DEFAULT, 2..=262_144).to_string(),
                ));
            }
            "cpu.max" => out.extend(cpu_max(key, value)?),
            "cpu.max.burst" => out.push(on_v1(
                key,
                value,
                "cpu.cfs_burst_us",
                number(key, value)?.to_string(),
            )),
            "memory.max" => out.push(on_v1(
                key,
                value,
                "memory.limit_in_bytes",
                limit(key, value)?,
            )),
            "memory.high" => out.push(on_v1(
                key,
                value,
                "memory.soft_limit_in_bytes",
                limit(key, value)?,
            )),
            "memory.swap.max" => out.push(swap(settings, key, value)?),
            "io.weight" => out.push(io_weight(key, value)?),
            "cgroup.freeze" => out.push(on_v1(key, value, "freezer.state", freeze(key, value)?)),
            _ if hugetlb_size_v2(key).is_some() => {
                let size = hugetlb_size_v2(key).unwrap_or_default();
                let v1 = format!("hugetlb.{size}.limit_in_bytes");
                out.push(on_v1(key, value, &v1, limit(key, value)?));
            }
            _ if is_v2_only(key) => {
                return Err(err(key, format!("{key} has no cgroup v1 equivalent, and this host serves its controller with cgroup v1: remove it, or write the cgroup v1 key instead")));
            }
            _ => out.push(V2Setting {
                key: key.to_string(),
                value: value.to_string(),
                from: vec![key.to_string()],
                notice: None,
            }),
        }
    }
    Ok(out)
}

/// A one-to-one translation, its notice in v1 terms.
fn on_v1(key: &str, value: &str, v1: &str, v1_value: String) -> V1Setting {
    let mut s = translated(key, value, v1, v1_value);
    s.notice = Some(format!(
        "{key} = {value} is {v1} = {} on cgroup v1",
        s.value
    ));
    s
}

/// A byte limit: `max` is `-1`, else a byte count (suffixes allowed).
fn limit(key: &str, value: &str) -> Result<String, TranslateError> {
    if value.trim() == "max" {
        return Ok("-1".into());
    }
    memparse(value).map_err(|m| err(key, format!("{key} = {value}: {m}")))?;
    Ok(value.trim().to_string())
}

fn cpu_max(key: &str, value: &str) -> Result<Vec<V1Setting>, TranslateError> {
    let mut it = value.split_whitespace();
    let (Some(quota), period, None) = (it.next(), it.next(), it.next()) else {
        return Err(err(
            key,
            format!("{key} = {value}: expected \"QUOTA PERIOD\" or \"max PERIOD\""),
        ));
    };
    let q = if quota == "max" {
        "-1".to_string()
    } else {
        number(key, quota)?.to_string()
    };
    let mut out = Vec::new();
    if let Some(p) = period {
        out.push(on_v1(
            key,
            value,
            "cpu.cfs_period_us",
            number(key, p)?.to_string(),
        ));
    }
    out.push(on_v1(key, value, "cpu.cfs_quota_us", q));
    Ok(out)
}

/// `memory.swap.max` (swap alone) as `memory.memsw.limit_in_bytes`
/// (memory plus swap): the block's `memory.max` is added.
fn swap(settings: &[(&str, &str)], key: &str, value: &str) -> Result<V1Setting, TranslateError> {
    if value.trim() == "max" {
        return Ok(on_v1(
            key,
            value,
            "memory.memsw.limit_in_bytes",
            "-1".into(),
        ));
    }
    let swap = memparse(value).map_err(|m| err(key, format!("{key} = {value}: {m}")))?;
    let mem = match get(settings, "memory.max").map(str::trim) {
        Some(m) if m != "max" => {
            memparse(m).map_err(|e| err("memory.max", format!("memory.max = {m}: {e}")))?
        }
        _ => {
            return Err(err(key, format!("{key} = {value} needs a memory.max other than max in the same block on cgroup v1, where memory.memsw.limit_in_bytes counts memory and swap together")));
        }
    };
    let total = swap.saturating_add(mem);
    Ok(on_v1(
        key,
        value,
        "memory.memsw.limit_in_bytes",
        total.to_string(),
    ))
}

/// `default N` as `blkio.weight`, `MAJ:MIN N` as `blkio.weight_device`
/// (io weights 1..=10000 onto blkio weights 10..=1000).
fn io_weight(key: &str, value: &str) -> Result<V1Setting, TranslateError> {
    let to_blkio = |n: &str| -> Result<u64, TranslateError> {
        let n = number(key, n)?.clamp(1, 10_000);
        Ok(10 + (n - 1) * 990 / 9999)
    };
    if let Some(n) = value.trim().strip_prefix("default ") {
        return Ok(on_v1(
            key,
            value,
            "blkio.weight",
            to_blkio(n.trim())?.to_string(),
        ));
    }
    let (dev, n) = device_value(key, value).map_err(|m| err(key, m))?;
    Ok(on_v1(
        key,
        value,
        "blkio.weight_device",
        format!("{dev} {}", to_blkio(n)?),
    ))
}

fn freeze(key: &str, value: &str) -> Result<String, TranslateError> {
    match value.trim() {
        "1" => Ok("FROZEN".into()),
        "0" => Ok("THAWED".into()),
        _ => Err(err(key, format!("{key} = {value}: expected 1 or 0"))),
    }
}

/// Known cgroup v2 keys that cgroup v1 has no counterpart for.
pub(crate) fn is_v2_only(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "memory.low",
        "memory.min",
        "memory.oom.group",
        "memory.swap.high",
        "memory.reclaim",
        "io.max",
        "io.latency",
        "io.cost.qos",
        "io.cost.model",
        "cpuset.cpus.partition",
        "cpuset.cpus.exclusive",
        "pids.peak",
        "cgroup.max.depth",
        "cgroup.max.descendants",
        "cgroup.type",
        "cgroup.subtree_control",
        "cgroup.kill",
    ];
    KEYS.contains(&key) || key.starts_with("memory.zswap.")
}

#[cfg(test)]
mod tests;
