//! The trust decision: a pinned fingerprint, no check at all, or WebPKI against the system
//! store or a trust file, with msmtp's texts for the failures.

use super::Fingerprint;
use crate::net::x509;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex};

/// How the server certificate is judged.
#[derive(Debug)]
pub(super) enum Mode {
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
pub(super) struct Verifier {
    pub(super) mode: Mode,
    pub(super) provider: Arc<CryptoProvider>,
    /// The failure text (GnuTLS wording) of the last certificate check, if it failed.
    pub(super) failure: Mutex<Option<String>>,
    /// The server's handshake signature scheme, for the `-d` session description.
    pub(super) scheme: Mutex<Option<SignatureScheme>>,
    /// The leaf certificate the server presented last, trusted or not (`postie check` shows
    /// what it says, such as its expiry date, also when the handshake failed because of it).
    pub(super) leaf: Mutex<Option<CertificateDer<'static>>>,
}

const NOT_TRUSTED: &str = "The certificate is NOT trusted. ";

/// GnuTLS's verification status text for a rustls certificate error.
fn certificate_error_text(e: &rustls::Error) -> String {
    // A self-signed server certificate with CA:TRUE (`openssl req -x509`) that is not in the
    // trust list: GnuTLS finds no issuer for it.
    if is_ca_as_end_entity(e) {
        return format!("{NOT_TRUSTED}The certificate issuer is unknown. ");
    }
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
        if let Ok(mut l) = self.leaf.lock() {
            *l = Some(end_entity.clone().into_owned());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_ca_certificate_as_server_has_gnutls_unknown_issuer_text() {
        // `openssl req -x509` makes a CA:TRUE certificate; webpki refuses it as a leaf. The
        // text was once "Other(OtherError(CaUsedAsEndEntity))", and `postie check` gave no fix.
        let e = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            Arc::new(webpki::Error::CaUsedAsEndEntity),
        )));
        assert_eq!(
            certificate_error_text(&e),
            "The certificate is NOT trusted. The certificate issuer is unknown. "
        );
    }
}
