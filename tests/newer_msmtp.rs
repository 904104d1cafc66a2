//! msmtprc files written for newer msmtp releases (1.8.24 to 1.8.33) work with postie: the
//! commands and patterns they added (`set_to_header`, `%F` in `from`, `logfile_time_format
//! none`, `from_full_name`, `scram-sha-256-plus`, `--set-to-header`) are read, listed by `-P`
//! and applied on the wire. msmtp 1.8.23 refuses such files (`unknown command`), so the
//! differential suite cannot compare them; the expectations here are what the newer releases
//! document (msmtp.1 of 1.8.33), in postie's `-P` listing (msmtp 1.8.23's lines; see
//! docs/compat.md row an).

mod support;

use std::path::Path;
use support::program::Home;
use support::server::{ServerBuilder, Session};

const MSMTP: &str = "/usr/bin/msmtp";

/// A configuration using what msmtp 1.8.24–1.8.33 added.
const NEWER_RC: &str = "\
defaults
logfile_time_format none
set_to_header on

account newer
host mail.example.org
port 587
tls on
auth scram-sha-256-plus
user joe
passwordeval echo secret
from %F
from_full_name \"Jörg Müller\"

account old : newer
undisclosed_recipients on
";

/// postie's `-P` listing of account `newer` for a mail from alice@example.com: msmtp 1.8.23's
/// lines, `set_to_header = on` in place of `undisclosed_recipients` (the value 1.8.23 lacks),
/// `from` with `%F` replaced (msmtp 1.8.29 expands `from` before it prints the listing).
const NEWER_LISTING: &str = "using account newer from rc
host = mail.example.org
port = 587
source ip = (not set)
proxy host = (not set)
proxy port = 0
socket = (not set)
timeout = off
protocol = smtp
domain = localhost
auth = SCRAM-SHA-256-PLUS
user = joe
password = *
passwordeval = echo secret
ntlmdomain = (not set)
tls = on
tls_starttls = on
tls_trust_file = system
tls_crl_file = (not set)
tls_fingerprint = (not set)
tls_key_file = (not set)
tls_cert_file = (not set)
tls_certcheck = on
tls_min_dh_prime_bits = (not set)
tls_priorities = (not set)
tls_host_override = (not set)
auto_from = off
maildomain = (not set)
from = alice@example.com
allow_from_override = on
set_from_header = auto
set_date_header = auto
remove_bcc_headers = on
set_to_header = on
dsn_notify = (not set)
dsn_return = (not set)
logfile = (not set)
logfile_time_format = none
syslog = (not set)
aliases = (not set)
reading recipients from the command line
";

const MAIL: &[u8] = b"From: Alice <alice@example.com>\nTo: bob@example.org\nCc: carol@example.org\nBcc: dave@example.org\nSubject: s\n\nbody\n";

/// The `-P` block from `using account` on.
fn listing(stdout: &str) -> &str {
    &stdout[stdout.find("using account").expect("listing")..]
}

#[test]
fn a_newer_msmtprc_is_listed_with_its_new_settings() {
    let home = Home::empty();
    home.write("rc", NEWER_RC, 0o600);
    let r = home.run(&["-C", "rc", "-a", "newer", "-P", "r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(listing(&r.stdout), NEWER_LISTING);

    // The old spelling in a child account: the same setting, listed as msmtp 1.8.23 lists it.
    let r = home.run(&["-C", "rc", "-a", "old", "-P", "r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        listing(&r.stdout).contains("\nremove_bcc_headers = on\nundisclosed_recipients = on\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("set_to_header"));

    // Without a From header, -P shows the pattern (msmtp 1.8.29 leaves %F as it is).
    let r = home.run(&["-C", "rc", "-a", "newer", "-P", "r@x.org"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\nfrom = %F\n"), "{}", r.stdout);

    // msmtp 1.8.23 refuses the file: this is why the differential suite cannot compare it.
    if Path::new(MSMTP).exists() {
        let r = home.run_with(
            &["-C", "rc", "-a", "newer", "-P", "r@x.org"],
            MAIL,
            &support::program::Options::default().program(MSMTP),
        );
        assert_eq!(r.code, 78);
        assert!(
            r.stderr
                .contains("rc: line 3: unknown command set_to_header"),
            "{}",
            r.stderr
        );
    }
}

fn rc_for(port: u16, extra: &str) -> String {
    format!("account default\nhost 127.0.0.1\nport {port}\nfrom sender@example.com\n{extra}\n")
}

fn one_session(server: support::server::RunningServer) -> Session {
    let mut s = server.finish();
    assert_eq!(s.len(), 1, "expected one connection");
    s.remove(0)
}

fn data(s: &Session) -> String {
    String::from_utf8_lossy(s.data.as_deref().expect("DATA")).into_owned()
}

#[test]
fn set_to_header_on_replaces_to_cc_and_bcc_with_every_recipient() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(
        server.port(),
        "set_to_header on\naliases ~/aliases",
    ));
    home.write("aliases", "team: ann@example.org, ben@example.org\n", 0o600);
    let r = home.feed(&["-t", "team"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    let d = data(&s);
    // msmtp writes the recipients after alias expansion, as they are sent.
    assert!(
        d.starts_with(
            "To: ann@example.org, ben@example.org, bob@example.org, carol@example.org,\r\n \
             dave@example.org\r\nDate: "
        ),
        "{d}"
    );
    assert_eq!(d.matches("To: ").count(), 1, "{d}");
    assert!(!d.contains("Cc:") && !d.contains("Bcc:"), "{d}");
    assert!(d.contains("From: Alice <alice@example.com>\r\n"));
    assert_eq!(s.rcpts.len(), 5);
}

#[test]
fn undisclosed_recipients_both_spellings_and_the_option() {
    for (extra, args) in [
        ("set_to_header undisclosed_recipients", &["r@x.org"][..]),
        ("undisclosed_recipients on", &["r@x.org"][..]),
        (
            "",
            &["--set-to-header=undisclosed_recipients", "r@x.org"][..],
        ),
        ("", &["--undisclosed-recipients", "r@x.org"][..]),
    ] {
        let server = ServerBuilder::smtp().start();
        let home = Home::new(&rc_for(server.port(), extra));
        let r = home.feed(args, MAIL);
        assert_eq!(r.code, 0, "{extra} {args:?}: {}", r.stderr);
        let d = data(&one_session(server));
        assert!(
            d.starts_with("To: undisclosed-recipients:;\r\n"),
            "{extra} {args:?}: {d}"
        );
        assert!(!d.contains("Cc:"), "{d}");
    }
    // The later line wins, whichever spelling it uses; --set-to-header wins over the file.
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(
        server.port(),
        "undisclosed_recipients on\nset_to_header off",
    ));
    let r = home.feed(&["--set-to-header", "r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(data(&one_session(server)).starts_with("To: r@x.org\r\nDate: "));
    let home = Home::new(&rc_for(1, ""));
    let r = home.run(&["--set-to-header=yes", "r@x.org"], MAIL);
    assert_eq!(r.code, 64);
    assert!(
        r.stderr
            .contains("invalid argument yes for --set-to-header"),
        "{}",
        r.stderr
    );
}

#[test]
fn percent_f_is_the_from_or_resent_from_address() {
    let rc = |port: u16| {
        format!("account default\nhost 127.0.0.1\nport {port}\nfrom %F\nlogfile ~/log\n")
    };
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port()));
    let r = home.feed(&["r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = one_session(server);
    assert_eq!(s.mail_from.as_deref(), Some("<alice@example.com>"));

    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port()));
    let resent = b"Resent-From: Rita <rita@example.net>\nResent-To: r@x.org\nFrom: alice@example.com\n\nbody\n";
    let r = home.feed(&["r@x.org"], resent);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        one_session(server).mail_from.as_deref(),
        Some("<rita@example.net>")
    );

    // -f still wins (allow_from_override on).
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port()));
    let r = home.feed(&["-f", "me@example.org", "r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        one_session(server).mail_from.as_deref(),
        Some("<me@example.org>")
    );

    // A mail without From: refused before connecting, with the reason.
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc(server.port()));
    let r = home.feed(&["r@x.org"], b"Subject: s\n\nbody\n");
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "no envelope from address found: from uses %F, and the mail has no From header"
        ),
        "{}",
        r.stderr
    );
    assert!(server.finish().is_empty(), "nothing may be sent");
}

#[test]
fn logfile_time_format_none_logs_without_a_time() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&rc_for(
        server.port(),
        "logfile ~/log\nlogfile_time_format none",
    ));
    let r = home.feed(&["r@x.org"], MAIL);
    assert_eq!(r.code, 0, "{}", r.stderr);
    drop(one_session(server));
    let log = std::fs::read_to_string(home.path().join("log")).expect("log");
    assert!(
        log.starts_with(
            "host=127.0.0.1 tls=off auth=off from=sender@example.com recipients=r@x.org mailsize="
        ),
        "{log}"
    );
}
