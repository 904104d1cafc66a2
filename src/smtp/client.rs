//! An open SMTP/LMTP session that carries messages: connected, greeted, TLS started, AUTH
//! done. A direct send opens one for its one message; a queue flush keeps one per account and
//! sends message after message on it (RSET in between), so the TLS handshake and AUTH happen
//! once.

use super::SessionSettings;
use super::auth::PasswordSource;
use super::caps::Capabilities;
use super::session::{self, Session};
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result};
use crate::net::{self, Target, TlsSettings};
use std::io::Write;

/// An open session, ready for [`Client::send`].
pub struct Client<'d> {
    session: Session<'d, net::tls::Conn>,
    caps: Capabilities,
    settings: SessionSettings,
    /// A transaction ran on it: the next one starts with RSET.
    used: bool,
}

impl<'d> Client<'d> {
    /// Loads the TLS files, connects, and runs the dialogue up to the first transaction:
    /// greeting, EHLO/LHLO, STARTTLS, the DSN capability check and AUTH. `password` is asked
    /// only when the chosen mechanism needs one. Every error belongs to the send stage.
    pub fn open(
        target: &Target,
        tls: &TlsSettings,
        settings: &SessionSettings,
        password: &mut dyn PasswordSource,
        debug: Option<&'d mut dyn Write>,
    ) -> Result<Client<'d>> {
        let open = || -> Result<Client<'d>> {
            let (conn, _) = net::open(target, tls, net::TlsFiles::BeforeConnect)?;
            let mut session = Session::new(conn, debug);
            let oauth_target = (target.display_host(), target.port);
            let caps = session::open_for_mail(
                &mut session,
                tls,
                settings,
                (&oauth_target.0, oauth_target.1),
                password,
            )?;
            Ok(Client {
                session,
                caps,
                settings: settings.clone(),
                used: false,
            })
        };
        open().map_err(Error::in_send_stage)
    }

    /// One message: MAIL, RCPT, DATA, the body written by `body` (already dot-stuffed CRLF,
    /// without the final dot; it returns the mailsize), the end-of-data reply(s). Under
    /// [`RecipientPolicy::AllOrNothing`] the session is not usable after an `Err`.
    pub fn send(
        &mut self,
        envelope: &Envelope,
        policy: RecipientPolicy,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome> {
        self.used = true;
        let smtputf8 = self.caps.smtputf8 && envelope.needs_smtputf8();
        self.session
            .transaction(
                &self.settings,
                envelope,
                self.caps.pipelining,
                smtputf8,
                policy,
                body,
            )
            .map_err(Error::in_send_stage)
    }

    /// Before the next message: RSET once a transaction ran. `false`: the session cannot be
    /// used any more (open a new one).
    pub fn reset(&mut self) -> bool {
        !self.used || matches!(self.session.command("RSET"), Ok(r) if r.code == 250)
    }

    /// QUIT; failures no longer matter.
    pub fn quit(&mut self) {
        self.session.quit();
    }
}
