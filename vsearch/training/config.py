"""Training configuration: frozen dataclasses read from a TOML file; every field documented.

Unknown fields fail fast with their name and the valid ones, so a typo never trains silently
with a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def doc(default: Any, help: str) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ModelConfig:
    base: str = doc("", "encoder spec to fine-tune: a model folder or a registered name")
    adapter: str = doc("lora", "lora, dora or full (every weight trains)")
    lora_r: int = doc(8, "LoRA rank")
    lora_alpha: int = doc(16, "LoRA scaling numerator (scale = alpha / r)")
    lora_dropout: float = doc(0.05, "dropout on the LoRA branch")
    target_modules: tuple[str, ...] = doc((), "module names to adapt; empty = backbone default")
    extra_trainable: tuple[str, ...] = doc((), "name substrings of more parameters to train fully")
    gradient_checkpointing: bool = doc(False, "recompute activations in backward to save memory")
    options: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "architecture options of a registered base (e.g. mini's grid); for a "
            "VLM2Vec checkpoint its encoder options (e.g. image_resolution = 'reference')"
        },
    )


@dataclass(frozen=True)
class DatasetConfig:
    path: str = doc("", "MMEB-train rows: a .jsonl or .parquet file")
    image_root: str = doc("", "folder that image paths in the rows are relative to")
    weight: float = doc(1.0, "rows drawn per epoch = weight x rows (after the cap)")
    cap: int = doc(0, "use at most this many rows of the dataset (0 = all)")
    name: str = doc("", "name in logs; default: the file's stem")


@dataclass(frozen=True)
class TrainConfig:
    output_dir: str = doc("runs/train", "run folder: checkpoints, metrics.jsonl, final adapter")
    batch_size: int = doc(32, "query-target pairs per optimisation step")
    gc_chunk_size: int = doc(0, "GradCache chunk size (0 = no GradCache: whole batch at once)")
    temperature: float = doc(0.02, "InfoNCE softmax temperature")
    symmetric: bool = doc(False, "add the target-to-query InfoNCE term")
    use_hard_negatives: bool = doc(True, "add the rows' hard negatives to the candidate pool")
    learning_rate: float = doc(5e-5, "peak AdamW learning rate")
    weight_decay: float = doc(0.0, "AdamW weight decay")
    warmup_steps: int = doc(0, "linear warm-up steps")
    scheduler: str = doc("linear", "decay after warm-up: linear, cosine or constant")
    max_steps: int = doc(100, "optimisation steps in all")
    grad_clip: float = doc(1.0, "clip the gradient norm to this (0 = no clipping)")
    bf16: bool = doc(True, "bf16 autocast on CUDA (ignored on CPU)")
    save_every: int = doc(0, "checkpoint every N steps (0 = only at the end)")
    log_every: int = doc(1, "append metrics every N steps")
    eval_every: int = doc(0, "evaluate every N steps (0 = never)")
    eval_data: tuple[str, ...] = doc((), "MMEB-eval files or folders scored by vsearch eval")
    eval_limit: int = doc(0, "at most N rows per eval dataset (0 = all)")
    seed: int = doc(42, "seed of data order, initialisation and dropout")
    device: str = doc("auto", "auto, cpu, cuda or cuda:N")


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig
    train: TrainConfig
    datasets: list[DatasetConfig]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        _check_keys(data, {"model", "train", "datasets"}, "the config")
        model = _build(ModelConfig, data.get("model", {}), "[model]")
        train = _build(TrainConfig, data.get("train", {}), "[train]")
        datasets = [
            _build(DatasetConfig, d, f"[[datasets]] #{i + 1}")
            for i, d in enumerate(data.get("datasets", []))
        ]
        if not model.base:
            raise ValueError("[model] base is required: the encoder to fine-tune")
        if not datasets:
            raise ValueError("at least one [[datasets]] entry is required")
        if model.adapter not in ("lora", "dora", "full"):
            raise ValueError(f"[model] adapter must be lora, dora or full, not {model.adapter!r}")
        if train.scheduler not in ("linear", "cosine", "constant"):
            raise ValueError(
                f"[train] scheduler must be linear, cosine or constant, not {train.scheduler!r}"
            )
        return cls(model=model, train=train, datasets=datasets)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a TOML config; relative paths in it are relative to the current directory."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_keys(data: dict[str, Any], valid: set[str], where: str) -> None:
    unknown = sorted(set(data) - valid)
    if unknown:
        raise ValueError(
            f"unknown field {unknown[0]!r} in {where}; valid fields: {', '.join(sorted(valid))}"
        )


def _build(kind: type, data: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(kind)}
    _check_keys(data, set(fields), where)
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    for name, value in data.items():
        spec = fields[name]
        default = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"{where} {name} must be {expected.__name__}, got {value!r}")
    return kind(**data)
