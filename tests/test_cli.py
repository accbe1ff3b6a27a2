from __future__ import annotations

import subprocess
import sys

from kgpeft.cli import COMMANDS, main


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "kgpeft", "--help"], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert name in out


def test_env_prints_versions(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for name in ("torch", "transformers", "peft", "trl", "bitsandbytes", "devices"):
        assert f"- {name}:" in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 1
    assert "commands" in capsys.readouterr().out
