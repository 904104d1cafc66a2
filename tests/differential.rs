mod support;

#[test]
fn smoke() {
    let s = support::server::ServerBuilder::smtp().start();
    let _ = s.port();
    let _ = s.finish();
}
