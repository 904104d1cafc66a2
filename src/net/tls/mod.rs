//! TLS for the SMTP connection, on rustls with the ring provider (msmtp.md section 6).
//!
//! It owns the trust decision, which differs from plain WebPKI in msmtp's ways: a pinned leaf
//! fingerprint (SHA-256/SHA-1/MD5) replaces every CA and name check; `tls_certcheck off` accepts
//! any certificate; otherwise the chain is verified against the system store or a PEM trust file,
//! including the host name (`tls_host_override` or `host`). In every mode the handshake
//! signatures are still verified, so a pinned key really has to be held by the server.
//! Verification failures are remembered by the verifier so they can be reported as msmtp does
//! (`TLS certificate verification failed: ...`, 69) instead of as a generic handshake error (76).
//!
//! [`context`] builds the client configuration and loads the trust, CRL and client files;
//! [`verify`] makes the trust decision; [`describe`] writes the `-d` session description; this
//! module holds the settings and the connection wrapper that starts TLS in place.

mod context;
mod describe;
#[cfg(test)]
mod handshake_tests;
mod verify;

pub use context::TlsContext;

use crate::error::{Error, Result, Sysexit};
use crate::net::{Stream, strerror};
use rustls::{ClientConnection, StreamOwned};
use sha1::Digest;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// Where trusted CA certificates come from (`tls_trust_file`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Trust {
    /// `tls_trust_file system`: the platform store, loaded only when actually needed.
    #[default]
    System,
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// No trust anchors (only useful with a fingerprint or `tls_certcheck off`).
    None,
}

/// The TLS settings of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tls on`.
    pub enabled: bool,
    /// `tls_starttls on` (STARTTLS) versus implicit TLS right after connecting.
    pub starttls: bool,
    /// `tls_trust_file`.
    pub trust: Trust,
    /// `tls_fingerprint`.
    pub fingerprint: Option<Fingerprint>,
    /// `tls_certcheck`.
    pub certcheck: bool,
    /// `tls_host_override`: the name used for SNI and certificate checks instead of `host`.
    pub host_override: Option<String>,
    /// `tls_cert_file`: client certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// `tls_key_file`: client private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `tls_crl_file`: certificate revocation lists (PEM).
    pub crl_file: Option<PathBuf>,
    /// `tls_priorities`: a GnuTLS priority string; rustls has no equivalent, so it is ignored.
    pub priorities: Option<String>,
    /// `tls_min_dh_prime_bits`: rustls offers no finite-field DH, so it is ignored.
    pub min_dh_prime_bits: Option<u32>,
}

/// A parsed `tls_fingerprint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fingerprint {
    /// 32 bytes.
    Sha256(Vec<u8>),
    /// 20 bytes.
    Sha1(Vec<u8>),
    /// 16 bytes.
    Md5(Vec<u8>),
}

impl Fingerprint {
    /// Parses msmtp's fingerprint syntax: 95 (SHA-256), 59 (SHA-1) or 47 (MD5) characters,
    /// hex pairs separated by ':' or ' ', any case. `None` if malformed.
    pub fn parse(s: &str) -> Option<Fingerprint> {
        let n = match s.len() {
            95 => 32,
            59 => 20,
            47 => 16,
            _ => return None,
        };
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 && b[3 * i - 1] != b':' && b[3 * i - 1] != b' ' {
                return None;
            }
            let hex = std::str::from_utf8(&b[3 * i..3 * i + 2]).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
        }
        Some(match n {
            32 => Fingerprint::Sha256(out),
            20 => Fingerprint::Sha1(out),
            _ => Fingerprint::Md5(out),
        })
    }

    /// The hash bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Fingerprint::Sha256(b) | Fingerprint::Sha1(b) | Fingerprint::Md5(b) => b,
        }
    }

    fn matches(&self, der: &[u8]) -> bool {
        match self {
            Fingerprint::Sha256(want) => sha2::Sha256::digest(der).as_slice() == want.as_slice(),
            Fingerprint::Sha1(want) => sha1::Sha1::digest(der).as_slice() == want.as_slice(),
            Fingerprint::Md5(want) => md5::Md5::digest(der).as_slice() == want.as_slice(),
        }
    }
}

/// msmtp's spelling, as `-P` prints it: upper-case hex pairs joined by ':'.
impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// The RFC 9266 exporter label for `tls-exporter` channel binding (32 bytes, empty context).
pub const TLS_EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// The length of the `tls-exporter` channel-binding value.
pub const TLS_EXPORTER_LEN: usize = 32;

/// A TLS-wrapped server connection.
pub type TlsStream = StreamOwned<ClientConnection, Stream>;

/// The text of an I/O error from a TLS stream: rustls protocol errors, or GnuTLS's wording for
/// a connection closed without close_notify, or the C library's text.
pub fn io_error_text(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return "The TLS connection was non-properly terminated.".to_string();
    }
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        // GnuTLS's wording for the failures seen in practice (plain-text server on a TLS port,
        // server-side abort); anything else keeps rustls's description.
        return match inner {
            rustls::Error::InvalidMessage(_) => "An unexpected TLS packet was received.".into(),
            rustls::Error::AlertReceived(_) => "A TLS fatal alert has been received.".into(),
            other => other.to_string(),
        };
    }
    strerror(e)
}

/// What the server's certificate says (`postie check`): the leaf it presented in the last
/// handshake, whether or not it was trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The subject, RFC 4514 (control characters as `?`); empty if it could not be read.
    pub subject: String,
    /// The issuer, likewise.
    pub issuer: String,
    /// Validity, in seconds since the Unix epoch; 0 if it could not be read.
    pub not_before: i64,
    pub not_after: i64,
    /// The SHA-256 fingerprint in `tls_fingerprint`'s syntax (`AB:CD:...`).
    pub sha256: String,
}

impl PeerCertificate {
    fn from_der(der: &[u8]) -> PeerCertificate {
        let info = crate::net::x509::parse(der);
        PeerCertificate {
            subject: info.as_ref().map(|i| i.subject.clone()).unwrap_or_default(),
            issuer: info.as_ref().map(|i| i.issuer.clone()).unwrap_or_default(),
            not_before: info.as_ref().map_or(0, |i| i.not_before),
            not_after: info.as_ref().map_or(0, |i| i.not_after),
            sha256: describe::colon_hex(&sha2::Sha256::digest(der)),
        }
    }
}

/// The server connection: plain, or TLS after implicit TLS or STARTTLS.
#[derive(Debug)]
pub struct Conn {
    inner: Inner,
    tls: Option<TlsContext>,
}

#[derive(Debug)]
enum Inner {
    Plain(Stream),
    Tls(Box<TlsStream>),
    /// Only seen after a failed handshake consumed the stream.
    Closed,
}

impl Conn {
    /// Wraps a fresh connection; `tls` is the context used by [`Conn::start_tls`].
    pub fn new(stream: Stream, tls: Option<TlsContext>) -> Conn {
        Conn {
            inner: Inner::Plain(stream),
            tls,
        }
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// The RFC 9266 `tls-exporter` channel-binding value (label `EXPORTER-Channel-Binding`,
    /// empty context, 32 bytes), only under TLS 1.3: on TLS 1.2 the exporter is not bound to
    /// the session unless the extended master secret was used, which rustls does not report.
    pub fn tls_exporter(&self) -> Option<Vec<u8>> {
        let Inner::Tls(t) = &self.inner else {
            return None;
        };
        if t.conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
            return None;
        }
        let mut out = vec![0u8; TLS_EXPORTER_LEN];
        t.conn
            .export_keying_material(&mut out[..], TLS_EXPORTER_LABEL, Some(&[]))
            .ok()?;
        Some(out)
    }

    /// The certificate the server presented in the last TLS handshake on this connection,
    /// also after a handshake that failed because of it (expired, unknown issuer); `None`
    /// before any handshake or when the server sent none.
    pub fn peer_certificate(&self) -> Option<PeerCertificate> {
        let der = self.tls.as_ref()?.peer_leaf()?;
        Some(PeerCertificate::from_der(&der))
    }

    /// The negotiated TLS version (`TLS1.3`, `TLS1.2`) while TLS is active.
    pub fn tls_version(&self) -> Option<String> {
        match &self.inner {
            Inner::Tls(t) => Some(describe::version_name(&t.conn)),
            _ => None,
        }
    }

    /// Runs the TLS handshake in place. Returns the `-d` description lines.
    pub fn start_tls(&mut self) -> Result<Vec<String>> {
        let Some(ctx) = self.tls.clone() else {
            return Err(Error::new(
                Sysexit::Software,
                "cannot initialize TLS session: TLS is not configured",
            ));
        };
        match std::mem::replace(&mut self.inner, Inner::Closed) {
            Inner::Plain(s) => {
                let (t, info) = ctx.handshake(s)?;
                self.inner = Inner::Tls(Box::new(t));
                Ok(info)
            }
            other => {
                self.inner = other;
                Err(Error::new(
                    Sysexit::Software,
                    "cannot initialize TLS session: TLS is already active",
                ))
            }
        }
    }
}

fn closed() -> io::Error {
    io::Error::from(io::ErrorKind::NotConnected)
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.read(buf),
            Inner::Tls(s) => s.read(buf),
            Inner::Closed => Err(closed()),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(s) => s.write(buf),
            Inner::Tls(s) => s.write(buf),
            Inner::Closed => Err(closed()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(s) => s.flush(),
            Inner::Tls(s) => s.flush(),
            Inner::Closed => Err(closed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_syntax_is_msmtps() {
        let md5 = ["ab"; 16].join(":");
        assert_eq!(
            Fingerprint::parse(&md5),
            Some(Fingerprint::Md5(vec![0xab; 16]))
        );
        assert_eq!(
            Fingerprint::parse(&["AB"; 16].join(" ")),
            Some(Fingerprint::Md5(vec![0xab; 16]))
        );
        assert_eq!(
            Fingerprint::parse(&["aB"; 20].join(":")),
            Some(Fingerprint::Sha1(vec![0xab; 20]))
        );
        assert_eq!(
            Fingerprint::parse(&["01"; 32].join(":")),
            Some(Fingerprint::Sha256(vec![1; 32]))
        );
        for bad in [
            ["ab"; 16].join("-"),
            "ab".repeat(16),
            ["gg"; 16].join(":"),
            ["AB"; 32].join(":").replace('A', "G"),
            format!("{md5}:"),
            format!("0x{}", &md5[2..]),
            "AA:BB".to_string(),
        ] {
            assert_eq!(Fingerprint::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn fingerprint_displays_as_msmtp_prints_it() {
        let f = Fingerprint::parse(&["ab"; 16].join(" ")).expect("md5");
        assert_eq!(f.to_string(), ["AB"; 16].join(":"));
    }

    const SHA256: &str = "10:DB:F0:2E:11:1C:44:10:84:F9:84:A3:A0:4E:24:B3:A2:98:13:CA:AF:62:98:87:08:E8:52:04:74:AB:A2:52";

    #[test]
    fn fingerprint_lengths_select_the_hash() {
        assert!(matches!(
            Fingerprint::parse(SHA256),
            Some(Fingerprint::Sha256(v)) if v.len() == 32 && v[0] == 0x10
        ));
        let sha1 = &SHA256[..59];
        assert!(matches!(
            Fingerprint::parse(sha1),
            Some(Fingerprint::Sha1(_))
        ));
        let md5 = &SHA256[..47];
        assert!(matches!(Fingerprint::parse(md5), Some(Fingerprint::Md5(_))));
    }

    #[test]
    fn fingerprint_accepts_spaces_and_lowercase() {
        let spaced = SHA256.replace(':', " ").to_lowercase();
        assert_eq!(Fingerprint::parse(&spaced), Fingerprint::parse(SHA256));
    }

    #[test]
    fn fingerprint_rejects_malformed() {
        assert_eq!(Fingerprint::parse("11:DB"), None);
        let bad = SHA256.replace("DB", "ZZ");
        assert_eq!(Fingerprint::parse(&bad), None);
        let bad_sep = SHA256.replacen(':', "-", 1);
        assert_eq!(Fingerprint::parse(&bad_sep), None);
    }

    #[test]
    fn unreadable_trust_file_is_noinput_66() {
        let s = TlsSettings {
            enabled: true,
            certcheck: true,
            trust: Trust::File("/nonexistent".into()),
            ..TlsSettings::default()
        };
        let e = TlsContext::new(&s, "localhost").expect_err("fails");
        assert_eq!(e.exit, Sysexit::NoInput);
        assert_eq!(
            e.message,
            "cannot set X509 trust file /nonexistent for TLS session: Error while reading file."
        );
    }

    #[test]
    fn endless_tls_files_are_refused_at_the_size_limit() {
        let too_large = "file is too large (over 67108864 bytes)";
        let mut s = TlsSettings {
            enabled: true,
            certcheck: true,
            trust: Trust::File("/dev/zero".into()),
            ..TlsSettings::default()
        };
        let e = TlsContext::new(&s, "localhost").expect_err("trust");
        assert_eq!(e.exit, Sysexit::NoInput);
        assert_eq!(
            e.message,
            format!("cannot set X509 trust file /dev/zero for TLS session: {too_large}")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("ca");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert.pem()).expect("write");
        s.trust = Trust::File(ca_file);
        s.crl_file = Some("/dev/zero".into());
        let e = TlsContext::new(&s, "localhost").expect_err("crl");
        assert_eq!(e.exit, Sysexit::NoInput);
        assert_eq!(
            e.message,
            format!("cannot set X509 CRL file /dev/zero for TLS session: {too_large}")
        );
        s.key_file = Some("/dev/zero".into());
        s.cert_file = Some("/dev/zero".into());
        let e = TlsContext::new(&s, "localhost").expect_err("key");
        assert_eq!(e.exit, Sysexit::NoInput);
        assert!(e.message.ends_with(too_large), "{}", e.message);
        // The key is read first; with a good key the certificate file is the one refused.
        let key_file = dir.path().join("key.pem");
        std::fs::write(&key_file, ca.key_pair.serialize_pem()).expect("write");
        s.key_file = Some(key_file);
        let e = TlsContext::new(&s, "localhost").expect_err("cert");
        assert_eq!(e.exit, Sysexit::NoInput);
        assert!(e.message.ends_with(too_large), "{}", e.message);
    }

    #[test]
    fn handshake_garbage_reads_as_gnutls_unexpected_packet() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert_eq!(io_error_text(&e), "An unexpected TLS packet was received.");
    }

    #[test]
    fn missing_client_key_file_is_noinput_66() {
        let s = TlsSettings {
            enabled: true,
            certcheck: false,
            cert_file: Some("/nonexistent/cert.pem".into()),
            key_file: Some("/nonexistent/key.pem".into()),
            ..TlsSettings::default()
        };
        let e = TlsContext::new(&s, "localhost").expect_err("fails");
        assert_eq!(e.exit, Sysexit::NoInput);
        assert_eq!(
            e.message,
            "cannot set X509 key file /nonexistent/key.pem and/or X509 cert file \
             /nonexistent/cert.pem for TLS session: Error while reading file."
        );
    }

    fn client_files(cert: &str, key: &str) -> (tempfile::TempDir, TlsSettings) {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = dir.path().join("c.pem");
        let k = dir.path().join("k.pem");
        std::fs::write(&c, cert).expect("write");
        std::fs::write(&k, key).expect("write");
        let s = TlsSettings {
            enabled: true,
            certcheck: true,
            trust: Trust::File(dir.path().join("missing-ca.pem")),
            cert_file: Some(c),
            key_file: Some(k),
            ..TlsSettings::default()
        };
        (dir, s)
    }

    fn client_error_text(cert: &str, key: &str) -> String {
        let (_dir, s) = client_files(cert, key);
        let e = TlsContext::new(&s, "localhost").expect_err("fails");
        assert_eq!(e.exit, Sysexit::NoInput);
        e.message
            .split_once("for TLS session: ")
            .map(|(_, t)| t.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn client_key_is_loaded_before_cert_and_trust_with_gnutls_texts() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
        // No key in the key file, whatever the certificate file holds.
        assert_eq!(
            client_error_text("", "garbage"),
            "The requested data were not available."
        );
        assert_eq!(
            client_error_text(
                cert,
                "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n"
            ),
            "Base64 decoding error."
        );
        assert_eq!(
            client_error_text("", key),
            "ASN1 parser: Error in DER parsing."
        );
    }

    #[test]
    fn client_cert_errors_use_gnutls_texts() {
        let key = rcgen::KeyPair::generate().expect("key");
        let key_pem = key.serialize_pem();
        assert_eq!(client_error_text("", &key_pem), "Base64 decoding error.");
        assert_eq!(
            client_error_text(
                "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
                &key_pem
            ),
            "Base64 unexpected header error."
        );
        let other = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["client".to_string()]).expect("params");
        let cert = params.self_signed(&other).expect("cert");
        assert_eq!(
            client_error_text(&cert.pem(), &key_pem),
            "The certificate and the given key do not match."
        );
        // A matching pair passes, and then the (missing) trust file is reported.
        let (_dir, s) = client_files(&cert.pem(), &other.serialize_pem());
        let e = TlsContext::new(&s, "localhost").expect_err("trust file");
        assert!(
            e.message.starts_with("cannot set X509 trust file "),
            "{}",
            e.message
        );
    }

    #[test]
    fn system_trust_is_not_loaded_when_pinning_or_unchecked() {
        // With a fingerprint the trust setting is irrelevant, so even an unusable trust file
        // must not be touched.
        let s = TlsSettings {
            enabled: true,
            certcheck: true,
            trust: Trust::File("/nonexistent".into()),
            fingerprint: Fingerprint::parse(SHA256),
            ..TlsSettings::default()
        };
        assert!(TlsContext::new(&s, "localhost").is_ok());
        let s = TlsSettings {
            fingerprint: None,
            certcheck: false,
            ..s
        };
        assert!(TlsContext::new(&s, "localhost").is_ok());
    }

    #[test]
    fn eof_reads_as_gnutls_improper_termination() {
        let e = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            io_error_text(&e),
            "The TLS connection was non-properly terminated."
        );
    }
}
