//! libcgroup's `cgrules.conf`: which processes go into which groups, as
//! `cgrulesengd` and `cgclassify` (without `-g`) apply them.
//!
//! ```text
//! # <user>[:<process>]   <controllers>   <destination>
//! alice                  cpu,memory      users/alice
//! @devs                  *               devs/%u        # %u %U %g %G %p %P
//! %                      pids            devs/limited   # also, when the line above matched
//! *:sleep                memory          sleepers/%p
//! ```
//!
//! - `user` is a user name or uid, `@group` a group name or gid (a process
//!   matches when the group is its effective or a supplementary group),
//!   `*` anyone, `%` a continuation: the line applies with the rule above
//!   it, whenever that rule matched.
//! - `process` is a command name (compared with the executable's file name
//!   and the kernel's 15-character `comm`), or a full path compared with the
//!   executable's path.
//! - `controllers` is a comma-separated list, or `*` for every hierarchy.
//! - `destination` is a group path, with the templates of
//!   [`crate::TemplateVars`] (`%u` user name, `%U` uid, `%g` group name,
//!   `%G` gid, `%p` process name, `%P` pid).
//!
//! The first rule that matches wins, with its continuation lines. Rules are
//! compiled once ([`Rules::parse`]): names are looked up then, so matching a
//! process reads nothing but its `/proc` files.
//!
//! Modules: `parse` (the file), `matcher` (a process against the rules),
//! `process` (what `/proc` says of a process), `place` (moving it), `sticky` (processes the
//! daemon leaves alone) and `connector` (the kernel's process events).

mod connector;
mod matcher;
mod parse;
mod place;
mod process;
mod resident;
mod sticky;

#[cfg(test)]
mod tests;

pub use connector::{ProcConnector, ProcEvent};
pub use matcher::{Destination, Ids};
pub use parse::{Databases, Rule, Rules, UserSel};
pub use place::{place, Placed};
pub use process::{parent_of, ProcessInfo};
pub use resident::page_out_file_mappings;
pub use sticky::{StickyList, STICKY_FILE};

/// Where libcgroup keeps its rules.
pub const CGRULES_CONF: &str = "/etc/cgrules.conf";
/// Where libcgroup reads more rules from, after [`CGRULES_CONF`].
pub const CGRULES_DIR: &str = "/etc/cgrules.d";
