//! The log line (msmtp.md section 8): one line per send attempt that reached the send stage,
//! written to `logfile` (appended under an fcntl write lock, or stdout for `-`) and/or syslog.
//! [`format_info`] is pure so that the exact field order and escaping are unit-tested; the
//! writers are at the edge. Logging failures never change the exit code.

mod os;

use crate::error::{Error, Sysexit};
use crate::reply::Reply;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// What one send attempt did, for the log line.
#[derive(Debug, Default)]
pub struct Attempt<'a> {
    /// `host` setting (printed as `host=`), else the socket path (`socket=`).
    pub host: Option<&'a str>,
    pub socket: Option<&'a str>,
    pub tls: bool,
    pub auth: bool,
    pub user: Option<&'a str>,
    pub from: &'a str,
    pub recipients: &'a [String],
    /// Bytes sent with LF line endings; logged only on success.
    pub mailsize: Option<u64>,
    /// The reply that decided the outcome (the reply to the final dot on success).
    pub reply: Option<&'a Reply>,
    /// The error text, on failure.
    pub error: Option<&'a str>,
    pub exit: Option<Sysexit>,
}

impl<'a> Attempt<'a> {
    /// An attempt with `settings` (the selected account's), before its outcome is known. For
    /// `pipe_command`, `host=` names the command's first word (`ssh`), and TLS and AUTH are
    /// off (they are the command's business).
    pub fn new(
        settings: &'a crate::config::Settings,
        from: &'a str,
        recipients: &'a [String],
    ) -> Attempt<'a> {
        if let Some(cmd) = &settings.pipe_command {
            return Attempt {
                host: Some(cmd.split_whitespace().next().unwrap_or("")),
                from,
                recipients,
                ..Attempt::default()
            };
        }
        Attempt {
            host: settings.host.as_deref(),
            socket: settings.socket.as_deref(),
            tls: settings.tls,
            auth: settings.auth.enabled(),
            user: settings.user.as_deref(),
            from,
            recipients,
            ..Attempt::default()
        }
    }

    /// Fill the outcome fields from an error.
    pub fn failed(mut self, e: &'a Error) -> Attempt<'a> {
        self.reply = e.reply.as_ref();
        self.error = Some(&e.message);
        self.exit = Some(e.exit);
        self
    }
}

/// msmtp replaces control characters and single quotes so that a log line stays one line and
/// the quoted fields stay parseable.
pub fn sanitize(s: &str) -> String {
    crate::ui::sanitize(s).replace('\'', "?")
}

/// The info part of the log line (everything after the timestamp).
pub fn format_info(a: &Attempt<'_>) -> String {
    let mut parts = Vec::new();
    match (a.host, a.socket) {
        (Some(h), _) => parts.push(format!("host={h}")),
        (None, Some(s)) => parts.push(format!("socket={s}")),
        (None, None) => parts.push("host=".to_owned()),
    }
    parts.push(format!("tls={}", if a.tls { "on" } else { "off" }));
    parts.push(format!("auth={}", if a.auth { "on" } else { "off" }));
    if a.auth
        && let Some(u) = a.user
    {
        parts.push(format!("user={u}"));
    }
    parts.push(format!("from={}", a.from));
    parts.push(format!("recipients={}", a.recipients.join(",")));
    let exit = a.exit.unwrap_or(Sysexit::Ok);
    if exit == Sysexit::Ok
        && let Some(size) = a.mailsize
    {
        parts.push(format!("mailsize={size}"));
    }
    if let Some(r) = a.reply {
        let msg: Vec<String> = r.lines.iter().map(|l| sanitize(l)).collect();
        parts.push(format!(
            "smtpstatus={} smtpmsg='{}'",
            r.code,
            msg.join("\\n")
        ));
    }
    if exit != Sysexit::Ok
        && let Some(e) = a.error
    {
        parts.push(format!("errormsg='{}'", sanitize(e)));
    }
    parts.push(format!("exitcode={}", exit.name()));
    parts.join(" ")
}

/// A log file that could not be written: msmtp prints `cannot log to PATH: REASON` and
/// `log info was: LINE`, and the exit code stays what it was.
#[derive(Debug)]
pub struct LogFailure {
    pub path: String,
    pub reason: String,
    pub info: String,
}

/// Record one attempt wherever the account logs: its `logfile` and/or `syslog`.
pub fn record(
    settings: &crate::config::Settings,
    attempt: &Attempt<'_>,
    success: bool,
) -> Result<(), LogFailure> {
    if settings.logfile.is_none() && settings.syslog.is_none() {
        return Ok(());
    }
    let info = format_info(attempt);
    if let Some(facility) = &settings.syslog {
        write_syslog(*facility, &info, success);
    }
    if let Some(path) = &settings.logfile
        && let Err(reason) = write_logfile(path, settings.logfile_time_format.as_deref(), &info)
    {
        return Err(LogFailure {
            path: path.clone(),
            reason,
            info,
        });
    }
    Ok(())
}

/// The log line for `info`: the time in `time_format` (msmtp's default without one), a space
/// and the info; `logfile_time_format none` (msmtp >= 1.8.28) leaves out the time and the space.
pub fn log_line(time_format: Option<&str>, info: &str) -> Result<String, String> {
    if time_format == Some("none") {
        return Ok(format!("{info}\n"));
    }
    let format = time_format.unwrap_or("%b %d %H:%M:%S");
    let stamp = crate::sys::strftime(format, &crate::sys::local_now());
    if stamp.is_empty() || stamp.len() > 127 {
        return Err("invalid logfile_time_format".to_owned());
    }
    Ok(format!("{stamp} {info}\n"))
}

/// Append the line to `logfile` (`-` = stdout). Returns msmtp's complaint on failure, which the
/// caller prints along with the info; the exit code is not affected.
pub fn write_logfile(path: &str, time_format: Option<&str>, info: &str) -> Result<(), String> {
    let line = log_line(time_format, info)?;
    if path == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|_| "output error".to_owned());
    }
    // A new log file is private (it names every correspondent); an existing one keeps its mode.
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot open: {}", crate::error::strerror(&e)))?;
    lock_with_retry(&file)?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|_| "output error".to_owned())
}

/// Several postie/msmtp processes may log to one file: take a whole-file write lock, retrying
/// every 100 ms for up to 10 s like msmtp.
fn lock_with_retry(file: &std::fs::File) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match os::try_write_lock(file) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "cannot lock (tried for 10 seconds): {}",
                        crate::error::strerror(&e)
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(format!("cannot lock: {}", crate::error::strerror(&e))),
        }
    }
}

/// Send the info to syslog with ident `msmtp` (so existing log filters keep matching),
/// LOG_INFO on success and LOG_ERR on failure.
pub fn write_syslog(facility: crate::config::SyslogFacility, info: &str, success: bool) {
    os::syslog(facility.to_libc(), info, success);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply {
            code,
            lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn success_line_matches_msmtp() {
        let r = reply(250, &["250 2.0.0 Ok: queued as ABC'123"]);
        let rcpts = vec!["extra@x.org".to_string(), "a@x.org".to_string()];
        let a = Attempt {
            host: Some("127.0.0.1"),
            from: "sender@example.com",
            recipients: &rcpts,
            mailsize: Some(246),
            reply: Some(&r),
            ..Attempt::default()
        };
        assert_eq!(
            format_info(&a),
            "host=127.0.0.1 tls=off auth=off from=sender@example.com recipients=extra@x.org,a@x.org mailsize=246 smtpstatus=250 smtpmsg='250 2.0.0 Ok: queued as ABC?123' exitcode=EX_OK"
        );
    }

    #[test]
    fn failure_line_has_errormsg_and_no_mailsize() {
        let r = reply(450, &["450 4.1.1 mailbox busy"]);
        let rcpts = vec!["r1@x.org".to_string(), "r2@x.org".to_string()];
        let e = Error::new(
            Sysexit::Unavailable,
            "recipient address r2@x.org not accepted by the server",
        )
        .with_reply(r);
        let a = Attempt {
            host: Some("127.0.0.1"),
            from: "sender@example.com",
            recipients: &rcpts,
            mailsize: Some(10),
            ..Attempt::default()
        }
        .failed(&e);
        assert_eq!(
            format_info(&a),
            "host=127.0.0.1 tls=off auth=off from=sender@example.com recipients=r1@x.org,r2@x.org smtpstatus=450 smtpmsg='450 4.1.1 mailbox busy' errormsg='recipient address r2@x.org not accepted by the server' exitcode=EX_UNAVAILABLE"
        );
    }

    #[test]
    fn user_only_with_auth_and_multiline_joined_by_backslash_n() {
        let r = reply(250, &["250-first", "250 second"]);
        let rcpts = vec!["r@x".to_string()];
        let a = Attempt {
            host: Some("mx"),
            tls: true,
            auth: true,
            user: Some("joe"),
            from: "",
            recipients: &rcpts,
            mailsize: Some(1),
            reply: Some(&r),
            ..Attempt::default()
        };
        assert_eq!(
            format_info(&a),
            "host=mx tls=on auth=on user=joe from= recipients=r@x mailsize=1 smtpstatus=250 smtpmsg='250-first\\n250 second' exitcode=EX_OK"
        );
        let a = Attempt { auth: false, ..a };
        assert!(!format_info(&a).contains("user="));
    }

    #[test]
    fn socket_when_no_host() {
        let rcpts = vec![];
        let a = Attempt {
            socket: Some("/run/x.sock"),
            recipients: &rcpts,
            ..Attempt::default()
        };
        assert!(format_info(&a).starts_with("socket=/run/x.sock tls=off"));
    }

    #[test]
    fn time_format_none_leaves_out_the_time() {
        assert_eq!(log_line(Some("none"), "host=h").unwrap(), "host=h\n");
        assert_eq!(log_line(Some("x%%y"), "host=h").unwrap(), "x%y host=h\n");
        assert_eq!(log_line(Some("None"), "host=h").unwrap(), "None host=h\n");
        let default = log_line(None, "host=h").unwrap();
        assert_eq!(default.len(), "Jan 01 00:00:00 host=h\n".len(), "{default}");
    }

    #[test]
    fn control_characters_become_question_marks() {
        assert_eq!(sanitize("a\tb'c\x01"), "a?b?c?");
    }
}
