//! postie's SMTP/LMTP client (msmtp.md sections 5.5, 5.6, 6, 7): TLS, greeting, EHLO/LHLO,
//! STARTTLS, AUTH, the (pipelined) envelope, the streamed body and QUIT, with msmtp's error
//! texts and exit codes at every step. The byte stream comes from [`crate::net::open`].
//!
//! [`Client`] is an open, authenticated session that carries one message after the other
//! (the delivery seam's SMTP transport); [`session`] holds the dialogue, generic over the
//! stream so it is tested against scripted servers. `--serverinfo` and `--rmqs` are the two
//! dialogues that send no mail.

pub mod auth;
pub mod caps;
mod client;
pub mod session;

pub use crate::net::{Target, TlsSettings, Trust};
pub use crate::reply::Reply;
pub use auth::{AuthSetting, Mechanism, PasswordSource};
pub use caps::Capabilities;
pub use client::Client;
pub use session::{BodyType, MailParams};

use crate::error::Result;
use crate::net;
use std::io::Write;

/// SMTP (EHLO, HELO fallback) or LMTP (LHLO, per-recipient replies): the `protocol` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Smtp,
    Lmtp,
}

impl Protocol {
    /// The msmtprc spelling.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "smtp" => Some(Protocol::Smtp),
            "lmtp" => Some(Protocol::Lmtp),
            _ => None,
        }
    }

    /// What `-P` prints.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Lmtp => "lmtp",
        }
    }
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

/// What `--serverinfo` learned about a server (msmtp.md 9.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// Greeting, capabilities and TLS description.
    pub opened: session::Opened,
    /// The connected TCP address; `None` for Unix sockets and proxied connections.
    pub peer: Option<std::net::SocketAddr>,
}

/// `--serverinfo`: connect, (implicit TLS), greeting, EHLO/LHLO, (STARTTLS, TLS, EHLO again),
/// QUIT. No AUTH.
pub fn server_info(
    target: &Target,
    tls: &TlsSettings,
    session: &SessionSettings,
    debug: Option<&mut dyn Write>,
) -> Result<ServerInfo> {
    let (conn, peer) = net::open(target, tls, net::TlsFiles::AfterConnect)?;
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
    password: &mut dyn PasswordSource,
    debug: Option<&mut dyn Write>,
) -> Result<()> {
    let host = target.display_host();
    let (conn, _) = net::open(target, tls, net::TlsFiles::AfterConnect)?;
    let mut s = session::Session::new(conn, debug);
    session::rmqs(&mut s, tls, session, arg, (&host, target.port), password)
}

/// `network write error: ...` (74), for I/O errors in the body callback.
pub fn write_error(e: std::io::Error) -> crate::error::Error {
    net::write_error_for(&e, false)
}

#[cfg(test)]
mod tests;
