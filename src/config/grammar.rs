//! The value syntaxes of msmtprc commands, shared by the file parser and the command line so
//! that both accept exactly what msmtp accepts.

/// C `strtol(s, &end, 0)` accepting the whole string only: leading white space, a sign, and a
/// `0x` (hex) or `0` (octal) prefix, as msmtp parses numbers.
pub(crate) fn strtol0(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].starts_with(|c: char| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if t.starts_with('0') && t.len() > 1 {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn in_range(arg: &str, min: i64, max: i64) -> Option<i64> {
    strtol0(arg).filter(|v| (min..=max).contains(v))
}

/// A port number (msmtp's `get_pos_int` and its 1..=65535 check).
pub(crate) fn port_number(arg: &str) -> Option<u16> {
    Some(in_range(arg, 1, 65535)? as u16)
}

/// A positive C `int` (msmtp's `get_pos_int`).
pub(crate) fn pos_int(arg: &str) -> Option<u32> {
    Some(in_range(arg, 1, i64::from(i32::MAX))? as u32)
}

pub(crate) fn expand_tilde(arg: &str, home: &str) -> String {
    match arg.strip_prefix('~') {
        Some(rest) => format!("{home}{rest}"),
        None => arg.to_string(),
    }
}

/// Decode a `tls_fingerprint`: 16, 20 or 32 hex pairs separated by `:` or space.
pub(crate) fn fingerprint(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !matches!(b.len(), 47 | 59 | 95) {
        return None;
    }
    let mut out = Vec::with_capacity(32);
    for chunk in b.chunks(3) {
        if chunk.len() == 3 && chunk[2] != b':' && chunk[2] != b' ' {
            return None;
        }
        let hex = std::str::from_utf8(&chunk[..2]).ok()?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        out.push(u8::from_str_radix(hex, 16).ok()?);
    }
    Some(out)
}

/// A duration for postie's queue settings: seconds, or a number with the suffix `s`, `m`,
/// `h` or `d` (`90`, `30m`, `5d`). Decimal digits only, so a typo is an error, not a surprise.
pub fn parse_duration(arg: &str) -> Option<u64> {
    let (digits, unit) = match arg.as_bytes().last()? {
        b's' => (&arg[..arg.len() - 1], 1),
        b'm' => (&arg[..arg.len() - 1], 60),
        b'h' => (&arg[..arg.len() - 1], 3600),
        b'd' => (&arg[..arg.len() - 1], 86400),
        _ => (arg, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_strtol_base0() {
        assert_eq!(strtol0("0x1d"), Some(29));
        assert_eq!(strtol0("0X1d"), Some(29));
        assert_eq!(strtol0("031"), Some(25));
        assert_eq!(strtol0(" +25"), Some(25));
        assert_eq!(strtol0("-1"), Some(-1));
        assert_eq!(strtol0("0"), Some(0));
        for bad in [
            "",
            "0x",
            "08",
            "25x",
            "abc",
            "25 ",
            "+",
            "++5",
            "0x+5",
            "+-5",
            "99999999999999999999999",
        ] {
            assert_eq!(strtol0(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn positive_ints_are_c_ints() {
        assert_eq!(pos_int("0x19"), Some(25));
        assert_eq!(pos_int("031"), Some(25));
        assert_eq!(pos_int("2147483647"), Some(2147483647));
        for bad in ["", "0", "-1", "25x", "2147483648"] {
            assert_eq!(pos_int(bad), None, "{bad:?}");
        }
        assert_eq!(port_number("65535"), Some(65535));
        assert_eq!(port_number("65536"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("5d"), Some(432000));
        for bad in [
            "",
            "d",
            "-1",
            "1w",
            "1.5h",
            " 1",
            "0x10",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fingerprint_formats() {
        let md5 = ["ab"; 16].join(":");
        assert_eq!(fingerprint(&md5), Some(vec![0xab; 16]));
        assert_eq!(fingerprint(&["AB"; 16].join(" ")), Some(vec![0xab; 16]));
        assert_eq!(fingerprint(&["aB"; 20].join(":")), Some(vec![0xab; 20]));
        assert_eq!(fingerprint(&["01"; 32].join(":")), Some(vec![1; 32]));
        for bad in [
            ["ab"; 16].join("-"),
            "ab".repeat(16),
            ["gg"; 16].join(":"),
            ["AB"; 32].join(":").replace('A', "G"),
            format!("{md5}:"),
            format!("0x{}", &md5[2..]),
            "AA:BB".to_string(),
        ] {
            assert_eq!(fingerprint(&bad), None, "{bad}");
        }
    }
}
