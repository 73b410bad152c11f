//! LXC's seccomp profiles (`lxc.seccomp.profile`): the file format of
//! versions 1 and 2 ([`Profile`], errors with file and line), compiled
//! with [seccompiler](https://docs.rs/seccompiler) into BPF for the
//! native architecture ([`Filter`]) and loaded on the calling thread
//! before exec.
//!
//! ```
//! use std::path::Path;
//! use enclos_seccomp::{Action, Filter, Profile};
//!
//! let text = "2\ndenylist\n[all]\nkexec_load errno 1\nmkdir errno 1 [1,0,==]\n";
//! let profile = Profile::parse(text, Path::new("common.seccomp")).unwrap();
//! assert_eq!(profile.rules[0].action, Action::Errno(1));
//! let filter = Filter::compile(&profile).unwrap();
//! // filter.load() in the process that execs the confined program.
//! # let _ = filter;
//! let err = Profile::parse("2\ndenylist\nmkdir errno\n", Path::new("p")).unwrap_err();
//! assert_eq!(err.to_string(), "p:3: 'errno' needs a number (e.g. errno 1)");
//! ```
//!
//! What seccompiler cannot express, said where it matters: the `notify`
//! action (no user-space listener; refused with the rule's line), and
//! filters for a compat ABI (i386 calls on x86_64 kill the caller, x32
//! calls get ENOSYS).

mod compile;
mod error;
mod profile;
pub mod syscalls;

pub use compile::{already_confined, Filter};
pub use error::{Error, Result};
pub use profile::{Action, Condition, Op, Policy, Profile, Rule, Syscall};

/// LXC's `config/common.seccomp`, the deny-list its `common.conf` loads:
/// module loading and unloading, kexec and `open_by_handle_at` fail with
/// EPERM, `umount2(MNT_FORCE)` with EACCES.
pub const COMMON_PROFILE: &str = "2
denylist
reject_force_umount  # comment this to allow umount -f;  not recommended
[all]
kexec_load errno 1
open_by_handle_at errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
";
