//! EHLO/LHLO capabilities (msmtp.md sections 5.5 and 6): keywords are matched by prefix on the
//! upper-cased reply lines, like msmtp. AUTH mechanisms are compared as whole tokens (the
//! behaviour of msmtp >= 1.8.26; 1.8.23's substring search let `SCRAM-SHA-1-PLUS` advertise
//! SCRAM-SHA-1, which then failed at the server).

/// What the server advertised in its EHLO (or LHLO) reply. HELO means none of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// STARTTLS.
    pub starttls: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// ETRN (RFC 1985).
    pub etrn: bool,
    /// SMTPUTF8 (RFC 6531): asked for on MAIL FROM when an address is not ASCII (msmtp 1.8.23
    /// never uses it).
    pub smtputf8: bool,
    /// 8BITMIME; only reported, never used.
    pub eightbitmime: bool,
    /// SIZE with its limit (`Some(0)` = unlimited). `None` when not advertised or when the
    /// argument is not a number msmtp's `strtol` accepts whole (`SIZE`, `SIZE abc`, `SIZE -5`
    /// count as not advertised, observed with msmtp 1.8.23).
    pub size: Option<u64>,
    /// Whether any AUTH line was present.
    pub auth: bool,
    /// The advertised AUTH mechanisms, upper-cased, in order, without duplicates.
    pub auth_mechs: Vec<String>,
}

impl Capabilities {
    /// Parses the lines of a 250 EHLO reply (first line = greeting, not a capability).
    pub fn from_ehlo(lines: &[String]) -> Capabilities {
        let mut c = Capabilities::default();
        for line in lines.iter().skip(1) {
            let text = line.get(4..).unwrap_or("").to_ascii_uppercase();
            if text.starts_with("STARTTLS") {
                c.starttls = true;
            } else if text.starts_with("DSN") {
                c.dsn = true;
            } else if text.starts_with("PIPELINING") {
                c.pipelining = true;
            } else if text.starts_with("ETRN") {
                c.etrn = true;
            } else if text.starts_with("SMTPUTF8") {
                c.smtputf8 = true;
            } else if text.starts_with("8BITMIME") {
                c.eightbitmime = true;
            } else if let Some(rest) = text.strip_prefix("SIZE") {
                c.size = parse_size(rest);
            } else if let Some(rest) = text
                .strip_prefix("AUTH ")
                .or_else(|| text.strip_prefix("AUTH="))
            {
                c.auth = true;
                for mech in rest.split_ascii_whitespace() {
                    if !c.auth_mechs.iter().any(|m| m == mech) {
                        c.auth_mechs.push(mech.to_string());
                    }
                }
            }
        }
        c
    }

    /// Whether `name` (upper case) is among the advertised AUTH mechanisms.
    pub fn has_auth_mech(&self, name: &str) -> bool {
        self.auth_mechs.iter().any(|m| m == name)
    }
}

/// The SIZE argument as C's `strtol(rest, &end, 10)` with `*end == '\0'` checked: leading
/// white space and one sign are allowed, at least one digit, nothing after the digits, no
/// overflow; negative values are refused.
fn parse_size(rest: &str) -> Option<u64> {
    let s = rest.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    match (negative, n) {
        (true, 0) | (false, _) => u64::try_from(n).ok(),
        (true, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ehlo_keywords_are_detected_case_insensitively() {
        let c = Capabilities::from_ehlo(&lines(&[
            "250-mx.example Hello",
            "250-pipelining",
            "250-SIZE 10240000",
            "250-ETRN",
            "250-STARTTLS",
            "250-DSN",
            "250-SMTPUTF8",
            "250-8BITMIME",
            "250 AUTH PLAIN login CRAM-MD5",
        ]));
        assert!(c.pipelining && c.etrn && c.starttls && c.dsn && c.smtputf8 && c.eightbitmime);
        assert_eq!(c.size, Some(10_240_000));
        assert!(c.auth);
        assert_eq!(c.auth_mechs, vec!["PLAIN", "LOGIN", "CRAM-MD5"]);
    }

    #[test]
    fn auth_equals_form_is_merged() {
        let c = Capabilities::from_ehlo(&lines(&[
            "250-x",
            "250-AUTH=LOGIN PLAIN",
            "250 AUTH LOGIN XOAUTH2",
        ]));
        assert_eq!(c.auth_mechs, vec!["LOGIN", "PLAIN", "XOAUTH2"]);
    }

    #[test]
    fn auth_mechs_are_whole_tokens() {
        let c = Capabilities::from_ehlo(&lines(&["250-x", "250 AUTH SCRAM-SHA-1-PLUS"]));
        assert!(!c.has_auth_mech("SCRAM-SHA-1"));
        assert!(c.has_auth_mech("SCRAM-SHA-1-PLUS"));
    }

    #[test]
    fn greeting_line_is_not_a_capability() {
        let c = Capabilities::from_ehlo(&lines(&["250 STARTTLS.example"]));
        assert!(!c.starttls);
    }

    #[test]
    fn size_is_parsed_like_strtol_whole_string() {
        let size = |l: &str| Capabilities::from_ehlo(&lines(&["250-x", l])).size;
        assert_eq!(size("250 SIZE"), None);
        assert_eq!(size("250 SIZE 0"), Some(0));
        assert_eq!(size("250 SIZE  77"), Some(77));
        assert_eq!(size("250 SIZE\t5"), Some(5));
        assert_eq!(size("250 SIZE +5"), Some(5));
        assert_eq!(size("250 SIZE 77 "), None);
        assert_eq!(size("250 SIZE abc"), None);
        assert_eq!(size("250 SIZE 12abc"), None);
        assert_eq!(size("250 SIZE -5"), None);
        assert_eq!(size("250 SIZE=5"), None);
        assert_eq!(size("250 SIZE 0x10"), None);
        assert_eq!(size("250 SIZE 99999999999999999999"), None);
        assert_eq!(size("250 SIZE 9223372036854775807"), Some(i64::MAX as u64));
    }
}
