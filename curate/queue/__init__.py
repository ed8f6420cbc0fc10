"""Stage 4, queue: the candidates to Argilla for people to label, and their answers back.

stage.py pushes, pulls and counts; argilla.py is the one place that talks to Argilla (backend.py
its interface, memory.py an in-memory stand-in for tests); judge.py asks an LLM for a suggested
answer to show beside each record; preview.py shows what redaction would send.
"""
