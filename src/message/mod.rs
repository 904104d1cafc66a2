//! The message: header block, recipients, header rewriting, streamed body (msmtp.md section 5).
