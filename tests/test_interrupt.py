"""Stopping ``ds2ta-run-cpu`` mid-run: SIGINT (to the command, or Ctrl-C to its whole process
group), SIGTERM and SIGKILL, on the digits test split in a real subprocess.

After SIGINT or SIGTERM the command must exit within 10 s with exactly one line on stderr and
leave no worker process, no ``/dev/shm`` segment and nothing in the temporary directory. After
SIGKILL the workers must end by themselves within a few seconds and the next run must remove
the run folder the killed one left. Checks are specific to the run under test (its PID, its
children, its segments ``lava_ds2ta_<ns>_<pid>_*``), so other Lava users of the machine do not
disturb them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lava_ds2ta
from lava_ds2ta.deploy.lifecycle import LavaSession
from lava_ds2ta.deploy.lifecycle import remove_stale
from lava_ds2ta.utils.atomic import write_text_atomic
from lava_ds2ta.utils.procs import pid_namespace
from lava_ds2ta.utils.procs import start_ticks

ROOT = Path(lava_ds2ta.__file__).resolve().parents[1]
NETWORK = Path(__file__).parent / "fixtures" / "ds2ta_small.net"
SCRIPT = Path(sys.executable).parent / "ds2ta-run-cpu"
EXIT_LIMIT_S = 10.0


def _children(pid: int) -> list[int]:
    """Live (not zombie) children of ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(pid)
        except OSError:
            pass
    return out


def _segments(pid: int) -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith("lava_ds2ta_") and f"_{pid}_" in n]


def _left_after(workers: list[int], pid: int, seconds: float) -> tuple[list[int], list[str]]:
    """Workers still alive and segments still present after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while (_alive(workers) or _segments(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(workers), _segments(pid)


def _start(tmp: Path, report: Path) -> subprocess.Popen:
    """``ds2ta-run-cpu`` on all 360 digits test samples, in its own process group, with
    SIGINT at its default (a background job of a non-interactive shell would ignore it)."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": path}
    return subprocess.Popen(
        [str(SCRIPT), str(NETWORK), "--data", "digits", "--report", str(report), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def _short_tmp(factory) -> Path:
    """A temporary directory with a short path: the run folder inside it then also holds
    multiprocessing's Unix socket (``lifecycle.SOCKET_DIR_MAX``), as with ``/tmp``."""
    return factory.mktemp("t")


def _wait_until_running(proc: subprocess.Popen, timeout: float = 240.0) -> list[int]:
    """Wait until Lava's workers are all up (their number stable for 1 s) and the run has
    segments; returns the workers' PIDs."""
    deadline, last, stable_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        kids = _children(proc.pid)
        if len(kids) != last:
            last, stable_since = len(kids), time.monotonic()
        elif len(kids) > 10 and _segments(proc.pid) and time.monotonic() - stable_since > 1.0:
            return kids
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the Lava run did not start in time")


@pytest.mark.parametrize(
    "sig,group",
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["kill -INT", "Ctrl-C (process group)", "kill -TERM"],
)
def test_stop_signal_ends_the_run_cleanly_within_seconds(sig, group, tmp_path_factory):
    tmp = _short_tmp(tmp_path_factory)
    report = tmp.parent / f"{tmp.name}.report.json"
    proc = _start(tmp, report)
    workers = _wait_until_running(proc)
    time.sleep(1.0)  # mid-run
    sent = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=EXIT_LIMIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"no exit within {EXIT_LIMIT_S} s of {sig.name}: {proc.communicate()[1]}")
    took = time.monotonic() - sent
    lines = err.strip().splitlines()
    assert proc.returncode == 128 + sig, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"interrupted by {sig.name} during the Lava run ("), lines[0]
    assert "Lava workers stopped, shared memory and temporary files removed" in lines[0]
    assert lines[0].endswith("; no report written")
    # Lava's resource tracker (a child too) exits when it sees its parent gone: a moment.
    assert _left_after(workers, proc.pid, 2.0) == ([], [])
    assert not list(tmp.iterdir()) and not report.exists()
    print(f"{sig.name}{' to the group' if group else ''}: exit after {took:.2f} s")


def test_sigkill_workers_die_with_their_parent_and_the_next_run_cleans_up(
    tmp_path_factory, monkeypatch
):
    tmp = _short_tmp(tmp_path_factory)
    proc = _start(tmp, tmp.parent / f"{tmp.name}.report.json")
    workers = _wait_until_running(proc)
    proc.kill()
    proc.wait()
    alive, segments = _left_after(workers, proc.pid, 5.0)
    assert not alive, "Lava workers outlived their killed parent"
    assert not segments, "the resource tracker did not unlink the segments"
    proc.stderr.close()
    proc.stdout.close()
    left = [p.name for p in tmp.iterdir()]
    assert len(left) == 1 and left[0].startswith("lava_ds2ta_run_") and f"_{proc.pid}_" in left[0]
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    with LavaSession(samples=1, period=1):  # what the next run does first
        pass
    assert not list(tmp.iterdir())


def test_stale_removal_spares_live_owners_and_other_names(tmp_path):
    own = tmp_path / f"lava_ds2ta_run_{_tag(os.getpid())}_abc"
    dead = tmp_path / f"lava_ds2ta_run_{_tag(_dead_pid())}_abc"
    foreign_ns = tmp_path / "lava_ds2ta_run_1_2_3_abc"
    other = tmp_path / "lava_ds2ta_run_xyz"
    for folder in (own, dead, foreign_ns, other):
        folder.mkdir()
    segment = Path("/dev/shm") / f"lava_ds2ta_{_tag(_dead_pid())}_0"
    segment.write_bytes(b"x")
    removed = remove_stale(tmp_path)
    assert sorted(removed) == sorted([dead.name, segment.name])
    assert own.exists() and foreign_ns.exists() and other.exists() and not dead.exists()
    assert not segment.exists()


def _tag(pid: int) -> str:
    return f"{pid_namespace()}_{pid}_{start_ticks(pid) or 0}"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_write_removes_temp_files_of_killed_writers(tmp_path):
    target = tmp_path / "model.net"
    dead = tmp_path / f".model.net.{_dead_pid()}.tmp"
    live = tmp_path / f".model.net.{os.getppid()}.tmp"  # a live process: may still be writing
    other = tmp_path / f".best.pt.{_dead_pid()}.tmp"  # another target's: left to its next write
    for path in (dead, live, other):
        path.write_text("partial")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([target.name, live.name, other.name])
