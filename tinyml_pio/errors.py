"""One exception type for user mistakes, so front doors print a paragraph, never a traceback."""

from __future__ import annotations


class TinymlError(Exception):
    """A problem with the user's input: says where (file, operator) and what to do."""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None):
        self.path = path
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        if self.path:
            text = f"{self.path}: {text}"
        if self.hint:
            text = f"{text}\nWhat to do: {self.hint}"
        return text


class UsageError(TinymlError):
    """A wrong command-line value found after parsing (an unknown board, an unwritable report path,
    options that contradict each other): exits like argparse's own usage errors."""


EXIT_ERROR = 1  # the input (model, data, build) could not be handled: the message says why
EXIT_USAGE = 2  # the command line itself is wrong (argparse's code, kept for our own checks)
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class Unsupported(Exception):
    """This operator (or this variant of it) cannot be compiled; the message says why (lowering
    adds the operator and collects every such problem into one TinymlError)."""
