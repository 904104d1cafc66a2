//! Flushing: deliver queued messages, one SMTP connection per account (one TLS handshake, one
//! AUTH, RSET between messages, the envelope pipelined when the server offers PIPELINING).
//!
//! Why per-recipient handling lives here and not in `smtp::session::envelope`: a direct send
//! must behave like msmtp (the first refused recipient aborts), but a queued message should
//! lose only the recipient a server refused for good (5xx) and keep the rest; recipients
//! refused with 4xx stay queued. Every message is locked while it is being sent; the metadata
//! is updated or the message removed before the lock is released, so the only way a message
//! can be sent twice is a crash after the server accepted it and before the removal.

use super::meta::{self, Meta, Origin, Refused};
use super::notify;
use super::store::{Claim, Damage, FileError, Locked, Queue};
use crate::account::{self, Account, Request};
use crate::config::{self, Config};
use crate::delivery::{self, Transport};
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result, Sysexit};
use crate::log::{self, Attempt};
use crate::message;
use crate::secret;
use crate::smtp::{self, Reply};
use std::io::Write;

/// How a flush runs.
#[derive(Clone, Debug, Default)]
pub struct FlushOptions {
    /// Only messages whose next attempt is due (timer and path units); `-q` tries all.
    pub due_only: bool,
    /// Seconds after which an undeliverable message is set aside (`--max-age`); `None`: the
    /// account's `queue_max_age`, else [`meta::DEFAULT_MAX_AGE_SECS`].
    pub max_age: Option<u64>,
    /// Print progress and the SMTP dialogue.
    pub verbose: bool,
    /// Only say what would be done (`--no-send`, `-P`): nothing is sent, no password helper
    /// runs, nothing is logged, and no queue file is created, changed, removed or locked.
    pub dry_run: bool,
}

/// What a flush did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Messages delivered to all their remaining recipients.
    pub delivered: usize,
    /// Messages still queued after a transient failure.
    pub deferred: usize,
    /// Messages moved to `failed/`.
    pub failed: usize,
    /// Messages skipped because another process held them.
    pub busy: usize,
    /// Queue files ignored because they are not this user's private files (or unreadable).
    pub ignored: usize,
    /// Damaged entries and stray files set aside (or found in `tmp/`), never sent.
    pub damaged: usize,
    /// Queue IDs of the notification mails queued for the senders of set-aside messages.
    pub notices: Vec<String>,
    /// Lines for stderr: permanent failures always, deferrals when verbose.
    pub messages: Vec<String>,
}

/// The configurations loaded during one command, by `-C` file (`None`: the default files), so
/// that a flush reads each msmtprc, and runs each of its `eval` commands, once.
#[derive(Default)]
pub struct Configs {
    loaded: Vec<(Option<String>, Result<Config>)>,
}

impl Configs {
    /// Records a configuration the caller already loaded for `file` (absolute, as in
    /// [`Origin::config_file`]).
    pub fn insert(&mut self, file: Option<String>, config: Result<Config>) {
        if !self.loaded.iter().any(|(f, _)| *f == file) {
            self.loaded.push((file, config));
        }
    }

    /// The configuration for `file`, loaded on first use.
    pub fn get(&mut self, file: Option<&str>) -> Result<&Config> {
        let i = match self.loaded.iter().position(|(f, _)| f.as_deref() == file) {
            Some(i) => i,
            None => {
                let c = config::load(file.map(std::path::Path::new));
                self.loaded.push((file.map(str::to_owned), c));
                self.loaded.len() - 1
            }
        };
        match &self.loaded[i].1 {
            Ok(c) => Ok(c),
            // The error is reported for every message that needs it.
            Err(e) => Err(Error::new(e.exit, e.message.clone())),
        }
    }

    /// The configuration an origin selects its account from (`None` for `--host`).
    fn for_origin(&mut self, origin: &Origin) -> Result<Option<&Config>> {
        match &origin.host {
            Some(_) => Ok(None),
            None => self.get(origin.config_file.as_deref()).map(Some),
        }
    }
}

/// An account resolved for a flush: selected with the message's envelope sender and its
/// password source run, plus the account's own `from` (for notices).
pub struct Resolved {
    /// The account, ready to send.
    pub account: Account,
    /// [`notify::own_from`] of the same origin.
    pub own_from: Option<String>,
}

fn select(origin: &Origin, from: &str, config: Option<&Config>) -> Result<Account> {
    let request = Request {
        account: origin.host.is_none().then_some(origin.account.as_str()),
        host: origin.host.as_deref(),
        envelope_from: Some(from),
        read_envelope_from: false,
        from_header: None,
        overrides: &origin.overrides,
        sendmail_mode: true,
    };
    Ok(account::select(config, &request)?.account)
}

/// Re-selects the account a message was submitted with and resolves its password source
/// (passwordeval runs here, at flush time; the password is never stored). `config` is the
/// loaded configuration of `origin` (`None` for a `--host` origin).
pub fn resolve_account(origin: &Origin, from: &str, config: Option<&Config>) -> Result<Account> {
    let mut account = select(origin, from, config)?;
    secret::apply_passwordeval(&mut account)?;
    account::finalize(&mut account, true, false)?;
    Ok(account)
}

/// [`resolve_account`] without running any password helper: for log lines about messages
/// that will not be sent, and for dry runs.
pub fn select_account(origin: &Origin, from: &str, config: Option<&Config>) -> Result<Account> {
    let mut account = select(origin, from, config)?;
    account::finalize(&mut account, true, false)?;
    Ok(account)
}

fn resolve(origin: &Origin, from: &str, configs: &mut Configs) -> Result<Resolved> {
    let config = configs.for_origin(origin)?;
    Ok(Resolved {
        account: resolve_account(origin, from, config)?,
        own_from: notify::own_from(origin, config),
    })
}

/// Writes one log line (logfile and/or syslog) if the account asks for it.
pub fn log_line(account: &Account, attempt: &Attempt<'_>, success: bool) {
    // A flush runs unattended (timer, cron): a log file that cannot be written must not stop
    // the delivery of the rest of the queue.
    let _ = log::record(&account.settings, attempt, success);
}

fn reply_text(r: &Reply) -> String {
    format!("{} {}", r.code, r.texts().collect::<Vec<_>>().join(" "))
}

/// Sends one queued message on `t` under the queue's [`RecipientPolicy::EachRecipient`].
/// `Err` means the transport is unusable (the message's state is unknown only if the error
/// came after the final dot). If the message file turns out to be damaged while it is sent,
/// `damage` says why and the final dot was not sent (the transport must be dropped so the
/// server discards the partial message).
fn send_queued(t: &mut dyn Transport, m: &Locked, damage: &mut Option<String>) -> Result<Outcome> {
    let meta = &m.meta;
    let envelope = Envelope {
        from: meta.from.clone(),
        recipients: meta.recipients.clone(),
    };
    let mut reader = m.reader()?;
    let rewrite = &meta.rewrite.rewrite;
    let read_recipients = meta.rewrite.read_recipients;
    // The session's body writer buffers and sends in large chunks, flushing once after the
    // final dot, so no buffer of our own goes on top of it.
    let mut body = |w: &mut dyn Write| -> Result<u64> {
        let headers = message::read_header_block_for(&mut reader, read_recipients)?;
        message::write_data(&headers, rewrite, &mut reader, &mut { w }).map_err(|e| match e {
            message::BodyError::Read(_) => Error::io("cannot read queued message"),
            message::BodyError::Write(e) => smtp::write_error(e),
        })
    };
    let sent = t.send(&envelope, RecipientPolicy::EachRecipient, &mut body);
    if let Some(why) = reader.get_ref().damage() {
        *damage = Some(why.to_owned());
    }
    sent
}

/// Flushes one queue directory, loading each configuration it needs once.
pub fn flush(queue: &Queue, opts: &FlushOptions) -> FlushReport {
    flush_with(queue, opts, &mut Configs::default())
}

/// [`flush`] with the configurations shared across queue directories (and with the caller,
/// which may have loaded one already to find the directories).
pub fn flush_with(queue: &Queue, opts: &FlushOptions, configs: &mut Configs) -> FlushReport {
    let mut report = FlushReport::default();
    for d in queue.cleanup() {
        report_damage(&d, configs, &mut report);
    }
    let now = meta::now();
    // Group by route so each account gets one connection; keep the queue order inside.
    let mut groups: Vec<(Origin, Vec<String>)> = Vec::new();
    for id in queue.ids() {
        let m = match queue.read_meta(&id) {
            Ok(m) => m,
            Err(FileError::Missing) => continue,
            Err(FileError::Damaged(_)) => {
                // Set aside under the message's lock, so never under a running delivery.
                match queue.lock(&id) {
                    Ok(Claim::Damaged(d)) => report_damage(&d.set_aside(), configs, &mut report),
                    Ok(Claim::Gone) => report.busy += 1,
                    // Rewritten meanwhile by its holder: the next flush sends it.
                    Ok(Claim::Mine(_)) => {}
                    Err(e) => {
                        report.ignored += 1;
                        report.messages.push(e.message);
                    }
                }
                continue;
            }
            Err(FileError::Refused(e)) => {
                // A foreign or unreadable file is never acted on, but the user hears of it.
                report.ignored += 1;
                report.messages.push(e.message);
                continue;
            }
        };
        if m.held || (opts.due_only && !m.is_due(now)) {
            continue;
        }
        match groups.iter_mut().find(|(o, _)| *o == m.origin) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((m.origin, vec![id])),
        }
    }
    for (origin, ids) in groups {
        flush_group(queue, opts, configs, &origin, &ids, &mut report);
    }
    report
}

/// Reports a damaged entry: a line on stderr and, when its account can still be selected
/// (without running any password helper), a log line with `exitcode=EX_IOERR`.
fn report_damage(d: &Damage, configs: &mut Configs, report: &mut FlushReport) {
    let line = d.line();
    if let Some(m) = &d.meta
        && let Ok(config) = configs.for_origin(&m.origin)
        && let Ok(account) = select_account(&m.origin, &m.from, config)
    {
        let e = Error::io(line.clone());
        let attempt = Attempt::new(&account.settings, &m.from, &m.recipients);
        log_line(&account, &attempt.failed(&e), false);
    }
    report.damaged += 1;
    report.messages.push(line);
}

/// What a dry run found, summed over the queue directories of one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DryRunReport {
    /// Messages a flush would try to send now.
    pub would_send: usize,
    /// Held messages.
    pub held: usize,
    /// Messages `--due` would skip.
    pub not_due: usize,
    /// Damaged entries and stray files a flush would set aside (or report).
    pub damaged: usize,
    /// Queue files that are not this user's private ones (a flush ignores them).
    pub ignored: usize,
    /// Lines for stderr: the ignored files.
    pub problems: Vec<String>,
}

/// What a flush of `queue` would do, written to `out`: per message, whether it would be sent
/// and, if so, the account, server, authentication and envelope. The configuration is read
/// (its `eval` lines run, as for any command that reads it), but no `passwordeval`; and
/// nothing is connected to, logged, locked or changed in the queue.
pub fn dry_run(
    queue: &Queue,
    opts: &FlushOptions,
    configs: &mut Configs,
    out: &mut dyn Write,
    report: &mut DryRunReport,
) -> std::io::Result<()> {
    let san = crate::ui::sanitize;
    for d in queue.survey() {
        report.damaged += 1;
        writeln!(out, "{}", san(&d.line()))?;
    }
    let failed = queue.dir().join("failed");
    let now = meta::now();
    let mut accounts: Vec<(Origin, Result<Account>)> = Vec::new();
    for id in queue.ids() {
        let damaged = |why: &str, out: &mut dyn Write| {
            writeln!(
                out,
                "queued message {id} is damaged: {}; would be set aside in {}, not sent",
                san(why),
                failed.display()
            )
        };
        let m = match queue.read_meta(&id) {
            Ok(m) => m,
            Err(FileError::Missing) => continue,
            Err(FileError::Damaged(why)) => {
                report.damaged += 1;
                damaged(&why, out)?;
                continue;
            }
            Err(FileError::Refused(e)) => {
                report.ignored += 1;
                report.problems.push(e.message);
                continue;
            }
        };
        if m.held {
            report.held += 1;
            writeln!(out, "queued message {id}: held, would not be sent")?;
            continue;
        }
        if opts.due_only && !m.is_due(now) {
            report.not_due += 1;
            writeln!(
                out,
                "queued message {id}: not due before {}, would not be sent",
                meta::local_time(m.next_attempt)
            )?;
            continue;
        }
        match queue.check_message(&id, &m) {
            Ok(_) => {}
            Err(FileError::Missing) => continue,
            Err(FileError::Damaged(why)) => {
                report.damaged += 1;
                damaged(&why, out)?;
                continue;
            }
            Err(FileError::Refused(e)) => {
                report.ignored += 1;
                report.problems.push(e.message);
                continue;
            }
        }
        let i = match accounts.iter().position(|(o, _)| *o == m.origin) {
            Some(i) => i,
            None => {
                let a = configs
                    .for_origin(&m.origin)
                    .and_then(|c| select_account(&m.origin, &m.from, c));
                accounts.push((m.origin.clone(), a));
                accounts.len() - 1
            }
        };
        let account = match &accounts[i].1 {
            Ok(a) => a,
            Err(e) => {
                writeln!(
                    out,
                    "queued message {id}: would be deferred: {}",
                    san(&e.message)
                )?;
                continue;
            }
        };
        report.would_send += 1;
        writeln!(out, "queued message {id}: would be sent")?;
        out.write_all(describe(account, &m).as_bytes())?;
        let max_age = opts
            .max_age
            .or(account.settings.queue_max_age)
            .unwrap_or(meta::DEFAULT_MAX_AGE_SECS);
        if m.is_expired(now, max_age) {
            writeln!(
                out,
                "  older than the maximum age: set aside if this attempt fails"
            )?;
        }
    }
    Ok(())
}

/// The account, server, authentication and envelope of a dry run, indented under its message.
fn describe(account: &Account, m: &Meta) -> String {
    let san = crate::ui::sanitize;
    let mut t = String::new();
    for line in delivery::describe(account, false) {
        t.push_str(&format!("  {line}\n"));
    }
    t.push_str(&format!("  MAIL FROM:<{}>\n", san(&m.from)));
    for r in &m.recipients {
        t.push_str(&format!("  RCPT TO:<{}>\n", san(r)));
    }
    t.push_str(&format!(
        "  {} bytes, queued {}, {} attempt{}",
        m.size,
        meta::local_time(m.created),
        m.attempts,
        if m.attempts == 1 { "" } else { "s" }
    ));
    if let Some(e) = &m.last_error {
        t.push_str(&format!(", last error: {}", san(e)));
    }
    t.push('\n');
    t
}

fn flush_group(
    queue: &Queue,
    opts: &FlushOptions,
    configs: &mut Configs,
    origin: &Origin,
    ids: &[String],
    report: &mut FlushReport,
) {
    let mut stdout = std::io::stdout();
    let mut resolved: Option<Result<Resolved>> = None;
    let mut link: Option<Box<dyn Transport + '_>> = None;
    let mut debug: Option<&mut dyn Write> = if opts.verbose {
        Some(&mut stdout)
    } else {
        None
    };
    // Notices queued while flushing this group go out over the same connection.
    let mut ids = ids.to_vec();
    let mut seen_notices = report.notices.len();
    let mut next = 0;
    loop {
        ids.extend(report.notices[seen_notices..].iter().cloned());
        seen_notices = report.notices.len();
        let Some(id) = ids.get(next).cloned() else {
            break;
        };
        next += 1;
        let id = &id;
        let m = match queue.lock(id) {
            Ok(Claim::Mine(m)) => m,
            Ok(Claim::Gone) => {
                report.busy += 1;
                continue;
            }
            Ok(Claim::Damaged(d)) => {
                report_damage(&d.set_aside(), configs, report);
                continue;
            }
            Err(e) => {
                report.ignored += 1;
                report.messages.push(e.message);
                continue;
            }
        };
        if m.meta.held || (opts.due_only && !m.meta.is_due(meta::now())) {
            continue;
        }
        // Checked before anything else happens for it (password helper, connection), so a
        // damaged message never reaches a server, not even its envelope.
        match m.verify() {
            Ok(true) => {}
            Ok(false) => {
                if opts.verbose {
                    report.messages.push(format!(
                        "queued message {} has no checksum (queued by an older postie): only its size was checked",
                        m.id()
                    ));
                }
            }
            Err(why) => {
                report_damage(&m.set_aside_damaged(&why), configs, report);
                continue;
            }
        }
        let r = resolved.get_or_insert_with(|| resolve(origin, &m.meta.from, configs));
        let r = match r {
            Ok(r) => &*r,
            Err(e) => {
                let msg = e.message.clone();
                defer(queue, m, &msg, opts, report, None);
                continue;
            }
        };
        let acct = &r.account;
        // The envelope was read back from disk and may have been edited: an invalid one is set
        // aside before it costs a connection, and never sent.
        let envelope = Envelope {
            from: m.meta.from.clone(),
            recipients: m.meta.recipients.clone(),
        };
        if let Err(e) = envelope.check() {
            log_failure(acct, &m.meta, &e);
            let msg = meta::error_text(&e);
            let line = format!("queued message {} refused: {msg}", m.id());
            set_aside(
                queue,
                m,
                line,
                ("its envelope is invalid", &msg),
                report,
                Some(r),
            );
            continue;
        }
        // RSET between messages; a connection that fails it is replaced.
        if let Some(l) = link.as_mut()
            && !l.reset()
        {
            link = None;
        }
        if link.is_none() {
            match delivery::open(acct, debug.take()) {
                Ok(l) => link = Some(l),
                Err(e) => {
                    // The connection failed: every message of this account waits.
                    let msg = meta::error_text(&e);
                    log_failure(acct, &m.meta, &e);
                    defer(queue, m, &msg, opts, report, Some(r));
                    for rest in ids.iter().skip(next) {
                        match queue.lock(rest) {
                            Ok(Claim::Mine(l))
                                if !l.meta.held
                                    && (!opts.due_only || l.meta.is_due(meta::now())) =>
                            {
                                defer(queue, l, &msg, opts, report, Some(r));
                            }
                            Ok(Claim::Damaged(d)) => {
                                report_damage(&d.set_aside(), configs, report);
                            }
                            _ => {}
                        }
                    }
                    return;
                }
            }
        }
        let Some(l) = link.as_mut() else {
            continue;
        };
        let mut damage = None;
        let outcome = send_queued(l.as_mut(), &m, &mut damage);
        let outcome = match outcome {
            Ok(o) => o,
            Err(_) if damage.is_some() => {
                // No final dot was sent; closing the connection makes the server drop the
                // partial message.
                link = None;
                let why = damage.unwrap_or_default();
                report_damage(&m.set_aside_damaged(&why), configs, report);
                continue;
            }
            Err(e) => {
                link = None;
                log_failure(acct, &m.meta, &e);
                let msg = meta::error_text(&e);
                defer(queue, m, &msg, opts, report, Some(r));
                continue;
            }
        };
        settle(queue, m, outcome, r, opts, report);
    }
    if let Some(mut l) = link {
        l.quit();
    }
}

fn log_failure(account: &Account, meta: &Meta, e: &Error) {
    let attempt = Attempt::new(&account.settings, &meta.from, &meta.recipients);
    log_line(account, &attempt.failed(e), false);
}

/// Records a failed attempt; an expired message is set aside instead.
fn defer(
    queue: &Queue,
    mut m: Locked,
    error: &str,
    opts: &FlushOptions,
    report: &mut FlushReport,
    resolved: Option<&Resolved>,
) {
    m.meta.record_failure(error, meta::now());
    let max_age = opts
        .max_age
        .or(resolved.and_then(|r| r.account.settings.queue_max_age))
        .unwrap_or(meta::DEFAULT_MAX_AGE_SECS);
    if m.meta.is_expired(meta::now(), max_age) {
        let why = format!(
            "expired after {} attempt{}",
            m.meta.attempts,
            if m.meta.attempts == 1 { "" } else { "s" }
        );
        let line = format!("queued message {} {why}; last error: {error}", m.id());
        set_aside(queue, m, line, (&why, error), report, resolved);
        return;
    }
    if opts.verbose {
        report.messages.push(format!(
            "queued message {} deferred (attempt {}): {error}",
            m.id(),
            m.meta.attempts
        ));
    }
    if let Err(e) = m.save() {
        report.messages.push(e.message);
    }
    report.deferred += 1;
}

/// Moves a message to `failed/` with a log line and, if wanted, queues a notice to its sender.
/// `cause` is (why it was set aside, the last error) for the notice.
fn set_aside(
    queue: &Queue,
    m: Locked,
    line: String,
    cause: (&str, &str),
    report: &mut FlushReport,
    resolved: Option<&Resolved>,
) {
    if let Some(r) = resolved {
        // An ordinary log line (logfile and syslog), the reason as its error message.
        let e = Error::new(Sysexit::Unavailable, line.clone());
        let attempt = Attempt::new(&r.account.settings, &m.meta.from, &m.meta.recipients);
        log_line(&r.account, &attempt.failed(&e), false);
    }
    // The notice is composed before the move (it quotes the message's headers) and queued
    // after it, so a message is never both queued and noticed.
    let notice = resolved.and_then(|r| compose_notice(&m, r, cause));
    let id = m.id().to_owned();
    let origin = m.meta.origin.clone();
    match m.move_to_failed() {
        Ok(p) => {
            report
                .messages
                .push(format!("{line} (moved to {})", p.display()));
            if let Some((to, text)) = notice {
                match notify::enqueue(queue, &origin, &to, &text) {
                    Ok(nid) => report.notices.push(nid),
                    Err(e) => report.messages.push(format!(
                        "cannot queue the notification about message {id}: {}",
                        e.message
                    )),
                }
            }
        }
        Err(e) => report.messages.push(format!(
            "{line}; could not move queued message {id}: {}",
            e.message
        )),
    }
    report.failed += 1;
}

/// The recipient and text of the notice about `m`, if the account wants one.
fn compose_notice(m: &Locked, r: &Resolved, cause: (&str, &str)) -> Option<(String, Vec<u8>)> {
    if notify::is_null_sender(&m.meta.from) {
        return None;
    }
    let own = r.own_from.clone();
    if !notify::wanted(&m.meta, &r.account, own.as_deref()) {
        return None;
    }
    let host = crate::sys::canonical_hostname();
    let from = own.unwrap_or_else(|| format!("MAILER-DAEMON@{host}"));
    let headers = m
        .reader()
        .map(|mut r| notify::read_headers(&mut r))
        .unwrap_or_default();
    let (why, last_error) = cause;
    let n = notify::Notice::new(&m.meta, headers, why, last_error);
    let text = n.compose(
        &from,
        &host,
        &message::date_header_value(),
        &message::message_id(&from),
    );
    Some((m.meta.from.clone(), text))
}

/// Applies a transaction's outcome to the queued message.
fn settle(
    queue: &Queue,
    mut m: Locked,
    o: Outcome,
    resolved: &Resolved,
    opts: &FlushOptions,
    report: &mut FlushReport,
) {
    let account = &resolved.account;
    let s = &account.settings;
    if !o.accepted.is_empty() {
        let attempt = Attempt {
            mailsize: Some(o.mailsize),
            reply: o.final_reply.as_ref(),
            ..Attempt::new(s, &m.meta.from, &o.accepted)
        };
        log_line(account, &attempt, true);
    }
    let mut aside = None;
    if let Some(e) = &o.message_error {
        log_failure(account, &m.meta, e);
        if !e.is_transient() {
            let reply = e.reply.as_ref().map(reply_text).unwrap_or_default();
            aside = Some((
                format!("queued message {}: {} ({reply})", m.id(), e.message),
                format!("{}: {reply}", e.message),
            ));
        }
    }
    for (r, reply) in o.refused() {
        let line = format!(
            "queued message {}: recipient address {r} not accepted by the server ({})",
            m.id(),
            reply_text(reply)
        );
        // The log line a direct send writes for a refused recipient, for this recipient only.
        let e = Error::new(
            Sysexit::DataErr,
            format!("recipient address {r} not accepted by the server"),
        )
        .with_reply(reply.clone());
        let one = std::slice::from_ref(r);
        log_line(
            account,
            &Attempt::new(s, &m.meta.from, one).failed(&e),
            false,
        );
        report.messages.push(line);
        m.meta.refused.push(Refused {
            recipient: r.clone(),
            reply: reply_text(reply),
        });
    }
    let done: Vec<&String> = o
        .accepted
        .iter()
        .chain(o.refused().map(|(r, _)| r))
        .collect();
    m.meta.recipients.retain(|r| !done.contains(&r));
    if let Some((line, error)) = aside {
        set_aside(
            queue,
            m,
            line,
            ("refused by the server", &error),
            report,
            Some(resolved),
        );
        return;
    }
    if m.meta.recipients.is_empty() {
        if m.meta.refused.is_empty() {
            match m.remove() {
                Ok(()) => report.delivered += 1,
                Err(e) => report.messages.push(e.message),
            }
        } else {
            let line = format!(
                "queued message {}: some recipients were refused; kept for reference",
                m.id()
            );
            let error = m
                .meta
                .refused
                .last()
                .map(|r| {
                    format!(
                        "recipient address {} not accepted: {}",
                        r.recipient, r.reply
                    )
                })
                .unwrap_or_default();
            set_aside(
                queue,
                m,
                line,
                ("recipients refused by the server", &error),
                report,
                Some(resolved),
            );
        }
        return;
    }
    let why = o
        .message_error
        .as_ref()
        .map(meta::error_text)
        .or_else(|| {
            o.deferred()
                .next()
                .map(|(r, reply)| format!("recipient address {r} deferred: {}", reply_text(reply)))
        })
        .unwrap_or_else(|| "not all recipients done".to_owned());
    defer(queue, m, &why, opts, report, Some(resolved));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_is_one_line() {
        let r = Reply {
            code: 451,
            lines: vec!["451-a".into(), "451 b".into()],
        };
        assert!(!reply_text(&r).contains('\n'));
        assert!(reply_text(&r).starts_with("451 "));
    }

    fn planted(q: &Queue, marker: &std::path::Path) -> String {
        let origin = Origin {
            config_file: None,
            account: String::new(),
            host: Some("127.0.0.1".into()),
            overrides: vec![
                ("port".into(), "1".into()),
                ("auth".into(), "plain".into()),
                ("user".into(), "u".into()),
                (
                    "passwordeval".into(),
                    format!("touch {}; echo pw", marker.display()),
                ),
            ],
        };
        let sp = q
            .spool(b"", &mut &b"Subject: x\n\nbody\n"[..])
            .expect("spool");
        let mut m = Meta::new(
            "",
            origin,
            &Envelope {
                from: "a@x.org".into(),
                recipients: vec!["b@y.org".into()],
            },
            meta::StoredRewrite::default(),
        );
        sp.commit(&mut m).expect("commit")
    }

    #[test]
    fn planted_metadata_never_runs_its_passwordeval() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(&t.path().join("q")).expect("open");
        let marker = t.path().join("pwned");
        let id = planted(&q, &marker);
        let toml = q.dir().join(format!("{id}.toml"));
        // What an attacker sharing the directory could write: a group/other-writable file.
        std::fs::set_permissions(&toml, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let r = flush(&q, &FlushOptions::default());
        assert!(!marker.exists(), "passwordeval of a foreign file ran");
        assert_eq!(r.ignored, 1);
        assert!(
            r.messages
                .iter()
                .any(|m| m.starts_with("ignoring queue file")),
            "{:?}",
            r.messages
        );
        // Control: the same file, private to us, is trusted (so the check is what stopped it).
        std::fs::set_permissions(&toml, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let r = flush(&q, &FlushOptions::default());
        assert!(marker.exists(), "{r:?}");
        assert_eq!((r.ignored, r.deferred), (0, 1));
    }

    #[test]
    fn configs_are_loaded_once_per_file() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().expect("tempdir");
        let count = t.path().join("count");
        let rc = t.path().join("rc");
        std::fs::write(
            &rc,
            format!(
                "account default\nhost h\neval echo x >> {}; echo from a@b.org\n",
                count.display()
            ),
        )
        .expect("rc");
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut c = Configs::default();
        let key = rc.to_string_lossy().into_owned();
        for _ in 0..3 {
            let cfg = c.get(Some(&key)).expect("config");
            assert!(cfg.find("default").is_some());
        }
        let origin = Origin {
            config_file: Some(key.clone()),
            account: "default".into(),
            ..Origin::default()
        };
        assert_eq!(
            notify::own_from(&origin, c.for_origin(&origin).expect("cfg")).as_deref(),
            Some("a@b.org")
        );
        let runs = std::fs::read_to_string(&count).expect("count");
        assert_eq!(runs.lines().count(), 1, "eval ran {runs:?}");
    }
}
