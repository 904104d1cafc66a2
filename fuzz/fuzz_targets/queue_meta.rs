//! Queue metadata: any text -> Meta or an error; a Meta that parsed serialises and parses back
//! to itself. The metadata built from the input's bytes (strings with any character) does too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::queue::meta::{Meta, Origin, Refused, StoredRewrite};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        if let Ok(m) = Meta::from_toml(&text) {
            round_trip(&m);
        }
    } else {
        round_trip(&built(rest));
    }
});

fn round_trip(m: &Meta) {
    let text = m.to_toml();
    assert!(!text.is_empty(), "no TOML for {m:?}");
    let back = Meta::from_toml(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(&back, m, "{text}");
}

/// A Meta whose strings are cut from the input and whose numbers are in TOML's range.
fn built(data: &[u8]) -> Meta {
    let mut parts = data
        .split(|&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut s = || parts.next().unwrap_or_default();
    let n = |i: usize| -> u64 {
        let mut x = 0u64;
        for &b in data.iter().skip(i).take(8) {
            x = x << 8 | u64::from(b);
        }
        x >> 1
    };
    let origin = Origin {
        config_file: Some(s()).filter(|c| !c.is_empty()),
        account: s(),
        host: Some(s()).filter(|c| c.len() % 2 == 1),
        overrides: vec![(s(), s()), (s(), s())],
    };
    let mut rewrite = StoredRewrite::default();
    rewrite.rewrite.from_line = Some(s());
    rewrite.rewrite.date = Some(s()).filter(|d| !d.is_empty());
    rewrite.rewrite.message_id = Some(s());
    rewrite.rewrite.remove_bcc = n(3) & 1 != 0;
    rewrite.rewrite.undisclosed_recipients = n(5) & 1 != 0;
    rewrite.read_recipients = n(7) & 1 != 0;
    Meta {
        format: (n(0) & 0xffff_ffff) as u32,
        id: s(),
        created: n(1),
        from: s(),
        recipients: vec![s(), s(), s()],
        refused: vec![Refused {
            recipient: s(),
            reply: s(),
        }],
        size: n(2),
        sha256: Some(s()).filter(|h| !h.is_empty()),
        attempts: (n(4) & 0xffff_ffff) as u32,
        last_error: Some(s()),
        next_attempt: n(6),
        held: n(8) & 1 != 0,
        origin,
        rewrite,
    }
}
