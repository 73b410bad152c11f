//! Cgroup v1 settings written on a cgroup v2 hierarchy: a table of keys
//! that map one to one (with a conversion of the value), and functions for
//! the few that do not.

use std::ops::RangeInclusive;

use enclos_cgroupfs::blkio_to_io_weight;
use serde::Serialize;

/// A write on cgroup v2 that stands for one or more cgroup v1 settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct V2Setting {
    pub key: String,
    pub value: String,
    /// The v1 keys it comes from (itself when it passes through).
    pub from: Vec<String>,
    /// How it was translated; `None` when it passes through unchanged.
    pub notice: Option<String>,
}

/// Why a v1 setting cannot be written on cgroup v2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    /// The v1 key at fault.
    pub key: String,
    pub message: String,
}

/// Turns a v1 value into its v2 value; gets the v1 key and value.
pub(crate) type Convert = fn(&str, &str) -> Result<String, TranslateError>;

/// v1 keys with one v2 counterpart: (v1 key, v2 key, value conversion).
///
/// The soft limit pairs with `memory.high` as in libcgroup (its
/// src/abstraction-memory.c, read back so by its functional test
/// 093-cgxget-memory_settings); runc and crun write the OCI
/// "reservation", v1's soft limit, as `memory.low` instead.
pub(crate) const RENAMES: &[(&str, &str, Convert)] = &[
    ("cpu.shares", "cpu.weight", shares),
    ("cpu.cfs_burst_us", "cpu.max.burst", whole),
    ("memory.limit_in_bytes", "memory.max", limit),
    ("memory.soft_limit_in_bytes", "memory.high", limit),
    ("blkio.weight", "io.weight", blkio_weight),
    ("blkio.weight_device", "io.weight", blkio_weight_device),
    ("blkio.throttle.read_bps_device", "io.max", throttle),
    ("blkio.throttle.write_bps_device", "io.max", throttle),
    ("blkio.throttle.read_iops_device", "io.max", throttle),
    ("blkio.throttle.write_iops_device", "io.max", throttle),
    ("freezer.state", "cgroup.freeze", freezer),
];

/// Translates the settings of one controller block, in write order, for a
/// controller served by cgroup v2:
///
/// | v1 | v2 |
/// |----|----|
/// | `cpu.shares` | `cpu.weight` (libcgroup's scaling: shares × 100 / 1024) |
/// | `cpu.cfs_quota_us` + `cpu.cfs_period_us` | `cpu.max` (`-1` → `max`) |
/// | `cpu.cfs_burst_us` | `cpu.max.burst` |
/// | `memory.limit_in_bytes` | `memory.max` (`-1` → `max`) |
/// | `memory.soft_limit_in_bytes` | `memory.high` (libcgroup's pairing) |
/// | `memory.memsw.limit_in_bytes` | `memory.swap.max`, minus the memory limit of the same block |
/// | `blkio.weight` | `io.weight` (`default N`, [`blkio_to_io_weight`]) |
/// | `blkio.weight_device` | `io.weight` (`MAJ:MIN N`) |
/// | `blkio.throttle.{read,write}_{bps,iops}_device` | `io.max` (`MAJ:MIN rbps=N`, ...) |
/// | `hugetlb.SIZE.limit_in_bytes` | `hugetlb.SIZE.max` |
/// | `freezer.state` `FROZEN`/`THAWED` | `cgroup.freeze` `1`/`0` |
///
/// `cpuset.*` keys that v2 has, `pids.max` and every key that is not a
/// known v1 one pass through unchanged; a known v1 key without an
/// equivalent is an error.
pub fn translate_for_v2(settings: &[(&str, &str)]) -> Result<Vec<V2Setting>, TranslateError> {
    let mut out: Vec<V2Setting> = Vec::new();
    let mut cpu_max_done = false;
    for &(key, value) in settings {
        if let Some((_, v2, convert)) = RENAMES.iter().find(|(k, _, _)| *k == key) {
            out.push(translated(key, value, v2, convert(key, value)?));
        } else if key == "cpu.cfs_quota_us" || key == "cpu.cfs_period_us" {
            if !cpu_max_done {
                cpu_max_done = true;
                out.push(cpu_max(settings, key)?);
            }
        } else if key == "memory.memsw.limit_in_bytes" {
            out.push(memsw(settings, key, value)?);
        } else if let Some(size) = hugetlb_size(key) {
            let v2 = format!("hugetlb.{size}.max");
            out.push(translated(key, value, &v2, limit(key, value)?));
        } else if is_v1_only(key) {
            return Err(err(
                key,
                format!("{key} has no cgroup v2 equivalent, and this host serves its controller with cgroup v2: remove it, or write the cgroup v2 key instead"),
            ));
        } else {
            out.push(V2Setting {
                key: key.to_string(),
                value: value.to_string(),
                from: vec![key.to_string()],
                notice: None,
            });
        }
    }
    Ok(out)
}

pub(crate) fn err(key: &str, message: String) -> TranslateError {
    TranslateError {
        key: key.to_string(),
        message,
    }
}

/// The value of `key` in the block.
pub(crate) fn get<'s>(settings: &[(&str, &'s str)], key: &str) -> Option<&'s str> {
    settings.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// A one-to-one translation, with its notice.
pub(crate) fn translated(key: &str, value: &str, v2: &str, v2_value: String) -> V2Setting {
    V2Setting {
        notice: Some(format!("{key} = {value} is {v2} = {v2_value} on cgroup v2")),
        key: v2.to_string(),
        value: v2_value,
        from: vec![key.to_string()],
    }
}

pub(crate) fn number(key: &str, value: &str) -> Result<u64, TranslateError> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| err(key, format!("{key} = {value}: expected a whole number")))
}

fn whole(key: &str, value: &str) -> Result<String, TranslateError> {
    number(key, value).map(|n| n.to_string())
}

fn shares(key: &str, value: &str) -> Result<String, TranslateError> {
    let w = scale_weight(
        number(key, value)?,
        SHARES_DEFAULT,
        WEIGHT_DEFAULT,
        1..=10_000,
    );
    Ok(w.to_string())
}

/// cgroup v1's default `cpu.shares`.
pub(crate) const SHARES_DEFAULT: u64 = 1024;
/// cgroup v2's default `cpu.weight`.
pub(crate) const WEIGHT_DEFAULT: u64 = 100;

/// `cpu.shares` to `cpu.weight` and back as libcgroup converts them
/// (`cgroup_convert_int` in its src/abstraction-common.c, with the
/// defaults of its src/abstraction-map.c): the value scaled by the two
/// defaults and rounded down, `value * to_default / from_default`. So
/// shares 1024 are weight 100, 512 are 50, and weight 200 is 2048 shares:
/// the values libcgroup's functional tests read back through cgxget after
/// cgxset and cgconfigparser (037-cgxget-cpu_settings,
/// 076-cgconfig-auto_convert), and what a script written for libcgroup
/// expects.
///
/// This is not the OCI runtime spec's conversion, which runc, crun and
/// systemd use and [`enclos_cgroupfs::shares_to_weight`] implements for
/// the typed API: it maps shares 2..=262144 onto weight 1..=10000, so
/// 1024 shares are weight 39 there and 100 shares weight 4 (here 9, the
/// 9.77% of the default that the course describes). cgconfig.conf, cgxget
/// and cgxset are libcgroup's, so they take libcgroup's numbers.
///
/// Where libcgroup would write a number the kernel refuses (shares below
/// 11 scale to weight 0, shares above 1024000 to more than 10000), the
/// result is kept within `range`, the kernel's bounds of the file written;
/// the notice of the translation shows the value written.
pub(crate) fn scale_weight(
    value: u64,
    from_default: u64,
    to_default: u64,
    range: RangeInclusive<u64>,
) -> u64 {
    let scaled = value.saturating_mul(to_default) / from_default;
    scaled.clamp(*range.start(), *range.end())
}

/// A byte limit: `-1` is `max`, else a byte count (suffixes allowed).
fn limit(key: &str, value: &str) -> Result<String, TranslateError> {
    if value.trim() == "-1" {
        return Ok("max".into());
    }
    let bytes = memparse(value).map_err(|m| err(key, format!("{key} = {value}: {m}")))?;
    // cgroup v1 reads "no limit" back as the largest page-aligned count.
    if bytes >= V1_NO_LIMIT {
        return Ok("max".into());
    }
    Ok(value.trim().to_string())
}

/// What cgroup v1 reads back for "no limit" (`-1`), with 4 KiB pages: the
/// largest page-aligned signed 64-bit count.
pub const V1_NO_LIMIT: u64 = 0x7FFF_FFFF_FFFF_F000;

/// A blkio weight (10 to 1000) as an io weight.
fn io_weight(key: &str, value: &str, w: &str) -> Result<u64, TranslateError> {
    let w = number(key, w)?;
    if !(10..=1000).contains(&w) {
        return Err(err(
            key,
            format!("{key} = {value}: the weight must be between 10 and 1000"),
        ));
    }
    Ok(blkio_to_io_weight(w))
}

fn blkio_weight(key: &str, value: &str) -> Result<String, TranslateError> {
    Ok(format!("default {}", io_weight(key, value, value)?))
}

fn blkio_weight_device(key: &str, value: &str) -> Result<String, TranslateError> {
    let (dev, w) = device_value(key, value).map_err(|m| err(key, m))?;
    Ok(format!("{dev} {}", io_weight(key, value, w)?))
}

/// `blkio.throttle.*_device` as one field of `io.max` (0 is no limit).
fn throttle(key: &str, value: &str) -> Result<String, TranslateError> {
    let field = match key {
        "blkio.throttle.read_bps_device" => "rbps",
        "blkio.throttle.write_bps_device" => "wbps",
        "blkio.throttle.read_iops_device" => "riops",
        _ => "wiops",
    };
    let (dev, n) = device_value(key, value).map_err(|m| err(key, m))?;
    let n = number(key, n)?;
    let n = if n == 0 {
        "max".to_string()
    } else {
        n.to_string()
    };
    Ok(format!("{dev} {field}={n}"))
}

fn freezer(key: &str, value: &str) -> Result<String, TranslateError> {
    match value.trim() {
        "FROZEN" => Ok("1".into()),
        "THAWED" => Ok("0".into()),
        _ => Err(err(
            key,
            format!("{key} = {value}: expected FROZEN or THAWED"),
        )),
    }
}

/// `SIZE` of `hugetlb.SIZE.limit_in_bytes`.
pub(crate) fn hugetlb_size(key: &str) -> Option<&str> {
    key.strip_prefix("hugetlb.")?
        .strip_suffix(".limit_in_bytes")
}

/// `cpu.cfs_quota_us` and `cpu.cfs_period_us` of the block as one
/// `cpu.max`; `key` is the first of them met.
fn cpu_max(settings: &[(&str, &str)], key: &str) -> Result<V2Setting, TranslateError> {
    let period = get(settings, "cpu.cfs_period_us");
    let Some(quota) = get(settings, "cpu.cfs_quota_us") else {
        return Err(err(
            key,
            "cpu.cfs_period_us alone has no cgroup v2 equivalent: cpu.max takes the quota first; add cpu.cfs_quota_us to the block (-1 for no limit)".into(),
        ));
    };
    let q = if quota.trim() == "-1" {
        "max".to_string()
    } else {
        number("cpu.cfs_quota_us", quota)?.to_string()
    };
    let (v2_value, from, asked) = match period {
        Some(p) => {
            let p = number("cpu.cfs_period_us", p)?;
            (
                format!("{q} {p}"),
                vec!["cpu.cfs_quota_us".to_string(), "cpu.cfs_period_us".into()],
                format!("cpu.cfs_quota_us = {quota}, cpu.cfs_period_us = {p}"),
            )
        }
        None => (
            q,
            vec!["cpu.cfs_quota_us".to_string()],
            format!("cpu.cfs_quota_us = {quota}"),
        ),
    };
    Ok(V2Setting {
        notice: Some(format!("{asked} is cpu.max = {v2_value} on cgroup v2")),
        key: "cpu.max".into(),
        value: v2_value,
        from,
    })
}

/// `memory.memsw.limit_in_bytes` (memory plus swap) as `memory.swap.max`
/// (swap alone): the memory limit of the block is subtracted.
fn memsw(settings: &[(&str, &str)], key: &str, value: &str) -> Result<V2Setting, TranslateError> {
    if value.trim() == "-1" {
        return Ok(translated(key, value, "memory.swap.max", "max".into()));
    }
    let total = memparse(value).map_err(|m| err(key, format!("{key} = {value}: {m}")))?;
    let Some(mem) = get(settings, "memory.limit_in_bytes") else {
        return Err(err(
            key,
            format!("{key} = {value} needs memory.limit_in_bytes in the same block on cgroup v2, where memory.swap.max counts swap alone and the memory limit is subtracted from it"),
        ));
    };
    if mem.trim() == "-1" {
        return Err(err(
            key,
            format!("{key} = {value} cannot be translated with memory.limit_in_bytes = -1: on cgroup v2, memory.swap.max is the total minus the memory limit"),
        ));
    }
    let m = memparse(mem).map_err(|e| {
        err(
            "memory.limit_in_bytes",
            format!("memory.limit_in_bytes = {mem}: {e}"),
        )
    })?;
    let Some(swap) = total.checked_sub(m) else {
        return Err(err(
            key,
            format!(
                "{key} = {value} is below memory.limit_in_bytes = {mem}, which the kernel refuses"
            ),
        ));
    };
    Ok(V2Setting {
        notice: Some(format!(
            "{key} = {value} is memory.swap.max = {swap} on cgroup v2 (swap alone: {total} - {m})"
        )),
        key: "memory.swap.max".into(),
        value: swap.to_string(),
        from: vec![key.to_string()],
    })
}

/// `MAJ:MIN N` → (`MAJ:MIN`, `N`).
pub(crate) fn device_value<'v>(key: &str, value: &'v str) -> Result<(&'v str, &'v str), String> {
    let mut it = value.split_whitespace();
    match (it.next(), it.next(), it.next()) {
        (Some(dev), Some(n), None)
            if dev.split_once(':').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
            }) =>
        {
            Ok((dev, n))
        }
        _ => Err(format!("{key} = {value}: expected \"MAJOR:MINOR VALUE\"")),
    }
}

/// Known cgroup v1 keys (those the table of [`translate_for_v2`] does not
/// translate) that have no cgroup v2 counterpart.
pub(crate) fn is_v1_only(key: &str) -> bool {
    const V1_ONLY_CONTROLLERS: &[&str] = &[
        "cpuacct", "blkio", "devices", "net_cls", "net_prio", "freezer",
    ];
    const V1_ONLY_KEYS: &[&str] = &[
        "cpu.rt_runtime_us",
        "cpu.rt_period_us",
        "memory.swappiness",
        "memory.oom_control",
        "memory.use_hierarchy",
        "memory.force_empty",
        "memory.move_charge_at_immigrate",
        "memory.failcnt",
        "memory.pressure_level",
        "cpuset.cpu_exclusive",
        "cpuset.mem_exclusive",
        "cpuset.mem_hardwall",
        "cpuset.memory_migrate",
        "cpuset.memory_pressure",
        "cpuset.memory_pressure_enabled",
        "cpuset.memory_spread_page",
        "cpuset.memory_spread_slab",
        "cpuset.sched_load_balance",
        "cpuset.sched_relax_domain_level",
        "notify_on_release",
        "release_agent",
        "cgroup.clone_children",
        "cgroup.sane_behavior",
        "tasks",
    ];
    let prefix = key.split('.').next().unwrap_or("");
    V1_ONLY_CONTROLLERS.contains(&prefix)
        || V1_ONLY_KEYS.contains(&key)
        || key.starts_with("memory.kmem.")
        || key.starts_with("memory.memsw.")
        || (key.ends_with("_in_bytes"))
}

/// The kernel's memparse: a number with an optional K, M, G, T, P or E
/// suffix (powers of 1024).
pub(crate) fn memparse(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_lowercase() {
                'k' => 10,
                'm' => 20,
                'g' => 30,
                't' => 40,
                'p' => 50,
                'e' => 60,
                _ => {
                    return Err(
                        "expected a byte count, with an optional K, M, G or T suffix".into(),
                    )
                }
            };
            (&s[..s.len() - 1], shift)
        }
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a byte count, with an optional K, M, G or T suffix".to_string())?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| "the byte count is too large".to_string())
}

/// `SIZE` of `hugetlb.SIZE.max` (not of its `.rsvg.` or `.events` files).
pub(crate) fn hugetlb_size_v2(key: &str) -> Option<&str> {
    key.strip_prefix("hugetlb.")?
        .strip_suffix(".max")
        .filter(|s| !s.contains('.'))
}
