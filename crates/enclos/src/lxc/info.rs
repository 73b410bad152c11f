//! lxc-info: what it prints, line by line, as LXC prints it.
//!
//! Without a filter (`-s`, `-p`, `-i`, `-S`, `-c`) every field is shown.
//! `-H` prints numbers raw, and, as in LXC, a lone field bare: with one of
//! `-s`, `-p`, `-i` alone, `-H` prints just the value (`lxc-info -p -H`
//! prints the pid); with one `-c KEY`, `-H` prints just the key's value
//! (`-c KEY` alone prints `KEY = VALUE`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use enclos_container::{self as container, Info};

use super::Common;
use crate::output::{print_json, Format};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// Show the state.
    #[arg(short = 's', long = "state")]
    state: bool,
    /// Show init's pid.
    #[arg(short = 'p', long = "pid")]
    pid: bool,
    /// Show the IP addresses.
    #[arg(short = 'i', long = "ips")]
    ips: bool,
    /// Show the resource use.
    #[arg(short = 'S', long = "stats")]
    stats: bool,
    /// Raw numbers instead of human units; a single field (-s, -p, -i or
    /// one -c KEY) is printed as its bare value.
    #[arg(short = 'H', long = "no-humanize")]
    raw: bool,
    /// Show the value of a configuration key; repeatable.
    #[arg(short = 'c', long = "config", value_name = "KEY")]
    config: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    #[command(flatten)]
    common: Common,
}

impl InfoArgs {
    pub(super) fn run(self) -> Result<ExitCode> {
        let c = self.common.open(&self.name)?;
        let keys = container::config_values(&c, &self.config)?;
        let info = container::info(&c)?;
        if self.format == Format::Json {
            print_json(&info)?;
            return Ok(ExitCode::SUCCESS);
        }
        let text = render(&info, &self.fields(), &keys);
        std::io::stdout().write_all(text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    }

    fn fields(&self) -> Fields {
        Fields {
            state: self.state,
            pid: self.pid,
            ips: self.ips,
            stats: self.stats,
            raw: self.raw,
        }
    }
}

/// The fields asked for, and `-H`.
#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    state: bool,
    pid: bool,
    ips: bool,
    stats: bool,
    raw: bool,
}

/// What lxc-info prints for `info`, the fields asked and the values of the
/// `-c` keys (in the order asked), in LXC's order: name, state, pid,
/// addresses, resource use, then the keys.
fn render(info: &Info, asked: &Fields, keys: &[(String, Vec<String>)]) -> String {
    let all = !(asked.state || asked.pid || asked.ips || asked.stats) && keys.is_empty();
    let f = if all {
        Fields {
            state: true,
            pid: true,
            ips: true,
            stats: true,
            raw: asked.raw,
        }
    } else {
        *asked
    };
    // As LXC counts its filters: -S stands for five fields.
    let filters = [asked.state, asked.pid, asked.ips]
        .iter()
        .filter(|b| **b)
        .count()
        + if asked.stats { 5 } else { 0 };
    let bare = f.raw && filters == 1;
    let mut out = String::new();
    let mut line = |k: &str, v: &str| {
        if bare {
            out.push_str(&format!("{v}\n"));
        } else {
            out.push_str(&format!("{:<15} {v}\n", format!("{k}:")));
        }
    };
    if all {
        line("Name", &info.name);
    }
    if f.state {
        line("State", info.state.as_str());
    }
    if info.state.is_active() {
        if let Some(p) = info.pid.filter(|_| f.pid) {
            line("PID", &p.to_string());
        }
        for ip in info.ips.iter().filter(|_| f.ips) {
            line("IP", ip);
        }
        if f.stats {
            stats(info, f.raw, &mut line);
            for l in &info.links {
                line("Link", &l.link);
                line(" TX bytes", &human_bytes(l.tx_bytes, f.raw));
                line(" RX bytes", &human_bytes(l.rx_bytes, f.raw));
                line(" Total bytes", &human_bytes(l.tx_bytes + l.rx_bytes, f.raw));
            }
        }
        if let Some(m) = info.rootfs_idmap.filter(|_| all) {
            line("Rootfs idmap", m.as_str());
        }
        if all && !info.monitor {
            line("Monitor", "gone (stop -k or destroy -f cleans up)");
        }
    }
    for (key, values) in keys {
        let value = values.join("\n");
        if f.raw && keys.len() == 1 {
            out.push_str(&format!("{value}\n"));
        } else if value.is_empty() {
            out.push_str(&format!("{key} =\n"));
        } else {
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
    out
}

/// The resource-use lines: CPU seconds (nanoseconds with `-H`) and bytes
/// in binary units (raw with `-H`).
fn stats(info: &Info, raw: bool, line: &mut impl FnMut(&str, &str)) {
    if let Some(ns) = info.cpu_use_ns {
        let v = if raw {
            ns.to_string()
        } else {
            format!("{:.2} seconds", ns as f64 / 1e9)
        };
        line("CPU use", &v);
    }
    let bytes = [
        ("BlkIO use", info.blkio_use_bytes),
        ("Memory use", info.memory_use_bytes),
        ("KMem use", info.kmem_use_bytes),
    ];
    for (label, value) in bytes {
        if let Some(b) = value {
            line(label, &human_bytes(b, raw));
        }
    }
}

fn human_bytes(n: u64, raw: bool) -> String {
    if raw {
        return n.to_string();
    }
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.2} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enclos_container::State;

    fn running() -> Info {
        Info {
            name: "c1".into(),
            state: State::Running,
            pid: Some(4242),
            monitor: true,
            ips: vec!["10.0.3.5".into()],
            links: Vec::new(),
            cpu_use_ns: Some(1_500_000_000),
            blkio_use_bytes: Some(0),
            memory_use_bytes: Some(2048),
            kmem_use_bytes: None,
            rootfs_idmap: None,
        }
    }

    fn fields(spec: &str) -> Fields {
        Fields {
            state: spec.contains('s'),
            pid: spec.contains('p'),
            ips: spec.contains('i'),
            stats: spec.contains('S'),
            raw: spec.contains('H'),
        }
    }

    fn key(k: &str, v: &[&str]) -> (String, Vec<String>) {
        (k.to_string(), v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn lone_field_with_h_is_the_bare_value() {
        let info = running();
        assert_eq!(render(&info, &fields("pH"), &[]), "4242\n");
        assert_eq!(render(&info, &fields("sH"), &[]), "RUNNING\n");
        assert_eq!(render(&info, &fields("iH"), &[]), "10.0.3.5\n");
    }

    #[test]
    fn fields_keep_their_labels_without_h_or_with_several() {
        let info = running();
        assert_eq!(render(&info, &fields("p"), &[]), "PID:            4242\n");
        assert_eq!(
            render(&info, &fields("spH"), &[]),
            "State:          RUNNING\nPID:            4242\n"
        );
        // -S counts as several fields: its lines keep their labels.
        let out = render(&info, &fields("SH"), &[]);
        assert!(out.contains("CPU use:        1500000000\n"), "{out}");
        assert!(out.contains("Memory use:     2048\n"), "{out}");
    }

    #[test]
    fn one_key_with_h_is_its_bare_value() {
        let info = running();
        let rootfs = [key("lxc.rootfs.path", &["dir:/var/lib/lxc/c1/rootfs"])];
        assert_eq!(
            render(&info, &fields(""), &rootfs),
            "lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs\n"
        );
        assert_eq!(
            render(&info, &fields("H"), &rootfs),
            "dir:/var/lib/lxc/c1/rootfs\n"
        );
        let two = [key("lxc.uts.name", &["c1"]), key("lxc.start.auto", &[])];
        assert_eq!(
            render(&info, &fields("H"), &two),
            "lxc.uts.name = c1\nlxc.start.auto =\n"
        );
    }

    #[test]
    fn keys_come_after_the_fields_and_alone_print_no_name() {
        let info = running();
        let out = render(&info, &fields("p"), &[key("lxc.uts.name", &["c1"])]);
        assert_eq!(out, "PID:            4242\nlxc.uts.name = c1\n");
    }

    #[test]
    fn no_filter_shows_everything_labelled_even_with_h() {
        let info = running();
        let out = render(&info, &fields("H"), &[]);
        assert!(
            out.starts_with("Name:           c1\nState:          RUNNING\n"),
            "{out}"
        );
        assert!(out.contains("PID:            4242\n"), "{out}");
        assert!(out.contains("CPU use:        1500000000\n"), "{out}");
    }

    #[test]
    fn an_unprivileged_container_says_how_its_rootfs_is_mapped() {
        let mut info = running();
        assert!(!render(&info, &fields(""), &[]).contains("Rootfs idmap"));
        info.rootfs_idmap = Some(enclos_container::RootfsIdmap::IdmappedMount);
        let out = render(&info, &fields(""), &[]);
        assert!(out.contains("Rootfs idmap:   idmapped mount\n"), "{out}");
        assert!(!render(&info, &fields("p"), &[]).contains("Rootfs idmap"));
    }

    #[test]
    fn stopped_container_has_no_pid() {
        let mut info = running();
        info.state = State::Stopped;
        info.pid = None;
        assert_eq!(render(&info, &fields("pH"), &[]), "");
        assert_eq!(render(&info, &fields("sH"), &[]), "STOPPED\n");
    }
}
