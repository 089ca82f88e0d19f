"""INRC cloud bundles: a self-contained folder to run a network on Loihi 2, and its submission.

``make_bundle`` writes ``model.net``, ``run_on_loihi.sh`` (sets ``SLURM``, ``LOIHI_GEN`` and
``PARTITION`` or ``BOARD``; runs ``ds2ta-loihi run`` when lava-loihi is installed, else says so
and runs ``ds2ta-run-cpu``), ``requirements.txt`` (pinned), the lava_ds2ta source
(``src/``) and a README. ``submit_commands`` gives the rsync/ssh commands that copy a bundle to
the INRC VM, run it and fetch its ``results/``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
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

From your own machine: `ds2ta-loihi submit <this folder> --host USER@HOST` copies it, runs it and
fetches `results/` (`--dry-run` prints the commands).
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


def submit_commands(bundle: Path, host: str, remote_dir: str, ssh: str = "ssh",
                    args: tuple[str, ...] = ()) -> list[list[str]]:  # fmt: skip
    """The commands that copy ``bundle`` to ``host:remote_dir``, run it there and fetch its
    ``results/`` back into ``bundle/results``."""
    run = f"cd {shlex.quote(remote_dir)} && bash run_on_loihi.sh"
    if args:
        run += " " + " ".join(shlex.quote(a) for a in args)
    return [
        [ssh, host, f"mkdir -p {shlex.quote(remote_dir)}"],
        ["rsync", "-az", "-e", ssh, f"{bundle}/", f"{host}:{remote_dir}/"],
        [ssh, host, run],
        ["rsync", "-az", "-e", ssh, f"{host}:{remote_dir}/results/", f"{bundle}/results/"],
    ]


def submit(bundle: Path, host: str, remote_dir: str, dry_run: bool = False,
           ssh: str = "ssh") -> list[list[str]]:  # fmt: skip
    """Run :func:`submit_commands` (or only print them with ``dry_run``)."""
    if not (bundle / "run_on_loihi.sh").is_file():
        raise InputError(f"{bundle} is not a bundle folder (no run_on_loihi.sh); "
                         "make one with ds2ta-loihi bundle")  # fmt: skip
    commands = submit_commands(bundle, host, remote_dir, ssh)
    for cmd in commands:
        print(" ".join(shlex.quote(c) for c in cmd), flush=True)
        if dry_run:
            continue
        if shutil.which(cmd[0]) is None:
            raise InputError(f"{cmd[0]} is not installed here; install it or use --dry-run")
        done = subprocess.run(cmd)
        if done.returncode != 0:
            raise InputError(f"`{cmd[0]}` failed with exit code {done.returncode}; "
                             f"check the host {host} and your ssh keys")  # fmt: skip
    return commands
