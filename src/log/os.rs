//! The two libc facilities the log needs that std lacks: fcntl record locks (msmtp locks the
//! log file with fcntl, so postie and msmtp writing one log file exclude each other) and syslog.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;

/// Try once to take a write lock on the whole file. `WouldBlock` means another process holds it.
pub(super) fn try_write_lock(file: &File) -> std::io::Result<()> {
    // SAFETY: flock is a plain-data struct; all-zero is a valid value before we set fields.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0;
    // SAFETY: the fd is valid for the lifetime of `file` and `lock` is a valid flock struct.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
    if r == -1 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EAGAIN) => {
                Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, e))
            }
            _ => Err(e),
        };
    }
    Ok(())
}

/// One syslog message with ident `msmtp`, as msmtp sends it.
pub(super) fn syslog(facility: libc::c_int, message: &str, success: bool) {
    static IDENT: &std::ffi::CStr = c"msmtp";
    let Ok(msg) = CString::new(message.replace('\0', "?")) else {
        return;
    };
    let priority = if success {
        libc::LOG_INFO
    } else {
        libc::LOG_ERR
    };
    // SAFETY: IDENT is a 'static C string (openlog keeps the pointer); "%s" with a valid
    // NUL-terminated string is a well-formed variadic call.
    unsafe {
        libc::openlog(IDENT.as_ptr(), 0, facility);
        libc::syslog(priority, c"%s".as_ptr(), msg.as_ptr());
        libc::closelog();
    }
}
