//! A fake OAuth2 provider for tests, over HTTPS with the test PKI's `localhost`/`127.0.0.1`
//! certificate (point postie at the CA with `SSL_CERT_FILE`). Endpoints: `GET /authorize`
//! (redirects at once with a code, as if the user had consented), `POST /token`
//! (authorization_code with PKCE S256, refresh_token, the device grant), `POST /device`,
//! `POST /revoke`. It issues access tokens of a lifetime the test chooses, can rotate refresh
//! tokens, answer `invalid_grant` or stall on demand, and counts requests.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::pki::{CertChoice, pki};

/// The client ID the fake provider knows.
pub const CLIENT_ID: &str = "test-client";

/// What the provider knows and has done; tests change the knobs and read the counters.
#[derive(Debug, Default)]
pub struct State {
    /// Lifetime of new access tokens, in seconds (the `expires_in` sent).
    pub lifetime: u64,
    /// Hand out a new refresh token at each refresh (the old one stops working).
    pub rotate: bool,
    /// Answer every refresh with `invalid_grant`.
    pub invalid_grant: bool,
    /// Never answer token requests (a hung provider).
    pub stall: bool,
    /// The length of the access tokens issued.
    pub token_len: usize,
    /// `authorization_pending` answers before a device code is granted.
    pub device_pending: usize,
    /// Valid refresh tokens.
    pub refresh_tokens: HashSet<String>,
    /// Valid access tokens and when they expire.
    pub access_tokens: HashMap<String, Instant>,
    codes: HashMap<String, (String, String)>,
    devices: HashMap<String, usize>,
    serial: usize,
    /// Requests by kind: `authorize`, `code`, `refresh`, `device`, `device_poll`, `revoke`.
    pub counts: HashMap<String, usize>,
    /// Every form field name/value that reached the token endpoint (to check no surprises).
    pub revoked: Vec<String>,
}

impl State {
    fn count(&mut self, what: &str) {
        *self.counts.entry(what.to_owned()).or_default() += 1;
    }

    fn issue(&mut self, with_refresh: bool) -> String {
        self.serial += 1;
        let mut at = format!("at-{}-", self.serial);
        while at.len() < self.token_len {
            at.push('x');
        }
        self.access_tokens.insert(
            at.clone(),
            Instant::now() + Duration::from_secs(self.lifetime),
        );
        let mut json = format!(
            r#"{{"access_token":"{at}","token_type":"Bearer","expires_in":{},"scope":"mail""#,
            self.lifetime
        );
        if with_refresh {
            let rt = format!("rt-{}", self.serial);
            self.refresh_tokens.insert(rt.clone());
            json.push_str(&format!(r#","refresh_token":"{rt}""#));
        }
        json.push('}');
        json
    }
}

/// A running fake provider.
pub struct Provider {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Provider {
    /// Starts it on 127.0.0.1 (any port), issuing tokens valid for `lifetime` seconds.
    pub fn start(lifetime: u64) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            lifetime,
            token_len: 40,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || serve(stream, &st));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Provider { port, state, stop }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// msmtprc lines for a `custom` provider pointing here.
    pub fn rc_lines(&self) -> String {
        let u = self.url();
        format!(
            "oauth2_provider custom\noauth2_client_id {CLIENT_ID}\noauth2_auth_url {u}/authorize\n\
             oauth2_token_url {u}/token\noauth2_device_url {u}/device\noauth2_revoke_url {u}/revoke\n\
             oauth2_scope mail offline\n"
        )
    }

    /// A refresh token the provider knows (for `oauth2 import`).
    pub fn known_refresh_token(&self, rt: &str) {
        self.state
            .lock()
            .unwrap()
            .refresh_tokens
            .insert(rt.to_owned());
    }

    /// Whether `token` is a valid, unexpired access token (the SMTP server's check).
    pub fn valid(&self, token: &str) -> bool {
        let s = self.state.lock().unwrap();
        s.access_tokens
            .get(token)
            .is_some_and(|e| Instant::now() < *e)
    }

    /// The check for [`super::server::ServerBuilder::bearer_tokens`].
    pub fn checker(&self) -> impl Fn(&str, &str) -> bool + Send + Sync + 'static {
        let state = self.state.clone();
        move |_user, token| {
            let s = state.lock().unwrap();
            s.access_tokens
                .get(token)
                .is_some_and(|e| Instant::now() < *e)
        }
    }

    /// How many requests of `kind` arrived.
    pub fn count(&self, kind: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .counts
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// Stops listening: connections are refused from now on.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "the fake provider does not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Changes the state.
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(tcp: TcpStream, state: &Mutex<State>) {
    tcp.set_nonblocking(false).ok();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Ok(conn) = rustls::ServerConnection::new(pki().server_config(CertChoice::Good)) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len.min(1 << 20)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    drop(reader);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (status, extra, json) = answer(method, path, query, &body, state);
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = tls.write_all(reply.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
}

fn err(e: &str) -> (String, String, String) {
    (
        "400 Bad Request".into(),
        String::new(),
        format!(r#"{{"error":"{e}","error_description":"fake provider says {e}"}}"#),
    )
}

fn ok(json: String) -> (String, String, String) {
    ("200 OK".into(), String::new(), json)
}

fn answer(
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    state: &Mutex<State>,
) -> (String, String, String) {
    let stall = {
        let s = state.lock().unwrap();
        s.stall && path == "/token"
    };
    if stall {
        std::thread::sleep(Duration::from_secs(30));
        return err("stalled");
    }
    let mut s = state.lock().unwrap();
    match (method, path) {
        ("GET", "/authorize") => {
            s.count("authorize");
            let q = form(query);
            if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || q.get("code_challenge_method").map(String::as_str) != Some("S256")
                || q.get("response_type").map(String::as_str) != Some("code")
            {
                return err("invalid_request");
            }
            s.serial += 1;
            let code = format!("code-{}", s.serial);
            let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
            s.codes.insert(
                code.clone(),
                (
                    q.get("code_challenge").cloned().unwrap_or_default(),
                    redirect.clone(),
                ),
            );
            let state_param = q.get("state").cloned().unwrap_or_default();
            (
                "302 Found".into(),
                format!("Location: {redirect}/?code={code}&state={state_param}&scope=mail\r\n"),
                "{}".into(),
            )
        }
        ("POST", "/device") => {
            s.count("device");
            s.serial += 1;
            let dc = format!("dc-{}", s.serial);
            let pending = s.device_pending;
            s.devices.insert(dc.clone(), pending);
            ok(format!(
                r#"{{"device_code":"{dc}","user_code":"WDJB-MJHT","verification_uri":"https://example.org/device","expires_in":60,"interval":1}}"#
            ))
        }
        ("POST", "/revoke") => {
            s.count("revoke");
            let f = form(body);
            let t = f.get("token").cloned().unwrap_or_default();
            s.refresh_tokens.remove(&t);
            s.revoked.push(t);
            ok("{}".into())
        }
        ("POST", "/token") => {
            let f = form(body);
            if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
                return err("invalid_client");
            }
            match f.get("grant_type").map(String::as_str) {
                Some("authorization_code") => {
                    s.count("code");
                    let code = f.get("code").cloned().unwrap_or_default();
                    let Some((challenge, redirect)) = s.codes.remove(&code) else {
                        return err("invalid_grant");
                    };
                    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                    if computed != challenge || f.get("redirect_uri") != Some(&redirect) {
                        return err("invalid_grant");
                    }
                    ok(s.issue(true))
                }
                Some("refresh_token") => {
                    s.count("refresh");
                    let rt = f.get("refresh_token").cloned().unwrap_or_default();
                    if s.invalid_grant || !s.refresh_tokens.contains(&rt) {
                        return err("invalid_grant");
                    }
                    if s.rotate {
                        s.refresh_tokens.remove(&rt);
                    }
                    let rotate = s.rotate;
                    ok(s.issue(rotate))
                }
                Some("urn:ietf:params:oauth:grant-type:device_code") => {
                    s.count("device_poll");
                    let dc = f.get("device_code").cloned().unwrap_or_default();
                    match s.devices.get(&dc).copied() {
                        None => err("invalid_grant"),
                        Some(0) => {
                            s.devices.remove(&dc);
                            ok(s.issue(true))
                        }
                        Some(n) => {
                            s.devices.insert(dc, n - 1);
                            err("authorization_pending")
                        }
                    }
                }
                _ => err("unsupported_grant_type"),
            }
        }
        _ => ("404 Not Found".into(), String::new(), "{}".into()),
    }
}
