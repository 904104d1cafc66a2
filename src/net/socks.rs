//! The SOCKS5 CONNECT handshake (RFC 1928, no authentication) used for `proxy_host`. The target
//! host name is passed to the proxy unresolved (address type 3), so DNS happens at the proxy.
//! Failures read `proxy failure: REASON` and exit 69, as in msmtp.

use crate::error::{Error, Result, Sysexit};
use std::io::{Read, Write};

fn failure(reason: &str) -> Error {
    Error::new(Sysexit::Unavailable, format!("proxy failure: {reason}")).transient()
}

/// msmtp's text for a SOCKS5 reply code.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general server failure",
        2 => "connection not allowed",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "time-to-live expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// Asks the proxy on `s` to connect to `host`:`port`.
pub fn handshake<S: Read + Write>(s: &mut S, host: &str, port: u16) -> Result<()> {
    let len = u8::try_from(host.len()).map_err(|_| failure("host name too long"))?;
    let write = |s: &mut S, b: &[u8]| {
        s.write_all(b)
            .and_then(|()| s.flush())
            .map_err(|_| failure("network write error"))
    };
    let read = |s: &mut S, b: &mut [u8]| s.read_exact(b).map_err(|_| failure("network read error"));
    write(s, &[5, 1, 0])?;
    let mut greet = [0u8; 2];
    read(s, &mut greet)?;
    if greet != [5, 0] {
        return Err(failure("unexpected reply"));
    }
    let mut req = vec![5, 1, 0, 3, len];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    write(s, &req)?;
    let mut head = [0u8; 4];
    read(s, &mut head)?;
    if head[0] != 5 {
        return Err(failure("unexpected reply"));
    }
    if head[1] != 0 {
        return Err(failure(reply_text(head[1])));
    }
    // Skip the bound address the proxy reports; its length depends on the address type.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut l = [0u8; 1];
            read(s, &mut l)?;
            usize::from(l[0]) + 2
        }
        _ => return Err(failure("unexpected reply")),
    };
    let mut skip = vec![0u8; rest];
    read(s, &mut skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    struct Fake {
        input: Cursor<Vec<u8>>,
        out: Vec<u8>,
    }
    impl Read for Fake {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(b)
        }
    }
    impl Write for Fake {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.out.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn socks5_connect_sends_domain_name_request() {
        let mut f = Fake {
            input: Cursor::new(vec![5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 25]),
            out: Vec::new(),
        };
        handshake(&mut f, "mx.example", 587).expect("ok");
        let mut want = vec![5, 1, 0, 5, 1, 0, 3, 10];
        want.extend_from_slice(b"mx.example");
        want.extend_from_slice(&[2, 75]);
        assert_eq!(f.out, want);
    }

    #[test]
    fn socks5_refusal_is_proxy_failure_69() {
        let mut f = Fake {
            input: Cursor::new(vec![5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]),
            out: Vec::new(),
        };
        let e = handshake(&mut f, "h", 25).expect_err("fails");
        assert_eq!(e.message, "proxy failure: connection refused");
        assert_eq!(e.exit, Sysexit::Unavailable);
    }

    #[test]
    fn socks5_eof_is_read_error() {
        let mut f = Fake {
            input: Cursor::new(vec![]),
            out: Vec::new(),
        };
        let e = handshake(&mut f, "h", 25).expect_err("fails");
        assert_eq!(e.message, "proxy failure: network read error");
    }
}
