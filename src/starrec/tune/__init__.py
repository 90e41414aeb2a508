"""Choosing by cross validation: the search over the lecture's knobs (the folds come from :mod:`starrec.cv`)."""
