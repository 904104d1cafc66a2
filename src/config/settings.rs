//! The per-account settings of an msmtprc (msmtp.md section 2.5), the "explicitly set" mask that
//! drives inheritance (2.4) and the derived-default rules (2.6), and [`Account::apply`], the one
//! place where a command and its argument are validated and stored. Config files and
//! command-line overrides both go through `apply`, so their validation is identical.

use super::grammar::{expand_tilde, fingerprint, port_number, pos_int};
use std::fmt;
use std::path::PathBuf;

pub use super::grammar::parse_duration;

/// `protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Smtp,
    Lmtp,
}

/// An authentication method name accepted by `auth` (lowercase in the file, uppercase on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Plain,
    ScramSha1,
    ScramSha256,
    ScramSha1Plus,
    ScramSha256Plus,
    External,
    Gssapi,
    CramMd5,
    DigestMd5,
    Login,
    Ntlm,
    OauthBearer,
    Xoauth2,
}

impl AuthMethod {
    /// Parse the lowercase config/command-line spelling.
    pub fn parse(s: &str) -> Option<AuthMethod> {
        Some(match s {
            "plain" => AuthMethod::Plain,
            "scram-sha-1" => AuthMethod::ScramSha1,
            "scram-sha-256" => AuthMethod::ScramSha256,
            "scram-sha-1-plus" => AuthMethod::ScramSha1Plus,
            "scram-sha-256-plus" => AuthMethod::ScramSha256Plus,
            "external" => AuthMethod::External,
            "gssapi" => AuthMethod::Gssapi,
            "cram-md5" => AuthMethod::CramMd5,
            "digest-md5" => AuthMethod::DigestMd5,
            "login" => AuthMethod::Login,
            "ntlm" => AuthMethod::Ntlm,
            "oauthbearer" => AuthMethod::OauthBearer,
            "xoauth2" => AuthMethod::Xoauth2,
            _ => return None,
        })
    }

    /// The SASL mechanism name, as sent in `AUTH` and printed by `-P`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Plain => "PLAIN",
            AuthMethod::ScramSha1 => "SCRAM-SHA-1",
            AuthMethod::ScramSha256 => "SCRAM-SHA-256",
            AuthMethod::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            AuthMethod::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            AuthMethod::External => "EXTERNAL",
            AuthMethod::Gssapi => "GSSAPI",
            AuthMethod::CramMd5 => "CRAM-MD5",
            AuthMethod::DigestMd5 => "DIGEST-MD5",
            AuthMethod::Login => "LOGIN",
            AuthMethod::Ntlm => "NTLM",
            AuthMethod::OauthBearer => "OAUTHBEARER",
            AuthMethod::Xoauth2 => "XOAUTH2",
        }
    }
}

/// `auth`: off, on (let postie choose), or one fixed method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    Off,
    Choose,
    Method(AuthMethod),
}

impl Auth {
    /// Whether authentication is enabled at all (decides whether passwordeval runs).
    pub fn enabled(self) -> bool {
        self != Auth::Off
    }
}

/// `tls_trust_file`: the system store or a PEM file. "Unset" (no CA trust) is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    System,
    File(String),
}

/// `set_from_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SetFromHeader {
    #[default]
    Auto,
    On,
    Off,
}

/// `set_date_header` and `set_msgid_header`: add the header when missing, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoOff {
    #[default]
    Auto,
    Off,
}

/// One `dsn_notify` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnCondition {
    Failure,
    Delay,
    Success,
}

/// `dsn_notify` when not `off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsnNotify {
    Never,
    /// The conditions in the order given (no duplicates).
    On(Vec<DsnCondition>),
}

impl DsnNotify {
    /// The `NOTIFY=` parameter value (also what `-P` prints), e.g. `FAILURE,DELAY`.
    pub fn keyword(&self) -> String {
        match self {
            DsnNotify::Never => "NEVER".to_string(),
            DsnNotify::On(conds) => conds
                .iter()
                .map(|c| match c {
                    DsnCondition::Failure => "FAILURE",
                    DsnCondition::Delay => "DELAY",
                    DsnCondition::Success => "SUCCESS",
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Parse the config spelling (`never` or a comma list of lowercase conditions).
    pub fn parse(s: &str) -> Option<DsnNotify> {
        if s == "never" {
            return Some(DsnNotify::Never);
        }
        let mut conds = Vec::new();
        for word in s.split(',') {
            let c = match word {
                "failure" => DsnCondition::Failure,
                "delay" => DsnCondition::Delay,
                "success" => DsnCondition::Success,
                _ => return None,
            };
            if conds.contains(&c) {
                return None;
            }
            conds.push(c);
        }
        Some(DsnNotify::On(conds))
    }
}

/// `dsn_return` when not `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnReturn {
    Headers,
    Full,
}

impl DsnReturn {
    /// The `RET=` parameter value (also what `-P` prints).
    pub fn keyword(self) -> &'static str {
        match self {
            DsnReturn::Headers => "HDRS",
            DsnReturn::Full => "FULL",
        }
    }
}

/// `syslog FACILITY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogFacility {
    User,
    Mail,
    /// LOG_LOCAL0 .. LOG_LOCAL7.
    Local(u8),
}

impl SyslogFacility {
    /// Parse the exact (case-sensitive) facility name.
    pub fn parse(s: &str) -> Option<SyslogFacility> {
        match s {
            "LOG_USER" => Some(SyslogFacility::User),
            "LOG_MAIL" => Some(SyslogFacility::Mail),
            _ => {
                let n = s.strip_prefix("LOG_LOCAL")?;
                match n.as_bytes() {
                    [d @ b'0'..=b'7'] => Some(SyslogFacility::Local(d - b'0')),
                    _ => None,
                }
            }
        }
    }

    /// The facility name as written in the config and printed by `-P`.
    pub fn name(self) -> String {
        match self {
            SyslogFacility::User => "LOG_USER".to_string(),
            SyslogFacility::Mail => "LOG_MAIL".to_string(),
            SyslogFacility::Local(n) => format!("LOG_LOCAL{n}"),
        }
    }

    /// The libc facility constant.
    pub fn to_libc(self) -> libc::c_int {
        match self {
            SyslogFacility::User => libc::LOG_USER,
            SyslogFacility::Mail => libc::LOG_MAIL,
            SyslogFacility::Local(n) => match n {
                0 => libc::LOG_LOCAL0,
                1 => libc::LOG_LOCAL1,
                2 => libc::LOG_LOCAL2,
                3 => libc::LOG_LOCAL3,
                4 => libc::LOG_LOCAL4,
                5 => libc::LOG_LOCAL5,
                6 => libc::LOG_LOCAL6,
                _ => libc::LOG_LOCAL7,
            },
        }
    }
}

/// Every msmtprc setting of one account. `None` means "not set" (what `-P` prints as
/// `(not set)`); derived defaults (port, trust file, proxy port) are filled in by
/// `account::finalize`, not here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub host: Option<String>,
    /// `None` until finalize picks 25/465 (SMTP); LMTP has no default.
    pub port: Option<u16>,
    pub source_ip: Option<String>,
    pub proxy_host: Option<String>,
    /// `None` = default (1080 once a proxy host is set).
    pub proxy_port: Option<u16>,
    pub socket: Option<String>,
    /// Seconds; `None` = off.
    pub timeout: Option<u32>,
    pub protocol: Protocol,
    pub domain: String,
    /// Envelope-from; `Some("")` = `MAIL FROM:<>`. May be a glob pattern or contain `%` patterns
    /// until finalize.
    pub from: Option<String>,
    pub from_full_name: Option<String>,
    pub allow_from_override: bool,
    pub auth: Auth,
    pub user: Option<String>,
    /// Kept as a [`Secret`](crate::secret::Secret) so that no `Debug` print can show it.
    pub password: Option<crate::secret::Secret>,
    pub passwordeval: Option<String>,
    pub ntlmdomain: Option<String>,
    pub tls: bool,
    pub tls_starttls: bool,
    pub tls_trust_file: Option<TlsTrust>,
    pub tls_crl_file: Option<String>,
    /// Raw fingerprint bytes: 16 (MD5), 20 (SHA-1) or 32 (SHA-256).
    pub tls_fingerprint: Option<Vec<u8>>,
    pub tls_key_file: Option<String>,
    pub tls_cert_file: Option<String>,
    pub tls_certcheck: bool,
    pub tls_min_dh_prime_bits: Option<u32>,
    pub tls_priorities: Option<String>,
    pub tls_host_override: Option<String>,
    pub dsn_notify: Option<DsnNotify>,
    pub dsn_return: Option<DsnReturn>,
    pub set_from_header: SetFromHeader,
    pub set_date_header: AutoOff,
    pub set_msgid_header: AutoOff,
    pub remove_bcc_headers: bool,
    pub undisclosed_recipients: bool,
    /// A file name, or `-` for stdout.
    pub logfile: Option<String>,
    pub logfile_time_format: Option<String>,
    pub syslog: Option<SyslogFacility>,
    pub aliases: Option<String>,
    pub auto_from: bool,
    pub maildomain: Option<String>,
    /// postie only: queue mail that could not be sent for a transient reason.
    pub queue: bool,
    /// postie only: where the queue lives.
    pub queue_dir: Option<PathBuf>,
    /// postie only: mail the sender when a queued message is set aside; `None` = on exactly
    /// when the account has a `from` address.
    pub queue_notify: Option<bool>,
    /// postie only: seconds after which a queued message that still fails is set aside;
    /// `None` = the default (5 days).
    pub queue_max_age: Option<u64>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            host: None,
            port: None,
            source_ip: None,
            proxy_host: None,
            proxy_port: None,
            socket: None,
            timeout: None,
            protocol: Protocol::Smtp,
            domain: "localhost".to_string(),
            from: None,
            from_full_name: None,
            allow_from_override: true,
            auth: Auth::Off,
            user: None,
            password: None,
            passwordeval: None,
            ntlmdomain: None,
            tls: false,
            tls_starttls: true,
            tls_trust_file: None,
            tls_crl_file: None,
            tls_fingerprint: None,
            tls_key_file: None,
            tls_cert_file: None,
            tls_certcheck: true,
            tls_min_dh_prime_bits: None,
            tls_priorities: None,
            tls_host_override: None,
            dsn_notify: None,
            dsn_return: None,
            set_from_header: SetFromHeader::Auto,
            set_date_header: AutoOff::Auto,
            set_msgid_header: AutoOff::Auto,
            remove_bcc_headers: true,
            undisclosed_recipients: false,
            logfile: None,
            logfile_time_format: None,
            syslog: None,
            aliases: None,
            auto_from: false,
            maildomain: None,
            queue: false,
            queue_dir: None,
            queue_notify: None,
            queue_max_age: None,
        }
    }
}

/// One bit per setting for the "explicitly set" mask. Compatibility commands map onto the
/// setting they change; `timeout`/`connect_timeout` share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Host,
    Port,
    SourceIp,
    ProxyHost,
    ProxyPort,
    Socket,
    Timeout,
    Protocol,
    Domain,
    From,
    FromFullName,
    AllowFromOverride,
    Auth,
    User,
    Password,
    PasswordEval,
    NtlmDomain,
    Tls,
    TlsStarttls,
    TlsTrustFile,
    TlsCrlFile,
    TlsFingerprint,
    TlsKeyFile,
    TlsCertFile,
    TlsCertcheck,
    TlsMinDhPrimeBits,
    TlsPriorities,
    TlsHostOverride,
    DsnNotify,
    DsnReturn,
    SetFromHeader,
    SetDateHeader,
    SetMsgidHeader,
    RemoveBccHeaders,
    UndisclosedRecipients,
    Logfile,
    LogfileTimeFormat,
    Syslog,
    Aliases,
    AutoFrom,
    MailDomain,
    Queue,
    QueueDir,
    QueueNotify,
    QueueMaxAge,
}

const ALL_FIELDS: [Field; 45] = [
    Field::Host,
    Field::Port,
    Field::SourceIp,
    Field::ProxyHost,
    Field::ProxyPort,
    Field::Socket,
    Field::Timeout,
    Field::Protocol,
    Field::Domain,
    Field::From,
    Field::FromFullName,
    Field::AllowFromOverride,
    Field::Auth,
    Field::User,
    Field::Password,
    Field::PasswordEval,
    Field::NtlmDomain,
    Field::Tls,
    Field::TlsStarttls,
    Field::TlsTrustFile,
    Field::TlsCrlFile,
    Field::TlsFingerprint,
    Field::TlsKeyFile,
    Field::TlsCertFile,
    Field::TlsCertcheck,
    Field::TlsMinDhPrimeBits,
    Field::TlsPriorities,
    Field::TlsHostOverride,
    Field::DsnNotify,
    Field::DsnReturn,
    Field::SetFromHeader,
    Field::SetDateHeader,
    Field::SetMsgidHeader,
    Field::RemoveBccHeaders,
    Field::UndisclosedRecipients,
    Field::Logfile,
    Field::LogfileTimeFormat,
    Field::Syslog,
    Field::Aliases,
    Field::AutoFrom,
    Field::MailDomain,
    Field::Queue,
    Field::QueueDir,
    Field::QueueNotify,
    Field::QueueMaxAge,
];

/// The set of settings explicitly given for an account (in the file, by a parent, or on the
/// command line). Values copied from `defaults` are *not* in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mask(u64);

impl Mask {
    pub(crate) fn set(&mut self, f: Field) {
        self.0 |= 1 << (f as u32);
    }
    pub(crate) fn has(self, f: Field) -> bool {
        self.0 & (1 << (f as u32)) != 0
    }
}

/// Copy one setting's value from `src` to `dst`.
fn copy_field(dst: &mut Settings, src: &Settings, f: Field) {
    macro_rules! c {
        ($x:ident) => {
            dst.$x = src.$x.clone()
        };
    }
    match f {
        Field::Host => c!(host),
        Field::Port => c!(port),
        Field::SourceIp => c!(source_ip),
        Field::ProxyHost => c!(proxy_host),
        Field::ProxyPort => c!(proxy_port),
        Field::Socket => c!(socket),
        Field::Timeout => c!(timeout),
        Field::Protocol => c!(protocol),
        Field::Domain => c!(domain),
        Field::From => c!(from),
        Field::FromFullName => c!(from_full_name),
        Field::AllowFromOverride => c!(allow_from_override),
        Field::Auth => c!(auth),
        Field::User => c!(user),
        Field::Password => c!(password),
        Field::PasswordEval => c!(passwordeval),
        Field::NtlmDomain => c!(ntlmdomain),
        Field::Tls => c!(tls),
        Field::TlsStarttls => c!(tls_starttls),
        Field::TlsTrustFile => c!(tls_trust_file),
        Field::TlsCrlFile => c!(tls_crl_file),
        Field::TlsFingerprint => c!(tls_fingerprint),
        Field::TlsKeyFile => c!(tls_key_file),
        Field::TlsCertFile => c!(tls_cert_file),
        Field::TlsCertcheck => c!(tls_certcheck),
        Field::TlsMinDhPrimeBits => c!(tls_min_dh_prime_bits),
        Field::TlsPriorities => c!(tls_priorities),
        Field::TlsHostOverride => c!(tls_host_override),
        Field::DsnNotify => c!(dsn_notify),
        Field::DsnReturn => c!(dsn_return),
        Field::SetFromHeader => c!(set_from_header),
        Field::SetDateHeader => c!(set_date_header),
        Field::SetMsgidHeader => c!(set_msgid_header),
        Field::RemoveBccHeaders => c!(remove_bcc_headers),
        Field::UndisclosedRecipients => c!(undisclosed_recipients),
        Field::Logfile => c!(logfile),
        Field::LogfileTimeFormat => c!(logfile_time_format),
        Field::Syslog => c!(syslog),
        Field::Aliases => c!(aliases),
        Field::AutoFrom => c!(auto_from),
        Field::MailDomain => c!(maildomain),
        Field::Queue => c!(queue),
        Field::QueueDir => c!(queue_dir),
        Field::QueueNotify => c!(queue_notify),
        Field::QueueMaxAge => c!(queue_max_age),
    }
}

/// Why a command could not be applied. Display gives msmtp's text without the `FILE: line N: `
/// prefix, e.g. `command host needs an argument`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    Unknown { command: String },
    NeedsArgument { command: String },
    TakesNoArgument { command: String },
    Invalid { command: String, argument: String },
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown { command } => write!(f, "unknown command {command}"),
            CommandError::NeedsArgument { command } => {
                write!(f, "command {command} needs an argument")
            }
            CommandError::TakesNoArgument { command } => {
                write!(f, "command {command} does not take an argument")
            }
            CommandError::Invalid { command, argument } => {
                write!(f, "invalid argument {argument} for command {command}")
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// One account: its name, the file it came from, its settings and which of them were set
/// explicitly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// The file that defined it; `None` for a command-line (`--host`) or environment account.
    pub file: Option<PathBuf>,
    pub settings: Settings,
    /// `--read-envelope-from` was given, overriding was allowed, but the mail had no From
    /// address: the envelope-from is missing and `-P` prints `from = (read from mail)`.
    pub from_pending: bool,
    pub(crate) mask: Mask,
}

impl Account {
    /// A new account whose values are a copy of `defaults` and whose mask is empty.
    pub fn new(name: impl Into<String>, file: Option<PathBuf>, defaults: &Settings) -> Account {
        Account {
            name: name.into(),
            file,
            settings: defaults.clone(),
            from_pending: false,
            mask: Mask::default(),
        }
    }

    /// Overlay the settings explicitly set in `parent` (values and mask bits).
    pub fn inherit(&mut self, parent: &Account) {
        for f in ALL_FIELDS {
            if parent.mask.has(f) {
                copy_field(&mut self.settings, &parent.settings, f);
                self.mask.set(f);
            }
        }
    }

    /// Whether `tls_trust_file` was given explicitly (possibly empty) for this account, by a
    /// parent, or on the command line. Decides the `system` default (msmtp.md 2.6).
    pub fn tls_trust_file_explicit(&self) -> bool {
        self.mask.has(Field::TlsTrustFile)
    }

    /// Apply one config command (also used for command-line overrides: `--host=x` is
    /// `("host", "x")`). `~` in file-name arguments is expanded with `$HOME`.
    pub fn apply(&mut self, command: &str, argument: &str) -> Result<(), CommandError> {
        let home = super::paths::home_dir();
        self.apply_with_home(command, argument, &home)
    }

    /// [`Account::apply`] with an explicit home directory for `~` expansion.
    pub fn apply_with_home(
        &mut self,
        command: &str,
        arg: &str,
        home: &str,
    ) -> Result<(), CommandError> {
        let field = apply_to(&mut self.settings, command, arg, home)?;
        if let Some(f) = field {
            self.mask.set(f);
        }
        Ok(())
    }
}

fn opt(arg: &str) -> Option<String> {
    (!arg.is_empty()).then(|| arg.to_string())
}

/// Validate and store one command; returns the mask bit to set (`None` for ignored commands).
fn apply_to(
    s: &mut Settings,
    cmd: &str,
    arg: &str,
    home: &str,
) -> Result<Option<Field>, CommandError> {
    let invalid = || CommandError::Invalid {
        command: cmd.to_string(),
        argument: arg.to_string(),
    };
    let needs = || CommandError::NeedsArgument {
        command: cmd.to_string(),
    };
    // on/off with empty = on
    let onoff = || match arg {
        "" | "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(invalid()),
    };
    let f = match cmd {
        "host" => {
            if arg.is_empty() {
                return Err(needs());
            }
            s.host = Some(arg.to_string());
            Field::Host
        }
        "port" => {
            if arg.is_empty() {
                return Err(needs());
            }
            s.port = Some(port_number(arg).ok_or_else(invalid)?);
            Field::Port
        }
        "source_ip" => {
            s.source_ip = opt(arg);
            Field::SourceIp
        }
        "proxy_host" => {
            s.proxy_host = opt(arg);
            Field::ProxyHost
        }
        "proxy_port" => {
            s.proxy_port = if arg.is_empty() {
                None
            } else {
                Some(port_number(arg).ok_or_else(invalid)?)
            };
            Field::ProxyPort
        }
        "socket" => {
            s.socket = opt(arg);
            Field::Socket
        }
        "timeout" | "connect_timeout" => {
            if arg.is_empty() {
                return Err(needs());
            }
            s.timeout = if arg == "off" {
                None
            } else {
                Some(pos_int(arg).ok_or_else(invalid)?)
            };
            Field::Timeout
        }
        "protocol" => {
            s.protocol = match arg {
                "" => return Err(needs()),
                "smtp" => Protocol::Smtp,
                "lmtp" => Protocol::Lmtp,
                _ => return Err(invalid()),
            };
            Field::Protocol
        }
        "domain" => {
            s.domain = arg.to_string();
            Field::Domain
        }
        "from" => {
            s.from = Some(arg.to_string());
            Field::From
        }
        "from_full_name" => {
            s.from_full_name = opt(arg);
            Field::FromFullName
        }
        "allow_from_override" => {
            s.allow_from_override = match arg {
                "on" => true,
                "off" => false,
                _ => return Err(invalid()),
            };
            Field::AllowFromOverride
        }
        "auth" => {
            s.auth = match arg {
                "" | "on" => Auth::Choose,
                "off" => Auth::Off,
                m => Auth::Method(AuthMethod::parse(m).ok_or_else(invalid)?),
            };
            Field::Auth
        }
        "user" => {
            s.user = opt(arg);
            Field::User
        }
        "password" => {
            s.password = opt(arg).map(crate::secret::Secret::new);
            Field::Password
        }
        "passwordeval" => {
            s.passwordeval = opt(arg);
            Field::PasswordEval
        }
        "ntlmdomain" => {
            s.ntlmdomain = opt(arg);
            Field::NtlmDomain
        }
        "tls" => {
            s.tls = onoff()?;
            Field::Tls
        }
        "tls_starttls" => {
            s.tls_starttls = onoff()?;
            Field::TlsStarttls
        }
        "tls_nostarttls" => {
            if !arg.is_empty() {
                return Err(CommandError::TakesNoArgument {
                    command: cmd.to_string(),
                });
            }
            s.tls_starttls = false;
            Field::TlsStarttls
        }
        "tls_trust_file" => {
            s.tls_trust_file = match arg {
                "" => None,
                "system" => Some(TlsTrust::System),
                f => Some(TlsTrust::File(expand_tilde(f, home))),
            };
            Field::TlsTrustFile
        }
        "tls_crl_file" => {
            s.tls_crl_file = opt(arg).map(|a| expand_tilde(&a, home));
            Field::TlsCrlFile
        }
        "tls_fingerprint" => {
            s.tls_fingerprint = if arg.is_empty() {
                None
            } else {
                Some(fingerprint(arg).ok_or_else(invalid)?)
            };
            Field::TlsFingerprint
        }
        "tls_key_file" => {
            s.tls_key_file = opt(arg).map(|a| expand_tilde(&a, home));
            Field::TlsKeyFile
        }
        "tls_cert_file" => {
            s.tls_cert_file = opt(arg).map(|a| expand_tilde(&a, home));
            Field::TlsCertFile
        }
        "tls_certcheck" => {
            s.tls_certcheck = onoff()?;
            Field::TlsCertcheck
        }
        "tls_nocertcheck" => {
            if !arg.is_empty() {
                return Err(CommandError::TakesNoArgument {
                    command: cmd.to_string(),
                });
            }
            s.tls_certcheck = false;
            Field::TlsCertcheck
        }
        "tls_force_sslv3" => return Ok(None),
        "tls_min_dh_prime_bits" => {
            s.tls_min_dh_prime_bits = if arg.is_empty() {
                None
            } else {
                Some(pos_int(arg).ok_or_else(invalid)?)
            };
            Field::TlsMinDhPrimeBits
        }
        "tls_priorities" => {
            s.tls_priorities = opt(arg);
            Field::TlsPriorities
        }
        "tls_host_override" => {
            s.tls_host_override = opt(arg);
            Field::TlsHostOverride
        }
        "dsn_notify" => {
            s.dsn_notify = match arg {
                "" => return Err(needs()),
                "off" => None,
                a => Some(DsnNotify::parse(a).ok_or_else(invalid)?),
            };
            Field::DsnNotify
        }
        "dsn_return" => {
            s.dsn_return = match arg {
                "" => return Err(needs()),
                "off" => None,
                "headers" => Some(DsnReturn::Headers),
                "full" => Some(DsnReturn::Full),
                _ => return Err(invalid()),
            };
            Field::DsnReturn
        }
        "set_from_header" => {
            s.set_from_header = match arg {
                "" | "auto" => SetFromHeader::Auto,
                "on" => SetFromHeader::On,
                "off" => SetFromHeader::Off,
                _ => return Err(invalid()),
            };
            Field::SetFromHeader
        }
        "add_missing_from_header" => {
            s.set_from_header = if onoff()? {
                SetFromHeader::Auto
            } else {
                SetFromHeader::Off
            };
            Field::SetFromHeader
        }
        "set_date_header" | "set_msgid_header" | "add_missing_date_header" => {
            let v = if cmd == "add_missing_date_header" {
                if onoff()? {
                    AutoOff::Auto
                } else {
                    AutoOff::Off
                }
            } else {
                match arg {
                    "" | "auto" => AutoOff::Auto,
                    "off" => AutoOff::Off,
                    _ => return Err(invalid()),
                }
            };
            if cmd == "set_msgid_header" {
                s.set_msgid_header = v;
                Field::SetMsgidHeader
            } else {
                s.set_date_header = v;
                Field::SetDateHeader
            }
        }
        "remove_bcc_headers" => {
            s.remove_bcc_headers = onoff()?;
            Field::RemoveBccHeaders
        }
        "keepbcc" => {
            s.remove_bcc_headers = !onoff()?;
            Field::RemoveBccHeaders
        }
        "undisclosed_recipients" => {
            s.undisclosed_recipients = onoff()?;
            Field::UndisclosedRecipients
        }
        "logfile" => {
            s.logfile = opt(arg).map(|a| expand_tilde(&a, home));
            Field::Logfile
        }
        "logfile_time_format" => {
            s.logfile_time_format = opt(arg);
            Field::LogfileTimeFormat
        }
        "syslog" => {
            s.syslog = match arg {
                "" | "on" => Some(SyslogFacility::User),
                "off" => None,
                a => Some(SyslogFacility::parse(a).ok_or_else(invalid)?),
            };
            Field::Syslog
        }
        "aliases" => {
            s.aliases = opt(arg).map(|a| expand_tilde(&a, home));
            Field::Aliases
        }
        "auto_from" => {
            s.auto_from = onoff()?;
            Field::AutoFrom
        }
        "maildomain" => {
            s.maildomain = Some(arg.to_string());
            Field::MailDomain
        }
        "queue" => {
            s.queue = onoff()?;
            Field::Queue
        }
        "queue_dir" => {
            s.queue_dir = opt(arg).map(|a| PathBuf::from(expand_tilde(&a, home)));
            Field::QueueDir
        }
        "queue_notify" => {
            s.queue_notify = Some(onoff()?);
            Field::QueueNotify
        }
        "queue_max_age" => {
            if arg.is_empty() {
                return Err(needs());
            }
            s.queue_max_age = Some(parse_duration(arg).ok_or_else(invalid)?);
            Field::QueueMaxAge
        }
        _ => {
            return Err(CommandError::Unknown {
                command: cmd.to_string(),
            });
        }
    };
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(s("auth", "").auth, Auth::Choose);
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
            Auth::Method(AuthMethod::ScramSha256Plus)
        );
        assert!(applied("auth", "SCRAM-SHA-256-PLUS").is_err());
        assert_eq!(s("auth", "xoauth2").auth, Auth::Method(AuthMethod::Xoauth2));
        assert_eq!(s("auth", "off").auth, Auth::Off);
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
            Some(vec![0xab; 16])
        );
        let sp = ["AB"; 16].join(" ");
        assert_eq!(
            s("tls_fingerprint", &sp).tls_fingerprint,
            Some(vec![0xab; 16])
        );
        let sha1 = ["aB"; 20].join(":");
        assert_eq!(
            s("tls_fingerprint", &sha1).tls_fingerprint,
            Some(vec![0xab; 20])
        );
        let sha256 = ["01"; 32].join(":");
        assert_eq!(
            s("tls_fingerprint", &sha256).tls_fingerprint,
            Some(vec![1; 32])
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
    fn mask_tracks_explicit_settings_and_inheritance_overlays() {
        let defaults = Settings {
            port: Some(99),
            ..Settings::default()
        };
        let mut parent = Account::new("p", None, &defaults);
        parent.apply_with_home("host", "ph", "/h").unwrap();
        parent.apply_with_home("tls_trust_file", "", "/h").unwrap();
        let mut child = Account::new("c", None, &Settings::default());
        child.inherit(&parent);
        // the parent's port came from its defaults: not inherited
        assert_eq!(child.settings.port, None);
        assert_eq!(child.settings.host.as_deref(), Some("ph"));
        assert!(child.tls_trust_file_explicit());
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

    #[test]
    fn unknown_command_text() {
        assert_eq!(invalid("Host", "x"), "unknown command Host");
        assert_eq!(invalid("eval", "x"), "unknown command eval");
    }

    #[test]
    fn debug_output_of_settings_never_shows_the_password() {
        let mut a = Account::new("a", None, &Settings::default());
        a.apply("password", "hunter2-secret").expect("valid");
        assert!(!format!("{a:?}").contains("hunter2-secret"));
        assert_eq!(
            a.settings.password.as_ref().map(|p| p.expose()),
            Some("hunter2-secret")
        );
    }
}
