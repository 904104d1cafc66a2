//! TLS for the SMTP connection, on rustls with the ring provider (msmtp.md section 6).
//!
//! It owns the trust decision, which differs from plain WebPKI in msmtp's ways: a pinned leaf
//! fingerprint (SHA-256/SHA-1/MD5) replaces every CA and name check; `tls_certcheck off` accepts
//! any certificate; otherwise the chain is verified against the system store or a PEM trust file,
//! including the host name (`tls_host_override` or `host`). In every mode the handshake
//! signatures are still verified, so a pinned key really has to be held by the server.
//! Verification failures are remembered by the verifier so they can be reported as msmtp does
//! (`TLS certificate verification failed: ...`, 69) instead of as a generic handshake error (76).

use super::{Stream, strerror, x509};
use crate::error::{Error, Result, Sysexit};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, danger::DangerousClientConfigBuilder};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};
use sha1::Digest;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    /// `tls_fingerprint`: hex bytes separated by ':' or ' ' (SHA-256, SHA-1 or MD5 by length).
    pub fingerprint: Option<String>,
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

    fn matches(&self, der: &[u8]) -> bool {
        match self {
            Fingerprint::Sha256(want) => sha2::Sha256::digest(der).as_slice() == want.as_slice(),
            Fingerprint::Sha1(want) => sha1::Sha1::digest(der).as_slice() == want.as_slice(),
            Fingerprint::Md5(want) => md5::Md5::digest(der).as_slice() == want.as_slice(),
        }
    }
}

/// How the server certificate is judged.
#[derive(Debug)]
enum Mode {
    Pinned(Fingerprint),
    NoCheck,
    /// `None`: no trust anchors at all, so nothing can verify. The DER list holds the trusted
    /// certificates themselves, for the self-signed-CA-as-server case below.
    WebPki(
        Option<Arc<WebPkiServerVerifier>>,
        Vec<CertificateDer<'static>>,
    ),
}

/// Whether webpki refused the leaf only because it is a CA certificate.
fn is_ca_as_end_entity(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(o)) => {
            o.0.downcast_ref::<webpki::Error>()
                .is_some_and(|w| matches!(w, webpki::Error::CaUsedAsEndEntity))
        }
        _ => false,
    }
}

/// GnuTLS trusts a server certificate that is itself in the trust list, even when it is a CA
/// certificate (the usual self-signed server made with `openssl req -x509`), which webpki
/// refuses. Accept exactly that case, still checking the host name and the validity period.
fn check_trusted_leaf(
    leaf: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<(), rustls::Error> {
    let ee = webpki::EndEntityCert::try_from(leaf)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    if ee.verify_is_valid_for_subject_name(server_name).is_err() && !cn_matches(leaf, server_name) {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        ));
    }
    let info = x509::parse(leaf.as_ref()).ok_or(rustls::Error::InvalidCertificate(
        CertificateError::BadEncoding,
    ))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < info.not_before {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > info.not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// Whether webpki refused the certificate only for its names.
fn is_name_mismatch(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// GnuTLS's fallback for certificates without a dNSName subjectAltName: a DNS host name (never
/// an IP address, observed) is compared with the subject's single CN.
fn cn_matches(leaf: &CertificateDer<'_>, server_name: &ServerName<'_>) -> bool {
    let ServerName::DnsName(dns) = server_name else {
        return false;
    };
    x509::cn_fallback_name(leaf.as_ref())
        .is_some_and(|cn| x509::hostname_matches(&cn, dns.as_ref()))
}

#[derive(Debug)]
struct Verifier {
    mode: Mode,
    provider: Arc<CryptoProvider>,
    /// The failure text (GnuTLS wording) of the last certificate check, if it failed.
    failure: Mutex<Option<String>>,
    /// The server's handshake signature scheme, for the `-d` session description.
    scheme: Mutex<Option<SignatureScheme>>,
}

const NOT_TRUSTED: &str = "The certificate is NOT trusted. ";

/// GnuTLS's verification status text for a rustls certificate error.
fn certificate_error_text(e: &rustls::Error) -> String {
    let reason = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            // webpki finds issuers by name and then checks the signature; a same-named but
            // different CA (observed with msmtp: GnuTLS says "issuer is unknown") ends up as
            // BadSignature here.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "The certificate issuer is unknown. ".to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "The name in the certificate does not match the expected. ".to_string()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "The certificate chain uses expired certificate. ".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "The certificate chain uses not yet valid certificate. ".to_string()
            }
            CertificateError::Revoked => "The certificate chain is revoked. ".to_string(),
            other => format!("{other:?}. "),
        },
        other => format!("{other}. "),
    };
    format!("{NOT_TRUSTED}{reason}")
}

impl Verifier {
    fn fail(&self, text: String, err: rustls::Error) -> rustls::Error {
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(text);
        }
        err
    }

    fn note_scheme(&self, s: SignatureScheme) {
        if let Ok(mut g) = self.scheme.lock() {
            *g = Some(s);
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match &self.mode {
            Mode::NoCheck => Ok(ServerCertVerified::assertion()),
            Mode::Pinned(fp) => {
                if fp.matches(end_entity.as_ref()) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(self.fail(
                        "the certificate fingerprint does not match".to_string(),
                        rustls::Error::InvalidCertificate(
                            CertificateError::ApplicationVerificationFailure,
                        ),
                    ))
                }
            }
            Mode::WebPki(None, _) => {
                let e = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
                Err(self.fail(certificate_error_text(&e), e))
            }
            Mode::WebPki(Some(v), trusted) => {
                match v.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                ) {
                    Ok(ok) => Ok(ok),
                    // webpki checks the chain before the names, so only the name failed.
                    Err(e) if is_name_mismatch(&e) && cn_matches(end_entity, server_name) => {
                        Ok(ServerCertVerified::assertion())
                    }
                    Err(e) if is_ca_as_end_entity(&e) && trusted.contains(end_entity) => {
                        check_trusted_leaf(end_entity, server_name, now)
                            .map(|()| ServerCertVerified::assertion())
                            .map_err(|e| self.fail(certificate_error_text(&e), e))
                    }
                    Err(e) => Err(self.fail(certificate_error_text(&e), e)),
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.note_scheme(dss.scheme);
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.note_scheme(dss.scheme);
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Everything needed to start TLS on a connection: built before connecting, like msmtp
/// initialises its TLS session (so unreadable files fail first, with 66).
#[derive(Debug, Clone)]
pub struct TlsContext {
    config: Arc<ClientConfig>,
    verifier: Arc<Verifier>,
    server_name: ServerName<'static>,
}

fn no_input(msg: String) -> Error {
    Error::new(Sysexit::NoInput, msg)
}

/// The largest trust, CRL, certificate or key file postie reads: a CA bundle is about 200 KB,
/// but the CRLs of big CAs run to tens of megabytes.
pub const MAX_FILE_SIZE: usize = 64 * crate::fsread::MIB;

/// The contents of a TLS file, or the error text for it (GnuTLS's for an unreadable file).
fn read_tls_file(path: &Path) -> std::result::Result<Vec<u8>, String> {
    crate::fsread::read(path, MAX_FILE_SIZE).map_err(|e| match e {
        crate::fsread::ReadError::Io(_) => "Error while reading file.".to_string(),
        crate::fsread::ReadError::TooLarge(t) => t.to_string(),
    })
}

fn load_certs(path: &Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_tls_file(path)?;
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    let certs = certs.map_err(pem_error_text)?;
    if certs.is_empty() {
        return Err("The requested data were not available.".to_string());
    }
    Ok(certs)
}

/// A client certificate chain and its key, loaded and checked.
type ClientAuth = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Loads `tls_key_file` and `tls_cert_file` as GnuTLS does (msmtp.md section 6): the key file
/// first, then the certificate file, each failure with GnuTLS's text (observed with msmtp):
/// unreadable file → `Error while reading file.`; no key in the key file → `The requested data
/// were not available.`; no certificate in the certificate file → `Base64 decoding error.`;
/// broken base64 inside a key block → `Base64 decoding error.`, inside a certificate block →
/// `Base64 unexpected header error.`; undecodable DER → `ASN1 parser: Error in DER parsing.`;
/// a key that does not belong to the certificate → `The certificate and the given key do not
/// match.`
fn load_client_auth(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> std::result::Result<ClientAuth, String> {
    use rustls::pki_types::pem::Error as PemError;
    const DER: &str = "ASN1 parser: Error in DER parsing.";
    let key_pem = read_tls_file(key)?;
    let k = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        PemError::NoItemsFound => "The requested data were not available.".to_string(),
        _ => "Base64 decoding error.".to_string(),
    })?;
    // rustls parses the key only when the chain is attached; parse it now so that a bad key
    // is reported before anything about the certificate file, like GnuTLS.
    provider
        .key_provider
        .load_private_key(k.clone_key())
        .map_err(|_| DER.to_string())?;
    let cert_pem = read_tls_file(cert)?;
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&cert_pem).collect();
    let certs = certs.map_err(|_| "Base64 unexpected header error.".to_string())?;
    if certs.is_empty() {
        return Err("Base64 decoding error.".to_string());
    }
    // The pair is checked now too (GnuTLS does it while loading, so before the trust file).
    rustls::sign::CertifiedKey::from_der(certs.clone(), k.clone_key(), provider)
        .map_err(|e| client_auth_error_text(&e))?;
    Ok((certs, k))
}

/// GnuTLS's text for a failure to attach a loaded client certificate chain and key.
fn client_auth_error_text(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => {
            "The certificate and the given key do not match.".to_string()
        }
        rustls::Error::InvalidCertificate(_) => "ASN1 parser: Error in DER parsing.".to_string(),
        other => other.to_string(),
    }
}

fn pem_error_text(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(_) => "Error while reading file.".to_string(),
        _ => "Base64 decoding error.".to_string(),
    }
}

impl TlsContext {
    /// Builds the client configuration for `settings`, verifying the server as `host` (unless
    /// `tls_host_override` is set). Loads trust, CRL and client certificate files now.
    pub fn new(settings: &TlsSettings, host: &str) -> Result<TlsContext> {
        let mut provider = rustls::crypto::ring::default_provider();
        // GnuTLS (msmtp's TLS library) offers SECP256R1 first; doing the same makes the `-d`
        // session description match msmtp's against the same server.
        provider
            .kx_groups
            .sort_by_key(|g| g.name() != rustls::NamedGroup::secp256r1);
        let provider = Arc::new(provider);
        // msmtp hands the client key and certificate to GnuTLS before the trust and CRL files,
        // so their errors come first (observed).
        let client_err = |cert: &Path, key: &Path, t: &str| {
            no_input(format!(
                "cannot set X509 key file {} and/or X509 cert file {} for TLS session: {t}",
                key.display(),
                cert.display()
            ))
        };
        let client_auth = match (&settings.cert_file, &settings.key_file) {
            (Some(cert), Some(key)) => Some((
                load_client_auth(cert, key, &provider).map_err(|t| client_err(cert, key, &t))?,
                cert,
                key,
            )),
            _ => None,
        };
        let mode = if let Some(fp) = &settings.fingerprint {
            Mode::Pinned(Fingerprint::parse(fp).ok_or_else(|| {
                Error::config(format!("invalid argument {fp} for tls_fingerprint"))
            })?)
        } else if !settings.certcheck {
            Mode::NoCheck
        } else {
            let mut roots = RootCertStore::empty();
            let mut trusted = Vec::new();
            match &settings.trust {
                Trust::None => {}
                Trust::File(path) => {
                    let certs = load_certs(path).map_err(|t| {
                        no_input(format!(
                            "cannot set X509 trust file {} for TLS session: {t}",
                            path.display()
                        ))
                    })?;
                    trusted.extend(certs.iter().cloned());
                    roots.add_parsable_certificates(certs);
                }
                Trust::System => {
                    let found = rustls_native_certs::load_native_certs();
                    if found.certs.is_empty() {
                        let why = found
                            .errors
                            .first()
                            .map_or_else(|| "no certificates found".to_string(), |e| e.to_string());
                        return Err(no_input(format!(
                            "cannot set X509 system trust for TLS session: {why}"
                        )));
                    }
                    roots.add_parsable_certificates(found.certs);
                }
            }
            if roots.is_empty() {
                Mode::WebPki(None, trusted)
            } else {
                let mut b =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                if let Some(crl) = &settings.crl_file {
                    let crl_err = |t: String| {
                        no_input(format!(
                            "cannot set X509 CRL file {} for TLS session: {t}",
                            crl.display()
                        ))
                    };
                    let pem = read_tls_file(crl).map_err(crl_err)?;
                    let crls: std::result::Result<Vec<_>, _> =
                        CertificateRevocationListDer::pem_slice_iter(&pem).collect();
                    let crls = crls.map_err(|e| crl_err(pem_error_text(e)))?;
                    if crls.is_empty() {
                        // GnuTLS's answer for an empty or non-PEM CRL file (observed).
                        return Err(crl_err("Base64 decoding error.".to_string()));
                    }
                    b = b.with_crls(crls).allow_unknown_revocation_status();
                }
                let v = b.build().map_err(|e| {
                    Error::new(
                        Sysexit::Software,
                        format!("cannot initialize TLS session: {e}"),
                    )
                })?;
                Mode::WebPki(Some(v), trusted)
            }
        };
        let verifier = Arc::new(Verifier {
            mode,
            provider: provider.clone(),
            failure: Mutex::new(None),
            scheme: Mutex::new(None),
        });
        let builder: DangerousClientConfigBuilder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                Error::new(
                    Sysexit::Software,
                    format!("cannot initialize TLS session: {e}"),
                )
            })?
            .dangerous();
        let builder = builder.with_custom_certificate_verifier(verifier.clone());
        let config = match client_auth {
            Some(((certs, k), cert, key)) => builder
                .with_client_auth_cert(certs, k)
                .map_err(|e| client_err(cert, key, &client_auth_error_text(&e)))?,
            None => builder.with_no_client_auth(),
        };
        let name = settings
            .host_override
            .as_deref()
            .unwrap_or(host)
            .to_string();
        let server_name = ServerName::try_from(name.clone()).map_err(|_| {
            Error::new(
                Sysexit::Software,
                format!("cannot initialize TLS session: invalid host name {name}"),
            )
        })?;
        Ok(TlsContext {
            config: Arc::new(config),
            verifier,
            server_name,
        })
    }

    /// Runs the handshake on `stream`. Returns the TLS stream and the `-d` description lines.
    pub fn handshake(&self, mut stream: Stream) -> Result<(TlsStream, Vec<String>)> {
        let fail = |e: Error| Err(e.transient().in_send_stage());
        let mut conn = match ClientConnection::new(self.config.clone(), self.server_name.clone()) {
            Ok(c) => c,
            Err(e) => {
                return fail(Error::new(
                    Sysexit::Software,
                    format!("cannot initialize TLS session: {e}"),
                ));
            }
        };
        let mut result = Ok(());
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut stream) {
                result = Err(e);
                break;
            }
        }
        if result.is_ok() {
            while conn.wants_write() {
                if let Err(e) = conn.write_tls(&mut stream) {
                    result = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = result {
            let verify = self.verifier.failure.lock().ok().and_then(|mut f| f.take());
            let err = match verify {
                Some(text) => Error::new(
                    Sysexit::Unavailable,
                    format!("TLS certificate verification failed: {text}"),
                ),
                None => {
                    let text = if super::is_timeout(&e) {
                        "the operation timed out".to_string()
                    } else {
                        io_error_text(&e)
                    };
                    Error::new(Sysexit::Protocol, format!("TLS handshake failed: {text}"))
                }
            };
            return fail(err);
        }
        let scheme = self.verifier.scheme.lock().ok().and_then(|g| *g);
        let info = describe(&conn, scheme);
        Ok((StreamOwned::new(conn, stream), info))
    }
}

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

/// GnuTLS-style names for the `-d` session description.
fn scheme_name(s: SignatureScheme) -> String {
    match s {
        SignatureScheme::RSA_PKCS1_SHA256 => "RSA-SHA256".into(),
        SignatureScheme::RSA_PKCS1_SHA384 => "RSA-SHA384".into(),
        SignatureScheme::RSA_PKCS1_SHA512 => "RSA-SHA512".into(),
        SignatureScheme::RSA_PSS_SHA256 => "RSA-PSS-RSAE-SHA256".into(),
        SignatureScheme::RSA_PSS_SHA384 => "RSA-PSS-RSAE-SHA384".into(),
        SignatureScheme::RSA_PSS_SHA512 => "RSA-PSS-RSAE-SHA512".into(),
        SignatureScheme::ECDSA_NISTP256_SHA256 => "ECDSA-SECP256R1-SHA256".into(),
        SignatureScheme::ECDSA_NISTP384_SHA384 => "ECDSA-SECP384R1-SHA384".into(),
        SignatureScheme::ECDSA_NISTP521_SHA512 => "ECDSA-SECP521R1-SHA512".into(),
        SignatureScheme::ED25519 => "EDDSA-ED25519".into(),
        other => format!("{other:?}").replace('_', "-"),
    }
}

fn cipher_name(suite: &str) -> String {
    for (k, v) in [
        ("AES_256_GCM", "AES-256-GCM"),
        ("AES_128_GCM", "AES-128-GCM"),
        ("CHACHA20_POLY1305", "CHACHA20-POLY1305"),
    ] {
        if suite.contains(k) {
            return v.to_string();
        }
    }
    suite.to_string()
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The lines msmtp prints with `-d` after a handshake: session parameters and the server's
/// certificate (subject, issuer, validity, fingerprints).
fn describe(conn: &ClientConnection, scheme: Option<SignatureScheme>) -> Vec<String> {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "?".to_string(),
    };
    let group = conn
        .negotiated_key_exchange_group()
        .map(|g| format!("ECDHE-{}", format!("{:?}", g.name()).to_uppercase()))
        .unwrap_or_else(|| "?".to_string());
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| cipher_name(&format!("{:?}", s.suite())))
        .unwrap_or_else(|| "?".to_string());
    let sig = scheme.map_or_else(|| "?".to_string(), scheme_name);
    let mut out = vec![
        "TLS session parameters:".to_string(),
        format!("    ({version})-({group})-({sig})-({cipher})"),
    ];
    if let Some(leaf) = conn.peer_certificates().and_then(|c| c.first()) {
        let der = leaf.as_ref();
        out.push("TLS certificate information:".to_string());
        if let Some(info) = x509::parse(der) {
            out.push("    Subject:".to_string());
            out.push(format!("        {}", info.subject));
            out.push("    Issuer:".to_string());
            out.push(format!("        {}", info.issuer));
            out.push("    Validity:".to_string());
            out.push(format!(
                "        Activation time: {}",
                x509::format_time(info.not_before)
            ));
            out.push(format!(
                "        Expiration time: {}",
                x509::format_time(info.not_after)
            ));
        }
        out.push("    Fingerprints:".to_string());
        out.push(format!(
            "        SHA256: {}",
            colon_hex(&sha2::Sha256::digest(der))
        ));
        out.push(format!(
            "        SHA1 (deprecated): {}",
            colon_hex(&sha1::Sha1::digest(der))
        ));
    }
    out
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
        let mut out = vec![0u8; crate::smtp::auth::TLS_EXPORTER_LEN];
        t.conn
            .export_keying_material(
                &mut out[..],
                crate::smtp::auth::TLS_EXPORTER_LABEL,
                Some(&[]),
            )
            .ok()?;
        Some(out)
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
            fingerprint: Some(SHA256.into()),
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
