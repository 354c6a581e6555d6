"""How a configuration dataclass becomes command-line options, and the checks they share.

Each field carries its help text (and, where needed, extra ``argparse`` keywords) in its
metadata; :func:`add_arguments` turns any configuration dataclass into command-line options and
:func:`config_from_namespace` back into a validated instance. A field whose default factory is
itself a dataclass is a *section*: its options stay flat on the command line (one argument group
per section), and option names are unique across sections, so a flag, a role set and the
resume fingerprint all speak of options by the same leaf names. Only the standard library is
imported, so ``swiss-ner --help`` stays instant.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from swiss_ner.constants import TAGGER_DTYPES

MODEL_ENV = "SWISS_NER_MODEL"
DEFAULT_PANX_DIR = "../shared/data/panx"


class ConfigError(ValueError):
    """An option value that cannot work; the message names the option and what is allowed."""


# A field's role, stated once in its metadata; resume, the experiment cache and the card read it.
TRAINING = "training"  # decides the training trajectory, hence the resume fingerprint
RESULTS = "results"  # changes the results but not the trajectory: a resume may extend it
BOOKKEEPING = "bookkeeping"  # where and how a run saves, logs and publishes: changes nothing
ROLES = (TRAINING, RESULTS, BOOKKEEPING)

ConfigT = TypeVar("ConfigT")


def option(
    help: str,
    *,
    role: str = TRAINING,
    card: bool = False,
    minimum: float | None = None,
    above: float | None = None,
    **argparse_kwargs: Any,
) -> dict:
    """Field metadata: the help text, the field's role, whether the card shows it, the smallest
    value allowed (``minimum``, or strictly ``above``), and any extra ``add_argument`` keywords."""
    if role not in ROLES:
        raise ValueError(f"unknown field role {role!r}")
    return {"help": help, "role": role, "card": card, "minimum": minimum, "above": above,
            "argparse": argparse_kwargs}


def dtype_option() -> dict:
    """The metadata of ``--dtype``, shared by the commands that tag."""
    return option(
        "Number format of the model: float32, or bfloat16, with tags that differ on about "
        "one word in a thousand; faster on CPUs with AMX (1.4x on one) and usually on GPUs.",
        choices=TAGGER_DTYPES,
    )


def compile_option() -> dict:
    """The metadata of ``--compile``, shared by the commands that tag."""
    return option(
        "Compile the model with torch.compile (inductor, dynamic shapes): the small model "
        "tagged a corpus 1.07-1.4x faster on 2 CPU cores, after about 25 s of compiling while "
        "loading; needs a C++ compiler on a CPU. Tags as without; scores may differ in the "
        "last float bits."
    )


def check_tagger_options(dtype: str, quantize: bool, compile_model: bool) -> None:
    """``--dtype`` is one the tagger knows, and neither it nor ``--compile`` meets
    ``--quantize``."""
    one_of("dtype", dtype, TAGGER_DTYPES)
    if quantize and dtype != "float32":
        raise ConfigError(f"--quantize runs int8 Linear layers; drop it or --dtype {dtype}")
    if quantize and compile_model:
        raise ConfigError("--quantize runs int8 Linear layers, which torch.compile does not "
                          "take; drop it or --compile")


def section_class(f: dataclasses.Field) -> type | None:
    """The dataclass a section field holds (its default factory); None for an option."""
    factory = f.default_factory
    if isinstance(factory, type) and dataclasses.is_dataclass(factory):
        return factory
    return None


def leaf_fields(cls: type) -> list[dataclasses.Field]:
    """Every option of ``cls``, those of its sections included, in declaration order.

    The command line is flat, so two options with one name would be one flag: refused here.
    """
    leaves: list[dataclasses.Field] = []
    for f in dataclasses.fields(cls):
        sub = section_class(f)
        leaves.extend(leaf_fields(sub) if sub else [f])
    names = [f.name for f in leaves]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise TypeError(f"{cls.__name__} names options twice: {', '.join(twice)}")
    return leaves


def fields_with_role(cls: type, *roles: str) -> frozenset[str]:
    """The option names (leaf names, in any section) of ``cls`` whose role is one of ``roles``."""
    return frozenset(f.name for f in leaf_fields(cls) if f.metadata.get("role", TRAINING) in roles)


def card_fields(cls: type) -> list[str]:
    """The options the model card lists as hyper-parameters, in declaration order."""
    return [f.name for f in leaf_fields(cls) if f.metadata.get("card")]


def flat_values(config: Any) -> dict[str, Any]:
    """The options of ``config`` by their leaf names, as on the command line (copies): what the
    resume fingerprint, the experiment cache and the card compare, whatever the nesting."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if section_class(f):
            values.update(flat_values(value))
        else:
            values[f.name] = copy.deepcopy(value)
    return values


def _nest(cls: type[ConfigT], values: Mapping[str, Any]) -> ConfigT:
    """``cls`` with each section built from the leaf-named ``values`` it holds; others ignored."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        sub = section_class(f)
        if sub:
            kwargs[f.name] = _nest(sub, values)
        elif f.name in values:
            kwargs[f.name] = values[f.name]
    return cls(**kwargs)


def from_flat(cls: type[ConfigT], values: Mapping[str, Any]) -> ConfigT:
    """``cls`` from options named as on the command line, each put into its section (not
    validated); an unknown name is refused, a missing one takes its default."""
    unknown = sorted(set(values) - {f.name for f in leaf_fields(cls)})
    if unknown:
        raise ConfigError(f"unknown option{'s' * (len(unknown) > 1)} {', '.join(unknown)}")
    return _nest(cls, values)


def from_nested(cls: type[ConfigT], values: Mapping[str, Any]) -> ConfigT:
    """``cls`` from its nested dict (``dataclasses.asdict``), not validated; an unknown key is
    refused, a missing one (an option added since the file was written) takes its default."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        sub = section_class(names[name])
        if sub and not isinstance(value, Mapping):
            raise ConfigError(f"section {name!r} is not an object: {value!r}")
        kwargs[name] = from_nested(sub, value) if sub else value
    return cls(**kwargs)


def with_options(config: ConfigT, **options: Any) -> ConfigT:
    """A copy of ``config`` with options changed by their command-line names, in whichever
    section holds them, as a command line that adds those flags would."""
    unknown = sorted(set(options) - {f.name for f in leaf_fields(type(config))})
    if unknown:
        raise TypeError(f"{type(config).__name__} has no option {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        sub = section_class(f)
        if sub:
            inner = {leaf.name for leaf in leaf_fields(sub)} & set(options)
            if inner:
                changes[f.name] = with_options(getattr(config, f.name),
                                               **{name: options[name] for name in inner})
        elif f.name in options:
            changes[f.name] = options[f.name]
    return dataclasses.replace(config, **changes)


def check_bounds(config: Any) -> None:
    """Refuse any field below the ``minimum`` (or not ``above`` the bound) its metadata states."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("minimum") is not None:
            at_least(f.name, value, f.metadata["minimum"])
        if f.metadata.get("above") is not None:
            at_least(f.name, value, f.metadata["above"], strict=True)


def at_least(name: str, value: float | None, minimum: float, strict: bool = False) -> None:
    """Refuse ``value`` below ``minimum`` (or equal to it when ``strict``); None passes."""
    if value is None:
        return
    if value < minimum or (strict and value == minimum):
        relation = "greater than" if strict else "at least"
        raise ConfigError(f"--{name.replace('_', '-')} must be {relation} {minimum}, got {value}")


def one_of(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Refuse a value outside the choices (a config written by hand or by an older version)."""
    if value not in choices:
        raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                          f"got {value!r}")


def check_repo_id(repo_id: str, option_name: str) -> None:
    """Raise :class:`ConfigError` unless ``repo_id`` is a valid Hub id such as ``org/name``."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ConfigError(f"{option_name} {repo_id!r} is not a valid Hub id: {error}") from None


def is_hub_model_id(name_or_path: str | None) -> bool:
    """Whether ``name_or_path`` names a Hub model (``org/name``) rather than a local folder."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not name_or_path or Path(name_or_path).expanduser().exists():
        return False
    if name_or_path.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(name_or_path)
    except HFValidationError:
        return False
    return True



def _argument(f: dataclasses.Field) -> tuple[list[str], dict]:
    """The flags and ``add_argument`` keywords of one dataclass field."""
    meta = f.metadata
    extra = dict(meta.get("argparse", {}))
    positional = extra.pop("positional", False)
    aliases = extra.pop("aliases", ())
    type_name = str(f.type)
    kwargs: dict[str, Any] = {"help": meta.get("help", "")}
    if f.default is not dataclasses.MISSING:
        kwargs["default"] = f.default
    elif f.default_factory is not dataclasses.MISSING:
        kwargs["default"] = f.default_factory()
    if type_name.startswith("bool"):
        kwargs["action"] = argparse.BooleanOptionalAction
    elif type_name.startswith("list["):
        kwargs["type"] = {"float": float, "int": int}.get(type_name[5:].split("]")[0], str)
        kwargs["nargs"] = "*" if positional else "+"
    else:
        kwargs["type"] = {"int": int, "float": float}.get(type_name.split(" |")[0], str)
    kwargs.update(extra)
    if kwargs.get("action") == "append":
        kwargs.pop("nargs", None)
    if positional:
        if "default" not in kwargs:
            kwargs.pop("default", None)
        return [f.name], kwargs
    if "default" not in kwargs and not kwargs.get("required"):
        kwargs["required"] = True
    return ["--" + f.name.replace("_", "-"), *aliases], kwargs


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    hidden: tuple[str, ...] = (),
    group: argparse._ArgumentGroup | None = None,
) -> argparse.ArgumentParser:
    """One option per field of the dataclass ``cls``, its help taken from the field; a section's
    options go into an argument group titled after it, so ``--help`` reads in sections.

    ``hidden`` (with the class's own ``HIDDEN``) names options parsed but not shown.
    """
    hidden = (*hidden, *getattr(cls, "HIDDEN", ()))
    target = parser if group is None else group
    for f in dataclasses.fields(cls):
        sub = section_class(f)
        if sub:
            description = (sub.__doc__ or "").strip().split("\n")[0]
            add_arguments(parser, sub, hidden, parser.add_argument_group(f.name, description))
            continue
        flags, kwargs = _argument(f)
        if f.name in hidden:
            kwargs["help"] = argparse.SUPPRESS
        else:
            kwargs["help"] = kwargs["help"].replace("%", "%%")  # argparse formats help with %
        target.add_argument(*flags, **kwargs)
    return parser


def config_from_namespace(cls: type[ConfigT], namespace: argparse.Namespace) -> ConfigT:
    """The dataclass ``cls``, its sections built from the flat options, from parsed arguments
    (unknown attributes ignored), validated."""
    config = _nest(cls, vars(namespace))
    config.validate()
    return config


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default, except an unset one whose help already says what happens then."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None and "default" in (action.help or "").lower():
            return action.help
        return super()._get_help_string(action)

