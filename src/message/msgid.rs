//! Values of the Date and Message-ID headers msmtp adds (msmtp.md 5.3 items 3 and 4).
//!
//! The Date header uses English names regardless of locale and the real UTC offset of the
//! local time zone (msmtp 1.8.23 computed the offset by hand and got it wrong around year
//! boundaries). The Message-ID follows the 1.8.23 shape `<HASH.ENVFROM>` /
//! `<HASH.ENVFROM@HOST>`, with an MD5 over the clock, boot time, pid, host name and bytes from
//! the kernel's random source, so it is unique and cannot be guessed.

use crate::sys;
use md5::{Digest, Md5};
use std::io::Read;

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 2822 date for now in local time: `Sat, 28 Nov 2026 12:38:50 +0000`.
pub fn date_header_value() -> String {
    format_rfc2822(&sys::local_now())
}

/// RFC 2822 date for the given local time.
pub fn format_rfc2822(t: &sys::LocalTime) -> String {
    let weekday = WEEKDAYS.get(t.weekday as usize).copied().unwrap_or("Sun");
    let month = MONTHS
        .get((t.month as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    let sign = if t.gmtoff < 0 { '-' } else { '+' };
    let off = t.gmtoff.unsigned_abs() / 60;
    let hours = (off / 60).min(99);
    let minutes = off % 60;
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} {sign}{hours:02}{minutes:02}",
        t.day, t.year, t.hour, t.minute, t.second
    )
}

/// A Message-ID in the msmtp 1.8.23 form: `<HASH.ENVFROM>` if the envelope-from contains '@',
/// else `<HASH.ENVFROM@CANONICAL_HOSTNAME>`.
pub fn message_id(envelope_from: &str) -> String {
    if envelope_from.contains('@') {
        // The canonical host name needs a DNS lookup: not worth it just to feed the hash.
        let hash = unique_hash(&sys::hostname());
        format!("<{hash}.{envelope_from}>")
    } else {
        let host = sys::canonical_hostname();
        let hash = unique_hash(&host);
        format!("<{hash}.{envelope_from}@{host}>")
    }
}

/// 32 lowercase hex characters that identify this mail: the host (name, boot time) and the
/// submission on it (clock, pid), plus random bytes so the value cannot be predicted.
fn unique_hash(host: &str) -> String {
    let mut h = Md5::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(now.to_le_bytes());
    h.update(sys::boot_time_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(host.as_bytes());
    let mut random = [0u8; 16];
    let got = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .is_ok();
    if !got {
        // Without a random source, fall back to the address of a stack value (ASLR).
        let marker = 0u8;
        random[..8].copy_from_slice(&(&marker as *const u8 as usize as u64).to_le_bytes());
    }
    h.update(random);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(gmtoff: i64) -> sys::LocalTime {
        let mut t = sys::local_time(0);
        t.year = 2026;
        t.month = 11;
        t.day = 8;
        t.hour = 2;
        t.minute = 3;
        t.second = 4;
        t.weekday = 0;
        t.gmtoff = gmtoff;
        t
    }

    #[test]
    fn date_format_is_rfc2822_with_english_names() {
        assert_eq!(format_rfc2822(&lt(0)), "Sun, 08 Nov 2026 02:03:04 +0000");
        assert_eq!(
            format_rfc2822(&lt(5 * 3600 + 1800)),
            "Sun, 08 Nov 2026 02:03:04 +0530"
        );
        assert_eq!(
            format_rfc2822(&lt(-(3 * 3600 + 1800))),
            "Sun, 08 Nov 2026 02:03:04 -0330"
        );
    }

    #[test]
    fn date_header_value_matches_libc() {
        let v = date_header_value();
        // e.g. "Sat, 28 Nov 2026 12:38:50 +0000"
        assert_eq!(v.len(), 31, "{v}");
        let b = v.as_bytes();
        assert_eq!(&b[3..5], b", ");
        assert!(matches!(b[26], b'+' | b'-'));
    }

    #[test]
    fn message_id_forms() {
        let id = message_id("sender@example.com");
        assert!(
            id.starts_with('<') && id.ends_with(".sender@example.com>"),
            "{id}"
        );
        let hash = &id[1..33];
        assert!(
            hash.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(&id[33..34], ".");
        let local = message_id("joe");
        let host = sys::canonical_hostname();
        assert!(local.ends_with(&format!(".joe@{host}>")), "{local}");
        let empty = message_id("");
        assert!(empty.ends_with(&format!(".@{host}>")), "{empty}");
    }

    #[test]
    fn message_ids_are_unique() {
        let a = message_id("a@b");
        let b = message_id("a@b");
        assert_ne!(a, b);
    }
}
