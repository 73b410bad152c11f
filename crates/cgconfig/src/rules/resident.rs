//! What the daemon keeps in memory: once it is set up, the pages of its
//! binary that only the start-up used (argument parsing, the rules'
//! reading, the layout's discovery) are given back to the kernel, so that
//! its resident size is what it runs on. A page used again is read back
//! from the page cache at its next touch.

use std::ffi::c_void;
use std::ptr::NonNull;

use nix::sys::mman::{madvise, MmapAdvise};

/// One mapping of `/proc/self/maps`: its range, and whether it is a
/// read-only or executable mapping of a file.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    file_read_only: bool,
}

fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (start, end) = f.next()?.split_once('-')?;
            let perms = f.next()?;
            let path = f.nth(3).unwrap_or("");
            Some(Mapping {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
                file_read_only: !perms.contains('w') && path.starts_with('/'),
            })
        })
        .collect()
}

/// Asks the kernel to page out the read-only file mappings of this
/// process (MADV_PAGEOUT, Linux 5.4): clean pages leave memory and come
/// back from the page cache when touched. Nothing is lost: pages a
/// relocation wrote (anonymous copies) are not dropped by a page-out.
/// Returns how many mappings were advised; kernels without
/// MADV_PAGEOUT give 0.
pub fn page_out_file_mappings() -> usize {
    let Ok(text) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    parse_maps(&text)
        .into_iter()
        .filter(|m| m.file_read_only && m.end > m.start)
        .filter(|m| advise_page_out(m.start, m.end - m.start))
        .count()
}

#[allow(unsafe_code)]
fn advise_page_out(start: usize, len: usize) -> bool {
    let Some(addr) = NonNull::new(start as *mut c_void) else {
        return false;
    };
    // SAFETY: the range is a whole mapping of this process, read from
    // /proc/self/maps; MADV_PAGEOUT only reclaims pages (it never changes
    // their content), so no reference into the range is invalidated.
    unsafe { madvise(addr, len, MmapAdvise::MADV_PAGEOUT) }.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_give_the_read_only_file_mappings() {
        let text = "55d0a0000000-55d0a0100000 r--p 00000000 fd:01 123 /usr/bin/enclos\n\
                    55d0a0100000-55d0a0800000 r-xp 00100000 fd:01 123 /usr/bin/enclos\n\
                    55d0a0900000-55d0a0a00000 rw-p 00900000 fd:01 123 /usr/bin/enclos\n\
                    55d0a1000000-55d0a1021000 rw-p 00000000 00:00 0 [heap]\n\
                    7ffd1000-7ffd2000 r--p 00000000 00:00 0 [vvar]\n";
        let maps = parse_maps(text);
        let ro: Vec<_> = maps.iter().filter(|m| m.file_read_only).collect();
        assert_eq!(ro.len(), 2);
        assert_eq!(ro[1].start, 0x55d0a0100000);
        assert_eq!(ro[1].end, 0x55d0a0800000);
    }

    #[test]
    fn paging_out_this_process_keeps_it_running() {
        // The test binary's own code is paged out, and runs on.
        let advised = page_out_file_mappings();
        assert!(advised > 0 || !std::path::Path::new("/proc/self/maps").exists());
        assert_eq!(parse_maps("garbage\n"), Vec::new());
    }
}
