"""`katka group ...` (kafka-consumer-groups.sh): commands.py holds the click commands,
queries.py the Kafka requests, report.py the typed describe report, printers.py the tables,
reset_plan.py and storms.py the plain rules (no clients, tested with plain values)."""
