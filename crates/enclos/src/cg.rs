//! libcgroup's tools: cgcreate, cgexec, cgdelete, cgget, cgset, lscgroup,
//! cgconfigparser, cgclassify, and a tree view like systemd-cgls.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use enclos_cgroupfs::{
    attach_all, create_all, delete_all, kernel_kept_other, normalize_path, split_spec, Cgroup,
    DeleteOptions, Layout, Node, Permissions, Populated, PROC,
};
use serde::Serialize;

use crate::output::{print_json, Format};

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
    ];

    pub fn from_name(name: &str) -> Option<Tool> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Parses `args` (`argv[0]` included) as this tool and runs it.
    pub fn run(self, args: Vec<OsString>) -> Result<ExitCode> {
        fn go<P: Parser>(
            args: Vec<OsString>,
            f: impl FnOnce(P) -> Result<ExitCode>,
        ) -> Result<ExitCode> {
            match P::try_parse_from(args) {
                Ok(p) => f(p),
                Err(e) => Ok(crate::usage_exit(e)),
            }
        }
        match self {
            Tool::Create => go(args, CreateArgs::run),
            Tool::Exec => go(args, ExecArgs::run),
            Tool::Delete => go(args, DeleteArgs::run),
            Tool::Get => go(args, GetArgs::run),
            Tool::Set => go(args, SetArgs::run),
            Tool::List => go(args, ListArgs::run),
            Tool::Apply => go(args, ApplyArgs::run),
            Tool::Classify => go(args, ClassifyArgs::run),
        }
    }
}

fn layout() -> Result<Arc<Layout>> {
    Ok(Arc::new(Layout::discover().context(
        "Cannot find the cgroup hierarchies of this host",
    )?))
}

fn groups(layout: &Arc<Layout>, specs: &[String]) -> Result<Vec<Cgroup>> {
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
    /// Accepted for libcgroup compatibility: enclos runs no rules daemon,
    /// so the command's children are never moved elsewhere.
    #[arg(long = "sticky")]
    sticky: bool,
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
        let _ = self.sticky;
        let layout = layout()?;
        let cgs = groups(&layout, &self.groups)?;
        let me = std::process::id() as i32;
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

/// cgdelete: delete control groups.
#[derive(Debug, Parser)]
#[command(name = "cgdelete", about = "Delete control groups")]
pub struct DeleteArgs {
    /// Delete the groups' children too.
    #[arg(short = 'r', long = "recursive")]
    recursive: bool,
    /// Group to delete, as controllers:path; repeatable.
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH")]
    groups: Vec<String>,
    /// Move the processes still in a group into its parent first
    /// (libcgroup's behaviour).
    #[arg(long = "move", conflicts_with = "kill")]
    move_to_parent: bool,
    /// Kill the processes still in a group (SIGKILL) and wait for them.
    #[arg(long = "kill")]
    kill: bool,
    /// Groups to delete, as controllers:path.
    #[arg(value_name = "CONTROLLERS:PATH")]
    specs: Vec<String>,
}

impl DeleteArgs {
    pub fn run(self) -> Result<ExitCode> {
        let specs: Vec<String> = self.groups.into_iter().chain(self.specs).collect();
        if specs.is_empty() {
            bail!(
                "No group given: name one as controllers:path, e.g. `cgdelete memory:helloworld`"
            );
        }
        let layout = layout()?;
        let cgs = groups(&layout, &specs)?;
        let opts = DeleteOptions {
            recursive: self.recursive,
            populated: if self.kill {
                Populated::Kill
            } else if self.move_to_parent {
                Populated::MoveToParent
            } else {
                Populated::Refuse
            },
            ignore_missing: false,
        };
        match delete_all(&cgs, opts) {
            Err(enclos_cgroupfs::Error::DeleteGroup { group, source })
                if matches!(*source, enclos_cgroupfs::Error::Populated { .. }) =>
            {
                bail!(
                    "Cannot delete cgroup {group}: {source} (--move moves them, --kill kills them)"
                )
            }
            r => r?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// cgget: print parameters of control groups.
#[derive(Debug, Parser)]
#[command(name = "cgget", about = "Print parameters of control groups")]
pub struct GetArgs {
    /// Parameter to print (memory.limit_in_bytes); repeatable.
    #[arg(short = 'r', value_name = "NAME")]
    keys: Vec<String>,
    /// A controller whose parameters to print all, or a group as
    /// controllers:path.
    #[arg(short = 'g', value_name = "CONTROLLER")]
    controllers: Vec<String>,
    /// Print every parameter of every controller.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Do not print the group names.
    #[arg(short = 'n')]
    no_names: bool,
    /// Print the values only (no group names, no parameter names).
    #[arg(short = 'v', long = "values-only")]
    values_only: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Groups to read.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
}

#[derive(Debug, Serialize)]
struct GroupValues {
    path: String,
    values: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
struct KeyValue {
    key: String,
    value: String,
}

impl GetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let targets = self.targets()?;
        let mut out = Vec::new();
        for (path, ctrls) in &targets {
            out.push(self.read(&layout, path, ctrls)?);
        }
        if self.format == Format::Json {
            print_json(&out)?;
        } else {
            self.print(&out)?;
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The groups to read, each with the controllers to list all
    /// parameters of.
    fn targets(&self) -> Result<Vec<(String, Vec<String>)>> {
        let mut targets: Vec<(String, Vec<String>)> = Vec::new();
        let mut plain_ctrls = Vec::new();
        for g in &self.controllers {
            match split_spec(g) {
                Some((c, p)) => targets.push((
                    p.to_string(),
                    c.into_iter()
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect(),
                )),
                None => plain_ctrls.extend(g.split(',').map(str::to_string)),
            }
        }
        for p in &self.paths {
            targets.push((p.clone(), plain_ctrls.clone()));
        }
        if targets.is_empty() {
            bail!("No group given: name one, e.g. `cgget -r memory.limit_in_bytes helloworld`");
        }
        if self.keys.is_empty() && !self.all && targets.iter().all(|(_, c)| c.is_empty()) {
            bail!("Nothing to print: name parameters with -r, controllers with -g, or all with -a");
        }
        Ok(targets)
    }

    /// The values of one group: the -r keys, then every parameter of -a
    /// and of each controller, each key once.
    fn read(&self, layout: &Arc<Layout>, path: &str, ctrls: &[String]) -> Result<GroupValues> {
        let mut values = Vec::new();
        for key in &self.keys {
            let cg = Cgroup::for_key(layout.clone(), key, path)?;
            let value = cg
                .get(key)
                .with_context(|| format!("Cannot read {key} of cgroup {path}"))?;
            values.push(KeyValue {
                key: key.clone(),
                value,
            });
        }
        let mut list_keys = |cg: &Cgroup, ctrl: Option<&str>| -> Result<()> {
            for (key, value) in cg.values(ctrl)? {
                if !values.iter().any(|kv| kv.key == key) {
                    values.push(KeyValue { key, value });
                }
            }
            Ok(())
        };
        if self.all {
            let cg = Cgroup::new(layout.clone(), &["*"], path)?;
            list_keys(&cg, None)?;
        }
        for c in ctrls {
            let cg = Cgroup::new(layout.clone(), &[c.as_str()], path)?;
            list_keys(&cg, Some(c))
                .with_context(|| format!("Cannot list the {c} parameters of cgroup {path}"))?;
        }
        Ok(GroupValues {
            path: normalize_path(path).map(|p| if p.is_empty() { "/".into() } else { p })?,
            values,
        })
    }

    fn print(&self, out: &[GroupValues]) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        for g in out {
            if !self.no_names && !self.values_only {
                writeln!(stdout, "{}:", g.path)?;
            }
            for kv in &g.values {
                let value = kv.value.replace('\n', "\n\t");
                if self.values_only {
                    writeln!(stdout, "{value}")?;
                } else {
                    writeln!(stdout, "{}: {value}", kv.key)?;
                }
            }
            if !self.no_names && !self.values_only {
                writeln!(stdout)?;
            }
        }
        Ok(())
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
    /// Groups to change.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

impl SetArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        if let Some(src) = &self.copy_from {
            let src = Cgroup::new(layout.clone(), &["*"], src)?;
            for p in &self.paths {
                let dst = Cgroup::new(layout.clone(), &["*"], p)?;
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
        let mut pairs = Vec::new();
        for s in &self.settings {
            let Some((k, v)) = s.split_once('=') else {
                bail!("Invalid setting '{s}': expected name=value, e.g. memory.limit_in_bytes=40000000");
            };
            pairs.push((k.trim(), v));
        }
        for p in &self.paths {
            for (key, value) in &pairs {
                let cg = Cgroup::for_key(layout.clone(), key, p)?;
                let kept = cg
                    .set_and_read(key, value)
                    .with_context(|| format!("Cannot set {key} of cgroup {p}"))?;
                if kernel_kept_other(value, &kept) {
                    eprintln!("note: {key} of {p}: asked {value}, the kernel kept {kept}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
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
}

impl ListArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        let specs: Vec<String> = self.groups.into_iter().chain(self.specs).collect();
        let cgs = if specs.is_empty() {
            vec![Cgroup::new(layout, &["*"], "")?]
        } else {
            groups(&layout, &specs)?
        };
        let mut listed = Vec::new();
        for cg in &cgs {
            for (h, node) in cg.trees(false)? {
                for p in node.paths() {
                    listed.push(Listed {
                        controllers: h.label(),
                        path: format!("/{p}"),
                    });
                }
            }
        }
        if self.format == Format::Json {
            return print_json(&listed).map(|_| ExitCode::SUCCESS);
        }
        let mut stdout = std::io::stdout().lock();
        for l in &listed {
            writeln!(stdout, "{}:{}", l.controllers, l.path)?;
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

/// cgclassify: move running processes into control groups.
#[derive(Debug, Parser)]
#[command(
    name = "cgclassify",
    about = "Move running processes into control groups"
)]
pub struct ClassifyArgs {
    /// Destination, as controllers:path; repeatable.
    #[arg(short = 'g', value_name = "CONTROLLERS:PATH", required = true)]
    groups: Vec<String>,
    /// Accepted for libcgroup compatibility: enclos runs no rules daemon.
    #[arg(long = "sticky", conflicts_with = "cancel_sticky")]
    sticky: bool,
    /// Accepted for libcgroup compatibility: enclos runs no rules daemon.
    #[arg(long = "cancel-sticky")]
    cancel_sticky: bool,
    /// Processes to move.
    #[arg(value_name = "PID", required = true)]
    pids: Vec<i32>,
}

impl ClassifyArgs {
    pub fn run(self) -> Result<ExitCode> {
        let _ = (self.sticky, self.cancel_sticky);
        let layout = layout()?;
        let cgs = groups(&layout, &self.groups)?;
        attach_all(&cgs, &self.pids, Path::new(PROC))?;
        Ok(ExitCode::SUCCESS)
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

#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The user who gets the subtrees.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Only the hierarchies of these controllers (and the v2 one), e.g.
    /// cpu,memory,pids; default: every hierarchy.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    controllers: Vec<String>,
    /// Remove the user's subtrees instead.
    #[arg(long)]
    remove: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl DelegateArgs {
    pub fn run(self) -> Result<ExitCode> {
        let layout = layout()?;
        if self.remove {
            let gone = enclos_cgroupfs::undelegate(&layout, &self.user, &self.controllers)
                .with_context(|| format!("Cannot remove the cgroups of user '{}'", self.user))?;
            match self.format {
                Format::Json => print_json(&gone)?,
                Format::Text => {
                    for dir in gone {
                        println!("removed {}", dir.display());
                    }
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let d = enclos_cgroupfs::Delegation::for_user(
            &self.user,
            Path::new(enclos_cgroupfs::PASSWD),
            self.controllers,
        )?;
        let done = enclos_cgroupfs::delegate(&layout, &d)
            .with_context(|| format!("Cannot delegate cgroups to user '{}'", self.user))?;
        match self.format {
            Format::Json => print_json(&done)?,
            Format::Text => {
                for x in done {
                    println!("{}: {}", x.hierarchy, x.dir.display());
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
