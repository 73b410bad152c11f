//! LXC's seccomp profile language, read into a [`Profile`].
//!
//! ```text
//! 2                          version: 1 or 2
//! denylist [ACTION]          or allowlist (whitelist, blacklist), with the
//!                            default action of calls no rule names
//! reject_force_umount        umount2(.., MNT_FORCE) fails with EACCES
//! [x86_64]                   the rules that follow apply on this arch
//! kexec_load errno 1         NAME [ACTION] [[ARG,VALUE,OP(,MASK)]]...
//! [all]
//! mknod errno 0 [1,8192,&=,61440]
//! ```
//!
//! ACTION is `kill`, `errno N`, `trap`, `notify`, `allow` or `log`. In
//! version 1 the second line is `allowlist` and each later line is a
//! syscall number.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What the kernel does with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The call runs.
    Allow,
    /// The call fails with this errno (0: it does nothing and returns 0).
    Errno(u16),
    /// The calling thread is killed (libseccomp's `SCMP_ACT_KILL`).
    Kill,
    /// The caller gets SIGSYS.
    Trap,
    /// The call runs and is logged.
    Log,
    /// A user-space listener decides (`lxc.seccomp.notify.proxy`).
    Notify,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Allow => f.write_str("allow"),
            Action::Errno(n) => write!(f, "errno {n}"),
            Action::Kill => f.write_str("kill"),
            Action::Trap => f.write_str("trap"),
            Action::Log => f.write_str("log"),
            Action::Notify => f.write_str("notify"),
        }
    }
}

/// A comparison of one argument, as libseccomp's `SCMP_CMP_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == value`.
    MaskedEq(u64),
}

/// `[ARG,VALUE,OP]`: argument number ARG (0 to 5) compared with VALUE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub arg: u8,
    pub value: u64,
    pub op: Op,
}

/// Which call a rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Syscall {
    /// By name (version 2), resolved for the arch of its section.
    Name(String),
    /// By number (version 1), on the native arch.
    Number(u32),
}

/// One rule line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub syscall: Syscall,
    pub action: Action,
    /// All must hold (at most 6).
    pub conditions: Vec<Condition>,
    /// The `[arch]` section it is in; `None` before any section and for
    /// `[all]`.
    pub arch: Option<String>,
    /// Its line in the file.
    pub line: usize,
}

/// Allow-list or deny-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Allowlist,
    Denylist,
}

/// A parsed profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The file it came from (in errors).
    pub path: PathBuf,
    pub version: u8,
    pub policy: Policy,
    /// What calls no rule matches get.
    pub default_action: Action,
    /// The line of the policy line (errors about the default action).
    pub policy_line: usize,
    pub rules: Vec<Rule>,
}

/// The arch section names LXC knows.
const ARCHES: &[&str] = &[
    "all",
    "x86_64",
    "i386",
    "x32",
    "arm",
    "arm64",
    "aarch64",
    "ppc",
    "ppc64",
    "ppc64le",
    "mips",
    "mips64",
    "mips64n32",
    "mipsel",
    "mipsel64",
    "mipsel64n32",
    "s390",
    "s390x",
    "riscv64",
];

/// `umount2`'s flag that `reject_force_umount` refuses.
const MNT_FORCE: u64 = 1;
/// The errno of `reject_force_umount` (EACCES).
const EACCES: u16 = 13;

impl Profile {
    /// Reads and parses the profile at `path`.
    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Profile::parse(&text, path)
    }

    /// Parses `text`; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Profile> {
        let err = |line: usize, reason: String| Error::Parse {
            path: path.to_owned(),
            line,
            reason,
        };
        // Line numbers from 1; comments and blank lines skipped.
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, strip_comment(l)))
            .filter(|(_, l)| !l.is_empty());
        let (vline, version) = lines.next().ok_or_else(|| {
            err(
                1,
                "Empty seccomp profile: the first line is its version, 1 or 2".into(),
            )
        })?;
        let version = parse_version(version).map_err(|r| err(vline, r))?;
        let (pline, policy_text) = lines.next().ok_or_else(|| {
            err(
                vline,
                "The seccomp profile ends after its version line (expected a line 'allowlist' or 'denylist')".into(),
            )
        })?;
        let (policy, default_action) =
            parse_policy(policy_text, version).map_err(|r| err(pline, r))?;
        let rule_action = match policy {
            Policy::Allowlist => Action::Allow,
            Policy::Denylist => Action::Kill,
        };
        let mut arch: Option<String> = None;
        let mut rules = Vec::new();
        for (n, line) in lines {
            let rule =
                parse_rule_line(line, n, version, rule_action, &mut arch).map_err(|r| err(n, r))?;
            rules.extend(rule);
        }
        Ok(Profile {
            path: path.to_owned(),
            version,
            policy,
            default_action,
            policy_line: pline,
            rules,
        })
    }
}

/// Parses the version line: `1` or `2`.
fn parse_version(text: &str) -> std::result::Result<u8, String> {
    match text {
        "1" => Ok(1),
        "2" => Ok(2),
        other => Err(format!(
            "Unknown seccomp profile version '{other}' (expected 1 or 2)"
        )),
    }
}

/// Parses one line after the policy line (number `n`): a rule, or `None`
/// for an architecture section header, which sets `arch` for the rules
/// that follow it.
fn parse_rule_line(
    line: &str,
    n: usize,
    version: u8,
    rule_action: Action,
    arch: &mut Option<String>,
) -> std::result::Result<Option<Rule>, String> {
    if version == 1 {
        let nr = line.parse::<u32>().map_err(|_| {
            format!(
                "'{line}' is not a syscall number (a version 1 profile lists numbers, one a line)"
            )
        })?;
        return Ok(Some(Rule {
            syscall: Syscall::Number(nr),
            action: Action::Allow,
            conditions: Vec::new(),
            arch: None,
            line: n,
        }));
    }
    if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        let name = section.trim().to_ascii_lowercase();
        if !ARCHES.contains(&name.as_str()) {
            return Err(format!(
                "Unknown architecture section '[{section}]' (expected one of {})",
                ARCHES.join(", ")
            ));
        }
        *arch = (name != "all").then_some(name);
        return Ok(None);
    }
    if line == "reject_force_umount" {
        return Ok(Some(Rule {
            syscall: Syscall::Name("umount2".into()),
            action: Action::Errno(EACCES),
            conditions: vec![Condition {
                arg: 1,
                value: MNT_FORCE,
                op: Op::MaskedEq(MNT_FORCE),
            }],
            arch: None,
            line: n,
        }));
    }
    let rule = parse_rule(line, rule_action)?;
    Ok(Some(Rule {
        arch: arch.clone(),
        line: n,
        ..rule
    }))
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::MaskedEq(_) => "&=",
        })
    }
}

impl std::fmt::Display for Condition {
    /// `[ARG,VALUE,OP]`, or `[ARG,VALUE,&=,MASK]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{},{},{}", self.arg, self.value, self.op)?;
        if let Op::MaskedEq(mask) = self.op {
            write!(f, ",{mask}")?;
        }
        f.write_str("]")
    }
}

impl std::fmt::Display for Profile {
    /// The profile in LXC's language, which parses back to the same
    /// rules (`reject_force_umount` is written as the rule it stands for).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policy = match self.policy {
            Policy::Allowlist => "allowlist",
            Policy::Denylist => "denylist",
        };
        writeln!(f, "{}", self.version)?;
        if self.version == 1 {
            writeln!(f, "{policy}")?;
        } else {
            writeln!(f, "{policy} {}", self.default_action)?;
        }
        let mut arch: Option<&str> = None;
        for rule in &self.rules {
            if rule.arch.as_deref() != arch {
                arch = rule.arch.as_deref();
                writeln!(f, "[{}]", arch.unwrap_or("all"))?;
            }
            match &rule.syscall {
                Syscall::Number(n) if self.version == 1 => {
                    writeln!(f, "{n}")?;
                    continue;
                }
                Syscall::Number(n) => write!(f, "{n}")?,
                Syscall::Name(name) => write!(f, "{name}")?,
            }
            write!(f, " {}", rule.action)?;
            for c in &rule.conditions {
                write!(f, " {c}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A line without its `#` comment and surrounding blanks.
fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

/// The policy line: its kind and the default action of calls no rule
/// names.
fn parse_policy(line: &str, version: u8) -> std::result::Result<(Policy, Action), String> {
    let mut words = line.split_whitespace();
    let word = words.next().unwrap_or("");
    let policy = match word {
        "allowlist" | "whitelist" => Policy::Allowlist,
        "denylist" | "blacklist" if version == 2 => Policy::Denylist,
        "denylist" | "blacklist" => {
            return Err(format!(
                "A version 1 seccomp profile is an allowlist ('{word}' needs version 2)"
            ))
        }
        other => {
            return Err(format!(
                "Unknown seccomp policy '{other}' (expected allowlist or denylist)"
            ))
        }
    };
    let rest: Vec<&str> = words.collect();
    let default = match policy {
        Policy::Allowlist => Action::Kill,
        Policy::Denylist => Action::Allow,
    };
    if rest.is_empty() {
        return Ok((policy, default));
    }
    if version == 1 {
        return Err(format!(
            "A version 1 seccomp profile takes no default action ('{}')",
            rest.join(" ")
        ));
    }
    let (action, used) = parse_action(&rest)?.ok_or_else(|| {
        format!(
            "Unknown default action '{}' (expected kill, errno N, trap, notify, allow or log)",
            rest.join(" ")
        )
    })?;
    if used != rest.len() {
        return Err(format!(
            "Unexpected '{}' after the default action",
            rest[used..].join(" ")
        ));
    }
    Ok((policy, action))
}

/// An action at the start of `words`, and how many words it took.
fn parse_action(words: &[&str]) -> std::result::Result<Option<(Action, usize)>, String> {
    let action = match words.first().copied() {
        Some("kill") => Action::Kill,
        Some("trap") => Action::Trap,
        Some("notify") => Action::Notify,
        Some("allow") => Action::Allow,
        Some("log") => Action::Log,
        Some("errno") => {
            let n = words
                .get(1)
                .ok_or("'errno' needs a number (e.g. errno 1)")?;
            let errno = n
                .parse::<u16>()
                .ok()
                .filter(|e| *e <= 4095)
                .ok_or_else(|| {
                    format!("'{n}' is not an errno (expected a number from 0 to 4095)")
                })?;
            return Ok(Some((Action::Errno(errno), 2)));
        }
        _ => return Ok(None),
    };
    Ok(Some((action, 1)))
}

/// `NAME [ACTION] [COND]...` (arch and line filled by the caller).
fn parse_rule(line: &str, default: Action) -> std::result::Result<Rule, String> {
    let (head, conds) = match line.find('[') {
        Some(i) => line.split_at(i),
        None => (line, ""),
    };
    let words: Vec<&str> = head.split_whitespace().collect();
    let Some(&name) = words.first() else {
        return Err(format!(
            "'{line}' names no syscall (expected NAME [ACTION] [[ARG,VALUE,OP]]...)"
        ));
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("'{name}' is not a syscall name"));
    }
    let (action, used) = match parse_action(&words[1..])? {
        Some(found) => found,
        None if words.len() == 1 => (default, 0),
        None => {
            return Err(format!(
            "Unknown action '{}' for {name} (expected kill, errno N, trap, notify, allow or log)",
            words[1..].join(" ")
        ))
        }
    };
    if 1 + used != words.len() {
        return Err(format!(
            "Unexpected '{}' after the action of {name}",
            words[1 + used..].join(" ")
        ));
    }
    let conditions = parse_conditions(conds)?;
    Ok(Rule {
        syscall: Syscall::Name(name.to_string()),
        action,
        conditions,
        arch: None,
        line: 0,
    })
}

/// `[ARG,VALUE,OP]` or `[ARG,VALUE,OP,MASK]` groups, up to six.
fn parse_conditions(text: &str) -> std::result::Result<Vec<Condition>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .ok_or_else(|| format!("'{rest}' is not an argument condition [ARG,VALUE,OP]"))?;
        out.push(parse_condition(inner.0)?);
        rest = inner.1.trim_start();
    }
    if out.len() > 6 {
        return Err(format!(
            "{} argument conditions (a syscall has 6 arguments at most)",
            out.len()
        ));
    }
    Ok(out)
}

fn parse_condition(text: &str) -> std::result::Result<Condition, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let bad =
        || format!("'[{text}]' is not an argument condition [ARG,VALUE,OP] or [ARG,VALUE,OP,MASK]");
    if !(3..=4).contains(&parts.len()) {
        return Err(bad());
    }
    let arg = parts[0]
        .parse::<u8>()
        .ok()
        .filter(|a| *a <= 5)
        .ok_or_else(|| format!("Argument '{}' in '[{text}]' is not 0 to 5", parts[0]))?;
    let value = parse_u64(parts[1])
        .ok_or_else(|| format!("'{}' in '[{text}]' is not a number", parts[1]))?;
    let op = match parts[2] {
        "SCMP_CMP_NE" | "!=" => Op::Ne,
        "SCMP_CMP_LT" | "<" => Op::Lt,
        "SCMP_CMP_LE" | "<=" => Op::Le,
        "SCMP_CMP_EQ" | "==" => Op::Eq,
        "SCMP_CMP_GE" | ">=" => Op::Ge,
        "SCMP_CMP_GT" | ">" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" | "&=" => {
            // LXC: [ARG,VALUE,&=,MASK] is `(arg & MASK) == VALUE`.
            let m = parts.get(3).ok_or_else(|| {
                format!("'[{text}]' needs the mask: [ARG,VALUE,&=,MASK] is (arg & MASK) == VALUE")
            })?;
            let mask = parse_u64(m).ok_or_else(|| format!("'{m}' in '[{text}]' is not a number"))?;
            return Ok(Condition {
                arg,
                value,
                op: Op::MaskedEq(mask),
            });
        }
        other => {
            return Err(format!(
                "Unknown comparison '{other}' in '[{text}]' (expected !=, <, <=, ==, >=, >, &= or SCMP_CMP_*)"
            ))
        }
    };
    if parts.len() == 4 {
        return Err(bad());
    }
    Ok(Condition { arg, value, op })
}

/// Decimal, or hexadecimal with `0x`.
fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
