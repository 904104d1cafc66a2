//! The argument grammars of msmtprc commands and the spellings `-P` prints, shared by the file
//! parser and the command line. A grammar says only *what* is wrong ([`Bad`]); each front end
//! words it: `invalid argument X for command port` in a file, `invalid argument X for --port`
//! on the command line.

/// What `-P` prints for a value that is not set.
pub(crate) const NOT_SET: &str = "(not set)";

/// Why an argument was refused, independent of where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The command needs a non-empty argument.
    Needs,
    /// The argument is not in the command's grammar.
    Invalid,
    /// The command takes no argument at all.
    TakesNone,
}

/// Which front end an argument comes from: msmtp accepts a few spellings only on the command
/// line (`-R hdrs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    File,
    CommandLine,
}

/// What a grammar may need besides the argument.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    /// `$HOME`, for `~` in file names.
    pub home: &'a str,
    pub origin: Origin,
}

/// The signature of every grammar in the command table.
pub(crate) type Grammar<T> = fn(&str, &Ctx) -> Result<T, Bad>;

/// The argument, unless it is empty.
pub(crate) fn needed(arg: &str) -> Result<&str, Bad> {
    if arg.is_empty() {
        Err(Bad::Needs)
    } else {
        Ok(arg)
    }
}

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

/// A required port: `port`.
pub(crate) fn port(arg: &str, _: &Ctx) -> Result<Option<u16>, Bad> {
    port_number(needed(arg)?).map(Some).ok_or(Bad::Invalid)
}

/// A port where empty means the default: `proxy_port`.
pub(crate) fn port_or_default(arg: &str, _: &Ctx) -> Result<Option<u16>, Bad> {
    optional(arg, port_number)
}

/// A positive number where empty means unset: `tls_min_dh_prime_bits`.
pub(crate) fn pos_int_or_unset(arg: &str, _: &Ctx) -> Result<Option<u32>, Bad> {
    optional(arg, pos_int)
}

/// Seconds or `off`: `timeout`.
pub(crate) fn seconds_or_off(arg: &str, _: &Ctx) -> Result<Option<u32>, Bad> {
    match needed(arg)? {
        "off" => Ok(None),
        n => pos_int(n).map(Some).ok_or(Bad::Invalid),
    }
}

/// Empty is unset; anything else must be in `f`'s syntax.
fn optional<T>(arg: &str, f: fn(&str) -> Option<T>) -> Result<Option<T>, Bad> {
    if arg.is_empty() {
        Ok(None)
    } else {
        f(arg).map(Some).ok_or(Bad::Invalid)
    }
}

/// `on` or `off`; empty means `on`.
pub(crate) fn on_off(arg: &str, _: &Ctx) -> Result<bool, Bad> {
    match arg {
        "" | "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Bad::Invalid),
    }
}

/// `on` or `off`, spelled out (`allow_from_override`).
pub(crate) fn exactly_on_off(arg: &str, ctx: &Ctx) -> Result<bool, Bad> {
    if arg.is_empty() {
        return Err(Bad::Invalid);
    }
    on_off(arg, ctx)
}

/// No argument (the old `tls_no...` commands).
pub(crate) fn nothing(arg: &str, _: &Ctx) -> Result<(), Bad> {
    if arg.is_empty() {
        Ok(())
    } else {
        Err(Bad::TakesNone)
    }
}

/// Any argument, which is then ignored.
pub(crate) fn ignored(_: &str, _: &Ctx) -> Result<(), Bad> {
    Ok(())
}

/// A required string: `host`.
pub(crate) fn required_text(arg: &str, _: &Ctx) -> Result<Option<String>, Bad> {
    Ok(Some(needed(arg)?.to_string()))
}

/// A string; empty means unset.
pub(crate) fn text(arg: &str, _: &Ctx) -> Result<Option<String>, Bad> {
    Ok((!arg.is_empty()).then(|| arg.to_string()))
}

/// A string that may be empty: `from ""` is the null sender, `maildomain ""` no domain.
pub(crate) fn any_text(arg: &str, _: &Ctx) -> Result<Option<String>, Bad> {
    Ok(Some(arg.to_string()))
}

/// A file name with `~` expanded; empty means unset.
pub(crate) fn path(arg: &str, ctx: &Ctx) -> Result<Option<String>, Bad> {
    Ok((!arg.is_empty()).then(|| expand_tilde(arg, ctx.home)))
}

pub(crate) fn expand_tilde(arg: &str, home: &str) -> String {
    match arg.strip_prefix('~') {
        Some(rest) => format!("{home}{rest}"),
        None => arg.to_string(),
    }
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

/// A number as the command line records it: decimal, unset being the empty argument.
pub(crate) fn decimal<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, T::to_string)
}

/// A required [`parse_duration`].
pub(crate) fn duration(arg: &str, _: &Ctx) -> Result<Option<u64>, Bad> {
    parse_duration(needed(arg)?).map(Some).ok_or(Bad::Invalid)
}

// The `-P` spellings. Each takes the account too, for the lines that depend on another
// setting (`password`) or on the selection (`from`).

/// What a `-P` line may look at besides its own value: the other settings (`password` shows
/// `*` when `passwordeval` is set) and whether the envelope-from is still to be read from the
/// mail. Generic over the settings struct, which the command table generates.
pub(crate) struct View<'a, S> {
    pub settings: &'a S,
    pub from_pending: bool,
}

/// The value, or `(not set)`.
pub(crate) fn show_text<S>(v: &Option<String>, _: &View<'_, S>) -> String {
    v.as_deref().unwrap_or(NOT_SET).to_string()
}

pub(crate) fn show_on_off<S>(v: &bool, _: &View<'_, S>) -> String {
    on_off_word(*v).to_string()
}

/// msmtp prints an unset port as 0.
pub(crate) fn show_port<S>(v: &Option<u16>, _: &View<'_, S>) -> String {
    v.unwrap_or(0).to_string()
}

pub(crate) fn show_number<T: ToString, S>(v: &Option<T>, _: &View<'_, S>) -> String {
    v.as_ref().map_or(NOT_SET.to_string(), T::to_string)
}

pub(crate) fn on_off_word(v: bool) -> &'static str {
    if v { "on" } else { "off" }
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
}
