"""Ed25519 key pairs for agent identities: generate, store (0600) and load."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from longboat.errors import ConfigError

__all__ = [
    "generate_key",
    "load_private_key",
    "public_key_b64",
    "public_key_from_b64",
    "write_private_key",
]


def generate_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_key_b64(private: Ed25519PrivateKey) -> str:
    """The raw public key, base64 (what the registry stores)."""
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """The public key object from its registry form."""
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def write_private_key(private: Ed25519PrivateKey, path: Path) -> Path:
    """Write ``private`` as PKCS#8 PEM with mode 0600 (created so, never world-readable).

    Raises:
        ConfigError: The file exists (refusing to overwrite a key) or cannot be written.
    """
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise ConfigError(f"{path} already exists: remove it or choose another --key-file") from e
    except OSError as e:
        raise ConfigError(f"cannot write the private key to {path}: {e}") from e
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a key written by :func:`write_private_key`.

    Raises:
        ConfigError: Unreadable, not PEM, or not an Ed25519 key (the message names the file).
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as e:
        raise ConfigError(f"cannot read the agent key {path}: {e}") from e
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ConfigError(f"{path} is not a PEM private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key
