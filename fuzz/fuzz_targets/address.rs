//! Envelope address check: an address it accepts cannot add anything to `MAIL FROM:<addr>`:
//! no line end, NUL or control character, and no `<`, `>` or white space outside a quoted
//! local part (not in an address literal either).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::envelope::address::problem;

fuzz_target!(|data: &[u8]| {
    let Ok(addr) = std::str::from_utf8(data) else {
        return;
    };
    if problem(addr).is_some() {
        return;
    }
    assert!(!addr.is_empty());
    assert!(!addr.chars().any(char::is_control), "{addr:?}");
    // Outside a quoted local part nothing may end the address or start a parameter.
    let outside = match addr.strip_prefix('"') {
        Some(rest) => {
            // The closing quote, skipping \-escapes.
            let mut esc = false;
            let mut end = None;
            for (i, c) in rest.char_indices() {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    end = Some(i);
                    break;
                }
            }
            let end = end.expect("an accepted quoted local part is closed");
            &rest[end + 1..]
        }
        None => addr,
    };
    assert!(!outside.contains(['>', '<', ' ', '\t']), "{addr:?}");
});
