"""Build validated ``attrs`` configuration objects from TOML tables, with errors naming the key.

Every part (space, encoder, predictor, sampler, proxy, strategy, objective, executor) declares a
frozen ``attrs`` class ``Config``. :func:`build_config` turns a plain dict (a TOML table) into it,
rejecting unknown keys and reporting type or range problems as ``ConfigError`` naming
``section.key``. The validators below are small helpers so that plugin authors write
``field(default=10, validator=positive_int)`` and get the same messages.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Mapping, TypeVar

import attrs

from nasplug.core.errors import ConfigError

C = TypeVar("C")


def _fail(attribute: attrs.Attribute, expected: str, value: Any) -> None:
    # The attribute name is prefixed with the section by build_config.
    raise ValueError(f"{attribute.name}: expected {expected}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not _is_int(value) or value < 1:
        _fail(attribute, "an integer >= 1", value)


def non_negative_int(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not _is_int(value) or value < 0:
        _fail(attribute, "an integer >= 0", value)


def optional_positive_int(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None:
        positive_int(inst, attribute, value)


def number_in(low: float | None = None, high: float | None = None, *, optional: bool = False):
    """Validator: a finite real number (int or float, not bool, not NaN or infinity) within
    [low, high]; an open bound is still finite."""

    def check(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is None and optional:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and low is not None and value < low:
            ok = False
        if ok and high is not None and value > high:
            ok = False
        if not ok:
            bounds = f" in [{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
            _fail(attribute, "a finite number" + bounds, value)

    return check


def one_of(*choices: Any):
    """Validator: the value is one of ``choices``."""

    def check(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in choices:
            _fail(attribute, "one of " + ", ".join(repr(c) for c in choices), value)

    return check


def string(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        _fail(attribute, "a non-empty string", value)


def optional_string(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None:
        string(inst, attribute, value)


def string_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        _fail(attribute, "a list of strings", value)


def table(description: str = "a table", *, optional: bool = False):
    """Validator: a TOML table (a dict), or none when ``optional``; ``description`` names it in
    the error (e.g. ``"a table of to_module options"``)."""

    def check(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not (isinstance(value, dict) or (optional and value is None)):
            _fail(attribute, description, value)

    return check


def boolean(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(attribute, "true or false", value)


def _is_part_spec(value: Any) -> bool:
    return (isinstance(value, str) and bool(value)) or (isinstance(value, Mapping) and isinstance(value.get("name"), str)
                                                        and bool(value.get("name")))


def part_spec(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Validator: a part nested in another part's options, given as a registered name or a table
    ``{name = "...", <its options>}``; build it with :func:`nasplug.core.registry.create_part`."""
    if not _is_part_spec(value):
        _fail(attribute, "a plugin name or a table with 'name'", value)


def part_spec_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Validator: a non-empty list of part specs (see :func:`part_spec`)."""
    if not isinstance(value, (list, tuple)) or not value or not all(_is_part_spec(v) for v in value):
        _fail(attribute, "a list of plugin names or {name = ...} tables", value)


def spec_name(spec: str | Mapping[str, Any]) -> str:
    """The plugin name of a part spec."""
    return spec if isinstance(spec, str) else spec["name"]


def build_config(cls: type[C], options: Mapping[str, Any] | None, section: str) -> C:
    """Instantiate ``attrs`` class ``cls`` from ``options``; errors name ``section.key``."""
    options = dict(options or {})
    known = {a.alias or a.name for a in attrs.fields(cls) if a.init}
    unknown = sorted(set(options) - known)
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean '{close[0]}'?" if close else (
            f"known keys: {', '.join(sorted(known))}" if known else "this part takes no options")
        raise ConfigError(f"config key '{section}.{key}' is not an option of this part; {hint}")
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if ":" in message and message.split(":", 1)[0] in known:
            key, rest = message.split(":", 1)
            raise ConfigError(f"config key '{section}.{key}':{rest}; fix the value in the config") from None
        raise ConfigError(f"config section '{section}': {message}") from None


@attrs.frozen
class NoOptions:
    """Configuration of a part that takes no options."""


@attrs.frozen
class OptionInfo:
    """One option of a part's ``Config`` as ``nasplug plugins NAME`` prints it."""

    name: str
    type: str
    default: Any
    doc: str


def _sentence_about(name: str, texts: list[str]) -> str:
    """The first sentence or bullet of ``texts`` that names ``name`` in double backquotes."""
    import re

    mark = f"``{name}``"
    for text in texts:
        flat = re.sub(r"\s+", " ", text or "")
        at = flat.find(mark)
        if at < 0:
            continue
        start = max([flat.rfind(sep, 0, at) + 2 for sep in (". ", "- ", "; ") if flat.rfind(sep, 0, at) >= 0] or [0])
        ends = [e for e in (flat.find(". ", at), flat.find(" - ``", at), flat.find("; ``", at)) if e >= 0]
        end = min(ends) if ends else len(flat)
        return flat[start:end].strip().rstrip(".;") + "."
    return ""


def describe_options(part: type) -> list[OptionInfo]:
    """The options of ``part`` (a part class with a ``Config``): name, type, default, and the
    sentence of the Config's or the part's docstring that names the option."""
    config = getattr(part, "Config", None)
    if config is None or not attrs.has(config):
        return []
    texts = [config.__doc__ or "", part.__doc__ or ""]
    out = []
    for field in attrs.fields(config):
        if not field.init:
            continue
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            default = field.default.factory() if not field.default.takes_self else "(derived)"
        else:
            default = field.default
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type or ""))
        out.append(OptionInfo(field.alias or field.name, kind or "", default, _sentence_about(field.name, texts)))
    return out
