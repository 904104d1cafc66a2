//! `pipe_command`: the message written to a command's standard input, "sendmail over ssh"
//! (`ssh mailhost /usr/sbin/sendmail -oi -f %f -- %r`), the second transport (its
//! `Transport` implementation is beside the SMTP one in `delivery`).
//!
//! What the command gets: the message as postie transmits it (after the header rules: Bcc
//! removed, Date, Message-ID and From added), with LF line endings and without SMTP's dot
//! stuffing, streamed (only the header block is held, to be checked before the command
//! starts). `%f` becomes the envelope sender and `%r` the recipients, each its own word.
//!
//! Addresses and shells: ssh hands its command to a second shell on the remote host, which
//! quoting for the local one cannot protect against (`` `cmd`@example.org `` is a valid
//! address). So an address goes into the command only if it reads as itself through any
//! number of shells ([`command::plain_word`]: letters, digits, `@.%+=:,/_-`, not starting
//! with `-`, which would be an option to a sendmail without `--`); any other is refused, with
//! a hint to `proxy_command`, where addresses travel inside SMTP. The null sender cannot be a
//! word either: `%f` with it is refused.
//!
//! Without `%r` the recipients come from the headers (a remote `sendmail -t`, often behind a
//! forced command). That is allowed only when it sends to exactly the envelope's recipients:
//! every recipient in the transmitted To or Cc headers and nobody else there, and no Bcc or
//! Resent- header transmitted. Bcc recipients (whose header postie removed) and recipients
//! given on the command line but not in the headers would be lost, and a kept Bcc header
//! would be up to the remote side to hide: such a message is refused (65).
//!
//! The exit status: 0 sent; 75 (EX_TEMPFAIL) and 255 (ssh's own failures: connection,
//! authentication) transient, so `queue on` keeps the message; 126 and 127 (the shell could
//! not run the command) `cannot run pipe_command`; another sysexits code is passed on; any
//! other status, or a signal, is 69. The command's last lines of output come with the error
//! (`command message: ...`).

use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result, Sysexit};
use crate::message;
use crate::net::command::{self, Child};
use std::collections::BTreeSet;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

/// How much of the message is buffered before it goes to the command.
const WRITE_BUFFER: usize = 64 * 1024;
/// The most that is held while looking for the end of the header block: the header block
/// postie reads is at most this long, plus the headers it adds.
const HEADER_LIMIT: usize = message::headers::MAX_HEADER_BLOCK + 64 * 1024;

/// The `pipe_command` transport of one account.
pub struct Pipe<'d> {
    template: String,
    idle: Duration,
    debug: Option<&'d mut dyn Write>,
}

impl<'d> Pipe<'d> {
    /// `template` is the `pipe_command` setting; every step waits at most `idle` (the
    /// account's `timeout`, else the 10-minute limit).
    pub fn new(template: &str, idle: Duration, debug: Option<&'d mut dyn Write>) -> Pipe<'d> {
        Pipe {
            template: template.to_owned(),
            idle,
            debug,
        }
    }

    fn trace(&mut self, line: &str) {
        if let Some(d) = self.debug.as_mut() {
            let _ = writeln!(d, "{}", crate::ui::sanitize(line));
        }
    }

    /// The command line for `envelope`.
    fn command_line(&self, envelope: &Envelope) -> Result<String> {
        let t = &self.template;
        let from = &envelope.from;
        if command::uses(t, 'f') {
            let null = from.is_empty() || from.eq_ignore_ascii_case("MAILER-DAEMON");
            if null {
                return Err(Error::usage(
                    "pipe_command cannot pass the null sender as %f \
                     (use proxy_command, or a pipe_command without %f)",
                ));
            }
            if !command::plain_word(from) {
                return Err(Error::usage(format!(
                    "envelope-from address {} cannot be passed safely to pipe_command \
                     (use proxy_command)",
                    crate::ui::sanitize(from)
                )));
            }
        }
        if command::uses(t, 'r')
            && let Some(r) = envelope.recipients.iter().find(|r| !command::plain_word(r))
        {
            return Err(Error::new(
                Sysexit::DataErr,
                format!(
                    "recipient address {} cannot be passed safely to pipe_command \
                         (use proxy_command)",
                    crate::ui::sanitize(r)
                ),
            ));
        }
        Ok(command::expand(t, |c| match c {
            'f' => Some(command::quote(from)),
            'r' => Some(
                envelope
                    .recipients
                    .iter()
                    .map(|r| command::quote(r))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }))
    }

    fn deliver(
        &mut self,
        envelope: &Envelope,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<u64> {
        let line = self.command_line(envelope).map_err(Error::in_send_stage)?;
        self.trace(&format!("pipe_command: running {line}"));
        let check = (!command::uses(&self.template, 'r')).then_some(envelope);
        let mut sink = Sink {
            line,
            idle: self.idle,
            check,
            unstuff: Unstuff::default(),
            stage: Stage::Header(Vec::new()),
            scanned: 0,
            error: None,
            broken: false,
        };
        let mut w = BufWriter::with_capacity(WRITE_BUFFER, &mut sink);
        let written = match body(&mut w) {
            Ok(size) => w.flush().map(|()| size).map_err(crate::smtp::write_error),
            Err(e) => Err(e),
        };
        // Not flushed on an error: what is left must not reach the command.
        let _ = w.into_parts();
        let result = match written {
            Err(e) if sink.error.is_none() && !sink.broken => {
                // The message could not be read to its end: the command must not take what it
                // got as the whole message, so it is killed before its input is closed.
                sink.abort();
                return Err(e);
            }
            // The command's exit status tells why it stopped taking the message.
            Err(_) => sink.finish().and_then(|()| Err(broken().in_send_stage())),
            Ok(size) => sink.finish().map(|()| size),
        };
        if let Stage::Running(child) | Stage::Ended(child) = &sink.stage
            && let Some(status) = child.exit_status()
        {
            self.trace(&format!(
                "pipe_command: {}",
                command::describe_status(status)
            ));
        }
        result
    }
}

impl Pipe<'_> {
    /// Sends one message: the command runs once per message. `policy` as for SMTP: under
    /// [`RecipientPolicy::EachRecipient`] (the queue) a permanent failure is the outcome's
    /// `message_error`, so the message is set aside.
    pub fn send(
        &mut self,
        envelope: &Envelope,
        policy: RecipientPolicy,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome> {
        match self.deliver(envelope, body) {
            Ok(mailsize) => Ok(Outcome {
                accepted: envelope.recipients.clone(),
                mailsize,
                ..Outcome::default()
            }),
            // The queue's rule: a permanent failure is the message's, reported in the outcome
            // (set aside); a transient one keeps it queued.
            Err(e) if policy == RecipientPolicy::EachRecipient && !e.is_transient() => {
                Ok(Outcome {
                    message_error: Some(e),
                    ..Outcome::default()
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// Undoes SMTP's transmission form: CRLF line ends become LF, the stuffed dot at the start of
/// a line is removed.
#[derive(Debug)]
struct Unstuff {
    line_start: bool,
    cr: bool,
}

impl Default for Unstuff {
    fn default() -> Unstuff {
        Unstuff {
            line_start: true,
            cr: false,
        }
    }
}

impl Unstuff {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.cr {
                self.cr = false;
                if b == b'\n' {
                    out.push(b'\n');
                    self.line_start = true;
                    continue;
                }
                out.push(b'\r');
            }
            if self.line_start && b == b'.' {
                self.line_start = false;
                continue;
            }
            self.line_start = false;
            if b == b'\r' {
                self.cr = true;
            } else {
                out.push(b);
                self.line_start = b == b'\n';
            }
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.cr) {
            out.push(b'\r');
        }
    }
}

enum Stage {
    /// The header block is being gathered; the command has not started.
    Header(Vec<u8>),
    /// The command runs and takes the rest.
    Running(Child),
    /// The command has ended and was reaped.
    Ended(Child),
    /// Nothing started and nothing will.
    Failed,
}

/// Where the message goes: the header block first, then the command.
struct Sink<'e> {
    line: String,
    idle: Duration,
    /// Without `%r`: the envelope the headers must carry.
    check: Option<&'e Envelope>,
    unstuff: Unstuff,
    stage: Stage,
    /// How far the header block has been searched for its end.
    scanned: usize,
    /// The error that stopped the message, when it is postie's own.
    error: Option<Error>,
    /// The command stopped taking input: its exit status tells why.
    broken: bool,
}

impl Sink<'_> {
    /// Whether the header block gathered so far is complete.
    fn header_complete(&mut self) -> bool {
        let Stage::Header(buf) = &self.stage else {
            return true;
        };
        if buf.first() == Some(&b'\n') {
            return true;
        }
        let from = self.scanned.saturating_sub(1);
        let done = buf[from..].windows(2).any(|w| w == b"\n\n");
        self.scanned = buf.len();
        done || buf.len() >= HEADER_LIMIT
    }

    /// Checks the header block, starts the command and gives it the block.
    fn start(&mut self) -> Result<()> {
        let Stage::Header(buf) = std::mem::replace(&mut self.stage, Stage::Failed) else {
            return Ok(());
        };
        if let Some(envelope) = self.check {
            headers_carry(&buf, envelope)?;
        }
        let child = Child::spawn(&self.line, self.idle, true).map_err(|e| {
            Error::new(
                Sysexit::Unavailable,
                format!("cannot run pipe_command: {}", crate::error::strerror(&e)),
            )
        })?;
        self.stage = Stage::Running(child);
        self.write_child(&buf)
    }

    fn write_child(&mut self, mut data: &[u8]) -> Result<()> {
        let Stage::Running(child) = &mut self.stage else {
            return Ok(());
        };
        while !data.is_empty() {
            match child.write(data) {
                Ok(0) => {
                    self.broken = true;
                    return Err(broken());
                }
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    child.terminate();
                    return Err(timed_out(child.output_lines()));
                }
                Err(_) => {
                    self.broken = true;
                    return Err(broken());
                }
            }
        }
        Ok(())
    }

    /// Takes decoded message bytes.
    fn push(&mut self, data: &[u8]) -> Result<()> {
        if let Stage::Header(buf) = &mut self.stage {
            buf.extend_from_slice(data);
            if self.header_complete() {
                self.start()?;
            }
            return Ok(());
        }
        self.write_child(data)
    }

    /// Kills the command (the message is incomplete).
    fn abort(&mut self) {
        if let Stage::Running(child) = &mut self.stage {
            child.terminate();
        }
    }

    /// The end of the message: starts the command if the message was all header, closes its
    /// input and reads its exit status.
    fn finish(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            self.abort();
            return Err(e.in_send_stage());
        }
        let mut rest = Vec::new();
        self.unstuff.end(&mut rest);
        if !self.broken {
            self.push(&rest).map_err(Error::in_send_stage)?;
            if matches!(self.stage, Stage::Header(_)) {
                self.start().map_err(Error::in_send_stage)?;
            }
        }
        let stage = std::mem::replace(&mut self.stage, Stage::Failed);
        let Stage::Running(mut child) = stage else {
            self.stage = stage;
            return Err(broken().in_send_stage());
        };
        let status = child.finish();
        let lines = child.output_lines();
        self.stage = Stage::Ended(child);
        let status = status.map_err(|_| timed_out(lines.clone()).in_send_stage())?;
        exit_result(status, self.broken, lines).map_err(Error::in_send_stage)
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_some() || self.broken {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let mut decoded = Vec::with_capacity(buf.len());
        self.unstuff.feed(buf, &mut decoded);
        match self.push(&decoded) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                if !self.broken {
                    self.error = Some(e);
                }
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A placeholder: the command's exit status decides the real error.
fn broken() -> Error {
    Error::new(Sysexit::Unavailable, "pipe_command stopped reading")
}

/// `pipe_command failed: the operation timed out` (75, transient).
fn timed_out(lines: Vec<String>) -> Error {
    let mut e = Error::new(
        Sysexit::TempFail,
        "pipe_command failed: the operation timed out",
    )
    .transient();
    e.details = command::message_lines(lines);
    e
}

/// What the command's exit status means (see the module documentation). `unread`: it stopped
/// reading before the end of the message.
fn exit_result(status: std::process::ExitStatus, unread: bool, lines: Vec<String>) -> Result<()> {
    let what = command::describe_status(status);
    let (exit, transient, message) = match status.code() {
        Some(0) if !unread => return Ok(()),
        Some(0) => (
            Sysexit::Unavailable,
            false,
            format!("pipe_command failed: the command did not read the whole message ({what})"),
        ),
        Some(75 | 255) => (
            Sysexit::TempFail,
            true,
            format!("pipe_command failed: {what}"),
        ),
        Some(126 | 127) => (
            Sysexit::Unavailable,
            false,
            format!("cannot run pipe_command: {what}"),
        ),
        Some(c) => (
            Sysexit::from_code(c).unwrap_or(Sysexit::Unavailable),
            false,
            format!("pipe_command failed: {what}"),
        ),
        None => (
            Sysexit::Unavailable,
            false,
            format!("pipe_command failed: {what}"),
        ),
    };
    let mut e = Error::new(exit, message);
    e.details = command::message_lines(lines);
    Err(if transient { e.transient() } else { e })
}

/// An address as a remote `sendmail -t` compares it: the domain's case does not matter.
fn normal(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => addr.to_owned(),
    }
}

/// The names of the header fields in `header` (lower case).
fn field_names(header: &[u8]) -> Vec<String> {
    header
        .split(|&b| b == b'\n')
        .take_while(|l| !l.is_empty())
        .filter(|l| !matches!(l.first(), Some(b' ' | b'\t')))
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            Some(
                String::from_utf8_lossy(&l[..colon])
                    .trim()
                    .to_ascii_lowercase(),
            )
        })
        .collect()
}

/// Without `%r`: whether a `sendmail -t` reading the transmitted header block sends to exactly
/// the envelope's recipients, and no Bcc recipient can be shown (see the module documentation).
fn headers_carry(header: &[u8], envelope: &Envelope) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::new(
            Sysexit::DataErr,
            format!("pipe_command has no %r: {why}"),
        ))
    };
    for name in field_names(header) {
        if name == "bcc" || name.starts_with("resent-") {
            return refuse(format!(
                "the message has a {name} header, which the remote sendmail -t would act on"
            ));
        }
    }
    let block = message::read_header_block_for(&mut &header[..], true)?;
    let in_headers: BTreeSet<String> = block.recipients.iter().map(|r| normal(r)).collect();
    let in_envelope: BTreeSet<String> = envelope.recipients.iter().map(|r| normal(r)).collect();
    if let Some(r) = envelope
        .recipients
        .iter()
        .find(|r| !in_headers.contains(&normal(r)))
    {
        return refuse(format!(
            "recipient {} is in no To or Cc header, so the remote sendmail -t would not \
             send to it (a Bcc recipient?)",
            crate::ui::sanitize(r)
        ));
    }
    if let Some(r) = block
        .recipients
        .iter()
        .find(|r| !in_envelope.contains(&normal(r)))
    {
        return refuse(format!(
            "{} is in the headers but not a recipient, and the remote sendmail -t would \
             send to it",
            crate::ui::sanitize(r)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstuffed(chunks: &[&[u8]]) -> Vec<u8> {
        let mut u = Unstuff::default();
        let mut out = Vec::new();
        for c in chunks {
            u.feed(c, &mut out);
        }
        u.end(&mut out);
        out
    }

    #[test]
    fn the_transmission_form_is_undone_across_chunk_boundaries() {
        let data = b"A: b\r\n\r\n..\r\n...x\r\n.y\r\nz.\r\n";
        let want = b"A: b\n\n.\n..x\ny\nz.\n";
        assert_eq!(unstuffed(&[data]), want);
        let split: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(unstuffed(&split), want);
        assert_eq!(unstuffed(&[b"a\r", b"\nb\r"]), b"a\nb\r");
    }

    fn env(from: &str, rcpts: &[&str]) -> Envelope {
        Envelope {
            from: from.into(),
            recipients: rcpts.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn line(template: &str, e: &Envelope) -> Result<String> {
        Pipe::new(template, Duration::from_secs(1), None).command_line(e)
    }

    #[test]
    fn addresses_become_words_or_are_refused() {
        let t = "ssh h sendmail -oi -f %f -- %r";
        assert_eq!(
            line(t, &env("a@b.c", &["x+tag@y.z", "j\u{fc}rgen@y.z"])).unwrap(),
            "ssh h sendmail -oi -f a@b.c -- x+tag@y.z j\u{fc}rgen@y.z"
        );
        for bad in [
            "`reboot`@x.y",
            "-oQ/tmp@x.y",
            "\"a b\"@x.y",
            "o'brien@x.y",
            "a|b@x.y",
        ] {
            let e = line(t, &env("a@b.c", &[bad])).unwrap_err();
            assert_eq!(e.exit, Sysexit::DataErr, "{bad}");
            assert!(e.message.contains("use proxy_command"), "{}", e.message);
            let e = line(t, &env(bad, &["r@x.y"])).unwrap_err();
            assert_eq!(e.exit, Sysexit::Usage, "{bad}");
        }
        assert_eq!(
            line(t, &env("", &["r@x.y"])).unwrap_err().message,
            "pipe_command cannot pass the null sender as %f \
             (use proxy_command, or a pipe_command without %f)"
        );
        // Without %f and %r, nothing is checked or put in.
        assert_eq!(
            line("sendmail -t %%f", &env("", &["o'brien@x.y"])).unwrap(),
            "sendmail -t %f"
        );
    }

    #[test]
    fn without_percent_r_the_headers_must_name_exactly_the_recipients() {
        let e = env("a@b.c", &["t@x.y", "c@X.Y"]);
        let ok = b"From: a@b.c\nTo: T <t@x.y>\nCc: c@x.y\nSubject: s\n\n";
        assert!(headers_carry(ok, &e).is_ok());
        let missing = b"To: t@x.y\n\n";
        let err = headers_carry(missing, &e).unwrap_err();
        assert_eq!(err.exit, Sysexit::DataErr);
        assert!(
            err.message
                .contains("recipient c@X.Y is in no To or Cc header")
        );
        let extra = b"To: t@x.y, c@x.y, other@x.y\n\n";
        assert!(
            headers_carry(extra, &e)
                .unwrap_err()
                .message
                .contains("other@x.y is in the headers but not a recipient")
        );
        let bcc = b"To: t@x.y, c@x.y\nBCC: t@x.y\n\n";
        assert!(
            headers_carry(bcc, &e)
                .unwrap_err()
                .message
                .contains("bcc header")
        );
        let resent = b"Resent-To: t@x.y, c@x.y\nTo: t@x.y, c@x.y\n\n";
        assert!(headers_carry(resent, &e).is_err());
        let undisclosed = b"To: undisclosed-recipients:;\n\n";
        assert!(headers_carry(undisclosed, &e).is_err());
    }

    #[test]
    fn exit_statuses_map_to_sysexits() {
        use std::os::unix::process::ExitStatusExt;
        let st = |code: i32| std::process::ExitStatus::from_raw(code << 8);
        assert!(exit_result(st(0), false, vec![]).is_ok());
        for (code, exit, transient) in [
            (75, Sysexit::TempFail, true),
            (255, Sysexit::TempFail, true),
            (127, Sysexit::Unavailable, false),
            (67, Sysexit::Unavailable, false),
            (65, Sysexit::DataErr, false),
            (1, Sysexit::Unavailable, false),
        ] {
            let e = exit_result(st(code), false, vec!["why".into()]).unwrap_err();
            assert_eq!((e.exit, e.transient), (exit, transient), "{code}");
            assert_eq!(e.details, ["command message: why"]);
        }
        let e = exit_result(st(0), true, vec![]).unwrap_err();
        assert!(e.message.contains("did not read the whole message"));
        let killed = exit_result(std::process::ExitStatus::from_raw(9), false, vec![]);
        assert_eq!(
            killed.unwrap_err().message,
            "pipe_command failed: killed by signal 9"
        );
    }
}
