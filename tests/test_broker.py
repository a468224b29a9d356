"""The broker transport: an acknowledgement on a channel whose transport closed is a connection
error (logged, the worker goes on), not an AttributeError that ends the worker process."""

from __future__ import annotations

import logging
import subprocess
import sys
from types import SimpleNamespace

import pytest
from kombu.message import Message
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from clearinghouse.broker import TRANSPORT, Channel, Transport

from .test_runtime import ROOT


def _closed_channel(connection) -> Channel:
    # As the consumer leaves a message's channel when the broker went away: its transport closed
    # (kombu drops the transport's client), the channel object still referenced by the message.
    channel = object.__new__(Channel)
    channel.connection = connection
    channel._pool = None
    channel._async_pool = None
    channel.max_connections = 10
    channel._qos = kombu_redis.QoS(channel)
    channel._qos.restore_at_shutdown = False  # no real messages to give back when the tests end
    return channel


@pytest.mark.parametrize("connection", [None, SimpleNamespace(client=None, default_port=6379)])
def test_a_closed_channel_raises_a_connection_error(connection):
    with pytest.raises(RedisConnectionError):
        _closed_channel(connection)._connparams()
    assert issubclass(RedisConnectionError, Transport.connection_errors)


def test_kombus_own_channel_fails_there_with_an_attribute_error():
    # What the subclass is for: the same state on kombu's channel is no connection error.
    channel = object.__new__(kombu_redis.Channel)
    channel.connection = SimpleNamespace(client=None, default_port=6379)
    with pytest.raises(AttributeError):
        channel._connparams()


def test_a_late_acknowledgement_on_a_closed_channel_is_logged_not_raised(caplog):
    channel = _closed_channel(SimpleNamespace(client=None, default_port=6379))
    channel.qos._delivered["tag-1"] = True
    message = Message(body=b"{}", delivery_tag="tag-1", channel=channel)
    logger = logging.getLogger("celery.worker.request")
    with caplog.at_level(logging.CRITICAL, logger="celery.worker.request"):
        message.ack_log_error(logger, Transport.connection_errors)  # as Celery's Request does
    assert "Couldn't ack" in caplog.text
    assert not message.acknowledged


def test_a_redis_broker_url_selects_the_transport():
    code = "from django.conf import settings; print(getattr(settings, 'CELERY_BROKER_TRANSPORT', '-'))"
    env = {"DJANGO_ENV": "test", "PATH": "/usr/bin:/bin"}
    answers = [
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=120, check=True,
        ).stdout.strip().splitlines()[-1]
        for extra in ({"REDIS_URL": "redis://127.0.0.1:6379/14"}, {"REDIS_URL": "rediss://cache:6380/0"}, {})
    ]  # fmt: skip
    assert answers == [TRANSPORT, TRANSPORT, "-"]
