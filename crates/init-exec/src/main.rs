//! `enclos-init-exec`: run by enclos's init, through a read-only overlay
//! mounted nowhere, to execute the container's init (see the library).
//!
//! No Rust `main`: the runtime's start-up (its stack guard reads
//! /proc/self/maps, its SIGPIPE disposition, its signal stack) would be
//! work done for a process that lives a fraction of a millisecond. The C
//! library calls this `main` directly; arguments and environment still
//! reach `std::env` (the C library hands them over before `main`).
#![no_main]

use std::ffi::{c_char, c_int};

/// The C library's entry point.
#[no_mangle]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    enclos_init_exec::run(std::env::args_os(), &enclos_init_exec::environ())
}
