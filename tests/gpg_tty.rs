//! `GPG_TTY` for `passwordeval` helpers, without gpg: the helper records what it got. postie
//! runs inside `script` (util-linux), whose pseudo-terminal is its controlling terminal, with
//! its standard descriptors redirected the way mail clients do. The helper must get the
//! terminal's real name (`/dev/pts/N`, what `tty` prints), never `/dev/tty`, which gpg-agent's
//! pinentry cannot use; a `GPG_TTY` the user set is passed on unchanged; without a controlling
//! terminal it stays unset.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::program::{Home, Options, POSTIE};
use support::server::ServerBuilder;

/// A HOME whose rc authenticates with a helper that writes its `GPG_TTY` (or `unset`) to
/// HOME/seen, against a server that accepts that helper's password.
fn recording_home() -> (Home, support::server::RunningServer) {
    let server = ServerBuilder::smtp()
        .auth("PLAIN")
        .credentials("joe", "pw")
        .start();
    let home = Home::empty();
    let seen = home.path().join("seen");
    home.write(
        ".msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom sender@example.com\nauth plain\n\
             user joe\npasswordeval echo ${{GPG_TTY-unset}} > {}; echo pw\n",
            server.port(),
            seen.display()
        ),
        0o600,
    );
    home.write("mail.eml", "Subject: s\n\nbody\n", 0o600);
    (home, server)
}

fn read(home: &Home, name: &str) -> String {
    std::fs::read_to_string(home.path().join(name))
        .unwrap_or_else(|e| panic!("HOME/{name}: {e}"))
        .trim_end()
        .to_string()
}

/// Runs `shell` under `script`, in a pseudo-terminal that is its controlling terminal; first
/// records that terminal's name (`tty`) in HOME/tty. `$POSTIE`, `$RC` and `$H` (HOME) are set.
fn in_terminal(home: &Home, shell: &str, env: &[(&str, &str)]) {
    let rc = home.path().join(".msmtprc");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("tty > \"$H/tty\"; {shell}"), "/dev/null"])
        .current_dir(home.path())
        .env_clear()
        .env("HOME", home.path())
        .env("H", home.path())
        .env("POSTIE", POSTIE)
        .env("RC", &rc)
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        // Kept open (and unwritten) until the shell is done: EOF would reach the terminal.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("script (util-linux) runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("script did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let tty = read(home, "tty");
    assert!(is_pts(&tty), "script's terminal is {tty:?}");
}

fn is_pts(name: &str) -> bool {
    name.strip_prefix("/dev/pts/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The shell line that sends HOME/mail.eml, stdin a file, and records the exit code.
const SEND_FROM_FILE: &str = "\"$POSTIE\" -C \"$RC\" r@x.org < \"$H/mail.eml\"";

#[test]
fn no_standard_descriptor_on_the_terminal_the_helper_gets_its_real_name() {
    // mutt: the mail on a pipe or file, output collected in files; only the controlling
    // terminal is left.
    let (home, server) = recording_home();
    in_terminal(
        &home,
        &format!("{SEND_FROM_FILE} > \"$H/out\" 2> \"$H/err\"; echo $? > \"$H/rc\""),
        &[],
    );
    assert_eq!(read(&home, "rc"), "0", "stderr: {}", read(&home, "err"));
    let seen = read(&home, "seen");
    assert_ne!(seen, "/dev/tty");
    assert!(is_pts(&seen), "GPG_TTY={seen:?}");
    assert_eq!(seen, read(&home, "tty"));
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn stdout_on_the_terminal_the_helper_gets_its_real_name() {
    let (home, server) = recording_home();
    in_terminal(
        &home,
        &format!("{SEND_FROM_FILE} 2> \"$H/err\"; echo $? > \"$H/rc\""),
        &[],
    );
    assert_eq!(read(&home, "rc"), "0", "stderr: {}", read(&home, "err"));
    assert_eq!(read(&home, "seen"), read(&home, "tty"));
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn a_gpg_tty_the_user_set_is_passed_on_unchanged() {
    let (home, server) = recording_home();
    in_terminal(
        &home,
        &format!("{SEND_FROM_FILE} > \"$H/out\" 2> \"$H/err\"; echo $? > \"$H/rc\""),
        &[("GPG_TTY", "/custom")],
    );
    assert_eq!(read(&home, "rc"), "0", "stderr: {}", read(&home, "err"));
    assert_eq!(read(&home, "seen"), "/custom");
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn without_a_controlling_terminal_gpg_tty_stays_unset() {
    // The harness runs postie under `setsid`, with pipes: no terminal at all.
    let (home, server) = recording_home();
    let r = home.run_with(&["r@x.org"], b"Subject: s\n\nbody\n", &Options::default());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read(&home, "seen"), "unset");
    assert_eq!(server.finish().len(), 1);
}
