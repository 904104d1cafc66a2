//! Real-socket tests of the TLS layer: a rustls server thread with an rcgen certificate for
//! "localhost", driven through `smtp::Client` (implicit TLS, STARTTLS, trust file, fingerprint
//! pinning, certcheck off, wrong CA).

use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::Sysexit;
use crate::net::tls::Fingerprint;
use crate::net::{Target, TlsSettings, Trust};
use crate::smtp::{self, SessionSettings};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use sha2::Digest;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

struct Pki {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

fn pki() -> Pki {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    Pki {
        cert_pem: ck.cert.pem(),
        cert_der: ck.cert.der().clone(),
        key_der: ck.key_pair.serialize_der(),
    }
}

/// A self-signed server certificate that is also a CA (what `openssl req -x509` makes).
fn pki_ca() -> Pki {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let kp = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&kp).expect("self-signed");
    Pki {
        cert_pem: cert.pem(),
        cert_der: cert.der().clone(),
        key_der: kp.serialize_der(),
    }
}

fn server_config(p: &Pki) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p.key_der.clone()));
    Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![p.cert_der.clone()], key)
            .expect("server cert"),
    )
}

fn read_line<S: Read>(s: &mut S) -> Option<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(1) => {
                if b[0] == b'\n' {
                    let t = String::from_utf8_lossy(&line).trim_end().to_string();
                    return Some(t);
                }
                line.push(b[0]);
            }
            _ => return None,
        }
    }
}

/// Serves one SMTP dialogue; returns true if the client asked for STARTTLS (after 220).
fn serve<S: Read + Write>(s: &mut S, greet: bool, offer_starttls: bool) -> bool {
    if greet && s.write_all(b"220 test ESMTP\r\n").is_err() {
        return false;
    }
    let _ = s.flush();
    while let Some(line) = read_line(s) {
        let up = line.to_ascii_uppercase();
        let reply: &[u8] = if up.starts_with("EHLO") {
            if offer_starttls {
                b"250-test\r\n250 STARTTLS\r\n"
            } else {
                b"250-test\r\n250 PIPELINING\r\n"
            }
        } else if up == "STARTTLS" {
            let _ = s.write_all(b"220 go ahead\r\n");
            let _ = s.flush();
            return true;
        } else if up == "DATA" {
            let _ = s.write_all(b"354 go\r\n");
            let _ = s.flush();
            while let Some(l) = read_line(s) {
                if l == "." {
                    break;
                }
            }
            b"250 queued\r\n"
        } else if up == "QUIT" {
            let _ = s.write_all(b"221 bye\r\n");
            let _ = s.flush();
            return false;
        } else {
            b"250 ok\r\n"
        };
        if s.write_all(reply).is_err() {
            return false;
        }
        let _ = s.flush();
    }
    false
}

/// Starts a one-connection server; `implicit` selects TLS right away versus STARTTLS.
fn start_server(cfg: Arc<ServerConfig>, implicit: bool) -> (u16, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = thread::spawn(move || {
        let Ok((mut tcp, _)) = l.accept() else { return };
        let tls = |tcp: TcpStream| {
            ServerConnection::new(cfg.clone())
                .ok()
                .map(|c| StreamOwned::new(c, tcp))
        };
        if implicit {
            if let Some(mut t) = tls(tcp) {
                serve(&mut t, true, false);
            }
        } else if serve(&mut tcp, true, true)
            && let Some(mut t) = tls(tcp)
        {
            serve(&mut t, false, false);
        }
    });
    (port, h)
}

fn colon_sha256(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn deliver(
    port: u16,
    tls: &TlsSettings,
    transcript: &mut Vec<u8>,
) -> crate::error::Result<Outcome> {
    let target = Target {
        host: Some("127.0.0.1".into()),
        port,
        timeout: Some(std::time::Duration::from_secs(10)),
        ..Target::default()
    };
    let env = Envelope {
        from: "a@b.c".into(),
        recipients: vec!["r@x.y".into()],
    };
    let mut password = |_| Ok(Some("unused".to_string()));
    let mut client = smtp::Client::open(
        &target,
        tls,
        &SessionSettings::default(),
        &mut password,
        Some(transcript),
    )?;
    let outcome = client.send(&env, RecipientPolicy::AllOrNothing, &mut |w| {
        w.write_all(b"Subject: t\r\n\r\nhello\r\n")
            .map_err(smtp::write_error)?;
        Ok(20)
    })?;
    client.quit();
    Ok(outcome)
}

fn trust_file(pem: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    f.write_all(pem.as_bytes()).expect("write");
    f
}

fn base(p: &std::path::Path, starttls: bool) -> TlsSettings {
    TlsSettings {
        enabled: true,
        starttls,
        trust: Trust::File(p.to_path_buf()),
        certcheck: true,
        host_override: Some("localhost".into()),
        ..TlsSettings::default()
    }
}

#[test]
fn starttls_with_trust_file_delivers() {
    let p = pki();
    let f = trust_file(&p.cert_pem);
    let (port, h) = start_server(server_config(&p), false);
    let mut t = Vec::new();
    let d = deliver(port, &base(f.path(), true), &mut t).expect("delivered");
    assert_eq!(d.final_reply.map(|r| r.code), Some(250));
    let _ = h.join();
    let t = String::from_utf8_lossy(&t);
    assert!(
        t.contains("--> STARTTLS\r\n<-- 220 go ahead\r\nTLS session parameters:\n"),
        "{t}"
    );
    assert!(t.contains("        CN=rcgen self signed cert\n"), "{t}");
    assert!(
        t.contains(&format!("        SHA256: {}\n", colon_sha256(&p.cert_der))),
        "{t}"
    );
}

#[test]
fn implicit_tls_with_trust_file_delivers() {
    let p = pki();
    let f = trust_file(&p.cert_pem);
    let (port, h) = start_server(server_config(&p), true);
    let mut t = Vec::new();
    let d = deliver(port, &base(f.path(), false), &mut t).expect("delivered");
    assert_eq!(d.final_reply.map(|r| r.code), Some(250));
    let _ = h.join();
    assert!(String::from_utf8_lossy(&t).starts_with("TLS session parameters:\n"));
}

#[test]
fn fingerprint_pinning_accepts_right_and_rejects_wrong() {
    let p = pki();
    let fp = colon_sha256(&p.cert_der);
    let tls = TlsSettings {
        enabled: true,
        starttls: false,
        trust: Trust::None,
        fingerprint: Fingerprint::parse(&fp.to_lowercase()),
        certcheck: true,
        ..TlsSettings::default()
    };
    let (port, h) = start_server(server_config(&p), true);
    deliver(port, &tls, &mut Vec::new()).expect("pinned ok");
    let _ = h.join();

    // A fingerprint that differs from the real one in its first byte (the certificate is new
    // every run, so a fixed "00" would match it one time in 256).
    let first = if fp.starts_with("00") { "01" } else { "00" };
    let wrong = TlsSettings {
        fingerprint: Fingerprint::parse(&format!("{first}{}", &fp[2..])),
        ..tls
    };
    let (port, h) = start_server(server_config(&p), true);
    let e = deliver(port, &wrong, &mut Vec::new()).expect_err("mismatch");
    assert_eq!(
        e.message,
        "TLS certificate verification failed: the certificate fingerprint does not match"
    );
    assert_eq!(e.exit, Sysexit::Unavailable);
    assert!(e.in_send_stage);
    let _ = h.join();
}

#[test]
fn certcheck_off_accepts_any_certificate() {
    let p = pki();
    let tls = TlsSettings {
        enabled: true,
        starttls: true,
        trust: Trust::None,
        certcheck: false,
        ..TlsSettings::default()
    };
    let (port, h) = start_server(server_config(&p), false);
    deliver(port, &tls, &mut Vec::new()).expect("no checks");
    let _ = h.join();
}

#[test]
fn wrong_ca_is_verification_failure_69() {
    let p = pki();
    let other = pki();
    let f = trust_file(&other.cert_pem);
    let (port, h) = start_server(server_config(&p), false);
    let e = deliver(port, &base(f.path(), true), &mut Vec::new()).expect_err("untrusted");
    assert_eq!(
        e.message,
        "TLS certificate verification failed: The certificate is NOT trusted. The certificate issuer is unknown. "
    );
    assert_eq!(e.exit, Sysexit::Unavailable);
    let _ = h.join();
}

#[test]
fn wrong_host_name_is_verification_failure_69() {
    let p = pki();
    let f = trust_file(&p.cert_pem);
    let (port, h) = start_server(server_config(&p), true);
    let tls = TlsSettings {
        host_override: None,
        ..base(f.path(), false)
    };
    let e = deliver(port, &tls, &mut Vec::new()).expect_err("name mismatch");
    assert_eq!(
        e.message,
        "TLS certificate verification failed: The certificate is NOT trusted. The name in the certificate does not match the expected. "
    );
    assert_eq!(e.exit, Sysexit::Unavailable);
    let _ = h.join();
}

#[test]
fn handshake_with_plain_server_is_protocol_76() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.write_all(b"220 plain text server\r\n");
            let mut b = [0u8; 512];
            let _ = s.read(&mut b);
        }
    });
    let tls = TlsSettings {
        enabled: true,
        starttls: false,
        certcheck: false,
        ..TlsSettings::default()
    };
    let e = deliver(port, &tls, &mut Vec::new()).expect_err("not tls");
    assert!(
        e.message.starts_with("TLS handshake failed: "),
        "{}",
        e.message
    );
    assert_eq!(e.exit, Sysexit::Protocol);
    let _ = h.join();
}

#[test]
fn self_signed_ca_server_certificate_in_trust_file_is_accepted() {
    let p = pki_ca();
    let f = trust_file(&p.cert_pem);
    let (port, h) = start_server(server_config(&p), true);
    deliver(port, &base(f.path(), false), &mut Vec::new()).expect("trusted as is");
    let _ = h.join();
    // The host name is still checked.
    let (port, h) = start_server(server_config(&p), true);
    let tls = TlsSettings {
        host_override: Some("other.example".into()),
        ..base(f.path(), false)
    };
    let e = deliver(port, &tls, &mut Vec::new()).expect_err("name mismatch");
    assert_eq!(
        e.message,
        "TLS certificate verification failed: The certificate is NOT trusted. The name in the certificate does not match the expected. "
    );
    let _ = h.join();
}

/// Connects and runs the implicit-TLS handshake on a bare connection.
fn handshake_only(
    port: u16,
    tls: &TlsSettings,
) -> (crate::net::tls::Conn, crate::error::Result<()>) {
    let target = Target {
        host: Some("127.0.0.1".into()),
        port,
        timeout: Some(std::time::Duration::from_secs(10)),
        ..Target::default()
    };
    let (mut conn, _) =
        crate::net::open(&target, tls, crate::net::TlsFiles::BeforeConnect).expect("connect");
    let r = conn.start_tls().map(|_| ());
    (conn, r)
}

#[test]
fn peer_certificate_and_version_are_known_after_a_handshake() {
    let p = pki();
    let f = trust_file(&p.cert_pem);
    let (port, h) = start_server(server_config(&p), true);
    let (conn, r) = handshake_only(port, &base(f.path(), false));
    r.expect("handshake");
    let cert = conn.peer_certificate().expect("certificate");
    assert_eq!(cert.subject, "CN=rcgen self signed cert");
    assert_eq!(cert.sha256, colon_sha256(&p.cert_der));
    assert!(cert.not_after > cert.not_before);
    assert!(matches!(
        conn.tls_version().as_deref(),
        Some("TLS1.3" | "TLS1.2")
    ));
    drop(conn);
    let _ = h.join();
}

#[test]
fn peer_certificate_is_known_after_a_refused_handshake() {
    let p = pki();
    let other = pki();
    let f = trust_file(&other.cert_pem);
    let (port, h) = start_server(server_config(&p), true);
    let (conn, r) = handshake_only(port, &base(f.path(), false));
    assert!(r.is_err());
    assert_eq!(
        conn.peer_certificate().map(|c| c.sha256),
        Some(colon_sha256(&p.cert_der))
    );
    assert_eq!(conn.tls_version(), None);
    drop(conn);
    let _ = h.join();
}
