//! The hidden `enclos __gen-man DIR` and `__gen-completions DIR`: man
//! pages (clap_mangen) and shell completions (clap_complete) generated
//! from the clap definitions, for the package (`cargo xtask dist`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Subcommand};
use clap_complete::Shell;

use crate::{cg, checkconfig, lxc, usernsexec};

/// Writes `DIR/enclos.1`, `DIR/enclos-SUB.1` for each subcommand (and
/// `enclos-cg-SUB.1`), and `DIR/compat/NAME.1` for each lxc-* and cg* name.
pub fn man(dir: &Path) -> Result<ExitCode> {
    let compat = dir.join("compat");
    std::fs::create_dir_all(&compat)
        .with_context(|| format!("Cannot create {}", compat.display()))?;
    clap_mangen::generate_to(crate::Cli::command(), dir)
        .with_context(|| format!("Cannot write the man pages in {}", dir.display()))?;
    for cmd in compat_commands() {
        let path = compat.join(format!("{}.1", cmd.get_name()));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        std::fs::write(&path, out).with_context(|| format!("Cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The clap command of every name in `enclos compat list`, named after it.
fn compat_commands() -> Vec<clap::Command> {
    let lxc = <lxc::LxcCommand as Subcommand>::augment_subcommands(clap::Command::new("enclos"));
    let mut out: Vec<clap::Command> = lxc::LxcCommand::NAMES
        .iter()
        .filter_map(|name| {
            let sub = lxc.find_subcommand(name.strip_prefix("lxc-")?)?;
            Some(sub.clone().name(*name).bin_name(*name))
        })
        .collect();
    for (name, tool) in cg::Tool::ALL {
        let cmd = match tool {
            cg::Tool::Create => cg::CreateArgs::command(),
            cg::Tool::Exec => cg::ExecArgs::command(),
            cg::Tool::Delete => cg::DeleteArgs::command(),
            cg::Tool::Get => cg::GetArgs::command(),
            cg::Tool::Set => cg::SetArgs::command(),
            cg::Tool::List => cg::ListArgs::command(),
            cg::Tool::Apply => cg::ApplyArgs::command(),
            cg::Tool::Classify => cg::ClassifyArgs::command(),
        };
        out.push(cmd.name(*name).bin_name(*name));
    }
    let tool = |name: &'static str, about: &'static str| {
        clap::Command::new(name)
            .bin_name(name)
            .about(about)
            .version(env!("CARGO_PKG_VERSION"))
    };
    out.push(usernsexec::UsernsexecArgs::augment_args(tool(
        usernsexec::TOOL,
        "Run a command as root in a new user namespace",
    )));
    out.push(checkconfig::CheckconfigArgs::augment_args(tool(
        checkconfig::TOOL,
        "Check what the running kernel offers containers",
    )));
    out
}

/// Container names for `-n`/`--name`, from `enclos ls -1` (with the `-P`
/// typed on the line), in front of clap's own bash completion.
const BASH_NAMES: &str = r#"
# Container names for -n/--name, from `enclos ls -1` (with the -P typed).
_enclos_names() {
    local i lxcpath=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -P|--lxcpath) lxcpath=(-P "${COMP_WORDS[i+1]}") ;;
        esac
    done
    enclos ls -1 "${lxcpath[@]}" 2>/dev/null
}

_enclos_with_names() {
    case "${COMP_WORDS[COMP_CWORD-1]}" in
        -n|--name)
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$(_enclos_names)" -- "${COMP_WORDS[COMP_CWORD]}"))
            return 0
            ;;
    esac
    _enclos "$@"
}

complete -F _enclos_with_names -o bashdefault -o default enclos
"#;

/// The same for fish: every `-n`/`--name` of enclos offers the containers.
const FISH_NAMES: &str = "
# Container names for -n/--name, from `enclos ls -1`.
complete -c enclos -s n -l name -f -a '(enclos ls -1 2>/dev/null)'
";

/// Writes `DIR/enclos.bash`, `DIR/_enclos` (zsh) and `DIR/enclos.fish`.
pub fn completions(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = crate::Cli::command();
        let path = clap_complete::generate_to(shell, &mut cmd, "enclos", dir)
            .with_context(|| format!("Cannot write the {shell} completion in {}", dir.display()))?;
        let extra = match shell {
            Shell::Bash => BASH_NAMES,
            Shell::Fish => FISH_NAMES,
            _ => continue,
        };
        let mut text = std::fs::read_to_string(&path)
            .with_context(|| format!("Cannot read {}", path.display()))?;
        text.push_str(extra);
        std::fs::write(&path, text).with_context(|| format!("Cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
