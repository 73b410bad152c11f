//! Typed access to the hook, namespace and time-namespace keys.

use crate::Config;

/// The hook types of `lxc.hook.*`, in the order LXC runs them.
pub const HOOK_TYPES: &[&str] = &[
    "pre-start",
    "pre-mount",
    "mount",
    "autodev",
    "start-host",
    "start",
    "stop",
    "post-stop",
    "clone",
    "destroy",
];

/// The namespace identifiers of `lxc.namespace.share.*`, as in
/// /proc/PID/ns.
pub const SHARE_NAMESPACES: &[&str] =
    &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

impl Config {
    /// The commands of `lxc.hook.<kind>` ("pre-start", "stop", ...), in
    /// order; `lxc.hook =` clears them all.
    pub fn hooks(&self, kind: &str) -> Vec<String> {
        self.get_all(&format!("lxc.hook.{kind}"))
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `lxc.namespace.clone`: the namespaces to create, as written
    /// ("mount" or "mnt", "net", ...); None when unset (LXC then creates
    /// every one it can).
    pub fn namespace_clone(&self) -> Option<Vec<String>> {
        let values = self.get_all("lxc.namespace.clone");
        if values.is_empty() {
            return None;
        }
        Some(words(&values))
    }

    /// `lxc.namespace.keep`: namespaces inherited from the host.
    pub fn namespace_keep(&self) -> Vec<String> {
        words(&self.get_all("lxc.namespace.keep"))
    }

    /// `lxc.namespace.share.<ns>` (`ns` as in /proc/PID/ns: "net", "mnt"):
    /// a pid, a container name, or a container's path.
    pub fn namespace_share(&self, ns: &str) -> Option<&str> {
        self.get(&format!("lxc.namespace.share.{ns}"))
            .filter(|v| !v.is_empty())
    }

    /// `lxc.time.offset.boot` or `lxc.time.offset.monotonic` (`which`:
    /// "boot", "monotonic"), in nanoseconds.
    pub fn time_offset(&self, which: &str) -> Option<i128> {
        self.get(&format!("lxc.time.offset.{which}"))
            .and_then(parse_time_offset)
    }
}

fn words(values: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in values.iter().flat_map(|v| v.split_whitespace()) {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// An offset such as `10s`, `-5m`, `300ms`, in nanoseconds.
pub fn parse_time_offset(value: &str) -> Option<i128> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let number = digits.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &digits[number.len()..];
    let n: i128 = number.parse().ok()?;
    let scale: i128 = match unit {
        "h" => 3_600_000_000_000,
        "m" => 60_000_000_000,
        "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" => 1,
        _ => return None,
    };
    let ns = n.checked_mul(scale)?;
    Some(if negative { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn hooks_in_order_and_cleared_by_lxc_hook() {
        let cfg = Config::parse_str(
            "lxc.hook.stop = /a\nlxc.hook.stop = /b x\nlxc.hook.mount = /m\nlxc.hook =\nlxc.hook.mount = /n\n",
            Path::new("config"),
        )
        .unwrap();
        assert_eq!(cfg.hooks("stop"), Vec::<String>::new());
        assert_eq!(cfg.hooks("mount"), ["/n"]);
        let cfg = Config::parse_str("lxc.hook.stop = /a\nlxc.hook.stop = /b x\n", Path::new("c"))
            .unwrap();
        assert_eq!(cfg.hooks("stop"), ["/a", "/b x"]);
    }

    #[test]
    fn time_offsets_in_nanoseconds() {
        assert_eq!(parse_time_offset("10s"), Some(10_000_000_000));
        assert_eq!(parse_time_offset("-5m"), Some(-300_000_000_000));
        assert_eq!(parse_time_offset("3ms"), Some(3_000_000));
        assert_eq!(parse_time_offset("2h"), Some(7_200_000_000_000));
        assert_eq!(parse_time_offset("7ns"), Some(7));
        assert_eq!(parse_time_offset("7"), None);
    }
}
