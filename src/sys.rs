//! Thin safe wrappers over the few libc calls postie needs: locale setup, local time with its
//! UTC offset, `strftime` (locale-dependent, like msmtp's log timestamps), host names,
//! `strerror` texts, the effective uid and the protection of secrets in memory. Most of postie's
//! `unsafe` is here; the rest sits beside the one system call it wraps (`ttyname_r`, `poll`
//! and `kill` for helper commands, `flock` in the queue, `getnameinfo`, ...), each with its
//! SAFETY note.

use std::ffi::{CStr, CString};

/// Adopt the locale from the environment (`setlocale(LC_ALL, "")`), as msmtp does at startup,
/// so that `strftime` and `strerror` produce the same localized texts. Call once, early.
pub fn init_locale() {
    // SAFETY: the argument is a valid NUL-terminated string; called at startup before threads
    // that could use locale-dependent functions concurrently.
    unsafe {
        libc::setlocale(libc::LC_ALL, c"".as_ptr());
    }
}

/// Keep secrets out of core dumps and away from other processes of the same user that attach
/// with ptrace: no core file is written (`RLIMIT_CORE` 0) and the process is not dumpable
/// (`PR_SET_DUMPABLE` 0, which also makes `/proc/PID/mem` and `environ` root-only). Helpers
/// started later are dumpable again after their `exec`, so gpg and pinentry are unaffected.
/// Best effort: a kernel that refuses leaves postie as it was.
pub fn protect_secrets_in_memory() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls take plain values or a pointer to a live, initialised struct.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Whether [`protect_secrets_in_memory`] is in force (`PR_GET_DUMPABLE`).
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) == 1 }
}

/// A broken-down local time plus the libc `tm` it came from (for `strftime`).
#[derive(Clone, Copy)]
pub struct LocalTime {
    /// Full year, e.g. 2026.
    pub year: i32,
    /// Month 1..=12.
    pub month: u32,
    /// Day of month 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub minute: u32,
    /// Second 0..=60.
    pub second: u32,
    /// Day of week, 0 = Sunday.
    pub weekday: u32,
    /// Offset from UTC in seconds (east positive).
    pub gmtoff: i64,
    /// The libc structure, used by [`strftime`].
    pub tm: libc::tm,
}

impl std::fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTime")
            .field("year", &self.year)
            .field("month", &self.month)
            .field("day", &self.day)
            .field("hour", &self.hour)
            .field("minute", &self.minute)
            .field("second", &self.second)
            .field("weekday", &self.weekday)
            .field("gmtoff", &self.gmtoff)
            .finish()
    }
}

/// The current local time.
pub fn local_now() -> LocalTime {
    // SAFETY: time(NULL) only returns the clock value.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    local_time(now as i64)
}

/// The local time for a Unix timestamp.
pub fn local_time(t: i64) -> LocalTime {
    let t = t as libc::time_t;
    // SAFETY: an all-zero tm is a valid value (the tm_zone pointer is null).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the reentrant variant and
    // writes only into `tm`. On failure `tm` stays zeroed.
    unsafe {
        libc::localtime_r(&t, &mut tm);
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1).clamp(1, 12) as u32,
        day: tm.tm_mday.max(0) as u32,
        hour: tm.tm_hour.max(0) as u32,
        minute: tm.tm_min.max(0) as u32,
        second: tm.tm_sec.max(0) as u32,
        weekday: tm.tm_wday.clamp(0, 6) as u32,
        gmtoff: tm.tm_gmtoff as i64,
        tm,
    }
}

/// libc `strftime` of `t` (locale-dependent), as raw bytes. A format containing NUL is cut
/// there, as in C. Returns an empty vector if the result would exceed 64 KiB.
pub fn strftime_bytes(format: &str, t: &LocalTime) -> Vec<u8> {
    let fmt = format.split('\0').next().unwrap_or("");
    if fmt.is_empty() {
        return Vec::new();
    }
    // strftime returns 0 both for "too small" and for an empty result; a sentinel space
    // appended to the format tells them apart.
    let Ok(cfmt_marked) = CString::new(format!("{fmt} ")) else {
        return Vec::new();
    };
    let mut cap = 256;
    while cap <= 65536 {
        let mut buf = vec![0u8; cap];
        // SAFETY: buf is writable for `cap` bytes, the format is NUL-terminated and `t.tm` is
        // a valid tm (from localtime_r, possibly with a static tm_zone pointer).
        let n =
            unsafe { libc::strftime(buf.as_mut_ptr().cast(), cap, cfmt_marked.as_ptr(), &t.tm) };
        if n > 0 {
            buf.truncate(n - 1);
            return buf;
        }
        cap *= 4;
    }
    Vec::new()
}

/// libc `strftime` of `t` as text (invalid UTF-8 from the locale is replaced).
pub fn strftime(format: &str, t: &LocalTime) -> String {
    String::from_utf8_lossy(&strftime_bytes(format, t)).into_owned()
}

/// `gethostname()`, or `localhost` if it fails. (msmtp's `%H` prefers `$HOSTNAME`; the caller
/// checks the environment first.)
pub fn hostname() -> String {
    gethostname().unwrap_or_else(|| "localhost".to_string())
}

fn gethostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its whole length; we force NUL termination below.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    buf[255] = 0;
    let s = CStr::from_bytes_until_nul(&buf).ok()?;
    Some(s.to_string_lossy().into_owned())
}

/// The canonical name of the local host (`gethostname` + `getaddrinfo(AI_CANONNAME)`),
/// falling back to the plain host name, then `localhost` (msmtp's Message-ID host).
pub fn canonical_hostname() -> String {
    match gethostname() {
        Some(h) => canonical_hostname_of(&h),
        None => "localhost".to_string(),
    }
}

/// The canonical name of `host` via `getaddrinfo(AI_CANONNAME)`, or `host` itself (msmtp's
/// `%C`).
pub fn canonical_hostname_of(host: &str) -> String {
    let Ok(chost) = CString::new(host) else {
        return host.to_string();
    };
    // SAFETY: an all-zero addrinfo is a valid hints value (null pointers, zero fields).
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_flags = libc::AI_CANONNAME;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: chost is NUL-terminated, hints and res are valid pointers; on success res owns a
    // list that we free exactly once below.
    let rc = unsafe { libc::getaddrinfo(chost.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        return host.to_string();
    }
    // SAFETY: res is a valid list returned by getaddrinfo; ai_canonname is null or a
    // NUL-terminated string owned by that list, copied before freeaddrinfo.
    let canon = unsafe {
        let p = (*res).ai_canonname;
        let c = if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p).to_string_lossy().into_owned())
        };
        libc::freeaddrinfo(res);
        c
    };
    canon.unwrap_or_else(|| host.to_string())
}

/// The effective user id.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The C library's (localized) text for an errno value, e.g. `No such file or directory`,
/// which is what msmtp prints after `FILE: `.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 512];
    // SAFETY: buf is writable for its length; the XSI strerror_r writes a NUL-terminated
    // message (truncated if needed) and returns non-zero on failure.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    match CStr::from_bytes_until_nul(&buf) {
        Ok(s) => s.to_string_lossy().into_owned(),
        Err(_) => format!("Unknown error {errno}"),
    }
}

/// The text msmtp would print for an I/O error (its errno's `strerror`, else Rust's text).
pub fn io_error_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

/// Nanoseconds since boot (CLOCK_BOOTTIME), 0 if unavailable. Used as entropy for IDs.
pub fn boot_time_nanos() -> u128 {
    // SAFETY: an all-zero timespec is valid.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u128) * 1_000_000_000 + ts.tv_nsec as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_fields_are_in_range() {
        let t = local_now();
        assert!(t.year >= 2024);
        assert!((1..=12).contains(&t.month));
        assert!((1..=31).contains(&t.day));
        assert!(t.weekday <= 6);
        assert!(t.gmtoff.abs() < 24 * 3600);
    }

    #[test]
    fn strftime_formats_like_c() {
        let t = local_time(0);
        let y = strftime("%Y", &t);
        assert!(y == "1970" || y == "1969", "{y}");
        assert_eq!(strftime("", &t), "");
        assert_eq!(strftime("%%", &t), "%");
        // a result that is legitimately empty is not mistaken for overflow
        assert!(strftime("%p", &t).len() <= 2);
        let long = "x".repeat(1000);
        assert_eq!(strftime(&long, &t), long);
    }

    #[test]
    fn hostnames_are_nonempty() {
        assert!(!hostname().is_empty());
        assert!(!canonical_hostname().is_empty());
        assert_eq!(canonical_hostname_of("bad\0name"), "bad\0name");
    }

    #[test]
    fn strerror_gives_c_texts() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(libc::EACCES), "Permission denied");
        let e = std::io::Error::from_raw_os_error(libc::EISDIR);
        assert_eq!(io_error_text(&e), "Is a directory");
    }

    #[test]
    fn euid_matches_proc() {
        let status = std::fs::read_to_string("/proc/self/status").expect("proc");
        let uid_line = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .expect("Uid line");
        let euid: u32 = uid_line
            .split_whitespace()
            .nth(2)
            .expect("euid")
            .parse()
            .expect("num");
        assert_eq!(geteuid(), euid);
    }
}
