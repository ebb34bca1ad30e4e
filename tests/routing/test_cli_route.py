"""`gids route` refuses an unknown topic with a usage message instead of a traceback."""
import subprocess
import sys

from bot.cli import ROUTE_TOPICS
from bot.routing.services import TOPICS


def test_the_cli_knows_exactly_the_routing_topics():
    assert set(ROUTE_TOPICS) == set(TOPICS)


def test_unknown_topic_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "bot.cli", "route", "--topic", "ask_foo", "--place", "Zwolle"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "invalid choice: 'ask_foo'" in result.stderr and "Traceback" not in result.stderr
