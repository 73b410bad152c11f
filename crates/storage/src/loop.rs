//! The `loop` backend: an image file with a filesystem, `DIR/rootdev`,
//! attached to a free loop device (loop-control's `LOOP_CTL_GET_FREE`,
//! then `LOOP_CONFIGURE`, or `LOOP_SET_FD` and `LOOP_SET_STATUS64` before
//! Linux 5.8) when mounted.
//!
//! The device is attached with `LO_FLAGS_AUTOCLEAR` (in the same call
//! with `LOOP_CONFIGURE`, so that a process killed in between cannot
//! leave a device that never clears itself) and our descriptor
//! closed once mounted: the kernel detaches it when the filesystem is
//! unmounted, or when the last mount namespace holding it goes, so no
//! loop device outlives its mount, even when the process that mounted it
//! is killed. On a failed mount it is detached at once.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::backend::{Backend, Driver};
use crate::error::{errno, io_err, Error, Result};
use crate::options::{CreateOptions, Dest, Usage, DEFAULT_FSSIZE};
use crate::spec::Rootfs;
use crate::tool::{fstype_of, mkfs, System, DEFAULT_FSTYPE};

/// The `loop` driver.
#[derive(Debug)]
pub(crate) struct Loop;

/// The image's name in the container's directory, as LXC names it.
const IMAGE: &str = "rootdev";
/// `LO_FLAGS_AUTOCLEAR`: detach when the last user closes the device.
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` of linux/loop.h.
#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

nix::ioctl_none_bad!(loop_ctl_get_free, 0x4C82);
nix::ioctl_write_int_bad!(loop_set_fd, 0x4C00);
nix::ioctl_none_bad!(loop_clr_fd, 0x4C01);
nix::ioctl_write_ptr_bad!(loop_set_status64, 0x4C04, LoopInfo64);
nix::ioctl_write_ptr_bad!(loop_configure, 0x4C0A, LoopConfig);

/// `struct loop_config` of linux/loop.h (`LOOP_CONFIGURE`, Linux 5.8).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// A loop device attached to an image; detached when dropped unless
/// [`Attached::release`]d to the mount that uses it.
struct Attached {
    dev: File,
    path: PathBuf,
    /// Detach when dropped.
    armed: bool,
}

impl Attached {
    /// Attaches `image` to a free loop device, set to clear itself.
    fn attach(image: &Path) -> Result<Attached> {
        let backing = OpenOptions::new()
            .read(true)
            .write(true)
            .open(image)
            .map_err(io_err("open the image", image))?;
        let ctl_path = Path::new("/dev/loop-control");
        let ctl = File::open(ctl_path).map_err(io_err("open", ctl_path))?;
        // Another process may take the free device first: try again.
        for _ in 0..10 {
            // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
            let n = unsafe { loop_ctl_get_free(ctl.as_raw_fd()) }
                .map_err(|e| io_err("find a free loop device through", ctl_path)(errno(e)))?;
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let dev = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_err("open", &path))?;
            let attached = match configure(&dev, &backing, image) {
                Ok(()) => Attached {
                    dev,
                    path,
                    armed: true,
                },
                Err(Errno::EBUSY) => continue,
                Err(e) => return Err(io_err("attach the image to", &path)(errno(e))),
            };
            return Ok(attached);
        }
        Err(Error::Io {
            what: "find a free loop device for",
            path: image.to_path_buf(),
            source: errno(Errno::EBUSY),
        })
    }

    /// Leaves the device to the mount that now holds it (it clears itself
    /// when unmounted).
    fn release(mut self) {
        self.armed = false;
    }
}

/// The loop settings of `image`: its name, and clear on last close.
fn loop_info(image: &Path) -> LoopInfo64 {
    let mut info = LoopInfo64 {
        lo_device: 0,
        lo_inode: 0,
        lo_rdevice: 0,
        lo_offset: 0,
        lo_sizelimit: 0,
        lo_number: 0,
        lo_encrypt_type: 0,
        lo_encrypt_key_size: 0,
        lo_flags: LO_FLAGS_AUTOCLEAR,
        lo_file_name: [0; 64],
        lo_crypt_name: [0; 64],
        lo_encrypt_key: [0; 32],
        lo_init: [0; 2],
    };
    let name = image.as_os_str().as_encoded_bytes();
    let len = name.len().min(63);
    info.lo_file_name[..len].copy_from_slice(&name[..len]);
    info
}

/// Attaches `backing` to the free device `dev`, set to clear itself:
/// in one call (`LOOP_CONFIGURE`), or, on a kernel without it, in two
/// (attached first, then the flag; a device left in between is cleared
/// by our drop, not by the kernel). EBUSY: another process took it.
fn configure(dev: &File, backing: &File, image: &Path) -> std::result::Result<(), Errno> {
    let config = LoopConfig {
        fd: backing.as_raw_fd() as u32,
        block_size: 0,
        info: loop_info(image),
        reserved: [0; 8],
    };
    // SAFETY: `config` is a valid loop_config that outlives the call, and
    // the descriptor in it stays open for the call.
    match unsafe { loop_configure(dev.as_raw_fd(), &config) } {
        Ok(_) => return Ok(()),
        Err(Errno::EINVAL | Errno::ENOTTY) => {}
        Err(e) => return Err(e),
    }
    // SAFETY: LOOP_SET_FD takes a descriptor that stays open for the call.
    unsafe { loop_set_fd(dev.as_raw_fd(), backing.as_raw_fd()) }?;
    // SAFETY: the info is a valid loop_info64 that outlives the call.
    if let Err(e) = unsafe { loop_set_status64(dev.as_raw_fd(), &config.info) } {
        // SAFETY: LOOP_CLR_FD takes no argument.
        let _ = unsafe { loop_clr_fd(dev.as_raw_fd()) };
        // Not EBUSY: the device is ours, the error is the setting's.
        return Err(if e == Errno::EBUSY { Errno::EIO } else { e });
    }
    Ok(())
}

impl Drop for Attached {
    fn drop(&mut self) {
        if self.armed {
            // SAFETY: LOOP_CLR_FD takes no argument.
            let _ = unsafe { loop_clr_fd(self.dev.as_raw_fd()) };
        }
    }
}

impl Driver for Loop {
    fn backend(&self) -> Backend {
        Backend::Loop
    }

    /// A sparse image `DIR/rootdev` of `--fssize` (1 GiB) with a
    /// `--fstype` (ext4) filesystem, and `DIR/rootfs` to mount it on.
    fn create(&self, dest: &Dest, opts: &CreateOptions) -> Result<Rootfs> {
        let image = dest.dir.join(IMAGE);
        let size = opts.fssize.unwrap_or(DEFAULT_FSSIZE);
        let fstype = opts.fstype.as_deref().unwrap_or(DEFAULT_FSTYPE);
        let made = (|| {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&image)
                .map_err(|source| Error::Create {
                    path: image.clone(),
                    source,
                })?;
            f.set_len(size).map_err(|source| Error::Create {
                path: image.clone(),
                source,
            })?;
            drop(f);
            mkfs(&System, &image, fstype)?;
            let mnt = dest.dir.join("rootfs");
            match fs::create_dir(&mnt) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    Err(io_err("create the mount point", &mnt)(e))
                }
                _ => Ok(()),
            }
        })();
        if let Err(e) = made {
            let _ = fs::remove_file(&image);
            return Err(e);
        }
        Ok(Rootfs::new(Backend::Loop, image))
    }

    /// With the source image's filesystem (`blkid`).
    fn place_like(&self, src: &Rootfs, opts: &CreateOptions) -> Result<CreateOptions> {
        let mut opts = opts.clone();
        if opts.fstype.is_none() {
            opts.fstype = fstype_of(&System, &src.path)?;
        }
        Ok(opts)
    }

    /// Removes the image (and the empty mount point beside it).
    fn destroy(&self, rootfs: &Rootfs) -> Result<()> {
        match fs::remove_file(&rootfs.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Destroy {
                    path: rootfs.path.clone(),
                    source: e,
                })
            }
            _ => {}
        }
        if let Some(dir) = rootfs.path.parent() {
            let _ = fs::remove_dir(dir.join("rootfs"));
        }
        Ok(())
    }

    fn mount(&self, rootfs: &Rootfs, target: &Path) -> Result<PathBuf> {
        if !rootfs.path.is_file() {
            return Err(Error::Missing {
                path: rootfs.path.clone(),
            });
        }
        let dev = Attached::attach(&rootfs.path)?;
        let source = dev.path.to_string_lossy().into_owned();
        crate::mount::mount_block(
            &source,
            target,
            &format!("{} ({source})", rootfs.path.display()),
        )?;
        dev.release();
        Ok(target.to_path_buf())
    }

    fn unmount(&self, _rootfs: &Rootfs, target: &Path) -> Result<()> {
        crate::mount::unmount(target)
    }

    /// The image's size, and the blocks it takes on the host.
    fn usage(&self, rootfs: &Rootfs) -> Result<Usage> {
        let meta = fs::metadata(&rootfs.path).map_err(io_err("read", &rootfs.path))?;
        Ok(Usage {
            size: Some(meta.len()),
            used: meta.blocks() * 512,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The loop devices whose backing file is `image`.
    fn loops_of(image: &Path) -> Vec<String> {
        fs::read_dir("/sys/block")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                fs::read_to_string(e.path().join("loop/backing_file"))
                    .is_ok_and(|b| Path::new(b.trim()) == image)
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Detaches whatever still holds the image when the test ends, even
    /// when it failed.
    struct Detach(PathBuf);

    impl Drop for Detach {
        fn drop(&mut self) {
            for dev in loops_of(&self.0) {
                let _ = Command::new("losetup")
                    .arg("-d")
                    .arg(format!("/dev/{dev}"))
                    .status();
            }
        }
    }

    #[test]
    fn create_mount_fill_unmount_destroy() {
        let test = "loop::create_mount_fill_unmount_destroy";
        if !enclos_testkit::require_root(test) {
            return;
        }
        if Command::new("mkfs.ext4").arg("-V").output().is_err() {
            enclos_testkit::missing_feature(test, "no mkfs.ext4 (install e2fsprogs)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let opts = CreateOptions {
            fssize: Some(16 << 20),
            ..Default::default()
        };
        let r = Rootfs::create_with(Backend::Loop, &Dest::new(tmp.path()), &opts).unwrap();
        let _detach = Detach(r.path.clone());
        assert_eq!(r.spec(), format!("loop:{}/rootdev", tmp.path().display()));
        assert_eq!(r.usage().unwrap().size, Some(16 << 20));
        let mnt = tmp.path().join("rootfs");
        // In a mount namespace of its own (a thread's): nothing reaches
        // the host's.
        let (r2, mnt2) = (r.clone(), mnt.clone());
        enclos_testkit::in_own_mount_namespace(move || {
            let m = r2.mount(&mnt2).unwrap();
            assert_eq!(loops_of(&r2.path).len(), 1, "attached while mounted");
            fs::write(m.root().join("hello"), "hi\n").unwrap();
            m.unmount().unwrap();
            let m = r2.mount(&mnt2).unwrap();
            assert_eq!(fs::read_to_string(m.root().join("hello")).unwrap(), "hi\n");
        });
        // The mount went with the thread's namespace, the device with it.
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            loops_of(&r.path).is_empty()
        });
        assert!(gone, "the loop device outlived its mount");
        // A damaged image is refused and leaves nothing attached.
        fs::write(&r.path, vec![0u8; 1 << 20]).unwrap();
        assert!(r.mount(&mnt).is_err());
        assert!(loops_of(&r.path).is_empty());
        r.destroy().unwrap();
        assert!(!r.path.exists() && !mnt.exists());
    }

    #[test]
    fn a_copy_keeps_its_images_filesystem() {
        let test = "loop::a_copy_keeps_its_images_filesystem";
        if Command::new("mkfs.ext3").arg("-V").output().is_err() {
            enclos_testkit::missing_feature(test, "no mkfs.ext3 (install e2fsprogs)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let image = tmp.path().join(IMAGE);
        fs::File::create(&image).unwrap().set_len(16 << 20).unwrap();
        mkfs(&System, &image, "ext3").unwrap();
        let src = Rootfs::new(Backend::Loop, &image);
        let opts = Loop.place_like(&src, &CreateOptions::default()).unwrap();
        assert_eq!(opts.fstype.as_deref(), Some("ext3"));
        // --fstype says otherwise.
        let asked = CreateOptions {
            fstype: Some("ext4".into()),
            ..Default::default()
        };
        let opts = Loop.place_like(&src, &asked).unwrap();
        assert_eq!(opts.fstype.as_deref(), Some("ext4"));
        // No filesystem on it: the default.
        fs::write(&image, vec![0u8; 1 << 20]).unwrap();
        let opts = Loop.place_like(&src, &CreateOptions::default()).unwrap();
        assert_eq!(opts.fstype, None);
    }
}
