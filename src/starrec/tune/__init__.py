"""Choosing by cross validation: the search over the lecture's knobs and the learning curve."""
