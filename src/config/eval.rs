//! The helper-command runner shared by `eval` (config) and `passwordeval` (secret): run a shell
//! command and take the first line of its standard output, with a deadline.
//!
//! Unlike msmtp's `popen`, the child gets `/dev/null` as stdin so it can never eat the mail
//! (marlam/msmtp#18). Reading uses `poll`, so a grandchild that keeps stdout open (gpg-agent) or
//! a helper that never exits cannot hang postie.

use std::ffi::CStr;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
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
    run_first_line_with(cmd, timeout, None)
}

/// [`run_first_line`] with the helper's stderr kept in `stderr` (at most 64 KiB) instead of
/// passed on: for a helper that runs where nobody reads our stderr as a prompt (no terminal),
/// whose complaints belong in the error, not in cron's mail.
pub fn run_first_line_quiet(
    cmd: &str,
    timeout: Duration,
    stderr: &mut Vec<u8>,
) -> io::Result<Option<String>> {
    run_first_line_with(cmd, timeout, Some(stderr))
}

fn run_first_line_with(
    cmd: &str,
    timeout: Duration,
    captured: Option<&mut Vec<u8>>,
) -> io::Result<Option<String>> {
    let deadline = Instant::now() + timeout;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if captured.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        });
    // gpg finds the terminal for its pinentry through GPG_TTY or its own stdin; stdin is
    // /dev/null here, so without this an expired gpg-agent cache would make `gpg -d` fail on a
    // headless ssh/tmux session instead of asking for the passphrase.
    if std::env::var_os("GPG_TTY").is_none()
        && let Some(tty) = controlling_tty()
    {
        command.env("GPG_TTY", tty);
    }
    let mut child = command.spawn()?;
    // Drained by a thread so a helper that writes much to stderr never blocks on a full pipe.
    let drain = child.stderr.take().map(|mut err| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let room = (64 * 1024usize).saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            let _ = tx.send(kept);
        });
        rx
    });
    let result = read_first_line(&mut child, deadline);
    let buf = match result {
        Ok(b) => b,
        Err(e) => {
            kill(&mut child);
            collect(drain, captured);
            return Err(e);
        }
    };
    // Close our end first so a child still writing gets EPIPE instead of blocking.
    drop(child.stdout.take());
    let waited = wait_until(&mut child, deadline);
    collect(drain, captured);
    waited?;
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

/// The helper's stderr, once the helper is gone. A daemon it started (gpg starts gpg-agent)
/// may still hold the pipe open: what arrived within a second is what there is.
fn collect(drain: Option<std::sync::mpsc::Receiver<Vec<u8>>>, into: Option<&mut Vec<u8>>) {
    if let (Some(d), Some(into)) = (drain, into) {
        *into = d.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    }
}

/// The device name of postie's controlling terminal (`/dev/pts/3`), for `GPG_TTY`; `None`
/// without a controlling terminal or when no name for it is found. Never `/dev/tty`: that name
/// means "the opener's own terminal", and gpg-agent, which opens it for its pinentry, is a
/// daemon without one, so gpg would fail with "No secret key".
///
/// The terminal is identified by its device number: `TIOCGDEV` on an opened `/dev/tty` (which
/// opens only when there is a controlling terminal), else `tty_nr` from `/proc/self/stat`. Its
/// name is that of a standard descriptor on that very device (`ttyname`), else the character
/// device with that number in `/dev/pts` or `/dev` (mutt redirects all three descriptors).
fn controlling_tty() -> Option<PathBuf> {
    let dev = controlling_tty_dev()?;
    (0..=2)
        .find_map(|fd| stdio_tty_name(fd, dev))
        .or_else(|| find_tty_device(dev, TTY_DIRS))
}

/// A device number split into major and minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DevNum {
    major: u32,
    minor: u32,
}

impl DevNum {
    /// From the kernel's 32-bit encoding (`new_encode_dev`), as `TIOCGDEV` and `tty_nr` give it.
    fn from_kernel(v: u32) -> DevNum {
        DevNum {
            major: (v >> 8) & 0xfff,
            minor: (v & 0xff) | ((v >> 12) & 0xfff00),
        }
    }

    /// From a `st_rdev`.
    fn from_rdev(rdev: u64) -> DevNum {
        DevNum {
            major: libc::major(rdev),
            minor: libc::minor(rdev),
        }
    }
}

/// The device number of the controlling terminal, if postie has one.
fn controlling_tty_dev() -> Option<DevNum> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/tty")
        .ok()?;
    let mut v: libc::c_uint = 0;
    // SAFETY: TIOCGDEV stores one unsigned int through the pointer, which is valid for it.
    if unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGDEV, &mut v) } == 0 && v != 0 {
        return Some(DevNum::from_kernel(v));
    }
    // Readable although postie is not dumpable: a process may always read its own stat.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    tty_nr(&stat).map(DevNum::from_kernel)
}

/// Field 7 (`tty_nr`) of a `/proc/PID/stat` line; `None` for 0 (no controlling terminal) or a
/// line that does not parse.
fn tty_nr(stat: &str) -> Option<u32> {
    // "PID (COMM) STATE PPID PGRP SESSION TTY_NR ...": COMM may contain spaces and parentheses,
    // so the fields are counted from its last ')'. The kernel prints the number as an int.
    let rest = &stat[stat.rfind(')')? + 1..];
    let nr: i32 = rest.split_ascii_whitespace().nth(4)?.parse().ok()?;
    Some(nr as u32).filter(|&nr| nr != 0)
}

/// The name of the terminal on descriptor `fd`, if that is the terminal `dev`.
fn stdio_tty_name(fd: libc::c_int, dev: DevNum) -> Option<PathBuf> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole stat into the buffer on success, and only then is it read.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so st is initialised.
    let st = unsafe { st.assume_init() };
    // A descriptor on /dev/tty itself (`postie < /dev/tty`) has /dev/tty's number, not dev's.
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || DevNum::from_rdev(st.st_rdev) != dev {
        return None;
    }
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; ttyname_r NUL-terminates on success.
    if unsafe { libc::ttyname_r(fd, buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let name = CStr::from_bytes_until_nul(&buf).ok()?.to_bytes();
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(name));
    is_tty_device(&path, dev).then_some(path)
}

/// Where terminal devices live, and which names there are looked at.
type TtyDir<'a> = (&'a str, fn(&str) -> bool);

const TTY_DIRS: &[TtyDir<'static>] = &[
    ("/dev/pts", |n| n.bytes().all(|b| b.is_ascii_digit())),
    ("/dev", |n| {
        (n.starts_with("tty") && n != "tty") || n == "console"
    }),
];

/// The first character device numbered `dev` among the names `dirs` allow.
fn find_tty_device(dev: DevNum, dirs: &[TtyDir<'_>]) -> Option<PathBuf> {
    dirs.iter().find_map(|&(dir, wanted)| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| wanted(n))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| Path::new(dir).join(n))
            .find(|p| is_tty_device(p, dev))
    })
}

/// Whether `path` (not a symlink) is the character device `dev`, and not `/dev/tty`.
fn is_tty_device(path: &Path, dev: DevNum) -> bool {
    path != Path::new("/dev/tty")
        && std::fs::symlink_metadata(path)
            .is_ok_and(|m| m.file_type().is_char_device() && DevNum::from_rdev(m.rdev()) == dev)
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
    fn tty_nr_is_field_7_counted_after_the_command_name() {
        let line = |comm: &str, nr: &str| {
            format!("4242 ({comm}) S 4200 4242 4200 {nr} 4242 4194560 120 0 0 0 1 0 0 0 20 0 1 0")
        };
        assert_eq!(tty_nr(&line("postie", "34816")), Some(34816));
        // Spaces and parentheses in the command name (it is what the process called itself).
        assert_eq!(tty_nr(&line("a b) S 1 2 3 4 (c", "34819")), Some(34819));
        assert_eq!(tty_nr(&line(") )", "1025")), Some(1025));
        // No controlling terminal.
        assert_eq!(tty_nr(&line("postie", "0")), None);
        // The kernel prints the encoding as an int: a minor of 2^19 or more makes it negative.
        assert_eq!(tty_nr(&line("postie", "-2147448832")), Some(0x8000_8800));
        assert_eq!(tty_nr("4242 (postie) S 4200"), None);
        assert_eq!(tty_nr("no parenthesis 1 2 3 4 5 6"), None);
        assert_eq!(tty_nr(&line("postie", "x")), None);
    }

    #[test]
    fn kernel_device_encoding_matches_st_rdev() {
        assert_eq!(
            DevNum::from_kernel(0x8800),
            DevNum {
                major: 136,
                minor: 0
            }
        );
        for (major, minor) in [(136, 0), (136, 300), (4, 1), (5, 1), (136, 0x8_0000)] {
            let kernel = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
            assert_eq!(
                DevNum::from_kernel(kernel),
                DevNum::from_rdev(libc::makedev(major, minor)),
                "{major}:{minor}"
            );
        }
    }

    /// A pseudo-terminal pair: (master, the slave's name), or `None` where there are none.
    fn open_pty() -> Option<(std::fs::File, PathBuf)> {
        use std::os::fd::FromRawFd;
        // SAFETY: posix_openpt takes flags only; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is a fresh descriptor owned by nothing else.
        let master = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut buf = [0u8; 256];
        // SAFETY: fd is a pty master; buf is writable for its length and NUL-terminated on
        // success.
        let ok = unsafe {
            libc::grantpt(fd) == 0
                && libc::unlockpt(fd) == 0
                && libc::ptsname_r(fd, buf.as_mut_ptr().cast(), buf.len()) == 0
        };
        let name = CStr::from_bytes_until_nul(&buf).ok()?.to_str().ok()?;
        ok.then(|| (master, PathBuf::from(name)))
    }

    #[test]
    fn a_pty_is_found_by_its_device_number() {
        let Some((_master, name)) = open_pty() else {
            eprintln!("no pseudo-terminals here; skipped");
            return;
        };
        let dev = DevNum::from_rdev(std::fs::metadata(&name).unwrap().rdev());
        assert_eq!(find_tty_device(dev, TTY_DIRS), Some(name.clone()));
        assert!(is_tty_device(&name, dev));
    }

    #[test]
    fn only_terminal_devices_are_found_and_never_dev_tty() {
        // /dev/null is a character device, but not among the names looked at.
        let null = DevNum::from_rdev(std::fs::metadata("/dev/null").unwrap().rdev());
        assert_eq!(find_tty_device(null, TTY_DIRS), None);
        // /dev/tty (5:0) names whoever opens it: never an answer, even when asked for.
        let tty = DevNum { major: 5, minor: 0 };
        assert_eq!(find_tty_device(tty, TTY_DIRS), None);
        assert_eq!(find_tty_device(tty, &[("/dev", |n| n == "tty")]), None);
        // Regular files and symlinks never match, whatever their names.
        let dir = tempfile::tempdir().unwrap();
        let dirname = dir.path().to_str().unwrap();
        std::fs::write(dir.path().join("tty1"), "").unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.path().join("tty2")).unwrap();
        assert_eq!(find_tty_device(null, &[(dirname, |_| true)]), None);
        let file = DevNum::from_rdev(std::fs::metadata(dir.path().join("tty1")).unwrap().rdev());
        assert_eq!(find_tty_device(file, &[(dirname, |_| true)]), None);
    }

    /// Run by [`stat_and_tiocgdev_agree_under_a_terminal`] inside a pseudo-terminal, with all
    /// three standard descriptors redirected.
    #[test]
    #[ignore = "run inside a pseudo-terminal by stat_and_tiocgdev_agree_under_a_terminal"]
    fn in_a_terminal() {
        if std::env::var_os("POSTIE_TEST_IN_A_TERMINAL").is_none() {
            return; // `--include-ignored` outside the terminal the test below makes
        }
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let from_stat = tty_nr(&stat)
            .map(DevNum::from_kernel)
            .expect("tty_nr names a controlling terminal");
        assert_eq!(controlling_tty_dev(), Some(from_stat));
        assert!((0..=2).all(|fd| stdio_tty_name(fd, from_stat).is_none()));
        let name = controlling_tty().expect("the terminal has a name");
        let n = name.to_str().unwrap().strip_prefix("/dev/pts/").unwrap();
        assert!(n.parse::<u32>().is_ok(), "{name:?}");
        assert_eq!(find_tty_device(from_stat, TTY_DIRS), Some(name));
    }

    #[test]
    fn stat_and_tiocgdev_agree_under_a_terminal() {
        // `script` (util-linux) makes a pseudo-terminal the controlling terminal of this test
        // binary, run again for just `in_a_terminal`.
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let shell = format!(
            "'{}' --exact config::eval::tests::in_a_terminal --include-ignored \
             --test-threads=1 < /dev/null > '{}' 2>&1",
            exe.display(),
            out.display()
        );
        let mut child = Command::new("script")
            .args(["-qec", &shell, "/dev/null"])
            .env("POSTIE_TEST_IN_A_TERMINAL", "1")
            // Kept open until the end: EOF would reach the terminal.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux) runs");
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        assert!(
            status.success() && text.contains("1 passed"),
            "{status}: {text}"
        );
    }

    #[test]
    fn no_controlling_terminal_here_or_both_sources_agree() {
        // Under a developer's shell both sources name the same device; under CI there is
        // usually none and both say so.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert_eq!(
            controlling_tty_dev(),
            tty_nr(&stat).map(DevNum::from_kernel)
        );
        if let Some(name) = controlling_tty() {
            assert_ne!(name, Path::new("/dev/tty"));
        }
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
