//! Every msmtprc command, declared once: its setting's name, type and default, its grammar
//! (shared by the file and the command line), an example argument, its `-P` line and its
//! command-line option. The `Settings` struct, inheritance, the file parser's dispatch, the
//! `-P` listing and the long-option table are all generated from this one table.
//!
//! How to add an msmtprc command: add one entry to the table below (under `aliases` for another
//! spelling of an existing setting) with a one-line `///` doc, `field: Type = default;`, a
//! `parse` grammar (from [`super::grammar`], or a closure returning [`Bad`]), an `example`, its
//! `-P` line (`show always|sendmail "label" = fmt;` or `show never;`), if it has one, its
//! option (`cli "name" rank N Required|Optional "implicit" [short 'c'] [guard file_or_command];`),
//! and its manual entry (`man "ARGUMENT" "One sentence.";`: the argument as the man page writes
//! it, in brackets when it may be empty, lower-case words literal, upper-case ones a kind of
//! value such as `FILE`). Then use `settings.field`; nothing else changes: `cargo test
//! config::commands` checks the entry, and `POSTIE_BLESS=1 cargo test --test docs` regenerates
//! the man page and the shell completions from it (`cargo test` fails until it is run).

pub(crate) use super::declare::{CliArg, CliOption, Manual};

use super::declare::declare_commands;
use super::grammar::{
    Bad, Ctx, NOT_SET, Origin, any_text, decimal, duration, exactly_on_off, expand_tilde, ignored,
    needed, nothing, on_off, on_off_word, path, port, port_or_default, pos_int_or_unset,
    required_text, seconds_or_off, show_number, show_on_off, show_port, show_text, text,
};
use super::secret::Secret;
use super::values::{
    AuthSetting, AutoOff, DsnNotify, DsnReturn, Fingerprint, Protocol, SetFromHeader, SetToHeader,
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
            man "HOST" "The SMTP or LMTP server to send to (a name or an IP address); required unless socket is set.";

        /// The server port; unset until finalize picks 25 or 465 (SMTP; LMTP has no default).
        port: Option<u16> = None;
            parse port;
            example "0x1d";
            show always "port" = show_port;
            canonical decimal;
            cli "port" rank 10 Required;
            man "NUMBER" "The server's port: 25 by default, 465 with tls on and tls_starttls off; an LMTP account needs one.";

        /// The local address to connect from.
        source_ip: Option<String> = None;
            parse text;
            example "192.0.2.1";
            show always "source ip" = show_text;
            cli "source-ip" rank 48 Required;
            man "[IP]" "The local address to connect from; empty: any.";

        /// A SOCKS proxy to connect through.
        proxy_host: Option<String> = None;
            parse text;
            example "127.0.0.1";
            show always "proxy host" = show_text;
            cli "proxy-host" rank 39 Required;
            man "[HOST]" "A SOCKS5 proxy to connect through; it resolves host itself, as Tor expects.";

        /// The SOCKS proxy's port; unset means the default (1080 once a proxy host is set).
        proxy_port: Option<u16> = None;
            parse port_or_default;
            example "9050";
            show always "proxy port" = show_port;
            canonical decimal;
            cli "proxy-port" rank 40 Required;
            man "[NUMBER]" "The proxy's port; default 1080.";

        /// A local socket to talk to instead of a host.
        socket: Option<String> = None;
            parse text;
            example "/run/smtp.sock";
            show always "socket" = show_text;
            cli "socket" rank 49 Required guard file_or_command;
            man "[FILE]" "A local socket to talk to instead of host and port.";

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
            man "(off|SECONDS)" "The network timeout; with off (the default) a read or write still gives up after 10 minutes.";

        /// `smtp` or `lmtp`.
        protocol: Protocol = Protocol::Smtp;
            parse |a, _| Protocol::parse(needed(a)?).ok_or(Bad::Invalid);
            example "lmtp";
            show always "protocol" = |p, _| p.name().to_string();
            cli "protocol" rank 33 Required;
            man "(smtp|lmtp)" "The protocol; default smtp.";

        /// The name postie greets the server with (`%H` etc. are expanded by finalize).
        domain: String = "localhost".to_string();
            parse |a, _| Ok(a.to_string());
            example "%H.example";
            show always "domain" = |d, _| d.clone();
            cli "domain" rank 34 Required;
            man "[NAME]" "The argument of EHLO or LHLO (default localhost); %H is the host name, %C its canonical name, %M the contents of /etc/mailname.";

        /// Authentication: off, on (postie chooses the method), or one method.
        auth: AuthSetting = AuthSetting::Off;
            parse |a, _| AuthSetting::parse(a).ok_or(Bad::Invalid);
            example "scram-sha-256";
            show always "auth" = |a, _| a.describe().to_string();
            cli "auth" rank 16 Optional "on";
            man "[(on|off|METHOD)]" "Authenticate: on (or empty) chooses a method the server offers, off does not authenticate, or one METHOD: plain, login, cram-md5, scram-sha-1, scram-sha-256, scram-sha-1-plus, scram-sha-256-plus, external, oauthbearer, xoauth2.";

        /// The user name to authenticate as.
        user: Option<String> = None;
            parse text;
            example "alice";
            show always "user" = show_text;
            cli "user" rank 17 Required;
            man "[NAME]" "The user name to authenticate as.";

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
            man "[SECRET]" "The password; prefer passwordeval, the keyring or ~/.netrc (a file with a password must be private).";

        /// A command that prints the password.
        passwordeval: Option<String> = None;
            parse text;
            example "pass show mail";
            show always "passwordeval" = show_text;
            cli "passwordeval" rank 18 Required guard file_or_command;
            man "[COMMAND]" "A command whose first line of output is the password; it runs with stdin closed and is killed after 120 seconds.";

        /// The domain for NTLM authentication.
        ntlmdomain: Option<String> = None;
            parse text;
            example "WORKGROUP";
            show always "ntlmdomain" = show_text;
            man "[DOMAIN]" "The domain for NTLM authentication (accepted; NTLM is not supported).";

        // --- OAuth2 (postie only, docs/oauth2.md) -----------------------------------------

        /// postie only: the OAuth2 provider whose tokens AUTH XOAUTH2/OAUTHBEARER uses (google, microsoft or custom).
        oauth2_provider: Option<String> = None;
            parse |a, _| match needed(a)? {
                p @ ("google" | "microsoft" | "custom") => Ok(Some(p.to_string())),
                _ => Err(Bad::Invalid),
            };
            example "google";
            show never;
            man "(google|microsoft|custom)" "postie only: get OAuth2 access tokens for oauthbearer and xoauth2 from this provider itself (see postie oauth2).";

        /// postie only: the OAuth2 client ID registered with the provider.
        oauth2_client_id: Option<String> = None;
            parse text;
            example "123-abc.apps.googleusercontent.com";
            show never;
            man "[ID]" "postie only: the OAuth2 client ID registered with the provider.";

        /// postie only: the OAuth2 client secret (for clients that have one).
        oauth2_client_secret: Option<Secret> = None;
            parse |a, _| Ok((!a.is_empty()).then(|| Secret::new(a.to_string())));
            example "GOCSPX-secret";
            show never;
            man "[SECRET]" "postie only: the OAuth2 client secret, for clients that have one.";

        /// postie only: a command that prints the OAuth2 client secret.
        oauth2_client_secret_eval: Option<String> = None;
            parse text;
            example "pass show oauth/client";
            show never;
            man "[COMMAND]" "postie only: a command that prints the OAuth2 client secret.";

        /// postie only: the Microsoft Entra tenant (`common`, `organizations`, a domain or an ID).
        oauth2_tenant: Option<String> = None;
            parse text;
            example "contoso.onmicrosoft.com";
            show never;
            man "[TENANT]" "postie only: the Microsoft Entra tenant: common (the default), organizations, a domain or a tenant ID.";

        /// postie only: the provider's authorisation endpoint (overrides the preset).
        oauth2_auth_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/authorize";
            show never;
            man "URL" "postie only: the provider's authorisation endpoint (https, or http to a loopback address).";

        /// postie only: the provider's token endpoint (overrides the preset).
        oauth2_token_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/token";
            show never;
            man "URL" "postie only: the provider's token endpoint.";

        /// postie only: the provider's device authorisation endpoint (overrides the preset).
        oauth2_device_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/device";
            show never;
            man "URL" "postie only: the provider's device authorisation endpoint.";

        /// postie only: the provider's token revocation endpoint (overrides the preset).
        oauth2_revoke_url: Option<String> = None;
            parse oauth2_url;
            example "https://idp.example/revoke";
            show never;
            man "URL" "postie only: the provider's token revocation endpoint.";

        /// postie only: the scopes to ask for, separated by spaces (overrides the preset).
        oauth2_scope: Option<String> = None;
            parse text;
            example "https://mail.google.com/";
            show never;
            man "[SCOPES]" "postie only: the scopes to ask for, separated by spaces.";

        /// postie only: where the refresh token is kept: file (the default), keyring or command.
        oauth2_token_store: Option<String> = None;
            parse |a, _| match needed(a)? {
                s @ ("file" | "keyring" | "command") => Ok(Some(s.to_string())),
                _ => Err(Bad::Invalid),
            };
            example "keyring";
            show never;
            man "(file|keyring|command)" "postie only: where the refresh token is kept: a private file (the default), the Secret Service, or the file encrypted by oauth2_token_encrypt.";

        /// postie only: with `oauth2_token_store command`, the command that encrypts stdin to stdout.
        oauth2_token_encrypt: Option<String> = None;
            parse text;
            example "gpg --batch -e -r me@example.org";
            show never;
            man "[COMMAND]" "postie only: with oauth2_token_store command, a command that encrypts stdin to stdout (gpg, age).";

        /// postie only: with `oauth2_token_store command`, the command that decrypts stdin to stdout.
        oauth2_token_decrypt: Option<String> = None;
            parse text;
            example "gpg --batch -q -d";
            show never;
            man "[COMMAND]" "postie only: with oauth2_token_store command, a command that decrypts stdin to stdout.";

        // --- end of OAuth2 ----------------------------------------------------------------

        /// Whether to use TLS.
        tls: bool = false;
            parse on_off;
            example "off";
            show always "tls" = show_on_off;
            cli "tls" rank 19 Optional "on";
            man "[(on|off)]" "Use TLS; default off.";

        /// TLS via STARTTLS (on) or from the first byte (off).
        tls_starttls: bool = true;
            parse on_off;
            example "off";
            show always "tls_starttls" = show_on_off;
            cli "tls-starttls" rank 20 Optional "on";
            man "[(on|off)]" "on (the default): start TLS with STARTTLS; off: TLS from the first byte (port 465).";

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
            man "[(FILE|system)]" "The CA certificates to trust: a PEM file, or system (the default); empty: no CA (use tls_fingerprint).";

        /// A certificate revocation list.
        tls_crl_file: Option<String> = None;
            parse path;
            example "~/crl.pem";
            show always "tls_crl_file" = show_text;
            cli "tls-crl-file" rank 22 Required guard file_or_command;
            man "[FILE]" "A PEM file of certificate revocation lists.";

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
            man "[FINGERPRINT]" "Trust exactly the server certificate with this SHA-256 (or SHA-1, MD5) fingerprint, as AA:BB:...";

        /// The client certificate's key.
        tls_key_file: Option<String> = None;
            parse path;
            example "~/key.pem";
            show always "tls_key_file" = show_text;
            cli "tls-key-file" rank 24 Required guard file_or_command;
            man "[FILE]" "The private key of a client certificate.";

        /// The client certificate.
        tls_cert_file: Option<String> = None;
            parse path;
            example "~/cert.pem";
            show always "tls_cert_file" = show_text;
            cli "tls-cert-file" rank 25 Required guard file_or_command;
            man "[FILE]" "A client certificate (PEM).";

        /// Whether to check the server certificate.
        tls_certcheck: bool = true;
            parse on_off;
            example "off";
            show always "tls_certcheck" = show_on_off;
            cli "tls-certcheck" rank 26 Optional "on";
            man "[(on|off)]" "Check the server certificate (default on; off is not safe).";

        /// The smallest Diffie-Hellman prime accepted, in bits.
        tls_min_dh_prime_bits: Option<u32> = None;
            parse pos_int_or_unset;
            example "0x400";
            show always "tls_min_dh_prime_bits" = show_number;
            canonical decimal;
            cli "tls-min-dh-prime-bits" rank 28 Required;
            man "[BITS]" "Accepted and ignored (rustls uses no finite-field Diffie-Hellman).";

        /// A TLS priority string.
        tls_priorities: Option<String> = None;
            parse text;
            example "NORMAL";
            show always "tls_priorities" = show_text;
            cli "tls-priorities" rank 29 Required;
            man "[PRIORITIES]" "Accepted and ignored (a GnuTLS priority string).";

        /// The name the server certificate is checked against, instead of the host.
        tls_host_override: Option<String> = None;
            parse text;
            example "mx.example.org";
            show always "tls_host_override" = show_text;
            cli "tls-host-override" rank 30 Required;
            man "[HOST]" "The name the server certificate is checked against instead of host.";

        /// Build the envelope-from from the user name and `maildomain`.
        auto_from: bool = false;
            parse on_off;
            example "on";
            show sendmail "auto_from" = show_on_off;
            cli "auto-from" rank 13 Optional "on";
            man "[(on|off)]" "Obsolete: make the envelope-from user@maildomain (use from %U@DOMAIN).";

        /// The domain for `auto_from` and `%M`.
        maildomain: Option<String> = None;
            parse any_text;
            example "example.org";
            show sendmail "maildomain" = show_text;
            cli "maildomain" rank 15 Required;
            man "[DOMAIN]" "Obsolete: the domain of auto_from.";

        /// Envelope-from; `Some("")` = `MAIL FROM:<>`; may be a glob or hold `%` patterns until finalize.
        from: Option<String> = None;
            parse any_text;
            example "%U@example.org";
            show sendmail "from" = |f, a| match f {
                Some(f) => f.clone(),
                None if a.from_pending => "(read from mail)".to_string(),
                None => NOT_SET.to_string(),
            };
            man "[ADDRESS]" "The envelope-from address, which also chooses the account (-f, the From header); it may be a pattern (*@example.org) and hold %U (user), %H, %C, %M and %F (the address of the mail's From header).";

        /// The full name for a From header postie adds.
        from_full_name: Option<String> = None;
            parse text;
            example "Alice Example";
            show never;
            man "[NAME]" "The full name in a From header postie adds (-F wins over it).";

        /// Whether `-f` and a From-header choice may replace `from`.
        allow_from_override: bool = true;
            parse exactly_on_off;
            example "off";
            show sendmail "allow_from_override" = show_on_off;
            man "(on|off)" "off: -f and the From header cannot change the envelope-from; default on.";

        /// Add a From header: when missing (auto), always (on) or never (off).
        set_from_header: SetFromHeader = SetFromHeader::Auto;
            parse |a, _| SetFromHeader::parse(a).ok_or(Bad::Invalid);
            example "on";
            show sendmail "set_from_header" = |v, _| v.word().to_string();
            canonical |v| v.word().to_string();
            cli "set-from-header" rank 43 Optional "auto";
            man "[(auto|on|off)]" "auto (the default) adds a From header when the mail has none, on replaces it, off never adds one.";

        /// Add a Date header when missing (auto) or never (off).
        set_date_header: AutoOff = AutoOff::Auto;
            parse |a, _| AutoOff::parse(a).ok_or(Bad::Invalid);
            example "off";
            show sendmail "set_date_header" = |v, _| v.word().to_string();
            canonical |v| v.word().to_string();
            cli "set-date-header" rank 44 Optional "auto";
            man "[(auto|off)]" "auto (the default) adds a Date header when the mail has none.";

        /// Add a Message-ID header when missing (auto) or never (off).
        set_msgid_header: AutoOff = AutoOff::Auto;
            parse |a, _| AutoOff::parse(a).ok_or(Bad::Invalid);
            example "off";
            show never;
            cli "set-msgid-header" rank 45 Optional "auto";
            man "[(auto|off)]" "auto (the default) adds a Message-ID header when the mail has none.";

        /// Remove Bcc headers before sending.
        remove_bcc_headers: bool = true;
            parse on_off;
            example "off";
            show sendmail "remove_bcc_headers" = show_on_off;
            canonical |v| on_off_word(*v).to_string();
            cli "remove-bcc-headers" rank 46 Optional "on";
            man "[(on|off)]" "Remove Bcc headers before sending (default on).";

        /// Replace To, Cc and Bcc by one To header: all recipients (on), `undisclosed-recipients:;`, or keep them (off).
        set_to_header: SetToHeader = SetToHeader::Off;
            parse |a, _| SetToHeader::parse(a).ok_or(Bad::Invalid);
            example "undisclosed_recipients";
            // msmtp 1.8.23's line; `on` did not exist then and is shown as newer msmtp shows it.
            show sendmail "undisclosed_recipients" = |v, _| on_off_word(*v != SetToHeader::Off).to_string();
            relabel "set_to_header" when |v| *v == SetToHeader::On;
            canonical |v| v.word().to_string();
            cli "set-to-header" rank 53 Optional "on";
            man "[(on|off|undisclosed_recipients)]" "Replace To, Cc and Bcc by one To header: every recipient (on; Bcc recipients become visible to all, as in msmtp) or undisclosed-recipients:; (undisclosed_recipients); default off.";

        /// Delivery status notifications: `never` or some of failure, delay, success.
        dsn_notify: Option<DsnNotify> = None;
            parse |a, _| match needed(a)? {
                "off" => Ok(None),
                a => DsnNotify::parse(a).map(Some).ok_or(Bad::Invalid),
            };
            example "delay,failure";
            show sendmail "dsn_notify" = |d, _| d.as_ref().map_or(NOT_SET.to_string(), DsnNotify::keyword);
            cli "dsn-notify" rank 31 Required short 'N';
            man "(off|CONDITIONS)" "Ask for delivery status notifications: never, or some of failure, delay and success separated by commas.";

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
            man "(off|headers|full)" "How much of the mail a delivery status notification returns.";

        /// A file name, or `-` for stdout.
        logfile: Option<String> = None;
            parse path;
            example "~/.msmtp.log";
            show sendmail "logfile" = show_text;
            cli "logfile" rank 35 Required short 'X' guard file_or_command;
            man "[FILE]" "Append one line per mail to FILE (- for standard output), in msmtp's format.";

        /// The strftime format of the log's time stamps.
        logfile_time_format: Option<String> = None;
            parse text;
            example "%Y-%m-%d";
            show sendmail "logfile_time_format" = show_text;
            cli "logfile-time-format" rank 36 Required;
            man "[(FORMAT|none)]" "The strftime format of the log line's time (default %b %d %H:%M:%S); none: no time.";

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
            man "[(on|off|FACILITY)]" "Log to syslog: on (or empty) with LOG_USER, or LOG_MAIL, LOG_USER, LOG_LOCAL0 ... LOG_LOCAL7.";

        /// The aliases file.
        aliases: Option<String> = None;
            parse path;
            example "~/.aliases";
            show sendmail "aliases" = show_text;
            cli "aliases" rank 38 Required guard file_or_command;
            man "[FILE]" "Replace local recipients by the addresses in FILE (lines local: address, address; default: catches the rest).";

        /// postie only: queue mail that could not be sent for a transient reason.
        queue: bool = false;
            parse on_off;
            example "on";
            show never;
            man "[(on|off)]" "postie only: keep a mail that could not be sent for a temporary reason in the queue and exit 0.";

        /// postie only: where the queue lives.
        queue_dir: Option<PathBuf> = None;
            parse |a, c| Ok(path(a, c)?.map(PathBuf::from));
            example "~/.postie/queue";
            show never;
            man "[DIRECTORY]" "postie only: the queue's directory (default ~/.local/state/postie/queue).";

        /// postie only: mail the sender when a queued message is set aside; `None` = on exactly when the account has a `from` address.
        queue_notify: Option<bool> = None;
            parse |a, c| on_off(a, c).map(Some);
            example "off";
            show never;
            man "[(on|off)]" "postie only: mail the sender when a queued message is given up; default on when the account has a from address.";

        /// postie only: seconds after which a queued message that still fails is set aside; `None` = the default (5 days).
        queue_max_age: Option<u64> = None;
            parse duration;
            example "5d";
            show never;
            man "DURATION" "postie only: give up a queued message after this long (seconds, or with s, m, h, d; default 5d).";

        /// postie only: keep the password a source produced in the kernel keyring this long (seconds); `None` = off.
        password_cache: Option<u64> = None;
            parse |a, c| match needed(a)? {
                "off" => Ok(None),
                _ => duration(a, c),
            };
            example "12h";
            show never;
            man "(off|DURATION)" "postie only: keep the password a source produced in the kernel keyring this long (default off; see postie unlock).";

        /// postie only: speak SMTP or LMTP over this command's standard input and output instead of a socket (`%h` host, `%p` port).
        proxy_command: Option<String> = None;
            parse |a, _| command_template(a, &['h', 'p']);
            example "ssh -q -o BatchMode=yes relay.example.org -W %h:%p";
            show never;
            man "[COMMAND]" "postie only: speak SMTP or LMTP over this command's standard input and output instead of a socket; %h and %p become host and port.";

        /// postie only: deliver by writing the message to this command's standard input (`%f` sender, `%r` recipients).
        pipe_command: Option<String> = None;
            parse |a, _| command_template(a, &['f', 'r']);
            example "ssh -q mailhost /usr/sbin/sendmail -oi -f %f -- %r";
            show never;
            man "[COMMAND]" "postie only: deliver by writing the message to this command's standard input; %f becomes the envelope sender, %r the recipients, each a shell-quoted word.";
    }
    aliases {
        /// Old name of `timeout` (msmtp words its command-line errors as `--timeout`).
        connect_timeout => timeout;
            parse seconds_or_off;
            example "off";
            cli "connect-timeout" rank 12 Required errors_as "--timeout";
            man "(off|SECONDS)" "Old name of timeout.";

        /// Old spelling of `tls_starttls off`.
        tls_nostarttls => tls_starttls;
            parse |a, c| nothing(a, c).map(|()| false);
            example "";
            man "" "Old spelling of tls_starttls off.";

        /// Old spelling of `tls_certcheck off`.
        tls_nocertcheck => tls_certcheck;
            parse |a, c| nothing(a, c).map(|()| false);
            example "";
            man "" "Old spelling of tls_certcheck off.";

        /// Accepted and ignored, with any argument.
        tls_force_sslv3 => ignored;
            parse ignored;
            example "anything";
            cli "tls-force-sslv3" rank 27 Optional "on";
            man "[(on|off)]" "Accepted and ignored.";

        /// Old spelling of `set_from_header`: on = auto.
        add_missing_from_header => set_from_header;
            parse |a, c| Ok(if on_off(a, c)? { SetFromHeader::Auto } else { SetFromHeader::Off });
            example "off";
            cli "add-missing-from-header" rank 41 Optional "on";
            man "[(on|off)]" "Old spelling of set_from_header auto and off.";

        /// Old spelling of `set_date_header`: on = auto.
        add_missing_date_header => set_date_header;
            parse |a, c| Ok(if on_off(a, c)? { AutoOff::Auto } else { AutoOff::Off });
            example "off";
            cli "add-missing-date-header" rank 42 Optional "on";
            man "[(on|off)]" "Old spelling of set_date_header auto and off.";

        /// Old spelling of `set_to_header`: on = undisclosed_recipients.
        undisclosed_recipients => set_to_header;
            parse |a, c| Ok(if on_off(a, c)? { SetToHeader::UndisclosedRecipients } else { SetToHeader::Off });
            example "on";
            cli "undisclosed-recipients" rank 47 Optional "on";
            man "[(on|off)]" "Old spelling of set_to_header undisclosed_recipients and off.";

        /// The opposite of `remove_bcc_headers`.
        keepbcc => remove_bcc_headers;
            parse |a, c| on_off(a, c).map(|keep| !keep);
            example "on";
            cli "keepbcc" rank 50 Optional "on";
            man "[(on|off)]" "The opposite of remove_bcc_headers.";
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

    /// The name as written in a file.
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

    /// How the manual documents it.
    pub(crate) fn man(self) -> Option<Manual> {
        match self {
            Command::Setting(f) => f.man(),
            Command::Alias(a) => a.man(),
        }
    }

    /// Whether it is one of the old spellings msmtp keeps for compatibility.
    pub(crate) fn is_alias(self) -> bool {
        matches!(self, Command::Alias(_))
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

    /// How the manual documents it.
    pub(crate) fn man(self) -> Manual {
        match self {
            FileSwitch::SelectAccountByFrom => Manual {
                argument: "[(on|off)]",
                text: "postie only, for the whole file: without -a and -f, use the account whose \
                       from matches the mail's From header (default on; off: msmtp's choice).",
            },
            FileSwitch::TrustSendmailArgv => Manual {
                argument: "[(on|off)]",
                text: "postie only, for the whole file, read from the system file and the default \
                       user file only: under the names sendmail, send-mail, mailq and newaliases, \
                       allow the options that choose a file or a command (default off).",
            },
        }
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

    /// The man page, `--help` and the completions come from these: every command has them,
    /// and the argument's brackets say what the grammar says about an empty argument.
    #[test]
    fn every_command_is_documented_for_users() {
        let ctx = Ctx {
            home: "/h",
            origin: Origin::File,
        };
        for cmd in Command::all() {
            let name = cmd.name();
            let man = cmd
                .man()
                .unwrap_or_else(|| panic!("{name}: add `man \"ARGUMENT\" \"TEXT\";`"));
            assert!(
                !man.text.is_empty() && !man.text.contains('\n') && man.text.ends_with('.'),
                "{name}: {:?}",
                man.text
            );
            let empty_ok = cmd.apply(&mut Settings::default(), "", &ctx).is_ok();
            if man.argument.is_empty() {
                assert_eq!(
                    cmd.apply(&mut Settings::default(), "x", &ctx),
                    Err(Bad::TakesNone),
                    "{name} takes an argument"
                );
            } else {
                assert_eq!(
                    man.argument.starts_with('['),
                    empty_ok,
                    "{name}: an argument that may be empty is written in brackets"
                );
                if man.argument.starts_with('[') {
                    assert!(man.argument.ends_with(']'), "{name}");
                }
            }
            // The words it lists are accepted.
            for word in crate::cli::doc::literal_words(man.argument) {
                assert!(
                    cmd.apply(&mut Settings::default(), word, &ctx).is_ok(),
                    "{name} {word}"
                );
            }
            if let Some(CliOption {
                arg: CliArg::Optional(_),
                ..
            }) = cmd.cli()
            {
                assert!(man.argument.starts_with('['), "{name}");
            }
        }
        for sw in FileSwitch::ALL {
            let man = sw.man();
            assert!(man.argument.starts_with('[') && FileSwitch::parse("").is_ok());
            for word in crate::cli::doc::literal_words(man.argument) {
                assert!(FileSwitch::parse(word).is_ok(), "{word}");
            }
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
        assert_eq!(
            s("undisclosed_recipients", "").set_to_header,
            SetToHeader::UndisclosedRecipients
        );
        assert_eq!(s("set_to_header", "").set_to_header, SetToHeader::On);
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
    fn set_to_header_and_its_old_spelling_set_one_setting() {
        assert_eq!(s("set_to_header", "on").set_to_header, SetToHeader::On);
        assert_eq!(s("set_to_header", "off").set_to_header, SetToHeader::Off);
        assert_eq!(
            s("set_to_header", "undisclosed_recipients").set_to_header,
            SetToHeader::UndisclosedRecipients
        );
        assert_eq!(
            s("undisclosed_recipients", "on").set_to_header,
            SetToHeader::UndisclosedRecipients
        );
        assert_eq!(
            s("undisclosed_recipients", "off").set_to_header,
            SetToHeader::Off
        );
        for bad in ["undisclosed-recipients", "auto", "ON"] {
            assert_eq!(
                invalid("set_to_header", bad),
                format!("invalid argument {bad} for command set_to_header")
            );
        }
        assert_eq!(
            invalid("undisclosed_recipients", "undisclosed_recipients"),
            "invalid argument undisclosed_recipients for command undisclosed_recipients"
        );
        // The later line wins, whichever spelling it uses; inheritance sees one setting.
        let p = crate::config::parse::parse_bytes(
            std::path::Path::new("rc"),
            b"account a\nset_to_header on\nundisclosed_recipients off\n\
              account b\nundisclosed_recipients on\nset_to_header on\n\
              account c : b\naccount d : a\n",
            &crate::config::parse::ParseEnv {
                home: "/h".into(),
                eval_timeout: std::time::Duration::from_secs(5),
            },
        )
        .expect("parses");
        let got: Vec<_> = p
            .accounts
            .iter()
            .map(|a| a.settings.set_to_header)
            .collect();
        assert_eq!(
            got,
            [
                SetToHeader::Off,
                SetToHeader::On,
                SetToHeader::On,
                SetToHeader::Off
            ]
        );
        // The command line records the setting's own spelling for either option.
        let cmd = Command::lookup("undisclosed_recipients").unwrap();
        assert_eq!(
            cmd.command_line_override("on"),
            Ok(Some((
                "set_to_header",
                "undisclosed_recipients".to_string()
            )))
        );
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
