//! `enclos export` and `enclos import`: a container to a `.tar.zst` and
//! back, with a progress bar when standard error is a terminal.

use std::fs::{self, File};
use std::io::{BufWriter, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use enclos_container as container;
use enclos_snapshot::{Compression, ExportOptions, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The container.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: String,
    /// The archive to write (default: NAME.tar.zst; - for standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Take the container's snapshots along.
    #[arg(short = 's', long = "snapshots")]
    snapshots: bool,
    /// zstd's compression level (1 fastest, 19 smallest); 0 writes a plain tar.
    #[arg(long = "level", default_value_t = 3, value_parser = clap::value_parser!(i32).range(0..=19))]
    level: i32,
    /// The directory holding the containers.
    #[arg(short = 'P', long = "lxcpath", value_name = "PATH")]
    lxcpath: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive: an export, or a plain tar (.tar, .tar.gz, .tar.zst) of
    /// config and rootfs; - for standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The new container's name (default: the exported container's).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: Option<String>,
    /// The directory holding the containers.
    #[arg(short = 'P', long = "lxcpath", value_name = "PATH")]
    lxcpath: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
}

fn lxcpath(p: &Option<PathBuf>) -> PathBuf {
    p.clone().unwrap_or_else(container::default_lxcpath)
}

/// A byte progress bar on standard error when it is a terminal: a bar
/// once `total` is known, bytes and a spinner until then (an import from
/// standard input of a plain tar never knows it).
fn bar(quiet: bool, verb: &'static str, total: Option<u64>) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    bar.set_style(style(total.is_some()));
    bar.set_message(verb);
    Some(bar)
}

/// The bar's look: a bar with its total, or a spinner with the bytes.
fn style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Moves `bar` as a long export or import reports its progress.
fn on_progress(bar: Option<ProgressBar>) -> impl FnMut(Progress) {
    move |p: Progress| {
        if let Some(b) = &bar {
            if let Some(total) = p.total.filter(|&t| b.length() != Some(t)) {
                b.set_length(total);
                b.set_style(style(true));
            }
            b.set_position(p.done);
        }
    }
}

/// A file written beside its final name and renamed at the end, removed
/// if dropped before: a failed export leaves no half archive.
struct Partial {
    tmp: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl ExportArgs {
    pub fn run(self) -> Result<ExitCode> {
        let c = container::Container::open(&lxcpath(&self.lxcpath), &self.name)?;
        let output = self
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.tar.zst", self.name)));
        let to_stdout = output == Path::new("-");
        let opts = ExportOptions {
            archive: output.display().to_string(),
            compression: match self.level {
                0 => Compression::None,
                level => Compression::Zstd { level },
            },
            threads: std::thread::available_parallelism().map_or(0, |n| n.get().min(4) as u32),
        };
        let bar = bar(self.quiet, "exporting", None);
        let mut progress = on_progress(bar.clone());
        let what = || format!("Cannot export container '{}'", self.name);
        let summary = if to_stdout {
            let out = BufWriter::new(std::io::stdout().lock());
            container::export(&c, out, self.snapshots, &opts, &mut progress).with_context(what)?
        } else {
            let name = output.file_name().map(|n| n.to_string_lossy().into_owned());
            let tmp = output.with_file_name(format!(".{}.partial", name.unwrap_or_default()));
            let mut partial = Partial { tmp, done: false };
            let file = File::create(&partial.tmp)
                .with_context(|| format!("Cannot create {}", partial.tmp.display()))
                .with_context(what)?;
            let mut out = BufWriter::new(file);
            let s = container::export(&c, &mut out, self.snapshots, &opts, &mut progress)
                .with_context(what)?;
            out.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("Cannot write {}", partial.tmp.display()))?;
            fs::rename(&partial.tmp, &output)
                .with_context(|| format!("Cannot rename the archive to {}", output.display()))?;
            partial.done = true;
            s
        };
        drop(progress);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if !self.quiet {
            let line = format!(
                "Exported {} to {} ({} bytes of data, sha256 {})",
                self.name,
                output.display(),
                summary.payload_bytes,
                summary.sha256
            );
            if to_stdout {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            for s in &summary.skipped {
                eprintln!(
                    "note: socket {} left out (tar cannot hold one)",
                    s.display()
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl ImportArgs {
    pub fn run(self) -> Result<ExitCode> {
        let lxcpath = lxcpath(&self.lxcpath);
        let stdin = self.file == Path::new("-");
        let archive = self.file.display().to_string();
        let name = match (&self.name, stdin) {
            (Some(n), _) => n.clone(),
            (None, true) => bail!("Cannot import from standard input without a name: give the new container's name with -n"),
            (None, false) => {
                let f = open(&self.file)?;
                match enclos_snapshot::read_manifest(f, &archive)? {
                    Some(m) => m.name,
                    None => bail!(
                        "Cannot import {archive}: it is a plain tar, which holds no container name; give one with -n"
                    ),
                }
            }
        };
        // From a file, the bar follows the bytes read of it; from
        // standard input, the data unpacked (an export's manifest gives
        // its total).
        let (input, bar): (Box<dyn Read>, _) = if stdin {
            let bar = bar(self.quiet, "importing", None);
            (Box::new(std::io::stdin().lock()), bar)
        } else {
            let file = open(&self.file)?;
            let len = file.metadata().map(|m| m.len()).ok();
            match bar(self.quiet, "importing", len) {
                Some(b) => (Box::new(b.wrap_read(file)), Some(b)),
                None => (Box::new(file), None),
            }
        };
        let mut progress = on_progress(if stdin { bar.clone() } else { None });
        let (c, imported, notes) =
            container::import(&lxcpath, &name, input, &archive, &mut progress)
                .with_context(|| format!("Cannot import {archive} as container '{name}'"))?;
        drop(progress);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        for note in notes {
            eprintln!("enclos: {note}");
        }
        if !self.quiet {
            let snaps = if imported.snapshots.is_empty() {
                String::new()
            } else {
                format!(", with {}", imported.snapshots.join(" "))
            };
            let checked = match imported.format {
                enclos_snapshot::Format::Export => "checksum verified",
                enclos_snapshot::Format::PlainTar => "plain tar, no checksum to verify",
            };
            println!(
                "Imported {name} into {} ({checked}{snaps})",
                c.dir().display()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("Cannot open the archive {}", path.display()))
}
