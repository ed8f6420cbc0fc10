"""Stage 6, report: should we fine-tune yet, and on what; and afterwards, did it fix what broke.

stage.py computes the figures; compare.py the before/after comparison of two models.
"""
