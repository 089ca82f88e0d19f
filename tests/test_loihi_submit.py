"""``ds2ta-loihi submit`` end to end against a real ssh server on 127.0.0.1.

The test starts Debian's OpenSSH server (``/usr/sbin/sshd``, installed by ``scripts/test.sh``
when missing and the machine allows it) on a free local port with a throw-away host key and user
key made by ``ssh-keygen``, submits a bundle of the test fixture network to ``$USER@127.0.0.1``
and checks that the bundle arrived, that its script ran there (on Lava's CPU backend: no
lava-loihi here) and that its report came back and matches the integer reference computed
here. Skipped, with the reason, where sshd, ssh, ssh-keygen or rsync are missing.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lava_ds2ta.deploy.compare import load_test_inputs
from lava_ds2ta.export.reader import read_network
from lava_ds2ta.export.simulate import simulate
from lava_ds2ta.loihi import cli

FIXTURE = Path(__file__).parent / "fixtures" / "ds2ta_small.net"
SSHD = Path("/usr/sbin/sshd")
SAMPLES = 2


def _missing_tools() -> str | None:
    """Why the test cannot run here (a line naming the missing tools), or ``None``."""
    missing = [] if SSHD.is_file() else [f"{SSHD} (openssh-server)"]
    missing += [t for t in ("ssh", "ssh-keygen", "rsync") if shutil.which(t) is None]
    if not missing:
        return None
    return (f"{', '.join(missing)} not installed; scripts/test.sh installs openssh-server and "
            "rsync with apt-get when it runs as root or with passwordless sudo")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float = 15) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with code {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"sshd did not listen on 127.0.0.1:{port} within {seconds} s: {log.read_text()}")


def _wait_for_sessions(pid: int, seconds: float = 5) -> None:
    """Let sshd's per-connection children end before the listener stops (else they outlive it
    and are reparented)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    end = time.monotonic() + seconds
    while children.is_file() and children.read_text().strip() and time.monotonic() < end:
        time.sleep(0.05)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict]:
    """A running sshd on 127.0.0.1 for the current user (key login only); stopped afterwards."""
    why = _missing_tools()
    if why:
        print(f"skipped: {why}")
        pytest.skip(why)
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"test {name}",
                        "-f", str(keys / name)], check=True, timeout=30)  # fmt: skip
    (keys / "authorized_keys").write_text((keys / "user_key.pub").read_text())
    root = os.geteuid() == 0
    if root:  # sshd as root needs its privilege-separation folder
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text("\n".join([
        "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {keys / 'host_key'}",
        f"AuthorizedKeysFile {keys / 'authorized_keys'}", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "StrictModes no",
        f"PermitRootLogin {'prohibit-password' if root else 'no'}", "UsePAM no",
        f"PidFile {tmp_path / 'sshd.pid'}", "LogLevel VERBOSE", "",
    ]))  # fmt: skip
    log = tmp_path / "sshd.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=err,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_for_port(port, proc, log)
        yield {"port": port, "key": keys / "user_key", "known_hosts": tmp_path / "known_hosts",
               "user": getpass.getuser(), "log": log}  # fmt: skip
    finally:
        _wait_for_sessions(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_submit_runs_the_bundle_over_real_ssh_and_fetches_its_result(sshd, tmp_path, capfd):
    bundle, remote = tmp_path / "bundle", tmp_path / "remote" / "job 1"
    assert cli.main(["bundle", str(FIXTURE), "--out", str(bundle), "--samples", str(SAMPLES)]) == 0
    inputs = {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    argv = ["submit", str(bundle), "--host", f"{sshd['user']}@127.0.0.1",
            "--remote-dir", str(remote), "--identity", str(sshd["key"]),
            "--port", str(sshd["port"]), "--remote-python", sys.executable,
            "--ssh-option", f"UserKnownHostsFile={sshd['known_hosts']}",
            "--ssh-option", "StrictHostKeyChecking=accept-new",
            "--ssh-option", "BatchMode=yes", "--ssh-option", "IdentitiesOnly=yes"]  # fmt: skip
    capfd.readouterr()
    assert cli.main([*argv, "--dry-run"]) == 0
    dry = capfd.readouterr().out
    assert f"-i {sshd['key']} -p {sshd['port']} -o UserKnownHostsFile=" in dry
    assert not remote.exists()  # --dry-run runs nothing

    start = time.monotonic()
    code = cli.main(argv)
    out = capfd.readouterr().out  # with the remote run's output (ssh writes to fd 1)
    assert code == 0, out + sshd["log"].read_text()[-3000:]
    print(f"submit over ssh took {time.monotonic() - start:.1f} s")

    # The bundle arrived (without a local results/), and ran there on the CPU backend.
    for path, data in inputs.items():
        assert (remote / path.relative_to(bundle)).read_bytes() == data, path
    assert "lava-loihi is not installed: running on Lava's CPU backend" in out
    assert f"Accepted publickey for {sshd['user']}" in sshd["log"].read_text()
    remote_report = (remote / "results" / "report.json").read_bytes()

    # Its result came back, byte for byte, beside the untouched inputs.
    fetched = bundle / "results" / "report.json"
    assert fetched.read_bytes() == remote_report
    assert all(p.read_bytes() == data for p, data in inputs.items())
    report = json.loads(remote_report)
    spec = read_network(FIXTURE)
    x, y = load_test_inputs(spec, "digits", SAMPLES)
    logits, _ = simulate(spec, x["levels"])
    assert report["samples"] == SAMPLES and report["logit_agreement"] == 1.0
    assert report["reference_predictions"] == logits.argmax(1).tolist()
    assert report["accuracy"] == float((logits.argmax(1) == np.asarray(y)).mean())

    # --results fetches elsewhere (the same rsync, another target; printed by --dry-run).
    other = tmp_path / "fetched"
    assert cli.main([*argv, "--results", str(other), "--dry-run"]) == 0
    assert capfd.readouterr().out.splitlines()[-1].endswith(f" {other}/")


def test_submit_reports_a_refused_key_in_one_line(sshd, tmp_path, capsys):
    """A key the server does not know: ssh's refusal, then our one line naming the step."""
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "run_on_loihi.sh").write_text("exit 0\n")
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True, timeout=30)  # fmt: skip
    code = cli.main(["submit", str(bundle), "--host", f"{sshd['user']}@127.0.0.1",
                     "--remote-dir", str(tmp_path / "r"), "-i", str(stranger),
                     "-p", str(sshd["port"]), "-o", f"UserKnownHostsFile={sshd['known_hosts']}",
                     "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes",
                     "-o", "IdentitiesOnly=yes"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: creating the remote folder on"), err
    assert "exit code 255" in err[-1] and not (tmp_path / "r").exists()


def test_missing_tools_are_named_in_the_skip_reason(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sys.modules[__name__], "SSHD", Path("/nonexistent/sshd"))
    why = _missing_tools()
    assert why.startswith(
        "/nonexistent/sshd (openssh-server), ssh, ssh-keygen, rsync not installed"
    )
