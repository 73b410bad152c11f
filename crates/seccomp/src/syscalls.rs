//! Syscall names to numbers, for the architecture enclos runs on.
//! seccompiler keeps its own table private, so the table is here.

#[cfg(target_arch = "x86_64")]
mod x86_64;

/// The architecture whose syscalls [`number`] knows, as a profile's
/// section names it (`[x86_64]`), or `None` on an architecture enclos has
/// no table for.
pub fn native_arch() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    return Some("x86_64");
    #[cfg(not(target_arch = "x86_64"))]
    return None;
}

#[cfg(target_arch = "x86_64")]
fn table() -> &'static [(&'static str, u32)] {
    x86_64::TABLE
}

#[cfg(not(target_arch = "x86_64"))]
fn table() -> &'static [(&'static str, u32)] {
    &[]
}

/// The number of syscall `name` on the native architecture.
pub fn number(name: &str) -> Option<u32> {
    let t = table();
    t.binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| t[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn knows_the_x86_64_numbers() {
        assert_eq!(number("read"), Some(0));
        assert_eq!(number("kexec_load"), Some(246));
        assert_eq!(number("open_by_handle_at"), Some(304));
        assert_eq!(number("finit_module"), Some(313));
        assert_eq!(number("_sysctl"), Some(156));
        assert_eq!(number("no_such_call"), None);
        assert!(table().windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    }
}
