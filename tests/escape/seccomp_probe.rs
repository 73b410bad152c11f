//! The escape suite's syscall probe: a small static program that
//! tests/escape/seccomp.rs compiles with rustc (std only, no crate) and
//! copies into a container's rootfs, because busybox has no applet for
//! these calls. Each attempt prints one line, `CALL ok` or `CALL ERRNO N`
//! (EPERM 1). Every attempt fails harmlessly even without a seccomp
//! filter: the module image is not a module, the module to remove does
//! not exist, kexec_load gets flags the kernel refuses before it loads
//! anything, and a handle opened is only read from.
//!
//! Usage: `probe modules | kexec | handles | umount-force PATH`.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

extern "C" {
    fn syscall(number: c_long, ...) -> c_long;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
    fn close(fd: c_int) -> c_int;
}

// x86_64 syscall numbers.
const SYS_UMOUNT2: c_long = 166;
const SYS_INIT_MODULE: c_long = 175;
const SYS_DELETE_MODULE: c_long = 176;
const SYS_KEXEC_LOAD: c_long = 246;
const SYS_NAME_TO_HANDLE_AT: c_long = 303;
const SYS_OPEN_BY_HANDLE_AT: c_long = 304;
const SYS_FINIT_MODULE: c_long = 313;

const AT_FDCWD: c_int = -100;
const O_RDONLY: c_int = 0;
const O_DIRECTORY: c_int = 0o200000;
const O_NONBLOCK: c_uint = 0o4000;
const MNT_FORCE: c_int = 1;
/// Not a kexec flag (nor an arch bit): the kernel answers EINVAL.
const KEXEC_BAD_FLAG: c_ulong = 0x8000;
/// `FILEID_INO32_GEN`: the handle type of ext2/3/4 (inode, generation).
const FILEID_INO32_GEN: c_int = 1;
/// The root directory's inode on ext2/3/4: the shocker's target.
const ROOT_INO: u32 = 2;

/// `struct file_handle` with room for its bytes.
#[repr(C)]
struct Handle {
    bytes: c_uint,
    kind: c_int,
    data: [u8; 128],
}

fn report(call: &str, rc: c_long) {
    if rc >= 0 {
        println!("{call} ok");
    } else {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        println!("{call} ERRNO {errno}");
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn modules() {
    // Sixteen bytes that are not an ELF module.
    let image = *b"not-a-module\0\0\0\0";
    let params = cstr("");
    // SAFETY: the image and the parameters outlive the call.
    let rc = unsafe { syscall(SYS_INIT_MODULE, image.as_ptr(), image.len() as c_long, params.as_ptr()) };
    report("init_module", rc);
    // finit_module of a file that holds the same bytes.
    let path = "/tmp/enclos-not-a-module.ko";
    std::fs::write(path, image).expect("write the bogus module");
    let p = cstr(path);
    // SAFETY: plain open of a path we own.
    let fd = unsafe { open(p.as_ptr(), O_RDONLY) };
    // SAFETY: fd and parameters are valid for the call.
    let rc = unsafe { syscall(SYS_FINIT_MODULE, c_long::from(fd), params.as_ptr(), 0 as c_long) };
    report("finit_module", rc);
    // SAFETY: our own fd.
    unsafe { close(fd) };
    let _ = std::fs::remove_file(path);
    let name = cstr("enclos_no_such_module");
    // SAFETY: the name outlives the call.
    let rc = unsafe { syscall(SYS_DELETE_MODULE, name.as_ptr(), c_long::from(O_NONBLOCK)) };
    report("delete_module", rc);
}

fn kexec() {
    // No segment, and a flag the kernel refuses before loading anything
    // (without the flag, no segment would unload a loaded image).
    // SAFETY: no pointer is passed.
    let rc = unsafe { syscall(SYS_KEXEC_LOAD, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong, KEXEC_BAD_FLAG) };
    report("kexec_load", rc);
}

/// The "shocker" attack: a handle opened through a descriptor of the
/// container's root, first its own root's handle, then a forged one for
/// the root directory of the filesystem the rootfs lives on (the host's).
fn handles() {
    let mut h = Handle {
        bytes: 128,
        kind: 0,
        data: [0; 128],
    };
    let mut mount_id: c_int = 0;
    let root = cstr("/");
    // SAFETY: h and mount_id are valid for the kernel to fill.
    let rc = unsafe {
        syscall(SYS_NAME_TO_HANDLE_AT, c_long::from(AT_FDCWD), root.as_ptr(), &mut h as *mut Handle, &mut mount_id as *mut c_int, 0 as c_long)
    };
    report("name_to_handle_at", rc);
    // SAFETY: plain open.
    let rootfd = unsafe { open(root.as_ptr(), O_RDONLY | O_DIRECTORY) };
    if rc >= 0 {
        // SAFETY: h was filled by the kernel.
        let fd = unsafe { syscall(SYS_OPEN_BY_HANDLE_AT, c_long::from(rootfd), &mut h as *mut Handle, c_long::from(O_RDONLY | O_DIRECTORY)) };
        report("open_by_handle_at_own_root", fd);
        if fd >= 0 {
            // SAFETY: our own fd.
            unsafe { close(fd as c_int) };
        }
    }
    let mut forged = Handle {
        bytes: 8,
        kind: FILEID_INO32_GEN,
        data: [0; 128],
    };
    forged.data[..4].copy_from_slice(&ROOT_INO.to_ne_bytes());
    // SAFETY: forged is a valid file_handle for the kernel to read.
    let fd = unsafe { syscall(SYS_OPEN_BY_HANDLE_AT, c_long::from(rootfd), &mut forged as *mut Handle, c_long::from(O_RDONLY | O_DIRECTORY)) };
    report("open_by_handle_at_fs_root", fd);
    if fd >= 0 {
        let mut buf = [0u8; 1];
        // SAFETY: reading one byte into buf (a directory: EISDIR).
        unsafe { read(fd as c_int, buf.as_mut_ptr().cast(), 1) };
        // SAFETY: our own fd.
        unsafe { close(fd as c_int) };
    }
}

fn umount_force(path: &str) {
    let p = cstr(path);
    // SAFETY: the path outlives the call.
    let rc = unsafe { syscall(SYS_UMOUNT2, p.as_ptr(), c_long::from(MNT_FORCE)) };
    report("umount2_force", rc);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("modules") => modules(),
        Some("kexec") => kexec(),
        Some("handles") => handles(),
        Some("umount-force") => umount_force(args.get(2).map_or("/", String::as_str)),
        _ => {
            eprintln!("usage: probe modules | kexec | handles | umount-force PATH");
            std::process::exit(2);
        }
    }
}
