//! The user-facing queue commands: `-q` (flush), `-bp` and `mailq` (list), and
//! `postie queue list|flush|show ID|delete ID|hold ID|release ID`.
//!
//! Which queue: with `-a ACCOUNT` the account's `queue_dir`; otherwise every distinct
//! `queue_dir` of the configuration plus the default directory, so that `mailq` shows all mail
//! the user has waiting whichever account queued it.

use super::flush::{self, FlushOptions};
use super::store::{Queue, valid_id};
use super::{default_dir, dir_for};
use crate::config;
use crate::error::{Error, Result, Sysexit};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Options shared by the queue commands.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `-C FILE`.
    pub config_file: Option<String>,
    /// `-a ACCOUNT`.
    pub account: Option<String>,
    /// `--queue-dir=DIR` (postie queue only): use exactly this directory.
    pub queue_dir: Option<PathBuf>,
}

/// The queue directories a command works on.
pub fn queue_dirs(t: &Target) -> Result<Vec<PathBuf>> {
    if let Some(d) = &t.queue_dir {
        return Ok(vec![d.clone()]);
    }
    let loaded = config::load(t.config_file.as_deref().map(Path::new));
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

/// `strftime("%Y-%m-%d %H:%M:%S")` in local time.
fn local_time(secs: u64) -> String {
    let t = libc::time_t::try_from(secs).unwrap_or(0);
    // SAFETY: localtime_r writes only into `tm`, which lives on our stack.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return secs.to_string();
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// The listing (`mailq` style): one block per message.
pub fn list(dirs: &[PathBuf], out: &mut dyn Write) -> std::io::Result<usize> {
    let mut total = 0;
    for dir in dirs {
        let Some(q) = Queue::existing(dir) else {
            continue;
        };
        let ids = q.ids();
        if ids.is_empty() {
            continue;
        }
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
            let Ok(m) = q.read_meta(&id) else {
                writeln!(out, "{id:<28} (unreadable metadata)")?;
                continue;
            };
            total += 1;
            writeln!(
                out,
                "{:<28} {:>9} {:<19} <{}>{}",
                id,
                m.size,
                local_time(m.created),
                m.from,
                if m.held { " (held)" } else { "" }
            )?;
            if let Some(e) = &m.last_error {
                writeln!(
                    out,
                    "{:>60}({} attempt{}, next {}: {e})",
                    "",
                    m.attempts,
                    if m.attempts == 1 { "" } else { "s" },
                    local_time(m.next_attempt)
                )?;
            }
            for r in &m.recipients {
                writeln!(out, "{:>60}<{r}>", "")?;
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
    if total == 0 {
        writeln!(out, "Mail queue is empty")?;
    }
    Ok(total)
}

/// Flushes every queue directory; returns the exit code.
pub fn flush_all(prog: &str, dirs: &[PathBuf], opts: &FlushOptions) -> u8 {
    let mut code = 0;
    for dir in dirs {
        let Some(q) = Queue::existing(dir) else {
            continue;
        };
        let r = flush::flush(&q, opts);
        for m in &r.messages {
            eprintln!("{prog}: {m}");
        }
        if opts.verbose {
            println!(
                "{}: {} delivered, {} deferred, {} failed, {} busy, {} notice(s) queued",
                dir.display(),
                r.delivered,
                r.deferred,
                r.failed,
                r.busy,
                r.notices.len()
            );
        }
        if r.failed > 0 {
            code = Sysexit::Unavailable.code();
        }
    }
    code
}

fn find(dirs: &[PathBuf], id: &str) -> Result<Queue> {
    if !valid_id(id) {
        return Err(Error::usage(format!("invalid queue ID {id}")));
    }
    dirs.iter()
        .filter_map(|d| Queue::existing(d))
        .find(|q| q.ids().iter().any(|i| i == id))
        .ok_or_else(|| Error::new(Sysexit::NoInput, format!("no queued message {id}")))
}

fn with_locked(
    dirs: &[PathBuf],
    id: &str,
    f: impl FnOnce(super::store::Locked) -> Result<()>,
) -> Result<()> {
    let q = find(dirs, id)?;
    match q.lock(id)? {
        Some(l) => f(l),
        None => Err(Error::new(
            Sysexit::TempFail,
            format!("queued message {id} is being delivered right now"),
        )),
    }
}

fn show(dirs: &[PathBuf], id: &str, out: &mut dyn Write) -> Result<()> {
    let q = find(dirs, id)?;
    let m = q.read_meta(id)?;
    let w = |e: std::io::Error| Error::io(format!("cannot write to standard output: {e}"));
    out.write_all(m.to_toml().as_bytes()).map_err(w)?;
    out.write_all(b"\n").map_err(w)?;
    let mut f = q.open_message(id)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("cannot read queued message: {e}")))?;
    out.write_all(&buf).map_err(w)
}

/// `-q` and `-bp` (and `mailq`): the sendmail-style entry points. `-C` and `-a` choose the
/// queue directory; `-v` shows progress.
pub fn sendmail_mode(prog: &str, cli: &crate::cli::Cli) -> u8 {
    let t = Target {
        config_file: cli.config_file.clone(),
        account: cli.account.clone(),
        queue_dir: None,
    };
    let dirs = match queue_dirs(&t) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{prog}: {}", e.message);
            return e.exit.code();
        }
    };
    if cli.mode() == crate::cli::Mode::FlushQueue {
        let opts = FlushOptions {
            verbose: cli.debug,
            ..FlushOptions::default()
        };
        return flush_all(prog, &dirs, &opts);
    }
    match list(&dirs, &mut std::io::stdout().lock()) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("{prog}: cannot write to standard output: {e}");
            Sysexit::IoErr.code()
        }
    }
}

const USAGE: &str = "usage: postie queue [-C FILE] [-a ACCOUNT] [--queue-dir=DIR] [-v] \
list|flush [--due] [--max-age=DURATION]|show ID|delete ID|hold ID|release ID";

/// `postie queue ...` (args after `queue`). Returns the exit code.
pub fn run(prog: &str, args: &[String]) -> u8 {
    let mut t = Target::default();
    let mut opts = FlushOptions::default();
    let mut words: Vec<&str> = Vec::new();
    let mut i = 0;
    let fail = |e: Error| {
        eprintln!("{prog}: {}", e.message);
        e.exit.code()
    };
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = |name: &str| -> Option<String> {
            if let Some(v) = a.strip_prefix(&format!("{name}=")) {
                return Some(v.to_owned());
            }
            if a == name {
                i += 1;
                return args.get(i).cloned();
            }
            None
        };
        if let Some(v) = value("-C").or_else(|| value("--file")) {
            t.config_file = Some(v);
        } else if let Some(v) = value("-a").or_else(|| value("--account")) {
            t.account = Some(v);
        } else if let Some(v) = value("--queue-dir") {
            t.queue_dir = Some(PathBuf::from(v));
        } else if let Some(v) = value("--max-age") {
            match crate::config::settings::parse_duration(&v) {
                Some(n) => opts.max_age = Some(n),
                None => return fail(Error::usage(format!("invalid argument {v} for --max-age"))),
            }
        } else if a == "--due" {
            opts.due_only = true;
        } else if a == "-v" || a == "-d" || a == "--debug" {
            opts.verbose = true;
        } else if a.starts_with('-') && a.len() > 1 {
            return fail(Error::usage(format!("unknown option {a}\n{USAGE}")));
        } else {
            words.push(a);
        }
        i += 1;
    }
    let dirs = match queue_dirs(&t) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut stdout = std::io::stdout().lock();
    let res = match words.as_slice() {
        [] | ["list"] => list(&dirs, &mut stdout)
            .map(|_| ())
            .map_err(|e| Error::io(format!("cannot write to standard output: {e}"))),
        ["flush"] => {
            drop(stdout);
            return flush_all(prog, &dirs, &opts);
        }
        ["show", id] => show(&dirs, id, &mut stdout),
        ["delete", id] => with_locked(&dirs, id, |l| l.remove()),
        ["hold", id] => with_locked(&dirs, id, |mut l| {
            l.meta.held = true;
            l.save()
        }),
        ["release", id] => with_locked(&dirs, id, |mut l| {
            l.meta.held = false;
            l.meta.next_attempt = super::meta::now();
            l.save()
        }),
        _ => Err(Error::usage(USAGE)),
    };
    match res {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_queue_lists_as_empty() {
        let t = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        assert_eq!(list(&[t.path().join("none")], &mut out).expect("list"), 0);
        assert_eq!(String::from_utf8_lossy(&out), "Mail queue is empty\n");
    }

    #[test]
    fn explicit_queue_dir_wins() {
        let t = Target {
            queue_dir: Some("/q".into()),
            ..Target::default()
        };
        assert_eq!(queue_dirs(&t).expect("dirs"), vec![PathBuf::from("/q")]);
    }

    #[test]
    fn show_rejects_ids_that_are_paths() {
        let e = find(&[PathBuf::from("/tmp")], "../../etc/passwd").expect_err("must fail");
        assert_eq!(e.exit, Sysexit::Usage);
    }

    #[test]
    fn local_time_has_fixed_width() {
        assert_eq!(local_time(0).len(), 19);
    }
}
