"""What siibra's features need from the network, told before siibra is asked: the connection timeout, the
offline switches, the local configuration setting, whether siibra's configuration is at hand without a download,
and which hosts do not answer (all at once, in threads, each host once a minute at most)."""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import urllib.parse

from .errors import OptionError

#: hosts of siibra's default configuration (GitHub, then its EBRAINS GitLab mirror)
CONFIG_HOSTS = ("api.github.com", "gitlab.ebrains.eu")
_PROBED = {}   # (host, port) -> (when, None or why not): a host is tried once a minute at most


def timeout() -> float:
    """Seconds a connection to a data source may take (``GPUSIIBRA_FEATURES_TIMEOUT``, default 4)."""
    try:
        t = float(os.environ.get("GPUSIIBRA_FEATURES_TIMEOUT", "4"))
    except ValueError:
        raise OptionError("GPUSIIBRA_FEATURES_TIMEOUT must be a number of seconds") from None
    return t if t > 0 else 4.0


def local_configuration():
    """The local siibra configuration asked for (ours first, then siibra's setting), or None."""
    return os.environ.get("GPUSIIBRA_SIIBRA_CONFIGURATION") or os.environ.get("SIIBRA_USE_CONFIGURATION") or None


_STATE = threading.local()


def offline() -> bool:
    """``GPUSIIBRA_FEATURES_OFFLINE=1`` (or a caller that downloads nothing, as the study page): never reach the
    network (what is not cached or local is an error)."""
    return getattr(_STATE, "offline", False) or \
        os.environ.get("GPUSIIBRA_FEATURES_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


class no_downloads:
    """A block (this thread) in which nothing is downloaded."""

    def __enter__(self):
        self._old = getattr(_STATE, "offline", False)
        _STATE.offline = True

    def __exit__(self, *exc):
        _STATE.offline = self._old


def configuration_at_hand():
    """None when siibra's configuration can be had without a download (a local one, or the default one in
    siibra's cache), else why not; siibra is not imported to tell."""
    if local_configuration():
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        tag = "siibra-" + version("siibra")
    except PackageNotFoundError:
        return "siibra-python is not installed (pip install 'gpusiibra[features]')"
    from ._siibra_cache import siibra_cache_dir

    folder = siibra_cache_dir()
    archive = hashlib.sha256(("https://api.github.com/repos/FZJ-INM1-BDA/siibra-configurations" + tag)
                             .encode("ascii")).hexdigest()
    if os.path.isdir(os.path.join(folder, archive)):
        return None
    return (f"siibra's configuration is not in its cache ({folder}) and no local one is set "
            "(GPUSIIBRA_SIIBRA_CONFIGURATION); `gpusiibra features` downloads it once")


def unreachable(urls) -> dict:
    """{host: reason} for the hosts of ``urls`` that do not accept a connection within :func:`timeout` (tried at
    once, in threads; a name that does not resolve fails at once)."""
    hosts = {}
    for u in urls:
        p = urllib.parse.urlsplit(u)
        if p.scheme in ("http", "https") and p.hostname:
            hosts[p.hostname] = p.port or (443 if p.scheme == "https" else 80)
    if not hosts:
        return {}
    if offline():
        return {h: "downloads are off (GPUSIIBRA_FEATURES_OFFLINE is set, or a study page, which downloads nothing)"
                for h in hosts}
    result, t, now = {}, timeout(), time.monotonic()
    known = {h: _PROBED[(h, p)] for h, p in hosts.items() if now - _PROBED.get((h, p), (-1e9, None))[0] < 60}
    result.update({h: r for h, (_, r) in known.items() if r is not None})
    todo = {h: p for h, p in hosts.items() if h not in known}

    def probe(host, port):
        try:
            socket.create_connection((host, port), timeout=t).close()
            _PROBED[(host, port)] = (time.monotonic(), None)
        except OSError as e:
            result[host] = f"cannot connect to {host}:{port} ({e.strerror or e.__class__.__name__})"
            _PROBED[(host, port)] = (time.monotonic(), result[host])

    threads = [threading.Thread(target=probe, args=hp, daemon=True) for hp in todo.items()]
    for th in threads:
        th.start()
    for th, host in zip(threads, todo):
        th.join(t + 0.5)
        if th.is_alive():
            result[host] = f"{host} did not answer within {t:g} s"
    return result
