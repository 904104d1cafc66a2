//! Test PKI generated once per test process with rcgen: a CA and a leaf for `localhost` /
//! `127.0.0.1`, plus two "bad" leaves (wrong host name; signed by a CA nobody trusts).
//!
//! The PEM files live under `CARGO_TARGET_TMPDIR` so clients such as msmtp can be pointed at
//! them with `tls_trust_file`; the leaf fingerprints are exposed in msmtp's colon format for
//! `tls_fingerprint`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use md5::Md5;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
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
}

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
    good: Arc<ServerConfig>,
    wrong_host: Arc<ServerConfig>,
    untrusted: Arc<ServerConfig>,
}

impl Pki {
    /// The rustls server configuration presenting the chosen certificate.
    pub fn server_config(&self, choice: CertChoice) -> Arc<ServerConfig> {
        match choice {
            CertChoice::Good => self.good.clone(),
            CertChoice::WrongHost => self.wrong_host.clone(),
            CertChoice::UntrustedCa => self.untrusted.clone(),
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

fn generate() -> Res<Pki> {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (ca, ca_key) = make_ca("postie test CA")?;
    let (other_ca, other_key) = make_ca("untrusted test CA")?;
    let (leaf, leaf_key) = make_leaf(&["localhost", "127.0.0.1"], &ca, &ca_key)?;
    let (wrong, wrong_key) = make_leaf(&["wrong.example"], &ca, &ca_key)?;
    let (untrusted, untrusted_key) = make_leaf(&["localhost", "127.0.0.1"], &other_ca, &other_key)?;
    let ca_pem = dir.join("ca.pem");
    let other_ca_pem = dir.join("other-ca.pem");
    std::fs::write(&ca_pem, ca.pem())?;
    std::fs::write(&other_ca_pem, other_ca.pem())?;
    let der: &[u8] = leaf.der();
    Ok(Pki {
        ca_pem,
        other_ca_pem,
        fp_sha256: colon_hex(&Sha256::digest(der)),
        fp_sha1: colon_hex(&Sha1::digest(der)),
        fp_md5: colon_hex(&Md5::digest(der)),
        good: server_config(&leaf, &leaf_key, &ca)?,
        wrong_host: server_config(&wrong, &wrong_key, &ca)?,
        untrusted: server_config(&untrusted, &untrusted_key, &other_ca)?,
        dir,
    })
}
