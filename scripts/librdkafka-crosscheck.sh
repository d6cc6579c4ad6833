#!/usr/bin/env bash
# Cross-check katka against librdkafka's own test suite (issue 3, "Done when").
#
# Usage: scripts/librdkafka-crosscheck.sh LIBRDKAFKA_SRC_DIR [TEST ...]
#
# A TEST is a test number (0081), optionally with a sub-test filter (0081:do_test_DeleteGroups, run
# with librdkafka's SUBTESTS=do_test_DeleteGroups: librdkafka stops a test at its first failing
# sub-test, so a test that fails early on a feature katka lacks by design is run sub-test by
# sub-test) and/or a scenario (0045@noautocreate: -s noautocreate against a katka with
# auto.create.topics.enable=false; 0107 and 0111 always run in that scenario), or the word `share`
# for the share-consumer tests (SHARE_TESTS below, with the results of their last run).
#
# Security scenarios (issue 14) give katka a secured listener and the tests the client configs
# trivup would give them; certificates are made with the openssl command in OUT_DIR:
#   @ssl          an SSL listener with ssl.client.auth=required (SSL_CLIENT_AUTH overrides), the
#                 SSL_* environment 0097 reads (client key as PEM, DER and PKCS12, CA as DER)
#   @sasl_plain   SASL_PLAINTEXT with PLAIN (users from the listener's JAAS)
#   @sasl_scram   SASL_SSL with SCRAM-SHA-512 (the user made by AlterUserScramCredentials)
#   @acl          PLAINTEXT with katka's authorizer on (allow.everyone.if.no.acl.found=true),
#                 KAFKA_PATH pointing at a bin/kafka-acls.sh that runs Kafka 4.4's AclCommand
#                 from ~/.cache/katka-kafka (scripts/fetch-kafka.sh and kafka-tools)
# Every SASL scenario sets connections.max.reauth.ms=$REAUTH_MS (default 10000; 0142 reads it).
# 0081 (admin APIs, ACLs among them: trivup's clusters have an authorizer) runs @acl too.
# 0097, 0115, 0119, 0135, 0142 run in their scenario (0097@ssl, 0115@acl, 0119@acl,
# 0135@sasl_scram, 0142@sasl_scram) unless one is given.
#
# LIBRDKAFKA_SRC_DIR is a checkout of confluentinc/librdkafka obtained by hand (this script never
# downloads anything and nothing of librdkafka belongs in this repository). If the library is not
# built yet it is configured without GSSAPI/curl (and without zstd unless Debian's libzstd-dev is
# installed: 0171 produces with every codec) and built with make; then tests/test-runner
# is built (SSL and RapidJSON are used when their Debian -dev packages are installed: 0064 needs SSL
# support compiled in, 0053/0101/0110 need RapidJSON). Each test number runs in full mode (no -Q),
# broker tests only (-L), against a fresh `katka serve` (from the checkout this script is in) on a
# free loopback port below the ephemeral range (so no client connection can be holding it
# when katka binds) with a temporary data directory, bounded by a timeout.
# With no test numbers the default list below runs (broker tests minus the excluded ones).
#
# Environment:
#   TEST_TIMEOUT        seconds per test number (default 300; 0113 gets at least 900: its full mode
#                       runs ~30 cooperative-rebalance scenarios; 0081 too: ~550 s of admin calls)
#   TEST_KAFKA_VERSION  broker version the tests gate on (default 3.7.0)
#   TEST_TIMEOUT_MULTIPLIER
#                       librdkafka's test.timeout.multiplier (default 1; 3 for the share-consumer
#                       tests, as on librdkafka's CI, where test.c adds 2: their sub-tests wait out
#                       lock and session timeouts and 0170 alone runs ~160 s of them)
#   ADMIN_TEST_KAFKA_VERSION
#                       broker version for 0081 (admin APIs; default 4.0.0: its group-config
#                       sub-test expects Kafka 4.0's consumer.session.timeout.ms, which katka has)
#   SHARE_TEST_KAFKA_VERSION
#                       broker version for the share-consumer tests 0170-0199 (default 4.2.0: they
#                       gate on TEST_BRKVER(4,2,0,0), KIP-932 as Kafka 4.2 ships it, and skip below)
#   KATKA_PYTHON        interpreter with katka installed (default: python3 when it imports katka,
#                       as after the README's `pip install .` in an active venv; else the
#                       checkout's .venv; else the script stops and says so)
#   KATKA_LOG_LEVEL     katka --log-level (default INFO)
#   GROUP_INITIAL_REBALANCE_DELAY_MS
#                       katka's group.initial.rebalance.delay.ms (default 3000, Kafka's default, which
#                       the trivup clusters librdkafka's CI uses keep; with 0 the first member of a
#                       group gets a generation of its own before the others join, and tests that
#                       count rebalance callbacks (0102, 0113) fail)
#   OUT_DIR             where logs go (default: a new temporary directory, printed at the end)
#
# Output: one line per test number ("PASS 0001 ...", "FAIL 0042 ... sub-test: reason"), the
# per-sub-test table of librdkafka's summary in OUT_DIR/NNNN.log, katka's log in
# OUT_DIR/NNNN.katka.log, and a final "N passed, M failed" line. Exit status 0 when none failed.
set -u

if [ $# -lt 1 ] || [ ! -d "$1/tests" ]; then
    echo "usage: $0 LIBRDKAFKA_SRC_DIR [TEST_NUMBER ...]" >&2
    exit 2
fi
SRC=$(cd "$1" && pwd)
shift

REPO=$(cd "$(dirname "$0")/.." && pwd)
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
TEST_KAFKA_VERSION=${TEST_KAFKA_VERSION:-3.7.0}
SHARE_TEST_KAFKA_VERSION=${SHARE_TEST_KAFKA_VERSION:-4.2.0}
ADMIN_TEST_KAFKA_VERSION=${ADMIN_TEST_KAFKA_VERSION:-4.0.0}
if [ -z "${KATKA_PYTHON:-}" ]; then
    if python3 -c 'import katka' 2>/dev/null; then KATKA_PYTHON=python3
    elif [ -x "$REPO/.venv/bin/python" ]; then KATKA_PYTHON=$REPO/.venv/bin/python
    else KATKA_PYTHON=python3; fi
fi
if ! "$KATKA_PYTHON" -c 'import katka, confluent_kafka' 2>/dev/null; then
    echo "$0: $KATKA_PYTHON cannot import katka: activate the venv where you ran" \
        "\`pip install .\` (README) or set KATKA_PYTHON" >&2
    exit 2
fi
KATKA_LOG_LEVEL=${KATKA_LOG_LEVEL:-INFO}
REAUTH_MS=${REAUTH_MS:-10000}
SSL_CLIENT_AUTH=${SSL_CLIENT_AUTH:-required}
GROUP_INITIAL_REBALANCE_DELAY_MS=${GROUP_INITIAL_REBALANCE_DELAY_MS:-3000}
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/librdkafka-crosscheck.XXXXXX)}
mkdir -p "$OUT_DIR"

# Broker tests (not TEST_F_LOCAL) of librdkafka v2.15, minus the excluded ones:
#   0045@noautocreate, 0052, 0077, 0109 (kafka-topics.sh/kafka-acls.sh: KAFKA_PATH; 0016 runs, its
#   JMX check skips itself without KAFKA_PATH),
#   0097, 0115, 0119, 0135, 0142 (SSL/SASL/ACLs: they run in their security scenario when named,
#   results below), 0126 and 0128 (OAUTHBEARER, which katka does not implement),
#   0098 (transactions, driven by a Java helper program), the share-consumer tests (below, run
#   them with the word `share` as TEST),
#   0038 (performance benchmark), 8000/8001 (manual),
#   0101, 0103, 0107, 0111 (create topics with replication factor 3: need a 3-broker cluster),
#   0139, 0150 (flagged as broker tests but run only against librdkafka's mock cluster).
# Security tests (run 2026-11-30, librdkafka 2.15.0): 0115@acl and 0119@acl pass (Kafka's
#   kafka-acls.sh against katka's authorizer). 0135@sasl_scram: do_test (both sub-tests) passes
#   (`0135:do_test:`); do_test_share_consumer creates its topic with replication factor 3, which
#   one broker refuses as Kafka does. 0142@sasl_scram creates its topics with replication
#   factor 3 too; with that one argument changed to 1 in a scratch copy, its 7 SCRAM sub-tests
#   (consumer, share consumer, producer, transactional commit and abort across
#   re-authentication, failed re-authentication for both consumers) pass; the OAUTHBEARER ones
#   skip. 0097@ssl: the 9 trusted-key sub-tests pass (PEM by location, by conf, by setter, DER,
#   PKCS12; run with the untrusted-key loop cut from a scratch copy, as librdkafka stops a test
#   at its first failure); the untrusted-client-key ones fail: the test expects the broker to
#   reject the certificate with TLS alert 42 or 40 (Java's), while katka's TLS (Python's ssl under
#   asyncio) closes the connection after the failed handshake without flushing its alert, so
#   librdkafka reports "connection closed by peer" (a transport failure). With
#   SSL_CLIENT_AUTH=requested the test expects an untrusted certificate to be ignored, as
#   Java's "want" client auth does; OpenSSL's CERT_OPTIONAL still refuses it.
# Expected failures: none. Last full run of the default list (librdkafka 2.15.0, katka d612fbb,
#   2026-11-30, a 2-core machine shared with other test runs): 64 passed, 17 failed, 2 skipped;
#   every failure but 0081 passed when run again alone (katka 8c10a5a): 0034 0040 0049 0055
#   0067 0076 0082 0083 0090 0091 0092 0093 0094 0112 0127 (10 s client timeouts, 0055's
#   latency bound, 0091's rebalance count: load, not katka) and 0113 (one commit during a
#   cooperative rebalance answered an unexpected error at 621 s; alone it passes whole, 609 s,
#   katka 8c10a5a: watch it). 0081 failed
#   without an authorizer ("No Authorizer is configured" from CreateAcls); it now runs @acl with
#   ADMIN_TEST_KAFKA_VERSION and passes whole (546 s). 0011 passes whole since log compaction,
#   its compaction sub-test too: `0011:test_message_single_partition_record_fail` runs only
#   that one (both variations: 10 keyless records refused with INVALID_RECORD, and the 90
#   others of their batch failed with _INVALID_DIFFERENT_RECORD or, one record per batch,
#   delivered). 0055, 0061, 0137 (transactional producers) and 0129 (aborted transactions)
#   pass since issue 11 (transactions). On a loaded machine expect the 10 s timeouts above to
#   fail now and then: run the failed numbers again alone.
# Share-consumer tests (KIP-932; librdkafka v2.15.0 has them, gated on broker 4.2.0): run with
# `share` as TEST. 0182, 0183, 0186 run only against librdkafka's mock cluster (TEST_F_LOCAL),
# 0190 (client telemetry) is manual. Results (librdkafka 4c3b017, v2.15.0 + one test fix, built
# with zstd; katka 3b4407c to ef1f2af as the run went; `share` took 30 min on a loaded 2-core machine, 0177 rerun alone
# after something outside the run killed its test-runner): every test passes
# except 0179, explained below. What the first runs found, fixed since:
#   0177 transactions: share.isolation.level did not exist (read_committed got the aborted
#     transaction's records).
#   0180 config: ShareFetch max_bytes 0 was read as unlimited (Kafka answers nothing).
#   0170 subscription, 0174 concurrency: every sub-test passed but together they outlast the
#     test's own timeout at multiplier 1, or a 240 s limit (hence multiplier 3 and 900 s).
#   0171 consume: do_test_all_compression_codecs needs librdkafka built with zstd.
# 0179 destroy, do_test_destroy_with_explicit_ack: expects each ShareFetch answer to carry one
#   partition's records (50 of 100 on 2 partitions); katka answers every session partition that
#   has records, up to max_records (100 at once). Kafka 4.4 passes it (its answers held one
#   partition each, checked with this script's test-runner against tests/kafka/reference.py);
#   katka keeps answering all partitions (README, deviations).
SHARE_TESTS="0170 0171 0172 0173 0174 0175 0176 0177 0178 0179 0180 0181 0184 0185"
DEFAULT_TESTS="0001 0002 0003 0005 0007 0008 0011 0012 0013 0014 0015 0016 0017 0018 0019 0020 0021
0022 0026 0029 0030 0031 0033 0034 0035 0036 0039 0040 0041 0042 0044 0045 0048 0049 0050
0051 0053 0054 0055 0056 0057 0059 0060 0061 0063 0064 0065 0067 0068 0069 0070 0073 0075 0076
0081 0082 0083 0084 0085 0086 0088 0089 0090 0091 0092 0093 0094 0099 0102 0110
0112 0113 0114 0118 0122 0123 0125 0127 0129 0130 0132 0137 0140"
if [ $# -gt 0 ]; then TESTS_TO_RUN="$*"; else TESTS_TO_RUN=$DEFAULT_TESTS; fi
TESTS_TO_RUN=${TESTS_TO_RUN//share/$SHARE_TESTS}


# ---- build (no downloads: configure without --install-deps) ----
if [ ! -f "$SRC/src/librdkafka.so.1" ]; then
    echo "building librdkafka in $SRC ..."
    zstd=--disable-zstd
    pkg-config --exists libzstd 2>/dev/null && zstd=
    (cd "$SRC" && ./configure --disable-gssapi --disable-curl $zstd && make -j"$(nproc)" libs) > "$OUT_DIR/build.log" 2>&1 \
        || { echo "librdkafka build failed, see $OUT_DIR/build.log" >&2; exit 2; }
fi
if [ ! -x "$SRC/tests/test-runner" ]; then
    echo "building librdkafka tests ..."
    make -C "$SRC/tests" -j"$(nproc)" build >> "$OUT_DIR/build.log" 2>&1 \
        || { echo "test build failed, see $OUT_DIR/build.log" >&2; exit 2; }
fi
export LD_LIBRARY_PATH=$SRC/src:$SRC/src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

free_port() {
    # A free port in 10000..(start of the ephemeral range - 1): the kernel never hands those
    # to outgoing connections, so the port stays free until katka binds it.
    "$KATKA_PYTHON" - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randrange(10000, max(low, 10001))
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
}

KATKA_PID=
stop_katka() {
    if [ -n "$KATKA_PID" ]; then
        kill "$KATKA_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$KATKA_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$KATKA_PID" 2>/dev/null
        wait "$KATKA_PID" 2>/dev/null
        KATKA_PID=
    fi
}
trap 'stop_katka; exit 130' INT TERM

# TLS material for the security scenarios, made once per run with the openssl command: a CA,
# the broker's key store (PEM, SAN 127.0.0.1), a client key encrypted with a password, and the
# encodings 0097 loads (DER, PKCS12 with the CA).
SSL_DIR=$OUT_DIR/ssl
make_certificates() {
    [ -f "$SSL_DIR/.complete" ] && return 0
    mkdir -p "$SSL_DIR" && (
        cd "$SSL_DIR" || exit 1
        set -e
        pw=crosscheck-secret
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=katka-crosscheck-ca \
            -keyout ca.key -out ca.pem
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout broker.key -out broker.csr
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile broker.ext -out broker.pem
        cat broker.key broker.pem > broker-keystore.pem
        openssl req -newkey rsa:2048 -passout "pass:$pw" -subj /CN=client -keyout client.key \
            -out client.csr
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -out client.pem
        openssl rsa -in client.key -passin "pass:$pw" -outform DER -out client.key.der
        openssl x509 -in client.pem -outform DER -out client.der
        openssl x509 -in ca.pem -outform DER -out ca.der
        openssl pkcs12 -export -in client.pem -inkey client.key -passin "pass:$pw" \
            -certfile ca.pem -passout "pass:$pw" -out client.p12
        printf '%s' "$pw" > password
        touch .complete
    ) > "$OUT_DIR/ssl.log" 2>&1 || { echo "openssl failed, see $OUT_DIR/ssl.log" >&2; return 1; }
}

# KAFKA_PATH for the @acl scenario: bin/kafka-acls.sh runs Kafka's own AclCommand.
make_kafka_path() {
    local libs tools
    libs=$(bash "$REPO/scripts/fetch-kafka.sh" 4.4.0) || return 1
    tools=$(dirname "$libs")/tools/kafka-tools-4.4.0.jar
    if [ ! -f "$tools" ]; then
        mvn -q dependency:copy -Dartifact=org.apache.kafka:kafka-tools:4.4.0 \
            -DoutputDirectory="$(dirname "$tools")" >&2 || return 1
    fi
    mkdir -p "$OUT_DIR/kafka/bin"
    printf '#!/bin/sh\nexec java -Xmx256m -XX:TieredStopAtLevel=1 -cp "%s:%s/*" org.apache.kafka.tools.AclCommand "$@"\n' \
        "$tools" "$libs" > "$OUT_DIR/kafka/bin/kafka-acls.sh"
    chmod +x "$OUT_DIR/kafka/bin/kafka-acls.sh"
    export KAFKA_PATH=$OUT_DIR/kafka
}

# server.properties lines and test.conf lines of a security scenario ($1): the broker's lines,
# a "--" line, then the client's lines.
scenario_configs() {
    local pw jaas
    pw=$(cat "$SSL_DIR/password" 2>/dev/null)
    jaas='org.apache.kafka.common.security.plain.PlainLoginModule required user_crosscheck="crosscheck-secret";'
    case $1 in
    ssl)
        echo "ssl.keystore.type=PEM"; echo "ssl.keystore.location=$SSL_DIR/broker-keystore.pem"
        echo "ssl.truststore.type=PEM"; echo "ssl.truststore.location=$SSL_DIR/ca.pem"
        echo "ssl.client.auth=$SSL_CLIENT_AUTH"
        echo "--"
        echo "security.protocol=ssl"; echo "ssl.ca.location=$SSL_DIR/ca.pem"
        echo "ssl.key.location=$SSL_DIR/client.key"; echo "ssl.key.password=$pw"
        echo "ssl.certificate.location=$SSL_DIR/client.pem" ;;
    sasl_plain)
        echo "sasl.enabled.mechanisms=PLAIN"
        echo "listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas"
        echo "connections.max.reauth.ms=$REAUTH_MS"
        echo "--"
        echo "security.protocol=sasl_plaintext"; echo "sasl.mechanism=PLAIN"
        echo "sasl.username=crosscheck"; echo "sasl.password=crosscheck-secret" ;;
    sasl_scram)
        echo "ssl.keystore.type=PEM"; echo "ssl.keystore.location=$SSL_DIR/broker-keystore.pem"
        echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
        echo "connections.max.reauth.ms=$REAUTH_MS"
        echo "--"
        echo "security.protocol=sasl_ssl"; echo "ssl.ca.location=$SSL_DIR/ca.pem"
        echo "sasl.mechanism=SCRAM-SHA-512"
        echo "sasl.username=crosscheck"; echo "sasl.password=crosscheck-secret" ;;
    acl)
        echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        echo "allow.everyone.if.no.acl.found=true"
        echo "--" ;;
    esac
}

secured_listener() {  # $1 = scenario: the secured listener's name, or nothing
    case $1 in
    ssl) echo SSL ;; sasl_plain) echo SASL_PLAINTEXT ;; sasl_scram) echo SASL_SSL ;;
    esac
}

add_scram_user() {  # through the PLAINTEXT listener, before any test connects
    "$KATKA_PYTHON" - "$PORT" <<'PY'
import sys
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)
admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{sys.argv[1]}"})
upsert = UserScramCredentialUpsertion(
    "crosscheck", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"crosscheck-secret")
admin.alter_user_scram_credentials([upsert])["crosscheck"].result(30)
PY
}

# Start katka as trivup's default scenario configures Kafka for these tests: auto-created topics
# with 4 partitions. Retries a few times in case the free port is taken in between. A security
# scenario adds its listener and configs through a server.properties; CLIENT_PORT is the port
# the tests connect to.
start_katka() {  # $1 = log id, $2 = auto.create.topics.enable, $3 = scenario
    local data=$OUT_DIR/data-$1 attempt listener props=$OUT_DIR/$1.server.properties
    listener=$(secured_listener "$3")
    for attempt in 1 2 3; do
        rm -rf "$data"
        PORT=$(free_port)
        CLIENT_PORT=$PORT
        local place=(--listen "127.0.0.1:$PORT" --data-dir "$data")
        if [ -n "$listener" ] || [ "$3" = acl ]; then
            [ -n "$listener" ] && CLIENT_PORT=$(free_port)
            {
                printf 'listeners=PLAINTEXT://127.0.0.1:%s' "$PORT"
                [ -n "$listener" ] && printf ',%s://127.0.0.1:%s' "$listener" "$CLIENT_PORT"
                printf '\nlog.dirs=%s\n' "$data"
                scenario_configs "$3" | sed '/^--$/,$d'
            } > "$props"
            place=(--config "$props")
        fi
        "$KATKA_PYTHON" -m katka serve "${place[@]}" \
            --log-level "$KATKA_LOG_LEVEL" \
            -o group.initial.rebalance.delay.ms="$GROUP_INITIAL_REBALANCE_DELAY_MS" -o num.partitions=4 \
            -o auto.create.topics.enable="$2" > "$OUT_DIR/$1.katka.log" 2>&1 &
        KATKA_PID=$!
        for _ in $(seq 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$CLIENT_PORT") 2>/dev/null; then
                if [ "$3" = sasl_scram ]; then add_scram_user || return 1; fi
                return 0
            fi
            kill -0 "$KATKA_PID" 2>/dev/null || break
            sleep 0.1
        done
        stop_katka
    done
    return 1
}

echo "librdkafka $(sed -n 's/^RDKAFKA_VERSION_STR=[[:space:]]*//p' "$SRC/Makefile.config" 2>/dev/null)," \
    "katka $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD -- katka 2>/dev/null || echo +local-changes)," \
    "TEST_KAFKA_VERSION=$TEST_KAFKA_VERSION (share tests $SHARE_TEST_KAFKA_VERSION) group.initial.rebalance.delay.ms=$GROUP_INITIAL_REBALANCE_DELAY_MS timeout=${TEST_TIMEOUT}s"
passed=0
failed=0
skipped=0
failed_list=
for spec in $TESTS_TO_RUN; do
    base=${spec%%@*}
    t=${base%%:*}
    subtests=
    [ "$base" != "$t" ] && subtests=${base#*:}
    scenario=default
    [ "$spec" != "$base" ] && scenario=${spec#*@}
    case $t in 0107|0111) scenario=noautocreate ;; esac
    if [ "$scenario" = default ]; then
        case $t in
        0097) scenario=ssl ;; 0081|0115|0119) scenario=acl ;; 0135|0142) scenario=sasl_scram ;;
        esac
    fi
    security_env=()
    case $scenario in
    ssl|sasl_plain|sasl_scram)
        if ! make_certificates; then
            echo "FAIL $spec could not make certificates"; failed=$((failed + 1)); continue
        fi
        if [ "$scenario" = ssl ]; then
            security_env=(SSL_pkcs="$SSL_DIR/client.p12" SSL_password="$(cat "$SSL_DIR/password")"
                SSL_priv_pem="$SSL_DIR/client.key" SSL_pub_pem="$SSL_DIR/client.pem"
                SSL_priv_der="$SSL_DIR/client.key.der" SSL_pub_der="$SSL_DIR/client.der"
                SSL_ca_der="$SSL_DIR/ca.der" SSL_all_cas_pem="$SSL_DIR/ca.pem"
                SSL_client_auth="$SSL_CLIENT_AUTH")
        fi ;;
    acl)  # 0081 needs the authorizer, not kafka-acls
        if [ "$t" != 0081 ] && ! make_kafka_path; then
            echo "FAIL $spec could not resolve Kafka's kafka-acls"; failed=$((failed + 1)); continue
        fi ;;
    esac
    autocreate=true
    [ "$scenario" = noautocreate ] && autocreate=false
    id=$t${subtests:+-$subtests}${scenario#default}
    if ! start_katka "$id" "$autocreate" "$scenario"; then
        echo "FAIL $spec katka did not start (see $OUT_DIR/$id.katka.log)"
        failed=$((failed + 1)); failed_list="$failed_list $spec"
        continue
    fi
    conf=$OUT_DIR/$id.test.conf
    multiplier=${TEST_TIMEOUT_MULTIPLIER:-1}
    case $t in 01[7-9][0-9]) multiplier=${TEST_TIMEOUT_MULTIPLIER:-3} ;; esac
    # kafka-acls.sh starts a JVM inside the test's own timeout (20 s for 0119).
    [ "$scenario" = acl ] && multiplier=${TEST_TIMEOUT_MULTIPLIER:-4}
    {
        printf 'bootstrap.servers=127.0.0.1:%s\ntest.timeout.multiplier=%s\n' "$CLIENT_PORT" "$multiplier"
        scenario_configs "$scenario" | sed '1,/^--$/d'
    } > "$conf"
    timeout=$TEST_TIMEOUT
    case $t in 0081|0113) [ "$timeout" -lt 900 ] && timeout=900 ;; esac
    case $t in 01[7-9][0-9]) [ "$timeout" -lt 900 ] && timeout=900 ;; esac
    start=$(date +%s)
    kafka_version=$TEST_KAFKA_VERSION
    case $t in 01[7-9][0-9]) kafka_version=$SHARE_TEST_KAFKA_VERSION ;; esac
    # 0081 expects Kafka 4.0's group configs (consumer.session.timeout.ms) when told 4.0+.
    [ "$t" = 0081 ] && kafka_version=$ADMIN_TEST_KAFKA_VERSION
    [ "$t" = 0142 ] && [ "$timeout" -lt $((17 * REAUTH_MS / 1000 + 60)) ] \
        && timeout=$((17 * REAUTH_MS / 1000 + 60))
    rdkafka_scenario=default
    [ "$scenario" = noautocreate ] && rdkafka_scenario=noautocreate
    (cd "$SRC/tests" && env "${security_env[@]}" TEST_KAFKA_VERSION="$kafka_version" \
        RDKAFKA_TEST_CONF="$conf" TESTS=$t SUBTESTS=$subtests timeout -k 10 "$timeout" \
        ./test-runner -L -p1 -s "$rdkafka_scenario") > "$OUT_DIR/$id.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    stop_katka
    rm -rf "$OUT_DIR/data-$id"
    # librdkafka's summary rows: "| 0001_multiobj | PASSED | 1.2s |" (colours stripped).
    summary=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT_DIR/$id.log" \
        | awk -F'|' -v t="$t" '$2 ~ "^ *"t"_" && $3 ~ /PASSED|FAILED|SKIPPED|RUNNING|NOT_STARTED/ {
              gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $5);
              printf "%s%s=%s%s", sep, $2, $3, ($3 == "FAILED" && $5 != "" ? " (" substr($5, 1, 160) ")" : ""); sep="; " }')
    if [ $rc -ne 0 ]; then
        # The first failure librdkafka reports: '### Test "0081_admin (do_test_CreateAcls:1539)" failed
        # at ...: ###' and the reason on the next line.
        first=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT_DIR/$id.log" | grep -v '"<MAIN>"' \
            | grep -A1 -m1 '^### Test "' | sed -e 's/^### Test "\(.*\)" failed at \([^ ]*\).*/\1 at \2:/' \
            | tr '\n' ' ' | cut -c1-300)
        [ -n "$first" ] && summary="$summary${summary:+; }first failure: $first"
        [ "$secs" -ge "$timeout" ] && summary="TIMEOUT after ${timeout}s; $summary"
    fi
    if [ $rc -eq 0 ] && ! grep -q '=PASSED' <<< "$summary"; then
        echo "SKIP $spec ${secs}s $summary"
        skipped=$((skipped + 1))
    elif [ $rc -eq 0 ]; then
        echo "PASS $spec ${secs}s $summary"
        passed=$((passed + 1))
    else
        echo "FAIL $spec ${secs}s rc=$rc $summary"
        failed=$((failed + 1)); failed_list="$failed_list $spec"
    fi
done

echo "logs: $OUT_DIR"
[ -n "$failed_list" ] && echo "failed:$failed_list"
echo "$passed passed, $failed failed$([ $skipped -gt 0 ] && echo ", $skipped skipped (every sub-test skipped itself)")"
[ $failed -eq 0 ]
