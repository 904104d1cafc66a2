//! Just enough X.509 DER reading for msmtp's certificate description (`-d` and `--serverinfo`):
//! subject and issuer as RFC 4514-escaped strings (control characters as `?`) and the validity
//! period. The RDNs are listed in certificate (DER) order, which is what msmtp 1.8.23 prints
//! (observed: a certificate made with `-subj /C=DE/O=Org/CN=host` shows `C=DE,O=Org,CN=host`).
//! Anything it cannot parse yields `None`, and the description simply omits those lines.

/// The described parts of a certificate.
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

/// One DER element: (tag, contents, rest of input).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut l = 0usize;
        for &b in &rest[..n] {
            l = (l << 8) | usize::from(b);
        }
        rest = &rest[n..];
        l
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Parses the subject, issuer and validity of a DER certificate.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    let (_, cert, _) = element(der)?;
    let (_, tbs, _) = element(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = element(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    let (_, _, r) = element(rest)?; // serial
    let (_, _, r) = element(r)?; // signature algorithm
    let (_, issuer, r) = element(r)?;
    let (_, validity, r) = element(r)?;
    let (_, subject, _) = element(r)?;
    let (t1, nb, vr) = element(validity)?;
    let (t2, na, _) = element(vr)?;
    Some(CertInfo {
        subject: name(subject)?,
        issuer: name(issuer)?,
        not_before: time(t1, nb)?,
        not_after: time(t2, na)?,
    })
}

fn oid_text(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    if let Some((&first, rest)) = oid.split_first() {
        parts.push(u64::from(first / 40));
        parts.push(u64::from(first % 40));
        let mut v = 0u64;
        for &b in rest {
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                parts.push(v);
                v = 0;
            }
        }
    }
    let dotted = parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    match dotted.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "EMAIL",
        _ => return dotted,
    }
    .to_string()
}

/// An RFC 4514 string of a Name (SEQUENCE OF SET OF AttributeTypeAndValue), last RDN first.
fn name(mut input: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    while !input.is_empty() {
        let (_, set, r) = element(input)?;
        input = r;
        let mut atvs = Vec::new();
        let mut s = set;
        while !s.is_empty() {
            let (_, atv, r) = element(s)?;
            s = r;
            let (_, oid, vr) = element(atv)?;
            let (vtag, value, _) = element(vr)?;
            // msmtp prints the values raw; a certificate is the server's text on the user's
            // terminal, so it is sanitised like a server reply.
            atvs.push(format!(
                "{}={}",
                oid_text(oid),
                escape_value(&crate::ui::sanitize(&string_value(vtag, value)))
            ));
        }
        rdns.push(atvs.join("+"));
    }
    Some(rdns.join(","))
}

/// The text of a directory string: BMPString is UTF-16BE; the other string types are ASCII or
/// UTF-8 in practice.
fn string_value(tag: u8, value: &[u8]) -> String {
    if tag == 0x1e {
        let units: Vec<u16> = value
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(value).into_owned()
}

/// RFC 4514 section 2.4 escaping, as GnuTLS applies it: `,+"\<>;` anywhere, `#` or a space
/// at the start and a space at the end.
fn escape_value(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subject's common name, when GnuTLS would match the host name against it: the
/// certificate has no dNSName subjectAltName and its subject has exactly one CN. (webpki never
/// looks at the CN; GnuTLS, and so msmtp, does for such certificates, e.g. ones made with
/// `openssl req -x509 -subj /CN=host`, which carry no SAN.)
pub fn cn_fallback_name(der: &[u8]) -> Option<String> {
    let (_, cert, _) = element(der)?;
    let (_, tbs, _) = element(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = element(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    let (_, _, r) = element(rest)?; // serial
    let (_, _, r) = element(r)?; // signature algorithm
    let (_, _, r) = element(r)?; // issuer
    let (_, _, r) = element(r)?; // validity
    let (_, subject, mut r) = element(r)?;
    let (_, _, after_spki) = element(r)?; // subjectPublicKeyInfo
    r = after_spki;
    while !r.is_empty() {
        let (tag, content, next) = element(r)?;
        r = next;
        if tag == 0xa3 && has_dns_san(content)? {
            return None;
        }
    }
    let mut cns = Vec::new();
    let mut input = subject;
    while !input.is_empty() {
        let (_, set, next) = element(input)?;
        input = next;
        let mut s = set;
        while !s.is_empty() {
            let (_, atv, next) = element(s)?;
            s = next;
            let (_, oid, vr) = element(atv)?;
            let (vtag, value, _) = element(vr)?;
            if oid == [0x55, 0x04, 0x03] {
                cns.push(string_value(vtag, value));
            }
        }
    }
    match cns.as_slice() {
        [cn] => Some(cn.clone()),
        _ => None,
    }
}

/// Whether an `[3] Extensions` body holds a subjectAltName with a dNSName entry.
fn has_dns_san(ext: &[u8]) -> Option<bool> {
    let (_, mut list, _) = element(ext)?;
    while !list.is_empty() {
        let (_, e, next) = element(list)?;
        list = next;
        let (_, oid, mut r) = element(e)?;
        if oid != [0x55, 0x1d, 0x11] {
            continue;
        }
        let (tag, _, after) = element(r)?;
        if tag == 0x01 {
            r = after; // critical flag
        }
        let (_, octets, _) = element(r)?;
        let (_, mut names, _) = element(octets)?;
        while !names.is_empty() {
            let (tag, _, next) = element(names)?;
            names = next;
            if tag == 0x82 {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// GnuTLS's host name comparison: ASCII case-insensitive, with `*` allowed as the whole
/// leftmost label of the pattern, matching exactly one label.
pub fn hostname_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match p.strip_prefix("*.") {
        Some(rest) => h
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => p == h,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTCTime (tag 0x17) or GeneralizedTime (0x18), `Z` form only.
fn time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if s.len() >= 10 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..)?)
        }
        0x18 if s.len() >= 12 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (mo, d, h, mi) = (num(0)?, num(2)?, num(4)?, num(6)?);
    let sec = if rest.len() >= 10 { num(8)? } else { 0 };
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Formats a time like msmtp (the C library's `%c` in local time).
pub fn format_time(t: i64) -> String {
    // time_t is 64 bits on every platform postie targets.
    let tt = t as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r and strftime only write within the given
    // buffers, whose sizes are passed.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return t.to_string();
        }
        let mut buf = [0u8; 128];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c"%c".as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn utctime_and_generalizedtime_parse() {
        assert_eq!(time(0x17, b"700101000001Z"), Some(1));
        assert_eq!(time(0x18, b"20000301000000Z"), Some(11_017 * 86_400));
        assert_eq!(time(0x17, b"garbage"), None);
    }

    #[test]
    fn dn_values_are_rfc4514_escaped() {
        assert_eq!(escape_value("Foo, Inc"), "Foo\\, Inc");
        assert_eq!(escape_value("mx #1"), "mx #1");
        assert_eq!(escape_value("#1 "), "\\#1\\ ");
        assert_eq!(escape_value("a+b;c"), "a\\+b\\;c");
    }

    #[test]
    fn bmpstring_values_are_utf16() {
        assert_eq!(string_value(0x1e, &[0, b'h', 0, b'i']), "hi");
        assert_eq!(string_value(0x0c, b"hi"), "hi");
    }

    #[test]
    fn dn_is_listed_in_certificate_order() {
        // SEQUENCE { SET { C=DE }, SET { CN=host } }
        let c = [
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'D', b'E',
        ];
        let cn = [
            0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, b'h', b'o', b's', b't',
        ];
        let mut der = vec![0x31, c.len() as u8];
        der.extend_from_slice(&c);
        der.extend_from_slice(&[0x31, cn.len() as u8]);
        der.extend_from_slice(&cn);
        assert_eq!(name(&der).as_deref(), Some("C=DE,CN=host"));
    }

    fn rcgen_cert(sans: &[&str], cns: &[&str]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        p.distinguished_name = rcgen::DistinguishedName::new();
        for cn in cns {
            p.distinguished_name.push(rcgen::DnType::CommonName, *cn);
        }
        p.self_signed(&key).expect("sign").der().to_vec()
    }

    #[test]
    fn control_characters_in_names_become_question_marks() {
        let evil = "a\x1b[2Jb\x07c\rd\ne\0f\x7fg\u{85}h\u{202e}i\tj";
        let info = parse(&rcgen_cert(&["localhost"], &[evil])).expect("parse");
        assert_eq!(info.subject, "CN=a?[2Jb?c?d?e?f?g?h?i?j");
        assert_eq!(info.issuer, info.subject);
        // UTF-16 (BMPString) values are sanitised after decoding.
        let bmp = [
            0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x06, 0x00, b'a', 0x20, 0x2e, 0x00,
            0x1b,
        ];
        let mut der = vec![0x31, bmp.len() as u8];
        der.extend_from_slice(&bmp);
        assert_eq!(name(&der).as_deref(), Some("CN=a??"));
        let info = parse(&rcgen_cert(&["localhost"], &["Grüße, 日本"])).expect("parse");
        assert_eq!(info.subject, "CN=Grüße\\, 日本");
    }

    #[test]
    fn cn_fallback_only_without_dns_san() {
        assert_eq!(
            cn_fallback_name(&rcgen_cert(&[], &["mx.example"])).as_deref(),
            Some("mx.example")
        );
        assert_eq!(
            cn_fallback_name(&rcgen_cert(&["mx.example"], &["mx.example"])),
            None
        );
        // An IP-only SAN leaves the CN usable for DNS names, as in GnuTLS.
        assert_eq!(
            cn_fallback_name(&rcgen_cert(&["127.0.0.1"], &["mx.example"])).as_deref(),
            Some("mx.example")
        );
    }

    #[test]
    fn hostname_matching_like_gnutls() {
        assert!(hostname_matches("LocalHost", "localhost"));
        assert!(hostname_matches("*.example.org", "mx.example.org"));
        assert!(!hostname_matches("*.example.org", "a.mx.example.org"));
        assert!(!hostname_matches("*.example.org", "example.org"));
        assert!(!hostname_matches("mx.example.org", "example.org"));
    }

    #[test]
    fn truncated_der_is_none() {
        assert!(cn_fallback_name(&[0x30, 0x03, 0x30]).is_none());
        assert!(parse(&[0x30, 0x82, 0x01]).is_none());
        assert!(parse(&[]).is_none());
    }
}
