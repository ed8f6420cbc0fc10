"""Stage 2, detect: the failure detectors over the records, into `findings`.

stage.py runs them; detectors/ holds one module per detector (add a detector there: a Detector
subclass, registered under the entry point group `curate.detectors`); failures.py is what
`curate failures` shows.
"""
