"""Training: `train(TrainConfig(...))` -> TrainResult. Launch with torchrun for several GPUs/machines."""
from centernet.train.trainer import TrainConfig, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
