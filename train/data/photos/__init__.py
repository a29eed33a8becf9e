"""The hand-captioned real-photo evaluation set (see README.md)."""
