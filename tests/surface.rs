//! The rest of msmtp's surface end to end: `--serverinfo`, `--rmqs` (ETRN), `--configure`'s
//! address check and the Secret Service password lookup, with the postie binary against the
//! scripted server (and a tiny ETRN server here, which the scripted server does not speak).
//! Where msmtp 1.8.23 is installed, the serverinfo and rmqs outputs are also compared with it
//! byte for byte; the differential suite holds more such cases.
//!
//! The real-keyring test is ignored by default: `scripts/e2e/keyring.sh` runs it inside a
//! private D-Bus session with an unlocked gnome-keyring.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use support::pki::{CertChoice, pki};
use support::program::{Home, Options, POSTIE, Run};
use support::server::{ServerBuilder, Stage};

const MSMTP: &str = "/usr/bin/msmtp";

/// This suite's comparison with msmtp, on the shared [`Home`].
impl Home {
    /// Runs postie; when msmtp is installed, runs it too and asserts the same stdout, stderr
    /// (program name aside) and exit code.
    fn run_both(&self, args: &[&str], start: &dyn Fn() -> u16) -> Run {
        let with_port = |port: u16| -> Vec<String> {
            args.iter()
                .map(|a| a.replace("{PORT}", &port.to_string()))
                .collect()
        };
        let port = start();
        let a = with_port(port);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let ours = self.run(&a, b"");
        if Path::new(MSMTP).exists() {
            let port2 = start();
            let b = with_port(port2);
            let b: Vec<&str> = b.iter().map(String::as_str).collect();
            let theirs = self.run_with(&b, b"", &Options::default().program(MSMTP));
            let norm = |s: &str, p: u16| s.replace(&p.to_string(), "{PORT}");
            assert_eq!(
                norm(&ours.stdout, port),
                norm(&theirs.stdout, port2),
                "stdout differs from msmtp for {args:?}"
            );
            assert_eq!(
                norm(&ours.stderr, port).replace("postie: ", "PRG: "),
                norm(&theirs.stderr, port2).replace("msmtp: ", "PRG: "),
                "stderr differs from msmtp for {args:?}"
            );
            assert_eq!(ours.code, theirs.code, "exit code differs for {args:?}");
        }
        ours
    }
}

/// A one-connection-at-a-time ETRN server: greeting, EHLO with `caps`, AUTH accepted, ETRN
/// answered with `etrn_reply`, QUIT. Records the client's lines.
fn etrn_server(
    caps: &'static [&'static str],
    etrn_reply: &'static str,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut w) = conn else { return };
            let Ok(r) = w.try_clone() else { return };
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"220 etrn.test ESMTP\r\n");
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                let cmd = line.trim_end().to_string();
                line.clear();
                if let Ok(mut s) = seen2.lock() {
                    s.push(cmd.clone());
                }
                let verb = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let reply = match verb.as_str() {
                    "EHLO" => {
                        let mut lines = vec!["etrn.test".to_string()];
                        lines.extend(caps.iter().map(|c| c.to_string()));
                        let n = lines.len();
                        lines
                            .iter()
                            .enumerate()
                            .map(|(i, l)| {
                                format!("250{}{l}\r\n", if i + 1 == n { ' ' } else { '-' })
                            })
                            .collect()
                    }
                    "AUTH" => "235 2.7.0 ok\r\n".to_string(),
                    "ETRN" => format!("{etrn_reply}\r\n"),
                    "QUIT" => {
                        let _ = w.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => "502 5.5.2 no\r\n".to_string(),
                };
                let _ = w.write_all(reply.as_bytes());
            }
        }
    });
    (port, seen)
}

// ---- --serverinfo ---------------------------------------------------------------------------

#[test]
fn serverinfo_plain_lists_capabilities_and_starttls_hint() {
    let h = Home::empty();
    let srv = || {
        ServerBuilder::smtp()
            .starttls()
            .pipelining()
            .cap("SIZE 10485760")
            .dsn()
            .auth("LOGIN PLAIN")
            .start()
    };
    // Keep every server alive until its client has finished.
    let servers = Mutex::new(Vec::new());
    let start = || {
        let s = srv();
        let p = s.port();
        servers.lock().expect("lock").push(s);
        p
    };
    let r = h.run_both(&["--host=127.0.0.1", "--port={PORT}", "-S"], &start);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("SMTP server at 127.0.0.1 ("),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("    localhost ESMTP test server\nCapabilities:\n")
    );
    assert!(r.stdout.contains(
        "    SIZE 10485760:\n        Maximum message size is 10485760 bytes = 10.00 MiB\n"
    ));
    assert!(
        r.stdout.ends_with(
            "    STARTTLS:\n        Support for TLS encryption via the STARTTLS command\n\
         \x20   AUTH:\n        Supported authentication methods:\n        PLAIN LOGIN \n\
         This server might advertise more or other capabilities when TLS is active.\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn serverinfo_starttls_shows_certificate_block() {
    let h = Home::empty();
    let servers = Mutex::new(Vec::new());
    let start = || {
        let s = ServerBuilder::smtp().starttls().pipelining().start();
        let p = s.port();
        servers.lock().expect("lock").push(s);
        p
    };
    let ca = pki().ca_pem.display().to_string();
    let trust = format!("--tls-trust-file={ca}");
    let r = h.run_both(
        &["--host=localhost", "--port={PORT}", "-S", "--tls", &trust],
        &start,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = pki();
    assert!(
        r.stdout.contains("TLS session parameters:\n    (TLS1."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(
        "TLS certificate information:\n    Subject:\n        CN=localhost\n    Issuer:\n        CN=postie test CA\n    Validity:\n        Activation time: "
    ));
    assert!(
        r.stdout
            .contains(&format!("        SHA256: {}\n", p.fp_sha256))
    );
    assert!(
        r.stdout
            .contains(&format!("        SHA1 (deprecated): {}\n", p.fp_sha1))
    );
    assert!(
        r.stdout.ends_with(
            "    STARTTLS:\n        Support for TLS encryption via the STARTTLS command\n"
        )
    );
}

#[test]
fn serverinfo_implicit_tls_with_certcheck_off() {
    let h = Home::empty();
    let servers = Mutex::new(Vec::new());
    let start = || {
        let s = ServerBuilder::smtp()
            .implicit_tls()
            .cert(CertChoice::WrongHost)
            .cap("ETRN")
            .start();
        let p = s.port();
        servers.lock().expect("lock").push(s);
        p
    };
    let r = h.run_both(
        &[
            "--host=127.0.0.1",
            "--port={PORT}",
            "--serverinfo",
            "--tls",
            "--tls-starttls=off",
            "--tls-certcheck=off",
        ],
        &start,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("    Subject:\n        CN=wrong.example\n")
    );
    assert!(r.stdout.ends_with(
        "Capabilities:\n    ETRN:\n        Support for RMQS (Remote Message Queue Starting)\n"
    ));
}

#[test]
fn serverinfo_uses_the_config_account_and_runs_passwordeval() {
    let h = Home::empty();
    let s = ServerBuilder::smtp().start();
    let marker = h.path().join("ran");
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nauth on\nuser joe\npasswordeval touch {}; echo pw\n",
            s.port(),
            marker.display()
        ),
        0o600,
    );
    let r = h.run(&["-S"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.ends_with("No special capabilities.\n"),
        "{}",
        r.stdout
    );
    assert!(marker.exists(), "passwordeval must run in serverinfo mode");
    let sessions = s.finish();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].quit && sessions[0].auth.is_empty() && sessions[0].mail_from.is_none());
}

#[test]
fn serverinfo_pretend_prints_settings_without_connecting() {
    let h = Home::empty();
    h.write(
        ".msmtprc",
        "account default\nhost 127.0.0.1\nport 1\nfrom a@b.example\n",
        0o600,
    );
    let r = h.run(&["-S", "-P"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("using account default from "));
    assert!(
        r.stdout.ends_with("tls_host_override = (not set)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn serverinfo_connect_failure_has_no_trailer() {
    let h = Home::empty();
    let s = ServerBuilder::smtp().no_listen().start();
    let port = s.port().to_string();
    let r = h.run(&["--host=127.0.0.1", &format!("--port={port}"), "-S"], b"");
    assert_eq!(r.code, 75);
    assert_eq!(
        r.stderr,
        format!("postie: cannot connect to 127.0.0.1, port {port}: Connection refused\n")
    );
}

// ---- --rmqs ---------------------------------------------------------------------------------

fn rmqs_case(
    caps: &'static [&'static str],
    reply: &'static str,
    extra: &[&str],
) -> (Run, Vec<String>) {
    let h = Home::empty();
    let (port, seen) = etrn_server(caps, reply);
    let p = format!("--port={port}");
    let mut args = vec!["--host=127.0.0.1", p.as_str(), "--rmqs=@example.org"];
    args.extend_from_slice(extra);
    let r = h.run(&args, b"");
    let lines = seen.lock().map(|v| v.clone()).unwrap_or_default();
    (r, lines)
}

#[test]
fn rmqs_success_replies_exit_0_silently_and_quit() {
    for reply in ["250 2.0.0 queuing started", "251 ok", "252 ok", "253 ok"] {
        let (r, seen) = rmqs_case(&["ETRN"], reply, &[]);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (0, "", ""),
            "{reply}"
        );
        assert_eq!(seen, ["EHLO localhost", "ETRN @example.org", "QUIT"]);
    }
}

#[test]
fn rmqs_failure_replies_map_like_msmtp() {
    for (reply, code, msg) in [
        (
            "458 4.0.0 unable",
            69,
            "the server is unable to fulfill the request",
        ),
        (
            "459 4.0.0 not",
            69,
            "the server is unable to fulfill the request",
        ),
        (
            "500 5.5.2 bad",
            65,
            "invalid argument for Remote Message Queue Starting",
        ),
        (
            "501 5.5.4 syntax",
            65,
            "invalid argument for Remote Message Queue Starting",
        ),
        ("254 odd", 76, "command ETRN failed"),
        ("421 4.3.2 closing", 76, "command ETRN failed"),
    ] {
        let (r, seen) = rmqs_case(&["ETRN"], reply, &[]);
        assert_eq!(r.code, code, "{reply}");
        assert_eq!(
            r.stderr,
            format!("postie: {msg}\npostie: server message: {reply}\n")
        );
        assert_eq!(
            seen.last().map(String::as_str),
            Some("ETRN @example.org"),
            "no QUIT after {reply}"
        );
    }
}

#[test]
fn rmqs_without_etrn_capability_quits_before_auth() {
    let (r, seen) = rmqs_case(&["AUTH PLAIN"], "250 ok", &["--auth=plain", "--user=joe"]);
    assert_eq!(r.code, 69);
    assert_eq!(
        r.stderr,
        "postie: the server does not support Remote Message Queue Starting\n"
    );
    assert_eq!(seen, ["EHLO localhost", "QUIT"]);
}

#[test]
fn rmqs_authenticates_before_etrn() {
    let (r, seen) = rmqs_case(
        &["ETRN", "AUTH PLAIN"],
        "250 ok",
        &["--auth=plain", "--user=joe", "--passwordeval=echo pw"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(seen.len(), 4);
    assert!(seen[1].starts_with("AUTH PLAIN "));
    assert_eq!(seen[2], "ETRN @example.org");
}

#[test]
fn rmqs_and_serverinfo_refuse_operands() {
    let h = Home::empty();
    for mode in ["-S", "--rmqs=x"] {
        let r = h.run(&["--host=h", mode, "extra"], b"");
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (64, "postie: too many arguments\n")
        );
    }
}

// ---- --configure ----------------------------------------------------------------------------

#[test]
fn configure_invalid_address_is_dataerr_65() {
    let h = Home::empty();
    for addr in ["joe", "joe@", "@example.org", ""] {
        let r = h.run(&[&format!("--configure={addr}")], b"");
        assert_eq!(r.code, 65, "{addr}");
        assert_eq!(
            r.stderr,
            "postie: automatic configuration based on SRV records failed: invalid mail address\n"
        );
    }
}

/// A `res_query` stub (LD_PRELOAD) that answers one SRV query name with one record, so that
/// `--configure` can be tested without DNS. Controlled by FAKE_SRV_NAME, FAKE_SRV_TARGET,
/// FAKE_SRV_PORT, FAKE_SRV_PRIO and FAKE_SRV2 ("PRIO PORT TARGET", a second record).
const RES_QUERY_STUB: &str = r#"#include <string.h>
#include <stdlib.h>
#include <netdb.h>
#include <stdio.h>
static int put_name(unsigned char *p, const char *name) {
    int n = 0; const char *s = name;
    while (*s) { const char *dot = strchr(s, '.'); int len = dot ? dot - s : (int)strlen(s);
        p[n++] = len; memcpy(p + n, s, len); n += len; s += len; if (*s == '.') s++; }
    p[n++] = 0; return n;
}
int res_query(const char *dname, int class, int type, unsigned char *ans, int anslen) {
    const char *want = getenv("FAKE_SRV_NAME");
    const char *target = getenv("FAKE_SRV_TARGET");
    const char *port = getenv("FAKE_SRV_PORT");
    if (!want || strcmp(want, dname) != 0) { h_errno = HOST_NOT_FOUND; return -1; }
    unsigned char *p = ans; int n = 0;
    const char *r2 = getenv("FAKE_SRV2"); unsigned char hdr[12] = {0x12,0x34,0x81,0x80,0,1,0,r2?2:1,0,0,0,0};
    memcpy(p, hdr, 12); n = 12;
    n += put_name(p + n, dname); p[n++] = 0; p[n++] = 33; p[n++] = 0; p[n++] = 1;
    p[n++] = 0xc0; p[n++] = 12; p[n++] = 0; p[n++] = 33; p[n++] = 0; p[n++] = 1;
    p[n++] = 0; p[n++] = 0; p[n++] = 0x0e; p[n++] = 0x10;
    int rdlen_pos = n; n += 2;
    const char *pr = getenv("FAKE_SRV_PRIO"); int prio = pr ? atoi(pr) : 0, weight = 1, pt = atoi(port ? port : "587");
    p[n++] = prio >> 8; p[n++] = prio; p[n++] = weight >> 8; p[n++] = weight; p[n++] = pt >> 8; p[n++] = pt & 0xff;
    n += put_name(p + n, target ? target : "mail.example.org");
    int rdlen = n - rdlen_pos - 2; p[rdlen_pos] = rdlen >> 8; p[rdlen_pos + 1] = rdlen;
    if (r2) { char t2[256]; int pr2, pt2; sscanf(r2, "%d %d %255s", &pr2, &pt2, t2);
      p[n++] = 0xc0; p[n++] = 12; p[n++] = 0; p[n++] = 33; p[n++] = 0; p[n++] = 1;
      p[n++] = 0; p[n++] = 0; p[n++] = 0x0e; p[n++] = 0x10; int rp = n; n += 2;
      p[n++] = pr2 >> 8; p[n++] = pr2; p[n++] = 0; p[n++] = 1; p[n++] = pt2 >> 8; p[n++] = pt2 & 0xff;
      n += put_name(p + n, t2); int rl = n - rp - 2; p[rp] = rl >> 8; p[rp+1] = rl; }
    (void)class; (void)type; (void)anslen;
    return n;
}
"#;

/// Compiles [`RES_QUERY_STUB`]; `None` when no C compiler is installed.
fn res_query_stub(h: &Home) -> Option<String> {
    let src = h.write("stub.c", RES_QUERY_STUB, 0o644);
    let so = h.path().join("stub.so");
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| so.display().to_string())
}

#[test]
fn configure_from_srv_records_matches_msmtp() {
    let h = Home::empty();
    let Some(stub) = res_query_stub(&h) else {
        eprintln!("no C compiler: SRV stub test skipped");
        return;
    };
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("FAKE_SRV_NAME", "_submissions._tcp.example.org"),
                ("FAKE_SRV_TARGET", "mail.example.org"),
                ("FAKE_SRV_PORT", "465"),
            ],
            "joe.doe@example.org",
        ),
        (
            &[
                ("FAKE_SRV_NAME", "_submission._tcp.example.org"),
                ("FAKE_SRV_TARGET", "first.example.org"),
                ("FAKE_SRV_PRIO", "10"),
                ("FAKE_SRV2", "5 25 smtp.other.net"),
            ],
            "joe@example.org",
        ),
        (
            &[
                ("FAKE_SRV_NAME", "_submission._tcp.example.org"),
                ("FAKE_SRV_TARGET", ""),
            ],
            "joe@example.org",
        ),
    ];
    let mut outputs = Vec::new();
    for (vars, addr) in cases {
        let mut env = vars.to_vec();
        env.push(("LD_PRELOAD", &stub));
        let arg = format!("--configure={addr}");
        let ours = h.run_with(&[&arg], b"", &Options::default().env(&env));
        if Path::new(MSMTP).exists() {
            let theirs = h.run_with(&[&arg], b"", &Options::default().program(MSMTP).env(&env));
            assert_eq!(ours.stdout, theirs.stdout, "{vars:?}");
            assert_eq!(ours.code, theirs.code, "{vars:?}");
            assert_eq!(
                ours.stderr.replace("postie: ", "PRG: "),
                theirs.stderr.replace("msmtp: ", "PRG: ")
            );
        }
        outputs.push(ours);
    }
    assert_eq!(outputs[0].code, 0);
    assert!(
        outputs[0]
            .stdout
            .contains("\nport 465\ntls on\ntls_starttls off\n")
    );
    assert!(
        outputs[1]
            .stdout
            .contains("# - warning: the host does not match the mail domain; please check\n")
    );
    assert!(
        outputs[1]
            .stdout
            .contains("\nhost smtp.other.net\nport 25\n")
    );
    assert_eq!(outputs[2].code, 68);
}

// ---- keyring --------------------------------------------------------------------------------

/// A fake `secret-tool` in `HOME/bin` that knows one item and logs its arguments.
fn fake_secret_tool(h: &Home, known: &str, secret: &str) -> String {
    let log = h.path().join("secret-tool.log");
    h.write(
        "bin/secret-tool",
        &format!(
            "#!/bin/sh\necho \"$*\" >> {}\n[ \"$*\" = '{known}' ] && printf '%s' '{secret}' && exit 0\necho 'No matching results' >&2\nexit 1\n",
            log.display()
        ),
        0o755,
    );
    format!("{}:/usr/bin:/bin", h.path().join("bin").display())
}

fn keyring_send(known: &str, netrc: Option<&str>) -> (Run, Vec<support::server::Session>, String) {
    let h = Home::empty();
    let s = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "sekret")
        .start();
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@example.org\nauth plain\nuser joe\n",
            s.port()
        ),
        0o600,
    );
    if let Some(n) = netrc {
        h.write(".netrc", n, 0o600);
    }
    let path = fake_secret_tool(&h, known, "sekret");
    let r = h.run_with(
        &["r@example.org"],
        b"Subject: x\n\nbody\n",
        &Options::default().env(&[("PATH", &path)]),
    );
    let log = std::fs::read_to_string(h.path().join("secret-tool.log")).unwrap_or_default();
    (r, s.finish(), log)
}

#[test]
fn keyring_password_found_with_msmtps_attributes() {
    let (r, sessions, log) = keyring_send("lookup host 127.0.0.1 service smtp user joe", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sessions[0].auth[0].ok);
    assert_eq!(log, "lookup host 127.0.0.1 service smtp user joe\n");
    assert_eq!(r.stderr, "", "secret-tool's stderr is not shown");
}

#[test]
fn keyring_legacy_schema_is_second() {
    let (r, sessions, log) = keyring_send(
        "lookup xdg:schema org.gnome.keyring.NetworkPassword user joe protocol smtp server 127.0.0.1",
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sessions[0].auth[0].ok);
    assert_eq!(log.lines().count(), 2);
}

#[test]
fn keyring_comes_before_netrc() {
    let (r, sessions, _) = keyring_send(
        "lookup host 127.0.0.1 service smtp user joe",
        Some("machine 127.0.0.1 login joe password wrong\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sessions[0].auth[0].ok);
}

#[test]
fn keyring_miss_falls_back_to_netrc() {
    let (r, sessions, log) = keyring_send(
        "lookup nothing",
        Some("machine 127.0.0.1 login joe password sekret\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sessions[0].auth[0].ok);
    assert_eq!(log.lines().count(), 2, "both schemas asked before netrc");
}

#[test]
fn keyring_not_asked_when_password_configured() {
    let h = Home::empty();
    let s = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "sekret")
        .start();
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@example.org\nauth plain\nuser joe\npassword sekret\n",
            s.port()
        ),
        0o600,
    );
    let path = fake_secret_tool(&h, "x", "y");
    let r = h.run_with(
        &["r@example.org"],
        b"Subject: x\n\nbody\n",
        &Options::default().env(&[("PATH", &path)]),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!h.path().join("secret-tool.log").exists());
}

/// Needs a Secret Service holding `secret-tool store --label=msmtp host 127.0.0.1 service smtp
/// user joe` = `sekret` and `DBUS_SESSION_BUS_ADDRESS`; run by `scripts/e2e/keyring.sh`.
#[test]
#[ignore]
fn keyring_real_secret_service() {
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").expect("run under scripts/e2e/keyring.sh");
    let h = Home::empty();
    let s = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "sekret")
        .start();
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@example.org\nauth plain\nuser joe\n",
            s.port()
        ),
        0o600,
    );
    let env = [("DBUS_SESSION_BUS_ADDRESS", bus.as_str())];
    let r = h.run_with(
        &["r@example.org"],
        b"Subject: x\n\nbody\n",
        &Options::default().env(&env),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    if Path::new(MSMTP).exists() {
        let r = h.run_with(
            &["r@example.org"],
            b"Subject: x\n\nbody\n",
            &Options::default().program(MSMTP).env(&env),
        );
        assert_eq!(r.code, 0, "msmtp: {}", r.stderr);
    }
    let sessions = s.finish();
    assert!(sessions.iter().all(|x| x.auth.len() == 1 && x.auth[0].ok));
}

// ---- SCRAM and SCRAM-PLUS against the scripted server's own SCRAM verifier -------------------

/// Sends one mail with `auth METHOD` for joe/`password` to a server offering `mechs` (STARTTLS
/// when `tls`), with `program`. Returns the run and the server's sessions.
fn scram_send(
    program: &str,
    method: &str,
    mechs: &str,
    tls: bool,
    password: &str,
) -> (Run, Vec<support::server::Session>) {
    let h = Home::empty();
    let mut b = ServerBuilder::smtp()
        .auth(mechs)
        .credentials("joe", "sekret");
    if tls {
        b = b.starttls();
    }
    let s = b.start();
    let tls_lines = if tls {
        format!(
            "tls on\ntls_starttls on\ntls_trust_file {}\n",
            pki().ca_pem.display()
        )
    } else {
        String::new()
    };
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@example.org\n{tls_lines}auth {method}\nuser joe\npassword {password}\n",
            s.port()
        ),
        0o600,
    );
    let r = h.run_with(
        &["r@example.org"],
        b"Subject: x\n\nbody\n",
        &Options::default().program(program),
    );
    (r, s.finish())
}

#[test]
fn scram_plain_variants_verify_against_the_server_like_msmtp() {
    for (method, tls) in [
        ("scram-sha-256", true),
        ("scram-sha-1", true),
        ("scram-sha-256", false),
        ("cram-md5", false),
    ] {
        let mechs = "PLAIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256";
        let mut programs = vec![POSTIE];
        if Path::new(MSMTP).exists() {
            programs.push(MSMTP);
        }
        let mut shapes = Vec::new();
        for program in programs {
            let (r, sessions) = scram_send(program, method, mechs, tls, "sekret");
            assert_eq!(r.code, 0, "{program} {method}: {}", r.stderr);
            shapes.push(auth_shape(&sessions[0]));
            let a = &sessions[0].auth[0];
            assert_eq!(a.mechanism, method.to_ascii_uppercase(), "{program}");
            assert!(
                a.ok,
                "{program} {method}: {}",
                sessions[0].transcript_text()
            );
            assert_eq!(a.user, "joe");
            let (r, sessions) = scram_send(program, method, mechs, tls, "wrong");
            assert_eq!(r.code, 77, "{program} {method}: {}", r.stderr);
            assert!(!sessions[0].auth[0].ok);
        }
        if let [ours, theirs] = shapes.as_slice() {
            assert_eq!(ours, theirs, "{method}: AUTH dialogue differs from msmtp's");
            assert!(
                ours.len() >= 4 && ours.last().is_some_and(|c| c == "235"),
                "{ours:?}"
            );
        }
    }
}

/// The AUTH part of a session as client lines and server reply codes (the SCRAM payloads hold
/// random nonces, so only the shape is comparable).
fn auth_shape(s: &support::server::Session) -> Vec<String> {
    use support::server::Line;
    let mut out = Vec::new();
    let mut in_auth = false;
    for l in &s.transcript {
        match l {
            Line::Client(c) if c.starts_with("AUTH") => {
                in_auth = true;
                out.push(c.clone());
            }
            Line::Client(c) if in_auth && c.starts_with("MAIL") => break,
            Line::Client(c) if in_auth => out.push(c.clone()),
            Line::Server(t) if in_auth => out.push(t.chars().take(3).collect()),
            _ => {}
        }
    }
    out
}

#[test]
fn scram_plus_binds_the_tls13_exporter_over_starttls() {
    for method in ["scram-sha-256-plus", "scram-sha-1-plus"] {
        let mechs = "PLAIN SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS";
        let (r, sessions) = scram_send(POSTIE, method, mechs, true, "sekret");
        assert_eq!(r.code, 0, "{method}: {}", r.stderr);
        let text = sessions[0].transcript_text();
        assert_eq!(sessions[0].auth[0].mechanism, method.to_ascii_uppercase());
        assert!(sessions[0].auth[0].ok, "{text}");
        assert!(
            text.contains("N: scram: binding true, c= true, nonce true, proof true"),
            "{text}"
        );
        let (r, sessions) = scram_send(POSTIE, method, mechs, true, "wrong");
        assert_eq!(r.code, 77, "{}", r.stderr);
        assert_eq!(
            r.stderr.lines().next(),
            Some(
                format!(
                    "postie: authentication failed (method {})",
                    method.to_ascii_uppercase()
                )
                .as_str()
            )
        );
        assert!(!sessions[0].auth[0].ok);
    }
}

#[test]
fn scram_plus_is_only_used_when_configured() {
    let mechs = "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN";
    let (r, sessions) = scram_send(POSTIE, "on", mechs, true, "sekret");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sessions[0].auth[0].mechanism, "PLAIN",
        "msmtp 1.8.23's order"
    );
    let (r, sessions) = scram_send(POSTIE, "on", mechs, false, "sekret");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sessions[0].auth[0].mechanism, "SCRAM-SHA-256");
}

#[test]
fn scram_plus_without_tls_is_69_and_sends_no_auth() {
    let (r, sessions) = scram_send(
        POSTIE,
        "scram-sha-256-plus",
        "SCRAM-SHA-256-PLUS",
        false,
        "sekret",
    );
    assert_eq!(r.code, 69, "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().next(),
        Some(
            "postie: authentication method SCRAM-SHA-256-PLUS needs TLS 1.3 for channel binding (tls-exporter)"
        )
    );
    assert!(sessions[0].auth.is_empty());
}

// ---- client certificates (tls_cert_file/tls_key_file), AUTH EXTERNAL, source_ip ------------

/// Replaces `{CERT}`/`{KEY}` (client certificate and key from the test CA), `{UCERT}`/`{UKEY}`
/// (from the untrusted CA) and `{CA}` with the test PKI's files.
fn with_pki_files(text: &str) -> String {
    let p = pki();
    text.replace("{CERT}", &p.client_cert_pem.display().to_string())
        .replace("{KEY}", &p.client_key_pem.display().to_string())
        .replace(
            "{UCERT}",
            &p.untrusted_client_cert_pem.display().to_string(),
        )
        .replace("{UKEY}", &p.untrusted_client_key_pem.display().to_string())
        .replace("{CA}", &p.ca_pem.display().to_string())
}

/// Sends one mail with `program` in `h` to a fresh copy of `server`, with `extra` (see
/// [`with_pki_files`]) appended to a default account on it, and `args` before the recipient.
/// Returns the run (`{PORT}` for the port in stderr) and the server's sessions.
fn cert_send(
    h: &Home,
    program: &str,
    server: &ServerBuilder,
    extra: &str,
    args: &[&str],
) -> (Run, Vec<support::server::Session>) {
    let s = server.clone().start();
    let port = s.port();
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {port}\nfrom a@example.org\n{}\n",
            with_pki_files(extra)
        ),
        0o600,
    );
    let mut argv = args.to_vec();
    if !argv.iter().any(|a| *a == "-S" || a.starts_with("--rmqs")) {
        argv.push("r@example.org");
    }
    let mut r = h.run_with(
        &argv,
        b"Subject: x\n\nbody\n",
        &Options::default().program(program),
    );
    r.stderr = r.stderr.replace(&port.to_string(), "{PORT}");
    (r, s.finish())
}

/// Runs postie and (when installed) msmtp on the same case; asserts the same exit code and
/// stderr (program name aside). Returns postie's run and sessions, and msmtp's sessions.
#[allow(clippy::type_complexity)]
fn cert_both(
    server: &ServerBuilder,
    extra: &str,
    args: &[&str],
) -> (
    Run,
    Vec<support::server::Session>,
    Option<Vec<support::server::Session>>,
) {
    let h = Home::empty();
    let (ours, sessions) = cert_send(&h, POSTIE, server, extra, args);
    if !Path::new(MSMTP).exists() {
        return (ours, sessions, None);
    }
    let (theirs, theirs_sessions) = cert_send(&h, MSMTP, server, extra, args);
    assert_eq!(
        ours.stderr.replace("postie: ", "PRG: "),
        theirs.stderr.replace("msmtp: ", "PRG: "),
        "stderr differs from msmtp for {extra:?} {args:?}"
    );
    assert_eq!(
        ours.code, theirs.code,
        "exit code differs from msmtp for {extra:?} {args:?}"
    );
    (ours, sessions, Some(theirs_sessions))
}

const CLIENT_CERT: &str = "tls on\ntls_trust_file {CA}\ntls_cert_file {CERT}\ntls_key_file {KEY}";

#[test]
fn client_certificate_is_presented_over_starttls_and_implicit_tls() {
    use support::server::TlsState;
    for (server, extra, state) in [
        (
            ServerBuilder::smtp().starttls().client_cert_required(),
            CLIENT_CERT.to_string(),
            TlsState::StartTls,
        ),
        (
            ServerBuilder::smtp().implicit_tls().client_cert_required(),
            format!("{CLIENT_CERT}\ntls_starttls off"),
            TlsState::Implicit,
        ),
    ] {
        let (r, sessions, theirs) = cert_both(&server, &extra, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        for s in sessions.iter().chain(theirs.iter().flatten()) {
            assert_eq!(s.tls_state(), state, "{}", s.transcript_text());
            assert_eq!(s.client_cn.as_deref(), Some(support::pki::CLIENT_CN));
            assert!(s.data_complete && s.quit);
        }
    }
}

#[test]
fn command_line_client_certificate_options_are_used() {
    let server = ServerBuilder::smtp().starttls().client_cert_required();
    let p = pki();
    let cert = format!("--tls-cert-file={}", p.client_cert_pem.display());
    let key = format!("--tls-key-file={}", p.client_key_pem.display());
    let (r, sessions, _) = cert_both(&server, "tls on\ntls_trust_file {CA}", &[&cert, &key]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        sessions[0].client_cn.as_deref(),
        Some(support::pki::CLIENT_CN)
    );
}

#[test]
fn server_requiring_a_certificate_refuses_a_client_without_one_like_msmtp() {
    use support::server::TlsState;
    for (server, extra) in [
        (
            ServerBuilder::smtp().starttls().client_cert_required(),
            "tls on\ntls_trust_file {CA}",
        ),
        (
            ServerBuilder::smtp().implicit_tls().client_cert_required(),
            "tls on\ntls_starttls off\ntls_trust_file {CA}",
        ),
        // A certificate from a CA the server does not accept. GnuTLS does not even send it (it
        // matches none of the CA names the server asked for); rustls sends it and the server
        // refuses it. The client sees the same alert either way.
        (
            ServerBuilder::smtp().starttls().client_cert_required(),
            "tls on\ntls_trust_file {CA}\ntls_cert_file {UCERT}\ntls_key_file {UKEY}",
        ),
    ] {
        let (r, sessions, _) = cert_both(&server, extra, &[]);
        // TLS 1.3: the client's handshake is complete before the server checks its
        // certificate, so the refusal arrives as an alert on the first read.
        assert_eq!(r.code, 74, "{}", r.stderr);
        assert_eq!(
            r.stderr.lines().next(),
            Some("postie: cannot read from TLS connection: A TLS fatal alert has been received.")
        );
        assert_eq!(sessions[0].tls_state(), TlsState::Failed);
        assert!(sessions[0].client_cn.is_none() && sessions[0].mail_from.is_none());
    }
}

/// The AUTH dialogue of a session: client lines, server reply codes and the server's notes
/// (which hold the exact EXTERNAL responses).
fn external_shape(s: &support::server::Session) -> Vec<String> {
    use support::server::Line;
    let mut out = Vec::new();
    let mut in_auth = false;
    for l in &s.transcript {
        match l {
            Line::Client(c) if c.starts_with("AUTH") => {
                in_auth = true;
                out.push(c.clone());
            }
            Line::Client(c) if in_auth && c.starts_with("MAIL") => break,
            Line::Client(c) if in_auth => out.push(c.clone()),
            Line::Server(t) if in_auth => out.push(t.chars().take(3).collect()),
            Line::Note(n) if in_auth => out.push(n.clone()),
            _ => {}
        }
    }
    out
}

#[test]
fn auth_external_sends_the_user_as_authzid_like_msmtp() {
    let server = ServerBuilder::smtp()
        .starttls()
        .client_cert_required()
        .auth("EXTERNAL PLAIN")
        .credentials("joe", "unused");
    let extra = format!("{CLIENT_CERT}\nauth external\nuser joe");
    let (r, sessions, theirs) = cert_both(&server, &extra, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = &sessions[0];
    let want = vec![
        "AUTH EXTERNAL".to_string(),
        "334".into(),
        "<auth data>".into(),
        "external: response \"am9l\"".into(),
        "235".into(),
    ];
    assert_eq!(external_shape(s), want, "{}", s.transcript_text());
    assert_eq!(
        (s.auth[0].mechanism.as_str(), s.auth[0].user.as_str()),
        ("EXTERNAL", "joe")
    );
    assert!(s.auth[0].ok && s.data_complete);
    if let Some(theirs) = theirs {
        assert_eq!(external_shape(&theirs[0]), want, "msmtp");
    }
}

#[test]
fn auth_external_without_user_answers_the_challenge_with_an_empty_line() {
    let server = ServerBuilder::smtp()
        .starttls()
        .client_cert_required()
        .auth("EXTERNAL");
    let extra = format!("{CLIENT_CERT}\nauth external");
    let h = Home::empty();
    let (r, sessions) = cert_send(&h, POSTIE, &server, &extra, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = &sessions[0];
    assert_eq!(
        external_shape(s),
        vec![
            "AUTH EXTERNAL",
            "334",
            "<auth data>",
            "external: response \"\"",
            "235"
        ],
        "{}",
        s.transcript_text()
    );
    assert_eq!(s.auth[0].user, "");
    assert!(s.auth[0].ok && s.data_complete && s.quit);
    // msmtp 1.8.23 (GNU SASL) sends nothing after the 334 and goes on with MAIL FROM, which
    // the server takes as the response: its MAIL FROM then "fails" with the 235 (65). This
    // checks that the difference postie makes on purpose is still there.
    if Path::new(MSMTP).exists() {
        let (theirs, ts) = cert_send(&h, MSMTP, &server, &extra, &[]);
        assert_eq!(theirs.code, 65, "{}", theirs.stderr);
        assert!(
            theirs
                .stderr
                .contains("msmtp: server message: 235 2.7.0 Authentication successful"),
            "{}",
            theirs.stderr
        );
        assert_eq!(
            external_shape(&ts[0])[..4],
            [
                "AUTH EXTERNAL",
                "334",
                "<auth data>",
                "external: response \"MAIL FROM:<a@example.org>\""
            ]
        );
    }
}

#[test]
fn auth_external_without_a_client_certificate_fails_77_like_msmtp() {
    let server = ServerBuilder::smtp().starttls().auth("EXTERNAL");
    let (r, sessions, _) = cert_both(
        &server,
        "tls on\ntls_trust_file {CA}\nauth external\nuser joe",
        &[],
    );
    assert_eq!(r.code, 77, "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().take(2).collect::<Vec<_>>(),
        [
            "postie: authentication failed (method EXTERNAL)",
            "postie: server message: 535 5.7.8 Error: authentication failed"
        ]
    );
    assert!(!sessions[0].auth[0].ok && sessions[0].mail_from.is_none());
}

#[test]
fn client_key_and_certificate_errors_match_msmtp() {
    let h = Home::empty();
    let file = |name: &str, text: &str| h.write(name, text, 0o600).display().to_string();
    let empty = file("empty.pem", "");
    let garbage = file("garbage.pem", "garbage\n");
    let bad_b64_key = file(
        "badkey.pem",
        "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
    );
    let bad_b64_cert = file(
        "badcert.pem",
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    );
    let bad_der_key = file(
        "derkey.pem",
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    );
    let bad_der_cert = file(
        "dercert.pem",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    let dir = h.path().display().to_string();
    let missing = format!("{dir}/missing.pem");
    let msg = |key: &str, cert: &str, text: &str| {
        format!(
            "postie: cannot set X509 key file {} and/or X509 cert file {} for TLS session: {text}",
            with_pki_files(key),
            with_pki_files(cert)
        )
    };
    let server = ServerBuilder::smtp().starttls();
    // (cert, key, exit, first stderr line); the trust file is missing too, to show that the
    // client key and certificate are loaded first.
    let cases: Vec<(String, String, i32, String)> = vec![
        (
            "{CERT}".into(),
            missing.clone(),
            66,
            msg(&missing, "{CERT}", "Error while reading file."),
        ),
        (
            "{CERT}".into(),
            dir.clone(),
            66,
            msg(&dir, "{CERT}", "Error while reading file."),
        ),
        (
            missing.clone(),
            "{KEY}".into(),
            66,
            msg("{KEY}", &missing, "Error while reading file."),
        ),
        (
            "{CERT}".into(),
            empty.clone(),
            66,
            msg(&empty, "{CERT}", "The requested data were not available."),
        ),
        (
            "{CERT}".into(),
            "{CERT}".into(),
            66,
            msg("{CERT}", "{CERT}", "The requested data were not available."),
        ),
        (
            missing.clone(),
            garbage.clone(),
            66,
            msg(&garbage, &missing, "The requested data were not available."),
        ),
        (
            "{CERT}".into(),
            bad_b64_key.clone(),
            66,
            msg(&bad_b64_key, "{CERT}", "Base64 decoding error."),
        ),
        (
            "{CERT}".into(),
            bad_der_key.clone(),
            66,
            msg(&bad_der_key, "{CERT}", "ASN1 parser: Error in DER parsing."),
        ),
        (
            garbage.clone(),
            "{KEY}".into(),
            66,
            msg("{KEY}", &garbage, "Base64 decoding error."),
        ),
        (
            "{KEY}".into(),
            "{KEY}".into(),
            66,
            msg("{KEY}", "{KEY}", "Base64 decoding error."),
        ),
        (
            bad_b64_cert.clone(),
            "{KEY}".into(),
            66,
            msg("{KEY}", &bad_b64_cert, "Base64 unexpected header error."),
        ),
        (
            bad_der_cert.clone(),
            "{KEY}".into(),
            66,
            msg("{KEY}", &bad_der_cert, "ASN1 parser: Error in DER parsing."),
        ),
        (
            "{CERT}".into(),
            "{UKEY}".into(),
            66,
            msg(
                "{UKEY}",
                "{CERT}",
                "The certificate and the given key do not match.",
            ),
        ),
    ];
    for (cert, key, code, first) in cases {
        let extra = format!(
            "tls on\ntls_trust_file {dir}/missing-ca.pem\ntls_cert_file {cert}\ntls_key_file {key}"
        );
        let (r, sessions, _) = cert_both(&server, &extra, &[]);
        assert_eq!(r.code, code, "{extra}: {}", r.stderr);
        assert_eq!(r.stderr.lines().next(), Some(first.as_str()), "{extra}");
        assert!(sessions.is_empty(), "loaded before connecting");
    }
    // Only one of the two configured: a configuration error (78), whether or not TLS is on.
    for (extra, text) in [
        (
            "tls on\ntls_trust_file {CA}\ntls_key_file {KEY}",
            "tls_key_file requires tls_cert_file",
        ),
        (
            "tls on\ntls_trust_file {CA}\ntls_cert_file {CERT}",
            "tls_cert_file requires tls_key_file",
        ),
        ("tls_key_file {KEY}", "tls_key_file requires tls_cert_file"),
    ] {
        let (r, sessions, _) = cert_both(&server, extra, &[]);
        assert_eq!(r.code, 78, "{extra}: {}", r.stderr);
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("postie: account default from ") && first.ends_with(text),
            "{first}"
        );
        assert!(sessions.is_empty());
    }
}

#[test]
fn client_files_are_not_loaded_without_tls() {
    let (r, sessions, _) = cert_both(
        &ServerBuilder::smtp(),
        "tls off\ntls_cert_file /nonexistent/c.pem\ntls_key_file /nonexistent/k.pem",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sessions[0].data_complete);
}

#[test]
fn serverinfo_and_rmqs_connect_before_loading_tls_files_like_msmtp() {
    let bad = "tls on\ntls_certcheck off\ntls_cert_file {CERT}\ntls_key_file /nonexistent/k.pem";
    for args in [&["-S"][..], &["--rmqs=@example.org"][..]] {
        let (r, _, _) = cert_both(&ServerBuilder::smtp().no_listen(), bad, args);
        assert_eq!(r.code, 75, "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.lines().next(),
            Some("postie: cannot connect to 127.0.0.1, port {PORT}: Connection refused")
        );
        let (r, sessions, theirs) = cert_both(&ServerBuilder::smtp().starttls(), bad, args);
        assert_eq!(r.code, 66, "{args:?}: {}", r.stderr);
        assert_eq!(sessions.len(), 1);
        if let Some(theirs) = theirs {
            assert_eq!(
                sessions[0].transcript_text(),
                theirs[0].transcript_text(),
                "{args:?}"
            );
        }
    }
    // Sending loads them first (a refused connection is never reached).
    let (r, _, _) = cert_both(&ServerBuilder::smtp().no_listen(), bad, &[]);
    assert_eq!(r.code, 66, "{}", r.stderr);
}

#[test]
fn source_ip_binds_the_local_address() {
    // Linux routes all of 127.0.0.0/8 to the loopback interface, so 127.0.0.2 is assignable.
    let want: std::net::IpAddr = [127, 0, 0, 2].into();
    for (extra, args) in [
        ("source_ip 127.0.0.2", &[][..]),
        ("", &["--source-ip=127.0.0.2"][..]),
    ] {
        let (r, sessions, theirs) = cert_both(&ServerBuilder::smtp(), extra, args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        for s in sessions.iter().chain(theirs.iter().flatten()) {
            assert_eq!(s.peer.map(|a| a.ip()), Some(want));
            assert!(s.data_complete);
        }
    }
    // Without source_ip the kernel picks 127.0.0.1.
    let (_, sessions, _) = cert_both(&ServerBuilder::smtp(), "", &[]);
    assert_eq!(
        sessions[0].peer.map(|a| a.ip()),
        Some([127, 0, 0, 1].into())
    );
}

#[test]
fn source_ip_failures_are_oserr_71_like_msmtp() {
    for (ip, text) in [
        ("192.0.2.1", "Cannot assign requested address"),
        ("::1", "Address family not supported by protocol"),
        ("nonsense", "Invalid argument"),
    ] {
        let (r, sessions, _) = cert_both(&ServerBuilder::smtp(), &format!("source_ip {ip}"), &[]);
        assert_eq!(r.code, 71, "{ip}: {}", r.stderr);
        let want = format!("postie: cannot bind source ip {ip}: {text}");
        assert_eq!(r.stderr.lines().next(), Some(want.as_str()));
        assert!(sessions.is_empty());
    }
}

// ---- bounded file reads ---------------------------------------------------------------------

/// Runs postie with at most 300 MB of address space and a 20 s deadline (`timeout` exits 124),
/// and returns the run with its duration.
fn run_bounded(h: &Home, args: &[&str], env: &[(&str, String)]) -> (Run, std::time::Duration) {
    let mut a = vec![
        "20",
        "sh",
        "-c",
        "ulimit -v 300000; exec \"$0\" \"$@\"",
        POSTIE,
    ];
    a.extend_from_slice(args);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = std::time::Instant::now();
    let r = h.run_with(
        &a,
        b"Subject: x\n\nbody\n",
        &Options::default().program("timeout").env(&env),
    );
    (r, t.elapsed())
}

#[test]
fn endless_config_file_stops_at_msmtps_line_limit() {
    let h = Home::empty();
    for dev in ["/dev/zero", "/dev/urandom"] {
        let (r, took) = run_bounded(&h, &["-C", dev, "r@example.org"], &[]);
        assert_eq!(r.code, 78, "{dev}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!("postie: {dev}: line ")),
            "{dev}: {}",
            r.stderr
        );
        assert!(took.as_secs() < 10, "{dev} took {took:?}");
    }
    let (r, _) = run_bounded(&h, &["-C", "/dev/zero", "r@example.org"], &[]);
    assert_eq!(
        r.stderr,
        "postie: /dev/zero: line longer than 500 characters\n"
    );
}

#[test]
fn endless_aliases_file_stops_at_msmtps_line_limit() {
    let h = Home::empty();
    let rc = h.write(
        "rc",
        "account default\nhost 127.0.0.1\nport 9\nfrom a@example.org\n",
        0o600,
    );
    let rc = rc.to_str().expect("utf-8");
    let (r, took) = run_bounded(&h, &["-C", rc, "--aliases=/dev/zero", "root"], &[]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "postie: /dev/zero: line 1: longer than 511 characters\n"
    );
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn oversize_netrc_is_a_config_error() {
    let h = Home::empty();
    let s = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "sekret")
        .start();
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom a@example.org\nauth plain\nuser joe\n",
            s.port()
        ),
        0o600,
    );
    std::os::unix::fs::symlink("/dev/zero", h.path().join(".netrc")).expect("symlink");
    // The keyring is asked first and has nothing (a fake secret-tool that knows no item).
    let path = ("PATH", fake_secret_tool(&h, "nothing", "x"));
    let (r, took) = run_bounded(&h, &["r@example.org"], std::slice::from_ref(&path));
    assert_eq!(r.code, 78, "{}", r.stderr);
    let netrc = h.path().join(".netrc");
    assert!(
        r.stderr.starts_with(&format!(
            "postie: {}: file is too large (over 1048576 bytes)\n",
            netrc.display()
        )),
        "{}",
        r.stderr
    );
    assert!(took.as_secs() < 10, "took {took:?}");
    std::fs::remove_file(&netrc).expect("rm");
    let mut big = " ".repeat(1 << 20);
    big.push_str("machine 127.0.0.1 login joe password sekret\n");
    h.write(".netrc", &big, 0o600);
    let (r, _) = run_bounded(&h, &["r@example.org"], &[path]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(r.stderr.contains("file is too large"), "{}", r.stderr);
    let sessions = s.finish();
    assert!(sessions.iter().all(|s| s.data.is_none()));
}

#[test]
fn dev_null_and_pipes_still_work_as_config_files() {
    let h = Home::empty();
    // msmtp: an empty file is read fine, and then has no default account.
    let (r, _) = run_bounded(&h, &["-C", "/dev/null", "r@example.org"], &[]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert_eq!(r.stderr, "postie: account default not found in /dev/null\n");
    let s = ServerBuilder::smtp().start();
    let script = format!(
        "exec \"$0\" -C <(printf 'account default\\nhost 127.0.0.1\\nport {}\\nfrom a@example.org\\n') r@example.org",
        s.port()
    );
    let r = h.run_with(
        &["-c", &script, POSTIE],
        b"Subject: x\n\nbody\n",
        &Options::default().program("bash"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sessions = s.finish();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].data_complete);
}

// ---- server text on the terminal -------------------------------------------------------------

/// Control characters, ESC sequences, bidi overrides and the like from a hostile server.
const HOSTILE: &str = "\x1b[2J\x07\x00\r\x7f\t\u{9b}31m\u{202e}gpj.exe";
/// [`HOSTILE`] as postie shows it.
const HOSTILE_SHOWN: &str = "?[2J??????31m?gpj.exe";

/// Panics on anything in `out` a terminal would obey or render out of order: C0 controls but
/// LF (and CR right before LF where `crlf` allows msmtp's transcript line end), DEL, C1
/// controls and bidi formatting characters.
fn assert_terminal_safe(what: &str, out: &str, crlf: bool) {
    let chars: Vec<char> = out.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let ok = match c {
            '\n' => true,
            '\r' => crlf && chars.get(i + 1) == Some(&'\n'),
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' => false,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => false,
            c => !c.is_control(),
        };
        assert!(ok, "{what}: {c:?} at {i} in {out:?}");
    }
}

#[test]
fn serverinfo_shows_control_characters_as_question_marks_like_msmtp() {
    let h = Home::empty();
    let servers = Mutex::new(Vec::new());
    let start = || {
        let s = ServerBuilder::smtp()
            .greeting("220 evil\x1b[2J\x07bell\ttab\rcr\x7fdel Grüße ESMTP")
            .cap("X-EVIL\x1b]0;title\x07")
            .cap("SIZE 1000")
            .start();
        let p = s.port();
        servers.lock().expect("lock").push(s);
        p
    };
    let r = h.run_both(&["--host=127.0.0.1", "--port={PORT}", "-S"], &start);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("\n    evil?[2J?bell?tab?cr?del Grüße ESMTP\n"),
        "{}",
        r.stdout
    );
    assert_terminal_safe("stdout", &r.stdout, false);
}

#[test]
fn serverinfo_sanitises_nul_c1_bidi_and_the_certificate_subject() {
    let h = Home::empty();
    let s = ServerBuilder::smtp()
        .greeting(&format!("220 a{HOSTILE} ESMTP"))
        .starttls()
        .cert(CertChoice::ControlChars)
        .start();
    let ca = pki().ca_pem.display().to_string();
    let r = h.run(
        &[
            "--host=localhost",
            &format!("--port={}", s.port()),
            "-S",
            "--tls",
            &format!("--tls-trust-file={ca}"),
        ],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("\n    a{HOSTILE_SHOWN} ESMTP\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "    Subject:\n        CN=evil?[2J???????31m?gpj.exe,O=Org?]0\\;pwned?\n    Issuer:\n"
        ),
        "{}",
        r.stdout
    );
    assert_terminal_safe("stdout", &r.stdout, false);
    assert_terminal_safe("stderr", &r.stderr, false);
}

#[test]
fn debug_transcript_sanitises_server_lines_and_certificate() {
    let h = Home::empty();
    let s = ServerBuilder::smtp()
        .greeting(&format!("220 g{HOSTILE}"))
        .cap(&format!("X-CAP{HOSTILE}"))
        .starttls()
        .cert(CertChoice::ControlChars)
        .reply(Stage::Quit, &format!("221 bye{HOSTILE}"))
        .eod_reply(&format!("250 queued{HOSTILE}"))
        .start();
    h.write(
        ".msmtprc",
        &format!(
            "account default\nhost localhost\nport {}\nfrom a@example.org\ntls on\n\
             tls_trust_file {}\n",
            s.port(),
            pki().ca_pem.display()
        ),
        0o600,
    );
    let r = h.run(&["-d", "r@example.org"], b"Subject: x\n\nbody\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in [
        format!("<-- 220 g{HOSTILE_SHOWN}\r\n"),
        format!("<-- 250 X-CAP{HOSTILE_SHOWN}\r\n"),
        format!("<-- 221 bye{HOSTILE_SHOWN}\r\n"),
        format!("<-- 250 queued{HOSTILE_SHOWN}\r\n"),
        "        CN=evil?[2J???????31m?gpj.exe,O=Org?]0\\;pwned?\n".to_string(),
    ] {
        assert!(r.stdout.contains(&line), "{line:?} in {}", r.stdout);
    }
    assert_terminal_safe("stdout", &r.stdout, true);
    assert_terminal_safe("stderr", &r.stderr, false);
}

#[test]
fn error_texts_sanitise_server_replies_smtp_lmtp_and_rmqs() {
    let h = Home::empty();
    // SMTP: a refused envelope sender.
    let s = ServerBuilder::smtp()
        .reply(Stage::Mail, &format!("550 5.1.0 no{HOSTILE}"))
        .start();
    let rc = |port: u16, proto: &str| {
        h.write(
            ".msmtprc",
            &format!(
                "account default\nhost 127.0.0.1\nport {port}\nprotocol {proto}\n\
                 from a@example.org\n"
            ),
            0o600,
        );
    };
    rc(s.port(), "smtp");
    let r = h.run(&["r@example.org"], b"Subject: x\n\nbody\n");
    assert_eq!(r.code, 65, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "postie: server message: 550 5.1.0 no{HOSTILE_SHOWN}\n"
        )),
        "{}",
        r.stderr
    );
    assert_terminal_safe("smtp stderr", &r.stderr, false);
    // LMTP: a per-recipient refusal after the data.
    let s = ServerBuilder::lmtp()
        .lmtp_reply(2, &format!("550 5.1.1 gone{HOSTILE}"))
        .start();
    rc(s.port(), "lmtp");
    let r = h.run(
        &["r1@example.org", "r2@example.org"],
        b"Subject: x\n\nbody\n",
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("gone{HOSTILE_SHOWN}")),
        "{}",
        r.stderr
    );
    assert_terminal_safe("lmtp stderr", &r.stderr, false);
    // --rmqs: a refused ETRN.
    let (r, _) = rmqs_case(&["ETRN"], "458 4.0.0 unable\x1b[2J\u{202e}\x07", &[]);
    assert_eq!(r.code, 69, "{}", r.stderr);
    assert!(
        r.stderr
            .ends_with("postie: server message: 458 4.0.0 unable?[2J??\n"),
        "{}",
        r.stderr
    );
    assert_terminal_safe("rmqs stderr", &r.stderr, false);
}
