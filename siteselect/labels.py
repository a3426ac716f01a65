"""Chinese and English labels for codes, read from ``layers/labels.yaml``."""

from __future__ import annotations

import functools

import yaml

from siteselect.specs import layers_dir


@functools.cache
def _labels() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = yaml.safe_load(
        (layers_dir() / "labels.yaml").read_text(encoding="utf-8")
    )
    return data


def zh(group: str, code: str | None) -> str:
    """The Chinese label of a code, or the code itself when it has none."""
    return _labels()[group].get(code or "", [code or ""])[0]


def en(group: str, code: str | None) -> str:
    """The English label of a code, or the code itself."""
    pair = _labels()[group].get(code or "")
    return pair[1] if pair else code or ""


def both(group: str, code: str | None) -> str:
    """The Chinese and the English name together, as maps and reports show them."""
    return f"{zh(group, code)} {en(group, code)}"


def codes_by_name(group: str) -> dict[str, str]:
    """The codes of a group by their Chinese and English names: what a department's sheet may write."""
    return {name: code for code, names in _labels()[group].items() for name in names}


def group(name: str) -> dict[str, list[str]]:
    """Every code of a group with its [Chinese, English] labels, for a page to show them."""
    return dict(_labels()[name])
