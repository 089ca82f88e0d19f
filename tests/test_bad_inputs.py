"""Bad inputs through the console commands, as a hostile but realistic user would try them.

Every case must end with a non-zero exit, exactly one line on stderr that names the problem, no
traceback, and no file changed or left behind (the work folder and the temporary directory are
compared before and after). The commands run in-process (their ``main``, the console scripts'
entry point); ``test_console_scripts_print_one_line`` runs a few through the real scripts.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

import lava_ds2ta
from lava_ds2ta import create_model
from lava_ds2ta.deploy.cli import main as run_main
from lava_ds2ta.export.cli import main as export_main
from lava_ds2ta.export.writer import export_model
from lava_ds2ta.loihi.cli import main as loihi_main
from lava_ds2ta.models.checkpoint import save_checkpoint
from lava_ds2ta.models.cli import main as params_main
from lava_ds2ta.report.cli import main as report_main
from lava_ds2ta.training.ablation import main as ablation_main
from lava_ds2ta.training.cli import main as train_main

ROOT = Path(lava_ds2ta.__file__).resolve().parents[1]
COMMANDS = {"run": run_main, "export": export_main, "train": train_main, "params": params_main,
            "report": report_main, "loihi": loihi_main, "ablation": ablation_main}  # fmt: skip
SMALL = dict(embed_dim=16, num_heads=2)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _net_edit(d: Path, name: str, key: str | None = None, value=None) -> Path:
    """``d/name.net``: a copy of ``d/model.net``, with dataset ``key`` replaced by ``value``."""
    path = d / f"{name}.net"
    path.write_bytes((d / "model.net").read_bytes())
    if key is not None:
        with h5py.File(path, "r+") as f:
            if key in f:
                del f[key]
            f.create_dataset(key, data=value)
    return path


def _networks(d: Path) -> None:
    with h5py.File(d / "model.net", "r") as f:
        w1 = f["layer/1/weight"][()]
    _net_edit(d, "nan_weight", "layer/1/weight", np.full(w1.shape, np.nan))
    _net_edit(d, "nan_levels", "layer/0/inputLevels", np.nan)
    _net_edit(d, "tau99", "layer/8/tau", 99)
    _net_edit(d, "vth0", "layer/1/neuron/vThMant", 0)
    _net_edit(d, "vdecay", "layer/1/neuron/vDecay", 5000)
    _net_edit(d, "t0", "layer/0/timeSteps", 0)
    _net_edit(d, "tneg", "layer/0/timeSteps", -3)
    _net_edit(d, "wsize", "layer/1/weight", np.zeros((3, 3), np.int16))
    _net_edit(d, "shape", "layer/1/shape", np.array([1, 2]))
    _net_edit(d, "shape_nan", "layer/1/shape", np.array([4.0, np.nan, 8.0]))
    _net_edit(d, "inputs_nan", "layer/2/inputs", np.array([np.nan]))
    _net_edit(d, "extra_inf", "layer/1/neuron/tauRho", np.inf)
    w_odd = w1.copy()
    w_odd.flat[0] += 2 if w_odd.flat[0] < 200 else -2
    _net_edit(d, "other_weights", "layer/1/weight", w_odd)
    with h5py.File(_net_edit(d, "gap"), "r+") as f:
        f.move("layer/4", "layer/40")
    with h5py.File(_net_edit(d, "newer"), "r+") as f:
        f.attrs["formatVersion"] = 99
    data = (d / "model.net").read_bytes()
    (d / "trunc.net").write_bytes(data[: len(data) // 3])
    with h5py.File(d / "netx.net", "w") as f:  # a plain netx chain: no timeSteps
        f.create_dataset("layer/0/type", data=np.array([b"input"], "S20"))
        f.create_dataset("layer/0/shape", data=np.array([1, 8, 8]))


def _checkpoints(d: Path) -> None:
    model = create_model("ds2ta", **SMALL).eval()
    good = {"model": model.state_dict(), "model_config": model.config.to_dict()}
    save_checkpoint(good, d / "model.pt")
    export_model(model, d / "model.net")
    other = create_model("spikformer", **SMALL).eval()
    save_checkpoint({"model": other.state_dict(), "model_config": other.config.to_dict()},
                    d / "other.pt")  # fmt: skip
    bad_mean = {k: v.clone() for k, v in good["model"].items()}
    key = next(k for k in bad_mean if k.endswith("running_mean"))
    bad_mean[key].fill_(float("inf"))
    save_checkpoint({**good, "model": bad_mean}, d / "inf_mean.pt")
    bad_w = {k: v.clone() for k, v in good["model"].items()}
    bad_w["head.weight"].fill_(float("nan"))
    save_checkpoint({**good, "model": bad_w}, d / "nan_weight.pt")
    save_checkpoint({**good, "model_config": {**good["model_config"], "tau_m": float("nan")}},
                    d / "nan_config.pt")  # fmt: skip
    torch.save({"x": _Evil()}, d / "evil.pt")
    (d / "evil.pkl").write_bytes(pickle.dumps(_Evil()))
    torch.save(model, d / "module.pt")
    torch.save({"weights": torch.zeros(2)}, d / "foreign.pt")
    (d / "random.pt").write_bytes(np.random.default_rng(0).bytes(4000))
    (d / "empty.pt").write_bytes(b"")
    data = (d / "model.pt").read_bytes()
    (d / "trunc.pt").write_bytes(data[: len(data) // 2])
    (d / "same.pt").write_bytes(data)


def _configs(d: Path) -> None:
    (d / "empty.yaml").write_text("# nothing but a comment\n")
    (d / "latin1.yaml").write_bytes("model: {name: ds2ta}\n# caf\xe9\n".encode("latin-1"))
    (d / "syntax.yaml").write_text("model: {name: ds2ta\n")
    small = {"model": {"name": "ds2ta", **SMALL, "time_steps": 2},
             "data": {"name": "digits", "subset": 16, "batch_size": 8},
             "optim": {"epochs": 1, "warmup_epochs": 0}, "output_dir": str(d / "run")}  # fmt: skip
    (d / "small.yaml").write_text(yaml.safe_dump(small))
    (d / "run_cfg").mkdir()
    (d / "run_cfg" / "config.yaml").write_text(
        yaml.safe_dump({**small, "output_dir": str(d / "run_cfg")})
    )
    gesture = d / "data" / "DVSGesture"
    for split, user in (("ibmGestureTrain", "user01_led"), ("ibmGestureTest", "user24_led")):
        (gesture / split / user).mkdir(parents=True)
        for label in range(11):
            (gesture / split / user / f"{label}.npy").write_bytes(b"\x93NUMPY broken")
    dvs = {"model": {"name": "spikformer", **SMALL, "in_channels": 2, "img_size": 16,
                     "num_classes": 11, "time_steps": 2, "input_levels": 1},
           "data": {"name": "dvsgesture", "root": str(d / "data"), "batch_size": 4,
                    "options": {"cache": False, "nda": False}},
           "optim": {"epochs": 1, "warmup_epochs": 0},
           "output_dir": str(d / "dvs_run")}  # fmt: skip
    (d / "dvs.yaml").write_text(yaml.safe_dump(dvs))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad_inputs")
    _checkpoints(d)
    _networks(d)
    _configs(d)
    (d / "a_file").write_text("not a folder\n")
    (d / "a_dir").mkdir()
    (d / "bundle").mkdir()  # what `submit` checks a bundle by
    (d / "bundle" / "run_on_loihi.sh").write_text("exit 0\n")
    (d / "bundle.tar.gz").write_bytes(b"")
    return d


#: (id, command, arguments ({d}: the work folder), what the one line must say: a fragment or a
#: tuple of them).
CASES = [
    # ds2ta-run-cpu: values in the network file
    ("nan weight", "run", "{d}/nan_weight.net", "layer 1 (sps.stages.0): weight contains NaN"),
    ("nan inputLevels", "run", "{d}/nan_levels.net", "inputLevels contains NaN"),
    ("tau 99", "run", "{d}/tau99.net", "tau has value 99 outside [0, 8]"),
    ("vThMant 0", "run", "{d}/vth0.net", "neuron/vThMant has value 0 outside [1, 131071]"),
    ("vDecay 5000", "run", "{d}/vdecay.net", "neuron/vDecay has value 5000 outside [0, 4096]"),
    ("timeSteps 0", "run", "{d}/t0.net", "timeSteps has value 0 outside [1, 65535]"),
    ("timeSteps -3", "run", "{d}/tneg.net", "timeSteps has value -3 outside"),
    ("weight size", "run", "{d}/wsize.net", "weight has shape (3, 3), expected"),
    ("shape size", "run", "{d}/shape.net", "shape (1, 2) does not match"),
    ("shape NaN", "run", "{d}/shape_nan.net", "layer 1 (sps.stages.0): shape contains NaN"),
    ("inputs NaN", "run", "{d}/inputs_nan.net", "layer 2 (sps.stages.1): inputs contains NaN"),
    ("extra dataset inf", "run", "{d}/extra_inf.net", "neuron/tauRho contains NaN or infinite"),
    ("layer gap", "run", "{d}/gap.net", "numbered 0..17: missing 4; unexpected '40'"),
    ("newer format", "run", "{d}/newer.net", "formatVersion 99 is newer"),
    ("truncated network", "run", "{d}/trunc.net", "trunc.net: not a readable HDF5 file"),
    ("checkpoint as network", "run", "{d}/model.pt", "is a PyTorch checkpoint, not a network"),
    ("missing network", "run", "{d}/nope.net", "nope.net: network file not found"),
    ("netx without T", "run", "{d}/netx.net", "plain netx file without timeSteps"),
    ("T for our file", "run", "{d}/model.net --time-steps 4", "--time-steps is for plain netx"),
    # ds2ta-run-cpu: arguments and outputs (checked before any Lava work)
    ("report onto network", "run", "{d}/model.net --report {d}/model.net", "is the input file"),
    ("report in /proc", "run", "{d}/model.net --report /proc/r.json", "cannot be written"),
    ("report under file", "run", "{d}/model.net --report {d}/a_file/r.json", "which is a file"),
    ("report onto dir", "run", "{d}/model.net --report {d}/a_dir", "is a directory"),
    ("samples 0", "run", "{d}/model.net --samples 0", "--samples: must be >= 1, got 0"),
    ("samples text", "run", "{d}/model.net --samples many", "expected an integer, got 'many'"),
    ("unknown tag", "run", "{d}/model.net --tag int8", "invalid choice: 'int8'"),
    ("unknown data", "run", "{d}/model.net --data mnist", "unknown dataset 'mnist'"),
    ("foreign checkpoint", "run", "{d}/model.net --checkpoint {d}/other.pt",
     "does not belong to the network"),
    ("edited weights", "run", "{d}/other_weights.net --checkpoint {d}/model.pt",
     "layer 1 (sps.stages.0) weight differs in 1 of"),
    ("checkpoint with code", "run", "{d}/model.net --checkpoint {d}/evil.pt",
     "refused: it contains code (posix.system"),
    ("checkpoint is a network", "run", "{d}/model.net --checkpoint {d}/model.net",
     "is a network file, not a checkpoint"),
    # ds2ta-report (checked before any Lava work)
    ("report: nan weight", "report", "{d}/nan_weight.net", "weight contains NaN"),
    ("report: missing network", "report", "{d}/nope.net", "nope.net: network file not found"),
    ("report: json onto network", "report", "{d}/model.net -o {d}/model.net", "is the input file"),
    ("report: onto compare", "report", "{d}/model.net --compare {d}/t0.net -o {d}/t0.net",
     "is the input file"),
    ("report: bad compare", "report", "{d}/model.net --compare {d}/tau99.net -o {d}/r.json",
     "tau has value 99"),
    ("report: json in /proc", "report", "{d}/model.net -o /proc/r.json", "cannot be written"),
    ("report: json onto dir", "report", "{d}/model.net -o {d}/a_dir", "is a directory"),
    ("report: samples 0", "report", "{d}/model.net --samples 0", "must be >= 1, got 0"),
    ("report: sample past samples", "report", "{d}/model.net --samples 2 --sample 5",
     "--sample 5 is outside the 2 samples"),
    ("report: foreign checkpoint", "report", "{d}/model.net --checkpoint {d}/other.pt",
     "does not belong to the network"),
    ("report: checkpoint with code", "report", "{d}/model.net --checkpoint {d}/evil.pt",
     "refused: it contains code"),
    # ds2ta-loihi (checked before any work)
    ("loihi: missing network", "loihi", "check {d}/nope.net", "nope.net: network file not found"),
    ("loihi: bad layer value", "loihi", "check {d}/tau99.net", "tau has value 99"),
    ("loihi: neurons per core 0", "loihi", "check {d}/model.net --neurons-per-core 0",
     "must be >= 1, got 0"),
    ("loihi: skip every layer", "loihi", "check {d}/model.net --skip-layers 99",
     "--skip-layers 99: {d}/model.net has only"),
    ("loihi: bundle onto network", "loihi", "bundle {d}/model.net --out {d}/model.net",
     "is a file, not a folder"),
    ("loihi: tarball under file", "loihi", "bundle {d}/model.net --out {d}/a_file/b.tar.gz",
     "which is a file"),
    ("loihi: tarball in /proc", "loihi", "bundle {d}/model.net --out /proc/b.tar.gz",
     "cannot be written"),
    ("loihi: submit no bundle", "loihi", "submit {d}/a_dir --host u@h", "is not a bundle folder"),
    ("loihi: submit a tarball", "loihi", "submit {d}/bundle.tar.gz --host u@h",
     "unpack it first: tar xzf {d}/bundle.tar.gz"),
    ("loihi: submit missing key", "loihi", "submit {d}/bundle --host u@h --identity {d}/nope_key",
     "--identity {d}/nope_key: file not found"),
    ("loihi: submit port 70000", "loihi", "submit {d}/bundle --host u@h --port 70000",
     "--port 70000 is outside [1, 65535]"),
    ("loihi: submit port 0", "loihi", "submit {d}/bundle --host u@h -p 0", "must be >= 1, got 0"),
    ("loihi: submit ssh option", "loihi", "submit {d}/bundle --host u@h -o BatchMode",
     "--ssh-option 'BatchMode' is not KEY=VALUE"),
    ("loihi: submit host option", "loihi", "submit {d}/bundle --host=-oProxyCommand=x",
     "--host '-oProxyCommand=x' is not a host"),
    ("loihi: submit results in bundle", "loihi",
     "submit {d}/bundle --host u@h --results {d}/bundle", "is inside the bundle"),
    ("loihi: submit results under file", "loihi",
     "submit {d}/bundle --host u@h --results {d}/a_file/r", "lies under the file"),
    ("loihi: unknown data", "loihi", "run {d}/model.net --data mnist --sim",
     "unknown dataset 'mnist'"),
    # ds2ta-export
    ("export onto input", "export", "{d}/same.pt -o {d}/same.pt", "is the input file"),
    ("export in /proc", "export", "{d}/model.pt -o /proc/m.net", "cannot be written"),
    ("export under file", "export", "{d}/model.pt -o {d}/a_file/m.net", "which is a file"),
    ("export onto dir", "export", "{d}/model.pt -o {d}/a_dir", "is a directory"),
    ("verify -5", "export", "{d}/model.pt -o {d}/v.net --verify -5", "must be >= 0, got -5"),
    ("pickle with code", "export", "{d}/evil.pt -o {d}/x.net", "refused: it contains code"),
    ("raw pickle with code", "export", "{d}/evil.pkl -o {d}/x.net", "refused: it contains code"),
    ("pickled module", "export", "{d}/module.pt -o {d}/x.net",
     "contains code (lava_ds2ta.models.spikformer.SpikingTransformer"),
    ("random bytes", "export", "{d}/random.pt -o {d}/x.net", "is not a PyTorch checkpoint"),
    ("network as checkpoint", "export", "{d}/model.net -o {d}/x.net", "a network file, not a"),
    ("empty checkpoint", "export", "{d}/empty.pt -o {d}/x.net", "is empty (0 bytes)"),
    ("truncated checkpoint", "export", "{d}/trunc.pt -o {d}/x.net", "is corrupt or truncated"),
    ("foreign torch file", "export", "{d}/foreign.pt -o {d}/x.net",
     "not a lava_ds2ta checkpoint (missing 'format', 'model', 'model_config')"),
    ("infinite running mean", "export", "{d}/inf_mean.pt -o {d}/x.net",
     "running_mean has NaN or infinite values"),
    ("NaN weight", "export", "{d}/nan_weight.pt -o {d}/x.net", "head.weight has NaN"),
    ("NaN model config", "export", "{d}/nan_config.pt -o {d}/x.net",
     "holds an invalid model config (model.tau_m"),
    ("missing checkpoint", "export", "{d}/nope.pt", "checkpoint {d}/nope.pt not found"),
    # ds2ta-train
    ("empty config", "train", "--config {d}/empty.yaml", "empty.yaml is empty"),
    ("ablation: seeds text", "ablation", "--config {d}/small.yaml --seeds x",
     "expected an integer, got 'x'"),
    ("ablation: unknown variant", "ablation", "--config {d}/small.yaml --variants TCSA",
     "unknown variant 'TCSA'"),
    ("ablation: runs under a file", "ablation", "--config {d}/small.yaml --output-dir {d}/a_file/x",
     "lies under the file"),
    ("non-UTF-8 config", "train", "--config {d}/latin1.yaml", "is not UTF-8 text"),
    ("YAML syntax", "train", "--config {d}/syntax.yaml", "YAML error at line"),
    ("missing config", "train", "--config {d}/nope.yaml", "file not found"),
    ("tau_m nan", "train", "--config {d}/small.yaml --set model.tau_m=.nan",
     "'model.tau_m' is nan; NaN and infinite values are not allowed"),
    ("tau_m inf", "train", "--config {d}/small.yaml --set model.tau_m=.inf",
     "'model.tau_m' is inf"),
    ("u_h nan", "train", "--config {d}/small.yaml --set model.nsad_u_init=.nan", "nsad_u_init"),
    ("option nan", "train", "--config {d}/small.yaml --set data.options.x=.nan",
     "'data.options.x' is nan"),
    ("tau_m text", "train", "--config {d}/small.yaml --set model.tau_m=nan",
     "model.tau_m: must be a finite number >= 1, got 'nan'"),
    ("input_levels 0", "train", "--config {d}/small.yaml --set model.input_levels=0",
     "model.input_levels: must be an integer in [1, 8388607], got 0"),
    ("lr negative", "train", "--config {d}/small.yaml --set optim.lr=-1", "'optim.lr' must be"),
    ("unknown key", "train", "--config {d}/small.yaml --set optim.lrr=1",
     "unknown key 'optim.lrr'"),
    ("output under file", "train", "--config {d}/small.yaml --output-dir {d}/a_file/run",
     "lies under the file"),
    ("output in /proc", "train", "--config {d}/small.yaml --output-dir /proc/run",
     "cannot be written"),
    ("config in its output", "train", "--config {d}/run_cfg/config.yaml",
     "is the config.yaml that a new run writes"),
    ("resume nothing", "train", "--config {d}/small.yaml --resume", "nothing to resume"),
    ("corrupt DVS file", "train", "--config {d}/dvs.yaml --no-progress",
     ("ibmGestureTrain/user01_led/", ".npy is corrupt or truncated")),
    # ds2ta-params
    ("unknown preset", "params", "vit-9", "unknown preset 'vit-9'"),
    ("unknown variant", "params", "tiny --models ds3ta", "unknown model 'ds3ta'"),
]  # fmt: skip


def _snapshot(*folders: Path) -> dict[str, str]:
    out = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(root) / name
                digest = hashlib.sha1(path.read_bytes()).hexdigest() if path.is_file() else "dir"
                out[str(path)] = digest
    return out


def test_the_table_covers_at_least_40_bad_inputs():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_changes_nothing(case, work, capsys):
    _, command, args, message = case
    argv = args.format(d=work).split()
    tmp = Path(tempfile.gettempdir())
    before = _snapshot(work, tmp)
    try:
        code = COMMANDS[command](argv)
    except SystemExit as exc:  # argparse: a bad argument
        code = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code not in (0, None)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: "), lines[0]
    for fragment in (message,) if isinstance(message, str) else message:
        assert fragment.format(d=work) in lines[0], lines[0]
    assert _snapshot(work, tmp) == before


def test_console_scripts_print_one_line(work):
    """The real console scripts (a fresh interpreter, warnings on): one line, exit 2."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    scripts = Path(sys.executable).parent
    for script, args, message in (
        ("ds2ta-run-cpu", f"{work}/tau99.net", "tau has value 99"),
        ("ds2ta-export", f"{work}/same.pt -o {work}/same.pt", "is the input file"),
    ):
        out = subprocess.run([str(scripts / script), *args.split()], capture_output=True,
                             text=True, env=env, timeout=300)  # fmt: skip
        assert out.returncode == 2 and out.stdout == "", out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], out.stderr


def test_debug_shows_the_traceback(work, capsys, monkeypatch):
    with pytest.raises(Exception, match="tau has value 99"):
        run_main([f"{work}/tau99.net", "--debug"])
    monkeypatch.setenv("LAVA_DS2TA_DEBUG", "1")
    with pytest.raises(Exception, match="is the input file"):
        export_main([f"{work}/same.pt", "-o", f"{work}/same.pt"])
