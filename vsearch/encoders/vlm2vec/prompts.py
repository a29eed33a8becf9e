"""The text a VLM2Vec model reads: instruction, image placeholder and item text in one string.

This is the only place that decides spacing and newlines, so ingest, query, training and eval
embed exactly the strings the published checkpoints were trained on. The MMEB data writes:

- image rows: ``"<|image_1|>\\nRepresent the given image with the following question: Q\\n"``
  (placeholder, newline, instruction, a space, the text, a closing newline);
- text rows with an instruction: ``"Find me an everyday image that matches ... caption: C\\n"``;
- bare targets (classification labels, VQA answers): the text alone, no newline.

Source: the VLM2Vec reference (``process_input_text`` plus the v1 ``" \\n" -> "\\n"`` fix-up in
its eval datasets) and the MMEB train/eval rows.
"""

from __future__ import annotations

#: The placeholder the MMEB data and vsearch's instruction templates write for "the image".
IMAGE_PLACEHOLDER = "<|image_1|>"

#: The image token each backbone's tokenizer knows, by ``config.model_type``.
IMAGE_TOKENS: dict[str, str] = {
    "qwen2_vl": "<|image_pad|>",
    "qwen2_5_vl": "<|image_pad|>",
    "llava_next": "<image>",
    "phi3_v": "<|image_1|>",
}


def image_token(model_type: str) -> str:
    """The image token of a backbone; raises ValueError naming the supported ones."""
    try:
        return IMAGE_TOKENS[model_type]
    except KeyError:
        raise ValueError(
            f"unsupported VLM2Vec backbone {model_type!r}; supported: {', '.join(IMAGE_TOKENS)}"
        ) from None


def map_placeholder(text: str, model_type: str) -> str:
    """``<|image_1|>`` replaced by the backbone's image token (no-op for Phi-3.5-V)."""
    return text.replace(IMAGE_PLACEHOLDER, image_token(model_type))


def build_prompt(
    instruction: str | None, text: str | None, *, has_image: bool, model_type: str
) -> str:
    """The string one item is embedded as.

    Args:
        instruction: task instruction (a prefix), or None for a bare item. It may already hold
            ``<|image_1|>`` (MMEB rows do); the image token is then not added a second time.
        text: the item's own text, or None.
        has_image: whether the item carries an image (one image token is placed first).
        model_type: backbone ``config.model_type``, picks the image token.

    Returns:
        With an instruction: ``"{img}\\n{instruction} {text}\\n"`` (``{img}\\n`` only for image
        items, `` {text}`` only when there is text). Without one: the image token and the text
        joined by a newline, nothing appended, so a bare label stays exactly the label.
    """
    token = image_token(model_type)
    instruction = instruction.strip() if instruction else None
    text = text.strip() if text else None
    if instruction:
        body = instruction if not text else f"{instruction} {text}"
        body += "\n"
    else:
        body = text or ""
    body = map_placeholder(body, model_type)
    if has_image and token not in body:
        body = f"{token}\n{body}" if body else token
    if not has_image and token in body:
        raise ValueError(f"the text names an image ({IMAGE_PLACEHOLDER}) but the item has none")
    return body


def verbatim_prompt(text: str | None, *, has_image: bool, model_type: str) -> str:
    """An MMEB-format string as it is (instruction inline, trailing newline kept), with the
    image token first for image items: how training rows and MMEB files are embedded.

    ``build_prompt(I, t)`` and ``verbatim_prompt(f"{I} {t}\\n")`` give the same string, so what
    training sees is what ingest and query build.
    """
    token = image_token(model_type)
    body = map_placeholder(text or "", model_type)
    if has_image and token not in body:
        body = f"{token}\n{body}" if body else token
    return body
