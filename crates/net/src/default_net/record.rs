//! What `up` made, in a file of the run directory, so that `down` removes
//! that and nothing else: one line per thing, written as each is made.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::error::{file, Result};

/// One thing `up` made or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Made {
    /// The bridge (its addresses go with it).
    Bridge(String),
    /// An address added to a bridge that was there before.
    Address(String, IpAddr, u8),
    /// ip_forward was this value before.
    Forward(String),
    /// net.ipv6.conf.all.forwarding was this value before.
    Forward6(String),
    /// The nftables table.
    Nft,
    /// dnsmasq (its pid file and lease file are in the run directory).
    Dnsmasq,
}

impl Made {
    fn to_line(&self) -> String {
        match self {
            Made::Bridge(n) => format!("bridge {n}"),
            Made::Address(n, a, p) => format!("address {n} {a}/{p}"),
            Made::Forward(v) => format!("forward {v}"),
            Made::Forward6(v) => format!("forward6 {v}"),
            Made::Nft => "nft".into(),
            Made::Dnsmasq => "dnsmasq".into(),
        }
    }

    fn from_line(line: &str) -> Option<Made> {
        let f: Vec<&str> = line.split_whitespace().collect();
        Some(match f.as_slice() {
            ["bridge", n] => Made::Bridge(n.to_string()),
            ["address", n, a] => {
                let (a, p) = a.split_once('/')?;
                Made::Address(n.to_string(), a.parse().ok()?, p.parse().ok()?)
            }
            ["forward", v] => Made::Forward(v.to_string()),
            ["forward6", v] => Made::Forward6(v.to_string()),
            ["nft"] => Made::Nft,
            ["dnsmasq"] => Made::Dnsmasq,
            _ => return None,
        })
    }
}

/// The record in a run directory.
#[derive(Debug)]
pub(crate) struct Record {
    path: PathBuf,
    pub made: Vec<Made>,
}

impl Record {
    /// The record of `run_dir` (empty when there is none).
    pub fn open(run_dir: &Path) -> Result<Record> {
        let path = run_dir.join("made");
        let made = match std::fs::read_to_string(&path) {
            Ok(t) => t.lines().filter_map(Made::from_line).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(file("read", &path)(e)),
        };
        Ok(Record { path, made })
    }

    /// Whether there is a record at all.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Notes `m` (once), on disk at once.
    pub fn add(&mut self, m: Made) -> Result<()> {
        if self.made.contains(&m) {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(file("create", dir))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(file("write", &self.path))?;
        writeln!(f, "{}", m.to_line()).map_err(file("write", &self.path))?;
        self.made.push(m);
        Ok(())
    }

    /// Removes the record file.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(file("remove", &self.path)(e))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_written_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut r = Record::open(&run).unwrap();
        assert!(!r.exists());
        let all = [
            Made::Bridge("lxcbr0".into()),
            Made::Address(
                "br9".into(),
                IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 3, 1)),
                24,
            ),
            Made::Address("br9".into(), "fd00::1".parse().unwrap(), 64),
            Made::Forward("0".into()),
            Made::Forward6("0".into()),
            Made::Nft,
            Made::Dnsmasq,
        ];
        for m in &all {
            r.add(m.clone()).unwrap();
        }
        r.add(Made::Nft).unwrap();
        let again = Record::open(&run).unwrap();
        assert_eq!(again.made, all);
        assert_eq!(
            std::fs::read_to_string(run.join("made"))
                .unwrap()
                .lines()
                .count(),
            all.len()
        );
        again.remove().unwrap();
        assert!(!Record::open(&run).unwrap().exists());
    }
}
