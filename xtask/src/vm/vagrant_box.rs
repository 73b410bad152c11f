//! `cargo xtask vm box`: Debian 12 with enclos and the labs, packaged as
//! a Vagrant box for the libvirt provider, for classrooms without a
//! network: sshd, the `vagrant` user (password `vagrant`, passwordless
//! sudo) with Vagrant's well-known insecure public keys, DHCP on eth0.
//!
//! The root filesystem comes from mmdebstrap (with Debian's kernel, GRUB
//! and initramfs-tools this time), goes into partition 1 of a disk image
//! whose MBR is written here, with no loop device or mount on the host;
//! then the lab VM boots with that disk attached and installs GRUB on it
//! from a chroot (`lab/guest/payload-box.sh`). The disk becomes the box's
//! qcow2 image, next to its metadata.json and Vagrantfile, in a tar file.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::image::{self, chroot, repo_file, GuestFile, RemoveOnDrop, PACKAGES};
use super::lab::{copy_dir, overlay_on, remove_stale_runs, RunDir};
use super::qemu::{self, AccelChoice, Disk, Machine, Watch};
use super::{remove_dir_all_if_exists, secs, vm_dir, ImageArgs};
use crate::deps;
use crate::process::{build_enclos_release, is_root, run_streaming, show, workspace_root};

/// Vagrant's insecure public keys (RSA, and ED25519 since Vagrant 2.3.8),
/// as Vagrant publishes them (keys/vagrant.pub): a box holds them so that
/// `vagrant up` can log in, and Vagrant replaces them on first boot.
pub const VAGRANT_INSECURE_KEYS: &str = "\
ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key
";

/// The box's packages on top of the lab image's: a bootable, reachable
/// machine.
const BOX_PACKAGES: &[&str] = &[
    "grub-pc",
    "initramfs-tools",
    "openssh-server",
    "sudo",
    "ifupdown",
    "isc-dhcp-client",
    "rsync",
    "less",
    "nano",
];

/// Module directories left out of the box's kernel (dpkg never unpacks
/// them): hardware a libvirt guest does not have.
const BOX_EXCLUDED_MODULES: &[&str] = &[
    "sound",
    "drivers/media",
    "drivers/net/wireless",
    "drivers/infiniband",
    "drivers/iio",
    "drivers/staging",
    "drivers/bluetooth",
    "drivers/isdn",
    "drivers/comedi",
    "net/wireless",
    "net/mac80211",
    "net/bluetooth",
];

/// Where partition 1 starts: 1 MiB, the usual alignment, which leaves GRUB
/// its room after the MBR.
const PARTITION_OFFSET: u64 = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub image: ImageArgs,
    /// The box file to write (default: target/vm/enclos-debian12-libvirt.box).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The box's disk size, in GiB.
    #[arg(long, default_value_t = 8, value_name = "GIB")]
    pub disk_gib: u64,
    /// The accelerator of the VM that installs GRUB.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto, env = "ENCLOS_VM_ACCEL")]
    pub accel: AccelChoice,
    /// Show that VM's console as it runs.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(args: &Args) -> Result<()> {
    deps::ensure("The Vagrant box", deps::VM)?;
    check_can_build(args)?;
    let started = Instant::now();
    let enclos = build_enclos_release()?;
    // The lab image: its kernel is the box's, and it boots to install GRUB.
    let lab_image = image::ensure(&args.image.options(false))?;
    let vm = vm_dir();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| vm.join("enclos-debian12-libvirt.box"));

    let scratch = vm.join("box.partial");
    remove_dir_all_if_exists(&scratch)?;
    let _cleanup = RemoveOnDrop(scratch.clone());
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("Cannot create {}", scratch.display()))?;

    println!("==> vm box [1/5]: root filesystem (mmdebstrap, with the kernel, GRUB and sshd)");
    let rootfs = scratch.join("rootfs");
    bootstrap_rootfs(&rootfs, &lab_image, args)?;

    println!("==> vm box [2/5]: the vagrant user, sshd, DHCP on eth0, enclos and lab/");
    customize(&rootfs, &enclos)?;

    println!(
        "==> vm box [3/5]: the disk ({} GiB, MBR, ext4 in partition 1)",
        args.disk_gib
    );
    let disk = scratch.join("disk.raw");
    make_disk(&rootfs, &disk, args.disk_gib << 30)?;
    remove_dir_all_if_exists(&rootfs)?;

    println!("==> vm box [4/5]: GRUB, installed from inside the lab VM");
    install_grub(&lab_image, &disk, args)?;

    println!("==> vm box [5/5]: the box (qcow2, metadata.json, Vagrantfile)");
    package_box(&scratch, &disk, &output, args.disk_gib)?;
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    println!(
        "==> vm box: {} ({} MB) in {}. Add it and use it with:\n    \
         vagrant box add --name enclos/debian12 {}\n    \
         cd vagrant && ENCLOS_BOX=enclos/debian12 vagrant up --provider=libvirt",
        output.display(),
        size >> 20,
        secs(started.elapsed()),
        output.display()
    );
    Ok(())
}

/// Fails unless this run can build the box: root, and a disk of 2 GiB or
/// more.
fn check_can_build(args: &Args) -> Result<()> {
    if !is_root() {
        bail!(
            "Packaging the Vagrant box needs root (mmdebstrap --mode=root, chroot, files owned \
             by the guest's users): run it again as root, e.g. sudo env \"PATH=$PATH\" cargo \
             xtask vm box"
        );
    }
    if args.disk_gib < 2 {
        bail!(
            "A box disk of {} GiB is too small: give --disk-gib 2 or more",
            args.disk_gib
        );
    }
    Ok(())
}

/// The box's root filesystem: the lab image's packages, the box's, and
/// the lab image's kernel, without the modules of [`BOX_EXCLUDED_MODULES`].
fn bootstrap_rootfs(rootfs: &Path, lab_image: &image::Image, args: &Args) -> Result<()> {
    let kernel_package = format!("linux-image-{}", lab_image.release);
    let mut packages: Vec<&str> = PACKAGES.to_vec();
    packages.extend(BOX_PACKAGES);
    packages.push(&kernel_package);
    let mut extra = Vec::new();
    for dir in BOX_EXCLUDED_MODULES {
        for prefix in ["/lib/modules", "/usr/lib/modules"] {
            extra.push(format!("--dpkgopt=path-exclude={prefix}/*/kernel/{dir}/*"));
        }
    }
    image::bootstrap(
        rootfs,
        &args.image.mirrors(),
        &packages,
        &vm_dir().join("debs/box"),
        &extra,
    )
}

/// The disk image `disk` of `disk_bytes`: an MBR, and `rootfs` as ext4 in
/// its partition 1.
fn make_disk(rootfs: &Path, disk: &Path, disk_bytes: u64) -> Result<()> {
    write_disk(disk, disk_bytes)?;
    image::mkfs_ext4(
        rootfs,
        disk,
        &format!("{}k", (disk_bytes - PARTITION_OFFSET) / 1024),
        Some(PARTITION_OFFSET),
    )
}

/// The box file `output`: `disk` as compressed qcow2, with the box's
/// metadata.json and Vagrantfile, in a tar file (made in `scratch`).
fn package_box(scratch: &Path, disk: &Path, output: &Path, disk_gib: u64) -> Result<()> {
    let mut convert = Command::new("qemu-img");
    convert
        .args(["convert", "-c", "-O", "qcow2"])
        .arg(disk)
        .arg(scratch.join("box.img"));
    println!("    {}", show(&convert));
    checked(&mut convert)?;
    std::fs::remove_file(disk).with_context(|| format!("Cannot remove {}", disk.display()))?;
    std::fs::write(
        scratch.join("metadata.json"),
        format!(
            "{{\"provider\": \"libvirt\", \"format\": \"qcow2\", \"virtual_size\": {disk_gib}}}\n"
        ),
    )
    .context("Cannot write the box's metadata.json")?;
    std::fs::write(scratch.join("Vagrantfile"), BOX_VAGRANTFILE)
        .context("Cannot write the box's Vagrantfile")?;
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("Cannot create {}", parent.display()))?;
    }
    let mut tar = Command::new("tar");
    tar.arg("-cf").arg(output).arg("-C").arg(scratch).args([
        "metadata.json",
        "Vagrantfile",
        "box.img",
    ]);
    println!("    {}", show(&tar));
    checked(&mut tar)
}

/// The box's own Vagrantfile (defaults for machines made from it).
const BOX_VAGRANTFILE: &str = r#"# Defaults of the enclos Debian 12 box (cargo xtask vm box).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "kvm"
    libvirt.disk_bus = "virtio"
    libvirt.memory = 2048
    libvirt.cpus = 2
  end
end
"#;

/// The files and users that make the box a Vagrant machine and a course
/// machine.
fn customize(rootfs: &Path, enclos: &Path) -> Result<()> {
    let binary = std::fs::read(enclos)
        .with_context(|| format!("Cannot read the enclos binary {}", enclos.display()))?;
    let files = [
        GuestFile::file("/etc/hostname", 0o644, "enclos-lab\n"),
        GuestFile::file(
            "/etc/hosts",
            0o644,
            "127.0.0.1\tlocalhost\n127.0.1.1\tenclos-lab\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        ),
        GuestFile::file("/etc/fstab", 0o644, "LABEL=root / ext4 errors=remount-ro 0 1\n"),
        GuestFile::file(
            "/etc/network/interfaces",
            0o644,
            "# The box's network (cargo xtask vm box): DHCP on eth0.\n\
             source /etc/network/interfaces.d/*\n\n\
             auto lo\niface lo inet loopback\n\n\
             allow-hotplug eth0\niface eth0 inet dhcp\n",
        ),
        GuestFile::file(
            "/etc/default/grub",
            0o644,
            "# The box's boot (cargo xtask vm box): eth0 by its old name, the console\n\
             # on the screen and on the serial port.\n\
             GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\n\
             GRUB_DISTRIBUTOR=Debian\n\
             GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n\
             GRUB_CMDLINE_LINUX=\"net.ifnames=0 biosdevname=0 console=tty0 console=ttyS0,115200n8\"\n\
             GRUB_TERMINAL=\"console serial\"\n\
             GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n",
        ),
        GuestFile::file(
            "/etc/sudoers.d/vagrant",
            0o440,
            "vagrant ALL=(ALL) NOPASSWD: ALL\n",
        ),
        GuestFile::file("/etc/ssh/sshd_config.d/vagrant.conf", 0o644, "UseDNS no\n"),
        // Each machine gets its own host keys on its first boot.
        GuestFile::file(
            "/etc/systemd/system/ssh.service.d/host-keys.conf",
            0o644,
            "[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n",
        ),
        GuestFile::file("/usr/local/bin/enclos", 0o755, binary),
    ];
    for file in &files {
        file.install(rootfs)?;
    }
    chroot(
        rootfs,
        &["useradd", "-m", "-s", "/bin/bash", "-G", "sudo", "vagrant"],
    )?;
    chroot(rootfs, &["sh", "-c", "echo vagrant:vagrant | chpasswd"])?;
    GuestFile::file(
        "/home/vagrant/.ssh/authorized_keys",
        0o600,
        VAGRANT_INSECURE_KEYS,
    )
    .install(rootfs)?;
    chroot(rootfs, &["chmod", "700", "/home/vagrant/.ssh"])?;
    chroot(
        rootfs,
        &["chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh"],
    )?;
    chroot(rootfs, &["sh", "-c", "rm -f /etc/ssh/ssh_host_*"])?;
    copy_dir(
        &workspace_root().join("lab"),
        &rootfs.join("opt/enclos/lab"),
    )?;
    remove_dir_all_if_exists(&rootfs.join("opt/enclos/lab/guest"))?;
    GuestFile::symlink("/home/vagrant/lab", "/opt/enclos/lab").install(rootfs)?;
    Ok(())
}

/// A sparse disk image of `bytes` with an MBR holding one bootable Linux
/// partition from [`PARTITION_OFFSET`] to the end.
fn write_disk(path: &Path, bytes: u64) -> Result<()> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("Cannot create {}", path.display()))?;
    file.set_len(bytes)
        .with_context(|| format!("Cannot size {}", path.display()))?;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&mbr(bytes)))
        .with_context(|| format!("Cannot write the MBR of {}", path.display()))
}

/// The MBR of a disk of `bytes`: partition 1, type 0x83 (Linux), active,
/// from sector 2048 to the end (LBA only: the CHS fields say "beyond").
fn mbr(bytes: u64) -> [u8; 512] {
    let mut mbr = [0u8; 512];
    let start = (PARTITION_OFFSET / 512) as u32;
    let sectors = u32::try_from(bytes / 512 - u64::from(start)).unwrap_or(u32::MAX);
    // A fixed disk signature: the box is the same every time.
    mbr[440..444].copy_from_slice(&0x656e_636c_u32.to_le_bytes());
    let entry = &mut mbr[446..462];
    entry[0] = 0x80;
    entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[4] = 0x83;
    entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[8..12].copy_from_slice(&start.to_le_bytes());
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    mbr
}

/// Boots the lab image (plain init) with the box's disk attached, and
/// installs GRUB on that disk from inside.
fn install_grub(lab_image: &image::Image, disk: &Path, args: &Args) -> Result<()> {
    let runs = vm_dir().join("runs");
    remove_stale_runs(&runs);
    let run = RunDir::create(&runs.join(format!("box-{}", std::process::id())))?;
    let accel = qemu::choose_accel(lab_image, args.accel, &run.0)?;
    let share = run.0.join("share");
    std::fs::create_dir_all(&share)
        .with_context(|| format!("Cannot create {}", share.display()))?;
    std::fs::write(
        share.join("payload.sh"),
        repo_file("lab/guest/payload-box.sh")?,
    )
    .context("Cannot write the VM's payload")?;
    let overlay = run.0.join("root.qcow2");
    overlay_on(lab_image, &overlay)?;
    let machine = Machine {
        kernel: lab_image.kernel.clone(),
        initramfs: lab_image.initramfs.clone(),
        cmdline: "console=ttyS0 panic=-1 enclos.lab enclos.cgroup=v2 \
                  init=/usr/local/sbin/enclos-vm-boot"
            .into(),
        accel,
        memory_mib: 1024,
        cpus: 2,
        cpu_model: None,
        disks: vec![
            Disk {
                id: "root",
                path: overlay,
                format: "qcow2",
                readonly: false,
            },
            Disk {
                id: "box",
                path: disk.to_path_buf(),
                format: "raw",
                readonly: false,
            },
        ],
        share: Some(share),
        console: run.0.join("console.log"),
        results: run.0.join("results.txt"),
        qemu_log: run.0.join("qemu.log"),
    };
    let watch = Watch {
        start_marker: "ENCLOS_VM_START",
        end_marker: "ENCLOS_LAB_EXIT=",
        boot_timeout: Duration::from_secs(300),
        timeout: Duration::from_secs(900),
        verbose: args.verbose,
    };
    let outcome = qemu::run(&machine, &watch, &mut |_| {})?;
    if outcome.exit_code == Some(0) {
        println!("    GRUB installed ({} in the VM)", secs(outcome.elapsed));
        return Ok(());
    }
    println!("---- last lines of the console ----");
    println!("{}", qemu::tail(&machine.console, 40));
    println!("---- end of the console ----");
    let why = match (&outcome.killed, outcome.exit_code) {
        (Some(reason), _) => reason.clone(),
        (None, Some(rc)) => format!("the GRUB installation exited with {rc}"),
        (None, None) => "the VM stopped before the GRUB installation ended".into(),
    };
    bail!(
        "Cannot make the box's disk bootable: {why}; the console's last lines are above (the \
         payload is lab/guest/payload-box.sh)"
    )
}

/// Runs `cmd` streamed; fails with its command line when it fails.
fn checked(cmd: &mut Command) -> Result<()> {
    let status = run_streaming(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbr_has_one_bootable_linux_partition() {
        let mbr = mbr(8 << 30);
        assert_eq!(&mbr[510..], &[0x55, 0xaa]);
        assert_eq!(mbr[446], 0x80);
        assert_eq!(mbr[450], 0x83);
        let start = u32::from_le_bytes(mbr[454..458].try_into().unwrap());
        let sectors = u32::from_le_bytes(mbr[458..462].try_into().unwrap());
        assert_eq!(start, 2048);
        assert_eq!(u64::from(start + sectors) * 512, 8 << 30);
        assert!(mbr[462..510].iter().all(|b| *b == 0));
    }

    #[test]
    fn the_insecure_keys_are_vagrants() {
        let lines: Vec<&str> = VAGRANT_INSECURE_KEYS.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(
            "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw"
        ));
        assert!(lines[1].starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw"));
        assert!(lines
            .iter()
            .all(|l| l.ends_with(" vagrant insecure public key")));
    }
}
