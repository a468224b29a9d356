"""The Redis transport of the hub's Celery broker: kombu's, with one failure made recoverable.

With late acknowledgement (`CELERY_TASK_ACKS_LATE`) a worker acknowledges a message after its task
has run. When the broker went away while the task ran, the consumer has meanwhile closed the
message's channel and the transport behind it, and kombu's channel then fails on the transport's
missing connection details with an `AttributeError`: not one of the transport's connection errors,
so the acknowledgement's error handling lets it through and the worker process exits in the middle
of an outage it would otherwise ride out. Here a channel whose transport is closed raises Redis's
`ConnectionError` instead: the worker logs that it could not acknowledge, keeps running, reconnects
when Redis is back, and the message, still unacknowledged in Redis, is delivered again after the
visibility timeout (every task of the hub may run twice). The same holds for a message that
arrives on such a channel.

Selected by `CELERY_BROKER_TRANSPORT` in the settings for `redis://` and `rediss://` broker URLs.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        connection = self.connection
        if connection is None or connection.client is None:
            raise RedisConnectionError("the broker channel's connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
