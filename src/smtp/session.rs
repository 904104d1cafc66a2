//! The SMTP/LMTP dialogue (msmtp.md sections 5.5, 5.6, 6), generic over the byte stream so the
//! whole conversation can be tested against a scripted in-memory server.
//!
//! Why it is shaped this way: commands are queued and flushed once per protocol turn (one
//! batch for a pipelined envelope), replies are read through our own buffer so the STARTTLS
//! injection guard can see bytes that arrived after the 220, and every failure carries msmtp's
//! text and exit code. QUIT is sent only after success and after the "capability missing"
//! errors; after any other error the connection is just dropped (no RSET), as msmtp does. The
//! debug transcript (`-d`) mirrors msmtp's `<-- `/`--> ` lines, with AUTH secrets redacted
//! and the server's lines sanitised (control characters become `?`).

use super::auth::{self, AuthSetting, Mechanism, PasswordSource, Scram};
use super::caps::Capabilities;
use super::{Protocol, SessionSettings};
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result, Sysexit};
use crate::net;
use crate::reply::{BadReply, MAX_LINE_LEN, MAX_LINES, Reply, ReplyParser};
use std::io::{self, Read, Write};

/// A connection the dialogue can run on: bytes both ways, plus an in-place TLS upgrade.
pub trait Stream: Read + Write {
    /// Whether TLS is active.
    fn is_tls(&self) -> bool;
    /// Performs the TLS handshake in place; returns the `-d` description lines.
    fn start_tls(&mut self) -> Result<Vec<String>>;
    /// The RFC 9266 `tls-exporter` channel-binding value, when TLS 1.3 is active.
    fn tls_exporter(&self) -> Option<Vec<u8>> {
        None
    }
}

impl Stream for net::tls::Conn {
    fn is_tls(&self) -> bool {
        net::tls::Conn::is_tls(self)
    }

    fn start_tls(&mut self) -> Result<Vec<String>> {
        net::tls::Conn::start_tls(self)
    }

    fn tls_exporter(&self) -> Option<Vec<u8>> {
        net::tls::Conn::tls_exporter(self)
    }
}

/// The longest command msmtp 1.8.23 sends (without CRLF).
pub const MAX_CMD_LEN: usize = 4094;
/// The longest XOAUTH2/OAUTHBEARER response line postie sends (see `Session::bearer_line`).
pub const MAX_BEARER_LINE: usize = 64 * 1024;
/// How many commands go into one pipelined batch.
const PIPELINE_MAX: usize = 100;
/// Body bytes are written to the stream once this much is queued.
const BODY_CHUNK: usize = 64 * 1024;

fn command_too_long() -> Error {
    Error::new(
        Sysexit::DataErr,
        format!(
            "Cannot send command because it is longer than {MAX_CMD_LEN} characters. Increase SMTP_MAXCMDLEN."
        ),
    )
}

/// `the server sent an invalid reply` (76).
fn invalid_reply() -> Error {
    Error::new(Sysexit::Protocol, "the server sent an invalid reply").in_send_stage()
}

/// `the server sent an empty reply` (76): the connection closed where a reply was due.
fn empty_reply() -> Error {
    Error::new(Sysexit::Protocol, "the server sent an empty reply")
        .transient()
        .in_send_stage()
}

fn bad_reply(bad: BadReply) -> Error {
    match bad {
        BadReply::Invalid => invalid_reply(),
        BadReply::TooManyLines => Error::new(
            Sysexit::Protocol,
            format!(
                "Rejecting server reply that is longer than {MAX_LINES} lines. Increase SMTP_MAXLINES."
            ),
        )
        .in_send_stage(),
    }
}

/// Maps a failed reply to its error: 4xx → 69 (transient), anything else → `other`.
fn rejected(msg: String, reply: Reply, other: Sysexit) -> Error {
    let transient = reply.is_transient();
    let e = Error::new(
        if transient {
            Sysexit::Unavailable
        } else {
            other
        },
        msg,
    )
    .with_reply(reply);
    if transient { e.transient() } else { e }
}

/// A buffered SMTP connection with an optional debug transcript.
pub struct Session<'d, S: Stream> {
    stream: S,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    debug: Option<&'d mut dyn Write>,
    /// When the reply being read must be complete: a server trickling one byte just inside
    /// the socket timeout must not hold postie forever.
    reply_deadline: Option<std::time::Instant>,
}

impl<'d, S: Stream> Session<'d, S> {
    /// Wraps a connected stream; `debug` receives the transcript.
    pub fn new(stream: S, debug: Option<&'d mut dyn Write>) -> Session<'d, S> {
        Session {
            stream,
            rbuf: Vec::new(),
            rpos: 0,
            wbuf: Vec::new(),
            debug,
            reply_deadline: None,
        }
    }

    /// Gives the stream back (tests inspect what was written).
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Writes one informational transcript line, LF-terminated (debug output failures are
    /// not mail failures).
    fn trace(&mut self, line: &str) {
        if let Some(d) = self.debug.as_mut() {
            let _ = writeln!(d, "{line}");
        }
    }

    /// Writes a protocol line to the transcript like msmtp: the prefix, then the line exactly
    /// as it went over the wire, line end included.
    fn trace_raw(&mut self, prefix: &str, raw: &[u8]) {
        if let Some(d) = self.debug.as_mut() {
            let _ = d.write_all(prefix.as_bytes());
            let _ = d.write_all(raw);
        }
    }

    /// Writes a server line to the transcript. msmtp writes it raw, but it is the server's
    /// text on the user's terminal, so it is sanitised like an error text; the line end stays
    /// as received.
    fn trace_server_line(&mut self, raw: &[u8], len: usize) {
        if self.debug.is_some() {
            let mut shown = crate::ui::sanitize_bytes(&raw[..len]).into_bytes();
            shown.extend_from_slice(&raw[len..]);
            self.trace_raw("<-- ", &shown);
        }
    }

    /// Queues a command (without CRLF) for the next flush.
    pub fn queue(&mut self, cmd: &str) -> Result<()> {
        self.queue_shown(cmd, cmd)
    }

    /// Queues a command but shows `shown` in the transcript (for AUTH secrets).
    pub fn queue_shown(&mut self, cmd: &str, shown: &str) -> Result<()> {
        if cmd.len() > MAX_CMD_LEN {
            return Err(command_too_long());
        }
        // An argument with a line break would smuggle a second command into the dialogue.
        if cmd.contains(['\r', '\n', '\0']) {
            return Err(Error::new(
                Sysexit::DataErr,
                format!(
                    "cannot send command {}: it contains a line break",
                    crate::ui::sanitize(shown)
                ),
            ));
        }
        self.trace_raw("--> ", format!("{shown}\r\n").as_bytes());
        self.wbuf.extend_from_slice(cmd.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Writes out everything queued without flushing the stream.
    fn drain(&mut self) -> Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let tls = self.stream.is_tls();
        let res = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        res.map_err(|e| net::write_error_for(&e, tls))
    }

    /// Sends everything queued: one write and one flush per protocol turn.
    pub fn flush(&mut self) -> Result<()> {
        self.drain()?;
        let tls = self.stream.is_tls();
        self.stream
            .flush()
            .map_err(|e| net::write_error_for(&e, tls))
    }

    /// Whether bytes are buffered that no reply has consumed yet.
    pub fn has_buffered_input(&self) -> bool {
        self.rpos < self.rbuf.len()
    }

    /// Reads one line, at most 1023 bytes including the line end. Returns the raw line (with
    /// its line end) and the length of its content.
    fn read_line(&mut self) -> Result<(Vec<u8>, usize)> {
        loop {
            let pending = &self.rbuf[self.rpos..];
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                if i + 1 > MAX_LINE_LEN {
                    return Err(invalid_reply());
                }
                let raw = pending[..=i].to_vec();
                let len = if i > 0 && raw[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                self.rpos += i + 1;
                if self.rpos == self.rbuf.len() {
                    self.rbuf.clear();
                    self.rpos = 0;
                }
                return Ok((raw, len));
            }
            if pending.len() >= MAX_LINE_LEN {
                return Err(invalid_reply());
            }
            if self.rpos > 0 {
                self.rbuf.drain(..self.rpos);
                self.rpos = 0;
            }
            if self
                .reply_deadline
                .is_some_and(|d| std::time::Instant::now() >= d)
            {
                let timed_out = io::Error::from(io::ErrorKind::TimedOut);
                return Err(net::read_error(&timed_out, self.stream.is_tls()));
            }
            let mut chunk = [0u8; 4096];
            let n = loop {
                match self.stream.read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(net::read_error(&e, self.stream.is_tls())),
                }
            };
            if n == 0 {
                return Err(empty_reply());
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one complete reply.
    pub fn read_reply(&mut self) -> Result<Reply> {
        self.reply_deadline = Some(std::time::Instant::now() + net::IDLE_LIMIT);
        let result = self.read_reply_lines();
        self.reply_deadline = None;
        result
    }

    fn read_reply_lines(&mut self) -> Result<Reply> {
        let mut parser = ReplyParser::new();
        loop {
            let (raw, len) = self.read_line()?;
            self.trace_server_line(&raw, len);
            if let Some(reply) = parser.push_line(&raw[..len]).map_err(bad_reply)? {
                return Ok(reply);
            }
        }
    }

    /// Sends one command and reads its reply.
    pub fn command(&mut self, cmd: &str) -> Result<Reply> {
        self.queue(cmd)?;
        self.flush()?;
        self.read_reply()
    }

    /// Sends a command whose transcript line is `shown`, and reads the reply.
    fn secret_command(&mut self, cmd: &str, shown: &str) -> Result<Reply> {
        self.queue_shown(cmd, shown)?;
        self.flush()?;
        self.read_reply()
    }

    /// Sends a bearer-token SASL response line (XOAUTH2, OAUTHBEARER) and reads the reply.
    /// Such a line may be longer than [`MAX_CMD_LEN`]: an OAuth2 access token can be several
    /// kilobytes (RFC 4954 asks servers to take 12288 octets); it is bounded by
    /// [`MAX_BEARER_LINE`].
    fn bearer_line(&mut self, line: &str) -> Result<Reply> {
        if line.len() > MAX_BEARER_LINE || line.contains(['\r', '\n', '\0']) {
            return Err(Error::new(
                Sysexit::DataErr,
                format!("the OAuth2 access token is too long (more than {MAX_BEARER_LINE} bytes)"),
            ));
        }
        self.trace_raw("--> ", b"(redacted)\r\n");
        self.wbuf.extend_from_slice(line.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
        self.flush()?;
        self.read_reply()
    }

    /// Upgrades the stream to TLS and returns the session description; the caller traces it
    /// (`-d`) or prints it in its report (`--serverinfo`, whose `-d` transcript then omits it).
    pub fn start_tls(&mut self) -> Result<Vec<String>> {
        self.stream.start_tls()
    }

    fn trace_lines(&mut self, lines: &[String]) {
        for line in lines {
            self.trace(line);
        }
    }

    /// Sends QUIT and reads the reply; failures no longer matter at this point.
    pub fn quit(&mut self) {
        let _ = self.command("QUIT");
    }

    /// Greeting: must be 220.
    pub fn greeting(&mut self) -> Result<Reply> {
        let r = self.read_reply()?;
        if r.code != 220 {
            return Err(Error::new(
                Sysexit::Protocol,
                "cannot get initial OK message from server",
            )
            .with_reply(r));
        }
        Ok(r)
    }

    /// EHLO with HELO fallback (SMTP) or LHLO (LMTP).
    pub fn hello(&mut self, protocol: Protocol, domain: &str) -> Result<Capabilities> {
        match protocol {
            Protocol::Lmtp => {
                let r = self.command(&format!("LHLO {domain}"))?;
                if r.code != 250 {
                    return Err(Error::new(Sysexit::Protocol, "command LHLO failed").with_reply(r));
                }
                Ok(Capabilities::from_ehlo(&r.lines))
            }
            Protocol::Smtp => {
                let r = self.command(&format!("EHLO {domain}"))?;
                if r.code == 250 {
                    return Ok(Capabilities::from_ehlo(&r.lines));
                }
                let r = self.command(&format!("HELO {domain}"))?;
                if r.code != 250 {
                    return Err(Error::new(
                        Sysexit::Protocol,
                        "SMTP server does not accept EHLO or HELO commands",
                    )
                    .with_reply(r));
                }
                Ok(Capabilities::default())
            }
        }
    }

    /// STARTTLS with the injection guard, then the handshake; returns the session description
    /// like [`Session::start_tls`].
    pub fn starttls(&mut self, caps: &Capabilities) -> Result<Vec<String>> {
        if !caps.starttls {
            self.quit();
            return Err(Error::new(
                Sysexit::Unavailable,
                "the server does not support TLS via the STARTTLS command",
            ));
        }
        let r = self.command("STARTTLS")?;
        if r.code != 220 {
            return Err(Error::new(Sysexit::Protocol, "command STARTTLS failed").with_reply(r));
        }
        if self.has_buffered_input() {
            // Bytes already buffered would be read as if they came over TLS: refuse them.
            let mut e = Error::new(Sysexit::Protocol, "command STARTTLS failed");
            e.details.push(
                "the server sent data after its reply to STARTTLS (a sign of STARTTLS command \
                 injection); refusing to continue"
                    .to_owned(),
            );
            return Err(e);
        }
        self.start_tls()
    }

    /// `ETRN ARG` (msmtp.md 9.2): 250-253 succeed; 458/459 → `the server is unable to fulfill
    /// the request` (69); 500/501 → `invalid argument for Remote Message Queue Starting` (65);
    /// anything else → `command ETRN failed` (76). No QUIT after a failure (observed).
    pub fn etrn(&mut self, arg: &str) -> Result<()> {
        let r = self.command(&format!("ETRN {arg}"))?;
        let (exit, msg) = match r.code {
            250..=253 => return Ok(()),
            458 | 459 => (
                Sysexit::Unavailable,
                "the server is unable to fulfill the request",
            ),
            500 | 501 => (
                Sysexit::DataErr,
                "invalid argument for Remote Message Queue Starting",
            ),
            _ => (Sysexit::Protocol, "command ETRN failed"),
        };
        Err(Error::new(exit, msg).with_reply(r))
    }

    /// AUTH with the mechanism chosen for `setting`. `password` is asked at most once and only
    /// when the mechanism needs one; it returns `None` when no password can be found.
    pub fn authenticate(
        &mut self,
        setting: AuthSetting,
        caps: &Capabilities,
        user: Option<&str>,
        oauth_target: (&str, u16),
        password: &mut dyn PasswordSource,
    ) -> Result<()> {
        if setting == AuthSetting::Off {
            return Ok(());
        }
        if !caps.auth {
            self.quit();
            return Err(Error::new(
                Sysexit::Unavailable,
                "the server does not support authentication",
            ));
        }
        let preferred = password.mechanisms();
        let Some(mech) = auth::choose_for(setting, caps, self.stream.is_tls(), preferred)? else {
            return Ok(());
        };
        let name = mech.name();
        // Checked before anything is sent: a -PLUS exchange without the exporter cannot work.
        let exporter = if mech.needs_channel_binding() {
            match self.stream.tls_exporter() {
                Some(x) => Some(x),
                None => return Err(auth::channel_binding_unavailable(mech)),
            }
        } else {
            None
        };
        let user = match user {
            Some(u) => u,
            None if !mech.needs_user() => "",
            None => {
                return Err(Error::new(
                    Sysexit::Unavailable,
                    format!("authentication method {name} needs a user name"),
                ));
            }
        };
        let ask = |password: &mut dyn PasswordSource| -> Result<String> {
            if !mech.needs_password() {
                return Ok(String::new());
            }
            password.password(mech)?.ok_or_else(|| {
                Error::new(
                    Sysexit::Unavailable,
                    format!("authentication method {name} needs a password"),
                )
            })
        };
        let pass = ask(password)?;
        match self.auth_exchange(mech, user, &pass, exporter.as_deref(), oauth_target) {
            // A source that can produce a fresher secret (a cache that was stale, a token that
            // can be refreshed) gets one more try; the server is back in command state.
            Err(e) if e.exit == Sysexit::NoPerm && mech.needs_password() && password.refused() => {
                let pass = ask(password)?;
                self.auth_exchange(mech, user, &pass, exporter.as_deref(), oauth_target)
            }
            result => result,
        }
    }

    /// One AUTH exchange with `mech`: `Err` with 77 when the server refuses the credentials.
    fn auth_exchange(
        &mut self,
        mech: Mechanism,
        user: &str,
        pass: &str,
        exporter: Option<&[u8]>,
        oauth_target: (&str, u16),
    ) -> Result<()> {
        let name = mech.name();
        let failed = |r: Reply| {
            let e = Error::new(
                Sysexit::NoPerm,
                format!("authentication failed (method {name})"),
            );
            let transient = r.is_transient();
            let e = e.with_reply(r);
            if transient { e.transient() } else { e }
        };
        let shown_ir = format!("AUTH {name} (redacted)");
        let redacted = "(redacted)";
        let last = match mech {
            Mechanism::Plain => self.secret_command(
                &format!("AUTH PLAIN {}", auth::plain_response(user, pass)),
                &shown_ir,
            )?,
            Mechanism::Login => {
                let r = self.command("AUTH LOGIN")?;
                if r.code != 334 {
                    return Err(failed(r));
                }
                let r = self.secret_command(&auth::b64(user.as_bytes()), redacted)?;
                if r.code != 334 {
                    return Err(failed(r));
                }
                self.secret_command(&auth::b64(pass.as_bytes()), redacted)?
            }
            Mechanism::CramMd5 => {
                let r = self.command("AUTH CRAM-MD5")?;
                let decoded = r.texts().next().and_then(auth::unb64);
                let challenge = match (r.code, decoded) {
                    (334, Some(c)) => c,
                    _ => return Err(failed(r)),
                };
                self.secret_command(&auth::cram_md5_response(user, pass, &challenge), redacted)?
            }
            Mechanism::ScramSha1
            | Mechanism::ScramSha256
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256Plus => {
                let sha256 = matches!(mech, Mechanism::ScramSha256 | Mechanism::ScramSha256Plus);
                let nonce = auth::scram_nonce();
                let mut scram = match exporter {
                    Some(x) => Scram::with_tls_exporter(sha256, user, &nonce, x),
                    None => Scram::new(sha256, user, &nonce),
                };
                // As msmtp (GNU SASL) does: no initial response; the client-first follows the
                // server's empty 334.
                let r = self.command(&format!("AUTH {name}"))?;
                if r.code != 334 {
                    return Err(failed(r));
                }
                let r = self.secret_command(&scram.client_first(), redacted)?;
                let decoded = r.texts().next().and_then(auth::unb64);
                let server_first = match (r.code, decoded) {
                    (334, Some(c)) => c,
                    _ => return Err(failed(r)),
                };
                let Some(fin) = scram.client_final(&server_first, pass) else {
                    return Err(failed(r));
                };
                let r = self.secret_command(&fin, redacted)?;
                if r.code == 334 {
                    let ok = r
                        .texts()
                        .next()
                        .and_then(auth::unb64)
                        .is_some_and(|v| scram.verify_server_final(&v));
                    if !ok {
                        return Err(failed(r));
                    }
                    self.command("")?
                } else {
                    r
                }
            }
            Mechanism::External => {
                let r = self.command("AUTH EXTERNAL")?;
                if r.code != 334 {
                    return Err(failed(r));
                }
                self.command(&auth::b64(user.as_bytes()))?
            }
            Mechanism::XOAuth2 => {
                let r = self.command("AUTH XOAUTH2")?;
                if r.code != 334 {
                    return Err(failed(r));
                }
                let r = self.bearer_line(&auth::xoauth2_response(user, pass))?;
                if r.code == 334 {
                    // The server explains the failure in a challenge; an empty answer ends it.
                    self.command("")?
                } else {
                    r
                }
            }
            Mechanism::OAuthBearer => {
                let (host, port) = oauth_target;
                let response = auth::oauthbearer_response(user, host, port, pass);
                let command = format!("AUTH OAUTHBEARER {response}");
                let r = if command.len() <= MAX_CMD_LEN {
                    self.secret_command(&command, &shown_ir)?
                } else {
                    // A long token does not fit an AUTH line: RFC 4954's empty initial
                    // response, then the response on its own line.
                    let r = self.command("AUTH OAUTHBEARER")?;
                    if r.code != 334 {
                        return Err(failed(r));
                    }
                    self.bearer_line(&response)?
                };
                if r.code == 334 { self.command("")? } else { r }
            }
            Mechanism::Gssapi | Mechanism::DigestMd5 | Mechanism::Ntlm => {
                return Err(auth::not_compiled_in(mech));
            }
        };
        if last.code != 235 {
            return Err(failed(last));
        }
        Ok(())
    }

    /// One message: MAIL FROM, RCPT TO for each recipient and DATA (pipelined in batches when
    /// the server allows it, every reply checked in order), the body streamed through `body`,
    /// the final dot and the end-of-data reply(s). `policy` says what a refusal means (see
    /// [`RecipientPolicy`]); under [`RecipientPolicy::EachRecipient`] every pipelined reply is
    /// read, so the session can carry the next message. ` SMTPUTF8` is appended to MAIL FROM
    /// when `smtputf8` is set.
    pub fn transaction(
        &mut self,
        settings: &SessionSettings,
        envelope: &Envelope,
        pipelining: bool,
        smtputf8: bool,
        policy: RecipientPolicy,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome> {
        enum Step<'a> {
            Mail,
            Rcpt(&'a str),
            Data,
        }
        // Checked again here, not only where the envelope is built: a queue entry's envelope
        // was read back from disk.
        envelope.check()?;
        let strict = policy == RecipientPolicy::AllOrNothing;
        let params = MailParams {
            smtputf8,
            ..MailParams::default()
        };
        let mut steps = vec![(mail_command(settings, &envelope.from, &params), Step::Mail)];
        for rcpt in &envelope.recipients {
            steps.push((rcpt_command(settings, rcpt), Step::Rcpt(rcpt)));
        }
        steps.push(("DATA".to_string(), Step::Data));
        let batch = if pipelining { PIPELINE_MAX } else { 1 };
        let mut out = Outcome::default();
        let mut sent = 0;
        for (k, (_, step)) in steps.iter().enumerate() {
            if k == sent {
                // Without pipelining, DATA for a message nobody accepts is not sent at all.
                if matches!(step, Step::Data) && out.accepted.is_empty() {
                    return Ok(out);
                }
                let end = (sent + batch).min(steps.len());
                for (cmd, _) in &steps[sent..end] {
                    self.queue(cmd)?;
                }
                self.flush()?;
                sent = end;
            }
            let r = self.read_reply()?;
            match step {
                Step::Mail if r.code != 250 => {
                    let e = rejected(
                        format!(
                            "envelope from address {} not accepted by the server",
                            envelope.from
                        ),
                        r,
                        Sysexit::DataErr,
                    );
                    if strict {
                        return Err(e);
                    }
                    out.message_error = Some(e);
                    self.drain_replies(sent - k - 1)?;
                    return Ok(out);
                }
                Step::Mail => {}
                Step::Rcpt(addr) if r.code == 250 || r.code == 251 => {
                    out.accepted.push((*addr).to_owned());
                }
                Step::Rcpt(addr) if strict => {
                    return Err(rejected(
                        format!("recipient address {addr} not accepted by the server"),
                        r,
                        Sysexit::DataErr,
                    ));
                }
                Step::Rcpt(addr) => out.refusals.push(((*addr).to_owned(), r)),
                Step::Data if out.accepted.is_empty() => {
                    // Pipelined: DATA went out blind; a server that takes it anyway gets an
                    // empty message, which it discards for want of recipients.
                    if r.code == 354 {
                        self.command(".")?;
                    }
                    return Ok(out);
                }
                Step::Data if r.code != 354 => {
                    let e = rejected(
                        "the server does not accept mail data".to_string(),
                        r,
                        Sysexit::DataErr,
                    );
                    if strict {
                        return Err(e);
                    }
                    out.message_error = Some(e);
                    out.accepted.clear();
                    return Ok(out);
                }
                Step::Data => {}
            }
        }
        self.message(settings.protocol, policy, &mut out, body)?;
        Ok(out)
    }

    /// The message after a 354: the body streamed through `body`, the final dot, and the
    /// end-of-data reply(s), read into `out` (whose `accepted` are the recipients the server
    /// took). Shared by [`Session::transaction`] and the incremental transaction of
    /// `postie -bs` (`Client::message`). Under [`RecipientPolicy::AllOrNothing`] an SMTP
    /// refusal is an `Err`; otherwise it goes into [`Outcome::message_error`].
    pub fn message(
        &mut self,
        protocol: Protocol,
        policy: RecipientPolicy,
        out: &mut Outcome,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<()> {
        out.mailsize = self.data(body)?;
        match protocol {
            Protocol::Smtp => {
                let r = self.read_reply()?;
                if r.code == 250 {
                    out.final_reply = Some(r);
                } else {
                    let e = Error::new(Sysexit::Unavailable, "the server did not accept the mail")
                        .with_reply(r.clone());
                    let e = if r.is_transient() { e.transient() } else { e };
                    if policy == RecipientPolicy::AllOrNothing {
                        return Err(e);
                    }
                    out.message_error = Some(e);
                    out.accepted.clear();
                }
            }
            Protocol::Lmtp => {
                // LMTP answers once per accepted recipient, in order, after the dot. No reply
                // stands for the message, so none is logged (msmtp logs no smtpstatus here).
                for rcpt in std::mem::take(&mut out.accepted) {
                    let r = self.read_reply()?;
                    if r.code == 250 {
                        out.accepted.push(rcpt);
                    } else {
                        out.refusals.push((rcpt, r));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads `n` replies to commands already sent, to stay in step with the server; a DATA
    /// that was taken gets an empty message.
    fn drain_replies(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            if self.read_reply()?.code == 354 {
                self.command(".")?;
            }
        }
        Ok(())
    }

    /// Streams the body through `body`, then sends the final dot. Returns the mail size.
    pub fn data(&mut self, body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>) -> Result<u64> {
        let mut w = BodyWriter {
            session: self,
            mid_line: false,
            failed: None,
        };
        let res = body(&mut w);
        let failed = w.failed.take();
        w.finish_trace();
        let size = match (res, failed) {
            (_, Some(e)) => return Err(e),
            (r, None) => r?,
        };
        self.trace_raw("--> ", b".\r\n");
        self.wbuf.extend_from_slice(b".\r\n");
        self.flush()?;
        Ok(size)
    }
}

/// The writer handed to the body callback: queues into the session's buffer, writes out in
/// large chunks, and mirrors the lines into the transcript. The transcript is written as the
/// bytes pass, `--> ` before each line, so a single huge line under `-d` costs no memory.
struct BodyWriter<'s, 'd, S: Stream> {
    session: &'s mut Session<'d, S>,
    /// The transcript is in the middle of a line (its `--> ` was written).
    mid_line: bool,
    failed: Option<Error>,
}

impl<S: Stream> BodyWriter<'_, '_, S> {
    fn trace_bytes(&mut self, mut buf: &[u8]) {
        let Some(d) = self.session.debug.as_mut() else {
            return;
        };
        while !buf.is_empty() {
            if !self.mid_line {
                let _ = d.write_all(b"--> ");
                self.mid_line = true;
            }
            let end = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |i| i + 1);
            let _ = d.write_all(&buf[..end]);
            if buf[end - 1] == b'\n' {
                self.mid_line = false;
            }
            buf = &buf[end..];
        }
    }

    fn finish_trace(&mut self) {
        if self.mid_line {
            self.mid_line = false;
            if let Some(d) = self.session.debug.as_mut() {
                let _ = d.write_all(b"\n");
            }
        }
    }
}

impl<S: Stream> Write for BodyWriter<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::other(e.message.clone()));
        }
        self.trace_bytes(buf);
        self.session.wbuf.extend_from_slice(buf);
        if self.session.wbuf.len() >= BODY_CHUNK
            && let Err(e) = self.session.drain()
        {
            let msg = e.message.clone();
            self.failed = Some(e);
            return Err(io::Error::other(msg));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // The turn's single flush happens after the final dot.
        Ok(())
    }
}

/// The ESMTP parameters of a MAIL FROM command besides the account's DSN `RET=`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// ` SIZE=n` (RFC 1870): the size the client announced.
    pub size: Option<u64>,
    /// ` BODY=7BIT` or ` BODY=8BITMIME` (RFC 6152).
    pub body: Option<BodyType>,
    /// ` SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
}

/// The `BODY=` values postie passes on (BINARYMIME needs CHUNKING, which postie does not
/// speak).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    SevenBit,
    EightBitMime,
}

impl BodyType {
    /// The keyword on the wire.
    pub fn keyword(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
        }
    }
}

/// `MAIL FROM:<from>` with the DSN `RET=` parameter as configured, then `params` (` SIZE=`,
/// ` BODY=`, ` SMTPUTF8`, in that order). An envelope-from of `MAILER-DAEMON` (any case) is
/// sent as the null sender, as msmtp does.
pub fn mail_command(settings: &SessionSettings, from: &str, params: &MailParams) -> String {
    let from = if from.eq_ignore_ascii_case("MAILER-DAEMON") {
        ""
    } else {
        from
    };
    let mut mail = match &settings.dsn_return {
        Some(r) => format!("MAIL FROM:<{from}> RET={r}"),
        None => format!("MAIL FROM:<{from}>"),
    };
    if let Some(size) = params.size {
        mail.push_str(&format!(" SIZE={size}"));
    }
    if let Some(body) = params.body {
        mail.push_str(" BODY=");
        mail.push_str(body.keyword());
    }
    if params.smtputf8 {
        mail.push_str(" SMTPUTF8");
    }
    mail
}

/// `RCPT TO:<rcpt>` with the DSN `NOTIFY=` parameter as configured.
pub fn rcpt_command(settings: &SessionSettings, rcpt: &str) -> String {
    match &settings.dsn_notify {
        Some(n) => format!("RCPT TO:<{rcpt}> NOTIFY={n}"),
        None => format!("RCPT TO:<{rcpt}>"),
    }
}

/// What the opening of a session established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// The 220 greeting.
    pub greeting: Reply,
    /// The capabilities of the last EHLO/LHLO (after STARTTLS, if used).
    pub caps: Capabilities,
    /// The TLS session description, when TLS is active.
    pub tls_info: Option<Vec<String>>,
    /// Whether TLS was started with the STARTTLS command.
    pub starttls_used: bool,
}

/// Implicit TLS, greeting, EHLO/LHLO, then STARTTLS and the second EHLO when configured. With
/// `trace_tls` the TLS session description also goes to the transcript (sendmail mode's `-d`).
pub fn open<S: Stream>(
    s: &mut Session<'_, S>,
    tls: &net::TlsSettings,
    settings: &SessionSettings,
    trace_tls: bool,
) -> Result<Opened> {
    let mut tls_info = None;
    if tls.enabled && !tls.starttls {
        let info = s.start_tls()?;
        if trace_tls {
            s.trace_lines(&info);
        }
        tls_info = Some(info);
    }
    let greeting = s.greeting()?;
    let mut caps = s.hello(settings.protocol, &settings.domain)?;
    let starttls_used = tls.enabled && tls.starttls;
    if starttls_used {
        let info = s.starttls(&caps)?;
        if trace_tls {
            s.trace_lines(&info);
        }
        tls_info = Some(info);
        caps = s.hello(settings.protocol, &settings.domain)?;
    }
    Ok(Opened {
        greeting,
        caps,
        tls_info,
        starttls_used,
    })
}

/// [`open`], then a capability check that happens before AUTH (msmtp QUITs and exits 69 when
/// `missing` names something the server lacks), then AUTH.
fn open_checked<S: Stream>(
    s: &mut Session<'_, S>,
    tls: &net::TlsSettings,
    settings: &SessionSettings,
    oauth_target: (&str, u16),
    password: &mut dyn PasswordSource,
    missing: impl Fn(&Capabilities) -> Option<&'static str>,
) -> Result<Capabilities> {
    let caps = open(s, tls, settings, true)?.caps;
    if let Some(text) = missing(&caps) {
        s.quit();
        return Err(Error::new(Sysexit::Unavailable, text));
    }
    s.authenticate(
        settings.auth,
        &caps,
        settings.user.as_deref(),
        oauth_target,
        password,
    )?;
    Ok(caps)
}

/// Everything before the first transaction: [`open`], the DSN capability check (when DSN is
/// requested) and AUTH. Shared by a direct send and a queue flush, which then runs one or
/// more transactions on the session.
pub fn open_for_mail<S: Stream>(
    s: &mut Session<'_, S>,
    tls: &net::TlsSettings,
    settings: &SessionSettings,
    oauth_target: (&str, u16),
    password: &mut dyn PasswordSource,
) -> Result<Capabilities> {
    let wants_dsn = settings.dsn_notify.is_some() || settings.dsn_return.is_some();
    open_checked(s, tls, settings, oauth_target, password, |caps| {
        (wants_dsn && !caps.dsn).then_some("the server does not support DSN")
    })
}

/// `--rmqs` after connecting (msmtp.md 9.2): open, ETRN capability check (before AUTH), AUTH
/// when configured, `ETRN ARG`, QUIT.
pub fn rmqs<S: Stream>(
    s: &mut Session<'_, S>,
    tls: &net::TlsSettings,
    settings: &SessionSettings,
    arg: &str,
    oauth_target: (&str, u16),
    password: &mut dyn PasswordSource,
) -> Result<()> {
    open_checked(s, tls, settings, oauth_target, password, |caps| {
        (!caps.etrn).then_some("the server does not support Remote Message Queue Starting")
    })?;
    s.etrn(arg)?;
    s.quit();
    Ok(())
}

/// `--serverinfo` after connecting (msmtp.md 9.1): open, then QUIT.
pub fn server_info<S: Stream>(
    s: &mut Session<'_, S>,
    tls: &net::TlsSettings,
    settings: &SessionSettings,
) -> Result<Opened> {
    let opened = open(s, tls, settings, false)?;
    s.quit();
    Ok(opened)
}

/// The whole dialogue of a message sent now, after connecting: greeting, EHLO, STARTTLS, DSN
/// check, AUTH, one transaction under msmtp's [`RecipientPolicy::AllOrNothing`], QUIT (not
/// after an LMTP refusal, as msmtp).
pub fn run<S: Stream>(
    s: &mut Session<'_, S>,
    tls: &net::TlsSettings,
    settings: &SessionSettings,
    envelope: &Envelope,
    oauth_target: (&str, u16),
    password: &mut dyn PasswordSource,
    body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
) -> Result<Outcome> {
    let caps = open_for_mail(s, tls, settings, oauth_target, password)?;
    let smtputf8 = caps.smtputf8 && envelope.needs_smtputf8();
    let outcome = s.transaction(
        settings,
        envelope,
        caps.pipelining,
        smtputf8,
        RecipientPolicy::AllOrNothing,
        body,
    )?;
    if outcome.all_accepted() {
        s.quit();
    }
    Ok(outcome)
}
