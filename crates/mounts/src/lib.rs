#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::fmt::Write as _;

mod fstab;
mod mountinfo;
#[cfg(test)]
mod prop_tests;

pub use fstab::{Create, FstabEntry, FstabError};
pub use mountinfo::{MountInfo, MountInfoError, MOUNTINFO};

/// Undoes the octal escapes of mountinfo and fstab fields: `\040` is a
/// blank, `\011` a tab, `\134` a backslash. Three octal digits make a byte
/// only up to `\377`; anything else (`\777`, `\9`, a lone `\`) stays as it
/// is written. Invalid UTF-8 comes back with replacement characters.
///
/// ```
/// assert_eq!(enclos_mounts::unescape(r"my\040data"), "my data");
/// assert_eq!(enclos_mounts::unescape(r"a\777b"), r"a\777b");
/// ```
pub fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let byte = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                u8::try_from(v).ok()
            });
        if let Some(v) = byte {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes a field of a mountinfo or fstab line so that [`unescape`] gives
/// it back and blanks do not split it: every blank (any whitespace),
/// control character, backslash and `#` becomes a three-digit octal
/// escape of each of its bytes.
///
/// ```
/// assert_eq!(enclos_mounts::escape("my data\\x"), r"my\040data\134x");
/// assert_eq!(enclos_mounts::unescape(&enclos_mounts::escape("a\tb")), "a\tb");
/// ```
pub fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        if c == '\\' || c == '#' || c.is_whitespace() || c.is_control() {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\{b:03o}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, unescape};
    use rstest::rstest;

    #[rstest]
    #[case("plain", "plain")]
    #[case(r"my\040data", "my data")]
    #[case(r"a\134b\011c\9", "a\\b\tc\\9")]
    #[case(r"end\040", "end ")]
    #[case(r"\101\102", "AB")]
    #[case(r"short\04", r"short\04")]
    #[case(r"over\777flow", r"over\777flow")]
    #[case(r"over\400", r"over\400")]
    #[case(r"top\377", "top\u{fffd}")]
    #[case(r"sign\+12", r"sign\+12")]
    #[case(r"lone\", r"lone\")]
    fn unescapes(#[case] field: &str, #[case] want: &str) {
        assert_eq!(unescape(field), want);
    }

    #[rstest]
    #[case("plain", "plain")]
    #[case("my data", r"my\040data")]
    #[case("a\\b\tc\n#", r"a\134b\011c\012\043")]
    #[case("nb\u{a0}sp", r"nb\302\240sp")]
    #[case("", "")]
    fn escapes(#[case] field: &str, #[case] want: &str) {
        assert_eq!(escape(field), want);
        assert_eq!(unescape(want), field);
    }
}
