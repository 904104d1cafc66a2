//! The one error type of postie. Every failure carries the text msmtp would print (without the
//! `PRGNAME: ` prefix), the sysexits code msmtp 1.8.23 exits with for that failure class, the
//! server reply that caused it (if any), and whether retrying later could succeed (used by the
//! queue). Exit numbers appear only in [`Sysexit`].

use crate::reply::Reply;
use std::fmt;

/// The sysexits.h codes msmtp uses. `name()` is what the log line prints (`exitcode=EX_...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sysexit {
    Ok,
    Usage,
    DataErr,
    NoInput,
    NoHost,
    Unavailable,
    Software,
    OsErr,
    IoErr,
    TempFail,
    Protocol,
    NoPerm,
    Config,
}

impl Sysexit {
    /// The failures, without `Ok`.
    const FAILURES: [Sysexit; 12] = [
        Sysexit::Usage,
        Sysexit::DataErr,
        Sysexit::NoInput,
        Sysexit::NoHost,
        Sysexit::Unavailable,
        Sysexit::Software,
        Sysexit::OsErr,
        Sysexit::IoErr,
        Sysexit::TempFail,
        Sysexit::Protocol,
        Sysexit::NoPerm,
        Sysexit::Config,
    ];

    /// The failure an exit status stands for, if it is one of these (a helper's status).
    pub fn from_code(code: i32) -> Option<Sysexit> {
        Sysexit::FAILURES
            .into_iter()
            .find(|s| i32::from(s.code()) == code)
    }

    /// The numeric process exit status.
    pub fn code(self) -> u8 {
        match self {
            Sysexit::Ok => 0,
            Sysexit::Usage => 64,
            Sysexit::DataErr => 65,
            Sysexit::NoInput => 66,
            Sysexit::NoHost => 68,
            Sysexit::Unavailable => 69,
            Sysexit::Software => 70,
            Sysexit::OsErr => 71,
            Sysexit::IoErr => 74,
            Sysexit::TempFail => 75,
            Sysexit::Protocol => 76,
            Sysexit::NoPerm => 77,
            Sysexit::Config => 78,
        }
    }

    /// The symbolic name, as msmtp writes it into the log line.
    pub fn name(self) -> &'static str {
        match self {
            Sysexit::Ok => "EX_OK",
            Sysexit::Usage => "EX_USAGE",
            Sysexit::DataErr => "EX_DATAERR",
            Sysexit::NoInput => "EX_NOINPUT",
            Sysexit::NoHost => "EX_NOHOST",
            Sysexit::Unavailable => "EX_UNAVAILABLE",
            Sysexit::Software => "EX_SOFTWARE",
            Sysexit::OsErr => "EX_OSERR",
            Sysexit::IoErr => "EX_IOERR",
            Sysexit::TempFail => "EX_TEMPFAIL",
            Sysexit::Protocol => "EX_PROTOCOL",
            Sysexit::NoPerm => "EX_NOPERM",
            Sysexit::Config => "EX_CONFIG",
        }
    }
}

/// A failure, with msmtp's wording and exit code.
#[derive(Debug)]
pub struct Error {
    /// The exit code msmtp 1.8.23 gives for this failure.
    pub exit: Sysexit,
    /// msmtp's error text, without the program-name prefix. Never contains a secret.
    pub message: String,
    /// The server reply that caused the failure: printed as `server message: LINE` lines and
    /// logged as `smtpstatus=`/`smtpmsg=`.
    pub reply: Option<Reply>,
    /// Whether a later attempt could succeed (no network, DNS, timeout, 4xx). Only the queue
    /// cares; exit codes stay msmtp's.
    pub transient: bool,
    /// Extra lines printed after the message (e.g. LMTP per-recipient refusals).
    pub details: Vec<String>,
    /// Lines printed after the server's reply lines: the `could not send mail (account ...)`
    /// trailer, a log file that could not be written, what happened to the queue.
    pub after: Vec<String>,
    /// Whether this failure happened in the send stage (connect and later), which is what
    /// decides if msmtp writes a log line.
    pub in_send_stage: bool,
}

impl Error {
    /// An error with the given exit code and text.
    pub fn new(exit: Sysexit, message: impl Into<String>) -> Error {
        Error {
            exit,
            message: message.into(),
            reply: None,
            transient: false,
            details: Vec::new(),
            after: Vec::new(),
            in_send_stage: false,
        }
    }

    /// A command-line error (64).
    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(Sysexit::Usage, message)
    }

    /// A configuration error (78).
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(Sysexit::Config, message)
    }

    /// An I/O error (74).
    pub fn io(message: impl Into<String>) -> Error {
        Error::new(Sysexit::IoErr, message)
    }

    /// Attach the server reply that caused this error.
    pub fn with_reply(mut self, reply: Reply) -> Error {
        self.reply = Some(reply);
        self
    }

    /// Mark this error as worth retrying later.
    pub fn transient(mut self) -> Error {
        self.transient = true;
        self
    }

    /// Mark this error as having happened while sending (connect or later).
    pub fn in_send_stage(mut self) -> Error {
        self.in_send_stage = true;
        self
    }

    /// Whether a later attempt could succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The lines printed for this error, in msmtp's order and without the program-name
    /// prefix: the text (one line per line of it), the detail lines, one `server message: `
    /// line per line of the server's reply, then the lines that follow it.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.message.lines().map(str::to_owned).collect();
        lines.extend(self.details.iter().cloned());
        if let Some(r) = &self.reply {
            lines.extend(r.lines.iter().map(|l| format!("server message: {l}")));
        }
        lines.extend(self.after.iter().cloned());
        lines
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The C library's wording of an I/O error (`No such file or directory`), which is what msmtp
/// prints; Rust's `Display` appends ` (os error N)`.
pub fn strerror(e: &std::io::Error) -> String {
    crate::sys::io_error_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_sysexits_h() {
        let all = [
            (Sysexit::Ok, 0, "EX_OK"),
            (Sysexit::Usage, 64, "EX_USAGE"),
            (Sysexit::DataErr, 65, "EX_DATAERR"),
            (Sysexit::NoInput, 66, "EX_NOINPUT"),
            (Sysexit::NoHost, 68, "EX_NOHOST"),
            (Sysexit::Unavailable, 69, "EX_UNAVAILABLE"),
            (Sysexit::Software, 70, "EX_SOFTWARE"),
            (Sysexit::OsErr, 71, "EX_OSERR"),
            (Sysexit::IoErr, 74, "EX_IOERR"),
            (Sysexit::TempFail, 75, "EX_TEMPFAIL"),
            (Sysexit::Protocol, 76, "EX_PROTOCOL"),
            (Sysexit::NoPerm, 77, "EX_NOPERM"),
            (Sysexit::Config, 78, "EX_CONFIG"),
        ];
        for (e, code, name) in all {
            assert_eq!(e.code(), code);
            assert_eq!(e.name(), name);
        }
    }
}
