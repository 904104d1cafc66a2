//! OAuth2 built in (issue 13), hermetic: a fake provider over HTTPS (tests/support/oauth.rs,
//! trusted through `SSL_CERT_FILE`) and the scripted SMTP server checking the XOAUTH2 and
//! OAUTHBEARER tokens against what the provider issued. Every login mode, import, sends with a
//! cached, an expired, a refused and an 8 KB token, concurrent refreshes, rotation,
//! `invalid_grant` and an unreachable provider with and without `queue on`, status and logout.
//!
//! The access token cache is the kernel keyring; where it is refused (a seccomp profile), the
//! tests that count cache hits are skipped with a note.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;
use support::oauth::Provider;
use support::pki::pki;
use support::program::{Home, Options, Run, Running};
use support::server::{RunningServer, ServerBuilder};

const MSG: &[u8] = b"Subject: hi\n\nbody\n";

fn keyring_available() -> bool {
    // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) has no pointer arguments.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, 0, -4i64, 0) };
    if r < 0 {
        eprintln!("skipped: the kernel keyring is not available here");
    }
    r >= 0
}

/// A HOME whose account `work` sends through `smtp_port` with the fake provider.
struct Setup {
    home: Home,
    ca: String,
}

impl Setup {
    fn new(provider: &Provider, smtp_port: u16, extra: &str) -> Setup {
        let home = Home::empty();
        home.write(
            ".msmtprc",
            &format!(
                "account work\nhost 127.0.0.1\nport {smtp_port}\nfrom a@b.example\nauth xoauth2\n\
                 user u@b.example\n{}{extra}\naccount default : work\n",
                provider.rc_lines()
            ),
            0o600,
        );
        Setup {
            home,
            ca: pki().ca_pem.display().to_string(),
        }
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("SSL_CERT_FILE", self.ca.as_str())]
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let env = self.env();
        self.home
            .run_with(args, stdin, &Options::default().env(&env))
    }

    fn send(&self) -> Run {
        self.run(&["-a", "work", "rcpt@x.org"], MSG)
    }

    fn import(&self, rt: &str) -> Run {
        self.run(
            &["oauth2", "import", "-a", "work"],
            format!("{rt}\n").as_bytes(),
        )
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        let env = self.env();
        let mut cmd = self.home.command(args, &Options::default().env(&env));
        cmd.spawn().expect("spawn")
    }

    /// Everything under the token directory, concatenated.
    fn stored(&self) -> String {
        let dir = self.home.path().join(".local/state/postie/oauth2");
        let mut all = String::new();
        for e in std::fs::read_dir(dir).expect("token dir") {
            let p = e.expect("entry").path();
            all.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
        all
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // The access token cache is the user keyring, shared with other tests.
        let _ = self.run(&["oauth2", "logout", "-a", "work"], b"");
    }
}

fn smtp(provider: &Provider) -> RunningServer {
    ServerBuilder::smtp()
        .auth("XOAUTH2 OAUTHBEARER PLAIN")
        .bearer_tokens(provider.checker())
        .start()
}

fn assert_no_token(text: &str) {
    assert!(
        !text.contains("at-") && !text.contains("rt-"),
        "a token leaked: {text}"
    );
}

// --- logging in ---------------------------------------------------------------------------

/// A browser: GET the authorisation address at the fake provider (HTTPS, test CA), then
/// follow its redirect to postie's loopback listener (plain HTTP).
fn browse(url: &str) -> String {
    let ca = std::fs::read(&pki().ca_pem).expect("ca");
    let cert = ureq::tls::Certificate::from_pem(&ca).expect("pem");
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent.get(url).call().expect("authorize");
    assert_eq!(r.status().as_u16(), 302);
    let location = r
        .headers()
        .get("location")
        .expect("location")
        .to_str()
        .unwrap()
        .to_owned();
    let rest = location
        .strip_prefix("http://127.0.0.1:")
        .expect("loopback");
    let (port, path) = rest.split_once('/').expect("path");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
        .expect("connect to postie's listener");
    write!(s, "GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    page
}

/// Reads lines from postie's stdout until one is an address; returns it.
fn read_url(out: &mut impl BufRead) -> String {
    for _ in 0..20 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.starts_with("https://") {
            return line.trim().to_owned();
        }
    }
    panic!("postie printed no address");
}

fn wait(mut child: std::process::Child, what: &str) -> (i32, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (status.code().unwrap_or(-1), err);
        }
        assert!(std::time::Instant::now() < deadline, "{what} hung");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn loopback_login_then_sends_use_the_cached_token_without_a_request() {
    let p = Provider::start(3600);
    let srv = smtp(&p);
    let s = Setup::new(&p, srv.port(), "");
    let mut child = s.spawn(&["oauth2", "login", "-a", "work"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let url = read_url(&mut out);
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{url}"
    );
    assert!(url.contains("login_hint=u%40b.example"), "{url}");
    let page = browse(&url);
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("postie has the authorisation"));
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let (code, err) = wait(child, "login");
    assert_eq!(code, 0, "{err}");
    assert!(rest.contains("account work: authorised"), "{rest}");
    assert_no_token(&rest);
    assert_eq!((p.count("authorize"), p.count("code")), (1, 1));
    assert!(s.stored().starts_with("rt-"), "the refresh token is stored");
    if !keyring_available() {
        return;
    }
    for _ in 0..2 {
        let r = s.send();
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(p.count("refresh"), 0, "the cached access token is used");
    let sessions = srv.finish();
    assert_eq!(sessions.len(), 2);
    for x in &sessions {
        assert_eq!(x.auth[0].mechanism, "XOAUTH2");
        assert_eq!(x.auth[0].user, "u@b.example");
        assert!(x.auth[0].ok && x.data_complete);
    }
    let status = s.run(&["oauth2", "status"], b"");
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stdout.starts_with("work: authorised ("),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("access token cached, valid for"),
        "{}",
        status.stdout
    );
    assert_no_token(&status.stdout);
}

#[test]
fn paste_login_reads_the_redirected_address_on_stdin() {
    let p = Provider::start(3600);
    let s = Setup::new(&p, 1, "");
    let mut child = s.spawn(&["oauth2", "login", "-a", "work", "--paste"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let url = read_url(&mut out);
    // The browser (elsewhere) is redirected to a port nothing listens on: the user copies the
    // address from its address bar.
    let ca = std::fs::read(&pki().ca_pem).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_pem(&ca).unwrap(),
        ]))
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .max_redirects(0)
        .build()
        .into();
    let r = agent.get(&url).call().expect("authorize");
    let location = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{location}").unwrap();
    drop(stdin);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let (code, err) = wait(child, "paste login");
    assert_eq!(code, 0, "{err}");
    assert!(rest.contains("authorised"), "{rest}");
    assert_eq!(p.count("code"), 1);
}

#[test]
fn paste_login_refuses_a_foreign_state() {
    let p = Provider::start(3600);
    let s = Setup::new(&p, 1, "");
    let r = s.run(
        &["oauth2", "login", "-a", "work", "--paste"],
        b"http://127.0.0.1:9/?code=code-1&state=forged\n",
    );
    assert_eq!(r.code, 77, "{r:?}");
    assert!(r.stderr.contains("state does not match"), "{}", r.stderr);
    assert_eq!(p.count("code"), 0);
}

#[test]
fn device_login_polls_until_granted() {
    let p = Provider::start(3600);
    p.with(|st| st.device_pending = 2);
    let s = Setup::new(&p, 1, "");
    let r = s.run(&["oauth2", "login", "-a", "work", "--device"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("open https://example.org/device"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("enter the code WDJB-MJHT"),
        "{}",
        r.stdout
    );
    assert_eq!((p.count("device"), p.count("device_poll")), (1, 3));
    assert_no_token(&r.stdout);
    assert!(s.stored().starts_with("rt-"));
}

// --- sending ------------------------------------------------------------------------------

#[test]
fn import_then_an_expired_token_is_refreshed_once_and_a_rotated_token_saved() {
    let p = Provider::start(2);
    p.known_refresh_token("rt-imported");
    p.with(|st| st.rotate = true);
    let srv = smtp(&p);
    let s = Setup::new(&p, srv.port(), "");
    let r = s.import("rt-imported");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.count("refresh"), 1, "import checks the token");
    let after_import = s.stored();
    assert!(after_import.starts_with("rt-") && !after_import.contains("imported"));
    std::thread::sleep(Duration::from_millis(2200));
    let r = s.send();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.count("refresh"), 2, "one refresh for the expired token");
    let rotated = s.stored();
    assert_ne!(rotated, after_import, "the rotated refresh token was saved");
    assert!(p.with(|st| st.refresh_tokens.contains(rotated.trim())));
    let sessions = srv.finish();
    assert!(sessions[0].auth[0].ok);
}

#[test]
fn two_concurrent_sends_with_an_expired_token_refresh_once() {
    if !keyring_available() {
        return;
    }
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let srv = smtp(&p);
    let s = Setup::new(&p, srv.port(), "");
    // Stored without a cached access token: as after it expired.
    let r = s.import("rt-0");
    assert_eq!(r.code, 0, "{r:?}");
    let _ = s.run(&["lock", "-a", "work"], b"");
    let before = p.count("refresh");
    let env = s.env();
    let runs: Vec<Running> = (0..2)
        .map(|_| {
            s.home.spawn(
                &["-a", "work", "rcpt@x.org"],
                MSG,
                &Options::default().env(&env),
            )
        })
        .collect();
    for r in runs {
        let r = r.wait_within(Duration::from_secs(30), "send");
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(
        p.count("refresh") - before,
        1,
        "the lock let one process refresh"
    );
    let sessions = srv.finish();
    assert!(sessions.iter().all(|x| x.auth[0].ok));
}

#[test]
fn a_refused_cached_token_is_refreshed_and_auth_tried_once_more() {
    if !keyring_available() {
        return;
    }
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let srv = smtp(&p);
    let s = Setup::new(&p, srv.port(), "");
    assert_eq!(s.import("rt-0").code, 0);
    // The provider revokes the access token early; postie's cache still has it.
    p.with(|st| st.access_tokens.clear());
    let r = s.send();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.count("refresh"), 2, "import + one refresh after the 535");
    let sessions = srv.finish();
    let auth = &sessions[0].auth;
    assert_eq!(auth.len(), 2);
    assert!(!auth[0].ok && auth[1].ok);
}

#[test]
fn oauthbearer_and_an_8_kb_token_go_through_auth() {
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    p.with(|st| st.token_len = 8192);
    let srv = smtp(&p);
    for mech in ["xoauth2", "oauthbearer"] {
        let s = Setup::new(&p, srv.port(), "");
        let rc = s.home.path().join(".msmtprc");
        let text = std::fs::read_to_string(&rc)
            .unwrap()
            .replace("auth xoauth2", &format!("auth {mech}"));
        std::fs::write(&rc, text).unwrap();
        p.known_refresh_token("rt-0");
        assert_eq!(s.import("rt-0").code, 0);
        let r = s.run(&["-d", "-a", "work", "rcpt@x.org"], MSG);
        assert_eq!(r.code, 0, "{mech}: {r:?}");
        assert_no_token(&r.stdout);
        assert_no_token(&r.stderr);
    }
    let sessions = srv.finish();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].auth[0].mechanism, "XOAUTH2");
    assert_eq!(sessions[1].auth[0].mechanism, "OAUTHBEARER");
    for x in &sessions {
        assert!(x.auth[0].ok, "{}", x.transcript_text());
        assert!(x.transcript_text().contains("bearer: 8192 bytes of token"));
    }
}

#[test]
fn auth_on_prefers_oauthbearer_with_tls() {
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let srv = ServerBuilder::smtp()
        .starttls()
        .auth("PLAIN XOAUTH2 OAUTHBEARER")
        .bearer_tokens(p.checker())
        .start();
    let s = Setup::new(
        &p,
        srv.port(),
        &format!("tls on\ntls_trust_file {}\n", pki().ca_pem.display()),
    );
    let rc = s.home.path().join(".msmtprc");
    let text = std::fs::read_to_string(&rc)
        .unwrap()
        .replace("auth xoauth2", "auth on");
    std::fs::write(&rc, text).unwrap();
    assert_eq!(s.import("rt-0").code, 0);
    let r = s.send();
    assert_eq!(r.code, 0, "{r:?}");
    let sessions = srv.finish();
    assert_eq!(sessions[0].auth[0].mechanism, "OAUTHBEARER");
    assert!(sessions[0].auth[0].ok);
}

// --- failures -----------------------------------------------------------------------------

#[test]
fn invalid_grant_exits_77_and_says_to_log_in() {
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let srv = smtp(&p);
    let s = Setup::new(&p, srv.port(), "");
    assert_eq!(s.import("rt-0").code, 0);
    let _ = s.run(&["lock", "-a", "work"], b"");
    p.with(|st| st.invalid_grant = true);
    let r = s.send();
    assert_eq!(r.code, 77, "{r:?}");
    assert!(
        r.stderr.contains("invalid_grant") && r.stderr.contains("run postie oauth2 login -a work"),
        "{}",
        r.stderr
    );
    assert_no_token(&r.stderr);
    // Never logged in at all: the same advice.
    let fresh = Setup::new(&p, srv.port(), "");
    let r = fresh.send();
    assert_eq!(r.code, 77, "{r:?}");
    assert!(
        r.stderr.contains("run postie oauth2 login -a work"),
        "{}",
        r.stderr
    );
}

fn queued(s: &Setup) -> String {
    s.run(&["-bp"], b"").stdout
}

#[test]
fn invalid_grant_with_queue_on_keeps_the_message_queued_until_login() {
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let srv = smtp(&p);
    let q = tempfile::tempdir().unwrap();
    let s = Setup::new(
        &p,
        srv.port(),
        &format!("queue on\nqueue_dir {}\n", q.path().display()),
    );
    assert_eq!(s.import("rt-0").code, 0);
    let _ = s.run(&["lock", "-a", "work"], b"");
    p.with(|st| st.invalid_grant = true);
    let r = s.send();
    assert_eq!(r.code, 0, "queued: {r:?}");
    let listing = queued(&s);
    assert!(
        listing.contains("waiting for OAuth2 authorisation: run postie oauth2 login -a work"),
        "{listing}"
    );
    let r = s.run(&["-q"], b"");
    assert_eq!(r.code, 0, "a wait is a deferral: {r:?}");
    assert!(queued(&s).contains("waiting for OAuth2 authorisation"));
    // The user logs in again (here: imports a good token); the next flush delivers.
    p.with(|st| st.invalid_grant = false);
    p.known_refresh_token("rt-new");
    assert_eq!(s.import("rt-new").code, 0);
    let r = s.run(&["-q"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!queued(&s).contains("waiting"), "delivered");
    let sessions = srv.finish();
    assert!(sessions.iter().any(|x| x.data_complete));
}

#[test]
fn an_unreachable_provider_is_a_temporary_failure_and_queues() {
    let p = Provider::start(3600);
    let srv = smtp(&p);
    // A token is stored, the cache is empty, and the provider is gone.
    let s = Setup::new(&p, srv.port(), "");
    p.known_refresh_token("rt-0");
    assert_eq!(s.import("rt-0").code, 0);
    let _ = s.run(&["lock", "-a", "work"], b"");
    p.stop();
    let r = s.send();
    assert_eq!(r.code, 75, "{r:?}");
    assert!(
        r.stderr.contains("cannot reach the OAuth2 provider"),
        "{}",
        r.stderr
    );
    // With queue on the message waits in the queue.
    let q = tempfile::tempdir().unwrap();
    let rc = s.home.path().join(".msmtprc");
    let text = std::fs::read_to_string(&rc).unwrap();
    std::fs::write(
        &rc,
        text.replace(
            "account default",
            &format!(
                "queue on\nqueue_dir {}\naccount default",
                q.path().display()
            ),
        ),
    )
    .unwrap();
    let r = s.send();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(queued(&s).contains("cannot reach the OAuth2 provider"));
}

#[test]
fn a_hung_provider_times_out() {
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let srv = smtp(&p);
    let s = Setup::new(&p, srv.port(), "timeout 1\n");
    assert_eq!(s.import("rt-0").code, 0);
    let _ = s.run(&["lock", "-a", "work"], b"");
    p.with(|st| st.stall = true);
    let r = s.send();
    assert_eq!(r.code, 75, "{r:?}");
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn logout_revokes_and_forgets() {
    let p = Provider::start(3600);
    p.known_refresh_token("rt-0");
    let s = Setup::new(&p, 1, "");
    assert_eq!(s.import("rt-0").code, 0);
    let r = s.run(&["oauth2", "logout", "-a", "work"], b"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("the token is revoked"), "{}", r.stdout);
    assert_eq!(p.count("revoke"), 1);
    assert!(p.with(|st| st.revoked == vec!["rt-0".to_owned()]));
    let status = s.run(&["oauth2", "status", "-a", "work"], b"");
    assert_eq!(
        status.stdout,
        "work: not authorised: run postie oauth2 login -a work\n"
    );
}

#[test]
fn import_of_an_unknown_token_is_refused() {
    let p = Provider::start(3600);
    let s = Setup::new(&p, 1, "");
    let r = s.import("rt-unknown");
    assert_eq!(r.code, 77, "{r:?}");
    assert!(r.stderr.contains("invalid_grant"), "{}", r.stderr);
    assert_no_token(&r.stderr);
}

#[test]
fn a_dry_run_names_the_oauth2_token_not_passwordeval() {
    // migration.md's account: msmtp's passwordeval kept for msmtp, ignored by postie.
    let home = Home::new(
        "account gmail\nhost smtp.example.org\nport 587\ntls on\nauth oauthbearer\n\
         user me@example.org\nfrom me@example.org\npasswordeval echo token-for-msmtp\n\
         oauth2_provider google\noauth2_client_id cid\n",
    );
    let r = home.run(&["--no-send", "-a", "gmail", "r@example.org"], MSG);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("auth: OAUTHBEARER, user me@example.org, OAuth2 token from google"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("passwordeval"), "{}", r.stdout);
}
