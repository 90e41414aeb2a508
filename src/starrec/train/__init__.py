"""The training floor: the network with its preprocessing layers, the optimiser, one training loop for
every tf.distribute strategy, resumable backups, and the model file. Imports the kernel and data."""
