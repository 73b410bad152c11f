//! The hidden `enclos __gen-man DIR` and `__gen-completions DIR`: man
//! pages (clap_mangen) and shell completions (clap_complete) generated
//! from the clap definitions, for the package (`cargo xtask dist`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Subcommand};
use clap_complete::{Generator, Shell};

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
        out.push(tool.command().name(*name).bin_name(*name));
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

/// The same for fish: every `-n`/`--name` of enclos offers the containers
/// (of the `-P` typed), and no file.
const FISH_NAMES: &str = "
# Container names for -n/--name, from `enclos ls -1` (with the -P typed).
function __enclos_containers
    set -l words (commandline -opc)
    set -l lxcpath
    for i in (seq (count $words))
        if contains -- $words[$i] -P --lxcpath; and test $i -lt (count $words)
            set lxcpath -P $words[(math $i + 1)]
        end
    end
    enclos ls -1 $lxcpath 2>/dev/null
end
complete -c enclos -s n -l name -f -r -a '(__enclos_containers)'
";

/// The same for zsh: the function that every `-n`/`--name` of enclos
/// calls (see [`with_zsh_names`]), defined before the file's last lines
/// call `_enclos`.
const ZSH_NAMES: &str = r#"# Container names for -n/--name, from `enclos ls -1` (with the -P typed).
(( $+functions[_enclos_containers] )) ||
_enclos_containers() {
    local -a lxcpath names
    local i=${words[(I)(-P|--lxcpath)]}
    (( i )) && lxcpath=(-P "${(Q)words[i+1]}")
    names=(${(f)"$(_call_program containers enclos ls -1 "${lxcpath[@]}" 2>/dev/null)"})
    _describe -t containers 'container' names
}

"#;

/// The zsh completion `text` (clap_complete's) with the container names
/// for the values of `-n` and `--name`, which clap leaves to `_default`.
fn with_zsh_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + ZSH_NAMES.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with("if [ \"$funcstack[1]\" = \"_enclos\" ]") {
            out.push_str(ZSH_NAMES);
        }
        if line.starts_with("'-n+[") || line.starts_with("'--name=[") {
            out.push_str(&line.replace(":NAME:_default'", ":NAME:_enclos_containers'"));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Writes `DIR/enclos.bash`, `DIR/_enclos` (zsh) and `DIR/enclos.fish`.
pub fn completions(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = dir.join(shell.file_name("enclos"));
        std::fs::write(&path, completion(shell))
            .with_context(|| format!("Cannot write the {shell} completion {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The completion script for `shell`: clap_complete's, with the container
/// names for `-n`/`--name`.
fn completion(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::Cli::command(), "enclos", &mut out);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    match shell {
        Shell::Bash => text.push_str(BASH_NAMES),
        Shell::Fish => text.push_str(FISH_NAMES),
        _ => text = with_zsh_names(&text),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zsh_name_values_complete_the_containers() {
        let zsh = completion(Shell::Zsh);
        let name_lines: Vec<&str> = zsh
            .lines()
            .filter(|l| l.starts_with("'-n+[") || l.starts_with("'--name=["))
            .collect();
        assert!(name_lines.len() > 10, "{name_lines:?}");
        for line in &name_lines {
            assert!(line.ends_with(":NAME:_enclos_containers' \\"), "{line}");
        }
        let defined = zsh.find("_enclos_containers() {").expect("the function");
        let called = zsh.find("if [ \"$funcstack[1]\" = \"_enclos\" ]").unwrap();
        assert!(defined < called, "defined after the file calls _enclos");
    }
}
