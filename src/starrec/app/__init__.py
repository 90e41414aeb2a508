"""The roof: what a user runs besides the stages: the ``starrec`` command and its report. Imports any floor."""
