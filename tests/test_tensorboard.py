"""runtime.tensorboard writes scalars, weight and gradient histograms and augmented inputs."""

import tensorflow as tf

from helpers.data import fit_arrays, from_arrays
from starrec.train.tensorboard import tensorboard_callbacks


def tags_in(directory):
    tags = set()
    for event_file in directory.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {value.tag for value in event.summary.value}
    return tags


def test_event_files_hold_what_the_readme_promises(tmp_path, tiny_params, tiny_arrays):
    images, labels = tiny_arrays
    examples = from_arrays(images, labels)
    fit_arrays(tiny_params, images, labels, callbacks=tensorboard_callbacks(tmp_path, examples))
    tags = tags_in(tmp_path)
    assert "augmented_inputs" in tags
    assert any(tag.startswith("gradients/conv_1") for tag in tags)
    assert "epoch_loss" in tags and "epoch_accuracy" in tags
    assert any("conv_1" in tag and "histogram" in tag for tag in tags)
