"""A text file listing inputs (`--inputs-from FILE`): one path or URL per line, for collections too long
for a command line. Blank lines and `#` comments are skipped; relative paths are taken as written (relative
to the working directory, like paths on the command line)."""
from __future__ import annotations

from pathlib import Path

from centernet.errors import InputError


def parse_input_list(text: str) -> list[str]:
    """The inputs named in a list file's text, in order. A `#` starts a comment only at the start of a line
    or after a space, so URLs with fragments (`http://host/a#b`) stay whole."""
    return [entry for _, entry in numbered_inputs(text)]


def numbered_inputs(text: str) -> list[tuple[int, str]]:
    """(line number from 1, input) of each input in a list file's text (for errors that name the line)."""
    inputs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line.startswith("#"):
            continue
        cut = line.find(" #")
        line = (line[:cut] if cut >= 0 else line).strip()
        if line:
            inputs.append((number, line))
    return inputs


def read_list_file(path: str | Path, what: str, each_line: str) -> str:
    """A list file's text; when it cannot be read, an InputError naming it (`what`: how the user gave it) and
    what each line should hold."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise InputError(f"cannot read {what}: {reason}; give a text file with {each_line} per line") from None


def read_input_list(path: str | Path) -> list[str]:
    """The inputs listed in `path`; InputError naming the file when it cannot be read."""
    return parse_input_list(read_list_file(path, f"--inputs-from {path}", "one path or URL"))
