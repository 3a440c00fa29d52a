"""The typed Kafka adapter: the only modules that import aiokafka."""

from longboat.kafka._admin import Admin, TopicOutcome
from longboat.kafka._consumer import Consumer, IsolationLevel
from longboat.kafka._producer import Producer, RecordMetadata, TransactionalProducer
from longboat.kafka._records import ConsumedRecord, TopicPartition

__all__ = [
    "Admin",
    "ConsumedRecord",
    "Consumer",
    "IsolationLevel",
    "Producer",
    "RecordMetadata",
    "TopicOutcome",
    "TopicPartition",
    "TransactionalProducer",
]
