"""Storage: the metadata store (source of truth) and the FAISS index derived from it."""
