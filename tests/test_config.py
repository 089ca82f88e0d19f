"""Training config: one-line ConfigErrors naming the key, --set overrides, CLI exit code 2."""

from pathlib import Path

import pytest
import yaml

from lava_ds2ta.errors import ConfigError
from lava_ds2ta.training.cli import main
from lava_ds2ta.training.config import apply_overrides
from lava_ds2ta.training.config import config_from_dict
from lava_ds2ta.training.config import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "train" / "configs"


def _error(raw) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_defaults_and_round_trip():
    cfg = config_from_dict({"model": {"name": "spikformer", "embed_dim": 16, "num_heads": 2}})
    assert cfg.optim.lr == 1e-3 and cfg.model.overrides == {"embed_dim": 16, "num_heads": 2}
    assert config_from_dict(cfg.to_dict()) == cfg


def test_unknown_section():
    msg = _error({"optimizer": {"lr": 1e-3}})
    assert msg.startswith("config: unknown key 'optimizer'") and "known: model, data" in msg


def test_unknown_key_names_section_and_suggests():
    msg = _error({"optim": {"lrr": 1e-3}})
    assert msg.startswith("config: unknown key 'optim.lrr'")
    assert "did you mean 'optim.lr'" in msg and "weight_decay" in msg


@pytest.mark.parametrize(
    "raw,key",
    [
        ({"optim": {"lr": -1}}, "optim.lr"),
        ({"optim": {"lr": "fast"}}, "optim.lr"),
        ({"optim": {"epochs": 0}}, "optim.epochs"),
        ({"optim": {"epochs": 2.5}}, "optim.epochs"),
        ({"optim": {"warmup_epochs": 50, "epochs": 10}}, "optim.warmup_epochs"),
        ({"optim": {"label_smoothing": 1.0}}, "optim.label_smoothing"),
        ({"optim": {"mix_prob": 2}}, "optim.mix_prob"),
        ({"optim": {"grad_clip": float("nan")}}, "optim.grad_clip"),
        ({"data": {"batch_size": 0}}, "data.batch_size"),
        ({"data": {"batch_size": True}}, "data.batch_size"),
        ({"data": {"subset": -3}}, "data.subset"),
        ({"seed": -1}, "seed"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_invalid_values_name_the_key(raw, key):
    assert f"'{key}'" in _error(raw)


@pytest.mark.parametrize(
    "model,key",
    [
        ({"preset": "vit-9-999"}, "model.preset"),
        ({"name": "resnet"}, "model.name"),
        ({"embed_dimm": 16}, "model.embed_dimm"),
        ({"depth": 0}, "model.depth"),
    ],
)
def test_model_errors_name_the_key(model, key):
    msg = _error({"model": model})
    assert msg.startswith("config: ") and key in msg


def test_overrides_parse_yaml_values():
    raw = apply_overrides(
        {"optim": {"lr": 1e-3}}, ["optim.epochs=3", "data.subset=null", "optim.lr=2e-3", "seed=4"]
    )
    assert raw == {"optim": {"lr": 2e-3, "epochs": 3}, "data": {"subset": None}, "seed": 4}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["optim.epochs"])


@pytest.mark.parametrize("name", ["ds2ta", "spikformer", "ds2ta_nsad"])
def test_shipped_configs_share_one_recipe(name):
    cfg = load_config(CONFIGS / f"{name}_digits.yaml")
    ref = load_config(CONFIGS / "ds2ta_digits.yaml")
    assert cfg.model.name == name and cfg.output_dir == f"runs/{name}_digits"
    assert (cfg.model.preset, cfg.data, cfg.optim, cfg.seed) == (
        ref.model.preset,
        ref.data,
        ref.optim,
        ref.seed,
    )


def test_yaml_syntax_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: [1\n")
    with pytest.raises(ConfigError, match="YAML error at line"):
        load_config(bad)


def test_cli_exits_2_with_one_error_line(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"optim": {"lrr": 0.1}}))
    assert main(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: config: unknown key 'optim.lrr'")
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["--config", str(CONFIGS / "ds2ta_digits.yaml"), "--set", "model.preset=x"]) == 2
    assert capsys.readouterr().err.startswith("error: config: model.preset: unknown preset 'x'")
