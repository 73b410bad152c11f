//! Reading `cgrules.conf` into compiled [`Rules`].

use std::path::{Path, PathBuf};

use enclos_cgroupfs::{db_entry, is_numeric_id, normalize_path, GROUP, PASSWD};

use crate::error::{ConfigError, Error, Location, Result};

/// Who a rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSel {
    /// `*`: anyone.
    Any,
    /// A user, by name or number.
    Uid(u32),
    /// `@group`: a process whose effective or supplementary group it is.
    Gid(u32),
    /// A name the user or group database does not know: the rule never
    /// matches (libcgroup warns and skips it too).
    Unknown { name: String, group: bool },
    /// `%`: a continuation of the rule above.
    Continuation,
}

/// One line of `cgrules.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub user: UserSel,
    /// The command name or full path after `:`.
    pub process: Option<String>,
    /// The controllers (`*` alone for every hierarchy).
    pub controllers: Vec<String>,
    /// The destination group, templates unexpanded.
    pub destination: String,
    pub at: Location,
}

/// The user and group databases names are looked up in.
#[derive(Debug, Clone)]
pub struct Databases {
    pub passwd: PathBuf,
    pub group: PathBuf,
}

impl Default for Databases {
    fn default() -> Self {
        Databases {
            passwd: PASSWD.into(),
            group: GROUP.into(),
        }
    }
}

impl Databases {
    /// The id of `name` in the passwd (`group == false`) or group database.
    pub fn id_of(&self, name: &str, group: bool) -> Option<u32> {
        if is_numeric_id(name) {
            return name.parse().ok();
        }
        self.lookup(group, |f| f[0] == name)
            .and_then(|f| f[2].parse().ok())
    }

    /// The name of `id` in the passwd or group database.
    pub fn name_of(&self, id: u32, group: bool) -> Option<String> {
        let id = id.to_string();
        self.lookup(group, |f| f[2] == id).map(|f| f[0].clone())
    }

    fn lookup(&self, group: bool, pred: impl Fn(&[&str]) -> bool) -> Option<Vec<String>> {
        let file = if group { &self.group } else { &self.passwd };
        db_entry(file, pred).ok().flatten()
    }
}

/// The compiled rules of one file, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub databases: Databases,
}

impl Rules {
    /// Reads and compiles `file`, looking names up in the system's
    /// databases.
    pub fn load(file: &Path) -> Result<Rules> {
        Self::load_with(file, Databases::default())
    }

    /// Reads and compiles `file`, looking names up in `databases`.
    pub fn load_with(file: &Path, databases: Databases) -> Result<Rules> {
        let text = std::fs::read_to_string(file).map_err(|source| Error::Read {
            path: file.to_path_buf(),
            source,
        })?;
        Ok(Self::parse(&text, file, databases)?)
    }

    /// Reads `file`, then the files of `dir` (cgrules.d) in name order when
    /// it exists, as cgrulesengd does; the rules follow one another in
    /// that order.
    pub fn load_all(file: &Path, dir: &Path) -> Result<Rules> {
        let mut rules = Self::load(file)?;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(rules);
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            rules.rules.extend(Self::load(&f)?.rules);
        }
        Ok(rules)
    }

    /// Compiles the text of a rules file; `file` names it in errors.
    pub fn parse(
        text: &str,
        file: &Path,
        databases: Databases,
    ) -> std::result::Result<Rules, ConfigError> {
        let mut rules: Vec<Rule> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = |column: usize| Location {
                file: file.to_path_buf(),
                line: i + 1,
                column,
            };
            let Some(rule) = parse_line(line, at, &databases)? else {
                continue;
            };
            if rule.user == UserSel::Continuation && rules.is_empty() {
                return Err(ConfigError::new(
                    &rule.at,
                    "'%' continues the rule above it, but this is the first rule: name a user, @group or *",
                ));
            }
            rules.push(rule);
        }
        Ok(Rules { rules, databases })
    }

    /// The names no database knows, with where they are, for a warning.
    pub fn unknown_names(&self) -> impl Iterator<Item = (&Location, &str)> {
        self.rules.iter().filter_map(|r| match &r.user {
            UserSel::Unknown { name, .. } => Some((&r.at, name.as_str())),
            _ => None,
        })
    }
}

/// The fields of one line with their 1-based columns, up to a comment.
fn fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) if c == '#' => break,
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push((s + 1, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s + 1, &line[s..]));
    }
    out
}

fn parse_line(
    line: &str,
    at: impl Fn(usize) -> Location,
    db: &Databases,
) -> std::result::Result<Option<Rule>, ConfigError> {
    let f = fields(line);
    if f.is_empty() {
        return Ok(None);
    }
    if f.len() != 3 {
        let (col, word) = f.get(3).copied().unwrap_or(f[f.len() - 1]);
        let what = if f.len() > 3 {
            format!("unexpected '{word}' after the destination")
        } else {
            format!("{} field(s), but a rule has 3", f.len())
        };
        return Err(ConfigError::new(
            &at(col),
            format!("{what}: write <user>[:<process>] <controllers> <destination>"),
        ));
    }
    let (who, process) = match f[0].1.split_once(':') {
        Some((_, "")) => {
            return Err(ConfigError::new(
                &at(f[0].0),
                format!("'{}' has an empty process name after ':'", f[0].1),
            ))
        }
        Some((u, p)) => (u, Some(p.to_string())),
        None => (f[0].1, None),
    };
    let user = user_sel(who, db).map_err(|m| ConfigError::new(&at(f[0].0), m))?;
    let controllers: Vec<String> = f[1].1.split(',').map(str::to_string).collect();
    if controllers.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            &at(f[1].0),
            format!(
                "'{}' has an empty controller name: separate controllers with single commas",
                f[1].1
            ),
        ));
    }
    let destination = f[2].1.to_string();
    if let Err(e) = normalize_path(&destination.replace('%', "x")) {
        return Err(ConfigError::new(
            &at(f[2].0),
            format!("Destination '{destination}': {e}"),
        ));
    }
    Ok(Some(Rule {
        user,
        process,
        controllers,
        destination,
        at: at(f[0].0),
    }))
}

fn user_sel(who: &str, db: &Databases) -> std::result::Result<UserSel, String> {
    Ok(match who {
        "" => return Err("A rule needs a user, @group, * or % before ':'".into()),
        "*" => UserSel::Any,
        "%" => UserSel::Continuation,
        "@" => return Err("'@' needs a group name after it".into()),
        g if g.starts_with('@') => match db.id_of(&g[1..], true) {
            Some(gid) => UserSel::Gid(gid),
            None => UserSel::Unknown {
                name: g.to_string(),
                group: true,
            },
        },
        u => match db.id_of(u, false) {
            Some(uid) => UserSel::Uid(uid),
            None => UserSel::Unknown {
                name: u.to_string(),
                group: false,
            },
        },
    })
}
