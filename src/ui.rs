//! What postie prints, in msmtp's form: error lines on stderr prefixed with the program name,
//! and the `-P`/`-d` information on stdout. Shared by every mode so the wording and the
//! sanitising of server text are the same everywhere.

use crate::error::Error;
use std::io::Write;

/// Control characters become `?`, as msmtp's `sanitize_string` does to every error text, so
/// a hostile server reply, certificate or file name cannot paint the terminal or fake extra
/// lines. Beyond msmtp (which checks single bytes only), the C1 controls (a UTF-8 terminal may
/// obey U+009B as CSI), the bidirectional formatting characters (U+202E turns the rest of a
/// line around, so displayed text differs from what was sent) and the Unicode line and
/// paragraph separators are replaced too.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if is_unsafe(c) { '?' } else { c })
        .collect()
}

/// [`sanitize`] for raw server bytes: invalid UTF-8 becomes U+FFFD first.
pub fn sanitize_bytes(b: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(b))
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
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

/// A note on stderr in the form of an error line (`PROG: TEXT`), for what is reported but is
/// not a failure (a deferred queued message under `-v`). The text is sanitised: it may quote a
/// server or a queue file.
pub(crate) fn note(text: &str) {
    let prog = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "postie".to_owned());
    stderr_line(&format!("{prog}: {}", sanitize(text)));
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

    /// An error in msmtp's form (see [`Error::lines`]), one prefixed, sanitised line each.
    pub(crate) fn report(&self, e: &Error) {
        for line in e.lines() {
            self.error(&line);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_become_question_marks() {
        assert_eq!(sanitize("a\x1b[31mb\x07\0\r\n\t\x7f"), "a?[31mb??????");
        assert_eq!(
            sanitize("x\u{85}\u{9b}1m\u{202e}evil\u{2066}\u{2069}\u{200f}\u{2028}y"),
            "x??1m?evil????y"
        );
        assert_eq!(sanitize("Grüße, 日本, ok"), "Grüße, 日本, ok");
        assert_eq!(sanitize_bytes(b"a\xff\x1bb"), "a\u{fffd}?b");
    }
}
