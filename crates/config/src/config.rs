use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;

use crate::error::{Error, Origin, Warning, WarningKind};
use crate::keys::{self, Arity, Class};
use crate::parse::{self, Line, Parser, TopEntry};
use crate::values::{parse_caps, Capability, NetType};

/// One `key = value` of a configuration, includes expanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The modern key (`lxc.uts.name` for a file that says `lxc.utsname`;
    /// `lxc.net.1.type` for `lxc.net.01.type`).
    pub key: String,
    /// The value, blanks around it and one pair of matching quotes taken
    /// off. Empty clears the key (and, for `lxc.net`, `lxc.net.N`,
    /// `lxc.cgroup` and `lxc.cgroup2`, the keys under it).
    pub value: String,
    pub origin: Origin,
    /// The LXC 2.x key the file used, when it used one.
    pub legacy_key: Option<String>,
}

/// A container configuration in LXC's language.
///
/// It keeps the lines of its own file (comments and blank lines too, to
/// write it back) and the entries of the files it includes, each with its
/// origin. [`Config::entries`] is everything in order, includes expanded;
/// [`Config::get`] and [`Config::get_all`] read it with LXC's rules (the
/// last value of a key wins, list keys add up, an empty value clears); the
/// typed accessors (`uts_name`, `rootfs`, `mount_entries` ...) give LXC's
/// default when a key is unset.
///
/// ```
/// use std::path::Path;
/// use enclos_config::Config;
///
/// let text = "lxc.uts.name = c1\nlxc.rootfs.path = dir:/var/lib/enclos/c1/rootfs\n";
/// let mut config = Config::parse_str(text, Path::new("/var/lib/enclos/c1/config"))?;
/// assert_eq!(config.uts_name(), Some("c1"));
/// config.set("lxc.uts.name", "c2")?;
/// assert_eq!(config.to_string(), "lxc.uts.name = c2\nlxc.rootfs.path = dir:/var/lib/enclos/c1/rootfs\n");
/// # Ok::<(), enclos_config::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: PathBuf,
    lines: Vec<Line>,
    entries: Vec<Entry>,
    /// Indices in `entries` of the entries in effect (not cleared by a
    /// later empty value), in order.
    live: Vec<usize>,
    warnings: Vec<Warning>,
}

impl Config {
    /// An empty configuration, with no file yet.
    pub fn new() -> Config {
        Config::default()
    }

    /// An empty configuration for the file at `path`, which is not read:
    /// errors about entries added with `set` and `append` name it, and
    /// relative includes start from its directory.
    pub fn with_path(path: impl Into<PathBuf>) -> Config {
        Config {
            path: path.into(),
            ..Config::default()
        }
    }

    /// Reads a configuration file, its includes, and checks it.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse_str(&text, path)
    }

    /// Parses the text of a configuration file; `origin` names it in
    /// messages and is where relative includes start from.
    pub fn parse_str(text: &str, origin: &Path) -> Result<Config, Error> {
        let mut parser = Parser::default();
        let lines = parser.parse_top(text, origin)?;
        let mut config = Config {
            path: origin.to_path_buf(),
            lines,
            warnings: parser.warnings,
            ..Config::default()
        };
        config.rebuild();
        let more = config.check_whole()?;
        config.warnings.extend(more);
        Ok(config)
    }

    /// The file this configuration was read from (empty for
    /// [`Config::new`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry in order, includes expanded in place (the `lxc.include`
    /// entry comes first, then the included entries); cleared entries too.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries in effect: without those an empty value cleared later.
    pub fn live_entries(&self) -> impl Iterator<Item = &Entry> {
        self.live.iter().map(|&i| &self.entries[i])
    }

    /// Legacy keys read, obsolete keys dropped, network keys with no
    /// effect: each with its file and line.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The value in effect of a key: its last value, unless an empty value
    /// cleared it since.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.live_entries()
            .filter(|e| e.key == key)
            .last()
            .map(|e| e.value.as_str())
    }

    /// Every value in effect of a key, in order: an empty value clears
    /// those before it.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.live_entries()
            .filter(|e| e.key == key)
            .map(|e| e.value.as_str())
            .collect()
    }

    pub(crate) fn live_key<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.live_entries().filter(move |e| e.key == key)
    }

    /// Sets a key to one value: the first line of this file with the key
    /// gets the new value and the other lines with it go; with no such
    /// line, one is added at the end. If an included file would still
    /// override it (a later include setting the key, or list values from
    /// an include), the line goes to the end instead, after an empty
    /// `key =` for a list key. Included files are never changed.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let line = self.new_line(key, value)?;
        let key = match &line {
            Line::Entry(top) => top.entry.key.clone(),
            _ => unreachable!("new_line makes an entry"),
        };
        let positions = self.positions(&key);
        let at = match positions.split_first() {
            Some((&first, rest)) => {
                for &i in rest.iter().rev() {
                    self.lines.remove(i);
                }
                self.lines[first] = line;
                first
            }
            None => {
                self.lines.push(line);
                self.lines.len() - 1
            }
        };
        self.rebuild();
        if !self.holds_only(&key, value) {
            let line = self.lines.remove(at);
            if keys::lookup(&key).is_some_and(|s| s.arity == Arity::List) && !value.is_empty() {
                let clear = self.new_line(&key, "")?;
                self.lines.push(clear);
            }
            self.lines.push(line);
            self.rebuild();
        }
        Ok(())
    }

    /// Adds `key = value` at the end of this file: one more item for a
    /// list key, the new value for a scalar key.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let line = self.new_line(key, value)?;
        self.lines.push(line);
        self.rebuild();
        Ok(())
    }

    /// Removes the lines of this file that set `key` (exactly that key);
    /// returns how many. Included files are not changed.
    pub fn remove(&mut self, key: &str) -> usize {
        let positions = self.positions(key);
        for &i in positions.iter().rev() {
            self.lines.remove(i);
        }
        self.rebuild();
        positions.len()
    }

    /// Removes the lines of this file for `prefix` and every key under it
    /// (`lxc.net.1` removes `lxc.net.1.type`, `lxc.net.1.link` ...);
    /// returns how many.
    pub fn remove_tree(&mut self, prefix: &str) -> usize {
        let before = self.lines.len();
        self.lines.retain(|line| match line {
            Line::Entry(top) => {
                let key = &top.entry.key;
                !(key == prefix
                    || key
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.')))
            }
            _ => true,
        });
        self.rebuild();
        before - self.lines.len()
    }

    /// Writes the configuration to `path` atomically: a temporary file in
    /// the same directory, then renamed over `path` (keeping the mode of
    /// the file it replaces). When it replaces a file, the data and the
    /// rename are synced first, so a crash leaves the old or the new
    /// configuration; a new file is not synced (a container being created
    /// is removed whole if anything fails, and the sync made create wait
    /// for the journal of everything written before it).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = path.as_ref();
        let error = |source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        let name = path.file_name().ok_or_else(|| {
            error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path names no file",
            ))
        })?;
        let temp = path.with_file_name(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let text = self.to_string();
        let result = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            let replacing = match fs::metadata(path) {
                Ok(metadata) => {
                    file.set_permissions(metadata.permissions())?;
                    true
                }
                Err(_) => false,
            };
            file.write_all(text.as_bytes())?;
            if replacing {
                file.sync_all()?;
            }
            fs::rename(&temp, path)?;
            if replacing {
                // Make the rename itself durable; not every file system can.
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if let Ok(dir) = fs::File::open(dir) {
                    let _ = dir.sync_all();
                }
            }
            Ok(())
        })();
        if let Err(source) = result {
            let _ = fs::remove_file(&temp);
            return Err(error(source));
        }
        tracing::debug!(path = %path.display(), "configuration written");
        Ok(())
    }

    /// Checks the rules that span several entries: every network has a
    /// type, and `lxc.cap.drop` and `lxc.cap.keep` are not both in effect.
    /// [`Config::load`] and [`Config::parse_str`] check them; call this
    /// after building a configuration with `set` and `append`.
    pub fn validate(&self) -> Result<(), Error> {
        self.check_whole().map(drop)
    }

    fn check_whole(&self) -> Result<Vec<Warning>, Error> {
        let mut warnings = Vec::new();
        let groups = self.net_groups();
        warnings.extend(none_warnings(&groups));
        for group in groups {
            let Some(type_entry) = group.type_entry else {
                let first = group.others[0];
                return Err(Error::Inconsistent {
                    origin: first.origin.clone(),
                    key: first.key.clone(),
                    message: format!(
                        "Network {index} has no type: set 'lxc.net.{index}.type' (e.g. to 'empty')",
                        index = group.index
                    ),
                });
            };
            let net_type = NetType::parse(&type_entry.value).unwrap_or(NetType::Empty);
            if matches!(net_type, NetType::Empty | NetType::None) {
                // `flags = up` on `empty` brings lo up, as in LXC.
                let applies = |key: &str| net_type == NetType::Empty && key.ends_with(".flags");
                for entry in group.others.into_iter().filter(|e| !applies(&e.key)) {
                    warnings.push(Warning {
                        origin: entry.origin.clone(),
                        kind: WarningKind::NoEffect {
                            key: entry.key.clone(),
                            net_type: net_type.name().to_string(),
                        },
                    });
                }
            }
        }
        let last_index = |key: &str| {
            self.live
                .iter()
                .rev()
                .copied()
                .find(|&i| self.entries[i].key == key)
        };
        if let (Some(drop), Some(keep)) = (last_index("lxc.cap.drop"), last_index("lxc.cap.keep")) {
            if !self.cap_drop().is_empty() {
                let later = &self.entries[drop.max(keep)];
                return Err(Error::Inconsistent {
                    origin: later.origin.clone(),
                    key: later.key.clone(),
                    message: "Keys 'lxc.cap.drop' and 'lxc.cap.keep' cannot both be in effect; clear one with an \
                              empty value (e.g. 'lxc.cap.drop =')"
                        .to_string(),
                });
            }
        }
        Ok(warnings)
    }

    /// Whether `key` now holds exactly `value` (nothing for an empty one).
    fn holds_only(&self, key: &str, value: &str) -> bool {
        let values = self.get_all(key);
        match (value.is_empty(), keys::lookup(key).map(|s| s.arity)) {
            (true, _) => values.is_empty(),
            (false, Some(Arity::List)) => values == [value],
            (false, _) => values.last() == Some(&value),
        }
    }

    /// The indices in `lines` of this file's entries for `key`.
    fn positions(&self, key: &str) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(line, Line::Entry(top) if top.entry.key == key))
            .map(|(i, _)| i)
            .collect()
    }

    /// A checked line for `set` and `append`.
    fn new_line(&self, key: &str, value: &str) -> Result<Line, Error> {
        let origin = Origin::new(&self.path, 0);
        if value.contains(['\n', '\r', '\0']) {
            return Err(Error::InvalidValue {
                origin,
                key: key.to_string(),
                value: value.to_string(),
                expected: "a value on one line".to_string(),
            });
        }
        parse::check_key_syntax(key, &origin)?;
        let key = match keys::classify(key) {
            Class::Modern { key, .. } => key,
            Class::Renamed { modern } => {
                return Err(Error::InvalidKey {
                    origin,
                    key: key.to_string(),
                    reason: format!("it is a legacy key; use '{modern}'"),
                })
            }
            Class::LegacyNetwork | Class::Obsolete { .. } => {
                return Err(Error::InvalidKey {
                    origin,
                    key: key.to_string(),
                    reason: "it is a legacy key; use the lxc.net.N.* keys or lxc.rootfs.path"
                        .to_string(),
                })
            }
            // Unknown keys and bad indices: check_entry says which.
            _ => key.to_string(),
        };
        let spec = parse::check_entry(&key, &key, value, &origin)?;
        let included = if spec.kind == keys::Kind::Include && !value.is_empty() {
            Parser::for_file(&self.path).include(value, &origin, &self.path)?
        } else {
            Vec::new()
        };
        let entry = Entry {
            key,
            value: value.to_string(),
            origin,
            legacy_key: None,
        };
        Ok(Line::Entry(TopEntry {
            entry,
            raw: None,
            included,
        }))
    }

    /// Recomputes the expanded entries and those in effect after the
    /// lines changed.
    fn rebuild(&mut self) {
        self.entries.clear();
        for line in &self.lines {
            if let Line::Entry(top) = line {
                self.entries.push(top.entry.clone());
                self.entries.extend(top.included.iter().cloned());
            }
        }
        self.live.clear();
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.value.is_empty() {
                let entries = &self.entries;
                self.live
                    .retain(|&j| !keys::clears(&entry.key, &entries[j].key));
            } else {
                self.live.push(i);
            }
        }
    }

    /// The `lxc.net.N.*` entries in effect, by index in order of first
    /// appearance.
    pub(crate) fn net_groups(&self) -> Vec<NetGroup<'_>> {
        let mut groups: Vec<NetGroup<'_>> = Vec::new();
        for entry in self.live_entries() {
            let (Some(index), Some(sub)) =
                (keys::net_index(&entry.key), keys::net_subkey(&entry.key))
            else {
                continue;
            };
            let slot = match groups.iter().position(|g| g.index == index) {
                Some(slot) => slot,
                None => {
                    groups.push(NetGroup {
                        index,
                        type_entry: None,
                        others: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            if sub == "type" {
                groups[slot].type_entry = Some(entry);
            } else {
                groups[slot].others.push(entry);
            }
        }
        groups
    }

    /// `cap_drop` and `cap_keep` need each line's capabilities.
    pub(crate) fn caps(&self, key: &str, allow_none: bool) -> Vec<Option<Capability>> {
        self.live_key(key)
            .flat_map(|e| parse_caps(&e.value, allow_none).unwrap_or_default())
            .collect()
    }
}

/// The entries of one network index.
/// `lxc.net.N.type = none`: with other networks it is ignored (the
/// container gets a network namespace of its own for them, as LXC does);
/// alone, the container shares the host's network.
fn none_warnings(groups: &[NetGroup<'_>]) -> Vec<Warning> {
    let type_of = |g: &NetGroup<'_>| {
        g.type_entry
            .and_then(|e| NetType::parse(&e.value).ok())
            .unwrap_or(NetType::Empty)
    };
    let others: Vec<u32> = groups
        .iter()
        .filter(|g| type_of(g) != NetType::None)
        .map(|g| g.index)
        .collect();
    groups
        .iter()
        .filter(|g| type_of(g) == NetType::None)
        .filter_map(|g| {
            let entry = g.type_entry?;
            let kind = if others.is_empty() {
                WarningKind::HostNetwork { index: g.index }
            } else {
                WarningKind::NoneIgnored {
                    index: g.index,
                    others: others.clone(),
                }
            };
            Some(Warning {
                origin: entry.origin.clone(),
                kind,
            })
        })
        .collect()
}

pub(crate) struct NetGroup<'a> {
    pub index: u32,
    /// The last `lxc.net.N.type` in effect.
    pub type_entry: Option<&'a Entry>,
    pub others: Vec<&'a Entry>,
}

impl fmt::Display for Config {
    /// The file's lines: unchanged lines as they were read, comments and
    /// blank lines kept; new, changed and legacy entries as `key = value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            match line {
                Line::Blank => writeln!(f)?,
                Line::Comment(text) => writeln!(f, "{text}")?,
                Line::Obsolete {
                    raw, kept: true, ..
                } => writeln!(f, "{raw}")?,
                Line::Obsolete { .. } => {}
                Line::Entry(TopEntry { raw: Some(raw), .. }) => writeln!(f, "{raw}")?,
                Line::Entry(TopEntry { entry, .. }) if entry.value.is_empty() => {
                    writeln!(f, "{} =", entry.key)?
                }
                Line::Entry(TopEntry { entry, .. }) => {
                    writeln!(f, "{} = {}", entry.key, parse::quote(&entry.value))?
                }
            }
        }
        Ok(())
    }
}
