//! SMTP replies (RFC 5321 section 4.2), a leaf so that errors, outcomes and the session can all
//! carry one: a three-digit code and one or more text lines, and the
//! line-by-line parser that builds them with msmtp's limits (1023 bytes per line including the
//! line end, at most 50 lines) and msmtp's error texts (all exit 76).

/// One complete (possibly multi-line) server reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The numeric code of the first line.
    pub code: u16,
    /// Every line as received, code included (`250-SIZE 100`, `250 OK`), without CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// Whether the code is 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The text of each line after the code and separator (`SIZE 100`, `OK`).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.get(4..).unwrap_or(""))
    }
}

/// The longest reply line msmtp accepts, counting its line end.
pub const MAX_LINE_LEN: usize = 1023;
/// The most lines one reply may have.
pub const MAX_LINES: usize = 50;

/// Why a reply line was not accepted. The session turns it into msmtp's error text; keeping
/// it a plain value leaves this module free of the error type, which itself carries replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadReply {
    /// Not `NNN ` or `NNN-` followed by text.
    Invalid,
    /// More than [`MAX_LINES`] lines.
    TooManyLines,
}

/// Collects the lines of one reply; feed it lines (without their line end) until it returns
/// the finished reply.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// A parser waiting for the first line.
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Adds one line; `Ok(Some(reply))` once the final line (`NNN ` form) arrived.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, BadReply> {
        if line.len() < 4
            || !line[..3].iter().all(u8::is_ascii_digit)
            || (line[3] != b' ' && line[3] != b'-')
        {
            return Err(BadReply::Invalid);
        }
        let code = line[..3]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        if self.lines.len() >= MAX_LINES {
            return Err(BadReply::TooManyLines);
        }
        // Like msmtp, the first line's code counts; later lines are not compared to it.
        let code = *self.code.get_or_insert(code);
        self.lines.push(String::from_utf8_lossy(line).into_owned());
        if line[3] == b' ' {
            self.code = None;
            return Ok(Some(Reply {
                code,
                lines: std::mem::take(&mut self.lines),
            }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_reply_finishes_at_space() {
        let mut p = ReplyParser::new();
        let r = p.push_line(b"250 OK").expect("valid").expect("done");
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, vec!["250 OK"]);
        assert!((200..300).contains(&r.code) && !r.is_transient());
    }

    #[test]
    fn multiline_reply_collects_until_space() {
        let mut p = ReplyParser::new();
        assert_eq!(p.push_line(b"250-a").expect("valid"), None);
        assert_eq!(p.push_line(b"250-b").expect("valid"), None);
        let r = p.push_line(b"250 c").expect("valid").expect("done");
        assert_eq!(r.lines, vec!["250-a", "250-b", "250 c"]);
        assert_eq!(r.texts().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    }

    #[test]
    fn garbage_is_invalid_reply() {
        for bad in [&b"hello"[..], b"25", b"250", b"2x0 ok", b"250:ok", b""] {
            let e = ReplyParser::new().push_line(bad).expect_err("invalid");
            assert_eq!(e, BadReply::Invalid);
        }
    }

    #[test]
    fn reply_code_is_taken_from_the_first_line() {
        let mut p = ReplyParser::new();
        p.push_line(b"250-a").expect("valid");
        let r = p.push_line(b"550 b").expect("valid").expect("done");
        assert_eq!(r.code, 250);
    }

    #[test]
    fn more_than_50_lines_is_rejected() {
        let mut p = ReplyParser::new();
        for _ in 0..50 {
            assert_eq!(p.push_line(b"250-x").expect("valid"), None);
        }
        let e = p.push_line(b"250 y").expect_err("too long");
        assert_eq!(e, BadReply::TooManyLines);
        let mut p = ReplyParser::new();
        for _ in 0..49 {
            p.push_line(b"250-x").expect("valid");
        }
        assert!(p.push_line(b"250 y").expect("valid").is_some());
    }
}
