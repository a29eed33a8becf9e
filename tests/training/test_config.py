from __future__ import annotations

import pytest

from vsearch.training import RunConfig
from vsearch.training.data import mix, read_rows


def write(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


GOOD = """
[model]
base = "/models/tiny"
adapter = "dora"
target_modules = ["q_proj", "v_proj"]

[train]
batch_size = 4
learning_rate = 1e-4
max_steps = 10

[[datasets]]
path = "data/a.jsonl"
image_root = "data"
weight = 2
"""


def test_a_good_config_loads_with_defaults(tmp_path):
    config = RunConfig.load(write(tmp_path, GOOD))
    assert config.model.adapter == "dora" and config.model.target_modules == ("q_proj", "v_proj")
    assert config.train.temperature == 0.02 and config.train.batch_size == 4
    assert config.datasets[0].path == "data/a.jsonl"  # relative to the current directory
    assert config.datasets[0].weight == 2.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("batch_size = 4", "batch_sise = 4"),
            "unknown field 'batch_sise' in \\[train\\]; valid fields: ",
        ),
        (("batch_size = 4", 'batch_size = "4"'), "\\[train\\] batch_size must be int"),
        (('adapter = "dora"', 'adapter = "ia3"'), "adapter must be lora, dora or full"),
        (('base = "/models/tiny"', 'base = ""'), "base is required"),
        (("[[datasets]]", "[[datasetz]]"), "unknown field 'datasetz' in the config"),
    ],
)
def test_bad_fields_fail_fast_with_their_name(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        RunConfig.load(write(tmp_path, GOOD.replace(*change)))


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        RunConfig.load(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="not valid TOML"):
        RunConfig.load(write(tmp_path, "[model\n"))


def test_rows_are_read_capped_and_mixed_by_weight(tmp_path):
    import json

    from vsearch.training.config import DatasetConfig

    path = tmp_path / "a.jsonl"
    path.write_text(
        "".join(json.dumps({"qry": f"q{i}", "pos_text": f"t{i}"}) + "\n" for i in range(10))
    )
    rows = read_rows(DatasetConfig(path=str(path), cap=6))
    assert [r.qry for r in rows] == [f"q{i}" for i in range(6)]
    assert rows[0].dataset == "a" and not rows[0].has_negative
    other = read_rows(DatasetConfig(path=str(path), name="b"))
    epoch = mix([rows, other], [2.0, 0.5], seed=1)
    assert sum(r.dataset == "a" for r in epoch) == 12 and sum(r.dataset == "b" for r in epoch) == 5
    assert mix([rows, other], [2.0, 0.5], seed=1) == epoch
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"qry": "x"}) + "\n")
    with pytest.raises(ValueError, match="row 1 has no 'pos_text'"):
        read_rows(DatasetConfig(path=str(bad)))
