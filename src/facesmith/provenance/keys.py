"""The local signing identity for C2PA manifests, created on first use.

C2PA signers need an X.509 chain: an end-entity certificate (digitalSignature, an allowed extended key
usage, not self-signed) issued by a CA. facesmith makes a private CA and a signing certificate under
the per-user folder (FACESMITH_HOME, else $XDG_CONFIG_HOME/facesmith, else ~/.config/facesmith). The
manifest is then signed and tamper-evident, but only trusted by whoever trusts this CA: `verify` adds
it as a trust anchor, so files made on this installation verify as trusted and others as valid but
untrusted (nobody can present a self-made key as a public authority).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..errors import OutputError

CERT_YEARS = 10


@dataclass(frozen=True)
class SigningIdentity:
    key_pem: bytes  # PKCS#8 EC P-256 private key of the signing certificate
    chain_pem: bytes  # signing certificate then CA certificate
    ca_pem: bytes  # the CA alone (the trust anchor)


def home() -> Path:
    if os.environ.get("FACESMITH_HOME"):
        return Path(os.environ["FACESMITH_HOME"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "facesmith"


def key_dir() -> Path:
    return home() / "c2pa"


def load_identity(create: bool = True) -> SigningIdentity | None:
    """The local signing identity; created (once) when missing and `create` is true."""
    folder = key_dir()
    files = [folder / n for n in ("signing-key.pem", "signing-chain.pem", "ca.pem")]
    if not all(f.is_file() for f in files):
        if not create:
            return None
        _create(folder)
    key, chain, ca = (f.read_bytes() for f in files)
    return SigningIdentity(key, chain, ca)


def _create(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            folder.chmod(0o700)  # the key signs as this user: keep it private
    except OSError as e:
        raise OutputError(f"cannot create the signing key folder {folder}: {e.strerror}") from None
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=365 * CERT_YEARS)
    user = os.environ.get("USER") or "user"

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "facesmith (local, self-issued)"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"facesmith local CA ({user})")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name(f"facesmith signer ({user})")).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            # C2PA accepts a short list of EKUs for signers; emailProtection is the usual one.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ca_pem = ca.public_bytes(pem)
    # Written key first and CA last: load_identity only trusts a folder holding all three.
    atomic.write_bytes(folder / "signing-key.pem", key_pem)
    with contextlib.suppress(OSError):
        (folder / "signing-key.pem").chmod(0o600)
    atomic.write_bytes(folder / "signing-chain.pem", cert.public_bytes(pem) + ca_pem)
    atomic.write_bytes(folder / "ca.pem", ca_pem)
