"""Throw-away PKI for the sink: a CA made by `openssl req -x509` and a leaf for 127.0.0.1.

A separate CA (rather than one self-signed leaf) because webpki-based clients such as rustls
refuse a certificate that is both the trust anchor and a CA:TRUE end-entity certificate; msmtp
(GnuTLS) accepts either, so the two-level chain treats both programs the same.
"""

import os
import subprocess

LEAF_EXT = """basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
"""


def _openssl(args, cwd):
    r = subprocess.run(
        ["openssl"] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (args[0], r.stdout.decode(errors="replace")))


def make_pki(directory):
    """Create ca.pem, leaf.pem and leaf.key in `directory`; return their paths as a dict."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=postie bench CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        directory,
    )
    _openssl(
        ["req", "-new"] + ec
        + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"],
        directory,
    )
    with open(os.path.join(directory, "leaf.ext"), "w") as f:
        f.write(LEAF_EXT)
    _openssl(
        ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.pem"],
        directory,
    )
    return {
        "ca": os.path.join(directory, "ca.pem"),
        "leaf": os.path.join(directory, "leaf.pem"),
        "key": os.path.join(directory, "leaf.key"),
    }
