//! msmtprc parser: any file content -> accounts or a config error, never a panic.
//! `eval` lines run a shell command, so inputs with one are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::config::parse::{ParseEnv, parse_bytes, split_line};
use std::path::Path;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    // The parser's own line split: `eval CMD` would run CMD.
    for raw in data.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        if let Some(("eval", _)) = split_line(&line) {
            return;
        }
    }
    let env = ParseEnv {
        home: "/home/fuzz".to_string(),
        eval_timeout: Duration::from_secs(1),
    };
    match parse_bytes(Path::new("/fuzz/msmtprc"), data, &env) {
        Ok(parsed) => {
            let mut names = std::collections::HashSet::new();
            for acc in &parsed.accounts {
                // Account names are unique and never contain the separators.
                assert!(
                    names.insert(acc.name.clone()),
                    "duplicate account {}",
                    acc.name
                );
                assert!(!acc.name.contains([',', ':']) || acc.name.is_empty());
                let _ = format!("{acc:?}");
            }
        }
        Err(e) => {
            assert!(!e.message.is_empty());
        }
    }
});
