//! Connecting: TCP, TLS (msmtp.md section 6).
