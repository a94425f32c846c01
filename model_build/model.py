"""The detector network (Keras) and its loss. Imports TensorFlow: only ``.venv-train`` loads this.

Contract (``layers/model/README.md``): input ``(1, 320, 320, 3)`` float32
0..255; output ``(1, 20, 20, C + 4)`` = sigmoid heatmap per class, centre
offset, box size. Inside: rescale, 2x average-pool to 160x160 (the
detail a 320 input adds is not worth its compute for objects this size),
then a MobileNet-style stack of depthwise-separable blocks. A 10x10 branch
widens the receptive field for large animals and is merged back into the
20x20 grid the head predicts on.
"""

from __future__ import annotations

import math

import tensorflow as tf
from modelobs.preprocess import INPUT_SIZE
from tensorflow import keras
from tensorflow.keras import layers

from .targets import GRID

#: Prior probability of "centre here" at init; bias = -log((1 - p) / p), so the early focal loss is small.
HEAT_PRIOR = 0.05
#: Batch-norm statistics follow the last ~10 steps, not ~100: a few-minute run changes the weights
#: quickly, and slow statistics leave inference-mode outputs behind the trained weights.
BN_MOMENTUM = 0.9


def _ds_block(x: tf.Tensor, filters: int, stride: int = 1, name: str = "") -> tf.Tensor:
    """Depthwise 3x3 + pointwise 1x1, each with batch norm and ReLU (BN folds into the conv in TFLite)."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_pw_bn")(x)
    return layers.ReLU(name=f"{name}_pw_relu")(x)


def build_model(num_classes: int = 1, width: float = 1.0) -> keras.Model:
    """The CenterNet-style detector; ``width`` scales every layer's channels (1.0 is about 250k parameters)."""

    def ch(n: int) -> int:
        return max(8, int(round(n * width / 8)) * 8)

    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), batch_size=None, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inp)
    x = layers.AveragePooling2D(2, name="half")(x)  # 160x160
    x = layers.Conv2D(ch(24), 3, strides=2, padding="same", use_bias=False, name="stem")(x)  # 80
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = _ds_block(x, ch(32), name="b80")
    x = _ds_block(x, ch(48), stride=2, name="b40a")  # 40
    x = _ds_block(x, ch(48), name="b40b")
    x = _ds_block(x, ch(96), stride=2, name="b20a")  # 20
    x = _ds_block(x, ch(96), name="b20b")
    c20 = _ds_block(x, ch(96), name="b20c")
    y = _ds_block(c20, ch(192), stride=2, name="b10a")  # 10: context for big animals
    y = _ds_block(y, ch(192), name="b10b")
    y = _ds_block(y, ch(256), name="b10c")
    y = layers.Conv2D(ch(96), 1, use_bias=False, name="lat")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name="lat_bn")(y)
    y = layers.UpSampling2D(2, interpolation="nearest", name="up")(y)
    x = layers.Add(name="merge")([c20, y])
    x = _ds_block(x, ch(96), name="head_a")
    x = _ds_block(x, ch(96), name="head_b")
    heat = layers.Conv2D(
        num_classes, 1, activation="sigmoid", name="heatmap",
        bias_initializer=keras.initializers.Constant(-math.log((1 - HEAT_PRIOR) / HEAT_PRIOR)),
    )(x)
    offset = layers.Conv2D(2, 1, activation="sigmoid", name="offset")(x)
    size = layers.Conv2D(2, 3, padding="same", activation="sigmoid", name="size")(x)
    out = layers.Concatenate(axis=-1, name="detections")([heat, offset, size])
    model = keras.Model(inp, out, name="animal_detector")
    assert model.output_shape[1:3] == (GRID, GRID), model.output_shape
    return model


def detection_loss(y_true: tf.Tensor, y_pred: tf.Tensor, num_classes: int,
                   size_weight: float = 5.0, offset_weight: float = 1.0) -> dict[str, tf.Tensor]:
    """CenterNet loss: penalty-reduced focal loss on the heatmap, L1 on offset and size at centres.

    All three are normalised by the number of objects in the batch, so a
    batch of crowded images does not outweigh a batch of single animals.
    """
    heat_t = y_true[..., :num_classes]
    reg_t = y_true[..., num_classes : num_classes + 4]
    mask = y_true[..., num_classes + 4 : num_classes + 5]
    heat_p = tf.clip_by_value(y_pred[..., :num_classes], 1e-4, 1.0 - 1e-4)
    reg_p = y_pred[..., num_classes : num_classes + 4]

    pos = tf.cast(tf.equal(heat_t, 1.0), tf.float32)
    neg = 1.0 - pos
    pos_loss = -tf.math.log(heat_p) * tf.square(1.0 - heat_p) * pos
    neg_loss = -tf.math.log(1.0 - heat_p) * tf.square(heat_p) * tf.pow(1.0 - heat_t, 4.0) * neg
    n = tf.maximum(tf.reduce_sum(mask), 1.0)
    heat_loss = (tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / n
    l1 = tf.abs(reg_p - reg_t) * mask
    offset_loss = tf.reduce_sum(l1[..., :2]) / n
    size_loss = tf.reduce_sum(l1[..., 2:]) / n
    total = heat_loss + offset_weight * offset_loss + size_weight * size_loss
    return {"loss": total, "heat": heat_loss, "offset": offset_loss, "size": size_loss}
