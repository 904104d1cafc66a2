//! The client configuration for one connection, built before connecting (unreadable files
//! fail first, with 66, as msmtp initialises its TLS session first).

use super::describe::describe;
use super::verify::{Mode, Verifier};
use super::{TlsSettings, TlsStream, Trust, io_error_text};
use crate::error::{Error, Result, Sysexit};
use crate::net::Stream;
use rustls::client::{WebPkiServerVerifier, danger::DangerousClientConfigBuilder};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::path::Path;
use std::sync::{Arc, Mutex};

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
            Mode::Pinned(fp.clone())
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
            leaf: Mutex::new(None),
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

    /// The DER of the leaf certificate the server presented in the last handshake with this
    /// context, whether or not it was trusted.
    pub(super) fn peer_leaf(&self) -> Option<Vec<u8>> {
        let leaf = self.verifier.leaf.lock().ok()?;
        leaf.as_ref().map(|c| c.as_ref().to_vec())
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
            // A proxy command that ended before the server said anything (implicit TLS).
            if let Some(ended) = crate::net::command::error_of(&e) {
                return Err(ended);
            }
            let verify = self.verifier.failure.lock().ok().and_then(|mut f| f.take());
            let err = match verify {
                Some(text) => Error::new(
                    Sysexit::Unavailable,
                    format!("TLS certificate verification failed: {text}"),
                ),
                None => {
                    let text = if crate::net::is_timeout(&e) {
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
