"""Training, in the order a run happens: :mod:`.inputs` (data and loaders), :mod:`.optimization`
(optimiser and schedule), :mod:`.consistency` (the loss that makes a word's pieces agree),
:mod:`.loop` (``train_step`` and ``fit``) and :mod:`.run` (``train``: prepare, fit, record, save).
"""

from swiss_ner.training.consistency import WordConsistency, word_consistency_loss
from swiss_ner.training.inputs import (
    TrainingData,
    batch_padding,
    load_data,
    make_loaders,
    resolve_batching,
)
from swiss_ner.training.loop import (
    Evaluator,
    Loop,
    LossMonitor,
    StopRequest,
    TrainingError,
    fit,
    train_step,
)
from swiss_ner.training.optimization import Schedule, make_optimizer, make_schedule
from swiss_ner.training.run import check_packing, make_accelerator, prepare_loop, train

__all__ = [
    "Evaluator",
    "Loop",
    "LossMonitor",
    "Schedule",
    "StopRequest",
    "TrainingData",
    "TrainingError",
    "WordConsistency",
    "batch_padding",
    "check_packing",
    "fit",
    "load_data",
    "make_accelerator",
    "make_loaders",
    "make_optimizer",
    "make_schedule",
    "prepare_loop",
    "resolve_batching",
    "train",
    "train_step",
    "word_consistency_loss",
]
