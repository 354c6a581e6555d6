"""One configuration dataclass per command, parsed one way, saved with the results.

:mod:`.fields` turns a dataclass into command-line options and back; the other modules hold the
dataclasses, grouped by the part of the pipeline they configure. Only the standard library is
imported, so ``swiss-ner --help`` stays instant.
"""

from swiss_ner.config.corpus import CorpusConfig
from swiss_ner.config.export import ExportConfig
from swiss_ner.config.fields import (
    DEFAULT_PANX_DIR,
    MODEL_ENV,
    ConfigError,
    HelpFormatter,
    add_arguments,
    at_least,
    check_repo_id,
    config_from_namespace,
    is_hub_model_id,
    one_of,
    option,
    with_options,
)
from swiss_ner.config.sections import (
    COMPILE_MODES,
    MATMUL_PRECISIONS,
    BatchingOptions,
    CheckpointOptions,
    DataOptions,
    DeviceOptions,
    HubOptions,
    OptimisationOptions,
)
from swiss_ner.config.serve import API_KEY_ENV, ServeConfig
from swiss_ner.config.tools import (
    AnalyseConfig,
    DemoConfig,
    PushConfig,
    SmallModelConfig,
    TagConfig,
)
from swiss_ner.config.training import (
    CURVE_SIZES,
    STRATEGIES,
    ReportConfig,
    TrainConfig,
)

__all__ = [
    "API_KEY_ENV",
    "COMPILE_MODES",
    "CURVE_SIZES",
    "DEFAULT_PANX_DIR",
    "MATMUL_PRECISIONS",
    "MODEL_ENV",
    "STRATEGIES",
    "AnalyseConfig",
    "BatchingOptions",
    "CheckpointOptions",
    "ConfigError",
    "CorpusConfig",
    "DataOptions",
    "DemoConfig",
    "DeviceOptions",
    "ExportConfig",
    "HelpFormatter",
    "HubOptions",
    "OptimisationOptions",
    "PushConfig",
    "ReportConfig",
    "ServeConfig",
    "SmallModelConfig",
    "TagConfig",
    "TrainConfig",
    "add_arguments",
    "at_least",
    "check_repo_id",
    "config_from_namespace",
    "is_hub_model_id",
    "one_of",
    "option",
    "with_options",
]
