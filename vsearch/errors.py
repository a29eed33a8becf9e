"""The errors vsearch raises. Every message says what failed, on what, and what to do."""

from __future__ import annotations


class VsearchError(Exception):
    """Base class of every error vsearch raises on purpose; the CLI prints it as one line."""


class IndexNotFound(VsearchError):
    """No index exists at the given path."""


class SchemaVersionError(VsearchError):
    """The index was written by a newer vsearch than this one."""


class EncoderMismatch(VsearchError):
    """The encoder differs from the one the index was built with."""


class UnsupportedInput(VsearchError):
    """A file or value that vsearch cannot read (corrupt, wrong type, too large)."""


class ModelNotFound(VsearchError):
    """An encoder's weights are not on disk and cannot be fetched."""


class QueryError(VsearchError):
    """A malformed query, filter or task argument (the message says what to write instead)."""


class StoreError(VsearchError):
    """The metadata store cannot be used: driver missing, server down, auth failed, damaged."""


class IndexBusy(VsearchError):
    """Another process (or machine) is writing to the index."""


class IndexClosed(VsearchError):
    """An ``Index`` was used after ``close()``."""
