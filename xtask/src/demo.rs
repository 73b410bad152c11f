//! `cargo xtask demo`: install what the labs need, build enclos, and play
//! the course walkthrough, one lab script after the other, then the
//! networks lab (in a network namespace of its own: containers on macvlan,
//! ipvlan where the kernel has it, vlan, and on `enclos net up`'s bridge by
//! DHCP, with `lxc-ls -f` showing their IPV4).

use std::process::Command;

use anyhow::Result;

use crate::deps;
use crate::process::{build_enclos_release, is_root, run_streaming, show, workspace_root, Failed};

/// The lab scripts the demo plays, in order, relative to the workspace.
pub const DEMO_LABS: &[&str] = &[
    "lab/lab1-cgroups.sh",
    "lab/lab2-containers.sh",
    "lab/lab2-unprivileged.sh",
    "lab/lab2-network.sh",
];

/// The exit code by which a lab script says "skipped: this host lacks
/// something I need" (the reason is in its output).
pub const LAB_SKIPPED: i32 = 77;

pub fn run() -> Result<()> {
    if !is_root() {
        return Err(Failed::new(
            1,
            "`cargo xtask demo` must run as root: the labs create cgroups and containers.\n\
             Run it again as root, e.g.: sudo env \"PATH=$PATH\" cargo xtask demo",
        )
        .into());
    }
    deps::ensure("The demo", deps::BUILD)?;
    deps::ensure("The demo", deps::LABS)?;
    deps::ensure("The demo's networks lab", deps::NET)?;
    let enclos = build_enclos_release()?;
    let root = workspace_root();

    let (mut passed, mut skipped) = (Vec::new(), Vec::new());
    for lab in DEMO_LABS {
        let script = root.join(lab);
        if !script.is_file() {
            return Err(
                Failed::new(1, format!("Lab script {} not found", script.display())).into(),
            );
        }
        let mut cmd = Command::new("bash");
        cmd.arg(lab).env("ENCLOS", &enclos).current_dir(&root);
        println!();
        println!("==> lab: ENCLOS={} {}", enclos.display(), show(&cmd));
        let status = run_streaming(&mut cmd)?;
        match status.code() {
            Some(0) => passed.push(*lab),
            Some(LAB_SKIPPED) => {
                println!("==> {lab}: skipped (see the reason above)");
                skipped.push(*lab);
            }
            _ => {
                let why = format!("{lab} failed ({status})");
                return Err(Failed::status(status, Some(why)).into());
            }
        }
    }
    println!();
    println!(
        "==> demo done: {} lab(s) passed{}",
        passed.len(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(", skipped: {}", skipped.join(", "))
        }
    );
    Ok(())
}
