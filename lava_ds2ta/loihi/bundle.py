"""INRC cloud bundles: a self-contained folder to run a network on Loihi 2, and its submission.

``make_bundle`` writes ``model.net``, ``run_on_loihi.sh`` (sets ``SLURM``, ``LOIHI_GEN`` and
``PARTITION`` or ``BOARD``; runs ``ds2ta-loihi run`` when lava-loihi is installed, else says so
and runs ``ds2ta-run-cpu``), ``requirements.txt`` (pinned), the lava_ds2ta source
(``src/``, first on the script's ``PYTHONPATH``) and a README. ``submit_commands`` gives the
rsync/ssh commands (with ssh's ``-i``/``-p``/``-o`` from :class:`SshOptions`) that copy a bundle
to the INRC VM, run it and fetch its ``results/``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from lava_ds2ta.errors import InputError
from lava_ds2ta.errors import OutputError
from lava_ds2ta.utils.atomic import atomic_path
from lava_ds2ta.utils.paths import check_output
from lava_ds2ta.utils.paths import check_output_dir

#: Packages pinned in a bundle's requirements (lava-loihi itself comes from Intel via INRC).
PINNED = ("lava-nc", "lava-dl", "torch", "numpy", "h5py", "scikit-learn", "PyYAML", "tqdm",
          "matplotlib", "tonic", "torchvision")  # fmt: skip

RUN_SCRIPT = """#!/usr/bin/env bash
# Run {net} on Loihi 2 (INRC VM), or on Lava's CPU backend where lava-loihi is absent.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONPATH="$PWD/src${{PYTHONPATH:+:$PYTHONPATH}}"  # this bundle's lava_ds2ta first
export SLURM="${{SLURM:-1}}"
export LOIHI_GEN="${{LOIHI_GEN:-{gen}}}"
{placement}
mkdir -p results
PY="${{PYTHON:-python3}}"
if "$PY" -c "import sys, lava.utils.loihi as l; sys.exit(0 if l.is_installed() else 1)"; then
    "$PY" -m lava_ds2ta.loihi.cli run {net} --data {data} {samples}--report results/report.json "$@"
else
    echo "lava-loihi is not installed: running on Lava's CPU backend instead (Loihi2SimCfg)"
    unset SLURM
    "$PY" -m lava_ds2ta.deploy.cli {net} --data {data} {samples}--report results/report.json \\
        --no-progress
fi
"""

README = """# lava_ds2ta bundle for the INRC cloud

Contents: `{net}` (the network), `run_on_loihi.sh` (the run), `requirements.txt` (pinned Python
packages), `src/` (lava_ds2ta {version}).

On the INRC VM (Intel's lava-loihi installed, INRC membership):

    python3 -m venv venv && . venv/bin/activate
    pip install -r requirements.txt
    PARTITION=oheogulch bash run_on_loihi.sh     # or BOARD=<board name>

The script sets `SLURM=1` and `LOIHI_GEN={gen}` (override them in the environment) and writes
`results/report.json`. Without lava-loihi it says so and runs the same data through Lava's CPU
backend (`ds2ta-run-cpu`), which reproduces the trained model's accuracy bit-exactly.

From your own machine: `ds2ta-loihi submit <this folder> --host USER@HOST [--identity KEY]
[--port P] [--ssh-option KEY=VALUE] [--remote-python venv/bin/python]` copies it, runs it and
fetches `results/` back into this folder (`--results DIR` elsewhere; `--dry-run` prints the
commands).
"""


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def make_bundle(network: Path, out: Path, data: str = "digits", samples: int | None = None,
                loihi_gen: str = "N3B3", partition: str | None = None,
                board: str | None = None) -> Path:  # fmt: skip
    """Write the bundle folder ``out`` (or ``out`` as a ``.tar.gz``); returns its path."""
    network = Path(network)
    if not network.is_file():
        raise InputError(f"{network} is not a file; give an exported network (model.net)")
    tarball = out.name.endswith((".tar.gz", ".tgz"))
    if tarball:
        check_output(out, "--out", [network])
    else:
        check_output_dir(out, "--out")
        if out.exists() and any(out.iterdir()):
            raise OutputError(f"--out {out} exists and is not empty; choose a new folder")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / (out.name.split(".")[0] if tarball else out.name)
        folder.mkdir()
        shutil.copy2(network, folder / network.name)
        src = Path(__file__).resolve().parents[2]
        shutil.copytree(src / "lava_ds2ta", folder / "src" / "lava_ds2ta",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
        for name in ("pyproject.toml", "README.md"):
            if (src / name).is_file():
                shutil.copy2(src / name, folder / "src" / name)
        pins = [f"{p}=={v}" for p in PINNED if (v := _version(p))]
        (folder / "requirements.txt").write_text("\n".join([*pins, "./src"]) + "\n")
        place = []
        if partition:
            place.append(f'export PARTITION="${{PARTITION:-{partition}}}"')
        if board:
            place.append(f'export BOARD="${{BOARD:-{board}}}"')
        script = RUN_SCRIPT.format(
            net=shlex.quote(network.name), gen=loihi_gen, data=shlex.quote(data),
            samples=f"--samples {samples} " if samples else "",
            placement="\n".join(place) or "# PARTITION or BOARD: set them in the environment",
        )  # fmt: skip
        (folder / "run_on_loihi.sh").write_text(script)
        (folder / "run_on_loihi.sh").chmod(0o755)
        version = _version("lava-ds2ta") or "source"
        (folder / "README.md").write_text(README.format(net=network.name, gen=loihi_gen,
                                                        version=version))  # fmt: skip
        if tarball:
            with atomic_path(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
                tar.add(folder, arcname=folder.name)
        else:  # copied beside the target, then renamed: never a half-written bundle
            out.parent.mkdir(parents=True, exist_ok=True)
            staged = out.with_name(f".{out.name}.tmp")
            shutil.rmtree(staged, ignore_errors=True)
            try:
                shutil.copytree(folder, staged)
                os.replace(staged, out)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
    return out


@dataclass(frozen=True)
class SshOptions:
    """How ``ssh`` (and ``rsync -e``) reach the host: ssh's ``-i``, ``-p`` and ``-o``."""

    identity: Path | None = None
    port: int | None = None
    options: tuple[str, ...] = ()  #: ``KEY=VALUE`` entries, each passed as ``-o KEY=VALUE``

    def check(self) -> None:
        """One-line :class:`InputError` for a missing identity file, a port outside
        ``[1, 65535]`` or an option that is not ``KEY=VALUE``."""
        if self.identity is not None and not Path(self.identity).is_file():
            raise InputError(f"--identity {self.identity}: file not found; give the private key "
                             "file (as ssh -i)")  # fmt: skip
        if self.port is not None and not 1 <= self.port <= 65535:
            raise InputError(f"--port {self.port} is outside [1, 65535]")
        for option in self.options:
            key, eq, _ = option.partition("=")
            if not eq or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key):
                raise InputError(f"--ssh-option {option!r} is not KEY=VALUE "
                                 "(e.g. StrictHostKeyChecking=accept-new)")  # fmt: skip

    def argv(self) -> list[str]:
        """The ssh arguments, e.g. ``['-i', 'key', '-p', '2222', '-o', 'BatchMode=yes']``."""
        out = ["-i", str(self.identity)] if self.identity is not None else []
        if self.port is not None:
            out += ["-p", str(self.port)]
        for option in self.options:
            out += ["-o", option]
        return out


def _check_host(host: str, remote_dir: str) -> None:
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise InputError(f"--host {host!r} is not a host; give USER@HOST (or HOST)")
    if not remote_dir or remote_dir.startswith("-") or "\n" in remote_dir:
        raise InputError(f"--remote-dir {remote_dir!r} is not a folder name; give a path "
                         "relative to the remote home, or absolute")  # fmt: skip


def results_folder(bundle: Path, results: Path | None) -> Path:
    """Where ``submit`` fetches the remote ``results/``: ``bundle/results`` by default; a
    ``--results`` folder is checked: never the bundle folder itself or one of its inputs."""
    if results is None:
        results = bundle / "results"
    here, inside = Path(os.path.abspath(results)), Path(os.path.abspath(bundle))
    if here == inside or (here.is_relative_to(inside)
                          and not here.is_relative_to(inside / "results")):  # fmt: skip
        raise OutputError(f"--results {results} is inside the bundle {bundle}, among its inputs; "
                          f"give {bundle / 'results'} or a folder outside it")  # fmt: skip
    return check_output_dir(results, "--results")


def submit_commands(bundle: Path, host: str, remote_dir: str, ssh: str = "ssh",
                    args: tuple[str, ...] = (), options: SshOptions = SshOptions(),
                    results: Path | None = None,
                    remote_python: str | None = None) -> list[list[str]]:  # fmt: skip
    """The commands that copy ``bundle`` (without its ``results/``) to ``host:remote_dir``, run
    it there (with ``PYTHON=remote_python`` when given) and fetch its ``results/`` back into
    ``results`` (default ``bundle/results``). ``options`` go to every ssh, also rsync's."""
    ssh_cmd = [ssh, *options.argv()]
    rsh = " ".join(shlex.quote(c) for c in ssh_cmd)
    where = shlex.quote(remote_dir)
    run = f"cd {where} && "
    if remote_python:
        run += f"PYTHON={shlex.quote(remote_python)} "
    run += "bash run_on_loihi.sh"
    if args:
        run += " " + " ".join(shlex.quote(a) for a in args)
    fetched = results if results is not None else bundle / "results"
    return [
        [*ssh_cmd, host, f"mkdir -p {where}"],
        ["rsync", "-az", "--exclude=/results/", "-e", rsh, f"{bundle}/", f"{host}:{remote_dir}/"],
        [*ssh_cmd, host, run],
        ["rsync", "-az", "-e", rsh, f"{host}:{remote_dir}/results/", f"{fetched}/"],
    ]


#: What a failed step says (its exit code is added).
STEP_FAILED = (
    "creating the remote folder on {host} failed; check the host, your ssh key (--identity) and "
    "--port",
    "copying the bundle to {host} failed; is rsync installed there?",
    "the run on {host} failed; its output is above",
    "fetching results/ from {host} failed (did the run write any?)",
)


def submit(bundle: Path, host: str, remote_dir: str, dry_run: bool = False, ssh: str = "ssh",
           options: SshOptions = SshOptions(), results: Path | None = None,
           remote_python: str | None = None) -> list[list[str]]:  # fmt: skip
    """Run :func:`submit_commands` (or only print them with ``dry_run``); returns them.

    Everything is checked before the first command: the bundle folder, the host, the ssh
    options (a missing identity file) and the results folder."""
    bundle = Path(bundle)
    if not (bundle / "run_on_loihi.sh").is_file():
        packed = bundle.is_file() and bundle.name.endswith((".tar.gz", ".tgz"))
        hint = f" (unpack it first: tar xzf {bundle})" if packed else ""
        raise InputError(f"{bundle} is not a bundle folder (no run_on_loihi.sh){hint}; "
                         "make one with ds2ta-loihi bundle")  # fmt: skip
    _check_host(host, remote_dir)
    options.check()
    fetched = results_folder(bundle, None if results is None else Path(results))
    commands = submit_commands(bundle, host, remote_dir, ssh, (), options, fetched,
                               remote_python)  # fmt: skip
    for step, cmd in enumerate(commands):
        print(" ".join(shlex.quote(c) for c in cmd), flush=True)
        if dry_run:
            continue
        if shutil.which(cmd[0]) is None:
            raise InputError(f"{cmd[0]} is not installed here; install it or use --dry-run")
        if step == len(commands) - 1:
            fetched.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(cmd)
        if done.returncode != 0:
            raise InputError(f"{STEP_FAILED[step].format(host=host)} "
                             f"(`{cmd[0]}` exit code {done.returncode})")  # fmt: skip
    if not dry_run:
        print(f"results of the run on {host}:{remote_dir} fetched into {fetched}/", flush=True)
    return commands
