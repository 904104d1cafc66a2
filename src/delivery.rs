//! The delivery seam: one interface between "a message and its envelope" and "a server that
//! takes it", in the spirit of lettre's `Transport::send_raw`. The direct send and the queue
//! flush both go through it, so they share one MAIL/RCPT/DATA path and one reading of the
//! server's answers ([`crate::envelope::Outcome`]). The second transport, [`pipe`] (the
//! message on a command's standard input, a sendmail on another host), plugs in here without
//! either of them changing. (A command's standard input and output carrying SMTP,
//! `proxy_command`, is not a transport but a connection: [`crate::net::open`].)

pub mod pipe;

use crate::config::Account;
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::Result;
use crate::secret;
use crate::smtp;
use std::io::Write;

/// Something that takes messages for an account, one after the other.
pub trait Transport {
    /// Sends one message: `body` writes its bytes (dot-stuffed CRLF, without the final dot)
    /// and returns the mailsize. `policy` says what a refused recipient means.
    fn send(
        &mut self,
        envelope: &Envelope,
        policy: RecipientPolicy,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome>;

    /// Gets ready for the next message after one was sent; `false`: open a new transport.
    fn reset(&mut self) -> bool;

    /// Ends the connection politely.
    fn quit(&mut self);
}

impl Transport for smtp::Client<'_> {
    fn send(
        &mut self,
        envelope: &Envelope,
        policy: RecipientPolicy,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome> {
        smtp::Client::send(self, envelope, policy, body)
    }

    fn reset(&mut self) -> bool {
        smtp::Client::reset(self)
    }

    fn quit(&mut self) {
        smtp::Client::quit(self);
    }
}

/// `pipe_command`: one command per message, so there is nothing to reset or to end.
impl Transport for pipe::Pipe<'_> {
    fn send(
        &mut self,
        envelope: &Envelope,
        policy: RecipientPolicy,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome> {
        pipe::Pipe::send(self, envelope, policy, body)
    }

    fn reset(&mut self) -> bool {
        true
    }

    fn quit(&mut self) {}
}

/// Opens the account's transport, ready for its first message: `pipe_command` if set, else
/// the SMTP or LMTP session, authenticated with the account's password source (asked only if
/// AUTH needs a password). `debug` receives the `-d` transcript.
pub fn open<'d>(
    account: &Account,
    debug: Option<&'d mut dyn Write>,
) -> Result<Box<dyn Transport + 'd>> {
    if let Some(template) = &account.settings.pipe_command {
        return Ok(Box::new(pipe::Pipe::new(template, idle(account), debug)));
    }
    let (target, tls, session) = smtp_settings(account);
    let mut password = secret::AuthSource::new(account);
    let client = smtp::Client::open(&target, &tls, &session, &mut password, debug)?;
    Ok(Box::new(client))
}

/// How long a step may wait for progress: the account's `timeout`, else the 10-minute limit.
fn idle(account: &Account) -> std::time::Duration {
    account
        .settings
        .timeout
        .map_or(crate::net::IDLE_LIMIT, |t| {
            std::time::Duration::from_secs(u64::from(t))
        })
}

/// The account's settings as the connection step and the session take them. The values are
/// the same types from the msmtprc to the session (trust, fingerprint, auth mechanism,
/// protocol); only the msmtprc's "unset" cases get their meaning here (port 25, no CA trust,
/// the SOCKS default port), and the layers below need no knowledge of msmtprc.
pub fn smtp_settings(
    account: &Account,
) -> (smtp::Target, smtp::TlsSettings, smtp::SessionSettings) {
    let s = &account.settings;
    let path = |p: &Option<String>| p.as_ref().map(std::path::PathBuf::from);
    let target = smtp::Target {
        host: s.host.clone(),
        port: s.port.unwrap_or(25),
        socket: path(&s.socket),
        timeout: s
            .timeout
            .map(|t| std::time::Duration::from_secs(u64::from(t))),
        source_ip: s.source_ip.clone(),
        proxy_host: s.proxy_host.clone(),
        proxy_port: s.proxy_port.unwrap_or(1080),
        proxy_command: s.proxy_command.clone(),
    };
    let tls = smtp::TlsSettings {
        enabled: s.tls,
        starttls: s.tls_starttls,
        trust: s.tls_trust_file.clone().unwrap_or(smtp::Trust::None),
        fingerprint: s.tls_fingerprint.clone(),
        certcheck: s.tls_certcheck,
        host_override: s.tls_host_override.clone(),
        cert_file: path(&s.tls_cert_file),
        key_file: path(&s.tls_key_file),
        crl_file: path(&s.tls_crl_file),
        priorities: s.tls_priorities.clone(),
        min_dh_prime_bits: s.tls_min_dh_prime_bits,
    };
    let session = smtp::SessionSettings {
        protocol: s.protocol,
        domain: s.domain.clone(),
        auth: s.auth,
        user: s.user.clone(),
        dsn_notify: s.dsn_notify.as_ref().map(|d| d.keyword()),
        dsn_return: s.dsn_return.map(|d| d.keyword().to_owned()),
    };
    (target, tls, session)
}

/// What a dry run shows about where a message would go, one line each: the account and its
/// file, the server and TLS mode, authentication and where the password would come from.
/// `show_helper`: name the `passwordeval` command (not for queued messages, whose command
/// line may have been someone else's). Every value is sanitised for the terminal.
pub fn describe(account: &Account, show_helper: bool) -> Vec<String> {
    let san = crate::ui::sanitize;
    let s = &account.settings;
    let mut lines = vec![match &account.file {
        Some(f) => format!("account: {} (from {})", san(&account.name), f.display()),
        None => format!("account: {} (command line)", san(&account.name)),
    }];
    if let Some(cmd) = &s.pipe_command {
        lines.push(format!(
            "delivery: pipe_command '{}' (not run in a dry run)",
            san(cmd)
        ));
        return lines;
    }
    let (target, tls, session) = smtp_settings(account);
    let mut server = match (&target.host, &target.socket) {
        (_, Some(sock)) => format!("unix socket {}", sock.display()),
        (Some(h), None) => format!("{} port {}", san(h), target.port),
        (None, None) => "(not set)".to_owned(),
    };
    if let Some(cmd) = &target.proxy_command {
        server.push_str(&format!(" through proxy_command '{}'", san(cmd)));
    }
    let tls_mode = match (tls.enabled, tls.starttls) {
        (false, _) => "off (cleartext)",
        (true, true) => "STARTTLS (required)",
        (true, false) => "implicit TLS",
    };
    lines.push(format!("server: {server}, TLS: {tls_mode}"));
    let mut auth = match &session.auth {
        smtp::AuthSetting::Off => "auth: off".to_owned(),
        smtp::AuthSetting::Auto => "auth: on (method chosen from the server's offer)".to_owned(),
        smtp::AuthSetting::Method(m) => format!("auth: {}", m.name()),
    };
    if s.auth.enabled() {
        let user = san(s.user.as_deref().unwrap_or("(not set)"));
        if let Some(provider) = &s.oauth2_provider {
            // passwordeval and password are not used then (docs/oauth2.md).
            auth.push_str(&format!(
                ", user {user}, OAuth2 token from {} (postie oauth2 status)",
                san(provider)
            ));
            lines.push(auth);
            return lines;
        }
        let source = match (&s.password, &s.passwordeval) {
            (Some(_), _) => "the configuration".to_owned(),
            (None, Some(cmd)) if show_helper => {
                format!("passwordeval '{}' (not run in a dry run)", san(cmd))
            }
            (None, Some(_)) => "passwordeval (not run in a dry run)".to_owned(),
            (None, None) => "the keyring, netrc or a prompt at send time".to_owned(),
        };
        auth.push_str(&format!(", user {user}, password from {source}"));
    }
    lines.push(auth);
    lines
}
