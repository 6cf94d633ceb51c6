#!/usr/bin/env bash
# brokers.sh up|down|env — real brokers on loopback for eddy's integration tests.
#
#   up    install what is missing, start RabbitMQ (Debian's rabbitmq-server, with the
#         management plugin), a single-node Apache Kafka in KRaft mode (jars from
#         Maven Central, cached outside the repo) and Redis (Debian's redis-server, for
#         the shared replay ledger), wait until all answer, and print the environment
#         the tests read:
#             export EDDY_TEST_KAFKA=127.0.0.1:39092
#             export EDDY_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/
#             export EDDY_TEST_AMQP_MGMT=http://127.0.0.1:15672
#             export EDDY_TEST_KAFKA_LIBS=~/.cache/eddy-brokers/kafka-VERSION/libs
#             export EDDY_TEST_REDIS=redis://127.0.0.1:36379/0
#             export EDDY_TEST_SCHEMA_REGISTRY=http://127.0.0.1:38080/apis/ccompat/v7
#             export EDDY_TEST_KDC_CONFIG=/tmp/eddy-brokers/kdc/krb5.conf
#             export EDDY_TEST_KDC_PROFILE=/tmp/eddy-brokers/kdc/kdc.conf
#             export EDDY_TEST_KDC_REALM=EDDY.TEST
#             export EDDY_TEST_AMQPS=amqps://guest:guest@127.0.0.1:5671/
#             export EDDY_TEST_AMQPS_MGMT=https://127.0.0.1:15671
#             export EDDY_TEST_TLS_DIR=/tmp/eddy-brokers/rabbitmq-tls
#             export EDDY_TEST_PROMETHEUS=/usr/bin/prometheus
#             export EDDY_TEST_PROMTOOL=/usr/bin/promtool
#         The last is Apicurio Registry (its Confluent-compatible API), from Maven
#         Central; it needs a Java 21+ (found under /usr/lib/jvm or $EDDY_JAVA21).
#         Without one it is left out (the schema tests skip), except under CI=true or
#         EDDY_REQUIRE_BROKERS=1, where that fails.
#         The KDC variables are an MIT Kerberos KDC (Debian's krb5-kdc) on loopback, for
#         the SASL GSSAPI tests: its own realm, port, config files (through KRB5_CONFIG
#         and KRB5_KDC_PROFILE: /etc is not read) and database under the run directory.
#         Tests make principals and keytabs with
#             KRB5_CONFIG=$EDDY_TEST_KDC_CONFIG KRB5_KDC_PROFILE=$EDDY_TEST_KDC_PROFILE \
#                 kadmin.local -q 'addprinc -randkey NAME'    (and 'ktadd -norandkey -k FILE NAME')
#         RabbitMQ also listens for AMQP over TLS and serves its management API over
#         HTTPS, with certificates made by openssl (cached; copied to
#         $EDDY_TEST_TLS_DIR): ca.pem signs server.pem (localhost, 127.0.0.1),
#         client.pem/client.key (CN eddy-tls-client, a RabbitMQ user without a
#         password, who logs in with EXTERNAL: rabbitmq_auth_mechanism_ssl) and
#         stranger.pem/stranger.key (CN eddy-tls-nobody, no such user);
#         other-ca.pem is an unrelated CA, for the tests that must fail closed.
#         A node that is already running without the TLS listener is restarted
#         when this script started it, else left alone (and the TLS tests skip).
#         The Prometheus pair is Debian's prometheus package, installed but not
#         started: each test that needs a Prometheus starts its own throwaway server
#         (internal/promtest) on a free port, and promtool checks the shipped rules.
#         Under CI=true or EDDY_REQUIRE_BROKERS=1 a missing binary fails.
#         Use it as:  eval "$(scripts/brokers.sh up)"
#         `up rabbitmq kafka ...` starts only those (rabbitmq kafka redis registry kdc
#         prometheus).
#   down  stop what `up` started (by the PIDs it recorded) and remove its data;
#         brokers that were already running when `up` ran are left alone.
#   env   print the exports without starting anything.
#   kdc   start only the KDC (beside brokers already running) and print the exports;
#         `down` stops it with the rest.
#
# Everything it logs goes to stderr, so stdout is only the exports.
set -euo pipefail

KAFKA_VERSION=${EDDY_KAFKA_VERSION:-4.3.1}
KAFKA_PORT=${EDDY_KAFKA_PORT:-39092}
KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
AMQP_PORT=${EDDY_AMQP_PORT:-5672}
MGMT_PORT=${EDDY_AMQP_MGMT_PORT:-15672}
AMQPS_PORT=${EDDY_AMQPS_PORT:-5671}
MGMTS_PORT=${EDDY_AMQPS_MGMT_PORT:-15671}
# The RabbitMQ node: Debian's (rabbit@HOST) unless EDDY_RABBITMQ_NODE names
# another, e.g. eddytls@localhost, to run a second node beside it with its own
# data, logs and plugins under $RUN/rabbitmq (give it other ports too, and
# EDDY_RABBITMQ_DIST_PORT, default AMQP port + 20000).
RABBIT_NODE=${EDDY_RABBITMQ_NODE:-}
# The user a client certificate with this CN logs in as (EXTERNAL).
TLS_USER=eddy-tls-client
# Not Redis's 6379, which a system redis-server may already hold.
REDIS_PORT=${EDDY_REDIS_PORT:-36379}
APICURIO_VERSION=${EDDY_APICURIO_VERSION:-3.3.3}
REGISTRY_PORT=${EDDY_REGISTRY_PORT:-38080}
# Quarkus's management interface (health), apart from the API port.
REGISTRY_MGMT_PORT=${EDDY_REGISTRY_MGMT_PORT:-38090}
# The test KDC: not Kerberos's 88, which a real KDC may hold; UDP and TCP.
KDC_PORT=${EDDY_KDC_PORT:-38088}
KDC_REALM=${EDDY_KDC_REALM:-EDDY.TEST}
CACHE=${EDDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-brokers}
RUN=${EDDY_BROKERS_RUN:-/tmp/eddy-brokers}
# Bump the suffix when the dependency list below changes, so caches refresh.
LIBS="$CACHE/kafka-$KAFKA_VERSION-2/libs"
TLS_CACHE="$CACHE/rabbitmq-tls-1"
# Not under $CACHE: the broker runs as the rabbitmq user, who cannot read root's home.
TLS_DIR="$RUN/rabbitmq-tls"
APICURIO="$CACHE/apicurio-registry-$APICURIO_VERSION"

log() { printf 'brokers: %s\n' "$*" >&2; }
die() { printf 'brokers: error: %s\n' "$*" >&2; exit 1; }

# wait_for DESC SECONDS CMD...: poll a condition with a deadline; no fixed sleeps
# stand in for readiness.
wait_for() {
	local desc=$1 secs=$2; shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
	log "$desc is ready"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_env() {
	echo "export EDDY_TEST_KAFKA=127.0.0.1:$KAFKA_PORT"
	echo "export EDDY_TEST_AMQP=amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
	echo "export EDDY_TEST_AMQP_MGMT=http://127.0.0.1:$MGMT_PORT"
	# Kafka's own jars, for tests that compare with its tools (kafka-consumer-groups):
	#   java -cp "$EDDY_TEST_KAFKA_LIBS/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ...
	echo "export EDDY_TEST_KAFKA_LIBS=$LIBS"
	echo "export EDDY_TEST_REDIS=redis://127.0.0.1:$REDIS_PORT/0"
	# Only when the registry answers: without Java 21 outside CI it is not started,
	# and its tests skip rather than fail on a URL nothing serves.
	if registry_ready; then
		echo "export EDDY_TEST_SCHEMA_REGISTRY=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
	fi
	# Only when our KDC runs: its tests skip (outside CI) rather than fail on files
	# that do not exist.
	if kdc_ready; then
		echo "export EDDY_TEST_KDC_CONFIG=$RUN/kdc/krb5.conf"
		echo "export EDDY_TEST_KDC_PROFILE=$RUN/kdc/kdc.conf"
		echo "export EDDY_TEST_KDC_REALM=$KDC_REALM"
	fi
	# Only when the node listens for TLS: one started before it was configured
	# does not, and the TLS tests then skip rather than fail.
	if port_open "$AMQPS_PORT" && [ -f "$TLS_DIR/ca.pem" ]; then
		echo "export EDDY_TEST_AMQPS=amqps://guest:guest@127.0.0.1:$AMQPS_PORT/"
		echo "export EDDY_TEST_AMQPS_MGMT=https://127.0.0.1:$MGMTS_PORT"
		echo "export EDDY_TEST_TLS_DIR=$TLS_DIR"
	fi
	# Only when installed: without them the Prometheus tests skip (outside CI).
	local bin
	if bin=$(command -v prometheus); then echo "export EDDY_TEST_PROMETHEUS=$bin"; fi
	if bin=$(command -v promtool); then echo "export EDDY_TEST_PROMTOOL=$bin"; fi
}

strict() { [ "${CI:-}" = true ] || [ -n "${EDDY_REQUIRE_BROKERS:-}" ]; }

# apt_install [--no-install-recommends] PKG...: install the packages not yet installed.
apt_install() {
	local missing=() opts=()
	if [ "${1:-}" = --no-install-recommends ]; then opts+=("$1"); shift; fi
	for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# The package's postinst tries to start the service through init scripts; where
	# there is no init system that fails harmlessly and we start it ourselves below.
	apt-get install -y -qq "${opts[@]}" "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# rctl/rplugins: rabbitmqctl and rabbitmq-plugins for our node.
rctl() { rabbitmqctl ${RABBIT_NODE:+-n "$RABBIT_NODE"} "$@"; }
rplugins() { rabbitmq-plugins ${RABBIT_NODE:+-n "$RABBIT_NODE"} "$@"; }

# tls_certs: the CA and certificates for RabbitMQ's TLS listeners, made once
# into the cache (again when one expires within a week) and copied to $TLS_DIR
# for the broker to read.
tls_certs() {
	local c=$TLS_CACHE
	if ! { [ -f "$c/.complete" ] && openssl x509 -checkend 604800 -noout -in "$c/server.pem" >/dev/null 2>&1 &&
		openssl x509 -checkend 604800 -noout -in "$c/ca.pem" >/dev/null 2>&1; }; then
		command -v openssl >/dev/null || apt_install openssl
		log "making TLS certificates in $c"
		rm -rf "$c"; mkdir -p "$c"
		local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
		for ca in ca other-ca; do
			openssl req -x509 "${ec[@]}" -keyout "$c/$ca.key" -out "$c/$ca.pem" -days 3650 -subj "/CN=eddy test $ca" \
				-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 ||
				die "openssl could not make the test CA $ca"
		done
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' >"$c/server.ext"
		printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >"$c/client.ext"
		local leaf cn ext
		for leaf in server:localhost:server client:$TLS_USER:client stranger:eddy-tls-nobody:client; do
			IFS=: read -r leaf cn ext <<<"$leaf"
			openssl req -new "${ec[@]}" -keyout "$c/$leaf.key" -out "$c/$leaf.csr" -subj "/CN=$cn" >/dev/null 2>&1 &&
				openssl x509 -req -in "$c/$leaf.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
					-days 825 -sha256 -extfile "$c/$ext.ext" -out "$c/$leaf.pem" >/dev/null 2>&1 ||
				die "openssl could not make the $leaf certificate"
		done
		touch "$c/.complete"
	fi
	mkdir -p "$TLS_DIR"
	chmod 755 "$TLS_DIR"
	# No CA key: nothing under $RUN can sign.
	for f in ca.pem other-ca.pem server.pem server.key client.pem client.key stranger.pem stranger.key; do
		cp "$c/$f" "$TLS_DIR/$f"
	done
	chmod 644 "$TLS_DIR"/*.pem
	chmod 600 "$TLS_DIR"/*.key
	if id rabbitmq >/dev/null 2>&1; then
		chgrp rabbitmq "$TLS_DIR/server.key" && chmod 640 "$TLS_DIR/server.key"
	fi
}

# rabbit_config: the node's rabbitmq.conf (TLS listeners, EXTERNAL) and, for
# a node of our own, its environment.
rabbit_config() {
	local dir="$RUN/rabbitmq"
	mkdir -p "$dir"
	cat >"$dir/rabbitmq.conf" <<CONF
listeners.ssl.1 = 127.0.0.1:$AMQPS_PORT
ssl_options.cacertfile = $TLS_DIR/ca.pem
ssl_options.certfile = $TLS_DIR/server.pem
ssl_options.keyfile = $TLS_DIR/server.key
# Ask for a client certificate; one is needed only to log in with EXTERNAL.
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
ssl_cert_login_from = common_name
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
management.ssl.ip = 127.0.0.1
management.ssl.port = $MGMTS_PORT
management.ssl.cacertfile = $TLS_DIR/ca.pem
management.ssl.certfile = $TLS_DIR/server.pem
management.ssl.keyfile = $TLS_DIR/server.key
CONF
	chmod 644 "$dir/rabbitmq.conf"
	export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
	export RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	if [ -n "$RABBIT_NODE" ]; then
		export RABBITMQ_NODENAME=$RABBIT_NODE
		export RABBITMQ_DIST_PORT=${EDDY_RABBITMQ_DIST_PORT:-$((AMQP_PORT + 20000))}
		export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
		export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
		mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
		[ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[rabbitmq_management,rabbitmq_auth_mechanism_ssl].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
		if id rabbitmq >/dev/null 2>&1; then
			chown -R rabbitmq:rabbitmq "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE" "$RABBITMQ_ENABLED_PLUGINS_FILE"
		fi
	fi
}

rabbit_start() {
	log "starting rabbitmq-server${RABBIT_NODE:+ ($RABBIT_NODE)}"
	# -detached forks; the node keeps running after this script exits.
	rabbitmq-server -detached >&2 2>&1 || true
	wait_for "rabbitmq node" 120 rctl -q await_startup || die "rabbitmq did not start (see ${RABBITMQ_LOG_BASE:-/var/log/rabbitmq})"
	# Remember that we started it, and which node: `down` stops only that.
	echo "$RABBIT_NODE" >"$RUN/rabbitmq.started"
}

rabbit_up() {
	apt_install rabbitmq-server
	tls_certs
	rabbit_config
	if rctl -q status >/dev/null 2>&1; then
		log "rabbitmq already running${RABBIT_NODE:+ ($RABBIT_NODE)}"
		if ! port_open "$AMQPS_PORT"; then
			if [ -f "$RUN/rabbitmq.started" ]; then
				log "restarting it (started by this script, before its TLS listener was configured) to listen for TLS on :$AMQPS_PORT"
				rctl -q stop >&2 || die "could not stop rabbitmq to restart it with TLS"
				rabbit_start
			else
				strict && die "rabbitmq runs without a TLS listener on 127.0.0.1:$AMQPS_PORT and was not started by this script: restart it with RABBITMQ_CONFIG_FILE=$RUN/rabbitmq/rabbitmq.conf"
				log "warning: rabbitmq runs without a TLS listener on 127.0.0.1:$AMQPS_PORT and was not started by this script, so it is left alone: the AMQP-over-TLS tests will skip (restart it with RABBITMQ_CONFIG_FILE=$RUN/rabbitmq/rabbitmq.conf)"
			fi
		fi
	else
		rabbit_start
	fi
	rplugins -q enable rabbitmq_management rabbitmq_auth_mechanism_ssl >&2 || die "could not enable rabbitmq_management and rabbitmq_auth_mechanism_ssl"
	wait_for "rabbitmq amqp port" 60 port_open "$AMQP_PORT" || die "rabbitmq is not listening on 127.0.0.1:$AMQP_PORT"
	wait_for "rabbitmq management api" 60 curl -fsS -u guest:guest "http://127.0.0.1:$MGMT_PORT/api/overview" || die "rabbitmq management API did not answer on :$MGMT_PORT"
	if port_open "$AMQPS_PORT"; then
		wait_for "rabbitmq management api over https" 60 curl -fsS --cacert "$TLS_DIR/ca.pem" -u guest:guest "https://127.0.0.1:$MGMTS_PORT/api/overview" ||
			die "rabbitmq management API did not answer over HTTPS on :$MGMTS_PORT"
		# The EXTERNAL user: no password, so the certificate is the only way in.
		if ! rctl -q list_users | grep -q "^$TLS_USER[[:space:]]"; then
			rctl -q add_user "$TLS_USER" "$(openssl rand -hex 16)" >&2 && rctl -q clear_password "$TLS_USER" >&2 ||
				die "could not add the RabbitMQ user $TLS_USER"
		fi
		rctl -q set_permissions -p / "$TLS_USER" '.*' '.*' '.*' >&2 || die "could not give $TLS_USER access to vhost /"
	fi
}

kafka_fetch() {
	[ -f "$LIBS/.complete" ] && return 0
	command -v mvn >/dev/null || die "mvn is needed to fetch Apache Kafka's jars from Maven Central"
	command -v java >/dev/null || die "java is needed to run Apache Kafka"
	log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
	local work; work=$(mktemp -d)
	cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sh.eddy</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
	mkdir -p "$LIBS"
	(cd "$work" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2) || die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
	rm -rf "$work"
	touch "$LIBS/.complete"
}

kafka_up() {
	if port_open "$KAFKA_PORT"; then
		log "something already listens on 127.0.0.1:$KAFKA_PORT; assuming it is our Kafka"
		return 0
	fi
	kafka_fetch
	local dir="$RUN/kafka"
	rm -rf "$dir"; mkdir -p "$dir/data"
	cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
# Tests produce records stamped at fixed past times (2026-11-23...); with the
# default 7-day retention the broker's retention check deletes them mid-test
# once that date is a week old.
log.retention.ms=-1
PROPS
	cat >"$dir/log4j2.yaml" <<'L4J'
Configuration:
  Appenders:
    Console: {name: STDOUT, PatternLayout: {pattern: "[%d] %p %m (%c)%n"}}
  Loggers:
    Root: {level: WARN, AppenderRef: [{ref: STDOUT}]}
    Logger: [{name: kafka.server.KafkaServer, level: INFO}, {name: kafka.server.KafkaRaftServer, level: INFO}]
L4J
	local java_opts=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j2.configurationFile=$dir/log4j2.yaml")
	log "formatting KRaft storage"
	java "${java_opts[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)" -c "$dir/server.properties" >&2 \
		|| die "kafka storage format failed"
	log "starting Apache Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
	nohup java "${java_opts[@]}" -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
	echo $! >"$RUN/kafka.pid"
	wait_for "kafka" 120 port_open "$KAFKA_PORT" || { tail -n 40 "$dir/kafka.log" >&2; die "kafka did not start"; }
}

redis_up() {
	apt_install redis-server
	if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
		log "redis already running on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	local dir="$RUN/redis"
	rm -rf "$dir"; mkdir -p "$dir"
	log "starting redis-server on 127.0.0.1:$REDIS_PORT"
	# Throwaway test data: no snapshots, no append-only file. --daemonize writes
	# the pidfile `down` reads.
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --save "" --appendonly no \
		--daemonize yes --pidfile "$RUN/redis.pid" --logfile "$dir/redis.log" >&2 || die "redis-server did not start"
	wait_for "redis" 60 redis_ping || { tail -n 20 "$dir/redis.log" >&2; die "redis did not answer on 127.0.0.1:$REDIS_PORT"; }
}

# java21: print the first java whose major version is 21 or more: $EDDY_JAVA21,
# then the JDKs under /usr/lib/jvm (Apicurio 3.x needs 21; Kafka runs on the
# default java, often 17), then java on the PATH.
java21() {
	local j v major
	for j in ${EDDY_JAVA21:+"$EDDY_JAVA21"} /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
		[ -x "$j" ] || continue
		# `openjdk version "25.0.3" ...`, `java version "1.8.0_402"`.
		v=$("$j" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
		major=${v%%.*}
		[ "$major" = 1 ] && { major=${v#1.}; major=${major%%.*}; }
		[[ "$major" =~ ^[0-9]+$ ]] && ((major >= 21)) && { echo "$j"; return 0; }
	done
	return 1
}

apicurio_fetch() {
	[ -f "$APICURIO/.complete" ] && return 0
	command -v mvn >/dev/null || die "mvn is needed to fetch Apicurio Registry from Maven Central"
	log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central into $APICURIO"
	local work; work=$(mktemp -d)
	(cd "$work" && mvn -q -B dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
		-Dtransitive=false -DoutputDirectory="$work" >&2) || die "mvn could not fetch io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
	rm -rf "$APICURIO"; mkdir -p "$APICURIO"
	tar -xzf "$work/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$APICURIO" || die "could not extract Apicurio Registry"
	[ -f "$APICURIO/quarkus-run.jar" ] || die "no quarkus-run.jar in the Apicurio Registry archive"
	rm -rf "$work"
	touch "$APICURIO/.complete"
}

registry_ready() { curl -fsS "http://127.0.0.1:$REGISTRY_MGMT_PORT/health/ready" >/dev/null 2>&1; }

registry_up() {
	if registry_ready; then
		log "a registry already answers on 127.0.0.1:$REGISTRY_MGMT_PORT; assuming it is our Apicurio"
	else
		local java
		if ! java=$(java21); then
			strict && die "Apicurio Registry needs Java 21 or newer: none under /usr/lib/jvm or on the PATH (set EDDY_JAVA21=/path/to/java)"
			log "warning: no Java 21+ found (Apicurio Registry needs it); the schema registry tests will skip"
			return 0
		fi
		apicurio_fetch
		local dir="$RUN/apicurio"
		rm -rf "$dir"; mkdir -p "$dir"
		log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT ($java)"
		# Storage is the distribution's default, H2 in memory: each start is empty.
		# The connection pool is cut from 20 to 2: one test client needs no more.
		# A subshell for the cd; exec, so the PID recorded is java's and `down` stops it.
		(cd "$dir" || exit 1; exec nohup "$java" -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
			-Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
			-Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
			-Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
			-Dquarkus.otel.sdk.disabled=true \
			-jar "$APICURIO/quarkus-run.jar" >"$dir/apicurio.log" 2>&1) &
		echo $! >"$RUN/apicurio.pid"
		wait_for "apicurio registry" 120 registry_ready || { tail -n 40 "$dir/apicurio.log" >&2; die "apicurio registry did not become ready"; }
	fi
	# Apicurio's default is already NONE; say it, so no test depends on that default
	# (a test registers an incompatible newer version of a referenced subject).
	curl -fsS -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' -d '{"compatibility":"NONE"}' \
		"http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/config" >/dev/null || die "could not set the registry's compatibility to NONE"
}

# prometheus_up: Debian's prometheus (the server and promtool), not started here.
# Without recommends: prometheus-node-exporter is not wanted, and where an init
# system runs the package's own service would start on :9090; nothing here uses it.
prometheus_up() {
	if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
		apt_install --no-install-recommends prometheus
	fi
	local bin
	for bin in prometheus promtool; do
		if ! command -v "$bin" >/dev/null 2>&1; then
			strict && die "$bin is not on the PATH after installing Debian's prometheus package"
			log "warning: no $bin on the PATH; the Prometheus tests will skip"
			return 0
		fi
	done
	log "prometheus: $(prometheus --version 2>&1 | head -n1)"
}

redis_ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }

kdc_ready() { [ -f "$RUN/kdc/krb5.conf" ] && [ -f "$RUN/kdc.pid" ] && kill -0 "$(cat "$RUN/kdc.pid")" 2>/dev/null && port_open "$KDC_PORT"; }

# kdc_up: an MIT KDC for realm $KDC_REALM on 127.0.0.1:$KDC_PORT (UDP and TCP), with
# a new database each time (principals are cheap; tests make their own). krb5-kdc
# has krb5kdc and kdb5_util, krb5-admin-server kadmin.local, krb5-user kinit.
kdc_up() {
	if kdc_ready; then
		log "the KDC already runs (pid $(cat "$RUN/kdc.pid"))"
		return 0
	fi
	if port_open "$KDC_PORT"; then
		# Another run directory's KDC, or something else: its files are not
		# ours to export, so the Kerberos tests skip (and fail under CI).
		if [ "${CI:-}" = true ] || [ "${EDDY_REQUIRE_BROKERS:-}" = 1 ]; then
			die "something else listens on 127.0.0.1:$KDC_PORT (set EDDY_KDC_PORT)"
		fi
		log "something else listens on 127.0.0.1:$KDC_PORT; no KDC of this run (set EDDY_KDC_PORT), the Kerberos tests skip"
		return 0
	fi
	apt_install krb5-kdc krb5-admin-server krb5-user
	local dir="$RUN/kdc"
	rm -rf "$dir"; mkdir -p "$dir"
	cat >"$dir/krb5.conf" <<CONF
[libdefaults]
	default_realm = $KDC_REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	ticket_lifetime = 24h
	forwardable = true

[realms]
	$KDC_REALM = {
		kdc = 127.0.0.1:$KDC_PORT
	}

[domain_realm]
	localhost = $KDC_REALM
	127.0.0.1 = $KDC_REALM
CONF
	cat >"$dir/kdc.conf" <<CONF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$KDC_PORT
	kdc_tcp_listen = 127.0.0.1:$KDC_PORT

[realms]
	$KDC_REALM = {
		database_name = $dir/principal
		key_stash_file = $dir/stash
		acl_file = $dir/kadm5.acl
		max_life = 24h
		max_renewable_life = 7d
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
		default_principal_flags = +preauth
	}

[logging]
	kdc = FILE:$dir/kdc.log
	admin_server = FILE:$dir/kadmin.log
	default = FILE:$dir/krb5.log
CONF
	: >"$dir/kadm5.acl"
	export KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf"
	log "creating Kerberos realm $KDC_REALM in $dir"
	# The master password only guards the throwaway database (stashed with -s).
	kdb5_util create -s -r "$KDC_REALM" -P "eddy-test-master-$RANDOM$RANDOM" >&2 2>&1 || die "kdb5_util create failed"
	log "starting krb5kdc on 127.0.0.1:$KDC_PORT"
	# krb5kdc forks itself and writes its pid file.
	krb5kdc -r "$KDC_REALM" -P "$RUN/kdc.pid" >&2 2>&1 || die "krb5kdc did not start (see $dir/kdc.log)"
	wait_for "kdc" 60 kdc_ready || { tail -n 20 "$dir/kdc.log" >&2; die "the KDC did not listen on 127.0.0.1:$KDC_PORT"; }
	unset KRB5_CONFIG KRB5_KDC_PROFILE
}

kdc_down() {
	if [ -f "$RUN/kdc.pid" ]; then
		pid=$(cat "$RUN/kdc.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		rm -f "$RUN/kdc.pid"
	fi
}

case "${1:-}" in
up)
	shift
	mkdir -p "$RUN"
	for svc in ${*:-rabbitmq kafka redis registry kdc prometheus}; do
		case $svc in
		rabbitmq) rabbit_up ;;
		kafka) kafka_up ;;
		redis) redis_up ;;
		registry) registry_up ;;
		kdc) kdc_up ;;
		prometheus) prometheus_up ;;
		*) die "unknown broker $svc (want rabbitmq, kafka, redis, registry, kdc or prometheus)" ;;
		esac
	done
	print_env
	;;
kdc)
	mkdir -p "$RUN"
	kdc_up
	print_env | grep KDC
	;;
down)
	kdc_down
	if [ -f "$RUN/kafka.pid" ]; then
		pid=$(cat "$RUN/kafka.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$RUN/kafka.pid"
	fi
	if [ -f "$RUN/apicurio.pid" ]; then
		pid=$(cat "$RUN/apicurio.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$RUN/apicurio.pid"
	fi
	if [ -f "$RUN/redis.pid" ]; then
		pid=$(cat "$RUN/redis.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		rm -f "$RUN/redis.pid"
	fi
	if [ -f "$RUN/rabbitmq.started" ]; then
		# The node `up` started, by name (empty: Debian's default node).
		node=$(cat "$RUN/rabbitmq.started")
		rabbitmqctl ${node:+-n "$node"} -q stop >/dev/null 2>&1 || true
	fi
	rm -rf "$RUN"
	;;
env) print_env ;;
*) echo "usage: $0 up|down|env|kdc" >&2; exit 2 ;;
esac
