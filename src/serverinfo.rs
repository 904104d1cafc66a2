//! The modes that talk to a server without sending mail (msmtp.md section 9): `--serverinfo`
//! (`-S`), `--rmqs=ARG` (ETRN) and `--configure=ADDR` (SRV look-up).
//!
//! Account selection is msmtp's non-sendmail variant: the same config files, `-a`, `--host`,
//! `-f` and command-line overrides, but no mail is read, `from` is not required and logging
//! does not happen. `passwordeval` still runs when authentication is on (msmtp does, observed),
//! and `-P` prints the settings and stops. Errors are printed like in sendmail mode but without
//! the `could not send mail` trailer (observed).
//!
//! The report format of `--serverinfo` is byte for byte msmtp 1.8.23's (observed against a
//! scripted server), except where it describes the TLS session: the parameters line names
//! what rustls negotiated, in GnuTLS's words where a mapping exists.

use crate::account;
use crate::cli::{Cli, Mode};
use crate::config::{self, Account};
use crate::error::{Error, Result, Sysexit};
use crate::secret;
use crate::smtp::{self, Capabilities, Protocol, ServerInfo};
use crate::ui::{Output, sanitize};
use std::io::Write;
use std::net::SocketAddr;

/// Runs `--serverinfo`, `--rmqs` or `--configure` for `cli`.
pub fn run(cli: &Cli) -> Result<()> {
    match cli.mode() {
        Mode::ServerInfo => server_info_mode(cli),
        Mode::Rmqs(arg) => rmqs_mode(cli, &arg),
        Mode::Configure(addr) => configure_mode(&addr, cli.config_file.as_deref()),
        _ => Ok(()),
    }
}

/// Selects and finishes the account as msmtp does outside sendmail mode. `None` means `-P`
/// printed everything there is to do.
fn account_for(cli: &Cli) -> Result<Option<Account>> {
    // `--no-send` shows what would be asked of which server, as it does for a message.
    let mut out = Output::new(cli.pretend || cli.debug || cli.no_send);
    let mut account = account::resolve::select_for(cli, None, &mut out)?;
    account::resolve::finish(cli, &mut account, false)?;
    out.text(&account::describe(&account, false, false));
    if let Mode::Rmqs(arg) = cli.mode() {
        out.text(&format!("RMQS argument = {arg}\n"));
    }
    if cli.pretend || cli.no_send {
        return Ok(None);
    }
    if account.settings.pipe_command.is_some() {
        // postie only: there is no server to ask, the account hands mail to a command.
        return Err(Error::usage(format!(
            "account {} delivers with pipe_command: it has no SMTP server to talk to",
            account.name
        )));
    }
    Ok(Some(account))
}

fn server_info_mode(cli: &Cli) -> Result<()> {
    let Some(account) = account_for(cli)? else {
        return Ok(());
    };
    let (target, tls, session) = crate::delivery::smtp_settings(&account);
    let mut stdout = std::io::stdout();
    let debug: Option<&mut dyn Write> = if cli.debug { Some(&mut stdout) } else { None };
    let info = smtp::server_info(&target, &tls, &session, debug)?;
    let canonical = info.peer.as_ref().and_then(crate::net::reverse_lookup);
    let host = account
        .settings
        .host
        .clone()
        .unwrap_or_else(|| target.display_host());
    let text = format_report(&Report {
        protocol: session.protocol,
        host: &host,
        port: target.port,
        canonical: canonical.as_deref(),
        address: info.peer,
        tls_enabled: tls.enabled,
        info: &info,
    });
    crate::ui::stdout_text(&text);
    Ok(())
}

fn rmqs_mode(cli: &Cli, arg: &str) -> Result<()> {
    let Some(account) = account_for(cli)? else {
        return Ok(());
    };
    let (target, tls, session) = crate::delivery::smtp_settings(&account);
    let mut password = secret::AuthSource::new(&account);
    let mut stdout = std::io::stdout();
    let debug: Option<&mut dyn Write> = if cli.debug { Some(&mut stdout) } else { None };
    smtp::rmqs(&target, &tls, &session, arg, &mut password, debug)
}

fn configure_mode(addr: &str, config_file: Option<&str>) -> Result<()> {
    let file = match config_file {
        Some(f) => std::path::PathBuf::from(f),
        None => config::paths::default_user_file(),
    };
    let text = configure(addr, &file.display().to_string(), &srv::lookup)?;
    crate::ui::stdout_text(&text);
    Ok(())
}

/// The `automatic configuration based on SRV records failed: WHY` error.
fn configure_failed(exit: Sysexit, why: &str) -> Error {
    Error::new(
        exit,
        format!("automatic configuration based on SRV records failed: {why}"),
    )
}

/// Splits a mail address for `--configure`: the local part and the domain around the last `@`,
/// both non-empty, else msmtp's `invalid mail address` (65).
fn split_address(addr: &str) -> Result<(&str, &str)> {
    match addr.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok((local, domain)),
        _ => Err(configure_failed(Sysexit::DataErr, "invalid mail address")),
    }
}

/// Whether the server host belongs to the mail domain: equal to it or a subdomain of it,
/// ignoring case (observed: `badexample.org` does not match `example.org`).
fn host_matches_domain(host: &str, domain: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let domain = domain.to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// `--configure=ADDR` (msmtp.md 9.3): the account snippet for ADDR from the domain's SRV
/// records, `_submissions._tcp` (implicit TLS) first, then `_submission._tcp` (STARTTLS).
/// `resolve` answers an SRV query with the chosen (host, port). The text is msmtp's (observed
/// with a resolver stub), including the keyring hint: postie finds passwords stored that way.
pub fn configure(
    addr: &str,
    config_file: &str,
    resolve: &dyn Fn(&str) -> Option<(String, u16)>,
) -> Result<String> {
    let (local, domain) = split_address(addr)?;
    let implicit = format!("_submissions._tcp.{domain}");
    let starttls = format!("_submission._tcp.{domain}");
    let (host, port, starttls_on) = match resolve(&implicit) {
        Some((h, p)) => (h, p, false),
        None => match resolve(&starttls) {
            Some((h, p)) => (h, p, true),
            None => {
                return Err(configure_failed(
                    Sysexit::NoHost,
                    &format!("no SRV records for {implicit} or {starttls}"),
                ));
            }
        },
    };
    let mut out = format!("# - copy this to your configuration file {config_file}\n");
    if !host_matches_domain(&host, domain) {
        out.push_str("# - warning: the host does not match the mail domain; please check\n");
    }
    out.push_str(&format!(
        "# - add your password to the key ring:\n\
         #   secret-tool store --label=msmtp host {host} service smtp user {local}\n\
         account {addr}\nhost {host}\nport {port}\ntls on\ntls_starttls {}\nauth on\n\
         user {local}\nfrom {addr}\n",
        if starttls_on { "on" } else { "off" }
    ));
    Ok(out)
}

/// DNS SRV look-ups through the C library's resolver (`res_query`, in libc since glibc 2.34).
mod srv {
    use std::ffi::CString;

    unsafe extern "C" {
        fn res_query(
            dname: *const libc::c_char,
            class: libc::c_int,
            kind: libc::c_int,
            answer: *mut u8,
            anslen: libc::c_int,
        ) -> libc::c_int;
    }

    const CLASS_IN: u16 = 1;
    const TYPE_SRV: u16 = 33;

    /// The SRV target for `name`: the record with the lowest priority, the first of equals
    /// (observed: msmtp ignores the weights). `None` when there is no usable record.
    pub fn lookup(name: &str) -> Option<(String, u16)> {
        let c = CString::new(name).ok()?;
        let mut buf = vec![0u8; 65_535];
        // SAFETY: `c` is NUL-terminated; `buf` is writable for the length passed.
        let n = unsafe {
            res_query(
                c.as_ptr(),
                libc::c_int::from(CLASS_IN),
                libc::c_int::from(TYPE_SRV),
                buf.as_mut_ptr(),
                buf.len() as libc::c_int,
            )
        };
        let n = usize::try_from(n).ok()?;
        best(&parse(buf.get(..n)?)?)
    }

    /// One SRV record: priority, weight, port, target.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Record {
        pub priority: u16,
        pub port: u16,
        pub target: String,
    }

    /// The chosen record's target and port; records with the root target (".": "no service")
    /// are skipped.
    pub fn best(records: &[Record]) -> Option<(String, u16)> {
        let mut chosen: Option<&Record> = None;
        for r in records.iter().filter(|r| !r.target.is_empty()) {
            if chosen.is_none_or(|c| r.priority < c.priority) {
                chosen = Some(r);
            }
        }
        chosen.map(|r| (r.target.clone(), r.port))
    }

    fn u16_at(m: &[u8], i: usize) -> Option<u16> {
        Some(u16::from_be_bytes([*m.get(i)?, *m.get(i + 1)?]))
    }

    /// Reads a possibly compressed name at `pos`; returns it and the position after it.
    fn name(m: &[u8], mut pos: usize) -> Option<(String, usize)> {
        let mut labels = Vec::new();
        let mut end = None;
        // Each pointer must go backwards, so this terminates; the bound is a second guard.
        for _ in 0..128 {
            let len = *m.get(pos)?;
            match len {
                0 => {
                    return Some((labels.join("."), end.unwrap_or(pos + 1)));
                }
                l if l & 0xc0 == 0xc0 => {
                    let target = usize::from(u16_at(m, pos)? & 0x3fff);
                    if target >= pos {
                        return None;
                    }
                    end.get_or_insert(pos + 2);
                    pos = target;
                }
                l if l & 0xc0 == 0 => {
                    let l = usize::from(l);
                    let label = m.get(pos + 1..pos + 1 + l)?;
                    labels.push(String::from_utf8_lossy(label).into_owned());
                    pos += 1 + l;
                }
                _ => return None,
            }
        }
        None
    }

    /// The SRV records in the answer section of a DNS response.
    pub fn parse(m: &[u8]) -> Option<Vec<Record>> {
        let qd = u16_at(m, 4)?;
        let an = u16_at(m, 6)?;
        let mut pos = 12;
        for _ in 0..qd {
            pos = name(m, pos)?.1 + 4;
        }
        let mut out = Vec::new();
        for _ in 0..an {
            pos = name(m, pos)?.1;
            let kind = u16_at(m, pos)?;
            let class = u16_at(m, pos + 2)?;
            let rdlen = usize::from(u16_at(m, pos + 8)?);
            let rdata = pos + 10;
            if m.len() < rdata + rdlen {
                return None;
            }
            if kind == TYPE_SRV && class == CLASS_IN && rdlen >= 7 {
                out.push(Record {
                    priority: u16_at(m, rdata)?,
                    port: u16_at(m, rdata + 4)?,
                    target: name(m, rdata + 6)?.0,
                });
            }
            pos = rdata + rdlen;
        }
        Some(out)
    }
}

/// Everything the `--serverinfo` report shows.
pub struct Report<'a> {
    /// SMTP or LMTP (the first word of the report).
    pub protocol: Protocol,
    /// `host`, or the socket path when no host is set.
    pub host: &'a str,
    /// The configured port (shown even for Unix sockets, as msmtp does).
    pub port: u16,
    /// The reverse-lookup name of the connected address.
    pub canonical: Option<&'a str>,
    /// The connected address (direct TCP only).
    pub address: Option<SocketAddr>,
    /// Whether the account has `tls on` (decides the closing STARTTLS hint).
    pub tls_enabled: bool,
    /// What the session learned.
    pub info: &'a ServerInfo,
}

/// The AUTH mechanisms in the fixed order msmtp 1.8.23 lists them.
const AUTH_ORDER: [&str; 11] = [
    "PLAIN",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "EXTERNAL",
    "GSSAPI",
    "CRAM-MD5",
    "DIGEST-MD5",
    "LOGIN",
    "NTLM",
    "OAUTHBEARER",
    "XOAUTH2",
];

/// msmtp's `Maximum message size is ...` value: `unlimited` for 0, else bytes plus MiB above
/// 1 MiB or KiB above 1 KiB, two decimals.
fn size_text(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if n == 0 {
        "unlimited".to_owned()
    } else if n > MIB {
        format!("{n} bytes = {:.2} MiB", n as f64 / MIB as f64)
    } else if n > KIB {
        format!("{n} bytes = {:.2} KiB", n as f64 / KIB as f64)
    } else {
        format!("{n} bytes")
    }
}

/// The capability section (without the closing STARTTLS hint).
fn capabilities_text(caps: &Capabilities, starttls_used: bool) -> String {
    let mut out = String::new();
    if let Some(n) = caps.size {
        out.push_str(&format!(
            "    SIZE {n}:\n        Maximum message size is {}\n",
            size_text(n)
        ));
    }
    if caps.pipelining {
        out.push_str(
            "    PIPELINING:\n        Support for command grouping for faster transmission\n",
        );
    }
    if caps.etrn {
        out.push_str("    ETRN:\n        Support for RMQS (Remote Message Queue Starting)\n");
    }
    if caps.dsn {
        out.push_str("    DSN:\n        Support for Delivery Status Notifications\n");
    }
    if caps.starttls || starttls_used {
        out.push_str(
            "    STARTTLS:\n        Support for TLS encryption via the STARTTLS command\n",
        );
    }
    if caps.auth {
        out.push_str("    AUTH:\n        Supported authentication methods:\n        ");
        for m in AUTH_ORDER.iter().filter(|m| caps.has_auth_mech(m)) {
            out.push_str(m);
            out.push(' ');
        }
        out.push('\n');
    }
    if out.is_empty() {
        "No special capabilities.\n".to_owned()
    } else {
        format!("Capabilities:\n{out}")
    }
}

/// The whole `--serverinfo` report, as msmtp prints it on stdout.
pub fn format_report(r: &Report<'_>) -> String {
    let proto = match r.protocol {
        Protocol::Smtp => "SMTP",
        Protocol::Lmtp => "LMTP",
    };
    let addr = r.address.map(|a| a.ip().to_string());
    // Text from outside: the greeting (msmtp sanitises it too) and the reverse-lookup name.
    let canonical = r.canonical.map(sanitize);
    let paren = match (canonical, addr) {
        (Some(c), Some(a)) => format!(" ({c} [{a}])"),
        (Some(c), None) => format!(" ({c})"),
        (None, Some(a)) => format!(" ([{a}])"),
        (None, None) => String::new(),
    };
    let opened = &r.info.opened;
    let greeting = sanitize(
        opened
            .greeting
            .lines
            .first()
            .and_then(|l| l.get(4..))
            .unwrap_or(""),
    );
    let mut out = format!(
        "{proto} server at {}{paren}, port {}:\n    {greeting}\n",
        r.host, r.port
    );
    if let Some(tls) = &opened.tls_info {
        for l in tls {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(&capabilities_text(&opened.caps, opened.starttls_used));
    if opened.caps.starttls && !r.tls_enabled {
        out.push_str(
            "This server might advertise more or other capabilities when TLS is active.\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::Reply;
    use crate::smtp::session::Opened;

    fn caps(lines: &[&str]) -> Capabilities {
        let mut v = vec!["250-mx".to_owned()];
        v.extend(lines.iter().map(|l| format!("250-{l}")));
        Capabilities::from_ehlo(&v)
    }

    fn info(c: Capabilities, tls: Option<Vec<String>>, starttls_used: bool) -> ServerInfo {
        ServerInfo {
            opened: Opened {
                greeting: Reply {
                    code: 220,
                    lines: vec!["220 mx.example ESMTP hi".into(), "220 second".into()],
                },
                caps: c,
                tls_info: tls,
                starttls_used,
            },
            peer: None,
        }
    }

    fn report(i: &ServerInfo, tls: bool) -> String {
        format_report(&Report {
            protocol: Protocol::Smtp,
            host: "127.0.0.1",
            port: 2601,
            canonical: Some("localhost"),
            address: Some("127.0.0.1:2601".parse().expect("addr")),
            tls_enabled: tls,
            info: i,
        })
    }

    #[test]
    fn serverinfo_full_capability_report_matches_msmtp() {
        let i = info(
            caps(&[
                "SIZE 1000000",
                "PIPELINING",
                "ETRN",
                "DSN",
                "AUTH PLAIN CRAM-MD5 LOGIN XOAUTH2 SCRAM-SHA-256",
                "8BITMIME",
            ]),
            None,
            false,
        );
        // Observed with msmtp 1.8.23 against the same EHLO reply.
        let want = "SMTP server at 127.0.0.1 (localhost [127.0.0.1]), port 2601:
    mx.example ESMTP hi
Capabilities:
    SIZE 1000000:
        Maximum message size is 1000000 bytes = 976.56 KiB
    PIPELINING:
        Support for command grouping for faster transmission
    ETRN:
        Support for RMQS (Remote Message Queue Starting)
    DSN:
        Support for Delivery Status Notifications
    AUTH:
        Supported authentication methods:
        PLAIN SCRAM-SHA-256 CRAM-MD5 LOGIN XOAUTH2 \n";
        assert_eq!(report(&i, false), want);
    }

    #[test]
    fn serverinfo_no_capabilities() {
        let i = info(caps(&["8BITMIME", "SMTPUTF8"]), None, false);
        assert!(report(&i, false).ends_with("    mx.example ESMTP hi\nNo special capabilities.\n"));
    }

    #[test]
    fn serverinfo_starttls_hint_only_without_tls() {
        let i = info(caps(&["STARTTLS"]), None, false);
        let hint = "This server might advertise more or other capabilities when TLS is active.\n";
        assert!(report(&i, false).ends_with(hint));
        assert!(!report(&i, true).contains(hint));
    }

    #[test]
    fn serverinfo_starttls_listed_when_used_even_if_not_readvertised() {
        let tls = vec!["TLS session parameters:".to_owned(), "    (x)".to_owned()];
        let i = info(caps(&["PIPELINING"]), Some(tls), true);
        let r = report(&i, true);
        assert!(r.contains(
            "    mx.example ESMTP hi\nTLS session parameters:\n    (x)\nCapabilities:\n"
        ));
        assert!(r.ends_with(
            "    STARTTLS:\n        Support for TLS encryption via the STARTTLS command\n"
        ));
    }

    #[test]
    fn serverinfo_size_texts() {
        assert_eq!(size_text(0), "unlimited");
        assert_eq!(size_text(1024), "1024 bytes");
        assert_eq!(size_text(1025), "1025 bytes = 1.00 KiB");
        assert_eq!(size_text(1_048_576), "1048576 bytes = 1024.00 KiB");
        assert_eq!(size_text(1_048_577), "1048577 bytes = 1.00 MiB");
        assert_eq!(
            size_text(9_223_372_036_854_775_807),
            "9223372036854775807 bytes = 8796093022208.00 MiB"
        );
    }

    #[test]
    fn serverinfo_auth_fixed_order_and_empty_list() {
        let all = caps(&[
            "AUTH XOAUTH2 OAUTHBEARER NTLM LOGIN DIGEST-MD5 CRAM-MD5 GSSAPI EXTERNAL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN",
        ]);
        assert!(capabilities_text(&all, false).ends_with(
            "        PLAIN SCRAM-SHA-1 SCRAM-SHA-256 EXTERNAL GSSAPI CRAM-MD5 DIGEST-MD5 LOGIN NTLM OAUTHBEARER XOAUTH2 \n"
        ));
        let unknown = caps(&["AUTH FOO"]);
        assert_eq!(
            capabilities_text(&unknown, false),
            "Capabilities:\n    AUTH:\n        Supported authentication methods:\n        \n"
        );
    }

    /// A DNS response for `_submission._tcp.example.org` with the given SRV records
    /// (priority, port, target), the owner names compressed as a real server does.
    fn dns_answer(records: &[(u16, u16, &str)]) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            0x81,
            0x80,
            0,
            1,
            0,
            records.len() as u8,
            0,
            0,
            0,
            0,
        ];
        for l in ["_submission", "_tcp", "example", "org"] {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 33, 0, 1]);
        for (prio, port, target) in records {
            m.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 0x0e, 0x10]);
            let mut rdata = vec![(prio >> 8) as u8, *prio as u8, 0, 1];
            rdata.extend_from_slice(&port.to_be_bytes());
            for l in target.split('.').filter(|l| !l.is_empty()) {
                rdata.push(l.len() as u8);
                rdata.extend_from_slice(l.as_bytes());
            }
            rdata.push(0);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(&rdata);
        }
        m
    }

    #[test]
    fn configure_srv_answer_is_parsed_and_lowest_priority_wins() {
        let m = dns_answer(&[
            (10, 587, "b.example.org"),
            (5, 25, "a.example.org"),
            (5, 26, "c.example.org"),
        ]);
        let recs = srv::parse(&m).expect("parse");
        assert_eq!(recs.len(), 3);
        assert_eq!(srv::best(&recs), Some(("a.example.org".to_owned(), 25)));
        let none = srv::parse(&dns_answer(&[(0, 0, ".")])).expect("parse");
        assert_eq!(srv::best(&none), None);
        assert!(srv::parse(&m[..m.len() - 3]).is_none());
    }

    #[test]
    fn configure_output_matches_msmtp() {
        // Observed with msmtp 1.8.23 and a res_query stub answering _submissions._tcp.
        let resolve = |q: &str| {
            (q == "_submissions._tcp.example.org").then(|| ("mail.example.org".to_owned(), 465))
        };
        let got = configure("joe.doe@example.org", "/root/.msmtprc", &resolve).expect("ok");
        assert_eq!(
            got,
            "# - copy this to your configuration file /root/.msmtprc
# - add your password to the key ring:
#   secret-tool store --label=msmtp host mail.example.org service smtp user joe.doe
account joe.doe@example.org
host mail.example.org
port 465
tls on
tls_starttls off
auth on
user joe.doe
from joe.doe@example.org
"
        );
    }

    #[test]
    fn configure_starttls_fallback_and_host_mismatch_warning() {
        let resolve = |q: &str| {
            (q == "_submission._tcp.example.org").then(|| ("smtp.other.net".to_owned(), 587))
        };
        let got = configure("joe@example.org", "F", &resolve).expect("ok");
        assert!(got.starts_with(
            "# - copy this to your configuration file F\n# - warning: the host does not match the mail domain; please check\n"
        ));
        assert!(got.contains("\ntls_starttls on\n"));
        assert!(host_matches_domain("MAIL.Example.org", "example.ORG"));
        assert!(host_matches_domain("example.org", "example.org"));
        assert!(!host_matches_domain("badexample.org", "example.org"));
    }

    #[test]
    fn configure_errors() {
        let none = |_: &str| None;
        let e = configure("joe", "F", &none).expect_err("invalid");
        assert_eq!(e.exit, Sysexit::DataErr);
        assert_eq!(
            e.message,
            "automatic configuration based on SRV records failed: invalid mail address"
        );
        let e = configure("a@b@c", "F", &none).expect_err("no records");
        assert_eq!(e.exit, Sysexit::NoHost);
        assert_eq!(
            e.message,
            "automatic configuration based on SRV records failed: no SRV records for _submissions._tcp.c or _submission._tcp.c"
        );
    }

    #[test]
    fn serverinfo_first_line_variants() {
        let i = info(caps(&[]), None, false);
        let mut r = Report {
            protocol: Protocol::Lmtp,
            host: "/run/lmtp.sock",
            port: 24,
            canonical: None,
            address: None,
            tls_enabled: false,
            info: &i,
        };
        assert!(format_report(&r).starts_with("LMTP server at /run/lmtp.sock, port 24:\n"));
        r.address = Some("[::1]:24".parse().expect("addr"));
        assert!(format_report(&r).starts_with("LMTP server at /run/lmtp.sock ([::1]), port 24:\n"));
        r.canonical = Some("ip6-localhost");
        r.address = None;
        assert!(
            format_report(&r)
                .starts_with("LMTP server at /run/lmtp.sock (ip6-localhost), port 24:\n")
        );
    }
}
