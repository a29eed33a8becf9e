"""Decode and encode an ingest's content on a Ray cluster; this process keeps the only writer.

``RayIngestRun`` plans exactly as :class:`~vsearch.ingest.pipeline.IngestRun` does (crawl, hash,
renames, duplicates, deletions, here), then hands the content that needs the encoder to a Ray
Data pipeline: ``map_batches`` over an actor pool, one actor per GPU (or per CPU when the cluster
has none), each holding a loaded encoder, decoding its batch's files and embedding them. Vectors
stream back batch by batch and each batch is one transaction of the catalog's writer, so the
crash-safety and resume rules are those of a local ingest: committed batches are whole, the
rest is encoded again by the next run.

The files are read by the actors at their absolute paths: on a cluster of several machines the
folder must be mounted at the same path on each. Ray is an optional dependency
(``pip install 'vsearch[ray]'``); this module imports it only when a run starts.
"""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from vsearch.encoders.base import Encoder, EncoderIdentity
from vsearch.encoders.instructions import DOCUMENT_INSTRUCTIONS
from vsearch.errors import EncoderMismatch, UnsupportedInput, VsearchError
from vsearch.ingest.decode import decode, read_bytes
from vsearch.ingest.jobs import Job
from vsearch.ingest.pipeline import IngestRun


def encoder_recipe(encoder: Encoder, options: dict[str, Any]) -> Callable[[], Encoder]:
    """How an actor gets its own copy of ``encoder``: loaded from its model spec with the same
    options when it has one, else the object itself, pickled."""
    spec = getattr(encoder, "spec", None)
    if spec:
        from vsearch.encoders.registry import load_encoder

        return partial(load_encoder, spec, **options)
    return partial(_same, encoder)


def _same(encoder: Encoder) -> Encoder:
    return encoder


class EncodeBatch:
    """A Ray Data actor: decodes a batch of files and embeds them with its own encoder.

    Input columns: ``job`` (index), ``path`` (absolute), ``kind``. Output: ``job``, ``vector``
    (``(n, dim)`` float32; zeros where decoding failed), ``facts`` (pickled dicts), ``error``
    (empty string, or why the file cannot be indexed).
    """

    def __init__(self, recipe: Callable[[], Encoder], identity: dict[str, Any]) -> None:
        self.encoder = recipe()
        expected = EncoderIdentity.from_dict(identity)
        if self.encoder.identity != expected:
            raise EncoderMismatch(
                f"a Ray worker loaded {self.encoder.identity.describe()}, but the index holds "
                f"vectors of {expected.describe()}"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["job"])
        vectors = np.zeros((n, self.encoder.dim), np.float32)
        facts: list[bytes] = [b""] * n
        errors = [""] * n
        prepared: dict[str, list[tuple[int, Any]]] = {}
        for i, (path, kind) in enumerate(zip(batch["path"], batch["kind"], strict=True)):
            try:
                decoded = decode(
                    read_bytes(Path(path), kind), kind, max_side=self.encoder.max_image_side
                )
                item = self.encoder.prepare(decoded.item)
            except UnsupportedInput as exc:
                errors[i] = str(exc)
                continue
            except Exception as exc:  # a decoder bug must not stop the whole ingest
                errors[i] = f"cannot decode: {type(exc).__name__}: {exc}"
                continue
            found = {"width": decoded.width, "height": decoded.height, **decoded.facts}
            facts[i] = pickle.dumps(found)
            prepared.setdefault(kind, []).append((i, item))
        for kind, items in prepared.items():
            embedded = self.encoder.embed_batch([p for _, p in items], DOCUMENT_INSTRUCTIONS[kind])
            vectors[[i for i, _ in items]] = embedded
        return {
            "job": batch["job"],
            "vector": vectors,
            "facts": np.array(facts, dtype=object),
            "error": np.array(errors, dtype=object),
        }


@contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """The ``ray`` module, connected: to the cluster already joined in this process, else to
    ``address`` (None: ``RAY_ADDRESS``, or a new local cluster), shut down at the end."""
    try:
        import ray
    except ImportError:
        raise VsearchError(
            "--ray needs Ray: pip install 'vsearch[ray]' (or pip install 'ray[data]')"
        ) from None
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise VsearchError(f"cannot reach the Ray cluster at {address or 'auto'}: {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _first_error(exc: BaseException) -> str:
    """What went wrong where a Ray error began: Ray puts the remote traceback in its text, and
    the first ``SomeError: message`` line there that is not Ray's own is the cause."""
    lines = [line.strip() for line in str(exc).splitlines()]
    for line in lines:
        found = re.match(r"^([\w.]+(?:Error|Exception|Mismatch)): (.+)", line)
        if found and not found[1].startswith("ray."):
            return found[2]
    return next((line for line in lines if line), type(exc).__name__)


class RayIngestRun(IngestRun):
    """An :class:`IngestRun` whose decoding and encoding run on a Ray cluster.

    ``encoder`` is still called here (once, when there is content to embed): its identity is
    the one every actor must load, and its ``batch_size`` is the pipeline's.
    """

    def __init__(
        self,
        *args: Any,
        address: str | None = None,
        encoder_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.address = address
        self.encoder_options = encoder_options or {}

    def _encode_all(self, jobs: list[Job], pool: ThreadPoolExecutor) -> None:
        # PDF pages and text chunks (and, with OCR on, images) are read here: the actors decode
        # whole files and neither OCR nor fuse text (issue 17's parts are not sent to them).
        local = [j for j in jobs if j.kind in ("page", "chunk") or self.options.ocr_images]
        if local:
            super()._encode_all(local, pool)
        here = {id(j) for j in local}
        jobs = [j for j in jobs if id(j) not in here]
        if not jobs:
            return
        encoder = self.encoder
        recipe = encoder_recipe(encoder, self.encoder_options)
        with ray_session(self.address) as ray:
            context = ray.data.DataContext.get_current()  # imports ray.data, its logging set
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            context.enable_progress_bars = False  # the run reports its own (``progress``)
            data = ray.data.from_items(
                [
                    {
                        "job": i,
                        "path": str(self.root / job.targets[0].entry.relpath),
                        "kind": job.kind,
                    }
                    for i, job in enumerate(jobs)
                ]
            )
            gpus = int(ray.cluster_resources().get("GPU", 0))
            slots = gpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
            batches = -(-len(jobs) // self.batch_size)  # no more actors than batches
            encoded = data.map_batches(
                EncodeBatch,
                fn_constructor_kwargs={"recipe": recipe, "identity": encoder.identity.to_dict()},
                batch_size=self.batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(slots, batches)),
                num_gpus=1 if gpus else 0,
                num_cpus=0 if gpus else 1,
            )
            try:
                for batch in encoded.iter_batches(batch_size=None, batch_format="numpy"):
                    self._write_results(jobs, batch)
            except ray.exceptions.RayError as exc:
                raise VsearchError(f"the Ray pipeline failed: {_first_error(exc)}") from None

    def _write_results(self, jobs: list[Job], batch: dict[str, np.ndarray]) -> None:
        """One batch of results from the actors, written in one transaction."""
        encoded, failures = [], []
        for i, vector, facts, error in zip(
            batch["job"], batch["vector"], batch["facts"], batch["error"], strict=True
        ):
            job = jobs[int(i)]
            if error:
                failures.append((job, str(error)))
            else:
                encoded.append((job, pickle.loads(facts), np.asarray(vector, np.float32)))
        self.report.encoded += len(encoded)
        self._write(encoded, failures)
        if self.progress:
            self.progress.advance(len(batch["job"]))
