//! libcgroup 3 built from Debian's source package, as a reference for the
//! cg* tools that Debian 12's cgroup-tools (2.0.2) lacks (cgxget, cgxset)
//! and beside it for the others. The source comes through apt with a
//! private configuration (sources list, lists and cache under
//! `target/bench/libcgroup-src`), so the host's apt state is untouched; it
//! is built once into `target/bench/libcgroup-VERSION` and reused. The
//! build takes well under a minute, so it happens on its own when root
//! (who can install its build dependencies).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use super::Target;
use crate::deps::{self, Requirement};
use crate::process::{is_root, show, target_dir};

/// The Debian suite whose libcgroup is 3.x.
const SUITE: &str = "trixie";
const MIRROR: &str = "http://deb.debian.org/debian";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A built libcgroup: its version and install prefix.
pub(super) struct Build {
    pub version: String,
    pub prefix: PathBuf,
    /// The variant name, "libcgroup VERSION (source)".
    pub name: &'static str,
}

impl Build {
    fn new(version: String, prefix: PathBuf) -> Build {
        // Leaked once per run: variant names are &'static str.
        let name = Box::leak(format!("libcgroup {version} (source)").into_boxed_str());
        Build {
            version,
            prefix,
            name,
        }
    }

    /// The installed program `tool` (bin or sbin), or why there is none.
    pub fn tool(&self, tool: &str) -> Result<PathBuf, String> {
        ["bin", "sbin"]
            .iter()
            .map(|d| self.prefix.join(d).join(tool))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("libcgroup {} has no {tool}", self.version))
    }
}

/// The build, made on first use (once per run), or why there is none.
pub(super) fn get() -> &'static Result<Build, String> {
    static BUILD: OnceLock<Result<Build, String>> = OnceLock::new();
    BUILD.get_or_init(|| {
        let dir = target_dir().join("bench");
        let got = match cached(&dir) {
            Some(build) => {
                println!(
                    "libcgroup {} from source: reusing {}",
                    build.version,
                    build.prefix.display()
                );
                Ok(build)
            }
            None if !is_root() => Err(
                "not built yet: run this once as root to build it from Debian's source \
                 package (it installs bison, flex, gcc and make if missing)"
                    .to_string(),
            ),
            None => build(&dir),
        };
        if let Err(why) = &got {
            println!("libcgroup from source: not available: {why}");
        }
        got
    })
}

/// A complete earlier build under `dir`.
fn cached(dir: &Path) -> Option<Build> {
    let entries = fs::read_dir(dir).ok()?;
    entries.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let version = name.strip_prefix("libcgroup-")?;
        (version != "src" && e.path().join("bin/cgxget").is_file())
            .then(|| Build::new(version.to_string(), e.path()))
    })
}

/// Fetches, builds and installs libcgroup under `dir`, timing it.
fn build(dir: &Path) -> Result<Build, String> {
    let reqs = [
        ("bison", "bison"),
        ("flex", "flex"),
        ("gcc", "gcc"),
        ("make", "make"),
        ("tar", "tar"),
    ]
    .map(|(program, package)| Requirement {
        purpose: "build libcgroup from source",
        program,
        package,
    });
    let still = deps::ensure_best_effort("The libcgroup build", &reqs);
    if !still.is_empty() {
        let names: Vec<&str> = still.iter().map(|r| r.package).collect();
        return Err(format!("missing {}", names.join(", ")));
    }
    let start = Instant::now();
    let src = dir.join("libcgroup-src");
    let tarball = fetch(&src)?;
    let version = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("libcgroup_")?.strip_suffix(".orig.tar.gz"))
        .ok_or_else(|| format!("unexpected source file {}", tarball.display()))?
        .to_string();
    let prefix = dir.join(format!("libcgroup-{version}"));
    compile(&src, &tarball, &version, &prefix)?;
    println!(
        "libcgroup {version} from source: built in {:.1} s (download, configure, make, \
         install) into {}",
        start.elapsed().as_secs_f64(),
        prefix.display()
    );
    Ok(Build::new(version, prefix))
}

/// apt-get with the private configuration under `src`.
fn apt(src: &Path, tool: &str) -> Command {
    let mut cmd = Command::new(tool);
    let opt = |k: &str, v: &Path| format!("{k}={}", v.display());
    cmd.arg("-o")
        .arg(opt("Dir::Etc::sourcelist", &src.join("sources.list")))
        .args(["-o", "Dir::Etc::sourceparts=-"])
        .arg("-o")
        .arg(opt("Dir::State::Lists", &src.join("lists")))
        .arg("-o")
        .arg(opt("Dir::Cache", &src.join("cache")))
        .args(["-o", "APT::Sandbox::User=root", "-q"]);
    cmd
}

/// Runs `cmd`, its output into `log`; fails with the log's name.
fn logged(cmd: &mut Command, log: &Path) -> Result<(), String> {
    let file =
        fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({status}); see {}",
            show(cmd),
            log.display()
        ))
    }
}

/// Downloads the upstream tarball of Debian's libcgroup source package
/// into `src/dl`; returns it.
fn fetch(src: &Path) -> Result<PathBuf, String> {
    let dl = src.join("dl");
    for d in [
        src.join("lists/partial"),
        src.join("cache/archives/partial"),
        dl.clone(),
    ] {
        fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let list = format!("deb-src [signed-by={KEYRING}] {MIRROR} {SUITE} main\n");
    let path = src.join("sources.list");
    fs::write(&path, list).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    logged(apt(src, "apt-get").arg("update"), &src.join("update.log"))?;
    // The whole source package is not needed, only its upstream tarball
    // (a mirror may lack the signature or the Debian patches), so the
    // download's status is not what says whether it worked.
    let mut cmd = apt(src, "apt-get");
    cmd.args(["source", "--download-only", "libcgroup"])
        .current_dir(&dl);
    let ran = logged(&mut cmd, &src.join("source.log"));
    let entries = fs::read_dir(&dl).map_err(|e| format!("cannot read {}: {e}", dl.display()))?;
    let found = entries.flatten().map(|e| e.path()).find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("libcgroup_") && n.ends_with(".orig.tar.gz"))
    });
    found.ok_or_else(|| match ran {
        Err(why) => why,
        Ok(()) => format!("no libcgroup_*.orig.tar.gz in {}", dl.display()),
    })
}

/// Unpacks `tarball` in `src`, configures (no PAM, no systemd, no tests:
/// the tools, the library and cgrulesengd), builds and installs it into
/// `prefix`. The programs find the library through their run path.
fn compile(src: &Path, tarball: &Path, version: &str, prefix: &Path) -> Result<(), String> {
    logged(
        Command::new("tar").arg("xzf").arg(tarball).current_dir(src),
        &src.join("tar.log"),
    )?;
    let tree = src.join(format!("libcgroup-{version}"));
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    logged(
        Command::new("./configure")
            .arg(format!("--prefix={}", prefix.display()))
            .args([
                "--disable-pam",
                "--disable-systemd",
                "--disable-tests",
                "--disable-static",
            ])
            .current_dir(&tree),
        &src.join("configure.log"),
    )?;
    logged(
        Command::new("make")
            .arg(format!("-j{jobs}"))
            .current_dir(&tree),
        &src.join("make.log"),
    )?;
    let installed = logged(
        Command::new("make").arg("install").current_dir(&tree),
        &src.join("install.log"),
    );
    if installed.is_err() {
        let _ = fs::remove_dir_all(prefix);
    }
    installed
}

/// The baseline and targets of a comparison whose variants are
/// [Debian's tool, libcgroup's from source, enclos]: enclos within 1.1x of
/// each reference that runs here (of libcgroup's when neither does, so the
/// verdict says why), the baseline the first that runs.
pub(super) fn targets(debian: bool, source: bool) -> (usize, Vec<Target>) {
    let ratio = |reference| Target::Ratio {
        variant: 2,
        reference,
        max: 1.1,
    };
    let mut targets: Vec<Target> = [(0, debian), (1, source)]
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|&(i, _)| ratio(i))
        .collect();
    if targets.is_empty() {
        targets.push(ratio(1));
    }
    let baseline = if debian || !source { 0 } else { 1 };
    (baseline, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn references(targets: &[Target]) -> Vec<usize> {
        targets
            .iter()
            .map(|t| match t {
                Target::Ratio { reference, .. } => *reference,
                Target::Millis { .. } => usize::MAX,
            })
            .collect()
    }

    #[test]
    fn enclos_is_held_to_each_reference_that_runs() {
        let (base, t) = targets(false, true);
        assert_eq!((base, references(&t)), (1, vec![1]));
        let (base, t) = targets(true, true);
        assert_eq!((base, references(&t)), (0, vec![0, 1]));
        let (base, t) = targets(false, false);
        assert_eq!((base, references(&t)), (0, vec![1]));
    }
}
