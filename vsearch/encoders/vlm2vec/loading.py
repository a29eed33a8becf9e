"""Load a VLM2Vec backbone for inference: device, dtype, attention kernel, adapter merge."""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from vsearch.encoders.base import checked_device
from vsearch.encoders.vlm2vec.sources import ModelSource
from vsearch.errors import VsearchError

logger = logging.getLogger(__name__)

#: ``config.model_type`` -> the transformers class holding the full checkpoint. Phi-3.5-V is
#: absent on purpose: its modeling code ships with the checkpoint (``trust_remote_code``).
NATIVE_CLASSES: dict[str, str] = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "llava_next": "LlavaNextForConditionalGeneration",
}
REMOTE_CODE_TYPES = ("phi3_v",)
#: PEFT key renames (regex, after PEFT strips ``base_model.model.``) from the transformers 4.4x
#: module layout the released VLM2Vec adapters were saved with to the layout of transformers 5.
#: Keys already in the new layout match none of the patterns and pass unchanged.
LEGACY_ADAPTER_KEYS: dict[str, dict[str, str]] = {
    "qwen2_vl": {
        r"^visual\.": "model.visual.",
        r"^model\.(?!visual\.|language_model\.)": "model.language_model.",
    },
    "llava_next": {
        r"^language_model\.model\.": "model.language_model.",
        r"^language_model\.lm_head\.": "lm_head.",
        r"^(vision_tower|multi_modal_projector|image_newline)": r"model.\1",
    },
}
LEGACY_ADAPTER_KEYS["qwen2_5_vl"] = LEGACY_ADAPTER_KEYS["qwen2_vl"]
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Runtime:
    """Where and how the model runs.

    Attributes:
        device: a torch device string (``cpu``, ``cuda``, ``cuda:1``).
        dtype: the weights' and activations' dtype.
        attn_implementation: ``flash_attention_2``, ``sdpa`` or ``eager``.
    """

    device: str
    dtype: torch.dtype
    attn_implementation: str


def resolve_runtime(
    device: str | None = None, dtype: str | None = None, attn_implementation: str | None = None
) -> Runtime:
    """Defaults: CUDA when available, bf16 on CUDA and fp32 on CPU, flash-attn when installed.

    Raises:
        ValueError: an unknown dtype or attention kernel, or flash-attention asked for on CPU.
        VsearchError: CUDA asked for on a machine without it.
    """
    device = checked_device(device, "cuda" if torch.cuda.is_available() else "cpu")
    on_cuda = device.startswith("cuda")
    dtype = dtype or ("bfloat16" if on_cuda else "float32")
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid dtypes: {', '.join(_DTYPES)}")
    if attn_implementation is None:
        has_flash = importlib.util.find_spec("flash_attn") is not None
        attn_implementation = "flash_attention_2" if on_cuda and has_flash else "sdpa"
    if attn_implementation not in ("flash_attention_2", "sdpa", "eager"):
        raise ValueError(
            f"unknown attention {attn_implementation!r}; valid: flash_attention_2, sdpa, eager"
        )
    if attn_implementation == "flash_attention_2" and not on_cuda:
        raise ValueError("flash_attention_2 needs a CUDA device; use sdpa or eager on CPU")
    return Runtime(device, _DTYPES[dtype], attn_implementation)


def require_pil_processors() -> None:
    """Fail with one line when transformers predates its PIL image processors (transformers 5).

    The backend builds Qwen-VL and LLaVA-Next inputs with ``*ImageProcessorPil`` so that it
    needs no torchvision; older transformers only have the torchvision or legacy classes.
    """
    import transformers

    module = "transformers.models.qwen2_vl.image_processing_pil_qwen2_vl"
    if importlib.util.find_spec(module) is None:
        raise VsearchError(
            f"the VLM2Vec backend needs transformers 5 with PIL image processors (tested with "
            f"5.24); found {transformers.__version__}: pip install 'transformers>=5.24'"
        )


def model_type_of(model_dir: Path) -> str:
    """``model_type`` from a checkpoint's config.json."""
    return json.loads((model_dir / "config.json").read_text())["model_type"]


def load_model(
    source: ModelSource,
    runtime: Runtime,
    *,
    trust_remote_code: bool = False,
    merge_adapter: bool = True,
) -> torch.nn.Module:
    """The full model in eval mode on ``runtime.device``, adapter merged when there is one.

    Args:
        source: resolved files.
        runtime: device, dtype, attention kernel.
        trust_remote_code: allow running the modeling code shipped with a checkpoint
            (Phi-3.5-V needs it). Off unless the user says so.
        merge_adapter: merge the PEFT adapter into the weights (inference); False keeps the
            unmerged ``PeftModel`` (used to check that merging changes nothing).

    Raises:
        VsearchError: an unsupported backbone, remote code not allowed, or an adapter whose
            weights match nothing in the base model.
    """
    model_type = model_type_of(source.model_dir)
    kwargs = {"dtype": runtime.dtype, "attn_implementation": runtime.attn_implementation}
    if model_type in NATIVE_CLASSES:
        import transformers

        cls = getattr(transformers, NATIVE_CLASSES[model_type])
        model = cls.from_pretrained(source.model_dir, **kwargs)
    elif model_type in REMOTE_CODE_TYPES:
        model = _load_remote_code(source, model_type, trust_remote_code, kwargs)
    else:
        supported = ", ".join((*NATIVE_CLASSES, *REMOTE_CODE_TYPES))
        raise VsearchError(
            f"{source.model_id}: backbone {model_type!r} is not supported; supported: {supported}"
        )
    if source.adapter_dir is not None:
        key_mapping = LEGACY_ADAPTER_KEYS.get(model_type)
        model = _apply_adapter(model, source, merge=merge_adapter, key_mapping=key_mapping)
    return model.to(runtime.device).eval()


def _load_remote_code(
    source: ModelSource, model_type: str, trust_remote_code: bool, kwargs: dict
) -> torch.nn.Module:
    if not trust_remote_code:
        raise VsearchError(
            f"{source.model_id} ({model_type}) runs Python code shipped with the checkpoint in "
            f"{source.model_dir}; read it, then allow it with trust_remote_code=True "
            "(VSEARCH_TRUST_REMOTE_CODE=1)"
        )
    from transformers import AutoModelForCausalLM

    if kwargs["attn_implementation"] == "sdpa":
        # Phi-3.5-V's own code knows only eager and flash_attention_2.
        kwargs = {**kwargs, "attn_implementation": "eager"}
    return AutoModelForCausalLM.from_pretrained(source.model_dir, trust_remote_code=True, **kwargs)


def _apply_adapter(
    model: torch.nn.Module,
    source: ModelSource,
    *,
    merge: bool,
    key_mapping: dict[str, str] | None,
) -> torch.nn.Module:
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(
        model, source.adapter_dir, is_trainable=False, key_mapping=key_mapping
    )
    loaded = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    if not loaded or all(not p.detach().any() for p in loaded):
        # PEFT only warns about adapter keys it could not place; an adapter that loaded
        # nothing would silently embed with the base model alone.
        raise VsearchError(
            f"adapter {source.adapter_dir} loaded no weights into base {source.model_dir}: "
            "its keys match no module of this base model (wrong base?)"
        )
    if not merge:
        return peft_model
    logger.info("merging adapter %s into %s", source.adapter_dir, source.model_dir)
    return peft_model.merge_and_unload()
