//! argv parsing: NUL-separated arguments (the first byte chooses POSIXLY_CORRECT), never a
//! panic; also the operand and subcommand helpers that run before it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let args: Vec<String> = rest
        .split(|&b| b == 0)
        .take(256)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let _ = postie::cli::first_operand(&args);
    let _ = postie::cli::subcommand(&args);
    match postie::cli::parse(&args, flags & 1 != 0) {
        Ok(cli) => {
            let _ = cli.mode();
            let _ = postie::cli::mistyped_subcommand(&cli.recipients, flags & 2 != 0);
            let _ = postie::message::headers::parse_recipient_operands(&cli.recipients);
        }
        Err(Ok(e)) => assert!(!e.0.is_empty()),
        Err(Err(e)) => assert!(!e.message.is_empty()),
    }
});
