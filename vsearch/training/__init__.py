"""Contrastive fine-tuning of vsearch encoders: InfoNCE, GradCache, LoRA/DoRA, DDP."""

from __future__ import annotations

from vsearch.training.config import DatasetConfig, ModelConfig, RunConfig, TrainConfig
from vsearch.training.grad_cache import GradCache
from vsearch.training.loop import Trainer, TrainResult
from vsearch.training.loss import info_nce
from vsearch.training.model import TrainableModel, build_trainable, register_trainable

__all__ = [
    "DatasetConfig",
    "GradCache",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "TrainableModel",
    "Trainer",
    "build_trainable",
    "info_nce",
    "register_trainable",
]
