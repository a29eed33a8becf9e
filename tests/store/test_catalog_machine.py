"""A hypothesis state machine: two long-lived handles on one index interleave ingests, removes,
reindexes, reopens and searches while files come, change and go; after every step both handles
and a fresh open agree with the store, and each indexed item is found by its own vector."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vsearch.index import Index

from ..conftest import HashEncoder, write_image
from .test_catalog import assert_consistent, faiss_ids

HANDLES = st.sampled_from([0, 1])
NAMES = st.sampled_from([f"f{i}.png" for i in range(6)])


def machine_for(base: Path, store_url: str | None) -> type[RuleBasedStateMachine]:
    class TwoHandles(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.folder = Path(tempfile.mkdtemp(dir=base))
            self.root = self.folder / "photos"
            self.root.mkdir()
            self.seed = 0
            self.indexed: set[str] = set()  # what the store must hold
            Index.create(self.folder / "idx", encoder=HashEncoder(), store_url=store_url).close()
            self.handles = [self._open(), self._open()]

        def _open(self) -> Index:
            return Index.open(self.folder / "idx", encoder=HashEncoder())

        def _files(self) -> set[str]:
            return {p.name for p in self.root.iterdir()}

        @rule(name=NAMES)
        def write_file(self, name: str) -> None:
            self.seed += 1
            write_image(self.root / name, seed=1000 + self.seed, size=(8, 8), fmt="PNG")

        @rule(name=NAMES)
        def delete_file(self, name: str) -> None:
            (self.root / name).unlink(missing_ok=True)

        @rule(handle=HANDLES)
        def ingest(self, handle: int) -> None:
            idx = self.handles[handle]
            idx.ingest(self.root if idx.root is None else None)
            self.indexed = self._files()

        @rule(handle=HANDLES, name=NAMES)
        def remove(self, handle: int, name: str) -> None:
            if self.handles[handle].root is None:
                return
            self.handles[handle].remove([name])
            self.indexed.discard(name)

        @rule(handle=HANDLES)
        def reindex(self, handle: int) -> None:
            self.handles[handle].close()
            self.handles[handle] = Index.open(
                self.folder / "idx", encoder=HashEncoder(), reindex=True
            )
            self.indexed = set()

        @rule(handle=HANDLES)
        def reopen(self, handle: int) -> None:
            self.handles[handle].close()
            self.handles[handle] = self._open()

        @rule(handle=HANDLES)
        def search_every_item(self, handle: int) -> None:
            idx = self.handles[handle]
            ids, vectors = idx.catalog.all_vectors()
            for item_id, vector in zip(ids, vectors, strict=True):
                found = idx.search_vector(vector, k=3)
                assert int(item_id) in [h.id for h in found if h.score > 0.999]

        @invariant()
        def handles_agree_with_the_store(self) -> None:
            if not hasattr(self, "handles"):
                return
            for idx in self.handles:
                ok = {r.id: r.path for r in idx.store.all_items() if r.status == "ok"}
                assert set(ok) == faiss_ids(idx)
                assert set(ok.values()) == self.indexed

        def teardown(self) -> None:
            if not hasattr(self, "handles"):
                return
            for idx in self.handles:
                idx.close()
            assert_consistent(self.folder / "idx", self.indexed)

    return TwoHandles


def test_two_handles_keep_the_index_consistent(tmp_path, store_url):
    machine = machine_for(tmp_path, store_url)
    machine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine.TestCase().runTest()
