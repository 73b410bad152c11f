//! A private apt state for the VM image: the package lists of the chosen
//! mirrors, kept under `target/vm/apt/<mirrors>/`, so that the kernel's
//! exact version is resolved (and its package downloaded) from the same
//! mirrors as the image, whatever the host's own apt sources say.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{sh_quote, short_hash, Mirrors};
use crate::process::{run_streaming, show};

/// Debian's archive keyring (package debian-archive-keyring, which
/// mmdebstrap depends on).
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The kernel package of the image: Debian's kernel for the architecture,
/// resolved to the exact package (the ABI name changes) and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// `linux-image-6.1.0-56-amd64`.
    pub package: String,
    /// `6.1.192-2`.
    pub version: String,
}

impl Kernel {
    /// The kernel release (`uname -r`, the modules directory's name):
    /// `6.1.0-56-amd64`.
    pub fn release(&self) -> &str {
        self.package
            .strip_prefix("linux-image-")
            .unwrap_or(&self.package)
    }
}

/// The meta-package that names the current kernel.
const KERNEL_META: &str = "linux-image-amd64";

#[derive(Debug)]
pub struct Apt {
    dir: PathBuf,
}

impl Apt {
    /// The apt state of `mirrors`, under `vm_dir/apt/`.
    pub fn new(vm_dir: &Path, mirrors: &Mirrors) -> Result<Apt> {
        let dir = vm_dir
            .join("apt")
            .join(short_hash(mirrors.sources().join("\n")));
        for sub in [
            "lists/partial",
            "cache/archives/partial",
            "sources.list.d",
            "preferences.d",
        ] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("Cannot create {}", dir.join(sub).display()))?;
        }
        let mut sources = String::new();
        for line in mirrors.sources() {
            // deb URL suite main -> deb [signed-by=...] URL suite main
            let line = line.replacen("deb ", &format!("deb [signed-by={KEYRING}] "), 1);
            sources.push_str(&line);
            sources.push('\n');
        }
        std::fs::write(dir.join("sources.list"), sources)
            .with_context(|| format!("Cannot write {}", dir.join("sources.list").display()))?;
        let status = dir.join("status");
        if !status.exists() {
            std::fs::write(&status, "")
                .with_context(|| format!("Cannot write {}", status.display()))?;
        }
        Ok(Apt { dir })
    }

    /// `program` (apt-get, apt-cache) working on this state only.
    fn command(&self, program: &str) -> Command {
        let d = |sub: &str| self.dir.join(sub).to_string_lossy().into_owned();
        let mut cmd = Command::new(program);
        for (key, value) in [
            ("Dir::Etc::SourceList", d("sources.list")),
            ("Dir::Etc::SourceParts", d("sources.list.d")),
            ("Dir::Etc::Preferences", d("preferences")),
            ("Dir::Etc::PreferencesParts", d("preferences.d")),
            ("Dir::State::Lists", d("lists")),
            ("Dir::State::status", d("status")),
            ("Dir::Cache", d("cache")),
            ("Dir::Cache::archives", d("cache/archives")),
            ("APT::Sandbox::User", "root".to_string()),
            ("Acquire::Languages", "none".to_string()),
            ("APT::Get::List-Cleanup", "true".to_string()),
            // Only the Packages lists: no AppStream indexes.
            (
                "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled",
                "false".to_string(),
            ),
            (
                "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled",
                "false".to_string(),
            ),
            (
                "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled",
                "false".to_string(),
            ),
        ] {
            cmd.arg("-o").arg(format!("{key}={value}"));
        }
        cmd
    }

    /// Whether the package lists were fetched at least once.
    pub fn has_lists(&self) -> bool {
        std::fs::read_dir(self.dir.join("lists"))
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
            })
            .unwrap_or(false)
    }

    /// `apt-get update` on this state.
    pub fn update(&self) -> Result<()> {
        let mut cmd = self.command("apt-get");
        cmd.args(["-q", "update"]);
        println!(
            "==> vm: apt-get update (the image's package lists, in {})",
            self.dir.display()
        );
        let status = run_streaming(&mut cmd)?;
        if !status.success() {
            bail!(
                "`apt-get update` of the image's package lists failed ({status}): check that the \
                 mirrors ({}) can be reached, or pick another with --mirror",
                self.dir.join("sources.list").display()
            );
        }
        Ok(())
    }

    /// The candidate version's fields of `package` (`apt-cache show`).
    fn show(&self, package: &str) -> Result<String> {
        let mut cmd = self.command("apt-cache");
        cmd.args(["show", "--no-all-versions", package]);
        let out = cmd
            .output()
            .with_context(|| format!("Cannot run `{}`", show(&cmd)))?;
        if !out.status.success() {
            bail!(
                "`apt-cache show {package}` failed ({}): {}; refresh the image's package lists \
                 with `cargo xtask vm build --refresh`",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The kernel that `linux-image-amd64` currently names.
    pub fn resolve_kernel(&self) -> Result<Kernel> {
        let meta = self.show(KERNEL_META)?;
        let field = |text: &str, key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        let depends = field(&meta, "Depends").unwrap_or_default();
        let package = depends
            .split(',')
            .map(|d| d.split_whitespace().next().unwrap_or(""))
            .find(|d| d.starts_with("linux-image-"))
            .map(str::to_string)
            .with_context(|| {
                format!("{KERNEL_META} depends on no linux-image-* package (Depends: {depends})")
            })?;
        let version = field(&self.show(&package)?, "Version")
            .with_context(|| format!("`apt-cache show {package}` gives no Version"))?;
        Ok(Kernel { package, version })
    }

    /// The kernel's .deb, downloaded into `cache` unless it is there.
    pub fn download_kernel(&self, kernel: &Kernel, cache: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(cache)
            .with_context(|| format!("Cannot create {}", cache.display()))?;
        // The file name apt gives it (an epoch's colon is written %3a).
        let name = format!(
            "{}_{}_amd64.deb",
            kernel.package,
            kernel.version.replace(':', "%3a")
        );
        let deb = cache.join(&name);
        if deb.is_file() {
            return Ok(deb);
        }
        let mut cmd = self.command("apt-get");
        cmd.args(["-q", "download"])
            .arg(format!("{}={}", kernel.package, kernel.version))
            .current_dir(cache);
        println!(
            "==> vm: apt-get download {}={} (into {})",
            kernel.package,
            kernel.version,
            sh_quote(&cache.to_string_lossy())
        );
        let status = run_streaming(&mut cmd)?;
        if !status.success() || !deb.is_file() {
            bail!(
                "Cannot download {} {} ({status}): the mirror may have dropped that version; \
                 run `cargo xtask vm build --refresh` to resolve the current kernel",
                kernel.package,
                kernel.version
            );
        }
        Ok(deb)
    }
}
