//! Getting an account's first grant (`postie oauth2 login`):
//!
//! * the authorisation code grant with PKCE (RFC 7636, S256) and a `state`, redirected to a
//!   listener on the loopback address (RFC 8252; a random port, or `--port N` for `ssh -L`);
//! * the same with the redirected address pasted back (`--paste`): the browser may be on
//!   another machine, and nothing listens;
//! * the device authorisation grant (RFC 8628, `--device`): a code to enter on another device,
//!   polled for as the provider says (`interval`, `slow_down`, `authorization_pending`,
//!   `expired_token`).

use super::grant::{Grant, Problem, Tokens, token_answer};
use super::http;
use crate::error::{Error, Sysexit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How `login` obtains the authorisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Listen on 127.0.0.1 (port 0: any free one) for the browser's redirect.
    Loopback(u16),
    /// Print the address, read the redirected one back.
    Paste,
    /// Device authorisation grant.
    Device,
}

/// How long a loopback login waits for the browser.
pub const LOOPBACK_WAIT: Duration = Duration::from_secs(600);

/// `n` random bytes from the kernel.
fn random(n: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        // SAFETY: the pointer and length describe the unfilled rest of `buf`.
        let r = unsafe { libc::getrandom(buf[got..].as_mut_ptr().cast(), n - got, 0) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::new(
                Sysexit::OsErr,
                format!("cannot get random bytes: {}", crate::error::strerror(&e)),
            ));
        }
        got += usize::try_from(r).unwrap_or(0);
    }
    Ok(buf)
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Result<Pkce, Error> {
        Ok(Pkce::from_verifier(URL_SAFE_NO_PAD.encode(random(32)?)))
    }

    fn from_verifier(verifier: String) -> Pkce {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes one form-encoded value (`+` is a space).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| char::from(c).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parameters of a query string (after `?`, before `#`), or of a whole URL.
pub fn query_params(url_or_query: &str) -> Vec<(String, String)> {
    let q = match url_or_query.split_once('?') {
        Some((_, q)) => q,
        None => url_or_query,
    };
    let q = q.split('#').next().unwrap_or_default();
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The authorisation request's address.
pub fn authorize_url(
    grant: &Grant,
    redirect_uri: &str,
    state: &str,
    pkce: &Pkce,
    login_hint: Option<&str>,
) -> Result<String, Error> {
    let p = &grant.provider;
    let base = p.auth_url.as_deref().ok_or_else(|| {
        Error::config(
            "this provider has no authorisation endpoint: set oauth2_auth_url, or use --device",
        )
    })?;
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", p.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", p.scope.as_str()),
        ("state", state),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if p.kind == super::provider::Kind::Google {
        // Without these Google issues no refresh token on a repeated consent.
        params.push(("access_type", "offline"));
        params.push(("prompt", "consent"));
    }
    if let Some(h) = login_hint.filter(|h| !h.is_empty()) {
        params.push(("login_hint", h));
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}{}", query.join("&")))
}

/// Trades the authorisation code for tokens.
fn exchange(grant: &Grant, code: &str, redirect_uri: &str, pkce: &Pkce) -> Result<Tokens, Problem> {
    let p = &grant.provider;
    let secret = p.client_secret()?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", p.client_id.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s.expose()));
    }
    let a = http::post_form(&p.token_url, &form, grant.timeout)?;
    token_answer(&a, &p.token_url)
}

fn refused(what: String) -> Problem {
    Problem::Failed(Error::new(Sysexit::NoPerm, what))
}

/// What the redirect carried: the code, or the provider's refusal; the state must be ours.
pub fn code_from(params: &[(String, String)], state: &str) -> Result<String, Problem> {
    if let Some(e) = param(params, "error") {
        let desc = param(params, "error_description").unwrap_or_default();
        return Err(refused(format!(
            "the authorisation was refused: {}{}{}",
            crate::ui::sanitize(e),
            if desc.is_empty() { "" } else { ": " },
            crate::ui::sanitize(desc)
        )));
    }
    match param(params, "state") {
        Some(s) if s == state => {}
        Some(_) => {
            return Err(refused(
                "the redirect's state does not match this login (an old or forged redirect)".into(),
            ));
        }
        None if params.len() > 1 => {
            return Err(refused("the redirect carries no state".into()));
        }
        None => {}
    }
    match param(params, "code") {
        Some(c) if !c.is_empty() => Ok(c.to_owned()),
        _ => Err(refused("the redirect carries no authorisation code".into())),
    }
}

/// Logs in with `mode`, printing instructions to `out` and reading a pasted address from
/// `input`. Returns the provider's tokens (the caller stores them).
pub fn login(
    grant: &Grant,
    mode: Mode,
    login_hint: Option<&str>,
    out: &mut dyn Write,
    input: &mut dyn BufRead,
    open_browser: bool,
) -> Result<Tokens, Problem> {
    match mode {
        Mode::Device => device(grant, out, &mut |d| std::thread::sleep(d)),
        Mode::Loopback(port) => {
            let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
                Error::new(
                    Sysexit::OsErr,
                    format!(
                        "cannot listen on 127.0.0.1 port {port}: {}",
                        crate::error::strerror(&e)
                    ),
                )
            })?;
            let port = listener
                .local_addr()
                .map_err(|e| Error::io(e.to_string()))?
                .port();
            let redirect = format!("http://{}:{port}", grant.provider.loopback_host());
            let (state, pkce) = (URL_SAFE_NO_PAD.encode(random(16)?), Pkce::new()?);
            let url = authorize_url(grant, &redirect, &state, &pkce, login_hint)?;
            say(
                out,
                &format!(
                    "Open this address in a browser and authorise postie:\n\n{url}\n\n\
                     Waiting for the browser's redirect to {redirect} ...\n"
                ),
            );
            if open_browser {
                try_open_browser(&url);
            }
            let params = wait_for_redirect(&listener, LOOPBACK_WAIT)?;
            let code = code_from(&params, &state)?;
            exchange(grant, &code, &redirect, &pkce)
        }
        Mode::Paste => {
            // A loopback redirect with nothing listening: the browser shows an error page
            // whose address holds the code.
            let port = TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap_or(8080);
            let redirect = format!("http://{}:{port}", grant.provider.loopback_host());
            let (state, pkce) = (URL_SAFE_NO_PAD.encode(random(16)?), Pkce::new()?);
            let url = authorize_url(grant, &redirect, &state, &pkce, login_hint)?;
            say(
                out,
                &format!(
                    "Open this address in a browser (on any machine) and authorise postie:\n\n{url}\n\n\
                     The browser is then sent to {redirect}/?... and shows that it cannot connect.\n\
                     Copy that whole address from its address bar and paste it here:\n"
                ),
            );
            let mut line = zeroize::Zeroizing::new(String::new());
            input.read_line(&mut line).map_err(|e| {
                Error::io(format!(
                    "cannot read the address: {}",
                    crate::error::strerror(&e)
                ))
            })?;
            let text = line.trim();
            if text.is_empty() {
                return Err(Problem::Failed(Error::usage("no address pasted")));
            }
            let params = if text.contains('=') {
                query_params(text)
            } else {
                vec![("code".to_owned(), text.to_owned())]
            };
            let code = code_from(&params, &state)?;
            exchange(grant, &code, &redirect, &pkce)
        }
    }
}

fn say(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Opens `url` with `xdg-open` where there is a graphical session; quietly nothing elsewhere
/// (the address is printed anyway).
fn try_open_browser(url: &str) {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return;
    }
    let _ = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Serves the loopback redirect: the first request that carries `code` or `error` ends the
/// wait; anything else (a favicon) gets a 404.
fn wait_for_redirect(
    listener: &TcpListener,
    wait: Duration,
) -> Result<Vec<(String, String)>, Problem> {
    let deadline = Instant::now() + wait;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io(e.to_string()))?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(params) = serve_one(stream) {
                    return Ok(params);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Problem::Failed(Error::new(
                        Sysexit::TempFail,
                        "no redirect from the browser arrived in time",
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(Problem::Failed(Error::io(e.to_string()))),
        }
    }
}

const PAGE_DONE: &str = "<!doctype html><title>postie</title><p>postie has the authorisation. \
                         You can close this window.</p>";
const PAGE_OTHER: &str = "<!doctype html><title>postie</title><p>Not found.</p>";

fn serve_one(mut stream: TcpStream) -> Option<Vec<(String, String)>> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(std::io::Read::take(stream.try_clone().ok()?, 16 * 1024));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    // The headers, up to the empty line (bounded by `take`).
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let params = query_params(target.split_once('?').map_or("", |(_, q)| q));
    let done = param(&params, "code").is_some() || param(&params, "error").is_some();
    let (status, body) = if done {
        ("200 OK", PAGE_DONE)
    } else {
        ("404 Not Found", PAGE_OTHER)
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
    done.then_some(params)
}

/// The longest wait between two polls, and the longest a device code is polled for: a
/// provider's larger numbers (or garbage such as 2^64 - 1) can neither overflow the clock
/// arithmetic nor keep a login sleeping for days.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);
pub const MAX_DEVICE_WAIT: Duration = Duration::from_secs(3600);

/// A device authorisation endpoint's answer (RFC 8628 section 3.2), its numbers bounded.
pub struct DeviceCode {
    pub device_code: zeroize::Zeroizing<String>,
    pub user_code: String,
    /// Where the user enters the code.
    pub uri: String,
    pub interval: Duration,
    pub expires: Duration,
}

impl DeviceCode {
    /// The code from an answer, or why there is none.
    pub fn from_answer(a: &http::Answer) -> Result<DeviceCode, Problem> {
        let (Some(device_code), Some(user_code)) = (a.str("device_code"), a.str("user_code"))
        else {
            return Err(refused(format!(
                "the device authorisation endpoint answered HTTP {}: {}",
                a.status,
                a.error_text()
            )));
        };
        // Google says verification_url, RFC 8628 verification_uri.
        let uri = a
            .str("verification_uri")
            .or_else(|| a.str("verification_url"))
            .unwrap_or("(the provider named no address)");
        let secs = |key, default| Duration::from_secs(a.u64(key).unwrap_or(default));
        Ok(DeviceCode {
            device_code: zeroize::Zeroizing::new(device_code.to_owned()),
            user_code: user_code.to_owned(),
            uri: uri.to_owned(),
            interval: secs("interval", 5).clamp(Duration::from_secs(1), MAX_POLL_INTERVAL),
            expires: secs("expires_in", 1800).min(MAX_DEVICE_WAIT),
        })
    }
}

/// The device authorisation grant: asks for a code, prints it, polls.
fn device(
    grant: &Grant,
    out: &mut dyn Write,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Tokens, Problem> {
    let p = &grant.provider;
    let url = p.device_url.as_deref().ok_or_else(|| {
        Error::config("this provider has no device authorisation endpoint: set oauth2_device_url")
    })?;
    let a = http::post_form(
        url,
        &[
            ("client_id", p.client_id.as_str()),
            ("scope", p.scope.as_str()),
        ],
        grant.timeout,
    )?;
    let d = DeviceCode::from_answer(&a)?;
    say(
        out,
        &format!(
            "On any device, open {}\nand enter the code {}\n\nWaiting for the authorisation ...\n",
            crate::ui::sanitize(&d.uri),
            crate::ui::sanitize(&d.user_code)
        ),
    );
    let (interval, expires) = (d.interval, d.expires);
    let device_code = d.device_code;
    let secret = p.client_secret()?;
    let start = Instant::now();
    poll(
        interval,
        expires,
        &mut || {
            let mut form = vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code.as_str()),
                ("client_id", p.client_id.as_str()),
            ];
            if let Some(s) = &secret {
                form.push(("client_secret", s.expose()));
            }
            http::post_form(&p.token_url, &form, grant.timeout).map_err(Problem::from)
        },
        sleep,
        &mut || start.elapsed(),
        &p.token_url,
    )
}

/// RFC 8628 section 3.5: waits `interval` between requests, five seconds more after each
/// `slow_down` (up to [`MAX_POLL_INTERVAL`]), until a token, a refusal or the code's expiry.
pub fn poll(
    mut interval: Duration,
    expires: Duration,
    ask: &mut dyn FnMut() -> Result<http::Answer, Problem>,
    sleep: &mut dyn FnMut(Duration),
    elapsed: &mut dyn FnMut() -> Duration,
    token_url: &str,
) -> Result<Tokens, Problem> {
    let expired = || {
        Problem::Failed(Error::new(
            Sysexit::TempFail,
            "the device code expired before the authorisation was given; run login again",
        ))
    };
    loop {
        if elapsed().saturating_add(interval) > expires {
            return Err(expired());
        }
        sleep(interval);
        let a = ask()?;
        match a.error() {
            Some("authorization_pending") => {}
            Some("slow_down") => {
                interval = (interval + Duration::from_secs(5)).min(MAX_POLL_INTERVAL);
            }
            Some("expired_token") => return Err(expired()),
            Some("access_denied") => {
                return Err(refused("the authorisation was denied".to_owned()));
            }
            _ => return token_answer(&a, token_url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new().unwrap();
        assert_eq!(fresh.verifier.len(), 43);
        assert_ne!(fresh.verifier, Pkce::new().unwrap().verifier);
    }

    #[test]
    fn form_encoding_round_trips() {
        let s = "https://mail.google.com/ a+b&c=d ü";
        assert_eq!(
            encode(s),
            "https%3A%2F%2Fmail.google.com%2F%20a%2Bb%26c%3Dd%20%C3%BC"
        );
        assert_eq!(decode(&encode(s)), s);
        assert_eq!(decode("a+b%2"), "a b%2");
        let q = query_params("http://127.0.0.1:5/?state=s%2F1&code=4%2F0Ab&scope=x+y#frag");
        assert_eq!(param(&q, "code"), Some("4/0Ab"));
        assert_eq!(param(&q, "state"), Some("s/1"));
        assert_eq!(param(&q, "scope"), Some("x y"));
    }

    #[test]
    fn redirects_must_carry_our_state() {
        let p = |s: &str| query_params(s);
        assert_eq!(code_from(&p("?code=c&state=s"), "s").unwrap(), "c");
        assert!(code_from(&p("?code=c&state=t"), "s").is_err());
        assert!(code_from(&p("?code=c&scope=x"), "s").is_err());
        assert_eq!(code_from(&p("code=c"), "s").unwrap(), "c");
        match code_from(&p("?error=access_denied&state=s"), "s") {
            Err(Problem::Failed(e)) => assert!(e.message.contains("access_denied")),
            other => panic!("{other:?}"),
        }
    }

    fn answer(json: serde_json::Value, status: u16) -> http::Answer {
        let serde_json::Value::Object(json) = json else {
            panic!()
        };
        http::Answer { status, json }
    }

    /// The poller against scripted answers and a clock that only the sleeps advance.
    fn run_poll(answers: Vec<http::Answer>, expires: u64) -> (Result<Tokens, Problem>, Vec<u64>) {
        poll_from(
            Duration::from_secs(5),
            Duration::from_secs(expires),
            answers,
        )
    }

    fn poll_from(
        interval: Duration,
        expires: Duration,
        answers: Vec<http::Answer>,
    ) -> (Result<Tokens, Problem>, Vec<u64>) {
        let mut answers = answers.into_iter();
        let clock = std::cell::Cell::new(Duration::ZERO);
        let mut slept = Vec::new();
        let r = poll(
            interval,
            expires,
            &mut || Ok(answers.next().expect("no more answers")),
            &mut |d| {
                slept.push(d.as_secs());
                clock.set(clock.get() + d);
            },
            &mut || clock.get(),
            "https://t",
        );
        (r, slept)
    }

    #[test]
    fn device_polling_follows_pending_and_slow_down() {
        let pending = || answer(serde_json::json!({"error": "authorization_pending"}), 400);
        let (r, slept) = run_poll(
            vec![
                pending(),
                answer(serde_json::json!({"error": "slow_down"}), 400),
                pending(),
                answer(
                    serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_in": 10}),
                    200,
                ),
            ],
            600,
        );
        assert_eq!(r.unwrap().access_token.expose(), "at");
        assert_eq!(slept, vec![5, 5, 10, 10]);
    }

    #[test]
    fn a_device_answers_numbers_are_bounded() {
        let code = |json| DeviceCode::from_answer(&answer(json, 200));
        let huge = serde_json::json!({"device_code": "dc", "user_code": "UC",
            "interval": u64::MAX, "expires_in": u64::MAX});
        let d = code(huge).ok().unwrap();
        assert_eq!(
            (d.interval, d.expires),
            (MAX_POLL_INTERVAL, MAX_DEVICE_WAIT)
        );
        let zero = serde_json::json!({"device_code": "dc", "user_code": "UC",
            "interval": 0, "expires_in": "900", "verification_url": "https://g.co/x"});
        let d = code(zero).ok().unwrap();
        assert_eq!(
            (d.interval, d.expires),
            (Duration::from_secs(1), Duration::from_secs(900))
        );
        assert_eq!(d.uri, "https://g.co/x");
        let err =
            serde_json::json!({"error": "invalid_client", "error_description": "a\u{1b}[2Jb"});
        let Err(Problem::Failed(e)) = code(err) else {
            panic!()
        };
        assert!(e.message.contains("invalid_client") && !e.message.contains('\u{1b}'));
        // Before the bounds, an interval of 2^64 - 1 seconds overflowed the poller's clock
        // arithmetic (a panic), and slow_down grew the wait without end.
        let d = code(serde_json::json!({"device_code": "dc", "user_code": "UC",
            "interval": u64::MAX, "expires_in": u64::MAX}))
        .ok()
        .unwrap();
        let answers = (0..100)
            .map(|_| answer(serde_json::json!({"error": "slow_down"}), 400))
            .chain([answer(serde_json::json!({"error": "access_denied"}), 400)])
            .collect();
        let (r, slept) = poll_from(d.interval, d.expires, answers);
        assert!(slept.iter().all(|&s| s <= 60), "{slept:?}");
        assert!(matches!(r, Err(Problem::Failed(ref e)) if e.message.contains("expired")));
        assert!(slept.iter().all(|&s| s <= 60), "{slept:?}");
    }

    #[test]
    fn device_polling_ends_at_expiry_and_denial() {
        let pending = || answer(serde_json::json!({"error": "authorization_pending"}), 400);
        let (r, slept) = run_poll(vec![pending(), pending(), pending()], 12);
        assert!(matches!(r, Err(Problem::Failed(ref e)) if e.message.contains("expired")));
        assert_eq!(slept, vec![5, 5]);
        let (r, _) = run_poll(
            vec![answer(serde_json::json!({"error": "expired_token"}), 400)],
            600,
        );
        assert!(matches!(r, Err(Problem::Failed(ref e)) if e.message.contains("expired")));
        let (r, _) = run_poll(
            vec![answer(serde_json::json!({"error": "access_denied"}), 400)],
            600,
        );
        assert!(matches!(r, Err(Problem::Failed(ref e)) if e.message.contains("denied")));
    }
}
