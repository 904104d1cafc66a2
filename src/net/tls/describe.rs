//! The `-d` description of a TLS session and the server certificate, in GnuTLS's words where
//! a mapping exists (so it reads like msmtp's).

use crate::net::x509;
use rustls::{ClientConnection, SignatureScheme};
use sha1::Digest;

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

pub(super) fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The negotiated protocol version in GnuTLS's spelling (`TLS1.3`).
pub(super) fn version_name(conn: &ClientConnection) -> String {
    match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "?".to_string(),
    }
}

/// The lines msmtp prints with `-d` after a handshake: session parameters and the server's
/// certificate (subject, issuer, validity, fingerprints).
pub(super) fn describe(conn: &ClientConnection, scheme: Option<SignatureScheme>) -> Vec<String> {
    let version = version_name(conn);
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
