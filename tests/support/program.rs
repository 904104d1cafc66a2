//! Running the postie binary the way a mail client or a daemon does: a private HOME with an
//! msmtprc, a clean environment, no controlling terminal (`setsid`), stdin fed from a thread
//! and both outputs collected. Optionally under another program name (a `sendmail` symlink) or
//! as another user (when the tests run as root).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const POSTIE: &str = env!("CARGO_BIN_EXE_postie");

/// What one run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A temp HOME with an msmtprc at `HOME/.msmtprc`.
pub struct Home {
    dir: tempfile::TempDir,
}

/// How to start postie.
#[derive(Default)]
pub struct Options<'a> {
    /// Run through a symlink of this name in HOME/bin (argv[0] and the program name).
    pub name: Option<&'a str>,
    /// Extra environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// Run as this uid and gid (only possible as root).
    pub uid: Option<u32>,
}

impl Home {
    pub fn new(rc: &str) -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = Home { dir };
        h.write(".msmtprc", rc, 0o600);
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let p = self.path().join(name);
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

    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_with(args, stdin, &Options::default())
    }

    pub fn run_with(&self, args: &[&str], stdin: &[u8], o: &Options<'_>) -> Run {
        let program = match o.name {
            Some(name) => {
                let bin = self.path().join("bin");
                std::fs::create_dir_all(&bin).expect("bin");
                let link = bin.join(name);
                if !link.exists() {
                    std::os::unix::fs::symlink(POSTIE, &link).expect("symlink");
                }
                link
            }
            None => PathBuf::from(POSTIE),
        };
        let start = Instant::now();
        let mut cmd = Command::new("setsid");
        cmd.arg("-w")
            .arg(&program)
            .args(args)
            .env_clear()
            .env("HOME", self.path())
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .env("USER", "tester")
            .env("POSTIE_SYSCONFDIR", self.path().join("etc"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in o.env {
            cmd.env(k, v);
        }
        if let Some(uid) = o.uid {
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().expect("spawn postie");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || input.write_all(&data).is_ok());
        let mut o = child.stdout.take().expect("stdout");
        let mut e = child.stderr.take().expect("stderr");
        let ot = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = o.read_to_end(&mut v);
            v
        });
        let mut err = Vec::new();
        let _ = e.read_to_end(&mut err);
        let out = ot.join().expect("stdout thread");
        let status = child.wait().expect("wait");
        let _ = writer.join();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            elapsed: start.elapsed(),
        }
    }
}

/// Whether the tests run as root (then a run can be made as another user).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
