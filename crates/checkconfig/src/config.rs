//! The kernel's build configuration (`CONFIG_*=y|m|...`), read from
//! `/proc/config.gz` or `/boot/config-RELEASE`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A kernel configuration: the value of each option that is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    values: BTreeMap<String, String>,
}

impl KernelConfig {
    /// Parses the text of a kernel `.config`: `CONFIG_X=y`, `CONFIG_X=m`,
    /// `CONFIG_X="text"`; comments (`# CONFIG_X is not set`) and blank
    /// lines set nothing.
    pub fn parse(text: &str) -> KernelConfig {
        let values = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        KernelConfig { values }
    }

    /// Reads `path`, gunzipping it when its name ends in `.gz`.
    pub fn read(path: &Path) -> Result<KernelConfig> {
        let io = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        let text = if path.extension().is_some_and(|e| e == "gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_string(&mut text)
                .map_err(io)?;
            text
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Ok(KernelConfig::parse(&text))
    }

    /// The value of `option` (`y`, `m`, a number, a quoted string), when set.
    pub fn value(&self, option: &str) -> Option<&str> {
        self.values.get(option).map(String::as_str)
    }

    /// Whether `option` is built in (`y`) or a module (`m`).
    pub fn enabled(&self, option: &str) -> bool {
        matches!(self.value(option), Some("y" | "m"))
    }
}

/// The places a running kernel's configuration may be, in the order they
/// are tried: `proc_config` (`/proc/config.gz`), then
/// `boot_dir/config-RELEASE`.
pub fn candidates(proc_config: &Path, boot_dir: &Path, release: &str) -> Vec<PathBuf> {
    vec![
        proc_config.to_path_buf(),
        boot_dir.join(format!("config-{release}")),
    ]
}

/// The first of [`candidates`] that can be read, with its path; `None`
/// when none exists (a kernel built without IKCONFIG and without its
/// config in /boot).
pub fn find(proc_config: &Path, boot_dir: &Path, release: &str) -> Option<(PathBuf, KernelConfig)> {
    candidates(proc_config, boot_dir, release)
        .into_iter()
        .find_map(|p| KernelConfig::read(&p).ok().map(|c| (p, c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SAMPLE: &str = "\
# Automatically generated file; DO NOT EDIT.
CONFIG_UTS_NS=y
CONFIG_OVERLAY_FS=m
# CONFIG_BTRFS_FS is not set
CONFIG_LOCALVERSION=\"-test\"
";

    #[test]
    fn parse_reads_builtin_module_and_unset_options() {
        let c = KernelConfig::parse(SAMPLE);
        assert!(c.enabled("CONFIG_UTS_NS"));
        assert!(c.enabled("CONFIG_OVERLAY_FS"));
        assert_eq!(c.value("CONFIG_OVERLAY_FS"), Some("m"));
        assert!(!c.enabled("CONFIG_BTRFS_FS"));
        assert_eq!(c.value("CONFIG_BTRFS_FS"), None);
        assert_eq!(c.value("CONFIG_LOCALVERSION"), Some("\"-test\""));
        assert!(!c.enabled("CONFIG_LOCALVERSION"));
    }

    #[test]
    fn find_prefers_proc_config_gz_and_falls_back_to_boot() {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        std::fs::create_dir(&boot).unwrap();
        std::fs::write(boot.join("config-6.1.0-test"), "CONFIG_BTRFS_FS=y\n").unwrap();
        let gz = dir.path().join("config.gz");

        let (path, c) = find(&gz, &boot, "6.1.0-test").unwrap();
        assert_eq!(path, boot.join("config-6.1.0-test"));
        assert!(c.enabled("CONFIG_BTRFS_FS"));

        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(SAMPLE.as_bytes()).unwrap();
        enc.finish().unwrap();
        let (path, c) = find(&gz, &boot, "6.1.0-test").unwrap();
        assert_eq!(path, gz);
        assert!(c.enabled("CONFIG_OVERLAY_FS"));
        assert!(!c.enabled("CONFIG_BTRFS_FS"));

        assert!(find(&gz, &boot, "other").is_some());
        std::fs::remove_file(&gz).unwrap();
        assert!(find(&gz, &boot, "other").is_none());
    }

    #[test]
    fn read_names_the_file_it_cannot_read() {
        let err = KernelConfig::read(Path::new("/nonexistent/config.gz")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/config.gz"), "{err}");
    }
}
