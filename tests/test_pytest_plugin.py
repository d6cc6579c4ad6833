"""The pytest plugin, exercised as a user's test suite would use it (via pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_under_the_pytest11_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {entry.name: entry.value for entry in entry_points(group="pytest11")}
    assert names.get("katka") == "katka.pytest_plugin"


def test_a_user_suite_produces_and_consumes_through_the_fixtures(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from confluent_kafka import Consumer, Producer, TopicPartition
        from confluent_kafka.admin import AdminClient

        def test_round_trip(katka_broker, katka_topic):
            topic = katka_topic(partitions=3)
            producer = Producer({"bootstrap.servers": katka_broker.bootstrap_servers})
            for i in range(5):
                producer.produce(topic, value=b"v%d" % i, partition=i % 3)
            assert producer.flush(10) == 0
            consumer = Consumer({
                "bootstrap.servers": katka_broker.bootstrap_servers,
                "group.id": "unused",
                "enable.auto.commit": False,
            })
            consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
            values = set()
            for _ in range(50):
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    values.add(message.value())
                if len(values) == 5:
                    break
            consumer.close()
            assert values == {b"v%d" % i for i in range(5)}

        def test_topics_are_unique_and_configurable(katka_broker, katka_topic):
            first = katka_topic()
            second = katka_topic(partitions=2, config={"retention.ms": "60000"})
            assert first != second
            assert "test_topics_are_unique_and_configurable" in first
            admin = AdminClient({"bootstrap.servers": katka_broker.bootstrap_servers})
            topics = admin.list_topics(timeout=10).topics
            assert len(topics[second].partitions) == 2

        SEEN = []

        def test_the_broker_is_shared_by_the_session(katka_broker):
            SEEN.append(katka_broker.bootstrap_servers)

        def test_same_broker_again(katka_broker):
            assert SEEN == [katka_broker.bootstrap_servers]
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=4)


def test_topics_created_by_the_factory_are_deleted_after_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from confluent_kafka.admin import AdminClient

        NAMES = []

        def test_create(katka_topic):
            NAMES.append(katka_topic(name="short-lived"))

        def test_gone(katka_broker):
            admin = AdminClient({"bootstrap.servers": katka_broker.bootstrap_servers})
            assert NAMES == ["short-lived"]
            assert "short-lived" not in admin.list_topics(timeout=10).topics
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)


def test_a_conftest_can_override_the_broker_configs(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def katka_broker_configs():
            return {"num.partitions": "4"}
        """
    )
    pytester.makepyfile(
        """
        def test_configured(katka_broker):
            assert katka_broker.broker.config.get_int("num.partitions") == 4
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)
