//! A [`Profile`] built into BPF programs with seccompiler, and loaded.
//!
//! seccompiler builds a filter with one action for the calls it names and
//! one for the rest, where LXC's profiles give each rule its own action.
//! So a profile becomes a stack of filters, which the kernel runs all of,
//! keeping the most restrictive answer:
//! - with a default action other than allow, a base filter that allows
//!   what the rules name (under their conditions) and gives the default
//!   to everything else;
//! - for each other action of the rules, a filter that gives it to the
//!   calls of those rules and allows the rest.
//!
//! seccompiler's filters check the architecture first and kill a process
//! that calls through another ABI (i386 or x32 on x86_64, where LXC also
//! applies the profile to the compat ABI). An x32 call passes that check
//! (it is x86_64's audit arch with bit 30 set in the number), so a small
//! filter of our own answers ENOSYS to every x32 call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::error::{Error, Result};
use crate::profile::{Action, Condition, Op, Profile, Syscall};
use crate::syscalls;

/// A profile compiled for the native architecture: load it with
/// [`Filter::load`] in the process that will exec the confined program.
#[derive(Debug, Clone)]
pub struct Filter {
    path: PathBuf,
    programs: Vec<BpfProgram>,
    notes: Vec<String>,
}

/// The rules of one action: per syscall, `None` when one rule names it
/// with no condition, else the rules' conditions (any one matching).
type Chains = BTreeMap<i64, Option<Vec<SeccompRule>>>;

impl Filter {
    /// Compiles `profile` for the architecture enclos runs on. Rules of
    /// other `[arch]` sections are left out; a syscall this arch does not
    /// have is left out with a note ([`Filter::notes`]), as LXC does.
    pub fn compile(profile: &Profile) -> Result<Filter> {
        let path = &profile.path;
        let unsupported = |line: usize, reason: String| Error::Unsupported {
            path: path.clone(),
            line,
            reason,
        };
        let native = syscalls::native_arch().ok_or_else(|| {
            unsupported(
                profile.policy_line,
                format!(
                    "enclos knows the syscall numbers of x86_64 only, not of {}",
                    std::env::consts::ARCH
                ),
            )
        })?;
        let default = profile.default_action;
        if default == Action::Notify {
            return Err(unsupported(profile.policy_line, notify_reason()));
        }
        let mut notes = Vec::new();
        let (base, by_action) = collect_chains(profile, native, &mut notes)?;
        let programs = build_programs(path, base, by_action, default)?;
        Ok(Filter {
            path: path.clone(),
            programs,
            notes,
        })
    }

    /// Reads, parses and compiles the profile at `path`.
    pub fn from_file(path: &Path) -> Result<Filter> {
        Filter::compile(&Profile::load(path)?)
    }

    /// What was left out of the profile, one line each, `file:line:` first.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// How many BPF programs [`Filter::load`] installs (0: the profile
    /// asks for nothing on this arch).
    pub fn programs(&self) -> usize {
        self.programs.len()
    }

    /// Installs the filter on the calling thread, for good: it is
    /// inherited across fork and exec. The kernel requires CAP_SYS_ADMIN
    /// or no_new_privs; unlike seccompiler's `apply_filter`, this does not
    /// set no_new_privs itself (LXC's `lxc.no_new_privs` decides that).
    pub fn load(&self) -> Result<()> {
        for program in &self.programs {
            load_program(program).map_err(|source| Error::Load {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Sorts the rules of `profile` that apply on `native` into the chains of
/// the base filter (calls the default action does not apply to) and one
/// chain per action; a syscall `native` lacks becomes a note.
fn collect_chains(
    profile: &Profile,
    native: &str,
    notes: &mut Vec<String>,
) -> Result<(Chains, BTreeMap<Action, Chains>)> {
    let path = &profile.path;
    let default = profile.default_action;
    let mut base = Chains::new();
    let mut by_action: BTreeMap<Action, Chains> = BTreeMap::new();
    for rule in &profile.rules {
        if rule.arch.as_deref().is_some_and(|a| a != native) {
            continue;
        }
        if rule.action == Action::Notify {
            return Err(Error::Unsupported {
                path: path.clone(),
                line: rule.line,
                reason: notify_reason(),
            });
        }
        let nr = match &rule.syscall {
            Syscall::Number(n) => *n,
            Syscall::Name(name) => match syscalls::number(name) {
                Some(n) => n,
                None => {
                    notes.push(format!(
                        "{}:{}: {native} has no syscall '{name}': rule left out",
                        path.display(),
                        rule.line
                    ));
                    continue;
                }
            },
        };
        let nr = i64::from(nr);
        let conds = conditions(&rule.conditions).map_err(|source| Error::Compile {
            path: path.clone(),
            source,
        })?;
        if rule.action == default {
            continue;
        }
        if default != Action::Allow {
            add(&mut base, nr, conds.clone());
        }
        if rule.action != Action::Allow {
            add(by_action.entry(rule.action).or_default(), nr, conds);
        }
    }
    Ok((base, by_action))
}

/// Builds the BPF programs in the order they are loaded: the x32 guard,
/// one per action, those that may refuse the seccomp syscall last, then
/// the base filter of the `default` action.
fn build_programs(
    path: &Path,
    base: Chains,
    by_action: BTreeMap<Action, Chains>,
    default: Action,
) -> Result<Vec<BpfProgram>> {
    let build = |chains: Chains, mismatch: Action, on_match: Action| {
        let rules = chains
            .into_iter()
            .map(|(nr, c)| (nr, c.unwrap_or_default()))
            .collect();
        SeccompFilter::new(rules, action(mismatch), action(on_match), target())
            .and_then(BpfProgram::try_from)
            .map_err(|source| Error::Compile {
                path: path.to_owned(),
                source,
            })
    };
    // Each filter is loaded with the seccomp syscall, so the ones that
    // may refuse it come last: those naming it, and the base filter.
    let seccomp_nr = syscalls::number("seccomp").map(i64::from);
    let mut last = Vec::new();
    let mut programs = Vec::new();
    for (a, chains) in by_action {
        let refuses_seccomp = seccomp_nr.is_some_and(|nr| chains.contains_key(&nr));
        let p = build(chains, Action::Allow, a)?;
        if refuses_seccomp {
            last.push(p);
        } else {
            programs.push(p);
        }
    }
    programs.append(&mut last);
    if default != Action::Allow {
        programs.push(build(base, default, Action::Allow)?);
    }
    if !programs.is_empty() {
        if let Some(guard) = x32_guard() {
            programs.insert(0, guard);
        }
    }
    Ok(programs)
}

fn notify_reason() -> String {
    "'notify' hands the call to a user-space listener (lxc.seccomp.notify.proxy), which enclos does not run yet; use errno N or kill".to_string()
}

#[cfg(target_arch = "x86_64")]
fn target() -> TargetArch {
    TargetArch::x86_64
}

#[cfg(not(target_arch = "x86_64"))]
fn target() -> TargetArch {
    // Never reached: compile refuses an arch without a syscall table.
    TargetArch::aarch64
}

/// LXC's action as seccompiler's.
fn action(a: Action) -> SeccompAction {
    match a {
        Action::Allow => SeccompAction::Allow,
        Action::Errno(n) => SeccompAction::Errno(u32::from(n)),
        Action::Kill => SeccompAction::KillThread,
        Action::Trap => SeccompAction::Trap,
        Action::Log => SeccompAction::Log,
        // Refused before any filter is built.
        Action::Notify => SeccompAction::KillProcess,
    }
}

/// A rule's conditions, all of which must hold (64-bit comparisons, as
/// libseccomp's). No condition is `None`: the call always matches.
fn conditions(
    conds: &[Condition],
) -> std::result::Result<Option<SeccompRule>, seccompiler::BackendError> {
    if conds.is_empty() {
        return Ok(None);
    }
    let c: Vec<SeccompCondition> = conds
        .iter()
        .map(|c| {
            let op = match c.op {
                Op::Ne => SeccompCmpOp::Ne,
                Op::Lt => SeccompCmpOp::Lt,
                Op::Le => SeccompCmpOp::Le,
                Op::Eq => SeccompCmpOp::Eq,
                Op::Ge => SeccompCmpOp::Ge,
                Op::Gt => SeccompCmpOp::Gt,
                Op::MaskedEq(mask) => SeccompCmpOp::MaskedEq(mask),
            };
            SeccompCondition::new(c.arg, SeccompCmpArgLen::Qword, op, c.value)
        })
        .collect::<std::result::Result<_, _>>()?;
    SeccompRule::new(c).map(Some)
}

/// Adds one rule for `nr`; a rule with no condition matches every call.
fn add(chains: &mut Chains, nr: i64, rule: Option<SeccompRule>) {
    let entry = chains.entry(nr).or_insert_with(|| Some(Vec::new()));
    match (entry.as_mut(), rule) {
        (Some(rules), Some(r)) => rules.push(r),
        (_, None) => *entry = None,
        (None, Some(_)) => {}
    }
}

/// x86_64: ENOSYS for every x32 call (number with bit 30 set).
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> Option<BpfProgram> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    const ENOSYS: u32 = 38;
    let i = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    Some(vec![
        // seccomp_data.arch (offset 4): not x86_64, allow (the other
        // filters kill it).
        i(LD_W_ABS, 0, 0, 4),
        i(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        // seccomp_data.nr (offset 0).
        i(LD_W_ABS, 0, 0, 0),
        i(JGE_K, 0, 1, X32_SYSCALL_BIT),
        i(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | ENOSYS),
        i(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ])
}

#[cfg(not(target_arch = "x86_64"))]
fn x32_guard() -> Option<BpfProgram> {
    None
}

/// seccomp(SECCOMP_SET_MODE_FILTER) of one program on the calling thread.
fn load_program(program: &[sock_filter]) -> std::io::Result<()> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::E2BIG))?,
        // seccompiler's sock_filter is #[repr(C)] with the kernel's
        // layout, as libc's is.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, alive for the call; the kernel
    // copies the filter and does not keep the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the process whose status file is `status` (`/proc/self/status`)
/// runs under a seccomp filter already (`Seccomp:` not 0): LXC loads no
/// profile then, unless `lxc.seccomp.allow_nesting`.
pub fn already_confined(status: &Path) -> std::io::Result<bool> {
    let text = std::fs::read_to_string(status)?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .is_some_and(|v| v.trim() != "0"))
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
