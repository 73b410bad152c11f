//! What confines init and every attached process alike: the capabilities
//! of `lxc.cap.drop` / `lxc.cap.keep` (bounding, ambient, inheritable,
//! effective and permitted sets), `lxc.no_new_privs`, and the seccomp
//! filter of `lxc.seccomp.profile`. Built once per start or attach, before
//! any fork ([`Confinement::from_config`]), applied in the child with one
//! call ([`Confinement::apply`]).
//!
//! The kernel loads a seccomp filter only for a process that has
//! CAP_SYS_ADMIN or no_new_privs. LXC does not set no_new_privs unless
//! asked, so the filter is loaded while init (or the attached process) is
//! still root with every capability: after the container's set-up, before
//! the capabilities go, the start hooks run and the user changes. From
//! then on the filter holds for all of that and for what is exec'd.

use std::path::Path;
use std::time::Instant;

use enclos_config::{Capability, Config};
use enclos_seccomp::Filter;

use crate::error::{chain, Error, Result};

/// Where a process sees its own status (`Seccomp:`).
const PROC_SELF_STATUS: &str = "/proc/self/status";

/// The confinement of one container's processes.
#[derive(Debug, Clone)]
pub(crate) struct Confinement {
    cap_drop: Vec<Capability>,
    cap_keep: Option<Vec<Capability>>,
    no_new_privs: bool,
    seccomp: Option<Filter>,
}

impl Confinement {
    /// Reads the keys of `cfg` and compiles its seccomp profile, for
    /// container `name`. A profile that does not parse or compile is an
    /// error naming its file and line.
    pub(crate) fn from_config(cfg: &Config, name: &str) -> Result<Confinement> {
        Confinement::from_config_at(cfg, name, Path::new(PROC_SELF_STATUS))
    }

    fn from_config_at(cfg: &Config, name: &str, status: &Path) -> Result<Confinement> {
        let _span = tracing::debug_span!("seccomp_compile", container = name).entered();
        let started = Instant::now();
        let seccomp = match cfg.seccomp_profile_entry() {
            None => None,
            Some(entry) => {
                let nested = enclos_seccomp::already_confined(status).unwrap_or(false);
                if nested && !cfg.seccomp_allow_nesting() {
                    // LXC's rule: a process under a filter loads no other
                    // unless lxc.seccomp.allow_nesting says so.
                    tracing::info!(
                        "Under a seccomp filter already: {} not loaded (lxc.seccomp.allow_nesting = 1 stacks it)",
                        entry.value
                    );
                    None
                } else {
                    let filter = Filter::from_file(Path::new(&entry.value)).map_err(|source| {
                        Error::Seccomp {
                            name: name.to_string(),
                            origin: format!(
                                "{}:{}",
                                entry.origin.file.display(),
                                entry.origin.line
                            ),
                            source,
                        }
                    })?;
                    for note in filter.notes() {
                        tracing::warn!("{note}");
                    }
                    Some(filter)
                }
            }
        };
        tracing::debug!(elapsed = ?started.elapsed(), "seccomp profile compiled");
        Ok(Confinement {
            cap_drop: cfg.cap_drop(),
            cap_keep: cfg.cap_keep(),
            no_new_privs: cfg.no_new_privs(),
            seccomp,
        })
    }

    /// In the child, after the container's set-up: no_new_privs, the
    /// seccomp filter, then the capabilities. Any failure is one message
    /// for the caller to report.
    pub(crate) fn apply(&self) -> std::result::Result<(), String> {
        let _span = tracing::debug_span!("confine").entered();
        let started = Instant::now();
        if self.no_new_privs {
            nix::sys::prctl::set_no_new_privs()
                .map_err(|e| format!("Cannot set lxc.no_new_privs: {e}"))?;
        }
        if let Some(filter) = &self.seccomp {
            filter.load().map_err(|e| chain(&e))?;
        }
        if let Some(keep) = &self.cap_keep {
            enclos_namespaces::keep_only(keep).map_err(|e| chain(&e))?;
        } else if !self.cap_drop.is_empty() {
            enclos_namespaces::drop_capabilities(&self.cap_drop).map_err(|e| chain(&e))?;
        }
        tracing::debug!(elapsed = ?started.elapsed(), "confinement applied");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn cfg(text: &str) -> Config {
        Config::parse_str(text, Path::new("/c/config")).unwrap()
    }

    fn status(dir: &TempDir, seccomp: u8) -> std::path::PathBuf {
        let p = dir.path().join("status");
        std::fs::write(&p, format!("Name:\tx\nSeccomp:\t{seccomp}\n")).unwrap();
        p
    }

    #[test]
    fn a_bad_profile_names_the_key_and_the_profile_line() {
        let dir = TempDir::new().unwrap();
        let profile = dir.path().join("p.seccomp");
        std::fs::write(&profile, "2\ndenylist\nmkdir errno x\n").unwrap();
        let c = cfg(&format!(
            "lxc.uts.name = c\nlxc.seccomp.profile = {}\n",
            profile.display()
        ));
        let e = Confinement::from_config_at(&c, "c", &status(&dir, 0)).unwrap_err();
        assert_eq!(
            enclos_report::chain(&e),
            format!(
                "Container 'c' cannot start with its seccomp profile (lxc.seccomp.profile at /c/config:2): {}:3: 'x' is not an errno (expected a number from 0 to 4095)",
                profile.display()
            )
        );
    }

    #[test]
    fn a_confined_monitor_loads_no_profile_unless_nesting_is_allowed() {
        let dir = TempDir::new().unwrap();
        let profile = dir.path().join("p.seccomp");
        std::fs::write(&profile, enclos_seccomp::COMMON_PROFILE).unwrap();
        let text = format!("lxc.seccomp.profile = {}\n", profile.display());
        let c = Confinement::from_config_at(&cfg(&text), "c", &status(&dir, 2)).unwrap();
        assert!(c.seccomp.is_none());
        let c = Confinement::from_config_at(&cfg(&text), "c", &status(&dir, 0)).unwrap();
        assert!(c.seccomp.is_some());
        let nesting = format!("{text}lxc.seccomp.allow_nesting = 1\n");
        let c = Confinement::from_config_at(&cfg(&nesting), "c", &status(&dir, 2)).unwrap();
        assert!(c.seccomp.is_some());
    }
}
