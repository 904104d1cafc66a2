//! Running the helpers of the token stores (`secret-tool`, `oauth2_token_encrypt` and
//! `_decrypt`, `oauth2_client_secret_eval`): data on stdin, stdout collected (bounded),
//! stderr inherited (a gpg message reaches the user), killed at a deadline.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The most output taken from a helper.
const MAX_OUTPUT: u64 = 1 << 20;

/// What a helper did.
pub struct Output {
    pub success: bool,
    pub stdout: zeroize::Zeroizing<Vec<u8>>,
}

/// The helper deadline (`POSTIE_HELPER_TIMEOUT`, as for `passwordeval`: a pinentry may ask).
pub fn timeout() -> Duration {
    crate::config::eval::helper_timeout()
}

/// `/bin/sh -c COMMAND` as an argv.
pub fn sh(command: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), command.into()]
}

/// Runs `argv` with `input` on its stdin; a program that is not found is an error of kind
/// `NotFound`, one that outlives `timeout` is killed (`TimedOut`).
pub fn run_with_input(argv: &[String], input: &[u8], timeout: Duration) -> std::io::Result<Output> {
    let deadline = Instant::now() + timeout;
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut stdin = child.stdin.take();
    let data = zeroize::Zeroizing::new(input.to_vec());
    let writer = std::thread::spawn(move || {
        if let Some(w) = stdin.as_mut() {
            let _ = w.write_all(&data);
        }
        drop(stdin);
    });
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        if let Some(r) = stdout {
            let _ = r.take(MAX_OUTPUT).read_to_end(&mut buf);
        }
        buf
    });
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the command did not finish in time and was killed",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A grandchild holding stdout open (an agent) must not keep us past the deadline.
    while !(reader.is_finished() && writer.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let stdout = if reader.is_finished() {
        reader.join().unwrap_or_default()
    } else {
        zeroize::Zeroizing::new(Vec::new())
    };
    Ok(Output {
        success: status.success(),
        stdout,
    })
}

/// The first line a shell command prints (`oauth2_client_secret_eval`).
pub fn first_line_of(command: &str) -> std::io::Result<Option<String>> {
    crate::config::eval::run_first_line(command, timeout())
}
