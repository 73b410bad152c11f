//! `cargo xtask`: the project's own tasks.
//!
//! - `demo`: install what the labs need, build enclos, play the walkthrough;
//! - `test`: install what the tests need, then fmt, clippy, docs,
//!   packaging, the release build, the VM lab and every test tier;
//! - `dist`: the Debian package, with lintian's check;
//! - `conformance`: LXC's own shell tests against enclos's lxc-* links;
//! - `bench compare`: time enclos against the tools a user would pick
//!   instead, alternating the variants in one run;
//! - `vm build`, `vm box`, `lab vm`: the Debian 12 VM the labs also run in
//!   (see `vm/`).
#![forbid(unsafe_code)]

mod bench;
mod conformance;
mod demo;
mod deps;
mod dist;
mod process;
mod test;
mod vm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::process::Failed;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Project tasks for enclos: demo, test, bench, vm, lab",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what the labs need, build enclos (release) and play the
    /// course walkthrough (the lab scripts). Needs root.
    Demo,
    /// Install what the tests need, then run everything: fmt, clippy, docs,
    /// packaging, the release build, the VM lab, LXC's tests and `cargo
    /// test --workspace`. Needs root, unless --quick.
    Test(test::Args),
    /// Play LXC's own shell tests (Debian's lxc-tests) against enclos's
    /// lxc-* links, and report each. Needs root.
    Conformance(conformance::Args),
    /// Build the Debian package target/dist/enclos_VERSION_ARCH.deb (the
    /// release binary, the lxc-* and cg* links, man pages, completions,
    /// /etc/enclos, enclos.service) and check it with lintian.
    Dist,
    /// Benchmarks: compare enclos with the tools a user would pick instead.
    Bench {
        #[command(subcommand)]
        command: bench::Command,
    },
    /// The Debian VM the labs run in: build its image, package a box.
    Vm {
        #[command(subcommand)]
        command: vm::Command,
    },
    /// Play the course labs: `lab vm` inside a fresh Debian 12 VM.
    Lab {
        #[command(subcommand)]
        command: vm::LabCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; every usage error
            // (unknown subcommand, bad flag) exits with 1.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::Test(args) => test::run(&args),
        Command::Conformance(args) => conformance::run(&args),
        Command::Dist => dist::run().map(drop),
        Command::Bench { command } => bench::run(command),
        Command::Vm { command } => vm::run(command),
        Command::Lab { command } => vm::run_lab(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Failed>() {
            Some(failed) => {
                if let Some(msg) = &failed.message {
                    eprintln!("error: {msg}");
                }
                ExitCode::from(failed.code)
            }
            None => {
                eprintln!("error: {}", enclos_report::Chain(e.as_ref()));
                ExitCode::FAILURE
            }
        },
    }
}
