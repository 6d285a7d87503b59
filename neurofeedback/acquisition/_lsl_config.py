"""liblsl's configuration for this process: discovery on this machine only, or the network.

Why and how: "LSL on one machine" in :mod:`neurofeedback.feedback.outputs`. It lives in the
acquisition layer because both LSL ends use it: the feedback outputs (an outlet) and the LSL
source the recorder reads (:mod:`neurofeedback.acquisition.lsl`, inlets).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from .._validate import check_option
from ..errors import ConfigError

logger = logging.getLogger("neurofeedback")

#: liblsl configuration for discovery on this machine only (see "LSL on one machine" in
#: the package docstring).
LSL_MACHINE_CONFIG = """\
; written by neurofeedback (neurofeedback.acquisition._lsl_config.configure_lsl)
; LSL discovery on this machine only: 127.0.0.1, no multicast or broadcast on the network.
[ports]
IPv6 = disable

[multicast]
ResolveScope = machine
MachineAddresses = {127.0.0.1}

[lab]
KnownPeers = {127.0.0.1}

[log]
level = -3
"""

#: liblsl's default configuration (site-wide discovery), with its log lines silenced (fatal only).
LSL_NETWORK_CONFIG = """\
; written by neurofeedback (neurofeedback.acquisition._lsl_config.configure_lsl)
; liblsl's default discovery (site scope); only the log level is changed.
[log]
level = -3
"""

LSL_SCOPES = ("machine", "network")


def _user_lsl_config() -> str | None:
    """The liblsl configuration the user has set up, if any (it always wins)."""
    env = os.environ.get("LSLAPICFG")
    if env:
        return env
    for cand in (Path("lsl_api.cfg"), Path("~/lsl_api/lsl_api.cfg").expanduser(),
                 Path("/etc/lsl_api/lsl_api.cfg")):
        if cand.is_file():
            return str(cand)
    return None


def configure_lsl(scope: str = "machine") -> Path | None:
    """Point liblsl at a configuration for ``scope``, unless the user has their own.

    Parameters
    ----------
    scope : str
        ``"machine"``: discovery on 127.0.0.1 only (:data:`LSL_MACHINE_CONFIG`);
        ``"network"``: liblsl's default site-wide discovery, with its log quieted.

    Returns
    -------
    path : Path | None
        The configuration file now in ``$LSLAPICFG`` (written to the temporary folder, or the
        user's own), or None when an ``lsl_api.cfg`` is found by liblsl's own search.

    Notes
    -----
    liblsl reads its configuration once per process, at the first LSL call: call this before.
    An existing ``$LSLAPICFG`` or ``lsl_api.cfg`` is respected and left alone. Setting
    ``$LSLAPICFG`` also applies to the programs this process starts.
    """
    check_option("scope", scope, LSL_SCOPES, exc=ConfigError)
    user = _user_lsl_config()
    if user is not None:
        logger.debug("LSL configuration: using the user's %s", user)
        return Path(user) if os.environ.get("LSLAPICFG") else None
    content = LSL_MACHINE_CONFIG if scope == "machine" else LSL_NETWORK_CONFIG
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    path = Path(tempfile.gettempdir()) / f"neurofeedback-lsl-{scope}-{uid}.cfg"
    try:
        if not path.is_file() or path.read_text() != content:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(content)
            os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot write the LSL configuration %s (%s); using liblsl's defaults",
                       path, exc)
        return None
    os.environ["LSLAPICFG"] = str(path)
    return path
