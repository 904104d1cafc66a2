//! An open SMTP/LMTP session that carries messages: connected, greeted, TLS started, AUTH
//! done. A direct send opens one for its one message; a queue flush keeps one per account and
//! sends message after message on it (RSET in between), so the TLS handshake and AUTH happen
//! once.
//!
//! Besides the one-shot [`Client::send`], a transaction can be driven step by step, each reply
//! returned as it comes ([`Client::mail`], [`Client::rcpt`], [`Client::data`],
//! [`Client::message`]): `postie -bs` relays its caller's commands this way, so a recipient the
//! server refuses is refused to the caller too. Both use the session's command builders and
//! its body and end-of-data step.

use super::SessionSettings;
use super::auth::PasswordSource;
use super::caps::Capabilities;
use super::session::{self, MailParams, Session};
use crate::envelope::{Envelope, Outcome, RecipientPolicy};
use crate::error::{Error, Result};
use crate::net::{self, Target, TlsSettings};
use crate::reply::Reply;
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

    /// What the server advertised (after STARTTLS, if used).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Step by step, first step: `MAIL FROM:<from>` (with the account's DSN `RET=`) and the
    /// server's reply, whatever it is. Of `params`, only what the server advertised is sent:
    /// `SIZE=` with SIZE, `BODY=` with 8BITMIME, `SMTPUTF8` with SMTPUTF8 when asked for or
    /// when `from` is not ASCII. The address is checked like an envelope's. An `Err` means
    /// the session cannot be used any more.
    pub fn mail(&mut self, from: &str, params: &MailParams) -> Result<Reply> {
        Envelope {
            from: from.to_owned(),
            recipients: Vec::new(),
        }
        .check()?;
        self.used = true;
        let params = MailParams {
            size: params.size.filter(|_| self.caps.size.is_some()),
            body: params.body.filter(|_| self.caps.eightbitmime),
            smtputf8: self.caps.smtputf8 && (params.smtputf8 || !from.is_ascii()),
        };
        let cmd = session::mail_command(&self.settings, from, &params);
        self.session.command(&cmd).map_err(Error::in_send_stage)
    }

    /// Step by step: `RCPT TO:<to>` (with the account's DSN `NOTIFY=`) and the server's reply.
    pub fn rcpt(&mut self, to: &str) -> Result<Reply> {
        Envelope {
            from: String::new(),
            recipients: vec![to.to_owned()],
        }
        .check()?;
        let cmd = session::rcpt_command(&self.settings, to);
        self.session.command(&cmd).map_err(Error::in_send_stage)
    }

    /// Step by step: `DATA` and the server's reply (354: go on with [`Client::message`]).
    pub fn data(&mut self) -> Result<Reply> {
        self.session.command("DATA").map_err(Error::in_send_stage)
    }

    /// Step by step, last step after a 354: the body written by `body` (as for
    /// [`Client::send`]), the final dot and the end-of-data reply(s). `accepted` are the
    /// recipients the server took (LMTP answers for each). The outcome is read as under
    /// [`RecipientPolicy::EachRecipient`]: a refusal of the message is in
    /// [`Outcome::message_error`]. After an `Err` (the body failed, the connection broke) the
    /// final dot was not sent and the session must be dropped.
    pub fn message(
        &mut self,
        accepted: Vec<String>,
        body: &mut dyn FnMut(&mut dyn Write) -> Result<u64>,
    ) -> Result<Outcome> {
        let mut out = Outcome {
            accepted,
            ..Outcome::default()
        };
        self.session
            .message(
                self.settings.protocol,
                RecipientPolicy::EachRecipient,
                &mut out,
                body,
            )
            .map_err(Error::in_send_stage)?;
        Ok(out)
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
