//! Builds the [`Config`] tree from the tokens of one file, every item with
//! its place; keywords are only keywords where the grammar expects them.

use std::collections::BTreeMap;
use std::path::Path;

use enclos_cgroupfs::{key_controller, normalize_path, Error as CgError};

use crate::ast::{
    add_entry, AdminPerm, Config, ControllerBlock, Group, IdSpec, MountEntry, Names, Owner,
    PermSection, Setting, TaskPerm,
};
use crate::error::{ConfigError, Location};
use crate::lexer::{Tok, Token};

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

pub(crate) struct Parser<'f> {
    toks: Vec<Token>,
    pos: usize,
    file: &'f Path,
}

type PResult<T> = std::result::Result<T, ConfigError>;

impl<'f> Parser<'f> {
    /// A parser over `toks` (ending with [`Tok::Eof`]) of `file`.
    pub(crate) fn new(toks: Vec<Token>, file: &'f Path) -> Self {
        Parser { toks, pos: 0, file }
    }

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

    /// The whole file.
    pub(crate) fn config(&mut self) -> PResult<Config> {
        let mut cfg = Config {
            sources: vec![self.file.to_path_buf()],
            ..Config::default()
        };
        let mut names = Names::default();
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
                    cfg.add_group(g, &mut names)?;
                }
                "template" => {
                    let g = self.group_like(&t, "template")?;
                    cfg.add_template(g, &mut names)?;
                }
                "mount" | "namespace" => self.entries(&t, &word, &mut cfg)?,
                "default" => self.default_section(&t, &mut cfg)?,
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

    /// `mount { ... }` or `namespace { ... }`, after the keyword.
    fn entries(&mut self, kw: &Token, word: &str, cfg: &mut Config) -> PResult<()> {
        self.open(&format!("after '{word}'"))?;
        let ctx = Ctx {
            what: format!("the {word} section"),
            line: kw.line,
        };
        for a in self.assignments(&ctx)? {
            let (path, list) = if word == "mount" {
                (mount_point(&a)?, &mut cfg.mounts)
            } else {
                (namespace_path(&a)?, &mut cfg.namespaces)
            };
            let entry = MountEntry {
                controller: a.key,
                path,
                at: a.key_at,
            };
            add_entry(list, entry, word)?;
        }
        Ok(())
    }

    /// `default { perm { ... } }`, after the keyword.
    fn default_section(&mut self, kw: &Token, cfg: &mut Config) -> PResult<()> {
        self.open("after 'default'")?;
        let ctx = Ctx {
            what: "the default section".into(),
            line: kw.line,
        };
        loop {
            let s = self.next();
            match &s.tok {
                Tok::Close => return Ok(()),
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

    /// The name after `group` or `template`.
    fn group_name(&mut self, kind: &str) -> PResult<(String, Token)> {
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
        if let Err(CgError::InvalidPath { reason, .. }) = normalize_path(&name) {
            return Err(self.err(&name_tok, format!("Invalid {kind} name '{name}': {reason}")));
        }
        Ok((name, name_tok))
    }

    /// `group NAME { ... }` or `template NAME { ... }`, after the keyword.
    fn group_like(&mut self, kw: &Token, kind: &str) -> PResult<Group> {
        let (name, name_tok) = self.group_name(kind)?;
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
            let block = self.controller_block(&t, word, bare, &ctx, &controllers)?;
            controllers.push(block);
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

    /// `controller { key = value; ... }` of the group `ctx`, after the
    /// controller's name `t`; `bare` when that name was not quoted.
    fn controller_block(
        &mut self,
        t: &Token,
        word: String,
        bare: bool,
        ctx: &Ctx,
        before: &[ControllerBlock],
    ) -> PResult<ControllerBlock> {
        if bare && TOP_KEYWORDS.contains(&word.as_str()) && *self.peek() != Tok::Open {
            return Err(self.err(
                t,
                format!(
                    "Missing '}}' to close {} opened at line {}, before '{word}'",
                    ctx.what, ctx.line
                ),
            ));
        }
        if word.is_empty() || word.contains(|c: char| c == '/' || c == '*' || c.is_whitespace()) {
            return Err(self.err(t, format!("Invalid controller name '{word}'")));
        }
        self.open(&format!("after controller name '{word}'"))?;
        if let Some(first) = before.iter().find(|b| b.name == word) {
            return Err(self.err(
                t,
                format!(
                    "Duplicate {word} block in {} (the first is at line {})",
                    ctx.what, first.at.line
                ),
            ));
        }
        let bctx = Ctx {
            what: format!("the {word} block of {}", ctx.what),
            line: t.line,
        };
        let settings = self.settings(&bctx)?;
        Ok(ControllerBlock {
            name: word,
            settings,
            at: self.loc(t),
        })
    }

    /// The settings of a controller block, up to its closing `}`.
    fn settings(&mut self, bctx: &Ctx) -> PResult<Vec<Setting>> {
        let mut settings: Vec<Setting> = Vec::new();
        for a in self.assignments(bctx)? {
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
        Ok(settings)
    }

    /// The `=` after `key`.
    fn equals(&mut self, key_tok: &Token, key: &str, ctx: &Ctx) -> PResult<()> {
        let eq = self.next();
        match eq.tok {
            Tok::Equals => Ok(()),
            Tok::Open => Err(self.err(
                key_tok,
                format!(
                    "Missing '}}' to close {} opened at line {}, before '{key}'",
                    ctx.what, ctx.line
                ),
            )),
            Tok::Eof => Err(self.eof(&eq, ctx)),
            _ => Err(self.err(&eq, format!("Expected '=' after {key}, found {}", eq.tok))),
        }
    }

    /// The value after `key =` and the `;` that ends it.
    fn value(&mut self, key: &str, ctx: &Ctx) -> PResult<(String, Token)> {
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
            Tok::Semi => Ok((value, v)),
            Tok::Eof => Err(self.eof(&semi, ctx)),
            _ => Err(self.err(
                &semi,
                format!("Expected ';' after the value of {key}, found {}", semi.tok),
            )),
        }
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
            self.equals(&t, &key, ctx)?;
            let (value, v) = self.value(&key, ctx)?;
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
            let which = match &t.tok {
                Tok::Close => return Ok(section),
                Tok::Eof => return Err(self.eof(&t, &ctx)),
                Tok::Word(w) => self.perm_kind(&t, w, &ctx)?,
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
            let fields = perm_fields(which, &assigns, &sctx)?;
            if which == "task" {
                section.task = Some(fields.task());
            } else {
                section.admin = Some(fields.admin());
            }
        }
    }

    /// `task` or `admin`.
    fn perm_kind(&self, t: &Token, word: &str, ctx: &Ctx) -> PResult<&'static str> {
        match word {
            "task" => Ok("task"),
            "admin" => Ok("admin"),
            _ => Err(self.err(
                t,
                format!(
                    "Unknown section '{word}' in {}: expected 'task' or 'admin'",
                    ctx.what
                ),
            )),
        }
    }
}

/// The path of a `mount` entry: absolute.
fn mount_point(a: &Assign) -> PResult<String> {
    if !a.value.starts_with('/') {
        return Err(ConfigError::new(
            &a.value_at,
            format!(
                "Mount point '{}' of {} is not an absolute path",
                a.value, a.key
            ),
        ));
    }
    Ok(a.value.clone())
}

/// The path of a `namespace` entry, normalized.
fn namespace_path(a: &Assign) -> PResult<String> {
    match normalize_path(&a.value) {
        Ok(p) => Ok(p),
        Err(CgError::InvalidPath { reason, .. }) => Err(ConfigError::new(
            &a.value_at,
            format!("Invalid namespace '{}' of {}: {reason}", a.value, a.key),
        )),
        Err(e) => Err(ConfigError::with_source(
            &a.value_at,
            "Invalid namespace",
            e,
        )),
    }
}

/// The fields of a `task` or `admin` section.
#[derive(Default)]
struct PermFields {
    uid: Option<Owner>,
    gid: Option<Owner>,
    dperm: Option<u32>,
    fperm: Option<u32>,
}

impl PermFields {
    fn task(self) -> TaskPerm {
        TaskPerm {
            uid: self.uid,
            gid: self.gid,
            fperm: self.fperm,
        }
    }

    fn admin(self) -> AdminPerm {
        AdminPerm {
            uid: self.uid,
            gid: self.gid,
            dperm: self.dperm,
            fperm: self.fperm,
        }
    }
}

/// Checks and reads the `key = value;` of a `task` or `admin` section.
fn perm_fields(which: &str, assigns: &[Assign], sctx: &Ctx) -> PResult<PermFields> {
    let (allowed, list): (&[&str], &str) = if which == "task" {
        (&["uid", "gid", "fperm"], "uid, gid or fperm")
    } else {
        (
            &["uid", "gid", "dperm", "fperm"],
            "uid, gid, dperm or fperm",
        )
    };
    let mut fields = PermFields::default();
    let mut keys: Vec<&str> = Vec::new();
    for a in assigns {
        let Some(key) = allowed.iter().copied().find(|k| *k == a.key) else {
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
                    id: parse_id(&a.value, key).map_err(|m| ConfigError::new(&a.value_at, m))?,
                    at: a.value_at.clone(),
                };
                if key == "uid" {
                    fields.uid = Some(o);
                } else {
                    fields.gid = Some(o);
                }
            }
            _ => {
                let mode = enclos_cgroupfs::parse_mode(&a.value).map_err(|_| {
                    ConfigError::new(
                        &a.value_at,
                        format!(
                            "Invalid mode '{}' for {key}: expected an octal number such as 644",
                            a.value
                        ),
                    )
                })?;
                if key == "dperm" {
                    fields.dperm = Some(mode);
                } else {
                    fields.fperm = Some(mode);
                }
            }
        }
    }
    Ok(fields)
}

fn parse_id(value: &str, key: &str) -> Result<IdSpec, String> {
    if value.is_empty() {
        return Err(format!("Empty {key}: expected a name or a number"));
    }
    if enclos_cgroupfs::is_numeric_id(value) {
        return value
            .parse::<u32>()
            .map(IdSpec::Id)
            .map_err(|_| format!("Invalid {key} '{value}': out of range"));
    }
    Ok(IdSpec::Name(value.to_string()))
}
