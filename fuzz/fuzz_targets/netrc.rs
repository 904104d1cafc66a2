//! netrc lookup: `host NUL user NUL text`; never a panic, and a password found is one the
//! text contains.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let host = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let user = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    if let Some(pw) = postie::secret::netrc::find(&text, &host, &user) {
        // Quotes and backslashes are taken off, so compare what is left of the password.
        let plain: String = pw
            .chars()
            .filter(|c| !matches!(c, '"' | '\'' | '\\'))
            .collect();
        let text_plain: String = text
            .chars()
            .filter(|c| !matches!(c, '"' | '\'' | '\\'))
            .collect();
        assert!(
            text_plain.contains(&plain),
            "password {pw:?} not in the text"
        );
    }
});
