//! postie: a sendmail that is a drop-in for msmtp 1.8.23.
//!
//! Data flows left to right, one module per step:
//!
//! ```text
//! argv ──cli──▶ Cli ─┐
//! stdin ──message::headers──▶ HeaderBlock (recipients for -t, From, Date, Message-ID)
//! files ──config──▶ Config ──account::select──▶ Account (settings resolved, checked)
//! Account ──secret──▶ password (passwordeval / netrc / tty prompt, only when needed)
//! (Account, HeaderBlock, Cli) ──envelope──▶ Envelope (reverse path, recipients)
//! net::connect ──smtp::session──▶ DATA streamed from stdin by message::body
//! Result ──log──▶ log line / syslog ──error::Sysexit──▶ exit code
//! ```
//!
//! `app` strings these together; `main` only collects argv and exits.

pub mod account;
pub mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod fsread;
pub mod log;
pub mod message;
pub mod net;
pub mod oauth2;
pub mod queue;
pub mod reply;
pub mod secret;
pub mod serverinfo;
pub mod smtp;
pub mod smtpd;
pub mod sys;
pub mod ui;
