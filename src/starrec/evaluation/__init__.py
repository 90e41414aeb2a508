"""The evaluation floor: predictions, the lecture's metrics with intervals, calibration, baselines, what the
network sees and paired comparisons of runs. Imports those below."""
