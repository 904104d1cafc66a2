//! What postie prints, in msmtp's form: error lines on stderr prefixed with the program name,
//! and the `-P`/`-d` information on stdout. Shared by every mode so the wording and the
//! sanitising of server text are the same everywhere.

use crate::error::Error;
use std::io::Write;

/// Control characters become `?`, as msmtp's `sanitize_string` does to every error text, so
/// a hostile server reply or file name cannot paint the terminal or fake extra lines.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Write to stdout, ignoring failures: a caller that closed our stdout (mailutils does) must
/// not turn a sent message into a crash.
pub(crate) fn stdout_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// One line on stderr, ignoring failures (stderr may be closed or a broken pipe).
pub(crate) fn stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// What the caller needs to print errors like msmtp: the program name (basename of argv[0]).
pub(crate) struct Ui {
    pub(crate) prog: String,
}

impl Ui {
    /// One line on stderr. Control characters become `?` (as msmtp's `sanitize_string`), so a
    /// hostile server reply cannot paint the terminal or fake extra lines.
    pub(crate) fn error(&self, msg: &str) {
        stderr_line(&format!("{}: {}", self.prog, sanitize(msg)));
    }

    /// An error in msmtp's form: the text, the server's reply lines, and any detail lines.
    pub(crate) fn report(&self, e: &Error) {
        self.error(&e.message);
        for d in &e.details {
            self.error(d);
        }
        if let Some(r) = &e.reply {
            for l in &r.lines {
                self.error(&format!("server message: {l}"));
            }
        }
    }
}

/// stdout for `-P`/`-d` (msmtp prints its informational output there).
pub(crate) struct Output {
    enabled: bool,
    pub(crate) stdout: std::io::Stdout,
}

impl Output {
    pub(crate) fn new(enabled: bool) -> Output {
        Output {
            enabled,
            stdout: std::io::stdout(),
        }
    }

    pub(crate) fn lines(&mut self, lines: &[String]) {
        for l in lines {
            self.text(&format!("{l}\n"));
        }
    }

    pub(crate) fn text(&mut self, s: &str) {
        if self.enabled {
            let _ = self.stdout.write_all(s.as_bytes());
            let _ = self.stdout.flush();
        }
    }
}
