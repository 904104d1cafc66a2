//! AUTH challenge handling with hostile challenges: CRAM-MD5 responses to any challenge, SCRAM
//! server-first and server-final messages (fixed client nonce, so the fuzzer can extend it).
//! The first byte chooses the case. SCRAM iteration counts above 50,000 are skipped: up to the
//! 10,000,000 that `Scram` accepts they cost time by design (docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::smtp::auth::{Scram, b64, cram_md5_response, unb64};

const NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            // The challenge as the server sends it: base64 text (maybe not base64 at all).
            let text = String::from_utf8_lossy(rest);
            let challenge = unb64(&text).unwrap_or_else(|| rest.to_vec());
            let r = cram_md5_response("user name", "pässword", &challenge);
            let decoded = unb64(&r).expect("our own base64");
            let decoded = String::from_utf8(decoded).expect("user and hex");
            let (user, hex) = decoded.rsplit_once(' ').expect("user SP digest");
            assert_eq!(user, "user name");
            assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        _ => {
            let sha256 = which % 3 == 2;
            let (first, fin) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            if too_many_iterations(first) {
                return;
            }
            let mut s = if which & 0x80 != 0 {
                Scram::with_tls_exporter(sha256, "us=er,", NONCE, &[1; 32])
            } else {
                Scram::new(sha256, "us=er,", NONCE)
            };
            let cf = unb64(&s.client_first()).expect("base64");
            assert!(cf.ends_with(format!("n=us=3Der=2C,r={NONCE}").as_bytes()));
            match s.client_final(first, "pencil") {
                Some(msg) => {
                    let text = String::from_utf8(unb64(&msg).expect("base64")).expect("utf-8");
                    assert!(text.starts_with("c="));
                    assert!(text.contains(&format!(",r={NONCE}")));
                    assert!(text.contains(",p="));
                    let _ = s.verify_server_final(fin);
                    // The right signature is never derived from a wrong one.
                    assert!(!s.verify_server_final(format!("v={}", b64(b"x")).as_bytes()));
                }
                None => assert!(!s.verify_server_final(fin)),
            }
        }
    }
});

fn too_many_iterations(first: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(first) else {
        return false;
    };
    text.split(',')
        .filter_map(|p| p.strip_prefix("i="))
        .any(|v| v.parse::<u32>().is_ok_and(|n| n > 50_000))
}
