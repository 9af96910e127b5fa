"""Hand-written revisions, applied in order 0001, 0002, 0003, ..."""
