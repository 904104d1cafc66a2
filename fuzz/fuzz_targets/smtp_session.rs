//! The whole client dialogue against a hostile server: the input is everything the server
//! sends (handed out in pieces of a size the first byte chooses); the second byte chooses the
//! protocol, STARTTLS, the AUTH method and the envelope. Any reply must give a result or an
//! error, never a panic, a hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::envelope::Envelope;
use postie::smtp::session::{Session, Stream, run};
use postie::smtp::{AuthSetting, Mechanism, Protocol, SessionSettings, TlsSettings};
use std::io::{self, Read, Write};

struct Server<'a> {
    data: &'a [u8],
    piece: usize,
    tls: bool,
    written: usize,
}

impl Read for Server<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(buf.len()).min(self.piece);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl Write for Server<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for Server<'_> {
    fn is_tls(&self) -> bool {
        self.tls
    }
    fn start_tls(&mut self) -> postie::error::Result<Vec<String>> {
        self.tls = true;
        Ok(vec!["TLS session parameters:".to_string()])
    }
    fn tls_exporter(&self) -> Option<Vec<u8>> {
        self.tls.then(|| vec![7; 32])
    }
}

const METHODS: [AuthSetting; 10] = [
    AuthSetting::Off,
    AuthSetting::Auto,
    AuthSetting::Method(Mechanism::Plain),
    AuthSetting::Method(Mechanism::Login),
    AuthSetting::Method(Mechanism::CramMd5),
    AuthSetting::Method(Mechanism::ScramSha1),
    AuthSetting::Method(Mechanism::ScramSha256),
    AuthSetting::Method(Mechanism::ScramSha256Plus),
    AuthSetting::Method(Mechanism::XOAuth2),
    AuthSetting::Method(Mechanism::OAuthBearer),
];

fuzz_target!(|data: &[u8]| {
    let [piece, opts, server @ ..] = data else {
        return;
    };
    let opts = *opts;
    let settings = SessionSettings {
        protocol: if opts & 1 != 0 {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        },
        auth: METHODS[usize::from(opts >> 4) % METHODS.len()],
        user: Some("user".to_string()),
        dsn_notify: (opts & 4 != 0).then(|| "FAILURE,DELAY".to_string()),
        dsn_return: (opts & 4 != 0).then(|| "HDRS".to_string()),
        ..SessionSettings::default()
    };
    let tls = TlsSettings {
        enabled: opts & 2 != 0,
        starttls: opts & 8 != 0,
        ..TlsSettings::default()
    };
    let envelope = Envelope {
        from: "a@b.example".to_string(),
        recipients: vec!["r1@x.example".to_string(), "r2@y.example".to_string()],
    };
    let stream = Server {
        data: server,
        piece: usize::from(*piece).max(1),
        tls: false,
        written: 0,
    };
    let mut transcript = Vec::new();
    let debug: Option<&mut dyn Write> = if opts & 4 != 0 {
        Some(&mut transcript)
    } else {
        None
    };
    let mut s = Session::new(stream, debug);
    let mut password = |_m: Mechanism| Ok(Some("secret".to_string()));
    let mut body = |w: &mut dyn Write| -> postie::error::Result<u64> {
        w.write_all(b"Subject: x\r\n\r\nbody\r\n")
            .map_err(|_| postie::error::Error::io("write"))?;
        Ok(20)
    };
    let _ = run(
        &mut s,
        &tls,
        &settings,
        &envelope,
        ("mx.example", 587),
        &mut password,
        &mut body,
    );
    let stream = s.into_inner();
    // What the client sent is bounded by what it was sent (no loop without reading).
    assert!(
        stream.written <= 200_000 + 40 * server.len(),
        "wrote {}",
        stream.written
    );
    let _ = transcript;
});
