//! The lab VM's image: a Debian 12 root filesystem (mmdebstrap), Debian's
//! kernel with its modules (minus the hardware a VM never has), our guest
//! files, an initramfs, all cached under `target/vm/<hash of the recipe>/`
//! and rebuilt only when the recipe changes.
//!
//! The recipe is everything the image is made of: the suite, the mirrors,
//! the packages, the kernel's exact package and version, the modules left
//! out, and the content of every file we add. Its text is kept next to the
//! image as `recipe.txt`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::apt::{Apt, Kernel};
use super::{initramfs, remove_dir_all_if_exists, sh_quote, short_hash, vm_dir, Mirrors, SUITE};
use crate::process::{is_root, run_streaming, show, workspace_root};

/// The image's packages, on top of Debian's minbase variant (the
/// Essential and required packages, and apt).
pub const PACKAGES: &[&str] = &[
    "systemd-sysv",
    "udev",
    "kmod",
    "lvm2",
    "thin-provisioning-tools",
    "btrfs-progs",
    "iproute2",
    "uidmap",
    "busybox-static",
    "procps",
    "dbus",
    // /etc/pam.d/systemd-user, without which a user's systemd manager
    // (user@UID.service, for lab 2.6's delegated scope) fails to start.
    "libpam-systemd",
    // The user's session bus ($XDG_RUNTIME_DIR/bus), which enclos asks
    // the user's manager for a scope over.
    "dbus-user-session",
    // What `cargo xtask lab vm --deb` checks the package with: `man` and
    // bash's completion, as on a trainee's machine.
    "man-db",
    "bash-completion",
    // What the package recommends for enclos-net.service (the guest
    // installs it offline).
    "dnsmasq-base",
    "nftables",
    // apparmor_parser, which loads the profile that confines a container
    // (the kernel's AppArmor is on: see the lab's command line).
    "apparmor",
];

/// Module directories (under `kernel/`) left out of the image: hardware a
/// QEMU guest never has. 391 MB of modules become about 150 MB.
pub const EXCLUDED_MODULES: &[&str] = &[
    "sound",
    "drivers/gpu",
    "drivers/media",
    "drivers/net/wireless",
    "drivers/net/ethernet",
    "drivers/infiniband",
    "drivers/iio",
    "drivers/staging",
    "drivers/bluetooth",
    "drivers/isdn",
    "drivers/comedi",
    "drivers/hwmon",
    "drivers/usb",
    "drivers/scsi",
    "drivers/ata",
    "drivers/mtd",
    "drivers/mmc",
    "drivers/platform",
    "drivers/video",
    "drivers/w1",
    "net/wireless",
    "net/mac80211",
    "net/bluetooth",
];

/// The root filesystem's size (the file is sparse; each run writes to a
/// qcow2 overlay).
pub const ROOT_SIZE: &str = "2G";

/// An optional part of the lab image (`--with`), left out by default
/// because it is slow to build: each set of parts is an image flavour of
/// its own, cached under its own recipe's hash like the base image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Extra {
    /// OpenZFS: Debian's zfs-dkms (contrib) and zfsutils-linux, the module
    /// built by DKMS for the guest's kernel on this host, at image build.
    Zfs,
    /// Ceph for a one-node cluster in the guest (a monitor and an OSD,
    /// Debian's 16.2) and the rbd command; the guest gets 4 GiB.
    Ceph,
}

impl Extra {
    pub fn name(self) -> &'static str {
        match self {
            Extra::Zfs => "zfs",
            Extra::Ceph => "ceph",
        }
    }

    /// Its packages, on top of [`PACKAGES`], for the guest's kernel.
    fn packages(self, kernel: &Kernel) -> Vec<String> {
        match self {
            Extra::Zfs => vec![
                "dkms".into(),
                format!("linux-headers-{}", kernel.release()),
                "zfs-dkms".into(),
                "zfsutils-linux".into(),
            ],
            Extra::Ceph => vec!["ceph-mon".into(), "ceph-osd".into(), "ceph-common".into()],
        }
    }

    /// The archive components it needs besides main.
    fn components(self) -> &'static [&'static str] {
        match self {
            Extra::Zfs => &["contrib"],
            Extra::Ceph => &[],
        }
    }

    /// Units it masks in the guest: DKMS's boot-time build would compile
    /// the module again under the emulator.
    fn masked_units(self) -> &'static [&'static str] {
        match self {
            Extra::Zfs => &["dkms.service"],
            Extra::Ceph => &[],
        }
    }
}

/// The root filesystem's size with `extras` (the compiler and headers
/// DKMS needs stay in the image).
fn root_size(extras: &[Extra]) -> &'static str {
    if extras.is_empty() {
        ROOT_SIZE
    } else {
        "3G"
    }
}

/// The guest files of the repository, relative to the workspace.
const GUEST_BOOT: &str = "lab/guest/enclos-vm-boot";
const GUEST_SERVICE: &str = "lab/guest/enclos-vm.service";
const GUEST_INITRAMFS_INIT: &str = "lab/guest/initramfs-init";
const GUEST_GETTY: &str = "lab/guest/serial-getty-lab.conf";
const GUEST_BLACKLIST: &str = "lab/guest/modprobe-blacklist.conf";

/// Units the lab VM does not need at boot: timers that would run apt or
/// scrub filesystems, and a getty on a screen that does not exist.
const MASKED_UNITS: &[&str] = &[
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",
];

/// A file the image gets on top of the packages.
#[derive(Debug, Clone)]
pub enum GuestFile {
    File {
        path: String,
        mode: u32,
        content: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
}

impl GuestFile {
    pub fn file(path: &str, mode: u32, content: impl Into<Vec<u8>>) -> GuestFile {
        GuestFile::File {
            path: path.to_string(),
            mode,
            content: content.into(),
        }
    }

    pub fn symlink(path: &str, target: &str) -> GuestFile {
        GuestFile::Symlink {
            path: path.to_string(),
            target: target.to_string(),
        }
    }

    /// Its line in the recipe: the content by its hash.
    fn recipe_line(&self) -> String {
        match self {
            GuestFile::File {
                path,
                mode,
                content,
            } => format!("file {path} {mode:o} {}", short_hash(content)),
            GuestFile::Symlink { path, target } => format!("symlink {path} -> {target}"),
        }
    }

    /// Writes it under `root`.
    pub fn install(&self, root: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let (path, rel) = match self {
            GuestFile::File { path, .. } | GuestFile::Symlink { path, .. } => {
                (root.join(path.trim_start_matches('/')), path)
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("Cannot create {} in the image", parent.display()))?;
        }
        match self {
            GuestFile::File { mode, content, .. } => {
                std::fs::write(&path, content)
                    .with_context(|| format!("Cannot write {rel} into the image"))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))
                    .with_context(|| format!("Cannot chmod {rel} in the image"))?;
            }
            GuestFile::Symlink { target, .. } => {
                let _ = std::fs::remove_file(&path);
                std::os::unix::fs::symlink(target, &path)
                    .with_context(|| format!("Cannot make the link {rel} in the image"))?;
            }
        }
        Ok(())
    }
}

/// Reads a guest file of the repository.
pub fn repo_file(rel: &str) -> Result<Vec<u8>> {
    let path = workspace_root().join(rel);
    std::fs::read(&path).with_context(|| format!("Cannot read the guest file {}", path.display()))
}

/// What the lab image is made of.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub mirrors: Mirrors,
    pub kernel: Kernel,
    pub files: Vec<GuestFile>,
    pub initramfs_init: Vec<u8>,
    /// The optional parts, sorted: none for the base flavour.
    pub extras: Vec<Extra>,
}

impl Recipe {
    /// The lab image's recipe for `kernel`, with the guest files as the
    /// repository holds them now.
    pub fn lab(mirrors: &Mirrors, kernel: Kernel) -> Result<Recipe> {
        let mut files = vec![
            GuestFile::file(
                "/usr/local/sbin/enclos-vm-boot",
                0o755,
                repo_file(GUEST_BOOT)?,
            ),
            GuestFile::file(
                "/etc/systemd/system/enclos-vm.service",
                0o644,
                repo_file(GUEST_SERVICE)?,
            ),
            GuestFile::symlink(
                "/etc/systemd/system/multi-user.target.wants/enclos-vm.service",
                "/etc/systemd/system/enclos-vm.service",
            ),
            GuestFile::file(
                "/etc/systemd/system/serial-getty@ttyS0.service.d/enclos-lab.conf",
                0o644,
                repo_file(GUEST_GETTY)?,
            ),
            GuestFile::file(
                "/etc/modprobe.d/enclos-vm.conf",
                0o644,
                repo_file(GUEST_BLACKLIST)?,
            ),
            GuestFile::file("/etc/hostname", 0o644, "lab\n"),
            GuestFile::file(
                "/etc/hosts",
                0o644,
                "127.0.0.1\tlocalhost\n127.0.1.1\tlab\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            ),
            // Mounted read-write by the initramfs; never checked (each run
            // starts from a fresh overlay).
            GuestFile::file("/etc/fstab", 0o644, "LABEL=root / ext4 rw 0 0\n"),
        ];
        for unit in MASKED_UNITS {
            files.push(GuestFile::symlink(
                &format!("/etc/systemd/system/{unit}"),
                "/dev/null",
            ));
        }
        Ok(Recipe {
            mirrors: mirrors.clone(),
            kernel,
            files,
            initramfs_init: repo_file(GUEST_INITRAMFS_INIT)?,
            extras: Vec::new(),
        })
    }

    /// The same recipe with the optional parts `extras`.
    pub fn with_extras(mut self, extras: &[Extra]) -> Recipe {
        let mut extras = extras.to_vec();
        extras.sort();
        extras.dedup();
        for unit in extras.iter().flat_map(|e| e.masked_units()) {
            self.files.push(GuestFile::symlink(
                &format!("/etc/systemd/system/{unit}"),
                "/dev/null",
            ));
        }
        self.extras = extras;
        self
    }

    /// The flavour's line in the recipe: `flavour lab`, `flavour lab+zfs`.
    pub fn flavour_line(&self) -> String {
        let mut name = "lab".to_string();
        for extra in &self.extras {
            name.push('+');
            name.push_str(extra.name());
        }
        format!("flavour {name}")
    }

    /// The optional parts' packages.
    fn extra_packages(&self) -> Vec<String> {
        self.extras
            .iter()
            .flat_map(|e| e.packages(&self.kernel))
            .collect()
    }

    /// The optional parts' apt sources (their components of the release).
    fn extra_sources(&self) -> Vec<String> {
        let mut components: Vec<&str> = self
            .extras
            .iter()
            .flat_map(|e| e.components())
            .copied()
            .collect();
        components.sort_unstable();
        components.dedup();
        if components.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "deb {} {SUITE} {}",
            self.mirrors.mirror.trim_end_matches('/'),
            components.join(" ")
        )]
    }

    /// The recipe as text: what its hash is of.
    pub fn text(&self) -> String {
        let mut lines = vec![
            "enclos-vm-image 1".to_string(),
            self.flavour_line(),
            format!("suite {SUITE} variant minbase"),
        ];
        lines.extend(self.mirrors.sources());
        lines.extend(self.extra_sources());
        lines.push(format!("packages {}", PACKAGES.join(" ")));
        if !self.extras.is_empty() {
            lines.push(format!(
                "extra-packages {}",
                self.extra_packages().join(" ")
            ));
            if self.extras.contains(&Extra::Zfs) {
                lines.push("dkms autoinstall -k kernel".to_string());
            }
        }
        lines.push(format!(
            "kernel {} {}",
            self.kernel.package, self.kernel.version
        ));
        lines.push(format!("modules-excluded {}", EXCLUDED_MODULES.join(" ")));
        lines.push("kernel-config /boot".to_string());
        lines.push(format!(
            "initramfs {} {}",
            initramfs::MODULES.join(" "),
            short_hash(&self.initramfs_init)
        ));
        lines.push("root-password empty".to_string());
        lines.push(format!("root-size {}", root_size(&self.extras)));
        lines.extend(self.files.iter().map(GuestFile::recipe_line));
        lines.join("\n") + "\n"
    }

    pub fn hash(&self) -> String {
        short_hash(self.text().as_bytes())
    }
}

/// A built image.
#[derive(Debug, Clone)]
pub struct Image {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    /// `uname -r` in the guest.
    pub release: String,
    pub hash: String,
}

impl Image {
    fn at(dir: PathBuf, recipe: &Recipe) -> Image {
        Image {
            root: dir.join("root.img"),
            kernel: dir.join("vmlinuz"),
            initramfs: dir.join("initramfs.cpio"),
            release: recipe.kernel.release().to_string(),
            hash: recipe.hash(),
            dir,
        }
    }

    fn complete(&self) -> bool {
        [&self.root, &self.kernel, &self.initramfs]
            .iter()
            .all(|p| p.is_file())
            && self.dir.join("recipe.txt").is_file()
    }
}

/// How `ensure` goes about it.
#[derive(Debug, Clone)]
pub struct Options {
    pub mirrors: Mirrors,
    /// Fetch the package lists first (a newer kernel then means a new
    /// image).
    pub refresh: bool,
    /// Build even when the image is cached.
    pub force: bool,
    /// The optional parts (`--with`): another flavour of the image.
    pub extras: Vec<Extra>,
}

/// The lab image for `opts`: the cached one when its recipe is unchanged,
/// else a new build.
pub fn ensure(opts: &Options) -> Result<Image> {
    let vm = vm_dir();
    let apt = Apt::new(&vm, &opts.mirrors)?;
    let mut refreshed = false;
    if opts.refresh || !apt.has_lists() {
        apt.update()?;
        refreshed = true;
    }
    let mut recipe = Recipe::lab(&opts.mirrors, apt.resolve_kernel()?)?.with_extras(&opts.extras);
    let mut image = Image::at(vm.join(recipe.hash()), &recipe);
    if image.complete() && !opts.force {
        println!(
            "==> vm: image {} is up to date ({}, {} {})",
            image.dir.display(),
            SUITE,
            recipe.kernel.package,
            recipe.kernel.version
        );
        return Ok(image);
    }
    if !refreshed {
        // A build: with the mirror's current kernel (the one of the old
        // lists may be gone from it).
        apt.update()?;
        recipe = Recipe::lab(&opts.mirrors, apt.resolve_kernel()?)?.with_extras(&opts.extras);
        image = Image::at(vm.join(recipe.hash()), &recipe);
        if image.complete() && !opts.force {
            println!("==> vm: image {} is up to date", image.dir.display());
            return Ok(image);
        }
    }
    build(&apt, &recipe, &image)?;
    Ok(image)
}

/// Builds `image` from `recipe` in a scratch directory next to it, then
/// renames it into place, so a failed or interrupted build leaves no
/// image that looks complete.
fn build(apt: &Apt, recipe: &Recipe, image: &Image) -> Result<()> {
    if !is_root() {
        bail!(
            "Building the lab VM's image needs root (mmdebstrap --mode=root, chroot, files owned \
             by the guest's users): run `cargo xtask vm build` as root once, e.g. sudo env \
             \"PATH=$PATH\" cargo xtask vm build; later runs use the cached image"
        );
    }
    let started = Instant::now();
    let vm = vm_dir();
    let partial = image.dir.with_extension("partial");
    remove_dir_all_if_exists(&partial)?;
    let _cleanup = RemoveOnDrop(partial.clone());
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("Cannot create {}", partial.display()))?;
    println!(
        "==> vm: building the lab image {} ({}, {SUITE}, {} {}; recipe in recipe.txt)",
        image.hash,
        recipe.flavour_line(),
        recipe.kernel.package,
        recipe.kernel.version
    );

    let rootfs = partial.join("rootfs");
    step(1, "root filesystem (mmdebstrap)");
    bootstrap_flavour(recipe, &rootfs, &vm)?;

    step(2, "kernel and modules");
    let deb = apt.download_kernel(&recipe.kernel, &vm.join("debs/kernel"))?;
    install_kernel(&deb, &recipe.kernel, &rootfs, &partial.join("vmlinuz"))?;
    if recipe.extras.contains(&Extra::Zfs) {
        build_dkms_modules(&rootfs, recipe.kernel.release())?;
    }

    step(3, "guest files, depmod");
    for file in &recipe.files {
        file.install(&rootfs)?;
    }
    empty_root_password(&rootfs)?;
    chroot(&rootfs, &["depmod", recipe.kernel.release()])?;

    step(4, "initramfs");
    let (cpio, modules) =
        initramfs::build(&rootfs, recipe.kernel.release(), &recipe.initramfs_init)?;
    std::fs::write(partial.join("initramfs.cpio"), &cpio)
        .with_context(|| format!("Cannot write {}", partial.join("initramfs.cpio").display()))?;
    println!(
        "    initramfs: {} KiB, modules {}",
        cpio.len() / 1024,
        modules.join(" ")
    );

    step(5, "disk image (mkfs.ext4 -d)");
    mkfs_ext4(
        &rootfs,
        &partial.join("root.img"),
        root_size(&recipe.extras),
        None,
    )?;
    remove_dir_all_if_exists(&rootfs)?;
    std::fs::write(partial.join("recipe.txt"), recipe.text())
        .with_context(|| format!("Cannot write {}", partial.join("recipe.txt").display()))?;

    remove_dir_all_if_exists(&image.dir)?;
    std::fs::rename(&partial, &image.dir).with_context(|| {
        format!(
            "Cannot rename {} to {}",
            partial.display(),
            image.dir.display()
        )
    })?;
    prune_other_images(&vm, &image.dir, &recipe.flavour_line());
    println!(
        "==> vm: image ready in {} (built in {})",
        image.dir.display(),
        super::secs(started.elapsed())
    );
    Ok(())
}

/// The root filesystem of `recipe`'s flavour: [`PACKAGES`] and its
/// optional parts' packages, from its sources (the parts' components
/// added), each flavour with its own package cache under `vm`.
fn bootstrap_flavour(recipe: &Recipe, rootfs: &Path, vm: &Path) -> Result<()> {
    let extra_packages = recipe.extra_packages();
    let mut packages = PACKAGES.to_vec();
    packages.extend(extra_packages.iter().map(String::as_str));
    let extra_options: Vec<String> = recipe
        .extra_sources()
        .iter()
        .map(|line| {
            format!(
                "--setup-hook=echo {} >> \"$1\"/etc/apt/sources.list",
                sh_quote(line)
            )
        })
        .collect();
    let cache = if recipe.extras.is_empty() {
        vm.join("debs/lab")
    } else {
        vm.join(format!(
            "debs/{}",
            recipe.flavour_line().trim_start_matches("flavour ")
        ))
    };
    bootstrap(rootfs, &recipe.mirrors, &packages, &cache, &extra_options)
}

fn step(n: u32, what: &str) {
    println!("==> vm build [{n}/5]: {what}");
}

/// Removes a scratch directory when dropped (a build that fails).
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = remove_dir_all_if_exists(&self.0) {
            eprintln!("warning: {e:#}; remove it by hand");
        }
    }
}

/// Debian's minbase plus `packages` into `rootfs` with mmdebstrap (as
/// root, into a directory), with `extra` options. Downloaded packages are
/// kept in `cache` and reused by the next build.
pub fn bootstrap(
    rootfs: &Path,
    mirrors: &Mirrors,
    packages: &[&str],
    cache: &Path,
    extra: &[String],
) -> Result<()> {
    let fresh = cache.with_extension("new");
    remove_dir_all_if_exists(&fresh)?;
    for dir in [cache, &fresh] {
        std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    }
    let q = |p: &Path| sh_quote(&p.to_string_lossy());
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--mode=root", "--variant=minbase"])
        .arg(format!("--include={}", packages.join(",")))
        .arg("--skip=essential/unlink")
        .arg("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/")
        .arg(format!(
            "--setup-hook=sync-in {} /var/cache/apt/archives/",
            q(cache)
        ))
        .arg(format!(
            "--customize-hook=sync-out /var/cache/apt/archives {}",
            q(&fresh)
        ))
        .args(extra)
        .arg(SUITE)
        .arg(rootfs)
        .args(mirrors.sources());
    println!("    {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&fresh);
        bail!(
            "mmdebstrap failed ({status}) building the image's root filesystem in {}: see its \
             output above; check the mirrors ({}) or pick another with --mirror",
            rootfs.display(),
            mirrors.mirror
        );
    }
    // Only what this build used stays cached.
    let _ = std::fs::remove_file(fresh.join("lock"));
    let _ = std::fs::remove_dir(fresh.join("partial"));
    remove_dir_all_if_exists(cache)?;
    std::fs::rename(&fresh, cache)
        .with_context(|| format!("Cannot rename {} to {}", fresh.display(), cache.display()))?;
    Ok(())
}

/// Unpacks Debian's kernel package `deb`: its kernel to `vmlinuz`, its
/// modules (minus [`EXCLUDED_MODULES`]) into `rootfs`, and its config to
/// `rootfs/boot/config-RELEASE`, where a Debian system has it (`enclos
/// checkconfig` reads it).
fn install_kernel(deb: &Path, kernel: &Kernel, rootfs: &Path, vmlinuz: &Path) -> Result<()> {
    let release = kernel.release();
    let unpacked = rootfs.parent().unwrap_or(rootfs).join("kernel-package");
    remove_dir_all_if_exists(&unpacked)?;
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(deb).arg(&unpacked);
    println!("    {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}): the cached package may be damaged; remove {} and build \
             again",
            show(&cmd),
            deb.display()
        );
    }
    let boot = unpacked.join("boot").join(format!("vmlinuz-{release}"));
    std::fs::rename(&boot, vmlinuz).with_context(|| {
        format!(
            "{} holds no boot/vmlinuz-{release}: is {} a kernel image package?",
            deb.display(),
            kernel.package
        )
    })?;
    let config = format!("boot/config-{release}");
    std::fs::create_dir_all(rootfs.join("boot"))
        .with_context(|| format!("Cannot create {}", rootfs.join("boot").display()))?;
    std::fs::copy(unpacked.join(&config), rootfs.join(&config))
        .with_context(|| format!("{} holds no {config}", deb.display()))?;
    let modules = ["usr/lib/modules", "lib/modules"]
        .iter()
        .map(|d| unpacked.join(d).join(release))
        .find(|d| d.is_dir())
        .with_context(|| format!("{} holds no modules for {release}", deb.display()))?;
    for excluded in EXCLUDED_MODULES {
        remove_dir_all_if_exists(&modules.join("kernel").join(excluded))?;
    }
    let target = rootfs.join("usr/lib/modules");
    std::fs::create_dir_all(&target)
        .with_context(|| format!("Cannot create {}", target.display()))?;
    keep_packaged_modules(&target.join(release), &modules)?;
    std::fs::rename(&modules, target.join(release))
        .with_context(|| format!("Cannot move the modules into {}", target.display()))?;
    remove_dir_all_if_exists(&unpacked)?;
    Ok(())
}

/// Moves what packages put in the image's modules directory `installed`
/// (the headers' `build` link, DKMS's `updates/`) into the kernel's
/// unpacked modules directory `modules`, which then takes its place.
fn keep_packaged_modules(installed: &Path, modules: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(installed) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let to = modules.join(entry.file_name());
        if to.symlink_metadata().is_err() {
            std::fs::rename(entry.path(), &to).with_context(|| {
                format!(
                    "Cannot move {} into the kernel's modules",
                    entry.path().display()
                )
            })?;
        }
    }
    remove_dir_all_if_exists(installed)
}

/// Builds and installs the DKMS modules of the image's packages for the
/// guest's kernel `release` (not this host's), in a chroot with its own
/// /proc, in a mount namespace that ends with the build. The build tree
/// is then removed (only the modules are needed).
fn build_dkms_modules(rootfs: &Path, release: &str) -> Result<()> {
    let root = sh_quote(&rootfs.to_string_lossy());
    let script = format!(
        "set -e; mount -t proc proc {root}/proc; \
         chroot {root} dkms autoinstall -k {release} || \
         {{ tail -n 60 {root}/var/lib/dkms/*/*/build/make.log; exit 1; }}; \
         chroot {root} dkms status -k {release}; \
         rm -rf {root}/var/lib/dkms/*/*/build"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    let started = Instant::now();
    println!("    {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if !status.success() {
        bail!(
            "Building the DKMS modules for the guest's kernel {release} failed ({status}): see the \
             output above (the end of DKMS's make.log)"
        );
    }
    let built = ["usr/lib/modules", "lib/modules"]
        .iter()
        .map(|d| rootfs.join(d).join(release).join("updates/dkms"))
        .any(|d| d.is_dir());
    if !built {
        bail!(
            "DKMS built nothing for the guest's kernel {release} (no updates/dkms in its modules)"
        );
    }
    println!(
        "    DKMS modules built in {}",
        super::secs(started.elapsed())
    );
    Ok(())
}

/// Lets root log in on the VM's console without a password (a throwaway
/// machine with no network).
fn empty_root_password(rootfs: &Path) -> Result<()> {
    let shadow = rootfs.join("etc/shadow");
    let text = std::fs::read_to_string(&shadow)
        .with_context(|| format!("Cannot read {}", shadow.display()))?;
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split(':').collect();
            if fields.len() > 1 && fields[0] == "root" {
                fields[1] = "";
            }
            fields.join(":")
        })
        .collect();
    std::fs::write(&shadow, text.join("\n") + "\n")
        .with_context(|| format!("Cannot write {}", shadow.display()))
}

/// Runs `args` inside `rootfs` with chroot.
pub fn chroot(rootfs: &Path, args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("chroot");
    cmd.arg(rootfs).args(args);
    println!("    {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}) in the image's root filesystem",
            show(&cmd)
        );
    }
    Ok(())
}

/// An ext4 filesystem labelled `root` holding `rootfs`, in the file
/// `out` (`size` as mkfs takes it: 2G), with no loop device or mount;
/// `offset` places it inside a partitioned disk image.
pub fn mkfs_ext4(rootfs: &Path, out: &Path, size: &str, offset: Option<u64>) -> Result<()> {
    let mut cmd = Command::new("mkfs.ext4");
    cmd.args(["-q", "-F", "-L", "root"]);
    if let Some(offset) = offset {
        cmd.arg("-E").arg(format!("offset={offset}"));
    }
    cmd.arg("-d").arg(rootfs).arg(out).arg(size);
    println!("    {}", show(&cmd));
    let status = run_streaming(&mut cmd)?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}): the root filesystem may not fit in {size}",
            show(&cmd)
        );
    }
    Ok(())
}

/// Removes the images under `vm` (other than `keep`) whose recipe starts
/// with the same flavour line: an image is about 500 MB.
pub fn prune_other_images(vm: &Path, keep: &Path, flavour_line: &str) {
    let Ok(entries) = std::fs::read_dir(vm) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir == keep {
            continue;
        }
        let same_flavour = std::fs::read_to_string(dir.join("recipe.txt"))
            .map(|r| r.lines().any(|l| l == flavour_line))
            .unwrap_or(false);
        if same_flavour {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => println!("==> vm: removed the outdated image {}", dir.display()),
                Err(e) => eprintln!(
                    "warning: cannot remove the outdated image {}: {e}; remove it by hand",
                    dir.display()
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_hash_follows_the_kernel_and_the_files() {
        let mirrors = Mirrors::default();
        let kernel = Kernel {
            package: "linux-image-6.1.0-56-amd64".into(),
            version: "6.1.192-2".into(),
        };
        let a = Recipe::lab(&mirrors, kernel.clone()).unwrap();
        let mut b = a.clone();
        assert_eq!(a.hash(), b.hash());
        b.kernel.version = "6.1.193-1".into();
        assert_ne!(a.hash(), b.hash());
        let mut c = a.clone();
        c.files.push(GuestFile::file("/etc/motd", 0o644, "hi\n"));
        assert_ne!(a.hash(), c.hash());
        assert!(a
            .text()
            .contains("kernel linux-image-6.1.0-56-amd64 6.1.192-2"));
        assert_eq!(kernel.release(), "6.1.0-56-amd64");
    }

    #[test]
    fn an_optional_part_is_a_flavour_of_its_own() {
        let kernel = Kernel {
            package: "linux-image-6.1.0-56-amd64".into(),
            version: "6.1.192-2".into(),
        };
        let base = Recipe::lab(&Mirrors::default(), kernel).unwrap();
        let zfs = base.clone().with_extras(&[Extra::Zfs, Extra::Zfs]);
        assert_eq!(base.flavour_line(), "flavour lab");
        assert_eq!(zfs.flavour_line(), "flavour lab+zfs");
        assert_ne!(base.hash(), zfs.hash());
        assert!(!base.text().contains("contrib"));
        let text = zfs.text();
        assert!(
            text.contains("deb http://deb.debian.org/debian bookworm contrib\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "extra-packages dkms linux-headers-6.1.0-56-amd64 zfs-dkms zfsutils-linux\n"
            ),
            "{text}"
        );
        assert!(text.contains("symlink /etc/systemd/system/dkms.service -> /dev/null"));
        assert!(text.contains("root-size 3G"));
    }

    #[test]
    fn packaged_files_in_the_modules_directory_are_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-modules-{}", std::process::id()));
        let installed = dir.join("installed");
        let unpacked = dir.join("unpacked");
        std::fs::create_dir_all(installed.join("updates/dkms")).unwrap();
        std::fs::write(installed.join("updates/dkms/zfs.ko"), "ko").unwrap();
        std::fs::create_dir_all(unpacked.join("kernel")).unwrap();
        keep_packaged_modules(&installed, &unpacked).unwrap();
        assert!(unpacked.join("updates/dkms/zfs.ko").is_file());
        assert!(unpacked.join("kernel").is_dir());
        assert!(!installed.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
