//! A command's standard input and output as the connection to the server (`proxy_command`),
//! and the child-process handling that `pipe_command` shares with it.
//!
//! The command runs as `/bin/sh -c COMMAND` in a session of its own: it has no controlling
//! terminal (ssh cannot stop postie's terminal for a prompt; it fails at once, which is why the
//! documentation says `BatchMode=yes`), and its whole process group, ssh's children included,
//! is ended with it. All three of its standard descriptors are pipes to postie, set
//! non-blocking and waited on with `poll`, so every read and write has the deadline a socket
//! has (`timeout`, else [`super::IDLE_LIMIT`]); its standard error is kept (the last
//! [`OUTPUT_KEPT`] bytes) for the error message. [`Child`]'s `Drop` ends and reaps it on every
//! path.
//!
//! `%` escapes in the command are replaced by shell words: [`expand`], [`quote`].

use crate::error::{Error, Sysexit};
use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How much of the command's diagnostic output is kept: its last bytes.
pub const OUTPUT_KEPT: usize = 16 * 1024;
/// How many of its last lines an error shows.
const LINES_SHOWN: usize = 10;
/// How long an ended command's exit status is waited for after it closed its output.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long a command gets to end after SIGTERM before its group gets SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);

// ------------------------------------------------------------------ templates --

/// Whether `template` uses no `%` escape but `%%` and those in `escapes` (ssh's ProxyCommand
/// refuses unknown escapes too; `%%` is a literal `%`).
pub fn template_ok(template: &str, escapes: &[char]) -> bool {
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => {}
                Some(e) if escapes.contains(&e) => {}
                _ => return false,
            }
        }
    }
    true
}

/// Whether `template` uses the escape `%c`.
pub fn uses(template: &str, c: char) -> bool {
    let mut chars = template.chars();
    while let Some(x) = chars.next() {
        if x == '%' {
            match chars.next() {
                Some(e) if e == c => return true,
                _ => {}
            }
        }
    }
    false
}

/// `template` with `%%` replaced by `%` and every other `%c` by `value(c)` (shell words the
/// caller has quoted). A `%` the template check would refuse stays as it is.
pub fn expand(template: &str, value: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('%') => {
                chars.next();
                out.push('%');
            }
            Some(e) => match value(e) {
                Some(v) => {
                    chars.next();
                    out.push_str(&v);
                }
                None => out.push('%'),
            },
            None => out.push('%'),
        }
    }
    out
}

/// Whether no shell gives `c` a meaning anywhere in a word.
fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '@' | '.' | '%' | '+' | '=' | ':' | ',' | '/' | '_' | '-')
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// Whether `word` reads as itself, one word and no option, through any number of shells: not
/// empty, not starting with `-`, and made of letters, digits and `@.%+=:,/_-` only. A command
/// such as `ssh host sendmail %r` hands its arguments to a second shell on the remote host,
/// which quoting for the first one cannot protect against.
pub fn plain_word(word: &str) -> bool {
    !word.is_empty() && !word.starts_with('-') && word.chars().all(plain_char)
}

/// `s` as one shell word: itself when no shell character is in it, else in single quotes.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(plain_char) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Words that make a command more than one simple command when they come first, or that
/// are the shell's own (no program of that name to `exec`).
const SHELL_WORDS: &[&str] = &[
    "!", "{", "}", "[[", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function",
    "if", "in", "then", "time", "until", "while", ".", ":", "alias", "bg", "break", "cd",
    "command", "continue", "eval", "exec", "exit", "export", "fg", "getopts", "hash", "jobs",
    "local", "read", "readonly", "return", "set", "shift", "times", "trap", "type", "ulimit",
    "umask", "unalias", "unset", "wait",
];

/// The program and its arguments when `command` is plain words only (letters, digits and
/// `@.%+=:,/_-`, separated by blanks; nothing a shell would quote, expand or read as syntax),
/// so that running them directly is what the shell would do, without its cost (a process
/// start per message).
pub fn plain_argv(command: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let first = *words.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first) {
        return None;
    }
    words
        .iter()
        .all(|w| w.chars().all(plain_char))
        .then_some(words)
}

/// What `/bin/sh -c` runs for `command`: `exec COMMAND` when it is one simple command that
/// runs a program (as ssh runs its ProxyCommand), so that the shell does not stay as an extra
/// process for every message; anything else (lists, pipes, redirections, substitutions,
/// assignments, shell words) as it is.
pub fn script(command: &str) -> Cow<'_, str> {
    let first = command.split_whitespace().next().unwrap_or("");
    let simple = !first.is_empty()
        && !first.starts_with('#')
        && !first.contains('=')
        && !SHELL_WORDS.contains(&first)
        && !command.contains([';', '&', '|', '(', ')', '<', '>', '`', '\n', '$']);
    if simple {
        Cow::Owned(format!("exec {command}"))
    } else {
        Cow::Borrowed(command)
    }
}

// ---------------------------------------------------------------- the child --

/// The last bytes of a command's diagnostic output.
#[derive(Debug, Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > 2 * OUTPUT_KEPT {
            let cut = self.0.len() - OUTPUT_KEPT;
            self.0.drain(..cut);
        }
    }

    fn lines(&self) -> Vec<String> {
        let start = self.0.len().saturating_sub(OUTPUT_KEPT);
        let text = String::from_utf8_lossy(&self.0[start..]);
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.trim_end().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        let skip = lines.len().saturating_sub(LINES_SHOWN);
        lines.into_iter().skip(skip).collect()
    }
}

/// A running `/bin/sh -c COMMAND` with its three standard descriptors piped to postie. Every
/// blocking step waits at most `idle` for progress. Dropping it ends the command's process
/// group and reaps the command.
pub struct Child {
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// Standard output is diagnostics too (`pipe_command`), not data for [`Child::read`].
    capture_stdout: bool,
    output: Tail,
    status: Option<ExitStatus>,
    idle: Duration,
    /// Readable once the command has exited (a pidfd), so a wait notices its end even while a
    /// process it left behind holds the pipes open; without one (kernels before 5.3), waits
    /// look every [`EXIT_CHECK`].
    exit_fd: Option<OwnedFd>,
}

/// How often a wait looks whether the command has exited, when there is no pidfd.
const EXIT_CHECK: Duration = Duration::from_millis(50);

/// A pidfd for `pid` (Linux 5.3 and later).
fn pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the descriptor was just created and is owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.child.id())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor this process owns, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn timed_out() -> io::Error {
    io::Error::from(io::ErrorKind::TimedOut)
}

/// One `pollfd`; a negative descriptor is ignored by `poll`.
fn pollfd(fd: Option<RawFd>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.unwrap_or(-1),
        events,
        revents: 0,
    }
}

/// `poll` until something is ready or `deadline`; returns whether something is ready.
fn poll_until(fds: &mut [libc::pollfd], deadline: Instant) -> io::Result<bool> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid, writable array of pollfd of the length passed.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if r > 0 {
            return Ok(true);
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Reads what `pipe` has now into `tail`; at its end (or on an error) `pipe` is closed.
fn drain_into<R: Read>(pipe: &mut Option<R>, tail: &mut Tail) {
    let mut chunk = [0u8; 4096];
    while let Some(p) = pipe.as_mut() {
        match p.read(&mut chunk) {
            Ok(0) => *pipe = None,
            Ok(n) => tail.push(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => *pipe = None,
        }
    }
}

impl Child {
    /// Starts `command` in a new session: its words directly when they are plain
    /// ([`plain_argv`]), else `/bin/sh -c` ([`script`]). `capture_stdout`: its standard output
    /// is kept with its standard error instead of being read with [`Child::read`].
    pub fn spawn(command: &str, idle: Duration, capture_stdout: bool) -> io::Result<Child> {
        let mut cmd = match plain_argv(command) {
            Some(words) => {
                let mut c = Command::new(words[0]);
                c.args(&words[1..]);
                c
            }
            None => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(script(command).as_ref());
                c
            }
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let exit_fd = pidfd(child.id());
        let c = Child {
            child,
            stdin,
            stdout,
            stderr,
            capture_stdout,
            output: Tail::default(),
            status: None,
            idle,
            exit_fd,
        };
        let fds = [
            c.stdin.as_ref().map(AsRawFd::as_raw_fd),
            c.stdout.as_ref().map(AsRawFd::as_raw_fd),
            c.stderr.as_ref().map(AsRawFd::as_raw_fd),
        ];
        for fd in fds.into_iter().flatten() {
            set_nonblocking(fd)?;
        }
        Ok(c)
    }

    /// The command's process id (also its process group and session).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn stdout_fd(&self) -> Option<RawFd> {
        self.stdout.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn stderr_fd(&self) -> Option<RawFd> {
        self.stderr.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Reads what is readable now from the diagnostic descriptors (standard error, and
    /// standard output when captured); a descriptor at its end is closed.
    fn drain(&mut self) {
        drain_into(&mut self.stderr, &mut self.output);
        if self.capture_stdout {
            drain_into(&mut self.stdout, &mut self.output);
        }
    }

    /// The diagnostic descriptors to poll.
    fn diagnostic_fds(&self) -> [libc::pollfd; 2] {
        let out = if self.capture_stdout {
            self.stdout_fd()
        } else {
            None
        };
        [
            pollfd(self.stderr_fd(), libc::POLLIN),
            pollfd(out, libc::POLLIN),
        ]
    }

    /// The end of the next wait: `deadline`, or sooner when only looking again can tell
    /// that the command has exited.
    fn wait_step(&self, deadline: Instant) -> Instant {
        match self.exit_fd {
            Some(_) => deadline,
            None => deadline.min(Instant::now() + EXIT_CHECK),
        }
    }

    fn exit_pollfd(&self) -> libc::pollfd {
        pollfd(self.exit_fd.as_ref().map(AsRawFd::as_raw_fd), libc::POLLIN)
    }

    /// Reads the command's standard output, waiting at most `idle` for a byte; `Ok(0)` at its
    /// end, or once the command has exited and nothing more is there (what it left running
    /// may keep the pipe open, but is not waited for).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Instant::now() + self.idle;
        let mut exited = false;
        // With a pidfd, whether the command has exited is asked only once poll says so.
        let mut maybe_exited = self.exit_fd.is_none();
        loop {
            let Some(out) = self.stdout.as_mut() else {
                return Ok(0);
            };
            match out.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if exited {
                return Ok(0);
            }
            if maybe_exited && self.has_exited() {
                // Everything it wrote is in the pipe now: one more read takes it.
                exited = true;
                continue;
            }
            let mut fds = [
                pollfd(self.stdout_fd(), libc::POLLIN),
                pollfd(self.stderr_fd(), libc::POLLIN),
                self.exit_pollfd(),
            ];
            if !poll_until(&mut fds, self.wait_step(deadline))? && Instant::now() >= deadline {
                return Err(timed_out());
            }
            maybe_exited = self.exit_fd.is_none() || fds[2].revents != 0;
            if fds[1].revents != 0 {
                self.drain();
            }
        }
    }

    /// Writes to the command's standard input, waiting at most `idle` for room; its output
    /// is kept meanwhile, so a command that writes much cannot block both sides. Once the
    /// command has exited, the pipe is broken, whatever it left running holds.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let deadline = Instant::now() + self.idle;
        let mut maybe_exited = self.exit_fd.is_none();
        loop {
            let Some(input) = self.stdin.as_mut() else {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            };
            match input.write(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if maybe_exited && self.has_exited() {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            let [err, out] = self.diagnostic_fds();
            let mut fds = [
                pollfd(self.stdin.as_ref().map(AsRawFd::as_raw_fd), libc::POLLOUT),
                err,
                out,
                self.exit_pollfd(),
            ];
            if !poll_until(&mut fds, self.wait_step(deadline))? && Instant::now() >= deadline {
                return Err(timed_out());
            }
            maybe_exited = self.exit_fd.is_none() || fds[3].revents != 0;
            if fds[1].revents != 0 || fds[2].revents != 0 {
                self.drain();
            }
        }
    }

    /// Closes the command's standard input: the end of the message, or of the session.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Whether the command has exited (without reaping it, so its process group id stays
    /// its own until [`Child::reap`]).
    fn has_exited(&self) -> bool {
        if self.status.is_some() {
            return true;
        }
        let pid: libc::id_t = self.child.id();
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child waitable.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: after a successful waitid, si_pid is set (0 when nothing changed).
        r != 0 || unsafe { info.si_pid() } != 0
    }

    fn signal_group(&self, signal: libc::c_int) {
        if self.status.is_some() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: sending a signal has no memory-safety preconditions. The command is a
            // session leader (setsid), so its process group id is its pid, which is not
            // reused while it is unreaped.
            unsafe { libc::kill(-pid, signal) };
        }
    }

    /// Ends what is left of the command's process group and reaps the command.
    fn reap(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.signal_group(libc::SIGKILL);
            self.status = self.child.wait().ok();
        }
        self.status
    }

    /// Waits up to `limit` for the command to exit, keeping its output; then ends its group
    /// and reaps it. `None`: it had not exited and was killed.
    pub fn wait_for_exit(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            self.drain();
            if self.has_exited() {
                self.drain();
                return Ok(self.reap());
            }
            let now = Instant::now();
            if now >= deadline {
                self.terminate();
                return Ok(None);
            }
            let [err, out] = self.diagnostic_fds();
            let mut fds = [err, out, self.exit_pollfd()];
            let step = self.wait_step(deadline);
            if fds.iter().all(|p| p.fd < 0) {
                std::thread::sleep(step - now);
            } else {
                poll_until(&mut fds, step)?;
            }
        }
    }

    /// Closes standard input and waits for the exit status, at most `idle` without the
    /// command ending (then it is killed: `TimedOut`).
    pub fn finish(&mut self) -> io::Result<ExitStatus> {
        self.close_stdin();
        match self.wait_for_exit(self.idle)? {
            Some(status) => Ok(status),
            None => Err(timed_out()),
        }
    }

    /// The exit status, once the command was reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// The last lines the command wrote to its diagnostic output.
    pub fn output_lines(&self) -> Vec<String> {
        self.output.lines()
    }

    /// Ends the command and its process group (SIGTERM, then SIGKILL) and reaps it.
    pub fn terminate(&mut self) {
        if self.status.is_some() {
            return;
        }
        self.close_stdin();
        if !self.has_exited() {
            self.signal_group(libc::SIGTERM);
            let deadline = Instant::now() + TERM_GRACE;
            while !self.has_exited() && Instant::now() < deadline {
                let mut fds = [self.exit_pollfd()];
                if fds[0].fd < 0 || poll_until(&mut fds, deadline).is_err() {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        self.reap();
        self.stdout = None;
        self.stderr = None;
        self.exit_fd = None;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// How a command's exit status reads in an error: `exit status N` or `killed by signal N`.
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}

/// `command message: LINE` for each of the command's last lines.
pub fn message_lines(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| format!("command message: {l}"))
        .collect()
}

// --------------------------------------------------------------- proxy_command --

/// `proxy_command`'s end before the server said anything: what the connection error says.
/// Carried inside the `io::Error` of the read or write that met it, and turned back into an
/// [`Error`] by [`error_of`] where the session and the TLS layer map I/O errors.
#[derive(Debug)]
pub struct Ended {
    exit: Sysexit,
    message: String,
    details: Vec<String>,
    transient: bool,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Ended {}

impl Ended {
    fn error(&self) -> Error {
        let mut e = Error::new(self.exit, self.message.clone()).in_send_stage();
        e.details = self.details.clone();
        if self.transient { e.transient() } else { e }
    }
}

/// The connection error an I/O error stands for when `proxy_command` ended before the server
/// said anything.
pub fn error_of(e: &io::Error) -> Option<Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Ended>())
        .map(Ended::error)
}

/// `cannot run proxy_command: WHY` (69): the command could not be started.
fn cannot_run(why: &str, lines: Vec<String>) -> Error {
    let mut e = Error::new(
        Sysexit::Unavailable,
        format!("cannot run proxy_command: {why}"),
    )
    .in_send_stage();
    e.details = message_lines(lines);
    e
}

/// The byte stream of `proxy_command`: its standard output and input.
#[derive(Debug)]
pub struct CommandStream {
    child: Child,
    /// Whether the command has written a byte: before that, its end is a failed connection.
    received: bool,
    host: String,
    port: u16,
}

impl CommandStream {
    /// Starts `command` (already expanded) for the server `host`, `port`.
    pub fn open(
        command: &str,
        host: &str,
        port: u16,
        idle: Duration,
    ) -> crate::error::Result<Self> {
        let child = Child::spawn(command, idle, false)
            .map_err(|e| cannot_run(&crate::error::strerror(&e), Vec::new()))?;
        Ok(CommandStream {
            child,
            received: false,
            host: host.to_owned(),
            port,
        })
    }

    /// The command's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The error for a command that closed its output or stopped reading before the server
    /// said anything: its exit status and its last lines of standard error.
    fn ended(&mut self) -> io::Error {
        let status = self.child.wait_for_exit(EXIT_GRACE).ok().flatten();
        let lines = self.child.output_lines();
        let (host, port) = (&self.host, self.port);
        let refused = |why: String| Ended {
            exit: Sysexit::TempFail,
            message: format!("cannot connect to {host}, port {port}: {why}"),
            details: message_lines(lines.clone()),
            transient: true,
        };
        let ended = match status {
            // The shell's "not found" and "cannot execute": nothing will change by retrying.
            Some(s) if matches!(s.code(), Some(126 | 127)) => {
                let e = cannot_run(&describe_status(s), lines.clone());
                Ended {
                    exit: e.exit,
                    message: e.message,
                    details: e.details,
                    transient: false,
                }
            }
            Some(s) => refused(format!("proxy_command ended ({})", describe_status(s))),
            None => refused("proxy_command closed its output".to_owned()),
        };
        io::Error::new(io::ErrorKind::ConnectionAborted, ended)
    }
}

impl Read for CommandStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.child.read(buf) {
            Ok(0) if !self.received && !buf.is_empty() => Err(self.ended()),
            Ok(n) => {
                self.received |= n > 0;
                Ok(n)
            }
            Err(e) if !self.received && e.kind() != io::ErrorKind::TimedOut => Err(self.ended()),
            Err(e) => Err(e),
        }
    }
}

impl Write for CommandStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.child.write(buf) {
            Err(e) if !self.received && e.kind() == io::ErrorKind::BrokenPipe => Err(self.ended()),
            r => r,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_only_their_escapes() {
        assert!(template_ok("ssh relay -W %h:%p", &['h', 'p']));
        assert!(template_ok("date +%%s; nc %h %p", &['h', 'p']));
        assert!(!template_ok("ssh -l %r relay", &['h', 'p']));
        assert!(!template_ok("trailing %", &['h', 'p']));
        assert!(template_ok("sendmail -f %f -- %r", &['f', 'r']));
        assert!(uses("sendmail -- %r", 'r'));
        assert!(!uses("sendmail -t %%r", 'r'));
    }

    #[test]
    fn expansion_replaces_escapes_and_percent_percent() {
        let v = |c| match c {
            'h' => Some(quote("mail.example.org")),
            'p' => Some("587".to_owned()),
            _ => None,
        };
        assert_eq!(
            expand("ssh -W %h:%p x %%p", v),
            "ssh -W mail.example.org:587 x %p"
        );
        assert_eq!(expand("100%", v), "100%");
    }

    #[test]
    fn quoting_leaves_plain_words_alone() {
        assert_eq!(quote("a.b-c@d"), "a.b-c@d");
        assert_eq!(quote("o'brien@x"), r"'o'\''brien@x'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert!(plain_word("j\u{fc}rgen@example.org"));
        for bad in [
            "-oQ@x", "", "a b@x", "`x`@y", "a|b@x", "a'b@x", "~x@y", "\"q\"@x",
        ] {
            assert!(!plain_word(bad), "{bad}");
        }
    }

    #[test]
    fn plain_words_run_without_a_shell() {
        assert_eq!(
            plain_argv("/usr/bin/ssh -W mail.example.org:587  relay"),
            Some(vec!["/usr/bin/ssh", "-W", "mail.example.org:587", "relay"])
        );
        for shell in [
            "exit 3",
            "FOO=1 cmd",
            "ssh '-W' x",
            "echo $HOME",
            "a ~/x",
            "x *",
            "",
        ] {
            assert_eq!(plain_argv(shell), None, "{shell}");
        }
    }

    #[test]
    fn one_simple_command_is_execed_anything_else_runs_as_written() {
        assert_eq!(script("ssh -W %h:%p relay"), "exec ssh -W %h:%p relay");
        assert_eq!(
            script("'/opt/my relay' 127.0.0.1 25"),
            "exec '/opt/my relay' 127.0.0.1 25"
        );
        for kept in [
            "exit 3",
            "sleep 30 & echo $! > f; wait",
            "a | b",
            "cmd 2>/dev/null",
            "FOO=1 cmd",
            "if true; then x; fi",
            "cd /tmp && x",
            "echo $HOME",
            "x\ny",
            "",
        ] {
            assert_eq!(script(kept), kept);
        }
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut t = Tail::default();
        for i in 0..5000 {
            t.push(format!("line {i}\n").as_bytes());
        }
        let lines = t.lines();
        assert_eq!(lines.len(), LINES_SHOWN);
        assert_eq!(lines.last().map(String::as_str), Some("line 4999"));
        assert!(t.0.len() <= 2 * OUTPUT_KEPT);
    }

    fn alive(pid: u32) -> bool {
        // A zombie still answers kill(0); /proc tells them apart.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }

    #[test]
    fn the_command_runs_in_its_own_session_and_its_group_dies_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let cmd = format!("sleep 30 & echo $! > '{}'; wait", pidfile.display());
        let mut c = Child::spawn(&cmd, Duration::from_secs(5), false).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let grandchild: u32 = loop {
            if let Some(p) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break p;
            }
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        };
        // SAFETY: getsid has no memory-safety preconditions.
        let sid = unsafe { libc::getsid(c.id() as libc::pid_t) };
        assert_eq!(sid, c.id() as libc::pid_t);
        drop(c);
        // SIGKILL is delivered asynchronously: give the kernel a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive(grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(grandchild), "the sleep outlived its command");
        c = Child::spawn("exit 3", Duration::from_secs(5), false).unwrap();
        assert_eq!(c.finish().unwrap().code(), Some(3));
    }

    #[test]
    fn reads_and_writes_have_the_idle_deadline() {
        let mut c = Child::spawn("sleep 30", Duration::from_millis(200), false).unwrap();
        let start = Instant::now();
        let mut b = [0u8; 8];
        assert_eq!(c.read(&mut b).unwrap_err().kind(), io::ErrorKind::TimedOut);
        // The pipe fills up: a command that does not read is given up on too.
        let big = vec![b'x'; 1 << 20];
        let mut err = None;
        for _ in 0..64 {
            if let Err(e) = c.write(&big) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(c.finish().unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn a_proxy_that_ends_before_any_byte_is_a_refused_connection() {
        let mut s = CommandStream::open(
            "echo 'ssh: connect to host relay port 22: Connection refused' >&2; exit 255",
            "mail.example.org",
            587,
            Duration::from_secs(5),
        )
        .unwrap();
        let mut b = [0u8; 16];
        let e = s.read(&mut b).unwrap_err();
        let err = error_of(&e).expect("an Ended error");
        assert_eq!(err.exit, Sysexit::TempFail);
        assert!(err.transient && err.in_send_stage);
        assert_eq!(
            err.lines(),
            [
                "cannot connect to mail.example.org, port 587: proxy_command ended (exit status 255)",
                "command message: ssh: connect to host relay port 22: Connection refused"
            ]
        );
        let mut s = CommandStream::open("'nonexistent-cmd-xyz'", "h", 25, T).unwrap();
        let e = s
            .write(b"EHLO x\r\n")
            .and_then(|_| s.read(&mut b))
            .unwrap_err();
        let err = error_of(&e).expect("an Ended error");
        assert_eq!(err.exit, Sysexit::Unavailable);
        assert!(!err.transient);
        assert_eq!(err.message, "cannot run proxy_command: exit status 127");
        // Plain words run without a shell: the program itself is not found.
        let err = CommandStream::open("nonexistent-cmd-xyz", "h", 25, T).unwrap_err();
        assert_eq!(err.exit, Sysexit::Unavailable);
        assert_eq!(
            err.message,
            "cannot run proxy_command: No such file or directory"
        );
    }
}
