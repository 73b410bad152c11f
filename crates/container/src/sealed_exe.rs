//! The enclos binary cannot be overwritten from inside a container (the
//! class of runc's CVE-2019-5736): a process of the container that gets
//! hold of `/proc/PID/exe` of an enclos process (our init under
//! `execute`, an attach that the container tricked into running
//! `#!/proc/self/exe`) could otherwise write the host's binary. `execute`
//! and `attach` therefore first re-execute themselves
//! ([`run_from_sealed_copy`]) from a handle that no one can write, and so
//! does `start` unless nothing of the container can reach an enclos
//! process before its init runs (then init execs the container's init
//! through a trampoline seen through such a handle, the small program
//! `enclos-init-exec` or the binary itself: [`crate::init_exec`]):
//!
//! - as root, the binary as seen through a read-only overlayfs that has
//!   only lower layers (the binary's directory over an empty one of ours,
//!   [`SEAL_DIR`]) and is mounted nowhere (fsopen/fsmount, never
//!   attached): an overlay without an upper layer cannot be written
//!   through, even remounted, so `/proc/PID/exe` then names a file that
//!   opens for writing with EROFS only. Nothing is copied;
//! - otherwise (not root, no overlayfs, a kernel before 5.2, ...), a
//!   sealed in-memory copy: `/proc/PID/exe` is then a memfd that no one
//!   can write, grow or shrink.
//!
//! Either way the host's file is never reachable through it.

use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, openat, FcntlArg, OFlag, SealFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{self, fstatfs};
use nix::sys::statvfs::{fstatvfs, FsFlags};

/// Where the running binary is.
pub const SELF_EXE: &str = "/proc/self/exe";

/// The seals of the copy: no write, no resize, no change of seals.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// The same with F_SEAL_FUTURE_WRITE (Linux 5.1) for F_SEAL_WRITE: no
/// write(2) and no new writable mapping, which is all a container could
/// try through /proc/PID/exe. F_SEAL_WRITE also waits for every page of
/// the copy to be free of transient references, and gives EBUSY when one
/// is still held a moment after the copy (a page in another CPU's LRU
/// batch, on a busy host): then this one is added instead.
fn future_write_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_FUTURE_WRITE
}

/// Why the sealed copy could not be made or run.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("Cannot read the enclos binary {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Cannot make a sealed in-memory copy of the enclos binary ({step}); enclos runs containers only from such a copy, so that no container can overwrite the binary through /proc/PID/exe: check that memfd_create is allowed and executable (sysctl vm.memfd_noexec must not be 2)")]
    Memfd {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// The variable that tells the re-executed process it came through the
/// overlay: if it does not find itself sealed there, it takes the memfd
/// copy, never the overlay again (no exec loop). It is set only in the
/// environment given to that exec and removed first thing on entry, so
/// that no container and no child process sees it.
const OVERLAY_MARKER: &str = "_ENCLOS_EXE_SEAL_OVERLAY";
/// [`OVERLAY_MARKER`] as an environment entry.
const OVERLAY_MARKER_ENTRY: &CStr = c"_ENCLOS_EXE_SEAL_OVERLAY=1";

/// The empty directory under the binary's in the overlay (an overlay
/// without an upper layer needs two lower ones). Made 0755 and root's when
/// missing; the overlay is not used unless it is an empty directory of
/// root's that no one else can write.
const SEAL_DIR: &str = "/run/enclos/exe-seal";

/// Whether the binary at `exe` is already sealed: a sealed memfd, or a
/// file of a read-only overlayfs that is mounted nowhere (no mount of
/// `/proc/self/mountinfo` has its mount id), which only
/// [`run_from_sealed_copy`] makes.
pub fn is_sealed(exe: &Path) -> bool {
    let Ok(f) = File::open(exe) else {
        return false;
    };
    is_sealed_memfd(&f) || is_detached_read_only_overlay(&f)
}

fn is_sealed_memfd(f: &File) -> bool {
    match fcntl(f.as_fd(), FcntlArg::F_GET_SEALS) {
        Ok(bits) => {
            let have = SealFlag::from_bits_truncate(bits);
            have.contains(seals()) || have.contains(future_write_seals())
        }
        Err(_) => false,
    }
}

fn is_detached_read_only_overlay(f: &File) -> bool {
    let Some(id) = read_only_overlay_mount(f.as_fd()) else {
        return false;
    };
    // Room for a usual table, read in one go (procfs gives no size).
    let mut table = String::with_capacity(16 << 10);
    if File::open("/proc/self/mountinfo")
        .and_then(|mut f| std::io::Read::read_to_string(&mut f, &mut table))
        .is_err()
    {
        return false;
    }
    let id = id.to_string();
    !table
        .lines()
        .any(|l| l.split(' ').next() == Some(id.as_str()))
}

/// The mount id of `f` when it is a file of a read-only overlayfs and the
/// kernel gives mount ids.
fn read_only_overlay_mount(f: BorrowedFd<'_>) -> Option<u64> {
    let overlay = fstatfs(f).is_ok_and(|s| s.filesystem_type() == statfs::OVERLAYFS_SUPER_MAGIC);
    if !overlay || !fstatvfs(f).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return None;
    }
    mount_id(f)
}

/// The mount id of `f` (the first field of mountinfo), from statx
/// (STATX_MNT_ID, Linux 5.8).
fn mount_id(f: BorrowedFd<'_>) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: the path is NUL-terminated, the descriptor is open for the
    // call, and `stx` is a buffer of the size statx writes.
    let rc = unsafe {
        libc::statx(
            f.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            stx.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: statx succeeded and filled the buffer (zeroed before, so
    // every field is initialised anyway).
    let stx = unsafe { stx.assume_init() };
    (stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// Re-executes this process, same arguments and environment, from a
/// handle of its binary that no one can write: the binary through a
/// detached read-only overlay when that can be made (root, overlayfs, the
/// new mount API), else a sealed memfd copy. Returns at once when it
/// already runs from one. On success it does not return.
///
/// Call it first thing in a single-threaded process: exec ends every
/// other thread.
pub fn run_from_sealed_copy() -> Result<(), SealError> {
    // Found sealed once, the process stays so (its binary is its own).
    static SEALED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SEALED.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    let after_overlay = std::env::var_os(OVERLAY_MARKER).is_some();
    if after_overlay {
        std::env::remove_var(OVERLAY_MARKER);
    }
    let exe = Path::new(SELF_EXE);
    if is_sealed(exe) {
        SEALED.store(true, std::sync::atomic::Ordering::Relaxed);
        return Ok(());
    }
    let args: Vec<CString> = std::env::args_os().filter_map(c_string).collect();
    let env = environ();
    if after_overlay {
        tracing::debug!("re-executed from the read-only overlay but not found sealed there (a kernel without statx's mount id?); using a sealed in-memory copy");
    } else {
        match running_exe_through_overlay() {
            Ok(handle) => {
                let mut marked = env.clone();
                marked.push(CString::from(OVERLAY_MARKER_ENTRY));
                let err = execveat_empty(handle.as_fd(), &args, &marked);
                tracing::debug!("cannot execute the enclos binary through its read-only overlay ({err}); using a sealed in-memory copy");
            }
            Err(why) => {
                tracing::debug!("no read-only overlay of the enclos binary ({why}); using a sealed in-memory copy");
            }
        }
    }
    let copy = sealed_copy(exe)?;
    let err = execveat_empty(copy.as_fd(), &args, &env);
    Err(SealError::Memfd {
        step: "exec",
        source: err.into(),
    })
}

/// What init execs the container's init through ([`crate::init_exec`]),
/// seen through a new detached read-only overlay (root only): the small
/// program [`enclos_init_exec`] where it is installed for the running
/// binary ([`installed_programs`]) and may be trusted, else the running
/// binary itself; why neither when no overlay can be made.
pub(crate) fn trampoline_handle() -> Result<OwnedFd, String> {
    let real = std::fs::read_link(SELF_EXE).map_err(|e| format!("readlink {SELF_EXE}: {e}"))?;
    for program in installed_programs(&real) {
        match program_through_overlay(&program) {
            Ok(handle) => return Ok(handle),
            Err(why) => tracing::warn!(
                "{} is not taken as the trampoline of the container's init ({why}); the enclos \
                 binary plays its part",
                program.display()
            ),
        }
    }
    running_exe_through_overlay()
}

/// Where the trampoline program may be installed for the enclos binary at
/// `real` (its real path: links are resolved), the first found first:
/// beside it (a build's directory), and in `libexec/enclos/` of the
/// directory above it (the package's `/usr/bin` and `/usr/libexec`).
fn installed_programs(real: &Path) -> Vec<PathBuf> {
    let Some(dir) = real.parent() else {
        return Vec::new();
    };
    let beside = dir.join(enclos_init_exec::FILE_NAME);
    let libexec = dir
        .parent()
        .map(|up| up.join("libexec/enclos").join(enclos_init_exec::FILE_NAME));
    std::iter::once(beside)
        .chain(libexec)
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect()
}

/// `program` through a new detached read-only overlay, if its file there
/// may be every container's trampoline ([`trusted_program`]).
fn program_through_overlay(program: &Path) -> Result<OwnedFd, String> {
    let handle = overlay_exe(program, Path::new(SEAL_DIR))?;
    trusted_program(&handle)?;
    if read_only_overlay_mount(handle.as_fd()).is_none() {
        return Err("the overlay's file cannot be told sealed on this kernel".to_string());
    }
    Ok(handle)
}

/// Whether the file of `handle` may run in every container as its init's
/// trampoline: a regular, executable file of root's that only root may
/// write, and a static x86_64 program (it runs after pivot_root, where a
/// loader would come from the container's rootfs). Checked on the very
/// file the overlay shows, which init execs.
fn trusted_program(handle: &OwnedFd) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let st = nix::sys::stat::fstat(handle.as_fd()).map_err(|e| format!("stat: {e}"))?;
    let mode = st.st_mode;
    if mode & libc::S_IFMT != libc::S_IFREG {
        return Err("not a regular file".to_string());
    }
    if st.st_uid != 0 {
        return Err(format!("owned by uid {}, not root", st.st_uid));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "mode {:o}: others than root may write it",
            mode & 0o7777
        ));
    }
    if mode & 0o100 == 0 {
        return Err(format!("mode {:o}: not executable", mode & 0o7777));
    }
    let path = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let mut file = File::open(&path).map_err(|e| format!("open: {e}"))?;
    static_x86_64_elf(&mut file)
}

/// Whether `file` is a 64-bit little-endian x86_64 ELF program without an
/// interpreter (PT_INTERP): what the C library's static start-up runs.
/// The header is read directly: its few fixed offsets (the ELF
/// specification's) need no parsing crate.
fn static_x86_64_elf(file: &mut (impl std::io::Read + std::io::Seek)) -> Result<(), String> {
    const EM_X86_64: u16 = 62;
    const PT_INTERP: u32 = 3;
    let mut header = [0u8; 64];
    file.read_exact(&mut header)
        .map_err(|_| "not an ELF program (too short)".to_string())?;
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err("not a 64-bit little-endian ELF program".to_string());
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    if u16_at(&header, 18) != EM_X86_64 {
        return Err("not an x86_64 program".to_string());
    }
    let phoff = u64::from_le_bytes(header[32..40].try_into().expect("8 bytes"));
    let (phentsize, phnum) = (u16_at(&header, 54), u16_at(&header, 56));
    if usize::from(phentsize) < 4 {
        return Err("an ELF program without program headers".to_string());
    }
    let mut headers = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    file.seek(std::io::SeekFrom::Start(phoff))
        .and_then(|_| file.read_exact(&mut headers))
        .map_err(|_| "its program headers do not read".to_string())?;
    let interp = headers
        .chunks_exact(usize::from(phentsize))
        .any(|ph| u32::from_le_bytes(ph[..4].try_into().expect("4 bytes")) == PT_INTERP);
    match interp {
        true => Err(
            "a dynamically linked program (it would need a loader in the container)".to_string(),
        ),
        false => Ok(()),
    }
}

/// The running binary through a new detached read-only overlay, checked
/// to be the very file that runs (not one put in its place since).
fn running_exe_through_overlay() -> Result<OwnedFd, String> {
    let real = std::fs::read_link(SELF_EXE).map_err(|e| format!("readlink {SELF_EXE}: {e}"))?;
    let running = std::fs::metadata(SELF_EXE).map_err(|e| format!("stat {SELF_EXE}: {e}"))?;
    let handle = overlay_exe(&real, Path::new(SEAL_DIR))?;
    if !same_file(&handle, &running) {
        return Err(format!(
            "{} in the overlay is not the running binary (replaced since it started?)",
            real.display()
        ));
    }
    // What the re-executed process will check, checked here first: a
    // kernel that cannot tell the overlay sealed (no mount id in statx
    // before Linux 5.8) costs no exec. The overlay was made here and
    // attached nowhere, so mountinfo need not be read to know it.
    if read_only_overlay_mount(handle.as_fd()).is_none() {
        return Err("the overlay's file cannot be told sealed on this kernel".to_string());
    }
    Ok(handle)
}

/// Whether `handle` (a file of the overlay) is the file of `meta`: same
/// inode number (which a lower-only overlay with xino=off keeps), size and
/// modification time.
fn same_file(handle: &OwnedFd, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    nix::sys::stat::fstat(handle.as_fd()).is_ok_and(|st| {
        st.st_ino == meta.ino()
            && st.st_size == meta.size() as i64
            && st.st_mtime == meta.mtime()
            && st.st_mtime_nsec == meta.mtime_nsec()
    })
}

/// An O_PATH handle of `bin` (an absolute path) seen through a read-only
/// overlayfs whose layers are the directory of `bin` over `empty`, mounted
/// nowhere. The description of the failed step on failure.
fn overlay_exe(bin: &Path, empty: &Path) -> Result<OwnedFd, String> {
    let (Some(dir), Some(name)) = (bin.parent(), bin.file_name()) else {
        return Err(format!("{} has no directory", bin.display()));
    };
    if !bin.is_absolute() {
        return Err(format!("{} is not an absolute path", bin.display()));
    }
    // First, so that whoever may not mount gives up before touching /run.
    let ctx = fsopen(c"overlay").map_err(|e| format!("fsopen overlay: {e}"))?;
    seal_dir(empty)?;
    // The binary's directory on top: a file of the same name in the empty
    // one could not hide it.
    let mut lower = escape_lowerdir(dir.as_os_str().as_bytes());
    lower.push(b':');
    lower.extend(escape_lowerdir(empty.as_os_str().as_bytes()));
    let lower = CString::new(lower).map_err(|_| "a NUL in the lowerdir".to_string())?;
    fsconfig_string(&ctx, c"lowerdir", &lower)
        .map_err(|e| format!("fsconfig lowerdir={}: {e}", lower.to_string_lossy()))?;
    // xino would only add noise to the kernel log (layers on different
    // filesystems) and change inode numbers; a kernel without it is fine.
    let _ = fsconfig_string(&ctx, c"xino", c"off");
    fsconfig_create(&ctx).map_err(|e| format!("fsconfig create overlay: {e}"))?;
    let mnt = fsmount(&ctx).map_err(|e| format!("fsmount overlay: {e}"))?;
    openat(
        &mnt,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("open {} in the overlay: {e}", name.to_string_lossy()))
}

/// Makes `dir` (0755, root's) when missing; an error unless it is an empty
/// directory of root's that no one else can write.
fn seal_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
            std::fs::symlink_metadata(dir)
        }
        other => other,
    }
    .map_err(|e| format!("stat {}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a directory of root's that only root can write",
            dir.display()
        ));
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    if entries.next().is_some() {
        return Err(format!("{} is not empty", dir.display()));
    }
    Ok(())
}

/// A path as one layer of overlayfs's lowerdir: `\` and `:` escaped with
/// `\`.
fn escape_lowerdir(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if b == b'\\' || b == b':' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

// The new mount API (Linux 5.2), from <linux/mount.h>: libc has the
// syscall numbers and the constants, not the wrappers.

/// fsopen(fs, FSOPEN_CLOEXEC): a new filesystem context.
fn fsopen(fs: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: `fs` is NUL-terminated and outlives the call, which returns
    // a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fs.as_ptr(), libc::FSOPEN_CLOEXEC) };
    owned_fd(fd)
}

/// fsconfig(ctx, FSCONFIG_SET_STRING, key, value, 0).
fn fsconfig_string(ctx: &OwnedFd, key: &CStr, value: &CStr) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open, `key` and `value` are NUL-terminated
    // and outlive the call, which only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            libc::FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// fsconfig(ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0): the superblock.
fn fsconfig_create(ctx: &OwnedFd) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open; the command takes no pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// fsmount(ctx, FSMOUNT_CLOEXEC, read-only, nodev, nosuid): a mount of
/// the context's superblock, attached nowhere.
fn fsmount(ctx: &OwnedFd) -> Result<OwnedFd, Errno> {
    use std::os::fd::AsRawFd;
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOSUID;
    // SAFETY: the descriptor is open; the call returns a new descriptor or
    // -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            ctx.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    };
    owned_fd(fd)
}

/// The descriptor a syscall returned, or its error.
fn owned_fd(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = Errno::result(ret)?;
    let fd = libc::c_int::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the syscall just created the descriptor and it is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// This process's environment, as exec takes it.
pub(crate) use enclos_init_exec::environ;

fn c_string(s: OsString) -> Option<CString> {
    CString::new(s.into_vec()).ok()
}

/// A memfd holding the bytes of `exe`, sealed.
fn sealed_copy(exe: &Path) -> Result<OwnedFd, SealError> {
    let memfd = |step| move |source| SealError::Memfd { step, source };
    let mut src = File::open(exe).map_err(|source| SealError::Read {
        path: exe.to_path_buf(),
        source,
    })?;
    let fd = memfd_create(c"enclos").map_err(|e| memfd("memfd_create")(e.into()))?;
    let mut dst = File::from(fd);
    // copy_file_range or sendfile under the hood: no pass through our
    // memory.
    std::io::copy(&mut src, &mut dst).map_err(memfd("copy"))?;
    match fcntl(dst.as_fd(), FcntlArg::F_ADD_SEALS(seals())) {
        Err(Errno::EBUSY) => fcntl(dst.as_fd(), FcntlArg::F_ADD_SEALS(future_write_seals()))
            .map_err(|e| memfd("seal")(e.into()))?,
        other => other.map_err(|e| memfd("seal")(e.into()))?,
    };
    Ok(OwnedFd::from(dst))
}

/// MFD_EXEC (Linux 6.3): say the copy is meant to be executed, which
/// newer kernels want said.
const MFD_EXEC: libc::c_uint = 0x10;

/// memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC), without
/// MFD_EXEC on kernels that do not know it.
fn memfd_create(name: &CStr) -> Result<OwnedFd, Errno> {
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let raw = |flags: libc::c_uint| {
        // SAFETY: `name` is NUL-terminated and outlives the call, which
        // returns a new descriptor or -1.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd < 0 {
            Err(Errno::last())
        } else {
            // SAFETY: the descriptor was just created and is ours alone.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    };
    match raw(base | MFD_EXEC) {
        Err(Errno::EINVAL) => raw(base),
        other => other,
    }
}

/// execveat(fd, "", args, env, AT_EMPTY_PATH); returns only on failure.
pub(crate) fn execveat_empty(fd: BorrowedFd<'_>, args: &[CString], env: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    use std::os::fd::AsRawFd;
    // SAFETY: argv and envp are NULL-terminated arrays of pointers to
    // NUL-terminated strings that outlive the call; on success the
    // process image is replaced and nothing of ours is used again.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn lowerdir_layers_escape_colons_and_backslashes() {
        assert_eq!(escape_lowerdir(b"/usr/bin"), b"/usr/bin");
        assert_eq!(escape_lowerdir(b"/a:b\\c"), b"/a\\:b\\\\c");
    }

    #[test]
    fn the_marker_entry_sets_the_marker() {
        let entry = OVERLAY_MARKER_ENTRY.to_str().unwrap();
        assert_eq!(entry.split_once('='), Some((OVERLAY_MARKER, "1")));
    }

    /// A test binary in a directory whose name needs escaping, and an
    /// empty directory beside it.
    fn binary_and_empty_dir(dir: &Path) -> (PathBuf, PathBuf) {
        let bin_dir = dir.join("bin:dir\\x");
        std::fs::create_dir(&bin_dir).unwrap();
        let bin = bin_dir.join("enclos");
        std::fs::write(&bin, b"\x7fELF not really").unwrap();
        let empty = dir.join("empty");
        std::fs::create_dir(&empty).unwrap();
        std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        (bin, empty)
    }

    #[test]
    fn the_overlay_handle_reads_the_binary_and_refuses_writes() {
        if !enclos_testkit::require_root("the_overlay_handle_reads_the_binary_and_refuses_writes") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (bin, empty) = binary_and_empty_dir(dir.path());
        let handle = overlay_exe(&bin, &empty).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"\x7fELF not really");
        assert!(same_file(&handle, &std::fs::metadata(&bin).unwrap()));
        assert!(is_sealed(Path::new(&path)));
        assert!(!is_sealed(&bin));
        for (what, open) in [
            ("write", std::fs::OpenOptions::new().write(true).clone()),
            ("append", std::fs::OpenOptions::new().append(true).clone()),
            (
                "truncate",
                std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .clone(),
            ),
        ] {
            let e = open.open(&path).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{what}: {e}");
        }
        assert_eq!(std::fs::read(&bin).unwrap(), b"\x7fELF not really");
        // Another file is not taken for the binary.
        std::fs::write(dir.path().join("other"), b"\x7fELF not really").unwrap();
        assert!(!same_file(
            &handle,
            &std::fs::metadata(dir.path().join("other")).unwrap()
        ));
    }

    #[test]
    fn the_program_is_looked_for_beside_the_binary_then_in_libexec() {
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = dir.path().join("bin");
        let libexec = dir.path().join("libexec/enclos");
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::fs::create_dir_all(&libexec).unwrap();
        let bin = bin_dir.join("enclos");
        assert!(installed_programs(&bin).is_empty());
        std::fs::write(libexec.join("enclos-init-exec"), b"").unwrap();
        assert_eq!(installed_programs(&bin), [libexec.join("enclos-init-exec")]);
        std::fs::write(bin_dir.join("enclos-init-exec"), b"").unwrap();
        assert_eq!(
            installed_programs(&bin),
            [
                bin_dir.join("enclos-init-exec"),
                libexec.join("enclos-init-exec")
            ]
        );
    }

    /// An ELF header of a 64-bit little-endian program for `machine`, with
    /// one program header of type `ph_type` right after it.
    fn elf(machine: u16, ph_type: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&ph_type.to_le_bytes());
        b
    }

    #[test]
    fn only_a_static_x86_64_elf_program_is_taken() {
        let check = |bytes: Vec<u8>| static_x86_64_elf(&mut std::io::Cursor::new(bytes));
        const PT_LOAD: u32 = 1;
        assert_eq!(check(elf(62, PT_LOAD)), Ok(()));
        assert_eq!(
            check(elf(62, 3)).unwrap_err(),
            "a dynamically linked program (it would need a loader in the container)"
        );
        assert_eq!(
            check(elf(183, PT_LOAD)).unwrap_err(),
            "not an x86_64 program"
        );
        assert_eq!(
            check(b"#!/bin/sh\necho hi\n".to_vec()).unwrap_err(),
            "not an ELF program (too short)"
        );
        let mut script = b"#!/bin/sh\n".to_vec();
        script.resize(200, b' ');
        assert_eq!(
            check(script).unwrap_err(),
            "not a 64-bit little-endian ELF program"
        );
        // This very test binary: dynamic, or static on a static build.
        let mut me = File::open("/proc/self/exe").unwrap();
        let verdict = static_x86_64_elf(&mut me);
        assert_eq!(
            verdict.is_ok(),
            cfg!(all(target_feature = "crt-static", target_arch = "x86_64")),
            "{verdict:?}"
        );
    }

    #[test]
    fn only_a_program_of_roots_that_only_root_may_write_is_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("enclos-init-exec");
        std::fs::write(&file, elf(62, 1)).unwrap();
        let verdict = |mode: u32| {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            trusted_program(&OwnedFd::from(File::open(&file).unwrap()))
        };
        let root = nix::unistd::geteuid().is_root();
        assert_eq!(verdict(0o755).is_ok(), root);
        for (mode, why) in [
            (0o775, "mode 775: others than root may write it"),
            (0o757, "mode 757: others than root may write it"),
            (0o644, "mode 644: not executable"),
        ] {
            let err = verdict(mode).unwrap_err();
            assert!(root || err.starts_with("owned by uid"), "{err}");
            assert!(!root || err == why, "{mode:o}: {err}");
        }
        let err = trusted_program(&OwnedFd::from(File::open(dir.path()).unwrap())).unwrap_err();
        assert_eq!(err, "not a regular file");
        if root {
            std::fs::write(&file, elf(62, 3)).unwrap();
            assert_eq!(
                verdict(0o755).unwrap_err(),
                "a dynamically linked program (it would need a loader in the container)"
            );
            std::fs::write(&file, elf(62, 1)).unwrap();
            verdict(0o755).unwrap();
            nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(1000)), None).unwrap();
            assert_eq!(verdict(0o755).unwrap_err(), "owned by uid 1000, not root");
        }
    }

    #[test]
    fn the_programs_handle_is_sealed_and_a_link_in_its_place_is_refused() {
        if !enclos_testkit::require_root(
            "the_programs_handle_is_sealed_and_a_link_in_its_place_is_refused",
        ) {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("enclos-init-exec");
        std::fs::write(&program, elf(62, 1)).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let handle = program_through_overlay(&program).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
        assert!(is_sealed(Path::new(&path)));
        let e = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), elf(62, 1));
        // A link named as the program, to a file that would pass.
        let real = dir.path().join("real");
        std::fs::rename(&program, &real).unwrap();
        std::os::unix::fs::symlink(&real, &program).unwrap();
        assert!(program_through_overlay(&program).is_err());
    }

    #[test]
    fn a_file_in_the_empty_dir_stops_the_overlay() {
        if !enclos_testkit::require_root("a_file_in_the_empty_dir_stops_the_overlay") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (bin, empty) = binary_and_empty_dir(dir.path());
        std::fs::write(empty.join("enclos"), b"impostor").unwrap();
        let err = overlay_exe(&bin, &empty).unwrap_err();
        assert!(err.ends_with("is not empty"), "{err}");
    }

    #[test]
    fn the_empty_dir_is_made_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let seal = dir.path().join("run/enclos/exe-seal");
        let made = seal_dir(&seal);
        let meta = std::fs::symlink_metadata(&seal).unwrap();
        assert!(meta.is_dir());
        if nix::unistd::geteuid().is_root() {
            made.unwrap();
            std::fs::set_permissions(&seal, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap();
            let err = seal_dir(&seal).unwrap_err();
            assert!(err.contains("only root can write"), "{err}");
            std::fs::set_permissions(&seal, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            std::fs::write(seal.join("x"), b"").unwrap();
            let err = seal_dir(&seal).unwrap_err();
            assert_eq!(err, format!("{} is not empty", seal.display()));
        } else {
            let err = made.unwrap_err();
            assert!(err.contains("not a directory of root's"), "{err}");
        }
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let err = seal_dir(&file).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn the_fallback_seals_refuse_writes_too() {
        let fd = memfd_create(c"enclos-test").unwrap();
        let mut f = File::from(fd);
        f.write_all(b"binary").unwrap();
        fcntl(f.as_fd(), FcntlArg::F_ADD_SEALS(future_write_seals())).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        assert!(is_sealed(Path::new(&path)));
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        assert!(w.set_len(0).is_err());
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"binary");
    }

    #[test]
    fn the_copy_is_sealed_and_holds_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("exe");
        std::fs::write(&exe, b"\x7fELF not really").unwrap();
        assert!(!is_sealed(&exe));
        let copy = sealed_copy(&exe).unwrap();
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&copy));
        assert!(is_sealed(Path::new(&path)));
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"\x7fELF not really");
        // Not writable, not resizable, through whatever descriptor.
        let mut f = File::from(copy);
        assert!(f.write_all(b"x").is_err());
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        assert!(w.set_len(0).is_err());
        assert!(w.set_len(1 << 20).is_err());
        let mut text = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(text, b"\x7fELF not really");
    }
}
