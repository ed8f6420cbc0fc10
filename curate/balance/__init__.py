"""Stage 3, balance: the records worth labelling, into `candidates`.

stage.py samples them by stratum; cluster.py collapses near-duplicates; edge_cases.py and
taggers.py tag the hard cases (add a tagger there: a Tagger subclass, registered under the
entry point group `curate.edge_cases`).
"""
