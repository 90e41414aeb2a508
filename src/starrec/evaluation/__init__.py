"""The evaluation floor: predictions, the lecture's metrics with intervals, K-fold cross validation,
baselines, what the network sees, paired comparisons of runs and the report. Imports those below."""
