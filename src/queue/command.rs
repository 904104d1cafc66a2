//! The user-facing queue commands: `-q` (flush), `-bp` and `mailq` (list), and
//! `postie queue list|flush|show ID|delete ID|hold ID|release ID`.
//!
//! Which queue: with `-a ACCOUNT` the account's `queue_dir`; otherwise every distinct
//! `queue_dir` of the configuration plus the default directory, so that `mailq` shows all mail
//! the user has waiting whichever account queued it.

use super::flush::{self, Configs, FlushOptions};
use super::store::{Claim, FileError, Queue, damaged_error, valid_id};
use super::{default_dir, dir_for, meta};
use crate::error::{Error, Result, Sysexit};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Which queue directories a command works on (`-C`, `-a`, `--queue-dir`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `-C FILE`.
    pub config_file: Option<String>,
    /// `-a ACCOUNT`.
    pub account: Option<String>,
    /// `--queue-dir=DIR` (postie queue only): use exactly this directory.
    pub queue_dir: Option<PathBuf>,
}

/// The queue directories a command works on. The configuration read to find them is kept in
/// `configs`, so a flush that follows does not read it (and run its `eval` lines) again.
pub fn queue_dirs(t: &Selection, configs: &mut Configs) -> Result<Vec<PathBuf>> {
    if let Some(d) = &t.queue_dir {
        return Ok(vec![d.clone()]);
    }
    let key = t.config_file.as_deref().map(super::absolute);
    let loaded = configs.get(key.as_deref());
    let mut dirs = Vec::new();
    match (&t.account, loaded) {
        (Some(name), Ok(c)) => match c.find(name) {
            Some(a) => dirs.push(dir_for(&a.settings)),
            None => {
                return Err(Error::config(format!("account {name} not found")));
            }
        },
        (Some(_), Err(e)) => return Err(e),
        (None, Ok(c)) => {
            for a in &c.accounts {
                let d = dir_for(&a.settings);
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
        // No configuration: only the default queue can hold anything.
        (None, Err(_)) => {}
    }
    if t.account.is_none() {
        let d = default_dir();
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    Ok(dirs)
}

/// Text from a queue file (addresses: the user's; errors: the server's) made safe for a
/// terminal: control characters become `?`, as msmtp does before printing server text.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Setting values never printed by `show`: the password and the command that prints it.
fn is_secret_setting(name: &str) -> bool {
    name.contains("password")
}

/// The metadata as `show` prints it: secret override values replaced.
pub fn redacted(m: &super::Meta) -> super::Meta {
    let mut m = m.clone();
    for (name, value) in &mut m.origin.overrides {
        if is_secret_setting(name) {
            *value = "(redacted)".to_owned();
        }
    }
    m
}

/// The listing (`mailq` style): one block per message. Queue directories and files that are
/// not this user's private ones are left out and their errors pushed to `problems`.
pub fn list(
    dirs: &[PathBuf],
    out: &mut dyn Write,
    problems: &mut Vec<Error>,
) -> std::io::Result<usize> {
    let mut total = 0;
    // Damaged or ignored entries are listed too: then the queue is not "empty".
    let mut listed = false;
    for dir in dirs {
        let q = match Queue::existing(dir) {
            Ok(Some(q)) => q,
            Ok(None) => continue,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let ids = q.ids();
        if ids.is_empty() {
            continue;
        }
        listed = true;
        writeln!(
            out,
            "{} ({} request{})",
            dir.display(),
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        )?;
        writeln!(
            out,
            "{:<28} {:>9} {:<19} Sender/Recipient",
            "Queue ID", "Size", "Queued"
        )?;
        for id in ids {
            let damaged = |why: &str, out: &mut dyn Write, problems: &mut Vec<Error>| {
                problems.push(damaged_error(&id, why));
                writeln!(out, "{id:<28} (damaged: {})", printable(why))
            };
            let m = match q.read_meta(&id) {
                Ok(m) => m,
                // Delivered or removed since the directory was read.
                Err(FileError::Missing) => continue,
                Err(FileError::Damaged(why)) => {
                    damaged(&why, out, problems)?;
                    continue;
                }
                Err(FileError::Refused(e)) => {
                    writeln!(out, "{id:<28} (ignored: unreadable or not yours)")?;
                    problems.push(e);
                    continue;
                }
            };
            if let Some(why) = q.message_problem(&id) {
                damaged(&why, out, problems)?;
                continue;
            }
            total += 1;
            writeln!(
                out,
                "{:<28} {:>9} {:<19} <{}>{}",
                id,
                m.size,
                meta::local_time(m.created),
                printable(&m.from),
                if m.held { " (held)" } else { "" }
            )?;
            if let Some(e) = &m.last_error {
                writeln!(
                    out,
                    "{:>60}({} attempt{}, next {}: {e})",
                    "",
                    m.attempts,
                    if m.attempts == 1 { "" } else { "s" },
                    meta::local_time(m.next_attempt),
                    e = printable(e)
                )?;
            }
            for r in &m.recipients {
                writeln!(out, "{:>60}<{}>", "", printable(r))?;
            }
        }
        let failed = q.failed_ids().len();
        if failed > 0 {
            writeln!(
                out,
                "{failed} failed message(s) in {}",
                dir.join("failed").display()
            )?;
        }
    }
    if !listed {
        writeln!(out, "Mail queue is empty")?;
    }
    Ok(total)
}

/// A dry run over every queue directory (stdout), with a summary line; returns the exit code
/// the flush would have for what can be known without sending: 78 for a refused directory or
/// file, 74 for damaged entries, else 0.
fn dry_run_all(dirs: &[PathBuf], opts: &FlushOptions, configs: &mut Configs) -> Result<()> {
    let mut r = flush::DryRunReport::default();
    let mut refused = Vec::new();
    let mut stdout = std::io::stdout().lock();
    let mut res = Ok(());
    for dir in dirs {
        let q = match Queue::existing(dir) {
            Ok(Some(q)) => q,
            Ok(None) => continue,
            Err(e) => {
                refused.push(e);
                continue;
            }
        };
        res = flush::dry_run(&q, opts, configs, &mut stdout, &mut r);
        if res.is_err() {
            break;
        }
    }
    if res.is_ok() {
        res = writeln!(
            stdout,
            "dry run: {} message{} would be sent, {} held, {} not due, {} damaged; \
             nothing was sent and the queue is unchanged",
            r.would_send,
            if r.would_send == 1 { "" } else { "s" },
            r.held,
            r.not_due,
            r.damaged
        )
        .and_then(|()| stdout.flush());
    }
    let mut lines: Vec<String> = refused.iter().flat_map(Error::lines).collect();
    lines.extend(r.problems.iter().cloned());
    if let Err(e) = res
        && !reader_gone(&e)
    {
        lines.extend(stdout_error(&e).lines());
        return finish(lines, Sysexit::IoErr);
    }
    let exit = if !refused.is_empty() || r.ignored > 0 {
        Sysexit::Config
    } else if r.damaged > 0 {
        Sysexit::IoErr
    } else {
        Sysexit::Ok
    };
    finish(lines, exit)
}

/// Ends a command that reported `lines` (queue files and server replies: sanitised when
/// printed): a failure carries them to `app::run`, a success prints them as notes.
fn finish(lines: Vec<String>, exit: Sysexit) -> Result<()> {
    if exit == Sysexit::Ok {
        for line in &lines {
            crate::ui::note(line);
        }
        return Ok(());
    }
    Err(Error::new(exit, lines.join("\n")))
}

/// Flushes every queue directory; returns the exit code: 78 if a directory or file was
/// refused as not this user's, else 74 if a damaged entry was set aside, else 69 if a message
/// was set aside because it could not be delivered.
pub fn flush_all(dirs: &[PathBuf], opts: &FlushOptions, configs: &mut Configs) -> Result<()> {
    if opts.dry_run {
        return dry_run_all(dirs, opts, configs);
    }
    let mut exit = Sysexit::Ok;
    let mut lines = Vec::new();
    let mut refused = false;
    for dir in dirs {
        let q = match Queue::existing(dir) {
            Ok(Some(q)) => q,
            Ok(None) => continue,
            Err(e) => {
                lines.extend(e.lines());
                refused = true;
                continue;
            }
        };
        // A message delivered from a directory that cannot be written stays queued and goes
        // out again at every flush: refuse before connecting (found by issue 15's read-only
        // queue test).
        if let Err(e) = writable(dir) {
            lines.push(format!(
                "cannot flush queue directory {}: {}; nothing was sent",
                dir.display(),
                crate::sys::io_error_text(&e)
            ));
            exit = Sysexit::IoErr;
            continue;
        }
        let r = flush::flush_with(&q, opts, configs);
        lines.extend(r.messages.iter().cloned());
        if opts.verbose {
            // A closed stdout must not stop (or crash) a flush that is delivering mail.
            crate::ui::stdout_text(&format!(
                "{}: {} delivered, {} deferred, {} failed, {} damaged, {} busy, {} notice(s) queued\n",
                dir.display(),
                r.delivered,
                r.deferred,
                r.failed,
                r.damaged,
                r.busy,
                r.notices.len()
            ));
        }
        if r.damaged > 0 {
            exit = Sysexit::IoErr;
        } else if r.failed > 0 && exit == Sysexit::Ok {
            exit = Sysexit::Unavailable;
        }
        refused |= r.ignored > 0;
    }
    if opts.verbose
        && let Some(why) = crate::secret::cache_unavailable()
    {
        lines.push(format!("password cache not used: {why}"));
    }
    finish(lines, if refused { Sysexit::Config } else { exit })
}

/// Whether this process may create and remove files in `dir` (`access(W_OK)`: false on a
/// read-only file system, or a directory without write permission for a non-root user).
fn writable(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn find(dirs: &[PathBuf], id: &str) -> Result<Queue> {
    if !valid_id(id) {
        return Err(Error::usage(format!("invalid queue ID {id}")));
    }
    let mut refused = None;
    for d in dirs {
        match Queue::existing(d) {
            Ok(Some(q)) if q.ids().iter().any(|i| i == id) => return Ok(q),
            Ok(_) => {}
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    // Not found in the usable directories: a refused one may be why.
    Err(refused.unwrap_or_else(|| Error::new(Sysexit::NoInput, format!("no queued message {id}"))))
}

fn with_locked(
    dirs: &[PathBuf],
    id: &str,
    f: impl FnOnce(super::store::Locked) -> Result<()>,
) -> Result<()> {
    let q = find(dirs, id)?;
    match q.lock(id)? {
        Claim::Mine(l) => f(l),
        Claim::Gone => Err(being_delivered(id)),
        Claim::Damaged(d) => Err(damaged_error(id, d.why())),
    }
}

fn being_delivered(id: &str) -> Error {
    Error::new(
        Sysexit::TempFail,
        format!("queued message {id} is being delivered right now"),
    )
}

/// `postie queue delete ID`: also for a damaged entry, which could not be locked as usual.
fn delete(dirs: &[PathBuf], id: &str) -> Result<()> {
    let q = find(dirs, id)?;
    match q.lock(id)? {
        Claim::Mine(l) => l.remove(),
        Claim::Gone => Err(being_delivered(id)),
        Claim::Damaged(d) => d.remove(),
    }
}

/// Whether a write failed because the reader went away (`postie -bp | head`): the listing
/// then ends quietly and successfully, as `ls | head` does. Rust ignores SIGPIPE, so this
/// arrives as an error instead of killing the process.
fn reader_gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

fn stdout_error(e: &std::io::Error) -> Error {
    Error::io(format!(
        "cannot write to standard output: {}",
        crate::error::strerror(e)
    ))
}

fn show(dirs: &[PathBuf], id: &str, out: &mut dyn Write) -> Result<()> {
    match show_to(dirs, id, out) {
        Err(Shown::Write(e)) if reader_gone(&e) => Ok(()),
        Err(Shown::Write(e)) => Err(stdout_error(&e)),
        Err(Shown::Other(e)) => Err(e),
        Ok(()) => Ok(()),
    }
}

/// Why `show` stopped: stdout failed, or anything else.
enum Shown {
    Write(std::io::Error),
    Other(Error),
}

impl From<Error> for Shown {
    fn from(e: Error) -> Shown {
        Shown::Other(e)
    }
}

fn show_to(dirs: &[PathBuf], id: &str, out: &mut dyn Write) -> std::result::Result<(), Shown> {
    let q = find(dirs, id)?;
    let m = q.read_meta(id).map_err(|e| e.into_error(id))?;
    // The file keeps passwordeval (it is needed to select the account again at flush time and
    // the file is 0600), but a terminal or a pasted bug report must not show it.
    out.write_all(redacted(&m).to_toml().as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(Shown::Write)?;
    let mut f = q.open_message(id)?;
    // Streamed: a queued message can be larger than memory should hold.
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Shown::Other(Error::io(format!(
                    "cannot read queued message {id}: {}",
                    crate::error::strerror(&e)
                ))));
            }
        };
        out.write_all(&buf[..n]).map_err(Shown::Write)?;
    }
    out.flush().map_err(Shown::Write)
}

/// `-q` and `-bp` (and `mailq`): the sendmail-style entry points. `-C` and `-a` choose the
/// queue directory; `-v` shows progress.
pub fn from_sendmail_flags(cli: &crate::cli::Cli) -> Result<()> {
    let flush = cli.mode() == crate::cli::Mode::FlushQueue;
    if flush && cli.queue_only {
        // -odq promises not to connect; a flush exists to connect. Neither wins silently.
        return Err(Error::usage(
            "cannot use both -q (deliver the queue) and -odq (queue only)",
        ));
    }
    let t = Selection {
        config_file: cli.config_file.clone(),
        account: cli.account.clone(),
        queue_dir: None,
    };
    let mut configs = Configs::default();
    let dirs = queue_dirs(&t, &mut configs)?;
    if flush {
        let opts = FlushOptions {
            verbose: cli.debug,
            // A dry run or `--pretend` must never send: both turn the flush into a report.
            dry_run: cli.no_send || cli.pretend,
            ..FlushOptions::default()
        };
        return flush_all(&dirs, &opts, &mut configs);
    }
    list_command(&dirs)
}

/// Lists to stdout, reports refused directories and files on stderr; returns the exit code.
fn list_command(dirs: &[PathBuf]) -> Result<()> {
    let mut problems = Vec::new();
    let mut stdout = std::io::stdout().lock();
    let res = list(dirs, &mut stdout, &mut problems).and_then(|_| stdout.flush());
    let mut lines: Vec<String> = problems.iter().flat_map(Error::lines).collect();
    match res {
        Err(e) if !reader_gone(&e) => {
            lines.extend(stdout_error(&e).lines());
            finish(lines, Sysexit::IoErr)
        }
        _ => finish(lines, problems.first().map_or(Sysexit::Ok, |p| p.exit)),
    }
}

/// `postie queue --help`. `{prog}` is replaced by the program name.
const HELP: &str = "\
Usage: {prog} queue [option...] [command]

Commands:
  list                 list the queued mail (the default)
  flush                deliver the queued mail now
  show ID              print a message's metadata and the message as submitted
  hold ID              keep a message from being sent until it is released
  release ID           make a held message due again
  delete ID            remove a message from the queue
  help                 print this help

Options:
  -C, --file=FILE      use this configuration file
  -a, --account=ID     work on the queue of this account only
  --queue-dir=DIR      work on exactly this queue directory
  --due                flush: only messages whose retry time has come
  --max-age=DURATION   flush: set aside messages older than DURATION
                       (seconds, or a number with s, m, h or d)
  --no-send, -P        flush: print what would be sent (account, server,
                       envelope); send nothing, run no password helper,
                       change nothing in the queue
  -v, -d, --debug      print progress and the SMTP dialogue
  -h, --help           print this help
";

/// A usage error that points to the help (which lists every command and option).
fn usage_error(prog: &str, what: &str) -> Error {
    Error::usage(format!("{what}\nsee '{prog} queue --help'"))
}

/// The commands with the number of IDs each takes.
const VERBS: [(&str, usize); 7] = [
    ("list", 0),
    ("flush", 0),
    ("show", 1),
    ("hold", 1),
    ("release", 1),
    ("delete", 1),
    ("help", 0),
];

/// `postie queue ...` (args after `queue`). Returns the exit code.
pub fn run(prog: &str, args: &[String]) -> Result<()> {
    let fail = Err;
    let help = || {
        crate::ui::stdout_text(&HELP.replace("{prog}", prog));
        Ok(())
    };
    // Help wins over everything else on the line, so it works even with a broken msmtprc.
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return help();
    }
    let mut t = Selection::default();
    let mut opts = FlushOptions::default();
    let mut words: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = |name: &str| -> Option<Option<String>> {
            if let Some(v) = a.strip_prefix(&format!("{name}=")) {
                return Some(Some(v.to_owned()));
            }
            if a == name {
                i += 1;
                return Some(args.get(i).cloned());
            }
            None
        };
        let missing =
            |name: &str| usage_error(prog, &format!("option {name} requires an argument"));
        if let Some(v) = value("-C").or_else(|| value("--file")) {
            match v {
                Some(v) => t.config_file = Some(v),
                None => return fail(missing(a)),
            }
        } else if let Some(v) = value("-a").or_else(|| value("--account")) {
            match v {
                Some(v) => t.account = Some(v),
                None => return fail(missing(a)),
            }
        } else if let Some(v) = value("--queue-dir") {
            match v {
                Some(v) => t.queue_dir = Some(PathBuf::from(v)),
                None => return fail(missing(a)),
            }
        } else if let Some(v) = value("--max-age") {
            let Some(v) = v else {
                return fail(missing(a));
            };
            match crate::config::settings::parse_duration(&v) {
                Some(n) => opts.max_age = Some(n),
                None => {
                    return fail(Error::usage(format!(
                        "invalid argument {} for --max-age",
                        crate::ui::sanitize(&v)
                    )));
                }
            }
        } else if a == "--due" {
            opts.due_only = true;
        } else if a == "--no-send" || a == "-P" || a == "--pretend" {
            opts.dry_run = true;
        } else if a == "-v" || a == "-d" || a == "--debug" {
            opts.verbose = true;
        } else if a.starts_with('-') && a.len() > 1 {
            return fail(usage_error(prog, &format!("unknown option {a}")));
        } else {
            words.push(a);
        }
        i += 1;
    }
    let verb = words.first().copied().unwrap_or("list");
    let Some(&(_, ids)) = VERBS.iter().find(|(v, _)| *v == verb) else {
        return fail(usage_error(prog, &format!("unknown queue command {verb}")));
    };
    let operands = words.len().saturating_sub(1);
    if operands < ids {
        return fail(usage_error(
            prog,
            &format!("queue command {verb} needs a queue ID"),
        ));
    }
    if operands > ids {
        return fail(usage_error(
            prog,
            &format!("too many arguments for queue command {verb}"),
        ));
    }
    if verb == "help" {
        return help();
    }
    if opts.dry_run && matches!(verb, "hold" | "release" | "delete") {
        return fail(usage_error(
            prog,
            &format!("--no-send applies to flush only, not to {verb}"),
        ));
    }
    let mut configs = Configs::default();
    let dirs = match queue_dirs(&t, &mut configs) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    match (verb, words.get(1).copied().unwrap_or_default()) {
        ("list", _) => list_command(&dirs),
        ("flush", _) => flush_all(&dirs, &opts, &mut configs),
        ("show", id) => show(&dirs, id, &mut std::io::stdout().lock()),
        ("delete", id) => delete(&dirs, id),
        ("hold", id) => with_locked(&dirs, id, |mut l| {
            l.meta.held = true;
            l.save()
        }),
        ("release", id) => with_locked(&dirs, id, |mut l| {
            l.meta.held = false;
            l.meta.next_attempt = super::meta::now();
            l.save()
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_queue_lists_as_empty() {
        let t = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        let mut problems = Vec::new();
        assert_eq!(
            list(&[t.path().join("none")], &mut out, &mut problems).expect("list"),
            0
        );
        assert!(problems.is_empty());
        assert_eq!(String::from_utf8_lossy(&out), "Mail queue is empty\n");
    }

    #[test]
    fn explicit_queue_dir_wins() {
        let t = Selection {
            queue_dir: Some("/q".into()),
            ..Selection::default()
        };
        assert_eq!(
            queue_dirs(&t, &mut Configs::default()).expect("dirs"),
            vec![PathBuf::from("/q")]
        );
    }

    #[test]
    fn show_rejects_ids_that_are_paths() {
        let e = find(&[PathBuf::from("/tmp")], "../../etc/passwd").expect_err("must fail");
        assert_eq!(e.exit, Sysexit::Usage);
    }

    #[test]
    fn local_time_has_fixed_width() {
        assert_eq!(meta::local_time(0).len(), 19);
    }

    fn queued(dir: &std::path::Path, overrides: Vec<(String, String)>) -> (Queue, String) {
        let q = Queue::open(dir).expect("open");
        let sp = q.spool(b"", &mut &b"Subject: s\n\nb\n"[..]).expect("spool");
        let mut m = super::super::Meta::new(
            "",
            super::super::Origin {
                overrides,
                ..Default::default()
            },
            &crate::envelope::Envelope {
                from: "a\u{1b}[2J@x.org".into(),
                recipients: vec!["b\r\nX-Evil: 1@y.org".into()],
            },
            Default::default(),
        );
        m.last_error = Some("451 \u{1b}]0;title\u{7} try later".into());
        let id = sp.commit(&mut m).expect("commit");
        (q, id)
    }

    #[test]
    fn show_redacts_password_overrides() {
        let t = tempfile::tempdir().expect("tempdir");
        let (q, id) = queued(
            t.path(),
            vec![
                ("passwordeval".into(), "echo PW".into()),
                ("password".into(), "hunter2".into()),
                ("port".into(), "2525".into()),
            ],
        );
        let mut out = Vec::new();
        show(&[q.dir().to_path_buf()], &id, &mut out).expect("show");
        let out = String::from_utf8_lossy(&out);
        assert!(
            !out.contains("echo PW") && !out.contains("hunter2"),
            "{out}"
        );
        assert!(out.contains("(redacted)") && out.contains("2525"), "{out}");
        // The stored file keeps it: the flush needs it to select the account again.
        let stored = q.read_meta(&id).expect("meta");
        assert!(stored.origin.overrides.iter().any(|(_, v)| v == "echo PW"));
    }

    #[test]
    fn listing_replaces_control_characters() {
        let t = tempfile::tempdir().expect("tempdir");
        let (q, _) = queued(t.path(), Vec::new());
        let mut out = Vec::new();
        let mut problems = Vec::new();
        list(&[q.dir().to_path_buf()], &mut out, &mut problems).expect("list");
        let out = String::from_utf8(out).expect("utf-8");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(out.contains("<a?[2J@x.org>"), "{out}");
        assert!(out.contains("<b??X-Evil: 1@y.org>"), "{out}");
        assert!(out.contains("451 ?]0;title? try later"), "{out}");
        assert_eq!(printable("o'brien@x.org"), "o'brien@x.org");
    }

    #[test]
    fn listing_reports_a_queue_dir_writable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().expect("tempdir");
        let (q, _) = queued(t.path(), Vec::new());
        std::fs::set_permissions(q.dir(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let mut out = Vec::new();
        let mut problems = Vec::new();
        assert_eq!(
            list(&[q.dir().to_path_buf()], &mut out, &mut problems).expect("list"),
            0
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].exit, Sysexit::Config);
        let e = find(&[q.dir().to_path_buf()], "0123-4").expect_err("refused");
        assert_eq!(e.exit, Sysexit::Config);
    }
}
