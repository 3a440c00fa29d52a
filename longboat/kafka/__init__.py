"""The typed Kafka adapter: the only modules that import aiokafka."""

from longboat.kafka._admin import Admin, TopicOutcome
from longboat.kafka._consumer import Consumer, IsolationLevel
from longboat.kafka._following import TopicFollower
from longboat.kafka._lag import group_lag
from longboat.kafka._producer import Producer, RecordMetadata, TransactionalProducer
from longboat.kafka._reading import Decoded, read_decoded, read_to_end
from longboat.kafka._records import (
    CommittedOffset,
    ConsumedRecord,
    RebalanceHandler,
    TopicPartition,
)

__all__ = [
    "Admin",
    "CommittedOffset",
    "ConsumedRecord",
    "Consumer",
    "Decoded",
    "IsolationLevel",
    "Producer",
    "RebalanceHandler",
    "RecordMetadata",
    "TopicFollower",
    "TopicOutcome",
    "TopicPartition",
    "TransactionalProducer",
    "group_lag",
    "read_decoded",
    "read_to_end",
]
