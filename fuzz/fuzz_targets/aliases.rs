//! Aliases: `recipients NUL file` (recipients separated by commas): an expansion or msmtp's
//! error text, never a panic, a hang or unbounded memory; at most 10,000 addresses per
//! recipient; addresses with '@' kept.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (rcpts, file) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"root,postmaster,a@b"[..], data),
    };
    let recipients: Vec<String> = String::from_utf8_lossy(rcpts)
        .split(',')
        .map(str::to_string)
        .collect();
    let count = recipients.len();
    let non_local: Vec<String> = recipients
        .iter()
        .filter(|r| r.is_empty() || r.contains('@'))
        .cloned()
        .collect();
    match postie::message::aliases::expand_data(file, recipients) {
        Ok(out) => {
            // Each recipient expands to at most 10,000 addresses.
            assert!(out.len() <= count * 10_001, "{} addresses", out.len());
            // Addresses with '@' pass through in order.
            let kept: Vec<&String> = out.iter().filter(|r| non_local.contains(r)).collect();
            assert!(kept.len() >= non_local.len());
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
