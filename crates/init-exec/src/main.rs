//! `enclos-init-exec`: run by enclos's init, through a read-only overlay
//! mounted nowhere, to execute the container's init (see the library).
//!
//! No Rust `main`: the runtime's start-up (its stack guard reads
//! /proc/self/maps, its SIGPIPE disposition, its signal stack) would be
//! work done for a process that lives a fraction of a millisecond. The C
//! library calls this `main` directly, with the arguments read from
//! `argv` here (std's own list is filled before `main` only with glibc).
#![no_main]

use std::ffi::{c_char, c_int, CStr, OsString};
use std::os::unix::ffi::OsStringExt;

/// The C library's entry point.
///
/// # Safety
///
/// Called by the C library alone, with `argc` entries of `argv`, each
/// NULL or a NUL-terminated string that lives as long as the process.
#[no_mangle]
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let count = usize::try_from(argc).unwrap_or(0);
    let args = (0..count).map_while(|i| {
        // SAFETY: `i < argc`: an entry of `argv` (see above).
        let arg = unsafe { *argv.add(i) };
        if arg.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string that outlives this copy.
        let bytes = unsafe { CStr::from_ptr(arg) }.to_bytes().to_vec();
        Some(OsString::from_vec(bytes))
    });
    enclos_init_exec::run(args, &enclos_init_exec::environ())
}
