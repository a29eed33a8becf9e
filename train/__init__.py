"""Training recipes and dataset builders (not part of the installed vsearch package)."""
