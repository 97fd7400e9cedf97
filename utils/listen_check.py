"""Whether a server could listen at HOST:PORT, with the reason when it could not."""

from __future__ import annotations

import errno
import os
import socket

import config


def check_port_free(host: str, port: int) -> None:
    """Fail early, with a reason, when the server could not listen there."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise config.ConfigError(f"HOST: cannot listen on {host!r}: {exc.strerror}") from exc
    with socket.socket(family, kind, proto) as probe:
        # The servers set SO_REUSEADDR as well; on Windows it would allow a busy port.
        if os.name != "nt":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise config.ConfigError(port_problem(host, port, exc)) from exc


def port_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
        return f"PORT: {port} on {host} is already in use (another server?); stop it or pass --port"
    if exc.errno == errno.EACCES:
        return f"PORT: not allowed to listen on {port} (below 1024 needs privileges); pass --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"HOST: {host} is not an address of this machine; pass --host"
    return f"PORT: cannot listen on {host}:{port}: {exc.strerror or exc}"
