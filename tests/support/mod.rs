//! Shared test support: a scripted, recording SMTP/LMTP server (`server`), the test PKI it
//! serves (`pki`) and the harness that runs postie (or msmtp) in a private HOME (`program`).
//!
//! Integration tests include this with `mod support;`. Not every test binary uses every item,
//! hence the crate-wide `dead_code` allowance below.
#![allow(dead_code)]

pub mod oauth;
pub mod pki;
pub mod program;
pub mod server;
