"""MMEB instructions: one template per task family, and the 36 MMEB datasets' own; data, not code.

A query instruction is placed before the query's text; a target instruction describes the
documents of that task (None: the bare text or label is the target). Source: the VLM2Vec paper
(arXiv 2410.05160, tables 7-10) and its MMEB data, punctuation as the data writes it (VOC2007
and Place365 end without a period, ImageNet-1K's has one). ``vsearch eval`` embeds the strings
of MMEB files verbatim; it uses ``MMEB_DATASETS`` only for rows written without an instruction.
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

_CLASSIFY = "Represent the given image for classification."
_QUESTION = "Represent the given image with the following question:"
_IMAGE = "Represent the given image."
_WIKI = "Represent the given Wikipedia image with related text information:"
_CROP = "Represent the given cropped image of the object."
_REFER = "Select the portion of the image that follows the language expressions"

_CLASSIFICATION: dict[str, TaskInstructions] = {
    "ImageNet-1K": TaskInstructions(_CLASSIFY, None),
    "N24News": TaskInstructions(
        "Represent the given news image with the following caption for domain classification:",
        None,
    ),
    "HatefulMemes": TaskInstructions(
        "Represent the given image for binary classification to determine whether it "
        "constitutes hateful speech or not.",
        None,
    ),
    "VOC2007": TaskInstructions("Identify the object shown in the image", None),
    "SUN397": TaskInstructions("Identify the scene shown in the image.", None),
    "Place365": TaskInstructions("Identify the scene shown in the image", None),
    "ImageNet-A": TaskInstructions(_CLASSIFY, None),
    "ImageNet-R": TaskInstructions(_CLASSIFY, None),
    "ObjectNet": TaskInstructions("Identify the object shown in the image.", None),
    "Country211": TaskInstructions("Identify the country depicted in the image.", None),
}
_VQA: dict[str, TaskInstructions] = {
    name: TaskInstructions(_QUESTION, None)
    for name in (
        "OK-VQA",
        "A-OKVQA",
        "DocVQA",
        "InfographicsVQA",
        "ChartQA",
        "Visual7W",
        "ScienceQA",
        "VizWiz",
        "GQA",
        "TextVQA",
    )
}
_RETRIEVAL: dict[str, TaskInstructions] = {
    "VisDial": TaskInstructions(
        "Represent the given dialogue about an image, which is used for image retrieval:", _IMAGE
    ),
    "CIRR": TaskInstructions(
        "Given an image, find a similar everyday image with the described changes:", _IMAGE
    ),
    "VisualNews_t2i": TaskInstructions("Retrieve an image of this news caption.", _IMAGE),
    "VisualNews_i2t": TaskInstructions("Find a caption for the news in the given photo.", None),
    "MSCOCO_t2i": TaskInstructions(
        "Find me an everyday image that matches the given caption:", _IMAGE
    ),
    "MSCOCO_i2t": TaskInstructions(
        "Find an image caption describing the given everyday image.", None
    ),
    "NIGHTS": TaskInstructions(
        "Find a day-to-day image that looks similar to the provided image.", _IMAGE
    ),
    "WebQA": TaskInstructions("Find a Wikipedia image that answers this question:", _WIKI),
    "FashionIQ": TaskInstructions(
        "Find an image to match the fashion image and style note:", _IMAGE
    ),
    "Wiki-SS-NQ": TaskInstructions(
        "Find the document screenshot that can answer the given query:",
        "Represent the given document screenshot.",
    ),
    "OVEN": TaskInstructions(
        "Retrieve a Wikipedia image-description pair that provides evidence for the question "
        "of this image:",
        _WIKI,
    ),
    "EDIS": TaskInstructions(
        "Find a news image that matches the provided caption:",
        "Represent the given image with related text information:",
    ),
}
_GROUNDING: dict[str, TaskInstructions] = {
    "MSCOCO": TaskInstructions(
        "Select the portion of the image that isolates the object labeled as", _CROP
    ),
    "RefCOCO": TaskInstructions(f"{_REFER}.", _CROP),
    "RefCOCO-Matching": TaskInstructions(f"{_REFER}:", f"{_REFER}:"),
    "Visual7W-Pointing": TaskInstructions(
        "Select the portion of the image that answers the question", _CROP
    ),
}

#: The 36 MMEB datasets' query and target instructions (target None: a bare label, answer or
#: caption). A dataset name works wherever ``task`` takes a task family.
MMEB_DATASETS: dict[str, TaskInstructions] = {**_CLASSIFICATION, **_VQA, **_RETRIEVAL, **_GROUNDING}
#: Their meta-tasks (VLM2Vec paper, arXiv 2410.05160, table 1).
MMEB_META_TASKS: dict[str, str] = {
    name: meta_task
    for meta_task, group in (
        ("classification", _CLASSIFICATION),
        ("vqa", _VQA),
        ("retrieval", _RETRIEVAL),
        ("grounding", _GROUNDING),
    )
    for name in group
}

#: The instruction documents are embedded with at ingest time, by kind of item.
DOCUMENT_INSTRUCTIONS: dict[str, str | None] = {
    "image": TASKS["retrieval"].target,
    "text": None,
}


def task(name: str) -> TaskInstructions:
    """The instructions of a task family or of an MMEB dataset (``task("SUN397")``).

    Raises:
        ValueError: an unknown name; the message lists the task families (and says that the
            MMEB dataset names are valid too).
    """
    found = TASKS.get(name) or MMEB_DATASETS.get(name)
    if found is None:
        raise ValueError(
            f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}, or an MMEB dataset name "
            f"({', '.join(list(MMEB_DATASETS)[:3])}, ...; 36 in all)"
        )
    return found
