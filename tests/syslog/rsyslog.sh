# Starts a private rsyslogd on loopback (UDP, TCP and TLS inputs; or TCP and
# RELP inputs), writing every message it parsed as one JSON object per line.
# Sourced by the tests.
# Needs: ZF_TMP, PORT_UDP, PORT_TCP, PORT_TLS (zf_start_rsyslog) or PORT_TCP,
# PORT_RELP, PORT_RELP_TLS (zf_start_rsyslog_relp); TLS files under $ZF_TMP/pki.

zf_make_pki() {  # a throwaway CA, server and client certificates from it, and a foreign CA
  local d=$ZF_TMP/pki; mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=zf-test-ca" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/san.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/san.ext" -out "$d/server.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=zendesk-forwarder" -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 -out "$d/client.pem" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other-ca" -keyout "$d/other.key" -out "$d/other.pem" 2>/dev/null
}

zf_free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

zf_start_rsyslog() {
  mkdir -p "$ZF_TMP/rsyslog"
  cat >"$ZF_TMP/rsyslog/rsyslog.conf" <<CONF
global(workDirectory="$ZF_TMP/rsyslog" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="$ZF_TMP/pki/ca.pem"
       DefaultNetstreamDriverCertFile="$ZF_TMP/pki/server.pem"
       DefaultNetstreamDriverKeyFile="$ZF_TMP/pki/server.key")
module(load="imudp")
module(load="imtcp" MaxSessions="100")
input(type="imudp" address="127.0.0.1" port="$PORT_UDP" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="$PORT_TCP" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="$PORT_TLS" ruleset="tls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
$(zf_rsyslog_template)
ruleset(name="udp") { action(type="omfile" file="$ZF_TMP/rsyslog/udp.log" template="parsed") }
ruleset(name="tcp") { action(type="omfile" file="$ZF_TMP/rsyslog/tcp.log" template="parsed") }
ruleset(name="tls") { action(type="omfile" file="$ZF_TMP/rsyslog/tls.log" template="parsed") }
CONF
  zf_run_rsyslog "$PORT_TCP" "$PORT_TLS"
}

zf_rsyslog_template() {
  cat <<'CONF'
template(name="parsed" type="list" option.jsonf="on") {
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
CONF
}

# TCP and RELP (plain and TLS, which asks for a client certificate) inputs whose rulesets write each message
# before the input takes the next ("Direct" queues): what rsyslog has
# acknowledged over RELP is in the file, so a SIGKILL loses only what the
# transport lost.
zf_start_rsyslog_relp() {
  mkdir -p "$ZF_TMP/rsyslog"
  cat >"$ZF_TMP/rsyslog/rsyslog.conf" <<CONF
global(workDirectory="$ZF_TMP/rsyslog" maxMessageSize="64k")
module(load="imtcp" MaxSessions="100")
module(load="imrelp")
input(type="imtcp" address="127.0.0.1" port="$PORT_TCP" ruleset="tcp")
input(type="imrelp" address="127.0.0.1" port="$PORT_RELP" ruleset="relp")
input(type="imrelp" address="127.0.0.1" port="$PORT_RELP_TLS" ruleset="relptls" tls="on"
      tls.caCert="$ZF_TMP/pki/ca.pem" tls.myCert="$ZF_TMP/pki/server.pem" tls.myPrivKey="$ZF_TMP/pki/server.key"
      tls.authMode="certvalid")
$(zf_rsyslog_template)
ruleset(name="tcp" queue.type="Direct") { action(type="omfile" file="$ZF_TMP/rsyslog/tcp.log" template="parsed") }
ruleset(name="relp" queue.type="Direct") { action(type="omfile" file="$ZF_TMP/rsyslog/relp.log" template="parsed") }
ruleset(name="relptls" queue.type="Direct") { action(type="omfile" file="$ZF_TMP/rsyslog/relptls.log" template="parsed") }
CONF
  zf_run_rsyslog "$PORT_TCP" "$PORT_RELP" "$PORT_RELP_TLS"
}

zf_run_rsyslog() {  # zf_run_rsyslog PORT...: starts it and waits until every port accepts
  local port i
  rm -f "$ZF_TMP/rsyslog/pid"
  rsyslogd -n -f "$ZF_TMP/rsyslog/rsyslog.conf" -i "$ZF_TMP/rsyslog/pid" >>"$ZF_TMP/rsyslog/stdout" 2>&1 &
  RSYSLOG_PID=$!
  ZF_PIDS+=($RSYSLOG_PID)
  for port in "$@"; do
    for i in $(seq 101); do
      /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null && break
      [ "$i" -lt 101 ] || { echo "rsyslogd did not listen on $port"; cat "$ZF_TMP/rsyslog/stdout"; return 1; }
      sleep 0.1
    done
  done
}

zf_stop_rsyslog() {
  kill -TERM "$RSYSLOG_PID" 2>/dev/null || true
  wait "$RSYSLOG_PID" 2>/dev/null || true
}

# zf_settle FILE...: waits until rsyslog has stopped writing (no growth for 1 s, 20 s at most).
zf_settle() {
  local last="" now i
  for i in $(seq 40); do
    now=$( (cat "$@" 2>/dev/null || true) | wc -l)
    [ "$now" = "$last" ] && [ "$i" -gt 2 ] && return 0
    last=$now; sleep 0.5
  done
}
