"""Settings: flag > VSEARCH_* > the index's config.toml > the user's > default, and the default
index in the user data folder (XDG_* point at tmp folders in every test, see conftest)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from vsearch import config
from vsearch.cli import app

runner = CliRunner()


def run(*args: object, **env: str):
    return runner.invoke(app, [str(a) for a in args], env=env or None)


def shown(result) -> dict[str, dict]:
    return {r["setting"]: r for r in map(json.loads, result.stdout.splitlines())}


def user_file(text: str) -> Path:
    path = config.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_default_index_is_in_the_user_data_folder_not_the_working_folder():
    data = Path(os.environ["XDG_DATA_HOME"])
    assert config.default_index_path() == data / "vsearch" / "indexes" / "default"
    settings = shown(run("config", "--json"))
    assert settings["index"] == {
        "setting": "index",
        "value": str(data / "vsearch" / "indexes" / "default"),
        "source": "default",
    }


def test_a_flag_beats_the_environment_which_beats_the_files(tmp_path):
    path = user_file(
        'model = "label-bridge"\ndevice = "cpu"\nbatch_size = 4\nexclude = ["*.tmp"]\n'
    )
    index = tmp_path / "idx"
    index.mkdir()
    (index / "config.toml").write_text("batch_size = 16\n")
    result = run("config", "--json", "--index", index, "--model", "mini", VSEARCH_DEVICE="cuda")
    assert result.exit_code == 0, result.output
    settings = shown(result)
    assert (settings["index"]["value"], settings["index"]["source"]) == (str(index), "--index")
    assert (settings["model"]["value"], settings["model"]["source"]) == ("mini", "--model")
    assert (settings["device"]["value"], settings["device"]["source"]) == ("cuda", "VSEARCH_DEVICE")
    assert settings["batch_size"] == {
        "setting": "batch_size",
        "value": 16,
        "source": str(index / "config.toml"),
    }
    assert (settings["exclude"]["value"], settings["exclude"]["source"]) == (["*.tmp"], str(path))
    assert (settings["store"]["value"], settings["store"]["source"]) == (None, "default")


def test_the_user_file_can_name_the_index_and_config_shows_it(tmp_path):
    path = user_file(f'index = "{tmp_path / "library"}"\n')
    assert config.default_index_path() == tmp_path / "library"
    result = run("config")
    assert result.exit_code == 0
    assert f"     index = {tmp_path / 'library'}  ({path})" in result.stdout.splitlines()
    assert "     model = (not set)  (default)" in result.stdout.splitlines()


def test_a_bad_config_file_is_one_line_with_exit_1(tmp_path):
    for text, message in (
        ("model = ", "is not valid TOML"),
        ("colour = 1\n", "unknown setting 'colour'; the settings are index, model"),
        ("batch_size = 'big'\n", "batch_size must be a positive whole number"),
    ):
        path = user_file(text)
        result = run("query", "cat", "--no-server")
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {path}")
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_ingest_and_query_use_the_default_index_from_any_folder(tmp_path, photo_dir, monkeypatch):
    """Issue 15: the index no longer lands in (or is looked up in) the working folder."""
    user_file('model = "test-hash"\n')  # the configured model builds the new index
    monkeypatch.chdir(photo_dir)
    assert run("ingest", ".").exit_code == 0
    assert not (photo_dir / "indexes").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("query", "--image", photo_dir / "img0.jpg", "-k", "1", "--paths", "--no-server")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{photo_dir.resolve() / 'img0.jpg'}\n"
    info = json.loads(run("info", "--json").stdout)
    assert info["index"] == str(config.user_index_path())
    assert info["encoder"]["model_id"] == "test-hash"


def test_the_configured_excludes_apply_to_every_folder(tmp_path, photo_dir):
    user_file('exclude = ["sub"]\n')
    index = tmp_path / "idx"
    result = run("ingest", photo_dir, "--index", index, "--model", "test-hash", "--json")
    assert json.loads(result.stdout)["added"] == 5  # sub/ holds two images
    listed = json.loads(run("folders", "--index", index, "--json").stdout)
    assert listed["exclude"] == []  # a config setting, not remembered by the folder
