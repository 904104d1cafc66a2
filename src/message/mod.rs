//! The message: header block, recipients, header rewriting, streamed body (msmtp.md section 5).
//!
//! * [`headers`]: reads the header block from stdin before any configuration is read and
//!   scans it for From / Date / Message-ID and the `-t` recipients; also scans recipient
//!   operands.
//! * [`body`]: writes the DATA payload (prepended headers, filtered header block, body
//!   streamed from stdin with CRLF and dot-stuffing).
//! * [`msgid`]: the values of added Date and Message-ID headers.
//! * [`rewrite`]: which headers are added or removed, with every added value checked.
//! * [`aliases`]: expansion of local recipients through an aliases file.

pub mod aliases;
pub mod body;
pub mod headers;
pub mod msgid;
pub mod rewrite;

pub use body::{BodyError, Rewrite, write_data};
pub use headers::{
    HeaderBlock, parse_address_list, parse_recipient_operands, read_header_block,
    read_header_block_for,
};
pub use msgid::{date_header_value, format_rfc2822, message_id};
