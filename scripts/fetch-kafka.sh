#!/usr/bin/env bash
# Resolve Apache Kafka (Maven org.apache.kafka:kafka_2.13) and its runtime dependencies into a cache
# outside the repository, for the tests that use Kafka itself as a judge (tests/kafka_reference.py).
# Kafka is never part of katka and nothing of it is committed.
#
# Usage: scripts/fetch-kafka.sh [VERSION]        (default 4.4.0)
# Result: ~/.cache/katka-kafka/VERSION/libs/*.jar (KATKA_KAFKA_CACHE overrides ~/.cache/katka-kafka)
# Idempotent: a complete cache (marked by libs/.complete) is left alone.
set -euo pipefail
version="${1:-4.4.0}"
cache="${KATKA_KAFKA_CACHE:-$HOME/.cache/katka-kafka}/$version"
if [ -f "$cache/libs/.complete" ]; then
  echo "$cache/libs"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch-kafka: mvn not found (apt-get install maven)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A throwaway project whose only purpose is to name the dependency for copy-dependencies.
cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>katka.judge</groupId>
  <artifactId>kafka-reference</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <!-- Kafka's own distribution logs through log4j 2; without a binding SLF4J prints nothing (Kafka 4.4 resolves slf4j-api 1.7). -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
EOF
rm -rf "$cache/libs.tmp"
mkdir -p "$cache"
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$cache/libs.tmp" >&2
rm -rf "$cache/libs"
mv "$cache/libs.tmp" "$cache/libs"
touch "$cache/libs/.complete"
echo "$cache/libs"
