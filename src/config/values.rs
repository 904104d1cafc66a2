//! The value types of msmtprc settings (msmtp.md section 2.5) that are not plain text or
//! numbers. The ones the layers below use as they are (trust, fingerprint, auth mechanism,
//! protocol) are theirs; the rest are defined here with their msmtprc spelling.

// The value types shared with the layers below: the session and the TLS layer take them as
// they are, so no setting is converted through a string on its way to the server.
pub use crate::net::tls::{Fingerprint, Trust};
pub use crate::smtp::{AuthSetting, Mechanism, Protocol};

/// `set_from_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SetFromHeader {
    #[default]
    Auto,
    On,
    Off,
}

impl SetFromHeader {
    /// `auto` (or empty), `on` or `off`.
    pub fn parse(s: &str) -> Option<SetFromHeader> {
        match s {
            "" | "auto" => Some(SetFromHeader::Auto),
            "on" => Some(SetFromHeader::On),
            "off" => Some(SetFromHeader::Off),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            SetFromHeader::Auto => "auto",
            SetFromHeader::On => "on",
            SetFromHeader::Off => "off",
        }
    }
}

/// `set_date_header` and `set_msgid_header`: add the header when missing, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoOff {
    #[default]
    Auto,
    Off,
}

impl AutoOff {
    /// `auto` (or empty) or `off`.
    pub fn parse(s: &str) -> Option<AutoOff> {
        match s {
            "" | "auto" => Some(AutoOff::Auto),
            "off" => Some(AutoOff::Off),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            AutoOff::Auto => "auto",
            AutoOff::Off => "off",
        }
    }
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
