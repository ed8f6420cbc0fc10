"""Stage 5, export: the corrected failures as training data, split without leaks, with a card.

stage.py builds and checks the examples; exporters.py writes each format (add an export format
there: an Exporter subclass, registered under the entry point group `curate.exporters`).
"""
