//! The program: argv to exit status. `run` reads argv, picks the mode and is the one place
//! where a failure is printed (in msmtp's form, `PROG: TEXT` lines on stderr) and turned into
//! the exit code. The modes live below: [`sendmail`] (the pipeline), [`bs`] (`-bs`, an SMTP
//! dialogue on stdin and stdout), `serverinfo` (`-S`, `--rmqs`, `--configure`),
//! `queue::command` (`-q`, `-bp`, `mailq`, `postie queue`) and [`check`] (`postie check`: why
//! mail does not go out).

mod bs;
mod check;
pub mod completions;
mod help;
pub mod manual;
mod oauth2;
mod sendmail;
mod unlock;
mod words;

use crate::cli::{self, Cli, GetoptError, Mode};
use crate::config;
use crate::error::{Error, Result, Sysexit};
use crate::ui::Ui;
use std::ffi::OsString;
use std::io::IsTerminal;

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
    match dispatch(&ui, &args) {
        Ok(()) => Sysexit::Ok.code(),
        Err(Failure::Getopt(GetoptError(msg))) => {
            // glibc's getopt names the program by its full argv[0].
            crate::ui::stderr_line(&format!("{argv0}: {msg}"));
            Sysexit::Usage.code()
        }
        Err(Failure::Error(e)) => {
            ui.report(&e);
            e.exit.code()
        }
    }
}

/// How a run ends when it does not succeed.
enum Failure {
    /// A diagnostic of the option parser (printed with the full argv[0], like glibc's).
    Getopt(GetoptError),
    /// Everything else.
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Error(e)
    }
}

fn dispatch(ui: &Ui, args: &[String]) -> std::result::Result<(), Failure> {
    // postie's queue commands: `mailq`, and `postie queue ...` as the first operand.
    if ui.prog == "mailq" {
        return Ok(crate::queue::command::run(&ui.prog, &["list".to_owned()])?);
    }
    // The completion scripts' hidden modes (`--completions bash`, `--complete accounts`),
    // under postie's own name and as the whole command line only.
    if is_postie(&ui.prog)
        && let Some(text) = completions::hidden_mode(args)
    {
        crate::ui::stdout_text(&text?);
        return Ok(());
    }
    // Only under postie's own name: through a `sendmail` or `msmtp` link, `queue` stays a
    // recipient, as it is for msmtp. Global options may come first (`postie -C rc queue list`).
    if is_postie(&ui.prog)
        && let Some((i, name)) = cli::subcommand(args)
    {
        let mut rest = args.to_vec();
        rest.remove(i);
        match name {
            "queue" => crate::queue::command::run(&ui.prog, &rest)?,
            "check" => check::run(&ui.prog, &rest)?,
            "oauth2" => oauth2::run(&ui.prog, &rest)?,
            _ => unlock::run(&ui.prog, name, &rest)?,
        }
        return Ok(());
    }
    let posixly_correct = std::env::var_os("POSIXLY_CORRECT").is_some();
    let cli = match cli::parse(args, posixly_correct) {
        Ok(c) => c,
        Err(Ok(g)) => return Err(Failure::Getopt(g)),
        Err(Err(e)) => return Err(e.into()),
    };
    if let Err(e) = check_argv_guard(&ui.prog, &cli) {
        if cli.mode() == Mode::Sendmail {
            drain_stdin();
        }
        return Err(e.into());
    }
    match cli.mode() {
        Mode::Version => crate::ui::stdout_text(&help::version_text()),
        Mode::Help => crate::ui::stdout_text(&help::help_text(&ui.prog)),
        Mode::ServerInfo | Mode::Rmqs(_) if !cli.recipients.is_empty() => {
            return Err(Error::usage("too many arguments").into());
        }
        Mode::ServerInfo | Mode::Rmqs(_) | Mode::Configure(_) => crate::serverinfo::run(&cli)?,
        Mode::FlushQueue | Mode::ListQueue => {
            crate::queue::command::from_sendmail_flags(&cli)?;
        }
        Mode::SmtpSession => bs::run(ui, &cli)?,
        Mode::Sendmail => {
            let sent = sendmail::run(ui, &cli);
            if cli.debug
                && let Some(why) = crate::secret::cache_unavailable()
            {
                ui.error(&format!("password cache not used: {why}"));
            }
            sent?;
        }
    }
    Ok(())
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
