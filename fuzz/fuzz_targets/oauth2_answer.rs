//! What an OAuth2 provider or a browser sends back: token endpoint answers
//! (`oauth2::grant::token_answer`), a device authorisation answer and the polls after it
//! (`oauth2::flow::DeviceCode`, `oauth2::flow::poll`, with a clock the sleeps advance), and a
//! pasted or loopback redirect (`oauth2::flow::query_params`, `oauth2::flow::code_from`).
//! Byte 0 chooses; answers are a big-endian status (2 bytes) and a body, several of them
//! separated by 0xFF. Checked: tokens only from a 200 with a non-empty access token, a cache
//! lifetime of at least a second and no longer than the token's, every wait at most
//! `MAX_POLL_INTERVAL` and the whole poll within the code's bounded lifetime, a code only with
//! our state, and messages without control characters or the refresh token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::oauth2::Problem;
use postie::oauth2::flow::{
    DeviceCode, MAX_DEVICE_WAIT, MAX_POLL_INTERVAL, code_from, poll, query_params,
};
use postie::oauth2::grant::token_answer;
use postie::oauth2::http::Answer;
use std::time::Duration;

fn answer(piece: &[u8]) -> Answer {
    match piece {
        [a, b, body @ ..] => Answer::from_body(u16::from_be_bytes([*a, *b]), body),
        _ => Answer::from_body(200, b""),
    }
}

/// A message's text: printable, and without a refresh token the answer carried unless the
/// provider put the same text in its error fields.
fn clean(message: &str, a: &Answer) {
    assert!(!message.chars().any(char::is_control), "{message:?}");
    if let Some(rt) = a.str("refresh_token").filter(|t| t.len() >= 8) {
        let said = [a.str("error"), a.str("error_description")];
        if !said.iter().flatten().any(|s| s.contains(rt)) {
            assert!(!message.contains(rt), "refresh token in {message:?}");
        }
    }
}

fn problem(p: &Problem, a: &Answer) {
    match p {
        Problem::NeedsLogin(m) => clean(m, a),
        Problem::Failed(e) => clean(&e.message, a),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let a = answer(rest);
            match token_answer(&a, "https://idp.example/token?x=1") {
                Ok(t) => {
                    assert_eq!(a.status, 200);
                    assert_eq!(Some(t.access_token.expose()), a.str("access_token"));
                    assert!(!t.access_token.expose().is_empty());
                    let ttl = t.cache_ttl();
                    assert!(ttl >= Duration::from_secs(1));
                    assert!(ttl <= Duration::from_secs(t.expires_in.max(1)));
                }
                Err(p) => problem(&p, &a),
            }
        }
        1 => {
            let mut pieces = rest.split(|&b| b == 0xFF);
            let first = answer(pieces.next().unwrap_or_default());
            let d = match DeviceCode::from_answer(&first) {
                Ok(d) => d,
                Err(p) => return problem(&p, &first),
            };
            assert!(d.interval >= Duration::from_secs(1) && d.interval <= MAX_POLL_INTERVAL);
            assert!(d.expires <= MAX_DEVICE_WAIT);
            let clock = std::cell::Cell::new(Duration::ZERO);
            let mut asked = Vec::new();
            let r = poll(
                d.interval,
                d.expires,
                &mut || match pieces.next() {
                    Some(p) => {
                        let a = answer(p);
                        let copy = Answer::from_body(a.status, &p[2.min(p.len())..]);
                        asked.push(copy);
                        Ok(a)
                    }
                    // The harness's own end, not the provider's words: not checked below.
                    None => Err(Problem::NeedsLogin(String::new())),
                },
                &mut |s| {
                    assert!(
                        s >= Duration::from_secs(1) && s <= MAX_POLL_INTERVAL,
                        "{s:?}"
                    );
                    clock.set(clock.get() + s);
                },
                &mut || clock.get(),
                "https://idp.example/token",
            );
            assert!(clock.get() <= d.expires, "polled past the code's lifetime");
            match r {
                Ok(t) => assert!(!t.access_token.expose().is_empty()),
                Err(Problem::NeedsLogin(m)) if m.is_empty() => {}
                Err(p) => {
                    let last = asked.last().unwrap_or(&first);
                    problem(&p, last);
                }
            }
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let params = query_params(&text);
            match code_from(&params, "STATE-123") {
                Ok(code) => {
                    assert!(!code.is_empty());
                    let state = params.iter().find(|(k, _)| k == "state");
                    match state {
                        Some((_, s)) => assert_eq!(s, "STATE-123"),
                        None => assert_eq!(params.len(), 1, "{params:?}"),
                    }
                    assert!(!params.iter().any(|(k, _)| k == "error"));
                }
                Err(Problem::Failed(e)) => {
                    assert!(!e.message.chars().any(char::is_control), "{:?}", e.message)
                }
                Err(Problem::NeedsLogin(m)) => panic!("a redirect never needs a login: {m}"),
            }
        }
    }
});
