//! Reading and writing one setting in the terms of either cgroup version,
//! whatever version serves its controller (`cgxget`, `cgxset`), through
//! the translation table of cgconfig.conf in both directions.

use std::sync::Arc;

use enclos_cgroupfs::{key_controller, walk, Cgroup, Error as CgError, Hierarchy, Layout, Version};

use crate::translate::{hugetlb_size, is_v1_only, TranslateError, RENAMES};
use crate::translate_for_v2;
use crate::translate_v1::{is_v2_only, translate_for_v1};

/// Why a setting cannot be read or written in the terms asked for.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{key} has no counterpart on cgroup {host} which serves its controller here")]
    Unmappable { key: String, host: u8 },

    #[error("Cannot write {key} = {value}: {source}")]
    Translate {
        key: String,
        value: String,
        #[source]
        source: TranslateError,
    },

    #[error(transparent)]
    Cgroup(#[from] CgError),
}

fn number(v: Version) -> u8 {
    match v {
        Version::V1 => 1,
        Version::V2 => 2,
    }
}

/// The version of the hierarchy that serves the controller of `key`
/// (`io.*` finds v1's `blkio`, `cgroup.freeze` v1's `freezer`).
pub fn host_version(layout: &Layout, key: &str) -> Result<Version, ConvertError> {
    host_hierarchy(layout, key).map(|h| h.version)
}

/// The hierarchy that serves the controller of `key`.
fn host_hierarchy<'l>(layout: &'l Layout, key: &str) -> Result<&'l Hierarchy, ConvertError> {
    let c = match key_controller(key)? {
        Some(c) => c,
        None if key == "cgroup.freeze" => "freezer",
        None => "unified",
    };
    match layout.resolve(c) {
        Ok(h) => Ok(h),
        Err(e) if c == "io" => layout.resolve("blkio").map_err(|_| e.into()),
        Err(e) => Err(e.into()),
    }
}

/// [`set_as`] on the group at `path` and on every group below it, in the
/// hierarchy that serves the key's controller (`cgxset -R`), parents
/// first. Returns how many groups were set.
pub fn set_as_recursive(
    layout: &Arc<Layout>,
    path: &str,
    key: &str,
    value: &str,
    given: Version,
) -> Result<usize, ConvertError> {
    let tree = walk(host_hierarchy(layout, key)?, path, false)?;
    let paths = tree.paths();
    for p in &paths {
        set_as(layout, p, key, value, given)?;
    }
    Ok(paths.len())
}

/// The host files that hold a setting of the other version: for a v1
/// `key` on v2 (`want` is V1), or a v2 `key` on v1. `None`: the key has
/// no counterpart; an empty list: it is the same file on both.
fn sources(key: &str, want: Version) -> Option<Vec<String>> {
    // Statistics keep their names across versions, not their contents.
    const STATS: &[&str] = &[
        "cpu.stat",
        "cpu.stat.local",
        "memory.stat",
        "memory.numa_stat",
        "memory.events",
        "memory.events.local",
        "pids.events",
    ];
    if STATS.contains(&key) {
        return None;
    }
    let one = |k: &str| Some(vec![k.to_string()]);
    match want {
        Version::V1 => match key {
            "cpu.cfs_quota_us" | "cpu.cfs_period_us" => one("cpu.max"),
            "memory.memsw.limit_in_bytes" => {
                Some(vec!["memory.max".into(), "memory.swap.max".into()])
            }
            "blkio.weight" => one("io.weight"),
            _ if hugetlb_size(key).is_some() => {
                Some(vec![format!("hugetlb.{}.max", hugetlb_size(key)?)])
            }
            _ => match RENAMES.iter().find(|(k, _, _)| *k == key) {
                Some((_, v2, _)) if !key.starts_with("blkio.") => one(v2),
                _ if is_v1_only(key) => None,
                _ => Some(Vec::new()),
            },
        },
        Version::V2 => match key {
            "cpu.weight" => one("cpu.shares"),
            "cpu.max" => Some(vec!["cpu.cfs_quota_us".into(), "cpu.cfs_period_us".into()]),
            "cpu.max.burst" => one("cpu.cfs_burst_us"),
            "memory.max" => one("memory.limit_in_bytes"),
            "memory.high" => one("memory.soft_limit_in_bytes"),
            "memory.swap.max" => Some(vec![
                "memory.limit_in_bytes".into(),
                "memory.memsw.limit_in_bytes".into(),
            ]),
            "io.weight" => one("blkio.weight"),
            "cgroup.freeze" => one("freezer.state"),
            _ if crate::translate::hugetlb_size_v2(key).is_some() => Some(vec![format!(
                "hugetlb.{}.limit_in_bytes",
                crate::translate::hugetlb_size_v2(key)?
            )]),
            _ if is_v2_only(key) => None,
            _ => Some(Vec::new()),
        },
    }
}

/// Translates host `pairs` read from the files of the other version into
/// `want`'s terms.
fn to_version(
    pairs: &[(&str, &str)],
    want: Version,
) -> Result<Vec<(String, String)>, TranslateError> {
    let out = match want {
        Version::V1 => translate_for_v1(pairs)?,
        Version::V2 => translate_for_v2(pairs)?,
    };
    Ok(out.into_iter().map(|s| (s.key, s.value)).collect())
}

/// Reads `key` (a name of version `want`) of the group at `path`,
/// converted from whatever the host's hierarchy holds.
pub fn get_as(
    layout: &Arc<Layout>,
    path: &str,
    key: &str,
    want: Version,
) -> Result<String, ConvertError> {
    let host = host_version(layout, key)?;
    let direct = || {
        Cgroup::for_key(layout.clone(), key, path)?
            .get(key)
            .map_err(ConvertError::from)
    };
    if host == want {
        return direct();
    }
    let unmappable = || ConvertError::Unmappable {
        key: key.to_string(),
        host: number(host),
    };
    let files = sources(key, want).ok_or_else(unmappable)?;
    if files.is_empty() {
        return direct();
    }
    let mut values = Vec::new();
    for f in &files {
        values.push(Cgroup::for_key(layout.clone(), f, path)?.get(f)?);
    }
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(String::as_str)
        .zip(values.iter().map(String::as_str))
        .collect();
    let converted = to_version(&pairs, want).map_err(|_| unmappable())?;
    let value = converted
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v);
    value.map(|v| normalize(key, v)).ok_or_else(unmappable)
}

/// Every readable setting of `controller` in the group at `path`, named
/// and valued in `want`'s terms (`cgxget -g`): the host's own when it runs
/// `want`, else each host setting that the table maps, once per name;
/// settings without a counterpart are left out.
pub fn values_as(
    layout: &Arc<Layout>,
    path: &str,
    controller: &str,
    want: Version,
) -> Result<Vec<(String, String)>, ConvertError> {
    let cg = Cgroup::new(layout.clone(), &[controller], path)?;
    let values = cg.values(Some(controller))?;
    let host = cg.members().first().map(|m| m.hierarchy.version);
    if host == Some(want) {
        return Ok(values);
    }
    let mut names: Vec<String> = Vec::new();
    for (k, v) in &values {
        if let Ok(t) = to_version(&[(k.as_str(), v.as_str())], want) {
            for (name, _) in t {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    let mut out = Vec::new();
    for name in names {
        match get_as(layout, path, &name, want) {
            Ok(v) => out.push((name, v)),
            Err(ConvertError::Unmappable { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// What a v1 file reads back for a value the table writes as `-1`.
fn normalize(key: &str, value: String) -> String {
    let limit = key.ends_with("limit_in_bytes");
    if limit && value == "-1" {
        crate::translate::V1_NO_LIMIT.to_string()
    } else {
        value
    }
}

/// Writes `key` = `value` (in version `given`'s terms) to the group at
/// `path`, translated for the host's hierarchy; settings the translation
/// needs besides (the other half of `cpu.max`, the memory limit for a
/// swap limit) are read from the group. Returns the host writes made.
pub fn set_as(
    layout: &Arc<Layout>,
    path: &str,
    key: &str,
    value: &str,
    given: Version,
) -> Result<Vec<(String, String)>, ConvertError> {
    let host = host_version(layout, key)?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    if host != given {
        let partner = match key {
            "cpu.cfs_quota_us" => Some("cpu.cfs_period_us"),
            "cpu.cfs_period_us" => Some("cpu.cfs_quota_us"),
            "memory.memsw.limit_in_bytes" => Some("memory.limit_in_bytes"),
            "memory.swap.max" => Some("memory.max"),
            _ => None,
        };
        if let Some(p) = partner {
            pairs.push((p.to_string(), get_as(layout, path, p, given)?));
        }
    }
    pairs.push((key.to_string(), value.to_string()));
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let writes: Vec<(String, String)> = if host == given {
        vec![(key.to_string(), value.to_string())]
    } else {
        let t = match host {
            Version::V1 => translate_for_v1(&refs),
            Version::V2 => translate_for_v2(&refs),
        }
        .map_err(|source| ConvertError::Translate {
            key: key.to_string(),
            value: value.to_string(),
            source,
        })?;
        t.into_iter()
            .filter(|s| s.from.iter().any(|f| f == key))
            .map(|s| (s.key, s.value))
            .collect()
    };
    if writes.is_empty() {
        return Err(ConvertError::Unmappable {
            key: key.to_string(),
            host: number(host),
        });
    }
    for (k, v) in &writes {
        Cgroup::for_key(layout.clone(), k, path)?.set(k, v)?;
    }
    Ok(writes)
}

#[cfg(test)]
mod tests;
