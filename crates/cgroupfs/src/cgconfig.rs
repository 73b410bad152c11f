//! libcgroup's `cgconfig.conf`: parsed into an AST with the place of every
//! item, and applied as `cgconfigparser` does.
//!
//! ```text
//! mount { cpu = /sys/fs/cgroup/cpu; }     # checked against the host, never mounted
//! namespace { cpu = daemons; }            # a prefix for the groups' paths in cpu
//! default { perm { task { uid = root; gid = root; fperm = 660; } } }
//!
//! group helloworld2 {                     # a/b/c, "my group" and . (the root) work too
//!     perm {
//!         task  { uid = alice; gid = alice; fperm = 660; }
//!         admin { uid = root; gid = root; dperm = 775; fperm = 644; }
//!     }
//!     cpu { cpu.shares = 100; }
//!     memory { memory.limit_in_bytes = 40000; }
//!     cpuset { }                          # create the group there, set nothing
//! }
//!
//! template users/%u { cpu { cpu.shares = 512; } }   # %u %U %g %G %p %P
//! ```
//!
//! Comments run from `#` to the end of the line. Names and values are bare
//! words or double-quoted strings (a quoted string ends on its line).
//! Keywords are only keywords where the grammar expects them, so a group
//! may be called `default`.
//!
//! [`Config::apply`] validates everything it can first (controllers,
//! users, cgroup v2 translations, mount points) and only then creates the
//! groups and writes their settings, deleting again the groups it created
//! if a write fails.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::cgroup::{key_controller, Cgroup, DeleteOptions, Member, Permissions, Populated};
use crate::error::{Error, Result};
use crate::layout::{normalize_path, v2_name, Layout, Version};
use crate::settings::{blkio_to_io_weight, shares_to_weight};

/// Where libcgroup keeps its main configuration file.
pub const CGCONFIG_CONF: &str = "/etc/cgconfig.conf";
/// Where libcgroup reads further configuration files from.
pub const CGCONFIG_DIR: &str = "/etc/cgconfig.d";

// ---------------------------------------------------------------------------
// Errors and locations

/// A place in a configuration file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// An error in a cgconfig.conf file, or in applying one of its items: the
/// place of the offending token or setting, what is wrong, and for a
/// failure of the system (a write the kernel refused) its cause as
/// `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[source]
    pub source: Option<Box<Error>>,
}

impl ConfigError {
    pub fn new(at: &Location, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: at.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(at: &Location, message: impl Into<String>, source: Error) -> ConfigError {
        ConfigError {
            source: Some(Box::new(source)),
            ..ConfigError::new(at, message)
        }
    }

    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}

// ---------------------------------------------------------------------------
// The AST

/// A user or group given by number or by name (looked up when applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IdSpec {
    Id(u32),
    Name(String),
}

impl fmt::Display for IdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdSpec::Id(n) => write!(f, "{n}"),
            IdSpec::Name(s) => f.write_str(s),
        }
    }
}

/// A `uid = ...` or `gid = ...` of a perm section, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub id: IdSpec,
    pub at: Location,
}

/// `task { uid = ...; gid = ...; fperm = ...; }`: the owner and mode of
/// the files that place tasks (`tasks`, `cgroup.procs`, `cgroup.threads`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskPerm {
    pub uid: Option<Owner>,
    pub gid: Option<Owner>,
    pub fperm: Option<u32>,
}

/// `admin { uid = ...; gid = ...; dperm = ...; fperm = ...; }`: the owner
/// of the directory and of the other files, their modes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdminPerm {
    pub uid: Option<Owner>,
    pub gid: Option<Owner>,
    pub dperm: Option<u32>,
    pub fperm: Option<u32>,
}

/// A `perm { ... }` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermSection {
    pub task: Option<TaskPerm>,
    pub admin: Option<AdminPerm>,
    pub at: Location,
}

/// One `key = value;` of a controller block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
    /// The place of the key.
    pub at: Location,
}

/// A `controller { key = value; ... }` block of a group or template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerBlock {
    pub name: String,
    pub settings: Vec<Setting>,
    pub at: Location,
}

/// A `group NAME { ... }` or `template NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// As written: `helloworld2`, `a/b/c`, `.` for the root group; a
    /// template's may hold `%u`-style variables.
    pub name: String,
    pub perm: Option<PermSection>,
    pub controllers: Vec<ControllerBlock>,
    /// The place of the name.
    pub at: Location,
}

/// One `controller = path;` of a `mount` or `namespace` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    pub controller: String,
    /// `mount`: an absolute mount point. `namespace`: a group path
    /// (normalized, `""` for the root) under which the groups go.
    pub path: String,
    pub at: Location,
}

/// A whole configuration: one file or several merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    pub groups: Vec<Group>,
    pub templates: Vec<Group>,
    pub mounts: Vec<MountEntry>,
    pub namespaces: Vec<MountEntry>,
    /// Permissions for the groups (of every merged file) that do not set
    /// them in a perm section of their own, field by field.
    pub default: Option<PermSection>,
    /// The files read, in order.
    pub sources: Vec<PathBuf>,
}

/// The values a template's name may refer to. A variable the name uses
/// but that is `None` here is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// `%u`
    pub user: Option<String>,
    /// `%U`
    pub uid: Option<u32>,
    /// `%g`
    pub group: Option<String>,
    /// `%G`
    pub gid: Option<u32>,
    /// `%p`
    pub process: Option<String>,
    /// `%P`
    pub pid: Option<i32>,
}

impl Group {
    /// The group's path relative to the hierarchy roots (`""` for `.`).
    pub fn path(&self) -> Result<String> {
        normalize_path(&self.name)
    }

    /// The block of `controller`, if the group has one.
    pub fn controller(&self, controller: &str) -> Option<&ControllerBlock> {
        self.controllers.iter().find(|b| b.name == controller)
    }

    /// Instantiates a template: `%u` → user name, `%U` → uid, `%g` →
    /// group name, `%G` → gid, `%p` → process name, `%P` → pid, `%%` → `%`
    /// in its name; any other `%x` is kept as written. Settings and
    /// permissions are copied as they are.
    pub fn instantiate(&self, vars: &TemplateVars) -> std::result::Result<Group, ConfigError> {
        let name = expand_template_name(&self.name, vars)
            .map_err(|m| ConfigError::new(&self.at, format!("Template '{}' {m}", self.name)))?;
        if let Err(Error::InvalidPath { reason, .. }) = normalize_path(&name) {
            return Err(ConfigError::new(
                &self.at,
                format!(
                    "Template '{}' gives the invalid group name '{name}': {reason}",
                    self.name
                ),
            ));
        }
        Ok(Group {
            name,
            ..self.clone()
        })
    }
}

fn expand_template_name(name: &str, vars: &TemplateVars) -> std::result::Result<String, String> {
    fn need<T: ToString>(v: &Option<T>, var: &str, what: &str) -> Result<String, String> {
        v.as_ref()
            .map(ToString::to_string)
            .ok_or_else(|| format!("uses {var}, but no {what} was given"))
    }
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let value = match chars.peek() {
            Some('u') => need(&vars.user, "%u", "user name")?,
            Some('U') => need(&vars.uid, "%U", "uid")?,
            Some('g') => need(&vars.group, "%g", "group name")?,
            Some('G') => need(&vars.gid, "%G", "gid")?,
            Some('p') => need(&vars.process, "%p", "process name")?,
            Some('P') => need(&vars.pid, "%P", "pid")?,
            Some('%') => "%".to_string(),
            _ => {
                out.push('%');
                continue;
            }
        };
        chars.next();
        out.push_str(&value);
    }
    Ok(out)
}

impl PermSection {
    /// The permissions this section sets, with user and group names
    /// looked up in the system's databases.
    pub fn resolve(&self) -> std::result::Result<Permissions, ConfigError> {
        let mut p = Permissions::default();
        if let Some(t) = &self.task {
            p.task_uid = t.uid.as_ref().map(|o| resolve_uid(o, "task")).transpose()?;
            p.task_gid = t.gid.as_ref().map(|o| resolve_gid(o, "task")).transpose()?;
            p.task_mode = t.fperm;
        }
        if let Some(a) = &self.admin {
            p.admin_uid = a
                .uid
                .as_ref()
                .map(|o| resolve_uid(o, "admin"))
                .transpose()?;
            p.admin_gid = a
                .gid
                .as_ref()
                .map(|o| resolve_gid(o, "admin"))
                .transpose()?;
            p.dir_mode = a.dperm;
            p.file_mode = a.fperm;
        }
        Ok(p)
    }
}

fn resolve_uid(o: &Owner, section: &str) -> std::result::Result<u32, ConfigError> {
    match &o.id {
        IdSpec::Id(n) => Ok(*n),
        IdSpec::Name(name) => match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => Ok(u.uid.as_raw()),
            Ok(None) => Err(ConfigError::new(
                &o.at,
                format!("Unknown user '{name}' (uid of the {section} permissions): no such user in the user database; create it or give a number"),
            )),
            Err(e) => Err(ConfigError::new(
                &o.at,
                format!("Cannot look up user '{name}' (uid of the {section} permissions): {e}"),
            )),
        },
    }
}

fn resolve_gid(o: &Owner, section: &str) -> std::result::Result<u32, ConfigError> {
    match &o.id {
        IdSpec::Id(n) => Ok(*n),
        IdSpec::Name(name) => match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => Ok(g.gid.as_raw()),
            Ok(None) => Err(ConfigError::new(
                &o.at,
                format!("Unknown group '{name}' (gid of the {section} permissions): no such group in the group database; create it or give a number"),
            )),
            Err(e) => Err(ConfigError::new(
                &o.at,
                format!("Cannot look up group '{name}' (gid of the {section} permissions): {e}"),
            )),
        },
    }
}

/// Field by field: what `top` sets, else what `below` sets.
fn overlay(top: &Permissions, below: &Permissions) -> Permissions {
    Permissions {
        task_uid: top.task_uid.or(below.task_uid),
        task_gid: top.task_gid.or(below.task_gid),
        admin_uid: top.admin_uid.or(below.admin_uid),
        admin_gid: top.admin_gid.or(below.admin_gid),
        dir_mode: top.dir_mode.or(below.dir_mode),
        file_mode: top.file_mode.or(below.file_mode),
        task_mode: top.task_mode.or(below.task_mode),
    }
}

// ---------------------------------------------------------------------------
// Merging

impl Config {
    /// The template called `name`.
    pub fn template(&self, name: &str) -> Option<&Group> {
        self.templates.iter().find(|t| t.name == name)
    }

    /// The group at `path` (`a/b`, `/a/b/` and `a/./b` are the same).
    pub fn group(&self, path: &str) -> Option<&Group> {
        let path = normalize_path(path).ok()?;
        self.groups
            .iter()
            .find(|g| g.path().ok().as_deref() == Some(path.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.templates.is_empty()
            && self.mounts.is_empty()
            && self.namespaces.is_empty()
            && self.default.is_none()
    }

    /// Adds the items of `other`. A group, template, mount or namespace
    /// entry defined in both (or a default section in both) is an error
    /// naming both places.
    pub fn merge(&mut self, other: Config) -> std::result::Result<(), ConfigError> {
        for g in other.groups {
            self.add_group(g)?;
        }
        for t in other.templates {
            self.add_template(t)?;
        }
        for m in other.mounts {
            add_entry(&mut self.mounts, m, "mount")?;
        }
        for n in other.namespaces {
            add_entry(&mut self.namespaces, n, "namespace")?;
        }
        if let Some(d) = other.default {
            self.set_default(d)?;
        }
        self.sources.extend(other.sources);
        Ok(())
    }

    fn add_group(&mut self, g: Group) -> std::result::Result<(), ConfigError> {
        let path = g.path().map_err(|e| {
            ConfigError::with_source(&g.at, format!("Invalid group name '{}'", g.name), e)
        })?;
        if let Some(first) = self
            .groups
            .iter()
            .find(|f| f.path().ok().as_deref() == Some(path.as_str()))
        {
            let also = if first.name != g.name {
                format!(" (as '{}')", first.name)
            } else {
                String::new()
            };
            return Err(ConfigError::new(
                &g.at,
                format!(
                    "Group '{}' is already defined at {}{also}",
                    g.name, first.at
                ),
            ));
        }
        self.groups.push(g);
        Ok(())
    }

    fn add_template(&mut self, t: Group) -> std::result::Result<(), ConfigError> {
        if let Some(first) = self.templates.iter().find(|f| f.name == t.name) {
            return Err(ConfigError::new(
                &t.at,
                format!("Template '{}' is already defined at {}", t.name, first.at),
            ));
        }
        self.templates.push(t);
        Ok(())
    }

    fn set_default(&mut self, d: PermSection) -> std::result::Result<(), ConfigError> {
        if let Some(first) = &self.default {
            return Err(ConfigError::new(
                &d.at,
                format!(
                    "Default permissions are already defined at {}; keep one default section",
                    first.at
                ),
            ));
        }
        self.default = Some(d);
        Ok(())
    }
}

fn add_entry(
    list: &mut Vec<MountEntry>,
    e: MountEntry,
    section: &str,
) -> std::result::Result<(), ConfigError> {
    if let Some(first) = list.iter().find(|f| f.controller == e.controller) {
        if Path::new(&first.path) == Path::new(&e.path) {
            return Ok(());
        }
        return Err(ConfigError::new(
            &e.at,
            format!(
                "Controller '{}' is already given {} '{}' at {}",
                e.controller, section, first.path, first.at
            ),
        ));
    }
    list.push(e);
    Ok(())
}

// ---------------------------------------------------------------------------
// Loading

/// Parses the text of a configuration file; `origin` names it in
/// locations and errors.
pub fn parse_str(text: &str, origin: &Path) -> std::result::Result<Config, ConfigError> {
    let toks = lex(text, origin)?;
    let mut p = Parser {
        toks,
        pos: 0,
        file: origin,
    };
    p.config()
}

/// Reads and parses one file.
pub fn parse_file(path: &Path) -> Result<Config> {
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_str(&text, path)?)
}

/// The files of a directory such as `/etc/cgconfig.d` that libcgroup
/// reads: every regular file (or link to one), sorted by name, except
/// hidden files and backups ending in `~`.
pub fn config_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let read_err = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = entry.path();
        // Follows links: a link to a regular file counts, a dangling one not.
        if fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every file of `dir` (see [`config_files`]) into one
/// configuration.
pub fn load_dir(dir: &Path) -> Result<Config> {
    load(&config_files(dir)?, &[])
}

/// Reads `files`, then the files of each of `dirs`, into one
/// configuration; an item defined twice is an error naming both places.
pub fn load(files: &[PathBuf], dirs: &[PathBuf]) -> Result<Config> {
    let mut all: Vec<PathBuf> = files.to_vec();
    for d in dirs {
        all.extend(config_files(d)?);
    }
    let mut config = Config::default();
    for f in &all {
        config.merge(parse_file(f)?)?;
    }
    Ok(config)
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Equals,
    Semi,
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::Quoted(s) => write!(f, "\"{s}\""),
            Tok::Open => f.write_str("'{'"),
            Tok::Close => f.write_str("'}'"),
            Tok::Equals => f.write_str("'='"),
            Tok::Semi => f.write_str("';'"),
            Tok::Eof => f.write_str("end of file"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    column: usize,
}

impl Token {
    /// The text of a name or value token.
    fn text(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(s) | Tok::Quoted(s) => Some(s),
            _ => None,
        }
    }
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '{' | '}' | '=' | ';' | '"' | '#')
}

fn lex(text: &str, file: &Path) -> std::result::Result<Vec<Token>, ConfigError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    while i < chars.len() {
        let c = chars[i];
        let (tl, tc) = (line, col);
        if c == '\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
                col += 1;
            }
            continue;
        }
        let punct = match c {
            '{' => Some(Tok::Open),
            '}' => Some(Tok::Close),
            '=' => Some(Tok::Equals),
            ';' => Some(Tok::Semi),
            _ => None,
        };
        if let Some(tok) = punct {
            toks.push(Token {
                tok,
                line: tl,
                column: tc,
            });
            i += 1;
            col += 1;
            continue;
        }
        if c == '"' {
            i += 1;
            col += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None | Some('\n') => {
                        return Err(ConfigError::new(
                            &Location {
                                file: file.to_path_buf(),
                                line: tl,
                                column: tc,
                            },
                            "Unterminated quoted string: no closing '\"' on its line",
                        ))
                    }
                    Some('"') => {
                        i += 1;
                        col += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                        col += 1;
                    }
                }
            }
            toks.push(Token {
                tok: Tok::Quoted(s),
                line: tl,
                column: tc,
            });
            continue;
        }
        let start = i;
        while i < chars.len() && is_word_char(chars[i]) {
            i += 1;
            col += 1;
        }
        toks.push(Token {
            tok: Tok::Word(chars[start..i].iter().collect()),
            line: tl,
            column: tc,
        });
    }
    toks.push(Token {
        tok: Tok::Eof,
        line,
        column: col,
    });
    Ok(toks)
}

// ---------------------------------------------------------------------------
// Parser

/// Words that start a top-level section.
const TOP_KEYWORDS: &[&str] = &["group", "template", "mount", "namespace", "default"];

/// The block being parsed, for messages about a missing `}`.
struct Ctx {
    what: String,
    line: usize,
}

/// A `key = value;` with the places of both.
struct Assign {
    key: String,
    key_at: Location,
    value: String,
    value_at: Location,
}

struct Parser<'f> {
    toks: Vec<Token>,
    pos: usize,
    file: &'f Path,
}

type PResult<T> = std::result::Result<T, ConfigError>;

impl Parser<'_> {
    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn loc(&self, t: &Token) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: t.line,
            column: t.column,
        }
    }

    fn err(&self, t: &Token, message: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.loc(t), message)
    }

    fn eof(&self, t: &Token, ctx: &Ctx) -> ConfigError {
        self.err(
            t,
            format!(
                "Unexpected end of file in {} opened at line {}: missing '}}'",
                ctx.what, ctx.line
            ),
        )
    }

    /// Expects the `{` that opens `what` (e.g. "after group name 'x'").
    fn open(&mut self, after: &str) -> PResult<()> {
        let t = self.next();
        match t.tok {
            Tok::Open => Ok(()),
            Tok::Eof => Err(self.err(&t, format!("Unexpected end of file: expected '{{' {after}"))),
            _ => Err(self.err(&t, format!("Expected '{{' {after}, found {}", t.tok))),
        }
    }

    fn config(&mut self) -> PResult<Config> {
        let mut cfg = Config {
            sources: vec![self.file.to_path_buf()],
            ..Config::default()
        };
        loop {
            let t = self.next();
            let word = match &t.tok {
                Tok::Eof => break,
                Tok::Word(w) => w.clone(),
                _ => return Err(self.expected_top(&t)),
            };
            match word.as_str() {
                "group" => {
                    let g = self.group_like(&t, "group")?;
                    cfg.add_group(g)?;
                }
                "template" => {
                    let g = self.group_like(&t, "template")?;
                    cfg.add_template(g)?;
                }
                "mount" | "namespace" => {
                    self.open(&format!("after '{word}'"))?;
                    let ctx = Ctx {
                        what: format!("the {word} section"),
                        line: t.line,
                    };
                    for a in self.assignments(&ctx)? {
                        let path = if word == "mount" {
                            if !a.value.starts_with('/') {
                                return Err(ConfigError::new(
                                    &a.value_at,
                                    format!(
                                        "Mount point '{}' of {} is not an absolute path",
                                        a.value, a.key
                                    ),
                                ));
                            }
                            a.value
                        } else {
                            match normalize_path(&a.value) {
                                Ok(p) => p,
                                Err(Error::InvalidPath { reason, .. }) => {
                                    return Err(ConfigError::new(
                                        &a.value_at,
                                        format!(
                                            "Invalid namespace '{}' of {}: {reason}",
                                            a.value, a.key
                                        ),
                                    ))
                                }
                                Err(e) => {
                                    return Err(ConfigError::with_source(
                                        &a.value_at,
                                        "Invalid namespace",
                                        e,
                                    ))
                                }
                            }
                        };
                        let entry = MountEntry {
                            controller: a.key,
                            path,
                            at: a.key_at,
                        };
                        let list = if word == "mount" {
                            &mut cfg.mounts
                        } else {
                            &mut cfg.namespaces
                        };
                        add_entry(list, entry, &word)?;
                    }
                }
                "default" => {
                    self.open("after 'default'")?;
                    let ctx = Ctx {
                        what: "the default section".into(),
                        line: t.line,
                    };
                    loop {
                        let s = self.next();
                        match &s.tok {
                            Tok::Close => break,
                            Tok::Eof => return Err(self.eof(&s, &ctx)),
                            Tok::Word(w) if w == "perm" && *self.peek() == Tok::Open => {
                                self.next();
                                let p = self.perm_section(&s, "the default section")?;
                                cfg.set_default(p)?;
                            }
                            _ => {
                                return Err(self.err(
                                    &s,
                                    format!(
                                        "Expected 'perm' or '}}' in the default section, found {}",
                                        s.tok
                                    ),
                                ))
                            }
                        }
                    }
                }
                "systemd" => {
                    return Err(self.err(
                        &t,
                        "The systemd section (libcgroup's delegation to systemd slices) is not supported by enclos; remove it",
                    ))
                }
                _ => return Err(self.expected_top(&t)),
            }
        }
        Ok(cfg)
    }

    fn expected_top(&self, t: &Token) -> ConfigError {
        self.err(
            t,
            format!(
                "Expected 'group', 'template', 'mount', 'namespace' or 'default', found {}",
                t.tok
            ),
        )
    }

    /// `group NAME { ... }` or `template NAME { ... }`, after the keyword.
    fn group_like(&mut self, kw: &Token, kind: &str) -> PResult<Group> {
        let name_tok = self.next();
        let name = match name_tok.text() {
            Some(n) => n.to_string(),
            None if name_tok.tok == Tok::Eof => {
                return Err(self.err(
                    &name_tok,
                    format!("Unexpected end of file: expected a {kind} name after '{kind}'"),
                ))
            }
            None => {
                return Err(self.err(
                    &name_tok,
                    format!(
                        "Expected a {kind} name after '{kind}', found {}",
                        name_tok.tok
                    ),
                ))
            }
        };
        if name.is_empty() {
            return Err(self.err(
                &name_tok,
                format!("Empty {kind} name: write . for the root group"),
            ));
        }
        if let Err(Error::InvalidPath { reason, .. }) = normalize_path(&name) {
            return Err(self.err(&name_tok, format!("Invalid {kind} name '{name}': {reason}")));
        }
        self.open(&format!("after {kind} name '{name}'"))?;
        let ctx = Ctx {
            what: format!("{kind} '{name}'"),
            line: kw.line,
        };
        let mut perm: Option<PermSection> = None;
        let mut controllers: Vec<ControllerBlock> = Vec::new();
        loop {
            let t = self.next();
            let word = match &t.tok {
                Tok::Close => break,
                Tok::Eof => return Err(self.eof(&t, &ctx)),
                Tok::Word(w) | Tok::Quoted(w) => w.clone(),
                _ => {
                    return Err(self.err(
                        &t,
                        format!(
                            "Expected a controller name, 'perm' or '}}' in {}, found {}",
                            ctx.what, t.tok
                        ),
                    ))
                }
            };
            let bare = matches!(t.tok, Tok::Word(_));
            if bare && word == "perm" && *self.peek() == Tok::Open {
                self.next();
                if let Some(first) = &perm {
                    return Err(self.err(
                        &t,
                        format!(
                            "Duplicate perm section in {} (the first is at line {})",
                            ctx.what, first.at.line
                        ),
                    ));
                }
                perm = Some(self.perm_section(&t, &ctx.what)?);
                continue;
            }
            if bare && TOP_KEYWORDS.contains(&word.as_str()) && *self.peek() != Tok::Open {
                return Err(self.err(
                    &t,
                    format!(
                        "Missing '}}' to close {} opened at line {}, before '{word}'",
                        ctx.what, ctx.line
                    ),
                ));
            }
            if word.is_empty() || word.contains(|c: char| c == '/' || c == '*' || c.is_whitespace())
            {
                return Err(self.err(&t, format!("Invalid controller name '{word}'")));
            }
            self.open(&format!("after controller name '{word}'"))?;
            if let Some(first) = controllers.iter().find(|b| b.name == word) {
                return Err(self.err(
                    &t,
                    format!(
                        "Duplicate {word} block in {} (the first is at line {})",
                        ctx.what, first.at.line
                    ),
                ));
            }
            let bctx = Ctx {
                what: format!("the {word} block of {kind} '{name}'"),
                line: t.line,
            };
            let mut settings: Vec<Setting> = Vec::new();
            for a in self.assignments(&bctx)? {
                if let Some(first) = settings.iter().find(|s| s.key == a.key) {
                    return Err(ConfigError::new(
                        &a.key_at,
                        format!(
                            "Duplicate key {} in {} (the first is at line {})",
                            a.key, bctx.what, first.at.line
                        ),
                    ));
                }
                if key_controller(&a.key).is_err() {
                    return Err(ConfigError::new(
                        &a.key_at,
                        format!(
                            "Invalid key '{}': a key names a file of the group, such as cpu.shares",
                            a.key
                        ),
                    ));
                }
                settings.push(Setting {
                    key: a.key,
                    value: a.value,
                    at: a.key_at,
                });
            }
            controllers.push(ControllerBlock {
                name: word,
                settings,
                at: self.loc(&t),
            });
        }
        if controllers.is_empty() {
            let cap = if kind == "group" { "Group" } else { "Template" };
            return Err(self.err(
                &name_tok,
                format!(
                    "{cap} '{name}' names no controller: add a controller block such as `cpu {{ }}`"
                ),
            ));
        }
        Ok(Group {
            name,
            perm,
            controllers,
            at: self.loc(&name_tok),
        })
    }

    /// `key = value;` pairs up to and including the closing `}`.
    fn assignments(&mut self, ctx: &Ctx) -> PResult<Vec<Assign>> {
        let mut out = Vec::new();
        loop {
            let t = self.next();
            let key = match &t.tok {
                Tok::Close => return Ok(out),
                Tok::Eof => return Err(self.eof(&t, ctx)),
                Tok::Word(k) | Tok::Quoted(k) => k.clone(),
                _ => {
                    return Err(self.err(
                        &t,
                        format!("Expected a key or '}}' in {}, found {}", ctx.what, t.tok),
                    ))
                }
            };
            let eq = self.next();
            match eq.tok {
                Tok::Equals => {}
                Tok::Open => {
                    return Err(self.err(
                        &t,
                        format!(
                            "Missing '}}' to close {} opened at line {}, before '{key}'",
                            ctx.what, ctx.line
                        ),
                    ))
                }
                Tok::Eof => return Err(self.eof(&eq, ctx)),
                _ => {
                    return Err(self.err(&eq, format!("Expected '=' after {key}, found {}", eq.tok)))
                }
            }
            let v = self.next();
            let value = match v.text() {
                Some(s) => s.to_string(),
                None if v.tok == Tok::Eof => return Err(self.eof(&v, ctx)),
                None => {
                    return Err(self.err(
                        &v,
                        format!("Expected a value after '{key} =', found {}", v.tok),
                    ))
                }
            };
            let semi = self.next();
            match semi.tok {
                Tok::Semi => {}
                Tok::Eof => return Err(self.eof(&semi, ctx)),
                _ => {
                    return Err(self.err(
                        &semi,
                        format!("Expected ';' after the value of {key}, found {}", semi.tok),
                    ))
                }
            }
            out.push(Assign {
                key,
                key_at: self.loc(&t),
                value,
                value_at: self.loc(&v),
            });
        }
    }

    /// `perm { task { ... } admin { ... } }`, after `perm {`.
    fn perm_section(&mut self, kw: &Token, owner: &str) -> PResult<PermSection> {
        let ctx = Ctx {
            what: format!("the perm section of {owner}"),
            line: kw.line,
        };
        let mut section = PermSection {
            task: None,
            admin: None,
            at: self.loc(kw),
        };
        let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
        loop {
            let t = self.next();
            let word = match &t.tok {
                Tok::Close => return Ok(section),
                Tok::Eof => return Err(self.eof(&t, &ctx)),
                Tok::Word(w) => w.clone(),
                _ => {
                    return Err(self.err(
                        &t,
                        format!(
                            "Expected 'task', 'admin' or '}}' in {}, found {}",
                            ctx.what, t.tok
                        ),
                    ))
                }
            };
            let which: &'static str = match word.as_str() {
                "task" => "task",
                "admin" => "admin",
                _ => {
                    return Err(self.err(
                        &t,
                        format!(
                            "Unknown section '{word}' in {}: expected 'task' or 'admin'",
                            ctx.what
                        ),
                    ))
                }
            };
            if let Some(line) = seen.get(which) {
                return Err(self.err(
                    &t,
                    format!(
                        "Duplicate {which} section in {} (the first is at line {line})",
                        ctx.what
                    ),
                ));
            }
            seen.insert(which, t.line);
            self.open(&format!("after '{which}'"))?;
            let sctx = Ctx {
                what: format!("the {which} permissions of {owner}"),
                line: t.line,
            };
            let assigns = self.assignments(&sctx)?;
            let allowed: &[&str] = if which == "task" {
                &["uid", "gid", "fperm"]
            } else {
                &["uid", "gid", "dperm", "fperm"]
            };
            let mut task = TaskPerm::default();
            let mut admin = AdminPerm::default();
            let mut keys: Vec<&str> = Vec::new();
            for a in &assigns {
                let Some(key) = allowed.iter().copied().find(|k| *k == a.key) else {
                    let list = match which {
                        "task" => "uid, gid or fperm",
                        _ => "uid, gid, dperm or fperm",
                    };
                    return Err(ConfigError::new(
                        &a.key_at,
                        format!(
                            "Unknown key '{}' in {which} permissions: expected {list}",
                            a.key
                        ),
                    ));
                };
                if keys.contains(&key) {
                    return Err(ConfigError::new(
                        &a.key_at,
                        format!("Duplicate key {key} in {}", sctx.what),
                    ));
                }
                keys.push(key);
                match key {
                    "uid" | "gid" => {
                        let o = Owner {
                            id: parse_id(&a.value, key)
                                .map_err(|m| ConfigError::new(&a.value_at, m))?,
                            at: a.value_at.clone(),
                        };
                        match (which, key) {
                            ("task", "uid") => task.uid = Some(o),
                            ("task", _) => task.gid = Some(o),
                            (_, "uid") => admin.uid = Some(o),
                            _ => admin.gid = Some(o),
                        }
                    }
                    _ => {
                        let mode = parse_mode(&a.value).ok_or_else(|| {
                            ConfigError::new(
                                &a.value_at,
                                format!(
                                    "Invalid mode '{}' for {key}: expected an octal number such as 644",
                                    a.value
                                ),
                            )
                        })?;
                        match (which, key) {
                            ("task", _) => task.fperm = Some(mode),
                            (_, "dperm") => admin.dperm = Some(mode),
                            _ => admin.fperm = Some(mode),
                        }
                    }
                }
            }
            if which == "task" {
                section.task = Some(task);
            } else {
                section.admin = Some(admin);
            }
        }
    }
}

fn parse_id(value: &str, key: &str) -> std::result::Result<IdSpec, String> {
    if value.is_empty() {
        return Err(format!("Empty {key}: expected a name or a number"));
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse::<u32>()
            .map(IdSpec::Id)
            .map_err(|_| format!("Invalid {key} '{value}': out of range"));
    }
    Ok(IdSpec::Name(value.to_string()))
}

fn parse_mode(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(value, 8).ok().filter(|m| *m <= 0o7777)
}

// ---------------------------------------------------------------------------
// cgroup v1 → v2

/// A write on cgroup v2 that stands for one or more cgroup v1 settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct V2Setting {
    pub key: String,
    pub value: String,
    /// The v1 keys it comes from (itself when it passes through).
    pub from: Vec<String>,
    /// How it was translated; `None` when it passes through unchanged.
    pub notice: Option<String>,
}

/// Why a v1 setting cannot be written on cgroup v2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    /// The v1 key at fault.
    pub key: String,
    pub message: String,
}

/// Translates the settings of one controller block, in write order, for a
/// controller served by cgroup v2:
///
/// | v1 | v2 |
/// |----|----|
/// | `cpu.shares` | `cpu.weight` ([`shares_to_weight`]) |
/// | `cpu.cfs_quota_us` + `cpu.cfs_period_us` | `cpu.max` (`-1` → `max`) |
/// | `cpu.cfs_burst_us` | `cpu.max.burst` |
/// | `memory.limit_in_bytes` | `memory.max` (`-1` → `max`) |
/// | `memory.soft_limit_in_bytes` | `memory.low` |
/// | `memory.memsw.limit_in_bytes` | `memory.swap.max`, minus the memory limit of the same block |
/// | `blkio.weight` | `io.weight` (`default N`, [`blkio_to_io_weight`]) |
/// | `blkio.weight_device` | `io.weight` (`MAJ:MIN N`) |
/// | `blkio.throttle.{read,write}_{bps,iops}_device` | `io.max` (`MAJ:MIN rbps=N`, ...) |
/// | `hugetlb.SIZE.limit_in_bytes` | `hugetlb.SIZE.max` |
/// | `freezer.state` `FROZEN`/`THAWED` | `cgroup.freeze` `1`/`0` |
///
/// `cpuset.*` keys that v2 has, `pids.max` and every key that is not a
/// known v1 one pass through unchanged; a known v1 key without an
/// equivalent is an error.
pub fn translate_for_v2(
    settings: &[(&str, &str)],
) -> std::result::Result<Vec<V2Setting>, TranslateError> {
    let get = |k: &str| settings.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let err = |key: &str, message: String| TranslateError {
        key: key.to_string(),
        message,
    };
    let number = |key: &str, value: &str| -> std::result::Result<u64, TranslateError> {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| err(key, format!("{key} = {value}: expected a whole number")))
    };
    let mut out: Vec<V2Setting> = Vec::new();
    let mut cpu_max_done = false;
    for &(key, value) in settings {
        let translated = |v2: &str, v2_value: String| V2Setting {
            notice: Some(format!("{key} = {value} is {v2} = {v2_value} on cgroup v2")),
            key: v2.to_string(),
            value: v2_value,
            from: vec![key.to_string()],
        };
        let limit = |v: &str| -> std::result::Result<String, TranslateError> {
            if v.trim() == "-1" {
                return Ok("max".into());
            }
            memparse(v).map_err(|m| err(key, format!("{key} = {v}: {m}")))?;
            Ok(v.trim().to_string())
        };
        match key {
            "cpu.shares" => {
                let w = shares_to_weight(number(key, value)?);
                out.push(translated("cpu.weight", w.to_string()));
            }
            "cpu.cfs_quota_us" | "cpu.cfs_period_us" => {
                if cpu_max_done {
                    continue;
                }
                cpu_max_done = true;
                let period = get("cpu.cfs_period_us");
                let Some(quota) = get("cpu.cfs_quota_us") else {
                    return Err(err(
                        key,
                        "cpu.cfs_period_us alone has no cgroup v2 equivalent: cpu.max takes the quota first; add cpu.cfs_quota_us to the block (-1 for no limit)".into(),
                    ));
                };
                let q = if quota.trim() == "-1" {
                    "max".to_string()
                } else {
                    number("cpu.cfs_quota_us", quota)?.to_string()
                };
                let (v2_value, from, asked) = match period {
                    Some(p) => {
                        let p = number("cpu.cfs_period_us", p)?;
                        (
                            format!("{q} {p}"),
                            vec!["cpu.cfs_quota_us".to_string(), "cpu.cfs_period_us".into()],
                            format!("cpu.cfs_quota_us = {quota}, cpu.cfs_period_us = {p}"),
                        )
                    }
                    None => (
                        q,
                        vec!["cpu.cfs_quota_us".to_string()],
                        format!("cpu.cfs_quota_us = {quota}"),
                    ),
                };
                out.push(V2Setting {
                    notice: Some(format!("{asked} is cpu.max = {v2_value} on cgroup v2")),
                    key: "cpu.max".into(),
                    value: v2_value,
                    from,
                });
            }
            "cpu.cfs_burst_us" => {
                out.push(translated(
                    "cpu.max.burst",
                    number(key, value)?.to_string(),
                ));
            }
            "memory.limit_in_bytes" => out.push(translated("memory.max", limit(value)?)),
            "memory.soft_limit_in_bytes" => out.push(translated("memory.low", limit(value)?)),
            "memory.memsw.limit_in_bytes" => {
                if value.trim() == "-1" {
                    out.push(translated("memory.swap.max", "max".into()));
                    continue;
                }
                let total = memparse(value).map_err(|m| err(key, format!("{key} = {value}: {m}")))?;
                let Some(mem) = get("memory.limit_in_bytes") else {
                    return Err(err(
                        key,
                        format!("{key} = {value} needs memory.limit_in_bytes in the same block on cgroup v2, where memory.swap.max counts swap alone and the memory limit is subtracted from it"),
                    ));
                };
                if mem.trim() == "-1" {
                    return Err(err(
                        key,
                        format!("{key} = {value} cannot be translated with memory.limit_in_bytes = -1: on cgroup v2, memory.swap.max is the total minus the memory limit"),
                    ));
                }
                let m = memparse(mem).map_err(|e| {
                    err(
                        "memory.limit_in_bytes",
                        format!("memory.limit_in_bytes = {mem}: {e}"),
                    )
                })?;
                let Some(swap) = total.checked_sub(m) else {
                    return Err(err(
                        key,
                        format!("{key} = {value} is below memory.limit_in_bytes = {mem}, which the kernel refuses"),
                    ));
                };
                out.push(V2Setting {
                    notice: Some(format!(
                        "{key} = {value} is memory.swap.max = {swap} on cgroup v2 (swap alone: {total} - {m})"
                    )),
                    key: "memory.swap.max".into(),
                    value: swap.to_string(),
                    from: vec![key.to_string()],
                });
            }
            "blkio.weight" => {
                let w = number(key, value)?;
                if !(10..=1000).contains(&w) {
                    return Err(err(
                        key,
                        format!("{key} = {value}: the weight must be between 10 and 1000"),
                    ));
                }
                out.push(translated(
                    "io.weight",
                    format!("default {}", blkio_to_io_weight(w)),
                ));
            }
            "blkio.weight_device" => {
                let (dev, w) = device_value(key, value).map_err(|m| err(key, m))?;
                let w = number(key, w)?;
                if !(10..=1000).contains(&w) {
                    return Err(err(
                        key,
                        format!("{key} = {value}: the weight must be between 10 and 1000"),
                    ));
                }
                out.push(translated(
                    "io.weight",
                    format!("{dev} {}", blkio_to_io_weight(w)),
                ));
            }
            "blkio.throttle.read_bps_device"
            | "blkio.throttle.write_bps_device"
            | "blkio.throttle.read_iops_device"
            | "blkio.throttle.write_iops_device" => {
                let field = match key {
                    "blkio.throttle.read_bps_device" => "rbps",
                    "blkio.throttle.write_bps_device" => "wbps",
                    "blkio.throttle.read_iops_device" => "riops",
                    _ => "wiops",
                };
                let (dev, n) = device_value(key, value).map_err(|m| err(key, m))?;
                let n = number(key, n)?;
                let n = if n == 0 { "max".to_string() } else { n.to_string() };
                out.push(translated("io.max", format!("{dev} {field}={n}")));
            }
            "freezer.state" => {
                let v = match value.trim() {
                    "FROZEN" => "1",
                    "THAWED" => "0",
                    _ => {
                        return Err(err(
                            key,
                            format!("{key} = {value}: expected FROZEN or THAWED"),
                        ))
                    }
                };
                out.push(translated("cgroup.freeze", v.into()));
            }
            k if k.starts_with("hugetlb.") && k.ends_with(".limit_in_bytes") => {
                let size = &k["hugetlb.".len()..k.len() - ".limit_in_bytes".len()];
                out.push(translated(&format!("hugetlb.{size}.max"), limit(value)?));
            }
            k if is_v1_only(k) => {
                return Err(err(
                    k,
                    format!("{k} has no cgroup v2 equivalent, and this host serves its controller with cgroup v2: remove it, or write the cgroup v2 key instead"),
                ))
            }
            _ => out.push(V2Setting {
                key: key.to_string(),
                value: value.to_string(),
                from: vec![key.to_string()],
                notice: None,
            }),
        }
    }
    Ok(out)
}

/// `MAJ:MIN N` → (`MAJ:MIN`, `N`).
fn device_value<'v>(key: &str, value: &'v str) -> std::result::Result<(&'v str, &'v str), String> {
    let mut it = value.split_whitespace();
    match (it.next(), it.next(), it.next()) {
        (Some(dev), Some(n), None)
            if dev.split_once(':').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
            }) =>
        {
            Ok((dev, n))
        }
        _ => Err(format!("{key} = {value}: expected \"MAJOR:MINOR VALUE\"")),
    }
}

/// Known cgroup v1 keys (those the table of [`translate_for_v2`] does not
/// translate) that have no cgroup v2 counterpart.
fn is_v1_only(key: &str) -> bool {
    const V1_ONLY_CONTROLLERS: &[&str] = &[
        "cpuacct", "blkio", "devices", "net_cls", "net_prio", "freezer",
    ];
    const V1_ONLY_KEYS: &[&str] = &[
        "cpu.rt_runtime_us",
        "cpu.rt_period_us",
        "memory.swappiness",
        "memory.oom_control",
        "memory.use_hierarchy",
        "memory.force_empty",
        "memory.move_charge_at_immigrate",
        "memory.failcnt",
        "memory.pressure_level",
        "cpuset.cpu_exclusive",
        "cpuset.mem_exclusive",
        "cpuset.mem_hardwall",
        "cpuset.memory_migrate",
        "cpuset.memory_pressure",
        "cpuset.memory_pressure_enabled",
        "cpuset.memory_spread_page",
        "cpuset.memory_spread_slab",
        "cpuset.sched_load_balance",
        "cpuset.sched_relax_domain_level",
        "notify_on_release",
        "release_agent",
        "cgroup.clone_children",
        "cgroup.sane_behavior",
        "tasks",
    ];
    let prefix = key.split('.').next().unwrap_or("");
    V1_ONLY_CONTROLLERS.contains(&prefix)
        || V1_ONLY_KEYS.contains(&key)
        || key.starts_with("memory.kmem.")
        || key.starts_with("memory.memsw.")
        || (key.ends_with("_in_bytes"))
}

/// The kernel's memparse: a number with an optional K, M, G, T, P or E
/// suffix (powers of 1024).
fn memparse(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_lowercase() {
                'k' => 10,
                'm' => 20,
                'g' => 30,
                't' => 40,
                'p' => 50,
                'e' => 60,
                _ => {
                    return Err(
                        "expected a byte count, with an optional K, M, G or T suffix".into(),
                    )
                }
            };
            (&s[..s.len() - 1], shift)
        }
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a byte count, with an optional K, M, G or T suffix".to_string())?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| "the byte count is too large".to_string())
}

/// The order libcgroup writes a block's keys in: file order, except that
/// `cpuset.cpus` and `cpuset.mems` come first (a cpuset group takes no
/// other setting before it has CPUs and memory nodes) and
/// `memory.limit_in_bytes` comes before `memory.memsw.limit_in_bytes`
/// (which may never be below it).
fn write_order(settings: &[Setting]) -> Vec<&Setting> {
    let mut out: Vec<&Setting> = Vec::with_capacity(settings.len());
    for first in ["cpuset.cpus", "cpuset.mems"] {
        out.extend(settings.iter().filter(|s| s.key == first));
    }
    out.extend(
        settings
            .iter()
            .filter(|s| s.key != "cpuset.cpus" && s.key != "cpuset.mems"),
    );
    let pos = |k: &str, v: &[&Setting]| v.iter().position(|s| s.key == k);
    if let (Some(sw), Some(mem)) = (
        pos("memory.memsw.limit_in_bytes", &out),
        pos("memory.limit_in_bytes", &out),
    ) {
        if mem > sw {
            let m = out.remove(mem);
            out.insert(sw, m);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Applying

/// Options of [`Config::apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Permissions for what neither a group's perm section nor the
    /// configuration's default section sets, field by field: what
    /// `cgconfigparser -t/-a/-d/-f/-s` give (libcgroup's precedence: the
    /// group's perm section, then the file's default section, then these).
    pub default_perms: Permissions,
}

/// What [`Config::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub groups: Vec<GroupReport>,
}

/// One group of an [`ApplyReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupReport {
    /// As written in the configuration.
    pub name: String,
    pub controllers: Vec<ControllerReport>,
    /// Every write, in the order made.
    pub settings: Vec<SettingReport>,
}

/// One controller block of a [`GroupReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerReport {
    /// As written in the configuration (`cpuacct`, `blkio`).
    pub controller: String,
    pub version: Version,
    /// `controllers:/path`, as libcgroup names the group.
    pub cgroup: String,
    pub dir: PathBuf,
    /// Whether this apply made the directory (false: it existed).
    pub created: bool,
}

/// One write of a [`GroupReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingReport {
    pub controller: String,
    /// The file written (after translation to cgroup v2).
    pub key: String,
    /// The value written.
    pub asked: String,
    /// What the kernel kept, read back (`memory.limit_in_bytes = 40000` is
    /// kept as `36864` with 4 KiB pages).
    pub kept: String,
    /// How a v1 setting was translated for cgroup v2.
    pub notice: Option<String>,
    /// The setting in the configuration.
    pub at: Location,
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            writeln!(f, "group {}", g.name)?;
            for c in &g.controllers {
                let what = if c.created { "created" } else { "existed" };
                writeln!(f, "  {} ({what})", c.cgroup)?;
            }
            for s in &g.settings {
                write!(f, "  {} = {}", s.key, s.asked)?;
                if s.kept != s.asked {
                    write!(f, " (kept {})", s.kept)?;
                }
                writeln!(f)?;
                if let Some(n) = &s.notice {
                    writeln!(f, "    note: {n}")?;
                }
            }
        }
        Ok(())
    }
}

struct PlannedWrite<'c> {
    setting: &'c Setting,
    key: String,
    value: String,
    notice: Option<String>,
}

struct PlannedBlock<'c> {
    block: &'c ControllerBlock,
    cg: Cgroup,
    writes: Vec<PlannedWrite<'c>>,
}

struct PlannedGroup<'c> {
    group: &'c Group,
    perms: Permissions,
    blocks: Vec<PlannedBlock<'c>>,
}

impl Config {
    /// Creates every group (not the templates) and writes its settings, as
    /// `cgconfigparser` does. Everything that can be checked is checked
    /// first (mount points, namespaces, controllers, users, keys and their
    /// cgroup v2 translations); if a step then fails, the groups this call
    /// created are deleted again. Values already written to groups that
    /// existed before cannot be restored.
    pub fn apply(&self, layout: Arc<Layout>, opts: &ApplyOptions) -> Result<ApplyReport> {
        let plan = self.plan(&layout, opts)?;
        let mut undo: Vec<Cgroup> = Vec::new();
        match execute(&layout, &plan, &mut undo) {
            Ok(report) => Ok(report),
            Err(e) => {
                rollback(undo);
                Err(e)
            }
        }
    }

    /// Runs every check of [`Config::apply`] without changing anything.
    pub fn check(&self, layout: Arc<Layout>, opts: &ApplyOptions) -> Result<()> {
        self.plan(&layout, opts).map(|_| ())
    }

    /// The permissions a group gets: its perm section, then the default
    /// section, then `opts`, field by field.
    fn permissions_for(
        &self,
        g: &Group,
        opts: &ApplyOptions,
    ) -> std::result::Result<Permissions, ConfigError> {
        let defaults = match &self.default {
            Some(d) => overlay(&d.resolve()?, &opts.default_perms),
            None => opts.default_perms.clone(),
        };
        Ok(match &g.perm {
            Some(p) => overlay(&p.resolve()?, &defaults),
            None => defaults,
        })
    }

    fn check_mounts(&self, layout: &Layout) -> std::result::Result<(), ConfigError> {
        for m in &self.mounts {
            let c = m.controller.as_str();
            let at = Path::new(&m.path);
            let serves = |h: &crate::layout::Hierarchy| match h.version {
                Version::V1 => h.has(c),
                Version::V2 => c == "unified" || c == "freezer" || h.has(v2_name(c)),
            };
            let opts = if c.starts_with("name=") {
                format!("none,{c}")
            } else {
                c.to_string()
            };
            let how = format!("mount -t cgroup -o {opts} none {}", m.path);
            if let Some(h) = layout.hierarchies.iter().find(|h| h.mount_point == at) {
                if serves(h) {
                    continue;
                }
                return Err(ConfigError::new(
                    &m.at,
                    format!(
                        "The mount section asks for controller '{c}' at {}, but the hierarchy mounted there serves {}; enclos does not mount hierarchies itself: fix the mount section, or mount '{c}' elsewhere and name that place",
                        m.path,
                        h.label()
                    ),
                ));
            }
            let message = match layout.resolve(c) {
                Ok(h) => format!(
                    "The mount section asks for controller '{c}' at {}, but it is mounted at {}; enclos does not mount hierarchies itself: write {} in the mount section, or mount it there first, e.g. `{how}`",
                    m.path,
                    h.mount_point.display(),
                    h.mount_point.display()
                ),
                Err(_) => format!(
                    "The mount section asks for controller '{c}' at {}, but this host does not mount it anywhere; enclos does not mount hierarchies itself: mount it first, e.g. `mkdir -p {} && {how}`",
                    m.path, m.path
                ),
            };
            return Err(ConfigError::new(&m.at, message));
        }
        Ok(())
    }

    fn plan<'c>(
        &'c self,
        layout: &Arc<Layout>,
        opts: &ApplyOptions,
    ) -> Result<Vec<PlannedGroup<'c>>> {
        self.check_mounts(layout)?;
        for n in &self.namespaces {
            layout.resolve(&n.controller).map_err(|e| {
                ConfigError::with_source(
                    &n.at,
                    format!("Cannot use the namespace of controller '{}'", n.controller),
                    e,
                )
            })?;
        }
        let mut plan = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let path = g.path().map_err(|e| {
                ConfigError::with_source(&g.at, format!("Invalid group name '{}'", g.name), e)
            })?;
            let perms = self.permissions_for(g, opts)?;
            let mut blocks = Vec::with_capacity(g.controllers.len());
            for b in &g.controllers {
                let full = match self.namespaces.iter().find(|n| n.controller == b.name) {
                    Some(n) if !n.path.is_empty() && !path.is_empty() => {
                        format!("{}/{path}", n.path)
                    }
                    Some(n) if path.is_empty() => n.path.clone(),
                    _ => path.clone(),
                };
                let cg = Cgroup::new(layout.clone(), &[b.name.as_str()], &full).map_err(|e| {
                    ConfigError::with_source(
                        &b.at,
                        format!(
                            "Cannot place group '{}' in the hierarchy of controller '{}'",
                            g.name, b.name
                        ),
                        e,
                    )
                })?;
                let member = cg.members().first().cloned().ok_or_else(|| {
                    ConfigError::new(
                        &b.at,
                        format!("No hierarchy serves controller '{}'", b.name),
                    )
                })?;
                let ordered = write_order(&b.settings);
                for s in &ordered {
                    check_key(&member, &b.name, &s.key).map_err(|m| ConfigError::new(&s.at, m))?;
                }
                let writes = match member.hierarchy.version {
                    Version::V1 => ordered
                        .iter()
                        .map(|s| PlannedWrite {
                            setting: s,
                            key: s.key.clone(),
                            value: s.value.clone(),
                            notice: None,
                        })
                        .collect(),
                    Version::V2 => {
                        let pairs: Vec<(&str, &str)> = ordered
                            .iter()
                            .map(|s| (s.key.as_str(), s.value.as_str()))
                            .collect();
                        let find = |k: &str| ordered.iter().copied().find(|s| s.key == k);
                        let translated = translate_for_v2(&pairs).map_err(|e| {
                            let at = find(&e.key).map_or(&b.at, |s| &s.at);
                            ConfigError::new(at, e.message)
                        })?;
                        let mut writes = Vec::with_capacity(translated.len());
                        for t in translated {
                            // Every translation comes from at least one key of the block.
                            let Some(setting) = t.from.first().and_then(|k| find(k)) else {
                                continue;
                            };
                            writes.push(PlannedWrite {
                                setting,
                                key: t.key,
                                value: t.value,
                                notice: t.notice,
                            });
                        }
                        writes
                    }
                };
                blocks.push(PlannedBlock {
                    block: b,
                    cg,
                    writes,
                });
            }
            plan.push(PlannedGroup {
                group: g,
                perms,
                blocks,
            });
        }
        Ok(plan)
    }
}

/// Refuses a key of another controller's hierarchy in a block
/// (`cpu { memory.limit_in_bytes = 1; }`).
fn check_key(member: &Member, block: &str, key: &str) -> std::result::Result<(), String> {
    let c = match key_controller(key) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(()),
        Err(_) => return Err(format!("Invalid key '{key}'")),
    };
    let fits = match member.hierarchy.version {
        Version::V1 => c == block || member.hierarchy.has(c),
        Version::V2 => v2_name(c) == v2_name(block),
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "Key {key} belongs to controller '{c}', not to the {block} block it is written in; move it into a `{c} {{ }}` block"
        ))
    }
}

/// The shallowest directory of `cg`'s path that does not exist yet (what a
/// create would make first), relative to the hierarchy root.
fn topmost_missing(cg: &Cgroup) -> Option<String> {
    let m = cg.members().first()?;
    let mut prefix = String::new();
    for part in cg.path().split('/').filter(|p| !p.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if !m.hierarchy.dir(&prefix).is_dir() {
            return Some(prefix);
        }
    }
    None
}

fn execute(
    layout: &Arc<Layout>,
    plan: &[PlannedGroup<'_>],
    undo: &mut Vec<Cgroup>,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    for pg in plan {
        let mut gr = GroupReport {
            name: pg.group.name.clone(),
            controllers: Vec::new(),
            settings: Vec::new(),
        };
        for pb in &pg.blocks {
            let top = topmost_missing(&pb.cg);
            pb.cg.create(&pg.perms).map_err(|e| {
                ConfigError::with_source(
                    &pb.block.at,
                    format!("Cannot create group '{}' ({})", pg.group.name, pb.cg.name()),
                    e,
                )
            })?;
            if let Some(top) = &top {
                undo.push(Cgroup::new(layout.clone(), &[pb.block.name.as_str()], top)?);
                tracing::info!(group = %pb.cg.name(), "created");
            }
            let member = pb.cg.members().first();
            gr.controllers.push(ControllerReport {
                controller: pb.block.name.clone(),
                version: member.map(|m| m.hierarchy.version).unwrap_or(Version::V1),
                cgroup: pb.cg.name(),
                dir: member.map(|m| m.dir.clone()).unwrap_or_default(),
                created: top.is_some(),
            });
            for w in &pb.writes {
                let kept = pb.cg.set_and_read(&w.key, &w.value).map_err(|e| {
                    let from = if w.key != w.setting.key {
                        format!(
                            " (for {} = {} on cgroup v2)",
                            w.setting.key, w.setting.value
                        )
                    } else {
                        String::new()
                    };
                    ConfigError::with_source(
                        &w.setting.at,
                        format!(
                            "Cannot set {} = {} in group '{}'{from}",
                            w.key, w.value, pg.group.name
                        ),
                        e,
                    )
                })?;
                tracing::info!(group = %pb.cg.name(), key = %w.key, asked = %w.value, kept = %kept, "set");
                gr.settings.push(SettingReport {
                    controller: pb.block.name.clone(),
                    key: w.key.clone(),
                    asked: w.value.clone(),
                    kept,
                    notice: w.notice.clone(),
                    at: w.setting.at.clone(),
                });
            }
        }
        report.groups.push(gr);
    }
    Ok(report)
}

fn rollback(undo: Vec<Cgroup>) {
    for cg in undo.into_iter().rev() {
        let opts = DeleteOptions {
            recursive: true,
            populated: Populated::Refuse,
            ignore_missing: true,
        };
        match cg.delete(opts) {
            Ok(()) => tracing::info!(group = %cg.name(), "removed after a failed apply"),
            Err(e) => tracing::warn!(
                group = %cg.name(),
                error = %e,
                "cannot remove a group created before the failure"
            ),
        }
    }
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Hierarchy;
    use rstest::rstest;
    use std::os::unix::fs::PermissionsExt;

    const COURSE: &str = "\
group helloworld2 {
    cpu {
        cpu.shares = 100;
    }
    memory {
        memory.limit_in_bytes = 40000;
    }
}
";

    fn at(line: usize, column: usize) -> Location {
        Location {
            file: PathBuf::from("cgconfig.conf"),
            line,
            column,
        }
    }

    fn parse(text: &str) -> Config {
        parse_str(text, Path::new("cgconfig.conf")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn setting(key: &str, value: &str, line: usize, column: usize) -> Setting {
        Setting {
            key: key.into(),
            value: value.into(),
            at: at(line, column),
        }
    }

    #[test]
    fn course_file_parses_to_its_ast() {
        let cfg = parse(COURSE);
        let expected = Config {
            groups: vec![Group {
                name: "helloworld2".into(),
                perm: None,
                controllers: vec![
                    ControllerBlock {
                        name: "cpu".into(),
                        settings: vec![setting("cpu.shares", "100", 3, 9)],
                        at: at(2, 5),
                    },
                    ControllerBlock {
                        name: "memory".into(),
                        settings: vec![setting("memory.limit_in_bytes", "40000", 6, 9)],
                        at: at(5, 5),
                    },
                ],
                at: at(1, 7),
            }],
            sources: vec![PathBuf::from("cgconfig.conf")],
            ..Config::default()
        };
        assert_eq!(cfg, expected);
        assert_eq!(cfg.group("/helloworld2/").unwrap().name, "helloworld2");
    }

    #[test]
    fn perm_sections() {
        let cfg = parse(
            "group g {\n  perm {\n    admin { uid = root; gid = 0; dperm = 775; fperm = 644; }\n    task { uid = 1000; gid = \"root\"; fperm = 660; }\n  }\n  cpu { }\n}\n",
        );
        let p = cfg.groups[0].perm.as_ref().unwrap();
        assert_eq!(p.at, at(2, 3));
        let task = p.task.as_ref().unwrap();
        assert_eq!(task.uid.as_ref().unwrap().id, IdSpec::Id(1000));
        assert_eq!(task.gid.as_ref().unwrap().id, IdSpec::Name("root".into()));
        assert_eq!(task.gid.as_ref().unwrap().at, at(4, 30));
        assert_eq!(task.fperm, Some(0o660));
        let admin = p.admin.as_ref().unwrap();
        assert_eq!(admin.uid.as_ref().unwrap().id, IdSpec::Name("root".into()));
        assert_eq!(admin.dperm, Some(0o775));
        assert_eq!(admin.fperm, Some(0o644));
        assert_eq!(
            p.resolve().unwrap(),
            Permissions {
                task_uid: Some(1000),
                task_gid: Some(0),
                admin_uid: Some(0),
                admin_gid: Some(0),
                dir_mode: Some(0o775),
                file_mode: Some(0o644),
                task_mode: Some(0o660),
            }
        );
        // An empty block creates the group and sets nothing.
        assert!(cfg.groups[0].controllers[0].settings.is_empty());
    }

    #[test]
    fn default_section_and_options_fill_in_field_by_field() {
        let cfg = parse(
            "group g { perm { task { fperm = 600; } } cpu { } }\n\
             group h { cpu { } }\n\
             default { perm { admin { dperm = 700; } task { fperm = 666; } } }\n",
        );
        let d = cfg.default.as_ref().unwrap();
        assert_eq!(d.admin.as_ref().unwrap().dperm, Some(0o700));
        let opts = ApplyOptions {
            default_perms: Permissions {
                dir_mode: Some(0o755),
                file_mode: Some(0o644),
                task_mode: Some(0o644),
                ..Permissions::default()
            },
        };
        let g = cfg.permissions_for(&cfg.groups[0], &opts).unwrap();
        assert_eq!(
            (g.dir_mode, g.file_mode, g.task_mode),
            (Some(0o700), Some(0o644), Some(0o600))
        );
        let h = cfg.permissions_for(&cfg.groups[1], &opts).unwrap();
        assert_eq!(
            (h.dir_mode, h.file_mode, h.task_mode),
            (Some(0o700), Some(0o644), Some(0o666))
        );
    }

    #[test]
    fn unknown_user_is_an_error_with_its_place() {
        let cfg = parse("group g {\n perm { task { uid = no_such_user_enclos; } }\n cpu { }\n}\n");
        let err = cfg.groups[0].perm.as_ref().unwrap().resolve().unwrap_err();
        assert_eq!(
            err.to_string(),
            "cgconfig.conf:2:22: Unknown user 'no_such_user_enclos' (uid of the task permissions): no such user in the user database; create it or give a number"
        );
    }

    #[test]
    fn templates_parse_and_instantiate() {
        let cfg = parse(
            "template users/%u/%p-%P {\n perm { task { uid = %U; } }\n cpu { cpu.shares = 512; }\n}\n",
        );
        assert!(cfg.groups.is_empty());
        let t = cfg.template("users/%u/%p-%P").unwrap();
        assert_eq!(t.at, at(1, 10));
        let vars = TemplateVars {
            user: Some("alice".into()),
            uid: Some(1000),
            process: Some("sleep".into()),
            pid: Some(42),
            ..TemplateVars::default()
        };
        let g = t.instantiate(&vars).unwrap();
        assert_eq!(g.name, "users/alice/sleep-42");
        assert_eq!(g.path().unwrap(), "users/alice/sleep-42");
        assert_eq!(g.controllers, t.controllers);
        // Only the name is expanded.
        let uid = &g.perm.as_ref().unwrap().task.as_ref().unwrap().uid;
        assert_eq!(uid.as_ref().unwrap().id, IdSpec::Name("%U".into()));
    }

    #[rstest]
    #[case("%u", "alice")]
    #[case("%U", "1000")]
    #[case("%g", "staff")]
    #[case("%G", "50")]
    #[case("%p", "sleep")]
    #[case("%P", "42")]
    #[case("a/%u.%G/%%x", "a/alice.50/%x")]
    #[case("50%z%", "50%z%")]
    fn template_variables(#[case] name: &str, #[case] expected: &str) {
        let vars = TemplateVars {
            user: Some("alice".into()),
            uid: Some(1000),
            group: Some("staff".into()),
            gid: Some(50),
            process: Some("sleep".into()),
            pid: Some(42),
        };
        assert_eq!(expand_template_name(name, &vars).unwrap(), expected);
    }

    #[test]
    fn template_with_a_missing_variable() {
        let cfg = parse("template t/%p { cpu { } }");
        let err = cfg.templates[0]
            .instantiate(&TemplateVars::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cgconfig.conf:1:10: Template 't/%p' uses %p, but no process name was given"
        );
        let vars = TemplateVars {
            process: Some("..".into()),
            ..TemplateVars::default()
        };
        let cfg = parse("template %p { cpu { } }");
        let err = cfg.templates[0].instantiate(&vars).unwrap_err();
        assert!(err.message.contains("invalid group name '..'"), "{err}");
    }

    #[test]
    fn mount_and_namespace_sections() {
        let cfg = parse(
            "mount {\n  cpu = /sys/fs/cgroup/cpu;\n  cpuacct = /sys/fs/cgroup/cpu;\n  \"name=systemd\" = /sys/fs/cgroup/systemd;\n}\nnamespace { cpu = /daemons/; }\n",
        );
        assert_eq!(
            cfg.mounts,
            vec![
                MountEntry {
                    controller: "cpu".into(),
                    path: "/sys/fs/cgroup/cpu".into(),
                    at: at(2, 3)
                },
                MountEntry {
                    controller: "cpuacct".into(),
                    path: "/sys/fs/cgroup/cpu".into(),
                    at: at(3, 3)
                },
                MountEntry {
                    controller: "name=systemd".into(),
                    path: "/sys/fs/cgroup/systemd".into(),
                    at: at(4, 3)
                },
            ]
        );
        assert_eq!(cfg.namespaces[0].path, "daemons");
    }

    #[test]
    fn names_values_and_comments() {
        let cfg = parse(
            "# a comment\n\
             group \"my group\" { cpu { } } # trailing\n\
             group a/b/c {\n\
             \x20 devices { devices.allow = \"c 1:3 mr; }\"; # not a comment: \"#\"\n\
             \x20   cpuset.cpus = 0-1;\n\
             \x20 }\n\
             }\n\
             group . { cpu { cpu.shares = 2048; } }\n\
             group default { cpu { } }\n\
             group \"task\" { cpu{cpu.shares=1;} }\n",
        );
        let names: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["my group", "a/b/c", ".", "default", "task"]);
        assert_eq!(cfg.groups[2].path().unwrap(), "");
        let dev = &cfg.groups[1].controllers[0].settings;
        assert_eq!(dev[0].value, "c 1:3 mr; }");
        assert_eq!(dev[1], setting("cpuset.cpus", "0-1", 5, 5));
        assert_eq!(cfg.groups[4].controllers[0].settings[0].value, "1");
    }

    #[test]
    fn directory_loading_is_sorted_and_skips_hidden_and_backup_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("20-b.conf"), "group b { cpu { } }\n").unwrap();
        fs::write(d.join("10-a.conf"), "group a { cpu { } }\n").unwrap();
        fs::write(d.join("30-c"), "group c { cpu { } }\n").unwrap();
        fs::write(d.join(".hidden.conf"), "this is not parsed {").unwrap();
        fs::write(d.join("10-a.conf~"), "nor this {").unwrap();
        fs::create_dir(d.join("sub.conf")).unwrap();
        let files = config_files(d).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["10-a.conf", "20-b.conf", "30-c"]);
        let cfg = load_dir(d).unwrap();
        let groups: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(groups, ["a", "b", "c"]);
        assert_eq!(cfg.sources, files);

        let other = tempfile::tempdir().unwrap();
        let main = other.path().join("cgconfig.conf");
        fs::write(&main, "group first { memory { } }\n").unwrap();
        let cfg = load(std::slice::from_ref(&main), &[d.to_path_buf()]).unwrap();
        let groups: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(groups, ["first", "a", "b", "c"]);
        assert_eq!(cfg.sources[0], main);
    }

    #[test]
    fn duplicate_group_across_files_names_both_places() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a.conf"), "group x { cpu { } }\n").unwrap();
        fs::write(d.join("b.conf"), "\n\ngroup  /x/ { memory { } }\n").unwrap();
        let err = load_dir(d).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:3:8: Group '/x/' is already defined at {}:1:7 (as 'x')",
                d.join("b.conf").display(),
                d.join("a.conf").display()
            )
        );
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = parse_file(Path::new("/nonexistent/cgconfig.conf")).unwrap_err();
        assert!(matches!(err, Error::Read { .. }), "{err}");
    }

    #[rstest]
    #[case::missing_semicolon(
        "group a {\n    cpu {\n        cpu.shares = 100\n    }\n}\n",
        "4:5: Expected ';' after the value of cpu.shares, found '}'"
    )]
    #[case::missing_semicolon_before_brace(
        "group a {\ncpu {\n    cpu.shares = 100}\n}\n",
        "3:21: Expected ';' after the value of cpu.shares, found '}'"
    )]
    #[case::perm_task_without_brace(
        "group a { perm { task uid = 0; } cpu { } }",
        "1:23: Expected '{' after 'task', found 'uid'"
    )]
    #[case::empty_name(
        "group \"\" { cpu { } }",
        "1:7: Empty group name: write . for the root group"
    )]
    #[case::missing_semicolon_same_line(
        "group a { cpu { cpu.shares = 100 } }",
        "1:34: Expected ';' after the value of cpu.shares, found '}'"
    )]
    #[case::missing_close_before_next_group(
        "group a {\n  cpu { }\ngroup b { cpu { } }\n",
        "3:1: Missing '}' to close group 'a' opened at line 1, before 'group'"
    )]
    #[case::missing_close_of_block(
        "group a {\n  cpu { cpu.shares = 1;\n  memory { }\n}\n",
        "3:3: Missing '}' to close the cpu block of group 'a' opened at line 2, before 'memory'"
    )]
    #[case::eof_in_block(
        "group a {\n  cpu {\n    cpu.shares = 1;\n",
        "4:1: Unexpected end of file in the cpu block of group 'a' opened at line 2: missing '}'"
    )]
    #[case::eof_in_group(
        "group a { cpu { }",
        "1:18: Unexpected end of file in group 'a' opened at line 1: missing '}'"
    )]
    #[case::eof_after_keyword(
        "group",
        "1:6: Unexpected end of file: expected a group name after 'group'"
    )]
    #[case::unterminated_string(
        "group a {\n  devices { devices.allow = \"a *:* rwm; }\n}\n",
        "2:29: Unterminated quoted string: no closing '\"' on its line"
    )]
    #[case::unexpected_top(
        "grop a { }",
        "1:1: Expected 'group', 'template', 'mount', 'namespace' or 'default', found 'grop'"
    )]
    #[case::stray_brace(
        "}",
        "1:1: Expected 'group', 'template', 'mount', 'namespace' or 'default', found '}'"
    )]
    #[case::no_name(
        "group { cpu { } }",
        "1:7: Expected a group name after 'group', found '{'"
    )]
    #[case::no_open(
        "group a cpu { }",
        "1:9: Expected '{' after group name 'a', found 'cpu'"
    )]
    #[case::no_equals(
        "group a { cpu { cpu.shares 100; } }",
        "1:28: Expected '=' after cpu.shares, found '100'"
    )]
    #[case::no_value(
        "group a { cpu { cpu.shares = ; } }",
        "1:30: Expected a value after 'cpu.shares =', found ';'"
    )]
    #[case::semicolon_in_group(
        "group a { ; }",
        "1:11: Expected a controller name, 'perm' or '}' in group 'a', found ';'"
    )]
    #[case::duplicate_group(
        "group a { cpu { } }\ngroup a { memory { } }",
        "2:7: Group 'a' is already defined at cgconfig.conf:1:7"
    )]
    #[case::duplicate_block(
        "group a {\n cpu { }\n cpu { }\n}",
        "3:2: Duplicate cpu block in group 'a' (the first is at line 2)"
    )]
    #[case::duplicate_key(
        "group a { cpu {\n cpu.shares = 1;\n cpu.shares = 2; } }",
        "3:2: Duplicate key cpu.shares in the cpu block of group 'a' (the first is at line 2)"
    )]
    #[case::empty_group(
        "group a { }",
        "1:7: Group 'a' names no controller: add a controller block such as `cpu { }`"
    )]
    #[case::bad_name(
        "group ../etc { cpu { } }",
        "1:7: Invalid group name '../etc': '..' would leave the hierarchy"
    )]
    #[case::bad_key(
        "group a { cpu { \"cpu/shares\" = 1; } }",
        "1:17: Invalid key 'cpu/shares': a key names a file of the group, such as cpu.shares"
    )]
    #[case::unknown_perm_section(
        "group a {\n perm { owner { uid = 0; } }\n cpu { }\n}",
        "2:9: Unknown section 'owner' in the perm section of group 'a': expected 'task' or 'admin'"
    )]
    #[case::unknown_task_key(
        "group a { perm { task { dperm = 755; } } cpu { } }",
        "1:25: Unknown key 'dperm' in task permissions: expected uid, gid or fperm"
    )]
    #[case::unknown_admin_key(
        "group a { perm { admin { tperm = 755; } } cpu { } }",
        "1:26: Unknown key 'tperm' in admin permissions: expected uid, gid, dperm or fperm"
    )]
    #[case::bad_octal(
        "group a { perm { admin { fperm = 648; } } cpu { } }",
        "1:34: Invalid mode '648' for fperm: expected an octal number such as 644"
    )]
    #[case::mode_too_large(
        "group a { perm { task { fperm = 17777; } } cpu { } }",
        "1:33: Invalid mode '17777' for fperm: expected an octal number such as 644"
    )]
    #[case::duplicate_perm(
        "group a {\n perm { }\n perm { }\n cpu { } }",
        "3:2: Duplicate perm section in group 'a' (the first is at line 2)"
    )]
    #[case::duplicate_task(
        "group a { perm {\n task { }\n task { } } cpu { } }",
        "3:2: Duplicate task section in the perm section of group 'a' (the first is at line 2)"
    )]
    #[case::uid_out_of_range(
        "group a { perm { task { uid = 99999999999; } } cpu { } }",
        "1:31: Invalid uid '99999999999': out of range"
    )]
    #[case::relative_mount(
        "mount { cpu = cgroup/cpu; }",
        "1:15: Mount point 'cgroup/cpu' of cpu is not an absolute path"
    )]
    #[case::mount_twice(
        "mount { cpu = /a; }\nmount { cpu = /b; }",
        "2:9: Controller 'cpu' is already given mount '/a' at cgconfig.conf:1:9"
    )]
    #[case::default_other(
        "default { cpu { } }",
        "1:11: Expected 'perm' or '}' in the default section, found 'cpu'"
    )]
    #[case::systemd("systemd { slice = a; }", "1:1: The systemd section (libcgroup's delegation to systemd slices) is not supported by enclos; remove it")]
    fn malformed_inputs(#[case] text: &str, #[case] expected: &str) {
        let err = parse_str(text, Path::new("cgconfig.conf")).unwrap_err();
        assert_eq!(err.to_string(), format!("cgconfig.conf:{expected}"));
    }

    #[rstest]
    #[case::shares(&[("cpu.shares", "100")], &[("cpu.weight", "4")])]
    #[case::shares_default(&[("cpu.shares", "1024")], &[("cpu.weight", "39")])]
    #[case::quota_period(
        &[("cpu.cfs_quota_us", "50000"), ("cpu.cfs_period_us", "100000")],
        &[("cpu.max", "50000 100000")]
    )]
    #[case::period_first(
        &[("cpu.cfs_period_us", "200000"), ("cpu.cfs_quota_us", "-1")],
        &[("cpu.max", "max 200000")]
    )]
    #[case::quota_only(&[("cpu.cfs_quota_us", "25000")], &[("cpu.max", "25000")])]
    #[case::memory(&[("memory.limit_in_bytes", "40000")], &[("memory.max", "40000")])]
    #[case::memory_unlimited(&[("memory.limit_in_bytes", "-1")], &[("memory.max", "max")])]
    #[case::memory_suffix(&[("memory.limit_in_bytes", "256M")], &[("memory.max", "256M")])]
    #[case::soft(&[("memory.soft_limit_in_bytes", "1G")], &[("memory.low", "1G")])]
    #[case::memsw(
        &[("memory.limit_in_bytes", "1G"), ("memory.memsw.limit_in_bytes", "1536M")],
        &[("memory.max", "1G"), ("memory.swap.max", "536870912")]
    )]
    #[case::memsw_unlimited(&[("memory.memsw.limit_in_bytes", "-1")], &[("memory.swap.max", "max")])]
    #[case::blkio(&[("blkio.weight", "500")], &[("io.weight", "default 4950")])]
    #[case::blkio_device(&[("blkio.weight_device", "8:0 1000")], &[("io.weight", "8:0 10000")])]
    #[case::throttle(
        &[("blkio.throttle.read_bps_device", "8:0 1048576"), ("blkio.throttle.write_iops_device", "8:16 0")],
        &[("io.max", "8:0 rbps=1048576"), ("io.max", "8:16 wiops=max")]
    )]
    #[case::cpuset(&[("cpuset.cpus", "0-1"), ("cpuset.mems", "0")], &[("cpuset.cpus", "0-1"), ("cpuset.mems", "0")])]
    #[case::pids(&[("pids.max", "100")], &[("pids.max", "100")])]
    #[case::frozen(&[("freezer.state", "FROZEN")], &[("cgroup.freeze", "1")])]
    #[case::thawed(&[("freezer.state", "THAWED")], &[("cgroup.freeze", "0")])]
    #[case::hugetlb(&[("hugetlb.2MB.limit_in_bytes", "-1")], &[("hugetlb.2MB.max", "max")])]
    #[case::burst(&[("cpu.cfs_burst_us", "1000")], &[("cpu.max.burst", "1000")])]
    #[case::v2_key(&[("memory.high", "1G"), ("cpu.weight", "50")], &[("memory.high", "1G"), ("cpu.weight", "50")])]
    fn v1_to_v2(#[case] input: &[(&str, &str)], #[case] expected: &[(&str, &str)]) {
        let out = translate_for_v2(input).unwrap();
        let got: Vec<(&str, &str)> = out
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(got, expected);
        for s in &out {
            assert_eq!(s.notice.is_none(), input.iter().any(|(k, _)| *k == s.key));
        }
    }

    #[test]
    fn v1_to_v2_notices() {
        let out = translate_for_v2(&[("cpu.shares", "100")]).unwrap();
        assert_eq!(
            out[0].notice.as_deref(),
            Some("cpu.shares = 100 is cpu.weight = 4 on cgroup v2")
        );
        assert_eq!(out[0].from, ["cpu.shares"]);
        let out = translate_for_v2(&[("cpu.cfs_quota_us", "-1"), ("cpu.cfs_period_us", "100000")])
            .unwrap();
        assert_eq!(out[0].from, ["cpu.cfs_quota_us", "cpu.cfs_period_us"]);
    }

    #[rstest]
    #[case::swappiness(&[("memory.swappiness", "10")], "memory.swappiness", "memory.swappiness has no cgroup v2 equivalent")]
    #[case::cpuacct(&[("cpuacct.usage", "0")], "cpuacct.usage", "cpuacct.usage has no cgroup v2 equivalent")]
    #[case::devices(&[("devices.deny", "a")], "devices.deny", "devices.deny has no cgroup v2 equivalent")]
    #[case::kmem(&[("memory.kmem.limit_in_bytes", "1")], "memory.kmem.limit_in_bytes", "no cgroup v2 equivalent")]
    #[case::rt(&[("cpu.rt_runtime_us", "1")], "cpu.rt_runtime_us", "no cgroup v2 equivalent")]
    #[case::period_alone(&[("cpu.cfs_period_us", "100000")], "cpu.cfs_period_us", "cpu.cfs_period_us alone has no cgroup v2 equivalent")]
    #[case::memsw_alone(&[("memory.memsw.limit_in_bytes", "2G")], "memory.memsw.limit_in_bytes", "needs memory.limit_in_bytes in the same block")]
    #[case::memsw_below(
        &[("memory.limit_in_bytes", "2G"), ("memory.memsw.limit_in_bytes", "1G")],
        "memory.memsw.limit_in_bytes",
        "is below memory.limit_in_bytes = 2G"
    )]
    #[case::shares_nan(&[("cpu.shares", "lots")], "cpu.shares", "cpu.shares = lots: expected a whole number")]
    #[case::bad_limit(&[("memory.limit_in_bytes", "12X")], "memory.limit_in_bytes", "expected a byte count")]
    #[case::blkio_range(&[("blkio.weight", "5")], "blkio.weight", "between 10 and 1000")]
    #[case::freezer(&[("freezer.state", "FREEZING")], "freezer.state", "expected FROZEN or THAWED")]
    #[case::device(&[("blkio.throttle.read_bps_device", "sda 1")], "blkio.throttle.read_bps_device", "MAJOR:MINOR")]
    fn v1_without_v2_equivalent(
        #[case] input: &[(&str, &str)],
        #[case] key: &str,
        #[case] message: &str,
    ) {
        let err = translate_for_v2(input).unwrap_err();
        assert_eq!(err.key, key);
        assert!(err.message.contains(message), "{}", err.message);
    }

    #[test]
    fn write_order_follows_libcgroup() {
        let s = |k: &str| setting(k, "1", 1, 1);
        let settings = vec![
            s("memory.memsw.limit_in_bytes"),
            s("cpuset.cpu_exclusive"),
            s("memory.swappiness"),
            s("cpuset.mems"),
            s("memory.limit_in_bytes"),
            s("cpuset.cpus"),
        ];
        let keys: Vec<&str> = write_order(&settings)
            .iter()
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "cpuset.cpus",
                "cpuset.mems",
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "cpuset.cpu_exclusive",
                "memory.swappiness",
            ]
        );
    }

    // --- apply against fake trees -----------------------------------------

    fn v1_layout(root: &Path) -> Arc<Layout> {
        let h = |c: &[&str], dir: &str| {
            let mount_point = root.join(dir);
            fs::create_dir_all(&mount_point).unwrap();
            Hierarchy {
                version: Version::V1,
                controllers: c.iter().map(|s| s.to_string()).collect(),
                mount_point,
                root: "/".into(),
            }
        };
        Arc::new(Layout {
            hierarchies: vec![
                h(&["cpu", "cpuacct"], "cpu,cpuacct"),
                h(&["memory"], "memory"),
            ],
        })
    }

    fn v2_layout(root: &Path) -> Arc<Layout> {
        let controllers = ["cpuset", "cpu", "io", "memory", "pids"];
        fs::write(root.join("cgroup.subtree_control"), controllers.join(" ")).unwrap();
        Arc::new(Layout {
            hierarchies: vec![Hierarchy {
                version: Version::V2,
                controllers: controllers.iter().map(|s| s.to_string()).collect(),
                mount_point: root.to_path_buf(),
                root: "/".into(),
            }],
        })
    }

    /// A group directory with empty interface files, as the kernel would
    /// have made it.
    fn fake_group(dir: &Path, files: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for f in files {
            fs::write(dir.join(f), "").unwrap();
        }
    }

    fn read(path: PathBuf) -> String {
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn apply_writes_the_course_file_on_v1() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        let cpu = tmp.path().join("cpu,cpuacct/helloworld2");
        let mem = tmp.path().join("memory/helloworld2");
        fake_group(&cpu, &["cpu.shares"]);
        fake_group(&mem, &["memory.limit_in_bytes"]);
        let report = parse(COURSE)
            .apply(layout, &ApplyOptions::default())
            .unwrap();
        assert_eq!(read(cpu.join("cpu.shares")), "100");
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "40000");
        let g = &report.groups[0];
        assert_eq!(g.name, "helloworld2");
        assert_eq!(g.controllers.len(), 2);
        assert!(g.controllers.iter().all(|c| !c.created));
        assert_eq!(g.controllers[1].cgroup, "memory:/helloworld2");
        assert_eq!(
            g.settings[1],
            SettingReport {
                controller: "memory".into(),
                key: "memory.limit_in_bytes".into(),
                asked: "40000".into(),
                kept: "40000".into(),
                notice: None,
                at: at(6, 9),
            }
        );
    }

    #[test]
    fn apply_creates_missing_groups_with_their_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        let existing = tmp.path().join("cpu,cpuacct/p");
        fake_group(&existing, &["tasks", "cpu.shares"]);
        let cfg = parse(
            "group p { perm { task { fperm = 660; } admin { dperm = 750; fperm = 640; } } cpu { } }\n\
             group new/child { perm { admin { dperm = 700; } } cpu { } memory { } }\n",
        );
        let report = cfg.apply(layout, &ApplyOptions::default()).unwrap();
        let mode = |p: PathBuf| fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(existing.clone()), 0o750);
        assert_eq!(mode(existing.join("tasks")), 0o660);
        assert_eq!(mode(existing.join("cpu.shares")), 0o640);
        assert_eq!(mode(tmp.path().join("cpu,cpuacct/new/child")), 0o700);
        assert!(tmp.path().join("memory/new/child").is_dir());
        assert!(!report.groups[0].controllers[0].created);
        assert!(report.groups[1].controllers.iter().all(|c| c.created));
    }

    #[test]
    fn apply_failure_removes_only_the_groups_it_created() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        let existing = tmp.path().join("cpu,cpuacct/existing");
        fake_group(&existing, &["cpu.shares"]);
        let cfg = parse(
            "group existing { cpu { cpu.shares = 100; } }\n\
             group fresh/child { cpu { } memory { } }\n\
             group broken {\n  memory {\n    memory.limit_in_bytes = 40000;\n  }\n}\n",
        );
        let err = cfg.apply(layout, &ApplyOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cgconfig.conf:5:5: Cannot set memory.limit_in_bytes = 40000 in group 'broken'"
        );
        let source = std::error::Error::source(&err).expect("the write error");
        assert!(
            source.to_string().contains("memory.limit_in_bytes"),
            "{source}"
        );
        assert!(!tmp.path().join("cpu,cpuacct/fresh").exists());
        assert!(!tmp.path().join("memory/fresh").exists());
        assert!(!tmp.path().join("memory/broken").exists());
        assert!(existing.is_dir());
        // Written before the failure, and not restorable.
        assert_eq!(read(existing.join("cpu.shares")), "100");
    }

    #[rstest]
    #[case::unknown_user(
        "group fresh { perm { admin { gid = no_such_group_enclos; } } cpu { } }",
        "cgconfig.conf:2:36: Unknown group 'no_such_group_enclos' (gid of the admin permissions)"
    )]
    #[case::unknown_controller(
        "group fresh { cpu { } bogus { } }",
        "cgconfig.conf:2:23: Cannot place group 'fresh' in the hierarchy of controller 'bogus'"
    )]
    #[case::key_of_another_controller(
        "group fresh { cpu { memory.limit_in_bytes = 1; } }",
        "cgconfig.conf:2:21: Key memory.limit_in_bytes belongs to controller 'memory', not to the cpu block it is written in; move it into a `memory { }` block"
    )]
    #[case::mount_elsewhere(
        "mount { cpu = /nonexistent/cpu; }",
        "cgconfig.conf:2:9: The mount section asks for controller 'cpu' at /nonexistent/cpu, but it is mounted at "
    )]
    #[case::mount_missing(
        "mount { blkio = /nonexistent/blkio; }",
        "cgconfig.conf:2:9: The mount section asks for controller 'blkio' at /nonexistent/blkio, but this host does not mount it anywhere; enclos does not mount hierarchies itself: mount it first, e.g. `mkdir -p /nonexistent/blkio && mount -t cgroup -o blkio none /nonexistent/blkio`"
    )]
    fn apply_validates_before_creating_anything(#[case] tail: &str, #[case] expected: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        let cfg = parse(&format!(
            "group first {{ cpu {{ }} memory {{ }} }}\n{tail}\n"
        ));
        let err = cfg
            .apply(layout.clone(), &ApplyOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(expected), "{err}");
        assert!(!tmp.path().join("cpu,cpuacct/first").exists());
        assert!(!tmp.path().join("memory/first").exists());
        assert!(cfg.check(layout, &ApplyOptions::default()).is_err());
    }

    #[test]
    fn mount_section_matching_the_host_passes() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        let cfg = parse(&format!(
            "mount {{ cpu = \"{0}/cpu,cpuacct\"; cpuacct = \"{0}/cpu,cpuacct/\"; memory = \"{0}/memory\"; }}",
            tmp.path().display()
        ));
        cfg.check(layout.clone(), &ApplyOptions::default()).unwrap();
        let cfg = parse(&format!(
            "mount {{ memory = \"{0}/cpu,cpuacct\"; }}",
            tmp.path().display()
        ));
        let err = cfg
            .check(layout, &ApplyOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the hierarchy mounted there serves cpu,cpuacct"),
            "{err}"
        );
    }

    #[test]
    fn namespace_prefixes_group_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        fs::create_dir(tmp.path().join("cpu,cpuacct/daemons")).unwrap();
        let cfg = parse("namespace { cpu = /daemons; }\ngroup www { cpu { } memory { } }\n");
        let report = cfg.apply(layout, &ApplyOptions::default()).unwrap();
        assert!(tmp.path().join("cpu,cpuacct/daemons/www").is_dir());
        assert!(tmp.path().join("memory/www").is_dir());
        assert_eq!(report.groups[0].controllers[0].cgroup, "cpu:/daemons/www");
    }

    #[test]
    fn apply_translates_v1_keys_on_v2() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v2_layout(tmp.path());
        let g = tmp.path().join("g");
        fake_group(
            &g,
            &[
                "cpu.weight",
                "cpu.max",
                "memory.max",
                "memory.low",
                "memory.swap.max",
                "io.weight",
                "cgroup.freeze",
                "pids.max",
            ],
        );
        let cfg = parse(
            "group g {\n\
             \x20 cpu { cpu.shares = 512; cpu.cfs_quota_us = 50000; cpu.cfs_period_us = 100000; }\n\
             \x20 memory {\n\
             \x20   memory.memsw.limit_in_bytes = 2G;\n\
             \x20   memory.limit_in_bytes = 1G;\n\
             \x20   memory.soft_limit_in_bytes = 512M;\n\
             \x20 }\n\
             \x20 blkio { blkio.weight = 500; }\n\
             \x20 freezer { freezer.state = FROZEN; }\n\
             \x20 pids { pids.max = 100; }\n\
             }\n",
        );
        let report = cfg.apply(layout, &ApplyOptions::default()).unwrap();
        assert_eq!(
            read(g.join("cpu.weight")),
            shares_to_weight(512).to_string()
        );
        assert_eq!(read(g.join("cpu.max")), "50000 100000");
        assert_eq!(read(g.join("memory.max")), "1G");
        assert_eq!(read(g.join("memory.swap.max")), "1073741824");
        assert_eq!(read(g.join("memory.low")), "512M");
        assert_eq!(read(g.join("io.weight")), "default 4950");
        assert_eq!(read(g.join("cgroup.freeze")), "1");
        assert_eq!(read(g.join("pids.max")), "100");
        let keys: Vec<&str> = report.groups[0]
            .settings
            .iter()
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "cpu.weight",
                "cpu.max",
                "memory.max",
                "memory.swap.max",
                "memory.low",
                "io.weight",
                "cgroup.freeze",
                "pids.max"
            ]
        );
        let weight = &report.groups[0].settings[0];
        assert_eq!(weight.at, at(2, 9));
        assert!(weight
            .notice
            .as_deref()
            .unwrap()
            .starts_with("cpu.shares = 512 is cpu.weight"));
        assert!(report.groups[0].settings[7].notice.is_none());
        assert!(report.groups[0]
            .controllers
            .iter()
            .all(|c| c.version == Version::V2 && c.cgroup.ends_with(":/g")));
        assert_eq!(report.groups[0].controllers[2].cgroup, "io:/g");
    }

    #[test]
    fn v1_key_without_v2_equivalent_fails_before_creating() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v2_layout(tmp.path());
        let cfg = parse(
            "group first { cpu { } }\ngroup g {\n  memory {\n    memory.swappiness = 10;\n  }\n}\n",
        );
        let err = cfg
            .apply(layout, &ApplyOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "cgconfig.conf:4:5: memory.swappiness has no cgroup v2 equivalent, and this host serves its controller with cgroup v2: remove it, or write the cgroup v2 key instead"
        );
        assert!(!tmp.path().join("first").exists());
    }

    #[test]
    fn report_serializes_and_displays() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = v1_layout(tmp.path());
        fake_group(&tmp.path().join("cpu,cpuacct/helloworld2"), &["cpu.shares"]);
        fake_group(
            &tmp.path().join("memory/helloworld2"),
            &["memory.limit_in_bytes"],
        );
        let mut report = parse(COURSE)
            .apply(layout, &ApplyOptions::default())
            .unwrap();
        report.groups[0].settings[1].kept = "36864".into();
        let text = report.to_string();
        assert!(
            text.starts_with("group helloworld2\n  cpu:/helloworld2 (existed)\n"),
            "{text}"
        );
        assert!(
            text.contains("  memory.limit_in_bytes = 40000 (kept 36864)\n"),
            "{text}"
        );
        fn is_serialize<T: Serialize>(_: &T) {}
        is_serialize(&report);
    }
}
