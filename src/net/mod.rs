//! Connecting to the mail server (msmtp.md section 6): TCP by name (every getaddrinfo address in
//! turn), Unix sockets, SOCKS5 proxies, a command's standard input and output
//! (`proxy_command`, [`command`]), socket timeouts, and the TLS layer on top ([`tls`]).
//!
//! It owns the mapping from OS errors to msmtp's wording and exit codes for everything below the
//! SMTP dialogue: `cannot locate host` (68), `cannot connect to` (75), `network read/write error`
//! (74), so the SMTP code only ever sees finished [`Error`]s.

pub mod command;
pub mod socks;
pub mod tls;
mod x509;

use crate::error::{Error, Result, Sysexit};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

pub use tls::{TlsSettings, Trust};

/// Where to connect to, as configured (`host`, `port`, `socket`, `timeout`, `source_ip`,
/// `proxy_host`, `proxy_port`, `proxy_command`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The server host name or address; used when `socket` is not set.
    pub host: Option<String>,
    /// The server port.
    pub port: u16,
    /// A Unix domain socket path; takes precedence over host/port.
    pub socket: Option<PathBuf>,
    /// Connect and I/O timeout; `None` (msmtp's `timeout off`) keeps the OS connect timeout
    /// and bounds every read and write by [`IDLE_LIMIT`].
    pub timeout: Option<Duration>,
    /// Local address to bind the TCP socket to before connecting.
    pub source_ip: Option<String>,
    /// A SOCKS5 proxy to tunnel through.
    pub proxy_host: Option<String>,
    /// The SOCKS5 proxy port.
    pub proxy_port: u16,
    /// A command whose standard input and output are the connection (`%h`, `%p` not yet
    /// replaced); takes the place of the socket.
    pub proxy_command: Option<String>,
}

impl Target {
    /// The name msmtp uses for this server in messages and password look-ups: the host, or the
    /// socket path when there is no host.
    pub fn display_host(&self) -> String {
        match (&self.socket, &self.host) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(host)) => host.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A connected byte stream to the server (before any TLS).
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection (TCP_NODELAY set).
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    Unix(UnixStream),
    /// A command's standard output and input (`proxy_command`).
    Command(Box<command::CommandStream>),
}

impl Stream {
    /// The remote address of a TCP connection; `None` for Unix sockets and commands.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok(),
            Stream::Unix(_) | Stream::Command(_) => None,
        }
    }
}

/// The name a reverse lookup gives for `addr` (getnameinfo with `NI_NAMEREQD`), as msmtp shows
/// it as the canonical name in `--serverinfo`. `None` when the address has no name.
pub fn reverse_lookup(addr: &SocketAddr) -> Option<String> {
    let sa: socket2::SockAddr = (*addr).into();
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `sa` is a valid socket address of the length passed; `host` is a writable buffer
    // of the length passed; no service buffer is requested.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo stored a NUL-terminated string in `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Command(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Command(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Command(s) => s.flush(),
        }
    }
}

/// How long a read or write may wait when `timeout` is off. msmtp then waits forever, so a
/// server that accepts the connection and never answers hangs cron or a mail client for good;
/// postie gives up after RFC 5321's longest wait (10 minutes, for the reply to the final dot)
/// with msmtp's timeout error. The SMTP session also bounds each whole reply by it, so a server
/// trickling one byte at a time cannot stretch a reply forever.
pub const IDLE_LIMIT: Duration = Duration::from_secs(600);

fn io_timeout(target: &Target) -> Option<Duration> {
    Some(target.timeout.unwrap_or(IDLE_LIMIT))
}

/// When the TLS files (trust, CRL, client key and certificate) are loaded relative to the
/// connection: msmtp loads them before connecting when sending, but only after connecting for
/// `--serverinfo` and `--rmqs` (observed: there a refused connection is reported instead of an
/// unreadable key or trust file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFiles {
    BeforeConnect,
    AfterConnect,
}

/// The connection step, in one place for every dialogue: the TLS context (when TLS is on) and
/// the byte stream (TCP, Unix socket, SOCKS5 or a command's standard input and output),
/// wrapped so the session can start TLS on it.
/// Returns the peer's address for direct TCP connections.
pub fn open(
    target: &Target,
    tls: &TlsSettings,
    files: TlsFiles,
) -> Result<(tls::Conn, Option<std::net::SocketAddr>)> {
    let host = target.display_host();
    let context = || -> Result<Option<tls::TlsContext>> {
        if tls.enabled {
            Ok(Some(tls::TlsContext::new(tls, &host)?))
        } else {
            Ok(None)
        }
    };
    let early = match files {
        TlsFiles::BeforeConnect => Some(context()?),
        TlsFiles::AfterConnect => None,
    };
    let stream = connect(target)?;
    let ctx = match early {
        Some(ctx) => ctx,
        None => context()?,
    };
    let peer = if target.proxy_host.is_none() && target.proxy_command.is_none() {
        stream.peer_addr()
    } else {
        None
    };
    Ok((tls::Conn::new(stream, ctx), peer))
}

/// Connects to the target: the proxy command if set, else the Unix socket if set, else through
/// the SOCKS5 proxy if set, else to every address of the host in turn. With a timeout, the
/// socket also gets read and write timeouts. Every error is marked as belonging to the send
/// stage.
pub fn connect(target: &Target) -> Result<Stream> {
    connect_inner(target).map_err(Error::in_send_stage)
}

fn connect_inner(target: &Target) -> Result<Stream> {
    if let Some(template) = &target.proxy_command {
        let host = target.host.as_deref().unwrap_or("");
        let cmd = command::expand(template, |c| match c {
            'h' => Some(command::quote(host)),
            'p' => Some(target.port.to_string()),
            _ => None,
        });
        let idle = io_timeout(target).unwrap_or(IDLE_LIMIT);
        let stream = command::CommandStream::open(&cmd, host, target.port, idle)?;
        return Ok(Stream::Command(Box::new(stream)));
    }
    if let Some(path) = &target.socket {
        let stream = UnixStream::connect(path).map_err(|e| {
            Error::new(
                Sysexit::TempFail,
                format!("cannot connect to {}: {}", path.display(), strerror(&e)),
            )
            .transient()
        })?;
        stream
            .set_read_timeout(io_timeout(target))
            .and_then(|()| stream.set_write_timeout(io_timeout(target)))
            .map_err(|e| os_error("cannot set socket timeout", &e))?;
        return Ok(Stream::Unix(stream));
    }
    let host = target.host.as_deref().unwrap_or("");
    let stream = match &target.proxy_host {
        Some(proxy) => {
            let mut s = tcp_connect(proxy, target.proxy_port, target)?;
            socks::handshake(&mut s, host, target.port)?;
            s
        }
        None => tcp_connect(host, target.port, target)?,
    };
    Ok(Stream::Tcp(stream))
}

/// Resolves `host` and tries each address until one connects.
fn tcp_connect(host: &str, port: u16, target: &Target) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            let text = gai_text(&e);
            Error::new(
                lookup_failure_exit(&text),
                format!("cannot locate host {host}: {text}"),
            )
            .transient()
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::new(
            Sysexit::NoHost,
            format!("cannot locate host {host}: Name or service not known"),
        )
        .transient());
    }
    let source: Option<IpAddr> = match &target.source_ip {
        Some(ip) => Some(ip.parse().map_err(|_| {
            Error::new(
                Sysexit::OsErr,
                format!("cannot bind source ip {ip}: Invalid argument"),
            )
        })?),
        None => None,
    };
    let mut last = None;
    for addr in addrs {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .map_err(|e| os_error("cannot create socket", &e))?;
        if let Some(ip) = source {
            // A source address of the other family cannot work for this address; msmtp's
            // bind fails the same way, so report it like msmtp does.
            sock.bind(&SocketAddr::new(ip, 0).into()).map_err(|e| {
                Error::new(
                    Sysexit::OsErr,
                    format!("cannot bind source ip {ip}: {}", strerror(&e)),
                )
            })?;
        }
        let res = match target.timeout {
            Some(t) => sock.connect_timeout(&addr.into(), t),
            None => sock.connect(&addr.into()),
        };
        match res {
            Ok(()) => {
                let stream: TcpStream = sock.into();
                // Commands are flushed once per turn, so Nagle only adds latency.
                let _ = stream.set_nodelay(true);
                stream
                    .set_read_timeout(io_timeout(target))
                    .and_then(|()| stream.set_write_timeout(io_timeout(target)))
                    .map_err(|e| os_error("cannot set socket timeout", &e))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let text = last.map_or_else(|| "Connection refused".to_string(), |e| strerror(&e));
    Err(Error::new(
        Sysexit::TempFail,
        format!("cannot connect to {host}, port {port}: {text}"),
    )
    .transient())
}

fn os_error(what: &str, e: &io::Error) -> Error {
    Error::new(Sysexit::OsErr, format!("{what}: {}", strerror(e)))
}

/// The C library's text for an I/O error, without Rust's ` (os error N)` suffix; timeouts read
/// like the C library's ETIMEDOUT text.
pub fn strerror(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::TimedOut && e.raw_os_error().is_none() {
        return "Connection timed out".to_string();
    }
    crate::error::strerror(e)
}

/// getaddrinfo's text (gai_strerror) from std's resolver error.
/// The exit code of a failed name lookup: 68, except for the resolver's temporary failure
/// (`EAI_AGAIN`: no network yet, a DNS server that did not answer), which is 75 as in msmtp
/// 1.8.24 and later, so that a caller retries. std only passes on getaddrinfo's text, so the
/// text is compared with the C library's (localized) text for `EAI_AGAIN`.
fn lookup_failure_exit(text: &str) -> Sysexit {
    // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string.
    let again = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(libc::EAI_AGAIN)) };
    if text == again.to_string_lossy() {
        Sysexit::TempFail
    } else {
        Sysexit::NoHost
    }
}

fn gai_text(e: &io::Error) -> String {
    let text = strerror(e);
    match text.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Maps a failed read from the server to msmtp's error (74, transient); a proxy command that
/// ended before the server said anything is a failed connection instead.
pub fn read_error(e: &io::Error, tls: bool) -> Error {
    if let Some(ended) = command::error_of(e) {
        return ended;
    }
    let msg = if is_timeout(e) {
        "network read error: the operation timed out".to_string()
    } else if tls {
        format!("cannot read from TLS connection: {}", tls::io_error_text(e))
    } else {
        format!("network read error: {}", strerror(e))
    };
    Error::new(Sysexit::IoErr, msg).transient().in_send_stage()
}

/// Maps a failed write to the server to msmtp's error (74, transient), or a proxy command's
/// early end to its connection error.
pub fn write_error_for(e: &io::Error, tls: bool) -> Error {
    if let Some(ended) = command::error_of(e) {
        return ended;
    }
    let msg = if is_timeout(e) {
        "network write error: the operation timed out".to_string()
    } else if tls {
        format!("cannot write to TLS connection: {}", tls::io_error_text(e))
    } else {
        format!("network write error: {}", strerror(e))
    };
    Error::new(Sysexit::IoErr, msg).transient().in_send_stage()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_temporary_resolver_failure_is_a_temporary_failure() {
        // SAFETY: gai_strerror returns a static string.
        let again = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(libc::EAI_AGAIN)) };
        assert_eq!(
            lookup_failure_exit(&again.to_string_lossy()),
            Sysexit::TempFail
        );
        assert_eq!(
            lookup_failure_exit("Name or service not known"),
            Sysexit::NoHost
        );
    }

    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reverse_lookup_of_loopback_has_a_name() {
        let a: SocketAddr = "127.0.0.1:25".parse().expect("addr");
        assert!(reverse_lookup(&a).is_some_and(|n| !n.is_empty()));
    }

    #[test]
    fn peer_addr_is_known_for_tcp_only() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let t = Target {
            host: Some("127.0.0.1".into()),
            port,
            ..Target::default()
        };
        let s = connect(&t).expect("connect");
        assert_eq!(s.peer_addr().map(|a| a.port()), Some(port));
    }

    #[test]
    fn strerror_strips_os_error_suffix() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(strerror(&e), "Connection refused");
    }

    #[test]
    fn connect_refused_is_tempfail_75() {
        // Bind then drop to get a port that is very likely closed.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let t = Target {
            host: Some("127.0.0.1".into()),
            port,
            ..Target::default()
        };
        let e = connect(&t).expect_err("must fail");
        assert_eq!(e.exit, Sysexit::TempFail);
        assert_eq!(
            e.message,
            format!("cannot connect to 127.0.0.1, port {port}: Connection refused")
        );
        assert!(e.transient && e.in_send_stage);
    }

    #[test]
    fn unknown_host_is_nohost_68() {
        let t = Target {
            host: Some("nonexistent.invalid".into()),
            port: 25,
            ..Target::default()
        };
        let e = connect(&t).expect_err("must fail");
        assert_eq!(e.exit, Sysexit::NoHost);
        assert!(
            e.message
                .starts_with("cannot locate host nonexistent.invalid: "),
            "{}",
            e.message
        );
        assert!(!e.message.contains("failed to lookup"));
        assert!(e.transient && e.in_send_stage);
    }

    #[test]
    fn unix_socket_connect_failure_names_the_path() {
        let t = Target {
            socket: Some(PathBuf::from("/nonexistent/sock")),
            ..Target::default()
        };
        let e = connect(&t).expect_err("must fail");
        assert_eq!(e.exit, Sysexit::TempFail);
        assert_eq!(
            e.message,
            "cannot connect to /nonexistent/sock: No such file or directory"
        );
    }

    #[test]
    fn connect_timeout_reads_as_etimedout() {
        let e = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(strerror(&e), "Connection timed out");
    }

    #[test]
    fn resolver_prefix_is_removed() {
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(gai_text(&e), "Name or service not known");
    }

    #[test]
    fn read_timeout_text_is_msmtps() {
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        let err = read_error(&e, false);
        assert_eq!(err.message, "network read error: the operation timed out");
        assert_eq!(err.exit, Sysexit::IoErr);
    }

    #[test]
    fn tcp_connect_sets_nodelay_and_timeouts() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let t = Target {
            host: Some("127.0.0.1".into()),
            port,
            timeout: Some(Duration::from_millis(300)),
            ..Target::default()
        };
        let mut s = connect(&t).expect("connect");
        if let Stream::Tcp(tcp) = &s {
            assert!(tcp.nodelay().expect("nodelay"));
        }
        let mut b = [0u8; 1];
        let e = s.read(&mut b).expect_err("timeout");
        assert_eq!(
            read_error(&e, false).message,
            "network read error: the operation timed out"
        );
    }
}
