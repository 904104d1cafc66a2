//! SMTP AUTH (RFC 4954): the mechanism names, msmtp 1.8.23's automatic choice, and the wire
//! formats of the mechanisms postie implements (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/-256 and
//! their -PLUS variants with `tls-exporter` channel binding (RFC 9266), EXTERNAL, XOAUTH2,
//! OAUTHBEARER). The dialogue itself lives in `session`; this module is pure so the choice
//! matrix and encodings are testable without a server.
//!
//! The -PLUS variants are only used when configured explicitly (`auth scram-sha-256-plus`):
//! `auth on` keeps msmtp 1.8.23's order, which has no -PLUS and puts PLAIN first with TLS.

use super::caps::Capabilities;
use crate::error::{Error, Result, Sysexit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha1::Digest;

/// An SASL mechanism as named in the `auth` command and the EHLO AUTH line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Plain,
    Login,
    CramMd5,
    ScramSha1,
    ScramSha256,
    ScramSha1Plus,
    ScramSha256Plus,
    External,
    Gssapi,
    DigestMd5,
    Ntlm,
    OAuthBearer,
    XOAuth2,
}

/// Where AUTH gets its password: asked only when the chosen mechanism needs one, with the
/// mechanism (an OAuth2 source answers with a token). `Ok(None)`: there is none, which becomes
/// msmtp's `authentication method M needs a password` (69).
pub trait PasswordSource {
    /// The password (or token) for `mech`.
    fn password(&mut self, mech: Mechanism) -> Result<Option<String>>;

    /// The server refused the secret given last. `true` means a fresher one can be asked for
    /// (a cached secret was evicted, a token refreshed); AUTH is then tried once more.
    fn refused(&mut self) -> bool {
        false
    }

    /// The mechanisms this source's secret is for, in order of preference, when it is not a
    /// password (an OAuth2 source: OAUTHBEARER, XOAUTH2). `auth on` then chooses among these
    /// instead of msmtp's password mechanisms (see [`choose_for`]).
    fn mechanisms(&self) -> Option<&'static [Mechanism]> {
        None
    }
}

impl<F: FnMut(Mechanism) -> Result<Option<String>>> PasswordSource for F {
    fn password(&mut self, mech: Mechanism) -> Result<Option<String>> {
        self(mech)
    }
}

/// The `auth` setting, from the msmtprc to the session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthSetting {
    /// `auth off`.
    #[default]
    Off,
    /// `auth on`: msmtp's automatic choice.
    Auto,
    /// `auth METHOD`.
    Method(Mechanism),
}

impl AuthSetting {
    /// The msmtprc and command-line spelling: `on` or empty (choose), `off`, or a method name
    /// in lower case (msmtp accepts no other case).
    pub fn parse(s: &str) -> Option<AuthSetting> {
        match s {
            "" | "on" => Some(AuthSetting::Auto),
            "off" => Some(AuthSetting::Off),
            m => Mechanism::ALL
                .into_iter()
                .find(|mech| mech.name().to_ascii_lowercase() == m)
                .map(AuthSetting::Method),
        }
    }

    /// What `-P` prints.
    pub fn describe(self) -> &'static str {
        match self {
            AuthSetting::Off => "none",
            AuthSetting::Auto => "choose",
            AuthSetting::Method(m) => m.name(),
        }
    }

    /// Whether authentication is on at all (decides whether a password source runs).
    pub fn enabled(self) -> bool {
        self != AuthSetting::Off
    }
}

impl Mechanism {
    /// Every mechanism, for name look-ups.
    pub const ALL: [Mechanism; 13] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::External,
        Mechanism::Gssapi,
        Mechanism::DigestMd5,
        Mechanism::Ntlm,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
    ];

    /// The SASL name (upper case), as sent in `AUTH NAME` and printed in messages.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::External => "EXTERNAL",
            Mechanism::Gssapi => "GSSAPI",
            Mechanism::DigestMd5 => "DIGEST-MD5",
            Mechanism::Ntlm => "NTLM",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// Looks a mechanism up by name, case-insensitively (`auth cram-md5`).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether postie implements it (msmtp's "compiled in"). GSSAPI, DIGEST-MD5 and NTLM are
    /// not.
    pub fn is_supported(self) -> bool {
        !matches!(
            self,
            Mechanism::Gssapi | Mechanism::DigestMd5 | Mechanism::Ntlm
        )
    }

    /// Whether it is a SCRAM variant with channel binding (needs the TLS 1.3 exporter).
    pub fn needs_channel_binding(self) -> bool {
        matches!(self, Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus)
    }

    /// Whether it needs a user name (all but EXTERNAL, where the user is optional).
    pub fn needs_user(self) -> bool {
        self != Mechanism::External
    }

    /// Whether it needs a password (or OAuth token): all but EXTERNAL and GSSAPI.
    pub fn needs_password(self) -> bool {
        !matches!(self, Mechanism::External | Mechanism::Gssapi)
    }
}

/// `support for authentication method M is not compiled in` (69): msmtp checks this before
/// connecting; the caller may do the same with [`Mechanism::is_supported`].
pub fn not_compiled_in(m: Mechanism) -> Error {
    Error::new(
        Sysexit::Unavailable,
        format!(
            "support for authentication method {} is not compiled in",
            m.name()
        ),
    )
}

/// msmtp 1.8.23's preference with TLS active.
const AUTO_WITH_TLS: [Mechanism; 7] = [
    Mechanism::Plain,
    Mechanism::ScramSha256,
    Mechanism::ScramSha1,
    Mechanism::CramMd5,
    Mechanism::DigestMd5,
    Mechanism::Login,
    Mechanism::Ntlm,
];
/// Without TLS only mechanisms that do not reveal the password are chosen.
const AUTO_WITHOUT_TLS: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha1];

/// Chooses the mechanism for `setting` given the server's capabilities (which must advertise
/// AUTH; the caller checks that first because that failure is followed by QUIT).
/// Mechanisms postie does not implement are skipped in the automatic choice.
pub fn choose(setting: AuthSetting, caps: &Capabilities, tls: bool) -> Result<Option<Mechanism>> {
    let unavailable = |m: String| Error::new(Sysexit::Unavailable, m);
    match setting {
        AuthSetting::Off => Ok(None),
        AuthSetting::Method(m) => {
            if !m.is_supported() {
                return Err(not_compiled_in(m));
            }
            if !caps.has_auth_mech(m.name()) {
                return Err(unavailable(format!(
                    "the server does not support authentication method {}",
                    m.name()
                )));
            }
            Ok(Some(m))
        }
        AuthSetting::Auto => {
            let list: &[Mechanism] = if tls {
                &AUTO_WITH_TLS
            } else {
                &AUTO_WITHOUT_TLS
            };
            list.iter()
                .copied()
                .find(|m| m.is_supported() && caps.has_auth_mech(m.name()))
                .map(Some)
                .ok_or_else(|| {
                    unavailable(if tls {
                        "cannot find a usable authentication method".to_string()
                    } else {
                        "cannot use a secure authentication method".to_string()
                    })
                })
        }
    }
}

/// [`choose`], for a source whose secrets are for `preferred` mechanisms only (an OAuth2 token,
/// see [`PasswordSource::mechanisms`]): `auth on` picks the first of them the server offers,
/// and only with TLS (a bearer token is as good as a password to whoever reads it). An
/// explicit `auth METHOD` is [`choose`]'s.
pub fn choose_for(
    setting: AuthSetting,
    caps: &Capabilities,
    tls: bool,
    preferred: Option<&[Mechanism]>,
) -> Result<Option<Mechanism>> {
    let (AuthSetting::Auto, Some(list)) = (setting, preferred) else {
        return choose(setting, caps, tls);
    };
    if !tls {
        return Err(Error::new(
            Sysexit::Unavailable,
            "cannot use a secure authentication method",
        ));
    }
    list.iter()
        .copied()
        .find(|m| caps.has_auth_mech(m.name()))
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = list.iter().map(|m| m.name()).collect();
            Error::new(
                Sysexit::Unavailable,
                format!(
                    "the server offers no authentication method for OAuth2 tokens ({})",
                    names.join(", ")
                ),
            )
        })
}

/// Base64 as used on the wire.
pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

/// Decodes a 334 challenge text (invalid base64 yields `None`).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    B64.decode(text.trim().as_bytes()).ok()
}

/// The PLAIN initial response: base64("\0user\0password").
pub fn plain_response(user: &str, password: &str) -> String {
    b64(format!("\0{user}\0{password}").as_bytes())
}

/// HMAC (RFC 2104) over any block-64 hash of the `Digest` family used here.
fn hmac<D: Digest>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut k = if key.len() > BLOCK {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let mut inner = D::new();
    inner.update(k.iter().map(|b| b ^ 0x36).collect::<Vec<_>>());
    inner.update(msg);
    let ih = inner.finalize();
    let mut outer = D::new();
    outer.update(k.iter().map(|b| b ^ 0x5c).collect::<Vec<_>>());
    outer.update(ih);
    outer.finalize().to_vec()
}

/// The CRAM-MD5 response (RFC 2195) to a decoded challenge, base64-encoded.
pub fn cram_md5_response(user: &str, password: &str, challenge: &[u8]) -> String {
    let mac = hmac::<md5::Md5>(password.as_bytes(), challenge);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    b64(format!("{user} {hex}").as_bytes())
}

/// The XOAUTH2 response: base64("user=U\x01auth=Bearer T\x01\x01").
pub fn xoauth2_response(user: &str, token: &str) -> String {
    b64(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes())
}

/// The OAUTHBEARER initial response (RFC 7628) with host and port as msmtp sends them.
pub fn oauthbearer_response(user: &str, host: &str, port: u16, token: &str) -> String {
    b64(
        format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
            .as_bytes(),
    )
}

pub use crate::net::tls::{TLS_EXPORTER_LABEL, TLS_EXPORTER_LEN};

/// `-PLUS configured, but no TLS 1.3 exporter` (69): without TLS, or on TLS 1.2, where RFC 9266
/// does not make `tls-exporter` safe without the extended master secret. msmtp 1.8.23 has no
/// -PLUS, so the text is postie's own, worded like msmtp's other AUTH refusals.
pub fn channel_binding_unavailable(m: Mechanism) -> Error {
    Error::new(
        Sysexit::Unavailable,
        format!(
            "authentication method {} needs TLS 1.3 for channel binding (tls-exporter)",
            m.name()
        ),
    )
}

/// The most PBKDF2 iterations a server may ask for (RFC 7677 recommends at least 4096;
/// 10 million takes several seconds).
const MAX_SCRAM_ITERATIONS: u32 = 10_000_000;

/// State of a SCRAM (RFC 5802/7677) exchange, with or without `tls-exporter` channel binding.
pub struct Scram {
    sha256: bool,
    user: String,
    nonce: String,
    /// The gs2 header: `n,,` without channel binding, `p=tls-exporter,,` with it.
    gs2_header: &'static str,
    /// The channel-binding data appended to the gs2 header in the `c=` attribute.
    cbind_data: Vec<u8>,
    client_first_bare: String,
    server_signature: Vec<u8>,
}

/// `=` and `,` must be escaped in SCRAM user names.
fn scram_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

impl Scram {
    /// Starts an exchange without channel binding (gs2 header `n,,`, as msmtp 1.8.23 sends);
    /// `nonce` must be fresh printable random text.
    pub fn new(sha256: bool, user: &str, nonce: &str) -> Scram {
        Scram {
            sha256,
            user: user.to_string(),
            nonce: nonce.to_string(),
            gs2_header: "n,,",
            cbind_data: Vec::new(),
            client_first_bare: format!("n={},r={nonce}", scram_name(user)),
            server_signature: Vec::new(),
        }
    }

    /// Starts a -PLUS exchange bound to the TLS session by `exporter`, the RFC 9266
    /// `tls-exporter` value (gs2 header `p=tls-exporter,,`).
    pub fn with_tls_exporter(sha256: bool, user: &str, nonce: &str, exporter: &[u8]) -> Scram {
        let mut s = Scram::new(sha256, user, nonce);
        s.gs2_header = "p=tls-exporter,,";
        s.cbind_data = exporter.to_vec();
        s
    }

    /// The client-first message, base64 (sent as the initial response).
    pub fn client_first(&self) -> String {
        b64(format!("{}{}", self.gs2_header, self.client_first_bare).as_bytes())
    }

    /// The `c=` attribute value: base64 of the gs2 header followed by the binding data.
    fn channel_binding(&self) -> String {
        let mut c = self.gs2_header.as_bytes().to_vec();
        c.extend_from_slice(&self.cbind_data);
        b64(&c)
    }

    fn mac(&self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        if self.sha256 {
            hmac::<sha2::Sha256>(key, msg)
        } else {
            hmac::<sha1::Sha1>(key, msg)
        }
    }

    fn hash(&self, data: &[u8]) -> Vec<u8> {
        if self.sha256 {
            sha2::Sha256::digest(data).to_vec()
        } else {
            sha1::Sha1::digest(data).to_vec()
        }
    }

    /// PBKDF2 with this exchange's HMAC (one output block, which is all SCRAM needs).
    fn salted_password(&self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut msg = salt.to_vec();
        msg.extend_from_slice(&1u32.to_be_bytes());
        let mut u = self.mac(password.as_bytes(), &msg);
        let mut out = u.clone();
        for _ in 1..iterations {
            u = self.mac(password.as_bytes(), &u);
            for (o, x) in out.iter_mut().zip(&u) {
                *o ^= x;
            }
        }
        out
    }

    /// Answers the decoded server-first message; `None` if it is malformed or its nonce does
    /// not extend ours.
    pub fn client_final(&mut self, server_first: &[u8], password: &str) -> Option<String> {
        let sf = std::str::from_utf8(server_first).ok()?;
        let mut nonce = None;
        let mut salt = None;
        let mut iter = None;
        for part in sf.split(',') {
            if let Some(v) = part.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = part.strip_prefix("s=") {
                salt = unb64(v);
            } else if let Some(v) = part.strip_prefix("i=") {
                iter = v.parse::<u32>().ok();
            }
        }
        let (nonce, salt, iter) = (nonce?, salt?, iter?);
        // A hostile server could ask for billions of PBKDF2 rounds and keep the CPU busy for
        // hours, which no socket timeout would stop; real servers use thousands.
        if !nonce.starts_with(&self.nonce)
            || nonce.len() <= self.nonce.len()
            || iter == 0
            || iter > MAX_SCRAM_ITERATIONS
        {
            return None;
        }
        let salted = self.salted_password(password, &salt, iter);
        let client_key = self.mac(&salted, b"Client Key");
        let stored_key = self.hash(&client_key);
        let without_proof = format!("c={},r={nonce}", self.channel_binding());
        let auth_message = format!("{},{sf},{without_proof}", self.client_first_bare);
        let client_sig = self.mac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_sig)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.mac(&salted, b"Server Key");
        self.server_signature = self.mac(&server_key, auth_message.as_bytes());
        Some(b64(format!("{without_proof},p={}", b64(&proof)).as_bytes()))
    }

    /// Checks the decoded server-final message (`v=...`).
    pub fn verify_server_final(&self, server_final: &[u8]) -> bool {
        std::str::from_utf8(server_final)
            .ok()
            .and_then(|s| s.strip_prefix("v="))
            .and_then(unb64)
            .is_some_and(|v| !self.server_signature.is_empty() && v == self.server_signature)
    }

    /// The user this exchange authenticates.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// A fresh SCRAM client nonce from the OS random source.
pub fn scram_nonce() -> String {
    let mut bytes = [0u8; 18];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !ok {
        // Fall back to time and pid; a SCRAM nonce needs uniqueness more than secrecy.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = t ^ u128::from(std::process::id());
        bytes[..16].copy_from_slice(&seed.to_le_bytes());
    }
    b64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(mechs: &str) -> Capabilities {
        let lines = vec!["250-x".to_string(), format!("250 AUTH {mechs}")];
        Capabilities::from_ehlo(&lines)
    }

    #[test]
    fn plain_wire_format_for_joe_secret() {
        assert_eq!(plain_response("joe", "secret"), "AGpvZQBzZWNyZXQ=");
    }

    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            cram_md5_response("tim", "tanstaaftanstaaf", challenge),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
    }

    #[test]
    fn scram_sha1_matches_rfc_5802_example() {
        let mut s = Scram::new(false, "user", "fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            unb64(&s.client_first()).expect("b64"),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let sf = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let cf = s.client_final(sf, "pencil").expect("valid");
        assert_eq!(
            unb64(&cf).expect("b64"),
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert!(s.verify_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
        assert!(!s.verify_server_final(b"v=AAAA"));
    }

    #[test]
    fn scram_sha256_matches_rfc_7677_example() {
        let mut s = Scram::new(true, "user", "rOprNGfwEbeRWgbNEkqO");
        let sf = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let cf = s.client_final(sf, "pencil").expect("valid");
        assert_eq!(
            String::from_utf8(unb64(&cf).expect("b64")).expect("utf8"),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(s.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    }

    /// HMAC-SHA-256 from ring (through rustls's TLS 1.3 HKDF provider): an implementation
    /// independent of this module's, to check the -PLUS proof against.
    fn ring_hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
        let hkdf = suite.tls13().expect("tls13 suite").hkdf_provider;
        hkdf.hmac_sign(&rustls::crypto::tls13::OkmBlock::new(key), msg)
            .as_ref()
            .to_vec()
    }

    #[test]
    fn scram_sha256_plus_binds_the_tls_exporter_value() {
        // No official -PLUS vectors exist: take RFC 7677's exchange, bind it to a known
        // exporter value and recompute the proof independently.
        let exporter: Vec<u8> = (0u8..32).collect();
        let cnonce = "rOprNGfwEbeRWgbNEkqO";
        let mut s = Scram::with_tls_exporter(true, "user", cnonce, &exporter);
        assert_eq!(
            unb64(&s.client_first()).expect("b64"),
            b"p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let cf = s.client_final(sf.as_bytes(), "pencil").expect("valid");
        let cf = String::from_utf8(unb64(&cf).expect("b64")).expect("utf8");

        let mut cbind = b"p=tls-exporter,,".to_vec();
        cbind.extend_from_slice(&exporter);
        let without_proof = format!(
            "c={},r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            B64.encode(&cbind)
        );
        // PBKDF2-HMAC-SHA-256, one block, 4096 iterations.
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let mut u = ring_hmac_sha256(b"pencil", &[salt.as_slice(), &[0, 0, 0, 1]].concat());
        let mut salted = u.clone();
        for _ in 1..4096 {
            u = ring_hmac_sha256(b"pencil", &u);
            salted.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
        }
        let client_key = ring_hmac_sha256(&salted, b"Client Key");
        let stored_key = sha2::Sha256::digest(&client_key);
        let auth_message = format!("n=user,r={cnonce},{sf},{without_proof}");
        let sig = ring_hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        assert_eq!(cf, format!("{without_proof},p={}", B64.encode(&proof)));

        let server_key = ring_hmac_sha256(&salted, b"Server Key");
        let v = ring_hmac_sha256(&server_key, auth_message.as_bytes());
        assert!(s.verify_server_final(format!("v={}", B64.encode(&v)).as_bytes()));
        // The unbound signature (RFC 7677's) must not verify: the binding is in the proof.
        assert!(!s.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    }

    #[test]
    fn scram_sha1_plus_uses_the_same_gs2_header() {
        let exporter = [0xA5u8; TLS_EXPORTER_LEN];
        let mut s = Scram::with_tls_exporter(false, "user", "fyko+d2lbbFgONRv9qkxdawL", &exporter);
        assert_eq!(
            unb64(&s.client_first()).expect("b64"),
            b"p=tls-exporter,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let sf = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let cf =
            String::from_utf8(unb64(&s.client_final(sf, "pencil").expect("valid")).expect("b64"))
                .expect("utf8");
        let mut cbind = b"p=tls-exporter,,".to_vec();
        cbind.extend_from_slice(&exporter);
        assert!(
            cf.starts_with(&format!("c={},r=", B64.encode(&cbind))),
            "{cf}"
        );
        // A different binding changes the proof (RFC 5802's unbound proof no longer appears).
        assert!(!cf.ends_with("p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="), "{cf}");
    }

    #[test]
    fn plus_variants_are_supported_but_never_chosen_automatically() {
        assert!(Mechanism::ScramSha256Plus.is_supported());
        assert!(Mechanism::ScramSha1Plus.needs_channel_binding());
        assert!(!Mechanism::ScramSha256.needs_channel_binding());
        let c = caps("SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 PLAIN");
        assert_eq!(
            choose(AuthSetting::Auto, &c, true).expect("ok"),
            Some(Mechanism::Plain)
        );
        assert_eq!(
            choose(AuthSetting::Auto, &c, false).expect("ok"),
            Some(Mechanism::ScramSha256)
        );
        let c = caps("SCRAM-SHA-256-PLUS");
        assert!(choose(AuthSetting::Auto, &c, true).is_err());
        assert_eq!(
            choose(AuthSetting::Method(Mechanism::ScramSha256Plus), &c, true).expect("ok"),
            Some(Mechanism::ScramSha256Plus)
        );
        let e = choose(AuthSetting::Method(Mechanism::ScramSha1Plus), &c, true)
            .expect_err("not advertised");
        assert_eq!(
            e.message,
            "the server does not support authentication method SCRAM-SHA-1-PLUS"
        );
    }

    #[test]
    fn scram_rejects_foreign_nonce() {
        let mut s = Scram::new(false, "user", "abc");
        assert!(
            s.client_final(b"r=xyz123,s=QSXCR+Q6sek8bf92,i=1", "p")
                .is_none()
        );
    }

    #[test]
    fn auto_with_tls_prefers_plain() {
        let c = caps("LOGIN CRAM-MD5 PLAIN");
        assert_eq!(
            choose(AuthSetting::Auto, &c, true).expect("ok"),
            Some(Mechanism::Plain)
        );
        let c = caps("LOGIN CRAM-MD5");
        assert_eq!(
            choose(AuthSetting::Auto, &c, true).expect("ok"),
            Some(Mechanism::CramMd5)
        );
        let c = caps("LOGIN");
        assert_eq!(
            choose(AuthSetting::Auto, &c, true).expect("ok"),
            Some(Mechanism::Login)
        );
    }

    #[test]
    fn auto_with_tls_never_picks_oauth_external_gssapi() {
        let c = caps("XOAUTH2 OAUTHBEARER EXTERNAL GSSAPI");
        let e = choose(AuthSetting::Auto, &c, true).expect_err("none");
        assert_eq!(e.message, "cannot find a usable authentication method");
        assert_eq!(e.exit, Sysexit::Unavailable);
    }

    #[test]
    fn auto_without_tls_only_scram() {
        let c = caps("PLAIN LOGIN CRAM-MD5");
        let e = choose(AuthSetting::Auto, &c, false).expect_err("refused");
        assert_eq!(e.message, "cannot use a secure authentication method");
        assert_eq!(e.exit, Sysexit::Unavailable);
        let c = caps("PLAIN SCRAM-SHA-1 SCRAM-SHA-256");
        assert_eq!(
            choose(AuthSetting::Auto, &c, false).expect("ok"),
            Some(Mechanism::ScramSha256)
        );
    }

    #[test]
    fn explicit_method_works_without_tls_if_advertised() {
        let c = caps("PLAIN");
        assert_eq!(
            choose(AuthSetting::Method(Mechanism::Plain), &c, false).expect("ok"),
            Some(Mechanism::Plain)
        );
        let e =
            choose(AuthSetting::Method(Mechanism::Login), &c, false).expect_err("not advertised");
        assert_eq!(
            e.message,
            "the server does not support authentication method LOGIN"
        );
        assert_eq!(e.exit, Sysexit::Unavailable);
    }

    #[test]
    fn explicit_unimplemented_method_is_not_compiled_in() {
        let c = caps("NTLM");
        let e = choose(AuthSetting::Method(Mechanism::Ntlm), &c, true).expect_err("unsupported");
        assert_eq!(
            e.message,
            "support for authentication method NTLM is not compiled in"
        );
    }

    #[test]
    fn mechanism_names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
        }
    }
}
