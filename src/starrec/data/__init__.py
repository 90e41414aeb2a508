"""The data floor: from a source (digits, generated, LFW, a folder, an archive URL) to RGB TFRecords,
splits and tf.data pipelines. Imports only the shared kernel (params, paths, atomic, errors)."""
