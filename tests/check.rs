//! `postie check` against the scripted server: a good account passes (exit 0) without sending
//! mail, and every kind of failure is one ✗ line naming what was found and the fix, with the
//! sysexits code of the first failure: a wrong password, an expired certificate, an unknown
//! CA, no STARTTLS, a failing password helper, an unreadable or too open configuration, a
//! syntax error, DNS and connection failures, mail waiting in the queue.

mod support;

use support::pki::{CertChoice, EXPIRED_NOT_AFTER, pki};
use support::program::{Home, Options, Run, is_root};
use support::server::{RunningServer, ServerBuilder, Session};

const USER: &str = "joe";
const PASSWORD: &str = "s3cret";

/// An account on 127.0.0.1:`port` with `extra` lines.
fn rc(port: u16, extra: &str) -> String {
    format!("account default\nhost 127.0.0.1\nport {port}\nfrom joe@example.com\n{extra}\n")
}

/// STARTTLS with the test CA, AUTH with `passwordeval`.
fn tls_auth(password_cmd: &str) -> String {
    format!(
        "tls on\ntls_starttls on\ntls_trust_file {}\nauth on\nuser {USER}\npasswordeval {password_cmd}",
        pki().ca_pem.display()
    )
}

/// A server with STARTTLS and AUTH PLAIN LOGIN for joe/s3cret.
fn good_server() -> ServerBuilder {
    ServerBuilder::smtp()
        .starttls()
        .auth("PLAIN LOGIN")
        .credentials(USER, PASSWORD)
}

fn check(home: &Home, args: &[&str]) -> Run {
    let mut argv = vec!["check"];
    argv.extend_from_slice(args);
    home.run(&argv, b"")
}

/// The line of stdout that starts with `start`.
fn line<'a>(r: &'a Run, start: &str) -> &'a str {
    r.stdout
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{}", r.stdout))
}

/// The `fix:` line after the line that starts with `start`.
fn fix<'a>(r: &'a Run, start: &str) -> &'a str {
    let mut lines = r.stdout.lines().skip_while(|l| !l.starts_with(start));
    lines.next();
    lines
        .take_while(|l| l.starts_with("    "))
        .find_map(|l| l.strip_prefix("    fix: "))
        .unwrap_or_else(|| panic!("no fix after {start:?} in:\n{}", r.stdout))
}

fn failures(r: &Run) -> Vec<&str> {
    r.stdout.lines().filter(|l| l.starts_with('✗')).collect()
}

fn one_session(server: RunningServer) -> Session {
    let mut s = server.finish();
    assert_eq!(s.len(), 1, "expected one connection");
    s.remove(0)
}

#[test]
fn a_good_account_passes_without_sending_mail() {
    let server = good_server().start();
    let home = Home::new(&rc(server.port(), &tls_auth(&format!("echo {PASSWORD}"))));
    let r = check(&home, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(failures(&r).is_empty(), "{}", r.stdout);
    let rcfile = home.path().join(".msmtprc");
    assert_eq!(
        line(&r, "✓ configuration:"),
        format!(
            "✓ configuration: {} (yours, mode 0600); no system file {}",
            rcfile.display(),
            home.path().join("etc/msmtprc").display()
        )
    );
    assert_eq!(
        line(&r, "account "),
        format!("account default ({})", rcfile.display())
    );
    assert!(line(&r, "✓ account: ").contains("the default account"));
    assert_eq!(
        line(&r, "✓ from:"),
        "✓ from: joe@example.com (a mail from joe@example.com uses this account)"
    );
    assert!(
        line(&r, "✓ password:").starts_with(&format!(
            "✓ password: from passwordeval 'echo {PASSWORD}' ("
        )),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(PASSWORD.repeat(2).as_str()));
    assert_eq!(
        line(&r, "✓ DNS:"),
        "✓ DNS: 127.0.0.1 is an address (nothing to look up)"
    );
    assert!(
        line(&r, "✓ connect:")
            .starts_with(&format!("✓ connect: 127.0.0.1 port {} (", server.port()))
    );
    let tls = line(&r, "✓ TLS:");
    assert!(tls.starts_with("✓ TLS: STARTTLS, TLS1."), "{tls}");
    assert!(
        tls.ends_with(&format!(
            "certificate verified with {}",
            pki().ca_pem.display()
        )),
        "{tls}"
    );
    let cert = line(&r, "✓ certificate:");
    assert!(
        cert.starts_with("✓ certificate: CN=localhost, issued by CN=postie test CA: valid until "),
        "{cert}"
    );
    assert!(cert.ends_with(" days left)"), "{cert}");
    assert_eq!(
        line(&r, "✓ AUTH:"),
        "✓ AUTH: the server offers PLAIN LOGIN; postie uses PLAIN"
    );
    assert!(line(&r, "✓ login:").starts_with("✓ login: PLAIN as joe accepted ("));
    assert!(line(&r, "✓ queue:").ends_with(": empty"));
    assert_eq!(
        r.stdout.lines().last(),
        Some("everything needed to send works")
    );
    let s = one_session(server);
    assert!(s.auth.iter().any(|a| a.ok && a.user == USER), "{s:?}");
    assert!(s.mail_from.is_none(), "no mail may be sent");
    assert!(s.quit);
}

#[test]
fn a_wrong_password_is_an_authentication_failure_77() {
    let server = good_server().start();
    let home = Home::new(&rc(server.port(), &tls_auth("echo wrong")));
    let r = check(&home, &[]);
    assert_eq!(r.code, 77, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        failures(&r),
        ["✗ login: authentication failed (method PLAIN): 535 5.7.8 Error: authentication failed"]
    );
    assert_eq!(
        fix(&r, "✗ login:"),
        "check user and password, or postie lock -a default if the cache holds an old one"
    );
    assert_eq!(r.stderr, "postie: 1 check failed (see above)\n");
    let s = one_session(server);
    assert!(s.mail_from.is_none());
}

#[test]
fn an_expired_certificate_is_named_with_its_date() {
    let server = good_server().cert(CertChoice::Expired).start();
    let home = Home::new(&rc(server.port(), &tls_auth("echo x")));
    let r = check(&home, &[]);
    assert_eq!(r.code, 69, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        line(&r, "✗ TLS:"),
        "✗ TLS: TLS certificate verification failed: The certificate is NOT trusted. The \
         certificate chain uses expired certificate."
    );
    let cert = line(&r, "✗ certificate:");
    assert!(
        cert.starts_with(&format!(
            "✗ certificate: CN=localhost, issued by CN=postie test CA: expired on \
             {EXPIRED_NOT_AFTER} ("
        )),
        "{cert}"
    );
    assert!(cert.ends_with(" days ago)"), "{cert}");
    assert!(fix(&r, "✗ certificate:").contains("must renew it"));
    assert!(
        !r.stdout.contains("AUTH"),
        "no AUTH after a failed handshake"
    );
}

#[test]
fn an_unknown_ca_names_the_issuer_and_the_fingerprint() {
    let server = good_server().cert(CertChoice::UntrustedCa).start();
    let home = Home::new(&rc(server.port(), &tls_auth("echo x")));
    let r = check(&home, &[]);
    assert_eq!(r.code, 69, "{}\n{}", r.stdout, r.stderr);
    assert!(
        line(&r, "✗ TLS:").ends_with("The certificate issuer is unknown."),
        "{}",
        r.stdout
    );
    let f = fix(&r, "✗ TLS:");
    assert!(f.contains("issuer: CN=untrusted test CA"), "{f}");
    assert!(f.contains("tls_fingerprint "), "{f}");
    // The certificate itself is valid: shown, not failed.
    assert!(line(&r, "✓ certificate:").contains("issued by CN=untrusted test CA"));
    assert_eq!(failures(&r).len(), 1, "{}", r.stdout);
}

#[test]
fn a_server_without_starttls_is_a_tls_failure() {
    let server = ServerBuilder::smtp().auth("PLAIN").start();
    let home = Home::new(&rc(server.port(), &tls_auth("echo x")));
    let r = check(&home, &[]);
    assert_eq!(r.code, 69, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        failures(&r),
        ["✗ TLS: the server does not support TLS via the STARTTLS command"]
    );
    assert!(fix(&r, "✗ TLS:").contains("465 with tls_starttls off"));
    let s = one_session(server);
    assert!(s.auth.is_empty());
}

#[test]
fn a_failing_helper_shows_its_stderr_sanitised_and_no_login_is_tried() {
    let server = good_server().start();
    let helper = "printf 'gpg: decryption failed: No secret key\\033[2J\\n' >&2; exit 2";
    let home = Home::new(&rc(server.port(), &tls_auth(helper)));
    let r = check(&home, &[]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    let pw = line(&r, "✗ password:");
    assert!(
        pw.starts_with(&format!("✗ password: cannot read output of '{helper}' (")),
        "{pw}"
    );
    assert!(
        r.stdout.contains(&format!(
            "\n    {helper}: gpg: decryption failed: No secret key?[2J\n"
        )),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\x1b'));
    assert!(fix(&r, "✗ password:").starts_with("run the command yourself"));
    // DNS, connect and TLS are still checked; the login is not tried.
    assert!(line(&r, "✓ TLS:").starts_with("✓ TLS: STARTTLS"));
    assert!(!r.stdout.contains("login:"));
    assert_eq!(failures(&r).len(), 1, "{}", r.stdout);
    let s = one_session(server);
    assert!(s.auth.is_empty() && s.quit);
}

#[test]
fn a_directory_as_configuration_file() {
    let home = Home::empty();
    let dir = home.path().join("rcdir");
    std::fs::create_dir(&dir).expect("mkdir");
    let r = check(&home, &["-C", dir.to_str().expect("utf-8")]);
    assert_eq!(r.code, 74, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        failures(&r),
        [format!(
            "✗ configuration: {} is a directory, not a file",
            dir.display()
        )]
    );
}

#[test]
fn a_password_in_a_file_others_can_read() {
    let home = Home::empty();
    let rcfile = home.write(
        "rc",
        "account default\nhost 127.0.0.1\nport 1\nfrom a@b.c\nauth on\nuser u\npassword p\n",
        0o644,
    );
    let r = check(&home, &["-C", rcfile.to_str().expect("utf-8")]);
    assert_ne!(r.code, 0);
    if is_root() {
        // msmtp does not check root's file; check does.
        assert_eq!(
            line(&r, "✗ permissions:"),
            format!(
                "✗ permissions: {} holds a password and other users can read it (mode 0644)",
                rcfile.display()
            )
        );
        assert_eq!(r.code, 78);
    } else {
        assert_eq!(
            line(&r, "✗ configuration:"),
            format!(
                "✗ configuration: {}: contains secrets and therefore must have no more than \
                 user read/write permissions",
                rcfile.display()
            )
        );
    }
    assert_eq!(fix(&r, "✗ "), format!("chmod 600 {}", rcfile.display()));
}

#[test]
fn as_another_user_a_configuration_that_is_not_theirs() {
    if !is_root() {
        return;
    }
    let home = Home::empty();
    home.give_to(4242);
    let rc_text =
        "account default\nhost 127.0.0.1\nport 1\nfrom a@b.c\nauth on\nuser u\npassword p\n";
    // A root-owned, unreadable default file: msmtp only says "no configuration file".
    let rcfile = home.write(".msmtprc", rc_text, 0o600);
    let o = Options {
        uid: Some(4242),
        ..Options::default()
    };
    let r = home.run_with(&["check"], b"", &o);
    assert_eq!(r.code, 74, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        failures(&r)[0],
        format!(
            "✗ configuration: {} exists but cannot be read: Permission denied (owned by root, \
             mode 0600)",
            rcfile.display()
        )
    );
    assert!(fix(&r, "✗ configuration:").starts_with("make it readable for you: chown "));
    // Readable but too open, as its owner: msmtp's refusal, with the fix.
    std::os::unix::fs::chown(&rcfile, Some(4242), Some(4242)).expect("chown");
    std::fs::set_permissions(&rcfile, std::os::unix::fs::PermissionsExt::from_mode(0o640))
        .expect("chmod");
    let r = home.run_with(&["check"], b"", &o);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert!(
        line(&r, "✗ configuration:")
            .ends_with("must have no more than user read/write permissions")
    );
    assert_eq!(
        fix(&r, "✗ configuration:"),
        format!("chmod 600 {}", rcfile.display())
    );
}

#[test]
fn a_syntax_error_names_the_line() {
    let home = Home::new("account default\nhost h\nbogus x\n");
    let r = check(&home, &[]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        failures(&r),
        [format!(
            "✗ configuration: {}: line 3: unknown command bogus",
            home.path().join(".msmtprc").display()
        )]
    );
}

#[test]
fn no_configuration_file_at_all() {
    let home = Home::empty();
    let r = check(&home, &[]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert!(
        failures(&r)[0].starts_with("✗ configuration: no configuration file: neither "),
        "{}",
        r.stdout
    );
}

#[test]
fn a_host_that_does_not_resolve() {
    let home = Home::new("account default\nhost nonexistent.invalid\nport 587\nfrom a@b.c\n");
    let r = check(&home, &[]);
    assert_eq!(r.code, 68, "{}\n{}", r.stdout, r.stderr);
    assert!(
        line(&r, "✗ DNS:").starts_with("✗ DNS: cannot locate host nonexistent.invalid: "),
        "{}",
        r.stdout
    );
    assert_eq!(
        fix(&r, "✗ DNS:"),
        "check host in account default for a typo; getent hosts nonexistent.invalid shows what \
         this machine's resolver says"
    );
    assert!(!r.stdout.contains("connect:"));
}

#[test]
fn a_refused_connection() {
    let server = ServerBuilder::smtp().no_listen().start();
    let home = Home::new(&rc(server.port(), ""));
    let r = check(&home, &[]);
    assert_eq!(r.code, 75, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        failures(&r),
        [format!(
            "✗ connect: cannot connect to 127.0.0.1, port {}: Connection refused",
            server.port()
        )]
    );
    assert!(fix(&r, "✗ connect:").starts_with("is the port right"));
    // What does not need the server is still checked.
    assert!(line(&r, "✓ password:").contains("not needed (auth off)"));
    assert!(line(&r, "✓ queue:").ends_with(": empty"));
}

#[test]
fn an_account_without_from() {
    let server = ServerBuilder::smtp().start();
    let home = Home::new(&format!(
        "account default\nhost 127.0.0.1\nport {}\n",
        server.port()
    ));
    let r = check(&home, &["--send-test", "r@example.org"]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert!(line(&r, "✗ from:").contains("envelope-from address is missing"));
    assert_eq!(
        fix(&r, "✗ from:"),
        "add \"from you@example.org\" to account default"
    );
    assert!(line(&r, "✗ send test:").contains("no from address"));
    assert!(line(&r, "✓ AUTH:").starts_with("✓ AUTH: not used (auth off)"));
}

#[test]
fn send_test_sends_one_message_and_shows_the_queue_id() {
    let server = good_server().pipelining().start();
    let home = Home::new(&rc(server.port(), &tls_auth(&format!("echo {PASSWORD}"))));
    let r = check(&home, &["--send-test", "me@example.org"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let sent = line(&r, "✓ send test:");
    assert!(
        sent.starts_with("✓ send test: a message to me@example.org was accepted ("),
        "{sent}"
    );
    assert!(
        sent.ends_with("): 250 2.0.0 Ok: queued as ABC123"),
        "{sent}"
    );
    let s = one_session(server);
    assert_eq!(s.mail_from.as_deref(), Some("<joe@example.com>"));
    assert_eq!(s.rcpts, ["<me@example.org>"]);
    let data = String::from_utf8_lossy(s.data.as_deref().expect("data")).into_owned();
    assert!(
        data.starts_with("From: joe@example.com\r\nTo: me@example.org\r\n"),
        "{data}"
    );
    assert!(data.contains("\r\nSubject: postie check: test message (account default)\r\n"));
    assert!(data.contains("\r\nMessage-ID: <") && data.contains("\r\nDate: "));
    assert!(s.data_complete && s.quit);
}

#[test]
fn from_chooses_the_account_like_a_mail_from_that_address() {
    let server = ServerBuilder::smtp().start();
    let port = server.port();
    let home = Home::new(&format!(
        "defaults\nhost 127.0.0.1\nport {port}\n\
         account work\nfrom *@work.example\n\
         account default\nfrom me@home.example\n"
    ));
    let r = check(&home, &["--from", "boss@work.example"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(line(&r, "account ").starts_with("account work ("));
    assert_eq!(
        line(&r, "✓ account:"),
        "✓ account: a mail from boss@work.example uses it (its from matches)"
    );
    let r = check(&home, &["--from", "x@elsewhere.example"]);
    assert!(line(&r, "account ").starts_with("account default ("));
    let r = check(&home, &["--all", "--from", "boss@work.example"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        line(&r, "✓ from: a mail"),
        "✓ from: a mail from boss@work.example uses account work"
    );
    assert_eq!(r.stdout.matches("\naccount ").count(), 2, "{}", r.stdout);
    let r = check(&home, &["-a", "nosuch"]);
    assert_eq!(r.code, 78);
    assert!(line(&r, "✗ account:").starts_with("✗ account: account nosuch not found in "));
    assert_eq!(fix(&r, "✗ account:"), "the accounts are: work, default");
}

#[test]
fn mail_waiting_in_the_queue_is_a_failure_with_its_reason() {
    let server = ServerBuilder::smtp().no_listen().start();
    let home = Home::new(&rc(server.port(), "queue on"));
    let sent = home.run(&["r@example.org"], b"Subject: q\n\nbody\n");
    assert_eq!(sent.code, 0, "queued: {}", sent.stderr);
    let r = check(&home, &[]);
    assert_eq!(r.code, 75, "{}\n{}", r.stdout, r.stderr);
    let q = line(&r, "✗ queue:");
    assert!(
        q.ends_with(": 1 message(s) of account default waiting"),
        "{q}"
    );
    assert!(
        r.stdout.contains(&format!(
            "\n    1 × cannot connect to 127.0.0.1, port {}: Connection refused\n",
            server.port()
        )),
        "{}",
        r.stdout
    );
    assert!(fix(&r, "✗ queue:").starts_with("postie queue flush sends them now"));
}

#[test]
fn help_prints_the_usage() {
    let home = Home::empty();
    let r = check(&home, &["--help"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("Usage: postie [-C FILE] check "),
        "{}",
        r.stdout
    );
    let r = check(&home, &["--bogus"]);
    assert_eq!(r.code, 64);
    assert!(
        r.stderr.contains("unknown argument --bogus"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_password_from_netrc_and_none_at_all() {
    let server = good_server().start();
    let tls = format!(
        "tls on\ntls_starttls on\ntls_trust_file {}\nauth on\nuser {USER}",
        pki().ca_pem.display()
    );
    let home = Home::new(&rc(server.port(), &tls));
    let r = check(&home, &[]);
    // Nothing stored, and no terminal to ask on (as under cron).
    assert_eq!(r.code, 69, "{}\n{}", r.stdout, r.stderr);
    let pw = line(&r, "✗ password:");
    assert!(
        pw.starts_with(&format!(
            "✗ password: nothing stored for user {USER} at 127.0.0.1 (Secret Service, {}, ",
            home.path().join(".netrc").display()
        )),
        "{pw}"
    );
    assert!(pw.contains("and no terminal to ask on"), "{pw}");
    let netrc = home.write(
        ".netrc",
        &format!("machine 127.0.0.1 login {USER} password {PASSWORD}\n"),
        0o600,
    );
    let r = check(&home, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        line(&r, "✓ password:").starts_with(&format!("✓ password: from {} (", netrc.display())),
        "{}",
        r.stdout
    );
    assert!(line(&r, "✓ login:").starts_with("✓ login: PLAIN as joe accepted"));
}

#[test]
fn an_oauth2_account_gets_its_token_and_logs_in() {
    use support::oauth::Provider;
    let p = Provider::start(3600);
    p.known_refresh_token("rt-for-check");
    let server = ServerBuilder::smtp()
        .auth("XOAUTH2 OAUTHBEARER PLAIN")
        .bearer_tokens(p.checker())
        .start();
    let home = Home::new(&format!(
        "account work\nhost 127.0.0.1\nport {}\nfrom a@b.example\nauth xoauth2\n\
         user u@b.example\n{}account default : work\n",
        server.port(),
        p.rc_lines()
    ));
    let ca = pki().ca_pem.display().to_string();
    let env = [("SSL_CERT_FILE", ca.as_str())];
    let run =
        |args: &[&str], stdin: &[u8]| home.run_with(args, stdin, &Options::default().env(&env));
    // Not authorised yet.
    let r = run(&["check"], b"");
    assert_eq!(r.code, 77, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(failures(&r).len(), 1, "{}", r.stdout);
    assert!(line(&r, "✗ OAuth2:").starts_with(
        "✗ OAuth2: no OAuth2 authorisation stored: run postie oauth2 login -a default ("
    ));
    assert!(fix(&r, "✗ OAuth2:").starts_with("postie oauth2 login -a default authorises"));
    assert!(!r.stdout.contains("login:"), "no login without a token");
    // Authorised: the token is used for XOAUTH2 and never shown.
    let imported = run(&["oauth2", "import", "-a", "default"], b"rt-for-check\n");
    assert_eq!(imported.code, 0, "{imported:?}");
    let r = run(&["check"], b"");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        line(&r, "✓ OAuth2: from ").contains("(refresh token in "),
        "{}",
        r.stdout
    );
    assert_eq!(
        line(&r, "✓ AUTH:"),
        "✓ AUTH: the server offers XOAUTH2 OAUTHBEARER PLAIN; postie uses XOAUTH2"
    );
    assert!(line(&r, "✓ login:").starts_with("✓ login: XOAUTH2 as u@b.example accepted"));
    assert!(
        !r.stdout.contains("at-") && !r.stdout.contains("rt-"),
        "{}",
        r.stdout
    );
    let _ = run(&["oauth2", "logout", "-a", "default"], b"");
    let sessions = server.finish();
    assert!(
        sessions.iter().any(|s| s.auth.iter().any(|a| a.ok)),
        "{sessions:?}"
    );
}

/// `proxy_command`: the command reaches the server, so `host` is not looked up here (it may
/// only resolve on the far side); the rest of the checks go through the command.
#[test]
fn through_proxy_command_dns_is_left_to_the_command() {
    let server = good_server().start();
    let home = Home::empty();
    let relay = r#"import os, select, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
while True:
    ready = select.select([0, s], [], [])[0]
    if 0 in ready:
        d = os.read(0, 65536)
        if not d:
            break
        s.sendall(d)
    if s in ready:
        d = s.recv(65536)
        if not d:
            break
        os.write(1, d)
"#;
    let relay = home.write("relay.py", relay, 0o644);
    home.write(
        ".msmtprc",
        &format!(
            "account default\nhost name-only-the-far-side-knows.invalid\nport {}\n\
             tls_host_override localhost\nfrom joe@example.com\n{}\n\
             proxy_command python3 {} %p\n",
            server.port(),
            tls_auth(&format!("echo {PASSWORD}")),
            relay.display()
        ),
        0o600,
    );
    let r = check(&home, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(line(&r, "✓ DNS").contains("proxy_command"), "{}", r.stdout);
    assert!(line(&r, "✓ login").contains("accepted"), "{}", r.stdout);
    assert!(one_session(server).auth[0].ok);
}

/// `pipe_command`: postie talks to no server; the command does, with its own credentials.
#[test]
fn a_pipe_command_account_checks_no_server() {
    let home = Home::empty();
    home.write(
        ".msmtprc",
        "account default\nfrom joe@example.com\npipe_command /usr/sbin/sendmail -oi -f %f -- %r\n",
        0o600,
    );
    let r = check(&home, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        line(&r, "✓ transport").contains("pipe_command"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("DNS"), "{}", r.stdout);
}

#[test]
fn a_silent_server_is_given_up_after_twenty_seconds_without_a_timeout_setting() {
    // A send would wait up to ten minutes (msmtp's limit, compat.md); check caps the wait.
    let server = ServerBuilder::smtp()
        .fault(support::server::Stage::Ehlo, support::server::Action::Stall)
        .start();
    let home = Home::new(&rc(server.port(), ""));
    let r = home
        .spawn(&["check"], b"", &Options::default())
        .wait_within(std::time::Duration::from_secs(120), "postie check");
    assert_eq!(r.code, 74, "{}\n{}", r.stdout, r.stderr);
    assert!(line(&r, "✗ server:").contains("timed out"), "{}", r.stdout);
}

#[test]
fn fixes_fit_the_settings_already_made() {
    // auth on without TLS, and only cleartext methods offered: not "set auth on".
    let server = ServerBuilder::smtp().auth("PLAIN LOGIN").start();
    let home = Home::new(&rc(server.port(), "auth on\nuser joe\npassword x"));
    let r = check(&home, &[]);
    assert_eq!(r.code, 69, "{}", r.stdout);
    let f = fix(&r, "✗ AUTH:");
    assert!(
        f.contains("turn on tls") && !f.contains("set auth on"),
        "{f}"
    );
    // TLS on and still no AUTH: not "turn on tls".
    let server = ServerBuilder::smtp().starttls().start();
    let home = Home::new(&rc(
        server.port(),
        &format!(
            "tls on\ntls_trust_file {}\nauth on\nuser joe\npassword x",
            pki().ca_pem.display()
        ),
    ));
    let r = check(&home, &[]);
    assert_eq!(r.code, 69, "{}", r.stdout);
    let f = fix(&r, "✗ AUTH:");
    assert!(
        f.contains("set auth off") && !f.contains("turn on tls"),
        "{f}"
    );
}

#[test]
fn a_bad_send_test_address_is_refused_before_connecting() {
    let server = good_server().start();
    let home = Home::new(&rc(server.port(), &tls_auth("echo s3cret")));
    let r = check(&home, &["--send-test", "x@y.z> NOTIFY=SUCCESS"]);
    assert_eq!(r.code, 64, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("--send-test: invalid address"),
        "{}",
        r.stderr
    );
    assert!(server.finish().is_empty(), "nothing may connect");
}
