"""Binding a service's HTTP port before its HTTP server is loaded (no aiohttp import here)."""

from __future__ import annotations

import socket

from longboat.errors import ConfigError

__all__ = ["bind_error", "bind_socket"]


def bind_error(host: str, port: int, error: OSError, *, setting: str) -> ConfigError:
    """The user's error for an address that cannot be bound: what failed and which setting."""
    return ConfigError(
        f"cannot listen on {host}:{port} ({error.strerror or error}); choose another {setting} "
        "(0 picks a free one)"
    )


def bind_socket(host: str, port: int, *, setting: str) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (0: a free port).

    Connections made before a server accepts on it wait in its backlog.

    Raises:
        ConfigError: The address cannot be bound (in use, not local); names ``setting``.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as e:
        raise bind_error(host, port, e, setting=setting) from e
    sock.setblocking(False)
    return sock
