//! The SMTP/LMTP client (msmtp.md sections 5.5, 5.6, 6).

pub mod reply;
