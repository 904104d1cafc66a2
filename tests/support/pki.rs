//! Test PKI generated once per test process with rcgen: a CA and a leaf for `localhost` /
//! `127.0.0.1`, plus three "bad" leaves (wrong host name; signed by a CA nobody trusts;
//! expired in 2001), one whose subject holds control characters (a hostile certificate on the
//! user's terminal), and client certificates for `tls_cert_file`/`tls_key_file` (one from the
//! test CA, one from the untrusted CA) with server configurations that require a client
//! certificate.
//!
//! The PEM files live under `CARGO_TARGET_TMPDIR` so clients such as msmtp can be pointed at
//! them with `tls_trust_file`, `tls_cert_file` and `tls_key_file`; the leaf fingerprints are
//! exposed in msmtp's colon format for `tls_fingerprint`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use md5::Md5;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Which certificate a TLS-enabled test server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertChoice {
    /// Leaf for `localhost` and `127.0.0.1`, signed by the test CA (`Pki::ca_pem`).
    Good,
    /// Leaf for `wrong.example` only, signed by the test CA: fails host name verification.
    WrongHost,
    /// Leaf for `localhost`/`127.0.0.1` signed by a second CA that no trust file contains.
    UntrustedCa,
    /// Leaf for `localhost`/`127.0.0.1`, signed by the test CA, whose subject holds control
    /// characters ([`CONTROL_CN`], [`CONTROL_O`]): a hostile certificate shown by `-S`/`-d`.
    ControlChars,
    /// Leaf for `localhost`/`127.0.0.1`, signed by the test CA, valid only from 2000-01-01 to
    /// [`EXPIRED_NOT_AFTER`] (2001-01-01): expired whenever the tests run.
    Expired,
}

/// The end of the [`CertChoice::Expired`] leaf's validity, as `postie check` prints it.
pub const EXPIRED_NOT_AFTER: &str = "2001-01-01";

/// Subject CN of the [`CertChoice::ControlChars`] leaf: ESC sequences, BEL, CR, LF, NUL, DEL,
/// TAB, a C1 control (CSI) and a bidi override.
pub const CONTROL_CN: &str = "evil\x1b[2J\x07\r\n\0\x7f\t\u{9b}31m\u{202e}gpj.exe";
/// Subject O of the [`CertChoice::ControlChars`] leaf (a BEL and an OSC title sequence).
pub const CONTROL_O: &str = "Org\x1b]0;pwned\x07";

/// The generated material. Obtain it with [`pki()`].
pub struct Pki {
    /// Directory holding the PEM files.
    pub dir: PathBuf,
    /// PEM file of the test CA (use as `tls_trust_file`).
    pub ca_pem: PathBuf,
    /// PEM file of the second, untrusted CA.
    pub other_ca_pem: PathBuf,
    /// SHA-256 fingerprint of the good leaf, `AA:BB:...` (95 characters).
    pub fp_sha256: String,
    /// SHA-1 fingerprint of the good leaf (59 characters).
    pub fp_sha1: String,
    /// MD5 fingerprint of the good leaf (47 characters).
    pub fp_md5: String,
    /// PEM file of a client certificate (subject CN [`CLIENT_CN`], EKU clientAuth) signed by
    /// the test CA (use as `tls_cert_file`).
    pub client_cert_pem: PathBuf,
    /// PEM file (PKCS#8) of the private key of `client_cert_pem` (use as `tls_key_file`).
    pub client_key_pem: PathBuf,
    /// PEM file of a client certificate (subject CN [`UNTRUSTED_CLIENT_CN`]) signed by the
    /// untrusted CA: a server requiring client certificates refuses it.
    pub untrusted_client_cert_pem: PathBuf,
    /// PEM file of the private key of `untrusted_client_cert_pem`.
    pub untrusted_client_key_pem: PathBuf,
    good: Arc<ServerConfig>,
    wrong_host: Arc<ServerConfig>,
    untrusted: Arc<ServerConfig>,
    good_client_auth: Arc<ServerConfig>,
    wrong_host_client_auth: Arc<ServerConfig>,
    untrusted_client_auth: Arc<ServerConfig>,
    control_chars: Arc<ServerConfig>,
    control_chars_client_auth: Arc<ServerConfig>,
    expired: Arc<ServerConfig>,
    expired_client_auth: Arc<ServerConfig>,
}

/// Subject CN of the client certificate signed by the test CA.
pub const CLIENT_CN: &str = "postie test client";
/// Subject CN of the client certificate signed by the untrusted CA.
pub const UNTRUSTED_CLIENT_CN: &str = "untrusted test client";

impl Pki {
    /// The rustls server configuration presenting the chosen certificate.
    pub fn server_config(&self, choice: CertChoice) -> Arc<ServerConfig> {
        match choice {
            CertChoice::Good => self.good.clone(),
            CertChoice::WrongHost => self.wrong_host.clone(),
            CertChoice::UntrustedCa => self.untrusted.clone(),
            CertChoice::ControlChars => self.control_chars.clone(),
            CertChoice::Expired => self.expired.clone(),
        }
    }

    /// Like [`Pki::server_config`], but the server requires a client certificate that chains
    /// to the test CA (rustls `WebPkiClientVerifier`, no anonymous clients).
    pub fn server_config_client_auth(&self, choice: CertChoice) -> Arc<ServerConfig> {
        match choice {
            CertChoice::Good => self.good_client_auth.clone(),
            CertChoice::WrongHost => self.wrong_host_client_auth.clone(),
            CertChoice::UntrustedCa => self.untrusted_client_auth.clone(),
            CertChoice::ControlChars => self.control_chars_client_auth.clone(),
            CertChoice::Expired => self.expired_client_auth.clone(),
        }
    }
}

/// The process-wide test PKI, generated on first use.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| generate().expect("generate test PKI"))
}

/// Formats a digest as upper-case hex bytes joined by `:` (msmtp's fingerprint format).
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn make_ca(name: &str) -> Res<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

fn make_leaf(
    names: &[&str],
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
) -> Res<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params
        .extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let cert = params.signed_by(&key, ca, ca_key)?;
    Ok((cert, key))
}

/// A leaf like [`make_leaf`] for `localhost`/`127.0.0.1` with the [`CONTROL_O`]/[`CONTROL_CN`]
/// subject.
fn make_control_leaf(
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
) -> Res<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, CONTROL_O);
    params
        .distinguished_name
        .push(DnType::CommonName, CONTROL_CN);
    params
        .extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let cert = params.signed_by(&key, ca, ca_key)?;
    Ok((cert, key))
}

/// A leaf like [`make_leaf`] for `localhost`/`127.0.0.1` that expired on 2001-01-01 (fixed
/// dates: no test depends on today's date beyond "2001 is in the past").
fn make_expired_leaf(
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
) -> Res<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    params
        .extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let cert = params.signed_by(&key, ca, ca_key)?;
    Ok((cert, key))
}

fn make_client(
    cn: &str,
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
) -> Res<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params
        .extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    let cert = params.signed_by(&key, ca, ca_key)?;
    Ok((cert, key))
}

fn server_config(
    leaf: &rcgen::Certificate,
    key: &KeyPair,
    ca: &rcgen::Certificate,
) -> Res<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(cfg))
}

/// A server configuration like [`server_config`] that requires a client certificate issued by
/// `client_ca`.
fn server_config_client_auth(
    leaf: &rcgen::Certificate,
    key: &KeyPair,
    ca: &rcgen::Certificate,
    client_ca: &rcgen::Certificate,
) -> Res<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(client_ca.der().clone())?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    Ok(Arc::new(cfg))
}

/// The subject CN of a DER certificate (the first CN attribute of the subject name), read with
/// a minimal DER walk so the test server depends on no X.509 parser shared with the client.
pub fn subject_cn(der: &[u8]) -> Option<String> {
    /// Splits one TLV off `b`: (tag, content, rest).
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&first, mut b) = b.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let len = b[..n]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x));
            b = &b[n..];
            len
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    // version [0] is optional; then serial, signature algorithm, issuer, validity, subject.
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (_, mut subject, _) = tlv(rest)?;
    while !subject.is_empty() {
        let (_, set, more) = tlv(subject)?;
        subject = more;
        let (_, atv, _) = tlv(set)?;
        let (_, oid, value) = tlv(atv)?;
        if oid == [0x55, 0x04, 0x03] {
            let (_, text, _) = tlv(value)?;
            return Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    None
}

fn generate() -> Res<Pki> {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (ca, ca_key) = make_ca("postie test CA")?;
    let (other_ca, other_key) = make_ca("untrusted test CA")?;
    let (leaf, leaf_key) = make_leaf(&["localhost", "127.0.0.1"], &ca, &ca_key)?;
    let (wrong, wrong_key) = make_leaf(&["wrong.example"], &ca, &ca_key)?;
    let (untrusted, untrusted_key) = make_leaf(&["localhost", "127.0.0.1"], &other_ca, &other_key)?;
    let (control, control_key) = make_control_leaf(&ca, &ca_key)?;
    let (expired, expired_key) = make_expired_leaf(&ca, &ca_key)?;
    let ca_pem = dir.join("ca.pem");
    let other_ca_pem = dir.join("other-ca.pem");
    std::fs::write(&ca_pem, ca.pem())?;
    std::fs::write(&other_ca_pem, other_ca.pem())?;
    let (client, client_key) = make_client(CLIENT_CN, &ca, &ca_key)?;
    let (uclient, uclient_key) = make_client(UNTRUSTED_CLIENT_CN, &other_ca, &other_key)?;
    let client_cert_pem = dir.join("client-cert.pem");
    let client_key_pem = dir.join("client-key.pem");
    let untrusted_client_cert_pem = dir.join("untrusted-client-cert.pem");
    let untrusted_client_key_pem = dir.join("untrusted-client-key.pem");
    std::fs::write(&client_cert_pem, client.pem())?;
    std::fs::write(&client_key_pem, client_key.serialize_pem())?;
    std::fs::write(&untrusted_client_cert_pem, uclient.pem())?;
    std::fs::write(&untrusted_client_key_pem, uclient_key.serialize_pem())?;
    let der: &[u8] = leaf.der();
    Ok(Pki {
        ca_pem,
        other_ca_pem,
        fp_sha256: colon_hex(&Sha256::digest(der)),
        fp_sha1: colon_hex(&Sha1::digest(der)),
        fp_md5: colon_hex(&Md5::digest(der)),
        client_cert_pem,
        client_key_pem,
        untrusted_client_cert_pem,
        untrusted_client_key_pem,
        good: server_config(&leaf, &leaf_key, &ca)?,
        wrong_host: server_config(&wrong, &wrong_key, &ca)?,
        untrusted: server_config(&untrusted, &untrusted_key, &other_ca)?,
        good_client_auth: server_config_client_auth(&leaf, &leaf_key, &ca, &ca)?,
        wrong_host_client_auth: server_config_client_auth(&wrong, &wrong_key, &ca, &ca)?,
        untrusted_client_auth: server_config_client_auth(
            &untrusted,
            &untrusted_key,
            &other_ca,
            &ca,
        )?,
        control_chars: server_config(&control, &control_key, &ca)?,
        control_chars_client_auth: server_config_client_auth(&control, &control_key, &ca, &ca)?,
        expired: server_config(&expired, &expired_key, &ca)?,
        expired_client_auth: server_config_client_auth(&expired, &expired_key, &ca, &ca)?,
        dir,
    })
}
