//! crun for `bench compare containers`: two OCI bundles over the busybox
//! rootfs that enclos or LXC made, and a state directory of crun's own in
//! the run's scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::find_program;

/// The hostname crun's check bundle sets.
pub(super) const CRUN_HOSTNAME: &str = "enclos-bench";

/// crun with two bundles over the busybox rootfs, and a state directory
/// of its own.
#[derive(Debug)]
pub(super) struct Crun {
    program: PathBuf,
    root: PathBuf,
    /// Runs /bin/true.
    pub(super) bundle: PathBuf,
    /// Runs /bin/hostname.
    pub(super) check_bundle: PathBuf,
}

impl Crun {
    pub(super) fn new(scratch: &Path, rootfs: &Path) -> std::result::Result<Crun, String> {
        let program = find_program("crun").ok_or("crun not found")?;
        let root = scratch.join("crun-root");
        let bundle = scratch.join("crun-bundle");
        let check_bundle = scratch.join("crun-check-bundle");
        for (dir, argv) in [(&bundle, "/bin/true"), (&check_bundle, "/bin/hostname")] {
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(dir.join("config.json"), oci_config(rootfs, argv)))
                .map_err(|e| format!("cannot write the bundle {}: {e}", dir.display()))?;
        }
        Ok(Crun {
            program,
            root,
            bundle,
            check_bundle,
        })
    }

    /// `crun --root ROOT run --bundle BUNDLE ID`.
    pub(super) fn run(&self, bundle: &Path, id: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg(id);
        cmd
    }
}

/// A minimal OCI runtime config: `argv` (one program) as root in the
/// read-only `rootfs`, in new pid, mount, uts, ipc and network
/// namespaces, no extra mounts.
fn oci_config(rootfs: &Path, program: &str) -> String {
    format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{
    "terminal": false,
    "user": {{ "uid": 0, "gid": 0 }},
    "args": [{program}],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/"
  }},
  "root": {{ "path": {rootfs}, "readonly": true }},
  "hostname": {hostname},
  "mounts": [],
  "linux": {{
    "namespaces": [
      {{ "type": "pid" }},
      {{ "type": "mount" }},
      {{ "type": "uts" }},
      {{ "type": "ipc" }},
      {{ "type": "network" }}
    ]
  }}
}}
"#,
        program = json_string(program),
        rootfs = json_string(&rootfs.to_string_lossy()),
        hostname = json_string(CRUN_HOSTNAME),
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_config_quotes_paths() {
        let config = oci_config(Path::new("/t/a \"b\"/rootfs"), "/bin/true");
        assert!(
            config.contains(r#""path": "/t/a \"b\"/rootfs""#),
            "{config}"
        );
        assert!(config.contains(r#""args": ["/bin/true"]"#), "{config}");
    }
}
