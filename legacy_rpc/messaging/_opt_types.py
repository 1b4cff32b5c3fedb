"""Option classes that oslo.config treats as equal to oslo.messaging's options of the same meaning.

oslo.config refuses to register a second option under a name already taken unless the two
options compare equal, and plain options compare every attribute, help text included. A
process that loads oslo.messaging beside this library (a plugin, keystonemiddleware's audit
notifier) registers both sets on one ``ConfigOpts``; with plain options the second
registration raised ``DuplicateOptError``. These classes compare by meaning instead: same
name and destination, same kind of value (text, number, flag, list, dict), same default,
same multiplicity and secrecy. Help, sample defaults, deprecation notes, limits such as
``min``, and deprecated alias names are not compared: whichever library registers an option
first provides those, and both read the value from the same section of the same file.

Because these classes subclass oslo.config's, Python asks them first in ``a != b`` even
when oslo.messaging's option is on the left, so either order of registration works.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg, types

__all__ = ["StrOpt", "IntOpt", "FloatOpt", "BoolOpt", "ListOpt", "MultiStrOpt", "DictOpt",
           "same_meaning"]


def _kind(opt: cfg.Opt) -> str:
    value_type = opt.type
    if isinstance(value_type, types.Boolean):
        return "bool"
    if isinstance(value_type, (types.Integer, types.Float)):
        return "number"
    if isinstance(value_type, types.List):
        return "list"
    if isinstance(value_type, types.Dict):
        return "dict"
    if isinstance(value_type, types.String):
        return "text"
    return type(value_type).__name__


def _meaning(opt: cfg.Opt) -> tuple[Any, ...]:
    return (opt.name, opt.dest, _kind(opt), opt.default, bool(opt.multi),
            bool(opt.positional), bool(opt.required), bool(opt.secret))


def same_meaning(first: cfg.Opt, second: cfg.Opt) -> bool:
    """True when two options read the same value the same way (see the module docstring)."""
    return _meaning(first) == _meaning(second)


class _SameMeaning(cfg.Opt):
    """Equality by meaning, for coexistence with oslo.messaging's options."""

    def __eq__(self, another: object) -> bool:
        if not isinstance(another, cfg.Opt):
            return NotImplemented
        return same_meaning(self, another)

    def __ne__(self, another: object) -> bool:
        if not isinstance(another, cfg.Opt):
            return NotImplemented
        return not same_meaning(self, another)

    __hash__ = cfg.Opt.__hash__


class StrOpt(_SameMeaning, cfg.StrOpt):
    """A ``cfg.StrOpt`` equal to oslo.messaging's option of the same meaning."""


class IntOpt(_SameMeaning, cfg.IntOpt):
    """A ``cfg.IntOpt`` equal to oslo.messaging's option of the same meaning."""


class FloatOpt(_SameMeaning, cfg.FloatOpt):
    """A ``cfg.FloatOpt`` equal to oslo.messaging's option of the same meaning."""


class BoolOpt(_SameMeaning, cfg.BoolOpt):
    """A ``cfg.BoolOpt`` equal to oslo.messaging's option of the same meaning."""


class ListOpt(_SameMeaning, cfg.ListOpt):
    """A ``cfg.ListOpt`` equal to oslo.messaging's option of the same meaning."""


class MultiStrOpt(_SameMeaning, cfg.MultiStrOpt):
    """A ``cfg.MultiStrOpt`` equal to oslo.messaging's option of the same meaning."""


class DictOpt(_SameMeaning, cfg.DictOpt):
    """A ``cfg.DictOpt`` equal to oslo.messaging's option of the same meaning."""
