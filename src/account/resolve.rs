//! The account for what the command line asked: the configuration files (or `--host` alone),
//! selection with `-a`, `-f` and the mail's From header, the command-line overrides, then the
//! password source and the derived settings. Used by sendmail mode, `--serverinfo` and
//! `--rmqs`; the queue re-selects from what it stored (see `queue::flush`).

use super::{Request, finalize, select_collecting};
use crate::cli::Cli;
use crate::config::{self, Account};
use crate::error::Result;
use crate::message::HeaderBlock;
use crate::secret;
use crate::ui::Output;

/// Selects the account (msmtp.md section 3) with the command-line overrides applied;
/// `headers` is the mail's header block in sendmail mode, `None` in the modes that read no
/// mail. Info lines are printed as they arise, so that `-P` shows them even when a later step
/// fails.
pub(crate) fn select_for(
    cli: &Cli,
    headers: Option<&HeaderBlock>,
    out: &mut Output,
) -> Result<Account> {
    let mut info = Vec::new();
    let config = match &cli.host {
        Some(_) => None,
        None => {
            let c = config::load_collecting(
                cli.config_file.as_deref().map(std::path::Path::new),
                &mut info,
            );
            out.lines(&info);
            info.clear();
            Some(c?)
        }
    };
    let from_header = headers.and_then(|h| h.from.as_deref());
    let read_envelope_from = headers.is_some() && cli.read_envelope_from;
    let request = Request {
        account: cli.account.as_deref(),
        host: cli.host.as_deref(),
        envelope_from: cli
            .from
            .as_deref()
            .or(from_header.filter(|_| read_envelope_from)),
        read_envelope_from,
        from_header,
        overrides: &cli.overrides,
        sendmail_mode: headers.is_some(),
    };
    let account = select_collecting(config.as_ref(), &request, &mut info);
    out.lines(&info);
    account
}

/// passwordeval (only when authentication is on and no password is set), then derived
/// defaults and validation.
pub(crate) fn finish(cli: &Cli, account: &mut Account, sendmail_mode: bool) -> Result<()> {
    match finish_or_wait(cli, account, sendmail_mode)? {
        Some(wait) => Err(wait),
        None => Ok(()),
    }
}

/// [`finish`], except that a password that must be waited for (`queue on`, nobody at a
/// terminal, the source failed: see [`secret::waiting_for_password`]) is returned as `Ok(Some)`
/// with the account finished, so the message can be queued with that reason.
pub(crate) fn finish_or_wait(
    cli: &Cli,
    account: &mut Account,
    sendmail_mode: bool,
) -> Result<Option<crate::error::Error>> {
    // A dry run (`--no-send`, `-P`) or a queue-only submission must not have side effects
    // such as a gpg passphrase prompt: the password is resolved when the message is sent.
    let mut wait = None;
    if !cli.no_send && !cli.queue_only && !cli.pretend {
        match secret::apply_passwordeval(account) {
            Ok(()) => {}
            Err(e) if secret::is_waiting(&e) => wait = Some(e),
            Err(e) => return Err(e),
        }
    }
    finalize(account, sendmail_mode, cli.pretend)?;
    Ok(wait)
}
