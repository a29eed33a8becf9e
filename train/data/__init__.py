"""Dataset builders: the open mini-MMEB from Open Clip Art."""
