//! The plain values several keys share: booleans, unsigned integers and
//! sizes.

pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err("0 or 1".to_string()),
    }
}

pub(crate) fn parse_uint(value: &str) -> Result<u32, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an unsigned integer".to_string());
    }
    value
        .parse::<u32>()
        .map_err(|_| "an unsigned integer".to_string())
}

/// A size as LXC's console keys write it: bytes with an optional KB, MB
/// or GB suffix (any case; multiples of 1024), or `auto` (128 KiB).
pub(crate) fn parse_size(value: &str) -> Result<u64, String> {
    if value == "auto" {
        return Ok(128 * 1024);
    }
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = value[digits.len()..].to_ascii_lowercase();
    let unit: u64 = match suffix.as_str() {
        "" | "b" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        _ => 0,
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|_| unit != 0)
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| "'auto' or a size such as 128KB, 1MB".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_sizes_in_bytes() {
        assert_eq!(parse_size("auto"), Ok(128 * 1024));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64kB"), Ok(64 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("MB").is_err());
    }
}
