//! Running the postie binary the way a mail client or a daemon does: a private HOME (with an
//! msmtprc at `HOME/.msmtprc`, or empty), a clean environment, HOME as the working directory,
//! no controlling terminal (`setsid`), stdin fed from a thread and both outputs collected.
//!
//! [`Options`] change how: another program (msmtp, or a shell that execs postie under limits),
//! another program name (a symlink such as `sendmail`), extra environment variables, another
//! user (when the tests run as root), a check that all of stdin was read, a closed stdout or
//! stderr. [`Home::run`] runs to the end; [`Home::spawn`] starts a child that can be killed or
//! waited for with a deadline.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The binary under test.
pub const POSTIE: &str = env!("CARGO_BIN_EXE_postie");

/// What one run produced.
#[derive(Debug)]
pub struct Run {
    /// The exit code; -1 when a signal ended the program.
    pub code: i32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A temp HOME, removed when dropped.
pub struct Home {
    dir: tempfile::TempDir,
}

/// How to start a program; `Options::default()` starts postie as itself. The fields are public
/// (struct-literal syntax works); the methods of the same names are shorthands for chaining.
#[derive(Clone, Default)]
pub struct Options<'a> {
    /// Run this program instead of postie (msmtp, `/bin/sh`, a symlink).
    pub program: Option<&'a Path>,
    /// Run through a symlink of this name in HOME/bin (argv[0] and the program name).
    pub name: Option<&'a str>,
    /// Extra environment variables, set after (and so replacing) the clean defaults.
    pub env: &'a [(&'a str, &'a str)],
    /// Run as this uid and gid (only possible as root).
    pub uid: Option<u32>,
    /// Assert that the program read all of stdin: a sendmail that stops reading early makes
    /// its caller see EPIPE.
    pub must_read_stdin: bool,
    /// Stdout is a pipe whose reader is already closed (`postie -bp | head -0`).
    pub closed_stdout: bool,
    /// Stderr is a pipe whose reader is already closed.
    pub closed_stderr: bool,
}

impl<'a> Options<'a> {
    pub fn program<P: AsRef<Path> + ?Sized>(mut self, program: &'a P) -> Self {
        self.program = Some(program.as_ref());
        self
    }

    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    pub fn env(mut self, env: &'a [(&'a str, &'a str)]) -> Self {
        self.env = env;
        self
    }

    pub fn must_read_stdin(mut self) -> Self {
        self.must_read_stdin = true;
        self
    }

    pub fn closed_stdout(mut self) -> Self {
        self.closed_stdout = true;
        self
    }

    pub fn closed_stderr(mut self) -> Self {
        self.closed_stderr = true;
        self
    }
}

impl Home {
    /// A HOME with `rc` as its `.msmtprc`.
    pub fn new(rc: &str) -> Home {
        let h = Home::empty();
        h.write(".msmtprc", rc, 0o600);
        h
    }

    /// A HOME with nothing in it.
    pub fn empty() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `HOME/name` (creating its directory) with `mode`.
    pub fn write(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let p = self.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    /// Hands HOME (and everything in it) to `uid`, for runs as another user.
    pub fn give_to(&self, uid: u32) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{uid}"))
            .arg(self.path())
            .status()
            .expect("chown");
        assert!(status.success());
    }

    /// Runs postie with `args` and `stdin` to the end.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_with(args, stdin, &Options::default())
    }

    /// [`Home::run`], asserting that postie read all of `stdin`.
    pub fn feed(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_with(args, stdin, &Options::default().must_read_stdin())
    }

    pub fn run_with(&self, args: &[&str], stdin: &[u8], o: &Options<'_>) -> Run {
        self.spawn(args, stdin, o).wait()
    }

    /// Starts the program; see [`Running`].
    pub fn spawn(&self, args: &[&str], stdin: &[u8], o: &Options<'_>) -> Running {
        let mut running = Running::start(self.command(args, o), stdin);
        running.must_read_stdin = o.must_read_stdin;
        running
    }

    /// The command [`Home::spawn`] starts, for a caller to adjust before
    /// [`Running::start`] (`pre_exec`).
    pub fn command(&self, args: &[&str], o: &Options<'_>) -> Command {
        let target = o.program.unwrap_or(Path::new(POSTIE));
        let program = match o.name {
            Some(name) => {
                let bin = self.path().join("bin");
                std::fs::create_dir_all(&bin).expect("bin");
                let link = bin.join(name);
                if !link.exists() {
                    std::os::unix::fs::symlink(target, &link).expect("symlink");
                }
                link
            }
            None => target.to_path_buf(),
        };
        let mut cmd = Command::new("setsid");
        cmd.arg("-w")
            .arg(&program)
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("HOME", self.path())
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .env("USER", "tester")
            .env("POSTIE_SYSCONFDIR", self.path().join("etc"))
            .stdin(Stdio::piped())
            .stdout(output(o.closed_stdout))
            .stderr(output(o.closed_stderr));
        for (k, v) in o.env {
            cmd.env(k, v);
        }
        if let Some(uid) = o.uid {
            cmd.uid(uid).gid(uid);
        }
        cmd
    }
}

/// A piped output, or one whose reader is already closed.
fn output(closed: bool) -> Stdio {
    if closed {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        writer.into()
    } else {
        Stdio::piped()
    }
}

/// A started program: its stdin is written and its outputs are read by threads, so that it can
/// be killed or waited for without blocking on a full pipe.
pub struct Running {
    child: Child,
    writer: JoinHandle<bool>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    start: Instant,
    must_read_stdin: bool,
}

impl Running {
    /// Spawns `cmd` (which must pipe stdin) and feeds it `stdin`; whether all of it was read is
    /// not checked.
    pub fn start(mut cmd: Command, stdin: &[u8]) -> Running {
        let start = Instant::now();
        let mut child = cmd.spawn().expect("spawn");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || input.write_all(&data).is_ok());
        let stdout = child.stdout.take().map(read_all);
        let stderr = child.stderr.take().map(read_all);
        Running {
            child,
            writer,
            stdout,
            stderr,
            start,
            must_read_stdin: false,
        }
    }

    /// Kills the program with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Waits for the end of the program and of its outputs.
    pub fn wait(mut self) -> Run {
        let stdout = self.stdout.map(join).unwrap_or_default();
        let stderr = self.stderr.map(join).unwrap_or_default();
        let status = self.child.wait().expect("wait");
        let wrote_all = self.writer.join().expect("writer");
        assert!(
            wrote_all || !self.must_read_stdin,
            "postie did not read all of stdin (caller would see EPIPE)"
        );
        Run {
            code: status.code().unwrap_or(-1),
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed: self.start.elapsed(),
        }
    }

    /// [`Running::wait`] for at most `limit`: a program still running then is killed and the
    /// test fails, naming it `what`.
    pub fn wait_within(mut self, limit: Duration, what: &str) -> Run {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().expect("try_wait").is_none() {
            if Instant::now() > deadline {
                self.kill();
                let _ = self.child.wait();
                panic!("{what} blocked for {} s", limit.as_secs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait()
    }
}

fn read_all(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = from.read_to_end(&mut v);
        v
    })
}

fn join(reader: JoinHandle<Vec<u8>>) -> Vec<u8> {
    reader.join().expect("output thread")
}

/// Whether the tests run as root (then a run can be made as another user).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
