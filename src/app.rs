//! The pipeline, in msmtp's order (msmtp.md section 0): argv → header block of stdin → config →
//! account → password → checks → `-P` listing → envelope → SMTP session with the body streamed
//! from stdin → error report and log line → exit code. Each step is one call into its module;
//! this file decides the order and what is printed, nothing else.

use crate::account;
use crate::cli::{self, Cli, GetoptError, Mode};
use crate::config::{self, Account, AutoOff, SetFromHeader};
use crate::delivery;
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result, Sysexit};
use crate::log::{self, Attempt};
use crate::message::{self, HeaderBlock, Rewrite};
use crate::smtp;
use crate::ui::{Output, Ui};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, IsTerminal, Write};

/// Run postie with the full argv; returns the process exit status.
pub fn run(argv: Vec<OsString>) -> u8 {
    crate::sys::init_locale();
    // Before any configuration is read: a password can be in it, and every mode may run a
    // password source. A core dump or a ptrace peek would otherwise show the secret.
    crate::sys::protect_secrets_in_memory();
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postie".to_owned());
    let prog = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| argv0.clone());
    let ui = Ui { prog };
    let args: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // postie's queue commands: `mailq`, and `postie queue ...` as the first argument.
    if ui.prog == "mailq" {
        return crate::queue::command::run(&ui.prog, &["list".to_owned()]);
    }
    // Only under postie's own name: through a `sendmail` or `msmtp` link, `queue` stays a
    // recipient, as it is for msmtp. Global options may come first (`postie -C rc queue list`).
    if is_postie(&ui.prog)
        && let Some((i, _)) = cli::subcommand(&args)
    {
        let mut rest = args.clone();
        rest.remove(i);
        return crate::queue::command::run(&ui.prog, &rest);
    }
    let posixly_correct = std::env::var_os("POSIXLY_CORRECT").is_some();
    let cli = match cli::parse(&args, posixly_correct) {
        Ok(c) => c,
        Err(Ok(GetoptError(msg))) => {
            // glibc's getopt names the program by its full argv[0].
            crate::ui::stderr_line(&format!("{argv0}: {msg}"));
            return Sysexit::Usage.code();
        }
        Err(Err(e)) => {
            ui.report(&e);
            return e.exit.code();
        }
    };
    if let Err(e) = check_argv_guard(&ui.prog, &cli) {
        ui.report(&e);
        if cli.mode() == Mode::Sendmail {
            drain_stdin();
        }
        return e.exit.code();
    }
    match cli.mode() {
        Mode::Version => {
            crate::ui::stdout_text(&version_text());
            0
        }
        Mode::Help => {
            crate::ui::stdout_text(&help_text(&ui.prog));
            0
        }
        Mode::ServerInfo | Mode::Rmqs(_) if !cli.recipients.is_empty() => {
            ui.error("too many arguments");
            Sysexit::Usage.code()
        }
        Mode::ServerInfo | Mode::Rmqs(_) | Mode::Configure(_) => {
            crate::serverinfo::run(&ui.prog, &cli)
        }
        Mode::FlushQueue | Mode::ListQueue => crate::queue::command::sendmail_mode(&ui.prog, &cli),
        Mode::Sendmail => sendmail(&ui, &cli),
    }
}

fn is_postie(prog: &str) -> bool {
    prog.starts_with("postie")
}

/// Under the system-sendmail names, argv often comes from someone else: PHP's `mail()` appends
/// its fifth parameter, a web application its sender address. Options that would make postie
/// run a command or read or write a file of the caller's choosing are refused there unless the
/// user's own configuration (the system file or the default user file, never a `-C` file) says
/// `trust_sendmail_argv on`.
fn check_argv_guard(prog: &str, cli: &Cli) -> Result<()> {
    let Some(first) = cli.file_or_command_options.first() else {
        return Ok(());
    };
    if !cli::argv_guard(prog) {
        return Ok(());
    }
    let trusted = config::load(None).is_ok_and(|c| c.trust_sendmail_argv);
    if trusted {
        return Ok(());
    }
    Err(Error::usage(format!(
        "option {first} is refused when called as {prog}: it chooses a file or a command, \
         and a program calling {prog} may pass on options from others \
         (allow it with \"trust_sendmail_argv on\" in your configuration file)"
    )))
}

/// Reads and discards stdin (unless it is a terminal), so a client writing a message into a
/// pipe does not die of SIGPIPE and hide our error text.
fn drain_stdin() {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let _ = std::io::copy(&mut stdin.lock(), &mut std::io::sink());
    }
}

/// Sendmail mode. Every early failure still drains stdin: a client writing a large message
/// into a pipe would otherwise die of SIGPIPE and hide our error text.
fn sendmail(ui: &Ui, cli: &Cli) -> u8 {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    // `postie queeu list` at a terminal would otherwise wait for a message to type.
    if interactive
        && is_postie(&ui.prog)
        && let Some(cmd) = cli::mistyped_subcommand(&cli.recipients, false)
    {
        ui.report(&mistyped(&cli.recipients[0], cmd, false));
        return Sysexit::Usage.code();
    }
    let mut input = BufReader::with_capacity(64 * 1024, stdin.lock());
    let code = match send(ui, cli, &mut input) {
        Ok(()) => Sysexit::Ok,
        Err(e) => e,
    };
    if code != Sysexit::Ok && !interactive {
        let _ = std::io::copy(&mut input, &mut std::io::sink());
    }
    code.code()
}

/// Where an error ends up: printed (and logged when it happened while sending).
fn send<R: BufRead>(ui: &Ui, cli: &Cli, input: &mut R) -> std::result::Result<(), Sysexit> {
    let fail = |e: Error| {
        ui.report(&e);
        e.exit
    };
    let headers = message::read_header_block_for(input, cli.read_recipients).map_err(&fail)?;

    if cli.read_envelope_from && (cli.pretend || cli.debug) {
        // msmtp prints this right after reading the headers, before the configuration; with no
        // From header its printf shows "(null)".
        let f = headers.from.as_deref().unwrap_or("(null)");
        crate::ui::stdout_text(&format!("envelope from address extracted from mail: {f}\n"));
    }
    if headers.raw.is_empty()
        && input.fill_buf().is_ok_and(|b| b.is_empty())
        && let Some(cmd) = cli::mistyped_subcommand(&cli.recipients, true)
    {
        return Err(fail(mistyped(&cli.recipients[0], cmd, true)));
    }
    let mut recipients = message::parse_recipient_operands(&cli.recipients);
    if cli.read_recipients {
        recipients.extend(headers.recipients.iter().cloned());
    }
    if recipients.is_empty() && !cli.pretend {
        return Err(fail(Error::usage("no recipients found")));
    }

    let mut out = Output::new(cli.pretend || cli.debug);
    let mut account = account::resolve::select_for(cli, Some(&headers), &mut out).map_err(&fail)?;
    account::resolve::finish(cli, &mut account, true).map_err(&fail)?;
    if cli.pretend || cli.debug {
        out.text(&account::describe(&account, true, cli.read_recipients));
    }
    let s = &account.settings;
    if let Some(aliases) = &s.aliases {
        recipients =
            message::aliases::expand(std::path::Path::new(aliases), recipients).map_err(&fail)?;
    }
    if cli.pretend {
        return Ok(());
    }

    let from = s.from.clone().unwrap_or_default();
    let envelope = Envelope {
        from: from.clone(),
        recipients,
    };
    // `-f` and `-t` headers often come from a web form (PHP's mail() passes its fifth
    // parameter through): an address with a space and `>` would add ESMTP parameters, a line
    // break whole commands.
    envelope.check().map_err(&fail)?;
    let from_line = if add_from_header(&account, &headers) {
        Some(from_header_value(cli, s, &from).map_err(&fail)?)
    } else {
        None
    };
    let rewrite = Rewrite {
        from_line,
        undisclosed_recipients: s.undisclosed_recipients,
        date: (s.set_date_header == AutoOff::Auto && !headers.has_date)
            .then(message::date_header_value),
        message_id: (s.set_msgid_header == AutoOff::Auto && !headers.has_message_id)
            .then(|| message::message_id(&from)),
        remove_bcc: s.remove_bcc_headers,
    };
    if cli.no_send {
        return dry_run(&account, &envelope, &headers, &rewrite, input).map_err(fail);
    }
    // The queue (issue 5): spool stdin before connecting, so the message survives any failure.
    let mut spool = None;
    // Why the queue could not be used (`queue on` only): the message is then sent as without
    // a queue, since a full or broken queue directory must not stop mail a server would take.
    let mut unqueued: Option<Error> = None;
    let mut taken = None;
    if s.queue || cli.queue_only {
        let spooled = crate::queue::Queue::open(&crate::queue::dir_for(s))
            .map_err(crate::queue::Unspooled::from)
            .and_then(|q| q.spool_or_salvage(&headers.raw, input));
        match spooled {
            Ok(sp) => spool = Some(sp),
            // -odq promises not to connect: nothing to fall back to.
            Err(u) if cli.queue_only || u.no_fallback => return Err(fail(u.error)),
            Err(mut u) => {
                if cli.debug {
                    ui.error(&format!(
                        "cannot use the queue: {}; sending without it",
                        u.error.message
                    ));
                }
                taken = u.taken();
                unqueued = Some(u.error);
            }
        }
    }
    if cli.queue_only
        && let Some(sp) = spool.take()
    {
        let mut meta = crate::queue::new_meta(cli, &account, &envelope, &rewrite);
        let id = sp.commit(&mut meta).map_err(&fail)?;
        out.text(&format!("message queued as {id}\n"));
        return Ok(());
    }
    let result = match (&spool, taken) {
        (Some(sp), _) => {
            let mut body = sp.body_reader().map_err(&fail)?;
            deliver(
                cli, &account, &envelope, &headers, &rewrite, &mut body, &mut out,
            )
        }
        // The body bytes the failed spool had already read come first.
        (None, Some(t)) => deliver(
            cli,
            &account,
            &envelope,
            &headers,
            &rewrite,
            &mut std::io::Read::chain(t, &mut *input),
            &mut out,
        ),
        (None, None) => deliver(
            cli, &account, &envelope, &headers, &rewrite, input, &mut out,
        ),
    };
    let neither = |qe: &Error| {
        ui.report(qe);
        ui.error("the message was neither sent nor queued");
    };
    let attempt = Attempt::new(s, &from, &envelope.recipients);
    let trailer = |what: &str| match &account.file {
        Some(file) => ui.error(&format!(
            "{what} (account {} from {})",
            account.name,
            file.display()
        )),
        None => ui.error(what),
    };
    match result {
        Ok(delivery) if !delivery.all_accepted() => {
            // LMTP: the server answered each recipient separately after the final dot.
            for (rcpt, reply) in &delivery.refusals {
                ui.error(&format!("the server refuses to send the mail to {rcpt}"));
                for l in &reply.lines {
                    ui.error(&format!("LMTP server message: {l}"));
                }
            }
            trailer("could not send mail to all recipients");
            let e = Error::new(
                Sysexit::Unavailable,
                "delivery to one or more recipients failed",
            );
            log_attempt(ui, &account, &attempt.failed(&e), false);
            Err(e.exit)
        }
        Ok(delivery) => {
            let attempt = Attempt {
                mailsize: Some(delivery.mailsize),
                reply: delivery.final_reply.as_ref(),
                ..attempt
            };
            log_attempt(ui, &account, &attempt, true);
            Ok(())
        }
        Err(e) if e.is_transient() && spool.is_some() => {
            // Queued instead of failed: silent (exit 0) unless -v.
            if e.in_send_stage {
                log_attempt(ui, &account, &attempt.failed(&e), false);
            }
            let mut meta = crate::queue::new_meta(cli, &account, &envelope, &rewrite);
            meta.record_error(&e, crate::queue::meta::now());
            match spool.take().map(|sp| sp.commit(&mut meta)) {
                Some(Ok(id)) => {
                    if cli.debug {
                        ui.report(&e);
                        ui.error(&format!("message queued as {id}"));
                    }
                    Ok(())
                }
                Some(Err(qe)) => {
                    ui.report(&e);
                    neither(&qe);
                    Err(e.exit)
                }
                None => Err(e.exit),
            }
        }
        Err(e) => {
            ui.report(&e);
            if e.in_send_stage {
                trailer("could not send mail");
                log_attempt(ui, &account, &attempt.failed(&e), false);
            }
            // A permanent failure would not have been queued anyway: as without a queue.
            if e.is_transient()
                && let Some(qe) = &unqueued
            {
                neither(qe);
            }
            Err(e.exit)
        }
    }
}

/// A recipient operand that looks like a postie subcommand, misspelt (`postie queeu list`) or
/// where postie does not take it as one (`sendmail queue`). `empty`: the message read was empty.
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

fn add_from_header(account: &Account, headers: &HeaderBlock) -> bool {
    match account.settings.set_from_header {
        SetFromHeader::On => true,
        SetFromHeader::Auto => headers.from.is_none(),
        SetFromHeader::Off => false,
    }
}

/// The value of the From header postie adds: `NAME <ADDR>` with `-F` or `from_full_name`, else
/// `ADDR`. The name usually comes from a program (cron's `-FCronDaemon`, a web application's
/// sender name), so a control character in it is refused: a line break would add headers or
/// body text to the message. A name with RFC 5322 specials is quoted, since unquoted
/// `Doe, John <j@x>` would name two mailboxes.
fn from_header_value(cli: &Cli, s: &config::Settings, from: &str) -> Result<String> {
    let (name, from_cli) = match (&cli.full_name, &s.from_full_name) {
        (Some(n), _) => (n, true),
        (None, Some(n)) => (n, false),
        (None, None) => return Ok(from.to_owned()),
    };
    if name.chars().any(char::is_control) {
        let what = format!(
            "invalid full name {}: it contains a control character",
            crate::ui::sanitize(name)
        );
        return Err(if from_cli {
            Error::usage(what)
        } else {
            Error::config(format!("from_full_name: {what}"))
        });
    }
    Ok(format!("{} <{from}>", display_name(name)))
}

/// `name` as an RFC 5322 phrase: as it is when it needs no quoting (msmtp's output), else as a
/// quoted string. `.` stays unquoted (obs-phrase, `J. Doe`), as do names already quoted.
fn display_name(name: &str) -> std::borrow::Cow<'_, str> {
    if is_quoted_string(name)
        || !name.contains(['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"'])
    {
        return name.into();
    }
    let mut q = String::with_capacity(name.len() + 2);
    q.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q.into()
}

/// Whether `s` is one whole RFC 5322 quoted-string (`"Doe, John"`), escapes respected.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return false,
            '"' => return false,
            _ => {}
        }
    }
    true
}

/// Connect and send.
fn deliver<R: BufRead>(
    cli: &Cli,
    account: &Account,
    envelope: &Envelope,
    headers: &HeaderBlock,
    rewrite: &Rewrite,
    input: &mut R,
    out: &mut Output,
) -> Result<Outcome> {
    let mut body = |w: &mut dyn Write| -> Result<u64> {
        message::write_data(headers, rewrite, input, &mut { w }).map_err(|e| match e {
            message::BodyError::Read(_) => {
                Error::io("input error while reading the mail").in_send_stage()
            }
            message::BodyError::Write(e) => smtp::write_error(e),
        })
    };
    let debug: Option<&mut dyn Write> = if cli.debug {
        Some(&mut out.stdout)
    } else {
        None
    };
    let mut transport = delivery::open(account, debug)?;
    let outcome = transport.send(envelope, RecipientPolicy::AllOrNothing, &mut body)?;
    // msmtp sends no QUIT after an LMTP refusal.
    if outcome.all_accepted() {
        transport.quit();
    }
    Ok(outcome)
}

/// `--no-send`: what would be sent, byte for byte, without connecting or running helpers.
fn dry_run<R: BufRead>(
    account: &Account,
    envelope: &Envelope,
    headers: &HeaderBlock,
    rewrite: &Rewrite,
    input: &mut R,
) -> Result<()> {
    let mut text = String::new();
    for line in delivery::describe(account, true) {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&format!("MAIL FROM:<{}>\n", envelope.from));
    for r in &envelope.recipients {
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
    message::write_data(headers, rewrite, input, &mut stdout).map_err(|e| match e {
        message::BodyError::Read(_) => Error::io("input error while reading the mail"),
        message::BodyError::Write(e) => io(e),
    })?;
    stdout
        .write_all(b".\r\n")
        .and_then(|()| stdout.flush())
        .map_err(io)
}

fn log_attempt(ui: &Ui, account: &Account, attempt: &Attempt<'_>, success: bool) {
    if let Err(f) = log::record(&account.settings, attempt, success) {
        ui.error(&format!("cannot log to {}: {}", f.path, f.reason));
        ui.error(&format!("log info was: {}", f.info));
    }
}

fn version_text() -> String {
    format!(
        "postie version {} (msmtp 1.8.23 compatible)\n\
         Platform: {}-{}\n\
         TLS/SSL library: rustls\n\
         Authentication library: built-in\n\
         Supported authentication methods:\n\
         plain scram-sha-1 scram-sha-256 external cram-md5 login oauthbearer xoauth2 \n\
         System configuration file name: {}\n\
         User configuration file name: {}\n\
         \n\
         This is free software; there is NO WARRANTY, to the extent permitted by law.\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        config::paths::sysconfdir().join("msmtprc").display(),
        config::paths::default_user_file().display(),
    )
}

fn help_text(prog: &str) -> String {
    format!(
        "Usage:\n\n\
Sendmail mode (default):\n  {prog} [option...] [--] recipient...\n  {prog} [option...] -t [--] [recipient...]\n  Read a mail from standard input and transmit it to an SMTP or LMTP server.\n\
Options:\n  --version                    print version\n  --help                       print help\n  -P, --pretend                print configuration info and exit\n  -d, --debug, -v              print debugging information\n\
Changing the mode of operation:\n  -S, --serverinfo             print information about the server\n  --rmqs=host|@domain|#queue   send a Remote Message Queue Starting request\n\
Configuration options:\n  -C, --file=filename          set configuration file\n  -a, --account=id             use the given account instead of the account\n                               named \"default\"; its settings may be changed\n                               with command-line options\n  --host=hostname              set the server, use only command-line settings;\n                               do not use any configuration file data\n  --port=number                set port number\n  --source-ip=[IP]             set/unset source ip address to bind the socket to\n  --proxy-host=[IP|hostname]   set/unset proxy\n  --proxy-port=[number]        set/unset proxy port\n  --socket=[socketname]        set/unset local socket to connect to\n  --timeout=(off|seconds)      set/unset network timeout in seconds\n  --protocol=(smtp|lmtp)       use the given sub protocol\n  --domain=string              set the argument of EHLO or LHLO command\n  --auth[=(on|off|method)]     enable/disable authentication and optionally\n                               choose the method\n  --user=[username]            set/unset user name for authentication\n  --passwordeval=[eval]        evaluate password for authentication\n  --tls[=(on|off)]             enable/disable TLS encryption\n  --tls-starttls[=(on|off)]    enable/disable STARTTLS for TLS\n  --tls-trust-file=[file]      set/unset trust file for TLS\n  --tls-crl-file=[file]        set/unset revocation file for TLS\n  --tls-fingerprint=[f]        set/unset trusted certificate fingerprint\n  --tls-certcheck[=(on|off)]   enable/disable server certificate checks for TLS\n  --tls-key-file=[file]        set/unset private key file for TLS\n  --tls-cert-file=[file]       set/unset private cert file for TLS\n  --tls-priorities=[prios]     set/unset TLS priorities\n  --tls-host-override=[host]   set/unset override for TLS host verification\n  --tls-min-dh-prime-bits=[b]  set/unset minimum bit size of DH prime\n\
Options specific to sendmail mode:\n  --auto-from[=(on|off)]       enable/disable automatic envelope-from addresses\n  -f, --from=address           set envelope from address\n  --maildomain=[domain]        set the domain for automatic envelope from\n                               addresses\n  -N, --dsn-notify=(off|cond)  set/unset DSN conditions\n  -R, --dsn-return=(off|ret)   set/unset DSN amount\n  -X, --logfile=[file]         set/unset log file\n  --logfile-time-format=[fmt]  set/unset log file time format for strftime()\n  --syslog[=(on|off|facility)] enable/disable/configure syslog logging\n  -t, --read-recipients        read additional recipients from the mail\n  --read-envelope-from         read envelope from address from the mail\n  --aliases=[file]             set/unset aliases file\n  --set-from-header[=(auto|on|off)] set From header handling\n  --set-date-header[=(auto|off)] set Date header handling\n  --set-msgid-header[=(auto|off)] set Message-ID header handling\n  --remove-bcc-headers[=(on|off)] enable/disable removal of Bcc headers\n  --undisclosed-recipients[=(on|off)] enable/disable replacement of To/Cc/Bcc\n                               with To: undisclosed-recipients:;\n  --                           end of options\n\
Accepted but ignored: -A, -B, -bm, -F, -G, -h, -i, -L, -m, -n, -O, -o\n\n\
postie is a drop-in replacement for msmtp; see its documentation in docs/.\n"
    )
}
