"""No network at run time: a tiny `fit`, then `ask` and `eval` on its adapter, with every socket guarded.

The commands run in a child process whose sockets refuse (and record) any connection other than
AF_UNIX and any name lookup, installed before kgpeft or any library is imported, so that what a
library does at import time is caught too. The child gets none of the test suite's offline
switches (HF_HUB_OFFLINE, CI, ...): it must be kgpeft itself that keeps the stack quiet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WORLD = Path(__file__).parents[1] / "inference" / "world.ttl"

# Run with `python -c`: patches socket, then runs each kgpeft command given as a JSON argv list.
_GUARDED_RUN = r"""
import json, socket, sys, traceback

attempts = open(sys.argv[1], "a", encoding="utf-8")

def refuse(what):
    attempts.write(what + "\n" + "".join(traceback.format_stack(limit=12)) + "\n")
    attempts.flush()
    raise OSError(f"network access refused by the test: {what}")

def guard(method):
    def guarded(self, address, *args):
        if self.family != socket.AF_UNIX:
            refuse(f"{method.__name__} {address!r}")
        return method(self, address, *args)
    return guarded

socket.socket.connect = guard(socket.socket.connect)
socket.socket.connect_ex = guard(socket.socket.connect_ex)
socket.create_connection = lambda address, *a, **k: refuse(f"create_connection {address!r}")
socket.getaddrinfo = lambda host, *a, **k: refuse(f"getaddrinfo {host!r}")
socket.gethostbyname = lambda host: refuse(f"gethostbyname {host!r}")

from kgpeft.cli import main

for argv in json.loads(sys.argv[2]):
    code = main(argv)
    if code != 0:
        sys.exit(f"kgpeft {argv[0]} exited {code}")
"""

# The test suite's own offline switches, and CI (TRL sends no telemetry when it is set).
_SUITE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "CI")


def test_fit_ask_and_eval_open_no_network_connection(tiny_checkpoint, tmp_path):
    adapter = tmp_path / "world"
    fit = ["fit", "--kg", str(WORLD), "--base-model", str(tiny_checkpoint), "-o", str(adapter), "--teacher", "oracle"]
    ask = ["ask", "Which region is Germany located in?", "--adapter", str(adapter), "--json"]
    evaluate = ["eval", "--adapter", str(adapter), "--limit", "2", "--report-dir", str(tmp_path / "report")]
    commands = [
        [*fit, "--max-steps", "1", "--lora-r", "2", "--per-device-train-batch-size", "2"],
        [*ask, "--num-paths", "1", "--max-hops", "1"],
        [*evaluate, "--num-paths", "1", "--max-hops", "1", "--fact-probes", "0", "--retention-tokens", "0"],
    ]
    env = {k: v for k, v in os.environ.items() if k not in _SUITE_SWITCHES}
    env.update(OMP_NUM_THREADS="1", KGPEFT_CACHE=str(tmp_path / "cache"))
    attempts = tmp_path / "attempts.txt"
    result = subprocess.run(
        [sys.executable, "-c", _GUARDED_RUN, str(attempts), json.dumps(commands)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tried = attempts.read_text(encoding="utf-8") if attempts.exists() else ""
    assert not tried, f"network access attempted:\n{tried}"
    assert result.returncode == 0, result.stderr[-3000:]
    assert (adapter / "kgpeft.json").is_file() and (tmp_path / "report" / "report.json").is_file()


def test_hub_kernels_are_off_unless_asked_for():
    check = (
        "import importlib.util, os, kgpeft, transformers; "
        "print(os.environ['USE_HUB_KERNELS'], importlib.util.find_spec('kernels') is None)"
    )
    env = {k: v for k, v in os.environ.items() if k != "USE_HUB_KERNELS"}
    quiet = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True)
    assert quiet.stdout.split() == ["NO", "True"]  # transformers' switch off, the package hidden from bitsandbytes
    asked = subprocess.run(
        [sys.executable, "-c", check], env={**env, "USE_HUB_KERNELS": "YES"}, capture_output=True, text=True, check=True
    )
    assert asked.stdout.split()[0] == "YES"  # the user's choice stands
