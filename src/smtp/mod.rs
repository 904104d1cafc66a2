//! postie's SMTP/LMTP client (msmtp.md sections 5.5, 5.6, 6, 7): connect ([`crate::net`]),
//! TLS, greeting, EHLO/LHLO, STARTTLS, AUTH, the (pipelined) envelope, the streamed body and
//! QUIT, with msmtp's error texts and exit codes at every step.
//!
//! [`send`] is the one entry point the application uses; [`session`] holds the dialogue,
//! generic over the stream so it is tested against scripted servers.
//!
//! LMTP partial failure is not an error here: [`send`] returns `Ok(Delivery)` with one reply per
//! recipient in [`Delivery::lmtp`], and the caller prints `the server refuses to send the mail
//! to RCPT` / `LMTP server message: ...` / `could not send mail to all recipients` and exits 69
//! when [`Delivery::all_accepted`] is false.

pub mod address;
pub mod auth;
pub mod caps;
pub mod reply;
pub mod session;

pub use crate::net::{Target, TlsSettings, Trust};
pub use auth::{AuthSetting, Mechanism};
pub use caps::Capabilities;
pub use reply::Reply;

use crate::error::{Error, Result};
use crate::net;
use std::io::Write;

/// SMTP (EHLO, HELO fallback) or LMTP (LHLO, per-recipient replies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Smtp,
    Lmtp,
}

/// The account settings that shape the dialogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// The EHLO/LHLO argument (`domain`, default `localhost`).
    pub domain: String,
    /// `auth`.
    pub auth: AuthSetting,
    /// `user`.
    pub user: Option<String>,
    /// `dsn_notify`, already upper-cased (`FAILURE,DELAY`, `NEVER`); sent as ` NOTIFY=`.
    pub dsn_notify: Option<String>,
    /// `dsn_return` (`HDRS` or `FULL`); sent as ` RET=`.
    pub dsn_return: Option<String>,
}

impl Default for SessionSettings {
    fn default() -> SessionSettings {
        SessionSettings {
            protocol: Protocol::Smtp,
            domain: "localhost".to_string(),
            auth: AuthSetting::Off,
            user: None,
            dsn_notify: None,
            dsn_return: None,
        }
    }
}

/// The SMTP envelope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; `""` and `MAILER-DAEMON` (any case) are sent as `MAIL FROM:<>`.
    pub from: String,
    /// The forward paths, in order.
    pub recipients: Vec<String>,
}

/// The outcome of a delivery that got through the whole dialogue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// SMTP: the reply to the final dot (for `smtpstatus=`/`smtpmsg=` in the log).
    pub final_reply: Option<Reply>,
    /// LMTP: one reply per recipient, in envelope order.
    pub lmtp: Vec<(String, Reply)>,
    /// What the body callback returned.
    pub mailsize: u64,
}

impl Envelope {
    /// Refuses an envelope whose addresses would not be a single, well-formed `MAIL FROM` or
    /// `RCPT TO` argument (see [`address`]): 64 for the sender, which only the command line or
    /// the configuration choose, 65 for a recipient, as the server's refusal of a bad address
    /// would be.
    pub fn check(&self) -> Result<()> {
        let null_sender = self.from.is_empty() || self.from.eq_ignore_ascii_case("MAILER-DAEMON");
        if !null_sender && let Some(why) = address::problem(&self.from) {
            return Err(Error::usage(format!(
                "invalid envelope-from address {}: {why}",
                crate::ui::sanitize(&self.from)
            )));
        }
        for r in &self.recipients {
            if let Some(why) = address::problem(r) {
                return Err(Error::new(
                    crate::error::Sysexit::DataErr,
                    format!(
                        "invalid recipient address {}: {why}",
                        crate::ui::sanitize(r)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Delivery {
    /// False when some LMTP recipient got a non-250 reply (the caller then exits 69).
    pub fn all_accepted(&self) -> bool {
        self.lmtp.iter().all(|(_, r)| r.code == 250)
    }
}

/// Connect, TLS, greeting, EHLO, STARTTLS, AUTH, envelope, DATA (body written by `body`), QUIT.
/// `password` is called at most once, only when the chosen mechanism needs a password; it
/// learns the mechanism and may answer `None` (no password found), which becomes msmtp's
/// `authentication method M needs a password` (69). `body` writes the already dot-stuffed
/// CRLF payload (without the final ".\r\n") and returns the mailsize. Every error is marked
/// as belonging to the send stage.
pub fn send(
    target: &Target,
    tls: &TlsSettings,
    session: &SessionSettings,
    envelope: &Envelope,
    password: &mut dyn FnMut(Mechanism) -> Result<Option<String>>,
    body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    debug: Option<&mut dyn Write>,
) -> Result<Delivery> {
    let host = target.display_host();
    let run = || -> Result<Delivery> {
        let (conn, _) = connect(target, tls, &host, true)?;
        let mut s = session::Session::new(conn, debug);
        session::run(
            &mut s,
            tls,
            session,
            envelope,
            (&host, target.port),
            password,
            body,
        )
    };
    run().map_err(Error::in_send_stage)
}

/// What `--serverinfo` learned about a server (msmtp.md 9.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// Greeting, capabilities and TLS description.
    pub opened: session::Opened,
    /// The connected TCP address; `None` for Unix sockets and proxied connections.
    pub peer: Option<std::net::SocketAddr>,
}

/// Connects and builds the TLS context; returns the connection and the peer's address (direct
/// TCP connections only). msmtp loads the TLS files before connecting when sending
/// (`tls_first`), but only after connecting for `--serverinfo` and `--rmqs` (observed: there a
/// refused connection is reported instead of an unreadable key or trust file).
fn connect(
    target: &Target,
    tls: &TlsSettings,
    host: &str,
    tls_first: bool,
) -> Result<(net::tls::Conn, Option<std::net::SocketAddr>)> {
    let context = || -> Result<Option<net::tls::TlsContext>> {
        if tls.enabled {
            Ok(Some(net::tls::TlsContext::new(tls, host)?))
        } else {
            Ok(None)
        }
    };
    let early = if tls_first { Some(context()?) } else { None };
    let stream = net::connect(target)?;
    let ctx = match early {
        Some(ctx) => ctx,
        None => context()?,
    };
    let peer = if target.proxy_host.is_none() {
        stream.peer_addr()
    } else {
        None
    };
    Ok((net::tls::Conn::new(stream, ctx), peer))
}

/// `--serverinfo`: connect, (implicit TLS), greeting, EHLO/LHLO, (STARTTLS, TLS, EHLO again),
/// QUIT. No AUTH.
pub fn server_info(
    target: &Target,
    tls: &TlsSettings,
    session: &SessionSettings,
    debug: Option<&mut dyn Write>,
) -> Result<ServerInfo> {
    let host = target.display_host();
    let (conn, peer) = connect(target, tls, &host, false)?;
    let mut s = session::Session::new(conn, debug);
    let opened = session::server_info(&mut s, tls, session)?;
    Ok(ServerInfo { opened, peer })
}

/// `--rmqs=ARG`: connect, TLS, EHLO, ETRN capability check, AUTH when configured, `ETRN ARG`,
/// QUIT. `password` is used as in [`send`].
pub fn rmqs(
    target: &Target,
    tls: &TlsSettings,
    session: &SessionSettings,
    arg: &str,
    password: &mut dyn FnMut(Mechanism) -> Result<Option<String>>,
    debug: Option<&mut dyn Write>,
) -> Result<()> {
    let host = target.display_host();
    let (conn, _) = connect(target, tls, &host, false)?;
    let mut s = session::Session::new(conn, debug);
    session::rmqs(&mut s, tls, session, arg, (&host, target.port), password)
}

/// `network write error: ...` (74), for I/O errors in the body callback.
pub fn write_error(e: std::io::Error) -> Error {
    net::write_error_for(&e, false)
}

#[cfg(test)]
mod tests;
