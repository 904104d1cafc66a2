//! Every msmtprc command, declared once: its setting's name, type and default, its grammar
//! (shared by the file and the command line), an example argument, its `-P` line and its
//! command-line option. The `Settings` struct, inheritance, the file parser's dispatch, the
//! `-P` listing and the long-option table are all generated from this one table.
//!
//! How to add an msmtprc command: add one entry to the table below (under `aliases` for another
//! spelling of an existing setting) with a one-line `///` doc, `field: Type = default;`, a
//! `parse` grammar (from [`super::grammar`], or a closure returning [`Bad`]), an `example`, its
//! `-P` line (`show always|sendmail "label" = fmt;` or `show never;`) and, if it has one, its
//! option (`cli "name" rank N Required|Optional "implicit" [short 'c'] [guard file_or_command];`).
//! Then use `settings.field`; nothing else changes, and `cargo test config::commands` checks it.

pub(crate) use super::declare::{CliArg, CliOption};

use super::declare::declare_commands;
use super::grammar::{
    Bad, Ctx, NOT_SET, Origin, any_text, decimal, duration, exactly_on_off, expand_tilde, ignored,
    needed, nothing, on_off, on_off_word, path, port, port_or_default, pos_int_or_unset,
    required_text, seconds_or_off, show_number, show_on_off, show_port, show_text, text,
};
use super::secret::Secret;
use super::values::{
    AuthSetting, AutoOff, DsnNotify, DsnReturn, Fingerprint, Protocol, SetFromHeader,
    SyslogFacility, Trust,
};
use std::path::PathBuf;

declare_commands! {
    settings {
        /// The SMTP server.
        host: Option<String> = None;
            parse required_text;
            example "mail.example.org";
            show always "host" = show_text;

        /// The server port; unset until finalize picks 25 or 465 (SMTP; LMTP has no default).
        port: Option<u16> = None;
            parse port;
            example "0x1d";
            show always "port" = show_port;
            canonical decimal;
            cli "port" rank 10 Required;

        /// The local address to connect from.
        source_ip: Option<String> = None;
            parse text;
            example "192.0.2.1";
            show always "source ip" = show_text;
            cli "source-ip" rank 48 Required;

        /// A SOCKS proxy to connect through.
        proxy_host: Option<String> = None;
            parse text;
            example "127.0.0.1";
            show always "proxy host" = show_text;
            cli "proxy-host" rank 39 Required;

        /// The SOCKS proxy's port; unset means the default (1080 once a proxy host is set).
        proxy_port: Option<u16> = None;
            parse port_or_default;
            example "9050";
            show always "proxy port" = show_port;
            canonical decimal;
            cli "proxy-port" rank 40 Required;

        /// A local socket to talk to instead of a host.
        socket: Option<String> = None;
            parse text;
            example "/run/smtp.sock";
            show always "socket" = show_text;
            cli "socket" rank 49 Required guard file_or_command;

        /// The network timeout in seconds; `None` = off.
        timeout: Option<u32> = None;
            parse seconds_or_off;
            example "010";
            show always "timeout" = |t, _| match t {
                None => "off".to_string(),
                Some(1) => "1 second".to_string(),
                Some(n) => format!("{n} seconds"),
            };
            canonical |t| t.map_or_else(|| "off".to_string(), |n| n.to_string());
            cli "timeout" rank 11 Required;

        /// `smtp` or `lmtp`.
        protocol: Protocol = Protocol::Smtp;
            parse |a, _| Protocol::parse(needed(a)?).ok_or(Bad::Invalid);
            example "lmtp";
            show always "protocol" = |p, _| p.name().to_string();
            cli "protocol" rank 33 Required;

        /// The name postie greets the server with (`%H` etc. are expanded by finalize).
        domain: String = "localhost".to_string();
            parse |a, _| Ok(a.to_string());
            example "%H.example";
            show always "domain" = |d, _| d.clone();
            cli "domain" rank 34 Required;

        /// Authentication: off, on (postie chooses the method), or one method.
        auth: AuthSetting = AuthSetting::Off;
            parse |a, _| AuthSetting::parse(a).ok_or(Bad::Invalid);
            example "scram-sha-256";
            show always "auth" = |a, _| a.describe().to_string();
            cli "auth" rank 16 Optional "on";

        /// The user name to authenticate as.
        user: Option<String> = None;
            parse text;
            example "alice";
            show always "user" = show_text;
            cli "user" rank 17 Required;

        /// Kept as a [`Secret`](super::Secret) so that no `Debug` print can show it.
        password: Option<Secret> = None;
            parse |a, _| Ok((!a.is_empty()).then(|| Secret::new(a.to_string())));
            example "hunter2";
            // msmtp runs passwordeval for -P and shows `*` for its result; postie runs no
            // helper in a dry run, so `*` stands for "set, or produced at send time".
            show always "password" = |p, a| {
                let set = p.is_some() || a.settings.passwordeval.is_some();
                (if set { "*" } else { NOT_SET }).to_string()
            };

        /// A command that prints the password.
        passwordeval: Option<String> = None;
            parse text;
            example "pass show mail";
            show always "passwordeval" = show_text;
            cli "passwordeval" rank 18 Required guard file_or_command;

        /// The domain for NTLM authentication.
        ntlmdomain: Option<String> = None;
            parse text;
            example "WORKGROUP";
            show always "ntlmdomain" = show_text;

        // --- OAuth2 (postie only, docs/oauth2.md) -----------------------------------------

        /// postie only: the OAuth2 provider whose tokens AUTH XOAUTH2/OAUTHBEARER uses (google, microsoft or custom).
        oauth2_provider: Option<String> = None;
            parse |a, _| match needed(a)? {
                p @ ("google" | "microsoft" | "custom") => Ok(Some(p.to_string())),
                _ => Err(Bad::Invalid),
            };
            example "google";
            show never;

        /// postie only: the OAuth2 client ID registered with the provider.
        oauth2_client_id: Option<String> = None;
            parse text;
            example "123-abc.apps.googleusercontent.com";
            show never;

        /// postie only: the OAuth2 client secret (for clients that have one).
        oauth2_client_secret: Option<Secret> = None;
            parse |a, _| Ok((!a.is_empty()).then(|| Secret::new(a.to_string())));
            example "GOCSPX-secret";
            show never;

        /// postie only: a command that prints the OAuth2 client secret.
        oauth2_client_secret_eval: Option<String> = None;
            parse text;
            example "pass show oauth/client";
            show never;

        /// postie only: the Microsoft Entra tenant (`common`, `organizations`, a domain or an ID).
        oauth2_tenant: Option<String> = None;
            parse text;
            example "contoso.onmicrosoft.com";
            show never;

        /// postie only: the provider's authorisation endpoint (overrides the preset).
        oauth2_auth_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/authorize";
            show never;

        /// postie only: the provider's token endpoint (overrides the preset).
        oauth2_token_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/token";
            show never;

        /// postie only: the provider's device authorisation endpoint (overrides the preset).
        oauth2_device_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/device";
            show never;

        /// postie only: the provider's token revocation endpoint (overrides the preset).
        oauth2_revoke_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/revoke";
            show never;

        /// postie only: the scopes to ask for, separated by spaces (overrides the preset).
        oauth2_scope: Option<String> = None;
            parse text;
            example "https://mail.google.com/";
            show never;

        /// postie only: where the refresh token is kept: file (the default), keyring or command.
        oauth2_token_store: Option<String> = None;
            parse |a, _| match needed(a)? {
                s @ ("file" | "keyring" | "command") => Ok(Some(s.to_string())),
                _ => Err(Bad::Invalid),
            };
            example "keyring";
            show never;

        /// postie only: with `oauth2_token_store command`, the command that encrypts stdin to stdout.
        oauth2_token_encrypt: Option<String> = None;
            parse text;
            example "gpg --batch -e -r me@example.org";
            show never;

        /// postie only: with `oauth2_token_store command`, the command that decrypts stdin to stdout.
        oauth2_token_decrypt: Option<String> = None;
            parse text;
            example "gpg --batch -q -d";
            show never;

        // --- end of OAuth2 ----------------------------------------------------------------

        /// Whether to use TLS.
        tls: bool = false;
            parse on_off;
            example "off";
            show always "tls" = show_on_off;
            cli "tls" rank 19 Optional "on";

        /// TLS via STARTTLS (on) or from the first byte (off).
        tls_starttls: bool = true;
            parse on_off;
            example "off";
            show always "tls_starttls" = show_on_off;
            cli "tls-starttls" rank 20 Optional "on";

        /// The CA certificates to trust; `None` = no CA trust (finalize may pick `system`).
        tls_trust_file: Option<Trust> = None;
            parse |a, c| Ok(match a {
                "" => None,
                "system" => Some(Trust::System),
                f => Some(Trust::File(expand_tilde(f, c.home).into())),
            });
            example "~/ca.pem";
            show always "tls_trust_file" = |t, _| match t {
                None => NOT_SET.to_string(),
                Some(Trust::System) => "system".to_string(),
                Some(Trust::File(f)) => f.display().to_string(),
                Some(Trust::None) => NOT_SET.to_string(),
            };
            cli "tls-trust-file" rank 21 Required guard file_or_command;

        /// A certificate revocation list.
        tls_crl_file: Option<String> = None;
            parse path;
            example "~/crl.pem";
            show always "tls_crl_file" = show_text;
            cli "tls-crl-file" rank 22 Required guard file_or_command;

        /// The server certificate's fingerprint: 16 (MD5), 20 (SHA-1) or 32 (SHA-256) bytes.
        tls_fingerprint: Option<Fingerprint> = None;
            parse |a, _| match a {
                "" => Ok(None),
                a => Fingerprint::parse(a).map(Some).ok_or(Bad::Invalid),
            };
            example "ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab:ab";
            show always "tls_fingerprint" = |f, _| match f {
                None => NOT_SET.to_string(),
                Some(f) => f.to_string(),
            };
            cli "tls-fingerprint" rank 23 Required;

        /// The client certificate's key.
        tls_key_file: Option<String> = None;
            parse path;
            example "~/key.pem";
            show always "tls_key_file" = show_text;
            cli "tls-key-file" rank 24 Required guard file_or_command;

        /// The client certificate.
        tls_cert_file: Option<String> = None;
            parse path;
            example "~/cert.pem";
            show always "tls_cert_file" = show_text;
            cli "tls-cert-file" rank 25 Required guard file_or_command;

        /// Whether to check the server certificate.
        tls_certcheck: bool = true;
            parse on_off;
            example "off";
            show always "tls_certcheck" = show_on_off;
            cli "tls-certcheck" rank 26 Optional "on";

        /// The smallest Diffie-Hellman prime accepted, in bits.
        tls_min_dh_prime_bits: Option<u32> = None;
            parse pos_int_or_unset;
            example "0x400";
            show always "tls_min_dh_prime_bits" = show_number;
            canonical decimal;
            cli "tls-min-dh-prime-bits" rank 28 Required;

        /// A TLS priority string.
        tls_priorities: Option<String> = None;
            parse text;
            example "NORMAL";
            show always "tls_priorities" = show_text;
            cli "tls-priorities" rank 29 Required;

        /// The name the server certificate is checked against, instead of the host.
        tls_host_override: Option<String> = None;
            parse text;
            example "mx.example.org";
            show always "tls_host_override" = show_text;
            cli "tls-host-override" rank 30 Required;

        /// Build the envelope-from from the user name and `maildomain`.
        auto_from: bool = false;
            parse on_off;
            example "on";
            show sendmail "auto_from" = show_on_off;
            cli "auto-from" rank 13 Optional "on";

        /// The domain for `auto_from` and `%M`.
        maildomain: Option<String> = None;
            parse any_text;
            example "example.org";
            show sendmail "maildomain" = show_text;
            cli "maildomain" rank 15 Required;

        /// Envelope-from; `Some("")` = `MAIL FROM:<>`; may be a glob or hold `%` patterns until finalize.
        from: Option<String> = None;
            parse any_text;
            example "%U@example.org";
            show sendmail "from" = |f, a| match f {
                Some(f) => f.clone(),
                None if a.from_pending => "(read from mail)".to_string(),
                None => NOT_SET.to_string(),
            };

        /// The full name for a From header postie adds.
        from_full_name: Option<String> = None;
            parse text;
            example "Alice Example";
            show never;

        /// Whether `-f` and a From-header choice may replace `from`.
        allow_from_override: bool = true;
            parse exactly_on_off;
            example "off";
            show sendmail "allow_from_override" = show_on_off;

        /// Add a From header: when missing (auto), always (on) or never (off).
        set_from_header: SetFromHeader = SetFromHeader::Auto;
            parse |a, _| SetFromHeader::parse(a).ok_or(Bad::Invalid);
            example "on";
            show sendmail "set_from_header" = |v, _| v.word().to_string();
            canonical |v| v.word().to_string();
            cli "set-from-header" rank 43 Optional "auto";

        /// Add a Date header when missing (auto) or never (off).
        set_date_header: AutoOff = AutoOff::Auto;
            parse |a, _| AutoOff::parse(a).ok_or(Bad::Invalid);
            example "off";
            show sendmail "set_date_header" = |v, _| v.word().to_string();
            canonical |v| v.word().to_string();
            cli "set-date-header" rank 44 Optional "auto";

        /// Add a Message-ID header when missing (auto) or never (off).
        set_msgid_header: AutoOff = AutoOff::Auto;
            parse |a, _| AutoOff::parse(a).ok_or(Bad::Invalid);
            example "off";
            show never;
            cli "set-msgid-header" rank 45 Optional "auto";

        /// Remove Bcc headers before sending.
        remove_bcc_headers: bool = true;
            parse on_off;
            example "off";
            show sendmail "remove_bcc_headers" = show_on_off;
            canonical |v| on_off_word(*v).to_string();
            cli "remove-bcc-headers" rank 46 Optional "on";

        /// Replace To and Cc by `To: undisclosed-recipients:;`.
        undisclosed_recipients: bool = false;
            parse on_off;
            example "on";
            show sendmail "undisclosed_recipients" = show_on_off;
            cli "undisclosed-recipients" rank 47 Optional "on";

        /// Delivery status notifications: `never` or some of failure, delay, success.
        dsn_notify: Option<DsnNotify> = None;
            parse |a, _| match needed(a)? {
                "off" => Ok(None),
                a => DsnNotify::parse(a).map(Some).ok_or(Bad::Invalid),
            };
            example "delay,failure";
            show sendmail "dsn_notify" = |d, _| d.as_ref().map_or(NOT_SET.to_string(), DsnNotify::keyword);
            cli "dsn-notify" rank 31 Required short 'N';

        /// How much of the mail a bounce returns: headers or full.
        dsn_return: Option<DsnReturn> = None;
            parse |a, c| match needed(a)? {
                "off" => Ok(None),
                "headers" => Ok(Some(DsnReturn::Headers)),
                // sendmail's spelling, which msmtp accepts on its command line only.
                "hdrs" if c.origin == Origin::CommandLine => Ok(Some(DsnReturn::Headers)),
                "full" => Ok(Some(DsnReturn::Full)),
                _ => Err(Bad::Invalid),
            };
            example "headers";
            show sendmail "dsn_return" = |r, _| r.map_or(NOT_SET, DsnReturn::keyword).to_string();
            canonical |r| match r {
                None => "off",
                Some(DsnReturn::Headers) => "headers",
                Some(DsnReturn::Full) => "full",
            }.to_string();
            cli "dsn-return" rank 32 Required short 'R';

        /// A file name, or `-` for stdout.
        logfile: Option<String> = None;
            parse path;
            example "~/.msmtp.log";
            show sendmail "logfile" = show_text;
            cli "logfile" rank 35 Required short 'X' guard file_or_command;

        /// The strftime format of the log's time stamps.
        logfile_time_format: Option<String> = None;
            parse text;
            example "%Y-%m-%d";
            show sendmail "logfile_time_format" = show_text;
            cli "logfile-time-format" rank 36 Required;

        /// Log to syslog with this facility.
        syslog: Option<SyslogFacility> = None;
            parse |a, _| match a {
                "" | "on" => Ok(Some(SyslogFacility::User)),
                "off" => Ok(None),
                f => SyslogFacility::parse(f).map(Some).ok_or(Bad::Invalid),
            };
            example "LOG_MAIL";
            show sendmail "syslog" = |f, _| f.map_or(NOT_SET.to_string(), SyslogFacility::name);
            cli "syslog" rank 37 Optional "on";

        /// The aliases file.
        aliases: Option<String> = None;
            parse path;
            example "~/.aliases";
            show sendmail "aliases" = show_text;
            cli "aliases" rank 38 Required guard file_or_command;

        /// postie only: queue mail that could not be sent for a transient reason.
        queue: bool = false;
            parse on_off;
            example "on";
            show never;

        /// postie only: where the queue lives.
        queue_dir: Option<PathBuf> = None;
            parse |a, c| Ok(path(a, c)?.map(PathBuf::from));
            example "~/.postie/queue";
            show never;

        /// postie only: mail the sender when a queued message is set aside; `None` = on exactly when the account has a `from` address.
        queue_notify: Option<bool> = None;
            parse |a, c| on_off(a, c).map(Some);
            example "off";
            show never;

        /// postie only: seconds after which a queued message that still fails is set aside; `None` = the default (5 days).
        queue_max_age: Option<u64> = None;
            parse duration;
            example "5d";
            show never;

        /// postie only: keep the password a source produced in the kernel keyring this long (seconds); `None` = off.
        password_cache: Option<u64> = None;
            parse |a, c| match needed(a)? {
                "off" => Ok(None),
                _ => duration(a, c),
            };
            example "12h";
            show never;

        /// postie only: speak SMTP or LMTP over this command's standard input and output instead of a socket (`%h` host, `%p` port).
        proxy_command: Option<String> = None;
            parse |a, _| command_template(a, &['h', 'p']);
            example "ssh -q -o BatchMode=yes relay.example.org -W %h:%p";
            show never;

        /// postie only: deliver by writing the message to this command's standard input (`%f` sender, `%r` recipients).
        pipe_command: Option<String> = None;
            parse |a, _| command_template(a, &['f', 'r']);
            example "ssh -q mailhost /usr/sbin/sendmail -oi -f %f -- %r";
            show never;
    }
    aliases {
        /// Old name of `timeout` (msmtp words its command-line errors as `--timeout`).
        connect_timeout => timeout;
            parse seconds_or_off;
            example "off";
            cli "connect-timeout" rank 12 Required errors_as "--timeout";

        /// Old spelling of `tls_starttls off`.
        tls_nostarttls => tls_starttls;
            parse |a, c| nothing(a, c).map(|()| false);
            example "";

        /// Old spelling of `tls_certcheck off`.
        tls_nocertcheck => tls_certcheck;
            parse |a, c| nothing(a, c).map(|()| false);
            example "";

        /// Accepted and ignored, with any argument.
        tls_force_sslv3 => ignored;
            parse ignored;
            example "anything";
            cli "tls-force-sslv3" rank 27 Optional "on";

        /// Old spelling of `set_from_header`: on = auto.
        add_missing_from_header => set_from_header;
            parse |a, c| Ok(if on_off(a, c)? { SetFromHeader::Auto } else { SetFromHeader::Off });
            example "off";
            cli "add-missing-from-header" rank 41 Optional "on";

        /// Old spelling of `set_date_header`: on = auto.
        add_missing_date_header => set_date_header;
            parse |a, c| Ok(if on_off(a, c)? { AutoOff::Auto } else { AutoOff::Off });
            example "off";
            cli "add-missing-date-header" rank 42 Optional "on";

        /// The opposite of `remove_bcc_headers`.
        keepbcc => remove_bcc_headers;
            parse |a, c| on_off(a, c).map(|keep| !keep);
            example "on";
            cli "keepbcc" rank 50 Optional "on";
    }
}

/// A command line for `/bin/sh -c` with `%` escapes (`%%` and those in `escapes`); empty
/// means unset, so an account can drop one it inherits.
fn command_template(arg: &str, escapes: &[char]) -> Result<Option<String>, Bad> {
    match arg {
        "" => Ok(None),
        a if crate::net::command::template_ok(a, escapes) => Ok(Some(a.to_owned())),
        _ => Err(Bad::Invalid),
    }
}

/// An msmtprc command: a setting's own name or a compatibility spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Setting(Field),
    Alias(Alias),
}

impl Command {
    /// Every command: the settings in `-P` order, then the aliases.
    pub(crate) fn all() -> impl Iterator<Item = Command> {
        let settings = Field::ALL.iter().map(|&f| Command::Setting(f));
        settings.chain(Alias::ALL.iter().map(|&a| Command::Alias(a)))
    }

    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Command::Setting(f) => f.name(),
            Command::Alias(a) => a.name(),
        }
    }

    /// The one-line documentation.
    #[cfg(test)]
    pub(crate) fn doc(self) -> &'static str {
        match self {
            Command::Setting(f) => f.doc(),
            Command::Alias(a) => a.doc(),
        }
        .trim()
    }

    /// An argument the command accepts.
    #[cfg(test)]
    pub(crate) fn example(self) -> &'static str {
        match self {
            Command::Setting(f) => f.example(),
            Command::Alias(a) => a.example(),
        }
    }

    /// The command-line option, if msmtp has one.
    pub(crate) fn cli(self) -> Option<CliOption> {
        match self {
            Command::Setting(f) => f.cli(),
            Command::Alias(a) => a.cli(),
        }
    }

    /// Parse `arg` and store it in `s`. Returns the setting changed (its mask bit), or `None`
    /// for an ignored command. `s` is unchanged on error.
    pub(crate) fn apply(
        self,
        s: &mut Settings,
        arg: &str,
        ctx: &Ctx,
    ) -> Result<Option<Field>, Bad> {
        match self {
            Command::Setting(f) => f.parse_into(s, arg, ctx).map(|()| Some(f)),
            Command::Alias(a) => a.parse_into(s, arg, ctx),
        }
    }

    /// Check a command-line argument against this command's grammar and return the msmtprc
    /// `(command, argument)` pair that the selected account gets later (and that the queue
    /// stores): the argument as typed, or its canonical spelling where the command line's
    /// grammar differs from the file's. `None` for an ignored command.
    pub(crate) fn command_line_override(
        self,
        arg: &str,
    ) -> Result<Option<(&'static str, String)>, Bad> {
        let mut scratch = Settings::default();
        // File names are expanded when the override is applied, not here.
        let ctx = Ctx {
            home: "~",
            origin: Origin::CommandLine,
        };
        let Some(field) = self.apply(&mut scratch, arg, &ctx)? else {
            return Ok(None);
        };
        let arg = field.canonical(&scratch).unwrap_or_else(|| arg.to_string());
        Ok(Some((field.name(), arg)))
    }
}

/// postie's whole-file switches: they apply to the file wherever they stand, not to an
/// account, and are `on` or `off` (empty = on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileSwitch {
    /// Choose the account by the mail's From header when no `-a`/`-f` is given.
    SelectAccountByFrom,
    /// Allow options that choose a file or a command under the name `sendmail`.
    TrustSendmailArgv,
}

impl FileSwitch {
    pub(crate) const ALL: [FileSwitch; 2] = [
        FileSwitch::SelectAccountByFrom,
        FileSwitch::TrustSendmailArgv,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            FileSwitch::SelectAccountByFrom => "select_account_by_from",
            FileSwitch::TrustSendmailArgv => "trust_sendmail_argv",
        }
    }

    pub(crate) fn lookup(name: &str) -> Option<FileSwitch> {
        FileSwitch::ALL.into_iter().find(|s| s.name() == name)
    }

    pub(crate) fn parse(arg: &str) -> Result<bool, Bad> {
        on_off(
            arg,
            &Ctx {
                home: "",
                origin: Origin::File,
            },
        )
    }
}

/// An OAuth2 endpoint: `https://...`, or `http://` to a loopback address (a local test or
/// proxy); tokens never travel in clear text over a network.
fn oauth2_url(arg: &str, _: &Ctx) -> Result<Option<String>, Bad> {
    let a = needed(arg)?;
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            a.strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        });
    if (a.starts_with("https://") && a.len() > "https://".len()) || loopback {
        Ok(Some(a.to_string()))
    } else {
        Err(Bad::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::{Account, CommandError};
    use crate::config::values::Mechanism;
    use std::collections::HashSet;

    // The table itself: names, docs, examples, command-line options.

    #[test]
    fn names_are_unique_and_distinct_from_the_file_keywords() {
        let mut seen = HashSet::new();
        let keywords = ["account", "defaults", "eval"];
        let switches = FileSwitch::ALL.map(FileSwitch::name);
        for name in Command::all()
            .map(Command::name)
            .chain(keywords)
            .chain(switches)
        {
            assert!(seen.insert(name), "{name} declared twice");
        }
        for cmd in Command::all() {
            assert_eq!(Command::lookup(cmd.name()), Some(cmd));
        }
        for sw in FileSwitch::ALL {
            assert_eq!(FileSwitch::lookup(sw.name()), Some(sw));
        }
    }

    #[test]
    fn every_command_has_a_one_line_doc() {
        for cmd in Command::all() {
            let doc = cmd.doc();
            assert!(
                !doc.is_empty() && !doc.contains('\n'),
                "{}: {doc:?}",
                cmd.name()
            );
        }
    }

    #[test]
    fn every_command_accepts_its_example_and_sets_its_setting() {
        let ctx = Ctx {
            home: "/h",
            origin: Origin::File,
        };
        for cmd in Command::all() {
            let mut s = Settings::default();
            let field = cmd.apply(&mut s, cmd.example(), &ctx);
            let want = match cmd {
                Command::Setting(f) => Some(f),
                Command::Alias(a) => a.target(),
            };
            assert_eq!(field, Ok(want), "{} {:?}", cmd.name(), cmd.example());
        }
    }

    #[test]
    fn a_refused_argument_leaves_the_setting_alone() {
        let ctx = Ctx {
            home: "/h",
            origin: Origin::File,
        };
        let mut s = Settings::default();
        Command::lookup("port")
            .unwrap()
            .apply(&mut s, "26", &ctx)
            .unwrap();
        let before = s.clone();
        for (cmd, arg) in [("port", "x"), ("port", ""), ("connect_timeout", "0")] {
            assert!(
                Command::lookup(cmd)
                    .unwrap()
                    .apply(&mut s, arg, &ctx)
                    .is_err()
            );
        }
        assert_eq!(s, before);
    }

    /// The command line checks an option with the command's grammar, records an msmtprc
    /// `(command, argument)` pair, and the account gets it through the file grammar later:
    /// both ways must give the same value.
    #[test]
    fn command_line_options_round_trip_through_the_file_grammar() {
        let cli_ctx = Ctx {
            home: "/h",
            origin: Origin::CommandLine,
        };
        for cmd in Command::all() {
            let Some(option) = cmd.cli() else { continue };
            let mut args = vec![cmd.example()];
            if let CliArg::Optional(implicit) = option.arg {
                args.push(implicit);
            }
            for arg in args {
                let mut direct = Settings::default();
                let field = cmd.apply(&mut direct, arg, &cli_ctx).unwrap();
                let recorded = cmd.command_line_override(arg).unwrap();
                let Some((name, argument)) = recorded else {
                    assert_eq!(field, None, "{}", cmd.name());
                    continue;
                };
                assert_eq!(Some(name), field.map(Field::name));
                let mut later = Account::new("a", None, &Settings::default());
                later.apply_with_home(name, &argument, "/h").unwrap();
                assert_eq!(
                    later.settings, direct,
                    "--{}={arg} as {name} {argument}",
                    option.long
                );
            }
        }
    }

    #[test]
    fn command_line_options_follow_msmtps_naming() {
        for cmd in Command::all() {
            let Some(o) = cmd.cli() else { continue };
            assert_eq!(o.long, cmd.name().replace('_', "-"));
            if cmd.name() != "connect_timeout" {
                assert_eq!(o.error_label, format!("--{}", o.long));
            }
            if let Some(label) = o.file_or_command {
                let short = o.short.map(|c| format!(" (-{c})")).unwrap_or_default();
                assert_eq!(label, format!("--{}{short}", o.long));
            }
        }
    }

    /// The lines of msmtp 1.8.23's `-P` listing, in its order (the sendmail-mode ones from
    /// `auto_from` on).
    const MSMTP_LISTING: [&str; 39] = [
        "host",
        "port",
        "source ip",
        "proxy host",
        "proxy port",
        "socket",
        "timeout",
        "protocol",
        "domain",
        "auth",
        "user",
        "password",
        "passwordeval",
        "ntlmdomain",
        "tls",
        "tls_starttls",
        "tls_trust_file",
        "tls_crl_file",
        "tls_fingerprint",
        "tls_key_file",
        "tls_cert_file",
        "tls_certcheck",
        "tls_min_dh_prime_bits",
        "tls_priorities",
        "tls_host_override",
        "auto_from",
        "maildomain",
        "from",
        "allow_from_override",
        "set_from_header",
        "set_date_header",
        "remove_bcc_headers",
        "undisclosed_recipients",
        "dsn_notify",
        "dsn_return",
        "logfile",
        "logfile_time_format",
        "syslog",
        "aliases",
    ];

    #[test]
    fn the_listing_has_exactly_msmtp_1_8_23s_lines() {
        let lines: Vec<_> = Field::ALL.iter().filter_map(|f| f.line()).collect();
        let labels: Vec<_> = lines.iter().map(|l| l.label).collect();
        assert_eq!(labels, MSMTP_LISTING);
        let first_sendmail = MSMTP_LISTING.iter().position(|&l| l == "auto_from");
        assert_eq!(lines.iter().position(|l| l.sendmail_only), first_sendmail);
        assert!(lines.iter().map(|l| l.sendmail_only).is_sorted());
    }

    #[test]
    fn command_line_spellings_differ_from_the_file_only_where_msmtp_does() {
        assert_eq!(
            Command::lookup("dsn_return")
                .unwrap()
                .command_line_override("hdrs"),
            Ok(Some(("dsn_return", "headers".to_string())))
        );
        assert!(applied("dsn_return", "hdrs").is_err());
    }

    // Each command's grammar, through the file front end and its error texts.

    fn applied(cmd: &str, arg: &str) -> Result<Account, CommandError> {
        let mut a = Account::new("a", None, &Settings::default());
        a.apply_with_home(cmd, arg, "/h")?;
        Ok(a)
    }

    fn s(cmd: &str, arg: &str) -> Settings {
        applied(cmd, arg).unwrap().settings
    }

    fn invalid(cmd: &str, arg: &str) -> String {
        applied(cmd, arg).unwrap_err().to_string()
    }

    #[test]
    fn port_range_and_texts() {
        assert_eq!(s("port", "65535").port, Some(65535));
        assert_eq!(s("port", "0x1d").port, Some(29));
        for bad in ["0", "65536", "-1", "abc", "0x", "08"] {
            assert_eq!(
                invalid("port", bad),
                format!("invalid argument {bad} for command port")
            );
        }
        assert_eq!(invalid("port", ""), "command port needs an argument");
        assert_eq!(s("proxy_port", "3").proxy_port, Some(3));
        assert_eq!(s("proxy_port", "").proxy_port, None);
        assert!(applied("proxy_port", "0").is_err());
    }

    #[test]
    fn timeout_values() {
        assert_eq!(s("timeout", "off").timeout, None);
        assert_eq!(s("timeout", "010").timeout, Some(8));
        assert_eq!(s("connect_timeout", "2147483647").timeout, Some(2147483647));
        for bad in ["0", "-1", "1x", "2147483648"] {
            assert!(applied("timeout", bad).is_err(), "{bad}");
        }
        assert_eq!(invalid("timeout", ""), "command timeout needs an argument");
        assert_eq!(
            invalid("connect_timeout", ""),
            "command connect_timeout needs an argument"
        );
    }

    #[test]
    fn empty_argument_meanings() {
        let d = Settings::default();
        // empty = on
        assert!(s("tls", "").tls);
        assert!(s("tls_starttls", "").tls_starttls);
        assert!(s("tls_certcheck", "").tls_certcheck);
        assert!(s("remove_bcc_headers", "").remove_bcc_headers);
        assert!(s("undisclosed_recipients", "").undisclosed_recipients);
        assert!(s("auto_from", "").auto_from);
        assert!(!s("keepbcc", "").remove_bcc_headers);
        assert_eq!(s("auth", "").auth, AuthSetting::Auto);
        assert_eq!(s("syslog", "").syslog, Some(SyslogFacility::User));
        // empty = auto / default
        assert_eq!(
            s("set_from_header", "").set_from_header,
            SetFromHeader::Auto
        );
        assert_eq!(s("set_date_header", "").set_date_header, AutoOff::Auto);
        assert_eq!(s("set_msgid_header", "").set_msgid_header, AutoOff::Auto);
        // empty = empty string
        assert_eq!(s("domain", "").domain, "");
        assert_eq!(s("from", "").from.as_deref(), Some(""));
        assert_eq!(s("maildomain", "").maildomain.as_deref(), Some(""));
        // empty = unset
        for cmd in [
            "source_ip",
            "proxy_host",
            "socket",
            "user",
            "password",
            "passwordeval",
            "ntlmdomain",
            "tls_trust_file",
            "tls_crl_file",
            "tls_fingerprint",
            "tls_key_file",
            "tls_cert_file",
            "tls_priorities",
            "tls_host_override",
            "tls_min_dh_prime_bits",
            "logfile",
            "logfile_time_format",
            "aliases",
            "from_full_name",
            "queue_dir",
            "proxy_command",
            "pipe_command",
        ] {
            assert_eq!(s(cmd, ""), d, "{cmd}");
        }
        // empty = error
        for cmd in [
            "host",
            "port",
            "timeout",
            "protocol",
            "dsn_notify",
            "dsn_return",
        ] {
            assert_eq!(invalid(cmd, ""), format!("command {cmd} needs an argument"));
        }
        assert_eq!(
            invalid("allow_from_override", ""),
            "invalid argument  for command allow_from_override"
        );
    }

    #[test]
    fn booleans_are_exact_words() {
        assert!(!s("tls", "off").tls);
        for bad in ["ON", "yes", "1", "maybe"] {
            assert_eq!(
                invalid("tls", bad),
                format!("invalid argument {bad} for command tls")
            );
        }
        assert_eq!(
            invalid("auto_from", "x"),
            "invalid argument x for command auto_from"
        );
    }

    #[test]
    fn enum_commands() {
        assert_eq!(s("protocol", "lmtp").protocol, Protocol::Lmtp);
        assert!(applied("protocol", "esmtp").is_err());
        assert_eq!(
            s("set_from_header", "on").set_from_header,
            SetFromHeader::On
        );
        assert!(applied("set_date_header", "on").is_err());
        assert!(applied("set_msgid_header", "on").is_err());
        assert_eq!(s("set_msgid_header", "off").set_msgid_header, AutoOff::Off);
        assert_eq!(
            s("syslog", "LOG_LOCAL7").syslog,
            Some(SyslogFacility::Local(7))
        );
        assert_eq!(s("syslog", "off").syslog, None);
        assert!(applied("syslog", "log_mail").is_err());
        assert!(applied("syslog", "LOG_LOCAL8").is_err());
        assert_eq!(
            s("dsn_return", "headers").dsn_return,
            Some(DsnReturn::Headers)
        );
        assert_eq!(s("dsn_return", "off").dsn_return, None);
        assert!(applied("dsn_return", "hdrs").is_err());
        assert_eq!(s("dsn_notify", "off").dsn_notify, None);
        assert_eq!(
            s("dsn_notify", "delay,failure")
                .dsn_notify
                .unwrap()
                .keyword(),
            "DELAY,FAILURE"
        );
        assert_eq!(s("dsn_notify", "never").dsn_notify, Some(DsnNotify::Never));
        for bad in [
            "failure,failure",
            "FAILURE",
            "success,never",
            "failure, delay",
            "failure,",
        ] {
            assert!(applied("dsn_notify", bad).is_err(), "{bad}");
        }
        assert_eq!(
            s("tls_min_dh_prime_bits", "0x10").tls_min_dh_prime_bits,
            Some(16)
        );
        assert!(applied("tls_min_dh_prime_bits", "0").is_err());
        // msmtp >= 1.8.26 spelling (1.8.23 refuses it); see docs/compat.md row s.
        assert_eq!(
            s("auth", "scram-sha-256-plus").auth,
            AuthSetting::Method(Mechanism::ScramSha256Plus)
        );
        assert!(applied("auth", "SCRAM-SHA-256-PLUS").is_err());
        assert_eq!(
            s("auth", "xoauth2").auth,
            AuthSetting::Method(Mechanism::XOAuth2)
        );
        assert_eq!(s("auth", "off").auth, AuthSetting::Off);
    }

    #[test]
    fn compat_commands() {
        assert!(!s("tls_nocertcheck", "").tls_certcheck);
        assert!(!s("tls_nostarttls", "").tls_starttls);
        assert_eq!(
            invalid("tls_nostarttls", "y"),
            "command tls_nostarttls does not take an argument"
        );
        assert_eq!(s("tls_force_sslv3", "anything"), Settings::default());
        assert_eq!(
            s("add_missing_from_header", "off").set_from_header,
            SetFromHeader::Off
        );
        assert_eq!(
            s("add_missing_from_header", "on").set_from_header,
            SetFromHeader::Auto
        );
        assert_eq!(
            s("add_missing_date_header", "off").set_date_header,
            AutoOff::Off
        );
        assert!(s("keepbcc", "off").remove_bcc_headers);
    }

    #[test]
    fn fingerprint_formats() {
        let md5 = ["ab"; 16].join(":");
        assert_eq!(
            s("tls_fingerprint", &md5).tls_fingerprint,
            Some(Fingerprint::Md5(vec![0xab; 16]))
        );
        let sp = ["AB"; 16].join(" ");
        assert_eq!(
            s("tls_fingerprint", &sp).tls_fingerprint,
            Some(Fingerprint::Md5(vec![0xab; 16]))
        );
        let sha1 = ["aB"; 20].join(":");
        assert_eq!(
            s("tls_fingerprint", &sha1).tls_fingerprint,
            Some(Fingerprint::Sha1(vec![0xab; 20]))
        );
        let sha256 = ["01"; 32].join(":");
        assert_eq!(
            s("tls_fingerprint", &sha256).tls_fingerprint,
            Some(Fingerprint::Sha256(vec![1; 32]))
        );
        for bad in [
            ["ab"; 16].join("-"),
            "ab".repeat(16),
            ["gg"; 16].join(":"),
            format!("{md5}:"),
            format!("0x{}", &md5[2..]),
            "AA:BB".to_string(),
        ] {
            assert!(applied("tls_fingerprint", &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queue_commands() {
        assert!(s("queue", "on").queue);
        assert!(s("queue", "").queue);
        assert_eq!(s("queue_dir", "~/q").queue_dir, Some(PathBuf::from("/h/q")));
    }

    #[test]
    fn queue_notify_is_onoff_and_unset_by_default() {
        assert_eq!(Settings::default().queue_notify, None);
        assert_eq!(s("queue_notify", "on").queue_notify, Some(true));
        assert_eq!(s("queue_notify", "").queue_notify, Some(true));
        assert_eq!(s("queue_notify", "off").queue_notify, Some(false));
        assert_eq!(
            invalid("queue_notify", "yes"),
            "invalid argument yes for command queue_notify"
        );
    }

    #[test]
    fn oauth2_commands() {
        for p in ["google", "microsoft", "custom"] {
            assert_eq!(s("oauth2_provider", p).oauth2_provider.as_deref(), Some(p));
        }
        for bad in ["", "Google", "yahoo"] {
            assert!(applied("oauth2_provider", bad).is_err(), "{bad:?}");
        }
        for ok in [
            "https://idp.example/token",
            "http://127.0.0.1:8080/token",
            "http://localhost/t",
            "http://[::1]:9/t",
        ] {
            assert_eq!(
                s("oauth2_token_url", ok).oauth2_token_url.as_deref(),
                Some(ok)
            );
        }
        for bad in [
            "http://idp.example/token",
            "https://",
            "http://localhost.evil/t",
            "ftp://x",
        ] {
            assert!(applied("oauth2_token_url", bad).is_err(), "{bad:?}");
        }
        for store in ["file", "keyring", "command"] {
            assert_eq!(
                s("oauth2_token_store", store).oauth2_token_store.as_deref(),
                Some(store)
            );
        }
        assert!(applied("oauth2_token_store", "gpg").is_err());
        let secret = s("oauth2_client_secret", "GOCSPX-x");
        assert_eq!(secret.oauth2_client_secret.unwrap().expose(), "GOCSPX-x");
        assert_eq!(
            s("oauth2_token_encrypt", "gpg -e -r me")
                .oauth2_token_encrypt
                .as_deref(),
            Some("gpg -e -r me")
        );
    }

    #[test]
    fn password_cache_takes_a_duration_or_off_and_inherits() {
        assert_eq!(s("password_cache", "90").password_cache, Some(90));
        assert_eq!(s("password_cache", "30m").password_cache, Some(1800));
        assert_eq!(s("password_cache", "5d").password_cache, Some(432_000));
        assert_eq!(s("password_cache", "off").password_cache, None);
        for bad in ["", "on", "1w", "-5"] {
            assert!(applied("password_cache", bad).is_err(), "{bad:?}");
        }
        let p = crate::config::parse::parse_bytes(
            std::path::Path::new("rc"),
            b"defaults\npassword_cache 12h\naccount a\nhost h\naccount b : a\npassword_cache off\n",
            &crate::config::parse::ParseEnv {
                home: "/h".into(),
                eval_timeout: std::time::Duration::from_secs(5),
            },
        )
        .expect("parses");
        assert_eq!(p.accounts[0].settings.password_cache, Some(43_200));
        assert_eq!(p.accounts[1].settings.password_cache, None);
    }

    #[test]
    fn command_transports_take_a_command_with_their_own_escapes() {
        assert_eq!(
            s("proxy_command", "ssh -W %h:%p relay")
                .proxy_command
                .as_deref(),
            Some("ssh -W %h:%p relay")
        );
        assert_eq!(
            s("pipe_command", "sendmail -f %f -- %r; date +%%s")
                .pipe_command
                .as_deref(),
            Some("sendmail -f %f -- %r; date +%%s")
        );
        for (cmd, bad) in [
            ("proxy_command", "ssh -l %r relay"),
            ("proxy_command", "nc %h %p %"),
            ("pipe_command", "ssh %h sendmail -t"),
            ("pipe_command", "date +%s"),
        ] {
            assert_eq!(
                invalid(cmd, bad),
                format!("invalid argument {bad} for command {cmd}")
            );
        }
        // postie only: no command-line option (see docs/compat.md) and no -P line.
        for cmd in ["proxy_command", "pipe_command"] {
            let c = Command::lookup(cmd).unwrap();
            assert_eq!(c.cli(), None);
            let Command::Setting(f) = c else {
                panic!("{cmd} is a setting")
            };
            assert!(f.line().is_none());
        }
    }

    #[test]
    fn queue_max_age_takes_seconds_or_a_unit_suffix() {
        assert_eq!(s("queue_max_age", "90").queue_max_age, Some(90));
        assert_eq!(s("queue_max_age", "90s").queue_max_age, Some(90));
        assert_eq!(s("queue_max_age", "30m").queue_max_age, Some(1800));
        assert_eq!(s("queue_max_age", "2h").queue_max_age, Some(7200));
        assert_eq!(s("queue_max_age", "5d").queue_max_age, Some(432000));
        assert_eq!(s("queue_max_age", "0").queue_max_age, Some(0));
        for bad in [
            "d",
            "-1",
            "1w",
            "1.5h",
            " 1",
            "0x10",
            "99999999999999999999d",
        ] {
            assert_eq!(
                invalid("queue_max_age", bad),
                format!("invalid argument {bad} for command queue_max_age")
            );
        }
        assert_eq!(
            invalid("queue_max_age", ""),
            "command queue_max_age needs an argument"
        );
    }
}
