//! Running the programs the default network relies on (nft, dnsmasq),
//! with a missing program said with the package that provides it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{Error, Result};

/// A program, the Debian package that has it, and what it is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    pub program: &'static str,
    pub package: &'static str,
    pub purpose: &'static str,
}

pub(crate) const NFT: Tool = Tool {
    program: "nft",
    package: "nftables",
    purpose: "the NAT of the containers' network",
};

pub(crate) const DNSMASQ: Tool = Tool {
    program: "dnsmasq",
    package: "dnsmasq-base",
    purpose: "DHCP and DNS for the containers",
};

impl Tool {
    /// Runs the program with `args` (and `input` on its standard input),
    /// to `what`; its standard error is the detail of a failure.
    pub fn run(&self, args: &[String], input: Option<&str>, what: &str) -> Result<String> {
        let mut child = Command::new(self.path())
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e, what))?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            // A write error shows as the program's own failure below.
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| self.spawn_error(e, what))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(Error::Tool {
            program: self.program,
            what: what.to_string(),
            detail: if stderr.is_empty() {
                out.status.to_string()
            } else {
                stderr
            },
        })
    }

    /// The program on `$PATH`, else in the sbin directories a user's
    /// `$PATH` (kept by sudo) may lack.
    fn path(&self) -> PathBuf {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(self.program).is_file()));
        let sbin = ["/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(self.program))
            .find(|p| p.is_file());
        match sbin {
            Some(p) if !on_path => p,
            _ => PathBuf::from(self.program),
        }
    }

    fn spawn_error(&self, e: std::io::Error, what: &str) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Missing {
                program: self.program,
                package: self.package,
                purpose: self.purpose,
            }
        } else {
            Error::Tool {
                program: self.program,
                what: what.to_string(),
                detail: e.to_string(),
            }
        }
    }
}
