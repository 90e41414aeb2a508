"""Reproducible image augmentation with stateless random ops.

Each variant gets its own seed derived from ``(seed, example index, copy)``,
so the same params give the same augmented images in any order and in
parallel ``tf.data`` maps (Keras' random layers would share state).
"""

from __future__ import annotations

import tensorflow as tf

from starrec.params import AugmentParams

OPS = 8


def _rotate(image: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """Rotate about the centre by ``angle`` radians; borders repeat the nearest pixel."""
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2.0
    y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2.0
    transform = tf.stack([cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0])
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform[None],
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return rotated[0]


def augment_image(image: tf.Tensor, seed: tf.Tensor, params: AugmentParams) -> tf.Tensor:
    """One augmented variant of an RGB uint8 image; ``seed`` is a shape-[2] int tensor."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=OPS)
    pixels = tf.image.convert_image_dtype(image, tf.float32)
    if params.flip_left_right:
        pixels = tf.image.stateless_random_flip_left_right(pixels, seeds[0])
    if params.flip_up_down:
        pixels = tf.image.stateless_random_flip_up_down(pixels, seeds[1])
    if params.rotation > 0:
        angle = tf.random.stateless_uniform([], seeds[2], -params.rotation, params.rotation)
        pixels = _rotate(pixels, angle)
    if params.brightness > 0:
        pixels = tf.image.stateless_random_brightness(pixels, params.brightness, seeds[3])
    if params.contrast is not None:
        pixels = tf.image.stateless_random_contrast(pixels, *params.contrast, seeds[4])
    if params.saturation is not None:
        pixels = tf.image.stateless_random_saturation(tf.clip_by_value(pixels, 0.0, 1.0), *params.saturation, seeds[5])
    if params.hue > 0:
        pixels = tf.image.stateless_random_hue(tf.clip_by_value(pixels, 0.0, 1.0), params.hue, seeds[6])
    if params.noise > 0:
        pixels += tf.random.stateless_normal(tf.shape(pixels), seeds[7], stddev=params.noise / 255.0)
    return tf.cast(tf.round(tf.clip_by_value(pixels, 0.0, 1.0) * 255.0), tf.uint8)


def with_augmented_copies(dataset: tf.data.Dataset, params: AugmentParams, seed: int) -> tf.data.Dataset:
    """Each example (dict with image, label, id) followed by ``params.copies`` augmented variants.

    Variant ``c`` of example ``i`` uses the seed ``(seed, i * (copies + 1) + c)``;
    its id is the original id plus ``#aug<c>``. An example's variants are made in one map and unbatched:
    a dataset per example (``flat_map``) cost ~0.7 ms each, most of a fold's first epoch.
    """
    if params.copies == 0:
        return dataset
    variants = params.copies + 1

    def with_variants(index, example):
        image, identity = example["image"], example["id"]
        seeds = [tf.stack([tf.constant(seed, tf.int64), index * variants + copy]) for copy in range(1, variants)]
        return {
            "image": tf.stack([image, *(augment_image(image, s, params) for s in seeds)]),
            "label": tf.fill([variants], example["label"]),
            "id": tf.stack([identity, *(identity + f"#aug{copy}" for copy in range(1, variants))]),
        }

    return dataset.enumerate().map(with_variants, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
