"""The cross-validation floor: the lecture's K folds (splitting, training one model per fold, collecting
their scores) and the learning curve by training-set size. Imports the train, data and evaluation floors."""
