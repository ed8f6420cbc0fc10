"""Stage 1, ingest: log files (and s3:// objects) into canonical records.

stage.py is the stage; inputs.py opens the files; formats/ holds one module per log format
(add a format there: a LogFormat subclass, registered under the entry point group
`curate.formats`).
"""
