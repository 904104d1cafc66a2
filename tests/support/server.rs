//! A scripted, recording SMTP/LMTP server for integration tests.
//!
//! It runs in one thread on `127.0.0.1:0`, accepts connections one after the other, and records
//! per connection what a client did (transcript, envelope, DATA bytes as received, TLS, AUTH,
//! QUIT/RSET, number of client turns). Behaviour is configured with a builder, including fault
//! injection at any stage, so the same server serves both postie's tests and the differential
//! suite that uses msmtp as the oracle. Only std, rustls and the digest crates are used so the
//! server's behaviour is fully under the test's control.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};

use super::pki::{CertChoice, pki, subject_cn};

/// A point in the dialogue where a fault can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The initial 220 greeting (after the implicit TLS handshake, if any).
    Greeting,
    /// Reply to EHLO (also used for the second EHLO after STARTTLS).
    Ehlo,
    /// Reply to HELO.
    Helo,
    /// Reply to LHLO.
    Lhlo,
    /// Reply to STARTTLS.
    StartTls,
    /// Reply to the AUTH command (before any exchange).
    Auth,
    /// Reply to MAIL FROM.
    Mail,
    /// Reply to the n-th RCPT TO of the transaction, **1-based**.
    Rcpt(usize),
    /// Reply to DATA.
    Data,
    /// While receiving the DATA body, after its first line arrived (use `Drop`/`Stall`).
    DataBody,
    /// Reply after the final dot (for LMTP: replaces all per-recipient replies).
    EndOfData,
    /// Reply to QUIT.
    Quit,
}

/// What to do at a stage instead of (or before) the normal reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this reply instead; lines separated by `\n`, e.g. `"451-a\n451 b"`.
    Reply(String),
    /// Close the connection without replying.
    Drop,
    /// Never reply; keep reading until the client goes away.
    Stall,
    /// Wait, then behave normally.
    Slow(Duration),
    /// Behave normally, but send these bytes right after the reply, in the same write.
    InjectAfter(Vec<u8>),
}

/// How the server does TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text only; STARTTLS is not advertised.
    None,
    /// STARTTLS advertised and supported.
    StartTls,
    /// TLS handshake immediately after connect (SMTPS).
    Implicit,
}

/// Decides whether a bearer token (XOAUTH2, OAUTHBEARER) is valid for a user: `(user, token)`.
#[derive(Clone)]
pub struct BearerCheck(pub Arc<BearerFn>);

/// The function inside a [`BearerCheck`].
pub type BearerFn = dyn Fn(&str, &str) -> bool + Send + Sync;

impl std::fmt::Debug for BearerCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerCheck")
    }
}

/// Builder-style configuration of a test server. Clone it to start several identical servers.
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    bearer: Option<BearerCheck>,
    greeting: String,
    hostname: String,
    caps: Vec<String>,
    lmtp: bool,
    tls: TlsMode,
    cert: CertChoice,
    credentials: Option<(String, String)>,
    faults: HashMap<Stage, Action>,
    lmtp_replies: HashMap<usize, String>,
    eod_reply: String,
    no_listen: bool,
    client_cert_required: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::smtp()
    }
}

impl ServerBuilder {
    /// An SMTP server with no extensions that accepts everything.
    pub fn smtp() -> Self {
        ServerBuilder {
            bearer: None,
            greeting: "220 localhost ESMTP test server".into(),
            hostname: "localhost".into(),
            caps: Vec::new(),
            lmtp: false,
            tls: TlsMode::None,
            cert: CertChoice::Good,
            credentials: None,
            faults: HashMap::new(),
            lmtp_replies: HashMap::new(),
            eod_reply: "250 2.0.0 Ok: queued as ABC123".into(),
            no_listen: false,
            client_cert_required: false,
        }
    }

    /// An LMTP server (answers LHLO, one reply per accepted recipient after the final dot).
    pub fn lmtp() -> Self {
        let mut b = Self::smtp();
        b.lmtp = true;
        b.greeting = "220 localhost LMTP test server".into();
        b
    }

    /// Replaces the greeting (one or more lines separated by `\n`, with codes).
    pub fn greeting(mut self, text: &str) -> Self {
        self.greeting = text.into();
        self
    }

    /// Adds an EHLO/LHLO capability line such as `"SIZE 1000"` or `"ETRN"`.
    pub fn cap(mut self, cap: &str) -> Self {
        self.caps.push(cap.into());
        self
    }

    /// Advertises PIPELINING.
    pub fn pipelining(self) -> Self {
        self.cap("PIPELINING")
    }

    /// Advertises DSN.
    pub fn dsn(self) -> Self {
        self.cap("DSN")
    }

    /// Advertises `AUTH <mechs>` (space separated, e.g. `"PLAIN LOGIN CRAM-MD5"`); the server
    /// implements PLAIN, LOGIN, CRAM-MD5, the SCRAM family and EXTERNAL (which succeeds only
    /// after a verified client certificate, see [`ServerBuilder::client_cert_required`]).
    pub fn auth(self, mechs: &str) -> Self {
        self.cap(&format!("AUTH {mechs}"))
    }

    /// Accepts AUTH only for this user/password (otherwise any credentials are accepted).
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Implements XOAUTH2 and OAUTHBEARER (advertise them with [`ServerBuilder::auth`]),
    /// accepting a token when `check(user, token)` says so; a refused token gets the RFC 7628
    /// error challenge, then 535.
    pub fn bearer_tokens(
        mut self,
        check: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.bearer = Some(BearerCheck(Arc::new(check)));
        self
    }

    /// Advertises and supports STARTTLS.
    pub fn starttls(mut self) -> Self {
        self.tls = TlsMode::StartTls;
        self
    }

    /// Speaks TLS right after connect.
    pub fn implicit_tls(mut self) -> Self {
        self.tls = TlsMode::Implicit;
        self
    }

    /// TLS handshakes require a client certificate issued by the test CA (rustls
    /// `WebPkiClientVerifier`); the handshake fails without one. The verified certificate's
    /// subject CN is recorded in [`Session::client_cn`].
    pub fn client_cert_required(mut self) -> Self {
        self.client_cert_required = true;
        self
    }

    /// Chooses the certificate presented for TLS.
    pub fn cert(mut self, choice: CertChoice) -> Self {
        self.cert = choice;
        self
    }

    /// Injects a fault at a stage.
    pub fn fault(mut self, stage: Stage, action: Action) -> Self {
        self.faults.insert(stage, action);
        self
    }

    /// Shorthand for `fault(stage, Action::Reply(text))`.
    pub fn reply(self, stage: Stage, text: &str) -> Self {
        self.fault(stage, Action::Reply(text.into()))
    }

    /// LMTP: the reply after the final dot for the n-th accepted recipient (1-based).
    pub fn lmtp_reply(mut self, n: usize, text: &str) -> Self {
        self.lmtp_replies.insert(n, text.into());
        self
    }

    /// The normal SMTP reply after the final dot.
    pub fn eod_reply(mut self, text: &str) -> Self {
        self.eod_reply = text.into();
        self
    }

    /// Reserve a port but listen on nothing (connection refused).
    pub fn no_listen(mut self) -> Self {
        self.no_listen = true;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving in a thread.
    pub fn start(self) -> RunningServer {
        self.start_on(0)
    }

    /// [`ServerBuilder::start`] on a given port (0: any free one), for a test that replaces a
    /// server by another at the same address.
    pub fn start_on(self, port: u16) -> RunningServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(Mutex::new(Vec::new()));
        if self.no_listen {
            drop(listener);
            return RunningServer {
                port,
                stop,
                sessions,
                thread: None,
            };
        }
        let (stop2, sessions2) = (stop.clone(), sessions.clone());
        let cfg = Arc::new(self);
        let thread = std::thread::spawn(move || accept_loop(listener, cfg, stop2, sessions2));
        RunningServer {
            port,
            stop,
            sessions,
            thread: Some(thread),
        }
    }
}

/// A server running in its thread. Dropping it stops the thread.
pub struct RunningServer {
    port: u16,
    stop: Arc<AtomicBool>,
    sessions: Arc<Mutex<Vec<Session>>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting, waits for the current session to end and returns all sessions.
    /// Call it after the client has exited (a live, silent client would keep a session open).
    pub fn finish(mut self) -> Vec<Session> {
        self.shutdown();
        std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Who wrote a transcript line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A line received from the client (CRLF stripped; AUTH secrets redacted).
    Client(String),
    /// A line sent by the server.
    Server(String),
    /// A TLS event (handshake done or failed).
    Tls(String),
    /// What the server concluded about an exchange (e.g. which SCRAM checks passed).
    Note(String),
}

/// TLS state of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsState {
    /// No TLS.
    None,
    /// STARTTLS completed.
    StartTls,
    /// Implicit TLS completed.
    Implicit,
    /// A handshake was attempted and failed.
    Failed,
}

/// What an AUTH exchange did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRecord {
    /// Mechanism as sent by the client, upper-cased.
    pub mechanism: String,
    /// Decoded user name (empty when the exchange did not get that far).
    pub user: String,
    /// Whether the server accepted the credentials.
    pub ok: bool,
}

/// Everything recorded for one connection.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// Client and server lines in order, with TLS markers.
    pub transcript: Vec<Line>,
    /// EHLO/HELO/LHLO command lines as received.
    pub greetings: Vec<String>,
    /// What followed `MAIL FROM:` (address in brackets plus parameters).
    pub mail_from: Option<String>,
    /// What followed `RCPT TO:` for each recipient, in order.
    pub rcpts: Vec<String>,
    /// DATA bytes as received (still dot-stuffed), without the final `.` line.
    pub data: Option<Vec<u8>>,
    /// Whether the final dot was received.
    pub data_complete: bool,
    /// TLS state at the end of the session.
    pub tls: Option<TlsState>,
    /// AUTH exchanges (usually at most one).
    pub auth: Vec<AuthRecord>,
    /// Whether QUIT was received.
    pub quit: bool,
    /// Whether RSET was received.
    pub rset: bool,
    /// Number of reads that had to wait for the client (pipelined commands share a turn, but
    /// a client may split one batch over several writes, so this is only a rough measure).
    pub turns: usize,
    /// Whether the client sent more commands before getting the reply to MAIL FROM. The server
    /// waits briefly before that reply to make this deterministic.
    pub pipelined: bool,
    /// The client's address as the server saw it (the source address of the connection).
    pub peer: Option<SocketAddr>,
    /// Subject CN of the client certificate verified in the TLS handshake, if any (only with
    /// [`ServerBuilder::client_cert_required`]).
    pub client_cn: Option<String>,
}

impl Session {
    /// The TLS state, `TlsState::None` if no TLS happened.
    pub fn tls_state(&self) -> TlsState {
        self.tls.unwrap_or(TlsState::None)
    }

    /// The transcript as text, one `C: `/`S: `/`T: ` prefixed line each.
    pub fn transcript_text(&self) -> String {
        let mut out = String::new();
        for l in &self.transcript {
            let (p, t) = match l {
                Line::Client(t) => ("C: ", t),
                Line::Server(t) => ("S: ", t),
                Line::Tls(t) => ("T: ", t),
                Line::Note(t) => ("N: ", t),
            };
            out.push_str(p);
            out.push_str(t);
            out.push('\n');
        }
        out
    }
}

fn accept_loop(
    listener: TcpListener,
    cfg: Arc<ServerBuilder>,
    stop: Arc<AtomicBool>,
    sessions: Arc<Mutex<Vec<Session>>>,
) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    loop {
        match listener.accept() {
            Ok((sock, _)) => {
                let session = serve(sock, &cfg);
                sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(session);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return,
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Gone,
}

impl Stream {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(&s.sock),
            Stream::Gone => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Ok(()),
        }
    }
}

/// Socket read timeout; reads are retried until `SESSION_LIMIT`.
const READ_POLL: Duration = Duration::from_millis(100);
/// How long the server waits before answering MAIL FROM to see whether the client pipelines.
const PIPELINING_PROBE: Duration = Duration::from_millis(150);

/// Upper bound for one session, so a confused client cannot hang a test forever.
const SESSION_LIMIT: Duration = Duration::from_secs(30);

struct Conn<'a> {
    cfg: &'a ServerBuilder,
    stream: Stream,
    buf: Vec<u8>,
    s: Session,
    deadline: Instant,
}

/// Why the dialogue ended early.
enum End {
    /// Client closed, or I/O failed, or a `Drop` fault fired.
    Closed,
}

enum Go {
    Normal(Vec<u8>),
    Replaced,
}

type Step<T> = std::result::Result<T, End>;

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Conn<'_> {
    fn expired(&self) -> bool {
        Instant::now() > self.deadline
    }

    /// Reads one line including its `\n` (or the remaining bytes at EOF).
    fn read_line(&mut self) -> Step<Vec<u8>> {
        let mut waited = false;
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(self.buf.drain(..=pos).collect());
            }
            if !waited {
                self.s.turns += 1;
                waited = true;
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    if self.buf.is_empty() {
                        return Err(End::Closed);
                    }
                    return Ok(std::mem::take(&mut self.buf));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {
                    if self.expired() {
                        return Err(End::Closed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(End::Closed),
            }
        }
    }

    fn send_raw(&mut self, text: &str, extra: &[u8]) -> Step<()> {
        let mut bytes = Vec::new();
        for line in text.split('\n') {
            self.s.transcript.push(Line::Server(line.to_string()));
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        if !extra.is_empty() {
            self.s.transcript.push(Line::Server(format!(
                "<injected {:?}>",
                String::from_utf8_lossy(extra)
            )));
            bytes.extend_from_slice(extra);
        }
        self.stream
            .write_all(&bytes)
            .and_then(|_| self.stream.flush())
            .map_err(|_| End::Closed)
    }

    fn drop_conn(&mut self) -> End {
        if let Some(t) = self.stream.tcp() {
            let _ = t.shutdown(Shutdown::Both);
        }
        self.stream = Stream::Gone;
        self.s.transcript.push(Line::Server("<dropped>".into()));
        End::Closed
    }

    /// Holds the connection without replying until the client leaves.
    fn stall(&mut self) -> End {
        self.s.transcript.push(Line::Server("<stalling>".into()));
        loop {
            match self.read_line() {
                Ok(l) => self.record_client(&l),
                Err(e) => return e,
            }
        }
    }

    fn record_client(&mut self, line: &[u8]) {
        let t = String::from_utf8_lossy(trim_eol(line)).into_owned();
        self.s.transcript.push(Line::Client(t));
    }

    /// Applies the fault configured for `stage`, if any. `Go::Normal(extra)` means: send the
    /// normal reply followed by `extra`; `Go::Replaced` means a scripted reply went out.
    fn pre(&mut self, stage: Stage) -> Step<Go> {
        match self.cfg.faults.get(&stage).cloned() {
            None => Ok(Go::Normal(Vec::new())),
            Some(Action::Reply(r)) => self.send_raw(&r, &[]).map(|_| Go::Replaced),
            Some(Action::Drop) => Err(self.drop_conn()),
            Some(Action::Stall) => Err(self.stall()),
            Some(Action::Slow(d)) => {
                std::thread::sleep(d);
                Ok(Go::Normal(Vec::new()))
            }
            Some(Action::InjectAfter(extra)) => Ok(Go::Normal(extra)),
        }
    }

    /// Sends `normal` unless a fault is configured for `stage`. `Ok(true)` when the normal reply
    /// went out, `Ok(false)` when a scripted reply replaced it.
    fn respond(&mut self, stage: Stage, normal: &str) -> Step<bool> {
        match self.pre(stage)? {
            Go::Normal(extra) => self.send_raw(normal, &extra).map(|_| true),
            Go::Replaced => Ok(false),
        }
    }

    /// Waits a moment and reports whether client bytes are already waiting (or buffered).
    fn probe_pipelining(&mut self) -> bool {
        // A client's second small write can sit in its socket behind Nagle until our delayed
        // ACK (40 ms on Linux) goes out, so the wait must be longer than that. Only servers that
        // advertise PIPELINING pay for it.
        if self
            .cfg
            .caps
            .iter()
            .any(|c| c.eq_ignore_ascii_case("PIPELINING"))
        {
            std::thread::sleep(PIPELINING_PROBE);
        }
        if !self.buf.is_empty() {
            return true;
        }
        let Some(tcp) = self.stream.tcp() else {
            return false;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(2)));
        let mut chunk = [0u8; 16384];
        let got = match self.stream.read(&mut chunk) {
            Ok(n) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        };
        if let Some(tcp) = self.stream.tcp() {
            let _ = tcp.set_read_timeout(Some(READ_POLL));
        }
        got
    }

    fn handshake(&mut self, kind: TlsState) -> Step<()> {
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(t) => t,
            other => {
                self.stream = other;
                return Err(End::Closed);
            }
        };
        let config = if self.cfg.client_cert_required {
            pki().server_config_client_auth(self.cfg.cert)
        } else {
            pki().server_config(self.cfg.cert)
        };
        let Ok(conn) = rustls::ServerConnection::new(config) else {
            return Err(End::Closed);
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let res = loop {
            if !tls.conn.is_handshaking() {
                break Ok(());
            }
            match tls.conn.complete_io(&mut tls.sock) {
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    if self.expired() {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        match res {
            Ok(()) => {
                let v = tls.conn.protocol_version();
                self.s
                    .transcript
                    .push(Line::Tls(format!("handshake ok {v:?} ({kind:?})")));
                self.s.tls = Some(kind);
                if let Some(leaf) = tls.conn.peer_certificates().and_then(|c| c.first()) {
                    let cn = subject_cn(leaf.as_ref()).unwrap_or_default();
                    self.s
                        .transcript
                        .push(Line::Tls(format!("client certificate CN={cn}")));
                    self.s.client_cn = Some(cn);
                }
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
            Err(e) => {
                self.s
                    .transcript
                    .push(Line::Tls(format!("handshake failed: {e}")));
                self.s.tls = Some(TlsState::Failed);
                Err(End::Closed)
            }
        }
    }

    fn ehlo_reply(&self) -> String {
        let mut lines = vec![self.cfg.hostname.clone()];
        if self.cfg.tls == TlsMode::StartTls && self.s.tls.is_none() {
            lines.push("STARTTLS".into());
        }
        lines.extend(self.cfg.caps.iter().cloned());
        let n = lines.len();
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i + 1 == n { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn run(&mut self) -> Step<()> {
        if self.cfg.tls == TlsMode::Implicit {
            self.handshake(TlsState::Implicit)?;
        }
        let greeting = self.cfg.greeting.clone();
        if !self.respond(Stage::Greeting, &greeting)? {
            // A scripted greeting is usually a rejection; keep answering like a real server
            // would (it lets the client QUIT) until the client leaves.
        }
        let mut in_mail = false;
        let mut accepted: Vec<usize> = Vec::new();
        let mut rcpt_n = 0usize;
        loop {
            let raw = self.read_line()?;
            let line = String::from_utf8_lossy(trim_eol(&raw)).into_owned();
            let upper = line.to_ascii_uppercase();
            let verb = upper.split(' ').next().unwrap_or("").to_string();
            if verb == "AUTH" {
                let mut parts = line.splitn(3, ' ');
                let _ = parts.next();
                let mech = parts.next().unwrap_or("").to_ascii_uppercase();
                let redacted = if parts.next().is_some() {
                    format!("AUTH {mech} <redacted>")
                } else {
                    format!("AUTH {mech}")
                };
                self.s.transcript.push(Line::Client(redacted));
            } else {
                self.record_client(&raw);
            }
            match verb.as_str() {
                "EHLO" | "LHLO" | "HELO" => {
                    self.s.greetings.push(line.clone());
                    let wrong = (verb == "LHLO") != self.cfg.lmtp;
                    let stage = match verb.as_str() {
                        "EHLO" => Stage::Ehlo,
                        "LHLO" => Stage::Lhlo,
                        _ => Stage::Helo,
                    };
                    if wrong && verb != "HELO" {
                        self.send_raw("500 5.5.1 Error: command not recognized", &[])?;
                    } else if verb == "HELO" {
                        let normal = format!("250 {}", self.cfg.hostname);
                        self.respond(stage, &normal)?;
                    } else {
                        let normal = self.ehlo_reply();
                        self.respond(stage, &normal)?;
                    }
                    in_mail = false;
                }
                "STARTTLS" => {
                    if self.cfg.tls != TlsMode::StartTls || self.s.tls.is_some() {
                        self.send_raw("502 5.5.1 Error: command not implemented", &[])?;
                    } else if self.respond(Stage::StartTls, "220 2.0.0 Ready to start TLS")? {
                        self.buf.clear();
                        self.handshake(TlsState::StartTls)?;
                        in_mail = false;
                    }
                }
                "AUTH" => self.auth(&line)?,
                "MAIL" => {
                    let arg = after_colon(&line, "MAIL FROM:");
                    self.s.mail_from = Some(arg);
                    self.s.pipelined = self.probe_pipelining();
                    self.s.rcpts.clear();
                    accepted.clear();
                    rcpt_n = 0;
                    in_mail = self.respond(Stage::Mail, "250 2.1.0 Ok")?;
                }
                "RCPT" => {
                    self.s.rcpts.push(after_colon(&line, "RCPT TO:"));
                    rcpt_n += 1;
                    if !in_mail {
                        self.send_raw("503 5.5.1 Error: need MAIL command", &[])?;
                    } else if self.respond(Stage::Rcpt(rcpt_n), "250 2.1.5 Ok")? {
                        accepted.push(rcpt_n);
                    }
                }
                "DATA" => {
                    if !in_mail || accepted.is_empty() {
                        self.send_raw("554 5.5.1 Error: no valid recipients", &[])?;
                        continue;
                    }
                    if !self.respond(Stage::Data, "354 End data with <CR><LF>.<CR><LF>")? {
                        continue;
                    }
                    self.data()?;
                    in_mail = false;
                    self.end_of_data(&accepted)?;
                }
                "RSET" => {
                    self.s.rset = true;
                    in_mail = false;
                    self.send_raw("250 2.0.0 Ok", &[])?;
                }
                "NOOP" => self.send_raw("250 2.0.0 Ok", &[])?,
                "QUIT" => {
                    self.s.quit = true;
                    self.respond(Stage::Quit, "221 2.0.0 Bye")?;
                    return Ok(());
                }
                _ => self.send_raw("502 5.5.2 Error: command not recognized", &[])?,
            }
        }
    }

    fn data(&mut self) -> Step<()> {
        let mut data = Vec::new();
        let mut first = true;
        loop {
            let line = match self.read_line() {
                Ok(l) => l,
                Err(e) => {
                    // A client that gave up before sending any data (e.g. after a pipelined
                    // RCPT failure) did not transmit DATA; record nothing rather than a race.
                    if !data.is_empty() {
                        self.s.data = Some(data);
                    }
                    return Err(e);
                }
            };
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            data.extend_from_slice(&line);
            if first {
                first = false;
                match self.cfg.faults.get(&Stage::DataBody).cloned() {
                    Some(Action::Drop) => {
                        self.s.data = Some(data);
                        return Err(self.drop_conn());
                    }
                    Some(Action::Stall) => {
                        // Keep consuming (and recording) the data, but never answer.
                        self.s.transcript.push(Line::Server("<stalling>".into()));
                        while let Ok(l) = self.read_line() {
                            data.extend_from_slice(&l);
                        }
                        self.s.data = Some(data);
                        return Err(End::Closed);
                    }
                    Some(Action::Slow(d)) => std::thread::sleep(d),
                    _ => {}
                }
            }
        }
        self.s
            .transcript
            .push(Line::Client(format!("<{} bytes of data>", data.len())));
        self.s.transcript.push(Line::Client(".".into()));
        self.s.data = Some(data);
        self.s.data_complete = true;
        Ok(())
    }

    fn end_of_data(&mut self, accepted: &[usize]) -> Step<()> {
        if !self.cfg.lmtp {
            let normal = self.cfg.eod_reply.clone();
            self.respond(Stage::EndOfData, &normal)?;
            return Ok(());
        }
        if let Go::Replaced = self.pre(Stage::EndOfData)? {
            return Ok(());
        }
        for (i, _) in accepted.iter().enumerate() {
            let reply = self
                .cfg
                .lmtp_replies
                .get(&(i + 1))
                .cloned()
                .unwrap_or_else(|| "250 2.0.0 Ok".into());
            self.send_raw(&reply, &[])?;
        }
        Ok(())
    }

    fn read_auth_line(&mut self) -> Step<String> {
        let l = self.read_line()?;
        self.s.transcript.push(Line::Client("<auth data>".into()));
        Ok(String::from_utf8_lossy(trim_eol(&l)).into_owned())
    }

    fn auth(&mut self, line: &str) -> Step<()> {
        let mut parts = line.split(' ');
        let _ = parts.next();
        let mech = parts.next().unwrap_or("").to_ascii_uppercase();
        let initial = parts.next().map(str::to_string);
        let advertised = self
            .cfg
            .caps
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH "))
            .any(|list| list.split(' ').any(|m| m.eq_ignore_ascii_case(&mech)));
        if let Go::Replaced = self.pre(Stage::Auth)? {
            self.s.auth.push(AuthRecord {
                mechanism: mech,
                user: String::new(),
                ok: false,
            });
            return Ok(());
        }
        if !advertised {
            return self.send_raw("504 5.5.4 Unrecognized authentication type", &[]);
        }
        let (user, pass) = match mech.as_str() {
            "PLAIN" => {
                let resp = match initial {
                    Some(r) => r,
                    None => {
                        self.send_raw("334 ", &[])?;
                        self.read_auth_line()?
                    }
                };
                let dec = B64.decode(resp.trim()).unwrap_or_default();
                let mut f = dec.split(|&b| b == 0);
                let _authz = f.next();
                let u = f.next().unwrap_or_default();
                let p = f.next().unwrap_or_default();
                (
                    String::from_utf8_lossy(u).into_owned(),
                    String::from_utf8_lossy(p).into_owned(),
                )
            }
            "LOGIN" => {
                let u = match initial {
                    Some(r) => r,
                    None => {
                        self.send_raw("334 VXNlcm5hbWU6", &[])?;
                        self.read_auth_line()?
                    }
                };
                self.send_raw("334 UGFzc3dvcmQ6", &[])?;
                let p = self.read_auth_line()?;
                (b64_text(&u), b64_text(&p))
            }
            "CRAM-MD5" => {
                let challenge = "<1896.697170952@localhost>";
                self.send_raw(&format!("334 {}", B64.encode(challenge)), &[])?;
                let r = b64_text(&self.read_auth_line()?);
                let (u, digest) = r.rsplit_once(' ').unwrap_or((&r, ""));
                let ok = match &self.cfg.credentials {
                    Some((_, pw)) => hmac_md5_hex(pw.as_bytes(), challenge.as_bytes()) == digest,
                    None => true,
                };
                // CRAM-MD5 never reveals the password; compare the digest instead.
                let pass_ok = if ok { "ok" } else { "bad" };
                (u.to_string(), pass_ok.to_string())
            }
            "EXTERNAL" => {
                // RFC 4422 appendix A: the only message is the authorization identity, maybe
                // empty (an empty initial response is `=`). It is not secret, so the exact
                // client line goes into the transcript for wire-format comparisons.
                let resp = match initial {
                    Some(r) => {
                        self.s
                            .transcript
                            .push(Line::Note(format!("external: initial response {r:?}")));
                        r
                    }
                    None => {
                        self.send_raw("334 ", &[])?;
                        let r = self.read_auth_line()?;
                        self.s
                            .transcript
                            .push(Line::Note(format!("external: response {r:?}")));
                        r
                    }
                };
                let authzid = if resp.trim() == "=" {
                    String::new()
                } else {
                    b64_text(&resp)
                };
                let ok = self.s.client_cn.is_some()
                    && match &self.cfg.credentials {
                        Some((u, _)) => authzid.is_empty() || *u == authzid,
                        None => true,
                    };
                self.s.auth.push(AuthRecord {
                    mechanism: mech,
                    user: authzid,
                    ok,
                });
                return if ok {
                    self.send_raw("235 2.7.0 Authentication successful", &[])
                } else {
                    self.send_raw("535 5.7.8 Error: authentication failed", &[])
                };
            }
            "SCRAM-SHA-1" | "SCRAM-SHA-256" | "SCRAM-SHA-1-PLUS" | "SCRAM-SHA-256-PLUS" => {
                // msmtp (GNU SASL) sends the client-first after an empty 334, postie as the
                // initial response; both are RFC 4954.
                let first = match initial {
                    Some(r) => r,
                    None => {
                        self.send_raw("334 ", &[])?;
                        self.read_auth_line()?
                    }
                };
                let (u, ok) = self.scram(&mech, &first)?;
                (u, if ok { "ok" } else { "bad" }.to_string())
            }
            "XOAUTH2" | "OAUTHBEARER" if self.cfg.bearer.is_some() => {
                let resp = match initial {
                    Some(r) => r,
                    None => {
                        self.send_raw("334 ", &[])?;
                        self.read_auth_line()?
                    }
                };
                let text = b64_text(&resp);
                let (user, token) = parse_bearer(&mech, &text);
                self.s.transcript.push(Line::Note(format!(
                    "bearer: {} bytes of token",
                    token.len()
                )));
                let check = self.cfg.bearer.clone().expect("checked above");
                let ok = (check.0)(&user, &token);
                self.s.auth.push(AuthRecord {
                    mechanism: mech,
                    user,
                    ok,
                });
                if ok {
                    return self.send_raw("235 2.7.0 Authentication successful", &[]);
                }
                let err = B64.encode(
                    r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#,
                );
                self.send_raw(&format!("334 {err}"), &[])?;
                self.read_auth_line()?;
                return self.send_raw("535 5.7.8 Username and Password not accepted", &[]);
            }
            _ => return self.send_raw("504 5.5.4 Unrecognized authentication type", &[]),
        };
        let digest_only = mech == "CRAM-MD5" || mech.starts_with("SCRAM-");
        let ok = match &self.cfg.credentials {
            None => !mech.starts_with("SCRAM-") || pass == "ok",
            Some((cu, cp)) => {
                *cu == user
                    && if digest_only {
                        pass == "ok"
                    } else {
                        *cp == pass
                    }
            }
        };
        self.s.auth.push(AuthRecord {
            mechanism: mech,
            user,
            ok,
        });
        if ok {
            self.send_raw("235 2.7.0 Authentication successful", &[])
        } else {
            self.send_raw("535 5.7.8 Error: authentication failed", &[])
        }
    }
}

impl Conn<'_> {
    /// The RFC 9266 `tls-exporter` value of the current TLS 1.3 session.
    fn tls_exporter(&self) -> Option<Vec<u8>> {
        let Stream::Tls(t) = &self.stream else {
            return None;
        };
        if t.conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
            return None;
        }
        let mut out = vec![0u8; 32];
        t.conn
            .export_keying_material(&mut out[..], b"EXPORTER-Channel-Binding", Some(&[]))
            .ok()?;
        Some(out)
    }

    /// A SCRAM server (RFC 5802/7677, -PLUS with RFC 9266 `tls-exporter`) for the configured
    /// credentials. Returns the user and whether the proof (and channel binding) verified; the
    /// server signature is only sent for a good proof.
    fn scram(&mut self, mech: &str, first: &str) -> Step<(String, bool)> {
        let sha256 = mech.starts_with("SCRAM-SHA-256");
        let plus = mech.ends_with("-PLUS");
        let cf = b64_text(first);
        // gs2 header: cbind flag, authzid, then the bare message.
        let mut it = cf.splitn(3, ',');
        let (flag, authz, bare) = (
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
        );
        let gs2 = format!("{flag},{authz},");
        let user = bare
            .split(',')
            .find_map(|a| a.strip_prefix("n="))
            .unwrap_or("")
            .replace("=2C", ",")
            .replace("=3D", "=");
        let cnonce = bare
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .unwrap_or("")
            .to_string();
        let salt = b"postie-test-salt";
        let iterations = 4096;
        let sf = format!("r={cnonce}srvNonce42,s={},i={iterations}", B64.encode(salt));
        self.send_raw(&format!("334 {}", B64.encode(&sf)), &[])?;
        let fin = b64_text(&self.read_auth_line()?);
        let Some((without_proof, proof)) = fin.rsplit_once(",p=") else {
            self.s.transcript.push(Line::Note("scram: no proof".into()));
            return Ok((user, false));
        };
        let mut want_cbind = gs2.as_bytes().to_vec();
        let binding_ok = match (plus, self.tls_exporter()) {
            (true, Some(x)) => {
                want_cbind.extend_from_slice(&x);
                flag == "p=tls-exporter"
            }
            (true, None) => false,
            (false, _) => flag == "n" || flag == "y",
        };
        let cbind_ok = without_proof
            .split(',')
            .find_map(|a| a.strip_prefix("c="))
            .is_some_and(|c| B64.decode(c).ok() == Some(want_cbind.clone()));
        let nonce_ok = without_proof.contains(&format!(",r={cnonce}srvNonce42"));
        let password = self
            .cfg
            .credentials
            .as_ref()
            .map_or("secret".to_string(), |(_, p)| p.clone());
        let mac = |k: &[u8], m: &[u8]| scram_hmac(sha256, k, m);
        let mut u = mac(password.as_bytes(), &[&salt[..], &[0, 0, 0, 1]].concat());
        let mut salted = u.clone();
        for _ in 1..iterations {
            u = mac(password.as_bytes(), &u);
            salted.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
        }
        let client_key = mac(&salted, b"Client Key");
        let stored = if sha256 {
            sha2::Sha256::digest(&client_key).to_vec()
        } else {
            sha1::Sha1::digest(&client_key).to_vec()
        };
        let auth_message = format!("{bare},{sf},{without_proof}");
        let sig = mac(&stored, auth_message.as_bytes());
        let want: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let proof_ok = B64.decode(proof).ok() == Some(want);
        self.s.transcript.push(Line::Note(format!(
            "scram: binding {binding_ok}, c= {cbind_ok}, nonce {nonce_ok}, proof {proof_ok}"
        )));
        let ok = binding_ok && cbind_ok && nonce_ok && proof_ok;
        if ok {
            let server_key = mac(&salted, b"Server Key");
            let v = mac(&server_key, auth_message.as_bytes());
            self.send_raw(
                &format!("334 {}", B64.encode(format!("v={}", B64.encode(v)))),
                &[],
            )?;
            self.read_auth_line()?;
        }
        Ok((user, ok))
    }
}

/// HMAC-SHA-1 or HMAC-SHA-256 (RFC 2104), written out here so the test server shares no code
/// with the client it checks.
fn scram_hmac(sha256: bool, key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn h(sha256: bool, parts: &[&[u8]]) -> Vec<u8> {
        if sha256 {
            let mut d = sha2::Sha256::new();
            parts.iter().for_each(|p| sha2::Digest::update(&mut d, p));
            d.finalize().to_vec()
        } else {
            let mut d = sha1::Sha1::new();
            parts.iter().for_each(|p| sha1::Digest::update(&mut d, p));
            d.finalize().to_vec()
        }
    }
    let mut k = if key.len() > 64 {
        h(sha256, &[key])
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = h(sha256, &[&ipad, msg]);
    h(sha256, &[&opad, &inner])
}

/// `(user, token)` of an XOAUTH2 (`user=U^Aauth=Bearer T^A^A`) or OAUTHBEARER
/// (`n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A`) response.
fn parse_bearer(mech: &str, text: &str) -> (String, String) {
    let mut user = String::new();
    let mut token = String::new();
    let mut fields = text.split('\x01');
    if mech == "OAUTHBEARER" {
        let gs2 = fields.next().unwrap_or_default();
        if let Some(a) = gs2.split(',').find_map(|f| f.strip_prefix("a=")) {
            user = a.replace("=2C", ",").replace("=3D", "=");
        }
    }
    for f in fields {
        if let Some(u) = f.strip_prefix("user=") {
            user = u.to_owned();
        } else if let Some(t) = f.strip_prefix("auth=Bearer ") {
            token = t.to_owned();
        }
    }
    (user, token)
}

fn b64_text(s: &str) -> String {
    String::from_utf8_lossy(&B64.decode(s.trim()).unwrap_or_default()).into_owned()
}

/// HMAC-MD5 (RFC 2104) as lower-case hex, for CRAM-MD5.
pub fn hmac_md5_hex(key: &[u8], msg: &[u8]) -> String {
    let mut k = if key.len() > 64 {
        Md5::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let mut inner = Md5::new();
    inner.update(k.iter().map(|b| b ^ 0x36).collect::<Vec<_>>());
    inner.update(msg);
    let mut outer = Md5::new();
    outer.update(k.iter().map(|b| b ^ 0x5c).collect::<Vec<_>>());
    outer.update(inner.finalize());
    outer
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// The text after a case-insensitive `prefix`, or after the first `:` if the prefix differs.
fn after_colon(line: &str, prefix: &str) -> String {
    if line.len() >= prefix.len()
        && line.is_char_boundary(prefix.len())
        && line[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        return line[prefix.len()..].to_string();
    }
    line.split_once(':')
        .map(|(_, r)| r.to_string())
        .unwrap_or_default()
}

fn serve(sock: TcpStream, cfg: &ServerBuilder) -> Session {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(READ_POLL));
    let _ = sock.set_nodelay(true);
    let peer = sock.peer_addr().ok();
    let mut conn = Conn {
        cfg,
        stream: Stream::Plain(sock),
        buf: Vec::new(),
        s: Session {
            peer,
            ..Session::default()
        },
        deadline: Instant::now() + SESSION_LIMIT,
    };
    let _ = conn.run();
    conn.s
}

#[cfg(test)]
mod tests {
    //! The server's own tests, driven by the real msmtp (skipped when it is not installed).
    use super::*;
    use std::process::{Command, Stdio};

    const MSMTP: &str = "/usr/bin/msmtp";

    /// Runs msmtp with `account default` pointing at `port` plus `extra` config lines.
    fn msmtp(port: u16, extra: &str, args: &[&str], stdin: &[u8]) -> Option<(i32, String)> {
        if !std::path::Path::new(MSMTP).exists() {
            eprintln!("skipped: msmtp not installed");
            return None;
        }
        let home = tempfile::tempdir().expect("tempdir");
        let rc = home.path().join(".msmtprc");
        let text = format!(
            "account default\nhost 127.0.0.1\nport {port}\nfrom sender@example.com\n{extra}\n"
        );
        std::fs::write(&rc, text).expect("write rc");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut child = Command::new("setsid")
            .arg(MSMTP)
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn msmtp");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let w = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait");
        let _ = w.join();
        Some((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    const MAIL: &[u8] = b"From: a@example.com\nSubject: t\n\nbody\n.dot\n";

    #[test]
    fn records_envelope_data_and_quit() {
        let srv = ServerBuilder::smtp().start();
        let Some((rc, err)) = msmtp(srv.port(), "", &["r1@x.org", "r2@x.org"], MAIL) else {
            return;
        };
        let s = srv.finish();
        assert_eq!(rc, 0, "{err}");
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.mail_from.as_deref(), Some("<sender@example.com>"));
        assert_eq!(s.rcpts, vec!["<r1@x.org>", "<r2@x.org>"]);
        let data = String::from_utf8_lossy(s.data.as_deref().unwrap_or_default()).into_owned();
        assert!(data.ends_with("\r\nbody\r\n..dot\r\n"), "{data:?}");
        assert!(s.data_complete && s.quit && !s.rset);
        assert_eq!(s.greetings, vec!["EHLO localhost"]);
        assert_eq!(s.tls_state(), TlsState::None);
    }

    #[test]
    fn pipelining_is_detected() {
        let plain = ServerBuilder::smtp().start();
        let Some(_) = msmtp(plain.port(), "", &["a@x", "b@x", "c@x"], MAIL) else {
            return;
        };
        let piped = ServerBuilder::smtp().pipelining().start();
        let _ = msmtp(piped.port(), "", &["a@x", "b@x", "c@x"], MAIL);
        let (p, q) = (plain.finish(), piped.finish());
        // Turn counts are not compared: msmtp splits a pipelined batch over several writes and
        // the kernel's delayed ACKs decide how many reads that takes.
        assert!(!p[0].pipelined && q[0].pipelined);
    }

    #[test]
    fn ehlo_rejection_leads_to_helo() {
        let srv = ServerBuilder::smtp()
            .reply(Stage::Ehlo, "502 5.5.2 no EHLO")
            .start();
        let Some((rc, _)) = msmtp(srv.port(), "", &["r@x"], MAIL) else {
            return;
        };
        let s = srv.finish();
        assert_eq!(rc, 0);
        assert_eq!(s[0].greetings, vec!["EHLO localhost", "HELO localhost"]);
    }

    #[test]
    fn rcpt_fault_is_scripted_per_recipient() {
        let srv = ServerBuilder::smtp()
            .reply(Stage::Rcpt(2), "450 4.1.1 mailbox busy")
            .start();
        let Some((rc, err)) = msmtp(srv.port(), "", &["r1@x", "r2@x"], MAIL) else {
            return;
        };
        let s = srv.finish();
        assert_eq!(rc, 69, "{err}");
        assert!(err.contains("recipient address r2@x not accepted"), "{err}");
        assert!(!s[0].quit && s[0].data.is_none());
    }

    #[test]
    fn starttls_with_generated_ca() {
        let srv = ServerBuilder::smtp().starttls().start();
        let extra = format!(
            "tls on\ntls_trust_file {}\n",
            crate::support::pki::pki().ca_pem.display()
        );
        let Some((rc, err)) = msmtp(srv.port(), &extra, &["r@x"], MAIL) else {
            return;
        };
        let s = srv.finish();
        assert_eq!(rc, 0, "{err}\n{}", s[0].transcript_text());
        assert_eq!(s[0].tls_state(), TlsState::StartTls);
        assert_eq!(s[0].greetings.len(), 2);
    }

    #[test]
    fn implicit_tls_with_each_fingerprint_kind() {
        let p = crate::support::pki::pki();
        for fp in [&p.fp_sha256, &p.fp_sha1, &p.fp_md5] {
            let srv = ServerBuilder::smtp().implicit_tls().start();
            let extra = format!("tls on\ntls_starttls off\ntls_fingerprint {fp}\n");
            let Some((rc, err)) = msmtp(srv.port(), &extra, &["r@x"], MAIL) else {
                return;
            };
            let s = srv.finish();
            assert_eq!(rc, 0, "{fp}: {err}");
            assert_eq!(s[0].tls_state(), TlsState::Implicit);
        }
    }

    #[test]
    fn wrong_host_certificate_is_rejected() {
        let srv = ServerBuilder::smtp()
            .starttls()
            .cert(CertChoice::WrongHost)
            .start();
        let extra = format!(
            "tls on\ntls_trust_file {}\n",
            crate::support::pki::pki().ca_pem.display()
        );
        let Some((rc, _)) = msmtp(srv.port(), &extra, &["r@x"], MAIL) else {
            return;
        };
        let s = srv.finish();
        assert_eq!(rc, 69);
        // The client verifies after the handshake, so the server saw it complete.
        assert!(s[0].mail_from.is_none() && !s[0].quit);
    }

    #[test]
    fn starttls_injection_is_detected_by_client() {
        let srv = ServerBuilder::smtp()
            .starttls()
            .fault(
                Stage::StartTls,
                Action::InjectAfter(b"250 injected\r\n".to_vec()),
            )
            .start();
        let extra = "tls on\ntls_certcheck off\n";
        let Some((rc, err)) = msmtp(srv.port(), extra, &["r@x"], MAIL) else {
            return;
        };
        drop(srv.finish());
        assert_eq!(rc, 76, "{err}");
    }

    #[test]
    fn auth_mechanisms_record_user_and_verify_password() {
        for (mech, pw, ok) in [
            ("plain", "secret", true),
            ("login", "secret", true),
            ("cram-md5", "secret", true),
            ("plain", "wrong", false),
            ("cram-md5", "wrong", false),
        ] {
            let srv = ServerBuilder::smtp()
                .auth("PLAIN LOGIN CRAM-MD5")
                .credentials("joe", "secret")
                .start();
            let extra = format!("auth {mech}\nuser joe\npassword {pw}\n");
            let Some((rc, err)) = msmtp(srv.port(), &extra, &["r@x"], MAIL) else {
                return;
            };
            let s = srv.finish();
            assert_eq!(rc, if ok { 0 } else { 77 }, "{mech}: {err}");
            let a = &s[0].auth[0];
            assert_eq!(
                (a.mechanism.as_str(), a.user.as_str(), a.ok),
                (mech.to_ascii_uppercase().as_str(), "joe", ok)
            );
            assert!(!s[0].transcript_text().contains(pw), "password leaked");
        }
    }

    #[test]
    fn lmtp_replies_per_recipient() {
        let srv = ServerBuilder::lmtp()
            .lmtp_reply(2, "550 5.1.1 no such user")
            .start();
        let Some((rc, err)) = msmtp(srv.port(), "protocol lmtp\n", &["a@x", "b@x"], MAIL) else {
            return;
        };
        let s = srv.finish();
        assert_eq!(rc, 69, "{err}");
        assert!(err.contains("refuses to send the mail to b@x"), "{err}");
        assert_eq!(s[0].greetings, vec!["LHLO localhost"]);
        assert!(s[0].data_complete && !s[0].quit);
    }

    #[test]
    fn stall_triggers_client_timeout() {
        let srv = ServerBuilder::smtp()
            .fault(Stage::Mail, Action::Stall)
            .start();
        let Some((rc, err)) = msmtp(srv.port(), "timeout 1\n", &["r@x"], MAIL) else {
            return;
        };
        drop(srv.finish());
        assert_eq!(rc, 74, "{err}");
        assert!(err.contains("timed out"), "{err}");
    }

    #[test]
    fn drop_mid_data_keeps_partial_data() {
        let srv = ServerBuilder::smtp()
            .fault(Stage::DataBody, Action::Drop)
            .start();
        let big = [MAIL, &b"x\n".repeat(200_000)[..]].concat();
        let Some((rc, _)) = msmtp(srv.port(), "", &["r@x"], &big) else {
            return;
        };
        let s = srv.finish();
        assert_ne!(rc, 0);
        assert!(!s[0].data_complete && s[0].data.is_some());
    }

    #[test]
    fn sequential_connections_are_recorded() {
        let srv = ServerBuilder::smtp().start();
        for _ in 0..2 {
            let Some((rc, _)) = msmtp(srv.port(), "", &["r@x"], MAIL) else {
                return;
            };
            assert_eq!(rc, 0);
        }
        assert_eq!(srv.finish().len(), 2);
    }

    #[test]
    fn hmac_md5_matches_rfc2104_vector() {
        assert_eq!(
            hmac_md5_hex(b"Jefe", b"what do ya want for nothing?"),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }
}
