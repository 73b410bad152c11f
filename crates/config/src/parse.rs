//! Reading config files: lines, includes, legacy keys.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Origin, Warning, WarningKind};
use crate::keys::{self, Class, Kind, Support};
use crate::values::{self, Rootfs, ROOTFS_BACKENDS};
use crate::Entry;

/// One physical line of a config file, kept to write the file back.
#[derive(Debug, Clone)]
pub(crate) enum Line {
    Blank,
    Comment(String),
    Entry(TopEntry),
    /// A key with no modern equivalent, dropped when the file is written,
    /// unless `kept`: a `lxc.rootfs.backend` that an included file's
    /// `lxc.rootfs` still needs.
    Obsolete {
        key: String,
        raw: String,
        kept: bool,
    },
}

/// An entry of the top-level file.
#[derive(Debug, Clone)]
pub(crate) struct TopEntry {
    pub entry: Entry,
    /// The line as read, written back as is while the entry is unchanged
    /// (`None` for legacy keys, written in their modern form).
    pub raw: Option<String>,
    /// For `lxc.include`: the entries of the included files, in order.
    pub included: Vec<Entry>,
}

/// The state of one load: warnings, the include stack, and what the
/// legacy keys need to remember.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    pub warnings: Vec<Warning>,
    /// The files being read: (canonical path, path as shown).
    stack: Vec<(PathBuf, PathBuf)>,
    /// The index the last un-numbered `lxc.network.type` opened.
    legacy_net: Option<u32>,
    /// The highest network index seen.
    max_net: Option<u32>,
    /// The last `lxc.rootfs.backend`.
    pub rootfs_backend: Option<String>,
    /// Where LXC's system files are, and where enclos keeps its own.
    pub system_dirs: SystemDirs,
}

/// LXC's system configuration directory and enclos's, for includes of
/// LXC's system files (see [`Parser::include`]).
#[derive(Debug, Clone)]
pub(crate) struct SystemDirs {
    /// `/etc/lxc`.
    pub lxc: PathBuf,
    /// `/etc/enclos`.
    pub enclos: PathBuf,
}

impl Default for SystemDirs {
    fn default() -> Self {
        SystemDirs {
            lxc: PathBuf::from("/etc/lxc"),
            enclos: PathBuf::from("/etc/enclos"),
        }
    }
}

/// The system default container configuration, in either directory.
const DEFAULT_CONF: &str = "default.conf";

impl Parser {
    /// Parses the text of the top-level file.
    pub fn parse_top(&mut self, text: &str, file: &Path) -> Result<Vec<Line>, Error> {
        self.stack.push((canonical(file), file.to_path_buf()));
        let lines = self.parse_text(text, file);
        self.stack.pop();
        let mut lines = lines?;
        self.apply_rootfs_backend(&mut lines)?;
        Ok(lines)
    }

    /// A parser for entries added to the config of `file` after loading.
    pub fn for_file(file: &Path) -> Parser {
        Parser {
            stack: vec![(canonical(file), file.to_path_buf())],
            ..Parser::default()
        }
    }

    fn parse_text(&mut self, text: &str, file: &Path) -> Result<Vec<Line>, Error> {
        let mut lines = Vec::new();
        for (number, raw) in text.lines().enumerate() {
            let origin = Origin::new(file, number + 1);
            lines.push(self.parse_line(raw, origin, file)?);
        }
        Ok(lines)
    }

    /// One line.
    fn parse_line(&mut self, raw: &str, origin: Origin, file: &Path) -> Result<Line, Error> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(Line::Blank);
        }
        if text.starts_with('#') {
            return Ok(Line::Comment(raw.to_string()));
        }
        let Some((key, value)) = text.split_once('=') else {
            return Err(Error::Syntax {
                origin,
                text: text.to_string(),
            });
        };
        let (key, value) = (key.trim(), unquote(value.trim()));
        check_key_syntax(key, &origin)?;
        let Some((modern, legacy)) = self.resolve(key, value, &origin)? else {
            return Ok(Line::Obsolete {
                key: key.to_string(),
                raw: raw.to_string(),
                kept: false,
            });
        };
        let spec = check_entry(&modern, key, value, &origin)?;
        if let Some(index) = keys::net_index(&modern) {
            self.max_net = Some(self.max_net.map_or(index, |m| m.max(index)));
            // The un-numbered legacy keys that follow are about this
            // network, however its type line is written (a file written
            // back has `lxc.net.N.type` where it read `lxc.network.type`).
            if keys::net_subkey(&modern) == Some("type") {
                self.legacy_net = Some(index);
            }
        }
        let included = if spec.kind == Kind::Include && !value.is_empty() {
            self.include(value, &origin, file)?
        } else {
            Vec::new()
        };
        let raw = legacy.is_none().then(|| raw.to_string());
        let entry = Entry {
            key: modern,
            value: value.to_string(),
            origin,
            legacy_key: legacy,
        };
        Ok(Line::Entry(TopEntry {
            entry,
            raw,
            included,
        }))
    }

    /// The modern key for a key as written, with the legacy spelling when
    /// it was one (and a warning); `None` for a dropped key.
    fn resolve(
        &mut self,
        key: &str,
        value: &str,
        origin: &Origin,
    ) -> Result<Option<(String, Option<String>)>, Error> {
        let modern = match keys::classify(key) {
            Class::Modern { key, .. } => return Ok(Some((key, None))),
            Class::Renamed { modern } => match keys::classify(&modern) {
                Class::Modern { key, .. } => key,
                _ => modern,
            },
            Class::LegacyNetwork => self.legacy_network(key, origin)?,
            Class::Obsolete { reason } => {
                if key == "lxc.rootfs.backend" {
                    self.rootfs_backend = match value {
                        "" => None,
                        v if ROOTFS_BACKENDS.contains(&v) => Some(v.to_string()),
                        v => {
                            return Err(Error::InvalidValue {
                                origin: origin.clone(),
                                key: key.to_string(),
                                value: v.to_string(),
                                expected: format!("one of {}", ROOTFS_BACKENDS.join(", ")),
                            })
                        }
                    };
                }
                self.warn(
                    origin,
                    WarningKind::Obsolete {
                        key: key.to_string(),
                        reason: reason.to_string(),
                    },
                );
                return Ok(None);
            }
            Class::BadNetIndex => return Err(bad_net_index(key, origin)),
            Class::Unknown { suggestion } => {
                return Err(Error::UnknownKey {
                    origin: origin.clone(),
                    key: key.to_string(),
                    suggestion,
                })
            }
        };
        self.warn(
            origin,
            WarningKind::Legacy {
                key: key.to_string(),
                replacement: modern.clone(),
            },
        );
        Ok(Some((modern, Some(key.to_string()))))
    }

    /// `lxc.network[.N].KEY` → `lxc.net.N.KEY`. Without an index, each
    /// `lxc.network.type` opens the next network, as LXC 2 did.
    fn legacy_network(&mut self, key: &str, origin: &Origin) -> Result<String, Error> {
        let rest = key.strip_prefix("lxc.network").unwrap_or_default();
        let Some(rest) = rest.strip_prefix('.') else {
            return Ok("lxc.net".to_string());
        };
        let sub = |s: &str| match s {
            "ipv4" => "ipv4.address".to_string(),
            "ipv6" => "ipv6.address".to_string(),
            s => s.to_string(),
        };
        let (first, tail) = rest.split_once('.').unwrap_or((rest, ""));
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            let index: u32 = first.parse().map_err(|_| bad_net_index(key, origin))?;
            return Ok(match tail {
                "" => format!("lxc.net.{index}"),
                tail => format!("lxc.net.{index}.{}", sub(tail)),
            });
        }
        let index = if rest == "type" {
            let index = self.max_net.map_or(0, |m| m + 1);
            self.legacy_net = Some(index);
            self.max_net = Some(index);
            index
        } else {
            self.legacy_net.ok_or_else(|| Error::InvalidKey {
                origin: origin.clone(),
                key: key.to_string(),
                reason: "it comes before any 'lxc.network.type', which opens each network"
                    .to_string(),
            })?
        };
        Ok(format!("lxc.net.{index}.{}", sub(rest)))
    }

    fn warn(&mut self, origin: &Origin, kind: WarningKind) {
        tracing::debug!(%origin, ?kind, "configuration warning");
        self.warnings.push(Warning {
            origin: origin.clone(),
            kind,
        });
    }

    /// Reads what `lxc.include = value` names: a file, or the `*.conf`
    /// files of a directory in name order. A relative path is relative to
    /// the including file's directory.
    pub fn include(
        &mut self,
        value: &str,
        origin: &Origin,
        file: &Path,
    ) -> Result<Vec<Entry>, Error> {
        let mut path = file.parent().unwrap_or(Path::new("")).join(value);
        match self.lxc_system_file(&path) {
            LxcSystemFile::Present => {}
            LxcSystemFile::ReadFrom(ours) => {
                self.warn(
                    origin,
                    WarningKind::LxcSystemInclude {
                        path: path.clone(),
                        read: Some(ours.clone()),
                    },
                );
                path = ours;
            }
            LxcSystemFile::Absent => {
                self.warn(origin, WarningKind::LxcSystemInclude { path, read: None });
                return Ok(Vec::new());
            }
        }
        let include_error = |source: io::Error| Error::Include {
            origin: origin.clone(),
            path: path.clone(),
            source,
        };
        let metadata = match fs::metadata(&path) {
            // LXC skips a directory include (a path ending in '/') that does
            // not exist: userns.conf names userns.conf.d/ on every host.
            Err(e) if e.kind() == io::ErrorKind::NotFound && value.ends_with('/') => {
                self.warn(origin, WarningKind::MissingIncludeDir { path });
                return Ok(Vec::new());
            }
            result => result.map_err(include_error)?,
        };
        let files = if metadata.is_dir() {
            let mut files = Vec::new();
            for dirent in fs::read_dir(&path).map_err(include_error)? {
                let file = dirent.map_err(include_error)?.path();
                let is_conf = file.extension().is_some_and(|e| e == "conf")
                    && file.file_stem().is_some_and(|s| !s.is_empty());
                if is_conf && file.is_file() {
                    files.push(file);
                }
            }
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        let mut entries = Vec::new();
        for included in files {
            tracing::debug!(%origin, file = %included.display(), "including");
            entries.extend(self.include_file(&included, origin)?);
        }
        Ok(entries)
    }

    /// What to read for an include of `path` when it names a file of
    /// LXC's system directory (`/etc/lxc/default.conf`, as the course's
    /// `~/.config/lxc/default.conf` has it).
    ///
    /// Such an include means "the host's system configuration". enclos
    /// keeps its own in `/etc/enclos`, and a host with enclos and no LXC
    /// has no `/etc/lxc` at all, where LXC itself would refuse the include.
    /// What a user of LXC expects is the system default of the tool they
    /// run, so a file missing from `/etc/lxc` is read from the same place
    /// in `/etc/enclos` when it is there. When it is in neither and it is
    /// `default.conf`, nothing is included: the system default need not
    /// exist (create reads none when `/etc/enclos/default.conf` is absent),
    /// so an absent one is an empty one. Each case leaves a warning saying
    /// what was read. Any other missing file stays an error, as in LXC.
    fn lxc_system_file(&self, path: &Path) -> LxcSystemFile {
        let Ok(rel) = path.strip_prefix(&self.system_dirs.lxc) else {
            return LxcSystemFile::Present;
        };
        if rel.as_os_str().is_empty() || fs::symlink_metadata(path).is_ok() {
            return LxcSystemFile::Present;
        }
        let ours = self.system_dirs.enclos.join(rel);
        if fs::metadata(&ours).is_ok() {
            LxcSystemFile::ReadFrom(ours)
        } else if rel == Path::new(DEFAULT_CONF) {
            LxcSystemFile::Absent
        } else {
            LxcSystemFile::Present
        }
    }

    fn include_file(&mut self, path: &Path, origin: &Origin) -> Result<Vec<Entry>, Error> {
        let canonical_path = canonical(path);
        if self.stack.iter().any(|(c, _)| *c == canonical_path) {
            let mut chain: Vec<PathBuf> =
                self.stack.iter().map(|(_, shown)| shown.clone()).collect();
            chain.push(path.to_path_buf());
            return Err(Error::IncludeLoop {
                origin: origin.clone(),
                chain,
            });
        }
        let text = fs::read_to_string(path).map_err(|source| Error::Include {
            origin: origin.clone(),
            path: path.to_path_buf(),
            source,
        })?;
        self.stack.push((canonical_path, path.to_path_buf()));
        let lines = self.parse_text(&text, path);
        self.stack.pop();
        Ok(flatten(lines?))
    }

    /// `lxc.rootfs = /path` with `lxc.rootfs.backend = btrfs` is
    /// `lxc.rootfs.path = btrfs:/path`.
    ///
    /// When an included file's `lxc.rootfs` takes the prefix, this file
    /// keeps its `lxc.rootfs.backend` lines when it is written back: the
    /// included file still needs them.
    fn apply_rootfs_backend(&self, lines: &mut [Line]) -> Result<(), Error> {
        let Some(backend) = self.rootfs_backend.as_deref().filter(|b| *b != "dir") else {
            return Ok(());
        };
        let mut included_needs_it = false;
        for line in lines.iter_mut() {
            let Line::Entry(top) = line else { continue };
            let entries = std::iter::once((&mut top.entry, false))
                .chain(top.included.iter_mut().map(|e| (e, true)));
            for (entry, included) in entries {
                if entry.legacy_key.as_deref() == Some("lxc.rootfs")
                    && !entry.value.is_empty()
                    && !Rootfs::has_backend_prefix(&entry.value)
                {
                    entry.value = format!("{backend}:{}", entry.value);
                    let key = entry.legacy_key.clone().unwrap_or_default();
                    check_entry(&entry.key, &key, &entry.value, &entry.origin)?;
                    included_needs_it |= included;
                }
            }
        }
        for line in lines {
            if let Line::Obsolete { key, kept, .. } = line {
                *kept |= included_needs_it && key == "lxc.rootfs.backend";
            }
        }
        Ok(())
    }
}

/// See [`Parser::lxc_system_file`].
enum LxcSystemFile {
    /// Not a file of LXC's system directory, or there: read as named (a
    /// missing one is the usual error).
    Present,
    /// Missing there; enclos's file of the same name is read.
    ReadFrom(PathBuf),
    /// The system default, in neither directory: nothing to read.
    Absent,
}

/// The entries of parsed lines, includes expanded in place.
pub(crate) fn flatten(lines: Vec<Line>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for line in lines {
        if let Line::Entry(top) = line {
            entries.push(top.entry);
            entries.extend(top.included);
        }
    }
    entries
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Takes off one pair of matching quotes around a value, as LXC does.
pub(crate) fn unquote(value: &str) -> &str {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(&q @ (b'"' | b'\'')) if bytes.len() > 1 && bytes[bytes.len() - 1] == q => {
            &value[1..value.len() - 1]
        }
        _ => value,
    }
}

/// Writes a value so that [`unquote`] gives it back.
pub(crate) fn quote(value: &str) -> String {
    let needs_quotes = value != value.trim() || unquote(value).len() != value.len();
    if needs_quotes {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

pub(crate) fn check_key_syntax(key: &str, origin: &Origin) -> Result<(), Error> {
    if !key.starts_with("lxc.") {
        return Err(Error::InvalidKey {
            origin: origin.clone(),
            key: key.to_string(),
            reason: "configuration keys start with 'lxc.'".to_string(),
        });
    }
    if key.contains(char::is_whitespace) {
        return Err(Error::InvalidKey {
            origin: origin.clone(),
            key: key.to_string(),
            reason: "a key has no blanks".to_string(),
        });
    }
    Ok(())
}

fn bad_net_index(key: &str, origin: &Origin) -> Error {
    Error::InvalidKey {
        origin: origin.clone(),
        key: key.to_string(),
        reason:
            "network keys are lxc.net.<index>.<key>, with <index> a number (e.g. lxc.net.0.type)"
                .to_string(),
    }
}

/// Checks one entry whose key is modern: supported, and a valid value
/// (an empty value, which clears, is always valid). `shown` is the key as
/// written, for the messages.
pub(crate) fn check_entry(
    key: &str,
    shown: &str,
    value: &str,
    origin: &Origin,
) -> Result<&'static keys::KeySpec, Error> {
    let spec = match keys::classify(key) {
        Class::Modern { spec, .. } => spec,
        Class::BadNetIndex => return Err(bad_net_index(shown, origin)),
        _ => {
            return Err(Error::UnknownKey {
                origin: origin.clone(),
                key: shown.to_string(),
                suggestion: keys::suggest(key),
            })
        }
    };
    if spec.support == Support::NotYet {
        return Err(Error::Unsupported {
            origin: origin.clone(),
            key: shown.to_string(),
            why: keys::not_yet_reason(key)
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
        });
    }
    if value.is_empty() {
        return Ok(spec);
    }
    values::check(spec.kind, value).map_err(|expected| Error::InvalidValue {
        origin: origin.clone(),
        key: shown.to_string(),
        value: value.to_string(),
        expected,
    })?;
    if spec.kind == Kind::NetType && keys::net_type_support(value) != Some(Support::Supported) {
        return Err(Error::UnsupportedNetType {
            origin: origin.clone(),
            key: shown.to_string(),
            net_type: value.to_string(),
            supported: keys::supported_net_types(),
        });
    }
    Ok(spec)
}

#[cfg(test)]
#[path = "parse_prop_tests.rs"]
mod prop_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("plain", "plain")]
    #[case("\"busybox\"", "busybox")]
    #[case("'busybox'", "busybox")]
    #[case("\"mixed'", "\"mixed'")]
    #[case("\"", "\"")]
    #[case("\"\"", "")]
    #[case("a \"b\"", "a \"b\"")]
    fn unquoting(#[case] value: &str, #[case] expected: &str) {
        assert_eq!(unquote(value), expected);
    }

    #[rstest]
    #[case("plain")]
    #[case(" leading")]
    #[case("trailing ")]
    #[case("\"quoted\"")]
    #[case("'single'")]
    #[case("\"\"")]
    #[case("\"")]
    #[case("a # not a comment")]
    fn quoting_round_trips(#[case] value: &str) {
        assert_eq!(unquote(quote(value).trim()), value);
    }

    /// Found by the property tests: a misspelt key of 60 000 characters
    /// took seconds (the edit distance to each known key), and a megabyte
    /// would hang the read.
    #[test]
    fn a_long_unknown_key_is_reported_at_once() {
        for head in ["lxc.net.0.", "lxc.cgrup.", "lxc.uts.nam"] {
            let line = format!("{head}{} = 1", ".".repeat(1 << 20));
            let start = std::time::Instant::now();
            let err = crate::Config::parse_str(&line, Path::new("/c/config")).unwrap_err();
            assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
            assert!(err.to_string().starts_with("/c/config:1: "));
        }
    }

    /// Writes `files` (name, text) in a new temporary directory; loads its
    /// `config`, writes it back and loads that again.
    fn load_twice(files: &[(&str, &str)]) -> (crate::Config, crate::Config) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        let path = dir.path().join("config");
        let config = crate::Config::load(&path).unwrap();
        let again = crate::Config::parse_str(&config.to_string(), &path)
            .unwrap_or_else(|e| panic!("{e} in\n{config}"));
        (config, again)
    }

    fn key_values(c: &crate::Config) -> Vec<String> {
        c.entries()
            .iter()
            .map(|e| format!("{} = {}", e.key, e.value))
            .collect()
    }

    /// Found by the property tests: the file written back has
    /// `lxc.net.0.type` where it read `lxc.network.type`, and an included
    /// `lxc.network.link` then had no network to go to.
    #[test]
    fn legacy_network_keys_follow_a_modern_type_line() {
        let (config, again) = load_twice(&[
            ("config", "lxc.network.type = empty\nlxc.include = a.conf\n"),
            ("a.conf", "lxc.network.link = br0\n"),
        ]);
        assert_eq!(
            config.to_string(),
            "lxc.net.0.type = empty\nlxc.include = a.conf\n"
        );
        assert_eq!(key_values(&again), key_values(&config));
        assert_eq!(again.get("lxc.net.0.link"), Some("br0"));
    }

    /// Found by the property tests: `lxc.rootfs.backend` was dropped from
    /// the file written back, and an included `lxc.rootfs` lost its
    /// prefix.
    #[test]
    fn a_backend_an_included_file_needs_is_kept() {
        let (config, again) = load_twice(&[
            (
                "config",
                "lxc.rootfs.backend = btrfs\nlxc.include = a.conf\n",
            ),
            ("a.conf", "lxc.rootfs = /x\n"),
        ]);
        assert_eq!(config.get("lxc.rootfs.path"), Some("btrfs:/x"));
        assert_eq!(again.get("lxc.rootfs.path"), Some("btrfs:/x"));
        // Without an include that needs it, it goes.
        let (config, _) =
            load_twice(&[("config", "lxc.rootfs.backend = btrfs\nlxc.rootfs = /x\n")]);
        assert_eq!(config.to_string(), "lxc.rootfs.path = btrfs:/x\n");
    }

    /// The course's `~/.config/lxc/default.conf`, read with the system
    /// directories in a temporary tree.
    const COURSE: &str = "lxc.include = /etc/lxc/default.conf\n\
                          lxc.id_map = u 0 165536 65536\n\
                          lxc.id_map = g 0 165536 65536\n";

    /// Parses `COURSE` with `/etc/lxc` and `/etc/enclos` under `root`:
    /// the entries (key = value) and the warnings' text.
    fn course(root: &Path) -> (Vec<String>, Vec<String>) {
        let dirs = SystemDirs {
            lxc: root.join("etc/lxc"),
            enclos: root.join("etc/enclos"),
        };
        let text = COURSE.replace("/etc/lxc", &dirs.lxc.display().to_string());
        let mut parser = Parser {
            system_dirs: dirs,
            ..Parser::default()
        };
        let file = root.join("home/u/.config/lxc/default.conf");
        let lines = parser.parse_top(&text, &file).unwrap();
        let entries = flatten(lines)
            .into_iter()
            .map(|e| format!("{} = {}", e.key, e.value))
            .collect();
        let warnings = parser.warnings.iter().map(|w| w.to_string()).collect();
        (entries, warnings)
    }

    #[test]
    fn the_courses_file_loads_without_lxcs_system_default() {
        let root = tempfile::tempdir().unwrap();
        let (entries, warnings) = course(root.path());
        let lxc_default = root.path().join("etc/lxc/default.conf");
        assert_eq!(
            entries,
            [
                format!("lxc.include = {}", lxc_default.display()),
                "lxc.idmap = u 0 165536 65536".to_string(),
                "lxc.idmap = g 0 165536 65536".to_string(),
            ]
        );
        assert!(warnings[0].ends_with(&format!(
            "default.conf:1: LXC's {} does not exist, nor does enclos's system default: nothing included from it",
            lxc_default.display()
        )), "{warnings:?}");
        // The legacy key is read, with a warning naming the modern one.
        assert!(
            warnings[1].ends_with(
                "default.conf:2: Legacy key 'lxc.id_map' read as 'lxc.idmap'; use 'lxc.idmap' instead"
            ),
            "{warnings:?}"
        );
        assert_eq!(warnings.len(), 3);
    }

    #[test]
    fn enclos_system_default_stands_in_for_lxcs() {
        let root = tempfile::tempdir().unwrap();
        let ours = root.path().join("etc/enclos/default.conf");
        fs::create_dir_all(ours.parent().unwrap()).unwrap();
        fs::write(&ours, "lxc.net.0.type = empty\n").unwrap();
        let (entries, warnings) = course(root.path());
        assert_eq!(entries[1], "lxc.net.0.type = empty");
        assert!(
            warnings[0].contains(&format!("included enclos's {} instead", ours.display())),
            "{warnings:?}"
        );
    }

    #[test]
    fn lxcs_own_file_wins_and_other_missing_files_stay_errors() {
        let root = tempfile::tempdir().unwrap();
        let theirs = root.path().join("etc/lxc/default.conf");
        fs::create_dir_all(theirs.parent().unwrap()).unwrap();
        fs::write(&theirs, "lxc.tty.max = 3\n").unwrap();
        let ours = root.path().join("etc/enclos/default.conf");
        fs::create_dir_all(ours.parent().unwrap()).unwrap();
        fs::write(&ours, "lxc.tty.max = 9\n").unwrap();
        let (entries, warnings) = course(root.path());
        assert_eq!(entries[1], "lxc.tty.max = 3");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut parser = Parser {
            system_dirs: SystemDirs {
                lxc: root.path().join("etc/lxc"),
                enclos: root.path().join("etc/enclos"),
            },
            ..Parser::default()
        };
        let other = root.path().join("etc/lxc/other.conf");
        let text = format!("lxc.include = {}\n", other.display());
        let err = parser
            .parse_top(&text, &root.path().join("config"))
            .unwrap_err();
        assert!(matches!(err, Error::Include { .. }), "{err:?}");
    }
}
