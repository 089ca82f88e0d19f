"""Every command written in the README and docs/ is accepted as written: its program exists and its
arguments parse (the command is stopped right after parsing, before any work); the fast ones run
to the end."""

from __future__ import annotations

import argparse
import importlib
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STARTS = ("ds2ta-", "python benchmarks/", "python train/", "python deploy/", "torchrun ")
#: Commands that finish in seconds on the embedded data: run to the end, exit code 0.
FAST = {"ds2ta-params"}


def _commands(path: Path) -> list[str]:
    """Commands in inline code spans and in code blocks (continuation lines joined)."""
    text = path.read_text()
    found = re.findall(r"`([^`\n]+)`", text)
    block = re.sub(r"\\\n\s*", " ", "\n".join(re.findall(r"^```\w*\n(.*?)^```", text, re.S | re.M)))
    indented = re.sub(r"\\\n\s*", " ", "\n".join(re.findall(r"^    (\S.*)$", text, re.M)))
    found += block.splitlines() + indented.splitlines()
    out = []
    for line in found:
        line = line.split(" # ")[0].strip()
        if line.startswith(STARTS) and "..." not in line and "[" not in line and " " in line:
            out.append(line)
    return out


COMMANDS = sorted({(p.name, c) for p in DOCS for c in _commands(p)})
_SECTION = (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1].split("\n[")[0]
SCRIPTS = dict(re.findall(r'^([\w-]+) = "([\w.:]+)"$', _SECTION, re.M))


class Parsed(Exception):
    """Raised in place of running the command once its arguments parsed."""


def _run_parse_only(target, argv: list[str], monkeypatch) -> None:
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(Parsed):
        target()


def test_the_docs_name_commands():
    assert len(COMMANDS) >= 20
    assert {c.split()[0] for _, c in COMMANDS if c.startswith("ds2ta-")} <= set(SCRIPTS)


@pytest.mark.parametrize("doc, command", COMMANDS, ids=[c[:70] for _, c in COMMANDS])
def test_documented_command_is_accepted(doc, command, monkeypatch):
    words = shlex.split(command)
    monkeypatch.chdir(ROOT)
    if words[0].startswith("ds2ta-"):
        assert words[0] in SCRIPTS, f"{doc}: {words[0]} is not a console script"
        module, func = SCRIPTS[words[0]].split(":")
        main = getattr(importlib.import_module(module), func)
        _run_parse_only(lambda: main(words[1:]), words, monkeypatch)
    elif words[0] == "torchrun":
        i = words.index("-m")
        main = importlib.import_module(words[i + 1]).main
        _run_parse_only(lambda: main(words[i + 2 :]), words[i + 1 :], monkeypatch)
    else:
        script = ROOT / words[1]
        assert script.is_file(), f"{doc}: {words[1]} does not exist"
        _run_parse_only(
            lambda: runpy.run_path(str(script), run_name="__main__"), words[1:], monkeypatch
        )


@pytest.mark.parametrize("command", sorted(FAST))
def test_fast_commands_run(command, monkeypatch, capsys):
    assert f"`{command}`" in (ROOT / "README.md").read_text()
    module, func = SCRIPTS[command].split(":")
    assert getattr(importlib.import_module(module), func)([]) in (0, None)
    assert capsys.readouterr().out.strip()
