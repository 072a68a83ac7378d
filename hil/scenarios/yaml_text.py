"""Reading scenario YAML text safely: the node tree and the data, or a problem with its line.

PyYAML (YAML 1.1, safe loader) lets some inputs escape as plain Python errors or run away;
this module turns each into ``YamlProblem(line, message)``:

- characters YAML forbids (``ReaderError``, which carries a position, not a mark);
- a tagged scalar its constructor cannot build (``!!int 0x``, ``!!bool x``, a date like
  ``2020-02-30``): ValueError/KeyError/AttributeError inside the constructor, reported at
  the node;
- nesting deeper than ``MAX_DEPTH`` (PyYAML recurses per level, as does everything after);
- anchors and aliases that expand past ``MAX_NODES`` nodes (the "billion laughs" document,
  which is a few lines of text and exponential work for whoever walks it).

A scenario is a few dozen lines: the limits are far above any real one.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 40
MAX_NODES = 20_000


class YamlProblem(Exception):
    """The text is not usable YAML; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Loader(yaml.SafeLoader):
    """The safe loader, with constructor failures reported at their node."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError) as error:
            why = f" ({error})" if isinstance(error, ValueError) else ""
            raise YamlProblem(
                node.start_mark.line + 1,
                f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}{why}",
            ) from None


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the event stream (PyYAML's parser is a
    state machine; its composer recurses per level and would fail slowly at ~1000)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else 1
                raise YamlProblem(line, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_size(root: yaml.Node) -> None:
    """Refuse trees deeper than MAX_DEPTH or larger than MAX_NODES (aliases expanded)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    visited = 0
    while stack:
        node, depth = stack.pop()
        visited += 1
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise YamlProblem(line, f"nested deeper than {MAX_DEPTH} levels")
        if visited > MAX_NODES:
            raise YamlProblem(
                line,
                f"expands to more than {MAX_NODES} values (anchors and aliases repeated?); "
                "a scenario is a few dozen lines",
            )
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The composed node tree and the constructed data of a one-document ``text``.

    Raises ``YamlProblem`` for any problem above and for every PyYAML error."""
    try:
        loader = _Loader(text)  # checks every character of a str at once
    except yaml.reader.ReaderError as bad:
        line = text[: max(bad.position, 0)].count("\n") + 1
        raise YamlProblem(
            line,
            f"character #x{bad.character:04x} is not allowed in YAML "
            "(a binary file, or a control character pasted in?)",
        ) from None
    try:
        _check_depth(text)
        try:
            node = loader.get_single_node()
        except RecursionError:
            line = loader.get_mark().line + 1
            raise YamlProblem(line, f"nested deeper than {MAX_DEPTH} levels") from None
        if node is None:
            return None, None
        _check_size(node)
        return node, loader.construct_document(node)
    except yaml.MarkedYAMLError as bad:
        mark = bad.problem_mark or bad.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlProblem(line, str(bad.problem or bad.context)) from None
    except yaml.YAMLError as bad:
        raise YamlProblem(1, str(bad)) from None
    finally:
        loader.dispose()
