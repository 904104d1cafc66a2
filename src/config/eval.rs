//! The helper-command runner shared by `eval` (config) and `passwordeval` (secret): run a shell
//! command and take the first line of its standard output, with a deadline.
//!
//! Unlike msmtp's `popen`, the child gets `/dev/null` as stdin so it can never eat the mail
//! (marlam/msmtp#18). Reading uses `poll`, so a grandchild that keeps stdout open (gpg-agent) or
//! a helper that never exits cannot hang postie.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest first line taken from a helper (1 MiB).
const MAX_OUTPUT: usize = 1 << 20;

/// Default deadline for helper commands: long enough for a person to type a passphrase into a
/// pinentry, short enough that a hung helper does not stall cron for long.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(120);

/// The helper deadline: `POSTIE_HELPER_TIMEOUT` seconds if set and valid, else 120 s.
pub fn helper_timeout() -> Duration {
    std::env::var("POSTIE_HELPER_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_HELPER_TIMEOUT)
}

/// Run `/bin/sh -c CMD` (stdin `/dev/null`, stderr inherited) and return the first line of its
/// output without the trailing `\n` / `\r\n`; output without a newline is taken whole; no output
/// at all is `Ok(None)`. The exit status is ignored. If the child is still running when
/// `timeout` expires it is killed and an error of kind `TimedOut` is returned.
pub fn run_first_line(cmd: &str, timeout: Duration) -> io::Result<Option<String>> {
    let deadline = Instant::now() + timeout;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // gpg finds the terminal for its pinentry through GPG_TTY or its own stdin; stdin is
    // /dev/null here, so without this an expired gpg-agent cache would make `gpg -d` fail on a
    // headless ssh/tmux session instead of asking for the passphrase.
    if std::env::var_os("GPG_TTY").is_none()
        && let Some(tty) = controlling_tty()
    {
        command.env("GPG_TTY", tty);
    }
    let mut child = command.spawn()?;
    let result = read_first_line(&mut child, deadline);
    let buf = match result {
        Ok(b) => b,
        Err(e) => {
            kill(&mut child);
            return Err(e);
        }
    };
    // Close our end first so a child still writing gets EPIPE instead of blocking.
    drop(child.stdout.take());
    wait_until(&mut child, deadline)?;
    Ok(buf.map(|mut b| {
        if b.last() == Some(&b'\n') {
            b.pop();
            if b.last() == Some(&b'\r') {
                b.pop();
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    }))
}

/// The path of the controlling terminal (`/dev/pts/3`), if there is one.
fn controlling_tty() -> Option<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; ttyname_r NUL-terminates on success.
    let rc = unsafe { libc::ttyname_r(tty.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    std::ffi::CStr::from_bytes_until_nul(&buf)
        .ok()
        .map(|c| c.to_string_lossy().into_owned())
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "helper command timed out")
}

/// Kill the helper and everything it started: `sh -c 'sleep 30; echo x'` leaves `sleep`
/// holding our caller's stderr open, so killing only the shell would keep a caller that reads
/// our output to EOF waiting. The helper stays in our process group (a prompt it shows on the
/// terminal must keep working), so its descendants are found through /proc.
fn kill(child: &mut Child) {
    let mut victims = vec![child.id()];
    let mut i = 0;
    while i < victims.len() {
        victims.extend(children_of(victims[i]));
        i += 1;
    }
    for pid in victims.iter().skip(1) {
        if let Ok(pid) = libc::pid_t::try_from(*pid) {
            // SAFETY: sending a signal has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The pids whose parent is `pid`, from /proc (empty where /proc is unavailable).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    // The command name may contain spaces and parentheses: skip past the last ')'.
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Read until the first newline (kept), EOF, the child's exit with nothing more readable, or
/// the deadline. `None` = no byte at all.
fn read_first_line(child: &mut Child, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let Some(stdout) = child.stdout.as_mut() else {
        return Err(io::Error::other("no pipe to helper command"));
    };
    let fd = stdout.as_raw_fd();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            buf.truncate(pos + 1);
            return Ok(Some(buf));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out());
        }
        let exited = child.try_wait()?.is_some();
        let wait_ms = if exited {
            0
        } else {
            (deadline - now).as_millis().clamp(1, 50) as libc::c_int
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd for the duration of the call; nfds = 1.
        let r = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            if exited {
                // The child is gone and nothing more is readable now: whatever a grandchild
                // might still write is not waited for.
                break;
            }
            continue;
        }
        let Some(stdout) = child.stdout.as_mut() else {
            break;
        };
        match stdout.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                // A helper that prints megabytes without a newline is broken; take what came
                // (a long OAuth token fits easily) instead of growing without bound.
                if buf.len() >= MAX_OUTPUT && !buf.contains(&b'\n') {
                    buf.truncate(MAX_OUTPUT);
                    return Ok(Some(buf));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(if buf.is_empty() { None } else { Some(buf) })
}

fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<()> {
    loop {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            kill(child);
            return Err(timed_out());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn first_line_only_newline_stripped() {
        assert_eq!(
            run_first_line("printf ' pw \\nsecond\\n'", T).unwrap(),
            Some(" pw ".to_string())
        );
    }

    #[test]
    fn crlf_stripped() {
        assert_eq!(
            run_first_line("printf 'pw\\r\\n'", T).unwrap(),
            Some("pw".to_string())
        );
    }

    #[test]
    fn no_newline_taken_whole() {
        assert_eq!(
            run_first_line("printf abc", T).unwrap(),
            Some("abc".to_string())
        );
        let long = "x".repeat(501);
        assert_eq!(
            run_first_line(&format!("printf {long}"), T).unwrap(),
            Some(long)
        );
    }

    #[test]
    fn empty_line_is_empty_string() {
        assert_eq!(run_first_line("echo", T).unwrap(), Some(String::new()));
    }

    #[test]
    fn no_output_is_none() {
        assert_eq!(run_first_line("true", T).unwrap(), None);
        assert_eq!(run_first_line("exit 3", T).unwrap(), None);
    }

    #[test]
    fn exit_status_ignored() {
        assert_eq!(
            run_first_line("echo pw; exit 3", T).unwrap(),
            Some("pw".to_string())
        );
    }

    #[test]
    fn stdin_is_dev_null() {
        assert_eq!(
            run_first_line("cat; echo done", T).unwrap(),
            Some("done".into())
        );
    }

    #[test]
    fn timeout_kills_child() {
        let start = Instant::now();
        let e = run_first_line("sleep 30", Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn timeout_after_line_still_applies() {
        let e = run_first_line("echo x; sleep 30", Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn grandchild_holding_stdout_does_not_hang() {
        let start = Instant::now();
        let r = run_first_line("(sleep 5 &) ; printf pw", T).unwrap();
        assert_eq!(r, Some("pw".to_string()));
        assert!(start.elapsed() < Duration::from_secs(4));
        let r = run_first_line("(sleep 5 &) ; echo pw", T).unwrap();
        assert_eq!(r, Some("pw".to_string()));
        assert!(start.elapsed() < Duration::from_secs(4));
    }
}
