//! The server's side of the dialogue: greeting, commands in order, the transaction state
//! (RFC 5321 4.1.4), pipelining (RFC 2920: replies are flushed when no more input is
//! buffered), the limits, and the message data handed to a [`Relay`]. Generic over the byte
//! streams and the relay, so the whole dialogue is tested in memory.

use super::command::{Command, parse_command, reply};
use super::input::{DataReader, Input, Line};
use crate::reply::Reply;
use crate::smtp::MailParams;
use std::io::{self, BufRead, Read, Write};

/// Where the transactions go: each step gets the client's request and returns the reply to
/// give (usually the upstream server's).
pub trait Relay {
    /// `MAIL FROM` (syntax checked; `""` is the null sender). A 2xx reply opens the
    /// transaction.
    fn mail(&mut self, from: &str, params: &MailParams) -> Reply;
    /// `RCPT TO` in an open transaction. A 2xx reply counts the recipient as accepted.
    fn rcpt(&mut self, to: &str) -> Reply;
    /// `DATA` with at least one accepted recipient; 354 to receive the message.
    fn data(&mut self) -> Reply;
    /// The message after the 354, dot-unstuffed, up to (not including) the final dot. The
    /// relay may stop reading early; the rest is discarded. If reading fails because the
    /// client went away, the reply is not used and [`Relay::abort`] follows.
    fn message(&mut self, data: &mut dyn BufRead) -> Reply;
    /// The transaction is abandoned (RSET, HELO/EHLO, or a DATA refusal).
    fn reset(&mut self);
    /// The client went away in the middle of the data: nothing may be delivered or queued.
    fn abort(&mut self);
    /// The dialogue ends (QUIT, end of input, too many errors).
    fn quit(&mut self);
}

/// The server's limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest command line, without its line end.
    pub max_line: usize,
    /// Accepted recipients per transaction; more get 452 (RFC 5321 4.5.3.1.8).
    pub max_recipients: usize,
    /// Syntax and sequence errors (5xx replies of the server's own) before it gives up with
    /// 421, as Postfix's `smtpd_hard_error_limit`.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // RFC 5321's 512 octets, raised as its extensions allow (SIZE, BODY, SMTPUTF8
            // addresses); Postfix's `line_length_limit` is the same.
            max_line: 2048,
            max_recipients: 1000,
            max_errors: 20,
        }
    }
}

/// How the dialogue ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// QUIT.
    Quit,
    /// The input ended between commands.
    Closed,
    /// The input ended in the middle of the message data.
    ClosedInData,
    /// [`Limits::max_errors`] reached; 421 was sent.
    TooManyErrors,
}

/// The extensions advertised in the EHLO reply. Fixed: the account, and so the upstream
/// server, is only known at MAIL. What an upstream lacks is handled there: SIZE= and BODY=
/// are passed on only when it has the extension (SIZE without a number: no limit of
/// postie's own), SMTPUTF8 likewise (otherwise the message is sent as postie's ordinary
/// send would), and PIPELINING is postie's own (each command is relayed in order).
pub const EXTENSIONS: &[&str] = &["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8"];

/// Transaction state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// No transaction.
    Idle,
    /// MAIL accepted; `n` recipients accepted.
    Mail(usize),
}

/// Runs the dialogue until it ends. `trace` receives a transcript of the commands and
/// replies (not the message data). I/O errors on `output` end it with `Err` (after
/// [`Relay::quit`], or [`Relay::abort`] in the middle of the data).
pub fn serve<R: Read, W: Write>(
    input: R,
    output: W,
    relay: &mut dyn Relay,
    hostname: &str,
    limits: Limits,
    trace: Option<&mut dyn Write>,
) -> io::Result<End> {
    let mut s = Server {
        input: Input::new(input),
        output,
        relay,
        trace,
        hostname,
        limits,
        state: State::Idle,
        errors: 0,
        aborted: false,
    };
    let result = s.run();
    if !s.aborted {
        s.relay.quit();
    }
    result
}

struct Server<'r, 't, 'h, R: Read, W: Write> {
    input: Input<R>,
    output: W,
    relay: &'r mut dyn Relay,
    trace: Option<&'t mut dyn Write>,
    hostname: &'h str,
    limits: Limits,
    state: State,
    errors: usize,
    /// [`Relay::abort`] was called: the relay is done.
    aborted: bool,
}

impl<R: Read, W: Write> Server<'_, '_, '_, R, W> {
    fn run(&mut self) -> io::Result<End> {
        let greeting = reply(220, &format!("{} ESMTP postie", self.hostname));
        self.send(&greeting)?;
        loop {
            if self.input.buffered() == 0 {
                self.output.flush()?;
            }
            let line = self.input.read_line(self.limits.max_line)?;
            let (text, crlf) = match line {
                Line::Eof => return Ok(End::Closed),
                Line::TooLong => {
                    self.trace_line("<<< (a line too long)");
                    if self.refuse(&reply(500, "5.5.2 Error: line too long"))? {
                        return Ok(End::TooManyErrors);
                    }
                    continue;
                }
                Line::Complete { text, crlf } => (text, crlf),
            };
            if self.trace.is_some() {
                // postie offers no AUTH, but a client may try it: its secret stays out.
                let shown = if text.len() > 4 && text[..5].eq_ignore_ascii_case(b"AUTH ") {
                    "AUTH (redacted)".to_owned()
                } else {
                    crate::ui::sanitize_bytes(&text)
                };
                self.trace_line(&format!("<<< {shown}"));
            }
            let command = parse_command(&text);
            let answer = match command {
                Command::Helo(_) => {
                    self.reset();
                    reply(250, self.hostname)
                }
                Command::Ehlo(_) => {
                    self.reset();
                    let mut lines = vec![format!("250-{}", self.hostname)];
                    for (i, e) in EXTENSIONS.iter().enumerate() {
                        let sep = if i + 1 == EXTENSIONS.len() { ' ' } else { '-' };
                        lines.push(format!("250{sep}{e}"));
                    }
                    Reply { code: 250, lines }
                }
                Command::Mail { from, params } => match self.state {
                    State::Mail(_) => reply(503, "5.5.1 Error: nested MAIL command"),
                    State::Idle => {
                        let r = self.relay.mail(&from, &params);
                        if is_positive(&r) {
                            self.state = State::Mail(0);
                        }
                        r
                    }
                },
                Command::Rcpt { to } => match self.state {
                    State::Idle => reply(503, "5.5.1 Error: need MAIL command"),
                    State::Mail(n) if n >= self.limits.max_recipients => {
                        reply(452, "4.5.3 Error: too many recipients")
                    }
                    State::Mail(n) => {
                        let r = self.relay.rcpt(&to);
                        if is_positive(&r) {
                            self.state = State::Mail(n + 1);
                        }
                        r
                    }
                },
                Command::Data => match self.state {
                    State::Idle => reply(503, "5.5.1 Error: need RCPT command"),
                    State::Mail(0) => reply(554, "5.5.1 Error: no valid recipients"),
                    State::Mail(_) => match self.data(crlf)? {
                        Some(r) => r,
                        None => return Ok(End::ClosedInData),
                    },
                },
                Command::Rset => {
                    self.reset();
                    reply(250, "2.0.0 Ok")
                }
                Command::Noop => reply(250, "2.0.0 Ok"),
                Command::Quit => {
                    self.send(&reply(221, "2.0.0 Bye"))?;
                    self.output.flush()?;
                    return Ok(End::Quit);
                }
                Command::Vrfy => reply(
                    252,
                    "2.5.2 Cannot VRFY user, but will accept message and attempt delivery",
                ),
                Command::Expn => reply(502, "5.5.1 Error: EXPN not available"),
                Command::Help => reply(
                    214,
                    "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY QUIT",
                ),
                Command::NotImplemented(verb) => {
                    reply(502, &format!("5.5.1 Error: {verb} not available"))
                }
                Command::Unknown => reply(500, "5.5.2 Error: command not recognized"),
                Command::Refused(r) => r,
            };
            if self.refuse(&answer)? {
                return Ok(End::TooManyErrors);
            }
        }
    }

    /// Sends `r`, counting it if it is a syntax or sequence error; `true` when that was one
    /// too many (421 sent).
    fn refuse(&mut self, r: &Reply) -> io::Result<bool> {
        self.send(r)?;
        if (500..=504).contains(&r.code) || r.code == 553 || r.code == 555 {
            self.errors += 1;
            if self.errors >= self.limits.max_errors {
                self.send(&reply(421, "4.7.0 Error: too many errors"))?;
                self.output.flush()?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// DATA in a transaction with recipients: the relay's answer to DATA, then (on 354) the
    /// message and the relay's reply to it. `None`: the input ended inside the data.
    fn data(&mut self, crlf: bool) -> io::Result<Option<Reply>> {
        let r = self.relay.data();
        if r.code != 354 {
            self.reset();
            return Ok(Some(r));
        }
        if let Err(e) = self.send(&r).and_then(|()| self.output.flush()) {
            self.abort();
            return Err(e);
        }
        let mut reader = DataReader::new(&mut self.input, !crlf);
        let answer = self.relay.message(&mut reader);
        let complete = reader.drain() && !reader.disconnected();
        self.state = State::Idle;
        if !complete {
            self.trace_line("<<< (the input ended in the middle of the data)");
            self.abort();
            return Ok(None);
        }
        self.trace_line("<<< (message data) .");
        Ok(Some(answer))
    }

    fn abort(&mut self) {
        self.relay.abort();
        self.aborted = true;
    }

    fn reset(&mut self) {
        if self.state != State::Idle {
            self.relay.reset();
        }
        self.state = State::Idle;
    }

    fn send(&mut self, r: &Reply) -> io::Result<()> {
        let text = format_reply(r);
        if self.trace.is_some() {
            for line in text.lines() {
                self.trace_line(&format!(">>> {line}"));
            }
        }
        self.output.write_all(text.as_bytes())
    }

    fn trace_line(&mut self, line: &str) {
        if let Some(t) = self.trace.as_mut() {
            let _ = writeln!(t, "{line}");
        }
    }
}

fn is_positive(r: &Reply) -> bool {
    (200..300).contains(&r.code)
}

/// `r` on the wire: every line with `r`'s code (`-` between lines, a space on the last),
/// CRLF-terminated. Relayed text comes from another server: control characters become `?`
/// and an empty reply gets a text.
pub fn format_reply(r: &Reply) -> String {
    let code = if (200..600).contains(&r.code) {
        r.code
    } else {
        451
    };
    let texts: Vec<String> = r
        .lines
        .iter()
        .map(|l| crate::ui::sanitize(l.get(4..).unwrap_or("")))
        .collect();
    let texts = if texts.is_empty() {
        vec![String::new()]
    } else {
        texts
    };
    let mut out = String::new();
    for (i, t) in texts.iter().enumerate() {
        let sep = if i + 1 == texts.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{sep}{t}\r\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what reached it; refuses recipients whose local part is `bad` (550) or
    /// `later` (451).
    #[derive(Default)]
    struct Fake {
        calls: Vec<String>,
        messages: Vec<Vec<u8>>,
        /// Stop reading the message after this many bytes.
        read_limit: Option<usize>,
    }

    impl Relay for Fake {
        fn mail(&mut self, from: &str, params: &MailParams) -> Reply {
            self.calls.push(format!("mail {from} {params:?}"));
            reply(250, "2.1.0 Ok")
        }
        fn rcpt(&mut self, to: &str) -> Reply {
            self.calls.push(format!("rcpt {to}"));
            match to.split('@').next() {
                Some("bad") => reply(550, "5.1.1 no such user"),
                Some("later") => reply(451, "4.3.0 try later"),
                _ => reply(250, "2.1.5 Ok"),
            }
        }
        fn data(&mut self) -> Reply {
            self.calls.push("data".into());
            reply(354, "go ahead")
        }
        fn message(&mut self, data: &mut dyn BufRead) -> Reply {
            let mut m = Vec::new();
            let res = match self.read_limit {
                Some(n) => data.take(n as u64).read_to_end(&mut m),
                None => data.read_to_end(&mut m),
            };
            self.calls.push(format!("message {}", res.is_ok()));
            self.messages.push(m);
            reply(250, "2.0.0 queued as X")
        }
        fn reset(&mut self) {
            self.calls.push("reset".into());
        }
        fn abort(&mut self) {
            self.calls.push("abort".into());
        }
        fn quit(&mut self) {
            self.calls.push("quit".into());
        }
    }

    fn talk(fake: &mut Fake, input: &[u8]) -> (End, String) {
        let mut out = Vec::new();
        let end =
            serve(input, &mut out, fake, "host.test", Limits::default(), None).expect("dialogue");
        (end, String::from_utf8(out).expect("utf-8"))
    }

    fn codes(out: &str) -> Vec<&str> {
        out.lines()
            .filter(|l| l.as_bytes().get(3) == Some(&b' '))
            .map(|l| &l[..3])
            .collect()
    }

    #[test]
    fn a_pipelined_transaction_and_quit() {
        let mut f = Fake::default();
        let (end, out) = talk(
            &mut f,
            b"EHLO c\r\nMAIL FROM:<a@b.c> SIZE=10\r\nRCPT TO:<r@x.y>\r\nRCPT TO:<bad@x.y>\r\n\
              RCPT TO:<later@x.y>\r\nDATA\r\nSubject: s\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
        );
        assert_eq!(end, End::Quit);
        assert_eq!(
            codes(&out),
            [
                "220", "250", "250", "250", "550", "451", "354", "250", "221"
            ]
        );
        assert!(
            out.starts_with("220 host.test ESMTP postie\r\n250-host.test\r\n250-PIPELINING\r\n")
        );
        assert!(out.contains("250 SMTPUTF8\r\n"));
        assert_eq!(f.messages, [b"Subject: s\r\n\r\n.dot\r\n".to_vec()]);
        assert_eq!(f.calls.last().map(String::as_str), Some("quit"));
    }

    #[test]
    fn sequence_errors_and_reset() {
        let mut f = Fake::default();
        let (end, out) = talk(
            &mut f,
            b"RCPT TO:<r@x>\r\nDATA\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\n\
              RCPT TO:<bad@x>\r\nDATA\r\nRSET\r\nRCPT TO:<r@x>\r\nVRFY x\r\nNOOP\r\nSTARTTLS\r\n\
              FOO\r\n",
        );
        assert_eq!(end, End::Closed);
        assert_eq!(
            codes(&out),
            [
                "220", "503", "503", "250", "503", "554", "550", "554", "250", "503", "252", "250",
                "502", "500"
            ]
        );
        assert!(f.calls.contains(&"reset".to_string()));
        assert_eq!(f.calls.last().map(String::as_str), Some("quit"));
    }

    #[test]
    fn end_of_input_in_the_data_aborts() {
        let mut f = Fake::default();
        let (end, _) = talk(
            &mut f,
            b"MAIL FROM:<a@b>\r\nRCPT TO:<r@x>\r\nDATA\r\nhalf a mess",
        );
        assert_eq!(end, End::ClosedInData);
        assert_eq!(f.calls.last().map(String::as_str), Some("abort"));
        assert!(!f.calls.contains(&"quit".to_string()));
        assert_eq!(f.calls.iter().filter(|c| *c == "message false").count(), 1);
    }

    #[test]
    fn data_the_relay_does_not_read_is_skipped_to_the_dot() {
        let mut f = Fake {
            read_limit: Some(3),
            ..Fake::default()
        };
        let (end, out) = talk(
            &mut f,
            b"MAIL FROM:<a@b>\r\nRCPT TO:<r@x>\r\nDATA\r\nabcdef\r\nMAIL FROM:<x@y>\r\n.\r\nNOOP\r\n",
        );
        assert_eq!(end, End::Closed);
        assert_eq!(codes(&out), ["220", "250", "250", "354", "250", "250"]);
        assert_eq!(f.messages, [b"abc".to_vec()]);
    }

    #[test]
    fn recipients_are_capped_and_errors_end_the_dialogue() {
        let mut f = Fake::default();
        let mut input = b"MAIL FROM:<a@b>\r\n".to_vec();
        for i in 0..1005 {
            input.extend_from_slice(format!("RCPT TO:<r{i}@x>\r\n").as_bytes());
        }
        let (_, out) = talk(&mut f, &input);
        let c = codes(&out);
        assert_eq!(c.iter().filter(|c| **c == "250").count(), 1001);
        assert_eq!(c.iter().filter(|c| **c == "452").count(), 5);

        let mut f = Fake::default();
        let (end, out) = talk(&mut f, &b"garbage\r\n".repeat(100));
        assert_eq!(end, End::TooManyErrors);
        assert_eq!(codes(&out).last(), Some(&"421"));
        assert_eq!(codes(&out).len(), 22);
    }

    #[test]
    fn long_lines_are_refused_without_being_kept() {
        let mut f = Fake::default();
        let mut input = vec![b'A'; 1 << 20];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let (_, out) = talk(&mut f, &input);
        assert_eq!(codes(&out), ["220", "500", "250"]);
        assert!(out.contains("line too long"));
    }

    #[test]
    fn the_transcript_shows_commands_and_replies_but_no_auth_secret() {
        let mut f = Fake::default();
        let mut out = Vec::new();
        let mut trace = Vec::new();
        serve(
            &b"EHLO c\r\nAUTH PLAIN c2VjcmV0\r\nQUIT\r\n"[..],
            &mut out,
            &mut f,
            "h",
            Limits::default(),
            Some(&mut trace),
        )
        .expect("dialogue");
        let t = String::from_utf8(trace).expect("utf-8");
        assert!(t.contains("<<< EHLO c\n>>> 250-h\n"), "{t}");
        assert!(t.contains("<<< AUTH (redacted)\n>>> 502 "), "{t}");
        assert!(!t.contains("c2VjcmV0"), "{t}");
    }

    #[test]
    fn replies_are_sanitised_and_keep_every_line() {
        let r = Reply {
            code: 550,
            lines: vec![
                "550-5.1.1 first\u{1b}[31m".into(),
                "550 5.1.1 second".into(),
            ],
        };
        assert_eq!(
            format_reply(&r),
            "550-5.1.1 first?[31m\r\n550 5.1.1 second\r\n"
        );
        let empty = Reply {
            code: 250,
            lines: vec![],
        };
        assert_eq!(format_reply(&empty), "250 \r\n");
    }
}
