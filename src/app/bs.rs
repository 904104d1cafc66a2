//! `-bs`: an SMTP dialogue on stdin and stdout (the default of Symfony Mailer, Laravel,
//! SwiftMailer and Nextcloud), relayed one transaction at a time through the account postie
//! would choose for it. The protocol is `smtpd`'s; this is where its steps meet the account,
//! the upstream session, the header rewrite, the queue and the log.
//!
//! - The account is chosen at MAIL, because every RCPT is relayed before it is answered (a
//!   recipient the upstream refuses gets the upstream's reply, never a 250 and then a
//!   silent drop): from `-a`, else by the MAIL FROM address as `-f` would choose it (the
//!   From header only arrives with the data), else the default account. MAIL FROM is the
//!   envelope sender as `-f` is (so `allow_from_override off` keeps the account's `from`).
//! - The upstream session is opened at the first MAIL and kept for the following
//!   transactions on the same account (RSET in between), so TLS and AUTH happen once.
//! - The message gets the header rules of an ordinary send (Bcc removed, From, Date and
//!   Message-ID added per the account's settings), streamed to the upstream as it arrives.
//! - `queue on`: the message is spooled before it is sent; a transient failure (upstream
//!   unreachable at MAIL, or a 4xx or a broken connection after the data) queues it and the
//!   reply is `250 ... queued as ID`. Unreachable at MAIL means the recipients cannot be
//!   relayed: they are accepted after a syntax check, and the whole message is queued.
//!   Without the queue, a transient failure is a 4xx reply.
//! - A caller that goes away in the middle of the data gets nothing delivered or queued:
//!   the upstream connection is dropped without the final dot, the spool file is removed.
//! - stdout is the SMTP channel: the `-d` transcript, the `-d` account lines and a
//!   `logfile -` line go to stderr.

use crate::account;
use crate::cli::Cli;
use crate::config::Account;
use crate::delivery;
use crate::envelope::{Envelope, Outcome};
use crate::error::{Error, Result, Sysexit};
use crate::log::{self, Attempt};
use crate::message::{self, HeaderBlock, Rewrite};
use crate::queue::{self, Queue, Spool};
use crate::reply::Reply;
use crate::smtp::{self, MailParams};
use crate::smtpd::{self, End, Limits, reply};
use crate::ui::Ui;
use std::io::{BufRead, Write};

/// Runs the dialogue on stdin and stdout until QUIT or the end of the input.
pub(super) fn run(ui: &Ui, cli: &Cli) -> Result<()> {
    check_options(cli)?;
    let mut relay = BsRelay {
        ui,
        cli,
        config: None,
        upstream: None,
        tx: None,
    };
    let hostname = crate::sys::hostname();
    let stdout = std::io::stdout().lock();
    let output = std::io::BufWriter::with_capacity(16 * 1024, stdout);
    let mut stderr = Stderr;
    let trace: Option<&mut dyn Write> = if cli.debug { Some(&mut stderr) } else { None };
    let end = smtpd::serve(
        std::io::stdin().lock(),
        output,
        &mut relay,
        &hostname,
        Limits::default(),
        trace,
    );
    match end {
        Ok(End::Quit | End::Closed) => Ok(()),
        Ok(End::ClosedInData) => Err(Error::io(
            "the SMTP client closed the connection in the middle of the mail data; \
             the message was neither sent nor queued",
        )),
        Ok(End::TooManyErrors) => Err(Error::new(
            Sysexit::Protocol,
            "too many errors in the SMTP dialogue on standard input",
        )),
        Err(e) => Err(Error::io(format!(
            "cannot use standard input or output for the SMTP dialogue: {}",
            crate::error::strerror(&e)
        ))),
    }
}

/// Options that have no meaning here: recipients come with RCPT, the header block is read
/// per message, and nothing can be pretended on a live dialogue.
fn check_options(cli: &Cli) -> Result<()> {
    let refused = [
        (!cli.recipients.is_empty(), "recipient arguments"),
        (cli.read_recipients, "-t"),
        (cli.read_envelope_from, "--read-envelope-from"),
        (cli.pretend, "--pretend"),
        (cli.no_send, "--no-send"),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(Error::usage(format!(
            "cannot use {what} with -bs (recipients come with RCPT TO)"
        ))),
        None => Ok(()),
    }
}

/// The `-d` transcript and info lines: stdout is the SMTP channel.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write(b)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// An open upstream session and the account it belongs to.
struct Upstream {
    /// The account as selected, before its password source ran, with `from` cleared: a
    /// transaction whose selection gives the same key can use the session.
    key: Account,
    client: smtp::Client<'static>,
}

/// The transaction in progress.
struct Tx {
    /// The account, finished, with the envelope sender in `settings.from`.
    account: Account,
    /// Recipients accepted so far.
    recipients: Vec<String>,
    route: Route,
}

enum Route {
    /// Relayed through [`BsRelay::upstream`].
    Relayed,
    /// Queued without sending: `-odq` (`None`), or the upstream could not be used for now
    /// (the reason, recorded in the queue).
    Queued(Option<Error>),
    /// The upstream session broke in the middle of the transaction: every further step gets
    /// this reply until the transaction ends.
    Broken(Reply),
}

struct BsRelay<'a> {
    ui: &'a Ui,
    cli: &'a Cli,
    /// The configuration, read at the first MAIL (again at the next one if that failed).
    config: Option<crate::config::Config>,
    upstream: Option<Upstream>,
    tx: Option<Tx>,
}

impl smtpd::Relay for BsRelay<'_> {
    fn mail(&mut self, from: &str, params: &MailParams) -> Reply {
        self.tx = None;
        match self.open_transaction(from, params) {
            Ok((tx, r)) => {
                self.tx = tx;
                r
            }
            Err(e) => {
                self.report(&e);
                error_reply(&e)
            }
        }
    }

    fn rcpt(&mut self, to: &str) -> Reply {
        let Some(tx) = self.tx.as_mut() else {
            return reply(503, "5.5.1 Error: need MAIL command");
        };
        let expanded = match &tx.account.settings.aliases {
            Some(file) => {
                match message::aliases::expand(std::path::Path::new(file), vec![to.to_owned()]) {
                    Ok(list) => list,
                    Err(e) => {
                        self.report(&e);
                        return error_reply(&e);
                    }
                }
            }
            None => vec![to.to_owned()],
        };
        if expanded.is_empty() {
            let to = crate::ui::sanitize(to);
            return reply(
                550,
                &format!("5.1.1 <{to}>: the aliases file maps it to no address"),
            );
        }
        match &tx.route {
            Route::Broken(r) => return r.clone(),
            Route::Queued(_) => {
                tx.recipients.extend(expanded);
                return reply(250, "2.1.5 Ok (the message will be queued)");
            }
            Route::Relayed => {}
        }
        let Some(up) = self.upstream.as_mut() else {
            return broken(tx);
        };
        let mut answer: Option<Reply> = None;
        for addr in expanded {
            match up.client.rcpt(&addr) {
                Ok(r) => {
                    if (200..300).contains(&r.code) {
                        tx.recipients.push(addr);
                    }
                    // The first refusal, else the last acceptance, is the answer.
                    if answer.as_ref().is_none_or(|a| (200..300).contains(&a.code)) {
                        answer = Some(r);
                    }
                }
                Err(e) => {
                    self.upstream = None;
                    let r = error_reply(&e);
                    tx.route = Route::Broken(r.clone());
                    return r;
                }
            }
        }
        answer.unwrap_or_else(|| reply(250, "2.1.5 Ok"))
    }

    fn data(&mut self) -> Reply {
        let Some(tx) = self.tx.as_mut() else {
            return reply(503, "5.5.1 Error: need MAIL command");
        };
        match &tx.route {
            Route::Broken(r) => return r.clone(),
            Route::Queued(_) => return go_ahead(),
            // With the queue, the message is spooled first; DATA goes upstream after.
            Route::Relayed if tx.account.settings.queue => return go_ahead(),
            Route::Relayed => {}
        }
        let Some(up) = self.upstream.as_mut() else {
            return broken(tx);
        };
        match up.client.data() {
            Ok(r) => r,
            Err(e) => {
                self.upstream = None;
                let r = error_reply(&e);
                tx.route = Route::Broken(r.clone());
                r
            }
        }
    }

    fn message(&mut self, data: &mut dyn BufRead) -> Reply {
        let Some(tx) = self.tx.take() else {
            return reply(503, "5.5.1 Error: need MAIL command");
        };
        self.deliver(tx, data)
    }

    fn reset(&mut self) {
        self.tx = None;
    }

    fn abort(&mut self) {
        // Dropping the session closes the connection without the final dot.
        self.tx = None;
        self.upstream = None;
    }

    fn quit(&mut self) {
        self.tx = None;
        if let Some(mut up) = self.upstream.take() {
            up.client.quit();
        }
    }
}

impl BsRelay<'_> {
    /// Chooses the account for `from`, gets the upstream session ready and sends MAIL.
    fn open_transaction(&mut self, from: &str, params: &MailParams) -> Result<(Option<Tx>, Reply)> {
        let selected = self.select(from)?;
        let key = key_of(&selected);
        if let Some(up) = self.upstream.as_mut()
            && (up.key != key || !up.client.reset())
        {
            if up.key != key {
                up.client.quit();
            }
            self.upstream = None;
        }
        let mut account = selected;
        let queue_on = account.settings.queue;
        if self.cli.queue_only {
            account::finalize(&mut account, true, false)?;
            return Ok((Some(queued(account, None)), queued_mail_reply()));
        }
        if self.upstream.is_none() {
            if let Some(wait) = account::resolve::finish_or_wait(self.cli, &mut account, true)? {
                return Ok((Some(queued(account, Some(wait))), queued_mail_reply()));
            }
            match self.open_upstream(&account) {
                Ok(client) => self.upstream = Some(Upstream { key, client }),
                Err(e) if e.is_transient() && queue_on => {
                    // Logged as an ordinary send logs a failure it then queues.
                    self.log_failure(&account, &[], &e);
                    self.report(&e);
                    return Ok((Some(queued(account, Some(e))), queued_mail_reply()));
                }
                Err(e) => {
                    self.log_failure(&account, &[], &e);
                    return Err(e);
                }
            }
        } else {
            // The same account as the open session: its password source ran already.
            account::finalize(&mut account, true, false)?;
        }
        let sender = account.settings.from.clone().unwrap_or_default();
        let up = self.upstream.as_mut().expect("opened above");
        match up.client.mail(&sender, params) {
            Ok(r) if (200..300).contains(&r.code) => {
                let tx = Tx {
                    account,
                    recipients: Vec::new(),
                    route: Route::Relayed,
                };
                Ok((Some(tx), r))
            }
            Ok(r) => {
                // Logged as an ordinary send logs a refused sender.
                let e = Error::new(
                    if r.is_transient() {
                        Sysexit::Unavailable
                    } else {
                        Sysexit::DataErr
                    },
                    format!("envelope from address {sender} not accepted by the server"),
                )
                .with_reply(r.clone());
                self.log_failure(&account, &[], &e);
                Ok((None, r))
            }
            Err(e) => {
                self.upstream = None;
                if e.is_transient() && queue_on {
                    self.report(&e);
                    return Ok((Some(queued(account, Some(e))), queued_mail_reply()));
                }
                Err(e)
            }
        }
    }

    /// The account for a transaction from `from`: selected as for `-f from`.
    fn select(&mut self, from: &str) -> Result<Account> {
        let cli = self.cli;
        let mut info = Vec::new();
        if cli.host.is_none() && self.config.is_none() {
            let loaded = crate::config::load_collecting(
                cli.config_file.as_deref().map(std::path::Path::new),
                &mut info,
            );
            if cli.debug {
                info.drain(..).for_each(|l| crate::ui::stderr_line(&l));
            }
            self.config = Some(loaded?);
        }
        // `<>` is how the selection spells the null sender.
        let sender = if from.is_empty() { "<>" } else { from };
        let request = account::Request {
            account: cli.account.as_deref(),
            host: cli.host.as_deref(),
            envelope_from: Some(
                cli.from
                    .as_deref()
                    .map_or(sender, |f| if f.is_empty() { "<>" } else { f }),
            ),
            read_envelope_from: false,
            from_header: None,
            overrides: &cli.overrides,
            sendmail_mode: true,
        };
        let account = account::select_collecting(self.config.as_ref(), &request, &mut info);
        if cli.debug {
            for line in &info {
                crate::ui::stderr_line(line);
            }
        }
        account
    }

    /// Connects, greets, starts TLS and authenticates, with the transcript on stderr (`-d`).
    fn open_upstream(&self, account: &Account) -> Result<smtp::Client<'static>> {
        if self.cli.debug {
            for line in account::describe(account, true, false).lines() {
                crate::ui::stderr_line(line);
            }
        }
        let (target, tls, session) = delivery::smtp_settings(account);
        let mut password = crate::secret::AuthSource::new(account);
        // A zero-sized writer: leaking it costs nothing, and it outlives every session.
        let debug: Option<&'static mut dyn Write> = if self.cli.debug {
            Some(Box::leak(Box::new(Stderr)))
        } else {
            None
        };
        smtp::Client::open(&target, &tls, &session, &mut password, debug)
    }

    /// The message: header block, rewrite, then relayed (and/or queued).
    fn deliver(&mut self, tx: Tx, data: &mut dyn BufRead) -> Reply {
        if let Route::Broken(r) = &tx.route {
            return r.clone();
        }
        let relayed_now = matches!(tx.route, Route::Relayed) && !tx.account.settings.queue;
        let prepared = message::read_header_block(&mut &mut *data).and_then(|headers| {
            let s = &tx.account.settings;
            let from = s.from.clone().unwrap_or_default();
            let rewrite =
                message::rewrite::for_message(s, &headers, self.cli.full_name.as_deref(), &from)?;
            Ok((headers, rewrite))
        });
        let (headers, rewrite) = match prepared {
            Ok(p) => p,
            Err(e) => {
                if relayed_now {
                    // DATA went upstream already: drop it without the final dot.
                    self.upstream = None;
                }
                self.report(&e);
                return error_reply(&e);
            }
        };
        let envelope = Envelope {
            from: tx.account.settings.from.clone().unwrap_or_default(),
            recipients: tx.recipients.clone(),
        };
        let m = Prepared {
            tx,
            envelope,
            headers,
            rewrite,
        };
        if relayed_now {
            let mut body = data;
            let result = self.send_message(&m, &mut body);
            return self.report_sent(&m, result, None);
        }
        // The queue: spooled before anything is sent.
        let spool = Queue::open(&queue::dir_for(&m.tx.account.settings))
            .and_then(|q| q.spool(&m.headers.raw, &mut &mut *data));
        let spool = match spool {
            Ok(sp) => sp,
            Err(e) => {
                self.report(&e);
                return reply(
                    451,
                    &format!("4.3.0 cannot queue the message: {}", e.message),
                );
            }
        };
        match &m.tx.route {
            Route::Queued(why) => self.commit(&m, spool, why.as_ref()),
            _ => {
                let result = match self.upstream_data() {
                    Ok(r) if r.code == 354 => match spool.body_reader() {
                        Ok(mut body) => self.send_message(&m, &mut body),
                        Err(e) => {
                            self.upstream = None;
                            Err(e)
                        }
                    },
                    Ok(r) => {
                        let e = Error::new(
                            Sysexit::Unavailable,
                            "the server does not accept mail data",
                        )
                        .with_reply(r.clone());
                        Err(if r.is_transient() { e.transient() } else { e })
                    }
                    Err(e) => Err(e),
                };
                self.report_sent(&m, result, Some(spool))
            }
        }
    }

    /// DATA on the upstream session (the queue path sends it after spooling).
    fn upstream_data(&mut self) -> Result<Reply> {
        let Some(up) = self.upstream.as_mut() else {
            return Err(Error::new(
                Sysexit::Unavailable,
                "the connection to the server was lost",
            )
            .transient());
        };
        up.client.data().inspect_err(|_| self.upstream = None)
    }

    /// The body after the 354: headers rewritten, body streamed, final dot, reply.
    fn send_message(&mut self, m: &Prepared, input: &mut dyn BufRead) -> Result<Outcome> {
        let Some(up) = self.upstream.as_mut() else {
            return Err(Error::new(
                Sysexit::Unavailable,
                "the connection to the server was lost",
            )
            .transient());
        };
        let mut body = |w: &mut dyn Write| -> Result<u64> {
            message::write_data(&m.headers, &m.rewrite, &mut &mut *input, &mut { w }).map_err(|e| {
                match e {
                    message::BodyError::Read(_) => {
                        Error::io("input error while reading the mail").in_send_stage()
                    }
                    message::BodyError::Write(e) => smtp::write_error(e),
                }
            })
        };
        let result = up.client.message(m.envelope.recipients.clone(), &mut body);
        if result.is_err() {
            // Without the final dot: the server discards what it got.
            self.upstream = None;
        }
        result
    }

    /// The reply for a relayed message, the log line, and the queue for a transient failure.
    fn report_sent(
        &mut self,
        m: &Prepared,
        result: Result<Outcome>,
        spool: Option<Spool>,
    ) -> Reply {
        let outcome = match result {
            Ok(o) => o,
            Err(e) => return self.failed(m, e, spool),
        };
        if let Some(e) = outcome.message_error {
            return self.failed(m, e, spool);
        }
        if let Some((rcpt, r)) = outcome.refusals.first() {
            // LMTP: one reply per recipient after the dot; the caller gets one.
            let e = Error::new(
                Sysexit::Unavailable,
                format!("the server refuses to send the mail to {rcpt}"),
            )
            .with_reply(r.clone());
            self.log_failure(&m.tx.account, &m.envelope.recipients, &e);
            return r.clone();
        }
        let settings = &m.tx.account.settings;
        let attempt = Attempt {
            mailsize: Some(outcome.mailsize),
            reply: outcome.final_reply.as_ref(),
            ..Attempt::new(settings, &m.envelope.from, &m.envelope.recipients)
        };
        self.log(settings, &attempt, true);
        outcome
            .final_reply
            .unwrap_or_else(|| reply(250, "2.0.0 Ok"))
    }

    /// A relayed message that failed: queued when transient and spooled, else the failure.
    fn failed(&mut self, m: &Prepared, e: Error, spool: Option<Spool>) -> Reply {
        if e.in_send_stage || e.reply.is_some() {
            self.log_failure(&m.tx.account, &m.envelope.recipients, &e);
        }
        match spool {
            Some(sp) if e.is_transient() => {
                self.report(&e);
                self.commit(m, sp, Some(&e))
            }
            _ => {
                self.report(&e);
                refusal_reply(&e)
            }
        }
    }

    /// Commits the spooled message: `250 ... queued as ID`.
    fn commit(&self, m: &Prepared, spool: Spool, why: Option<&Error>) -> Reply {
        let mut meta = queue::new_meta(self.cli, &m.tx.account, &m.envelope, &m.rewrite);
        meta.rewrite.read_recipients = false;
        if let Some(e) = why {
            meta.record_error(e, queue::meta::now());
        }
        match spool.commit(&mut meta) {
            Ok(id) => {
                if self.cli.debug {
                    self.ui.error(&format!("message queued as {id}"));
                }
                reply(250, &format!("2.0.0 Ok: queued as {id}"))
            }
            Err(qe) => {
                self.report(&qe);
                reply(
                    451,
                    &format!("4.3.0 cannot queue the message: {}", qe.message),
                )
            }
        }
    }

    fn log_failure(&self, account: &Account, recipients: &[String], e: &Error) {
        let from = account.settings.from.clone().unwrap_or_default();
        let attempt = Attempt::new(&account.settings, &from, recipients).failed(e);
        self.log(&account.settings, &attempt, false);
    }

    /// The log line as for an ordinary send; `logfile -` goes to stderr.
    fn log(&self, settings: &crate::config::Settings, attempt: &Attempt<'_>, success: bool) {
        let to_stderr = settings.logfile.as_deref() == Some("-");
        let result = if to_stderr {
            let mut s = settings.clone();
            s.logfile = None;
            let _ = log::record(&s, attempt, success);
            let stamp = crate::sys::strftime(
                settings
                    .logfile_time_format
                    .as_deref()
                    .unwrap_or("%b %d %H:%M:%S"),
                &crate::sys::local_now(),
            );
            crate::ui::stderr_line(&format!("{stamp} {}", log::format_info(attempt)));
            Ok(())
        } else {
            log::record(settings, attempt, success)
        };
        if let Err(f) = result {
            self.ui
                .error(&format!("cannot log to {}: {}", f.path, f.reason));
            self.ui.error(&format!("log info was: {}", f.info));
        }
    }

    /// Under `-d`, a failure is shown on stderr as an ordinary send shows it.
    fn report(&self, e: &Error) {
        if self.cli.debug {
            self.ui.report(e);
        }
    }
}

/// A message ready to go: the transaction, its envelope, header block and rewrite.
struct Prepared {
    tx: Tx,
    envelope: Envelope,
    headers: HeaderBlock,
    rewrite: Rewrite,
}

/// What decides whether an open session can carry a transaction: the selected account
/// without the envelope sender (which changes with every MAIL).
fn key_of(selected: &Account) -> Account {
    let mut k = selected.clone();
    k.settings.from = None;
    k
}

fn queued(account: Account, why: Option<Error>) -> Tx {
    Tx {
        account,
        recipients: Vec::new(),
        route: Route::Queued(why),
    }
}

fn queued_mail_reply() -> Reply {
    reply(250, "2.1.0 Ok (the message will be queued)")
}

fn go_ahead() -> Reply {
    reply(354, "End data with <CR><LF>.<CR><LF>")
}

fn broken(tx: &mut Tx) -> Reply {
    let r = reply(451, "4.4.2 Error: the connection to the server was lost");
    tx.route = Route::Broken(r.clone());
    r
}

/// The reply for a failure that is not the server's refusal of the message (the caller's
/// request was not refused by anyone: a network, configuration or authentication problem,
/// which may be fixed): 451 with postie's text, and the server's reply if there was one.
fn error_reply(e: &Error) -> Reply {
    let mut texts = vec![e.message.clone()];
    if let Some(r) = &e.reply {
        texts.extend(r.lines.iter().map(|l| format!("server message: {l}")));
    }
    let n = texts.len();
    let lines = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let sep = if i + 1 == n { ' ' } else { '-' };
            format!("451{sep}4.3.0 {}", crate::ui::sanitize(t))
        })
        .collect();
    Reply { code: 451, lines }
}

/// The reply for a failed message: the server's own reply when it refused it (4xx or 5xx,
/// as it came), else [`error_reply`].
fn refusal_reply(e: &Error) -> Reply {
    match &e.reply {
        Some(r) if (400..600).contains(&r.code) => r.clone(),
        _ => error_reply(e),
    }
}
