"""MMEB instruction templates, one per task family: data, not code.

A query instruction is placed before the query's text; a target instruction describes the
documents of that task (None: the bare text or image is the target). Source: the VLM2Vec paper
(arXiv 2410.05160) and its MMEB data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskInstructions:
    query: str
    target: str | None


TASKS: dict[str, TaskInstructions] = {
    "classification": TaskInstructions(
        query="Represent the given image for classification.", target=None
    ),
    "vqa": TaskInstructions(
        query="Represent the given image with the following question:", target=None
    ),
    "retrieval": TaskInstructions(
        query="Find me an everyday image that matches the given caption:",
        target="Represent the given image.",
    ),
    "image_retrieval": TaskInstructions(
        query="Represent the given image.", target="Represent the given image."
    ),
    "composed": TaskInstructions(
        query="Given an image, find a similar everyday image with the described changes:",
        target="Represent the given image.",
    ),
    "grounding": TaskInstructions(
        query='Select the portion of the image that isolates the object labeled as "{x}"',
        target="Represent the given cropped image of the object.",
    ),
}

#: The instruction documents are embedded with at ingest time, by kind of item.
DOCUMENT_INSTRUCTIONS: dict[str, str | None] = {
    "image": TASKS["retrieval"].target,
    "text": None,
}


def task(name: str) -> TaskInstructions:
    """The instructions of a task family; raises ValueError listing the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None
