//! libcgroup's tools: cgcreate, cgexec, cgdelete, cgget, cgset, lscgroup,
//! cgconfigparser, cgclassify, lssubsys, cgsnapshot, cgclear, cgxget,
//! cgxset and cgrulesengd, a tree view like systemd-cgls, and cg delegate.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use enclos_cgroupfs::{create_all, kernel_kept_other, Cgroup, Layout, Node, Permissions};
use serde::Serialize;

use crate::output::{print_json, Format};

mod classify;
mod clear;
mod delegate;
mod delete;
mod get;
mod rulesengd;
mod snapshot;
mod subsys;
mod xget;
pub use classify::ClassifyArgs;
pub use delegate::DelegateArgs;
pub use delete::DeleteArgs;
pub use get::GetArgs;
pub use rulesengd::RulesengdArgs;

/// The cg* commands.
#[derive(Debug, Subcommand)]
pub enum CgCommand {
    /// Create control groups (cgcreate).
    Create(CreateArgs),
    /// Run a command in control groups (cgexec).
    Exec(ExecArgs),
    /// Delete control groups (cgdelete).
    Delete(DeleteArgs),
    /// Print settings of control groups (cgget).
    Get(GetArgs),
    /// Change settings of control groups (cgset).
    Set(SetArgs),
    /// List control groups (lscgroup).
    List(ListArgs),
    /// Draw the groups and their processes as a tree (like systemd-cgls).
    Tree(TreeArgs),
    /// Create the groups of a cgconfig.conf file (cgconfigparser).
    Apply(crate::cg::ApplyArgs),
    /// Move running processes into control groups (cgclassify).
    Classify(ClassifyArgs),
    /// Give a user cgroup subtrees of its own, user/NAME/0 on each
    /// hierarchy, as pam_cgfs does at login (run once, as root).
    Delegate(DelegateArgs),
    /// List hierarchies, their mount points and ids (lssubsys).
    Subsys(subsys::SubsysArgs),
    /// Print the groups and their settings as a cgconfig.conf (cgsnapshot).
    Snapshot(snapshot::SnapshotArgs),
    /// Remove the groups of cgconfig.conf files, or every group (cgclear).
    Clear(clear::ClearArgs),
    /// Print settings in cgroup v1 or v2 terms (cgxget).
    Xget(xget::XgetArgs),
    /// Change settings given in cgroup v1 or v2 terms (cgxset).
    Xset(xget::XsetArgs),
    /// Move new processes into control groups by rule (cgrulesengd).
    Rulesengd(RulesengdArgs),
}

impl CgCommand {
    pub fn run(self) -> Result<ExitCode> {
        match self {
            CgCommand::Create(a) => a.run(),
            CgCommand::Exec(a) => a.run(),
            CgCommand::Delete(a) => a.run(),
            CgCommand::Get(a) => a.run(),
            CgCommand::Set(a) => a.run(),
            CgCommand::List(a) => a.run(),
            CgCommand::Tree(a) => a.run(),
            CgCommand::Apply(a) => a.run(),
            CgCommand::Classify(a) => a.run(),
            CgCommand::Delegate(a) => a.run(),
            CgCommand::Subsys(a) => a.run(),
            CgCommand::Snapshot(a) => a.run(),
            CgCommand::Clear(a) => a.run(),
            CgCommand::Xget(a) => a.run(),
            CgCommand::Xset(a) => a.run(),
            CgCommand::Rulesengd(a) => a.run(),
        }
    }
}

/// The libcgroup tools a link may be named after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Create,
    Exec,
    Delete,
    Get,
    Set,
    List,
    Apply,
    Classify,
    Subsys,
    Snapshot,
    Clear,
    Xget,
    Xset,
    Rulesengd,
}

impl Tool {
    /// Tool names and what they run, for `argv[0]` dispatch and `compat
    /// install`.
    pub const ALL: &'static [(&'static str, Tool)] = &[
        ("cgcreate", Tool::Create),
        ("cgexec", Tool::Exec),
        ("cgdelete", Tool::Delete),
        ("cgget", Tool::Get),
        ("cgset", Tool::Set),
        ("lscgroup", Tool::List),
        ("cgconfigparser", Tool::Apply),
        ("cgclassify", Tool::Classify),
        ("lssubsys", Tool::Subsys),
        ("cgsnapshot", Tool::Snapshot),
        ("cgclear", Tool::Clear),
        ("cgxget", Tool::Xget),
        ("cgxset", Tool::Xset),
        ("cgrulesengd", Tool::Rulesengd),
    ];

    pub fn from_name(name: &str) -> Option<Tool> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// The clap command of this tool (for man pages and completions).
    pub fn command(self) -> clap::Command {
        use clap::CommandFactory;
        match self {
            Tool::Create => CreateArgs::command(),
            Tool::Exec => ExecArgs::command(),
            Tool::Delete => DeleteArgs::command(),
            Tool::Get => GetArgs::command(),
            Tool::Set => SetArgs::command(),
            Tool::List => ListArgs::command(),
            Tool::Apply => ApplyArgs::command(),
            Tool::Classify => ClassifyArgs::command(),
            Tool::Subsys => subsys::SubsysArgs::command(),
            Tool::Snapshot => snapshot::SnapshotArgs::command(),
            Tool::Clear => clear::ClearArgs::command(),
            Tool::Xget => xget::XgetArgs::command(),
            Tool::Xset => xget::XsetArgs::command(),
            Tool::Rulesengd => RulesengdArgs::command(),
        }
    }

    /// Parses `args` (`argv[0]` included) as this tool and runs it.
    pub fn run(self, args: Vec<OsString>) -> Result<ExitCode> {
        fn go<P: Parser>(
            args: Vec<OsString>,
            f: impl FnOnce(P) -> Result<ExitCode>,
        ) -> Result<ExitCode> {
            let tool = args.first().cloned().unwrap_or_default();
            match P::try_parse_from(args) {
                Ok(p) => f(p),
                Err(e) => {
                    if e.use_stderr() {
                        let tool = Path::new(&tool).file_name().unwrap_or_default();
                        wrong_input(true, &tool.to_string_lossy());
                    }
                    Ok(crate::usage_exit(e))
                }
            }
        }
        match self {
            Tool::Create => go(args, CreateArgs::run),
            Tool::Exec => go(args, ExecArgs::run),
            Tool::Delete => go(args, |a: DeleteArgs| a.under_libcgroup_name().run()),
            Tool::Get => go(args, |a: GetArgs| a.under_libcgroup_name().run()),
            Tool::Set => go(args, SetArgs::run),
            Tool::List => go(args, ListArgs::run),
            Tool::Apply => go(args, ApplyArgs::run),
            Tool::Classify => go(args, ClassifyArgs::run),
            Tool::Subsys => go(args, subsys::SubsysArgs::run),
            Tool::Snapshot => go(args, snapshot::SnapshotArgs::run),
            Tool::Clear => go(args, clear::ClearArgs::run),
            Tool::Xget => go(args, xget::XgetArgs::run),
            Tool::Xset => go(args, xget::XsetArgs::run),
            Tool::Rulesengd => go(args, RulesengdArgs::run),
        }
    }
}

pub(crate) fn layout() -> Result<Arc<Layout>> {
    Ok(Arc::new(Layout::discover().context(
        "Cannot find the cgroup hierarchies of this host",
    )?))
}

pub(crate) fn groups(layout: &Arc<Layout>, specs: &[String]) -> Result<Vec<Cgroup>> {
    specs
        .iter()
        .map(|s| Cgroup::from_spec(layout.clone(), s).map_err(anyhow::Error::from))
        .collect()
}

/// Ownership and modes, as cgcreate and cgconfigparser take them.
#[derive(Debug, Args, Clone, Default)]
pub struct PermArgs {
    /// Owner of the tasks files (tasks, cgroup.procs): user:group.
    #[arg(short = 't', value_name = "TUID:TGID", value_parser = enclos_cgroupfs::parse_owner)]
    task_owner: Option<(Option<u32>, Option<u32>)>,
    /// Owner of the group directory and its other files: user:group.
    #[arg(short = 'a', value_name = "AUID:AGID", value_parser = enclos_cgroupfs::parse_owner)]
    admin_owner: Option<(Option<u32>, Option<u32>)>,
    /// Mode of the group directory (octal).
    #[arg(short = 'd', long = "dperm", value_name = "MODE", value_parser = enclos_cgroupfs::parse_mode)]
    dperm: Option<u32>,
    /// Mode of the group's files (octal).
    #[arg(short = 'f', long = "fperm", value_name = "MODE", value_parser = enclos_cgroupfs::parse_mode)]
    fperm: Option<u32>,
    /// Mode of the tasks files (octal).
    #[arg(short = 's', long = "tperm", value_name = "MODE", value_parser = enclos_cgroupfs::parse_mode)]
    tperm: Option<u32>,
}

impl PermArgs {
    pub fn permissions(&self) -> Permissions {
        Permissions {
            task_uid: self.task_owner.and_then(|o| o.0),
            task_gid: self.task_owner.and_then(|o| o.1),
            admin_uid: self.admin_owner.and_then(|o| o.0),
            admin_gid: self.admin_owner.and_then(|o| o.1),
            dir_mode: self.dperm,
            file_mode: self.fperm,
            task_mode: self.tperm,
        }
    }
}

/// cgcreate: create control groups.
#[derive(Debug, Parser)]
#[command(name = "cgcreate", about = "Create control groups")]
pub struct CreateArgs {
    /// Group to create, as controllers:path (memory,cpu:helloworld).
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH", required = true)]
    groups: Vec<String>,
    #[command(flatten)]
    perms: PermArgs,
}

impl CreateArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let cgs = groups(&layout, &self.groups)?;
        create_all(&cgs, &self.perms.permissions())?;
        Ok(ExitCode::SUCCESS)
    }
}

/// cgexec: run a command in control groups.
#[derive(Debug, Parser)]
#[command(name = "cgexec", about = "Run a command in control groups")]
pub struct ExecArgs {
    /// Group to run in, as controllers:path; repeatable.
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH", required = true)]
    groups: Vec<String>,
    /// Keep the command and its children in these groups: the rules
    /// daemon leaves them alone.
    #[arg(long = "sticky")]
    sticky: bool,
    /// The sticky list the rules daemon reads (enclos's own option).
    #[arg(long = "sticky-file", value_name = "FILE", default_value = enclos_cgconfig::rules::STICKY_FILE)]
    sticky_file: PathBuf,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

impl ExecArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let cgs = groups(&layout, &self.groups)?;
        let me = std::process::id() as i32;
        if self.sticky {
            let list = enclos_cgconfig::rules::StickyList {
                file: self.sticky_file.clone(),
                ..Default::default()
            };
            list.set(me, true).with_context(|| {
                format!("Cannot update the sticky list {}", list.file.display())
            })?;
        }
        for cg in &cgs {
            cg.attach(me)
                .with_context(|| format!("Cannot move cgexec into cgroup {}", cg.name()))?;
        }
        let err = std::process::Command::new(&self.command[0])
            .args(&self.command[1..])
            .exec();
        bail!(
            "Cannot run '{}': {err}; check the command's path and that it is executable",
            self.command[0].to_string_lossy()
        )
    }
}

/// libcgroup's first line for bad input, printed under its names.
pub(crate) fn wrong_input(libcgroup: bool, tool: &str) {
    if libcgroup {
        eprintln!("Wrong input parameters, try '{tool} -h' for more information.");
    }
}

/// cgset: change parameters of control groups.
#[derive(Debug, Parser)]
#[command(name = "cgset", about = "Change parameters of control groups")]
pub struct SetArgs {
    /// Parameter and value, as name=value; repeatable.
    #[arg(short = 'r', value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// Copy every parameter from this group.
    #[arg(long = "copy-from", value_name = "SOURCE", conflicts_with = "settings")]
    copy_from: Option<String>,
    /// Set the parameters in the groups' descendants too.
    #[arg(short = 'R', long = "recursive")]
    recursive: bool,
    /// Groups to change.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

impl SetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        if let Some(src) = &self.copy_from {
            // Over the controllers both groups exist in.
            let src = Cgroup::new(layout.clone(), &["*"], src)?.existing()?;
            for p in &self.paths {
                let dst = Cgroup::new(layout.clone(), &["*"], p)?.existing()?;
                dst.copy_from(&src).with_context(|| {
                    format!(
                        "Cannot copy the parameters of {} to {}",
                        src.name(),
                        dst.name()
                    )
                })?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        if self.settings.is_empty() {
            bail!("Nothing to set: give parameters as -r name=value, e.g. `cgset -r cpu.shares=512 helloworld`");
        }
        let pairs = parse_settings(&self.settings)?;
        for top in &self.paths {
            for (key, value) in &pairs {
                for p in self.targets(&layout, key, top)? {
                    let cg = Cgroup::for_key(layout.clone(), key, &p)?;
                    let kept = cg
                        .set_and_read(key, value)
                        .with_context(|| format!("Cannot set {key} of cgroup {p}"))?;
                    if kernel_kept_other(value, &kept) {
                        eprintln!("note: {key} of {p}: asked {value}, the kernel kept {kept}");
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl SetArgs {
    /// The group `path`, and with -R its descendants in the hierarchy of
    /// `key`, parents first.
    fn targets(&self, layout: &Arc<Layout>, key: &str, path: &str) -> Result<Vec<String>> {
        if !self.recursive {
            return Ok(vec![path.to_string()]);
        }
        Ok(Cgroup::for_key(layout.clone(), key, path)?.subtree_paths()?)
    }
}

/// `-r name=value` settings (cgset, cgxset) as (name, value) pairs.
pub(crate) fn parse_settings(settings: &[String]) -> Result<Vec<(&str, &str)>> {
    let mut pairs = Vec::new();
    for s in settings {
        let Some((k, v)) = s.split_once('=') else {
            bail!(
                "Invalid setting '{s}': expected name=value, e.g. memory.limit_in_bytes=40000000"
            );
        };
        pairs.push((k.trim(), v));
    }
    Ok(pairs)
}

/// lscgroup: list control groups.
#[derive(Debug, Parser)]
#[command(name = "lscgroup", about = "List control groups")]
pub struct ListArgs {
    /// List only this group and its children, as controllers:path.
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH")]
    groups: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Groups to list, as controllers:path.
    #[arg(value_name = "CONTROLLERS:PATH")]
    specs: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Listed {
    controllers: String,
    path: String,
    /// The group named on the command line (printed with a trailing
    /// slash).
    #[serde(skip)]
    named: bool,
}

impl ListArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let specs: Vec<String> = self.groups.into_iter().chain(self.specs).collect();
        let named = !specs.is_empty();
        let cgs = if specs.is_empty() {
            vec![Cgroup::new(layout, &["*"], "")?]
        } else {
            groups(&layout, &specs)?
        };
        let mut listed = Vec::new();
        for cg in &cgs {
            for (h, node) in cg.trees(false)? {
                for (i, p) in node.paths().into_iter().enumerate() {
                    listed.push(Listed {
                        controllers: h.label(),
                        path: format!("/{p}"),
                        named: named && i == 0 && !p.is_empty(),
                    });
                }
            }
        }
        if self.format == Format::Json {
            return print_json(&listed).map(|_| ExitCode::SUCCESS);
        }
        let mut stdout = std::io::stdout().lock();
        for l in &listed {
            // A group named on the command line comes first, with a
            // trailing slash (cpuset:/a/), as lscgroup prints it.
            let slash = if l.named { "/" } else { "" };
            writeln!(stdout, "{}:{}{slash}", l.controllers, l.path)?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Draw control groups and their processes as a tree.
#[derive(Debug, Parser)]
#[command(
    name = "cgtree",
    about = "Draw control groups and their processes as a tree"
)]
pub struct TreeArgs {
    /// Controllers whose hierarchies to draw (default: every hierarchy).
    #[arg(short = 'g', value_name = "CONTROLLER")]
    controllers: Vec<String>,
    /// Do not show processes.
    #[arg(long = "no-procs")]
    no_procs: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The group to start from.
    #[arg(value_name = "PATH", default_value = "/")]
    path: String,
}

#[derive(Debug, Serialize)]
struct TreeOut {
    controllers: String,
    tree: Node,
}

impl TreeArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let controllers = if self.controllers.is_empty() {
            vec!["*".to_string()]
        } else {
            self.controllers.clone()
        };
        let cg = Cgroup::new(layout, &controllers, &self.path)?;
        let trees: Vec<TreeOut> = cg
            .trees(!self.no_procs)?
            .into_iter()
            .map(|(h, tree)| TreeOut {
                controllers: h.label(),
                tree,
            })
            .collect();
        if self.format == Format::Json {
            return print_json(&trees).map(|_| ExitCode::SUCCESS);
        }
        let mut out = String::new();
        for t in &trees {
            out.push_str(&format!("{}:/{}\n", t.controllers, t.tree.path));
            draw(&t.tree, "", &mut out);
        }
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    }
}

fn draw(node: &Node, prefix: &str, out: &mut String) {
    let total = node.pids.len() + node.children.len();
    let mut i = 0;
    for pid in &node.pids {
        i += 1;
        let branch = if i == total { "└─" } else { "├─" };
        let cmd = enclos_cgroupfs::process_cmdline(*pid);
        out.push_str(&format!("{prefix}{branch}{pid} {cmd}\n"));
    }
    for child in &node.children {
        i += 1;
        let last = i == total;
        let name = child.path.rsplit('/').next().unwrap_or(&child.path);
        out.push_str(&format!(
            "{prefix}{}{name}\n",
            if last { "└─" } else { "├─" }
        ));
        let next = format!("{prefix}{}", if last { "  " } else { "│ " });
        draw(child, &next, out);
    }
}

/// cgconfigparser: create the groups of cgconfig.conf files.
#[derive(Debug, Parser)]
#[command(
    name = "cgconfigparser",
    about = "Create the control groups of cgconfig.conf files"
)]
pub struct ApplyArgs {
    /// A configuration file to apply; repeatable.
    #[arg(short = 'l', long = "load", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A directory of configuration files (as /etc/cgconfig.d); repeatable.
    #[arg(short = 'L', long = "load-directory", value_name = "DIR")]
    dirs: Vec<PathBuf>,
    #[command(flatten)]
    perms: PermArgs,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl ApplyArgs {
    pub fn run(self) -> Result<ExitCode> {
        use enclos_cgconfig::{self as cgconfig, ApplyOptions};
        if self.files.is_empty() && self.dirs.is_empty() {
            bail!(
                "No configuration given: name a file with -l (e.g. -l {}) or a directory with -L (e.g. -L {})",
                cgconfig::CGCONFIG_CONF,
                cgconfig::CGCONFIG_DIR
            );
        }
        let config = cgconfig::load(&self.files, &self.dirs)?;
        let report = config.apply(
            layout()?,
            &ApplyOptions {
                default_perms: self.perms.permissions(),
            },
        )?;
        if self.format == Format::Json {
            print_json(&report)?;
        } else {
            // What the kernel changed or what was translated is worth a note;
            // a clean apply prints nothing, as cgconfigparser.
            for g in &report.groups {
                for s in &g.settings {
                    if let Some(n) = &s.notice {
                        eprintln!("note: {}: {n}", s.at);
                    } else if kernel_kept_other(&s.asked, &s.kept) {
                        eprintln!(
                            "note: {}: {} of {}: asked {}, the kernel kept {}",
                            s.at, s.key, g.name, s.asked, s.kept
                        );
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
