//! Number and size parsing shared by both parsers. Exact decimal arithmetic
//! (no floats) and checked everywhere: out-of-range input gives `None`.

/// Parses a plain unsigned integer, allowing surrounding whitespace and
/// thousands separators (`4,096`, as valgrind prints in its leak text).
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: u64 = 0;
    let mut last_comma = false;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                last_comma = false;
            }
            b',' if !last_comma => last_comma = true,
            _ => return None,
        }
    }
    if last_comma {
        return None;
    }
    Some(value)
}

/// Parses a size as heaptrack prints it into bytes: `100B`, `4.10K`,
/// `1.57M`, `3.51GB`, `485.04MB`, `12 bytes`, or a bare number.
///
/// `K`, `M`, `G`, `T`, `P` (with or without a trailing `B`) are decimal
/// (1000-based), as heaptrack's own formatter is; `KiB`, `MiB`, ... are
/// binary. heaptrack rounds to two decimals, so `4.10K` gives 4100 for a
/// 4096-byte block. Negative values (heaptrack's diff mode), malformed input
/// and values beyond `u64` give `None`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map_or(s.len(), |(i, _)| i);
    let (num, unit) = s.split_at(split);
    let multiplier: u128 = match unit.trim() {
        "" | "B" | "b" | "byte" | "bytes" => 1,
        "K" | "KB" | "k" | "kB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        "T" | "TB" => 1_000_000_000_000,
        "P" | "PB" => 1_000_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "PiB" => 1 << 50,
        _ => return None,
    };
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let int_value = if int_part.is_empty() {
        0
    } else {
        u128::from(parse_u64(int_part)?)
    };
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only the first 12 fractional digits matter for any unit up to P.
    let frac_digits = &frac_part[..frac_part.len().min(12)];
    let mut frac_value: u128 = 0;
    let mut frac_scale: u128 = 1;
    for b in frac_digits.bytes() {
        frac_value = frac_value * 10 + u128::from(b - b'0');
        frac_scale *= 10;
    }
    let whole = int_value.checked_mul(multiplier)?;
    // Round half up.
    let frac = (frac_value * multiplier * 2 + frac_scale) / (frac_scale * 2);
    u64::try_from(whole.checked_add(frac)?).ok()
}

/// Parses a finite, non-negative decimal number of seconds such as `0.00`
/// (heaptrack's `total runtime: 0.00s.`).
pub(crate) fn parse_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    let s = s.strip_suffix('s').unwrap_or(s).trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_u64("57"), Some(57));
        assert_eq!(parse_u64(" 4,096 "), Some(4096));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64(""), None);
        assert_eq!(parse_u64("1,,0"), None);
        assert_eq!(parse_u64("12,"), None);
        assert_eq!(parse_u64("0x10"), None);
    }

    #[test]
    fn sizes_as_heaptrack_prints_them() {
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("100B"), Some(100));
        assert_eq!(parse_size("4.10K"), Some(4100));
        assert_eq!(parse_size("72.70K"), Some(72_700));
        assert_eq!(parse_size("1.57M"), Some(1_570_000));
        assert_eq!(parse_size("3.98M"), Some(3_980_000));
        assert_eq!(parse_size("485.04MB"), Some(485_040_000));
        assert_eq!(parse_size("11.14GB"), Some(11_140_000_000));
        assert_eq!(parse_size("4.48KB"), Some(4480));
        assert_eq!(parse_size("12 bytes"), Some(12));
        assert_eq!(parse_size("1.5KiB"), Some(1536));
        assert_eq!(parse_size("0.005K"), Some(5));
        assert_eq!(parse_size("0.0005K"), Some(1)); // rounds half up
        assert_eq!(parse_size(".5K"), Some(500));
    }

    #[test]
    fn sizes_rejected() {
        assert_eq!(parse_size("-4.10K"), None);
        assert_eq!(parse_size("4.10X"), None);
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("."), None);
        assert_eq!(parse_size("1.2.3K"), None);
        assert_eq!(parse_size("99999999999999999999P"), None);
        assert_eq!(parse_size("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_size("18446744073709551.616K"), None);
        assert_eq!(parse_size("1.000000000000000000000000000001K"), Some(1000));
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0.00s."), Some(0.0));
        assert_eq!(parse_seconds("46.97s."), Some(46.97));
        assert_eq!(parse_seconds("inf"), None);
        assert_eq!(parse_seconds("NaNs."), None);
        assert_eq!(parse_seconds("-1s"), None);
    }
}
