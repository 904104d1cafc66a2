"""OAuth2 built in (issue 13) against the e2e suite's real Postfix and Dovecot.

``scripts/e2e/run`` appends ``register(run_module)`` to its CASES. Dovecot's
``passdb oauth2`` checks every XOAUTH2/OAUTHBEARER token with the fake provider's
introspection endpoint (oauth_provider.py), so Postfix accepts only a token that
postie obtained by itself: ``postie oauth2 import`` stores a refresh token the
provider knows, then each send refreshes (or uses the cached access token) over
HTTPS, trusting the suite's CA through ``SSL_CERT_FILE``.

* oauth2-xoauth2: import, then a send with ``auth xoauth2``: delivered, checked,
  Postfix logged ``sasl_method=XOAUTH2``.
* oauth2-oauthbearer-cached: a send with ``auth on`` (STARTTLS): OAUTHBEARER is
  chosen, and where the kernel keyring works the cached token is used (no
  token request).

With another sendmail program (msmtp) they are skipped.
"""

from __future__ import annotations

import os
import subprocess

import oauth_provider

R = None


def register(run_module) -> list:
    global R
    R = run_module
    return [
        ("oauth2-xoauth2", case_xoauth2),
        ("oauth2-oauthbearer-cached", case_oauthbearer_cached),
    ]


def need_oauth2(s) -> None:
    if getattr(s, "_has_oauth2", None) is None:
        try:
            p = subprocess.run([s.sendmail, "oauth2", "--help"], capture_output=True,
                               timeout=30, stdin=subprocess.DEVNULL)
            s._has_oauth2 = p.returncode == 0 and b"oauth2 login" in p.stdout
        except (OSError, subprocess.SubprocessError):
            s._has_oauth2 = False
    if not s._has_oauth2:
        raise R.SoftSkip("the sendmail program has no built-in OAuth2")


def env(s) -> dict[str, str]:
    return {"SSL_CERT_FILE": str(s.mta.ca_cert), "XDG_STATE_HOME": str(s.work / "oauth-state")}


def rc(s, case: str, auth: str):
    p = s.mta.oauth
    return s.rc(case, auth=auth, user=oauth_provider.USER, passwordeval=None,
                oauth2_provider="custom", oauth2_client_id=oauth_provider.CLIENT_ID,
                oauth2_token_url=p.token_url, oauth2_scope="smtp")


def imported(s, path) -> None:
    if getattr(s, "_oauth2_imported", False):
        return
    argv = [s.sendmail, "-C", str(path), "oauth2", "import", "-a", "default"]
    e = dict(os.environ)
    e.update(env(s))
    p = subprocess.run(argv, input=f"{oauth_provider.REFRESH_TOKEN}\n".encode(),
                       capture_output=True, timeout=60, env=e)
    if p.returncode != 0:
        raise R.Fail(f"oauth2 import: exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    if oauth_provider.REFRESH_TOKEN.encode() in p.stdout + p.stderr:
        raise R.Fail("oauth2 import printed the refresh token")
    s._oauth2_imported = True


def send(s, case: str, auth: str, mech: str) -> None:
    to = R.addr(case, "to")
    path = rc(s, case, auth)
    imported(s, path)
    snap = s.snapshot(to)
    nlog = len(s.log_lines())
    body = f"sent with an OAuth2 token ({mech})\n".encode()
    r = s.send([to], f"Subject: {case}\n\n".encode() + body, rc=path, env=env(s))
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1})
    R.check_message(got[to][0], rcpt=to, env_from=R.FROM, body=body)
    line = s.expect_log(nlog, rf".* user={oauth_provider.USER} from={R.FROM} recipients={to} .*"
                              r"exitcode=EX_OK")
    used = s.mta.sasl_method(R.queue_id(line))
    if used != mech:
        raise R.Fail(f"Postfix logged sasl_method={used}, expected {mech}")


def case_xoauth2(s) -> None:
    need_oauth2(s)
    send(s, "oauth2-x", "xoauth2", "XOAUTH2")


def status(s, path) -> str:
    e = dict(os.environ)
    e.update(env(s))
    p = subprocess.run([s.sendmail, "-C", str(path), "oauth2", "status"], capture_output=True,
                       timeout=60, env=e, stdin=subprocess.DEVNULL)
    return p.stdout.decode(errors="replace")


def case_oauthbearer_cached(s) -> None:
    need_oauth2(s)
    path = rc(s, "oauth2-b", "on")
    imported(s, path)
    # Where the kernel keyring can be used, the access token is cached since the import.
    cached = "access token cached," in status(s, path)
    before = s.mta.oauth.token_requests
    send(s, "oauth2-b", "on", "OAUTHBEARER")
    after = s.mta.oauth.token_requests
    if cached and after != before:
        raise R.Fail(f"{after - before} token request(s): the cached access token was not used")
    if oauth_provider.REFRESH_TOKEN in status(s, path):
        raise R.Fail("oauth2 status printed the refresh token")
    # Leave no access token in the user keyring behind.
    e = dict(os.environ)
    e.update(env(s))
    subprocess.run([s.sendmail, "-C", str(path), "oauth2", "logout", "-a", "default"],
                   capture_output=True, timeout=60, env=e, stdin=subprocess.DEVNULL)
