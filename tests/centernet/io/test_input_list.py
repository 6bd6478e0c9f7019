"""`--inputs-from FILE`: one path or URL per line, blank lines and # comments skipped."""
import pytest

from centernet.errors import InputError
from centernet.io.input_list import parse_input_list, read_input_list


def test_paths_and_urls_in_order_without_comments_or_blank_lines():
    text = ("# cameras of day 1\n\n  videos/a.mp4  \nrtsp://cam/stream#channel1\n"
            "videos/b c.mp4   # the one with a space\n\t\n#videos/skipped.mp4\n")
    assert parse_input_list(text) == ["videos/a.mp4", "rtsp://cam/stream#channel1", "videos/b c.mp4"]


def test_an_unreadable_list_names_the_file_and_what_to_give(tmp_path):
    with pytest.raises(InputError, match=r"cannot read --inputs-from .*nope\.txt.*one path or URL per line"):
        read_input_list(tmp_path / "nope.txt")
    (tmp_path / "list.txt").write_text("a.mp4\r\nb.mp4\r\n")
    assert read_input_list(tmp_path / "list.txt") == ["a.mp4", "b.mp4"]
