//! Sendmail mode, in msmtp's order (msmtp.md section 0): the header block of stdin, the
//! recipients, the account (configuration, selection, password source, checks, `-P`
//! listing), aliases, the envelope and the header rewrite, then one of: the dry run, the queue
//! (`-odq`, `queue on`) or the delivery, and finally the log line and what the user is told.
//! Each step is a function below; nothing here prints an error: a failure is returned, with
//! every line it needs, to `app::run`.

use super::is_postie;
use crate::account;
use crate::cli::{self, Cli};
use crate::config::Account;
use crate::delivery;
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result, Sysexit};
use crate::log::{self, Attempt};
use crate::message::{self, HeaderBlock, Rewrite};
use crate::queue::{self, Queue, Spool, Unspooled};
use crate::smtp;
use crate::ui::{Output, Ui};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};

/// Sendmail mode. Every failure still drains stdin (not a terminal): a client writing a large
/// message into a pipe would otherwise die of SIGPIPE and hide our error text.
pub(super) fn run(ui: &Ui, cli: &Cli) -> Result<()> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    // `postie queeu list` at a terminal would otherwise wait for a message to type.
    if interactive
        && is_postie(&ui.prog)
        && let Some(cmd) = cli::mistyped_subcommand(&cli.recipients, false)
    {
        return Err(mistyped(&cli.recipients[0], cmd, false));
    }
    let mut input = BufReader::with_capacity(64 * 1024, stdin.lock());
    let result = pipeline(ui, cli, &mut input);
    if result.is_err() && !interactive {
        let _ = std::io::copy(&mut input, &mut std::io::sink());
    }
    result
}

fn pipeline<R: BufRead>(ui: &Ui, cli: &Cli, input: &mut R) -> Result<()> {
    let headers = read_headers(cli, input)?;
    let recipients = recipients(cli, &headers, input)?;
    let mut out = Output::new(cli.pretend || cli.debug);
    let (account, wait) = account_for(cli, &headers, &mut out)?;
    let recipients = match &account.settings.aliases {
        Some(aliases) => message::aliases::expand(std::path::Path::new(aliases), recipients)?,
        None => recipients,
    };
    if cli.pretend {
        return Ok(());
    }
    let message = prepare(cli, &account, &headers, recipients)?;
    if cli.no_send {
        return dry_run(&message, input);
    }
    match wait {
        Some(wait) => queue_until_unlocked(ui, &message, wait, input),
        None => submit(ui, &message, input, &mut out),
    }
}

/// What is sent: the account, the envelope, the header block and its rewrite; the body is
/// still on stdin (or in the queue's spool file).
struct Message<'a> {
    cli: &'a Cli,
    account: Account,
    envelope: Envelope,
    headers: HeaderBlock,
    rewrite: Rewrite,
}

/// The header block, read before the configuration (msmtp's order).
fn read_headers<R: BufRead>(cli: &Cli, input: &mut R) -> Result<HeaderBlock> {
    let headers = message::read_header_block_for(input, cli.read_recipients)?;
    if cli.read_envelope_from && (cli.pretend || cli.debug) {
        // msmtp prints this right after reading the headers, before the configuration; with no
        // From header its printf shows "(null)".
        let f = headers.from.as_deref().unwrap_or("(null)");
        crate::ui::stdout_text(&format!("envelope from address extracted from mail: {f}\n"));
    }
    Ok(headers)
}

/// The recipient operands and, with `-t`, the header recipients. An empty message to a word
/// that looks like a postie subcommand is a mistyped command, not mail.
fn recipients<R: BufRead>(cli: &Cli, headers: &HeaderBlock, input: &mut R) -> Result<Vec<String>> {
    if headers.raw.is_empty()
        && input.fill_buf().is_ok_and(|b| b.is_empty())
        && let Some(cmd) = cli::mistyped_subcommand(&cli.recipients, true)
    {
        return Err(mistyped(&cli.recipients[0], cmd, true));
    }
    let mut recipients = message::parse_recipient_operands(&cli.recipients);
    if cli.read_recipients {
        recipients.extend(headers.recipients.iter().cloned());
    }
    if recipients.is_empty() && !cli.pretend {
        return Err(Error::usage("no recipients found"));
    }
    Ok(recipients)
}

/// The account, with `-P`/`-d` showing the selection and the settings as they are decided,
/// and, with `queue on` and nobody to ask, why its password must be waited for.
fn account_for(
    cli: &Cli,
    headers: &HeaderBlock,
    out: &mut Output,
) -> Result<(Account, Option<Error>)> {
    let mut account = account::resolve::select_for(cli, Some(headers), out)?;
    let wait = account::resolve::finish_or_wait(cli, &mut account, true)?;
    if cli.pretend || cli.debug {
        out.text(&account::describe(&account, true, cli.read_recipients));
    }
    Ok((account, wait))
}

/// The envelope (checked: `-f` and `-t` headers often come from a web form, and an address
/// with a space and `>` would add ESMTP parameters) and the header rewrite.
fn prepare<'a>(
    cli: &'a Cli,
    account: &Account,
    headers: &HeaderBlock,
    recipients: Vec<String>,
) -> Result<Message<'a>> {
    let s = &account.settings;
    let envelope = Envelope {
        from: s.from.clone().unwrap_or_default(),
        recipients,
    };
    envelope.check()?;
    let rewrite =
        message::rewrite::for_message(s, headers, cli.full_name.as_deref(), &envelope.from)?;
    Ok(Message {
        cli,
        account: account.clone(),
        envelope,
        headers: headers.clone(),
        rewrite,
    })
}

/// `--no-send`: what would be sent, byte for byte, without connecting or running helpers.
fn dry_run<R: BufRead>(m: &Message<'_>, input: &mut R) -> Result<()> {
    let mut text = String::new();
    for line in delivery::describe(&m.account, true) {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&format!("MAIL FROM:<{}>\n", m.envelope.from));
    for r in &m.envelope.recipients {
        text.push_str(&format!("RCPT TO:<{r}>\n"));
    }
    text.push_str("DATA\n");
    let mut stdout = std::io::stdout().lock();
    let io = |e: std::io::Error| {
        Error::io(format!(
            "cannot write to standard output: {}",
            crate::error::strerror(&e)
        ))
    };
    stdout.write_all(text.as_bytes()).map_err(io)?;
    message::write_data(&m.headers, &m.rewrite, input, &mut stdout).map_err(|e| match e {
        message::BodyError::Read(_) => Error::io("input error while reading the mail"),
        message::BodyError::Write(e) => io(e),
    })?;
    stdout
        .write_all(b".\r\n")
        .and_then(|()| stdout.flush())
        .map_err(io)
}

/// Queue and/or send, then the log line and the report.
fn submit<R: BufRead>(ui: &Ui, m: &Message<'_>, input: &mut R, out: &mut Output) -> Result<()> {
    let spooled = spool(ui, m, input)?;
    if m.cli.queue_only
        && let Spooled::Queued(sp) = spooled
    {
        let mut meta = queue::new_meta(m.cli, &m.account, &m.envelope, &m.rewrite);
        let id = sp.commit(&mut meta)?;
        out.text(&format!("message queued as {id}\n"));
        return Ok(());
    }
    let (result, spooled) = match spooled {
        Spooled::Queued(sp) => {
            let mut body = sp.body_reader()?;
            (deliver(m, &mut body, out), Spooled::Queued(sp))
        }
        // The body bytes the failed spool had already read come first.
        Spooled::Unqueued(e, Some(taken)) => (
            deliver(m, &mut taken.chain(&mut *input), out),
            Spooled::Unqueued(e, None),
        ),
        other => (deliver(m, input, out), other),
    };
    report(ui, m, result, spooled)
}

/// The password cannot be had now (`queue on`, no terminal, the source failed): the message
/// goes into the queue with that reason and waits for `postie unlock` (exit 0; `-v` says why).
fn queue_until_unlocked<R: BufRead>(
    ui: &Ui,
    m: &Message<'_>,
    wait: Error,
    input: &mut R,
) -> Result<()> {
    match spool(ui, m, input)? {
        Spooled::Queued(sp) => {
            let mut meta = queue::new_meta(m.cli, &m.account, &m.envelope, &m.rewrite);
            meta.record_error(&wait, queue::meta::now());
            match sp.commit(&mut meta) {
                Ok(id) => {
                    if m.cli.debug {
                        ui.report(&wait);
                        ui.error(&format!("message queued as {id}"));
                    }
                    Ok(())
                }
                Err(qe) => Err(neither(wait, &qe)),
            }
        }
        Spooled::Unqueued(qe, _) => Err(neither(wait, &qe)),
        Spooled::Not => Err(wait),
    }
}

/// Where the message is while it is sent.
enum Spooled {
    /// No queue asked for.
    Not,
    /// In the queue's spool: committed if the send fails for now.
    Queued(Spool),
    /// `queue on`, but the queue could not be used: sent as without a queue, since a full or
    /// broken queue directory must not stop mail a server would take. The bytes the spool had
    /// already read from stdin, if any, come first.
    Unqueued(
        Error,
        Option<std::io::Take<std::io::BufReader<std::fs::File>>>,
    ),
}

/// Spools stdin before connecting (`queue on`, `-odq`), so the message survives any failure.
fn spool<R: BufRead>(ui: &Ui, m: &Message<'_>, input: &mut R) -> Result<Spooled> {
    let s = &m.account.settings;
    if !s.queue && !m.cli.queue_only {
        return Ok(Spooled::Not);
    }
    let spooled = Queue::open(&queue::dir_for(s))
        .map_err(Unspooled::from)
        .and_then(|q| q.spool_or_salvage(&m.headers.raw, input));
    match spooled {
        Ok(sp) => Ok(Spooled::Queued(sp)),
        // -odq promises not to connect: nothing to fall back to.
        Err(u) if m.cli.queue_only || u.no_fallback => Err(*u.error),
        Err(mut u) => {
            if m.cli.debug {
                ui.error(&format!(
                    "cannot use the queue: {}; sending without it",
                    u.error.message
                ));
            }
            let taken = u.taken();
            Ok(Spooled::Unqueued(*u.error, taken))
        }
    }
}

/// Opens the account's transport and sends the message under msmtp's all-or-nothing rule.
fn deliver<R: BufRead>(m: &Message<'_>, input: &mut R, out: &mut Output) -> Result<Outcome> {
    let mut body = |w: &mut dyn Write| -> Result<u64> {
        message::write_data(&m.headers, &m.rewrite, input, &mut { w }).map_err(|e| match e {
            message::BodyError::Read(_) => {
                Error::io("input error while reading the mail").in_send_stage()
            }
            message::BodyError::Write(e) => smtp::write_error(e),
        })
    };
    let debug: Option<&mut dyn Write> = if m.cli.debug {
        Some(&mut out.stdout)
    } else {
        None
    };
    let mut transport = delivery::open(&m.account, debug)?;
    let outcome = transport.send(&m.envelope, RecipientPolicy::AllOrNothing, &mut body)?;
    // msmtp sends no QUIT after an LMTP refusal.
    if outcome.all_accepted() {
        transport.quit();
    }
    Ok(outcome)
}

/// The log line, the queue for a transient failure (`queue on`), and the failure to report,
/// with its lines in msmtp's order.
fn report(ui: &Ui, m: &Message<'_>, result: Result<Outcome>, spooled: Spooled) -> Result<()> {
    let account = &m.account;
    let attempt = Attempt::new(&account.settings, &m.envelope.from, &m.envelope.recipients);
    let trailer = |what: &str| match &account.file {
        Some(file) => format!("{what} (account {} from {})", account.name, file.display()),
        None => what.to_owned(),
    };
    match (result, spooled) {
        (Ok(outcome), _) if !outcome.all_accepted() => {
            // LMTP: the server answered each recipient separately after the final dot.
            let e = Error::new(
                Sysexit::Unavailable,
                "delivery to one or more recipients failed",
            );
            let mut lines = Vec::new();
            for (rcpt, reply) in &outcome.refusals {
                lines.push(format!("the server refuses to send the mail to {rcpt}"));
                lines.extend(
                    reply
                        .lines
                        .iter()
                        .map(|l| format!("LMTP server message: {l}")),
                );
            }
            lines.push(trailer("could not send mail to all recipients"));
            lines.extend(log_line(account, &attempt.failed(&e), false));
            let mut shown = Error::new(e.exit, lines.remove(0));
            shown.after = lines;
            Err(shown)
        }
        (Ok(outcome), _) => {
            let attempt = Attempt {
                mailsize: Some(outcome.mailsize),
                reply: outcome.final_reply.as_ref(),
                ..attempt
            };
            for line in log_line(account, &attempt, true) {
                ui.error(&line);
            }
            Ok(())
        }
        (Err(e), Spooled::Queued(sp)) if e.is_transient() => {
            // Queued instead of failed: silent (exit 0) unless -v.
            if e.in_send_stage {
                for line in log_line(account, &attempt.failed(&e), false) {
                    ui.error(&line);
                }
            }
            let mut meta = queue::new_meta(m.cli, account, &m.envelope, &m.rewrite);
            meta.record_error(&e, queue::meta::now());
            match sp.commit(&mut meta) {
                Ok(id) => {
                    if m.cli.debug {
                        ui.report(&e);
                        ui.error(&format!("message queued as {id}"));
                    }
                    Ok(())
                }
                Err(qe) => Err(neither(e, &qe)),
            }
        }
        (Err(mut e), spooled) => {
            if e.in_send_stage {
                e.after.push(trailer("could not send mail"));
                e.after
                    .extend(log_line(account, &attempt.failed(&e), false));
            }
            // A permanent failure would not have been queued anyway: as without a queue.
            match spooled {
                Spooled::Unqueued(qe, _) if e.is_transient() => Err(neither(e, &qe)),
                _ => Err(e),
            }
        }
    }
}

/// `e`, followed by why the queue could not keep the message either.
fn neither(mut e: Error, queue_error: &Error) -> Error {
    e.after.extend(queue_error.lines());
    e.after
        .push("the message was neither sent nor queued".to_owned());
    e
}

/// Writes the log line; returns the lines to print when the log could not be written.
fn log_line(account: &Account, attempt: &Attempt<'_>, success: bool) -> Vec<String> {
    match log::record(&account.settings, attempt, success) {
        Ok(()) => Vec::new(),
        Err(f) => vec![
            format!("cannot log to {}: {}", f.path, f.reason),
            format!("log info was: {}", f.info),
        ],
    }
}

/// A recipient operand that looks like a postie subcommand, misspelt (`postie queeu list`) or
/// where postie does not take it as one (`sendmail queue`). `empty`: the message was empty.
fn mistyped(word: &str, cmd: &str, empty: bool) -> Error {
    let word = crate::ui::sanitize(word);
    Error::usage(if empty {
        format!("not sending an empty message to \"{word}\": did you mean \"postie {cmd} ...\"?")
    } else {
        format!(
            "\"{word}\" is not a postie command: did you mean \"postie {cmd} ...\"? \
             (to write to a local user of that name, give the full address)"
        )
    })
}
