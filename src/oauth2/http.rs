//! The HTTPS client of the OAuth2 flows: form POSTs to the provider's endpoints, answered with
//! JSON. ureq on the rustls + ring stack postie already uses for SMTP, trusting the system's
//! CA certificates (`rustls-native-certs`, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`).
//!
//! Every request has a connect timeout, a per-read timeout and an overall deadline (from the
//! account's `timeout`, else [`DEFAULT_TIMEOUT`]); the response body is read up to
//! [`MAX_BODY`] bytes. Nothing here prints or logs: request bodies carry secrets (the refresh
//! token, the client secret), so errors describe the transport or the provider's own
//! `error`/`error_description`, sanitised, never a body.

use crate::error::{Error, Sysexit};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The largest response body read (a token response is well below 16 KB even with a long
/// access token and an ID token).
pub const MAX_BODY: u64 = 64 * 1024;

/// The timeout when the account sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A provider's answer: the HTTP status and the JSON object it sent (an empty object when the
/// body was not JSON). Its `Debug` form names the members, never their values (tokens).
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("members", &self.json.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Answer {
    /// The answer with `status` whose body is `body`: its JSON object, or an empty object when
    /// the body is not one (an HTML error page, a proxy's text).
    pub fn from_body(status: u16, body: &[u8]) -> Answer {
        let json = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        Answer { status, json }
    }

    /// A string member of the JSON object.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(serde_json::Value::as_str)
    }

    /// A number member (some providers send numbers as strings: Microsoft's `expires_in` once
    /// did).
    pub fn u64(&self, key: &str) -> Option<u64> {
        match self.json.get(key)? {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The OAuth2 `error` code, if the answer is an error (RFC 6749 section 5.2).
    pub fn error(&self) -> Option<&str> {
        self.str("error")
    }

    /// `error (error_description)`, sanitised for the terminal and shortened: what the
    /// provider said, for a message.
    pub fn error_text(&self) -> String {
        let code = self.error().unwrap_or("no error code");
        let mut t = crate::ui::sanitize(&shorten(code, 80));
        if let Some(d) = self.str("error_description") {
            t.push_str(&format!(": {}", crate::ui::sanitize(&shorten(d, 300))));
        }
        t
    }
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// The agent for `timeout`, with the system's roots.
fn agent(timeout: Duration) -> Result<ureq::Agent, Error> {
    let roots = roots()?;
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::Specific(roots))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .https_only(false)
        .user_agent(concat!("postie/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(timeout))
        .timeout_per_read(Some(timeout))
        .timeout_global(Some(timeout * 2))
        .build();
    Ok(config.into())
}

/// The system's CA certificates, loaded once per process.
fn roots() -> Result<Arc<Vec<ureq::tls::Certificate<'static>>>, Error> {
    static ROOTS: OnceLock<Result<Arc<Vec<ureq::tls::Certificate<'static>>>, String>> =
        OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err(found.errors.first().map_or_else(
                    || "no system CA certificates found".to_owned(),
                    ToString::to_string,
                ));
            }
            Ok(Arc::new(
                found
                    .certs
                    .iter()
                    .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                    .collect(),
            ))
        })
        .clone()
        .map_err(|why| {
            Error::new(
                Sysexit::OsErr,
                format!("cannot load the system CA certificates for OAuth2: {why}"),
            )
        })
}

/// POSTs `form` (application/x-www-form-urlencoded) to `url` and reads the JSON answer. A
/// transport failure (no connection, a timeout, a TLS error, an unreadable answer) is a
/// transient error (75): the provider may be back later; a 5xx status is left to the caller.
pub fn post_form(url: &str, form: &[(&str, &str)], timeout: Duration) -> Result<Answer, Error> {
    let unreachable = |why: String| {
        Error::new(
            Sysexit::TempFail,
            format!(
                "cannot reach the OAuth2 provider at {}: {}",
                crate::ui::sanitize(&endpoint(url)),
                crate::ui::sanitize(&why)
            ),
        )
        .transient()
    };
    let mut response = agent(timeout)?
        .post(url)
        .header("Accept", "application/json")
        .send_form(form.iter().copied())
        .map_err(|e| unreachable(describe(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| unreachable(describe(&e)))?;
    Ok(Answer::from_body(status, &body))
}

/// The scheme, host and path of `url`, without a query (which a custom URL might carry).
pub fn endpoint(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// A transport error in words, without anything from a request body.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        ureq::Error::BodyExceedsLimit(n) => format!("its answer is larger than {n} bytes"),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        ureq::Error::Io(io) => crate::error::strerror(io),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_sanitised_and_short() {
        let mut json = serde_json::Map::new();
        json.insert("error".into(), "invalid_grant".into());
        json.insert(
            "error_description".into(),
            format!("Token expired\x1b[2J{}", "x".repeat(1000)).into(),
        );
        let a = Answer { status: 400, json };
        let t = a.error_text();
        assert!(t.starts_with("invalid_grant: Token expired"), "{t}");
        assert!(!t.contains('\x1b'), "{t}");
        assert!(t.len() < 400, "{}", t.len());
    }

    #[test]
    fn numbers_may_be_strings() {
        let mut json = serde_json::Map::new();
        json.insert("a".into(), 3599.into());
        json.insert("b".into(), "3600".into());
        let a = Answer { status: 200, json };
        assert_eq!(
            (a.u64("a"), a.u64("b"), a.u64("c")),
            (Some(3599), Some(3600), None)
        );
    }

    #[test]
    fn endpoints_lose_their_query() {
        assert_eq!(endpoint("https://x/token?a=b#c"), "https://x/token");
    }
}
