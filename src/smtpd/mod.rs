//! postie as an SMTP server on its stdin and stdout (`-bs`, as Postfix's and Exim's
//! `sendmail -bs`), for a local caller that is already trusted: no AUTH, no TLS on this side.
//! This module is the protocol alone, without I/O of its own and without knowing where mail
//! goes: [`command`] parses one command line ([`parse_command`], a pure function), [`input`]
//! reads bounded command lines and the dot-terminated data from one fixed buffer, and
//! [`server`] runs the dialogue and hands each step to a [`Relay`] (`app::bs` relays to the
//! account's server, or queues).

pub mod command;
pub mod input;
pub mod server;

pub use command::{Command, parse_command, reply};
pub use server::{EXTENSIONS, End, Limits, Relay, format_reply, serve};
